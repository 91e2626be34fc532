import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { scaledPixels, slice } from '../lib/data/dataset';
import { loadMnist } from '../lib/data/mnist';
import {
  BinaryEngine,
  deserializePackedModel,
  exportPackedModel,
  exportPackedModelAsync,
  foldThresholds,
  loadPackedModel,
  packedParameterBytes,
  savePackedModel,
  serializePackedModel,
} from '../lib/engine';
import { packBitPlanes, packColumns, selectKernel } from '../lib/kernels';
import { bitPlaneDense } from '../lib/kernels/firstLayer';
import { buildMlp } from '../lib/models/mlp';
import { calibrateBatchNorm } from '../bench/mlpBench';
import { seededRandom } from '../lib/random';
import { kernelTiers } from './helpers/kernelTiers';

const rng = seededRandom;

describe('binary inference engine', () => {
  let images: Uint8Array;
  const count = 1000;
  let model: tf.Sequential;
  let expected: Uint8Array;

  beforeAll(async () => {
    await initBackend('cpu');
    const test = slice(loadMnist().test, 0, count);
    images = test.images;
    model = buildMlp({
      inputDim: 784,
      numClasses: 10,
      hiddenUnits: [300, 200],
      dropoutInput: 0.2,
      dropoutHidden: 0.5,
      binarization: 'deterministic',
      batchNorm: 'standard',
      H: 1,
      seed: 5,
    });
    const x = tf.tensor2d(
      scaledPixels(
        test,
        Array.from({ length: count }, (_, i) => i),
      ),
      [count, 784],
    );
    calibrateBatchNorm(model, x, 9);
    expected = (model.predict(x) as tf.Tensor).argMax(1).dataSync() as unknown as Uint8Array;
    expected = Uint8Array.from(expected);
  });

  for (const { kernel: loaded, title } of kernelTiers)
    it.skipIf(!loaded)(`predicts exactly what the tfjs model predicts on real MNIST images (${title})`, () => {
      const kernel = loaded!;
      const engine = new BinaryEngine(exportPackedModel(model), { kernel, batchSize: 300 });
      const n = kernel.tier === 'ts' ? 100 : count;
      const got = engine.predict(images.subarray(0, n * 784), n);
      expect(Array.from(got)).toEqual(Array.from(expected.subarray(0, n)));
    });

  it('round-trips through the packed file and reports its footprint', () => {
    const packed = exportPackedModel(model);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-')), 'mlp.bnn');
    const bytes = savePackedModel(packed, file);
    const loaded = loadPackedModel(file);
    expect(serializePackedModel(loaded)).toEqual(serializePackedModel(packed));
    expect(loaded.layers.map((l) => l.weights)).toEqual(packed.layers.map((l) => l.weights));
    // 784·300 + 300·200 + 200·10 weights at 1 bit, + 4 BN vectors of 510 float32 units.
    expect(packed.floatBytes).toBe((784 * 300 + 300 * 200 + 200 * 10) * 4 + 4 * 4 * 510);
    expect(packedParameterBytes(packed)).toBeLessThan(packed.floatBytes / 20);
    expect(bytes).toBeLessThan(packedParameterBytes(packed) + 4096);
    const engine = new BinaryEngine(loaded, { kernel: selectKernel() });
    expect(Array.from(engine.predict(images.subarray(0, 50 * 784), 50))).toEqual(Array.from(expected.subarray(0, 50)));
  });

  it('exports the same model from weights read asynchronously (webgpu), standard and shift BatchNorm', async () => {
    const bytes = async (m: tf.Sequential) => serializePackedModel(await exportPackedModelAsync(m));
    expect(await bytes(model)).toEqual(serializePackedModel(exportPackedModel(model)));
    const shift = buildMlp({
      inputDim: 784,
      numClasses: 10,
      hiddenUnits: [64],
      dropoutInput: 0,
      dropoutHidden: 0,
      binarization: 'deterministic',
      batchNorm: 'shift',
      H: 1,
      seed: 2,
    });
    calibrateBatchNorm(shift, tf.randomUniform([64, 784], -1, 1, 'float32', 4), 3);
    expect(await bytes(shift)).toEqual(serializePackedModel(exportPackedModel(shift)));
    shift.dispose();
  });

  it('rejects corrupt files and bad inputs', () => {
    const bytes = serializePackedModel(exportPackedModel(model));
    expect(() => deserializePackedModel(bytes.subarray(0, 100))).toThrow(/truncated/);
    expect(() => deserializePackedModel(new Uint8Array(16))).toThrow(/magic/);
    const engine = new BinaryEngine(deserializePackedModel(bytes), { kernel: selectKernel() });
    expect(() => engine.predict(new Uint8Array(783), 1)).toThrow(/expected 1 images × 784/);
    expect(() => engine.predict(new Float32Array(784) as unknown as Uint8Array, 1)).toThrow(/Uint8Array/);
    expect(() => new BinaryEngine(deserializePackedModel(bytes), { kernel: selectKernel(), batchSize: 0 })).toThrow(
      /batchSize/,
    );
    expect(() => new BinaryEngine(deserializePackedModel(bytes), undefined as never)).toThrow(/needs a kernel/);
  });

  it('refuses models it cannot run exactly', () => {
    const stochastic = buildMlp({
      inputDim: 784,
      numClasses: 10,
      hiddenUnits: [8],
      dropoutInput: 0,
      dropoutHidden: 0,
      binarization: 'stochastic',
      batchNorm: 'standard',
      H: 1,
      seed: 1,
    });
    expect(() => exportPackedModel(stochastic)).toThrow(/stochastic/);
    const real = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [784] })] });
    expect(() => exportPackedModel(real)).toThrow(/expected BinaryDense/);
  });
});

