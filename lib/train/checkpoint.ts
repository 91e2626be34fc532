/**
 * Training checkpoints in the project's checksummed container (lib/io/container.ts), written
 * atomically (lib/io/atomicWrite.ts). A run folder holds:
 *   checkpoint.bnn       the latest state: weights, optimizer moments, history, position in the epoch
 *   checkpoint.prev.bnn  the one before it, to roll back to when the latest is damaged
 *   best.bnn             the weights of the best-validation epoch, the model a run reports and exports
 * Loading checks the checksums, that every value is finite, and that the header agrees with itself
 * and with the hyperparameters, so a damaged or edited checkpoint is refused rather than resumed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../io/atomicWrite';
import { readDataFile } from '../data/readFile';
import { decodeContainer, encodeContainer, type ContainerKind } from '../io/container';
import type { BinaryNetOptimizer, OptimizerState, Param } from '../optim/optimizers';
import type { Hyperparameters } from '../presets';
import type { EpochRecord } from './trainer';

export const CHECKPOINT_FILE = 'checkpoint.bnn';
export const PREVIOUS_CHECKPOINT_FILE = 'checkpoint.prev.bnn';
export const BEST_FILE = 'best.bnn';

const KIND: ContainerKind = { magic: 'BNNCKPT', version: 2, what: 'checkpoint' };

export interface TensorRecord {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface Checkpoint<Meta> {
  meta: Meta;
  tensors: TensorRecord[];
}

/** The training state besides the tensors. */
export interface TrainingMeta {
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

/** What best.bnn records besides the weights. */
export interface BestMeta {
  hyperparameters: Hyperparameters;
  epoch: number;
  validError: number;
  testError: number;
}

export function encodeCheckpoint<Meta>(file: string, checkpoint: Checkpoint<Meta>): Uint8Array {
  return encodeContainer(KIND, checkpoint.meta, checkpoint.tensors, file);
}

export function writeCheckpoint<Meta>(file: string, checkpoint: Checkpoint<Meta>): void {
  writeFileAtomic(file, encodeCheckpoint(file, checkpoint));
}

/** Reads and verifies a checkpoint (checksums, sizes, finite values); errors name the file and tensor. */
export function readCheckpoint<Meta>(file: string): Checkpoint<Meta> {
  const { meta, arrays } = decodeContainer(KIND, readDataFile(file), file);
  const tensors = [...arrays.values()].map(({ name, shape, data }) => {
    if (!(data instanceof Float32Array)) throw new Error(`${file}: tensor ${name} is not float32`);
    return { name, shape, data };
  });
  return { meta: meta as Meta, tensors };
}

/** Keeps the current checkpoint as the previous one (a hard link: no copy), atomically. */
export function keepAsPrevious(file: string, previous: string): void {
  const tmp = `${previous}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  try {
    fs.linkSync(file, tmp);
  } catch {
    fs.copyFileSync(file, tmp); // file systems without hard links
  }
  fs.renameSync(tmp, previous);
}

// Weights are matched by position: tfjs makes variable names unique per process (kernel, kernel_1, …),
// so the same model built again has other names.
export function modelTensors(model: tf.LayersModel): TensorRecord[] {
  return model.weights.map((w, i) => ({
    name: `model/${i}/${w.originalName}`,
    shape: w.shape as number[],
    data: w.read().dataSync() as Float32Array,
  }));
}

function restoreModel(model: tf.LayersModel, tensors: Map<string, TensorRecord>, file: string): void {
  model.weights.forEach((w, i) => {
    const t = tensors.get(`model/${i}/${w.originalName}`);
    if (!t || t.shape.join() !== (w.shape as number[]).join()) {
      const found = t ? `, checkpoint has [${t.shape}]` : '';
      throw new Error(
        `${file}: checkpoint does not match the model (weight ${i}, ${w.originalName} [${w.shape}]${found})`,
      );
    }
  });
  model.weights.forEach((w, i) => {
    const t = tensors.get(`model/${i}/${w.originalName}`)!;
    w.write(tf.tensor(t.data, t.shape));
  });
}

function hyperparametersOf(meta: unknown, file: string): Hyperparameters {
  const hp = (meta as { hyperparameters?: unknown } | null)?.hyperparameters;
  if (typeof hp !== 'object' || hp === null) throw new Error(`${file}: the checkpoint header has no hyperparameters`);
  return hp as Hyperparameters;
}

/**
 * Loads a checkpoint's weights (checkpoint.bnn or best.bnn) into `model`, built from the same
 * hyperparameters (e.g. with `buildModel(checkpointHyperparameters(file), data)`); returns the
 * epochs it had completed.
 */
export function restoreModelFromCheckpoint(
  model: tf.LayersModel,
  file: string,
): { hyperparameters: Hyperparameters; epoch: number } {
  const ckpt = readCheckpoint<{ epoch: number }>(file);
  restoreModel(model, new Map(ckpt.tensors.map((t) => [t.name, t])), file);
  return { hyperparameters: hyperparametersOf(ckpt.meta, file), epoch: ckpt.meta.epoch };
}

/** Loads a run's best-validation weights (runDir/best.bnn) into `model`; returns which epoch they are. */
export function restoreBestWeights(model: tf.LayersModel, runDir: string): BestMeta {
  const file = path.join(runDir, BEST_FILE);
  const ckpt = readCheckpoint<BestMeta>(file);
  restoreModel(model, new Map(ckpt.tensors.map((t) => [t.name, t])), file);
  return ckpt.meta;
}

/** The hyperparameters a checkpoint was trained with. */
export function checkpointHyperparameters(file: string): Hyperparameters {
  return hyperparametersOf(readCheckpoint(file).meta, file);
}

function differingKeys(a: Hyperparameters, b: Hyperparameters): string[] {
  return (Object.keys(a) as (keyof Hyperparameters)[]).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/**
 * The header must describe a state this run can reach: same hyperparameters, `epoch` epochs in the
 * history, a batch inside the epoch, and one optimizer step per batch trained so far.
 */
function checkTrainingMeta(meta: TrainingMeta, hp: Hyperparameters, batchesPerEpoch: number, file: string): void {
  const diff = differingKeys(hyperparametersOf(meta, file), hp);
  if (diff.length) {
    const advice = 'use the same settings to resume, or a new run folder';
    throw new Error(`${file} was made with other hyperparameters (${diff.join(', ')}); ${advice}`);
  }
  const bad = (problem: string) => new Error(`${file}: inconsistent checkpoint header: ${problem}`);
  const { epoch, batch, history, optimizer, partial } = meta;
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > hp.epochs) {
    throw bad(`epoch ${epoch} is not in 0–${hp.epochs}`);
  }
  if (!Array.isArray(history) || history.length !== epoch || history.some((r, i) => r?.epoch !== i + 1)) {
    throw bad(
      `epoch ${epoch}, but the history lists epochs [${Array.isArray(history) ? history.map((r) => r?.epoch) : '?'}]`,
    );
  }
  if (!Number.isInteger(batch) || batch < 0 || batch >= batchesPerEpoch || (batch > 0 && epoch === hp.epochs)) {
    throw bad(`batch ${batch} is not in 0–${batchesPerEpoch - 1} of epoch ${epoch + 1}`);
  }
  const steps = epoch * batchesPerEpoch + batch;
  if (optimizer?.name !== hp.optimizer || optimizer.step !== steps) {
    const expected = `${hp.optimizer} at step ${steps} (${epoch} epochs of ${batchesPerEpoch} batches + ${batch})`;
    throw bad(`optimizer ${optimizer?.name} at step ${optimizer?.step}, expected ${expected}`);
  }
  if (![partial?.lossSum, partial?.errorSum, partial?.seconds, meta.wallSeconds].every(Number.isFinite)) {
    throw bad('non-finite running sums');
  }
}

/**
 * The training state as checkpoint bytes; non-finite weights or moments are refused here. `weights`
 * are the model's (`modelTensors`), read once by a caller that also writes them to best.bnn.
 */
export function encodeTrainingCheckpoint(
  file: string,
  weights: TensorRecord[],
  optimizer: BinaryNetOptimizer,
  meta: TrainingMeta,
): Uint8Array {
  const state = optimizer.getState();
  const tensors = [
    ...weights,
    ...state.moments.flatMap(({ m, v }, i) => [
      { name: `optimizer/m/${i}`, shape: [m.length], data: m },
      { name: `optimizer/v/${i}`, shape: [v.length], data: v },
    ]),
  ];
  return encodeCheckpoint(file, { meta: { ...meta, optimizer: { name: state.name, step: state.step } }, tensors });
}

/** Restores model and optimizer from a verified checkpoint; returns its training state. */
export function loadTrainingCheckpoint(
  file: string,
  model: tf.LayersModel,
  params: Param[],
  optimizer: BinaryNetOptimizer,
  hp: Hyperparameters,
  batchesPerEpoch: number,
): TrainingMeta {
  const ckpt = readCheckpoint<TrainingMeta>(file);
  checkTrainingMeta(ckpt.meta, hp, batchesPerEpoch, file);
  const byName = new Map(ckpt.tensors.map((t) => [t.name, t]));
  const moment = (name: string, size: number) => {
    const t = byName.get(name);
    if (!t) throw new Error(`${file}: tensor ${name} (optimizer state) is missing`);
    if (t.data.length !== size)
      throw new Error(`${file}: tensor ${name} has ${t.data.length} values, the parameter has ${size}`);
    return t.data;
  };
  const moments = params.map((p, i) => ({
    m: moment(`optimizer/m/${i}`, p.variable.size),
    v: moment(`optimizer/v/${i}`, p.variable.size),
  }));
  restoreModel(model, byName, file);
  optimizer.setState({ ...ckpt.meta.optimizer, moments });
  return ckpt.meta;
}
