import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { buildModel, loadDataset, resolveHyperparameters, runExperiment } from '../lib/experiment';
import { writeFileAtomic } from '../lib/io/atomicWrite';
import { crc32, tableCrc32 } from '../lib/io/container';
import { readCheckpoint, writeCheckpoint, type BestMeta, type TrainingMeta } from '../lib/train/checkpoint';
import type { EpochRecord } from '../lib/train/history';
import { evaluate, train } from '../lib/train/trainer';
import { seededRandom } from '../lib/random';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-ckpt-'));
beforeAll(async () => {
  await initBackend();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const quiet = { progress: 'none' as const, log: () => {}, flatten: true };
// 4 batches per epoch, 3 epochs: a run takes about a second.
const hp = resolveHyperparameters('mnist', 'smoke', {
  hiddenUnits: [32],
  epochs: 3,
  trainLimit: 400,
  validLimit: 200,
  testLimit: 200,
});
const dataPromise = loadDataset(hp);

/** A fresh run folder with `epochs` epochs trained (default all). */
async function trainedRun(name: string, epochs?: number): Promise<string> {
  const runDir = path.join(tmp, name);
  await train(buildModel(hp, await dataPromise), await dataPromise, hp, {
    ...quiet,
    runDir,
    maxEpochsThisCall: epochs,
  });
  return runDir;
}

async function resume(runDir: string, extra: { rollback?: boolean } = {}) {
  const data = await dataPromise;
  return train(buildModel(hp, data), data, hp, { ...quiet, runDir, resume: true, ...extra });
}

const HEADER_AT = 16;
function headerOf(bytes: Uint8Array): {
  meta: TrainingMeta;
  arrays: { name: string; shape: number[]; crc32: number }[];
} {
  const length = Buffer.from(bytes).readUInt32LE(8);
  return JSON.parse(Buffer.from(bytes.subarray(HEADER_AT, HEADER_AT + length)).toString('utf8'));
}

/**
 * The file with its header edited and its checksums made right again: what a buggy writer would
 * produce. Only the semantic checks can catch such a file.
 */
function resigned(bytes: Uint8Array, edit: (header: ReturnType<typeof headerOf>, data: Uint8Array) => void): Buffer {
  const buf = Buffer.from(bytes);
  const oldLength = buf.readUInt32LE(8);
  const data = new Uint8Array(buf.subarray(Math.ceil((HEADER_AT + oldLength) / 8) * 8));
  const header = headerOf(buf);
  edit(header, data);
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(HEADER_AT);
  buf.copy(prefix, 0, 0, 8);
  prefix.writeUInt32LE(json.length, 8);
  prefix.writeUInt32LE(crc32(json, crc32(prefix.subarray(0, 12))), 12);
  const padding = Buffer.alloc(Math.ceil((HEADER_AT + json.length) / 8) * 8 - HEADER_AT - json.length);
  return Buffer.concat([prefix, json, padding, data]);
}

/** Byte offset of a tensor's data in a checkpoint file. */
function tensorOffset(bytes: Uint8Array, name: string): number {
  const { arrays } = headerOf(bytes);
  let offset = Math.ceil((HEADER_AT + Buffer.from(bytes).readUInt32LE(8)) / 8) * 8;
  for (const a of arrays) {
    if (a.name === name) return offset;
    offset += Math.ceil((a.shape.reduce((x, y) => x * y, 1) * 4) / 8) * 8;
  }
  throw new Error(`no tensor ${name}`);
}

describe('the container', () => {
  it("computes CRC-32 with node:zlib under Node, and the browser's table gives the same values", () => {
    expect(crc32).toBe(zlib.crc32);
    const random = seededRandom(1);
    for (const n of [0, 1, 7, 1000]) {
      const bytes = Uint8Array.from({ length: n }, () => Math.floor(256 * random()));
      expect(tableCrc32(bytes)).toBe(zlib.crc32(bytes));
      expect(tableCrc32(bytes.subarray(n >> 1), tableCrc32(bytes.subarray(0, n >> 1)))).toBe(zlib.crc32(bytes));
    }
  });

  it('refuses to write NaN, or a shape that does not match the data, naming the file and tensor', () => {
    const file = path.join(tmp, 'nan.bnn');
    expect(() =>
      writeCheckpoint(file, { meta: {}, tensors: [{ name: 'w', shape: [2], data: Float32Array.from([1, NaN]) }] }),
    ).toThrow(`${file}: tensor w has a non-finite value (NaN) at index 1`);
    expect(() =>
      writeCheckpoint(file, { meta: {}, tensors: [{ name: 'w', shape: [2, 2], data: new Float32Array(3) }] }),
    ).toThrow(`${file}: tensor w has 3 values, its shape [2,2] needs 4`);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('an old-format (version 1) checkpoint is refused as old', () => {
    const file = path.join(tmp, 'v1.bnn');
    fs.writeFileSync(file, Buffer.concat([Buffer.from('BNNCKPT1'), Buffer.alloc(40)]));
    expect(() => readCheckpoint(file)).toThrow(
      `${file}: checkpoint format version 1 is not the supported version 2 (an older file`,
    );
  });

  it('a folder in place of a file is named in the error, when reading and when writing', () => {
    const dir = path.join(tmp, 'folder.bnn');
    fs.mkdirSync(dir);
    expect(() => readCheckpoint(dir)).toThrow(`${dir}: is a folder, expected a file`);
    expect(() => writeFileAtomic(dir, 'x')).toThrow(`${dir}: is a folder, expected a file`);
  });
});

describe('a damaged checkpoint is refused on resume', () => {
  let good: Buffer;
  let runDir: string;
  let file: string;
  beforeAll(async () => {
    runDir = await trainedRun('damaged', 2);
    file = path.join(runDir, 'checkpoint.bnn');
    good = fs.readFileSync(file);
  });
  const damage = (edit: (bytes: Buffer) => Buffer | void) => {
    const bytes = Buffer.from(good);
    fs.writeFileSync(file, edit(bytes) ?? bytes);
  };

  it('16 bytes flipped in the optimizer state: checksum error naming file and tensor', async () => {
    damage((b) => {
      const at = tensorOffset(b, 'optimizer/v/0') + 100;
      for (let i = at; i < at + 16; i++) b[i] ^= 0x5a;
    });
    await expect(resume(runDir)).rejects.toThrow(`${file}: tensor optimizer/v/0 is damaged (checksum mismatch)`);
  });

  it('16 bytes flipped in a weight tensor', async () => {
    const kernel = headerOf(good).arrays[0].name;
    expect(kernel).toMatch(/^model\/0\/.*kernel$/);
    damage((b) => {
      const at = tensorOffset(b, kernel);
      for (let i = at; i < at + 16; i++) b[i] ^= 0xff;
    });
    await expect(resume(runDir)).rejects.toThrow(`${file}: tensor ${kernel} is damaged (checksum mismatch)`);
  });

  it('NaN or Inf written into a tensor: refused, with or without a matching checksum', async () => {
    const at = tensorOffset(good, 'optimizer/m/1') + 8;
    damage((b) => void b.writeFloatLE(NaN, at));
    await expect(resume(runDir)).rejects.toThrow(`${file}: tensor optimizer/m/1 is damaged`);
    damage((b) =>
      resigned(b, (header, data) => {
        const i = header.arrays.findIndex((a) => a.name === 'optimizer/m/1');
        const start = tensorOffset(b, 'optimizer/m/1') - (b.length - data.length);
        Buffer.from(data.buffer).writeFloatLE(Infinity, start + 8);
        header.arrays[i].crc32 = crc32(data.subarray(start, start + header.arrays[i].shape[0] * 4));
      }),
    );
    await expect(resume(runDir)).rejects.toThrow(
      `${file}: tensor optimizer/m/1 has a non-finite value (Infinity) at index 2`,
    );
  });

  it('an edited epoch or batch in the header: checksum error; re-signed: inconsistent with the history', async () => {
    damage((b) => {
      const at = b.indexOf('"epoch":2');
      b.write('"epoch":1', at);
    });
    await expect(resume(runDir)).rejects.toThrow(`${file}: checkpoint header is damaged (checksum mismatch)`);
    damage((b) => resigned(b, (h) => void (h.meta.epoch = 1)));
    await expect(resume(runDir)).rejects.toThrow(
      `${file}: inconsistent checkpoint header: epoch 1, but the history lists epochs [1,2]`,
    );
    damage((b) => resigned(b, (h) => void (h.meta.batch = 2)));
    await expect(resume(runDir)).rejects.toThrow(
      /optimizer adam at step 8, expected adam at step 10 \(2 epochs of 4 batches \+ 2\)/,
    );
    damage((b) => resigned(b, (h) => void (h.meta.batch = 4)));
    await expect(resume(runDir)).rejects.toThrow(
      `${file}: inconsistent checkpoint header: batch 4 is not in 0–3 of epoch 3`,
    );
  });

  it('a shape that disagrees with the model or with the data: an error naming file and tensor', async () => {
    const kernel = headerOf(good).arrays[0].name;
    damage((b) => resigned(b, (h) => void (h.arrays[0].shape = [...h.arrays[0].shape].reverse())));
    await expect(resume(runDir)).rejects.toThrow(
      `${file}: checkpoint does not match the model (weight 0, ${kernel.slice(8)} [784,32], checkpoint has [32,784])`,
    );
    damage((b) => resigned(b, (h) => void (h.arrays[0].shape = [784, 31])));
    await expect(resume(runDir)).rejects.toThrow(`${file}: tensor ${kernel} is damaged (checksum mismatch)`);
  });

  it('a folder named checkpoint.bnn: a clear error', async () => {
    const dir = path.join(tmp, 'folder-run');
    fs.mkdirSync(path.join(dir, 'checkpoint.bnn'), { recursive: true });
    await expect(resume(dir)).rejects.toThrow(`${path.join(dir, 'checkpoint.bnn')}: is a folder, expected a file`);
  });
});

describe('rollback, divergence and the best weights', () => {
  it('keeps the previous checkpoint; rollback resumes from it and the run ends as an undamaged one', async () => {
    const straight = await train(buildModel(hp, await dataPromise), await dataPromise, hp, {
      ...quiet,
      runDir: path.join(tmp, 'straight'),
    });
    const runDir = await trainedRun('rollback', 2);
    const file = path.join(runDir, 'checkpoint.bnn');
    expect(readCheckpoint<TrainingMeta>(path.join(runDir, 'checkpoint.prev.bnn')).meta.epoch).toBe(1);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 3] ^= 1;
    fs.writeFileSync(file, bytes);
    await expect(resume(runDir)).rejects.toThrow(
      /is damaged \(checksum mismatch\); to continue from .*checkpoint\.prev\.bnn, resume with rollback/,
    );
    const rolled = await resume(runDir, { rollback: true });
    expect(rolled.epochsRun).toBe(3);
    const timeless = (r: EpochRecord) => ({ ...r, seconds: 0, elapsedSeconds: 0 });
    expect(rolled.history.map(timeless)).toEqual(straight.history.map(timeless));
    expect(readCheckpoint<TrainingMeta>(file).meta.epoch).toBe(3);
    expect(readCheckpoint<TrainingMeta>(path.join(runDir, 'checkpoint.prev.bnn')).meta.epoch).toBe(2);
    await expect(resume(path.join(tmp, 'nothing'), { rollback: true })).rejects.toThrow(
      /nothing: no such run folder, nothing to roll back;/,
    );
  });

  // NaN in the last BatchNorm's scale makes the loss NaN at the next batch; NaN in the first one's
  // is cut by the next sign, and a NaN moving mean is not used in training: both are found when
  // the checkpoint is encoded.
  it.each([
    ['gamma', 'last', /training stopped: the loss is NaN in epoch 2, batch 1 \(diverged\)/],
    ['gamma', 'first', /training stopped: .*tensor model\/1\/.*gamma has a non-finite value \(NaN\) at index 0/],
    [
      'moving_mean',
      'first',
      /training stopped: .*tensor model\/\d+\/.*moving_mean has a non-finite value \(NaN\) at index 0/,
    ],
  ])(
    'NaN in a %s (the %s) during training stops the run with a message and keeps the last good checkpoint',
    async (weight, which, message) => {
      const data = await dataPromise;
      const runDir = path.join(tmp, `nan-${weight}-${which}`);
      const model = buildModel(hp, data);
      const candidates = model.weights.filter((v) => v.originalName.endsWith(weight));
      const w = which === 'first' ? candidates[0] : candidates[candidates.length - 1];
      const poison = () => w.write(tf.fill(w.shape as number[], NaN));
      const run = train(model, data, hp, { ...quiet, runDir, onEpoch: (r) => r.epoch === 1 && poison() });
      await expect(run).rejects.toThrow(message);
      await expect(run).rejects.toThrow(/; the last good checkpoint .*checkpoint\.bnn \(epoch 1\) is kept$/);
      const kept = readCheckpoint<TrainingMeta>(path.join(runDir, 'checkpoint.bnn'));
      expect(kept.meta.epoch).toBe(1);
      expect(kept.tensors.every((t) => t.data.every(Number.isFinite))).toBe(true);
    },
  );

  it('best.bnn is the best-validation epoch; runExperiment exports it and about.json to the model folder', async () => {
    const runsDir = path.join(tmp, 'runs');
    const overrides = { hiddenUnits: [32], epochs: 4, lrStart: 0.03, trainLimit: 400, validLimit: 200, testLimit: 200 };
    const { result, runDir } = await runExperiment({
      dataset: 'mnist',
      preset: 'smoke',
      overrides,
      run: 'best',
      runsDir,
      resultsDir: path.join(tmp, 'results'),
      figures: false,
      progress: 'none',
      log: () => {},
    });
    const best = readCheckpoint<BestMeta>(path.join(runDir, 'best.bnn')).meta;
    expect(best.epoch).toBe(result.bestEpoch);
    const about = JSON.parse(fs.readFileSync(path.join(runDir, 'model', 'about.json'), 'utf8'));
    expect(about).toMatchObject({
      run: 'best',
      epoch: result.bestEpoch,
      validError: result.bestValidError,
      testError: result.testError,
    });
    const saved = await tf.loadLayersModel(`file://${path.join(runDir, 'model', 'model.json')}`);
    const data = await loadDataset(resolveHyperparameters('mnist', 'smoke', overrides));
    expect(await evaluate(saved, data.valid, true)).toBe(result.bestValidError);
    expect(await evaluate(saved, data.test, true)).toBe(result.testError);
  });
});
