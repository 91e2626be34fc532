/**
 * BnnBinaryMatMul and BnnBinaryConv2D (lib/tfjs/binaryMatMul.ts) without a GPU: which tensors are marked ±1, that
 * the binary layers ask for the kernels exactly when both operands are marked, and that the kernels' gradients
 * are matMul's and conv2d's. Cpu kernels standing in for webgpu's (test/webgpu-backend.test.ts runs the WGSL ones
 * against cpu) count their runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { BinaryConv2D, BinaryDense, Dropout, SignActivation } from '../lib/layers';
import { quantize, steSign, stochasticSteSign, IDENTITY } from '../lib/quantizers';
import {
  binaryAwareConv2d,
  binaryAwareMatMul,
  droppedSignScale,
  isSigns,
  markDroppedSigns,
  markSigns,
} from '../lib/tfjs/binaryMatMul';
import { BNN_BINARY_CONV2D, BNN_BINARY_MATMUL } from '../lib/tfjs/kernelNames';
import { randomArray } from './helpers/nativeVsCpu';

let runs = 0;
const STAND_INS = [
  [BNN_BINARY_MATMUL, 'BatchMatMul'],
  [BNN_BINARY_CONV2D, 'Conv2D'],
] as const;

beforeAll(async () => {
  await initBackend('cpu');
  for (const [ours, theirs] of STAND_INS) {
    const kernel = tf.getKernel(theirs, 'cpu')!;
    tf.registerKernel({
      kernelName: ours,
      backendName: 'cpu',
      kernelFunc: (args) => {
        runs++;
        return kernel.kernelFunc(args);
      },
    });
  }
});

afterAll(() => {
  for (const [ours] of STAND_INS) tf.unregisterKernel(ours, 'cpu');
});

const values = (t: tf.Tensor) => Array.from(t.dataSync());

describe('tensors known to hold ±1', () => {
  it('are the sign quantizers’ outputs, and what shares their data (reshape, clone)', () => {
    const x = tf.tensor2d(randomArray(12, 1), [3, 4]);
    const s = steSign(x);
    expect(isSigns(x)).toBe(false);
    expect(isSigns(s)).toBe(true);
    expect(isSigns(stochasticSteSign(x, 3))).toBe(true);
    expect(isSigns(quantize(IDENTITY, x, () => 0))).toBe(false);
    expect(isSigns(s.reshape([12]))).toBe(true);
    expect(isSigns(tf.clone(s))).toBe(true);
    expect(isSigns(tf.mul(s, 1))).toBe(false);
  });

  it('pass an inference-time Dropout; a training-time one gives 0 and ±1/(1 − rate), marked with that scale', () => {
    const s = new SignActivation().apply(tf.tensor2d(randomArray(20, 2), [4, 5])) as tf.Tensor;
    const dropout = new Dropout({ rate: 0.3, seed: 1 });
    expect(isSigns(dropout.apply(s) as tf.Tensor)).toBe(true);
    const dropped = dropout.apply(s, { training: true }) as tf.Tensor;
    expect(isSigns(dropped)).toBe(false);
    const scale = droppedSignScale(dropped)!;
    expect(scale).toBe(Math.fround(1 / 0.7));
    expect(new Set(values(dropped).map(Math.abs))).toEqual(new Set([0, scale]));
    const real = tf.tensor2d(randomArray(20, 3), [4, 5]);
    expect(droppedSignScale(dropout.apply(real, { training: true }) as tf.Tensor)).toBeUndefined();
  });
});

describe('BnnBinaryMatMul', () => {
  it('runs where both operands are ±1 and the backend has it, equal to matMul with each transpose', () => {
    const a = markSigns(tf.tensor2d(randomArray(15, 3, true), [3, 5])) as tf.Tensor2D;
    const b = markSigns(tf.tensor2d(randomArray(35, 4, true), [5, 7])) as tf.Tensor2D;
    const before = runs;
    expect(values(binaryAwareMatMul(a, b))).toEqual(values(tf.matMul(a, b)));
    expect(values(binaryAwareMatMul(a.transpose(), b, true))).toEqual(values(tf.matMul(a, b)));
    expect(values(binaryAwareMatMul(a, b.transpose(), false, true))).toEqual(values(tf.matMul(a, b)));
    expect(runs - before).toBe(1); // transpose() computes new data: unmarked, so matMul
    const real = tf.tensor2d(randomArray(15, 5), [3, 5]);
    expect(values(binaryAwareMatMul(real, b))).toEqual(values(tf.matMul(real, b)));
    expect(runs - before).toBe(1);
  });

  it('has matMul’s gradient, for each transpose', () => {
    const a = tf.tensor2d(randomArray(15, 6, true), [3, 5]);
    const b = tf.tensor2d(randomArray(35, 7, true), [5, 7]);
    const dy = tf.tensor2d(randomArray(21, 8), [3, 7]);
    for (const [ta, tb] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ]) {
      const x = ta ? a.transpose() : a;
      const y = tb ? b.transpose() : b;
      const before = runs;
      const ours = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
        tf.mul(binaryAwareMatMul(markSigns(p) as tf.Tensor2D, markSigns(q) as tf.Tensor2D, ta, tb), dy),
      )([x, y]);
      expect(runs - before).toBe(1);
      const theirs = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.mul(tf.matMul(p, q, ta, tb), dy))([x, y]);
      expect(ours.map(values)).toEqual(theirs.map(values));
    }
  });

  it('runs on dropped ±1 (0 and ±s) times ±1, and with s as its attribute; not on ±1 times dropped ±1', () => {
    const kernel = tf.getKernel(BNN_BINARY_MATMUL, 'cpu')!;
    const seen: unknown[] = [];
    tf.unregisterKernel(BNN_BINARY_MATMUL, 'cpu');
    tf.registerKernel({
      ...kernel,
      kernelFunc: (args) => {
        seen.push(args.attrs?.aDropped);
        return kernel.kernelFunc(args);
      },
    });
    try {
      const s = new SignActivation().apply(tf.tensor2d(randomArray(24, 4), [4, 6])) as tf.Tensor;
      const a = new Dropout({ rate: 0.5, seed: 2 }).apply(s, { training: true }) as tf.Tensor2D;
      const b = markSigns(tf.tensor2d(randomArray(18, 5, true), [6, 3])) as tf.Tensor2D;
      expect(values(binaryAwareMatMul(a, b))).toEqual(values(tf.matMul(a, b)));
      const aT = markDroppedSigns(a.transpose(), 2) as tf.Tensor2D;
      expect(values(binaryAwareMatMul(aT, b, true))).toEqual(values(tf.matMul(a, b)));
      const c = markSigns(tf.tensor2d(randomArray(12, 6, true), [3, 4])) as tf.Tensor2D;
      expect(values(binaryAwareMatMul(c, a))).toEqual(values(tf.matMul(c, a)));
      expect(seen).toEqual([2, 2]);
    } finally {
      tf.unregisterKernel(BNN_BINARY_MATMUL, 'cpu');
      tf.registerKernel(kernel);
    }
  });

  it('is what a binary Dense uses on sign inputs; the first layer’s real input keeps matMul', () => {
    const dense = new BinaryDense({ units: 6, seed: 2 });
    const x = tf.tensor2d(randomArray(4 * 9, 9), [4, 9]);
    const before = runs;
    const real = dense.apply(x) as tf.Tensor;
    expect(runs - before).toBe(0);
    const signs = steSign(x);
    const binary = dense.apply(signs) as tf.Tensor;
    expect(runs - before).toBe(1);
    expect(values(binary)).toEqual(values(tf.matMul(signs, steSign(dense.latentKernel.read()))));
    expect(values(real)).toEqual(values(tf.matMul(x, steSign(dense.latentKernel.read()))));
  });

  it('BnnBinaryConv2D: a binary Conv2D on sign inputs uses it, with conv2d’s value and gradient', () => {
    const conv = new BinaryConv2D({ filters: 4, kernelSize: 3, padding: 'same', seed: 3 });
    const x = tf.tensor4d(randomArray(2 * 5 * 5 * 3, 12), [2, 5, 5, 3]);
    const before = runs;
    conv.apply(x);
    expect(runs - before).toBe(0);
    const signs = steSign(x);
    const w = steSign(conv.latentKernel.read());
    expect(values(conv.apply(signs) as tf.Tensor)).toEqual(
      values(tf.conv2d(signs as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')),
    );
    expect(runs - before).toBe(1);
    const dy = tf.tensor4d(randomArray(2 * 5 * 5 * 4, 13), [2, 5, 5, 4]);
    for (const [strides, pad] of [
      [1, 'same'],
      [2, 'same'],
      [1, 'valid'],
    ] as const) {
      const out = (p: tf.Tensor, q: tf.Tensor) =>
        binaryAwareConv2d(markSigns(p) as tf.Tensor4D, markSigns(q) as tf.Tensor4D, strides, pad);
      const dyOf = (y: tf.Tensor) => dy.slice([0, 0, 0, 0], y.shape as number[]);
      const ours = tf.grads((p: tf.Tensor, q: tf.Tensor) => {
        const y = out(p, q);
        return tf.mul(y, dyOf(y));
      })([signs, w]);
      const theirs = tf.grads((p: tf.Tensor, q: tf.Tensor) => {
        const y = tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, strides, pad);
        return tf.mul(y, dyOf(y));
      })([signs, w]);
      expect(ours.map(values)).toEqual(theirs.map(values));
    }
  });
});
