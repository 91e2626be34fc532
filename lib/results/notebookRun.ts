/**
 * The steps the experiment notebooks (04–06) share, each one call so that a notebook shows what it
 * runs without repeating code: the hyperparameters beside a reference, where the run is recorded,
 * and recording it like every run (metrics, history, learning curves, the regenerated table).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { preset, type Hyperparameters } from '../presets';
import { resultsDirFor, SCRATCH_RESULTS, whyNotCommitted } from './destination';
import type { Figure } from '../plots/figure';
import { buildMetrics, runName, writeRunFiles, type RunMetrics } from './metrics';
import { learningCurvesFigure } from './figures';
import { regenerateReport } from './report';
import type { DataSource } from '../data/dataset';

/** `hp` and `reference` (the paper's), one hyperparameter a line. */
export function hyperparameterTable(hp: Hyperparameters, reference: Hyperparameters, referenceLabel = 'paper'): string {
  const row = (k: string, a: string, b: string) => `${k.padEnd(15)} ${a.padEnd(30)} ${b}`;
  const keys = Object.keys(hp) as (keyof Hyperparameters)[];
  const rows = keys.map((k) => row(k, JSON.stringify(hp[k]), JSON.stringify(reference[k])));
  return [row('hyperparameter', 'this run', referenceLabel), ...rows].join('\n');
}

/**
 * `<dataset>-<preset>[-synthetic][-custom]`, and its folder (lib/results/destination.ts): `results/` only for a
 * named preset on the full, real data, unedited; anything else goes to `runs/results/` (git-ignored), so that
 * trying something in a notebook never changes the repository. `root` is the repository root as seen from the
 * notebook. `recordRun` moves a run that stopped early to `runs/results/` too.
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
  const hp = preset(o.dataset, o.preset);
  return { run, resultsDir: resultsDirFor({ ...o, hp: hp }, root) };
}

export interface RecordedRun {
  metrics: RunMetrics;
  /** `<resultsDir>/<run>/`, where the metrics and history were written. */
  dir: string;
  /** Where the run was recorded and, when not in results/, why: one sentence for the notebook to print. */
  note: string;
  /** The learning curves, to show (and save) with lib/notebook's `showFigure(curves, dir + '/learning-curves')`. */
  curves: Figure;
  /** The regenerated results table of the folder the run was recorded in, as Markdown. */
  table: string;
}

/**
 * Writes the run's metrics and history under `<resultsDir>/<run>/` and regenerates that folder's table. A run
 * that stopped before its last epoch is recorded under `runs/results/` beside `resultsDir`'s root instead.
 */
export async function recordRun(
  args: Parameters<typeof buildMetrics>[0] & { resultsDir: string },
): Promise<RecordedRun> {
  const metrics = buildMetrics(args);
  const why = whyNotCommitted({ ...args, hp: args.hp, complete: !metrics.incomplete });
  const root = path.dirname(args.resultsDir);
  const resultsDir =
    why !== null && path.basename(args.resultsDir) === 'results' && !isScratch(args.resultsDir)
      ? path.join(root, SCRATCH_RESULTS)
      : args.resultsDir;
  const dir = path.join(resultsDir, args.run);
  writeRunFiles(dir, metrics, args.result.history);
  const report = await regenerateReport(resultsDir);
  const curves = learningCurvesFigure(metrics, args.result.history);
  const note = `recorded in ${dir}/${why === null ? '' : ` (not in results/: ${why})`}`;
  return { metrics, dir, note, curves, table: fs.readFileSync(report.table, 'utf8') };
}

function isScratch(dir: string): boolean {
  return path.normalize(dir).split(path.sep).slice(-2).join('/') === 'runs/results';
}
