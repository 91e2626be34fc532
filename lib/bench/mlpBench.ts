/**
 * MNIST MLP inference on the test set: the tfjs float model against the binary engine running
 * the same network exported to a packed model — time, speedup, and whether every prediction agrees.
 */
import * as tf from '@tensorflow/tfjs';
import { scaledPixels, slice, type ImageSet } from '../data/dataset';
import { BinaryEngine, exportPackedModel, packedParameterBytes, serializePackedModel } from '../engine';
import { tryKernel, type XnorKernel } from '../kernels';
import { buildMlp } from '../models/mlp';
import { measure, type Timing } from './xnorBench';

/** Deterministic uniform numbers in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * For an untrained model: gives every BatchNorm the statistics of its actual input on `x`, and
 * random γ (a third negative) and β, so that thresholds fall where the data is, as after
 * training. (Speed does not depend on the weights; agreement with tfjs is then a real test.)
 */
export function calibrateBatchNorm(model: tf.Sequential, x: tf.Tensor, seed: number): void {
  const random = seededRandom(seed);
  let h = x;
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    if (layer.getClassName() === 'BatchNormalization') {
      const units = h.shape[1]!;
      const { mean, variance } = tf.moments(h, 0);
      const gamma = Float32Array.from({ length: units }, () => (random() < 0.33 ? -1 : 1) * (0.5 + random()));
      const beta = Float32Array.from({ length: units }, () => random() - 0.5);
      layer.setWeights([tf.tensor1d(gamma), tf.tensor1d(beta), mean, variance]);
    }
    const next = layer.apply(h) as tf.Tensor;
    if (h !== x) h.dispose();
    h = next;
  }
  h.dispose();
}

export interface MlpBenchRow {
  method: string;
  tier: string;
  threads: number;
  seconds: number;
  runs: number[];
  imagesPerSecond: number;
  /** Images whose predicted class differs from the tfjs model's. */
  disagreements: number;
  testError: number;
}

export interface MlpBenchResult {
  model: string;
  images: number;
  floatBytes: number;
  packedParameterBytes: number;
  packedFileBytes: number;
  rows: MlpBenchRow[];
}

export interface MlpBenchOptions {
  test: ImageSet;
  count: number;
  hiddenUnits: number[];
  /** A trained tfjs model to use instead of a calibrated untrained one. */
  model?: tf.Sequential;
  runs: number;
  log: (line: string) => void;
}

function errorRate(predicted: ArrayLike<number>, labels: Uint8Array): number {
  let wrong = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] !== labels[i]) wrong++;
  return wrong / predicted.length;
}

export function benchMlp(o: MlpBenchOptions): MlpBenchResult {
  const test = slice(o.test, 0, o.count);
  const k = test.height * test.width * test.channels;
  const x = tf.tensor2d(scaledPixels(test, Array.from({ length: o.count }, (_, i) => i)), [o.count, k]);
  let model = o.model;
  let description = 'trained model';
  if (!model) {
    model = buildMlp({ inputDim: k, numClasses: test.numClasses, hiddenUnits: o.hiddenUnits, dropoutInput: 0.2, dropoutHidden: 0.5, binarization: 'deterministic', batchNorm: 'standard', H: 1, seed: 1 });
    calibrateBatchNorm(model, x.slice(0, Math.min(o.count, 1000)), 7);
    description = `untrained ${k}-${o.hiddenUnits.join('-')}-${test.numClasses} MLP, BatchNorm calibrated on test images (speed and agreement only; its error is meaningless)`;
  }
  const rows: MlpBenchRow[] = [];
  let floatPredictions: Uint8Array | null = null;
  const tfTime: Timing = measure(() => {
    const scores = model!.predict(x, { batchSize: 1000 }) as tf.Tensor;
    const labels = scores.argMax(1);
    floatPredictions = Uint8Array.from(labels.dataSync());
    scores.dispose();
    labels.dispose();
  }, o.runs);
  const add = (row: Omit<MlpBenchRow, 'imagesPerSecond'>) => {
    const full = { ...row, imagesPerSecond: o.count / row.seconds };
    rows.push(full);
    o.log(`MLP ${row.method.padEnd(34)} ${String(row.threads).padStart(2)} thr  ${row.seconds.toFixed(3).padStart(8)} s  ${full.imagesPerSecond.toFixed(0).padStart(8)} img/s  error ${(100 * row.testError).toFixed(2)} %  disagreements ${row.disagreements}`);
  };
  add({ method: `float tfjs ${tf.getBackend()} model.predict`, tier: 'tfjs', threads: 1, ...tfTime, disagreements: 0, testError: errorRate(floatPredictions!, test.labels) });
  const packed = exportPackedModel(model);
  const kernels = (['native', 'wasm'] as const).map((t) => tryKernel(t)).filter((kk): kk is XnorKernel => typeof kk !== 'string');
  for (const kernel of kernels) {
    for (const threads of kernel.maxThreads > 1 ? [1, kernel.maxThreads] : [1]) {
      const engine = new BinaryEngine(packed, { kernel, threads, batchSize: 1000 });
      let predicted: Uint8Array | null = null;
      const t = measure(() => (predicted = engine.predict(test.images, o.count)), o.runs);
      add({
        method: `binary engine ${kernel.tier} ${kernel.isa}`,
        tier: kernel.tier,
        threads,
        ...t,
        disagreements: o.count - Math.round((1 - errorRate(predicted!, floatPredictions!)) * o.count),
        testError: errorRate(predicted!, test.labels),
      });
    }
  }
  x.dispose();
  return {
    model: description,
    images: o.count,
    floatBytes: packed.floatBytes,
    packedParameterBytes: packedParameterBytes(packed),
    packedFileBytes: serializePackedModel(packed).length,
    rows,
  };
}
