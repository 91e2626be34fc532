/** The benchmark's Markdown tables and chart, with the paper's figures beside ours. */
import type { Figure } from '../lib/plots/figure';
import type { MlpBenchResult } from './mlpBench';
import type { MachineDescription, MatMulRow } from './xnorBench';

/** A BatchNorm output this close to 0, relative to its terms, is within float32 rounding of tfjs's. */
export const FLOAT_TIE_MARGIN = 1e-4;

/** The paper's GPU results (8192 × 8192 × 8192 on ±1 inputs; MNIST MLP on the test set). */
export const PAPER_SPEEDUPS = {
  xnorVsBaselineKernel: 23,
  xnorVsCublas: 3.4,
  mlpXnorVsBaseline: 7,
} as const;

export interface BenchResults {
  createdAt: string;
  smoke: boolean;
  machine: MachineDescription;
  /** Register-only XOR + VPOPCNTQ + ADD, one thread (binary MAC/s); null without VPOPCNTQ. */
  rooflineMacPerSecond: number | null;
  /** The figure of ../shared/environment.md (data in L1, 4 × 4 register blocked), for reference. */
  environmentRooflineMacPerSecond: number;
  matmul: MatMulRow[];
  mlp: MlpBenchResult | null;
  wallSeconds: number;
}

const times = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) + '×';
const gmac = (x: number) => (x / 1e9).toFixed(1);

function find(rows: MatMulRow[], label: string, pred: (r: MatMulRow) => boolean): MatMulRow | undefined {
  return rows.find((r) => r.label === label && pred(r));
}

const isBaseline = (r: MatMulRow) => r.method.startsWith('float baseline');
const isTfjs = (r: MatMulRow) => r.method.startsWith('float tfjs');
/** An optimized float GEMM: tfjs, our native sgemm, numpy (OpenBLAS), PyTorch — not the plain loops. */
const isFloatGemm = (r: MatMulRow) => r.kind === 'float' && !isBaseline(r);

/** The fastest optimized float GEMM at `label` on at most `threads` threads (the paper's cuBLAS role). */
export function bestFloatGemm(rows: MatMulRow[], label: string, threads: number): MatMulRow | undefined {
  return rows
    .filter((r) => r.label === label && isFloatGemm(r) && r.threads <= threads)
    .sort((x, y) => x.seconds - y.seconds)[0];
}

/** The fastest native XNOR row at `label` on at most `threads` threads. */
export function bestXnor(rows: MatMulRow[], label: string, threads: number): MatMulRow | undefined {
  return rows
    .filter((r) => r.label === label && r.kind === 'xnor' && r.threads <= threads)
    .sort((x, y) => x.seconds - y.seconds)[0];
}
const isBestNative = (threads: 'one' | 'all', maxThreads: number) => (r: MatMulRow) =>
  r.method.startsWith('xnor native') &&
  (threads === 'one' ? r.threads === 1 : r.threads === maxThreads && maxThreads > 1);

/** The largest square size that has the XNOR and both float results. */
function headlineSize(b: BenchResults): string | undefined {
  const squares = [
    ...new Set(b.matmul.filter((r) => r.shape.m === r.shape.n && r.shape.n === r.shape.k).map((r) => r.label)),
  ];
  return squares.reverse().find((l) => find(b.matmul, l, isTfjs) && find(b.matmul, l, isBaseline));
}

