/**
 * The training loop shared by the CLI and the notebooks (paper Algorithm 1): forward with binary
 * weights and activations, squared hinge loss, straight-through gradients, Adam (or shift-based
 * AdaMax) on the latent real weights with the per-layer Glorot scale, clipping to [−H, H], the
 * learning rate decayed once per epoch. After each epoch: validation and test error, the history
 * file and an atomic checkpoint; the reported test error is the one at the best validation epoch.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { batchTensors, slice, type ImageSet, type SplitDataset } from '../data/dataset';
import { classificationError, squaredHinge } from '../loss';
import type { Hyperparameters } from '../presets';
import { BinaryNetOptimizer, modelParams, type OptimizerState, type Param } from '../optim/optimizers';
import { lrAtEpoch } from '../optim/schedule';
import { readCheckpoint, writeCheckpoint, type TensorRecord } from './checkpoint';
import { progressReporter } from './progress';
import { seededRandom } from '../random';

export interface EpochRecord {
  epoch: number;
  lr: number;
  trainLoss: number;
  /** Error on the training batches as they were trained (with dropout), as the reference code. */
  trainError: number;
  validError: number;
  testError: number;
  seconds: number;
}

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
}

export interface TrainOptions {
  /** Folder of `checkpoint.bnn` and `history.json`. */
  runDir: string;
  /** Continue from `runDir/checkpoint.bnn` when it exists. */
  resume?: boolean;
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

interface CheckpointMeta {
  hyperparameters: Hyperparameters;
  /** Epochs fully done. */
  epoch: number;
  /** Batches of epoch `epoch + 1` already done (non-zero only after an interruption). */
  batch: number;
  partial: { lossSum: number; errorSum: number; seconds: number };
  history: EpochRecord[];
  optimizer: Omit<OptimizerState, 'moments'>;
  wallSeconds: number;
}

export const CHECKPOINT_FILE = 'checkpoint.bnn';

/** Applies the hyperparameters' train/valid/test limits. */
export function limitDataset(data: SplitDataset, hp: Hyperparameters): SplitDataset {
  const cap = (set: ImageSet, n: number) => (n > 0 && n < set.count ? slice(set, 0, n) : set);
  return { name: data.name, train: cap(data.train, hp.trainLimit), valid: cap(data.valid, hp.validLimit), test: cap(data.test, hp.testLimit) };
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

/** Classification error of `model` (inference mode) on a whole set. */
export function evaluate(model: tf.LayersModel, set: ImageSet, flatten: boolean, batchSize = 500): number {
  if (set.count === 0) return NaN;
  let wrong = 0;
  for (let start = 0; start < set.count; start += batchSize) {
    const n = Math.min(batchSize, set.count - start);
    const indices = Array.from({ length: n }, (_, i) => start + i);
    wrong += tf.tidy(() => {
      const { x, y } = batchTensors(set, indices, flatten);
      return classificationError(y, model.predict(x) as tf.Tensor) * n;
    });
  }
  return wrong / set.count;
}

/** Index of the best validation error, ties going to the later epoch. */
export function bestEpochIndex(history: EpochRecord[]): number {
  let best = -1;
  history.forEach((r, i) => {
    if (best < 0 || r.validError <= history[best].validError) best = i;
  });
  return best;
}

// Weights are matched by position: tfjs makes variable names unique per process (kernel, kernel_1, …),
// so the same model built again has other names.
function modelTensors(model: tf.LayersModel): TensorRecord[] {
  return model.weights.map((w, i) => ({ name: `model/${i}/${w.originalName}`, shape: w.shape as number[], data: w.read().dataSync() as Float32Array }));
}

function restoreModel(model: tf.LayersModel, tensors: Map<string, TensorRecord>, file: string): void {
  model.weights.forEach((w, i) => {
    const t = tensors.get(`model/${i}/${w.originalName}`);
    if (!t || t.shape.join() !== (w.shape as number[]).join()) {
      throw new Error(`${file}: checkpoint does not match the model (weight ${i}, ${w.originalName} [${w.shape}])`);
    }
    w.write(tf.tensor(t.data, t.shape));
  });
}

/**
 * Loads a training checkpoint's weights into `model` (built from the same hyperparameters, e.g.
 * with `buildModel(checkpointHyperparameters(file), data)`); returns the epochs it had completed.
 */
export function restoreModelFromCheckpoint(model: tf.LayersModel, file: string): { hyperparameters: Hyperparameters; epoch: number } {
  const ckpt = readCheckpoint<CheckpointMeta>(file);
  restoreModel(model, new Map(ckpt.tensors.map((t) => [t.name, t])), file);
  return { hyperparameters: ckpt.meta.hyperparameters, epoch: ckpt.meta.epoch };
}

/** The hyperparameters a checkpoint was trained with. */
export function checkpointHyperparameters(file: string): Hyperparameters {
  return readCheckpoint<CheckpointMeta>(file).meta.hyperparameters;
}

function differingKeys(a: Hyperparameters, b: Hyperparameters): string[] {
  return (Object.keys(a) as (keyof Hyperparameters)[]).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/** Where `trainStep` is: its `mark` callback is called as each phase begins. */
export type StepPhase = 'forward' | 'backward' | 'optimizer' | 'readout';

/**
 * One training step on a batch (what `train` does per batch): forward with training=true, squared
 * hinge loss, gradients of every parameter (straight-through through the signs), then the
 * optimizer's update (Glorot scale and clip). Returns the batch's loss and error.
 * `mark` lets a profiler attribute time to phases; it does not change the computation.
 */
export function trainStep(
  model: tf.LayersModel,
  params: Param[],
  optimizer: BinaryNetOptimizer,
  x: tf.Tensor,
  y: tf.Tensor,
  lr: number,
  mark?: (phase: StepPhase) => void,
): { loss: number; error: number } {
  return tf.tidy(() => {
    let scores: tf.Tensor | null = null;
    mark?.('forward');
    const { value, grads } = tf.variableGrads(() => {
      // Kept out of variableGrads' own scope so the error can be read after the update; disposed below.
      scores = tf.keep(model.apply(x, { training: true }) as tf.Tensor);
      const loss = squaredHinge(y, scores);
      mark?.('backward');
      return loss;
    }, params.map((p) => p.variable));
    mark?.('optimizer');
    optimizer.apply(params.map((p) => grads[p.variable.name]), lr);
    mark?.('readout');
    const result = { loss: value.dataSync()[0], error: classificationError(y, scores!) };
    scores!.dispose();
    return result;
  });
}

export async function train(model: tf.LayersModel, data: SplitDataset, hp: Hyperparameters, options: TrainOptions): Promise<TrainResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const progress = progressReporter(options.progress ?? 'lines', log);
  const params = modelParams(model, hp.glorotLrScale);
  const optimizer = new BinaryNetOptimizer(hp.optimizer, params);
  const checkpointFile = path.join(options.runDir, CHECKPOINT_FILE);
  fs.mkdirSync(options.runDir, { recursive: true });

  let meta: CheckpointMeta = {
    hyperparameters: hp,
    epoch: 0,
    batch: 0,
    partial: { lossSum: 0, errorSum: 0, seconds: 0 },
    history: [],
    optimizer: { name: hp.optimizer, step: 0 },
    wallSeconds: 0,
  };
  if (options.resume && fs.existsSync(checkpointFile)) {
    const ckpt = readCheckpoint<CheckpointMeta>(checkpointFile);
    const diff = differingKeys(ckpt.meta.hyperparameters, hp);
    if (diff.length) throw new Error(`${checkpointFile} was made with other hyperparameters (${diff.join(', ')}); use the same settings to resume, or a new run folder`);
    const byName = new Map(ckpt.tensors.map((t) => [t.name, t]));
    restoreModel(model, byName, checkpointFile);
    optimizer.setState({
      ...ckpt.meta.optimizer,
      moments: params.map((_, i) => {
        const m = byName.get(`optimizer/m/${i}`);
        const v = byName.get(`optimizer/v/${i}`);
        if (!m || !v) throw new Error(`${checkpointFile}: optimizer state is missing`);
        return { m: m.data, v: v.data };
      }),
    });
    meta = ckpt.meta;
    log(`resumed from ${checkpointFile}: ${meta.epoch} epochs${meta.batch ? ` and ${meta.batch} batches` : ''} done`);
  }

  const save = () => {
    const state = optimizer.getState();
    const tensors = [
      ...modelTensors(model),
      ...state.moments.flatMap(({ m, v }, i) => [
        { name: `optimizer/m/${i}`, shape: [m.length], data: m },
        { name: `optimizer/v/${i}`, shape: [v.length], data: v },
      ]),
    ];
    writeCheckpoint(checkpointFile, { meta: { ...meta, optimizer: { name: state.name, step: state.step } }, tensors });
    fs.writeFileSync(path.join(options.runDir, 'history.json'), JSON.stringify(meta.history, null, 1) + '\n');
  };

  const { train: trainSet } = data;
  const batches = Math.ceil(trainSet.count / hp.batchSize);
  let interrupted = false;
  let epochsThisCall = 0;
  while (meta.epoch < hp.epochs && !interrupted) {
    if (options.maxEpochsThisCall !== undefined && epochsThisCall >= options.maxEpochsThisCall) break;
    const epoch = meta.epoch + 1;
    const lr = lrAtEpoch(meta.epoch, hp.lrStart, hp.lrEnd, hp.epochs);
    const order = shuffledIndices(trainSet.count, hp.seed * 7919 + epoch);
    const started = performance.now();
    const secondsBefore = meta.partial.seconds;
    progress.startEpoch(epoch, hp.epochs, batches, meta.batch);
    for (let b = meta.batch; b < batches; b++) {
      const indices = order.subarray(b * hp.batchSize, Math.min((b + 1) * hp.batchSize, trainSet.count));
      const { loss, error } = tf.tidy(() => {
        const { x, y } = batchTensors(trainSet, indices, options.flatten);
        return trainStep(model, params, optimizer, x, y, lr);
      });
      meta.partial.lossSum += loss * indices.length;
      meta.partial.errorSum += error * indices.length;
      meta.batch = b + 1;
      progress.batch(b + 1, meta.partial.lossSum / Math.min(meta.batch * hp.batchSize, trainSet.count), meta.partial.errorSum / Math.min(meta.batch * hp.batchSize, trainSet.count));
      // Yield to the event loop so Ctrl-C and the progress bar get their turn.
      await new Promise((resolve) => setImmediate(resolve));
      if (options.shouldStop?.() && meta.batch < batches) {
        meta.partial.seconds = secondsBefore + (performance.now() - started) / 1000;
        meta.wallSeconds += (performance.now() - started) / 1000;
        save();
        progress.endEpoch(`interrupted in epoch ${epoch} after ${meta.batch}/${batches} batches; checkpoint saved to ${checkpointFile}`);
        interrupted = true;
        break;
      }
    }
    if (interrupted) break;
    const validError = evaluate(model, data.valid, options.flatten);
    const testError = evaluate(model, data.test, options.flatten);
    const seconds = secondsBefore + (performance.now() - started) / 1000;
    const record: EpochRecord = {
      epoch,
      lr,
      trainLoss: meta.partial.lossSum / trainSet.count,
      trainError: meta.partial.errorSum / trainSet.count,
      validError,
      testError,
      seconds,
    };
    meta.history.push(record);
    meta.wallSeconds += (performance.now() - started) / 1000;
    meta.epoch = epoch;
    meta.batch = 0;
    meta.partial = { lossSum: 0, errorSum: 0, seconds: 0 };
    save();
    epochsThisCall++;
    const best = meta.history[bestEpochIndex(meta.history)];
    progress.endEpoch(
      `epoch ${String(epoch).padStart(String(hp.epochs).length)}/${hp.epochs}  lr ${lr.toExponential(2)}  loss ${record.trainLoss.toFixed(4)}  ` +
        `train ${(100 * record.trainError).toFixed(2)}%  valid ${(100 * validError).toFixed(2)}%  test ${(100 * testError).toFixed(2)}%  ` +
        `(best valid ${(100 * best.validError).toFixed(2)}% @${best.epoch}: test ${(100 * best.testError).toFixed(2)}%)  ${seconds.toFixed(1)} s`,
    );
    options.onEpoch?.(record);
    if (options.shouldStop?.()) interrupted = meta.epoch < hp.epochs;
  }
  optimizer.dispose();
  const bestIndex = bestEpochIndex(meta.history);
  const best = meta.history[bestIndex];
  return {
    history: meta.history,
    epochsRun: meta.epoch,
    bestEpoch: best?.epoch ?? 0,
    bestValidError: best?.validError ?? NaN,
    testError: best?.testError ?? NaN,
    wallSeconds: meta.wallSeconds,
    interrupted,
  };
}
