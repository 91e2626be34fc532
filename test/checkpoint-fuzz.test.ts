/**
 * Seeded fuzzing of training checkpoints: byte flips, overwritten runs, NaN/Inf written into the
 * data, truncations and appended bytes, each resumed by `train`. Every outcome must be a clear error
 * naming the file, or a load that restores exactly the saved weights; never a crash, hang or silent
 * wrong result. The checksums cover every byte, so any change at all must be an error.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../lib/backend';
import { buildModel, loadDataset, resolveHyperparameters } from '../lib/experiment';
import { seededRandom } from '../lib/random';
import { train } from '../lib/train/trainer';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-ckpt-fuzz-'));
beforeAll(async () => {
  await initBackend();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Mutation = (bytes: Buffer, random: () => number) => Buffer;
const at = (random: () => number, n: number) => Math.floor(random() * n);

const MUTATIONS: [string, number, Mutation][] = [
  ['byte flip', 120, (b, r) => ((b[at(r, b.length)] ^= 1 + at(r, 255)), b)],
  [
    '16 random bytes',
    40,
    (b, r) => (
      b.set(
        Uint8Array.from({ length: 16 }, () => at(r, 256)),
        at(r, b.length - 16),
      ),
      b
    ),
  ],
  ['NaN or Inf', 40, (b, r) => (b.writeFloatLE([NaN, Infinity, -Infinity][at(r, 3)], 4 * at(r, b.length / 4)), b)],
  ['truncation', 40, (b, r) => b.subarray(0, at(r, b.length))],
  ['appended bytes', 10, (b, r) => Buffer.concat([b, Buffer.alloc(1 + at(r, 16), at(r, 256))])],
];

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
  const saved = trained.getWeights().map((w) => Array.from(w.dataSync()));
  const file = path.join(runDir, 'checkpoint.bnn');
  const good = fs.readFileSync(file);

  const model = buildModel(hp, data);
  const random = seededRandom(8);
  const counts = { cases: 0, errors: 0, correctLoads: 0 };
  const failures: string[] = [];
  for (const [name, n, mutate] of [['unchanged', 1, (b: Buffer) => b] as const, ...MUTATIONS]) {
    for (let i = 0; i < n; i++) {
      const bytes = mutate(Buffer.from(good), random);
      fs.writeFileSync(file, bytes);
      counts.cases++;
      try {
        await train(model, data, hp, { ...quiet, resume: true, maxEpochsThisCall: 0 });
        const loaded = model.getWeights().map((w) => Array.from(w.dataSync()));
        if (bytes.equals(good) && JSON.stringify(loaded) === JSON.stringify(saved)) counts.correctLoads++;
        else failures.push(`${name} #${i}: loaded without an error`);
      } catch (err) {
        if (err instanceof Error && err.constructor === Error && err.message.startsWith(file)) counts.errors++;
        else failures.push(`${name} #${i}: ${String(err)}`);
      }
    }
  }
  console.log(
    `checkpoint fuzz: ${counts.cases} cases, ${counts.errors} clear errors, ${counts.correctLoads} correct loads`,
  );
  expect(failures).toEqual([]);
  expect(counts.correctLoads).toBe(1);
  expect(counts.errors).toBe(counts.cases - 1);
}, 120_000);
