/**
 * Bop (Helwegen et al. 2019, Algorithm 1) as the 'bop' optimizer (lib/optim/optimizers.ts): a step by
 * hand, Adam for what is not binary, the state round trip, a training run resumed identically, and the
 * hyperparameters it refuses. The update runs as tfjs ops on cpu and in place on the wasm heap on native.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { buildModel, loadDataset, resolveHyperparameters } from '../lib/experiment';
import { Clip } from '../lib/layers/clip';
import { BinaryNetOptimizer, modelParams, type Param } from '../lib/optim/optimizers';
import { preset, validateHyperparameters, type Hyperparameters } from '../lib/presets';
import {
  hyperparametersHash,
  readCheckpoint,
  writeCheckpoint,
  type BestMeta,
  type TrainingMeta,
} from '../lib/train/checkpoint';
import { train } from '../lib/train/trainer';
import { CPU_AND_NATIVE, randomArray } from './helpers/nativeVsCpu';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-bop-'));
afterAll(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  await initBackend('cpu');
});

const binary = (values: number[], h = 1): Param => ({
  variable: tf.variable(tf.tensor1d(values)),
  lrScale: 37, // the Glorot scale: Bop must ignore it
  constraint: new Clip({ limit: h }),
  binary: true,
});
const real = (values: number[]): Param => ({ variable: tf.variable(tf.tensor1d(values)), lrScale: 1 });
const values = (p: Param) => Array.from(p.variable.dataSync());
const grads = (...gs: number[][]) => gs.map((g) => tf.tensor1d(g));

for (const { backend, skip } of CPU_AND_NATIVE)
  describe.skipIf(skip !== '')(`Bop on the ${backend} backend${skip}`, () => {
    it('a step by hand: m ← (1 − γ)·m + γ·g; w flips exactly where |m| > τ and sign(m) = sign(w)', async () => {
      await initBackend(backend as 'cpu' | 'native');
      const w = binary([1, 1, -1, -1, 1, -1]);
      const w2 = binary([2, -2], 2); // H = 2: the weights are ±2 and τ compares with |m|
      const opt = new BinaryNetOptimizer('bop', [w, w2], { bop: { gamma: 0.5, threshold: 0.1 } });
      // m = 0.5·g = [0.2, 0.05, −0.2, 0.2, −0.2, −0.05]: the first agrees with w and passes τ; the second
      // agrees but is below τ; the third agrees (both negative); the fourth and fifth disagree; the last is below τ.
      opt.apply(grads([0.4, 0.1, -0.4, 0.4, -0.4, -0.1], [0.3, 0.3]), 123 /* the LR plays no part */);
      expect(values(w)).toEqual([-1, 1, 1, -1, 1, -1]);
      expect(values(w2)).toEqual([-2, -2]);
      // Second step: m = 0.5·m + 0.5·g = [0.1, 0.125, −0.1, 0.1, −0.1, −0.025]; only the second agrees and passes.
      opt.apply(grads([0, 0.2, 0, 0, 0, 0], [0, 0]), 123);
      expect(values(w)).toEqual([-1, -1, 1, -1, 1, -1]);
      const state = await opt.getState();
      expect(state.name).toBe('bop');
      expect(state.step).toBe(2);
      const m = Array.from(state.moments[0].m);
      [0.1, 0.125, -0.1, 0.1, -0.1, -0.025].forEach((x, i) => expect(m[i]).toBeCloseTo(x, 7));
      state.moments[1].m.forEach((x) => expect(x).toBeCloseTo(0.075, 7));
      expect(state.moments.every(({ v }) => v.every((x) => x === 0))).toBe(true); // Bop keeps no second moment
      opt.dispose();
    });

    it('starts binary kernels at ±H, the sign of their initialisation (0 → +H), and leaves the rest', async () => {
      await initBackend(backend as 'cpu' | 'native');
      const w = binary([0.3, -0.01, 0, -1, 0.999], 0.5);
      const r = real([0.3, -0.01]);
      new BinaryNetOptimizer('bop', [w, r]).dispose();
      expect(values(w)).toEqual([0.5, -0.5, 0.5, -0.5, 0.5]);
      expect(values(r)).toEqual([0.30000001192092896, -0.009999999776482582]);
    });

    it("trains non-binary parameters (BatchNorm's) with Adam, value for value", async () => {
      await initBackend(backend as 'cpu' | 'native');
      const [a, b] = [real([0.5, -0.2, 0.1]), real([0.5, -0.2, 0.1])];
      const bop = new BinaryNetOptimizer('bop', [binary([1, -1]), a]);
      const adam = new BinaryNetOptimizer('adam', [b]);
      for (const [lr, g] of [
        [0.01, [0.3, -0.1, 0.2]],
        [0.005, [-0.2, 0.4, 0.1]],
        [0.002, [0.1, 0.1, -0.3]],
      ] as const) {
        bop.apply(grads([0.1, 0.1], [...g]), lr);
        adam.apply(grads([...g]), lr);
      }
      expect(values(a)).toEqual(values(b));
      bop.dispose();
      adam.dispose();
    });

    it('its state round-trips: an optimizer restored from getState continues identically', async () => {
      await initBackend(backend as 'cpu' | 'native');
      const make = (w: number[], bn: number[]) => [binary(w), real(bn)];
      const step = (k: number) => grads([0.3 * Math.sin(k), -0.2 * Math.cos(k), 0.1 * k - 0.25], [0.1 * k, -0.05]);
      const first = make([1, -1, 1], [1, 0]);
      const a = new BinaryNetOptimizer('bop', first, { bop: { gamma: 0.3, threshold: 0.01 } });
      for (let k = 0; k < 3; k++) a.apply(step(k), 0.01);
      const second = make(values(first[0]), values(first[1]));
      const b = new BinaryNetOptimizer('bop', second, { bop: { gamma: 0.3, threshold: 0.01 } });
      b.setState(await a.getState());
      for (let k = 3; k < 7; k++) {
        a.apply(step(k), 0.01);
        b.apply(step(k), 0.01);
      }
      expect(second.map(values)).toEqual(first.map(values));
      expect(await b.getState()).toEqual(await a.getState());
      expect(() =>
        new BinaryNetOptimizer('adam', make([1], [1])).setState({ name: 'bop', step: 0, moments: [] }),
      ).toThrow("optimizer state is for 'bop', not 'adam'");
      a.dispose();
      b.dispose();
    });
  });

