/**
 * The one source of truth for hyperparameters: the paper's, and smaller presets sized for a
 * 2-core machine. Shared by the CLI, the notebooks and the tests.
 */
import { OPTIMIZERS, type OptimizerName } from './optim/optimizers';

export const DATASETS = ['mnist', 'fashion-mnist'] as const;
export type DatasetName = (typeof DATASETS)[number];
export const PRESET_NAMES = ['paper', 'quick', 'smoke'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export interface Hyperparameters {
  dataset: DatasetName;
  /** Units of each hidden binary layer (the paper: 3 × 4096). */
  hiddenUnits: number[];
  dropoutInput: number;
  dropoutHidden: number;
  batchSize: number;
  epochs: number;
  /** Learning rate of the first epoch, decayed exponentially to `lrEnd` after `epochs`. */
  lrStart: number;
  lrEnd: number;
  optimizer: OptimizerName;
  /** Scale binary weights' updates by 1 / sqrt(1.5 / (fan_in + fan_out)) as the Theano code. */
  glorotLrScale: boolean;
  batchNorm: 'standard' | 'shift';
  binarization: 'deterministic' | 'stochastic';
  /** Latent weights are clipped to [−H, H]. */
  H: number;
  /** Use only the first N training / validation / test images (0 = all). */
  trainLimit: number;
  validLimit: number;
  testLimit: number;
  seed: number;
}

const PAPER_MNIST: Hyperparameters = {
  dataset: 'mnist',
  hiddenUnits: [4096, 4096, 4096],
  dropoutInput: 0.2,
  dropoutHidden: 0.5,
  batchSize: 100,
  epochs: 1000,
  lrStart: 0.003,
  lrEnd: 3e-7,
  optimizer: 'adam',
  glorotLrScale: true,
  batchNorm: 'standard',
  binarization: 'deterministic',
  H: 1,
  trainLimit: 0,
  validLimit: 0,
  testLimit: 0,
  seed: 1,
};

/**
 * `quick`: the best test error reachable in about 15 minutes on 2 cores with the wasm backend
 * (≈ 80 s per epoch). The paper's recipe throughout, but 3 × 1024 units, no dropout (it pays off
 * only over hundreds of epochs) and the learning-rate decay compressed into 10 epochs.
 */
const QUICK_MNIST: Hyperparameters = {
  ...PAPER_MNIST,
  hiddenUnits: [1024, 1024, 1024],
  dropoutInput: 0,
  dropoutHidden: 0,
  epochs: 10,
  lrStart: 0.003,
  lrEnd: 3e-5,
};

/** `smoke`: seconds, for CI and notebooks run headlessly. */
const SMOKE_MNIST: Hyperparameters = {
  ...PAPER_MNIST,
  hiddenUnits: [128, 128],
  dropoutInput: 0,
  dropoutHidden: 0,
  epochs: 2,
  lrStart: 0.003,
  lrEnd: 1e-3,
  trainLimit: 2000,
  validLimit: 500,
  testLimit: 1000,
};

const PRESETS: Record<DatasetName, Record<PresetName, Hyperparameters>> = {
  mnist: { paper: PAPER_MNIST, quick: QUICK_MNIST, smoke: SMOKE_MNIST },
  // Not in the paper: the MNIST recipe on Fashion-MNIST (same format and size).
  'fashion-mnist': {
    paper: { ...PAPER_MNIST, dataset: 'fashion-mnist' },
    quick: { ...QUICK_MNIST, dataset: 'fashion-mnist' },
    smoke: { ...SMOKE_MNIST, dataset: 'fashion-mnist' },
  },
};

export function preset(dataset: string, name: string): Hyperparameters {
  if (!DATASETS.includes(dataset as DatasetName)) {
    throw new Error(`unknown dataset '${dataset}' (use ${DATASETS.join(', ')})`);
  }
  if (!PRESET_NAMES.includes(name as PresetName)) {
    throw new Error(`unknown preset '${name}' (use ${PRESET_NAMES.join(', ')})`);
  }
  return structuredClone(PRESETS[dataset as DatasetName][name as PresetName]);
}

/** Throws a clear error for any impossible value; returns `hp` for chaining. */
export function validateHyperparameters(hp: Hyperparameters): Hyperparameters {
  const fail = (msg: string): never => {
    throw new Error(`invalid hyperparameters: ${msg}`);
  };
  const positiveInt = (v: number, what: string) => (Number.isInteger(v) && v > 0) || fail(`${what} must be a positive integer, got ${v}`);
  const nonNegInt = (v: number, what: string) => (Number.isInteger(v) && v >= 0) || fail(`${what} must be a non-negative integer, got ${v}`);
  if (!DATASETS.includes(hp.dataset)) fail(`unknown dataset '${hp.dataset}' (use ${DATASETS.join(', ')})`);
  if (!Array.isArray(hp.hiddenUnits) || hp.hiddenUnits.length === 0) fail('hiddenUnits must list at least one layer');
  hp.hiddenUnits.forEach((u, i) => positiveInt(u, `hiddenUnits[${i}]`));
  for (const k of ['dropoutInput', 'dropoutHidden'] as const) {
    if (!(hp[k] >= 0 && hp[k] < 1)) fail(`${k} must be in [0, 1), got ${hp[k]}`);
  }
  positiveInt(hp.batchSize, 'batchSize');
  positiveInt(hp.epochs, 'epochs');
  if (!(hp.lrStart > 0 && Number.isFinite(hp.lrStart))) fail(`lrStart must be a positive number, got ${hp.lrStart}`);
  if (!(hp.lrEnd > 0 && Number.isFinite(hp.lrEnd))) fail(`lrEnd must be a positive number, got ${hp.lrEnd}`);
  if (!OPTIMIZERS.includes(hp.optimizer)) fail(`optimizer must be one of ${OPTIMIZERS.join(', ')}, got '${hp.optimizer}'`);
  if (hp.batchNorm !== 'standard' && hp.batchNorm !== 'shift') fail(`batchNorm must be 'standard' or 'shift', got '${hp.batchNorm}'`);
  if (hp.binarization !== 'deterministic' && hp.binarization !== 'stochastic') {
    fail(`binarization must be 'deterministic' or 'stochastic', got '${hp.binarization}'`);
  }
  if (typeof hp.glorotLrScale !== 'boolean') fail(`glorotLrScale must be true or false`);
  if (!(hp.H > 0 && Number.isFinite(hp.H))) fail(`H must be a positive number, got ${hp.H}`);
  nonNegInt(hp.trainLimit, 'trainLimit');
  nonNegInt(hp.validLimit, 'validLimit');
  nonNegInt(hp.testLimit, 'testLimit');
  if (!Number.isInteger(hp.seed)) fail(`seed must be an integer, got ${hp.seed}`);
  return hp;
}
