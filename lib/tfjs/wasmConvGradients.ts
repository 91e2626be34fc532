/**
 * Gradient kernels that `@tensorflow/tfjs-backend-wasm` (4.22) lacks, gets wrong, or runs slowly,
 * so that conv nets train on it. Probing `tf.variableGrads` of a Conv2D → MaxPool2D → BatchNorm →
 * Dense net on `wasm` against `cpu` showed:
 * - `Conv2DBackpropFilter` (the weight gradient) is not registered at all;
 * - `MaxPoolGrad` is registered but wrong as soon as there is more than one channel: it drops
 *   the gradient of some windows (checked on 1×4×4×2 inputs, 2×2 pooling). It is replaced;
 * - `Conv2DBackpropInput` is right but a plain loop (≈ 2–3 GFLOP/s against ≈ 15–30 for the
 *   forward conv): for stride 1 it is replaced by a forward convolution, others keep the original;
 * - `Tile`, which tfjs-core's BatchNorm gradient uses to broadcast per-channel statistics over
 *   whole activations, computes every output index on its own: it took a quarter of a training
 *   step. It is replaced by block copies that double the filled region each time.
 * Everything else BatchNorm and Dense need agrees with `cpu` and runs at native speed.
 *
 * The filter gradient of an NHWC convolution is itself a convolution: with the (padded) input
 * transposed to [Ci, H, W, N] and dY to [Ho, Wo, N, Co],
 *   dW[i, j, ci, co] = Σ_{y,x,n} Xᵀ[ci, i + s·y, j + s·x, n] · dYᵀ[y, x, n, co],
 * a stride-1 convolution dilated by the stride s, run by the backend's own XNNPACK Conv2D (SIMD).
 * Measured against slicing out each kernel offset and multiplying (StridedSlice + BatchMatMul,
 * where the slice copies dominate), it is 1.3–1.8× faster, and it needs no im2col buffer
 * (kh·kw times the input: 236 MB for CIFAR-10's second layer at batch 50).
 *
 * The input gradient of a stride-1 convolution is a stride-1 convolution of dY with the filter
 * flipped in space and its channel axes swapped, padded by k − 1 − p on each side.
 */
import * as tf from '@tensorflow/tfjs';
// Loaded first so that its own (faulty) MaxPoolGrad registration cannot come after ours.
import '@tensorflow/tfjs-backend-wasm';
import type {
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  MaxPoolGradAttrs,
  TileAttrs,
} from '@tensorflow/tfjs-core';
import type { WasmHeapBackend } from './wasmHeap';

type TensorInfo = tf.TensorInfo;

/** Runs another wasm kernel directly, as the backend's own composite kernels do. */
function run(
  name: string,
  backend: WasmHeapBackend,
  inputs: Record<string, TensorInfo> | TensorInfo[],
  attrs: Record<string, unknown>,
): TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`wasm kernel '${name}' is not registered (is @tensorflow/tfjs-backend-wasm loaded?)`);
  return kernel.kernelFunc({
    inputs: inputs as tf.NamedTensorInfoMap,
    backend,
    attrs: attrs as tf.NamedAttrMap,
  }) as TensorInfo;
}

