/**
 * The training loop shared by the CLI and the notebooks (paper Algorithm 1): forward with binary
 * weights and activations, squared hinge loss, straight-through gradients, Adam (or shift-based
 * AdaMax) on the latent real weights with the per-layer Glorot scale, clipping to [−H, H] (or Bop
 * flipping the binary weights' signs, Adam for the rest), the
 * learning rate decayed once per epoch (`trainStep`, one screen). The rest is bookkeeping in small
 * pieces: resume, one epoch of steps, evaluation, and after each epoch the best weights (best.bnn),
 * the history file and a verified, atomic checkpoint (the one before kept as checkpoint.prev.bnn).
 * The reported test error is the one at the best validation epoch, whose weights best.bnn holds.
 * The run folder is locked while `train` runs and must hold what is asked for (lib/train/runFolder.ts);
 * on resume, checkpoint.prev.bnn, best.bnn and model/ must be from the checkpoint's run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { batchTensors, type ImageSet, type SplitDataset } from '../data/dataset';
import { classificationErrorTensor, squaredHinge } from '../loss';
import type { Hyperparameters } from '../presets';
import { BinaryNetOptimizer, modelParams, type Param } from '../optim/optimizers';
import { lrAtEpoch } from '../optim/schedule';
import { writeFileAtomic } from '../io/atomicWrite';
import {
  BEST_FILE,
  CHECKPOINT_FILE,
  PREVIOUS_CHECKPOINT_FILE,
  checkSameRun,
  keepAsPrevious,
  loadTrainingCheckpoint,
  modelTensors,
  encodeTrainingCheckpoint,
  newRunIdentity,
  readCheckpointMeta,
  runIdentityOf,
  writeCheckpoint,
  type BestMeta,
  type RunIdentity,
  type TensorRecord,
  type TrainingMeta,
} from './checkpoint';
import { openRunFolder, type RunFolder } from './runFolder';
import { progressReporter, type ProgressReporter } from './progress';
import { seededRandom } from '../random';
import { BinaryWeightMonitor } from './diagnostics';
import { bestEpochIndex, type EpochRecord } from './history';

export interface TrainResult {
  history: EpochRecord[];
  epochsRun: number;
  bestEpoch: number;
  bestValidError: number;
  /** Test error at the best-validation epoch (ties: the later epoch), as the paper reports. */
  testError: number;
  wallSeconds: number;
  /** True when `shouldStop` ended the run early (a checkpoint was saved). */
  interrupted: boolean;
  /** Epochs completed by this call (0 for a finished run resumed: it is only read back). */
  epochsTrained: number;
  /** The run's identity, as its checkpoints and best.bnn record it. */
  run: RunIdentity;
}

export interface TrainOptions {
  /** Folder of `checkpoint.bnn`, `checkpoint.prev.bnn`, `best.bnn` and `history.json`. */
  runDir: string;
  /** Continue from `runDir/checkpoint.bnn` (an error, saying what the folder holds, when it does not exist). */
  resume?: boolean;
  /**
   * Start afresh even though `runDir` holds a run: its files are moved to `runDir/replaced/` and
   * deleted once the new run has written its first checkpoint. Without it a fresh start there is an error.
   */
  overwrite?: boolean;
  /** The run folder, already opened (locked and checked) by the caller, e.g. `runExperiment`; else `train` opens it. */
  folder?: RunFolder;
  /** Recorded in the run folder's lock (default: the process's command line). */
  command?: string;
  /** Continue from `runDir/checkpoint.prev.bnn`, the checkpoint before the latest (when that one is damaged). */
  rollback?: boolean;
  /** Whether the input is flattened (MLP) or kept as images (ConvNet). */
  flatten: boolean;
  progress?: 'bar' | 'lines' | 'none';
  log?: (line: string) => void;
  onEpoch?: (record: EpochRecord) => void;
  /** Polled after every batch; when it returns true a checkpoint is saved and training stops. */
  shouldStop?: () => boolean;
  /** Stop after this many epochs in this call (the run can be resumed). */
  maxEpochsThisCall?: number;
}

