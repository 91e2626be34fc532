/**
 * XNOR-popcount kernels behind one API, in three tiers:
 *   native — C++ addon, runtime CPU dispatch (AVX-512 VPOPCNTDQ / AVX2 / POPCNT / NEON), all cores;
 *   wasm   — AssemblyScript compiled to WebAssembly SIMD, one thread, Node and browsers;
 *   ts     — the readable TypeScript reference.
 * `BNN_KERNEL=native|wasm|ts` forces a tier; otherwise the fastest that loads is used.
 */
import { allocPacked } from './bitPack';
import { checkThreads, KERNEL_TIERS, outputFor, type KernelTier, type XnorKernel } from './kernel';
import { loadNativeAddon } from './native';
import { loadWasmKernels } from './wasm';
import { wasmXnorKernel } from './wasmKernels';
import {
  checkGemmOperands,
  checkPlaneRows,
  checkThresholdArgs,
  combineBitPlanesReference,
  thresholdPackReference,
  xnorGemmReference,
} from './xnorGemm';

function tsKernel(): XnorKernel {
  return {
    tier: 'ts',
    isa: 'js',
    isas: ['js'],
    maxThreads: 1,
    gemm(a, b, options = {}) {
      checkThreads(options.threads, 1);
      const out = outputFor(options, a.rows * b.rows);
      out.set(xnorGemmReference(a, b));
      return out;
    },
    bitPlaneGemm(planes, b, options = {}) {
      checkThreads(options.threads, 1);
      const out = outputFor(options, (planes.rows / 8) * b.rows);
      out.set(combineBitPlanesReference(xnorGemmReference(planes, b), checkPlaneRows(planes.rows, planes.k), b.rows));
      return out;
    },
    thresholdPack: thresholdPackReference,
  };
}

function wasmKernel(): XnorKernel | string {
  const { kernels, why } = loadWasmKernels();
  return kernels ? wasmXnorKernel(kernels) : why;
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
      const out = outputFor(options, m * n);
      const threads = checkThreads(options.threads, maxThreads);
      addon.gemm({ a: a.data, b: b.data, m, n, k: a.k, stride: a.stride, out, threads, isa: options.isa });
      return out;
    },
    bitPlaneGemm(planes, b, options = {}) {
      const { m, n } = checkGemmOperands(planes, b);
      const inputs = checkPlaneRows(m, planes.k);
      const out = outputFor(options, inputs * n);
      const threads = checkThreads(options.threads, maxThreads);
      addon.bitPlaneGemm({
        a: planes.data,
        b: b.data,
        m: inputs,
        n,
        k: planes.k,
        stride: planes.stride,
        out,
        threads,
        isa: options.isa,
      });
      return out;
    },
    thresholdPack(scores, m, n, thresholds, flips) {
      checkThresholdArgs(scores, m, n, thresholds, flips);
      const out = allocPacked(m, n);
      addon.thresholdPack({ scores, m, n, thresholds, flips, out: out.data, stride: out.stride });
      return out;
    },
    compileNetwork(inputSize, layers) {
      return new addon.BinaryNetwork({ inputSize, layers });
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
export function selectKernel(
  requested: string | undefined = process.env.BNN_KERNEL || undefined,
  log: (line: string) => void = () => {},
): XnorKernel {
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
export * from './kernel';
export { createWasmKernel, WasmKernels } from './wasmKernels';
export { wasmFileCandidates } from './wasm';
export { xnorGemmReference, thresholdPackReference } from './xnorGemm';
