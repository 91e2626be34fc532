/**
 * SVHN, format 2 (cropped 32×32 digits): `train_32x32.mat`, `test_32x32.mat`, `extra_32x32.mat`,
 * MATLAB level-5 files holding `X` (uint8, 32×32×3×N, column-major) and `y` (N×1, labels 1..10,
 * where 10 means the digit 0).
 *
 * Split as the paper (after pylearn2, which the Theano reference code uses): validation = 400
 * images per class from train + 200 per class from extra (6,000); training = the rest of train and
 * extra (598,388); test = the test set. Images are converted straight from MATLAB's layout into
 * their final NHWC slot, so the 1.6 GB `extra` set is never held twice in converted form.
 */
import * as path from 'path';
import { ImageSet, SplitDataset, makeImageSet } from './dataset';
import { MatFileError, readMatFile, requireVariable } from './matFile';
import { DownloadOptions, OfflineError, SVHN_FILES, ensureFiles } from './download';
import { seededRandom } from '../random';

const SIZE = 32;
const CHANNELS = 3;
const PER = SIZE * SIZE * CHANNELS;

/** One SVHN `.mat` file, still in MATLAB's column-major layout. */
export interface SvhnRaw {
  file: string;
  /** X as stored: X(r, c, ch, n) at r + 32·c + 1024·ch + 3072·n. */
  pixels: Uint8Array;
  /** Class ids 0..9 (the file's 10 mapped to 0). */
  labels: Uint8Array;
  count: number;
}

/** Reads and checks one SVHN format-2 file. */
export function readSvhnMat(file: string): SvhnRaw {
  const vars = readMatFile(file);
  const X = requireVariable(vars, 'X', file);
  const y = requireVariable(vars, 'y', file);
  if (X.className !== 'uint8' || !X.real) throw new MatFileError(file, `'X' is ${X.className}, expected uint8`);
  const d = X.dims;
  // MATLAB drops trailing singleton dimensions: a one-image file has X of 32×32×3.
  const count = d.length === 3 ? 1 : d[3];
  if (d[0] !== SIZE || d[1] !== SIZE || d[2] !== CHANNELS || d.length > 4) {
    throw new MatFileError(file, `'X' has dimensions [${d}], expected [32,32,3,N]`);
  }
  if (!y.real || y.className === 'char')
    throw new MatFileError(file, `'y' is ${y.className}, expected a numeric array`);
  if (y.real.length !== count) {
    throw new MatFileError(
      file,
      `image/label count mismatch: ${count} images in 'X' but ${y.real.length} labels in 'y'`,
    );
  }
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const v = Number(y.real[i]);
    if (!(Number.isInteger(v) && v >= 1 && v <= 10)) {
      throw new MatFileError(file, `label ${v} at index ${i} is not in 1..10`);
    }
    labels[i] = v % 10;
  }
  return { file, pixels: X.real as Uint8Array, labels, count };
}

/** Copies image `n` of a raw file into `dst` at image slot `slot`, as H×W×C (channels last). */
function copyImage(raw: SvhnRaw, n: number, dst: Uint8Array, slot: number): void {
  const src = n * PER;
  const base = slot * PER;
  for (let ch = 0; ch < CHANNELS; ch++) {
    const plane = src + ch * SIZE * SIZE;
    for (let c = 0; c < SIZE; c++) {
      const col = plane + c * SIZE;
      for (let r = 0; r < SIZE; r++) dst[base + (r * SIZE + c) * CHANNELS + ch] = raw.pixels[col + r];
    }
  }
}

/** The images at `indices` of a raw file as an NHWC ImageSet. */
export function svhnImages(raw: SvhnRaw, indices?: ArrayLike<number>): ImageSet {
  const n = indices ? indices.length : raw.count;
  const images = new Uint8Array(n * PER);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const j = indices ? indices[i] : i;
    copyImage(raw, j, images, i);
    labels[i] = raw.labels[j];
  }
  return makeImageSet(images, labels, { height: SIZE, width: SIZE, channels: CHANNELS }, 10);
}

/**
 * Picks `perClass` images of each class at random (seeded): returns a mask of the picked ones.
 * Throws if a class has fewer.
 */
