/**
 * Small synthetic data sets written in the genuine CIFAR-10 (binary) and SVHN (format 2, MAT
 * level 5) file formats, for running the real loaders and ConvNet pipeline where the real files
 * are absent (CI, notebooks under the smoke preset, machines without the network).
 *
 * Each image is a per-class random template plus noise, so that a network can learn something;
 * errors measured on these say nothing about CIFAR-10 or SVHN.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CIFAR10_TEST_BATCH, CIFAR10_TRAIN_BATCHES } from './cifar10';
import { seededRandom } from '../random';

const SIZE = 32;
const CHANNELS = 3;
const PER = SIZE * SIZE * CHANNELS;

/**
 * `count` synthetic 32×32×3 images with labels `i % 10`. `pixel(i, r, c, ch)` is template + noise,
 * clamped to 0..255; the templates depend only on `seed`, the noise on `seed` and `stream`.
 */
function synthetic(
  count: number,
  seed: number,
  stream: number,
): { labels: Uint8Array; pixel: (i: number, r: number, c: number, ch: number) => number } {
  const t = seededRandom(seed);
  const templates = Array.from({ length: 10 }, () => Float32Array.from({ length: PER }, () => 255 * t()));
  const n = seededRandom(seed * 7919 + stream);
  const noise = Float32Array.from({ length: count * PER }, () => 255 * n());
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  return {
    labels,
    pixel: (i, r, c, ch) => {
      const k = (r * SIZE + c) * CHANNELS + ch;
      return Math.round(0.5 * templates[labels[i]][k] + 0.5 * noise[i * PER + k]);
    },
  };
}

/** CIFAR-10 binary records (1 label byte, then the R, G, B planes row by row) of `count` images. */
function cifarRecords(count: number, seed: number, stream: number): Buffer {
  const { labels, pixel } = synthetic(count, seed, stream);
  const buf = Buffer.alloc(count * (1 + PER));
  for (let i = 0; i < count; i++) {
    const rec = i * (1 + PER);
    buf[rec] = labels[i];
    for (let ch = 0; ch < CHANNELS; ch++)
      for (let r = 0; r < SIZE; r++)
        for (let c = 0; c < SIZE; c++) buf[rec + 1 + ch * SIZE * SIZE + r * SIZE + c] = pixel(i, r, c, ch);
  }
  return buf;
}

/**
 * Writes `dir/cifar-10-batches-bin/` with the five training batches and the test batch, the
 * unpacked layout `loadCifar10({ dir, download: false })` reads. Returns that folder.
 */
export function writeCifar10Fixture(dir: string, o: { perBatch: number; testCount: number; seed?: number }): string {
  const seed = o.seed ?? 1;
  const bin = path.join(dir, 'cifar-10-batches-bin');
  fs.mkdirSync(bin, { recursive: true });
  CIFAR10_TRAIN_BATCHES.forEach((name, k) =>
    fs.writeFileSync(path.join(bin, name), cifarRecords(o.perBatch, seed, k + 1)),
  );
  fs.writeFileSync(path.join(bin, CIFAR10_TEST_BATCH), cifarRecords(o.testCount, seed, 100));
  return bin;
}

/** One MAT level-5 data element: 8-byte tag (type, byte count), data padded to 8 bytes. */
function element(type: number, data: Buffer): Buffer {
  const tag = Buffer.alloc(8);
  tag.writeUInt32LE(type, 0);
  tag.writeUInt32LE(data.length, 4);
  return Buffer.concat([tag, data, Buffer.alloc((8 - (data.length % 8)) % 8)]);
}

const MI_INT8 = 1,
  MI_UINT8 = 2,
  MI_INT32 = 5,
  MI_UINT32 = 6,
  MI_DOUBLE = 9,
  MI_MATRIX = 14;
const MX_DOUBLE_CLASS = 6,
  MX_UINT8_CLASS = 9;

/** An uncompressed, real, numeric miMATRIX variable (data column-major, as MATLAB stores it). */
function matrix(name: string, dims: number[], data: Uint8Array | Float64Array): Buffer {
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE(data instanceof Uint8Array ? MX_UINT8_CLASS : MX_DOUBLE_CLASS, 0);
  const dimsBuf = Buffer.alloc(4 * dims.length);
  dims.forEach((d, i) => dimsBuf.writeInt32LE(d, 4 * i));
  const real =
    data instanceof Uint8Array
      ? element(MI_UINT8, Buffer.from(data))
      : element(MI_DOUBLE, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  const body = Buffer.concat([
    element(MI_UINT32, flags),
    element(MI_INT32, dimsBuf),
    element(MI_INT8, Buffer.from(name, 'latin1')),
    real,
  ]);
  return element(MI_MATRIX, body);
}

/**
 * Writes an SVHN format-2 file: `X` uint8 32×32×3×N and `y` double N×1 with labels 1..10 (10 for
 * the digit 0), as MATLAB level 5, uncompressed, little-endian.
 */
export function writeSvhnMat(file: string, count: number, seed: number, stream: number): void {
  const { labels, pixel } = synthetic(count, seed, stream);
  const X = new Uint8Array(count * PER);
  // Column-major: X(r, c, ch, n) at r + 32·c + 1024·ch + 3072·n.
  for (let i = 0; i < count; i++)
    for (let ch = 0; ch < CHANNELS; ch++)
      for (let c = 0; c < SIZE; c++)
        for (let r = 0; r < SIZE; r++) X[r + SIZE * c + SIZE * SIZE * ch + PER * i] = pixel(i, r, c, ch);
  const y = Float64Array.from(labels, (l) => (l === 0 ? 10 : l));
  const header = Buffer.alloc(128, ' ');
  header.write('MATLAB 5.0 MAT-file, written by binarynet-ts (synthetic SVHN fixture)', 0, 'latin1');
  header.fill(0, 116, 124);
  header.writeUInt16LE(0x0100, 124);
  header.write('IM', 126, 'latin1');
  fs.writeFileSync(
    file,
    Buffer.concat([header, matrix('X', [SIZE, SIZE, CHANNELS, count], X), matrix('y', [count, 1], y)]),
  );
}

/** Writes train_32x32.mat and test_32x32.mat into `dir` (no extra: load with `includeExtra: false`). */
export function writeSvhnFixture(dir: string, o: { trainCount: number; testCount: number; seed?: number }): void {
  const seed = o.seed ?? 1;
  fs.mkdirSync(dir, { recursive: true });
  writeSvhnMat(path.join(dir, 'train_32x32.mat'), o.trainCount, seed, 1);
  writeSvhnMat(path.join(dir, 'test_32x32.mat'), o.testCount, seed, 2);
}
