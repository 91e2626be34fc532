/**
 * The binary layers' forward products when both operands are ±1: `BnnBinaryMatMul` and `BnnBinaryConv2D`
 * (kernelNames.ts), the paper's XNOR-popcount products where a backend registers them (webgpu:
 * lib/tfjs/webgpuXnor.ts), `tf.matMul` and `tf.conv2d` elsewhere.
 *
 * How a layer knows its operands are ±1 without reading them (a readback per product, on a GPU): by where they
 * come from. A quantizer whose forward gives exactly ±1 (`signs` in lib/quantizers.ts: the deterministic and the
 * stochastic sign) marks its output's data (`markSigns`); a reshape or clone shares the data, so the mark
 * survives Flatten and an inference-time Dropout, while anything else that computes new values (BatchNorm) gives
 * unmarked data. A training-time Dropout of ±1 gives 0 and ±s, s = 1/(1 − rate): it marks its output with s
 * (`markDroppedSigns`), and the product of such an `a` with ±1 is s times an integer, which the XNOR kernel
 * computes from two ±1 operands. The first layer's real-valued input is never marked.
 *
 * The result equals the exact product rounded once to float32: the float product itself where both operands are
 * ±1 (integer sums below 2^24), and within rounding of it after a Dropout (the float product rounds each of its
 * sums of ±s). The gradient is tfjs's own, so training computes the same numbers either way, or within rounding.
 * The native backend keeps `tf.matMul` (whose kernel finds ±1 operands by itself: lib/tfjs/nativeKernels.ts) and
 * `tf.conv2d`.
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

/** The data of tensors known to hold only 0 and ±s (±1 through a training-time Dropout), with s. */
const droppedSignData = new WeakMap<object, number>();

/** Records that `t` holds only 0, +scale and −scale (call only where that is so by construction). */
export function markDroppedSigns(t: tf.Tensor, scale: number): tf.Tensor {
  droppedSignData.set(t.dataId, scale);
  return t;
}

/** s where `t` is known to hold only 0 and ±s, else undefined. */
export function droppedSignScale(t: tf.Tensor): number | undefined {
  return droppedSignData.get(t.dataId);
}

/** Largest inner dimension whose ±1 sums a float32 result holds exactly (after a Dropout, half: webgpuXnor.ts). */
const EXACT_K = 1 << 24;

/**
 * a · b (both rank 2), as `BnnBinaryMatMul` where b is marked ±1, a is marked ±1 or dropped ±1, and the backend has
 * the kernel, else `tf.matMul`. Either way the value is matMul's (within rounding after a Dropout) and the
 * gradient is matMul's.
 */
export function binaryAwareMatMul(a: tf.Tensor2D, b: tf.Tensor2D, transposeA = false, transposeB = false): tf.Tensor2D {
  const k = transposeA ? a.shape[0] : a.shape[1];
  const aDropped = isSigns(a) ? 0 : droppedSignScale(a);
  const maxK = aDropped ? EXACT_K / 2 : EXACT_K;
  if (aDropped !== undefined && isSigns(b) && k > 0 && k < maxK && hasKernel(BNN_BINARY_MATMUL)) {
    const attrs: BnnBinaryMatMulAttrs = { transposeA, transposeB, aDropped };
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
