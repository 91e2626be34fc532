/**
 * The data sets, one record each, as the quantizers are (lib/quantizers.ts): the image shape and classes,
 * and how to load the paper's train / validation / test split. The built-in four are registered here;
 * `registerDataset` in lib/presets.ts adds one together with its hyperparameter presets, and from then on
 * the CLI, the notebooks, the trainer and the benchmarks take its name like any other.
 */
import { closestName } from '../closestName';
import type { SplitDataset } from './dataset';
import { loadCifar10 } from './cifar10';
import { writeCifar10Fixture, writeSvhnFixture } from './fixtures';
import { loadFashionMnist, loadMnist } from './mnist';
import { loadSvhn } from './svhn';

export interface DatasetShape {
  height: number;
  width: number;
  channels: number;
  numClasses: number;
}

export interface LoadOptions {
  /** Folder of the data set's files (default: the loader's standard place). */
  dir?: string;
  log?: (line: string) => void;
  /** SVHN: train on train + extra (the paper's `svhnExtra`). */
  includeExtra?: boolean;
  /** false: read the files already there, never download (CI, smoke runs). */
  download?: boolean;
}

export interface DatasetEntry {
  /** Its name in presets, flags and run names (lowercase, e.g. 'mnist'). */
  name: string;
  /** What the loader gives: every image of the data set has this shape. */
  shape: DatasetShape;
  /** The train / validation / test split; downloads (verified) where the loader can, else a clear error. */
  load(o: LoadOptions): SplitDataset | Promise<SplitDataset>;
  /**
   * A small synthetic stand-in written in the data set's own file format into `dir` and read back by its
   * loader, for notebooks and CI where the real files cannot be had (lib/data/standIn.ts); none for data sets
   * that are always here.
   */
  standIn?(dir: string): Promise<SplitDataset>;
}

const DATASETS = new Map<string, DatasetEntry>();

/** Adds a data set (lib/presets.ts's `registerDataset` adds its presets too). A name is registered once. */
export function addDataset(entry: DatasetEntry): DatasetEntry {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(entry.name))
    throw new Error(`dataset name '${entry.name}': lowercase letters, digits and '-' only`);
  if (DATASETS.has(entry.name)) throw new Error(`dataset '${entry.name}' is already registered`);
  const { height, width, channels, numClasses } = entry.shape;
  if (![height, width, channels, numClasses].every((v) => Number.isInteger(v) && v > 0))
    throw new Error(`dataset '${entry.name}': shape needs positive integers, got ${JSON.stringify(entry.shape)}`);
  DATASETS.set(entry.name, entry);
  return entry;
}

export function datasetNames(): string[] {
  return [...DATASETS.keys()];
}

/** The registered data set `name`, or an error listing them (with a suggestion for a misspelling). */
export function getDataset(name: string): DatasetEntry {
  const entry = DATASETS.get(name);
  if (entry) return entry;
  const suggestion = closestName(name, datasetNames());
  const hint = suggestion ? ` (did you mean '${suggestion}'?)` : '';
  throw new Error(`unknown dataset '${name}'${hint}; use ${datasetNames().join(', ')}`);
}

const MNIST_SHAPE: DatasetShape = { height: 28, width: 28, channels: 1, numClasses: 10 };
const RGB32_SHAPE: DatasetShape = { height: 32, width: 32, channels: 3, numClasses: 10 };

addDataset({ name: 'mnist', shape: MNIST_SHAPE, load: ({ dir }) => loadMnist({ dir }) });
addDataset({ name: 'fashion-mnist', shape: MNIST_SHAPE, load: ({ dir }) => loadFashionMnist({ dir }) });
// Stand-in sizes: 1,200 training and 400 test images, a random template per class plus noise.
const STAND_IN_TRAIN = 1200;
const STAND_IN_TEST = 400;
const never = (download?: boolean) => (download === false ? false : undefined);

addDataset({
  name: 'cifar10',
  shape: RGB32_SHAPE,
  load: ({ dir, log, download }) => loadCifar10({ dir, log, download: never(download) }),
  standIn: (dir) => {
    writeCifar10Fixture(dir, { perBatch: STAND_IN_TRAIN / 5, testCount: STAND_IN_TEST });
    return loadCifar10({ dir, download: false, validCount: 200 });
  },
});
addDataset({
  name: 'svhn',
  shape: RGB32_SHAPE,
  load: ({ dir, log, includeExtra, download }) => loadSvhn({ dir, includeExtra, log, download: never(download) }),
  standIn: (dir) => {
    writeSvhnFixture(dir, { trainCount: STAND_IN_TRAIN, testCount: STAND_IN_TEST });
    return loadSvhn({ dir, includeExtra: false, validPerClassTrain: 20, download: false });
  },
});
