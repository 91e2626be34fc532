/**
 * The work of test/webgpu-backend.test.ts, in a process of its own: lavapipe compiles each shader on the
 * CPU, synchronously, on first use, and a vitest worker blocked that long misses vitest's RPC deadlines.
 *   step <case as JSON>: one training step on cpu, then on webgpu from the same weights: prints the errors
 *   train: a short run on webgpu, interrupted after its first epoch and resumed: prints the history
 *   dense <shapes as JSON>: binary Dense forwards ([batch, k, units] each), ±1 products and dropped ±1 (0 and ±s)
 *     times ±1 products, on cpu and on webgpu
 *   conv <shapes as JSON>: binary Conv2D forwards on sign inputs on cpu and on webgpu
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendLabel, initBackend } from '../../lib/backend';
import { batchTensors, makeImageSet, type SplitDataset } from '../../lib/data/dataset';
import { getDataset } from '../../lib/data/registry';
import { buildModel, flattensInput, loadDataset, resolveHyperparameters } from '../../lib/experiment';
import { BinaryConv2D, BinaryDense } from '../../lib/layers';
import { squaredHinge } from '../../lib/loss';
import { BinaryNetOptimizer, modelParams } from '../../lib/optim/optimizers';
import type { Hyperparameters } from '../../lib/presets';
import { steSign } from '../../lib/quantizers';
import { seededRandom } from '../../lib/random';
import { binaryAwareMatMul, markDroppedSigns, markSigns } from '../../lib/tfjs/binaryMatMul';
import { BNN_BINARY_CONV2D, BNN_BINARY_MATMUL } from '../../lib/tfjs/kernelNames';
import { train, trainStep } from '../../lib/train/trainer';
import { randomArray, relativeError } from './nativeVsCpu';
import { reportAndExit } from './workerResult';

/** How many times the webgpu XNOR products (BnnBinaryMatMul, BnnBinaryConv2D) ran since last reset. */
let xnorProducts = 0;
async function useBackend(backend: string): Promise<void> {
  await initBackend(backend);
  if (backend !== 'webgpu') return;
  for (const name of [BNN_BINARY_MATMUL, BNN_BINARY_CONV2D]) {
    const kernel = tf.getKernel(name, 'webgpu');
    if (!kernel || (kernel as { counted?: boolean }).counted) continue;
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({
      ...kernel,
      counted: true,
      kernelFunc: (args) => {
        xnorProducts++;
        return kernel.kernelFunc(args);
      },
    } as tf.KernelConfig);
  }
}

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
  await useBackend(backend);
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
  xnorProducts = 0;
  const gpu = await oneStep('webgpu', hp, cpu.weights);
  return {
    optimizer: hp.optimizer,
    xnorProducts,
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

/** The nonzero value of a Dropout mask at rate 0.3, as the layer marks it. */
const DROPPED_SCALE = Math.fround(1 / Math.fround(0.7));

/** Shape [batch, k]'s dropped ±1 operand (0 or ±DROPPED_SCALE), seeded by i, and its ±1 partner's k × units. */
function droppedOperands(batch: number, k: number, units: number, i: number) {
  const signs = randomArray(batch * k, 81 + i, true);
  const keep = randomArray(batch * k, 91 + i);
  const a = signs.map((v, j) => (keep[j] < 0.4 ? 0 : v * DROPPED_SCALE));
  return { a, b: randomArray(k * units, 101 + i, true) };
}

/** The exact a · b of droppedOperands, rounded once to float32: s times an integer sum. */
function droppedExact(batch: number, k: number, units: number, i: number): Float32Array {
  const { a, b } = droppedOperands(batch, k, units, i);
  const c = new Float32Array(batch * units);
  for (let r = 0; r < batch; r++)
    for (let col = 0; col < units; col++) {
      let sum = 0;
      for (let e = 0; e < k; e++) sum += Math.sign(a[r * k + e]) * b[e * units + col];
      c[r * units + col] = DROPPED_SCALE * sum;
    }
  return c;
}

/**
 * For each [batch, k, units]: a BinaryDense on sign-activated inputs (seeded), a ±1 product a · b with each
 * transpose, and a dropped ±1 times ±1 product, on cpu and on webgpu; per case whether webgpu's values equal cpu's
 * exactly (the dropped product: the exact product rounded once, and how far cpu's float product is from it) and
 * how many XNOR products ran.
 */
async function compareDense(shapes: [number, number, number][]) {
  const run = async (backend: string) => {
    await useBackend(backend);
    xnorProducts = 0;
    const out: { dense: Float32Array[]; products: Float32Array[]; dropped: Float32Array[] } = {
      dense: [],
      products: [],
      dropped: [],
    };
    for (const [i, [batch, k, units]] of shapes.entries()) {
      const layer = new BinaryDense({ units, seed: 5 + i });
      const x = steSign(tf.tensor2d(randomArray(batch * k, 11 + i), [batch, k]));
      layer.build([batch, k]);
      layer.setWeights([tf.tensor2d(randomArray(k * units, 31 + i), [k, units])]);
      const y = layer.apply(x) as tf.Tensor;
      out.dense.push((await y.data()) as Float32Array);
      for (const [ta, tb] of [
        [false, false],
        [false, true],
        [true, false],
        [true, true],
      ]) {
        const a = markSigns(tf.tensor2d(randomArray(batch * k, 51 + i, true), ta ? [k, batch] : [batch, k]));
        const b = markSigns(tf.tensor2d(randomArray(k * units, 71 + i, true), tb ? [units, k] : [k, units]));
        const c = binaryAwareMatMul(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb);
        out.products.push((await c.data()) as Float32Array);
        tf.dispose([a, b, c]);
      }
      const operands = droppedOperands(batch, k, units, i);
      const a = markDroppedSigns(tf.tensor2d(operands.a, [batch, k]), DROPPED_SCALE);
      const b = markSigns(tf.tensor2d(operands.b, [k, units]));
      const c = binaryAwareMatMul(a as tf.Tensor2D, b as tf.Tensor2D);
      out.dropped.push((await c.data()) as Float32Array);
      tf.dispose([a, b, c, x, y, layer.latentKernel.read()]);
    }
    return { ...out, xnorProducts };
  };
  const cpu = await run('cpu');
  const gpu = await run('webgpu');
  const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, j) => v === b[j]);
  return {
    label: backendLabel(),
    xnorProducts: gpu.xnorProducts,
    cases: shapes.map((shape, i) => {
      const exact = droppedExact(...shape, i);
      return {
        shape,
        dense: same(gpu.dense[i], cpu.dense[i]),
        products: [0, 1, 2, 3].map((t) => same(gpu.products[4 * i + t], cpu.products[4 * i + t])),
        dropped: same(gpu.dropped[i], exact),
        /** Largest |cpu's float product − the exact one|, in units of s. */
        droppedCpuError: Math.max(...cpu.dropped[i].map((v, j) => Math.abs(v - exact[j]) / DROPPED_SCALE)),
      };
    }),
  };
}