describe.skipIf(CPU_AND_NATIVE[1].skip !== '')('Bop in place on the wasm heap', () => {
  it('equals the tfjs ops bit for bit (native vs cpu), flips near the threshold included', async () => {
    const n = 4096;
    const w0 = randomArray(n, 1, true);
    const gs = Array.from({ length: 5 }, (_, k) => randomArray(n, 10 + k).map((x) => x * 1e-5));
    const run = async (backend: 'cpu' | 'native') => {
      await initBackend(backend);
      const w = { ...binary([]), variable: tf.variable(tf.tensor1d(w0)) };
      const opt = new BinaryNetOptimizer('bop', [w], { bop: { gamma: 0.3, threshold: 1e-6 } });
      for (const g of gs) opt.apply([tf.tensor1d(g)], 0.01);
      const out = { w: values(w), m: Array.from((await opt.getState()).moments[0].m) };
      opt.dispose();
      return out;
    };
    const native = await run('native');
    const cpu = await run('cpu');
    expect(native).toEqual(cpu);
    const flipped = native.w.filter((x, i) => x !== w0[i]).length;
    expect(flipped).toBeGreaterThan(n / 20);
    expect(flipped).toBeLessThan(n - n / 20);
  });
});

describe('Bop in training', () => {
  const quiet = { progress: 'none' as const, log: () => {}, flatten: true };
  const hp = resolveHyperparameters('mnist', 'smoke', {
    hiddenUnits: [32],
    epochs: 3,
    trainLimit: 400,
    validLimit: 200,
    testLimit: 200,
    optimizer: 'bop',
    bopGamma: 1e-2,
    bopGammaDecay: 0.1,
    bopThreshold: 1e-6,
  });

  it('learns, keeps the binary kernels at ±1, checkpoints its moving averages, and resumes identically', async () => {
    await initBackend();
    const data = await loadDataset(hp);
    const straight = buildModel(hp, data);
    const whole = await train(straight, data, hp, { ...quiet, runDir: path.join(tmp, 'straight') });
    expect(whole.testError).toBeLessThan(0.5); // 10 classes: 0.9 by chance
    for (const p of modelParams(straight).filter((p) => p.binary))
      expect(p.variable.dataSync().every((x) => x === 1 || x === -1)).toBe(true);
    expect(whole.history[0].layers!.some((l) => l.flipRatio > 0)).toBe(true);

    const runDir = path.join(tmp, 'resumed');
    await train(buildModel(hp, data), data, hp, { ...quiet, runDir, maxEpochsThisCall: 1 });
    const ckpt = readCheckpoint<TrainingMeta>(path.join(runDir, 'checkpoint.bnn'));
    expect(ckpt.meta.optimizer).toEqual({ name: 'bop', step: 4 });
    expect(ckpt.tensors.find((t) => t.name === 'optimizer/m/0')!.data.some((x) => x !== 0)).toBe(true);
    const resumedModel = buildModel(hp, data);
    const resumed = await train(resumedModel, data, hp, { ...quiet, runDir, resume: true });
    expect(resumed.history.map((r) => [r.trainLoss, r.validError, r.testError])).toEqual(
      whole.history.map((r) => [r.trainLoss, r.validError, r.testError]),
    );
    resumedModel.weights.forEach((w, i) =>
      expect(Array.from(w.read().dataSync())).toEqual(Array.from(straight.weights[i].read().dataSync())),
    );
  });
});

