/**
 * Seeded fuzzing of training checkpoints, each damaged file resumed by `train`: always an error
 * naming the file, or (unchanged bytes) exactly the saved weights; never a crash, hang or silent
 * wrong result. The checksums cover every byte, so any change at all must be an error.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../lib/backend';
import { buildModel, loadDataset, resolveHyperparameters } from '../lib/experiment';
import { train } from '../lib/train/trainer';
import { fuzzReader } from './helpers/byteFuzz';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-ckpt-fuzz-'));
beforeAll(async () => {
  await initBackend();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('a damaged checkpoint is always refused with an error naming the file', async () => {
  const hp = resolveHyperparameters('mnist', 'smoke', {
    hiddenUnits: [16],
    epochs: 2,
    trainLimit: 200,
    validLimit: 100,
    testLimit: 100,
  });
  const data = await loadDataset(hp);
  const runDir = path.join(tmp, 'run');
  const quiet = { progress: 'none' as const, log: () => {}, flatten: true, runDir };
  const trained = buildModel(hp, data);
  await train(trained, data, hp, { ...quiet, maxEpochsThisCall: 1 });
  const weights = (m: typeof trained) => JSON.stringify(m.getWeights().map((w) => Array.from(w.dataSync())));
  const saved = weights(trained);
  const file = path.join(runDir, 'checkpoint.bnn');

  const model = buildModel(hp, data);
  const plan = { 'byte flip': 120, '16 random bytes': 40, 'NaN or Inf': 40, truncation: 40, 'appended bytes': 10 };
  const counts = await fuzzReader(fs.readFileSync(file), plan, 8, file, async (bytes) => {
    fs.writeFileSync(file, bytes);
    await train(model, data, hp, { ...quiet, resume: true, maxEpochsThisCall: 0 });
    return weights(model) === saved;
  });
  console.log(
    `checkpoint fuzz: ${counts.cases} cases, ${counts.errors} clear errors, ${counts.correctLoads} correct loads`,
  );
  expect(counts.failures).toEqual([]);
  expect(counts.correctLoads).toBe(1);
  expect(counts.errors).toBe(counts.cases - 1);
}, 120_000);
