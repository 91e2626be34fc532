/**
 * Error bars: a series of seeds (`--seeds N`, `runSeeds`) is recorded run by run and reported as
 * mean ± std; a single run with its binomial standard error; time to accuracy from the histories.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { runSeeds } from '../lib/experiment';
import { preset } from '../lib/presets';
import { type RunMetrics } from '../lib/results/metrics';
import { tableMarkdown } from '../lib/results/table';
import { timeToAccuracyFigure } from '../lib/results/figures';
import { binomialStandardError, groupBySeries, seedRunName, seedSpread } from '../lib/results/seeds';
import type { EpochRecord } from '../lib/train/history';
import { testMetrics } from './helpers/testMetrics';

function metrics(run: string, testError: number, seed: number, series?: string): RunMetrics {
  const hp = { ...preset('mnist', 'quick'), seed };
  const counts = { train: 50000, valid: 10000, test: 10000 };
  return testMetrics({ run, preset: 'quick', hp, testError, counts, wallSeconds: 900, backend: 'native', series });
}

describe('seed statistics', () => {
  it('gives mean and sample standard deviation (n − 1)', () => {
    const s = seedSpread([0.012, 0.013, 0.014]);
    expect(s.n).toBe(3);
    expect(s.mean).toBeCloseTo(0.013, 12);
    expect(s.std).toBeCloseTo(0.001, 12);
    expect(seedSpread([0.02]).std).toBeNaN();
    expect(() => seedSpread([])).toThrow('no values');
  });

  it('gives the binomial standard error of an error rate on n examples', () => {
    expect(binomialStandardError(0.013, 10000)).toBeCloseTo(Math.sqrt(0.013 * 0.987) / 100, 12);
    expect(binomialStandardError(0, 10000)).toBe(0);
    expect(() => binomialStandardError(0.5, 0)).toThrow('n > 0');
    expect(() => binomialStandardError(1.5, 10)).toThrow('0 ≤ p ≤ 1');
  });

  it("names the first seed's run plainly and the others by their seed", () => {
    expect(seedRunName('mnist-quick', 1, 1)).toBe('mnist-quick');
    expect(seedRunName('mnist-quick', 3, 1)).toBe('mnist-quick-seed3');
  });
});

describe('the results table with error bars', () => {
  const series = [
    metrics('mnist-quick', 0.013, 1, 'mnist-quick'),
    metrics('mnist-quick-seed2', 0.0122, 2, 'mnist-quick'),
    metrics('mnist-quick-seed3', 0.0126, 3, 'mnist-quick'),
  ];
  const single = metrics('mnist-other', 0.0123, 1);

  it('groups a series into one row, mean ± std with n, and lists each seed in the runs table', () => {
    expect(groupBySeries([...series, single]).map((g) => g.length)).toEqual([3, 1]);
    const md = tableMarkdown([...series, single]);
    const top = md.split('\n## ')[0];
    const rows = top.split('\n').filter((l) => l.startsWith('| this project'));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain('seeds 1, 2, 3');
    // No-break spaces around ±: a wrapping table cell keeps the error and its spread together.
    expect(rows[0]).toContain('**1.26\u00a0±\u00a00.04 %** (n = 3)');
    // 1.23 % on 10,000 images: ± √(0.0123 · 0.9877 / 10⁴) = 0.11 points.
    expect(rows[1]).toContain('**1.23 %**\u00a0±\u00a00.11');
    expect(md).toContain('| [mnist-quick-seed3](mnist-quick-seed3/metrics.json) | mnist | quick | 3 |');
  });
});

describe('time to accuracy', () => {
  const record = (epoch: number, validError: number, testError: number, seconds: number, elapsed?: number) =>
    ({
      epoch,
      lr: 0,
      trainLoss: 0,
      trainError: 0,
      validError,
      testError,
      seconds,
      elapsedSeconds: elapsed,
    }) as EpochRecord;

  it("plots the best-validation model's test error against minutes, and the paper's MNIST figures", () => {
    const m = metrics('mnist-quick', 0.02, 1);
    const history = [record(1, 0.05, 0.06, 60, 60), record(2, 0.03, 0.04, 60, 130), record(3, 0.04, 0.01, 60, 200)];
    const legacy = { ...metrics('mnist-paper', 0.07, 1), preset: 'paper' };
    const figure = timeToAccuracyFigure([
      { metrics: m, history },
      { metrics: legacy, history: [record(1, 0.07, 0.077, 120), record(2, 0.06, 0.065, 120)] },
    ])!;
    const traces = figure.data as { name: string; x: number[]; y: number[] }[];
    // Epoch 3's lower test error is not the reported model's: its validation error is worse than epoch 2's.
    expect(traces[0].y.map((v) => +v.toFixed(6))).toEqual([6, 4, 4]);
    expect(traces[0].x).toEqual([1, 130 / 60, 200 / 60]);
    // Without elapsedSeconds (older runs), the epochs' own times add up.
    expect(traces[1].x).toEqual([2, 4]);
    const paper = traces.filter((t) => t.name.includes('(paper)'));
    expect(paper.map((t) => +t.y[0].toFixed(6))).toEqual([1.4, 0.96]);
    expect(timeToAccuracyFigure([{ metrics: { ...m, preset: 'smoke' }, history }])).toBeNull();
  });

  it("draws a search's tried runs beside the presets' runs, named as tried, whatever their preset", () => {
    const m = metrics('mnist-quick', 0.02, 1);
    const tried = { ...metrics('mnist-wide', 0.03, 1), preset: 'smoke' };
    const history = [record(1, 0.05, 0.06, 60, 60), record(2, 0.03, 0.04, 60, 130)];
    const figure = timeToAccuracyFigure([{ metrics: m, history }], [{ metrics: tried, history }])!;
    const traces = figure.data as { name: string; y: number[] }[];
    const triedTrace = traces.find((t) => t.name.startsWith('tried: mnist-wide'))!;
    expect(triedTrace.y.map((v) => +v.toFixed(6))).toEqual([6, 4]);
    expect(traces.filter((t) => !t.name.includes('(paper)'))).toHaveLength(2);
  });
});

describe('runSeeds', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-seeds-'));
  beforeAll(async () => {
    await initBackend();
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const options = {
    dataset: 'mnist',
    preset: 'quick',
    overrides: { hiddenUnits: [32], epochs: 2, dropoutInput: 0, trainLimit: 300, validLimit: 100, testLimit: 100 },
    run: 'tiny',
    runsDir: path.join(tmp, 'runs'),
    resultsDir: path.join(tmp, 'results'),
    figures: false,
    progress: 'none' as const,
    log: () => {},
  };
  const recorded = (run: string) =>
    JSON.parse(fs.readFileSync(path.join(tmp, 'results', run, 'metrics.json'), 'utf8')) as RunMetrics;

  it('trains a run per seed as one series; a resume continues the seeds that have a checkpoint', async () => {
    const first = await runSeeds(options, 2);
    expect(first.runs.map((r) => r.runDir)).toEqual(['tiny', 'tiny-seed2'].map((r) => path.join(tmp, 'runs', r)));
    const [a, b] = ['tiny', 'tiny-seed2'].map(recorded);
    expect([a.hyperparameters.seed, b.hyperparameters.seed]).toEqual([1, 2]);
    expect([a.series, b.series]).toEqual(['tiny', 'tiny']);
    // The seed is not an override: a series of a named preset stays that preset's run.
    expect(Object.keys(b.overrides)).not.toContain('seed');
    expect(first.spread).toMatchObject({ n: 2, mean: (a.testError + b.testError) / 2 });

    // Without --resume, a folder that holds a run is refused, as for a single run.
    await expect(runSeeds(options, 3)).rejects.toThrow(/holds a run|--resume|--overwrite/);
    const log: string[] = [];
    const again = await runSeeds({ ...options, resume: true, log: (l) => log.push(l) }, 3);
    expect(again.runs.map((r) => r.result.epochsRun)).toEqual([2, 2, 2]);
    expect(recorded('tiny-seed3').hyperparameters.seed).toBe(3);
    // The finished seeds are only recorded again: their errors, and when and where they were made, are unchanged.
    expect(recorded('tiny').testError).toBe(a.testError);
    expect(recorded('tiny')).toMatchObject({ date: a.date, machine: a.machine, series: 'tiny' });
    expect(log.filter((l) => l.startsWith('resumed from')).length).toBe(2);
    expect(log.at(-1)).toMatch(/^series tiny: test error \d+\.\d\d ± \d+\.\d\d % over 3 seed\(s\)/);
  }, 120_000);

  it('refuses an impossible number of seeds before any work', async () => {
    await expect(runSeeds(options, 0)).rejects.toThrow('positive integer, got 0');
    await expect(runSeeds(options, 1.5)).rejects.toThrow('positive integer, got 1.5');
  });
});