export function speedupTableMarkdown(b: BenchResults): string {
  const size = headlineSize(b);
  const maxThreads = b.machine.threadsAvailable;
  const lines: string[] = [];
  const cell = (num?: MatMulRow, den?: MatMulRow) => (num && den ? times(den.seconds / num.seconds) : '—');
  lines.push(`| | Paper (GPU) | Ours, 1 thread | Ours, ${maxThreads} threads |`, '|---|---|---|---|');
  if (size) {
    const base = find(b.matmul, size, isBaseline);
    const tfjs = find(b.matmul, size, isTfjs);
    const one =
      find(b.matmul, size, isBestNative('one', maxThreads)) ??
      find(b.matmul, size, (r) => r.kind === 'xnor' && r.threads === 1);
    const all = find(b.matmul, size, isBestNative('all', maxThreads));
    const wasm = find(b.matmul, size, (r) => r.method.includes('wasm'));
    const best1 = bestFloatGemm(b.matmul, size, 1),
      bestAll = bestFloatGemm(b.matmul, size, maxThreads);
    const x1 = bestXnor(b.matmul, size, 1),
      xAll = bestXnor(b.matmul, size, maxThreads);
    const vs = (r?: MatMulRow) => (r ? ` (vs ${r.method.replace('float ', '')}, ${r.threads} thr)` : '');
    lines.push(
      `| ${size} ±1 matmul: XNOR kernel vs best float GEMM on this CPU | ${PAPER_SPEEDUPS.xnorVsCublas}× ` +
        `(vs cuBLAS) | ${cell(x1, best1)}${vs(best1)} | ${cell(xAll, bestAll)}${vs(bestAll)} |`,
      `| ${size} ±1 matmul: XNOR kernel vs plain float ` +
        `kernel${base?.sampledRows ? ` (float kernel timed on ${base.sampledRows} rows, scaled)` : ''} | ` +
        `${PAPER_SPEEDUPS.xnorVsBaselineKernel}× (vs its "baseline kernel") | ${cell(one, base)} | ` +
        `${cell(all, base)} |`,
      `| ${size} ±1 matmul: XNOR kernel vs optimized float library | ${PAPER_SPEEDUPS.xnorVsCublas}× (vs ` +
        `cuBLAS) | ${cell(one, tfjs)} (vs ${tfjs?.method.replace('float ', '') ?? 'tfjs'}) | ` +
        `${cell(all, tfjs)} (tfjs on 1 thread) |`,
      `| ${size} ±1 matmul: WebAssembly XNOR tier vs optimized float library | — | ${cell(wasm, tfjs)} | — |`,
      `| ${size}: all methods return the same result | yes | ` +
        `${b.matmul.filter((r) => r.label === size).every((r) => r.exact !== false) ? 'yes' : '**no**'} | |`,
    );
  }
  if (b.mlp) {
    const tf = b.mlp.rows.find((r) => r.tier === 'tfjs');
    const one = b.mlp.rows.find((r) => r.tier !== 'tfjs' && r.threads === 1);
    const all = b.mlp.rows.find((r) => r.tier === 'native' && r.threads === maxThreads && maxThreads > 1);
    const mcell = (r?: { seconds: number }) => (r && tf ? times(tf.seconds / r.seconds) : '—');
    const agree = b.mlp.rows.every((r) => r.disagreements === 0);
    const ties = b.mlp.disagreements.every((d) => d.relativeMargin < FLOAT_TIE_MARGIN);
    const why = ties
      ? ', each a float32 rounding tie at a threshold (see below)'
      : ' (**not all explained by float ties**)';
    const identical = agree
      ? 'yes, every image'
      : `${b.mlp.disagreements.length} of ${b.mlp.images} images differ${why}`;
    lines.push(
      `| MNIST MLP inference, ${b.mlp.images} test images: binary engine vs tfjs float model (a weak ` +
        `baseline: against the best float runtime see inference.md) | ` +
        `${PAPER_SPEEDUPS.mlpXnorVsBaseline}× (XNOR vs baseline kernel, same error) | ${mcell(one)} (vs ` +
        `tfjs ${b.machine.tfjsBackend} float model) | ${mcell(all)} |`,
      `| MNIST MLP: identical predictions | same test error | ${identical} | |`,
    );
  }
  return lines.join('\n');
}

