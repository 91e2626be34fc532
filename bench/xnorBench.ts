/**
 * The speed experiment of the paper on this CPU: ±1 matrix products and MNIST MLP inference,
 * float vs XNOR-popcount, side by side in one run (warm-up, repeats, medians).
 *
 * Float contenders: a plain float kernel (the paper's "baseline kernel": straightforward loops,
 * no blocking), the active tfjs backend's `matMul` (what a user would call instead), the project's
 * native float GEMM (native/sgemm.cc) and, when /usr/bin/python3 has them, numpy's OpenBLAS sgemm
 * and PyTorch's mm (scripts/float_gemm_bench.py) — the fastest float GEMMs on this CPU, our
 * stand-in for the paper's cuBLAS. XNOR contenders: every kernel tier, the native one per
 * instruction set, at one thread and at all.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { allocPacked, selectKernel, tryKernel, unpackRows, type PackedBits, type XnorKernel } from '../lib/kernels';
import { loadNativeAddon } from '../lib/kernels/native';
import { machineInfo, type MachineInfo } from '../lib/results/machine';
import { median } from './median';

export interface Timing {
  /** Median seconds of the timed runs. */
  seconds: number;
  runs: number[];
}

/** Runs `fn` `warmup` times untimed, then `runs` times; median of the timed runs. */
export function measure(fn: () => void, runs: number, warmup = 1): Timing {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    times.push((performance.now() - start) / 1000);
  }
  return { seconds: median(times), runs: times };
}

/** `measure` for work that ends in an asynchronous read (tfjs-webgpu reads no other way in Node). */
export async function measureAsync(fn: () => Promise<void>, runs: number, warmup = 1): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push((performance.now() - start) / 1000);
  }
  return { seconds: median(times), runs: times };
}

/** The plain float kernel: C = A · Bᵀ with three loops and a dot product, no blocking. */
export function baselineFloatMatMul(a: Float32Array, bT: Float32Array, m: number, n: number, k: number): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * bT[j * k + p];
      c[i * n + j] = s;
    }
  }
  return c;
}

export interface MatMulRow {
  shape: { m: number; n: number; k: number };
  label: string;
  method: string;
  /** 'float' or 'xnor'. */
  kind: 'float' | 'xnor';
  threads: number;
  seconds: number;
  runs: number[];
  /** Multiply-accumulates per second (binary ones for XNOR). */
  macPerSecond: number;
  /** When the method ran on only the first `sampledRows` rows of A (time scaled up to all rows). */
  sampledRows?: number;
  /** Output equal to the XNOR result, entry by entry (null: not compared). */
  exact: boolean | null;
}

export interface BenchOptions {
  sizes: number[];
  /** Extra (m, n, k) shapes, e.g. the MNIST MLP's layers. */
  shapes: { m: number; n: number; k: number; label: string }[];
  /** Largest m·n·k the baseline float kernel runs in full; larger ones run on sampled rows. */
  baselineFullMacs: number;
  /** Largest m·n·k for the TypeScript reference tier (it is slow). */
  tsMaxMacs: number;
  /** Largest m·n·k for tfjs matMul. */
  tfjsMaxMacs: number;
  runs: number;
  /** Time numpy and PyTorch too (skipped, with a log line, where python3, numpy or torch is missing). */
  pythonPeers: boolean;
  log: (line: string) => void;
}

interface PeerRow {
  method: string;
  threads: number;
  m: number;
  n: number;
  k: number;
  seconds: number;
  runs: number[];
}

/**
 * The environment for a numpy / PyTorch child: this process's, less OPENBLAS_CORETYPE and
 * OPENBLAS_L2_SIZE, which slow current OpenBLAS builds down here (shared/environment.md).
 */
export function openBlasEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

/**
 * numpy and PyTorch float GEMM timings from scripts/float_gemm_bench.py, one process per thread
 * count (BLAS reads its thread count when it loads), in `openBlasEnv()`.
 */
