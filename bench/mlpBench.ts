/**
 * MNIST MLP inference on the test set: the tfjs float model against the binary engine running
 * the same network exported to a packed model — time, speedup, and whether every prediction agrees.
 */
import * as tf from '@tensorflow/tfjs';
import { scaledPixels, slice, type ImageSet } from '../lib/data/dataset';
import {
  BinaryEngine,
  exportPackedModelAsync,
  foldBatchNorm,
  packedParameterBytes,
  readExportValues,
  serializePackedModel,
} from '../lib/engine';
import { tryKernel, type XnorKernel } from '../lib/kernels';
import { buildMlp } from '../lib/models/mlp';
import { measure, measureAsync } from './xnorBench';
import { seededRandom } from '../lib/random';

/**
 * For an untrained model (dense or conv): gives every BatchNorm the statistics of its actual input on `x`, and
 * random γ (a third negative) and β, so that thresholds fall where the data is, as after
 * training. (Speed does not depend on the weights; agreement with tfjs is then a real test.)
 */
export function calibrateBatchNorm(model: tf.Sequential, x: tf.Tensor, seed: number): void {
  const random = seededRandom(seed);
  let h = x;
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    if (/BatchNormalization$/.test(layer.getClassName())) {
      // Per channel: over every axis but the last (images × positions for a conv layer's output).
      const units = h.shape[h.shape.length - 1]!;
      const { mean, variance } = tf.moments(
        h,
        h.shape.slice(0, -1).map((_, axis) => axis),
      );
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

/** Why one image's prediction differs between the tfjs model and the binary engine. */
export interface Disagreement {
  image: number;
  /** The first layer whose binary activations differ ('scores' when only the argmax does). */
  layer: string;
  /** Neurons of that layer with a different sign. */
  neurons: number;
  /**
   * Largest |a| / (|c·(s − μ)| + |β|) over those neurons, a = c·(s − μ) + β the BatchNorm output
   * computed exactly from the integer sum (or, for 'scores', the gap of the top two scores
   * relative to their size): ~1e-7..1e-5 means a float32 rounding tie at a threshold.
   */
  relativeMargin: number;
}

/**
 * For each image where the engine's class differs from tfjs's, finds where the two diverge and
 * how close to a decision threshold the exact value was.
 */
export async function explainDisagreements(
  model: tf.Sequential,
  engine: BinaryEngine,
  pixels: Uint8Array,
  images: number[],
): Promise<Disagreement[]> {
  const k = engine.inputSize;
  const layers = model.layers.filter((l) => !['InputLayer', 'Dropout'].includes(l.getClassName()));
  // Read asynchronously, as every tensor here (webgpu cannot read synchronously in Node).
  const values = await readExportValues(model);
  const explained: Disagreement[] = [];
  for (const image of images) {
    const px = pixels.subarray(image * k, (image + 1) * k);
    const sums = engine.layerSums(px, 1);
    // tfjs outputs of each BatchNorm that follows a packed layer, and the final scores.
    const bnTensors = new Map<string, tf.Tensor>();
    tf.tidy(() => {
      let h: tf.Tensor = tf.tensor2d(
        Float32Array.from(px, (p) => p / 127.5 - 1),
        [1, k],
      );
      let lastDense = '';
      for (const layer of layers) {
        h = layer.apply(h) as tf.Tensor;
        if (layer.getClassName() === 'BinaryDense') lastDense = layer.name;
        else if (lastDense && /BatchNormalization$/.test(layer.getClassName())) bnTensors.set(lastDense, tf.keep(h));
      }
    });
    const bnOutputs = new Map<string, Float32Array>();
    for (const [name, t] of bnTensors) bnOutputs.set(name, (await t.data()) as Float32Array);
    tf.dispose([...bnTensors.values()]);
    explained.push(firstDivergence(image, sums, bnOutputs));
  }
  return explained;

  /** Where `image`'s exact sums and tfjs's outputs first part, and by how close a margin. */
  function firstDivergence(image: number, sums: Int32Array[], bnOutputs: Map<string, Float32Array>): Disagreement {
    for (let l = 0; l < engine.model.layers.length; l++) {
      const packed = engine.model.layers[l];
      const bnLayer = layers[layers.findIndex((x) => x.name === packed.name) + 1];
      const bn = foldBatchNorm(bnLayer, packed.weights.rows, values);
      const d = packed.input === 'pixels' ? 255 : 1;
      const tfOut = bnOutputs.get(packed.name)!;
      const exact = Array.from(sums[l], (S, j) => bn.c[j] * (S / d - bn.mu[j]) + bn.beta[j]);
      const relative = (j: number) =>
        Math.abs(exact[j]) / (Math.abs(bn.c[j] * (sums[l][j] / d - bn.mu[j])) + Math.abs(bn.beta[j]));
      if (packed.output.kind === 'sign') {
        const differing = exact.map((a, j) => (a >= 0 !== tfOut[j] >= 0 ? j : -1)).filter((j) => j >= 0);
        if (differing.length)
          return {
            image,
            layer: packed.name,
            neurons: differing.length,
            relativeMargin: Math.max(...differing.map(relative)),
          };
      } else {
        const order = exact.map((a, j) => [a, j]).sort((x, y) => y[0] - x[0]);
        const gap = (order[0][0] - order[1][0]) / Math.max(Math.abs(order[0][0]), Math.abs(order[1][0]));
        return { image, layer: 'scores', neurons: 0, relativeMargin: gap };
      }
    }
    return { image, layer: 'none', neurons: 0, relativeMargin: NaN };
  }
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
  /** Every image whose prediction differs, explained (identical across engine tiers). */
  disagreements: Disagreement[];
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

export async function benchMlp(o: MlpBenchOptions): Promise<MlpBenchResult> {
  const test = slice(o.test, 0, o.count);
  const k = test.height * test.width * test.channels;
  const x = tf.tensor2d(
    scaledPixels(
      test,
      Array.from({ length: o.count }, (_, i) => i),
    ),
    [o.count, k],
  );
  let model = o.model;
  let description = 'trained model';
  if (!model) {
    model = buildMlp({
      inputDim: k,
      numClasses: test.numClasses,
      hiddenUnits: o.hiddenUnits,
      dropoutInput: 0.2,
      dropoutHidden: 0.5,
      binarization: 'deterministic',
      batchNorm: 'standard',
      H: 1,
      seed: 1,
    });
    calibrateBatchNorm(model, x.slice(0, Math.min(o.count, 1000)), 7);
    description =
      `untrained ${k}-${o.hiddenUnits.join('-')}-${test.numClasses} MLP, BatchNorm calibrated on test ` +
      `images (speed and agreement only; its error is meaningless)`;
  }
  const rows: MlpBenchRow[] = [];
  let floatPredictions: Uint8Array | null = null;
  const warm = tf.tidy(() => model!.predict(x.slice(0, Math.min(100, o.count))) as tf.Tensor);
  await warm.data();
  warm.dispose();
  const tfTime = await measureAsync(
    async () => {
      const scores = model!.predict(x, { batchSize: 1000 }) as tf.Tensor;
      const labels = scores.argMax(1);
      floatPredictions = Uint8Array.from(await labels.data());
      scores.dispose();
      labels.dispose();
    },
    o.runs,
    0,
  );
  const add = (row: Omit<MlpBenchRow, 'imagesPerSecond'>) => {
    const full = { ...row, imagesPerSecond: o.count / row.seconds };
    rows.push(full);
    o.log(
      `MLP ${row.method.padEnd(34)} ${String(row.threads).padStart(2)} thr  ` +
        `${row.seconds.toFixed(3).padStart(8)} s  ${full.imagesPerSecond.toFixed(0).padStart(8)} img/s  ` +
        `error ${(100 * row.testError).toFixed(2)} %  disagreements ${row.disagreements}`,
    );
  };
  add({
    method: `float tfjs ${tf.getBackend()} model.predict`,
    tier: 'tfjs',
    threads: 1,
    ...tfTime,
    disagreements: 0,
    testError: errorRate(floatPredictions!, test.labels),
  });
  const packed = await exportPackedModelAsync(model);
  let differing: number[] = [];
  const kernels = (['native', 'wasm'] as const)
    .map((t) => tryKernel(t))
    .filter((kk): kk is XnorKernel => typeof kk !== 'string');
  for (const kernel of kernels) {
    for (const threads of kernel.maxThreads > 1 ? [1, kernel.maxThreads] : [1]) {
      const engine = new BinaryEngine(packed, { kernel, threads, batchSize: 1000 });
      let predicted: Uint8Array | null = null;
      const t = measure(() => (predicted = engine.predict(test.images, o.count)), o.runs);
      if (!differing.length)
        differing = Array.from(predicted!).flatMap((c, i) => (c !== floatPredictions![i] ? [i] : []));
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
  const disagreements = differing.length
    ? await explainDisagreements(model, new BinaryEngine(packed, { kernel: kernels[0] }), test.images, differing)
    : [];
  for (const d of disagreements)
    o.log(
      `image ${d.image}: first differs at ${d.layer} (${d.neurons} neurons), relative margin ` +
        `${d.relativeMargin.toExponential(2)}`,
    );
  return {
    model: description,
    images: o.count,
    floatBytes: packed.floatBytes,
    packedParameterBytes: packedParameterBytes(packed),
    packedFileBytes: serializePackedModel(packed).length,
    rows,
    disagreements,
  };
}

/**
 * The BatchNorm decision of `image` that lies closest to its threshold, over every sign neuron of every
 * layer: its relative margin |a| / (|c·(s − μ)| + |β|), a computed exactly from the engine's integer sums.
 * A float runtime whose class differs from the engine's on an image with a margin near float32's
 * precision (~1e-7) tipped that decision by rounding: a float tie, wherever in the network it lies.
 */
export function closestThreshold(
  model: tf.LayersModel,
  engine: BinaryEngine,
  pixels: Uint8Array,
  image: number,
): { layer: string; relativeMargin: number } {
  const k = engine.inputSize;
  const sums = engine.layerSums(pixels.subarray(image * k, (image + 1) * k), 1);
  let best = { layer: 'none', relativeMargin: Infinity };
  engine.model.layers.forEach((packed, l) => {
    if (packed.output.kind !== 'sign') return;
    const at = model.layers.findIndex((x) => x.name === packed.name);
    const bnLayer = model.layers.slice(at + 1).find((x) => /BatchNormalization$/.test(x.getClassName()));
    if (at < 0 || !bnLayer) throw new Error(`no BatchNorm after layer ${packed.name}`);
    const bn = foldBatchNorm(bnLayer, packed.weights.rows);
    const d = packed.input === 'pixels' ? 255 : 1;
    const units = packed.weights.rows;
    sums[l].forEach((S, i) => {
      const j = i % units;
      const centred = bn.c[j] * (S / d - bn.mu[j]);
      const margin = Math.abs(centred + bn.beta[j]) / (Math.abs(centred) + Math.abs(bn.beta[j]));
      if (margin < best.relativeMargin) best = { layer: packed.name, relativeMargin: margin };
    });
  });
  return best;
}
