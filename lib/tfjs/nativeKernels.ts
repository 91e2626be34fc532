/**
 * The `native` backend: tfjs's wasm backend with its heavy training kernels replaced by the C++
 * addon's (native/train_ops.cc), multi-threaded and AVX-512/AVX2 where the CPU has them.
 *
 * Why this design: tensors stay where the wasm backend keeps them, in the WebAssembly heap. A
 * native kernel gets `Float32Array` views of that heap for its inputs and for an output the
 * backend has just allocated there, and computes in place: nothing is copied between wasm and
 * native memory, ever. Every op we do not replace (hundreds) keeps running on wasm unchanged, and
 * autodiff, layers and serialization stay tfjs's own. The alternative — a tfjs backend whose
 * tensors live in native memory, as tfjs-node does — would mean re-implementing every kernel.
 * Views are taken after the output is allocated, since an allocation may grow the heap, which
 * detaches the previous ArrayBuffer; native calls are synchronous, so the heap cannot move
 * during one.
 *
 * tfjs registers kernels per backend name, so these replace the `wasm` ones in this process;
 * `setNativeKernels(false)` restores the originals (the `wasm` backend proper).
 */
import * as tf from '@tensorflow/tfjs';
import { loadNativeAddon, type NativeAddon } from '../kernels/native';
import {
  BNN_BATCH_NORM_GRAD,
  BNN_BATCH_NORM_TRAIN,
  BNN_DROPOUT_MASK,
  BNN_SIGN,
  BNN_STE_GRAD,
  type BnnBatchNormAttrs,
  type BnnDropoutMaskAttrs,
} from './kernelNames';
import { nativeConvKernels } from './nativeConvKernels';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { heapFloats, type KernelArgs, type WasmHeapBackend } from './wasmHeap';

type TensorInfo = tf.TensorInfo;

/** BatchMatMul: float GEMM on all cores, or the XNOR GEMM where both operands are all ±1. */
function batchMatMul(addon: NativeAddon, fallback: KernelConfig['kernelFunc']) {
  return (args: KernelArgs) => {
    const backend = args.backend as WasmHeapBackend;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const ra = a.shape.length,
      rb = b.shape.length;
    const batchShapeA = a.shape.slice(0, -2),
      batchShapeB = b.shape.slice(0, -2);
    const batchA = tf.util.sizeFromShape(batchShapeA),
      batchB = tf.util.sizeFromShape(batchShapeB);
    const sameBatch = batchShapeA.join() === batchShapeB.join();
    // Broadcasting other than equal batch shapes or a single matrix on one side: leave it to wasm.
    if (
      a.dtype !== 'float32' ||
      b.dtype !== 'float32' ||
      ra < 2 ||
      rb < 2 ||
      (!sameBatch && batchA !== 1 && batchB !== 1)
    ) {
      return fallback(args);
    }
    const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    if (k !== kb)
      throw new Error(
        `matMul: inner dimensions differ: a [${a.shape}] and b [${b.shape}] (transposeA ${transposeA}, ` +
          `transposeB ${transposeB})`,
      );
    const batchShape = batchA >= batchB ? batchShapeA : batchShapeB;
    const out = backend.makeOutput([...batchShape, m, n], 'float32');
    if (tf.util.sizeFromShape(out.shape) > 0) {
      addon.matmul({
        a: heapFloats(backend, a),
        b: heapFloats(backend, b),
        c: heapFloats(backend, out),
        batch: Math.max(batchA, batchB),
        m,
        n,
        k,
        transA: transposeA,
        transB: transposeB,
        batchA,
        batchB,
        binary: true,
      });
    }
    return out;
  };
}

/**
 * Identity without a copy, as the cpu backend does (wasm copies): tensors are immutable, and
 * tf.customGrad clones every tensor it saves — for the binary layers that is the whole latent
 * weight matrix, twice per step (a visible share of a 3×4096 step). The one in-place writer, the fused
 * optimizer, copies data that is shared before writing (lib/optim/optimizers.ts).
 */
