/**
 * The paper's speed experiment on the WebGPU adapter at hand (`npm run bench -- --gpu`): ±1 matrix products with
 * the XNOR kernel in WGSL (lib/kernels/webgpu/) against tfjs-webgpu's float `matMul` (the role cuBLAS plays in the
 * paper) and a plain WGSL float kernel (the paper's "baseline kernel": one output per thread, no tiling), at the
 * square sizes and at the MNIST MLP's layer shapes; then the MLP itself on the test images, the binary engine on
 * WebGPU against the same network in float32 on tfjs-webgpu.
 *
 * Each product's operands stay on the GPU; a timed run submits the product `inner` times (enough for ~0.2 s) and
 * waits for the GPU; medians of the runs. Every product's result is checked against the exact ±1 dot products on
 * sampled entries. A software adapter (llvmpipe, SwiftShader: the GPU emulated on the CPU) is labelled as such in
 * everything written, and its figures are never set beside the paper's.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { FloatModel } from '../demo/floatModel';
import type { ImageSet } from '../lib/data/dataset';
import { BinaryEngine, type PackedModel } from '../lib/engine';
import { packRows, popcount32, type PackedBits } from '../lib/kernels';
import { FloatGemm, XnorGemm, type AdapterDescription, type GpuContext } from '../lib/kernels/webgpu';
import { loadWebGpuKernel } from '../lib/kernels/webgpu/node';
import { seededRandom } from '../lib/random';
import { registerWebgpuBackend, webgpuAdapter } from '../lib/tfjs/webgpu';
import { median } from './median';
import { PAPER_SPEEDUPS } from './report';

export const GPU_METHODS = {
  xnor: 'xnor wgsl (tiled, countOneBits)',
  baseline: 'float wgsl baseline kernel',
  tfjs: 'float tfjs-webgpu matMul',
} as const;
type Method = keyof typeof GPU_METHODS;

export interface GpuShape {
  m: number;
  n: number;
  k: number;
  label: string;
  /** The first layer of the MLP: XNOR runs 8 bit planes of each input (8·m rows), float one product. */
  planes?: boolean;
}

export interface GpuMatMulRow {
  label: string;
  shape: { m: number; n: number; k: number };
  method: string;
  kind: 'xnor' | 'float';
  /** Median seconds of one product. */
  seconds: number;
  /** Seconds of one product in each timed run. */
  runs: number[];
  /** Products per timed run (one submission). */
  inner: number;
  /** m·n·k (±1 multiply-accumulates) per second. */
  macsPerSecond: number;
  /** Equal to the exact ±1 products on every sampled entry. */
  exact: boolean;
}

export interface GpuMlpResult {
  model: string;
  images: number;
  engine: { seconds: number; runs: number[]; imagesPerSecond: number };
  float: { seconds: number; runs: number[]; imagesPerSecond: number };
  /** Images whose class differs between the engine and float32 (a float32 rounding tie of the last layer's scores). */
  disagreements: number;
  testError: number;
}

export interface GpuBenchResults {
  createdAt: string;
  smoke: boolean;
  adapter: AdapterDescription;
  /** The tfjs-webgpu backend's adapter (the same GPU, through its own device). */
  tfjsAdapter: string;
  host: { cpus: number; cpuModel: string; loadAverageStart: number[]; loadAverageEnd?: number[] };
  note: string;
  matmul: GpuMatMulRow[];
  /** Shapes a method could not run, and why (e.g. larger than the adapter binds). */
  skipped: { label: string; method: string; reason: string }[];
  mlp: GpuMlpResult | null;
  wallSeconds: number;
}

export interface GpuBenchOptions {
  sizes: number[];
  /** Images per MLP layer product (the batch of the layer-shape rows). */
  batch: number;
  runs: number;
  /** The MLP: a packed dense model and the test images. */
  mlp: { model: PackedModel; name: string; test: ImageSet; images: number } | null;
  smoke: boolean;
  note: string;
  log: (line: string) => void;
}

/** Seconds per timed run the product is repeated for (one submission). */
const TARGET_SECONDS = 0.2;
const MAX_INNER = 64;
const SAMPLES = 256;

/** Warm-up, then `runs` timed runs of `inner` repetitions each; seconds of one repetition. */
async function timeRepeated(run: (times: number) => Promise<void>, runs: number) {
  await run(1);
  let t0 = performance.now();
  await run(1);
  const once = (performance.now() - t0) / 1000;
  const inner = Math.max(1, Math.min(MAX_INNER, Math.ceil(TARGET_SECONDS / Math.max(once, 1e-6))));
  const times = inner === 1 ? [once] : [];
  while (times.length < runs) {
    t0 = performance.now();
    await run(inner);
    times.push((performance.now() - t0) / 1000 / inner);
  }
  return { seconds: median(times), runs: times, inner };
}

