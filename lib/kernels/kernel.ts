/** The kernel API every tier implements (no Node-only imports: also used in browsers). */
import type { PackedBits } from './bitPack';

export type KernelTier = 'native' | 'wasm' | 'ts';
export const KERNEL_TIERS: readonly KernelTier[] = ['native', 'wasm', 'ts'];

export interface GemmOptions {
  /** Threads (native tier only; default: all cores). */
  threads?: number;
  /** Instruction set (native tier only; default: the best this CPU has). */
  isa?: string;
  /**
   * Where to write the m·n results (returned). Reusing one matters: a fresh large typed array is
   * zero pages that fault in on first write, which under a hypervisor can cost more than the product.
   */
  out?: Int32Array;
}

/** `options.out` checked for m·n results, or a new array. */
export function outputFor(options: GemmOptions | undefined, length: number): Int32Array {
  const out = options?.out;
  if (out === undefined) return new Int32Array(length);
  if (!(out instanceof Int32Array)) throw new TypeError('out must be an Int32Array');
  if (out.length !== length) throw new RangeError(`out has ${out.length} values, expected ${length}`);
  return out;
}

/** One layer of a whole network for `compileNetwork`: a packed model's layer (lib/engine/packedModel.ts). */
export interface NetworkLayerSpec {
  kind: 'dense' | 'conv';
  name: string;
  input: 'pixels' | 'pixelSigns' | 'bits';
  weights: PackedBits;
  output:
    | { kind: 'sign'; thresholds: Int32Array; flips: Uint8Array }
    | { kind: 'scores'; scale: Float64Array; shift: Float64Array };
  /** Conv layers: input height, width and channels, kernel size, padding, pooling. */
  height?: number;
  width?: number;
  channels?: number;
  kernelSize?: number;
  padding?: 'same' | 'valid';
  pool?: 1 | 2;
}

/** A network compiled by a kernel tier: every layer in one call, no JavaScript between layers. */
export interface CompiledNetwork {
  /**
   * Class scores (n × classes, row-major) of n images of uint8 pixels, on at most `threads` threads;
   * `profile[l]` (when given) is increased by the seconds spent in layer l.
   */
  run(pixels: Uint8Array, n: number, scores: Float64Array, threads: number, profile?: Float64Array): void;
}

export interface XnorKernel {
  tier: KernelTier;
  /** What runs: the instruction set for native, 'simd128' for wasm, 'js' for ts. */
  isa: string;
  /** Instruction sets this tier can be asked for, best first. */
  isas: string[];
  maxThreads: number;
  /** C = A · Bᵀ: c[i·n + j] = Σ a_i · b_j over ±1 values, exactly (b holds B's columns as rows). */
  gemm(a: PackedBits, b: PackedBits, options?: GemmOptions): Int32Array;
  /**
   * The first layer (firstLayer.ts): `planes` holds 8 rows per input (bit planes 0..7);
   * out[i·n + j] = Σ_p 2^p · (planes_{8i+p} · b_j).
   */
  bitPlaneGemm(planes: PackedBits, b: PackedBits, options?: GemmOptions): Int32Array;
  /** Bit j of row i is +1 where (flips[j] ? −s : s) ≥ thresholds[j], s = scores[i·n + j]. */
  thresholdPack(scores: Int32Array, m: number, n: number, thresholds: Int32Array, flips: Uint8Array): PackedBits;
  /**
   * The whole network at once (native and wasm tiers), with the same integer arithmetic as the engine's
   * layer-by-layer path; `inputSize` values per image.
   */
  compileNetwork?(inputSize: number, layers: readonly NetworkLayerSpec[]): CompiledNetwork;
}

export function checkThreads(threads: number | undefined, max: number): number {
  if (threads === undefined) return max;
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024)
    throw new RangeError(`threads must be an integer in [1, 1024], got ${threads}`);
  return threads;
}

/**
 * A network compiled by a tier whose results come back asynchronously (WebGPU: reading the GPU's memory is a
 * promise): the same arithmetic and the same scores as `CompiledNetwork`.
 */
export interface AsyncCompiledNetwork {
  /** Class scores (n × classes, row-major) of n images of uint8 pixels. */
  run(pixels: Uint8Array, n: number, scores: Float64Array): Promise<void>;
  /** Frees its GPU buffers. */
  destroy(): void;
}

/** The WebGPU tier (lib/kernels/webgpu/): the paper's XNOR kernel in WGSL, asynchronous. */
export interface AsyncXnorKernel {
  tier: 'webgpu';
  /** The adapter, e.g. 'llvmpipe: Mesa 25.0.7 … (software adapter)'. */
  isa: string;
  /** A CPU emulation of a GPU (llvmpipe, SwiftShader): for tests, not for speed. */
  software: boolean;
  /** C = A · Bᵀ, as `XnorKernel.gemm`. */
  gemm(a: PackedBits, b: PackedBits): Promise<Int32Array>;
  /** The first layer's bit planes, as `XnorKernel.bitPlaneGemm`. */
  bitPlaneGemm(planes: PackedBits, b: PackedBits): Promise<Int32Array>;
  /** The whole network on the GPU, as `XnorKernel.compileNetwork`. */
  compileNetwork(inputSize: number, layers: readonly NetworkLayerSpec[]): AsyncCompiledNetwork;
  /** Frees the device. */
  destroy(): void;
}

export function isAsyncKernel(kernel: XnorKernel | AsyncXnorKernel): kernel is AsyncXnorKernel {
  return kernel.tier === 'webgpu';
}
