/**
 * The figures of runs: learning curves and BNN diagnostics per run, error rates against the paper's, time to
 * accuracy.
 */
import type { EpochRecord } from '../train/history';
import type { LayerDiagnostics } from '../train/diagnostics';
import type { Figure } from '../plots/figure';
import { isSynthetic, type RecordedRun, type RunMetrics } from './metrics';
import { PAPER_BNN_ROWS } from './paper';
import { groupBySeries, seriesTestError } from './seeds';
import { describeArchitecture, pct } from './table';

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
  const legendHeight = 90 + 25 * (data.length - PAPER_BNN_ROWS.length + 1);
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
      // The legend, one run a row (the paper's lines share one), at the figure's bottom: the figure grows by a row
      // for each run, so that the plot keeps its height.
      legend: { orientation: 'h', yref: 'container', y: 0, yanchor: 'bottom', tracegroupgap: 4 },
      margin: { b: legendHeight },
      height: 440 + legendHeight,
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
