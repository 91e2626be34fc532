/**
 * The native tier: the C++ addon built by node-gyp during `npm install` (native/, binding.gyp).
 * Absent where the build failed (no compiler, unsupported platform); callers then fall back.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { CompiledNetwork, NetworkLayerSpec } from './kernel';

/** The addon's exports (native/addon.cc), which validates all of its arguments itself. */
export interface NativeAddon {
  /** Instruction sets usable on this CPU, best first (e.g. 'avx512-vpopcntdq', 'avx2', 'popcnt', 'neon', 'scalar'). */
  isas: string[];
  hardwareConcurrency: number;
  gemm(
    a: Uint32Array,
    b: Uint32Array,
    m: number,
    n: number,
    k: number,
    stride: number,
    out: Int32Array,
    threads: number,
    isa?: string,
  ): void;
  thresholdPack(
    scores: Int32Array,
    m: number,
    n: number,
    thresholds: Int32Array,
    flips: Uint8Array,
    out: Uint32Array,
    stride: number,
  ): void;
  /** The first layer: `a` has 8 plane rows per input; out[i·n + j] = Σ_p 2^p · (a_{8i+p} · b_j). */
  bitPlaneGemm(
    a: Uint32Array,
    b: Uint32Array,
    m: number,
    n: number,
    k: number,
    stride: number,
    out: Int32Array,
    threads: number,
    isa?: string,
  ): void;
  /** The engine's whole network (native/engine.cc); the spec is checked there. */
  BinaryNetwork: new (spec: { inputSize: number; layers: readonly NetworkLayerSpec[] }) => CompiledNetwork;
  /** Register-only XOR + VPOPCNTQ + ADD throughput (binary MAC/s, one thread); null without VPOPCNTQ. */
  roofline(seconds: number): number | null;
  /**
   * Float GEMM (native/sgemm.cc): c (m × n) = op(a)·op(b), plus c when `accumulate`; row-major,
   * op(a) is m × k (a stored k × m when transA), op(b) is k × n (b stored n × k when transB).
   * `threads` caps the threads (0 = chosen from the size). c must not overlap a or b.
   */
  sgemm(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    accumulate: boolean,
    threads: number,
  ): void;
  /**
   * The float GEMM's micro-kernel: 'avx512', 'avx2-fma' or 'scalar' (BNN_SGEMM_ISA=avx2|scalar forces a lesser one).
   */
  sgemmIsa: string;

  // Training kernels (native/train_ops.cc), on Float32Array views of the wasm heap (lib/tfjs/nativeKernels.ts).
  /** c[p] = op(a[p mod batchA])·op(b[p mod batchB]); through the XNOR GEMM when `binary` and both are all ±1. */
  matmul(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    batch: number,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    batchA: number,
    batchB: number,
    binary: boolean,
  ): 'xnor' | 'float';
  sign(x: Float32Array, out: Float32Array, n: number): void;
  /** out = dy · 1_{|x| ≤ 1}. */
  steGrad(dy: Float32Array, x: Float32Array, out: Float32Array, n: number): void;
  /**
   * One fused, in-place optimizer pass: kind 0 Adam, 1 shift-based AdaMax; then clip to [−clip, clip] when clip > 0.
   */
  optimizerStep(
    kind: 0 | 1,
    w: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    n: number,
    stepScale: number,
    beta1: number,
    beta2: number,
    epsilon: number,
    clip: number,
  ): void;
  /** out[i] = 1/(1 − rate) with probability 1 − rate, else 0; deterministic in `seed` (an integer < 2^53). */
  dropoutMask(out: Float32Array, n: number, rate: number, seed: number): void;
  /** BatchNorm in training over `rows` (N·H·W) × `channels`: y, batch mean and biased variance per channel. */
  batchNormTrain(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    rows: number,
    channels: number,
    epsilon: number,
  ): void;
  /** Its gradient through the batch statistics: dx, dγ, dβ. */
  batchNormGrad(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    rows: number,
    channels: number,
    epsilon: number,
  ): void;
  /** Threads of the shared native pool (BNN_THREADS, else the hardware concurrency). */
  poolThreads: number;

  // ConvNet kernels (native/conv_ops.cc), NHWC, filters [kh, kw, inC, outC]. `geometry` is n, h, w,
  // inC, kh, kw, outC, strideH, strideW, padTop, padLeft, outH, outW (pool: n, h, w, c, fh, fw,
  // strideH, strideW, padTop, padLeft, outH, outW); positions outside the input are zero padding.
  /** out = conv(x, filter); through the XNOR GEMM (exact) when `binary` and x and filter are all ±1. */
  conv2d(
    x: Float32Array,
    filter: Float32Array,
    out: Float32Array,
    ...geometryAndBinary: [...number[], boolean]
  ): 'xnor' | 'float';
  /** dw = the filter gradient of the conv, from x and dy. */
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, ...geometry: number[]): void;
  /** dx = the input gradient of the conv, from dy and the filter. */
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, ...geometry: number[]): void;
  /** out = max over each window (NaN never wins; empty window −∞). */
  maxPool(x: Float32Array, out: Float32Array, ...geometry: number[]): void;
  /** dx: each window's dy to its first maximal input in row-major order (tfjs cpu's rule). */
  maxPoolGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, ...geometry: number[]): void;
}

/** Where the addon may be: `BNN_NATIVE_ADDON`, else build/Release under the package root (from lib/ or dist/lib/). */
export function nativeAddonCandidates(): string[] {
  if (process.env.BNN_NATIVE_ADDON) return [process.env.BNN_NATIVE_ADDON];
  return [path.join(__dirname, '..', '..'), path.join(__dirname, '..', '..', '..')].map((root) =>
    path.join(root, 'build', 'Release', 'xnor_native.node'),
  );
}

let cached: { addon: NativeAddon | null; why: string } | null = null;

/** The addon, or null with the reason it could not be loaded. */
export function loadNativeAddon(): { addon: NativeAddon | null; why: string } {
  if (cached) return cached;
  const file = nativeAddonCandidates().find((f) => fs.existsSync(f));
  if (!file) {
    cached = {
      addon: null,
      why: `native addon not built (looked for ${nativeAddonCandidates().join(', ')}; run npm run build:kernels)`,
    };
  } else {
    try {
      cached = { addon: createRequire(__filename)(file) as NativeAddon, why: '' };
    } catch (err) {
      cached = { addon: null, why: `native addon ${file} did not load: ${(err as Error).message.split('\n')[0]}` };
    }
  }
  return cached;
}