export function pythonFloatGemms(
  shapes: { m: number; n: number; k: number }[],
  threads: number[],
  runs: number,
  log: (line: string) => void,
): PeerRow[] {
  const python = ['/usr/bin/python3', 'python3'].find((p) => !p.startsWith('/') || fs.existsSync(p))!;
  const script = path.join(__dirname, '..', 'scripts', 'float_gemm_bench.py');
  const alt = path.join(__dirname, '..', '..', 'scripts', 'float_gemm_bench.py'); // from dist/bench
  const file = fs.existsSync(script) ? script : alt;
  const env = openBlasEnv();
  const rows: PeerRow[] = [];
  for (const t of threads) {
    const args = [
      file,
      '--threads',
      String(t),
      '--runs',
      String(runs),
      '--shapes',
      shapes.map((s) => `${s.m}x${s.n}x${s.k}`).join(','),
    ];
    const res = spawnSync(python, args, { env, encoding: 'utf8', maxBuffer: 1 << 24 });
    if (res.error || res.status !== 0) {
      log(`numpy/PyTorch rows skipped: ${res.error?.message ?? res.stderr.trim().split('\n').pop()}`);
      return rows;
    }
    const out = JSON.parse(res.stdout) as { rows: PeerRow[]; skipped: string[] };
    if (t === threads[0]) for (const why of out.skipped) log(`python peer skipped: ${why}`);
    rows.push(...out.rows);
  }
  return rows;
}

function randomPacked(rows: number, k: number, seed: number): PackedBits {
  const p = allocPacked(rows, k);
  let s = seed >>> 0;
  const words = Math.ceil(k / 32);
  for (let r = 0; r < rows; r++) {
    for (let w = 0; w < words; w++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      p.data[r * p.stride + w] = s >>> 0;
    }
    if (k % 32) p.data[r * p.stride + words - 1] &= (1 << (k % 32)) - 1;
  }
  return p;
}

function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

function sameValues(x: ArrayLike<number>, y: ArrayLike<number>): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Threads the native kernels may use (1 without the addon). */
function tryNativeThreads(): number {
  const native = tryKernel('native');
  return typeof native === 'string' ? 1 : native.maxThreads;
}

/** The XNOR contenders: native per instruction set (1 thread) and best at all threads, wasm, ts. */
function xnorContenders(): { kernel: XnorKernel; isa?: string; threads: number; method: string }[] {
  const list: { kernel: XnorKernel; isa?: string; threads: number; method: string }[] = [];
  const native = tryKernel('native');
  if (typeof native !== 'string') {
    for (const isa of native.isas) list.push({ kernel: native, isa, threads: 1, method: `xnor native ${isa}` });
    if (native.maxThreads > 1)
      list.push({ kernel: native, isa: native.isa, threads: native.maxThreads, method: `xnor native ${native.isa}` });
  }
  const wasm = tryKernel('wasm');
  if (typeof wasm !== 'string') list.push({ kernel: wasm, threads: 1, method: 'xnor wasm simd128' });
  list.push({ kernel: selectKernel('ts'), threads: 1, method: 'xnor ts reference' });
  return list;
}

