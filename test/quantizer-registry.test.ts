/**
 * A quantizer of one's own, defined and registered in this file alone, works everywhere: layers,
 * training, save/load, the summary; the packed exporter refuses it by name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { registerFileSystemIO } from '../lib/io/fileSystem';
import { BatchNorm, BinaryDense, isQuantizedLayer, SignActivation } from '../lib/layers';
import { BNN_SIGN, BNN_STE_GRAD } from '../lib/tfjs/kernelNames';
import {
  getQuantizer,
  quantize,
  quantizerFor,
  quantizerNames,
  registerQuantizer,
  steGradient,
  STE_SIGN,
  type Quantizer,
} from '../lib/quantizers';
import { BinaryNetOptimizer, modelParams } from '../lib/optim/optimizers';
import { squaredHinge } from '../lib/loss';
import { formatSummary, summarize } from '../lib/summary';
import { exportPackedModel } from '../lib/engine/exportModel';

/** Ternary weights {−1, 0, +1}: 0 where |x| ≤ 0.5; 2 bits each; the straight-through gradient. */
const TERNARY: Quantizer = {
  name: 'ternaryWeights',
  precision: 2,
  packable: false,
  forward: (x) => tf.tidy(() => tf.mul(tf.sign(x), tf.cast(tf.greater(tf.abs(x), 0.5), 'float32'))),
  gradient: steGradient,
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-quantizer-registry-'));
beforeAll(async () => {
  await initBackend();
  registerFileSystemIO();
  registerQuantizer(TERNARY);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function ternaryModel(): tf.Sequential {
  return tf.sequential({
    layers: [
      new BinaryDense({ units: 8, kernelQuantizer: 'ternaryWeights', inputShape: [6], seed: 3, name: 'ternary_dense' }),
      new BatchNorm({ name: 'bn_1' }),
      new SignActivation({ name: 'sign_1' }),
      new BinaryDense({ units: 3, seed: 4, name: 'sign_dense' }),
      new BatchNorm({ name: 'bn_2' }),
    ],
  });
}

describe('the quantizer registry', () => {
  it('holds the built-ins and a registered quantizer, with forward and STE gradient', () => {
    expect(quantizerNames()).toEqual(['steSign', 'stochasticSign', 'identity', 'ternaryWeights']);
    expect(getQuantizer('ternaryWeights')).toBe(TERNARY);
    expect(quantizerFor('deterministic')).toBe(STE_SIGN);
    expect(quantizerFor('stochastic').name).toBe('stochasticSign');
    const x = tf.tensor1d([-2, -0.7, -0.2, 0, 0.4, 0.9, 1.5]);
    expect(Array.from(quantize('ternaryWeights', x, () => 0).dataSync())).toEqual([-1, -1, -0, 0, 0, 1, 1]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(quantize(TERNARY, v, () => 0)))(x);
    expect(Array.from(g.dataSync())).toEqual([0, 1, 1, 1, 1, 1, 0]);
  });

  it('refuses a taken name, an impossible precision, and an unregistered quantizer object in a layer', () => {
    expect(registerQuantizer(TERNARY)).toBe(TERNARY);
    expect(() => registerQuantizer({ ...TERNARY })).toThrow(/'ternaryWeights' is already registered/);
    expect(() => registerQuantizer({ ...TERNARY, name: 'wide', precision: 33 })).toThrow(
      /precision must be an integer number of bits in 1..32, got 33/,
    );
    expect(() => registerQuantizer({ ...TERNARY, name: 'snake_case' })).toThrow(/camelCase/);
    expect(() => registerQuantizer({ ...TERNARY, name: 'Capital' })).toThrow(/camelCase/);
    expect(() => new BinaryDense({ units: 2, kernelQuantizer: { ...TERNARY, name: 'loose' } })).toThrow(
      /quantizer 'loose' is not registered/,
    );
    expect(() => new BinaryDense({ units: 2, name: 'd', kernelQuantizer: 'nope' })).toThrow(
      /BinaryDense 'd' kernelQuantizer: unknown quantizer 'nope' \(registered: steSign, stochasticSign, identity, ter/,
    );
  });
});

describe('the sign quantizer on a backend with fused kernels', () => {
  it('runs BnnSign forward and BnnSteGrad backward (the native fast paths), with the same values', async () => {
    const backend = tf.getBackend();
    await tf.setBackend('cpu');
    const x = tf.tensor1d([-2, -0.5, 0, 0.5, 2]);
    const pass = () =>
      tf.grad((v: tf.Tensor) =>
        tf.sum(
          tf.mul(
            quantize(STE_SIGN, v, () => 0),
            tf.tensor1d([1, 2, 3, 4, 5]),
          ),
        ),
      )(x);
    const composite = Array.from(pass().dataSync());
    const calls: string[] = [];
    // Stand-ins that count their calls and compute with the cpu backend's own ops.
    const fused = (kernelName: string, compute: (inputs: Record<string, tf.Tensor>) => tf.Tensor) =>
      tf.registerKernel({
        kernelName,
        backendName: 'cpu',
        kernelFunc: ({ inputs, backend: b }) => {
          calls.push(kernelName);
          const values = tf
            .tidy(() =>
              compute(
                Object.fromEntries(
                  Object.entries(inputs).map(([k, t]) => [k, tf.engine().makeTensorFromTensorInfo(t!)]),
                ),
              ),
            )
            .dataSync();
          return (
            b as unknown as { makeTensorInfo(s: number[], d: string, v: Float32Array): tf.TensorInfo }
          ).makeTensorInfo(inputs.x!.shape, 'float32', values as Float32Array);
        },
      });
    fused(BNN_SIGN, ({ x: v }) => tf.where(tf.greaterEqual(v, 0), 1, -1));
    fused(BNN_STE_GRAD, ({ dy, x: v }) => tf.where(tf.lessEqual(tf.abs(v), 1), dy, 0));
    try {
      expect(Array.from(pass().dataSync())).toEqual(composite);
      expect(calls).toEqual([BNN_SIGN, BNN_STE_GRAD]);
    } finally {
      tf.unregisterKernel(BNN_SIGN, 'cpu');
      tf.unregisterKernel(BNN_STE_GRAD, 'cpu');
      await tf.setBackend(backend);
    }
  });
});

describe('a model with a registered quantizer', () => {
  it('trains a step (Glorot scale, clip), saves/loads, shows in the summary, is refused by the exporter', async () => {
    const model = ternaryModel();
    const layer = model.getLayer('ternary_dense');
    if (!isQuantizedLayer(layer)) throw new Error('BinaryDense must be a quantized layer');
    expect(layer.kernelQuantizer).toBe(TERNARY);
    expect(new Set((layer as BinaryDense).effectiveKernel().dataSync())).toEqual(new Set([-1, 0, 1]));

    // One training step: the optimizer finds the latent kernel by asking the layer.
    const params = modelParams(model);
    const kernel = params.find((p) => p.variable === layer.latentKernel.read())!;
    expect(kernel.lrScale).toBeCloseTo(1 / Math.sqrt(1.5 / (6 + 8)), 10);
    const before = Float32Array.from(kernel.variable.dataSync());
    const x = tf.randomNormal([16, 6], 0, 1, 'float32', 1);
    const y = tf.sub(
      tf.mul(
        tf.oneHot(
          tf.tensor1d(
            Array.from({ length: 16 }, (_, i) => i % 3),
            'int32',
          ),
          3,
        ),
        2,
      ),
      1,
    );
    const { grads } = tf.variableGrads(
      () => squaredHinge(y, model.apply(x, { training: true }) as tf.Tensor),
      params.map((p) => p.variable),
    );
    new BinaryNetOptimizer('adam', params).apply(
      params.map((p) => grads[p.variable.name]),
      0.1,
    );
    const after = kernel.variable.dataSync();
    expect(after.some((v, i) => v !== before[i])).toBe(true);
    expect(Math.max(...after.map(Math.abs))).toBeLessThanOrEqual(1);

    const dir = path.join(tmp, 'ternaryWeights');
    await model.save(`file://${dir}`);
    const json = fs.readFileSync(path.join(dir, 'model.json'), 'utf8');
    expect(json).toMatch(/"kernel_quantizer":\s*"ternary_weights"/); // tfjs's spelling on disk
    const loaded = await tf.loadLayersModel(`file://${dir}/model.json`);
    const loadedLayer = loaded.getLayer('ternary_dense');
    expect(isQuantizedLayer(loadedLayer) && loadedLayer.kernelQuantizer).toBe(TERNARY);
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(
      Array.from((model.predict(x) as tf.Tensor).dataSync()),
    );

    const row = summarize(loaded).find((r) => r.name === 'ternary_dense')!;
    expect(row).toMatchObject({
      inputBits: 32,
      weightBits: 2,
      binaryParams: 0,
      quantizedParams: 48,
      realParams: 0,
      packedBytes: 12,
    });
    expect(row.macs).toEqual({ binaryBinary: 0, binaryFloat: 0, floatFloat: 48 });
    expect(formatSummary(summarize(loaded))).toMatch(/ternary_dense \(BinaryDense\)\s+\[\?, 8\]\s+32×2\s+48\s/);

    expect(() => exportPackedModel(loaded)).toThrow(
      /ternary_dense: kernelQuantizer 'ternaryWeights' cannot be exported \(the packed engine runs steSign only\)/,
    );
  });

  it('loading a model whose quantizer is not registered names it and lists the registered ones', async () => {
    const dir = path.join(tmp, 'unknown');
    await ternaryModel().save(`file://${dir}`);
    const file = path.join(dir, 'model.json');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/"ternary_weights"/g, '"nonesuch"'));
    await expect(tf.loadLayersModel(`file://${file}`)).rejects.toThrow(
      /unknown quantizer 'nonesuch' \(registered: steSign, stochasticSign, identity, ternaryWeights/,
    );
  });
});

describe('isQuantizedLayer', () => {
  it('asks the layer, built or not, and no weight name makes a layer quantized', () => {
    expect(isQuantizedLayer(new BinaryDense({ units: 2 }))).toBe(true);
    expect(isQuantizedLayer(tf.layers.dense({ units: 2 }))).toBe(false);
    expect(isQuantizedLayer(new SignActivation())).toBe(false);
  });
});
