/**
 * Times one training step (forward, gradients, Adam update) of a small binary-style ConvNet on the
 * `wasm` backend (with this project's gradient kernels) and on the pure-JS `cpu` backend, after
 * warm-up, and reports medians. Also checks that both backends give the same gradients.
 *
 *   npx tsx cli/bench-wasm-grads.ts [--batch 16] [--reps 3] [--warmup 1] [--out results/bench/wasm-conv-grads.json]
 *
 * Net (paper style, narrow): (2×32C3)−MP2−(2×64C3)−MP2−10, 32×32×3 inputs, binary weights and
 * activations (sign with the straight-through estimator), BatchNorm after every layer, squared
 * hinge loss.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { median } from '../bench/median';
import { registerWasmGradientKernels } from '../lib/tfjs/wasmConvGradients';
import { seededUniform } from '../lib/random';
import { quantize, STE_SIGN } from '../lib/quantizers';
import { integerFlag } from './args';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '16' },
    reps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    out: { type: 'string', default: path.join('results', 'bench', 'wasm-conv-grads.json') },
  },
  strict: true,
  allowPositionals: false,
});
const BATCH = integerFlag(values.batch, 'batch')!;
const REPS = integerFlag(values.reps, 'reps')!;
const WARMUP = integerFlag(values.warmup, 'warmup', true)!;
const OUT = values.out!;

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

function buildNet(): Net {
  const convs = [
    [3, 32],
    [32, 32],
    [32, 64],
    [64, 64],
  ].map(([ci, co], k) => tf.variable(uniform([3, 3, ci, co], 10 + k)));
  const dense = tf.variable(uniform([8 * 8 * 64, 10], 20));
  const bn = [32, 32, 64, 64, 10].map((c) => [tf.variable(tf.ones([c])), tf.variable(tf.zeros([c]))]);
  const x = uniform([BATCH, 32, 32, 3], 1);
  const labels = Array.from({ length: BATCH }, (_, i) => i % 10);
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
    const out = norm(tf.matMul(tf.reshape(a, [BATCH, -1]), binarize(dense)), 4);
    return tf.mean(tf.square(tf.relu(tf.sub(1, tf.mul(targets, out))))) as tf.Scalar;
  };
  return { vars: [...convs, dense, ...bn.flat()], loss };
}

async function bench(backend: 'wasm' | 'cpu'): Promise<{ stepsMs: number[]; grads: Float32Array[] }> {
  await tf.setBackend(backend);
  await tf.ready();
  const net = buildNet();
  const optimizer = tf.train.adam(0.001);
  const grads = tf.tidy(() => tf.variableGrads(net.loss, net.vars)).grads;
  const gradValues = net.vars.map((v) => grads[v.name].dataSync() as Float32Array);
  tf.dispose(Object.values(grads));
  const stepsMs: number[] = [];
  for (let i = 0; i < WARMUP + REPS; i++) {
    const t0 = performance.now();
    const cost = optimizer.minimize(net.loss, true, net.vars);
    await cost!.data(); // wait for the step to finish
    cost!.dispose();
    const ms = performance.now() - t0;
    if (i >= WARMUP) stepsMs.push(ms);
    process.stderr.write(
      `${backend} step ${i + 1}/${WARMUP + REPS}${i < WARMUP ? ' (warm-up)' : ''}: ${ms.toFixed(0)} ms\n`,
    );
  }
  optimizer.dispose();
  tf.dispose(net.vars);
  return { stepsMs, grads: gradValues };
}

async function main(): Promise<void> {
  registerWasmGradientKernels();
  const wasm = await bench('wasm');
  const cpu = await bench('cpu');
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
    batch: BATCH,
    warmup: WARMUP,
    reps: REPS,
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
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
  console.log(
    `cpu ${result.cpuMedianMs.toFixed(0)} ms/step, wasm ${result.wasmMedianMs.toFixed(0)} ms/step: ` +
      `${result.speedup.toFixed(1)}× faster; gradients agree to ${gradRelDiff.toExponential(1)} (relative). → ${OUT}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