/** Random ±1 rows, as float32 and packed. */
function randomSigns(rows: number, k: number, seed: number): { values: Float32Array; packed: PackedBits } {
  const random = seededRandom(seed);
  const values = new Float32Array(rows * k);
  for (let i = 0; i < values.length; i++) values[i] = random() < 0.5 ? -1 : 1;
  return { values, packed: packRows(values, rows, k) };
}

/** The ±1 dot product of row i of a and row j of b, from the packed bits. */
function exactDot(a: PackedBits, b: PackedBits, i: number, j: number): number {
  let mismatches = 0;
  for (let w = 0; w < Math.ceil(a.k / 32); w++)
    mismatches += popcount32(a.data[i * a.stride + w] ^ b.data[j * b.stride + w]);
  return a.k - 2 * mismatches;
}

/** Whether `c` (m × n) holds the exact products on sampled entries (and every entry of small products). */
function checkSampled(c: ArrayLike<number>, a: PackedBits, b: PackedBits, planes: boolean, seed: number): boolean {
  const m = planes ? a.rows / 8 : a.rows,
    n = b.rows;
  const random = seededRandom(seed);
  const count = Math.min(SAMPLES, m * n);
  for (let s = 0; s < count; s++) {
    const [i, j] = count === m * n ? [Math.floor(s / n), s % n] : [Math.floor(random() * m), Math.floor(random() * n)];
    let expected = 0;
    if (planes) for (let p = 7; p >= 0; p--) expected = 2 * expected + exactDot(a, b, 8 * i + p, j);
    else expected = exactDot(a, b, i, j);
    if (c[i * n + j] !== expected) return false;
  }
  return true;
}

async function benchShape(
  ctx: GpuContext,
  shape: GpuShape,
  runs: number,
  rows: GpuMatMulRow[],
  skipped: GpuBenchResults['skipped'],
  log: (line: string) => void,
): Promise<void> {
  const { m, n, k, label, planes = false } = shape;
  // XNOR: packed ±1 rows (8 bit-plane rows per input on the first layer); float: a = the same ±1 rows (for the
  // first layer, the pixels 2p − 255 stand-in is any float: its cost does not depend on the values).
  const a = randomSigns(planes ? 8 * m : m, k, 1);
  const b = randomSigns(n, k, 2);
  const floatA = planes ? a.values.subarray(0, m * k) : a.values;
  const record = (method: Method, t: Awaited<ReturnType<typeof timeRepeated>>, exact: boolean) => {
    const row: GpuMatMulRow = {
      label,
      shape: { m, n, k },
      method: GPU_METHODS[method],
      kind: method === 'xnor' ? 'xnor' : 'float',
      ...t,
      macsPerSecond: (m * n * k) / t.seconds,
      exact,
    };
    rows.push(row);
    log(
      `${label} ${row.method}: ${(t.seconds * 1e3).toFixed(2)} ms (${(row.macsPerSecond / 1e9).toFixed(1)} G MAC/s, ` +
        `${t.inner} per run)${exact ? '' : ' — NOT EXACT'}`,
    );
  };
  const attempt = async (method: Method, body: () => Promise<void>) => {
    try {
      await body();
    } catch (err) {
      const reason = (err as Error).message.split('\n')[0];
      skipped.push({ label, method: GPU_METHODS[method], reason });
      log(`${label} ${GPU_METHODS[method]}: skipped (${reason})`);
    }
  };
  await attempt('xnor', async () => {
    const gemm = new XnorGemm(ctx, a.packed, b.packed, planes);
    try {
      const t = await timeRepeated((times) => gemm.run(times), runs);
      record('xnor', t, checkSampled(await gemm.compute(), a.packed, b.packed, planes, 3));
    } finally {
      gemm.destroy();
    }
  });
  // The float products multiply the first m rows of A (plane rows, on the first layer) by B.
  const floatExact = (c: Float32Array) => checkSampled(c, { ...a.packed, rows: m }, b.packed, false, 3);
  await attempt('baseline', async () => {
    const gemm = new FloatGemm(ctx, floatA, b.values, m, n, k);
    try {
      const t = await timeRepeated((times) => gemm.run(times), runs);
      record('baseline', t, floatExact(await gemm.compute()));
    } finally {
      gemm.destroy();
    }
  });
  await attempt('tfjs', async () => {
    const [ta, tb] = tf.tidy(() => [tf.tensor2d(floatA, [m, k]), tf.transpose(tf.tensor2d(b.values, [n, k]))]);
    try {
      const t = await timeRepeated(async (times) => {
        let c: tf.Tensor | null = null;
        for (let i = 0; i < times; i++) {
          c?.dispose();
          c = tf.matMul(ta, tb);
        }
        // Reading one entry waits for every product submitted before it.
        const one = tf.slice(c!, [0, 0], [1, 1]);
        await one.data();
        one.dispose();
        c!.dispose();
      }, runs);
      const c = tf.matMul(ta, tb);
      const values = (await c.data()) as Float32Array;
      c.dispose();
      record('tfjs', t, floatExact(values));
    } finally {
      ta.dispose();
      tb.dispose();
    }
  });
}