describe('a checkpoint written before Bop existed', () => {
  it('resumes: its missing keys count at their defaults, and its identity hashes what it records', async () => {
    await initBackend();
    const hp = resolveHyperparameters('mnist', 'smoke', { hiddenUnits: [16], epochs: 2, trainLimit: 200 });
    const data = await loadDataset(hp);
    const quiet = { progress: 'none' as const, log: () => {}, flatten: true };
    const runDir = path.join(tmp, 'before-bop');
    await train(buildModel(hp, data), data, hp, { ...quiet, runDir, maxEpochsThisCall: 1 });
    // What the code of before wrote: no Bop keys, and the run's identity hashed without them.
    const { bopGamma, bopGammaDecay, bopThreshold, ...old } = hp;
    expect([bopGamma, bopGammaDecay, bopThreshold]).toEqual([1e-4, 1, 1e-8]);
    const run = { ...readCheckpoint<TrainingMeta>(path.join(runDir, 'checkpoint.bnn')).meta.run };
    run.hyperparameters = hyperparametersHash(old as Hyperparameters);
    for (const name of ['checkpoint.bnn', 'best.bnn']) {
      const file = path.join(runDir, name);
      const ckpt = readCheckpoint<TrainingMeta | BestMeta>(file);
      writeCheckpoint(file, { ...ckpt, meta: { ...ckpt.meta, run, hyperparameters: old as Hyperparameters } });
    }
    fs.rmSync(path.join(runDir, 'checkpoint.prev.bnn'), { force: true });
    const resumed = await train(buildModel(hp, data), data, hp, { ...quiet, runDir, resume: true });
    expect(resumed.epochsRun).toBe(2);
    // …but not with Bop switched on: that is another run.
    const bopHp = { ...hp, optimizer: 'bop' as const };
    await expect(
      train(buildModel(bopHp, data), data, bopHp, { ...quiet, runDir: path.join(tmp, 'before-bop'), resume: true }),
    ).rejects.toThrow(/was made with other hyperparameters \(optimizer\)/);
  });
});

describe("Bop's hyperparameters", () => {
  const smoke = preset('mnist', 'smoke');
  const bop = (o: Partial<Hyperparameters>) => () => validateHyperparameters({ ...smoke, optimizer: 'bop', ...o });

  it('are in every preset, at Helwegen et al.’s CIFAR-10 values, and `bop` is an optimizer', () => {
    expect(smoke).toMatchObject({ bopGamma: 1e-4, bopGammaDecay: 1, bopThreshold: 1e-8 });
    expect(bop({})()).toMatchObject({ optimizer: 'bop' });
  });

  it.each([
    [{ bopGamma: 0 }, /bopGamma \(Bop's γ\) must be in \(0, 1\], got 0/],
    [{ bopGamma: 1.5 }, /bopGamma \(Bop's γ\) must be in \(0, 1\], got 1.5/],
    [{ bopGamma: NaN }, /bopGamma \(Bop's γ\) must be in \(0, 1\], got NaN/],
    [{ bopGammaDecay: 0 }, /bopGammaDecay \(γ's decay over the run\) must be in \(0, 1\], got 0/],
    [{ bopGammaDecay: 2 }, /bopGammaDecay .* got 2/],
    [{ bopThreshold: -1e-8 }, /bopThreshold \(Bop's τ\) must be a finite number ≥ 0, got -1e-8/],
    [{ bopThreshold: Infinity }, /bopThreshold .* got Infinity/],
    [{ binarization: 'identity' }, /optimizer 'bop' flips signs: it needs a 1-bit binarization, not 'identity'/],
  ])('refuses %o with a clear error', (o, message) => {
    expect(bop(o)).toThrow(message);
  });

  it('are checked by the optimizer too', () => {
    const p = [real([1])];
    expect(() => new BinaryNetOptimizer('bop', p, { bop: { gamma: 0, threshold: 0 } })).toThrow(
      "Bop's adaptivity rate gamma must be in (0, 1], got 0",
    );
    expect(() => new BinaryNetOptimizer('bop', p, { bop: { gamma: 0.1, threshold: -1 } })).toThrow(
      "Bop's threshold tau must be a finite number ≥ 0, got -1",
    );
    const opt = new BinaryNetOptimizer('bop', p);
    expect(() => opt.setBopGamma(2)).toThrow("Bop's adaptivity rate gamma must be in (0, 1], got 2");
    opt.dispose();
  });
});
