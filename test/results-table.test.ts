import { describe, expect, it } from 'vitest';
import { preset, validateHyperparameters } from '../lib/presets';
import type { DataSource } from '../lib/data/dataset';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { collectRuns, readRunMetrics, type RunMetrics } from '../lib/results/metrics';
import { tableMarkdown } from '../lib/results/table';
import { errorRatesFigure } from '../lib/results/figures';
import { testMetrics } from './helpers/testMetrics';

function run(name: string, dataset: string, testError: number, data?: DataSource): RunMetrics {
  const counts = { train: 2000, valid: 500, test: 1000 };
  return testMetrics({
    run: name,
    preset: 'smoke',
    hp: preset(dataset, 'smoke'),
    testError,
    counts,
    wallSeconds: 10,
    data,
  });
}

/** The lines of the table's first section: the paper's figures and the runs set beside them. */
const paperSection = (md: string) => md.split('\n## ')[0];

describe('results table', () => {
  const runs = [
    run('mnist-smoke', 'mnist', 0.206),
    run('cifar10-smoke-synthetic', 'cifar10', 0.01, 'synthetic'),
    run('svhn-smoke-synthetic', 'svhn', 0.005, 'synthetic'),
  ];

  it('records whether a run trained on real or synthetic data (real unless told)', () => {
    expect(runs.map((m) => m.data)).toEqual(['real', 'synthetic', 'synthetic']);
  });

  it("keeps synthetic runs out of the paper's columns and lists them apart, marked synthetic", () => {
    const md = tableMarkdown(runs);
    const top = paperSection(md);
    expect(top).toContain('**20.60 %**');
    expect(top).not.toContain('1.00 %');
    expect(top).not.toContain('0.50 %');
    const synthetic = md.split('\n## Runs on synthetic data\n')[1]?.split('\n## ')[0] ?? '';
    expect(synthetic).toContain('| cifar10 (synthetic) |');
    expect(synthetic).toContain('| svhn (synthetic) |');
    expect(synthetic).toContain('1.00 %');
    expect(synthetic).toContain('0.50 %');
    expect(synthetic).not.toContain('20.60 %');
    expect(md).toContain('| [svhn-smoke-synthetic](svhn-smoke-synthetic/metrics.json) | svhn (synthetic) |');
  });

  it('tells apart runs of one preset that differ in their overrides', () => {
    const shift = { ...run('mnist-smoke-shift', 'mnist', 0.25), overrides: { batchNorm: 'shift' as const } };
    expect(paperSection(tableMarkdown([shift]))).toContain('`smoke` preset with batchNorm "shift" (128×128 MLP)');
  });

  it('treats runs recorded before the field existed as real', () => {
    const legacy = { ...run('mnist-old', 'mnist', 0.0166) };
    delete legacy.data;
    expect(paperSection(tableMarkdown([legacy]))).toContain('**1.66 %**');
  });

  it('leaves synthetic runs out of the error-rate figure', () => {
    const names = (errorRatesFigure(runs).data as { name: string }[]).map((t) => t.name);
    expect(names).toContain('this project: mnist-smoke');
    expect(names.some((n) => n.includes('synthetic'))).toBe(false);
  });
});

describe('the compare preset', () => {
  it('is a valid MNIST preset and is refused for other data sets with the ones that exist', () => {
    expect(validateHyperparameters(preset('mnist', 'compare')).hiddenUnits).toEqual([512, 512, 512]);
    expect(() => preset('cifar10', 'compare')).toThrow(
      "preset 'compare' is not defined for cifar10 (use paper, quick, smoke)",
    );
  });
});

describe('metrics files', () => {
  it('reads files written before RunMetrics was camelCase under the names of now', () => {
    // The fields as `npm run train` wrote them until 2026-12-07 (results/mnist-quick/metrics.json then).
    const old = {
      run: 'mnist-quick',
      dataset: 'mnist',
      preset: 'quick',
      epochs_planned: 24,
      epochs_run: 24,
      best_epoch: 24,
      best_valid_error: 0.0121,
      test_error: 0.013,
      wall_seconds: 962.9,
      seconds_per_epoch: 40,
      train_count: 50000,
      valid_count: 10000,
      test_count: 10000,
      incomplete: false,
    };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-metrics-'));
    const file = path.join(dir, 'metrics.json');
    fs.writeFileSync(file, JSON.stringify(old, null, 2));
    expect(readRunMetrics(file)).toMatchObject({
      run: 'mnist-quick',
      epochsPlanned: 24,
      epochsRun: 24,
      bestEpoch: 24,
      bestValidError: 0.0121,
      testError: 0.013,
      wallSeconds: 962.9,
      secondsPerEpoch: 40,
      trainCount: 50000,
      validCount: 10000,
      testCount: 10000,
    });
    expect(Object.keys(readRunMetrics(file)).filter((k) => k.includes('_'))).toEqual([]);
    fs.rmSync(dir, { recursive: true });
  });

  it('reads every committed run with the fields the table needs', () => {
    for (const m of collectRuns('results')) {
      expect(m.testError, m.run).toBeTypeOf('number');
      expect(m.epochsRun, m.run).toBeTypeOf('number');
      expect(m.testCount, m.run).toBeGreaterThan(0);
    }
  });
});
