import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { registerFileSystemIO } from '../lib/io/fileSystem';
import { BinaryConv2D, BinaryDense, Dropout, ShiftBatchNormalization, SignActivation } from '../lib/layers';
import { buildMlp } from '../lib/models/mlp';
import { sign } from '../lib/quantizers';
import { BinaryNetOptimizer, modelParams } from '../lib/optim/optimizers';
import { glorotLrScale } from '../lib/layers/binaryKernelLayer';
import { lrAtEpoch, lrDecay } from '../lib/optim/schedule';
import { squaredHinge } from '../lib/loss';
import { summarize, formatSummary } from '../lib/summary';
import { CPU_AND_NATIVE } from './helpers/nativeVsCpu';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-layers-'));
beforeAll(async () => {
  await initBackend();
  registerFileSystemIO();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const mlp = (batchNorm: 'standard' | 'shift' = 'standard', dropout = true) =>
  buildMlp({
    inputDim: 20,
    numClasses: 4,
    hiddenUnits: [16, 8],
    dropoutInput: dropout ? 0.2 : 0,
    dropoutHidden: dropout ? 0.5 : 0,
    binarization: 'deterministic',
    batchNorm,
    H: 1,
    seed: 5,
  });

describe('BinaryDense', () => {
  it('initialises latent weights uniformly in [-H, H]', () => {
    const layer = new BinaryDense({ units: 64, H: 0.5 });
    layer.apply(tf.input({ shape: [128] }));
    const w = layer.getWeights()[0].dataSync();
    expect(Math.max(...w)).toBeLessThanOrEqual(0.5);
    expect(Math.min(...w)).toBeGreaterThanOrEqual(-0.5);
    expect(Math.max(...w)).toBeGreaterThan(0.45);
  });

  it('computes x · sign(W): its forward pass sees only ±1 weights', () => {
    const layer = new BinaryDense({ units: 7, inputShape: [13] });
    const model = tf.sequential({ layers: [layer] });
    const x = tf.randomNormal([5, 13]);
    const latent = layer.getWeights()[0];
    const expected = tf.matMul(x, sign(latent));
    expect(Array.from((model.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(expected.dataSync()));
    const wb = layer.effectiveKernel().dataSync();
    expect(new Set(wb)).toEqual(new Set([-1, 1]));
  });

  it('binarizes its input too when given an input quantizer', () => {
    const layer = new BinaryDense({ units: 3, inputQuantizer: 'steSign', inputShape: [4] });
    const model = tf.sequential({ layers: [layer] });
    const x = tf.tensor2d([[0.3, -2, 0, -0.1]]);
    const expected = tf.matMul(sign(x), sign(layer.getWeights()[0]));
    expect(Array.from((model.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(expected.dataSync()));
  });

  it('has the Glorot learning-rate scale of the Theano code', () => {
    const layer = new BinaryDense({ units: 4096 });
    layer.apply(tf.input({ shape: [784] }));
    expect(layer.kernelLrScale).toBeCloseTo(1 / Math.sqrt(1.5 / (784 + 4096)), 10);
    expect(glorotLrScale(784, 4096)).toBeCloseTo(57.04, 2);
  });

  it('rejects impossible configurations', () => {
    expect(() => new BinaryDense({ units: 0 })).toThrow(/units must be a positive integer/);
    expect(() => new BinaryDense({ units: 3, H: -1 })).toThrow(/H must be a positive/);
    expect(() => new BinaryDense({ units: 3, kernelQuantizer: 'nope' as never })).toThrow(/unknown quantizer 'nope'/);
  });
});

/** The gradient of sum(f(x) · r) with respect to x. */
const gradOf = (f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, r: tf.Tensor) =>
  tf
    .grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), r)))(x)
    .dataSync();

// The straight-through estimator with gradient cancellation (paper §1.3, Eq. 4), exercised outside
// [−1, 1]: on the composite ops (cpu) and on the native fused STE kernel.
for (const { backend, skip } of CPU_AND_NATIVE) {
  describe.skipIf(skip !== '')(`gradient cancellation on ${backend}${skip}`, () => {
    beforeAll(async () => {
      await initBackend(backend);
    });
    afterAll(async () => {
      await initBackend();
    });

    it('SignActivation passes the gradient where |a| ≤ 1 and cancels it where |a| > 1', () => {
      const a = [-3, -1.5, -1.0001, -1, -0.2, 0, 0.6, 1, 1.2, 2.5];
      const r = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
      const layer = new SignActivation();
      expect(Array.from(gradOf((x) => layer.apply(x) as tf.Tensor, tf.tensor1d(a), tf.tensor1d(r)))).toEqual([
        0, 0, 0, 4, 5, 6, 7, 8, 0, 0,
      ]);
    });

    it('BinaryDense: no gradient to a binarized input outside [−1, 1]; latent kernel: g_Wb if |W| ≤ 1, else 0', () => {
      const layer = new BinaryDense({ units: 3, inputQuantizer: 'steSign', inputShape: [4] });
      const model = tf.sequential({ layers: [layer] });
      // Latent weights outside [−1, 1] (e.g. before the clip): the paper cancels their gradient too,
      // "consistent with the gradient canceling when |w| > 1" (§1.3); exactly ±1 still passes.
      // (setWeights would clip them: the kernel's Clip constraint applies on write.)
      const w = [0.3, -1.5, 1, 0.9, -0.2, 1.5, -1, 2, 0.05, -0.7, 1.0001, -0.4];
      const kernel = layer.latentKernel.read() as tf.Variable;
      kernel.assign(tf.tensor2d(w, [4, 3]));
      const x = tf.tensor2d([
        [0.5, -2, 1, -0.3],
        [1.7, 0.2, -1, 0.9],
      ]);
      const r = tf.tensor2d([
        [1, -2, 3],
        [0.5, 4, -1],
      ]);
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x) as tf.Tensor, r)) as tf.Scalar, [kernel]);
      // y = sign(x) · sign(W): g_Wb = sign(x)ᵀ r, masked by |W| ≤ 1.
      const gWb = tf.matMul(sign(x), r, true, false).dataSync();
      const expected = w.map((v, i) => (Math.abs(v) <= 1 ? gWb[i] : 0));
      expect(Array.from(grads[kernel.name].dataSync(), (g) => g + 0)).toEqual(expected); // + 0: −0 → 0
      expect(expected.filter((g) => g !== 0).length).toBeGreaterThan(6);
      // g_x = (r · sign(W)ᵀ), masked by |x| ≤ 1.
      const gxb = tf.matMul(r, sign(kernel), false, true).dataSync();
      const xs = x.dataSync();
      const gx = gradOf((v) => model.apply(v) as tf.Tensor, x, r);
      expect(Array.from(gx, (g) => g + 0)).toEqual(Array.from(gxb, (g, i) => (Math.abs(xs[i]) <= 1 ? g : 0)));
    });

    it('BinaryConv2D: the latent kernel gets the gradient at sign(W) where |W| ≤ 1, 0 where |W| > 1', () => {
      const layer = new BinaryConv2D({ filters: 2, inputShape: [4, 4, 2], padding: 'valid', seed: 3 });
      const model = tf.sequential({ layers: [layer] });
      const kernel = layer.latentKernel.read() as tf.Variable;
      const w = Array.from(kernel.dataSync(), (v, i) => (i % 5 === 0 ? 1.5 * Math.sign(v || 1) : v));
      kernel.assign(tf.tensor4d(w, [3, 3, 2, 2]));
      const x = tf.randomUniform([2, 4, 4, 2], -1, 1, 'float32', 4);
      const r = tf.randomUniform([2, 2, 2, 2], -1, 1, 'float32', 5);
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x) as tf.Tensor, r)) as tf.Scalar, [kernel]);
      const atSign = gradOf((v) => tf.conv2d(x as tf.Tensor4D, v as tf.Tensor4D, 1, 'valid'), sign(kernel), r);
      const got = grads[kernel.name].dataSync();
      w.forEach((v, i) => expect(got[i], `kernel[${i}] = ${v}`).toBeCloseTo(Math.abs(v) <= 1 ? atSign[i] : 0, 4));
      expect(w.filter((v) => Math.abs(v) > 1).length).toBeGreaterThan(5);
    });

    it('with a clip H = 2, a latent weight in (1, H] still learns (gradient g_Wb / H); only |W| > H is cut', () => {
      const layer = new BinaryDense({ units: 2, H: 2, inputShape: [3] });
      const model = tf.sequential({ layers: [layer] });
      const w = [1.5, -0.5, -1.9, 2.5, 0.2, -2.2];
      const kernel = layer.latentKernel.read() as tf.Variable;
      kernel.assign(tf.tensor2d(w, [3, 2]));
      const x = tf.tensor2d([[0.5, -2, 1]]);
      const r = tf.tensor2d([[1, -3]]);
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x) as tf.Tensor, r)) as tf.Scalar, [kernel]);
      const gWb = tf.matMul(x, r, true, false).dataSync();
      const expected = w.map((v, i) => (Math.abs(v) <= 2 ? gWb[i] / 2 : 0));
      const got = grads[kernel.name].dataSync();
      w.forEach((v, i) => expect(got[i] + 0, `kernel[${i}] = ${v}`).toBeCloseTo(expected[i], 6));
      expect(model.predict(x).toString()).toBe(tf.matMul(x, sign(tf.tensor2d(w, [3, 2]))).toString());
    });
  });
}