type ConvShape = [number, number, number, number, number, number, number, 'same' | 'valid'];

/** For each [batch, height, width, channels, filters, kernel size, stride, padding]: a binary Conv2D on signs. */
async function compareConv(shapes: ConvShape[]) {
  const run = async (backend: string) => {
    await useBackend(backend);
    xnorProducts = 0;
    const outs: Float32Array[] = [];
    for (const [i, [batch, h, w, c, filters, kernelSize, strides, padding]] of shapes.entries()) {
      const layer = new BinaryConv2D({ filters, kernelSize, strides, padding, seed: 5 + i });
      const x = steSign(tf.tensor4d(randomArray(batch * h * w * c, 11 + i), [batch, h, w, c]));
      layer.build([batch, h, w, c]);
      const kernel = randomArray(kernelSize * kernelSize * c * filters, 31 + i);
      layer.setWeights([tf.tensor4d(kernel, [kernelSize, kernelSize, c, filters])]);
      const y = layer.apply(x) as tf.Tensor;
      outs.push((await y.data()) as Float32Array);
      tf.dispose([x, y, layer.latentKernel.read()]);
    }
    return { outs, xnorProducts };
  };
  const cpu = await run('cpu');
  const gpu = await run('webgpu');
  return {
    label: backendLabel(),
    xnorProducts: gpu.xnorProducts,
    cases: shapes.map((shape, i) => ({
      shape,
      same: gpu.outs[i].length === cpu.outs[i].length && gpu.outs[i].every((v, j) => v === cpu.outs[i][j]),
    })),
  };
}

const [mode, arg] = process.argv.slice(2);
const work: Record<string, () => Promise<unknown>> = {
  step: () => compareStep(JSON.parse(arg)),
  dense: () => compareDense(JSON.parse(arg)),
  conv: () => compareConv(JSON.parse(arg)),
  train: trainAndResume,
};
reportAndExit((work[mode] ?? trainAndResume)());
