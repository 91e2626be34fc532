import * as tf from '@tensorflow/tfjs';
import { beforeAll, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { seededRandom } from '../lib/random';
import { selectKernel } from '../lib/kernels';
import { binaryConv2d } from '../lib/kernels/binaryConv';
import { kernelTiers } from './helpers/kernelTiers';

beforeAll(async () => {
  await initBackend('cpu');
});

for (const { kernel: loaded, title } of kernelTiers)
  it.skipIf(!loaded)(`binary conv2d equals tfjs conv2d on ±1 inputs (${title})`, () => {
    const kernel = loaded!;
    const random = seededRandom(4);
    const signs = (n: number) => Float32Array.from({ length: n }, () => (random() < 0.5 ? -1 : 1));
    for (const [batch, height, width, channels, kernelSize, filters] of [
      [2, 7, 6, 3, 3, 5],
      [1, 5, 5, 32, 3, 4],
      [2, 4, 9, 40, 3, 3],
      [1, 6, 6, 2, 5, 2],
      [1, 3, 3, 1, 1, 2],
      // Even kernels: 'same' pads ⌊(k−1)/2⌋ above and left, the rest below and right (pad 0 above for k = 2).
      [2, 5, 4, 3, 2, 3],
      [1, 6, 5, 2, 4, 2],
    ]) {
      const x = signs(batch * height * width * channels);
      const w = Float32Array.from({ length: kernelSize * kernelSize * channels * filters }, () => random() * 2 - 1);
      for (const padding of ['same', 'valid'] as const) {
        const expected = tf
          .conv2d(
            tf.tensor4d(x, [batch, height, width, channels]),
            tf.sign(tf.tensor4d(w, [kernelSize, kernelSize, channels, filters])),
            1,
            padding,
          )
          .dataSync();
        const got = binaryConv2d(kernel, x, w, { batch, height, width, channels, kernelSize, filters, padding });
        expect(
          Array.from(got),
          `${batch}×${height}×${width}×${channels}, ${kernelSize}×${kernelSize}→${filters}, ${padding}`,
        ).toEqual(Array.from(expected));
      }
    }
  });

it('rejects bad geometry', () => {
  const k = selectKernel('ts');
  const g = { batch: 1, height: 2, width: 2, channels: 1, kernelSize: 3, filters: 1, padding: 'valid' as const };
  expect(() => binaryConv2d(k, new Float32Array(4), new Float32Array(9), g)).toThrow(/at least/);
  expect(() => binaryConv2d(k, new Float32Array(3), new Float32Array(9), { ...g, padding: 'same' })).toThrow(
    /x has 3 values/,
  );
  expect(() => binaryConv2d(k, new Float32Array(4), new Float32Array(9), { ...g, channels: 0 })).toThrow(/channels/);
});