describe('Dropout', () => {
  it('on every backend: seeded masks, a new one per call, 1/(1 − rate) or 0, identity at inference', async () => {
    for (const backend of ['wasm', 'cpu']) {
      await initBackend(backend);
      const x = tf.ones([100, 100]);
      const layer = new Dropout({ rate: 0.5, seed: 7 });
      const a = (layer.apply(x, { training: true }) as tf.Tensor).dataSync();
      const b = (layer.apply(x, { training: true }) as tf.Tensor).dataSync();
      expect(Array.from(a)).not.toEqual(Array.from(b));
      expect(
        Array.from((new Dropout({ rate: 0.5, seed: 7 }).apply(x, { training: true }) as tf.Tensor).dataSync()),
      ).toEqual(Array.from(a));
      expect(new Set(a)).toEqual(new Set([0, 2]));
      expect(a.filter((v) => v === 0).length / a.length).toBeCloseTo(0.5, 1);
      expect(Array.from((layer.apply(x) as tf.Tensor).dataSync())).toEqual(Array.from(x.dataSync()));
      expect(layer.getClassName()).toBe('Dropout');
    }
    await initBackend();
  });
});

describe('training updates', () => {
  it('clip latent weights to [-H, H] after every update, with the Glorot scale applied', () => {
    const model = mlp();
    const params = modelParams(model);
    const opt = new BinaryNetOptimizer('adam', params);
    const kernels = params.filter((p) => p.lrScale > 1);
    expect(kernels.length).toBe(3);
    const x = tf.randomNormal([32, 20]);
    const y = tf.sub(
      tf.mul(
        tf.oneHot(
          tf.tensor1d(
            [0, 1, 2, 3, 0, 1, 2, 3].flatMap((v) => [v, v, v, v]),
            'int32',
          ),
          4,
        ),
        2,
      ),
      1,
    );
    for (let i = 0; i < 5; i++) {
      const { grads } = tf.variableGrads(
        () => squaredHinge(y, model.apply(x, { training: true }) as tf.Tensor),
        params.map((p) => p.variable),
      );
      opt.apply(
        params.map((p) => grads[p.variable.name]),
        10,
      ); // a huge LR: every step would leave [-1, 1]
    }
    for (const k of kernels) {
      const w = k.variable.dataSync();
      expect(Math.max(...w)).toBeLessThanOrEqual(1);
      expect(Math.min(...w)).toBeGreaterThanOrEqual(-1);
      expect(w.filter((v) => Math.abs(v) === 1).length).toBeGreaterThan(0);
    }
  });

  it('decays the learning rate exponentially from LR_start to LR_fin over the epochs', () => {
    expect(lrDecay(0.003, 3e-7, 1000)).toBeCloseTo(1e-4 ** (1 / 1000), 12);
    expect(lrAtEpoch(0, 0.003, 3e-7, 1000)).toBe(0.003);
    expect(lrAtEpoch(1000, 0.003, 3e-7, 1000)).toBeCloseTo(3e-7, 12);
    expect(lrAtEpoch(500, 0.003, 3e-7, 1000)).toBeCloseTo(3e-5, 10);
    expect(() => lrDecay(-1, 1e-3, 10)).toThrow(/positive/);
  });

  it('shift-based AdaMax also trains and clips', () => {
    const model = mlp('shift', false);
    const params = modelParams(model);
    const opt = new BinaryNetOptimizer('shift_adamax', params);
    const x = tf.randomNormal([16, 20], 0, 1, 'float32', 11);
    const y = tf.sub(
      tf.mul(
        tf.oneHot(
          tf.tensor1d(
            Array.from({ length: 16 }, (_, i) => i % 4),
            'int32',
          ),
          4,
        ),
        2,
      ),
      1,
    );
    const loss = () => squaredHinge(y, model.apply(x, { training: true }) as tf.Tensor).dataSync()[0];
    const before = loss();
    for (let i = 0; i < 30; i++) {
      const { grads } = tf.variableGrads(
        () => squaredHinge(y, model.apply(x, { training: true }) as tf.Tensor),
        params.map((p) => p.variable),
      );
      opt.apply(
        params.map((p) => grads[p.variable.name]),
        0.003,
      );
    }
    expect(loss()).toBeLessThan(before);
    for (const p of params.filter((q) => q.lrScale > 1))
      expect(Math.max(...p.variable.dataSync().map(Math.abs))).toBeLessThanOrEqual(1);
  });
});