function sharedIdentity(args: KernelArgs) {
  const backend = args.backend as WasmHeapBackend & { incRef(dataId: object): void };
  const { x } = args.inputs as { x: TensorInfo };
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** sign(x), 0 → +1 (lib/quantizers.ts), in one pass. */
function signKernel(addon: NativeAddon) {
  return (args: KernelArgs) => {
    const backend = args.backend as WasmHeapBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const out = backend.makeOutput(x.shape, 'float32');
    addon.sign({ x: heapFloats(backend, x), out: heapFloats(backend, out), n: tf.util.sizeFromShape(x.shape) });
    return out;
  };
}

/**
 * dy · 1_{|x| ≤ 1}: the straight-through estimator's gradient, in one pass. Where no element is
 * cancelled — always so for latent weights, clipped to [−H, H] — it is dy itself, shared as
 * sharedIdentity shares, after one read of x instead of a pass that writes a copy.
 */
function steGradKernel(addon: NativeAddon) {
  return (args: KernelArgs) => {
    const backend = args.backend as WasmHeapBackend & { incRef(dataId: object): void };
    const { dy, x } = args.inputs as { dy: TensorInfo; x: TensorInfo };
    if (dy.shape.join() !== x.shape.join())
      throw new Error(`BnnSteGrad: dy [${dy.shape}] and x [${x.shape}] differ in shape`);
    if (addon.absAtMostOne({ x: heapFloats(backend, x), n: tf.util.sizeFromShape(x.shape) })) {
      backend.incRef(dy.dataId);
      return { dataId: dy.dataId, shape: dy.shape, dtype: dy.dtype };
    }
    const out = backend.makeOutput(x.shape, 'float32');
    addon.steGrad({
      dy: heapFloats(backend, dy),
      x: heapFloats(backend, x),
      out: heapFloats(backend, out),
      n: tf.util.sizeFromShape(x.shape),
    });
    return out;
  };
}

/** x viewed as rows × channels (channels last), checking γ, β and the statistics have one value per channel. */
function channelsLast(x: TensorInfo, perChannel: TensorInfo[], what: string): { rows: number; channels: number } {
  const channels = x.shape[x.shape.length - 1];
  for (const t of perChannel) {
    if (tf.util.sizeFromShape(t.shape) !== channels)
      throw new Error(`${what}: [${t.shape}] does not hold one value per channel of x [${x.shape}]`);
  }
  return { rows: tf.util.sizeFromShape(x.shape) / channels, channels };
}

/** BatchNorm in training, fused (lib/layers/batchNorm.ts): outputs y, batch mean, batch variance. */
function batchNormTrainKernel(addon: NativeAddon) {
  return (args: KernelArgs) => {
    const backend = args.backend as WasmHeapBackend;
    const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const { epsilon } = args.attrs as unknown as BnnBatchNormAttrs;
    const { rows, channels } = channelsLast(x, [gamma, beta], BNN_BATCH_NORM_TRAIN);
    const y = backend.makeOutput(x.shape, 'float32');
    const mean = backend.makeOutput([channels], 'float32');
    const variance = backend.makeOutput([channels], 'float32');
    const f = (t: TensorInfo) => heapFloats(backend, t);
    addon.batchNormTrain({
      x: f(x),
      gamma: f(gamma),
      beta: f(beta),
      y: f(y),
      mean: f(mean),
      variance: f(variance),
      rows,
      channels,
      epsilon,
    });
    return [y, mean, variance];
  };
}

/** Its gradient: dx, dγ, dβ. */
function batchNormGradKernel(addon: NativeAddon) {
  return (args: KernelArgs) => {
    const backend = args.backend as WasmHeapBackend;
    const { dy, x, gamma, mean, variance } = args.inputs as Record<
      'dy' | 'x' | 'gamma' | 'mean' | 'variance',
      TensorInfo
    >;
    const { epsilon } = args.attrs as unknown as BnnBatchNormAttrs;
    if (dy.shape.join() !== x.shape.join())
      throw new Error(`${BNN_BATCH_NORM_GRAD}: dy [${dy.shape}] and x [${x.shape}] differ in shape`);
    const { rows, channels } = channelsLast(x, [gamma, mean, variance], BNN_BATCH_NORM_GRAD);
    const dx = backend.makeOutput(x.shape, 'float32');
    const dgamma = backend.makeOutput(gamma.shape, 'float32');
    const dbeta = backend.makeOutput(gamma.shape, 'float32');
    const f = (t: TensorInfo) => heapFloats(backend, t);
    addon.batchNormGrad({
      dy: f(dy),
      x: f(x),
      gamma: f(gamma),
      mean: f(mean),
      variance: f(variance),
      dx: f(dx),
      dgamma: f(dgamma),
      dbeta: f(dbeta),
      rows,
      channels,
      epsilon,
    });
    return [dx, dgamma, dbeta];
  };
}

/** A dropout mask (lib/layers/dropout.ts): no inputs, attrs { shape, rate, seed }. */
function dropoutMaskKernel(addon: NativeAddon) {
  return (args: KernelArgs) => {
    const backend = args.backend as WasmHeapBackend;
    const { shape, rate, seed } = args.attrs as unknown as BnnDropoutMaskAttrs;
    const out = backend.makeOutput(shape, 'float32');
    addon.dropoutMask({ out: heapFloats(backend, out), n: tf.util.sizeFromShape(shape), rate, seed });
    return out;
  };
}

let active: { addon: NativeAddon; originals: Map<string, KernelConfig | undefined> } | null = null;

function replaceKernel(
  kernelName: string,
  make: (original: KernelConfig | undefined) => KernelConfig['kernelFunc'],
  originals: Map<string, KernelConfig | undefined>,
): void {
  if (originals.has(kernelName)) throw new Error(`native kernel ${kernelName} registered twice`);
  const existing = tf.getKernel(kernelName, 'wasm');
  originals.set(kernelName, existing);
  if (existing) tf.unregisterKernel(kernelName, 'wasm');
  // Keep the replaced kernel's setup: it binds the wasm function that the fallback path calls.
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: make(existing), setupFunc: existing?.setupFunc });
}

