/**
 * The `webgpu` backend in Node: @tensorflow/tfjs-backend-webgpu on Dawn (the npm package `webgpu`, whose
 * prebuilt dawn.node reaches the GPU through Vulkan, Metal or D3D12), both optional dependencies.
 * Every op but two is tfjs-webgpu's own; our fused kernels (lib/tfjs/kernelNames.ts) are registered for the
 * native backend only, so the layers, the quantizers and the optimizer take their composite-op paths here.
 * One gradient is ours: max-pool's, to each window's first maximum as on cpu (see below); two kernels,
 * BnnBinaryMatMul and BnnBinaryConv2D, the XNOR products of the binary layers' ±1 operands (lib/tfjs/webgpuXnor.ts).
 * A software adapter (Mesa's llvmpipe/lavapipe, SwiftShader, WARP: the GPU emulated on the CPU) is
 * used only when asked for (BNN_BACKEND=webgpu), e.g. by the tests: correct, but slower than the CPU backends.
 * tfjs-webgpu's synchronous reads (`dataSync`) need OffscreenCanvas, which Node lacks: what runs on
 * this backend reads tensors with `await tensor.data()`.
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { isSoftwareAdapter, type AdapterInfo } from '../kernels/webgpu/device';
import { registerWebgpuXnorKernels } from './webgpuXnor';

const requireModule = createRequire(__filename);

// The little of WebGPU's API used here, typed locally: the optional packages (and their types) may be absent.
interface Adapter {
  info: AdapterInfo;
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(descriptor: object): Promise<unknown>;
}
interface Dawn {
  create(flags: string[]): { requestAdapter(options: object): Promise<Adapter | null> };
  globals: Record<string, unknown>;
}
interface TfjsWebgpu {
  WebGPUBackend: new (device: unknown, info: AdapterInfo) => tf.KernelBackend;
}

/** The adapter the backend runs on. */
export interface WebgpuAdapter {
  /** What the driver calls it, e.g. "llvmpipe" or "NVIDIA GeForce RTX 4090". */
  name: string;
  /** A GPU emulated on the CPU: for tests, never chosen on its own. */
  software: boolean;
  /** The driver's description, for the start-up line. */
  description: string;
}

/**
 * A short name: the device's when it reads as one ("NVIDIA GeForce RTX 4090"), else the driver
 * description's part before its first colon ("llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)" → "llvmpipe").
 */
export function adapterName(info: AdapterInfo): string {
  if (info.device?.includes(' ')) return info.device.trim();
  const name = (info.description || info.device || info.vendor || '').split(':')[0].trim();
  return name || 'unknown adapter';
}

/** `webgpu (llvmpipe, software)`: how results name the backend. */
export function webgpuLabel(adapter: WebgpuAdapter): string {
  return `webgpu (${adapter.name}${adapter.software ? ', software' : ''})`;
}

let registered: WebgpuAdapter | null = null;
/**
 * The GPU object and adapter of the registered backend, held for the process's life: dawn.node (webgpu 0.6)
 * crashes when either is garbage-collected while its device is in use (navigator.gpu and tfjs's factory
 * closure hold them too, but nothing promises they stay).
 */
const keepAlive: unknown[] = [];
/** A software adapter found when one was not wanted: not probed for again (each probe takes a while). */
let refused: WebgpuAdapter | null = null;

/** The adapter of the registered webgpu backend, or null. */
export function webgpuAdapter(): WebgpuAdapter | null {
  return registered;
}

/**
 * Registers tfjs's 'webgpu' backend on Dawn's high-performance adapter. Returns why it cannot be
 * used (the packages or an adapter missing, a software adapter when `allowSoftware` is false), or null.
 */
