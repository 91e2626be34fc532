import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  estimateHours,
  forwardMacs,
  trainBenchMarkdown,
  type TrainBenchResults,
  type TrainBenchRow,
} from '../bench/trainBench';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-bench-train-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('npm run bench:train --smoke', () => {
  it('writes well-formed rows for wasm, and reports an implementation that cannot run as skipped', () => {
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'cli/bench-train.ts',
        '--smoke',
        '--networks',
        'mlp-smoke',
        '--implementations',
        'wasm,pytorch',
        '--out',
        tmp,
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, BNN_PYTHON: path.join(tmp, 'no-such-python') },
      },
    );
    expect(run.status, run.stderr).toBe(0);
    const results = JSON.parse(fs.readFileSync(path.join(tmp, 'training.json'), 'utf8')) as TrainBenchResults;
    expect(results.smoke).toBe(true);
    expect(results.rows).toHaveLength(1);
    const row = results.rows[0];
    expect(row).toMatchObject({
      network: 'mnist-mlp-smoke',
      implementation: 'wasm',
      batchSize: 100,
      threads: 1,
      warmup: 1,
      steps: 2,
      detail: 'tfjs backend wasm',
    });
    expect(row.msPerStep).toBeGreaterThan(0);
    expect(row.stepsMs).toHaveLength(2);
    expect(results.skipped).toEqual([
      { network: 'mnist-mlp-smoke', implementation: 'pytorch', reason: expect.stringMatching(/ENOENT/) },
    ]);
    expect(results.machine.cpu.family).toBeTruthy();
    expect(results.loadAverageStart).toHaveLength(3);
    expect(results.loadAverageEnd).toHaveLength(3);
    const md = fs.readFileSync(path.join(tmp, 'training.md'), 'utf8');
    expect(md).toMatch(/\| mnist-mlp-smoke \| 100 \| — \| [\d.]+ \(1 thr\) \| skipped \|/);
    expect(md).toMatch(/mnist-mlp-smoke on pytorch: .*ENOENT/);
  });

  it('rejects unknown implementations and networks', () => {
    for (const [flag, value, message] of [
      ['--implementations', 'cuda', /unknown implementation\(s\) cuda/],
      ['--networks', 'resnet', /unknown network 'resnet'/],
    ] as const) {
      const run = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'cli/bench-train.ts', '--smoke', flag, value, '--out', tmp],
        { encoding: 'utf8' },
      );
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(message);
    }
  });
});

describe('paper-preset hours', () => {
  const row = (network: string, implementation: TrainBenchRow['implementation'], msPerStep: number): TrainBenchRow => ({
    network,
    implementation,
    msPerStep,
    batchSize: 0,
    threads: 1,
    warmup: 0,
    steps: 1,
    stepsMs: [msPerStep],
    detail: '',
  });

  it('are steps per epoch × epochs × ms/step; SVHN is scaled from CIFAR-10 by MACs when not measured', () => {
    const [mnist, cifar, svhn] = estimateHours([
      row('mnist-mlp-3x4096', 'wasm', 1000),
      row('cifar10-convnet-paper', 'wasm', 8000),
    ]);
    expect(mnist.stepsPerEpoch).toBe(500);
    expect(mnist.epochs).toBe(1000);
    expect(mnist.hours.wasm!.hours).toBeCloseTo((500 * 1000 * 1) / 3600, 6);
    expect(cifar.hours.wasm!.hours).toBeCloseTo((900 * 500 * 8) / 3600, 6);
    expect(svhn.stepsPerEpoch).toBe(Math.ceil(598_388 / 50));
    const ratio = forwardMacs('svhn-convnet-paper') / forwardMacs('cifar10-convnet-paper');
    expect(ratio).toBeGreaterThan(0.25);
    expect(ratio).toBeLessThan(0.3);
    expect(svhn.hours.wasm).toEqual({
      hours: expect.closeTo((11_968 * 200 * 8 * ratio) / 3600, 6),
      basis: 'scaled from CIFAR-10 by forward MACs',
    });
    expect(mnist.hours.pytorch).toBeUndefined();
  });

  it('appear in the Markdown with ratios of the measured rows', () => {
    const md = trainBenchMarkdown({
      date: '2026-01-01T00:00:00Z',
      smoke: false,
      wallSeconds: 1,
      loadAverageStart: [1, 1, 1],
      loadAverageEnd: [1, 1, 1],
      machine: {
        cpu: { modelName: 'CPU', family: '26', model: '2' },
        cores: 2,
        memoryGiB: 24,
        platform: 'Linux',
        node: 'v20',
      },
      rows: [row('mnist-mlp-3x4096', 'wasm', 1600), row('mnist-mlp-3x4096', 'pytorch', 3200)],
      skipped: [{ network: 'mnist-mlp-3x4096', implementation: 'native', reason: "unknown backend 'native'" }],
    });
    expect(md).toContain('| mnist-mlp-3x4096 | 0 | skipped | 1600 (1 thr) | 3200 (1 thr) | — | — | 0.50 |');
    expect(md).not.toContain('cifar10-convnet-paper | 50 | —');
    expect(md).toContain('| mnist-mlp-3x4096 | 500 | 1000 | — | 222 h (9.3 days) | 444 h (18.5 days) | ~6 h |');
  });
});
