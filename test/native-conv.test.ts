/**
 * The native ConvNet kernels (native/conv_ops.cc via lib/tfjs/nativeConvKernels.ts) against tfjs's
 * cpu backend: Conv2D and both of its gradients, MaxPool and MaxPoolGrad on awkward shapes, the
 * XNOR conv exactly equal to the float one on ±1 data with zero padding, a binary ConvNet step's
 * gradients, and clear errors on bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { loadNativeAddon } from '../lib/kernels/native';
import { buildConvNet } from '../lib/models/convnet';
import { squaredHinge } from '../lib/loss';
import { modelParams } from '../lib/optim/optimizers';
import { onBoth, randomArray, relativeError } from './helpers/nativeVsCpu';
import * as nativeConv from '../lib/tfjs/nativeConvKernels';

const { addon, why } = loadNativeAddon();
// An addon built from older sources lacks the kernel: a visible skip that says so.
const unavailable = !addon
  ? why
  : typeof addon.conv2d !== 'function'
    ? 'the addon has no conv2d: npm run build:kernels'
    : '';

/** [batch, h, w, inC, outC, k, stride, pad] */
type ConvCase = [number, number, number, number, number, number, number, 'same' | 'valid' | number];
const convCases: ConvCase[] = [
  [1, 5, 7, 1, 1, 3, 1, 'same'],
  [2, 7, 5, 3, 4, 3, 1, 'valid'],
  [3, 9, 9, 3, 8, 3, 2, 'same'],
  [1, 8, 6, 2, 5, 5, 1, 'same'],
  [2, 11, 7, 4, 3, 5, 2, 'valid'],
  [2, 6, 6, 7, 9, 1, 1, 'valid'],
  [1, 7, 7, 5, 6, 1, 2, 'same'],
  [2, 6, 7, 16, 24, 3, 1, 2],
  [4, 12, 12, 32, 64, 3, 1, 'same'],
  // Several tiles of patches (6 MB each) in every kernel.
  [3, 24, 24, 128, 4, 3, 1, 'same'],
];