export async function registerWebgpuBackend(allowSoftware: boolean): Promise<string | null> {
  const known = registered ?? refused;
  if (known?.software && !allowSoftware) return softwareRefusal(known);
  if (registered) return null;
  // Both are optional dependencies: a missing one is the reason given (the message names the package).
  const dawn = requireModule('webgpu') as Dawn;
  const { WebGPUBackend } = requireModule('@tensorflow/tfjs-backend-webgpu') as TfjsWebgpu;
  // GPUBufferUsage, GPUMapMode, …: tfjs-webgpu uses the browser's globals.
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return 'no WebGPU adapter (Dawn found no Vulkan, Metal or D3D12 device)';
  const found: WebgpuAdapter = {
    name: adapterName(adapter.info),
    software: isSoftwareAdapter(adapter.info),
    description: adapter.info.description ?? '',
  };
  if (found.software && !allowSoftware) {
    refused = found;
    return softwareRefusal(found);
  }
  // WebGPUBackend's constructor checks navigator.gpu (Node 20 has no navigator; Node 21+ one without gpu).
  const g = globalThis as { navigator?: object };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  const limits = adapter.limits;
  keepAlive.push(gpu, adapter);
  tf.registerBackend(
    'webgpu',
    async () => {
      // The limits tfjs-webgpu's own registration asks for (its base.ts), on the adapter checked above.
      const device = await adapter.requestDevice({
        requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
        requiredLimits: {
          maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
          maxBufferSize: limits.maxBufferSize,
          maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        },
      });
      return new WebGPUBackend(device, adapter.info);
    },
    // Below every other backend: tfjs never picks it unless asked by name.
    -1,
  );
  registerFirstMaxPoolGradient();
  registerWebgpuXnorKernels();
  registered = found;
  return null;
}

/**
 * tfjs-webgpu's max-pool gradient sends a window's gradient to its last maximal input, cpu (and the
 * native and wasm backends: lib/tfjs/wasmConvGradients.ts) to the first. In a binary net the pooled
 * values are integers and ties are the rule, so the two gave other gradients (by 40–60 % on a ConvNet's
 * first layers). On webgpu, MaxPool's gradient is therefore this composite with the first maximum
 * (row-major within the window, as cpu) wherever the windows do not overlap (stride = window, 'valid'
 * padding: the 2×2 pooling of every preset); other pools and every other backend keep tfjs's gradient.
 */
function registerFirstMaxPoolGradient(): void {
  const original = tf.getGradient('MaxPool');
  if (!original || (original as { firstMaxOnWebgpu?: boolean }).firstMaxOnWebgpu) return;
  const config = {
    ...original,
    firstMaxOnWebgpu: true,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const { filterSize, strides, pad } = attrs as unknown as tf.MaxPoolAttrs;
      const [fh, fw] = typeof filterSize === 'number' ? [filterSize, filterSize] : filterSize;
      const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
      if (tf.getBackend() !== 'webgpu' || pad !== 'valid' || fh !== sh || fw !== sw)
        return original.gradFunc(dy, saved, attrs);
      const [x, y] = saved as tf.Tensor4D[];
      return { x: () => firstMaxPoolGrad(dy as tf.Tensor4D, x, y, fh, fw) };
    },
  };
  tf.registerGradient(config);
}

/**
 * dx of non-overlapping fh×fw max pooling (NHWC) of `x` into `y`: each window's dy to its first maximal
 * input. Offsets are visited in row-major order, each a strided slice of x; no transposes (tfjs-webgpu's
 * rank-6 transpose fails to compile) and no cumsum (it has none above rank 4).
 */
function firstMaxPoolGrad(dy: tf.Tensor4D, x: tf.Tensor4D, y: tf.Tensor4D, fh: number, fw: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const [ho, wo] = [dy.shape[1], dy.shape[2]];
    let seen: tf.Tensor = tf.zerosLike(dy);
    const rows: tf.Tensor[] = [];
    for (let i = 0; i < fh; i++) {
      const row: tf.Tensor[] = [];
      for (let j = 0; j < fw; j++) {
        const xij = tf.stridedSlice(x, [0, i, j, 0], [n, ho * fh, wo * fw, c], [1, fh, fw, 1]);
        const isMax = tf.cast(tf.equal(xij, y), 'float32');
        row.push(tf.mul(dy, tf.mul(isMax, tf.sub(1, seen))));
        seen = tf.maximum(seen, isMax);
      }
      rows.push(tf.stack(row, 3).reshape([n, ho, wo * fw, c])); // [n, ho, wo·fw, c]: one input row per window row
    }
    const dx = tf.stack(rows, 2).reshape([n, ho * fh, wo * fw, c]);
    // Rows and columns past the last whole window ('valid' padding) get no gradient.
    return tf.pad(dx, [
      [0, 0],
      [0, h - ho * fh],
      [0, w - wo * fw],
      [0, 0],
    ]) as tf.Tensor4D;
  });
}

function softwareRefusal(adapter: WebgpuAdapter): string {
  return `the only adapter is ${adapter.name}, a software renderer (BNN_BACKEND=webgpu uses it anyway, for tests)`;
}
