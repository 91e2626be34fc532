/**
 * ConvNet kernels of the native backend (native/conv_ops.cc, native/pool_ops.cc): registered by
 * setNativeKernels in lib/tfjs/nativeKernels.ts, on tensors in place on the wasm heap.
 *
 * Conv2D (im2col + the packed float GEMM, or the XNOR GEMM where input and filter are all ±1),
 * Conv2DBackpropFilter (im2colᵀ · dy), Conv2DBackpropInput (dy · filterᵀ gathered back into the
 * input, any stride), MaxPool and MaxPoolGrad (first maximum wins, as the cpu backend). NHWC and
 * dilation 1 only; anything else, and non-float32 tensors, go to the kernel each one replaces
 * (wasm's own, or lib/tfjs/wasmConvGradients.ts for the gradients).
 */
import * as tf from '@tensorflow/tfjs';
import type { ConvGeometry, NativeAddon, PoolGeometry, WindowGeometry } from '../kernels/native';
import type {
  Conv2DAttrs,
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  KernelConfig,
  MaxPoolAttrs,
  MaxPoolGradAttrs,
} from '@tensorflow/tfjs-core';
import { heapFloats, type KernelArgs, type WasmHeapBackend } from './wasmHeap';

type TensorInfo = tf.TensorInfo;
type Shape4 = [number, number, number, number];
type KernelFunc = (args: KernelArgs) => TensorInfo | TensorInfo[];
/** What the conv kernel and its two gradients share of tfjs's attributes (the gradients have no dilations). */
type ConvAttrs = Omit<Conv2DAttrs, 'dilations'> & Partial<Pick<Conv2DAttrs, 'dilations'>>;

/** The window geometry of tfjs's conv or pool info. */
function windowGeometry(info: tf.backend_util.Conv2DInfo): WindowGeometry {
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
  };
}

/** The geometry fields conv_ops.cc reads, from tfjs's conv info. */
export function convGeometry(info: tf.backend_util.Conv2DInfo): ConvGeometry {
  return { ...windowGeometry(info), inChannels: info.inChannels, outChannels: info.outChannels };
}

/** The conv's geometry, or null where the native kernels do not apply (NCHW, dilation, non-float32). */
function nativeConvInfo(
  xShape: number[],
  filterShape: number[],
  attrs: ConvAttrs,
  tensors: TensorInfo[],
): tf.backend_util.Conv2DInfo | null {
  if (attrs.dataFormat === 'NCHW' || tensors.some((t) => t.dtype !== 'float32')) return null;
  const dilations = attrs.dilations ?? 1;
  if (!tf.backend_util.tupleValuesAreOne(dilations)) return null;
  if (xShape.length !== 4 || filterShape.length !== 4) return null;
  return tf.backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

/** The replaced kernel, called for the cases the native one does not handle. */
function fallbackOf(original: { kernelFunc: KernelFunc } | undefined, name: string): KernelFunc {
  if (original) return original.kernelFunc;
  return () => {
    throw new Error(`${name}: no wasm kernel for this case (is @tensorflow/tfjs-backend-wasm loaded?)`);
  };
}

/** The native gradients read dy as the forward op's output, so its shape must be that. */
function checkDy(kernel: string, dy: TensorInfo, outShape: number[], op: string): void {
  if (dy.shape.join() !== outShape.join())
    throw new Error(`${kernel}: dy [${dy.shape}] does not match the ${op}'s output [${outShape}]`);
}

/** Conv2D calls per path taken since the process started: for tests and profiling. */
export const conv2DPaths = { xnor: 0, float: 0, fallback: 0 };

function conv2d(addon: NativeAddon, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as WasmHeapBackend;
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs as unknown as Conv2DAttrs;
    const info = nativeConvInfo(x.shape, filter.shape, attrs, [x, filter]);
    if (!info) {
      conv2DPaths.fallback++;
      return fallback(args);
    }
    if (x.shape[3] !== filter.shape[2])
      throw new Error(
        `Conv2D: input channels ${x.shape[3]} of x [${x.shape}] differ from the filter's [${filter.shape}]`,
      );
    const out = backend.makeOutput(info.outShape, 'float32');
    const path =
      tf.util.sizeFromShape(info.outShape) === 0
        ? 'float'
        : addon.conv2d({
            x: heapFloats(backend, x),
            filter: heapFloats(backend, filter),
            out: heapFloats(backend, out),
            ...convGeometry(info),
            binary: true,
          });
    conv2DPaths[path]++;
    return out;
  };
}