describe.skipIf(unavailable !== '')(`native conv kernels${unavailable && ` (unavailable: ${unavailable})`}`, () => {
  beforeAll(async () => {
    expect(await initBackend('native')).toBe('native');
  });
  afterAll(async () => {
    await initBackend('wasm');
  });

  for (const [n, h, w, ci, co, k, s, pad] of convCases) {
    const name = `${n}×${h}×${w}×${ci} → ${co}, ${k}×${k}, stride ${s}, pad ${pad}`;
    const xShape = [n, h, w, ci] as [number, number, number, number];
    const wShape = [k, k, ci, co] as [number, number, number, number];
    const x = randomArray(n * h * w * ci, n + 3 * h + ci),
      filter = randomArray(k * k * ci * co, co + k);

    it(`Conv2D and both gradients equal cpu: ${name}`, async () => {
      const outShape = tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(wShape) as tf.Tensor4D, s, pad).shape;
      const r = randomArray(
        outShape.reduce((a, b) => a * b),
        99,
      );
      const fallbacks = nativeConv.conv2DPaths.fallback;
      const { native, cpu } = await onBoth(() => {
        const xt = tf.tensor4d(x, xShape),
          wt = tf.tensor4d(filter, wShape);
        const y = tf.conv2d(xt, wt, s, pad);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad), tf.tensor(r, outShape))),
        )([xt, wt]);
        return [y, dx, dw];
      });
      expect(nativeConv.conv2DPaths.fallback).toBe(fallbacks);
      native.forEach((v, i) => {
        expect(v.length).toBe(cpu[i].length);
        expect(relativeError(v, cpu[i])).toBeLessThan(1e-5);
      });
    });

    it(`binary data: the XNOR conv equals the float conv exactly: ${name}`, () => {
      const px = randomArray(x.length, 7 + ci, true),
        pw = randomArray(filter.length, 8 + co, true);
      const outShape = tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(wShape) as tf.Tensor4D, s, pad).shape;
      const geometry = nativeConv.convGeometry(tf.backend_util.computeConv2DInfo(xShape, wShape, s, 1, pad));
      const size = outShape.reduce((a, b) => a * b);
      const xnor = new Float32Array(size),
        float = new Float32Array(size);
      const path = addon!.conv2d({ x: px, filter: pw, out: xnor, ...geometry, binary: true });
      expect(path).toBe(k * k * ci >= 64 ? 'xnor' : 'float');
      expect(addon!.conv2d({ x: px, filter: pw, out: float, ...geometry, binary: false })).toBe('float');
      expect(Array.from(xnor)).toEqual(Array.from(float));
      // A value other than ±1 in the input sends it down the float path.
      px[px.length - 1] = 0.5;
      expect(addon!.conv2d({ x: px, filter: pw, out: xnor, ...geometry, binary: true })).toBe('float');
    });
  }

  it('the XNOR conv over several tiles of packed patches equals the float conv exactly', () => {
    const geometry = nativeConv.convGeometry(
      tf.backend_util.computeConv2DInfo([1, 200, 203, 64], [3, 3, 64, 8], 1, 1, 'same'),
    );
    const x = randomArray(200 * 203 * 64, 3, true),
      filter = randomArray(3 * 3 * 64 * 8, 4, true);
    const xnor = new Float32Array(200 * 203 * 8),
      float = new Float32Array(200 * 203 * 8);
    expect(addon!.conv2d({ x, filter, out: xnor, ...geometry, binary: true })).toBe('xnor');
    expect(addon!.conv2d({ x, filter, out: float, ...geometry, binary: false })).toBe('float');
    expect(xnor.every((v, i) => v === float[i])).toBe(true);
  });

  it('binary convs take the XNOR path inside tf.conv2d, exact against cpu with same padding', async () => {
    const x = randomArray(2 * 9 * 10 * 64, 1, true),
      filter = randomArray(3 * 3 * 64 * 32, 2, true);
    const xnor = nativeConv.conv2DPaths.xnor;
    const { native, cpu } = await onBoth(() =>
      tf.conv2d(tf.tensor4d(x, [2, 9, 10, 64]), tf.tensor4d(filter, [3, 3, 64, 32]), 1, 'same'),
    );
    expect(nativeConv.conv2DPaths.xnor).toBe(xnor + 1);
    expect(Array.from(native[0])).toEqual(Array.from(cpu[0]));
  });

  /** [batch, h, w, c, filter, stride, pad] */
  const poolCases: [number, number, number, number, number, number, 'same' | 'valid'][] = [
    [1, 4, 4, 1, 2, 2, 'valid'],
    [2, 7, 9, 3, 2, 2, 'valid'],
    [2, 7, 9, 3, 2, 2, 'same'],
    [3, 8, 8, 70, 2, 2, 'valid'],
    [2, 9, 7, 5, 3, 2, 'same'],
    [1, 6, 6, 4, 3, 1, 'same'],
  ];
  for (const [n, h, w, c, f, s, pad] of poolCases) {
    for (const binary of [false, true]) {
      const data = binary ? '±1 data, ties' : 'real data';
      it(`MaxPool and MaxPoolGrad equal cpu (${data}): ${n}×${h}×${w}×${c}, ${f}×${f} stride ${s} ${pad}`, async () => {
        const shape = [n, h, w, c] as [number, number, number, number];
        const x = randomArray(n * h * w * c, h * w + c, binary);
        const outShape = tf.maxPool(tf.zeros(shape) as tf.Tensor4D, f, s, pad).shape;
        const r = randomArray(
          outShape.reduce((a, b) => a * b),
          5,
        );
        const { native, cpu } = await onBoth(() => {
          const xt = tf.tensor4d(x, shape);
          const dx = tf.grad((a: tf.Tensor) =>
            tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, f, s, pad), tf.tensor(r, outShape))),
          )(xt);
          return [tf.maxPool(xt, f, s, pad), dx];
        });
        expect(Array.from(native[0])).toEqual(Array.from(cpu[0]));
        // Same element wins every window: the gradients agree to rounding of the overlapping sums.
        expect(relativeError(native[1], cpu[1])).toBeLessThan(1e-6);
      });
    }
  }

  it('a whole binary ConvNet step (pools, binary convs): gradients within 1e-4 relative of cpu', async () => {
    const grads: Record<string, Float32Array[]> = {};
    const { xnor, float } = nativeConv.conv2DPaths;
    for (const backend of ['native', 'cpu']) {
      await initBackend(backend);
      const model = buildConvNet({
        inputShape: [13, 11, 3],
        numClasses: 10,
        convFilters: [16, 24, 32, 64],
        hiddenUnits: [32],
        binarization: 'deterministic',
        batchNorm: 'standard',
        H: 1,
        seed: 7,
      });
      const params = modelParams(model, true);
      const x = tf.tensor4d(randomArray(5 * 13 * 11 * 3, 21), [5, 13, 11, 3]);
      const y = tf.tidy(() => tf.sub(tf.mul(tf.oneHot(tf.tensor1d([1, 3, 5, 7, 9], 'int32'), 10), 2), 1));
      grads[backend] = tf.tidy(() => {
        const { grads: g } = tf.variableGrads(
          () => squaredHinge(y, model.apply(x, { training: true }) as tf.Tensor),
          params.map((p) => p.variable),
        );
        return params.map((p) => g[p.variable.name].dataSync() as Float32Array);
      });
      tf.dispose([x, y]);
      model.dispose();
    }
    await initBackend('native');
    // The first conv sees real pixels; the three after it get ±1 activations and ±1 weights.
    expect([nativeConv.conv2DPaths.xnor - xnor, nativeConv.conv2DPaths.float - float]).toEqual([3, 1]);
    grads.cpu.forEach((g, i) => expect(relativeError(grads.native[i], g)).toBeLessThan(1e-4));
  });

  it('rejects bad shapes and arguments with clear errors', () => {
    const f = (n: number) => new Float32Array(n);
    // x 1×4×4×2, filter 3×3×2×3, same padding: out 1×4×4×3.
    const geometry = {
      n: 1,
      h: 4,
      w: 4,
      inChannels: 2,
      filterHeight: 3,
      filterWidth: 3,
      outChannels: 3,
      strideHeight: 1,
      strideWidth: 1,
      padTop: 1,
      padLeft: 1,
      outHeight: 4,
      outWidth: 4,
    };
    const conv = { x: f(32), filter: f(54), out: f(48), ...geometry, binary: false };
    expect(() => addon!.conv2d(conv)).not.toThrow();
    expect(() => addon!.conv2d({ ...conv, x: f(31) })).toThrow(/x has 31 elements, needs 32/);
    expect(() => addon!.conv2d({ ...conv, filter: f(53), binary: true })).toThrow(/filter has 53 elements, needs 54/);
    expect(() => addon!.conv2d({ ...conv, out: f(47) })).toThrow(/out has 47 elements, needs 48/);
    expect(() => addon!.conv2d({ ...conv, strideHeight: 0 })).toThrow(/strides must be ≥ 1/);
    expect(() => addon!.conv2d({ ...conv, padTop: -1 })).toThrow(/padTop must be an integer/);
    expect(() => addon!.conv2d({ ...conv, binary: undefined } as unknown as typeof conv)).toThrow(
      /binary must be a boolean/,
    );
    expect(() => addon!.conv2dBackpropFilter({ x: f(32), dy: f(48), dw: f(53), ...geometry })).toThrow(
      /dw has 53 elements/,
    );
    expect(() => addon!.conv2dBackpropInput({ dy: f(47), filter: f(54), dx: f(32), ...geometry })).toThrow(
      /dy has 47 elements/,
    );
    expect(() =>
      addon!.conv2dBackpropInput({
        dy: f(48),
        filter: f(54),
        dx: new Int32Array(32) as unknown as Float32Array,
        ...geometry,
      }),
    ).toThrow(/dx must be a Float32Array/);
    expect(() => addon!.conv2d({ ...conv, n: 1e9, h: 1e9, w: 1e9 })).toThrow(/must be an integer|overflows/);
    const pool = {
      n: 1,
      h: 4,
      w: 4,
      channels: 2,
      filterHeight: 2,
      filterWidth: 2,
      strideHeight: 2,
      strideWidth: 2,
      padTop: 0,
      padLeft: 0,
      outHeight: 2,
      outWidth: 2,
    };
    expect(() => addon!.maxPool({ x: f(32), out: f(7), ...pool })).toThrow(/out has 7 elements, needs 8/);
    expect(() => addon!.maxPoolGrad({ dy: f(8), x: f(32), dx: f(31), ...pool })).toThrow(/dx has 31 elements/);
    expect(() => addon!.maxPool({ x: f(32), out: f(8), ...pool, filterHeight: 0 })).toThrow(
      /filter size and strides must be ≥ 1/,
    );
    expect(() => addon!.maxPool({ x: f(32), out: f(8), ...pool, channels: undefined } as never)).toThrow(
      /channels must be a number/,
    );
    // Through tfjs: mismatched channels are a clear error, not a native read past the filter.
    expect(() =>
      tf.conv2d(tf.ones([1, 4, 4, 2]) as tf.Tensor4D, tf.ones([3, 3, 3, 4]) as tf.Tensor4D, 1, 'same'),
    ).toThrow(/depth/);
  });
});
