/**
 * Training checkpoints in the project's checksummed container (lib/io/container.ts), written
 * atomically (lib/io/atomicWrite.ts). A run folder holds:
 *   checkpoint.bnn       the latest state: weights, optimizer moments, history, position in the epoch
 *   checkpoint.prev.bnn  the one before it, to roll back to when the latest is damaged
 *   best.bnn             the weights of the best-validation epoch, the model a run reports and exports
 * Loading checks the checksums, that every value is finite, and that the header agrees with itself
 * and with the hyperparameters, so a damaged or edited checkpoint is refused rather than resumed.
 * Every header carries the run's identity (`RunIdentity`: a random id made when the run starts, its
 * seed and a hash of its hyperparameters), so that a file from another run is recognised as such.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tempFileFor, writeFileAtomic } from '../io/atomicWrite';
import { readDataFile } from '../data/readFile';
import {
  containerHeaderLength,
  decodeContainer,
  decodeContainerMeta,
  encodeContainer,
  type ContainerKind,
} from '../io/container';
import type { BinaryNetOptimizer, OptimizerState, Param } from '../optim/optimizers';
import { withAddedKeys, type Hyperparameters } from '../presets';
import type { EpochRecord } from './history';

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

/**
 * Which run a file belongs to: made once when a run starts (not on resume) and written into every
 * checkpoint.bnn, checkpoint.prev.bnn, best.bnn and the exported model's about.json.
 */
export interface RunIdentity {
  /** 16 random hex digits. */
  id: string;
  seed: number;
  /** The first 16 hex digits of the SHA-256 of the hyperparameters (`hyperparametersHash`). */
  hyperparameters: string;
}

/** The training state besides the tensors. */
export interface TrainingMeta {
  run: RunIdentity;
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
  run: RunIdentity;
  hyperparameters: Hyperparameters;
  epoch: number;
  validError: number;
  testError: number;
}

/** Hyperparameters' JSON with the keys sorted, hashed: equal settings give equal hashes. */
export function hyperparametersHash(hp: Hyperparameters): string {
  const sorted = Object.fromEntries(Object.entries(hp).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
}

/** A new run's identity (random id, the seed, the hyperparameters' hash). */
export function newRunIdentity(hp: Hyperparameters): RunIdentity {
  return { id: randomBytes(8).toString('hex'), seed: hp.seed, hyperparameters: hyperparametersHash(hp) };
}

/** `run 3f…a1 (seed 1, hyperparameters 9c…04)`, for messages. */
export function describeRun(run: RunIdentity): string {
  return `run ${run.id} (seed ${run.seed}, hyperparameters ${run.hyperparameters})`;
}

export function sameRun(a: RunIdentity, b: RunIdentity): boolean {
  return a.id === b.id && a.seed === b.seed && a.hyperparameters === b.hyperparameters;
}

function isRunIdentity(r: unknown): r is RunIdentity {
  const x = r as RunIdentity;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.id === 'string' &&
    /^[0-9a-f]{16}$/.test(x.id) &&
    Number.isFinite(x.seed) &&
    typeof x.hyperparameters === 'string'
  );
}

/**
 * The run identity in a header's meta (of a checkpoint, best.bnn or about.json); a file without one
 * (written before binarynet-ts recorded run identities) or with a malformed one is refused with a message.
 */
export function runIdentityOf(meta: unknown, file: string): RunIdentity {
  const run = (meta as { run?: unknown } | null)?.run;
  if (run === undefined) {
    throw new Error(
      `${file} has no run identity (it was written before binarynet-ts recorded which run a file belongs to), ` +
        'so it cannot be checked against the other files of the run folder; start the run over ' +
        '(--overwrite keeps the old files aside until the first new checkpoint), or use a new run folder',
    );
  }
  if (!isRunIdentity(run)) throw new Error(`${file}: the header's run identity is malformed (${JSON.stringify(run)})`);
  return run;
}

