import { describe, expect, it } from 'vitest';
import { preset, validateHyperparameters } from '../lib/presets';
import type { DataSource } from '../lib/data/dataset';
import { errorRatesFigure, tableMarkdown, type RunMetrics } from '../lib/results/report';
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
