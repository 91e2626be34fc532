/**
 * Results of runs (metrics JSON + history per run under results/<run>/), the error-rate table in
 * the shape of the paper's Table 1, and the figures: learning curves per run and error rates
 * against the paper's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataSource } from '../data/dataset';
import { writeFileAtomic } from '../io/atomicWrite';
import type { Hyperparameters } from '../presets';
import type { EpochRecord } from '../train/history';
import type { TrainResult } from '../train/trainer';
import type { LayerDiagnostics } from '../train/diagnostics';
import { saveFigure, type Figure, type RenderedFigure } from '../plots/figure';
import type { MachineInfo } from './machine';
import { PAPER_BNN_ROWS, PAPER_OTHER_ROWS } from './paper';
import { binomialStandardError, groupBySeries, seriesTestError } from './seeds';

/** A run's name, the same from the CLI and the notebooks: `<dataset>-<preset>[-synthetic][-custom]`. */
export function runName(dataset: string, preset: string, overrides: object, data: DataSource = 'real'): string {
  const custom = Object.keys(overrides).length ? '-custom' : '';
  return `${dataset}-${preset}${data === 'synthetic' ? '-synthetic' : ''}${custom}`;
}

export interface RunMetrics {
  run: string;
  dataset: string;
  preset: string;
  /** Hyperparameters that differ from the preset (CLI or notebook overrides). */
  overrides: Partial<Hyperparameters>;
  hyperparameters: Hyperparameters;
  backend: string;
  epochsPlanned: number;
  epochsRun: number;
  bestEpoch: number;
  bestValidError: number;
  /** Test error at the best-validation epoch, as a fraction. */
  testError: number;
  wallSeconds: number;
  secondsPerEpoch: number;
  trainCount: number;
  validCount: number;
  testCount: number;
  /**
   * 'synthetic' when the run trained on a stand-in written in the data set's file format
   * (lib/data/fixtures.ts): its error says nothing about the data set. Absent in runs recorded before
   * this field existed, all of them on real data.
   */
  data?: DataSource;
  /** True when the run stopped before its planned epochs (Ctrl-C or --stop-after). */
  incomplete: boolean;
  /**
   * The series of seeds this run belongs to (`--seeds N`: the name of its first run, every member's
   * hyperparameters equal but the seed); the table reports a series as mean ± std. Absent for single runs.
   */
  series?: string;
  date: string;
  machine: MachineInfo;
  command: string;
}

export function buildMetrics(args: {
  run: string;
  preset: string;
  overrides: Partial<Hyperparameters>;
  hp: Hyperparameters;
  backend: string;
  result: TrainResult;
  counts: { train: number; valid: number; test: number };
  machine: MachineInfo;
  command: string;
  /** Default 'real': every loader reads genuine files; only the notebooks' stand-ins are synthetic. */
  data?: DataSource;
  series?: string;
}): RunMetrics {
  const { result, hp } = args;
  return {
    run: args.run,
    dataset: hp.dataset,
    preset: args.preset,
    overrides: args.overrides,
    hyperparameters: hp,
    backend: args.backend,
    epochsPlanned: hp.epochs,
    epochsRun: result.epochsRun,
    bestEpoch: result.bestEpoch,
    bestValidError: result.bestValidError,
    testError: result.testError,
    wallSeconds: Math.round(result.wallSeconds * 10) / 10,
    secondsPerEpoch: result.epochsRun
      ? Math.round((result.history.reduce((s, r) => s + r.seconds, 0) / result.history.length) * 10) / 10
      : NaN,
    trainCount: args.counts.train,
    validCount: args.counts.valid,
    testCount: args.counts.test,
    data: args.data ?? 'real',
    incomplete: result.epochsRun < hp.epochs,
    ...(args.series === undefined ? {} : { series: args.series }),
    date: new Date().toISOString(),
    machine: args.machine,
    command: args.command,
  };
}

