/**
 * The paper's binary ConvNets (CIFAR-10 and SVHN), in the layer order of its Theano code:
 *
 *   for each conv layer:  BinaryConv2D 3×3 "same" → [MaxPool 2×2 after every 2nd conv] → BatchNorm → sign
 *   then flatten and, for each FC layer: BinaryDense → BatchNorm → sign
 *   and BinaryDense(numClasses) → BatchNorm: the L2-SVM scores (squared hinge loss, no activation).
 *
 * Pooling comes before BatchNorm and sign, as the reference code: max-pooling real-valued
 * pre-activations keeps information that pooling ±1 values would lose. The first conv sees the
 * real image (pixels in [−1, 1]), not a binarized one; its weights are binary like all others.
 */
import * as tf from '@tensorflow/tfjs';
import { BinaryConv2D, BinaryDense, SignActivation } from '../layers';
import { quantizerFor, type Binarization } from '../quantizers';
import { batchNorm, type BatchNormKind } from './mlp';

export interface ConvNetConfig {
  /** [height, width, channels] of an input image. */
  inputShape: [number, number, number];
  numClasses: number;
  /** Filters of each 3×3 conv layer, in blocks of two: max-pooling after the 2nd conv of each block. */
  convFilters: number[];
  /** Units of each hidden binary FC layer (the paper: 2 × 1024). */
  hiddenUnits: number[];
  binarization: Binarization;
  batchNorm: BatchNormKind;
  H: number;
  seed: number;
}

/** The paper's CIFAR-10 conv widths: (2×128C3)−MP2−(2×256C3)−MP2−(2×512C3)−MP2. */
export const CIFAR10_CONV_FILTERS = [128, 128, 256, 256, 512, 512];
/** The paper's SVHN conv widths: half of CIFAR-10's. */
export const SVHN_CONV_FILTERS = CIFAR10_CONV_FILTERS.map((f) => f / 2);

/** Conv widths scaled by a width multiplier (at least one filter per layer), for smaller presets. */
export function scaleWidths(filters: number[], multiplier: number): number[] {
  if (!(multiplier > 0) || !Number.isFinite(multiplier))
    throw new Error(`width multiplier must be a positive number, got ${multiplier}`);
  return filters.map((f) => Math.max(1, Math.round(f * multiplier)));
}

/** Whether a max-pool follows conv layer `i` (0-based): after the 2nd conv of each block of two. */
export function poolsAfter(i: number): boolean {
  return i % 2 === 1;
}

export function buildConvNet(c: ConvNetConfig): tf.Sequential {
  if (c.convFilters.length === 0) throw new Error('a ConvNet needs at least one conv layer');
  const pools = c.convFilters.filter((_, i) => poolsAfter(i)).length;
  const [height, width] = c.inputShape;
  if (height >> pools === 0 || width >> pools === 0) {
    throw new Error(`${pools} max-pools of 2×2 do not fit ${height}×${width} images: use fewer conv layers`);
  }
  const q = quantizerFor(c.binarization);
  const model = tf.sequential({ name: 'binary_convnet' });
  model.add(tf.layers.inputLayer({ inputShape: c.inputShape, name: 'image' }));
  c.convFilters.forEach((filters, i) => {
    const n = i + 1;
    model.add(
      new BinaryConv2D({
        filters,
        kernelSize: 3,
        padding: 'same',
        kernelQuantizer: q,
        H: c.H,
        seed: c.seed + i,
        name: `conv_${n}`,
      }),
    );
    if (poolsAfter(i)) model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool_${n}` }));
    model.add(batchNorm(c.batchNorm, `conv_bn_${n}`));
    model.add(new SignActivation({ quantizer: q, seed: c.seed + 100 + i, name: `conv_sign_${n}` }));
  });
  model.add(tf.layers.flatten({ name: 'flatten' }));
  const convs = c.convFilters.length;
  c.hiddenUnits.forEach((units, i) => {
    const n = i + 1;
    model.add(new BinaryDense({ units, kernelQuantizer: q, H: c.H, seed: c.seed + convs + i, name: `dense_${n}` }));
    model.add(batchNorm(c.batchNorm, `bn_${n}`));
    model.add(new SignActivation({ quantizer: q, seed: c.seed + 200 + i, name: `sign_${n}` }));
  });
  const last = c.hiddenUnits.length + 1;
  model.add(
    new BinaryDense({
      units: c.numClasses,
      kernelQuantizer: q,
      H: c.H,
      seed: c.seed + convs + last,
      name: `dense_${last}`,
    }),
  );
  model.add(batchNorm(c.batchNorm, `bn_${last}`));
  return model;
}
