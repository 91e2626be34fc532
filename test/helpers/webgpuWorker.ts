/**
 * The work of test/webgpu-backend.test.ts, in a process of its own: lavapipe compiles each shader on the
 * CPU, synchronously, on first use, and a vitest worker blocked that long misses vitest's RPC deadlines.
 *   step <case as JSON>: one training step on cpu, then on webgpu from the same weights: prints the errors
 *   train: a short run on webgpu, interrupted after its first epoch and resumed: prints the history
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendLabel, initBackend } from '../../lib/backend';
import { batchTensors, makeImageSet, type SplitDataset } from '../../lib/data/dataset';
import { getDataset } from '../../lib/data/registry';
import { buildModel, flattensInput, loadDataset, resolveHyperparameters } from '../../lib/experiment';
import { squaredHinge } from '../../lib/loss';
import { BinaryNetOptimizer, modelParams } from '../../lib/optim/optimizers';
import type { Hyperparameters } from '../../lib/presets';
import { seededRandom } from '../../lib/random';
import { train, trainStep } from '../../lib/train/trainer';
import { relativeError } from './nativeVsCpu';

/** One seeded random batch in `hp.dataset`'s shape (train = valid = test). */
function randomBatch(hp: Hyperparameters): SplitDataset {
  const s = getDataset(hp.dataset).shape;
  const random = seededRandom(7);
  const images = Uint8Array.from({ length: hp.batchSize * s.height * s.width * s.channels }, () => random() * 256);
  const labels = Uint8Array.from({ length: hp.batchSize }, () => Math.floor(random() * s.numClasses));
  const set = makeImageSet(images, labels, s, s.numClasses);
  return { name: 'random batch', train: set, valid: set, test: set };
}

interface StepResult {
  loss: number;
  /** Every weight of the model at the start (BatchNorm's moving statistics included). */
  weights: Float32Array[];
  /** The trainable parameters' gradients, their values before and after the step. */
  grads: Float32Array[];
  before: Float32Array[];
  after: Float32Array[];
}

/**
 * On `backend`: the model of `hp` with the weights `initial` (or its own, seeded), the gradients at a
 * random batch, then one `trainStep` on that batch; every trainable parameter before and after.
 */
async function oneStep(backend: string, hp: Hyperparameters, initial?: Float32Array[]): Promise<StepResult> {
  await initBackend(backend);
  const data = randomBatch(hp);
  const model = buildModel(hp, data);
  if (initial) model.weights.forEach((w, i) => w.write(tf.tensor(initial[i], w.shape)));
  const params = modelParams(model, hp.glorotLrScale);
  const optimizer = new BinaryNetOptimizer(hp.optimizer, params);
  const indices = Array.from({ length: hp.batchSize }, (_, i) => i);
  const { x, y } = batchTensors(data.train, indices, flattensInput(hp));
  const read = (ts: tf.Tensor[]) => Promise.all(ts.map(async (t) => (await t.data()) as Float32Array));
  try {
    const weights = await read(model.weights.map((w) => w.read()));
    const before = await read(params.map((p) => p.variable));
    // A forward pass first, read before going on: lavapipe compiles the forward shaders here and the
    // backward ones below, neither stretch blocking the event loop for as long as the two together.
    const forward = tf.tidy(() => model.apply(x, { training: true }) as tf.Tensor);
    await forward.data();
    forward.dispose();
    const { grads } = tf.variableGrads(
      () => squaredHinge(y, model.apply(x, { training: true }) as tf.Tensor),
      params.map((p) => p.variable),
    );
    const gradValues = await read(params.map((p) => grads[p.variable.name]));
    tf.dispose(Object.values(grads));
    const { loss } = await trainStep(model, params, optimizer, x, y, hp.lrStart);
    const after = await read(params.map((p) => p.variable));
    return { loss, weights, grads: gradValues, before, after };
  } finally {
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  }
}

const update = (r: StepResult, i: number) => r.after[i].map((w, j) => w - r.before[i][j]);

/** One step of `c` on cpu and on webgpu: ‖webgpu − cpu‖ / ‖cpu‖ of each parameter's gradient, value, update. */
async function compareStep(c: { dataset: string; overrides: Partial<Hyperparameters> }) {
  const hp = resolveHyperparameters(c.dataset, 'smoke', c.overrides);
  const cpu = await oneStep('cpu', hp);
  const gpu = await oneStep('webgpu', hp, cpu.weights);
  return {
    optimizer: hp.optimizer,
    label: backendLabel(),
    loss: { cpu: cpu.loss, webgpu: gpu.loss },
    sameStart: gpu.before.every((b, i) => b.every((v, j) => v === cpu.before[i][j])),
    grads: cpu.grads.map((g, i) => relativeError(gpu.grads[i], g)),
    weights: cpu.after.map((w, i) => relativeError(gpu.after[i], w)),
    updates: cpu.after.map((_, i) => relativeError(update(gpu, i), update(cpu, i))),
  };
}

/** MNIST MLP, 2 epochs of 500 images on webgpu: one epoch, a stop, a resume for the second. */
async function trainAndResume() {
  await initBackend('webgpu');
  const hp = resolveHyperparameters('mnist', 'smoke', {
    hiddenUnits: [64, 64],
    batchSize: 50,
    epochs: 2,
    trainLimit: 500,
    validLimit: 200,
    testLimit: 200,
  });
  const data = await loadDataset(hp);
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-webgpu-'));
  try {
    const options = { runDir, flatten: true, progress: 'none' as const, log: () => {} };
    const first = await train(buildModel(hp, data), data, hp, { ...options, maxEpochsThisCall: 1 });
    const resumed = await train(buildModel(hp, data), data, hp, { ...options, resume: true });
    return { firstEpochs: first.epochsRun, resumedTrained: resumed.epochsTrained, history: resumed.history };
  } finally {
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

const [mode, arg] = process.argv.slice(2);
(mode === 'step' ? compareStep(JSON.parse(arg)) : trainAndResume())
  .then((result) => {
    console.log(JSON.stringify(result));
    process.exit(0);
  })
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
