/**
 * One experiment end to end, shared by `npm start`/`npm run train` and the notebooks: pick the
 * backend, load the data, build the model, train (resumable), write the run's metrics, history and
 * learning curves under results/<run>/, and regenerate the results table and figure. The run folder
 * (runs/<run>/) is locked and checked first, before the data is loaded (lib/train/runFolder.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { backendLabel, initBackend } from './backend';
import { registerFileSystemIO } from './io/fileSystem';
import { slice, type ImageSet, type SplitDataset } from './data/dataset';
import { getDataset } from './data/registry';
import { modelFilterRepetition } from './analysis/filterRepetition';
import { buildConvNet } from './models/convnet';
import { buildMlp } from './models/mlp';
import { preset, validateHyperparameters, type Hyperparameters } from './presets';
import { SCRATCH_RESULTS, whyNotCommitted } from './results/destination';
import { machineInfo } from './results/machine';
import { seedRunName, seedSpread, type SeedSpread } from './results/seeds';
import { buildMetrics, runName, writeRunFiles, type RunMetrics, readRunMetrics } from './results/metrics';
import { diagnosticsFigure, learningCurvesFigure } from './results/figures';
import { regenerateReport } from './results/report';
import { formatSummary, summarize } from './summary';
import { removeStaleTempFiles, writeFileAtomic } from './io/atomicWrite';
import {
  CHECKPOINT_FILE,
  readCheckpointMeta,
  restoreBestWeights,
  runIdentityOf,
  type BestMeta,
  type RunIdentity,
} from './train/checkpoint';
import { openRunFolder, type RunFolder } from './train/runFolder';
import type { EpochRecord } from './train/history';
import { train, type TrainResult } from './train/trainer';
import { saveFigure } from './plots/figure';

export interface ExperimentOptions {
  dataset: string;
  preset: string;
  overrides?: Partial<Hyperparameters>;
  /** Folder of the data set's files (default: the embedded/standard locations). */
  dataDir?: string;
  /** Name of the run: results/<run>/ and runs/<run>/ (default `<dataset>-<preset>`, `-custom` when overridden). */
  run?: string;
  /**
   * Where metrics, curves and the table go. Default: results/ for a named preset on the full data, unedited, run
   * to the end; runs/results/ (git-ignored) for any other run.
   */
  resultsDir?: string;
  /** Checkpoints live in `<runsDir>/<run>/` (git-ignored). */
  runsDir?: string;
  resume?: boolean;
  /** Resume from the checkpoint before the latest (`checkpoint.prev.bnn`), when the latest is damaged. */
  rollback?: boolean;
  /** Start afresh although runs/<run>/ holds a run (its files are kept aside until the first new checkpoint). */
  overwrite?: boolean;
  /** Stop (resumably) after this many epochs in this call. */
  stopAfter?: number;
  /**
   * The seed, when a series of seeds sets it (`runSeeds`): unlike an override it leaves the run a run of its
   * preset, so that a series of a named preset is recorded in results/.
   */
  seed?: number;
  /** The series of seeds this run belongs to (recorded in its metrics). */
  series?: string;
  progress?: 'bar' | 'lines' | 'none';
  log?: (line: string) => void;
  shouldStop?: () => boolean;
  /** Render figures (HTML always; PNG/SVG when Chromium is found). */
  figures?: boolean;
  command?: string;
}

export interface ExperimentResult {
  /** Null when no epoch completed (interrupted in the first epoch). */
  metrics: RunMetrics | null;
  result: TrainResult;
  /** The trained model with the best-validation epoch's weights (those saved in runs/<run>/model/). */
  model: tf.LayersModel;
  runDir: string;
}

/**
 * Resolves preset + overrides and validates them, before any work starts. Switching a ConvNet
 * preset to `arch: 'mlp'` drops its conv widths unless they are given too.
 */
export function resolveHyperparameters(
  dataset: string,
  presetName: string,
  overrides: Partial<Hyperparameters> = {},
): Hyperparameters {
  const base = preset(dataset, presetName);
  const convFilters = overrides.arch === 'mlp' && overrides.convFilters === undefined ? { convFilters: [] } : {};
  return validateHyperparameters({
    ...base,
    ...convFilters,
    ...overrides,
    dataset: dataset as Hyperparameters['dataset'],
  });
}

