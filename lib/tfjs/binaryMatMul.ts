/**
 * The binary layers' forward products when both operands are ±1: `BnnBinaryMatMul` and `BnnBinaryConv2D`
 * (kernelNames.ts), the paper's XNOR-popcount products where a backend registers them (webgpu:
 * lib/tfjs/webgpuXnor.ts), `tf.matMul` and `tf.conv2d` elsewhere.
 *
 * How a layer knows its operands are ±1 without reading them (a readback per product, on a GPU): by where they
 * come from. A quantizer whose forward gives exactly ±1 (`signs` in lib/quantizers.ts: the deterministic and the
 * stochastic sign) marks its output's data (`markSigns`); a reshape or clone shares the data, so the mark
 * survives Flatten and an inference-time Dropout, while anything that computes new values (a training-time
 * Dropout's mask, BatchNorm) gives unmarked data. The first layer's real-valued input is never marked.
 *
 * The result equals the float product exactly (integer sums below 2^24), and the gradient is tfjs's own, so
 * training computes the same numbers either way. The native backend keeps `tf.matMul` (whose kernel finds ±1
 * operands by itself: lib/tfjs/nativeKernels.ts) and `tf.conv2d`.
 */
import * as tf from '@tensorflow/tfjs';
import { BNN_BINARY_CONV2D, BNN_BINARY_MATMUL, hasKernel, type BnnBinaryMatMulAttrs } from './kernelNames';

/** The data of tensors known to hold only ±1 (tensors sharing data share the mark). */
const signData = new WeakSet<object>();

/** Records that `t` holds only +1 and −1 (call only where that is so by construction). */
export function markSigns(t: tf.Tensor): tf.Tensor {
  signData.add(t.dataId);
  return t;
}

/** Whether `t` is known to hold only ±1. */
export function isSigns(t: tf.Tensor): boolean {
  return signData.has(t.dataId);
}

/** Largest inner dimension whose ±1 sums a float32 result holds exactly. */
const EXACT_K = 1 << 24;

/**
 * a · b (both rank 2), as `BnnBinaryMatMul` where both are marked ±1 and the backend has the kernel, else
 * `tf.matMul`. Either way the value and the gradient are matMul's.
 */
export function binaryAwareMatMul(a: tf.Tensor2D, b: tf.Tensor2D, transposeA = false, transposeB = false): tf.Tensor2D {
  const k = transposeA ? a.shape[0] : a.shape[1];
  if (isSigns(a) && isSigns(b) && k > 0 && k < EXACT_K && hasKernel(BNN_BINARY_MATMUL)) {
    const attrs: BnnBinaryMatMulAttrs = { transposeA, transposeB };
    return tf.engine().runKernel(BNN_BINARY_MATMUL, { a, b }, { ...attrs }) as tf.Tensor2D;
  }
  return tf.matMul(a, b, transposeA, transposeB);
}

/**
 * conv2d(x, filter) (NHWC, stride and padding as tf.conv2d's), as `BnnBinaryConv2D` where both are marked ±1 and
 * the backend has the kernel, else `tf.conv2d`. Either way the value and the gradient are Conv2D's.
 */
export function binaryAwareConv2d(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: number,
  pad: 'same' | 'valid',
): tf.Tensor4D {
  const [kh, kw, channels] = filter.shape;
  if (isSigns(x) && isSigns(filter) && kh * kw * channels < EXACT_K && hasKernel(BNN_BINARY_CONV2D)) {
    // tf.conv2d's attributes, so that Conv2D's gradient reads them as its own.
    const attrs = { strides, pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined };
    return tf.engine().runKernel(BNN_BINARY_CONV2D, { x, filter }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }
  return tf.conv2d(x, filter, strides, pad);
}

// The gradients are tfjs's own functions for BatchMatMul and Conv2D, with the same saved inputs and attributes.
for (const [ours, theirs] of [
  [BNN_BINARY_MATMUL, 'BatchMatMul'],
  [BNN_BINARY_CONV2D, 'Conv2D'],
]) {
  const gradient = tf.getGradient(theirs);
  if (!gradient) throw new Error(`tfjs registers no ${theirs} gradient`);
  tf.registerGradient({ ...gradient, kernelName: ours });
}
