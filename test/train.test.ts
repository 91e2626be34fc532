import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../lib/backend';
import { buildModel, loadDataset, resolveHyperparameters } from '../lib/experiment';
import type { Hyperparameters } from '../lib/presets';
import { readCheckpoint, writeCheckpoint } from '../lib/train/checkpoint';
import { bestEpochIndex, type EpochRecord } from '../lib/train/history';
import { shuffledIndices, train } from '../lib/train/trainer';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-train-'));
beforeAll(async () => {
  await initBackend();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const quiet = { progress: 'none' as const, log: () => {}, flatten: true };

describe('training a BNN on real MNIST', () => {
  it('learns: under 10 % test error from 5,000 training images in 4 epochs', async () => {
    const hp = resolveHyperparameters('mnist', 'smoke', {
      hiddenUnits: [256, 256],
      batchSize: 50,
      epochs: 4,
      lrStart: 0.01,
      lrEnd: 1e-3,
      trainLimit: 5000,
      validLimit: 1000,
      testLimit: 1000,
    });
    const data = await loadDataset(hp);
    const result = await train(buildModel(hp, data), data, hp, { ...quiet, runDir: path.join(tmp, 'learns') });
    expect(result.epochsRun).toBe(4);
    expect(result.history).toHaveLength(4);
    expect(result.testError).toBeLessThan(0.1);
    expect(result.history[3].trainLoss).toBeLessThan(result.history[0].trainLoss);
    // The BNN diagnostics of every binary layer (2 hidden + output) are in each epoch's record and history.json.
    const onDisk = JSON.parse(fs.readFileSync(path.join(tmp, 'learns', 'history.json'), 'utf8')) as EpochRecord[];
    expect(onDisk.map((r) => r.layers!.length)).toEqual([3, 3, 3, 3]);
    for (const { flipRatio, atClip, meanAbs } of result.history.flatMap((r) => r.layers!)) {
      expect(flipRatio).toBeGreaterThan(0);
      expect(flipRatio).toBeLessThan(0.5);
      expect(atClip).toBeGreaterThanOrEqual(0);
      expect(atClip).toBeLessThan(1);
      expect(meanAbs).toBeGreaterThan(0);
    }
    // With the learning rate decayed tenfold, fewer signs flip in the last epoch than in the first.
    const flips = (r: EpochRecord) => r.layers!.reduce((sum, l) => sum + l.flipRatio, 0);
    expect(flips(result.history[3])).toBeLessThan(flips(result.history[0]));
  });
});

describe('checkpoints and resume', () => {
  const hp: Hyperparameters = resolveHyperparameters('mnist', 'smoke', {
    hiddenUnits: [32],
    epochs: 3,
    trainLimit: 600,
    validLimit: 200,
    testLimit: 200,
  });

  it('an interrupted run resumed from its checkpoint ends exactly where an uninterrupted run ends', async () => {
    const data = await loadDataset(hp);
    const straight = buildModel(hp, data);
    const a = await train(straight, data, hp, { ...quiet, runDir: path.join(tmp, 'straight') });

    const runDir = path.join(tmp, 'interrupted');
    let batches = 0;
    const first = await train(buildModel(hp, data), data, hp, { ...quiet, runDir, shouldStop: () => ++batches === 8 });
    expect(first.interrupted).toBe(true);
    expect(first.epochsRun).toBe(1); // stopped in the middle of epoch 2 (6 batches per epoch)
    const resumedModel = buildModel(hp, data);
    const b = await train(resumedModel, data, hp, { ...quiet, runDir, resume: true });
    expect(b.interrupted).toBe(false);
    expect(b.epochsRun).toBe(3);
    expect(b.history.map((r) => r.validError)).toEqual(a.history.map((r) => r.validError));
    expect(b.history.map((r) => r.trainLoss)).toEqual(a.history.map((r) => r.trainLoss));
    const wa = straight.getWeights().map((w) => Array.from(w.dataSync()));
    const wb = resumedModel.getWeights().map((w) => Array.from(w.dataSync()));
    expect(wb).toEqual(wa);
  });

  it('refuses to resume with other hyperparameters', async () => {
    const data = await loadDataset(hp);
    const runDir = path.join(tmp, 'other');
    await train(buildModel(hp, data), data, hp, { ...quiet, runDir, maxEpochsThisCall: 1 });
    const other = { ...hp, lrStart: 0.01 };
    await expect(train(buildModel(other, data), data, other, { ...quiet, runDir, resume: true })).rejects.toThrow(
      /other hyperparameters \(lrStart\)/,
    );
  });

  it('a truncated or foreign checkpoint gives a clear error', () => {
    const file = path.join(tmp, 'ck.bnn');
    writeCheckpoint(file, { meta: { a: 1 }, tensors: [{ name: 'w', shape: [3], data: Float32Array.from([1, 2, 3]) }] });
    expect(readCheckpoint<{ a: number }>(file).tensors[0].data).toEqual(Float32Array.from([1, 2, 3]));
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 8));
    expect(() => readCheckpoint(file)).toThrow(`${file}: truncated checkpoint: tensor w [3]`);
    fs.writeFileSync(file, 'hello');
    expect(() => readCheckpoint(file)).toThrow(/not a binarynet-ts checkpoint/);
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('model selection and shuffling', () => {
  it('reports the epoch of best validation error, ties going to the later epoch', () => {
    const h = [0.05, 0.03, 0.04, 0.03, 0.06].map((v, i) => ({ epoch: i + 1, validError: v }) as EpochRecord);
    expect(bestEpochIndex(h)).toBe(3);
  });

  it('shuffles reproducibly from a seed', () => {
    const a = shuffledIndices(1000, 5);
    expect(Array.from(a)).toEqual(Array.from(shuffledIndices(1000, 5)));
    expect(Array.from(a)).not.toEqual(Array.from(shuffledIndices(1000, 6)));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});
