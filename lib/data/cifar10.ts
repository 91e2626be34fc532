/**
 * CIFAR-10, binary version: `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`, each a
 * run of 3,073-byte records (1 label byte 0..9, then 1,024 red, 1,024 green, 1,024 blue bytes,
 * row-major 32×32 planes). Read from the unpacked folder `cifar-10-batches-bin/` (or the batch
 * files directly in `data/cifar10/`) when present, else straight from `cifar-10-binary.tar.gz`,
 * which is downloaded and MD5-checked on first use.
 *
 * Split as the paper's reference code: train = the first 45,000 training images, validation = the
 * last 5,000, test = the 10,000 test images.
 */
import * as fs from 'fs';
import * as path from 'path';
import { SplitDataset, ImageSet, makeImageSet, slice } from './dataset';
import { CIFAR10_FILES, DownloadOptions, OfflineError, ensureFiles } from './download';
import { readDataFile } from './readFile';
import { readTar } from './tar';

const SIZE = 32;
const PLANE = SIZE * SIZE;
const RECORD = 1 + 3 * PLANE;
export const CIFAR10_TRAIN_BATCHES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const CIFAR10_TEST_BATCH = 'test_batch.bin';
export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

/** Number of records in a batch file's bytes, or a clear error. */
function recordCount(bytes: Uint8Array, file: string): number {
  if (bytes.length === 0 || bytes.length % RECORD !== 0) {
    throw new Error(
      `${file}: truncated or not a CIFAR-10 binary batch: ${bytes.length} bytes is not a whole number of ` +
        `${RECORD}-byte records`,
    );
  }
  return bytes.length / RECORD;
}

/** Decodes records into `images` (NHWC) and `labels` from image slot `at` on. */
function decodeInto(bytes: Uint8Array, file: string, images: Uint8Array, labels: Uint8Array, at: number): void {
  const n = recordCount(bytes, file);
  for (let i = 0; i < n; i++) {
    const rec = i * RECORD;
    const label = bytes[rec];
    if (label > 9) throw new Error(`${file}: label ${label} in record ${i} is not in 0..9`);
    labels[at + i] = label;
    const base = (at + i) * PLANE * 3;
    for (let p = 0; p < PLANE; p++) {
      images[base + 3 * p] = bytes[rec + 1 + p];
      images[base + 3 * p + 1] = bytes[rec + 1 + PLANE + p];
      images[base + 3 * p + 2] = bytes[rec + 1 + 2 * PLANE + p];
    }
  }
}

/** Decodes batch files (in order) into one NHWC ImageSet. */
export function decodeCifarBatches(batches: Array<{ file: string; bytes: Uint8Array }>): ImageSet {
  const count = batches.reduce((n, b) => n + recordCount(b.bytes, b.file), 0);
  const images = new Uint8Array(count * PLANE * 3);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const b of batches) {
    decodeInto(b.bytes, b.file, images, labels, at);
    at += b.bytes.length / RECORD;
  }
  return makeImageSet(images, labels, { height: SIZE, width: SIZE, channels: 3 }, 10);
}

export interface Cifar10Options {
  /** Folder of the data (default `data/cifar10`). */
  dir?: string;
  /** Images at the end of the training batches kept for validation (default 5,000). */
  validCount?: number;
  /** Fetch and verify the archive when no unpacked batches are there (default); `false` never fetches or checks MD5. */
  download?: DownloadOptions | false;
  log?: (line: string) => void;
}

/** The six batch files' bytes, from an unpacked folder or the archive. */
async function readBatches(
  dir: string,
  opts: Cifar10Options,
): Promise<Map<string, { file: string; bytes: Uint8Array }>> {
  const names = [...CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH];
  for (const folder of [path.join(dir, 'cifar-10-batches-bin'), dir]) {
    if (names.every((n) => fs.existsSync(path.join(folder, n)))) {
      return new Map(
        names.map((n) => {
          const file = path.join(folder, n);
          return [n, { file, bytes: readDataFile(file) }];
        }),
      );
    }
  }
  const archive = path.join(dir, CIFAR10_FILES.files[0].name);
  if (opts.download !== false) {
    try {
      await ensureFiles({ ...CIFAR10_FILES, dir }, opts.download);
    } catch (err) {
      if (!(err instanceof OfflineError)) throw err;
      throw new OfflineError(
        `${err.message}\nThe unpacked archive works too: ${names.join(', ')} in ` +
          `${path.resolve(dir, 'cifar-10-batches-bin')}.`,
      );
    }
  } else if (!fs.existsSync(archive)) {
    throw new Error(
      `${dir}: no CIFAR-10 data: neither ${names.join(', ')} (in cifar-10-batches-bin/) nor ` +
        `${CIFAR10_FILES.files[0].name}`,
    );
  }
  opts.log?.(`reading ${archive}`);
  const entries = readTar(archive, (name) => names.includes(path.posix.basename(name)));
  const out = new Map<string, { file: string; bytes: Uint8Array }>();
  for (const [name, bytes] of entries) out.set(path.posix.basename(name), { file: `${archive}:${name}`, bytes });
  const absent = names.filter((n) => !out.has(n));
  if (absent.length) throw new Error(`${archive}: missing ${absent.join(', ')} in the archive`);
  return out;
}

/** Loads CIFAR-10 with the paper's 45k/5k/10k split. */
export async function loadCifar10(opts: Cifar10Options = {}): Promise<SplitDataset> {
  const dir = opts.dir ?? CIFAR10_FILES.dir;
  const validCount = opts.validCount ?? 5000;
  const batches = await readBatches(dir, opts);
  const train = CIFAR10_TRAIN_BATCHES.map((n) => batches.get(n)!);
  // A batch cut at a record boundary still decodes: only the other batches' size gives it away.
  const first = recordCount(train[0].bytes, train[0].file);
  for (const b of train.slice(1)) {
    const n = recordCount(b.bytes, b.file);
    if (n !== first) {
      throw new Error(
        `${b.file}: ${n} records, but ${train[0].file} has ${first}: the training batches are all the same size`,
      );
    }
  }
  const all = decodeCifarBatches(train);
  if (validCount < 0 || validCount >= all.count) {
    throw new Error(`${dir}: ${all.count} training images cannot give a validation set of ${validCount}`);
  }
  return {
    name: 'cifar10',
    train: slice(all, 0, all.count - validCount),
    valid: slice(all, all.count - validCount, all.count),
    test: decodeCifarBatches([batches.get(CIFAR10_TEST_BATCH)!]),
  };
}