export function writeRunFiles(dir: string, metrics: RunMetrics, history: EpochRecord[]): void {
  writeFileAtomic(path.join(dir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
  writeFileAtomic(path.join(dir, 'history.json'), JSON.stringify(history, null, 1) + '\n');
}

/** Field names of metrics files written before RunMetrics was camelCase, and their names now. */
const SNAKE_CASE_FIELDS: Record<string, keyof RunMetrics> = {
  epochs_planned: 'epochsPlanned',
  epochs_run: 'epochsRun',
  best_epoch: 'bestEpoch',
  best_valid_error: 'bestValidError',
  test_error: 'testError',
  wall_seconds: 'wallSeconds',
  seconds_per_epoch: 'secondsPerEpoch',
  train_count: 'trainCount',
  valid_count: 'validCount',
  test_count: 'testCount',
};

/** A run's metrics.json, older files' snake_case fields read under their names now. */
export function readRunMetrics(file: string): RunMetrics {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(raw).map(([k, v]) => [SNAKE_CASE_FIELDS[k] ?? k, v]),
  ) as unknown as RunMetrics;
}

/** Every run's metrics under `resultsDir` (folders holding a metrics.json). */
export function collectRuns(resultsDir: string): RunMetrics[] {
  if (!fs.existsSync(resultsDir)) return [];
  return fs
    .readdirSync(resultsDir)
    .map((d) => path.join(resultsDir, d, 'metrics.json'))
    .filter((f) => fs.existsSync(f))
    .map(readRunMetrics)
    .sort((a, b) => a.run.localeCompare(b.run));
}

const isSynthetic = (m: RunMetrics) => m.data === 'synthetic';

const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '—' : `${(100 * x).toFixed(2)} %`);

/** The architecture in the paper's notation: "3×1024 MLP", or "(2×32C3)−MP2−(2×64C3)−MP2−(2×256FC)−10 ConvNet". */
export function describeArchitecture(hp: Hyperparameters): string {
  // Runs recorded before ConvNets existed have no `arch`: they are MLPs.
  if ((hp.arch ?? 'mlp') === 'mlp') return `${hp.hiddenUnits.join('×')} MLP`;
  const parts: string[] = [];
  for (let i = 0; i < hp.convFilters.length; i += 2) {
    const block = hp.convFilters.slice(i, i + 2);
    parts.push(
      block.length === 2 && block[0] === block[1] ? `(2×${block[0]}C3)` : block.map((f) => `${f}C3`).join('−'),
    );
    if (block.length === 2) parts.push('MP2');
  }
  if (hp.hiddenUnits.length) {
    const same = hp.hiddenUnits.every((u) => u === hp.hiddenUnits[0]);
    parts.push(
      same && hp.hiddenUnits.length > 1
        ? `(${hp.hiddenUnits.length}×${hp.hiddenUnits[0]}FC)`
        : hp.hiddenUnits.map((u) => `${u}FC`).join('−'),
    );
  }
  parts.push('10'); // all four data sets have 10 classes
  return `${parts.join('−')} ConvNet`;
}

/** A row of the table: one run, or a series of seeds of one recipe (same description but the seed). */
function describeRun(group: RunMetrics[]): string {
  const m = group[0];
  const epochs = m.incomplete ? `${m.epochsRun} of ${m.epochsPlanned} epochs (incomplete)` : `${m.epochsRun} epochs`;
  const meanWall = group.reduce((s, r) => s + r.wallSeconds, 0) / group.length;
  const minutes = meanWall >= 3600 ? `${(meanWall / 3600).toFixed(1)} h` : `${(meanWall / 60).toFixed(1)} min`;
  const wall = group.length > 1 ? `${minutes} per run` : minutes;
  // Runs of one preset that differ only in overrides (the shift-based variants) must be told apart.
  const overrides = Object.entries(m.overrides ?? {}).map(([k, v]) => `${k} ${JSON.stringify(v)}`);
  const preset = `\`${m.preset}\` preset${overrides.length ? ` with ${overrides.join(', ')}` : ''}`;
  const seeds = group.length > 1 ? `, seeds ${group.map((r) => r.hyperparameters.seed).join(', ')}` : '';
  return (
    `this project: ${preset} (${describeArchitecture(m.hyperparameters)}), ${epochs}${seeds}, ${wall}, ` +
    `${m.backend} backend, ${m.machine.cores} cores`
  );
}

/** A no-break space: an error and its ± stay on one line when a table cell wraps. */
const NBSP = '\u00a0';

