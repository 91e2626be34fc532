/**
 * The native backend (lib/tfjs/nativeKernels.ts) against tfjs's reference cpu backend: each native
 * kernel on awkward shapes, the XNOR path exactly equal to the float product, whole binary MLP and
 * ConvNet training steps, the fused optimizer, determinism, and clear errors on bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { loadNativeAddon } from '../lib/kernels/native';
import { buildMlp } from '../lib/models/mlp';
import { Dropout } from '../lib/layers';
import { buildConvNet } from '../lib/models/convnet';
import { BinaryNetOptimizer, modelParams, type OptimizerName } from '../lib/optim/optimizers';
import { squaredHinge } from '../lib/loss';
import { sign, steSign } from '../lib/quantizers';
import { onBoth as onBothAll, randomArray, relativeError } from './helpers/nativeVsCpu';

/** The single output of `f` on native and on cpu. */
async function onBoth(f: () => tf.Tensor): Promise<{ native: Float32Array; cpu: Float32Array }> {
  const { native, cpu } = await onBothAll(f);
  return { native: native[0], cpu: cpu[0] };
}

const { addon, why } = loadNativeAddon();
// An addon built from older sources lacks the kernel: a visible skip that says so.
const unavailable = !addon
  ? why
  : typeof addon.matmul !== 'function'
    ? 'the addon has no matmul: npm run build:kernels'
    : '';