async function benchMlpOnGpu(
  kernel: Exclude<Awaited<ReturnType<typeof loadWebGpuKernel>>, string>,
  o: NonNullable<GpuBenchOptions['mlp']>,
  runs: number,
  log: (line: string) => void,
): Promise<GpuMlpResult> {
  const count = Math.min(o.images, o.test.count);
  const pixels = o.test.images.subarray(0, count * 784);
  const engine = new BinaryEngine(o.model, { kernel, batchSize: count });
  const float = new FloatModel(o.model);
  try {
    let engineScores = new Float64Array(0);
    const engineTime = await timeRepeated(async (times) => {
      for (let i = 0; i < times; i++) engineScores = await engine.scoresAsync(pixels, count);
    }, runs);
    let floatScores = new Float32Array(0);
    const chunk = 1000;
    const floatTime = await timeRepeated(async (times) => {
      for (let i = 0; i < times; i++) {
        const parts: Float32Array[] = [];
        for (let s = 0; s < count; s += chunk) {
          const c = Math.min(chunk, count - s);
          const t = float.scoresTensor(pixels.subarray(s * 784, (s + c) * 784), c);
          parts.push((await t.data()) as Float32Array);
          t.dispose();
        }
        floatScores = new Float32Array(count * 10);
        parts.forEach((p, j) => floatScores.set(p, j * chunk * 10));
      }
    }, runs);
    const argMax = (s: ArrayLike<number>, i: number) => {
      let best = 0;
      for (let j = 1; j < 10; j++) if (s[i * 10 + j] > s[i * 10 + best]) best = j;
      return best;
    };
    let disagreements = 0,
      wrong = 0;
    for (let i = 0; i < count; i++) {
      const c = argMax(engineScores, i);
      if (c !== argMax(floatScores, i)) disagreements++;
      if (c !== o.test.labels[i]) wrong++;
    }
    const rate = (t: { seconds: number; runs: number[] }) => ({ ...t, imagesPerSecond: count / t.seconds });
    const result = {
      model: o.name,
      images: count,
      engine: rate(engineTime),
      float: rate(floatTime),
      disagreements,
      testError: wrong / count,
    };
    log(
      `MLP ${o.name}, ${count} images: engine on WebGPU ${(engineTime.seconds * 1e3).toFixed(1)} ms, ` +
        `float32 on tfjs-webgpu ${(floatTime.seconds * 1e3).toFixed(1)} ms ` +
        `(${(floatTime.seconds / engineTime.seconds).toFixed(2)}×); ${disagreements} predictions differ`,
    );
    return result;
  } finally {
    engine.dispose();
    float.dispose();
  }
}

/** The GPU section, or why it cannot run here (no `webgpu` package, no adapter, no tfjs-webgpu). */
export async function benchGpu(o: GpuBenchOptions): Promise<GpuBenchResults | string> {
  const started = performance.now();
  const kernel = await loadWebGpuKernel();
  if (typeof kernel === 'string') return kernel;
  try {
    const why = await registerWebgpuBackend(true);
    if (why) return `tfjs-webgpu: ${why}`;
    await tf.setBackend('webgpu');
    await tf.ready();
    const adapter = kernel.context.adapter;
    o.log(`WebGPU adapter: ${adapter.label}`);
    if (adapter.software)
      o.log('a software adapter emulates the GPU on the CPU: these timings say nothing about GPU speed');
    const rows: GpuMatMulRow[] = [];
    const skipped: GpuBenchResults['skipped'] = [];
    const shapes: GpuShape[] = [
      ...o.sizes.map((s) => ({ m: s, n: s, k: s, label: `${s}³` })),
      ...(o.mlp ? mlpShapes(o.mlp.model, o.batch) : []),
    ];
    const loadAverageStart = os.loadavg();
    for (const shape of shapes) await benchShape(kernel.context, shape, o.runs, rows, skipped, o.log);
    const mlp = o.mlp ? await benchMlpOnGpu(kernel, o.mlp, Math.min(o.runs, 3), o.log) : null;
    return {
      createdAt: new Date().toISOString(),
      smoke: o.smoke,
      adapter,
      tfjsAdapter: webgpuAdapter()?.description ?? '',
      host: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? '',
        loadAverageStart,
        loadAverageEnd: os.loadavg(),
      },
      note: o.note,
      matmul: rows,
      skipped,
      mlp,
      wallSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    kernel.destroy();
  }
}