/** A single run's error ± its binomial standard error; a series' mean ± std over its seeds, with n. */
function errorCell(group: RunMetrics[], bold = true): string {
  const b = bold ? '**' : '';
  const spread = seriesTestError(group);
  const points = (x: number) => (100 * x).toFixed(2);
  if (group.length === 1) {
    const m = group[0];
    const se = m.testCount > 0 ? `${NBSP}±${NBSP}${points(binomialStandardError(m.testError, m.testCount))}` : '';
    return `${b}${pct(m.testError)}${b}${se}`;
  }
  return `${b}${points(spread.mean)}${NBSP}±${NBSP}${points(spread.std)} %${b} (n = ${spread.n})`;
}

/** The results table (Markdown), paper rows labelled as the paper's, then this project's runs. */
export function tableMarkdown(runs: RunMetrics[]): string {
  const lines = [
    '# Test error rates',
    '',
    'Generated by `npm run report` from `results/*/metrics.json`; do not edit by hand.',
    'Rows marked *(paper)* are the figures reported in Courbariaux et al. (2016), Table 1, not measured here.',
    "This project's rows give the test error at the epoch of best validation error, as the paper does.",
    'After a single run, ± is its binomial standard error √(p(1−p)/n) on the n test images; after a series of',
    'seeds (`--seeds N`), the mean ± the standard deviation over the n seeds.',
    '',
    '| Method | MNIST | CIFAR-10 | SVHN |',
    '|---|---|---|---|',
    ...PAPER_BNN_ROWS.map((r) => `| ${r.method} | ${pct(r.mnist)} | ${pct(r.cifar10)} | ${pct(r.svhn)} |`),
  ];
  // Runs on synthetic stand-ins never sit under the paper's figures: they are listed apart.
  const synthetic = runs.filter(isSynthetic);
  const paperDatasets = runs.filter((m) => !isSynthetic(m) && ['mnist', 'cifar10', 'svhn'].includes(m.dataset));
  for (const group of groupBySeries(paperDatasets)) {
    const cell = (d: string) => (group[0].dataset === d ? errorCell(group) : '—');
    lines.push(`| ${describeRun(group)} | ${cell('mnist')} | ${cell('cifar10')} | ${cell('svhn')} |`);
  }
  lines.push(...PAPER_OTHER_ROWS.map((r) => `| ${r.method} | ${pct(r.mnist)} | ${pct(r.cifar10)} | ${pct(r.svhn)} |`));
  const others = runs.filter((m) => !isSynthetic(m) && !paperDatasets.includes(m));
  if (others.length) {
    lines.push('', '## Data sets not in the paper', '', '| Data set | Run | Test error |', '|---|---|---|');
    for (const group of groupBySeries(others)) {
      lines.push(`| ${group[0].dataset} | ${describeRun(group)} | ${errorCell(group)} |`);
    }
  }
  if (synthetic.length) {
    lines.push(
      '',
      '## Runs on synthetic data',
      '',
      "Trained and tested on synthetic stand-ins written in the data set's file format (the real files were absent):",
      'they check that the pipeline runs; their errors say nothing about the data set or the paper.',
      '',
      '| Data set | Run | Test error |',
      '|---|---|---|',
    );
    for (const group of groupBySeries(synthetic)) {
      lines.push(`| ${group[0].dataset} (synthetic) | ${describeRun(group)} | ${errorCell(group, false)} |`);
    }
  }
  lines.push(
    '',
    '## Runs',
    '',
    '| Run | Data set | Preset | Seed | Epochs (best) | Valid error | Test error | Wall time | s/epoch | ' +
      'Backend | Machine | Date |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const m of runs) {
    const overrides = Object.keys(m.overrides);
    const overridden = overrides.length ? ` (overridden: ${overrides.join(', ')})` : '';
    lines.push(
      `| [${m.run}](${m.run}/metrics.json) | ${m.dataset}${isSynthetic(m) ? ' (synthetic)' : ''} | ` +
        `${m.preset}${overridden} | ${m.hyperparameters.seed} | ` +
        `${m.epochsRun}/${m.epochsPlanned} (${m.bestEpoch}) | ${pct(m.bestValidError)} | ` +
        `${pct(m.testError)} | ${m.wallSeconds.toFixed(0)} s | ${m.secondsPerEpoch} | ${m.backend} | ` +
        `${m.machine.cpu}, ${m.machine.cores} cores | ${m.date.slice(0, 10)} |`,
    );
  }
  return lines.join('\n') + '\n';
}

