/**
 * binarynet-ts: Binarized Neural Networks (Courbariaux et al., 2016) in TypeScript.
 * Importing this module registers the custom layers for serialization and `file://` model IO.
 */
import { registerFileSystemIO } from './io/fileSystem';

registerFileSystemIO();

export * as tf from '@tensorflow/tfjs';
export { initBackend, backendLabel, BACKENDS, type BackendName } from './backend';
export * from './quantizers';
export { ap2, ap2Scalar } from './shift';
export * from './layers';
export { squaredHinge, classificationError } from './loss';
export { BinaryNetOptimizer, modelParams, OPTIMIZERS, type OptimizerName, type Param } from './optim/optimizers';
export { lrDecay, lrAtEpoch } from './optim/schedule';
export { buildMlp, batchNorm, type MlpConfig } from './models/mlp';
export {
  buildConvNet,
  scaleWidths,
  poolsAfter,
  CIFAR10_CONV_FILTERS,
  SVHN_CONV_FILTERS,
  type ConvNetConfig,
} from './models/convnet';
export { filterRepetition, modelFilterRepetition, type FilterRepetition } from './analysis/filterRepetition';
export { writeCifar10Fixture, writeSvhnFixture, writeSvhnMat } from './data/fixtures';
export { summarize, formatSummary, type LayerSummary, type MacCounts } from './summary';
export { BinaryWeightMonitor, AT_CLIP_TOLERANCE, type LayerDiagnostics } from './train/diagnostics';
export * from './data/dataset';
export { getDataset, datasetNames, type DatasetEntry, type DatasetShape, type LoadOptions } from './data/registry';
export { parseIdx, readIdx, encodeIdx } from './data/idx';
export { loadMnist, loadFashionMnist, embeddedMnistDir, readIdxPair, FASHION_MNIST_DIRS } from './data/mnist';
export {
  preset,
  registerDataset,
  validateHyperparameters,
  PRESET_NAMES,
  type DatasetPresets,
  ARCHS,
  type Arch,
  type Hyperparameters,
  type PresetName,
} from './presets';
export { train, evaluate, shuffledIndices, type TrainResult, type TrainOptions } from './train/trainer';
export { bestEpochIndex, type EpochRecord } from './train/history';
export {
  restoreModelFromCheckpoint,
  restoreBestWeights,
  checkpointHyperparameters,
  CHECKPOINT_FILE,
  PREVIOUS_CHECKPOINT_FILE,
  BEST_FILE,
} from './train/checkpoint';
export {
  runExperiment,
  runSeeds,
  type SeriesResult,
  exportBestModel,
  resolveHyperparameters,
  loadDataset,
  limitDataset,
  buildModel,
  flattensInput,
  type ExperimentOptions,
  type ExperimentResult,
} from './experiment';
export { saveFigure, figurePng, figureHtml, findChromium, type Figure } from './plots/figure';
export {
  buildMetrics,
  writeRunFiles,
  collectRuns,
  readRunMetrics,
  collectRecordedRuns,
  type RunMetrics,
  type RecordedRun,
} from './results/metrics';
export { describeArchitecture, tableMarkdown } from './results/table';
export { learningCurvesFigure, diagnosticsFigure, errorRatesFigure, timeToAccuracyFigure } from './results/figures';
export { regenerateReport } from './results/report';
export { seedSpread, binomialStandardError, groupBySeries, seriesTestError, type SeedSpread } from './results/seeds';
export { PAPER_BNN_ROWS, PAPER_OTHER_ROWS } from './results/paper';
export { machineInfo } from './results/machine';
export { registerFileSystemIO } from './io/fileSystem';
export { loadCifar10, decodeCifarBatches, CIFAR10_CLASSES, type Cifar10Options } from './data/cifar10';
export { loadSvhn, readSvhnMat, svhnImages, pickPerClass, type SvhnOptions } from './data/svhn';
export { parseMat, readMatFile, requireVariable, MatFileError, type MatVariable } from './data/matFile';
export {
  ensureFiles,
  verifyFile,
  md5File,
  OfflineError,
  CIFAR10_FILES,
  SVHN_FILES,
  type DownloadOptions,
} from './data/download';
export { readTar } from './data/tar';
export { registerWasmGradientKernels, WASM_GRADIENT_KERNELS } from './tfjs/wasmConvGradients';
export { registerWasmMatMulTransposes } from './tfjs/wasmMatMulTranspose';
export * as kernels from './kernels';
export * as engine from './engine';
