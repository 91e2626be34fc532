/**
 * registerWasmGradientKernels() called after the wasm backend is already initialised (the other
 * order from wasm-gradients.test.ts; each test file runs in its own process): the replaced
 * kernels' fallbacks (stride-2 input gradient) must still work.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels } from '../lib/tfjs/wasmConvGradients';

it('works when registered after the backend started', async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
  await tf.ready();
  registerWasmGradientKernels();
  const grads = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const x = tf.tensor4d(
        Array.from({ length: 2 * 7 * 7 * 3 }, (_, i) => Math.sin(i)),
        [2, 7, 7, 3],
      );
      const w = tf.tensor4d(
        Array.from({ length: 3 * 3 * 3 * 4 }, (_, i) => Math.cos(i)),
        [3, 3, 3, 4],
      );
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.maxPool(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), 2, 2, 'same')));
      return tf
        .grads(f)([x, w])
        .map((g) => Array.from(g.dataSync()));
    });
  };
  const [wasm, cpu] = [await grads('wasm'), await grads('cpu')];
  for (let k = 0; k < 2; k++) {
    wasm[k].forEach((v, i) => expect(v).toBeCloseTo(cpu[k][i], 3));
  }
});