export function learningCurvesFigure(m: RunMetrics, history: EpochRecord[]): Figure {
  const dropout = m.hyperparameters.dropoutInput > 0 || m.hyperparameters.dropoutHidden > 0;
  const epochs = history.map((r) => r.epoch);
  const trace = (name: string, key: 'trainError' | 'validError' | 'testError', dash?: string) => ({
    type: 'scatter',
    mode: 'lines+markers',
    name,
    x: epochs,
    y: history.map((r) => 100 * r[key]),
    line: dash ? { dash } : {},
  });
  return {
    data: [
      trace(`train (during the epoch${dropout ? ', with dropout' : ''})`, 'trainError', 'dot'),
      trace('validation', 'validError'),
      trace('test', 'testError'),
    ],
    layout: {
      title: {
        text:
          `${m.dataset}, ${m.preset} preset, ${describeArchitecture(m.hyperparameters)}<br>error per epoch ` +
          `(test at best validation epoch ${m.bestEpoch}: ${pct(m.testError)})`,
      },
      // Whole epochs only (a 2-epoch run would otherwise get ticks at 1.2, 1.4, …).
      xaxis: { title: { text: 'epoch' }, dtick: Math.max(1, Math.ceil(epochs.length / 12)) },
      yaxis: { title: { text: 'error (%)' }, type: 'log' },
      annotations: [
        {
          text:
            `${m.backend} backend · ${m.machine.cpu} · ${m.machine.cores} cores · ` +
            `${m.wallSeconds.toFixed(0)} s · ${m.date.slice(0, 10)}`,
          xref: 'paper',
          yref: 'paper',
          x: 0,
          y: -0.26,
          showarrow: false,
          font: { size: 10, color: '#666' },
        },
      ],
      margin: { b: 110 },
    },
  };
}

/** Plotly's default colours, so that a layer keeps its colour in all three diagnostics panels. */
const LAYER_COLOURS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

/**
 * The binary weights' diagnostics per epoch (lib/train/diagnostics.ts), one line per binary layer
 * in three panels: flip ratio (log scale), fraction of latent weights at ±H, mean |W|. Null when
 * no epoch of `history` recorded them.
 */
export function diagnosticsFigure(
  m: RunMetrics,
  history: (Pick<EpochRecord, 'epoch'> & { layers?: LayerDiagnostics[] })[],
): Figure | null {
  const recorded = history.filter((r) => r.layers?.length);
  if (recorded.length === 0) return null;
  const names = [...new Set(recorded.flatMap((r) => r.layers!.map((l) => l.layer)))];
  const panels = [
    {
      axis: '',
      title: 'flip ratio (signs changed)',
      value: (l: LayerDiagnostics) => (l.flipRatio > 0 ? l.flipRatio : null),
    },
    { axis: '2', title: 'latent weights at ±H (%)', value: (l: LayerDiagnostics) => 100 * l.atClip },
    { axis: '3', title: 'mean |latent weight|', value: (l: LayerDiagnostics) => l.meanAbs },
  ];
  const data = panels.flatMap((panel, p) =>
    names.map((name, i) => ({
      type: 'scatter',
      mode: 'lines+markers',
      name,
      legendgroup: name,
      showlegend: p === 0,
      xaxis: `x${panel.axis}`,
      yaxis: `y${panel.axis}`,
      line: { color: LAYER_COLOURS[i % LAYER_COLOURS.length] },
      x: recorded.map((r) => r.epoch),
      y: recorded.map((r) => {
        const l = r.layers!.find((d) => d.layer === name);
        return l ? panel.value(l) : null;
      }),
    })),
  );
  const layout: Record<string, unknown> = {
    title: { text: `${m.dataset}, ${m.preset} preset: binary weights per epoch and layer` },
    legend: { orientation: 'h', y: -0.3 },
    margin: { b: 120 },
  };
  panels.forEach((panel, p) => {
    layout[`xaxis${panel.axis}`] = {
      domain: [p * 0.36, p * 0.36 + 0.28],
      title: { text: 'epoch' },
      anchor: `y${panel.axis}`,
    };
    layout[`yaxis${panel.axis}`] = {
      title: { text: panel.title },
      anchor: `x${panel.axis}`,
      ...(p === 0 ? { type: 'log' } : {}),
    };
  });
  return { data, layout };
}