function conv2dBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize: n, inChannels: ci, outChannels: co, outHeight: ho, outWidth: wo } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info;
  if (dy.shape[1] !== ho || dy.shape[2] !== wo || dy.shape[3] !== co) {
    throw new Error(
      `Conv2DBackpropFilter: dy shape [${dy.shape}] does not match the convolution's output [${n},${ho},${wo},${co}]`,
    );
  }

  // Rows/columns the last kernel offset reaches; padding beyond them is never read.
  const needH = kh + (ho - 1) * sh;
  const needW = kw + (wo - 1) * sw;
  const padBottom = Math.max(0, needH - x.shape[1] - padInfo.top);
  const padRight = Math.max(0, needW - x.shape[2] - padInfo.left);
  const padded = padInfo.top || padInfo.left || padBottom || padRight;
  const xp = padded
    ? run(
        'PadV2',
        backend,
        { x },
        {
          paddings: [
            [0, 0],
            [padInfo.top, padBottom],
            [padInfo.left, padRight],
            [0, 0],
          ],
          constantValue: 0,
        },
      )
    : x;
  // dW[i, j, ci, co] = Σ_{n,y,x} Xp[n, i + s·y, j + s·x, ci] · dY[n, y, x, co]: a convolution of
  // Xp laid out [Ci, H, W, N] (batch Ci, channels N) with dY laid out [Ho, Wo, N, Co] as the
  // filter, dilated by the stride. Its output is [Ci, kh', kw', Co] with kh' ≥ kh.
  const xt = run('Transpose', backend, { x: xp }, { perm: [3, 1, 2, 0] });
  if (xp !== x) backend.disposeData(xp.dataId);
  const dyt = run('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] });
  const full = run(
    'Conv2D',
    backend,
    { x: xt, filter: dyt },
    {
      strides: 1,
      pad: 'valid',
      dataFormat: 'NHWC',
      dilations: [sh, sw],
      dimRoundingMode: undefined,
    },
  );
  backend.disposeData(xt.dataId);
  backend.disposeData(dyt.dataId);
  // Rows/columns past the last window (valid padding with a stride) fall beyond kh × kw.
  const exact =
    full.shape[1] === kh && full.shape[2] === kw
      ? full
      : run('Slice', backend, { x: full }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
  if (exact !== full) backend.disposeData(full.dataId);
  const dw = run('Transpose', backend, { x: exact }, { perm: [1, 2, 0, 3] });
  backend.disposeData(exact.dataId);
  return dw;
}

/** The backend's own Conv2DBackpropInput, kept for the cases the fast path does not cover. */
let originalBackpropInput: tf.KernelFunc | null = null;

function conv2dBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as Conv2DBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    dataFormat === 'NCHW' ? 'channelsFirst' : 'channelsLast',
  );
  const { filterHeight: kh, filterWidth: kw, padInfo, inHeight: h, inWidth: w, outHeight: ho, outWidth: wo } = info;
  const top = kh - 1 - padInfo.top;
  const left = kw - 1 - padInfo.left;
  const bottom = h - ho - top + kh - 1;
  const right = w - wo - left + kw - 1;
  const fast =
    dataFormat !== 'NCHW' &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    Math.min(top, left, bottom, right) >= 0;
  if (!fast) {
    if (!originalBackpropInput) throw new Error('Conv2DBackpropInput: wasm has no kernel for this case');
    return originalBackpropInput(args) as TensorInfo;
  }
  const flipped = run('Reverse', backend, { x: filter }, { dims: [0, 1] });
  const wT = run('Transpose', backend, { x: flipped }, { perm: [0, 1, 3, 2] });
  backend.disposeData(flipped.dataId);
  const dx = run(
    'Conv2D',
    backend,
    { x: dy, filter: wT },
    {
      strides: 1,
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
      dataFormat: 'NHWC',
      dilations: 1,
      dimRoundingMode: undefined,
    },
  );
  backend.disposeData(wT.dataId);
  return dx;
}

/**
 * Max-pool backprop, tie-breaking as the `cpu` backend: each window's gradient goes to the first
 * maximal input (row-major within the window); padding never wins. One pass over the windows
 * reading the wasm heap directly: linear in the data, so a plain loop is cheap next to the convs.
 */
function maxPoolGrad(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, padInfo } = info;
  const dx = backend.makeOutput(input.shape, 'float32');
  // Views taken after makeOutput: allocating may grow (and so detach) the heap.
  const out = backend.typedArrayFromHeap(dx) as Float32Array;
  const xv = backend.typedArrayFromHeap(input) as Float32Array;
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
  out.fill(0);
  for (let b = 0; b < n; b++) {
    const xBase = b * h * w * c;
    for (let oy = 0; oy < ho; oy++) {
      const y0 = oy * sh - padInfo.top;
      const yStart = Math.max(0, y0);
      const yEnd = Math.min(h, y0 + fh);
      for (let ox = 0; ox < wo; ox++) {
        const x0 = ox * sw - padInfo.left;
        const xStart = Math.max(0, x0);
        const xEnd = Math.min(w, x0 + fw);
        const dyBase = ((b * ho + oy) * wo + ox) * c;
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let at = -1;
          for (let y = yStart; y < yEnd; y++) {
            for (let x = xStart; x < xEnd; x++) {
              const k = xBase + (y * w + x) * c + ch;
              if (xv[k] > best) {
                best = xv[k];
                at = k;
              }
            }
          }
          // A window of NaNs (or all −∞) has no maximum: it gets no gradient, as on cpu.
          if (at >= 0) out[at] += dyv[dyBase + ch];
        }
      }
    }
  }
  return dx;
}