/** A seeded permutation (mulberry32 + Fisher–Yates): the same seed gives the same order on resume. */
export function shuffledIndices(n: number, seed: number): Uint32Array {
  const random = seededRandom(seed);
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

/**
 * Classification error of `model` (inference mode) on a whole set. The batches' errors are read
 * once, at the end and asynchronously: a GPU backend computes every batch before the one wait.
 */
export async function evaluate(
  model: tf.LayersModel,
  set: ImageSet,
  flatten: boolean,
  batchSize = 500,
): Promise<number> {
  if (set.count === 0) return NaN;
  const batches: { error: tf.Scalar; n: number }[] = [];
  try {
    for (let start = 0; start < set.count; start += batchSize) {
      const n = Math.min(batchSize, set.count - start);
      const indices = Array.from({ length: n }, (_, i) => start + i);
      const error = tf.tidy(() => {
        const { x, y } = batchTensors(set, indices, flatten);
        return classificationErrorTensor(y, model.predict(x) as tf.Tensor);
      });
      batches.push({ error, n });
    }
    let wrong = 0;
    for (const { error, n } of batches) wrong += (await error.data())[0] * n;
    return wrong / set.count;
  } finally {
    batches.forEach((b) => b.error.dispose());
  }
}

/** Where `trainStep` is: its `mark` callback is called as each phase begins. */
export type StepPhase = 'forward' | 'backward' | 'optimizer' | 'readout';

/**
 * One training step on a batch (what `train` does per batch): forward with training=true, squared
 * hinge loss, gradients of every parameter (straight-through through the signs), then the
 * optimizer's update (Glorot scale and clip). Returns the batch's loss and error, read
 * asynchronously (a GPU backend cannot read synchronously in Node; on the others it costs nothing).
 * `mark` lets a profiler attribute time to phases; it does not change the computation.
 */
export async function trainStep(
  model: tf.LayersModel,
  params: Param[],
  optimizer: BinaryNetOptimizer,
  x: tf.Tensor,
  y: tf.Tensor,
  lr: number,
  mark?: (phase: StepPhase) => void,
): Promise<{ loss: number; error: number }> {
  const [loss, error] = tf.tidy(() => {
    let scores: tf.Tensor | null = null;
    mark?.('forward');
    const { value, grads } = tf.variableGrads(
      () => {
        // Kept out of variableGrads' own scope so the error can be read after the update; disposed below.
        scores = tf.keep(model.apply(x, { training: true }) as tf.Tensor);
        const loss = squaredHinge(y, scores);
        mark?.('backward');
        return loss;
      },
      params.map((p) => p.variable),
    );
    mark?.('optimizer');
    optimizer.apply(
      params.map((p) => grads[p.variable.name]),
      lr,
    );
    mark?.('readout');
    const result = [value, classificationErrorTensor(y, scores!)];
    scores!.dispose();
    return result;
  });
  try {
    const [lossValue, errorValue] = await Promise.all([loss.data(), error.data()]);
    return { loss: lossValue[0], error: errorValue[0] };
  } finally {
    loss.dispose();
    error.dispose();
  }
}

/** Everything one call of `train` carries between its pieces. */
interface Run {
  model: tf.LayersModel;
  data: SplitDataset;
  hp: Hyperparameters;
  options: TrainOptions;
  log: (line: string) => void;
  progress: ProgressReporter;
  params: Param[];
  optimizer: BinaryNetOptimizer;
  batches: number;
  files: { checkpoint: string; previous: string; best: string; history: string };
  folder: RunFolder;
  state: TrainingMeta;
  /** The last checkpoint known to be good (written or verified by this call), if any. */
  lastGood: { file: string; epoch: number } | null;
  /** Signs of the binary weights at the end of the last epoch (or at the resume point). */
  monitor: BinaryWeightMonitor | null;
}

function freshState(hp: Hyperparameters): TrainingMeta {
  return {
    run: newRunIdentity(hp),
    hyperparameters: hp,
    epoch: 0,
    batch: 0,
    partial: { lossSum: 0, errorSum: 0, seconds: 0 },
    history: [],
    optimizer: { name: hp.optimizer, step: 0 },
    wallSeconds: 0,
  };
}

/**
 * Continues from the checkpoint (or, with `rollback`, the previous one), whose run the folder's other
 * files must share; a fresh run gets a new identity (the folder was checked by `openRunFolder`).
 */
function resumeOrStart(run: Run): void {
  const { options, files } = run;
  if (!(options.resume || options.rollback)) return;
  const source = options.rollback ? files.previous : files.checkpoint;
  try {
    run.state = loadTrainingCheckpoint(source, run.model, run.params, run.optimizer, run.hp, run.batches);
  } catch (err) {
    const hint =
      !options.rollback && fs.existsSync(files.previous)
        ? `; to continue from ${files.previous}, resume with rollback (--rollback)`
        : '';
    throw new Error(`${(err as Error).message}${hint}`, { cause: err });
  }
  checkOneRun(run, source);
  const { epoch, batch } = run.state;
  run.lastGood = { file: source, epoch };
  run.log(`resumed from ${source}: ${epoch} epochs${batch ? ` and ${batch} batches` : ''} done`);
}

/**
 * The folder's other files must be from the run of `source`: a file from another run is refused
 * naming both. A damaged sibling is left to the step that replaces it (a rollback's damaged checkpoint.bnn).
 */
function checkOneRun(run: Run, source: string): void {
  const { files } = run;
  const identity = run.state.run;
  for (const file of [files.checkpoint, files.previous, files.best]) {
    if (file === source || !fs.existsSync(file)) continue;
    let meta: unknown;
    try {
      meta = readCheckpointMeta(file);
    } catch {
      continue;
    }
    checkSameRun(file, runIdentityOf(meta, file), source, identity);
  }
  const about = path.join(run.options.runDir, 'model', 'about.json');
  if (fs.existsSync(about)) {
    let meta: unknown;
    try {
      meta = JSON.parse(fs.readFileSync(about, 'utf8'));
    } catch (err) {
      throw new Error(`${about}: not valid JSON (${(err as Error).message})`, { cause: err });
    }
    // about.json's `run` is the run's name; its identity is `runIdentity`.
    const other = runIdentityOf({ run: (meta as { runIdentity?: unknown } | null)?.runIdentity }, about);
    checkSameRun(about, other, source, identity);
  }
}

/** Stops the run: the files on disk are left as they are (the last good checkpoint stays). */
function stopRun(run: Run, problem: string): never {
  run.progress.abort();
  const kept = run.lastGood
    ? `the last good checkpoint ${run.lastGood.file} (epoch ${run.lastGood.epoch}) is kept`
    : 'no checkpoint was written';
  throw new Error(`training stopped: ${problem}; ${kept}`);
}

/**
 * Writes the checkpoint (the one it replaces becomes checkpoint.prev.bnn) and history.json. The
 * state is encoded first: non-finite weights or moments stop the run before any file changes.
 */
async function saveCheckpoint(run: Run, weights?: TensorRecord[]): Promise<void> {
  const { files } = run;
  let bytes: Uint8Array;
  try {
    bytes = await encodeTrainingCheckpoint(
      files.checkpoint,
      weights ?? (await modelTensors(run.model)),
      run.optimizer,
      run.state,
    );
  } catch (err) {
    return stopRun(run, (err as Error).message);
  }
  try {
    if (run.lastGood?.file === files.checkpoint) keepAsPrevious(files.checkpoint, files.previous);
    writeFileAtomic(files.checkpoint, bytes);
  } catch (err) {
    return stopRun(run, (err as Error).message);
  }
  run.lastGood = { file: files.checkpoint, epoch: run.state.epoch };
  try {
    writeFileAtomic(files.history, JSON.stringify(run.state.history, null, 1) + '\n');
  } catch (err) {
    return stopRun(run, (err as Error).message);
  }
  run.folder.dropReplaced();
}

/** The current weights as the run's best (best.bnn), with the epoch and errors they were chosen by. */
function saveBest(run: Run, record: EpochRecord, weights: TensorRecord[]): void {
  const meta: BestMeta = {
    run: run.state.run,
    hyperparameters: run.hp,
    epoch: record.epoch,
    validError: record.validError,
    testError: record.testError,
  };
  try {
    writeCheckpoint(run.files.best, { meta, tensors: weights });
  } catch (err) {
    stopRun(run, (err as Error).message);
  }
}

/**
 * Algorithm 1 over the epoch's remaining batches, in a seeded order. Returns false when `shouldStop`
 * interrupted it (after saving a checkpoint mid-epoch).
 */
async function runEpoch(run: Run, epoch: number, lr: number, started: number): Promise<boolean> {
  const { hp, state, options, batches } = run;
  const trainSet = run.data.train;
  const order = shuffledIndices(trainSet.count, hp.seed * 7919 + epoch);
  const secondsBefore = state.partial.seconds;
  run.progress.startEpoch(epoch, hp.epochs, batches, state.batch);
  for (let b = state.batch; b < batches; b++) {
    const indices = order.subarray(b * hp.batchSize, Math.min((b + 1) * hp.batchSize, trainSet.count));
    const { x, y } = batchTensors(trainSet, indices, options.flatten);
    let step: { loss: number; error: number };
    try {
      step = await trainStep(run.model, run.params, run.optimizer, x, y, lr);
    } finally {
      x.dispose();
      y.dispose();
    }
    const { loss, error } = step;
    if (!Number.isFinite(loss)) stopRun(run, `the loss is ${loss} in epoch ${epoch}, batch ${b + 1} (diverged)`);
    state.partial.lossSum += loss * indices.length;
    state.partial.errorSum += error * indices.length;
    state.batch = b + 1;
    const seen = Math.min(state.batch * hp.batchSize, trainSet.count);
    run.progress.batch(b + 1, state.partial.lossSum / seen, state.partial.errorSum / seen);
    // Yield to the event loop so Ctrl-C and the progress bar get their turn.
    await new Promise((resolve) => setImmediate(resolve));
    if (options.shouldStop?.() && state.batch < batches) {
      const seconds = (performance.now() - started) / 1000;
      state.partial.seconds = secondsBefore + seconds;
      state.wallSeconds += seconds;
      await saveCheckpoint(run);
      const where = `epoch ${epoch} after ${state.batch}/${batches} batches`;
      run.progress.endEpoch(`interrupted in ${where}; checkpoint saved to ${run.files.checkpoint}`);
      return false;
    }
  }
  return true;
}

/** Validation and test error after an epoch, and the epoch's record. */
async function evaluateEpoch(run: Run, epoch: number, lr: number, started: number): Promise<EpochRecord> {
  const { partial } = run.state;
  const count = run.data.train.count;
  return {
    epoch,
    lr,
    trainLoss: partial.lossSum / count,
    trainError: partial.errorSum / count,
    validError: await evaluate(run.model, run.data.valid, run.options.flatten),
    testError: await evaluate(run.model, run.data.test, run.options.flatten),
    seconds: partial.seconds + (performance.now() - started) / 1000,
    layers: await run.monitor!.epochEnd(),
  };
}

/** Bookkeeping at the end of an epoch: history, best weights, checkpoint, progress line. */
async function finishEpoch(run: Run, record: EpochRecord, started: number): Promise<void> {
  const { state, hp } = run;
  state.wallSeconds += (performance.now() - started) / 1000;
  record.elapsedSeconds = state.wallSeconds;
  state.history.push(record);
  state.epoch = record.epoch;
  state.batch = 0;
  state.partial = { lossSum: 0, errorSum: 0, seconds: 0 };
  const best = state.history[bestEpochIndex(state.history)];
  // Read from the model once: best.bnn and the checkpoint hold the same weights (37M floats for the MNIST MLP).
  const weights = await modelTensors(run.model);
  // best.bnn first: a crash between the two writes then reruns this epoch, which rewrites it.
  if (best === record) saveBest(run, record, weights);
  await saveCheckpoint(run, weights);
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const epochOf = `${String(record.epoch).padStart(String(hp.epochs).length)}/${hp.epochs}`;
  run.progress.endEpoch(
    `epoch ${epochOf}  lr ${record.lr.toExponential(2)}  loss ${record.trainLoss.toFixed(4)}  ` +
      `train ${pct(record.trainError)}  valid ${pct(record.validError)}  test ${pct(record.testError)}  ` +
      `(best valid ${pct(best.validError)} @${best.epoch}: test ${pct(best.testError)})  ` +
      `${record.seconds.toFixed(1)} s`,
  );
}

function trainResult(state: TrainingMeta, interrupted: boolean, epochsTrained: number): TrainResult {
  const best = state.history[bestEpochIndex(state.history)];
  return {
    history: state.history,
    epochsRun: state.epoch,
    bestEpoch: best?.epoch ?? 0,
    bestValidError: best?.validError ?? NaN,
    testError: best?.testError ?? NaN,
    wallSeconds: state.wallSeconds,
    interrupted,
    epochsTrained,
    run: state.run,
  };
}

/**
 * Trains `model` for `hp.epochs` epochs (resumably), one `trainStep` per batch, with the learning
 * rate decayed per epoch; after each epoch: validation and test error, best weights, checkpoint.
 */
export async function train(
  model: tf.LayersModel,
  data: SplitDataset,
  hp: Hyperparameters,
  options: TrainOptions,
): Promise<TrainResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const params = modelParams(model, hp.glorotLrScale);
  const file = (name: string) => path.join(options.runDir, name);
  const folder = options.folder ?? openRunFolder(options.runDir, { ...options, log });
  const run: Run = {
    model,
    data,
    hp,
    options,
    log,
    progress: progressReporter(options.progress ?? 'lines', log),
    params,
    optimizer: new BinaryNetOptimizer(hp.optimizer, params, {
      bop: { gamma: hp.bopGamma, threshold: hp.bopThreshold },
    }),
    batches: Math.ceil(data.train.count / hp.batchSize),
    files: {
      checkpoint: file(CHECKPOINT_FILE),
      previous: file(PREVIOUS_CHECKPOINT_FILE),
      best: file(BEST_FILE),
      history: file('history.json'),
    },
    folder,
    state: freshState(hp),
    lastGood: null,
    monitor: null,
  };
  try {
    resumeOrStart(run);
    // After a resume in mid-epoch, that epoch's flip ratio counts only the flips since the resume.
    run.monitor = await BinaryWeightMonitor.create(model);
    let interrupted = false;
    const epochAtStart = run.state.epoch;
    for (let epochsThisCall = 0; run.state.epoch < hp.epochs; epochsThisCall++) {
      if (options.maxEpochsThisCall !== undefined && epochsThisCall >= options.maxEpochsThisCall) break;
      const epoch = run.state.epoch + 1;
      const lr = lrAtEpoch(run.state.epoch, hp.lrStart, hp.lrEnd, hp.epochs);
      // Bop's γ follows the same per-epoch exponential decay, to bopGamma × bopGammaDecay.
      const gamma = lrAtEpoch(run.state.epoch, hp.bopGamma, hp.bopGamma * hp.bopGammaDecay, hp.epochs);
      if (hp.optimizer === 'bop') run.optimizer.setBopGamma(gamma);
      const started = performance.now();
      if (!(await runEpoch(run, epoch, lr, started))) {
        interrupted = true;
        break;
      }
      const record = await evaluateEpoch(run, epoch, lr, started);
      await finishEpoch(run, record, started);
      options.onEpoch?.(record);
      if (options.shouldStop?.()) {
        interrupted = run.state.epoch < hp.epochs;
        break;
      }
    }
    return trainResult(run.state, interrupted, run.state.epoch - epochAtStart);
  } finally {
    run.optimizer.dispose();
    if (!options.folder) folder.release();
  }
}
