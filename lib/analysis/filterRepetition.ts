/**
 * The paper's filter-repetition observation (section "Exploiting filter repetitions"): a binary
 * k×k filter slice can take only 2^(k²) values (512 for 3×3), so among the filters applied to one
 * input feature map many are identical, and each distinct one needs computing once. For each
 * input channel of a binary conv layer we count the distinct sign patterns among its `outChannels`
 * 3×3 slices W[:, :, ci, co]; the layer's figure is the mean fraction of unique slices.
 *
 * Also reported (our addition, not a figure of the paper): counting a slice and its negation as
 * one, since a convolution with −w is the negation of the one with w.
 */
import type * as tf from '@tensorflow/tfjs';
import { BinaryConv2D } from '../layers';

export interface FilterRepetition {
  layer: string;
  /** [kh, kw, inChannels, outChannels]. */
  kernelShape: number[];
  /** Distinct patterns a slice can take: 2^(kh·kw). */
  possiblePatterns: number;
  /** Mean over input channels of (distinct slices / outChannels), as the paper counts. */
  uniqueFraction: number;
  /** The same, with a slice and its negation counted once. */
  uniqueFractionUpToSign: number;
  /** Mean number of distinct slices per input channel. */
  meanUniquePerInputChannel: number;
  /** Distinct patterns over all inChannels × outChannels slices of the layer. */
  distinctPatternsInLayer: number;
}

/**
 * Counts repetitions in a kernel stored as tfjs does, [kh, kw, inChannels, outChannels] row-major.
 * Values are binarized with sign (0 → +1, the project's convention), so a latent real kernel works.
 */
export function filterRepetition(kernel: ArrayLike<number>, shape: number[], layer = 'conv'): FilterRepetition {
  const [kh, kw, ci, co] = shape;
  if (shape.length !== 4 || kernel.length !== kh * kw * ci * co)
    throw new Error(`${layer}: kernel of ${kernel.length} values does not match shape [${shape}]`);
  const taps = kh * kw;
  if (taps > 30) throw new Error(`${layer}: ${kh}×${kw} slices have too many taps to count as bit patterns`);
  const mask = 2 ** taps - 1;
  const patternOf = (c: number, o: number): number => {
    let key = 0;
    for (let t = 0; t < taps; t++) if (kernel[(t * ci + c) * co + o] >= 0) key |= 1 << t;
    return key >>> 0;
  };
  const all = new Set<number>();
  let unique = 0;
  let uniqueUpToSign = 0;
  for (let c = 0; c < ci; c++) {
    const seen = new Set<number>();
    const seenUpToSign = new Set<number>();
    for (let o = 0; o < co; o++) {
      const key = patternOf(c, o);
      seen.add(key);
      seenUpToSign.add(Math.min(key, (~key & mask) >>> 0));
      all.add(key);
    }
    unique += seen.size;
    uniqueUpToSign += seenUpToSign.size;
  }
  return {
    layer,
    kernelShape: [kh, kw, ci, co],
    possiblePatterns: 2 ** taps,
    uniqueFraction: unique / (ci * co),
    uniqueFractionUpToSign: uniqueUpToSign / (ci * co),
    meanUniquePerInputChannel: unique / ci,
    distinctPatternsInLayer: all.size,
  };
}

/**
 * Filter repetition of every binary conv layer of `model` (from its latent kernels' signs), read
 * asynchronously (webgpu cannot read synchronously in Node).
 */
export async function modelFilterRepetition(model: tf.LayersModel): Promise<FilterRepetition[]> {
  const convs = model.layers.filter((l): l is BinaryConv2D => l instanceof BinaryConv2D && l.kernelQuantizer !== null);
  const repetitions: FilterRepetition[] = [];
  for (const l of convs) {
    const kernel = l.latentKernel.read();
    repetitions.push(filterRepetition(await kernel.data(), kernel.shape, l.name));
  }
  return repetitions;
}