/** The backend's own Tile, kept for string tensors (which do not live on the wasm heap). */
let originalTile: tf.KernelFunc | null = null;

/**
 * Tile by block copies: each dimension's block is written once and then replicated by doubling
 * `copyWithin`, so tiling a [1, 1, 1, C] vector over [N, H, W, C] costs log₂(N·H·W) copies.
 */
function tile(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const { x } = args.inputs as { x: TensorInfo };
  const { reps } = args.attrs as unknown as TileAttrs;
  if (x.dtype === 'string') {
    if (!originalTile) throw new Error('Tile: wasm has no kernel for string tensors');
    return originalTile(args) as TensorInfo;
  }
  const rank = x.shape.length;
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (outShape.some((d) => d === 0)) return out;
  // Views taken after makeOutput: allocating may grow (and so detach) the heap.
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  if (rank === 0) {
    dst[0] = src[0];
    return out;
  }
  const inStride = new Array<number>(rank).fill(1);
  const outStride = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) {
    inStride[d] = inStride[d + 1] * x.shape[d + 1];
    outStride[d] = outStride[d + 1] * outShape[d + 1];
  }
  const fill = (d: number, inAt: number, outAt: number): void => {
    const size = x.shape[d];
    if (d === rank - 1) {
      dst.set(src.subarray(inAt, inAt + size), outAt);
    } else {
      for (let i = 0; i < size; i++) fill(d + 1, inAt + i * inStride[d], outAt + i * outStride[d]);
    }
    const block = size * outStride[d];
    const total = block * reps[d];
    for (let have = block; have < total; have += Math.min(have, total - have)) {
      dst.copyWithin(outAt + have, outAt, outAt + Math.min(have, total - have));
    }
  };
  fill(0, 0, 0);
  return out;
}

/** Kernel names this module supplies to the wasm backend. */
export const WASM_GRADIENT_KERNELS: readonly string[] = [
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'MaxPoolGrad',
  'Tile',
];

const KERNELS: Record<string, tf.KernelFunc> = {
  Conv2DBackpropFilter: conv2dBackpropFilter as unknown as tf.KernelFunc,
  Conv2DBackpropInput: conv2dBackpropInput as unknown as tf.KernelFunc,
  MaxPoolGrad: maxPoolGrad as unknown as tf.KernelFunc,
  Tile: tile as unknown as tf.KernelFunc,
};

let registered = false;

/**
 * Registers this module's gradient kernels for the `wasm` backend, replacing the backend's own
 * where it has a faulty one. Idempotent; works before or after the backend is initialised.
 */
export function registerWasmGradientKernels(): void {
  // Once only: when the native backend is re-selected (initBackend after another backend), the
  // kernels registered now are the native ones, whose fallbacks are these.
  if (registered) return;
  registered = true;
  for (const [kernelName, kernelFunc] of Object.entries(KERNELS)) {
    const existing = tf.getKernel(kernelName, 'wasm');
    if (kernelName === 'Conv2DBackpropInput') originalBackpropInput = existing?.kernelFunc ?? null;
    if (kernelName === 'Tile') originalTile = existing?.kernelFunc ?? null;
    // Unregister first: registering over an existing kernel works but logs a warning.
    if (existing) tf.unregisterKernel(kernelName, 'wasm');
    // The replaced kernel's setup (binding its wasm function) still has to run when the backend
    // initialises, since the fallback path calls it.
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc, setupFunc: existing?.setupFunc });
  }
}