/**
 * Turns the native kernels on or off for the wasm backend (call after its module is loaded).
 * Returns null on success, else why the addon is unavailable.
 */
export function setNativeKernels(enabled: boolean): string | null {
  if (!enabled) {
    if (active) {
      for (const [name, original] of active.originals) {
        tf.unregisterKernel(name, 'wasm');
        if (original) tf.registerKernel(original);
      }
      active = null;
    }
    return null;
  }
  if (active) return null;
  const { addon, why } = loadNativeAddon();
  if (!addon) return why;
  if (typeof addon.matmul !== 'function')
    return 'the native addon predates the training kernels; run npm run build:kernels';
  const originals = new Map<string, KernelConfig | undefined>();
  replaceKernel(
    'BatchMatMul',
    (original) => {
      if (!original) throw new Error('wasm BatchMatMul is not registered (is @tensorflow/tfjs-backend-wasm loaded?)');
      return batchMatMul(addon, original.kernelFunc);
    },
    originals,
  );
  replaceKernel(
    'Identity',
    (original) => (args) => {
      const x = (args.inputs as { x: TensorInfo }).x;
      return x.dtype === 'string' || x.dtype === 'complex64' ? original!.kernelFunc(args) : sharedIdentity(args);
    },
    originals,
  );
  replaceKernel(BNN_SIGN, () => signKernel(addon), originals);
  replaceKernel(BNN_STE_GRAD, () => steGradKernel(addon), originals);
  replaceKernel(BNN_BATCH_NORM_TRAIN, () => batchNormTrainKernel(addon), originals);
  replaceKernel(BNN_DROPOUT_MASK, () => dropoutMaskKernel(addon), originals);
  replaceKernel(BNN_BATCH_NORM_GRAD, () => batchNormGradKernel(addon), originals);
  for (const [name, make] of nativeConvKernels(addon)) {
    replaceKernel(name, (original) => make(original) as KernelConfig['kernelFunc'], originals);
  }
  active = { addon, originals };
  return null;
}

/** Whether the native kernels are in use (the active backend is wasm and they are registered). */
export function nativeKernelsActive(): boolean {
  return active !== null && tf.getBackend() === 'wasm';
}

/** The addon, while the native kernels are active. */
export function activeNativeAddon(): NativeAddon | null {
  return nativeKernelsActive() ? active!.addon : null;
}