export function errorRatesFigure(runs: RunMetrics[]): Figure {
  const datasets = ['mnist', 'cifar10', 'svhn'];
  const labels: Record<string, string> = {
    mnist: 'MNIST',
    cifar10: 'CIFAR-10',
    svhn: 'SVHN',
    'fashion-mnist': 'Fashion-MNIST',
  };
  const data: object[] = PAPER_BNN_ROWS.map((r) => ({
    type: 'bar',
    name: r.method,
    x: datasets.map((d) => labels[d]),
    y: datasets.map((d) => (r[d as 'mnist'] === undefined ? null : 100 * r[d as 'mnist']!)),
  }));
  const shown = runs.filter((r) => !isSynthetic(r) && (!r.incomplete || r.epochsRun > 0));
  for (const group of groupBySeries(shown)) {
    const m = group[0];
    const spread = seriesTestError(group);
    const seeds = group.length > 1 ? ` (${group.length} seeds: mean ± std)` : '';
    data.push({
      type: 'bar',
      name: `this project: ${m.series ?? m.run}${m.incomplete ? ' (incomplete)' : ''}${seeds}`,
      x: [labels[m.dataset] ?? m.dataset],
      y: [100 * spread.mean],
      // A series: its standard deviation over seeds; a single run: the binomial standard error.
      error_y: { type: 'data', array: [100 * (group.length > 1 ? spread.std : spread.standardError)], visible: true },
    });
  }
  return {
    data,
    layout: {
      title: { text: 'Test error: the paper\'s BNN results (labelled "paper") and this project\'s runs' },
      barmode: 'group',
      yaxis: { title: { text: 'test error (%)' } },
      legend: { orientation: 'h', y: -0.2 },
      margin: { b: 140 },
    },
  };
}

/** A run with its per-epoch history, as results/<run>/ holds them. */
export interface RecordedRun {
  metrics: RunMetrics;
  history: EpochRecord[];
}

/**
 * One run's time-to-accuracy curve: minutes since the start (x) and the test error in % of the best
 * validation epoch so far (y), after each epoch.
 */
function timeToAccuracyCurve(history: EpochRecord[]): { x: number[]; y: number[] } {
  let elapsed = 0;
  let best: EpochRecord | null = null;
  const x: number[] = [];
  const y: number[] = [];
  for (const record of history) {
    // Runs recorded before `elapsedSeconds` existed: the sum of the epochs' times (saves not counted either).
    elapsed = record.elapsedSeconds ?? elapsed + record.seconds;
    if (!best || record.validError <= best.validError) best = record;
    x.push(elapsed / 60);
    y.push(100 * best.testError);
  }
  return { x, y };
}

/** The presets whose MNIST runs are compared by time to accuracy (the others are demos of seconds). */
const TIME_TO_ACCURACY_PRESETS = ['quick', 'paper-fast', 'paper'];

/**
 * Time to accuracy, as DAWNBench reports it: for each MNIST run, the test error of the model one would
 * report at each moment (the best validation epoch so far) against the minutes of training and evaluation
 * so far; the seeds of a series share a colour. `tried`: the runs of a search (results/search/), drawn thin and
 * grey beside them. The paper's two MNIST figures are drawn as lines, labelled. Null when no such run is recorded.
 */
