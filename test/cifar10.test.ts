/**
 * The CIFAR-10 loader on tiny batches in the genuine binary format (label byte + R, G, B planes),
 * read from the unpacked folder and from a .tar.gz made by the system's `tar`.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classCounts } from '../lib/data/dataset';
import { CIFAR10_TEST_BATCH, CIFAR10_TRAIN_BATCHES, loadCifar10 } from '../lib/data/cifar10';

const PER_BATCH = 20;
const TEST_COUNT = 10;
/** Pixel of global image index g (test images numbered from 1000) at row r, column c, channel ch. */
const pixel = (g: number, r: number, c: number, ch: number) => (g * 11 + r * 5 + c * 3 + ch * 70) % 256;
const label = (g: number) => (g * 7) % 10;

function batch(first: number, count: number): Buffer {
  const buf = Buffer.alloc(count * 3073);
  for (let i = 0; i < count; i++) {
    const g = first + i;
    const rec = i * 3073;
    buf[rec] = label(g);
    for (let ch = 0; ch < 3; ch++)
      for (let r = 0; r < 32; r++)
        for (let c = 0; c < 32; c++) buf[rec + 1 + ch * 1024 + r * 32 + c] = pixel(g, r, c, ch);
  }
  return buf;
}

let tmp: string;
let unpacked: string;
let packed: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-cifar-'));
  unpacked = path.join(tmp, 'unpacked');
  const bin = path.join(unpacked, 'cifar-10-batches-bin');
  fs.mkdirSync(bin, { recursive: true });
  CIFAR10_TRAIN_BATCHES.forEach((name, k) => fs.writeFileSync(path.join(bin, name), batch(k * PER_BATCH, PER_BATCH)));
  fs.writeFileSync(path.join(bin, CIFAR10_TEST_BATCH), batch(1000, TEST_COUNT));
  fs.writeFileSync(path.join(bin, 'batches.meta.txt'), 'airplane\n');
  packed = path.join(tmp, 'packed');
  fs.mkdirSync(packed);
  const res = spawnSync('tar', [
    'czf',
    path.join(packed, 'cifar-10-binary.tar.gz'),
    '-C',
    unpacked,
    'cifar-10-batches-bin',
  ]);
  expect(res.status).toBe(0);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function expectImages(set: { images: Uint8Array; labels: Uint8Array; count: number }, first: number): void {
  for (let i = 0; i < set.count; i++) {
    const g = first + i;
    expect(set.labels[i]).toBe(label(g));
    for (const [r, c, ch] of [
      [0, 0, 0],
      [0, 1, 1],
      [2, 0, 2],
      [31, 31, 0],
      [16, 7, 1],
    ]) {
      expect(set.images[i * 3072 + (r * 32 + c) * 3 + ch]).toBe(pixel(g, r, c, ch));
    }
  }
}