describe.skipIf(unavailable !== '')(`native backend${unavailable && ` (unavailable: ${unavailable})`}`, () => {
  beforeAll(async () => {
    expect(await initBackend('native')).toBe('native');
  });
  afterAll(async () => {
    await initBackend('wasm');
  });

  it('is the wasm backend underneath, with the native kernels registered', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel('BnnSign', 'wasm')).toBeDefined();
  });

  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 7, 1],
    [5, 1, 3],
    [3, 5, 1],
    [17, 13, 67],
    [100, 33, 784],
    [2, 130, 129],
    [64, 64, 64],
  ];
  for (const [m, n, k] of shapes) {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      it(`matMul ${m}×${k} · ${k}×${n} (transposeA ${ta}, transposeB ${tb}) equals cpu`, async () => {
        const a = randomArray(m * k, m + 7 * k),
          b = randomArray(k * n, n + 11 * k);
        const { native, cpu } = await onBoth(() =>
          tf.matMul(tf.tensor2d(a, ta ? [k, m] : [m, k]), tf.tensor2d(b, tb ? [n, k] : [k, n]), ta, tb),
        );
        expect(native.length).toBe(m * n);
        for (let i = 0; i < cpu.length; i++) expect(native[i]).toBeCloseTo(cpu[i], 4);
      });
    }
  }

  it('batched matMul, with and without broadcasting one side, equals cpu', async () => {
    const a = randomArray(3 * 4 * 5, 1),
      b = randomArray(3 * 5 * 6, 2),
      b1 = randomArray(5 * 6, 3);
    for (const [bs, bData] of [
      [[3, 5, 6], b],
      [[1, 5, 6], b1],
    ] as const) {
      const { native, cpu } = await onBoth(() =>
        tf.matMul(tf.tensor3d(a, [3, 4, 5]), tf.tensor(bData, bs as unknown as number[]) as tf.Tensor3D),
      );
      expect(relativeError(native, cpu)).toBeLessThan(1e-6);
    }
  });

  it('the XNOR path is taken for ±1 operands and equals the float product exactly', () => {
    for (const [m, n, k, ta, tb] of [
      [100, 1024, 784, false, false],
      [7, 65, 4097, true, false],
      [64, 64, 64, false, true],
      [33, 100, 300, true, true],
    ] as const) {
      const a = randomArray(m * k, 5 + m, true),
        b = randomArray(k * n, 6 + n, true);
      const c = new Float32Array(m * n),
        ref = new Float32Array(m * n);
      const args = { a, b, c, batch: 1, m, n, k, transA: ta, transB: tb, batchA: 1, batchB: 1, binary: true };
      expect(addon!.matmul(args)).toBe('xnor');
      expect(addon!.matmul({ ...args, c: ref, binary: false })).toBe('float');
      expect(Array.from(c)).toEqual(Array.from(ref));
      // One value other than ±1 sends it down the float path.
      a[a.length - 1] = 0.5;
      expect(addon!.matmul(args)).toBe('float');
    }
  });

  it('sign and the straight-through gradient equal the composite ops', async () => {
    const x = randomArray(1000, 9).map((v) => v * 2);
    x.set([0, 1, -1, 1.0000001]);
    const s = await onBoth(() => sign(tf.tensor1d(x)));
    expect(Array.from(s.native)).toEqual(Array.from(s.cpu));
    const dy = randomArray(1000, 10);
    const g = await onBoth(() =>
      tf.grad((v: tf.Tensor) => tf.sum(tf.mul(steSign(v), tf.tensor1d(dy))))(tf.tensor1d(x)),
    );
    // + 0 makes −0 (dy · 0 on cpu) and +0 (a cancelled gradient here) the same value.
    expect(Array.from(g.native, (v) => v + 0)).toEqual(Array.from(g.cpu, (v) => v + 0));
    // Nothing cancelled (|x| ≤ 1 everywhere, as for clipped latent weights): dy itself, passed on shared.
    const inside = x.map((v) => Math.max(-1, Math.min(1, v)));
    const passed = await onBoth(() =>
      tf.grad((v: tf.Tensor) => tf.sum(tf.mul(steSign(v), tf.tensor1d(dy))))(tf.tensor1d(inside)),
    );
    expect(Array.from(passed.native)).toEqual(Array.from(dy));
    expect(Array.from(passed.cpu)).toEqual(Array.from(dy));
  });

  it('absAtMostOne: true only where every |x| ≤ 1, NaN not', () => {
    const at = (values: number[]) => addon!.absAtMostOne({ x: new Float32Array(values), n: values.length });
    expect(at([])).toBe(true);
    expect(at([1, -1, 0, -0, 0.5])).toBe(true);
    expect(at([1, -1.0000001])).toBe(false);
    expect(at([0, NaN])).toBe(false);
    const big = new Float32Array(100_000).fill(0.25);
    expect(addon!.absAtMostOne({ x: big, n: big.length })).toBe(true);
    big[99_999] = -2;
    expect(addon!.absAtMostOne({ x: big, n: big.length })).toBe(false);
    expect(() => addon!.absAtMostOne({ x: big, n: big.length + 1 })).toThrow(/x/);
  });

  it('dropout masks: seeded, 1/(1 − rate) or 0 in the right proportion, new mask per call, gradient through it', () => {
    const layer = new Dropout({ rate: 0.25, seed: 4 });
    const x = tf.ones([200, 500]);
    const [a, b] = [0, 1].map(() => layer.apply(x, { training: true }) as tf.Tensor);
    const va = a.dataSync();
    const kept = va.filter((v) => v !== 0);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / 0.75)]));
    expect(kept.length / va.length).toBeCloseTo(0.75, 2);
    expect(Array.from(va)).not.toEqual(Array.from(b.dataSync()));
    const again = new Dropout({ rate: 0.25, seed: 4 }).apply(x, { training: true }) as tf.Tensor;
    expect(Array.from(again.dataSync())).toEqual(Array.from(va));
    expect(Array.from((layer.apply(x, { training: false }) as tf.Tensor).dataSync())).toEqual(Array.from(x.dataSync()));
    const g = tf.grad((v: tf.Tensor) =>
      tf.sum(new Dropout({ rate: 0.25, seed: 4 }).apply(v, { training: true }) as tf.Tensor),
    )(x);
    expect(Array.from(g.dataSync())).toEqual(Array.from(va));
    expect(() => addon!.dropoutMask({ out: new Float32Array(4), n: 4, rate: 1, seed: 3 })).toThrow(
      /rate must be in \[0, 1\)/,
    );
  });

  it('rejects mismatched shapes and bad arguments with clear errors', () => {
    expect(() => tf.matMul(tf.ones([3, 4]), tf.ones([5, 6]))).toThrow(/inner/);
    const f = (n: number) => new Float32Array(n);
    const matmul = { a: f(4), b: f(4), c: f(4), batch: 1, m: 2, n: 2, k: 2, transA: false, transB: false };
    const product = { ...matmul, batchA: 1, batchB: 1, binary: false };
    expect(() => addon!.matmul({ ...product, c: f(3) })).toThrow(/c has 3 elements, needs 4/);
    expect(() => addon!.matmul({ ...product, a: new Int32Array(4) as unknown as Float32Array })).toThrow(
      /a must be a Float32Array/,
    );
    expect(() => addon!.matmul({ ...product, m: 2.5 })).toThrow(/m must be an integer/);
    expect(() => addon!.matmul({ ...product, batch: 2, batchA: 3 })).toThrow(/batchA and batchB must be 1 or batch/);
    // A field left out (or misspelt) is named in the error.
    expect(() => addon!.matmul({ ...matmul, batchA: 1, binary: false } as typeof product)).toThrow(
      /batchB must be a number/,
    );
    // Every field is read before any is checked: a getter that detaches an array passed before it
    // leaves an empty array (a clear error), never a dangling pointer.
    const detached = f(4);
    const tricky = {
      ...product,
      a: detached,
      get c() {
        structuredClone(detached.buffer, { transfer: [detached.buffer] });
        return f(4);
      },
    };
    expect(() => addon!.matmul(tricky)).toThrow(/a has 0 elements, needs 4/);
    expect(() => addon!.sign({ x: f(2), out: f(1), n: 2 })).toThrow(/out has 1 elements/);
    const step = { kind: 0 as const, w: f(2), g: f(2), m: f(2), v: f(2), n: 2, stepScale: 0.1 };
    expect(() => addon!.optimizerStep({ ...step, beta1: 1.5, beta2: 0.9, epsilon: 1e-8, clip: 1 })).toThrow(/beta1/);
    expect(() => addon!.optimizerStep({ ...step, beta1: 0.9, beta2: 0.9, epsilon: 0, clip: 1 })).toThrow(/epsilon/);
    expect(() => (addon!.steGrad as unknown as () => void)()).toThrow(/steGrad takes one object of named arguments/);
    expect(() => (addon!.steGrad as unknown as (x: object) => void)({})).toThrow(/n must be a number/);
    const bn = { x: f(4), gamma: f(2), beta: f(2), y: f(4), mean: f(2), variance: f(2), rows: 2, channels: 2 };
    expect(() => addon!.batchNormTrain({ ...bn, epsilon: 1e-3, variance: f(1) })).toThrow(/variance has 1 elements/);
    expect(() => addon!.batchNormTrain({ ...bn, epsilon: 1e-3, rows: 0 })).toThrow(/at least 1/);
  });

  /** One training step's gradients and updated parameters, on native and on cpu from the same start. */
  async function stepOnBoth(
    build: () => tf.LayersModel,
    inputShape: number[],
    batch: number,
    optimizerName: OptimizerName,
  ) {
    const results: Record<string, { grads: Float32Array[]; after: Float32Array[] }> = {};
    for (const backend of ['native', 'cpu']) {
      await initBackend(backend);
      const model = build();
      const params = modelParams(model, true);
      const optimizer = new BinaryNetOptimizer(optimizerName, params);
      const x = tf.tensor(randomArray(batch * inputShape.reduce((a, b) => a * b), 21), [batch, ...inputShape]);
      const labels = Array.from({ length: batch }, (_, i) => (i * 7) % 10);
      const y = tf.tidy(() => tf.sub(tf.mul(tf.oneHot(tf.tensor1d(labels, 'int32'), 10), 2), 1));
      const grads = tf.tidy(() => {
        const { grads: g } = tf.variableGrads(
          () => squaredHinge(y, model.apply(x, { training: true }) as tf.Tensor),
          params.map((p) => p.variable),
        );
        const list = params.map((p) => g[p.variable.name]);
        optimizer.apply(list, 0.003);
        return list.map((t) => t.dataSync() as Float32Array);
      });
      results[backend] = { grads, after: params.map((p) => p.variable.dataSync() as Float32Array) };
      optimizer.dispose();
      model.dispose();
    }
    return results;
  }

  for (const optimizerName of ['adam', 'shift_adamax'] as const) {
    it(`a whole binary MLP step (${optimizerName}): gradients within 1e-4 relative of cpu, same update`, async () => {
      const r = await stepOnBoth(
        () =>
          buildMlp({
            inputDim: 784,
            numClasses: 10,
            hiddenUnits: [256, 256],
            dropoutInput: 0,
            dropoutHidden: 0,
            binarization: 'deterministic',
            batchNorm: 'standard',
            H: 1,
            seed: 3,
          }),
        [784],
        50,
        optimizerName,
      );
      r.cpu.grads.forEach((g, i) => expect(relativeError(r.native.grads[i], g)).toBeLessThan(1e-4));
      // AdaMax's step is AP2-rounded: a gradient a hair off a rounding boundary doubles or halves
      // that element's step, so its updated weights agree less tightly than Adam's.
      const tolerance = optimizerName === 'adam' ? 1e-4 : 1e-3;
      r.cpu.after.forEach((w, i) => expect(relativeError(r.native.after[i], w)).toBeLessThan(tolerance));
    });
  }

  it('a whole binary ConvNet step: gradients within 1e-4 relative of cpu', async () => {
    const r = await stepOnBoth(
      () =>
        buildConvNet({
          inputShape: [12, 12, 1],
          numClasses: 10,
          convFilters: [4, 8],
          hiddenUnits: [32],
          binarization: 'deterministic',
          batchNorm: 'standard',
          H: 1,
          seed: 5,
        }),
      [12, 12, 1],
      6,
      'adam',
    );
    r.cpu.grads.forEach((g, i) => expect(relativeError(r.native.grads[i], g)).toBeLessThan(1e-4));
  });

  it('same seed, same result: two native runs (with dropout) agree bit for bit', async () => {
    const build = () =>
      buildMlp({
        inputDim: 784,
        numClasses: 10,
        hiddenUnits: [300, 300],
        dropoutInput: 0.2,
        dropoutHidden: 0.5,
        binarization: 'deterministic',
        batchNorm: 'standard',
        H: 1,
        seed: 8,
      });
    const a = await stepOnBoth(build, [784], 40, 'adam');
    const b = await stepOnBoth(build, [784], 40, 'adam');
    a.native.after.forEach((w, i) => expect(w.filter((v, j) => !Object.is(v, b.native.after[i][j])).length).toBe(0));
  });
});
