/**
 * The native tier: the C++ addon built by node-gyp during `npm install` (native/, binding.gyp).
 * Absent where the build failed (no compiler, unsupported platform); callers then fall back.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { CompiledNetwork, NetworkLayerSpec } from './kernel';

/**
 * The addon's exports (native/addon.cc and the files it registers, native/register.h), which validate all of
 * their arguments themselves. Each function takes one object of named arguments (e.g. `matmul({ a, b, c, m, ... })`),
 * read by name in C++ into a struct of the same fields: no caller depends on an argument order, and a missing or
 * misspelt field is a clear error naming it.
 */
export interface NativeAddon {
  /** Instruction sets usable on this CPU, best first (e.g. 'avx512-vpopcntdq', 'avx2', 'popcnt', 'neon', 'scalar'). */
  isas: string[];
  hardwareConcurrency: number;
  /** out[i·n + j] = Σ_k a_ik · b_jk over the packed ±1 rows. */
  gemm(args: GemmArgs): void;
  /** bit j of out's row i = (flips[j] ? −s : s) ≥ thresholds[j], s = scores[i·n + j]. */
  thresholdPack(args: ThresholdPackArgs): void;
  /** The first layer: `a` has 8 plane rows per input; out[i·n + j] = Σ_p 2^p · (a_{8i+p} · b_j). */
  bitPlaneGemm(args: GemmArgs): void;
  /** The engine's whole network (native/engine.cc); the spec is checked there. */
  BinaryNetwork: new (spec: { inputSize: number; layers: readonly NetworkLayerSpec[] }) => CompiledNetwork;
  /** Register-only XOR + VPOPCNTQ + ADD throughput (binary MAC/s, one thread); null without VPOPCNTQ. */
  roofline(seconds: number): number | null;
  /** Float GEMM (native/sgemm.cc): c = op(a)·op(b), plus c when `accumulate`. */
  sgemm(args: SgemmArgs): void;
  /**
   * The float GEMM's micro-kernel: 'avx512', 'avx2-fma' or 'scalar' (BNN_SGEMM_ISA=avx2|scalar forces a lesser one).
   */
  sgemmIsa: string;

  // Training kernels (native/train_ops.cc), on Float32Array views of the wasm heap (lib/tfjs/nativeKernels.ts).
  /** c[p] = op(a[p mod batchA])·op(b[p mod batchB]); through the XNOR GEMM when `binary` and both are all ±1. */
  matmul(args: MatmulArgs): 'xnor' | 'float';
  /** out = x ≥ 0 ? +1 : −1. */
  sign(args: { x: Float32Array; out: Float32Array; n: number }): void;
  /** out = dy · 1_{|x| ≤ 1}. */
  steGrad(args: { dy: Float32Array; x: Float32Array; out: Float32Array; n: number }): void;
  /** Whether every |x[i]| ≤ 1 (NaN is not): where so, the straight-through gradient is dy itself. */
  absAtMostOne(args: { x: Float32Array; n: number }): boolean;
  /**
   * One fused, in-place optimizer pass: kind 0 Adam, 1 shift-based AdaMax; then clip to [−clip, clip] when clip > 0.
   */
  optimizerStep(args: OptimizerStepArgs): void;
  /** out[i] = 1/(1 − rate) with probability 1 − rate, else 0; deterministic in `seed` (an integer < 2^53). */
  dropoutMask(args: { out: Float32Array; n: number; rate: number; seed: number }): void;
  /** BatchNorm in training over `rows` (N·H·W) × `channels`: y, batch mean and biased variance per channel. */
  batchNormTrain(args: BatchNormTrainArgs): void;
  /** Its gradient through the batch statistics: dx, dγ, dβ. */
  batchNormGrad(args: BatchNormGradArgs): void;
  /** Threads of the shared native pool (BNN_THREADS, else the hardware concurrency). */
  poolThreads: number;