describe('squared hinge loss', () => {
  it('is mean(max(0, 1 - t·y)^2) over all outputs', () => {
    const t = tf.tensor2d([
      [1, -1],
      [-1, 1],
    ]);
    const y = tf.tensor2d([
      [2, 0.5],
      [-0.5, -1],
    ]);
    // terms: max(0, 1-2)=0, max(0, 1+0.5)=1.5, max(0, 1-0.5)=0.5, max(0, 1+1)... t=1,y=-1 → 2
    expect(squaredHinge(t, y).dataSync()[0]).toBeCloseTo((0 + 2.25 + 0.25 + 4) / 4, 6);
    expect(() => squaredHinge(t, tf.zeros([2, 3]))).toThrow(/differ in shape/);
  });
});

describe('BinaryConv2D', () => {
  it('convolves with sign(W) ("same" padding) and has the conv Glorot scale', () => {
    const layer = new BinaryConv2D({ filters: 5, inputShape: [6, 6, 3] });
    const model = tf.sequential({ layers: [layer] });
    const x = tf.randomNormal([2, 6, 6, 3]);
    const expected = tf.conv2d(x as tf.Tensor4D, sign(layer.getWeights()[0]) as tf.Tensor4D, 1, 'same');
    const out = model.predict(x) as tf.Tensor;
    expect(out.shape).toEqual([2, 6, 6, 5]);
    const a = out.dataSync();
    const b = expected.dataSync();
    a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 4));
    expect(layer.kernelLrScale).toBeCloseTo(1 / Math.sqrt(1.5 / (3 * 9 + 5 * 9)), 10);
  });

  it('passes gradients straight through to the latent kernel', () => {
    const layer = new BinaryConv2D({ filters: 2, inputShape: [4, 4, 1], padding: 'valid' });
    const model = tf.sequential({ layers: [layer] });
    const x = tf.randomNormal([1, 4, 4, 1]);
    const kernel = modelParams(model)[0].variable;
    const { grads } = tf.variableGrads(() => tf.sum(model.apply(x) as tf.Tensor) as tf.Scalar, [kernel]);
    // d/dW sum(conv(x, sign W)) with the STE = sum of input patches (|W| <= 1 everywhere).
    const expected = tf.grad((w: tf.Tensor) => tf.sum(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid')))(
      sign(kernel),
    );
    const a = grads[kernel.name].dataSync();
    expected.dataSync().forEach((v, i) => expect(a[i]).toBeCloseTo(v, 4));
    expect((model.predict(x) as tf.Tensor).shape).toEqual([1, 2, 2, 2]);
  });
});