export function detailTableMarkdown(b: BenchResults): string {
  const lines = [
    '| shape (m×n×k) | method | threads | median time (s) | G MAC/s | % of roofline | vs tfjs matMul | ' +
      'vs plain float | vs best float GEMM | same result |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of b.matmul) {
    const best = bestFloatGemm(b.matmul, r.label, b.machine.threadsAvailable);
    const tfjs = find(b.matmul, r.label, isTfjs);
    const base = find(b.matmul, r.label, isBaseline);
    const roof =
      r.kind === 'xnor' && b.rooflineMacPerSecond
        ? `${((100 * r.macPerSecond) / (b.rooflineMacPerSecond * r.threads)).toFixed(0)} %`
        : '';
    lines.push(
      `| ${r.label} (${r.shape.m}×${r.shape.n}×${r.shape.k}) | ` +
        `${r.method}${r.sampledRows ? ` (${r.sampledRows} rows, scaled)` : ''} | ${r.threads} | ` +
        `${r.seconds.toPrecision(3)} | ${gmac(r.macPerSecond)} | ${roof} | ` +
        `${tfjs ? times(tfjs.seconds / r.seconds) : '—'} | ${base ? times(base.seconds / r.seconds) : '—'} ` +
        `| ${best ? times(best.seconds / r.seconds) : '—'} | ` +
        `${r.exact === null ? '' : r.exact ? 'yes' : '**no**'} |`,
    );
  }
  return lines.join('\n');
}

export function mlpTableMarkdown(m: MlpBenchResult): string {
  const tf = m.rows.find((r) => r.tier === 'tfjs')!;
  const lines = [
    `Model: ${m.model}. Float32 parameters ${(m.floatBytes / 2 ** 20).toFixed(2)} MiB; packed ` +
      `${(m.packedParameterBytes / 2 ** 20).toFixed(2)} MiB ` +
      `(${(m.floatBytes / m.packedParameterBytes).toFixed(1)}× smaller; file ` +
      `${(m.packedFileBytes / 2 ** 20).toFixed(2)} MiB).`,
    '',
    '| method | threads | median time (s) | images/s | speedup | test error | predictions differing from tfjs |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of m.rows) {
    lines.push(
      `| ${r.method} | ${r.threads} | ${r.seconds.toPrecision(3)} | ${r.imagesPerSecond.toFixed(0)} | ` +
        `${times(tf.seconds / r.seconds)} | ${(100 * r.testError).toFixed(2)} % | ${r.disagreements} |`,
    );
  }
  if (m.disagreements.length) {
    lines.push(
      '',
      'Images whose class differs. The engine computes each pre-activation exactly (integers); tfjs in ' +
        'float32. "Relative margin" is |a| / (|c·(s − μ)| + |β|) of the exact BatchNorm output a at the ' +
        'first layer where the signs differ: values near float32 precision (~1e-7) mean the exact value ' +
        "sits on the threshold and tfjs's rounding tipped it (a float tie).",
      '',
      '| image | first difference | neurons | relative margin | float tie |',
      '|---|---|---|---|---|',
      ...m.disagreements.map(
        (d) =>
          `| ${d.image} | ${d.layer} | ${d.neurons} | ${d.relativeMargin.toExponential(2)} | ` +
          `${d.relativeMargin < FLOAT_TIE_MARGIN ? 'yes' : '**no**'} |`,
      ),
    );
  }
  return lines.join('\n');
}

export function benchMarkdown(b: BenchResults): string {
  const m = b.machine;
  return [
    `# XNOR-popcount speed results${b.smoke ? ' (smoke run: tiny sizes, not representative)' : ''}`,
    '',
    `Machine: ${m.cpu}, ${m.threadsAvailable} threads, ${m.memoryGiB} GiB, ${m.platform}, Node ` +
      `${m.node}; CPU flags: ${m.cpuFlags.join(' ')}; native instruction sets: ` +
      `${m.nativeIsas.join(', ') || 'none (addon not built)'}; tfjs backend ${m.tfjsBackend} (one thread). ` +
      `${m.shared}`,
    `Load average at start ${m.loadAverageStart.map((x) => x.toFixed(2)).join(' / ')}, at end ` +
      `${(m.loadAverageEnd ?? []).map((x) => x.toFixed(2)).join(' / ')}. Medians of repeated runs after a ` +
      `warm-up; ${b.createdAt}; ${b.wallSeconds.toFixed(0)} s in all.`,
    '',
    `Popcount roofline (one thread, XOR + VPOPCNTQ + ADD in registers, measured now): ` +
      (b.rooflineMacPerSecond
        ? `${gmac(b.rooflineMacPerSecond)} G binary MAC/s`
        : 'not measured (no VPOPCNTQ or no native addon)') +
      '; ' +
      `shared/environment.md's L1 microbenchmark: ${gmac(b.environmentRooflineMacPerSecond)} G/s.`,
    '',
    "## Speedups: the paper's numbers and ours",
    '',
    speedupTableMarkdown(b),
    '',
    'Paper figures: GPU kernels on 8192³ (its "baseline kernel" is an unoptimised float GPU kernel; ' +
      'cuBLAS the optimised library) and MNIST MLP inference (XNOR vs baseline kernel). Ours: this CPU; ' +
      '"best float GEMM" is the fastest of our native sgemm, numpy (OpenBLAS) sgemm, PyTorch mm and tfjs ' +
      "matMul in this run, on at most that many threads (cuBLAS's role). numpy and PyTorch inputs are " +
      'their own random ±1 matrices of the same shape (results not compared: blank in the last column).',
    '',
    '## Matrix products on ±1 matrices',
    '',
    detailTableMarkdown(b),
    '',
    ...(b.mlp ? ['## MNIST MLP inference', '', mlpTableMarkdown(b.mlp), ''] : []),
  ].join('\n');
}

