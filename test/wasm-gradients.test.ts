/**
 * The wasm backend's gradient kernels (lib/tfjs/wasmConvGradients.ts) against the `cpu` backend on
 * the same numbers: conv filter gradients over strides/paddings, max-pool gradients including ties,
 * and every gradient of a small Conv → MaxPool → BatchNorm → Dense net.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { registerWasmGradientKernels, WASM_GRADIENT_KERNELS } from '../lib/tfjs/wasmConvGradients';
import { seededUniform } from '../lib/random';

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(
    seededUniform(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );
}

/** Runs `fn` on each backend and returns its outputs as plain arrays. */
async function onBoth(fn: () => tf.Tensor[]): Promise<{ wasm: Float32Array[]; cpu: Float32Array[] }> {
  const result: Record<string, Float32Array[]> = {};
  for (const backend of ['wasm', 'cpu']) {
    await tf.setBackend(backend);
    result[backend] = tf.tidy(fn).map((t) => {
      const data = t.dataSync() as Float32Array;
      t.dispose();
      return data;
    });
  }
  return { wasm: result.wasm, cpu: result.cpu };
}

function expectClose(actual: Float32Array, expected: Float32Array, tol = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  let scale = 1;
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  expect(worst / scale).toBeLessThan(tol);
}

beforeAll(async () => {
  registerWasmGradientKernels();
  registerWasmGradientKernels(); // idempotent
  expect(await tf.setBackend('wasm')).toBe(true);
  await tf.ready();
});

describe('registerWasmGradientKernels', () => {
  it('registers every kernel for wasm', () => {
    for (const name of WASM_GRADIENT_KERNELS) expect(tf.getKernel(name, 'wasm')).toBeDefined();
  });
});

describe('Conv2DBackpropFilter on wasm', () => {
  const cases: Array<[number[], number[], number, 'same' | 'valid']> = [
    // [x shape NHWC, filter shape, stride, padding]
    [[2, 8, 8, 3], [3, 3, 3, 5], 1, 'same'],
    [[2, 8, 8, 3], [3, 3, 3, 5], 1, 'valid'],
    [[3, 9, 7, 4], [3, 3, 4, 6], 2, 'same'],
    [[3, 9, 7, 4], [3, 3, 4, 6], 2, 'valid'],
    [[1, 6, 6, 2], [2, 2, 2, 3], 2, 'same'],
    [[2, 5, 6, 1], [1, 3, 1, 4], 1, 'same'],
    [[4, 16, 16, 16], [3, 3, 16, 32], 1, 'same'],
  ];
  for (const [xShape, fShape, stride, pad] of cases) {
    it(`x ${xShape} filter ${fShape} stride ${stride} ${pad}`, async () => {
      const { wasm, cpu } = await onBoth(() => {
        const x = rand(xShape, 1) as tf.Tensor4D;
        const w = rand(fShape, 2) as tf.Tensor4D;
        const yShape = tf.conv2d(x, w, stride, pad).shape;
        const r = rand(yShape, 3); // dL/dy
        const loss = (xx: tf.Tensor, ww: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, stride, pad), r));
        const [dx, dw] = tf.grads(loss)([x, w]);
        return [dx, dw];
      });
      expectClose(wasm[0], cpu[0]);
      expectClose(wasm[1], cpu[1]);
    });
  }
});

describe('MaxPoolGrad on wasm', () => {
  const cases: Array<[number[], number, number, 'same' | 'valid']> = [
    [[2, 8, 8, 5], 2, 2, 'valid'],
    [[1, 4, 4, 2], 2, 2, 'valid'],
    [[2, 7, 9, 3], 3, 2, 'same'],
    [[2, 7, 9, 3], 3, 1, 'same'],
    [[1, 5, 5, 4], 2, 2, 'valid'],
  ];
  for (const [xShape, size, stride, pad] of cases) {
    it(`x ${xShape} pool ${size} stride ${stride} ${pad}`, async () => {
      const { wasm, cpu } = await onBoth(() => {
        const x = rand(xShape, 4) as tf.Tensor4D;
        const r = rand(tf.maxPool(x, size, stride, pad).shape, 5);
        return [tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(xx as tf.Tensor4D, size, stride, pad), r)))(x)];
      });
      expectClose(wasm[0], cpu[0], 1e-6);
    });
  }

  it('gives a tied window gradient to its first maximum, like cpu', async () => {
    // Binary activations make ties the rule, not the exception.
    const { wasm, cpu } = await onBoth(() => {
      const x = tf.sign(rand([2, 6, 6, 3], 6)) as tf.Tensor4D;
      const r = rand([2, 3, 3, 3], 7);
      return [tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(xx as tf.Tensor4D, 2, 2, 'valid'), r)))(x)];
    });
    expect(Array.from(wasm[0])).toEqual(Array.from(cpu[0]));
  });
});

describe('Tile on wasm', () => {
  const cases: Array<[number[], number[], 'float32' | 'int32' | 'bool']> = [
    [[1, 1, 1, 5], [2, 3, 4, 1], 'float32'], // BatchNorm's gradient: statistics over activations
    [[2, 3], [3, 2], 'int32'],
    [[2, 1, 3], [1, 4, 2], 'bool'],
    [[7], [3], 'float32'],
    [[2, 3, 4], [1, 1, 1], 'float32'],
    [[3, 0, 2], [2, 2, 2], 'float32'],
  ];
  for (const [shape, reps, dtype] of cases) {
    it(`${dtype} ${shape} × ${reps}`, async () => {
      const { wasm, cpu } = await onBoth(() => {
        const values = tf.mul(rand(shape, 12), 10);
        const x = dtype === 'bool' ? tf.greater(values, 0) : tf.cast(values, dtype);
        return [tf.cast(tf.tile(x, reps), 'float32')];
      });
      expect(Array.from(wasm[0])).toEqual(Array.from(cpu[0]));
    });
  }
});

describe('a Conv → MaxPool → BatchNorm → Dense net', () => {
  it('has the same gradients for every weight on wasm and cpu', async () => {
    const { wasm, cpu } = await onBoth(() => {
      const x = rand([4, 8, 8, 3], 8) as tf.Tensor4D;
      const params = [rand([3, 3, 3, 8], 9), rand([3, 3, 8, 8], 10), tf.ones([8]), tf.zeros([8]), rand([128, 10], 11)];
      const targets = tf.sub(tf.mul(tf.oneHot(tf.tensor1d([1, 3, 5, 7], 'int32'), 10), 2), 1);
      const loss = (w1: tf.Tensor, w2: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, wd: tf.Tensor) => {
        let y = tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same');
        y = tf.tanh(y);
        y = tf.conv2d(y as tf.Tensor4D, w2 as tf.Tensor4D, 1, 'same');
        y = tf.maxPool(y as tf.Tensor4D, 2, 2, 'valid');
        const { mean, variance } = tf.moments(y, [0, 1, 2]);
        y = tf.tanh(tf.batchNorm(y, mean, variance, beta, gamma, 1e-4));
        const out = tf.matMul(tf.reshape(y, [4, 128]), wd);
        return tf.mean(tf.square(tf.relu(tf.sub(1, tf.mul(targets, out)))));
      };
      return tf.grads(loss)(params);
    });
    for (let i = 0; i < cpu.length; i++) expectClose(wasm[i], cpu[i]);
  });
});