describe('serialization', () => {
  it.each(['standard', 'shift'] as const)(
    'model.save(file://) and tf.loadLayersModel round-trip with identical predictions (%s BatchNorm)',
    async (bn) => {
      const model = mlp(bn);
      // Move BatchNorm statistics away from their initial values so that they are really tested.
      const params = modelParams(model);
      const opt = new BinaryNetOptimizer('adam', params);
      const x = tf.randomNormal([64, 20]);
      const y = tf.sub(
        tf.mul(
          tf.oneHot(
            tf.tensor1d(
              Array.from({ length: 64 }, (_, i) => i % 4),
              'int32',
            ),
            4,
          ),
          2,
        ),
        1,
      );
      for (let i = 0; i < 3; i++) {
        const { grads } = tf.variableGrads(
          () => squaredHinge(y, model.apply(x, { training: true }) as tf.Tensor),
          params.map((p) => p.variable),
        );
        opt.apply(
          params.map((p) => grads[p.variable.name]),
          0.01,
        );
      }
      const dir = path.join(tmp, `model-${bn}`);
      await model.save(`file://${dir}`);
      expect(fs.existsSync(path.join(dir, 'model.json'))).toBe(true);
      const loaded = await tf.loadLayersModel(`file://${dir}/model.json`);
      expect(loaded.layers.map((l) => l.getClassName())).toEqual(model.layers.map((l) => l.getClassName()));
      expect(loaded.layers.some((l) => l instanceof SignActivation)).toBe(true);
      if (bn === 'shift') expect(loaded.layers.some((l) => l instanceof ShiftBatchNormalization)).toBe(true);
      const a = (model.predict(x) as tf.Tensor).dataSync();
      const b = (loaded.predict(x) as tf.Tensor).dataSync();
      expect(Array.from(b)).toEqual(Array.from(a));
    },
  );

  it('loading a folder without a model gives a clear error', async () => {
    await expect(tf.loadLayersModel(`file://${tmp}/nothing-here/model.json`)).rejects.toThrow(/no model.json/);
  });
});

describe('model summary', () => {
  it('counts binary and real parameters and their memory, float32 vs 1-bit packed', () => {
    const rows = summarize(mlp());
    const dense1 = rows.find((r) => r.name === 'dense_1')!;
    expect(dense1.binaryParams).toBe(20 * 16);
    expect(dense1.realParams).toBe(0);
    expect(dense1.float32Bytes).toBe(4 * 320);
    expect(dense1.packedBytes).toBe(40);
    const bn1 = rows.find((r) => r.name === 'bn_1')!;
    expect(bn1.realParams).toBe(4 * 16);
    const text = formatSummary(rows);
    expect(text).toMatch(/dense_1 \(BinaryDense\)/);
    expect(text).toMatch(/Total\s+480\s+112\s/);
  });
});