/** Speedup over the plain float kernel per size and method, with the paper's bars beside. */
export function speedupFigure(b: BenchResults): Figure {
  const labels = [
    ...new Set(b.matmul.filter((r) => r.shape.m === r.shape.n && r.shape.n === r.shape.k).map((r) => r.label)),
  ];
  const methods = [...new Set(b.matmul.filter((r) => !isBaseline(r)).map((r) => `${r.method}, ${r.threads} thr`))];
  const data: object[] = methods.map((name) => ({
    type: 'bar',
    name,
    x: labels,
    y: labels.map((l) => {
      const r = b.matmul.find((x) => x.label === l && `${x.method}, ${x.threads} thr` === name);
      const base = find(b.matmul, l, isBaseline);
      return r && base ? base.seconds / r.seconds : null;
    }),
  }));
  // Above each size: the XNOR kernel's speedup over the best float GEMM there (the paper's 3.4× vs cuBLAS).
  const all = b.machine.threadsAvailable;
  const annotations = labels.flatMap((l) => {
    const x = bestXnor(b.matmul, l, all),
      f = bestFloatGemm(b.matmul, l, all),
      base = find(b.matmul, l, isBaseline);
    if (!x || !f || !base) return [];
    return [
      {
        x: l,
        y: Math.log10((1.6 * base.seconds) / x.seconds),
        text: `XNOR ÷ best<br>float GEMM: ${times(f.seconds / x.seconds)}`,
        showarrow: false,
      },
    ];
  });
  annotations.push({
    x: 'paper 8192³',
    y: Math.log10(1.6 * PAPER_SPEEDUPS.xnorVsBaselineKernel),
    text: `XNOR ÷ cuBLAS: ${PAPER_SPEEDUPS.xnorVsCublas}×`,
    showarrow: false,
  });
  data.push({
    type: 'bar',
    name: 'paper (GPU, 8192³): cuBLAS, XNOR kernel',
    x: ['paper 8192³', 'paper 8192³'],
    y: [PAPER_SPEEDUPS.xnorVsBaselineKernel / PAPER_SPEEDUPS.xnorVsCublas, PAPER_SPEEDUPS.xnorVsBaselineKernel],
    text: ['cuBLAS', 'XNOR'],
    marker: { color: '#999' },
  });
  return {
    data,
    layout: {
      title: {
        text:
          `Speedup over a plain float kernel on ±1 m×m×m products (${b.machine.cpu}, ` +
          `${b.machine.threadsAvailable} threads)`,
      },
      barmode: 'group',
      yaxis: { title: { text: 'speedup (×, log scale)' }, type: 'log' },
      legend: { orientation: 'h', y: -0.12 },
      // More methods than plotly's 10 default colours: one colour each.
      colorway: [
        '#1f77b4',
        '#aec7e8',
        '#17becf',
        '#9467bd',
        '#c5b0d5',
        '#e377c2',
        '#8c564b',
        '#ff7f0e',
        '#ffbb78',
        '#2ca02c',
        '#98df8a',
        '#d62728',
        '#ff9896',
        '#bcbd22',
        '#7f7f7f',
        '#dbdb8d',
      ],
      annotations,
    },
  };
}