/** The MLP's layer products for `batch` images. */
function mlpShapes(model: PackedModel, batch: number): GpuShape[] {
  return model.layers.map((l, i) => ({
    m: batch,
    n: l.weights.rows,
    k: l.weights.k,
    label:
      `MLP layer ${i + 1} ${l.weights.k}→${l.weights.rows}` +
      `${l.input === 'pixels' ? ' (8 bit planes)' : ''}, ${batch} img`,
    planes: l.input === 'pixels',
  }));
}

const ms = (s: number) => (s * 1e3 >= 100 ? (s * 1e3).toFixed(0) : (s * 1e3).toFixed(2));
const ratio = (x: number) => (x >= 10 ? x.toFixed(1) : x.toFixed(2)) + '×';

/** The section's Markdown: the adapter first, labelled; the paper's figures only beside a hardware GPU's. */
export function gpuBenchMarkdown(r: GpuBenchResults): string {
  const lines: string[] = [];
  lines.push(`# The XNOR kernel on the GPU (WebGPU): ${r.adapter.label}`, '');
  if (r.adapter.software)
    lines.push(
      `**Software adapter.** ${r.adapter.description || r.adapter.device} emulates a GPU on the CPU (${r.host.cpus} ` +
        `× ${r.host.cpuModel}, load average ${r.host.loadAverageStart[0].toFixed(1)} at the start). These figures ` +
        `check that the kernels run and are exact; they say nothing about GPU speed, and they are not comparable ` +
        `with the paper's GPU results.`,
      '',
    );
  lines.push(
    `\`npm run bench -- --gpu${r.smoke ? ' --smoke' : ''}\`, ${r.createdAt.slice(0, 10)}, ` +
      `${r.wallSeconds.toFixed(0)} s. Median time of one product (operands resident on the GPU; each timed run ` +
      `submits it \`inner\` times and waits). ` +
      `Speed-ups are the float method's time over the XNOR kernel's. ${r.note}`.trim(),
    '',
    '| product | method | ms | G MAC/s | inner | exact | speed-up of XNOR |',
    '|---|---|---:|---:|---:|---|---:|',
  );
  const xnorOf = (label: string) => r.matmul.find((x) => x.label === label && x.kind === 'xnor');
  for (const row of r.matmul) {
    const xnor = xnorOf(row.label);
    const speedup = row.kind === 'float' && xnor ? ratio(row.seconds / xnor.seconds) : '';
    lines.push(
      `| ${row.label} | ${row.method} | ${ms(row.seconds)} | ` +
        `${(row.macsPerSecond / 1e9).toFixed(1)} | ${row.inner} | ` +
        `${row.exact ? 'yes' : '**no**'} | ${speedup} |`,
    );
  }
  for (const s of r.skipped) lines.push(`| ${s.label} | ${s.method} | skipped: ${s.reason} | | | | |`);
  if (r.mlp) {
    const m = r.mlp;
    lines.push(
      '',
      `**MNIST MLP** (${m.model}), ${m.images} test images, all on the GPU: the binary engine on WebGPU ` +
        `${ms(m.engine.seconds)} ms (${m.engine.imagesPerSecond.toFixed(0)} images/s), ` +
        `the same network in float32 on ` +
        `tfjs-webgpu ${ms(m.float.seconds)} ms (${m.float.imagesPerSecond.toFixed(0)} images/s): ` +
        `${ratio(m.float.seconds / m.engine.seconds)}. Test error ${(100 * m.testError).toFixed(2)} %; ` +
        `${m.disagreements} predictions differ from float32's.`,
    );
  }
  if (!r.adapter.software)
    lines.push(
      '',
      `The paper's figures, for reference (a GTX 750 and CUDA, 2016): the XNOR kernel ` +
        `${PAPER_SPEEDUPS.xnorVsBaselineKernel}× its baseline kernel and ${PAPER_SPEEDUPS.xnorVsCublas}× cuBLAS at ` +
        `8192³, the MNIST MLP ${PAPER_SPEEDUPS.mlpXnorVsBaseline}× faster.`,
    );
  return lines.join('\n') + '\n';
}