function conv2dBackpropFilter(addon: NativeAddon, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as WasmHeapBackend;
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs;
    const info = nativeConvInfo(x.shape, attrs.filterShape, attrs, [x, dy]);
    if (!info) return fallback(args);
    checkDy('Conv2DBackpropFilter', dy, info.outShape, 'convolution');
    const dw = backend.makeOutput(attrs.filterShape, 'float32');
    if (tf.util.sizeFromShape(attrs.filterShape) > 0)
      addon.conv2dBackpropFilter({
        x: heapFloats(backend, x),
        dy: heapFloats(backend, dy),
        dw: heapFloats(backend, dw),
        ...convGeometry(info),
      });
    return dw;
  };
}

function conv2dBackpropInput(addon: NativeAddon, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as WasmHeapBackend;
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs as unknown as Conv2DBackpropInputAttrs;
    const info = nativeConvInfo(attrs.inputShape, filter.shape, attrs, [dy, filter]);
    if (!info) return fallback(args);
    checkDy('Conv2DBackpropInput', dy, info.outShape, 'convolution');
    const dx = backend.makeOutput(attrs.inputShape, 'float32');
    if (tf.util.sizeFromShape(attrs.inputShape) > 0)
      addon.conv2dBackpropInput({
        dy: heapFloats(backend, dy),
        filter: heapFloats(backend, filter),
        dx: heapFloats(backend, dx),
        ...convGeometry(info),
      });
    return dx;
  };
}

/** The pool's tfjs info and the geometry fields pool_ops.cc reads; null where not handled (non-float32, dilation). */
function poolGeometry(
  x: TensorInfo,
  attrs: MaxPoolAttrs,
): { info: tf.backend_util.Conv2DInfo; geometry: PoolGeometry } | null {
  if (x.dtype !== 'float32' || x.shape.length !== 4) return null;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as Shape4,
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  return {
    info,
    geometry: { ...windowGeometry(info), channels: info.inChannels },
  };
}

function maxPool(addon: NativeAddon, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as WasmHeapBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const g = poolGeometry(x, args.attrs as unknown as MaxPoolAttrs);
    if (!g) return fallback(args);
    const out = backend.makeOutput(g.info.outShape, 'float32');
    if (tf.util.sizeFromShape(g.info.outShape) > 0)
      addon.maxPool({ x: heapFloats(backend, x), out: heapFloats(backend, out), ...g.geometry });
    return out;
  };
}

function maxPoolGrad(addon: NativeAddon, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as WasmHeapBackend;
    const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
    const g = dy.dtype === 'float32' ? poolGeometry(input, args.attrs as unknown as MaxPoolGradAttrs) : null;
    if (!g) return fallback(args);
    checkDy('MaxPoolGrad', dy, g.info.outShape, 'pool');
    const dx = backend.makeOutput(input.shape, 'float32');
    if (tf.util.sizeFromShape(input.shape) > 0)
      addon.maxPoolGrad({
        dy: heapFloats(backend, dy),
        x: heapFloats(backend, input),
        dx: heapFloats(backend, dx),
        ...g.geometry,
      });
    return dx;
  };
}

/**
 * The native ConvNet kernels by the tfjs kernel they replace, each made from the addon and the replaced
 * wasm kernel (its fallback for the cases it leaves to wasm); lib/tfjs/nativeKernels.ts registers them
 * with the others.
 */
export function nativeConvKernels(addon: NativeAddon): [string, (original: KernelConfig | undefined) => KernelFunc][] {
  const kernels: [string, (addon: NativeAddon, fallback: KernelFunc) => KernelFunc][] = [
    ['Conv2D', conv2d],
    ['Conv2DBackpropFilter', conv2dBackpropFilter],
    ['Conv2DBackpropInput', conv2dBackpropInput],
    ['MaxPool', maxPool],
    ['MaxPoolGrad', maxPoolGrad],
  ];
  return kernels.map(([name, make]) => [
    name,
    (original) => make(addon, fallbackOf(original as { kernelFunc: KernelFunc } | undefined, name)),
  ]);
}