  // ConvNet kernels (native/conv_ops.cc, native/pool_ops.cc), NHWC, filters [kh, kw, inC, outC]; positions
  // outside the input are zero padding.
  /** out = conv(x, filter); through the XNOR GEMM (exact) when `binary` and x and filter are all ±1. */
  conv2d(
    args: ConvGeometry & { x: Float32Array; filter: Float32Array; out: Float32Array; binary: boolean },
  ): 'xnor' | 'float';
  /** dw = the filter gradient of the conv, from x and dy. */
  conv2dBackpropFilter(args: ConvGeometry & { x: Float32Array; dy: Float32Array; dw: Float32Array }): void;
  /** dx = the input gradient of the conv, from dy and the filter. */
  conv2dBackpropInput(args: ConvGeometry & { dy: Float32Array; filter: Float32Array; dx: Float32Array }): void;
  /** out = max over each window (NaN never wins; empty window −∞). */
  maxPool(args: PoolGeometry & { x: Float32Array; out: Float32Array }): void;
  /** dx: each window's dy to its first maximal input in row-major order (tfjs cpu's rule). */
  maxPoolGrad(args: PoolGeometry & { dy: Float32Array; x: Float32Array; dx: Float32Array }): void;
}

/** Packed ±1 rows of `k` bits (lib/kernels/bitPack.ts), `stride` 32-bit words each (a multiple of 16). */
export interface GemmArgs {
  /** m rows (bitPlaneGemm: 8·m plane rows). */
  a: Uint32Array;
  /** n rows. */
  b: Uint32Array;
  m: number;
  n: number;
  k: number;
  stride: number;
  /** m × n. */
  out: Int32Array;
  /** At most this many threads (≥ 1). */
  threads: number;
  /** One of `isas`; the best by default. */
  isa?: string;
}

export interface ThresholdPackArgs {
  /** m × n. */
  scores: Int32Array;
  m: number;
  n: number;
  thresholds: Int32Array;
  flips: Uint8Array;
  /** m rows of `stride` 32-bit words (a multiple of 16). */
  out: Uint32Array;
  stride: number;
}

/** Row-major: op(a) is m × k (a stored k × m when transA), op(b) is k × n (b stored n × k when transB). */
export interface SgemmArgs {
  a: Float32Array;
  b: Float32Array;
  /** m × n; must not overlap a or b. */
  c: Float32Array;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  accumulate: boolean;
  /** A cap on the threads, 0 = chosen from the size. */
  threads: number;
}

/** `batch` products of m × k by k × n, as SgemmArgs; a single matrix on one side (batchA or batchB 1) serves all. */
export interface MatmulArgs {
  a: Float32Array;
  b: Float32Array;
  c: Float32Array;
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** 1 or batch. */
  batchA: number;
  /** 1 or batch. */
  batchB: number;
  /** Allows the XNOR path. */
  binary: boolean;
}

/** w, g, m, v: n values each; w, m and v are updated in place. */
export interface OptimizerStepArgs {
  /** 0 Adam, 1 shift-based AdaMax (Algorithm 4). */
  kind: 0 | 1;
  w: Float32Array;
  g: Float32Array;
  m: Float32Array;
  v: Float32Array;
  n: number;
  /** The learning rate with its bias correction and the parameter's scale. */
  stepScale: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** 0 for none. */
  clip: number;
}

/** x and y: rows × channels; the others one value per channel. */
export interface BatchNormTrainArgs {
  x: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  y: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  rows: number;
  channels: number;
  epsilon: number;
}

/** dy, x and dx: rows × channels; the others one value per channel. */
export interface BatchNormGradArgs {
  dy: Float32Array;
  x: Float32Array;
  gamma: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  dx: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
  rows: number;
  channels: number;
  epsilon: number;
}

/**
 * What a conv and a pool share of their geometry: n images of h × w, windows of filterHeight × filterWidth moved
 * by the strides, the first at (−padTop, −padLeft), giving outHeight × outWidth.
 */
export interface WindowGeometry {
  n: number;
  h: number;
  w: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
  outHeight: number;
  outWidth: number;
}

/** A conv's geometry: input n × h × w × inChannels, output n × outHeight × outWidth × outChannels. */
export interface ConvGeometry extends WindowGeometry {
  inChannels: number;
  outChannels: number;
}

/** A pool's geometry: input n × h × w × channels, output n × outHeight × outWidth × channels. */
export interface PoolGeometry extends WindowGeometry {
  channels: number;
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
