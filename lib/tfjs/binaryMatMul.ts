/**
 * The binary layers' forward product when both operands are ±1: `BnnBinaryMatMul` (kernelNames.ts), the paper's
 * XNOR-popcount product where a backend registers it (webgpu: lib/tfjs/webgpuXnor.ts), `tf.matMul` elsewhere.
 *
 * How a layer knows its operands are ±1 without reading them (a readback per product, on a GPU): by where they
 * come from. A quantizer whose forward gives exactly ±1 (`signs` in lib/quantizers.ts: the deterministic and the
 * stochastic sign) marks its output's data (`markSigns`); a reshape or clone shares the data, so the mark
 * survives Flatten and an inference-time Dropout, while anything that computes new values (a training-time
 * Dropout's mask, BatchNorm) gives unmarked data. The first layer's real-valued input is never marked.
 *
 * The result equals the float product exactly (integer sums below 2^24), and the gradient is matMul's own, so
 * training computes the same numbers either way. The native backend keeps `tf.matMul`, whose kernel finds ±1
 * operands by itself (lib/tfjs/nativeKernels.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { BNN_BINARY_MATMUL, hasKernel, type BnnBinaryMatMulAttrs } from './kernelNames';

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

// The gradient of BatchMatMul (tfjs's own function, with the same saved inputs and attributes).
const matMulGradient = tf.getGradient('BatchMatMul');
if (!matMulGradient) throw new Error('tfjs registers no BatchMatMul gradient');
tf.registerGradient({ ...matMulGradient, kernelName: BNN_BINARY_MATMUL });
