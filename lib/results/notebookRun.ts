/**
 * The steps the experiment notebooks (04–06) share, each one call so that a notebook shows what it
 * runs without repeating code: the hyperparameters beside a reference, where the run is recorded,
 * and recording it like every run (metrics, history, learning curves, the regenerated table).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Hyperparameters } from '../presets';
import type { Figure } from '../plots/figure';
import {
  buildMetrics,
  learningCurvesFigure,
  regenerateReport,
  runName,
  writeRunFiles,
  type DataSource,
  type RunMetrics,
} from './report';

/** `hp` and `reference` (the paper's), one hyperparameter a line. */
export function hyperparameterTable(hp: Hyperparameters, reference: Hyperparameters, referenceLabel = 'paper'): string {
  const row = (k: string, a: string, b: string) => `${k.padEnd(15)} ${a.padEnd(30)} ${b}`;
  const keys = Object.keys(hp) as (keyof Hyperparameters)[];
  const rows = keys.map((k) => row(k, JSON.stringify(hp[k]), JSON.stringify(reference[k])));
  return [row('hyperparameter', 'this run', referenceLabel), ...rows].join('\n');
}

/**
 * `<dataset>-<preset>[-synthetic][-custom]`, and its folder: `results/` holds only full runs on real
 * data; smoke runs and runs on synthetic stand-ins go to `runs/notebook-results/` (git-ignored).
 * `root` is the repository root as seen from the notebook.
 */
export function notebookRun(o: {
  dataset: string;
  preset: string;
  overrides: Partial<Hyperparameters>;
  data: DataSource;
  root?: string;
}): { run: string; resultsDir: string } {
  const root = o.root ?? '..';
  const run = runName(o.dataset, o.preset, o.overrides, o.data);
  const apart = o.preset === 'smoke' || o.data === 'synthetic';
  return { run, resultsDir: apart ? path.join(root, 'runs', 'notebook-results') : path.join(root, 'results') };
}

export interface RecordedRun {
  metrics: RunMetrics;
  /** `<resultsDir>/<run>/`, where the metrics and history were written. */
  dir: string;
  /** The learning curves, to show (and save) with lib/notebook's `showFigure(curves, dir + '/learning-curves')`. */
  curves: Figure;
  /** The regenerated results table of `resultsDir`, as Markdown. */
  table: string;
}

/** Writes the run's metrics and history under `<resultsDir>/<run>/` and regenerates that folder's table. */
export async function recordRun(
  args: Parameters<typeof buildMetrics>[0] & { resultsDir: string },
): Promise<RecordedRun> {
  const metrics = buildMetrics(args);
  const dir = path.join(args.resultsDir, args.run);
  writeRunFiles(dir, metrics, args.result.history);
  const report = await regenerateReport(args.resultsDir);
  const curves = learningCurvesFigure(metrics, args.result.history);
  return { metrics, dir, curves, table: fs.readFileSync(report.table, 'utf8') };
}