/** Refuses `file` (whose run is `other`) unless it is from `run`, the run of `reference`; names both runs. */
export function checkSameRun(file: string, other: RunIdentity, reference: string, run: RunIdentity): void {
  if (sameRun(other, run)) return;
  throw new Error(
    `${file} is from another run: it belongs to ${describeRun(other)}, ${reference} to ${describeRun(run)}; ` +
      'the folder mixes two runs, nothing was changed: move the file that is not from this run away',
  );
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

/**
 * The header meta of a checkpoint or best.bnn, reading only the header (verified by its checksum),
 * not the tensors: cheap even for a checkpoint of hundreds of megabytes.
 */
export function readCheckpointMeta<Meta>(file: string): Meta {
  const fd = fs.openSync(file, 'r');
  try {
    const first = new Uint8Array(16);
    const got = fs.readSync(fd, first, 0, 16, 0);
    const length = containerHeaderLength(first.subarray(0, got));
    const bytes = new Uint8Array(Math.max(length, got));
    bytes.set(first.subarray(0, got));
    const more = length > got ? fs.readSync(fd, bytes, got, length - got, got) : 0;
    return decodeContainerMeta(KIND, bytes.subarray(0, got + more), file) as Meta;
  } finally {
    fs.closeSync(fd);
  }
}

/** Keeps the current checkpoint as the previous one (a hard link: no copy), atomically. */
export function keepAsPrevious(file: string, previous: string): void {
  const tmp = tempFileFor(previous);
  // Already the same file (a run killed after this step, before its checkpoint was written): a rename
  // between two links of one file does nothing and would leave the temporary link behind.
  const [a, b] = [fs.statSync(file), fs.statSync(previous, { throwIfNoEntry: false })];
  if (b && a.ino === b.ino && a.dev === b.dev) return;
  fs.rmSync(tmp, { force: true });
  try {
    try {
      fs.linkSync(file, tmp);
    } catch {
      fs.copyFileSync(file, tmp); // file systems without hard links
    }
    fs.renameSync(tmp, previous);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    const kept = fs.existsSync(previous) ? `the earlier ${path.basename(previous)} is kept unchanged` : '';
    const message = `${previous}: could not be written (${(err as Error).message})${kept ? `; ${kept}` : ''}`;
    throw new Error(message, { cause: err });
  }
}

// Weights are matched by position: tfjs makes variable names unique per process (kernel, kernel_1, …),
// so the same model built again has other names.
export async function modelTensors(model: tf.LayersModel): Promise<TensorRecord[]> {
  return Promise.all(
    model.weights.map(async (w, i) => ({
      name: `model/${i}/${w.originalName}`,
      shape: w.shape as number[],
      data: (await w.read().data()) as Float32Array,
    })),
  );
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

/**
 * Loads a run's best-validation weights (runDir/best.bnn) into `model`; returns which epoch they are.
 * With `run`, best.bnn must be from that run (it is refused, naming both runs, before any weight is loaded).
 */
export function restoreBestWeights(
  model: tf.LayersModel,
  runDir: string,
  run?: { identity: RunIdentity; of: string },
): BestMeta {
  const file = path.join(runDir, BEST_FILE);
  if (run) checkSameRun(file, runIdentityOf(readCheckpointMeta(file), file), run.of, run.identity);
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
  const run = runIdentityOf(meta, file);
  const stored = hyperparametersOf(meta, file);
  // A checkpoint written before a hyperparameter existed has it at its default (withAddedKeys).
  const diff = differingKeys(withAddedKeys(stored), hp);
  if (diff.length) {
    const advice = 'use the same settings to resume, or a new run folder';
    throw new Error(`${file} was made with other hyperparameters (${diff.join(', ')}); ${advice}`);
  }
  const bad = (problem: string) => new Error(`${file}: inconsistent checkpoint header: ${problem}`);
  // The identity hashes the hyperparameters as the header records them.
  if (run.seed !== hp.seed || run.hyperparameters !== hyperparametersHash(stored)) {
    const recorded = `seed ${stored.seed}, ${hyperparametersHash(stored)}`;
    throw bad(`${describeRun(run)} does not match its hyperparameters (${recorded})`);
  }
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
export async function encodeTrainingCheckpoint(
  file: string,
  weights: TensorRecord[],
  optimizer: BinaryNetOptimizer,
  meta: TrainingMeta,
): Promise<Uint8Array> {
  const state = await optimizer.getState();
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
