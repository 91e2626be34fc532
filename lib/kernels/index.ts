/**
 * XNOR-popcount kernels behind one API, in three tiers:
 *   native — C++ addon, runtime CPU dispatch (AVX-512 VPOPCNTDQ / AVX2 / POPCNT / NEON), all cores;
 *   wasm   — AssemblyScript compiled to WebAssembly SIMD, one thread, Node and browsers;
 *   ts     — the readable TypeScript reference.
 * `BNN_KERNEL=native|wasm|ts` forces a tier; otherwise the fastest that loads is used.
 */
import { allocPacked, type PackedBits } from './bitPack';
import { loadNativeAddon } from './native';
import { loadWasmKernels } from './wasm';
import { checkGemmOperands, checkPlaneRows, checkThresholdArgs, combineBitPlanesReference, thresholdPackReference, xnorGemmReference } from './xnorGemm';

export type KernelTier = 'native' | 'wasm' | 'ts';
export const KERNEL_TIERS: readonly KernelTier[] = ['native', 'wasm', 'ts'];

export interface GemmOptions {
  /** Threads (native tier only; default: all cores). */
  threads?: number;
  /** Instruction set (native tier only; default: the best this CPU has). */
  isa?: string;
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
}

function checkThreads(threads: number | undefined, max: number): number {
  if (threads === undefined) return max;
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) throw new RangeError(`threads must be an integer in [1, 1024], got ${threads}`);
  return threads;
}

function tsKernel(): XnorKernel {
  return {
    tier: 'ts',
    isa: 'js',
    isas: ['js'],
    maxThreads: 1,
    gemm(a, b, options = {}) {
      checkThreads(options.threads, 1);
      return xnorGemmReference(a, b);
    },
    bitPlaneGemm(planes, b, options = {}) {
      checkThreads(options.threads, 1);
      return combineBitPlanesReference(xnorGemmReference(planes, b), checkPlaneRows(planes.rows, planes.k), b.rows);
    },
    thresholdPack: thresholdPackReference,
  };
}

function wasmKernel(): XnorKernel | string {
  const { kernels, why } = loadWasmKernels();
  if (!kernels) return why;
  return {
    tier: 'wasm',
    isa: 'simd128',
    isas: ['simd128'],
    maxThreads: 1,
    gemm(a, b, options = {}) {
      const { m, n } = checkGemmOperands(a, b);
      checkThreads(options.threads, 1);
      const out = new Int32Array(m * n);
      kernels.gemm(a.data.subarray(0, m * a.stride), b.data.subarray(0, n * b.stride), m, n, a.k, a.stride, out);
      return out;
    },
    bitPlaneGemm(planes, b, options = {}) {
      const { m, n } = checkGemmOperands(planes, b);
      checkThreads(options.threads, 1);
      const inputs = checkPlaneRows(m, planes.k);
      const out = new Int32Array(inputs * n);
      // 64 inputs at a time: the 8× larger plane products stay small.
      const chunk = 64;
      const dots = new Int32Array(chunk * 8 * n);
      const bRows = b.data.subarray(0, n * b.stride);
      for (let i0 = 0; i0 < inputs; i0 += chunk) {
        const count = Math.min(chunk, inputs - i0);
        const rows = planes.data.subarray(i0 * 8 * planes.stride, (i0 + count) * 8 * planes.stride);
        const part = dots.subarray(0, count * 8 * n);
        kernels.gemm(rows, bRows, count * 8, n, planes.k, planes.stride, part);
        kernels.combineBitPlanes(part, count, n, out.subarray(i0 * n, (i0 + count) * n));
      }
      return out;
    },
    thresholdPack(scores, m, n, thresholds, flips) {
      checkThresholdArgs(scores, m, n, thresholds, flips);
      const out = allocPacked(m, n);
      kernels.thresholdPack(scores, m, n, thresholds, flips, out.data, out.stride);
      return out;
    },
  };
}

function nativeKernel(): XnorKernel | string {
  const { addon, why } = loadNativeAddon();
  if (!addon) return why;
  const maxThreads = Math.max(1, addon.hardwareConcurrency);
  return {
    tier: 'native',
    isa: addon.isas[0],
    isas: addon.isas,
    maxThreads,
    gemm(a, b, options = {}) {
      const { m, n } = checkGemmOperands(a, b);
      const out = new Int32Array(m * n);
      addon.gemm(a.data, b.data, m, n, a.k, a.stride, out, checkThreads(options.threads, maxThreads), options.isa);
      return out;
    },
    bitPlaneGemm(planes, b, options = {}) {
      const { m, n } = checkGemmOperands(planes, b);
      const inputs = checkPlaneRows(m, planes.k);
      const out = new Int32Array(inputs * n);
      addon.bitPlaneGemm(planes.data, b.data, inputs, n, planes.k, planes.stride, out, checkThreads(options.threads, maxThreads), options.isa);
      return out;
    },
    thresholdPack(scores, m, n, thresholds, flips) {
      checkThresholdArgs(scores, m, n, thresholds, flips);
      const out = allocPacked(m, n);
      addon.thresholdPack(scores, m, n, thresholds, flips, out.data, out.stride);
      return out;
    },
  };
}

/** The tier, or the reason it is unavailable. */
export function tryKernel(tier: KernelTier): XnorKernel | string {
  if (tier === 'native') return nativeKernel();
  if (tier === 'wasm') return wasmKernel();
  if (tier === 'ts') return tsKernel();
  throw new RangeError(`unknown kernel tier '${String(tier)}' (use ${KERNEL_TIERS.join(', ')})`);
}

/**
 * The kernel to use: `requested` (default `BNN_KERNEL`) if given — throwing if it is unavailable —
 * else the first tier that loads of native, wasm, ts. `log` hears why faster tiers were skipped.
 */
export function selectKernel(requested: string | undefined = process.env.BNN_KERNEL || undefined, log: (line: string) => void = () => {}): XnorKernel {
  if (requested) {
    if (!KERNEL_TIERS.includes(requested as KernelTier)) {
      throw new RangeError(`unknown kernel tier '${requested}' (BNN_KERNEL must be one of ${KERNEL_TIERS.join(', ')})`);
    }
    const k = tryKernel(requested as KernelTier);
    if (typeof k === 'string') throw new Error(`kernel tier '${requested}' is unavailable: ${k}`);
    return k;
  }
  for (const tier of KERNEL_TIERS) {
    const k = tryKernel(tier);
    if (typeof k !== 'string') return k;
    log(`kernel tier ${tier} unavailable: ${k}`);
  }
  throw new Error('no kernel tier available');
}

export * from './bitPack';
export { xnorGemmReference, thresholdPackReference } from './xnorGemm';