/** Applies the hyperparameters' train/valid/test limits. */
export function limitDataset(data: SplitDataset, hp: Hyperparameters): SplitDataset {
  const cap = (set: ImageSet, n: number) => (n > 0 && n < set.count ? slice(set, 0, n) : set);
  return {
    name: data.name,
    train: cap(data.train, hp.trainLimit),
    valid: cap(data.valid, hp.validLimit),
    test: cap(data.test, hp.testLimit),
  };
}

/**
 * The data set of `hp` with its limits applied. CIFAR-10 and SVHN are downloaded (MD5-verified) on
 * first use into `dataDir` (default data/<dataset>/); offline, the error says which files to put where.
 */
export async function loadDataset(
  hp: Hyperparameters,
  dataDir?: string,
  log?: (line: string) => void,
): Promise<SplitDataset> {
  const data = await getDataset(hp.dataset).load({ dir: dataDir, log, includeExtra: hp.svhnExtra });
  return limitDataset(data, hp);
}

/** Whether the model takes flat vectors (MLP) or images [n, H, W, C] (ConvNet). */
export function flattensInput(hp: Hyperparameters): boolean {
  return hp.arch === 'mlp';
}

export function buildModel(hp: Hyperparameters, data: SplitDataset): tf.Sequential {
  const { train: t } = data;
  const common = {
    numClasses: t.numClasses,
    hiddenUnits: hp.hiddenUnits,
    binarization: hp.binarization,
    batchNorm: hp.batchNorm,
    H: hp.H,
    seed: hp.seed,
  };
  if (hp.arch === 'convnet') {
    return buildConvNet({ ...common, inputShape: [t.height, t.width, t.channels], convFilters: hp.convFilters });
  }
  return buildMlp({
    ...common,
    inputDim: t.height * t.width * t.channels,
    dropoutInput: hp.dropoutInput,
    dropoutHidden: hp.dropoutHidden,
  });
}

/**
 * Loads the run's best-validation weights (runs/<run>/best.bnn) into `model` and saves it as the
 * run's model (runs/<run>/model/: tfjs model.json + weights.bin, for notebooks, the bench and the
 * binary engine) with about.json saying which epoch and which run it is: the model reported is the
 * model saved. best.bnn must be from `identity`'s run (default: the run of runs/<run>/checkpoint.bnn);
 * one from another run is refused naming both, and model/ is left as it was.
 */
export async function exportBestModel(
  model: tf.LayersModel,
  runDir: string,
  run: string,
  log: (line: string) => void = console.log,
  identity?: RunIdentity,
): Promise<BestMeta> {
  const checkpoint = path.join(runDir, CHECKPOINT_FILE);
  const expected = identity
    ? { identity, of: 'this training run' }
    : { identity: runIdentityOf(readCheckpointMeta(checkpoint), checkpoint), of: checkpoint };
  const best = restoreBestWeights(model, runDir, expected);
  const dir = path.join(runDir, 'model');
  registerFileSystemIO();
  await model.save(`file://${dir}`);
  const { epoch, validError, testError } = best;
  const about = { run, epoch, validError, testError, weights: 'best validation epoch', runIdentity: best.run };
  writeFileAtomic(path.join(dir, 'about.json'), JSON.stringify(about, null, 1) + '\n');
  log(`the saved model holds the weights of epoch ${epoch} (best validation error ${(100 * validError).toFixed(2)} %)`);
  return best;
}

export interface SeriesResult {
  /** One result per seed run so far (fewer than asked when one was stopped). */
  runs: ExperimentResult[];
  /** The test errors' mean ± std over the complete runs; null when fewer than one completed. */
  spread: SeedSpread | null;
}

/**
 * The same experiment with `count` seeds (the preset's seed, then the next ones), one after the other:
 * `<run>`, `<run>-seed2`, `<run>-seed3`, … each with its own run folder, all recorded as one series
 * (the table shows mean ± std). With `resume`, each seed whose folder holds a checkpoint continues (a
 * finished one is only recorded again) and the others start. A stop (Ctrl-C, `stopAfter`) ends the series.
 */