describe('first layer on bit planes', () => {
  it('gives 255 · (x · w) exactly, x = p / 127.5 − 1', () => {
    const random = rng(2);
    const rows = 7,
      k = 45,
      units = 6;
    const pixels = Uint8Array.from({ length: rows * k }, (_, i) =>
      i < 4 ? [0, 255, 127, 128][i] : Math.floor(random() * 256),
    );
    const w = Float32Array.from({ length: k * units }, () => (random() < 0.5 ? -1 : 1));
    for (const kernel of [selectKernel('ts'), selectKernel()]) {
      const got = bitPlaneDense(kernel, pixels, rows, packColumns(w, k, units));
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < units; j++) {
          let exact = 0; // in integers: 255·x = 2p − 255
          for (let c = 0; c < k; c++) exact += (2 * pixels[i * k + c] - 255) * w[c * units + j];
          expect(got[i * units + j]).toBe(exact);
        }
      }
    }
    expect(packBitPlanes(pixels, rows, k).rows).toBe(rows * 8);
  });

  it('folds BatchNorm + sign into integer thresholds, ties to +1, negative scales flipped', () => {
    const bn = {
      c: Float64Array.from([2, -2, 0, 0, 1]),
      mu: Float64Array.from([1.5, 1.5, 0, 0, 3]),
      beta: Float64Array.from([1, 1, 0.5, -0.5, 0]),
    };
    const { thresholds, flips } = foldThresholds(bn, 1);
    // 2(s − 1.5) + 1 ≥ 0 ⟺ s ≥ 1;  −2(s − 1.5) + 1 ≥ 0 ⟺ s ≤ 2 ⟺ −s ≥ −2;  constant +1 / −1;
    // s − 3 ≥ 0 ⟺ s ≥ 3 (tie → +1)
    expect(Array.from(thresholds)).toEqual([1, -2, -(2 ** 31 - 1), 2 ** 31 - 1, 3]);
    expect(Array.from(flips)).toEqual([0, 1, 0, 0, 0]);
  });
});

describe('binary inference engine on a ConvNet', () => {
  let reloaded: ReturnType<typeof deserializePackedModel>;
  let images: Uint8Array;
  let expected: number[];
  const count = 60;

  beforeAll(async () => {
    await initBackend('cpu');
    const { BinaryConv2D, BinaryDense, SignActivation } = await import('../lib/layers');
    const test = slice(loadMnist().test, 0, count);
    images = test.images;
    const conv = (filters: number, name: string, padding: 'same' | 'valid' = 'same') =>
      new BinaryConv2D({ filters, kernelSize: 3, padding, name, seed: filters });
    const bn = (name: string) => tf.layers.batchNormalization({ epsilon: 1e-4, name });
    const model = tf.sequential({
      layers: [
        tf.layers.inputLayer({ inputShape: [28, 28, 1] }),
        conv(8, 'conv_1'),
        bn('bn_1'),
        new SignActivation({ name: 'sign_1' }),
        conv(32, 'conv_2'),
        tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
        bn('bn_2'),
        new SignActivation({ name: 'sign_2' }),
        conv(40, 'conv_3', 'valid'),
        tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
        bn('bn_3'),
        new SignActivation({ name: 'sign_3' }),
        tf.layers.flatten(),
        new BinaryDense({ units: 64, name: 'dense_1' }),
        bn('bn_4'),
        new SignActivation({ name: 'sign_4' }),
        new BinaryDense({ units: 10, name: 'dense_2' }),
        bn('bn_5'),
      ],
    });
    const x = tf.tensor4d(
      scaledPixels(
        test,
        Array.from({ length: count }, (_, i) => i),
      ),
      [count, 28, 28, 1],
    );
    // Calibrate every BatchNorm on its real input (moments over all axes but channels).
    const random = seededRandom(21);
    let h: tf.Tensor = x;
    for (const layer of model.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      if (layer.getClassName() === 'BatchNormalization') {
        const c = h.shape[h.shape.length - 1]!;
        const { mean, variance } = tf.moments(h, h.shape.map((_, i) => i).slice(0, -1));
        layer.setWeights([
          tf.tensor1d(Float32Array.from({ length: c }, () => (random() < 0.33 ? -1 : 1) * (0.5 + random()))),
          tf.tensor1d(Float32Array.from({ length: c }, () => random() - 0.5)),
          mean,
          variance,
        ]);
      }
      h = layer.apply(h) as tf.Tensor;
    }
    expected = Array.from((model.predict(x) as tf.Tensor).argMax(1).dataSync());
    const packed = exportPackedModel(model);
    expect(packed.layers.map((l) => l.kind)).toEqual(['conv', 'conv', 'conv', 'dense', 'dense']);
    reloaded = deserializePackedModel(serializePackedModel(packed));
  });

  for (const { kernel: loaded, title } of kernelTiers) {
    it.skipIf(!loaded)(
      `predicts what the tfjs ConvNet predicts (bit-plane first conv, padding, pooling, flatten; ${title})`,
      () => {
        const got = new BinaryEngine(reloaded, { kernel: loaded!, batchSize: 25 }).predict(images, count);
        expect(Array.from(got)).toEqual(expected);
      },
    );
  }
});