export async function benchMatMul(options: BenchOptions): Promise<MatMulRow[]> {
  const rows: MatMulRow[] = [];
  const shapes = [...options.sizes.map((s) => ({ m: s, n: s, k: s, label: `${s}³` })), ...options.shapes];
  const threadCounts = [...new Set([1, tryNativeThreads()])];
  const peers = options.pythonPeers ? pythonFloatGemms(shapes, threadCounts, options.runs, options.log) : [];
  const { addon } = loadNativeAddon();
  for (const { m, n, k, label } of shapes) {
    const macs = m * n * k;
    const a = randomPacked(m, k, 12345 + m);
    const b = randomPacked(n, k, 67890 + n);
    let reference: Int32Array | null = null;
    const add = (row: Omit<MatMulRow, 'shape' | 'label' | 'macPerSecond'>, scaledMacs = macs) => {
      const full: MatMulRow = { shape: { m, n, k }, label, ...row, macPerSecond: scaledMacs / row.seconds };
      rows.push(full);
      options.log(
        `${label.padEnd(16)} ${row.method.padEnd(30)} ${String(row.threads).padStart(2)} thr  ` +
          `${row.seconds.toFixed(4).padStart(9)} s  ` +
          `${(full.macPerSecond / 1e9).toFixed(1).padStart(8)} G MAC/s` +
          (row.sampledRows ? `  (${row.sampledRows} rows sampled)` : '') +
          (row.exact === false ? '  MISMATCH' : ''),
      );
    };
    // One output buffer for all XNOR runs, written once before timing: BLAS-style, the product
    // writes into existing memory (a fresh array's page faults would dominate under a hypervisor).
    const out = new Int32Array(m * n).fill(1);
    for (const c of xnorContenders()) {
      if (c.kernel.tier === 'ts' && macs > options.tsMaxMacs) continue;
      out.fill(0);
      // The largest products run once, without a warm-up of their own (smaller sizes warmed the code).
      const t = measure(
        () => c.kernel.gemm(a, b, { threads: c.threads, isa: c.isa, out }),
        macs > 1e11 ? 1 : options.runs,
        macs > 1e11 ? 0 : 1,
      );
      reference ??= out.slice();
      add({ method: c.method, kind: 'xnor', threads: c.threads, ...t, exact: sameValues(out, reference) });
    }
    const aFloat = unpackRows(a);
    const bTFloat = unpackRows(b);
    // Baseline float kernel, on the first rows only when the full product would take too long.
    const sampled = macs > options.baselineFullMacs ? Math.max(1, Math.floor(options.baselineFullMacs / (n * k))) : m;
    let baseOut: Float32Array | null = null;
    const tb = measure(
      () => (baseOut = baselineFloatMatMul(aFloat.subarray(0, sampled * k), bTFloat, sampled, n, k)),
      sampled < m ? 1 : Math.min(options.runs, 3),
      sampled < m ? 0 : 1,
    );
    const scale = m / sampled;
    add({
      method: 'float baseline (plain loops)',
      kind: 'float',
      threads: 1,
      seconds: tb.seconds * scale,
      runs: tb.runs.map((r) => r * scale),
      ...(sampled < m ? { sampledRows: sampled } : {}),
      exact: sameValues(baseOut!, reference!.subarray(0, sampled * n)),
    });
    const bFloat = transpose(bTFloat, n, k);
    if (addon) {
      const c = new Float32Array(m * n).fill(1);
      for (const threads of threadCounts) {
        const t = measure(
          () =>
            addon.sgemm({
              a: aFloat,
              b: bFloat,
              c,
              m,
              n,
              k,
              transA: false,
              transB: false,
              accumulate: false,
              threads,
            }),
          macs > 1e11 ? 1 : options.runs,
          macs > 1e11 ? 0 : 1,
        );
        add({
          method: `float native sgemm ${addon.sgemmIsa}`,
          kind: 'float',
          threads,
          ...t,
          exact: sameValues(c, reference!),
        });
      }
    }
    for (const p of peers.filter((r) => r.m === m && r.n === n && r.k === k)) {
      add({ method: p.method, kind: 'float', threads: p.threads, seconds: p.seconds, runs: p.runs, exact: null });
    }
    if (macs <= options.tfjsMaxMacs) {
      const ta = tf.tensor2d(aFloat, [m, k]);
      const tbT = tf.tensor2d(bFloat, [k, n]);
      let tfOut: Float32Array | null = null;
      const t = await measureAsync(
        async () => {
          const c = tf.matMul(ta, tbT);
          tfOut = (await c.data()) as Float32Array;
          c.dispose();
        },
        macs > 1e11 ? 1 : options.runs,
        macs > 1e11 ? 0 : 1,
      );
      add({
        method: `float tfjs ${tf.getBackend()} matMul`,
        kind: 'float',
        threads: 1,
        ...t,
        exact: sameValues(tfOut!, reference!),
      });
      ta.dispose();
      tbT.dispose();
    }
  }
  return rows;
}

export interface MachineDescription extends MachineInfo {
  cpuFlags: string[];
  nativeIsas: string[];
  kernelTier: string;
  tfjsBackend: string;
  threadsAvailable: number;
  loadAverageStart: number[];
  loadAverageEnd?: number[];
  shared: string;
}

const FLAGS_OF_INTEREST = [
  'popcnt',
  'avx2',
  'fma',
  'avx512f',
  'avx512bw',
  'avx512vl',
  'avx512_vpopcntdq',
  'avx512_bitalg',
  'asimd',
];

export function describeMachine(shared: string): MachineDescription {
  let flags: string[] = [];
  try {
    const line =
      fs
        .readFileSync('/proc/cpuinfo', 'utf8')
        .split('\n')
        .find((l) => /^(flags|Features)\s*:/.test(l)) ?? '';
    const all = new Set(line.split(':')[1]?.trim().split(/\s+/) ?? []);
    flags = FLAGS_OF_INTEREST.filter((f) => all.has(f));
  } catch {
    // no /proc (macOS, Windows): flags stay unknown
  }
  const { addon } = loadNativeAddon();
  return {
    ...machineInfo(),
    cpuFlags: flags,
    nativeIsas: addon?.isas ?? [],
    kernelTier: selectKernel().tier,
    tfjsBackend: tf.getBackend(),
    threadsAvailable: os.cpus().length,
    loadAverageStart: os.loadavg(),
    shared,
  };
}

/** Register-only XOR + VPOPCNTQ + ADD throughput of one thread (binary MAC/s), median of 3. */
export function measureRoofline(seconds: number): number | null {
  const { addon } = loadNativeAddon();
  if (!addon) return null;
  const values = [0, 1, 2].map(() => addon.roofline(seconds / 3)).filter((v): v is number => v !== null);
  return values.length ? (values.sort((x, y) => x - y)[1] ?? values[0]) : null;
}
