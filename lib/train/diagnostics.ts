/**
 * What the binary weights do during training, per binary layer and epoch (issue 10, item 4):
 * - flip ratio: the fraction of binary weights sign(W) that changed since the previous snapshot
 *   (how much the network the forward pass sees still moves);
 * - at clip: the fraction of latent weights at ±H (paper §1.2: the clip keeps them there, where
 *   a gradient in the same direction can no longer change them);
 * - mean |W|: how far the latent weights are from a sign change on average.
 * Signs follow the project's convention, sign(0) = +1. One read of each latent kernel per epoch
 * and typed-array loops: cheap next to an epoch even at the paper's 40 M weights.
 */
import type * as tf from '@tensorflow/tfjs';
import { isQuantizedLayer, type QuantizedLayer } from '../layers/binaryKernelLayer';

export interface LayerDiagnostics {
  layer: string;
  flipRatio: number;
  atClip: number;
  meanAbs: number;
}

/**
 * Relative tolerance of "at ±H": the clip writes exactly ±H in float32, which is H rounded to
 * float32 (up to 6e-8 away, relative, for an H that float32 cannot represent); an update step is
 * orders of magnitude larger than this, so no weight merely near the clip is counted.
 */
export const AT_CLIP_TOLERANCE = 1e-6;

/** sign(w) ≥ 0 as one byte per weight (1 for +1, 0 for −1). */
function signBits(w: ArrayLike<number>): Uint8Array {
  const bits = new Uint8Array(w.length);
  for (let i = 0; i < w.length; i++) bits[i] = w[i] >= 0 ? 1 : 0;
  return bits;
}

/** The latent kernels of `layers`, read asynchronously (as every backend, webgpu included, can). */
function readKernels(layers: QuantizedLayer[]): Promise<Float32Array[]> {
  return Promise.all(layers.map(async (l) => (await l.latentKernel.read().data()) as Float32Array));
}

/**
 * Snapshots the binary layers' signs when created (`await BinaryWeightMonitor.create(model)`);
 * `epochEnd()` measures against the last snapshot.
 */
export class BinaryWeightMonitor {
  private constructor(
    private readonly layers: QuantizedLayer[],
    private readonly signs: Uint8Array[],
  ) {}

  static async create(model: tf.LayersModel): Promise<BinaryWeightMonitor> {
    // Layers whose kernel the forward pass quantizes (an `identity` or null quantizer keeps it real).
    const layers = model.layers.filter(isQuantizedLayer).filter((l) => (l.kernelQuantizer?.precision ?? 32) < 32);
    return new BinaryWeightMonitor(layers, (await readKernels(layers)).map(signBits));
  }

  /** Diagnostics of every binary layer since the previous call (or creation); then re-snapshots. */
  async epochEnd(): Promise<LayerDiagnostics[]> {
    const kernels = await readKernels(this.layers);
    return this.layers.map((layer, i) => {
      const w = kernels[i];
      const signs = this.signs[i]; // re-snapshotted in place
      const clip = layer.H * (1 - AT_CLIP_TOLERANCE);
      let flips = 0;
      let atClip = 0;
      let sumAbs = 0;
      for (let j = 0; j < w.length; j++) {
        const v = w[j];
        const s = v >= 0 ? 1 : 0;
        flips += s ^ signs[j];
        signs[j] = s;
        const a = Math.abs(v);
        if (a >= clip) atClip++;
        sumAbs += a;
      }
      const n = w.length;
      return { layer: layer.name, flipRatio: flips / n, atClip: atClip / n, meanAbs: sumAbs / n };
    });
  }
}