export function pickPerClass(labels: Uint8Array, perClass: number, seed: number, file: string): Uint8Array {
  const byClass: number[][] = Array.from({ length: 10 }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]].push(i);
  const next = seededRandom(seed);
  const picked = new Uint8Array(labels.length);
  byClass.forEach((members, cls) => {
    if (members.length < perClass) {
      throw new Error(
        `${file}: class ${cls} has ${members.length} images, fewer than the ${perClass} the validation split takes`,
      );
    }
    // Partial Fisher–Yates: the first `perClass` entries become a uniform sample.
    for (let k = 0; k < perClass; k++) {
      const j = k + Math.floor(next() * (members.length - k));
      [members[k], members[j]] = [members[j], members[k]];
      picked[members[k]] = 1;
    }
  });
  return picked;
}

export interface SvhnOptions {
  /** Folder with the `.mat` files (default `data/svhn`). */
  dir?: string;
  /** Train on extra too, and take 200/class of validation from it (default true, as the paper). */
  includeExtra?: boolean;
  /** Validation images per class from train (400) and from extra (200). */
  validPerClassTrain?: number;
  validPerClassExtra?: number;
  /** Seed of the validation pick. */
  seed?: number;
  /** Fetch missing files and verify checksums (default); `false` reads the files as they are. */
  download?: DownloadOptions | false;
  log?: (line: string) => void;
}

/** Loads SVHN with the paper's split. */
export async function loadSvhn(opts: SvhnOptions = {}): Promise<SplitDataset> {
  const dir = opts.dir ?? path.join('data', 'svhn');
  const includeExtra = opts.includeExtra ?? true;
  const perTrain = opts.validPerClassTrain ?? 400;
  const perExtra = opts.validPerClassExtra ?? 200;
  const seed = opts.seed ?? 20160209;
  const log = opts.log ?? (() => {});
  const names = ['train_32x32.mat', 'test_32x32.mat', ...(includeExtra ? ['extra_32x32.mat'] : [])];
  if (opts.download !== false) {
    const files = SVHN_FILES.files.filter((f) => names.includes(f.name));
    try {
      await ensureFiles({ ...SVHN_FILES, dir, files }, opts.download);
    } catch (err) {
      if (!(err instanceof OfflineError) || !includeExtra) throw err;
      throw new OfflineError(`${err.message}\nTo train without the 1.3 GB extra set, pass includeExtra: false.`);
    }
  }

  const sources: Array<{ name: string; perClass: number }> = [{ name: 'train_32x32.mat', perClass: perTrain }];
  if (includeExtra) sources.push({ name: 'extra_32x32.mat', perClass: perExtra });

  // Parse every source first: their counts size the two output buffers, so each image is copied
  // once, straight into its final place.
  const raws: Array<SvhnRaw | undefined> = [];
  const picks: Uint8Array[] = [];
  let validCount = 0;
  let trainCount = 0;
  for (const [k, src] of sources.entries()) {
    const file = path.join(dir, src.name);
    log(`reading ${file}`);
    const raw = readSvhnMat(file);
    const picked = pickPerClass(raw.labels, src.perClass, seed + k, file);
    raws.push(raw);
    picks.push(picked);
    validCount += src.perClass * 10;
    trainCount += raw.count - src.perClass * 10;
  }
  const trainImages = new Uint8Array(trainCount * PER);
  const trainLabels = new Uint8Array(trainCount);
  const validImages = new Uint8Array(validCount * PER);
  const validLabels = new Uint8Array(validCount);
  let t = 0;
  let v = 0;
  for (let k = 0; k < raws.length; k++) {
    const raw = raws[k]!;
    for (let n = 0; n < raw.count; n++) {
      if (picks[k][n]) {
        copyImage(raw, n, validImages, v);
        validLabels[v++] = raw.labels[n];
      } else {
        copyImage(raw, n, trainImages, t);
        trainLabels[t++] = raw.labels[n];
      }
    }
    raws[k] = undefined; // let this file's pixels go before the next file is copied
  }
  const shape = { height: SIZE, width: SIZE, channels: CHANNELS };
  const testFile = path.join(dir, 'test_32x32.mat');
  log(`reading ${testFile}`);
  return {
    name: includeExtra ? 'svhn' : 'svhn-noextra',
    train: makeImageSet(trainImages, trainLabels, shape, 10),
    valid: makeImageSet(validImages, validLabels, shape, 10),
    test: svhnImages(readSvhnMat(testFile)),
  };
}
