import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { calibrateBatchNorm, explainDisagreements } from '../bench/mlpBench';
import { loadOnnxRuntime, onnxScores, onnxSession } from '../bench/onnxRuntime';
import {
  BinaryEngine,
  exportOnnx,
  exportPackedModel,
  floatNetwork,
  onnxModelBytes,
  packedFloatNetwork,
} from '../lib/engine';
import { selectKernel } from '../lib/kernels';
import { BinaryDense } from '../lib/layers';
import { buildConvNet } from '../lib/models/convnet';
import { buildMlp } from '../lib/models/mlp';
import { seededRandom } from '../lib/random';
import { ENGINE_TEST_MODELS, randomPackedModel, randomPixels as randomEnginePixels } from './helpers/randomPackedModel';

const ort = loadOnnxRuntime();
const skipped = typeof ort === 'string' ? ` (skipped: ${ort})` : '';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-onnx-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend('cpu');
});

const COUNT = 400;

function randomPixels(count: number, shape: number[], seed: number): Uint8Array {
  const random = seededRandom(seed);
  return Uint8Array.from({ length: count * shape.reduce((a, b) => a * b, 1) }, () => Math.floor(random() * 256));
}

const argmax = (scores: ArrayLike<number>, classes: number) =>
  Array.from({ length: scores.length / classes }, (_, i) => {
    let best = 0;
    for (let j = 1; j < classes; j++) if (scores[i * classes + j] > scores[i * classes + best]) best = j;
    return best;
  });

/** Relative gap of the top two scores of image i: ~1e-7 is a float tie between two classes. */
function topGap(scores: ArrayLike<number>, classes: number, i: number): number {
  const row = Array.from({ length: classes }, (_, j) => scores[i * classes + j]).sort((a, b) => b - a);
  return (row[0] - row[1]) / Math.max(Math.abs(row[0]), Math.abs(row[1]));
}

