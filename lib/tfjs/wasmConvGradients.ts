/**
 * Gradient kernels that `@tensorflow/tfjs-backend-wasm` (4.22) lacks or gets wrong, so that conv
 * nets train on it. Probing `tf.variableGrads` of a Conv2D → MaxPool2D → BatchNorm → Dense net on
 * `wasm` against `cpu` showed:
 * - `Conv2DBackpropFilter` (the weight gradient) is not registered at all;
 * - `MaxPoolGrad` is registered but wrong as soon as there is more than one channel: it drops
 *   the gradient of some windows (checked on 1×4×4×2 inputs, 2×2 pooling). It is replaced.
 * `Conv2DBackpropInput` and everything BatchNorm and Dense need agree with `cpu`.
 *
 * The filter gradient of an NHWC convolution is, for every kernel offset (i, j),
 *   dW[i, j] = Xᵢⱼᵀ · dY        (Ci × M) · (M × Co), M = N·Ho·Wo,
 * where Xᵢⱼ is the (padded) input sampled at rows i + s·y, columns j + s·x: a strided slice.
 * Each term runs as the backend's own StridedSlice and BatchMatMul (XNNPACK, SIMD) kernels, so no
 * JS loop touches the data. Working per offset keeps the extra memory at one input-sized slice,
 * where a full im2col buffer would be kh·kw times the input (236 MB for CIFAR-10's second layer).
 */
import * as tf from '@tensorflow/tfjs';
// Loaded first so that its own (faulty) MaxPoolGrad registration cannot come after ours.
import '@tensorflow/tfjs-backend-wasm';

type TensorInfo = tf.TensorInfo;

/** The parts of the wasm backend this module uses (its class is not exported for typing). */
interface WasmBackendLike extends tf.KernelBackend {
  disposeData(dataId: object, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  /** A view of the tensor's data on the wasm heap (invalidated when the heap grows). */
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/** Attributes tfjs-core passes to Conv2DBackpropFilter. */
interface BackpropFilterAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** Runs another wasm kernel directly, as the backend's own composite kernels do. */
function run(
  name: string,
  backend: WasmBackendLike,
  inputs: Record<string, TensorInfo> | TensorInfo[],
  attrs: Record<string, unknown>,
): TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`wasm kernel '${name}' is not registered (is @tensorflow/tfjs-backend-wasm loaded?)`);
  return kernel.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, backend, attrs: attrs as tf.NamedAttrMap }) as TensorInfo;
}

function conv2dBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as BackpropFilterAttrs;
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
    throw new Error(`Conv2DBackpropFilter: dy shape [${dy.shape}] does not match the convolution's output [${n},${ho},${wo},${co}]`);
  }

  // Rows/columns the last kernel offset reaches; padding beyond them is never read.
  const needH = kh + (ho - 1) * sh;
  const needW = kw + (wo - 1) * sw;
  const padBottom = Math.max(0, needH - x.shape[1] - padInfo.top);
  const padRight = Math.max(0, needW - x.shape[2] - padInfo.left);
  const padded = padInfo.top || padInfo.left || padBottom || padRight;
  const xp = padded
    ? run('PadV2', backend, { x }, {
        paddings: [[0, 0], [padInfo.top, padBottom], [padInfo.left, padRight], [0, 0]],
        constantValue: 0,
      })
    : x;
  const m = n * ho * wo;
  const dy2 = run('Reshape', backend, { x: dy }, { shape: [m, co] });

  const blocks: TensorInfo[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const slice = run('StridedSlice', backend, { x: xp }, {
        begin: [0, i, j, 0],
        end: [n, i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1, ci],
        strides: [1, sh, sw, 1],
        beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
      });
      const slice2 = run('Reshape', backend, { x: slice }, { shape: [m, ci] });
      blocks.push(run('BatchMatMul', backend, { a: slice2, b: dy2 }, { transposeA: true, transposeB: false }));
      backend.disposeData(slice.dataId);
      backend.disposeData(slice2.dataId);
    }
  }
  if (xp !== x) backend.disposeData(xp.dataId);
  backend.disposeData(dy2.dataId);

  // Each block is [1, Ci, Co]; stacked along axis 0 they are dW in [kh, kw, Ci, Co] order.
  const stacked = run('Concat', backend, blocks, { axis: 0 });
  for (const b of blocks) backend.disposeData(b.dataId);
  const dw = run('Reshape', backend, { x: stacked }, { shape: filterShape });
  backend.disposeData(stacked.dataId);
  return dw;
}

/**
 * Max-pool backprop, tie-breaking as the `cpu` backend: each window's gradient goes to the first
 * maximal input (row-major within the window); padding never wins. One pass over the windows
 * reading the wasm heap directly: linear in the data, so a plain loop is cheap next to the convs.
 */
function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as {
    filterSize: [number, number] | number;
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, padInfo } = info;
  const dx = backend.makeOutput(input.shape, 'float32');
  // Views taken after makeOutput: allocating may grow (and so detach) the heap.
  const out = backend.typedArrayFromHeap(dx);
  const xv = backend.typedArrayFromHeap(input);
  const dyv = backend.typedArrayFromHeap(dy);
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

/** Kernel names this module supplies to the wasm backend. */
export const WASM_GRADIENT_KERNELS: readonly string[] = ['Conv2DBackpropFilter', 'MaxPoolGrad'];

const KERNELS: Record<string, tf.KernelFunc> = {
  Conv2DBackpropFilter: conv2dBackpropFilter as unknown as tf.KernelFunc,
  MaxPoolGrad: maxPoolGrad as unknown as tf.KernelFunc,
};

/**
 * Registers this module's gradient kernels for the `wasm` backend, replacing the backend's own
 * where it has a faulty one. Idempotent; works before or after the backend is initialised.
 */
export function registerWasmGradientKernels(): void {
  for (const [kernelName, kernelFunc] of Object.entries(KERNELS)) {
    const existing = tf.getKernel(kernelName, 'wasm');
    if (existing?.kernelFunc === kernelFunc) continue;
    // Unregister first: registering over an existing kernel works but logs a warning.
    if (existing) tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  }
}
