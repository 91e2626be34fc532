import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { hardSigmoid, sign, steSign, stochasticSignForward, stochasticSteSign, quantize } from '../lib/quantizers';
import { ap2Forward, ap2Scalar } from '../lib/shift';

beforeAll(async () => {
  await initBackend();
});

describe('deterministic binarization', () => {
  it('maps x >= 0 to +1 (zero included) and x < 0 to -1', () => {
    const x = tf.tensor([-3, -1, -1e-30, -0, 0, 1e-30, 0.5, 1, 7]);
    expect(Array.from(sign(x).dataSync())).toEqual([-1, -1, -1, 1, 1, 1, 1, 1, 1]);
  });

  it('gives the same values on the pure-JS cpu backend', async () => {
    const x = [-2, -0.5, 0, 0.25, 3];
    const backend = tf.getBackend();
    await tf.setBackend('cpu');
    const onCpu = Array.from(sign(tf.tensor(x)).dataSync());
    await tf.setBackend(backend);
    expect(onCpu).toEqual(Array.from(sign(tf.tensor(x)).dataSync()));
  });
});

describe('straight-through estimator with gradient cancellation', () => {
  it('passes the gradient where |x| <= 1 and cancels it elsewhere', () => {
    const x = tf.tensor([-2, -1, -0.3, 0, 0.7, 1, 1.0001, 5]);
    const dy = tf.tensor([1, 2, 3, 4, 5, 6, 7, 8]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(steSign(v), dy)))(x);
    expect(Array.from(g.dataSync())).toEqual([0, 2, 3, 4, 5, 6, 0, 0]);
    expect(Array.from(steSign(x).dataSync())).toEqual([-1, -1, -1, 1, 1, 1, 1, 1]);
  });

  it('stochastic binarization has the same gradient', () => {
    const x = tf.tensor([-1.5, -0.5, 0.5, 1.5]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(stochasticSteSign(v, 3)))(x);
    expect(Array.from(g.dataSync())).toEqual([0, 1, 1, 0]);
  });
});

describe('stochastic binarization', () => {
  it('is +1 with probability hard_sigmoid(x)', () => {
    const values = [-2, -0.5, 0, 0.5, 0.9, 2];
    const n = 20000;
    const x = tf.tile(tf.tensor2d([values]), [n, 1]);
    const b = stochasticSignForward(x, 42);
    const plusOne = tf.mean(tf.cast(tf.equal(b, 1), 'float32'), 0).dataSync();
    const p = hardSigmoid(tf.tensor(values)).dataSync();
    values.forEach((_, i) => expect(Math.abs(plusOne[i] - p[i])).toBeLessThan(0.015));
    expect(new Set(b.dataSync())).toEqual(new Set([-1, 1]));
  });

  it('is reproducible with a seed and varies across seeds', () => {
    const x = tf.zeros([1000]);
    const a = stochasticSignForward(x, 7).dataSync();
    const again = stochasticSignForward(x, 7).dataSync();
    const other = stochasticSignForward(x, 8).dataSync();
    expect(Array.from(a)).toEqual(Array.from(again));
    expect(Array.from(a)).not.toEqual(Array.from(other));
  });

  it('quantize() draws a fresh seed per call', () => {
    let seed = 0;
    const x = tf.zeros([500]);
    const a = quantize('stochasticSign', x, () => ++seed).dataSync();
    const b = quantize('stochasticSign', x, () => ++seed).dataSync();
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });
});

describe('AP2, the power-of-two approximation of the shift-based algorithms', () => {
  it('rounds magnitudes to the nearest power of two in log space and keeps the sign', () => {
    const x = [0, 1, 3, -3, 0.3, 5, -0.1, 1024];
    expect(Array.from(ap2Forward(tf.tensor(x)).dataSync())).toEqual(x.map(ap2Scalar));
    expect(x.map(ap2Scalar)).toEqual([0, 1, 4, -4, 0.25, 4, -0.125, 1024]);
  });
});
