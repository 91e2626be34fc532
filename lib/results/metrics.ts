/**
 * A run's record: metrics.json (preset, hyperparameters, errors, times, machine) and history.json (every
 * epoch) under results/<run>/, written atomically and read back, older files included.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataSource } from '../data/dataset';
import { writeFileAtomic } from '../io/atomicWrite';
import type { Hyperparameters } from '../presets';
import type { EpochRecord } from '../train/history';
import type { TrainResult } from '../train/trainer';
import type { MachineInfo } from './machine';

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

export const isSynthetic = (m: RunMetrics) => m.data === 'synthetic';

/** A run with its per-epoch history, as results/<run>/ holds them. */
export interface RecordedRun {
  metrics: RunMetrics;
  history: EpochRecord[];
}

/** Every run under `resultsDir` with its history (runs without history.json are left out). */
export function collectRecordedRuns(resultsDir: string): RecordedRun[] {
  return collectRuns(resultsDir)
    .map((metrics) => ({ metrics, file: path.join(resultsDir, metrics.run, 'history.json') }))
    .filter(({ file }) => fs.existsSync(file))
    .map(({ metrics, file }) => ({ metrics, history: JSON.parse(fs.readFileSync(file, 'utf8')) as EpochRecord[] }));
}
