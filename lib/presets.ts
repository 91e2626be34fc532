/**
 * The one source of truth for hyperparameters: the paper's, and smaller presets sized for a
 * 2-core machine. Shared by the CLI, the notebooks and the tests.
 */
import { CIFAR10_CONV_FILTERS, scaleWidths, SVHN_CONV_FILTERS } from './models/convnet';
import { BATCH_NORMS, type BatchNormKind } from './models/mlp';
import { OPTIMIZERS, type OptimizerName } from './optim/optimizers';
import { closestName } from './closestName';
import { addDataset, getDataset, type DatasetEntry } from './data/registry';
import { quantizerFor, quantizerNames, type Binarization } from './quantizers';
export const PRESET_NAMES = ['paper', 'paper-fast', 'quick', 'smoke', 'compare'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export const ARCHS = ['mlp', 'convnet'] as const;
export type Arch = (typeof ARCHS)[number];

export interface Hyperparameters {
  /** A registered data set (lib/data/registry.ts): mnist, fashion-mnist, cifar10, svhn, or one of yours. */
  dataset: string;
  /** The MNIST MLP or the CIFAR-10/SVHN ConvNet of the paper (lib/models). */
  arch: Arch;
  /**
   * ConvNet only (empty for the MLP): filters of each binary 3×3 conv, in blocks of two with a
   * 2×2 max-pool after each block (the paper's CIFAR-10: 128,128,256,256,512,512).
   */
  convFilters: number[];
  /** Units of each hidden binary FC layer (the paper: 3 × 4096 for the MLP, 2 × 1024 after the convs). */
  hiddenUnits: number[];
  dropoutInput: number;
  dropoutHidden: number;
  batchSize: number;
  epochs: number;
  /** Learning rate of the first epoch, decayed exponentially to `lrEnd` after `epochs`. */
  lrStart: number;
  lrEnd: number;
  /**
   * 'adam' (the paper's), 'shift_adamax' (its Algorithm 4), or 'bop' (Helwegen et al. 2019): Bop flips the
   * binary kernels' signs and Adam, with the learning-rate schedule above, trains everything else.
   */
  optimizer: OptimizerName;
  /** Bop only: adaptivity rate γ of the gradient's moving average in the first epoch, in (0, 1]. */
  bopGamma: number;
  /**
   * Bop only: γ after the last epoch is bopGamma × bopGammaDecay, decayed exponentially per epoch as the
   * learning rate is (1: constant). Helwegen et al.'s ×0.1 every 100 epochs is 0.1^(epochs / 100).
   */
  bopGammaDecay: number;
  /** Bop only: threshold τ ≥ 0; a binary weight flips where |m| > τ and sign(m) = sign(w). */
  bopThreshold: number;
  /** Scale binary weights' updates by 1 / sqrt(1.5 / (fan_in + fan_out)) as the Theano code. */
  glorotLrScale: boolean;
  batchNorm: BatchNormKind;
  /** 'deterministic' (the paper's results), 'stochastic', or any registered quantizer by name (lib/quantizers.ts). */
  binarization: Binarization;
  /** Latent weights are clipped to [−H, H]. */
  H: number;
  /** SVHN only: train on train + extra (the paper) or on train alone (about 9× less data). */
  svhnExtra: boolean;
  /** Use only the first N training / validation / test images (0 = all). */
  trainLimit: number;
  validLimit: number;
  testLimit: number;
  seed: number;
}

const PAPER_MNIST: Hyperparameters = {
  dataset: 'mnist',
  arch: 'mlp',
  convFilters: [],
  hiddenUnits: [4096, 4096, 4096],
  dropoutInput: 0.2,
  dropoutHidden: 0.5,
  batchSize: 100,
  epochs: 1000,
  lrStart: 0.003,
  lrEnd: 3e-7,
  optimizer: 'adam',
  // Bop's values of Helwegen et al.'s CIFAR-10 runs (unused by Adam).
  bopGamma: 1e-4,
  bopGammaDecay: 1,
  bopThreshold: 1e-8,
  glorotLrScale: true,
  batchNorm: 'standard',
  binarization: 'deterministic',
  H: 1,
  svhnExtra: true,
  trainLimit: 0,
  validLimit: 0,
  testLimit: 0,
  seed: 1,
};

/**
 * `quick`: the best test error reachable in about a quarter of an hour on 2 cores with the native backend.
 * The paper's recipe throughout, but 3 × 2048 units, dropout on the input only and the learning-rate decay
 * compressed into 24 epochs. Hidden dropout (0.5 in the paper) pays off only over many more epochs; input
 * dropout costs nothing at inference (pixels are not ±1 anyway). Narrower networks without dropout stalled
 * higher. Its measured runs: results/mnist-quick (and the seeds of its series).
 */
const QUICK_MNIST: Hyperparameters = {
  ...PAPER_MNIST,
  hiddenUnits: [2048, 2048, 2048],
  dropoutInput: 0.2,
  dropoutHidden: 0,
  epochs: 24,
  lrStart: 0.003,
  lrEnd: 3e-5,
};

/**
 * `paper-fast` (MNIST only): the paper's conditions (binary weights and activations everywhere but the
 * input, squared hinge loss, BatchNorm, Adam from 0.003 with the Glorot scale, batch 100, no augmentation,
 * the model chosen by validation error) with what fits 150 minutes on 2 cores: 3 × 2048 units, light
 * dropout (0.2 on the input, 0.3 after each hidden layer) and the learning-rate decay of the paper's 1000
 * epochs compressed into 180. The search that led here and what it reaches: results/search/README.md.
 */
const PAPER_FAST_MNIST: Hyperparameters = {
  ...PAPER_MNIST,
  hiddenUnits: [2048, 2048, 2048],
  dropoutInput: 0.2,
  dropoutHidden: 0.3,
  epochs: 180,
  lrStart: 0.003,
  lrEnd: 3e-6,
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

/**
 * `compare` (MNIST only): a network small enough to train several variants side by side in minutes
 * on 2 cores (the shift-based notebook runs it four times: standard/shift BatchNorm × Adam/shift-based
 * AdaMax), on all of MNIST (50,000 to train) so that differences are not noise of a small sample. 3 × 512
 * units, no dropout, 3 epochs. Its measured runs: results/mnist-compare-*.
 */
const COMPARE_MNIST: Hyperparameters = {
  ...PAPER_MNIST,
  hiddenUnits: [512, 512, 512],
  dropoutInput: 0,
  dropoutHidden: 0,
  epochs: 3,
  lrStart: 0.003,
  lrEnd: 3e-4,
};

/**
 * The paper's CIFAR-10 ConvNet, exactly: (2×128C3)−MP2−(2×256C3)−MP2−(2×512C3)−MP2−(2×1024FC)−10,
 * no dropout, batch 50, 500 epochs, Adam with LR 0.001 decayed to 3e-7.
 */
const PAPER_CIFAR10: Hyperparameters = {
  ...PAPER_MNIST,
  dataset: 'cifar10',
  arch: 'convnet',
  convFilters: CIFAR10_CONV_FILTERS,
  hiddenUnits: [1024, 1024],
  dropoutInput: 0,
  dropoutHidden: 0,
  batchSize: 50,
  epochs: 500,
  lrStart: 0.001,
  lrEnd: 3e-7,
};

/** The paper's SVHN ConvNet: half CIFAR-10's conv units, 200 epochs, LR 0.001 → 1e-6. */
const PAPER_SVHN: Hyperparameters = {
  ...PAPER_CIFAR10,
  dataset: 'svhn',
  convFilters: SVHN_CONV_FILTERS,
  epochs: 200,
  lrStart: 0.001,
  lrEnd: 1e-6,
};

/**
 * `quick` ConvNet: the paper's architecture at a quarter of its widths (width multiplier 0.25 for
 * the convs, 2 × 256 FC), 10 epochs with the decay compressed: hours, not days, on 2 cores. SVHN's quick
 * preset leaves the 531k extra images out (9× the cost). Step times: `npm run bench:train` (results/bench).
 */
const quickConvNet = (paper: Hyperparameters): Hyperparameters => ({
  ...paper,
  convFilters: scaleWidths(paper.convFilters, 0.25),
  hiddenUnits: [256, 256],
  epochs: 10,
  lrStart: 0.003,
  lrEnd: 3e-5,
});

/** `smoke` ConvNet: seconds on 2,000 images, for CI and the notebooks (on fixtures where data are absent). */
const smokeConvNet = (paper: Hyperparameters): Hyperparameters => ({
  ...paper,
  convFilters: [8, 8, 16, 16],
  hiddenUnits: [64],
  epochs: 2,
  lrStart: 0.003,
  lrEnd: 1e-3,
  trainLimit: 2000,
  validLimit: 500,
  testLimit: 1000,
});

/**
 * Fashion-MNIST (not in the paper). `paper`: the paper's CIFAR-10 ConvNet and schedule unchanged
 * on 28×28×1 images (28 → 14 → 7 → 3 after the three pools). `quick`: the ConvNet sized for 2 cores
 * and about an hour (see the preset's comment).
 */
const PAPER_FASHION: Hyperparameters = { ...PAPER_CIFAR10, dataset: 'fashion-mnist' };

/**
 * `quick` for Fashion-MNIST: the paper's ConvNet recipe with two conv blocks at a quarter of
 * CIFAR-10's widths, (2×32C3)−MP2−(2×64C3)−MP2−(2×256FC)−10, sized for minutes on the native backend
 * and about an hour on wasm (one thread), hence 6 epochs. Its measured runs: results/fashion-mnist-quick
 * (native) and results/fashion-mnist-quick-wasm.
 */
const QUICK_FASHION: Hyperparameters = {
  ...PAPER_FASHION,
  convFilters: scaleWidths(CIFAR10_CONV_FILTERS.slice(0, 4), 0.25),
  hiddenUnits: [256, 256],
  epochs: 6,
  lrStart: 0.003,
  lrEnd: 3e-5,
};

/** A data set's presets, by name; a data set needs at least `smoke` (CI and notebooks) and `quick`. */
export type DatasetPresets = Partial<Record<PresetName, Hyperparameters>>;

// `paper-fast` and `compare` exist for MNIST only.
const PRESETS: Record<string, DatasetPresets> = {
  mnist: {
    paper: PAPER_MNIST,
    'paper-fast': PAPER_FAST_MNIST,
    quick: QUICK_MNIST,
    smoke: SMOKE_MNIST,
    compare: COMPARE_MNIST,
  },
  'fashion-mnist': { paper: PAPER_FASHION, quick: QUICK_FASHION, smoke: smokeConvNet(PAPER_FASHION) },
  cifar10: { paper: PAPER_CIFAR10, quick: quickConvNet(PAPER_CIFAR10), smoke: smokeConvNet(PAPER_CIFAR10) },
  svhn: {
    paper: PAPER_SVHN,
    quick: { ...quickConvNet(PAPER_SVHN), svhnExtra: false },
    smoke: { ...smokeConvNet(PAPER_SVHN), svhnExtra: false },
  },
};

/** Every hyperparameter's name, in the order of `Hyperparameters`. */
export const HYPERPARAMETER_KEYS = Object.keys(PAPER_MNIST) as (keyof Hyperparameters)[];

/**
 * Registers a data set of your own with its presets: from then on `npm run train -- --dataset <name>`, the
 * notebooks and runExperiment take it. Each preset's `dataset` is set to the entry's name; `smoke` and
 * `quick` are required (CI and the notebooks' defaults), the others optional.
 */
export function registerDataset(entry: DatasetEntry & { presets: DatasetPresets }): void {
  const { presets, ...data } = entry;
  for (const required of ['smoke', 'quick'] as const)
    if (!presets[required]) throw new Error(`dataset '${entry.name}': a '${required}' preset is required`);
  const named: DatasetPresets = {};
  for (const [name, hp] of Object.entries(presets) as [PresetName, Hyperparameters][]) {
    if (!PRESET_NAMES.includes(name)) throw new Error(`dataset '${entry.name}': unknown preset name '${name}'`);
    named[name] = { ...hp, dataset: entry.name };
  }
  addDataset(data);
  PRESETS[entry.name] = named;
  for (const hp of Object.values(named)) validateHyperparameters(structuredClone(hp));
}

export function preset(dataset: string, name: string): Hyperparameters {
  getDataset(dataset);
  if (!PRESET_NAMES.includes(name as PresetName)) {
    throw new Error(`unknown preset '${name}' (use ${PRESET_NAMES.join(', ')})`);
  }
  const hp = PRESETS[dataset]?.[name as PresetName];
  if (!hp) {
    const defined = PRESET_NAMES.filter((p) => PRESETS[dataset]?.[p]);
    throw new Error(`preset '${name}' is not defined for ${dataset} (use ${defined.join(', ')})`);
  }
  return structuredClone(hp);
}

/**
 * A record's hyperparameters with the keys added since it was written (Bop's, 2026-12-07) at the paper
 * preset's values, which such a run did not use: checkpoints of earlier runs still resume.
 */
export function withAddedKeys(hp: Hyperparameters): Hyperparameters {
  return { ...PAPER_MNIST, ...hp };
}

/** Throws a clear error for any impossible value; returns `hp` for chaining. */
export function validateHyperparameters(hp: Hyperparameters): Hyperparameters {
  const fail = (msg: string): never => {
    throw new Error(`invalid hyperparameters: ${msg}`);
  };
  const positiveInt = (v: number, what: string) =>
    (Number.isInteger(v) && v > 0) || fail(`${what} must be a positive integer, got ${v}`);
  const nonNegInt = (v: number, what: string) =>
    (Number.isInteger(v) && v >= 0) || fail(`${what} must be a non-negative integer, got ${v}`);
  for (const key of Object.keys(hp).filter((k) => !(HYPERPARAMETER_KEYS as string[]).includes(k))) {
    const suggestion = closestName(key, HYPERPARAMETER_KEYS);
    const hint = suggestion ? ` (did you mean '${suggestion}'?)` : '';
    fail(`unknown hyperparameter '${key}'${hint}; valid: ${HYPERPARAMETER_KEYS.join(', ')}`);
  }
  try {
    getDataset(hp.dataset);
  } catch (err) {
    fail((err as Error).message);
  }
  if (!ARCHS.includes(hp.arch)) fail(`arch must be one of ${ARCHS.join(', ')}, got '${hp.arch}'`);
  if (!Array.isArray(hp.convFilters)) fail('convFilters must be a list');
  hp.convFilters.forEach((f, i) => positiveInt(f, `convFilters[${i}]`));
  if (hp.arch === 'convnet') {
    if (hp.convFilters.length === 0) fail('a convnet needs convFilters (at least one conv layer)');
    // 2×2 pools halve the image once per block of two convs; every data set here is 28 or 32 pixels wide.
    if (hp.convFilters.length > 8)
      fail(`convFilters lists ${hp.convFilters.length} convs: at most 8 (4 pools) fit 28×28 images`);
    if (hp.dropoutInput !== 0 || hp.dropoutHidden !== 0)
      fail('the ConvNet has no dropout (as the paper): dropoutInput and dropoutHidden must be 0');
  } else if (hp.convFilters.length) fail(`convFilters applies to arch 'convnet' only (arch is '${hp.arch}')`);
  if (!Array.isArray(hp.hiddenUnits) || (hp.arch === 'mlp' && hp.hiddenUnits.length === 0))
    fail('hiddenUnits must list at least one layer');
  hp.hiddenUnits.forEach((u, i) => positiveInt(u, `hiddenUnits[${i}]`));
  for (const k of ['dropoutInput', 'dropoutHidden'] as const) {
    if (!(hp[k] >= 0 && hp[k] < 1)) fail(`${k} must be in [0, 1), got ${hp[k]}`);
  }
  positiveInt(hp.batchSize, 'batchSize');
  positiveInt(hp.epochs, 'epochs');
  if (!(hp.lrStart > 0 && Number.isFinite(hp.lrStart))) fail(`lrStart must be a positive number, got ${hp.lrStart}`);
  if (!(hp.lrEnd > 0 && Number.isFinite(hp.lrEnd))) fail(`lrEnd must be a positive number, got ${hp.lrEnd}`);
  if (!OPTIMIZERS.includes(hp.optimizer))
    fail(`optimizer must be one of ${OPTIMIZERS.join(', ')}, got '${hp.optimizer}'`);
  if (!(hp.bopGamma > 0 && hp.bopGamma <= 1)) fail(`bopGamma (Bop's γ) must be in (0, 1], got ${hp.bopGamma}`);
  if (!(hp.bopGammaDecay > 0 && hp.bopGammaDecay <= 1))
    fail(`bopGammaDecay (γ's decay over the run) must be in (0, 1], got ${hp.bopGammaDecay}`);
  if (!(hp.bopThreshold >= 0 && Number.isFinite(hp.bopThreshold)))
    fail(`bopThreshold (Bop's τ) must be a finite number ≥ 0, got ${hp.bopThreshold}`);
  if (!BATCH_NORMS.includes(hp.batchNorm))
    fail(`batchNorm must be one of ${BATCH_NORMS.map((b) => `'${b}'`).join(', ')}, got '${hp.batchNorm}'`);
  const binarizations = ['deterministic', 'stochastic', ...quantizerNames()];
  if (!binarizations.includes(hp.binarization)) {
    fail(`binarization must be one of ${binarizations.map((b) => `'${b}'`).join(', ')}, got '${hp.binarization}'`);
  }
  if (hp.optimizer === 'bop' && quantizerFor(hp.binarization).precision !== 1)
    fail(`optimizer 'bop' flips signs: it needs a 1-bit binarization, not '${hp.binarization}'`);
  if (typeof hp.glorotLrScale !== 'boolean') fail(`glorotLrScale must be true or false`);
  if (!(hp.H > 0 && Number.isFinite(hp.H))) fail(`H must be a positive number, got ${hp.H}`);
  if (typeof hp.svhnExtra !== 'boolean') fail('svhnExtra must be true or false');
  nonNegInt(hp.trainLimit, 'trainLimit');
  nonNegInt(hp.validLimit, 'validLimit');
  nonNegInt(hp.testLimit, 'testLimit');
  if (!Number.isInteger(hp.seed)) fail(`seed must be an integer, got ${hp.seed}`);
  return hp;
}