export async function runSeeds(o: ExperimentOptions, count: number): Promise<SeriesResult> {
  if (!(Number.isInteger(count) && count >= 1))
    throw new Error(`the number of seeds must be a positive integer, got ${count}`);
  const log = o.log ?? ((line: string) => console.log(line));
  const hp = resolveHyperparameters(o.dataset, o.preset, o.overrides ?? {});
  const series = o.run ?? runName(hp.dataset, o.preset, o.overrides ?? {});
  const seeds = Array.from({ length: count }, (_, k) => hp.seed + k);
  const runs: ExperimentResult[] = [];
  for (const seed of seeds) {
    const run = seedRunName(series, seed, hp.seed);
    const hasCheckpoint = fs.existsSync(path.join(o.runsDir ?? 'runs', run, CHECKPOINT_FILE));
    log(`seed ${seed} (${runs.length + 1} of ${count}): run ${run}`);
    const result = await runExperiment({ ...o, run, seed, series, resume: o.resume === true && hasCheckpoint });
    runs.push(result);
    if (result.result.epochsRun < hp.epochs) break;
  }
  const complete = runs.filter((r) => r.metrics && !r.metrics.incomplete).map((r) => r.metrics!.testError);
  const spread = complete.length ? seedSpread(complete) : null;
  if (spread) {
    const points = (x: number) => (100 * x).toFixed(2);
    const std = spread.n > 1 ? ` ± ${points(spread.std)}` : '';
    log(`series ${series}: test error ${points(spread.mean)}${std} % over ${spread.n} seed(s) (mean ± std)`);
  }
  return { runs, spread };
}

/**
 * A finished run recorded again keeps the date, machine (load included) and command of the recording it
 * repeats: they describe when and how it was trained, not when it was re-read. Only when that file is this
 * run's, with the same epochs and errors.
 */
function keepWhenItWasMade(metrics: RunMetrics, file: string): void {
  if (!fs.existsSync(file)) return;
  let previous: RunMetrics;
  try {
    previous = readRunMetrics(file);
  } catch {
    return;
  }
  const same = (['run', 'epochsRun', 'bestEpoch', 'testError', 'wallSeconds'] as const).every(
    (k) => previous[k] === metrics[k],
  );
  if (same) Object.assign(metrics, { date: previous.date, machine: previous.machine, command: previous.command });
}

export async function runExperiment(o: ExperimentOptions): Promise<ExperimentResult> {
  const log = o.log ?? ((line: string) => console.log(line));
  const overrides = o.overrides ?? {};
  const hp = resolveHyperparameters(o.dataset, o.preset, overrides);
  if (o.seed !== undefined) hp.seed = validateHyperparameters({ ...hp, seed: o.seed }).seed;
  const run = o.run ?? runName(hp.dataset, o.preset, overrides);
  const resultsDir = o.resultsDir ?? 'results';
  const runDir = path.join(o.runsDir ?? 'runs', run);
  // Locked and checked before the data is loaded: a refusal comes at once.
  const folder = openRunFolder(runDir, { ...o, log });
  try {
    return await experimentIn(o, { hp, run, resultsDir, runDir, log, overrides, folder });
  } finally {
    folder.release();
  }
}