export function timeToAccuracyFigure(runs: RecordedRun[], tried: RecordedRun[] = []): Figure | null {
  const shown = runs.filter(
    (r) =>
      r.metrics.dataset === 'mnist' &&
      !isSynthetic(r.metrics) &&
      TIME_TO_ACCURACY_PRESETS.includes(r.metrics.preset) &&
      r.history.length > 0,
  );
  if (shown.length === 0) return null;
  const groups = groupBySeries(shown.map((r) => r.metrics));
  const data: object[] = [];
  let longest = 0;
  groups.forEach((group, g) => {
    for (const m of group) {
      const { history } = shown.find((r) => r.metrics === m)!;
      const { x, y } = timeToAccuracyCurve(history);
      longest = Math.max(longest, x[x.length - 1]);
      const seed = group.length > 1 ? `, seed ${m.hyperparameters.seed}` : '';
      data.push({
        type: 'scatter',
        mode: 'lines+markers',
        line: { shape: 'hv', color: LAYER_COLOURS[g % LAYER_COLOURS.length] },
        marker: { size: 4 },
        legendgroup: m.series ?? m.run,
        name:
          `${m.series ?? m.run}${seed}: ${describeArchitecture(m.hyperparameters)}, ` +
          `${m.epochsRun}${m.incomplete ? ` of ${m.epochsPlanned}` : ''} epochs, ${m.backend}`,
        x,
        y,
      });
    }
  });
  for (const { metrics: m, history } of tried.filter((r) => r.metrics.dataset === 'mnist' && r.history.length > 0)) {
    const { x, y } = timeToAccuracyCurve(history);
    longest = Math.max(longest, x[x.length - 1]);
    data.push({
      type: 'scatter',
      mode: 'lines',
      line: { shape: 'hv', color: '#aaa', width: 1.5 },
      name:
        `tried: ${m.run}: ${describeArchitecture(m.hyperparameters)}, dropout ${m.hyperparameters.dropoutInput}/` +
        `${m.hyperparameters.dropoutHidden}, ${m.epochsRun}${m.incomplete ? ` of ${m.epochsPlanned}` : ''} epochs`,
      x,
      y,
    });
  }
  const paperLine = (row: (typeof PAPER_BNN_ROWS)[number], dash: string) => ({
    type: 'scatter',
    mode: 'lines',
    name: `${row.method}: ${pct(row.mnist)} after 1000 epochs`,
    line: { dash, color: '#555' },
    x: [0, longest],
    y: [100 * row.mnist!, 100 * row.mnist!],
  });
  data.push(...PAPER_BNN_ROWS.map((row, i) => paperLine(row, i ? 'dash' : 'dot')));
  const machines = [
    ...new Set([...shown, ...tried].map((r) => `${r.metrics.machine.cpu}, ${r.metrics.machine.cores} cores`)),
  ];
  return {
    data,
    layout: {
      title: {
        text:
          'MNIST: time to accuracy<br>test error of the best-validation model so far, against minutes of ' +
          'training and evaluation',
      },
      xaxis: { title: { text: 'minutes (wall clock)' } },
      yaxis: { title: { text: 'test error (%)' }, type: 'log' },
      legend: { orientation: 'h', y: -0.25 },
      margin: { b: 170 },
      annotations: [
        {
          text: `machines: ${machines.join('; ')}`,
          xref: 'paper',
          yref: 'paper',
          x: 0,
          y: 1.02,
          showarrow: false,
          font: { size: 10, color: '#666' },
        },
      ],
    },
  };
}

/** Every run under `resultsDir` with its history (runs without history.json are left out). */
export function collectRecordedRuns(resultsDir: string): RecordedRun[] {
  return collectRuns(resultsDir)
    .map((metrics) => ({ metrics, file: path.join(resultsDir, metrics.run, 'history.json') }))
    .filter(({ file }) => fs.existsSync(file))
    .map(({ metrics, file }) => ({ metrics, history: JSON.parse(fs.readFileSync(file, 'utf8')) as EpochRecord[] }));
}

/** Rewrites results/table.md and the error-rate figure from every run's metrics. */
export async function regenerateReport(
  resultsDir: string,
): Promise<{ table: string; figure: RenderedFigure; timeToAccuracy: RenderedFigure | null }> {
  const runs = collectRuns(resultsDir);
  const table = path.join(resultsDir, 'table.md');
  fs.writeFileSync(table, tableMarkdown(runs));
  const figure = await saveFigure(errorRatesFigure(runs), path.join(resultsDir, 'error-rates'), {
    width: 1000,
    height: 560,
  });
  const timeFigure = timeToAccuracyFigure(
    collectRecordedRuns(resultsDir),
    collectRecordedRuns(path.join(resultsDir, 'search')),
  );
  const timeToAccuracy =
    timeFigure &&
    (await saveFigure(timeFigure, path.join(resultsDir, 'time-to-accuracy'), { width: 1000, height: 640 }));
  return { table, figure, timeToAccuracy };
}
