/**
 * Every fused kernel of ours, by name with its attributes, as tfjs-core's kernel_names.ts lists its own:
 * the layers and quantizers run them through `tf.engine().runKernel` where the backend registers them
 * (the native backend does: lib/tfjs/nativeKernels.ts), and fall back to composites of tfjs ops elsewhere.
 * The standard kernels we replace (BatchMatMul, Conv2D, MaxPool, …) keep tfjs's names and attribute types.
 */
import * as tf from '@tensorflow/tfjs';

/** sign(x) with 0 → +1. Inputs: x. */
export const BNN_SIGN = 'BnnSign';
/** The straight-through estimator's gradient, dy · 1_{|x| ≤ 1}. Inputs: dy, x. */
export const BNN_STE_GRAD = 'BnnSteGrad';
/** BatchNorm's training forward: y, batch mean and variance over all but the last axis. Inputs: x, gamma, beta. */
export const BNN_BATCH_NORM_TRAIN = 'BnnBatchNormTrain';
/** BatchNorm's backward through the batch statistics: dx, dγ, dβ. Inputs: dy, x, gamma, mean, variance. */
export const BNN_BATCH_NORM_GRAD = 'BnnBatchNormGrad';
/** A dropout mask: 1/(1 − rate) with probability 1 − rate, else 0. No inputs. */
export const BNN_DROPOUT_MASK = 'BnnDropoutMask';
/** a · b where both hold only ±1: the XNOR product, equal to BatchMatMul's (lib/tfjs/binaryMatMul.ts). Inputs: a, b. */
export const BNN_BINARY_MATMUL = 'BnnBinaryMatMul';
/** conv2d(x, filter) where both hold only ±1 (NHWC, no dilation), equal to Conv2D's. Inputs: x, filter. */
export const BNN_BINARY_CONV2D = 'BnnBinaryConv2D';

export interface BnnBatchNormAttrs {
  epsilon: number;
}

/** BatchMatMul's attributes (rank-2 operands only), and what `a` holds. */
export interface BnnBinaryMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  /** 0: `a` holds ±1. Else `a` holds 0 and ±aDropped: ±1 through a training-time Dropout (aDropped = 1/(1 − rate)). */
  aDropped: number;
}

export interface BnnDropoutMaskAttrs {
  shape: number[];
  rate: number;
  seed: number;
}

/** Whether the active backend registers `kernelName` (for ours: whether the fused path runs). */
export function hasKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}