async function experimentIn(
  o: ExperimentOptions,
  c: {
    hp: Hyperparameters;
    run: string;
    resultsDir: string;
    runDir: string;
    log: (line: string) => void;
    overrides: Partial<Hyperparameters>;
    folder: RunFolder;
  },
): Promise<ExperimentResult> {
  const { hp, run, resultsDir, runDir, log, overrides } = c;
  for (const dir of new Set([resultsDir, SCRATCH_RESULTS])) {
    for (const { file, pid } of removeStaleTempFiles(path.join(dir, run)))
      log(`removed ${file}, a temporary file left by process ${pid}, which is no longer running`);
  }
  await initBackend(undefined, log);
  // The name results record: for webgpu with its adapter, e.g. `webgpu (llvmpipe, software)`.
  const backend = backendLabel();
  const data = await loadDataset(hp, o.dataDir, log);
  log(`data: ${data.name}: ${data.train.count} train / ${data.valid.count} valid / ${data.test.count} test`);
  const model = buildModel(hp, data);
  log(formatSummary(summarize(model)));
  log(`hyperparameters (${o.preset}${Object.keys(overrides).length ? ' + overrides' : ''}): ${JSON.stringify(hp)}`);

  const result = await train(model, data, hp, {
    runDir,
    folder: c.folder,
    resume: o.resume,
    rollback: o.rollback,
    flatten: flattensInput(hp),
    progress: o.progress,
    log,
    shouldStop: o.shouldStop,
    maxEpochsThisCall: o.stopAfter,
  });
  if (result.epochsRun === 0) {
    log('no epoch completed yet: no results written');
    return { metrics: null, result, model, runDir };
  }
  const metrics = buildMetrics({
    run,
    preset: o.preset,
    overrides,
    hp,
    backend,
    result,
    counts: { train: data.train.count, valid: data.valid.count, test: data.test.count },
    machine: machineInfo(),
    command: o.command ?? '',
    series: o.series,
  });
  // results/ takes only a named preset on the full data, unedited, run to the end (lib/results/destination.ts);
  // any other run goes to runs/results/. A results folder given by the caller is used as given.
  const why = whyNotCommitted({ preset: o.preset, overrides, hp, complete: !metrics.incomplete });
  const recordDir = o.resultsDir ?? (why === null ? resultsDir : SCRATCH_RESULTS);
  if (!o.resultsDir && why !== null) log(`recording under ${recordDir}/, not results/: ${why}`);
  const outDir = path.join(recordDir, run);
  // A finished run resumed only to be recorded again (a series under --resume) trained nothing now.
  if (result.epochsTrained === 0 && !metrics.incomplete) keepWhenItWasMade(metrics, path.join(outDir, 'metrics.json'));
  writeRunFiles(outDir, metrics, result.history);
  const best = await exportBestModel(model, runDir, run, log, result.run);
  if (best.epoch !== result.bestEpoch) {
    log(`warning: the saved weights are epoch ${best.epoch}'s, the history's best is epoch ${result.bestEpoch}`);
  }
  if (hp.arch === 'convnet') {
    // The paper's filter-repetition count on the trained binary convs (notebook 06 explains it).
    const layers = await modelFilterRepetition(model);
    const weights = `best validation epoch (${best.epoch})`;
    writeFileAtomic(path.join(outDir, 'filter-repetition.json'), JSON.stringify({ weights, layers }, null, 1) + '\n');
    log(
      `unique binary 3×3 filter slices per input map: ` +
        `${layers.map((l) => `${l.layer} ${(100 * l.uniqueFraction).toFixed(1)} %`).join(', ')}`,
    );
  }
  log(
    `test error at best validation epoch ${metrics.bestEpoch}: ${(100 * metrics.testError).toFixed(2)} ` +
      `%  (${metrics.epochsRun} epochs, ${metrics.wallSeconds} s)`,
  );
  const saved = `the model of epoch ${best.epoch} in ${path.join(runDir, 'model')}`;
  log(`wrote ${path.join(outDir, 'metrics.json')} and history.json; ${saved}`);
  if (o.figures !== false && result.history.length) {
    const curves = await saveFigure(
      learningCurvesFigure(metrics, result.history as EpochRecord[]),
      path.join(outDir, 'learning-curves'),
    );
    const diagnostics = diagnosticsFigure(metrics, result.history);
    const weights = diagnostics && (await saveFigure(diagnostics, path.join(outDir, 'diagnostics')));
    const report = await regenerateReport(recordDir);
    const written = [
      curves.html,
      curves.png,
      curves.svg,
      weights?.html,
      weights?.png,
      report.figure.html,
      report.figure.png,
    ];
    log(
      `figures: ${written.filter(Boolean).join(', ')}${curves.skipped ? ` (images skipped: ${curves.skipped})` : ''}`,
    );
    log(`table: ${report.table}`);
  }
  return { metrics, result, model, runDir };
}