describe('CIFAR-10 binary loader', () => {
  for (const source of ['unpacked folder', 'tar.gz'] as const) {
    it(`reads the ${source}: NHWC pixels, labels, last images as validation`, async () => {
      const dir = source === 'tar.gz' ? packed : unpacked;
      const ds = await loadCifar10({ dir, download: false, validCount: 30 });
      expect(ds.train.count).toBe(5 * PER_BATCH - 30);
      expect(ds.valid.count).toBe(30);
      expect(ds.test.count).toBe(TEST_COUNT);
      expect([ds.train.height, ds.train.width, ds.train.channels, ds.train.numClasses]).toEqual([32, 32, 3, 10]);
      expectImages(ds.train, 0);
      expectImages(ds.valid, 5 * PER_BATCH - 30);
      expectImages(ds.test, 1000);
      expect(classCounts(ds.train).reduce((a, b) => a + b)).toBe(70);
    });
  }

  it('uses the paper split by default (validation = last 5,000) and says when there are too few', async () => {
    await expect(loadCifar10({ dir: unpacked, download: false })).rejects.toThrow(
      /100 training images cannot give a validation set of 5000/,
    );
  });

  it('rejects truncated batches and bad labels, naming the file', async () => {
    const dir = path.join(tmp, 'bad');
    fs.cpSync(unpacked, dir, { recursive: true });
    const f = path.join(dir, 'cifar-10-batches-bin', 'data_batch_3.bin');
    const good = fs.readFileSync(f);
    fs.writeFileSync(f, good.subarray(0, good.length - 100));
    await expect(loadCifar10({ dir, download: false, validCount: 10 })).rejects.toThrow(
      /data_batch_3\.bin: truncated or not a CIFAR-10 binary batch: 61360 bytes/,
    );
    const badLabel = Buffer.from(good);
    badLabel[3073 * 4] = 12;
    fs.writeFileSync(f, badLabel);
    await expect(loadCifar10({ dir, download: false, validCount: 10 })).rejects.toThrow(
      /data_batch_3\.bin: label 12 in record 4 is not in 0\.\.9/,
    );
  });

  it('rejects a training batch cut at a record boundary (its size disagrees with the others)', async () => {
    const dir = path.join(tmp, 'short-batch');
    fs.cpSync(unpacked, dir, { recursive: true });
    const f = path.join(dir, 'cifar-10-batches-bin', 'data_batch_4.bin');
    fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 3073 * (PER_BATCH - 1)));
    await expect(loadCifar10({ dir, download: false, validCount: 10 })).rejects.toThrow(
      /data_batch_4\.bin: 19 records, but .*data_batch_1\.bin has 20/,
    );
  });

  it('names a folder found in place of a batch file or of the archive', async () => {
    const dir = path.join(tmp, 'folder-batch');
    fs.cpSync(unpacked, dir, { recursive: true });
    const f = path.join(dir, 'cifar-10-batches-bin', 'test_batch.bin');
    fs.rmSync(f);
    fs.mkdirSync(f);
    await expect(loadCifar10({ dir, download: false, validCount: 10 })).rejects.toThrow(
      new RegExp(`${f}: is a folder, expected a file`),
    );
    const archiveDir = path.join(tmp, 'folder-archive');
    const archive = path.join(archiveDir, 'cifar-10-binary.tar.gz');
    fs.mkdirSync(archive, { recursive: true });
    await expect(loadCifar10({ dir: archiveDir, download: false, validCount: 10 })).rejects.toThrow(
      new RegExp(`${archive}: is a folder, expected a file`),
    );
    // With download on, the MD5 check reads it first.
    await expect(loadCifar10({ dir: archiveDir, validCount: 10, download: { progress: false } })).rejects.toThrow(
      new RegExp(`${archive}: is a folder, expected a file`),
    );
  });

  it('rejects a truncated or corrupt archive, and says when there is no data', async () => {
    const dir = path.join(tmp, 'badtar');
    fs.mkdirSync(dir);
    const archive = fs.readFileSync(path.join(packed, 'cifar-10-binary.tar.gz'));
    fs.writeFileSync(path.join(dir, 'cifar-10-binary.tar.gz'), archive.subarray(0, archive.length >> 1));
    await expect(loadCifar10({ dir, download: false, validCount: 10 })).rejects.toThrow(
      /cifar-10-binary\.tar\.gz: gzip data are corrupt or truncated/,
    );
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    await expect(loadCifar10({ dir: empty, download: false })).rejects.toThrow(/no CIFAR-10 data/);
  });

  it('checks the MD5 of an archive placed by hand', async () => {
    // The fixture archive is not the genuine one: verification must refuse it before reading.
    await expect(loadCifar10({ dir: packed, validCount: 10, download: { progress: false } })).rejects.toThrow(
      /cifar-10-binary\.tar\.gz: MD5 [0-9a-f]{32}, expected c32a1d4ab5d03f1284b67883e8d87530/,
    );
  });
});
