/**
 * The training-step benchmark networks, built from the presets with the library's own builders
 * (`buildModel`) and stepped with the trainer's own `trainStep`, so that a measured step is
 * exactly a step of `npm run train`. Inputs are seeded random images of the data set's shape,
 * targets ±1 one-hot rows of seeded random labels, all produced by the trainer's batch path.
 */
import * as tf from '@tensorflow/tfjs';
import { batchTensors, makeImageSet, type SplitDataset } from '../lib/data/dataset';
import { buildModel, flattensInput } from '../lib/experiment';
import { BinaryNetOptimizer, modelParams } from '../lib/optim/optimizers';
import { getDataset } from '../lib/data/registry';
import { preset, type Hyperparameters, type PresetName } from '../lib/presets';
import { seededRandom } from '../lib/random';
import { trainStep, type StepPhase } from '../lib/train/trainer';

export interface NetworkSpec {
  dataset: string;
  preset: PresetName;
  /** Changes to the preset (the benchmark networks stay fixed when a preset is re-tuned). */
  overrides?: Partial<Hyperparameters>;
  what: string;
}

/** The four benchmark networks (`all`), then the others that can be named. */
export const NETWORKS: Record<string, NetworkSpec> = {
  'mnist-mlp-3x1024': {
    dataset: 'mnist',
    preset: 'quick',
    overrides: { hiddenUnits: [1024, 1024, 1024], dropoutInput: 0, dropoutHidden: 0 },
    what: 'MNIST MLP 3×1024, no dropout (the quick preset until it was re-tuned for the native backend), batch 100',
  },
  'mnist-mlp-3x4096': {
    dataset: 'mnist',
    preset: 'paper',
    what: 'MNIST paper preset: MLP 3×4096, dropout 0.2/0.5, batch 100',
  },
  'fashion-convnet-quick': {
    dataset: 'fashion-mnist',
    preset: 'quick',
    what: 'Fashion-MNIST quick preset: (2×32C3)−MP2−(2×64C3)−MP2−(2×256FC)−10, batch 50',
  },
  'cifar10-convnet-paper': {
    dataset: 'cifar10',
    preset: 'paper',
    what: 'CIFAR-10 paper preset: (2×128C3)−MP2−(2×256C3)−MP2−(2×512C3)−MP2−(2×1024FC)−10, batch 50',
  },
  'svhn-convnet-paper': {
    dataset: 'svhn',
    preset: 'paper',
    what: 'SVHN paper preset: the CIFAR-10 ConvNet at half the conv widths, batch 50',
  },
  'mnist-mlp-smoke': { dataset: 'mnist', preset: 'smoke', what: 'MNIST smoke preset: MLP 2×128 (tests only)' },
  'fashion-convnet-smoke': {
    dataset: 'fashion-mnist',
    preset: 'smoke',
    what: 'Fashion-MNIST smoke preset: (2×8C3)−MP2−(2×16C3)−MP2−64FC (tests only)',
  },
};

/** What `--network all` means: the four benchmark networks. */
export const BENCHMARK_NETWORKS = [
  'mnist-mlp-3x1024',
  'mnist-mlp-3x4096',
  'fashion-convnet-quick',
  'cifar10-convnet-paper',
];

/** A network's full name from a full or dataset-less name ('mlp-3x1024' → 'mnist-mlp-3x1024'). */
export function resolveNetwork(name: string): string {
  if (NETWORKS[name]) return name;
  const matches = Object.keys(NETWORKS).filter(
    (full) => full.slice(full.indexOf('-') + 1) === name || full.endsWith(`-${name}`),
  );
  if (matches.length === 1) return matches[0];
  throw new Error(
    `${matches.length ? 'ambiguous' : 'unknown'} network ` +
      `'${name}'${matches.length ? ` (${matches.join(', ')})` : ''}: use one of ` +
      `${Object.keys(NETWORKS).join(', ')} (the dataset prefix may be left out), or all`,
  );
}

/** Comma-separated names, `all` standing for the benchmark networks. */
export function resolveNetworks(list: string): string[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .flatMap((n) => (n === 'all' ? BENCHMARK_NETWORKS : [resolveNetwork(n)]));
  if (names.length === 0) throw new Error('no network named');
  return [...new Set(names)];
}

export function networkHyperparameters(name: string): Hyperparameters {
  const spec = NETWORKS[resolveNetwork(name)];
  return { ...preset(spec.dataset, spec.preset), ...spec.overrides };
}

/** What a worker in another language needs to build the same network (scripts/pytorch_train_step.py). */
export interface NetworkConfig {
  network: string;
  arch: Hyperparameters['arch'];
  inputShape: [number, number, number];
  numClasses: number;
  convFilters: number[];
  hiddenUnits: number[];
  dropoutInput: number;
  dropoutHidden: number;
  batchSize: number;
  lr: number;
  H: number;
  seed: number;
}

export function networkConfig(name: string): NetworkConfig {
  const network = resolveNetwork(name);
  const hp = networkHyperparameters(network);
  const s = getDataset(hp.dataset).shape;
  return {
    network,
    arch: hp.arch,
    inputShape: [s.height, s.width, s.channels],
    numClasses: s.numClasses,
    convFilters: hp.convFilters,
    hiddenUnits: hp.hiddenUnits,
    dropoutInput: hp.dropoutInput,
    dropoutHidden: hp.dropoutHidden,
    batchSize: hp.batchSize,
    lr: hp.lrStart,
    H: hp.H,
    seed: hp.seed,
  };
}

/** One batch of seeded random images and labels, in the data set's shape (train = valid = test). */
function randomBatchDataset(hp: Hyperparameters, seed: number): SplitDataset {
  const s = getDataset(hp.dataset).shape;
  const random = seededRandom(seed);
  const images = new Uint8Array(hp.batchSize * s.height * s.width * s.channels);
  for (let i = 0; i < images.length; i++) images[i] = Math.floor(random() * 256);
  const labels = Uint8Array.from({ length: hp.batchSize }, () => Math.floor(random() * s.numClasses));
  const set = makeImageSet(images, labels, s, s.numClasses);
  return { name: `random ${hp.dataset}-shaped batch`, train: set, valid: set, test: set };
}

export interface TrainStepBench {
  network: string;
  hp: Hyperparameters;
  model: tf.LayersModel;
  /** One training step on the same batch (weights and optimizer state advance, as in training). */
  step(mark?: (phase: StepPhase) => void): Promise<{ loss: number; error: number }>;
  dispose(): void;
}

/** The network `name` with its optimizer and one random batch, ready to step. */
export function buildTrainStepBench(name: string, seed = 1234): TrainStepBench {
  const network = resolveNetwork(name);
  const hp = networkHyperparameters(network);
  const data = randomBatchDataset(hp, seed);
  const model = buildModel(hp, data);
  const params = modelParams(model, hp.glorotLrScale);
  const optimizer = new BinaryNetOptimizer(hp.optimizer, params);
  const indices = Array.from({ length: hp.batchSize }, (_, i) => i);
  const { x, y } = batchTensors(data.train, indices, flattensInput(hp));
  return {
    network,
    hp,
    model,
    step: (mark) => trainStep(model, params, optimizer, x, y, hp.lrStart, mark),
    dispose: () => {
      optimizer.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
    },
  };
}
