/**
 * The packed model run in float32 with tfjs, for timing the binary engine against: the ±1 weights
 * unpacked to float32 kernels (32× the memory), the same matrix products, and BatchNorm + sign as a
 * comparison with the same per-neuron thresholds (the last layer: the same affine class scores).
 *
 * The first layer multiplies 2p − 255 (that is 255 · (p / 127.5 − 1), the float model's input
 * scaled by 255) so that every sum is an integer that float32 holds exactly (|S| ≤ 784 · 255 < 2²⁴):
 * its signs, hence its predictions, equal the engine's. Built from the packed file, so a page need
 * not download the 40 MB float weights. Imports only tfjs-core (set the backend before use).
 */
import * as tf from '@tensorflow/tfjs-core';
import { unpackRows } from '../lib/kernels/bitPack';
import type { PackedDense, PackedModel } from '../lib/engine/packedModel';

interface FloatLayer {
  input: PackedDense['input'];
  /** k × units: transposed once here, as tfjs's wasm matMul is fastest without transposes. */
  kernel: tf.Tensor2D;
  output:
    | { kind: 'sign'; signs: tf.Tensor1D; thresholds: tf.Tensor1D }
    | { kind: 'scores'; scale: tf.Tensor1D; shift: tf.Tensor1D };
}

export class FloatModel {
  readonly inputSize: number;
  readonly numClasses: number;
  private readonly layers: FloatLayer[];

  constructor(model: PackedModel) {
    this.inputSize = model.inputShape.reduce((a, b) => a * b, 1);
    this.layers = model.layers.map((l): FloatLayer => {
      if (l.kind !== 'dense') throw new Error(`layer ${l.name}: the float comparison runs dense (MLP) models only`);
      const units = l.weights.rows;
      const kernel = tf.tidy(() => tf.transpose(tf.tensor2d(unpackRows(l.weights), [units, l.weights.k])));
      const o = l.output;
      const output =
        o.kind === 'sign'
          ? {
              kind: 'sign' as const,
              signs: tf.tensor1d(Float32Array.from(o.flips, (f) => (f ? -1 : 1))),
              thresholds: tf.tensor1d(Float32Array.from(o.thresholds)),
            }
          : {
              kind: 'scores' as const,
              scale: tf.tensor1d(Float32Array.from(o.scale)),
              shift: tf.tensor1d(Float32Array.from(o.shift)),
            };
      return { input: l.input, kernel, output };
    });
    this.numClasses = this.layers[this.layers.length - 1].kernel.shape[1];
  }

  /** Class scores, count × numClasses row-major, for `count` images of uint8 pixels. */
  scores(pixels: Uint8Array, count: number): Float32Array {
    const scores = this.scoresTensor(pixels, count);
    const out = scores.dataSync() as Float32Array;
    scores.dispose();
    return out;
  }

  /**
   * The scores as a tensor (count × numClasses), left on the backend: read it with `await data()` where reads
   * are asynchronous (tfjs-webgpu in Node, bench/gpuBench.ts).
   */
  scoresTensor(pixels: Uint8Array, count: number): tf.Tensor2D {
    if (pixels.length !== count * this.inputSize)
      throw new RangeError(`pixels has ${pixels.length} values, expected ${count} images × ${this.inputSize}`);
    return tf.tidy(() => {
      const p = tf.tensor2d(pixels, [count, this.inputSize], 'float32');
      let x =
        this.layers[0].input === 'pixels'
          ? tf.sub(tf.mul(p, 2), 255)
          : tf.sub(tf.mul(tf.cast(tf.greaterEqual(p, 128), 'float32'), 2), 1);
      for (const layer of this.layers) {
        const sums = tf.matMul(x, layer.kernel);
        const o = layer.output;
        if (o.kind === 'scores') return tf.add(tf.mul(sums, o.scale), o.shift) as tf.Tensor2D;
        // +1 where (flip ? −S : S) ≥ T, else −1.
        x = tf.sub(tf.mul(tf.cast(tf.greaterEqual(tf.mul(sums, o.signs), o.thresholds), 'float32'), 2), 1);
      }
      throw new Error('the model does not end in a scores layer');
    });
  }

  /** Float32 bytes held by the kernels. */
  get kernelBytes(): number {
    return this.layers.reduce((sum, l) => sum + l.kernel.size * 4, 0);
  }

  dispose(): void {
    for (const l of this.layers) {
      l.kernel.dispose();
      for (const t of Object.values(l.output)) if (t instanceof tf.Tensor) t.dispose();
    }
  }
}