/** tfjs's scores, the engine's and ONNX Runtime's on the same uint8 pixels. */
async function threeWay(model: tf.Sequential, pixels: Uint8Array, shape: number[]) {
  if (typeof ort === 'string') throw new Error(ort);
  const x = tf.tensor(
    Float32Array.from(pixels, (p) => p / 127.5 - 1),
    [COUNT, ...shape],
  );
  const tfjs = (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
  x.dispose();
  const engine = new BinaryEngine(exportPackedModel(model), { kernel: selectKernel() });
  const file = path.join(tmp, `${model.name}.onnx`);
  const bytes = exportOnnx(model, file);
  expect(fs.statSync(file).size).toBe(bytes);
  const session = await onnxSession(ort, file, 1);
  const onnx = await onnxScores(ort, session, pixels, COUNT, shape);
  await session.release();
  return { tfjs, engine: engine.scores(pixels, COUNT), onnx, engineObject: engine };
}

function calibrated(model: tf.Sequential, pixels: Uint8Array, shape: number[]): tf.Sequential {
  const x = tf.tensor(
    Float32Array.from(pixels, (p) => p / 127.5 - 1),
    [COUNT, ...shape],
  );
  calibrateBatchNorm(model, x, 7);
  x.dispose();
  return model;
}

const mlp = (batchNorm: 'standard' | 'shift') =>
  buildMlp({
    inputDim: 196,
    numClasses: 10,
    hiddenUnits: [128, 96],
    dropoutInput: 0.2,
    dropoutHidden: 0.5,
    binarization: 'deterministic',
    batchNorm,
    H: 1,
    seed: 3,
  });

describe('ONNX export', () => {
  for (const batchNorm of ['standard', 'shift'] as const) {
    it.skipIf(!!skipped)(
      `MLP (${batchNorm} BatchNorm): ONNX Runtime predicts what tfjs and the binary engine predict${skipped}`,
      async () => {
        const shape = [196];
        const pixels = randomPixels(COUNT, shape, 11);
        const model = calibrated(mlp(batchNorm), pixels, shape);
        const { tfjs, engine, onnx, engineObject } = await threeWay(model, pixels, shape);
        for (let i = 0; i < tfjs.length; i++) expect(Math.abs(onnx[i] - tfjs[i])).toBeLessThan(1e-4);
        const [byTfjs, byEngine, byOnnx] = [tfjs, engine, onnx].map((s) => argmax(s, 10));
        const differing = byOnnx.flatMap((c, i) => (c !== byEngine[i] || c !== byTfjs[i] ? [i] : []));
        // Any difference must be a float tie at a threshold (the engine's sums are exact integers).
        for (const d of await explainDisagreements(model, engineObject, pixels, differing))
          expect(d.relativeMargin, `image ${d.image} at ${d.layer}`).toBeLessThan(1e-5);
        expect(differing.length).toBeLessThanOrEqual(COUNT / 100);
      },
    );
  }

  it.skipIf(!!skipped)(
    `ConvNet (conv, 2×2 max-pool, flatten, dense): ONNX Runtime predicts what tfjs and the engine predict${skipped}`,
    async () => {
      const shape = [8, 8, 3];
      const pixels = randomPixels(COUNT, shape, 12);
      const model = calibrated(
        buildConvNet({
          inputShape: [8, 8, 3],
          numClasses: 10,
          convFilters: [8, 16, 24, 8],
          hiddenUnits: [32],
          binarization: 'deterministic',
          batchNorm: 'standard',
          H: 1,
          seed: 4,
        }),
        pixels,
        shape,
      );
      const { tfjs, engine, onnx } = await threeWay(model, pixels, shape);
      for (let i = 0; i < tfjs.length; i++) expect(Math.abs(onnx[i] - tfjs[i])).toBeLessThan(1e-4);
      const [byTfjs, byEngine, byOnnx] = [tfjs, engine, onnx].map((s) => argmax(s, 10));
      const differing = byOnnx.flatMap((c, i) => (c !== byEngine[i] || c !== byTfjs[i] ? [i] : []));
      // A difference must be a tie of the two top classes.
      for (const i of differing) expect(topGap(engine, 10, i), `image ${i}`).toBeLessThan(1e-5);
      expect(differing.length).toBeLessThanOrEqual(COUNT / 100);
    },
  );

  it('writes a standard graph: uint8 pixels in, ±1 weights, BatchNormalization, sign as Where(x ≥ 0)', () => {
    const net = floatNetwork(
      calibrated(
        buildConvNet({
          inputShape: [4, 4, 1],
          numClasses: 3,
          convFilters: [2, 2],
          hiddenUnits: [],
          binarization: 'deterministic',
          batchNorm: 'standard',
          H: 1,
          seed: 1,
        }),
        randomPixels(COUNT, [4, 4, 1], 1),
        [4, 4, 1],
      ),
    );
    expect(net.ops.map((o) => o.op)).toEqual([
      'input',
      'conv',
      'batchnorm',
      'sign',
      'conv',
      'maxpool',
      'batchnorm',
      'sign',
      'flatten',
      'matmul',
      'batchnorm',
    ]);
    for (const o of net.ops)
      if (o.op === 'conv' || o.op === 'matmul') expect(o.weights.every((w) => w === 1 || w === -1)).toBe(true);
    const text = Buffer.from(onnxModelBytes(net)).toString('latin1');
    for (const op of ['Cast', 'Transpose', 'Conv', 'MaxPool', 'BatchNormalization', 'GreaterOrEqual', 'Where'])
      expect(text).toContain(op);
    expect(text).not.toContain('Sign');
  });

  it('refuses, naming the layer, what it cannot express', () => {
    const real = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [4], units: 3, name: 'plain_dense' })],
    });
    expect(() => floatNetwork(real)).toThrow(/plain_dense: Dense is not supported by the ONNX export/);
    const stochastic = tf.sequential({
      layers: [new BinaryDense({ inputShape: [4], units: 3, kernelQuantizer: 'stochasticSign', name: 'noisy' })],
    });
    expect(() => floatNetwork(stochastic)).toThrow(/noisy: kernelQuantizer 'stochasticSign' cannot be exported/);
    expect(() => exportOnnx(real, path.join(tmp, 'bad.onnx'))).toThrow(/plain_dense/);
    expect(fs.existsSync(path.join(tmp, 'bad.onnx'))).toBe(false);
  });
});

describe.skipIf(typeof ort === 'string')(`ONNX from a packed model (packedFloatNetwork)${skipped}`, () => {
  // Thresholds half an integer step from any sum: every sign as the engine's, scores within float rounding.
  for (const [name, spec] of ENGINE_TEST_MODELS) {
    it(`ONNX Runtime computes what the engine computes: ${name}`, async () => {
      const runtime = ort as Exclude<typeof ort, string>;
      const model = randomPackedModel(spec);
      const count = 50;
      const pixels = randomEnginePixels(model, count, 5);
      const classes = model.layers[model.layers.length - 1].weights.rows;
      const engine = new BinaryEngine(model, { kernel: selectKernel() }).scores(pixels, count);
      const session = await onnxSession(runtime, onnxModelBytes(packedFloatNetwork(model)), 1);
      const scores = await onnxScores(runtime, session, pixels, count, model.inputShape);
      await session.release();
      const close = Array.from(engine, (s, i) => Math.abs(s - scores[i]) <= 1e-3 * Math.max(1, Math.abs(s)));
      const equalImages = Array.from({ length: count }, (_, i) => close.slice(i * classes, (i + 1) * classes)).filter(
        (row) => row.every(Boolean),
      ).length;
      expect(equalImages).toBe(count);
      const agree = argmax(engine, classes).filter((c, i) => c === argmax(scores, classes)[i]).length;
      expect(agree).toBe(count);
    });
  }
});
