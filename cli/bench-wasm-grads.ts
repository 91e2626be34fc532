/**
 * Times one training step (forward, gradients, Adam update) of a small binary-style ConvNet on the
 * `wasm` backend (with this project's gradient kernels) and on the pure-JS `cpu` backend, after
 * warm-up, and reports medians. Also checks that both backends give the same gradients.
 *
 *   npm run bench:wasm-grads -- [flags]   (`--help` lists them)
 *
 * Net (paper style, narrow): (2×32C3)−MP2−(2×64C3)−MP2−10, 32×32×3 inputs, binary weights and
 * activations (sign with the straight-through estimator), BatchNorm after every layer, squared
 * hinge loss.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { median } from '../bench/median';
import { registerWasmGradientKernels } from '../lib/tfjs/wasmConvGradients';
import { seededUniform } from '../lib/random';
import { quantize, STE_SIGN } from '../lib/quantizers';
import { cliFlags, integerFlag, runMain, type FlagTable } from './args';

export const USAGE = [
  'usage: npm run bench:wasm-grads -- [flags]',
  "One training step of a small binary ConvNet on wasm (this project's gradient kernels) and on cpu.",
].join('\n');
export const FLAG_TABLE = {
  batch: { value: 'N', help: 'images per step', default: '16' },
  reps: { value: 'N', help: 'timed steps, median reported', default: '3' },
  warmup: { value: 'N', help: 'warm-up steps', default: '1' },
  out: { value: 'FILE', help: 'where the JSON goes', default: path.join('results', 'bench', 'wasm-conv-grads.json') },
} satisfies FlagTable;

/** The library's binarization: sign (0 → +1) with the straight-through estimator's cancelled gradient. */
const binarize = (x: tf.Tensor) => quantize(STE_SIGN, x, () => 0);

/** Deterministic uniform(−1, 1) values, identical on both backends. */
function uniform(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(
    seededUniform(
      shape.reduce((p, q) => p * q, 1),
      seed,
    ),
    shape,
  );
}

interface Net {
  vars: tf.Variable[];
  loss: () => tf.Scalar;
}

function buildNet(batch: number): Net {
  const convs = [
    [3, 32],
    [32, 32],
    [32, 64],
    [64, 64],
  ].map(([ci, co], k) => tf.variable(uniform([3, 3, ci, co], 10 + k)));
  const dense = tf.variable(uniform([8 * 8 * 64, 10], 20));
  const bn = [32, 32, 64, 64, 10].map((c) => [tf.variable(tf.ones([c])), tf.variable(tf.zeros([c]))]);
  const x = uniform([batch, 32, 32, 3], 1);
  const labels = Array.from({ length: batch }, (_, i) => i % 10);
  const targets = tf.sub(tf.mul(tf.oneHot(tf.tensor1d(labels, 'int32'), 10), 2), 1);
  const norm = (y: tf.Tensor, k: number) => {
    const axes = y.rank === 4 ? [0, 1, 2] : [0];
    const { mean, variance } = tf.moments(y, axes);
    return tf.batchNorm(y, mean, variance, bn[k][1], bn[k][0], 1e-4);
  };
  const loss = () => {
    let a: tf.Tensor = x;
    convs.forEach((w, k) => {
      a = tf.conv2d(a as tf.Tensor4D, binarize(w) as tf.Tensor4D, 1, 'same');
      if (k % 2 === 1) a = tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid');
      a = binarize(norm(a, k));
    });
    const out = norm(tf.matMul(tf.reshape(a, [batch, -1]), binarize(dense)), 4);
    return tf.mean(tf.square(tf.relu(tf.sub(1, tf.mul(targets, out))))) as tf.Scalar;
  };
  return { vars: [...convs, dense, ...bn.flat()], loss };
}

interface Counts {
  batch: number;
  warmup: number;
  reps: number;
}

async function bench(
  backend: 'wasm' | 'cpu',
  { batch, warmup, reps }: Counts,
): Promise<{ stepsMs: number[]; grads: Float32Array[] }> {
  await tf.setBackend(backend);
  await tf.ready();
  const net = buildNet(batch);
  const optimizer = tf.train.adam(0.001);
  const grads = tf.tidy(() => tf.variableGrads(net.loss, net.vars)).grads;
  const gradValues = net.vars.map((v) => grads[v.name].dataSync() as Float32Array);
  tf.dispose(Object.values(grads));
  const stepsMs: number[] = [];
  for (let i = 0; i < warmup + reps; i++) {
    const t0 = performance.now();
    const cost = optimizer.minimize(net.loss, true, net.vars);
    await cost!.data(); // wait for the step to finish
    cost!.dispose();
    const ms = performance.now() - t0;
    if (i >= warmup) stepsMs.push(ms);
    process.stderr.write(
      `${backend} step ${i + 1}/${warmup + reps}${i < warmup ? ' (warm-up)' : ''}: ${ms.toFixed(0)} ms\n`,
    );
  }
  optimizer.dispose();
  tf.dispose(net.vars);
  return { stepsMs, grads: gradValues };
}

async function main(): Promise<void> {
  const flags = cliFlags(USAGE, FLAG_TABLE);
  const counts: Counts = {
    batch: integerFlag(flags.batch, 'batch')!,
    warmup: integerFlag(flags.warmup, 'warmup', true)!,
    reps: integerFlag(flags.reps, 'reps')!,
  };
  registerWasmGradientKernels();
  const wasm = await bench('wasm', counts);
  const cpu = await bench('cpu', counts);
  // Largest gradient difference relative to the largest gradient, per variable.
  const gradRelDiff = Math.max(
    ...cpu.grads.map((g, k) => {
      let diff = 0;
      let scale = 1e-12;
      for (let i = 0; i < g.length; i++) {
        diff = Math.max(diff, Math.abs(g[i] - wasm.grads[k][i]));
        scale = Math.max(scale, Math.abs(g[i]));
      }
      return diff / scale;
    }),
  );
  const result = {
    what: 'one training step (forward, gradients, Adam update) of a binary-style ConvNet',
    net: '(2×32C3)−MP2−(2×64C3)−MP2−10, BatchNorm, sign/STE, squared hinge; NHWC 32×32×3',
    ...counts,
    cpuMedianMs: median(cpu.stepsMs),
    wasmMedianMs: median(wasm.stepsMs),
    speedup: median(cpu.stepsMs) / median(wasm.stepsMs),
    cpuStepsMs: cpu.stepsMs.map((v) => Math.round(v)),
    wasmStepsMs: wasm.stepsMs.map((v) => Math.round(v)),
    maxGradientRelDiff: gradRelDiff,
    // Other work on a shared machine slows both backends: the load average says how busy it was.
    machine: {
      cpu: os.cpus()[0]?.model,
      cores: os.cpus().length,
      loadAverage1m: os.loadavg()[0],
      node: process.version,
      tfjs: tf.version.tfjs,
    },
    date: new Date().toISOString(),
  };
  const out = flags.out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(
    `cpu ${result.cpuMedianMs.toFixed(0)} ms/step, wasm ${result.wasmMedianMs.toFixed(0)} ms/step: ` +
      `${result.speedup.toFixed(1)}× faster; gradients agree to ${gradRelDiff.toExponential(1)} (relative). → ${out}`,
  );
}

runMain(module, main);
