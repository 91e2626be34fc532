import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from '../cli/args';
import { resolveHyperparameters } from '../lib/experiment';
import { preset } from '../lib/presets';

const template = preset('mnist', 'paper');
const extra = { resume: false, 'stop-after': true };

describe('CLI arguments', () => {
  it('turns kebab-case flags into typed hyperparameter overrides', () => {
    const a = parseArgs(['--dataset', 'fashion-mnist', '--preset', 'paper', '--epochs', '50', '--hidden-units', '512,256', '--glorot-lr-scale', 'false', '--batch-norm=shift', '--resume'], template, extra);
    expect(a).toEqual({
      dataset: 'fashion-mnist',
      preset: 'paper',
      overrides: { epochs: 50, hiddenUnits: [512, 256], glorotLrScale: false, batchNorm: 'shift' },
      flags: { resume: true },
    });
  });

  it.each([
    [['--epochs', 'ten'], /--epochs must be a number, got 'ten'/],
    [['--hidden-units', '512,x'], /--hidden-units must be a comma-separated list of numbers/],
    [['--glorot-lr-scale', 'yes'], /--glorot-lr-scale must be true or false/],
    [['--learning-rate', '1'], /unknown flag --learning-rate/],
    [['--epochs'], /--epochs needs a value/],
    [['stray'], /unexpected argument 'stray'/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseArgs(argv as string[], template, extra)).toThrow(message as RegExp);
  });

  it.each([
    ['mnist', 'paper', { hiddenUnits: [0] }, /hiddenUnits\[0\] must be a positive integer, got 0/],
    ['mnist', 'paper', { lrStart: -0.1 }, /lrStart must be a positive number, got -0.1/],
    ['mnist', 'paper', { dropoutHidden: 1 }, /dropoutHidden must be in \[0, 1\)/],
    ['mnist', 'paper', { batchSize: 2.5 }, /batchSize must be a positive integer/],
    ['mnist', 'paper', { optimizer: 'sgd' }, /optimizer must be one of adam, shift_adamax/],
    ['imagenet', 'paper', {}, /unknown dataset 'imagenet' \(use mnist, fashion-mnist, cifar10, svhn\)/],
    ['mnist', 'fast', {}, /unknown preset 'fast' \(use paper, quick, smoke\)/],
  ])('rejects impossible values: %s %s %j', (dataset, name, overrides, message) => {
    expect(() => resolveHyperparameters(dataset, name, overrides as never)).toThrow(message);
  });

  it('the paper preset is exactly the paper', () => {
    expect(preset('mnist', 'paper')).toMatchObject({
      hiddenUnits: [4096, 4096, 4096],
      dropoutInput: 0.2,
      dropoutHidden: 0.5,
      batchSize: 100,
      epochs: 1000,
      lrStart: 0.003,
      lrEnd: 3e-7,
      optimizer: 'adam',
      glorotLrScale: true,
      batchNorm: 'standard',
      binarization: 'deterministic',
      H: 1,
      trainLimit: 0,
    });
  });

  it('npm run train exits with a clear error before any work on an impossible value', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-cli-'));
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/train.ts', '--hidden-units', '0', '--results-dir', out], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error: invalid hyperparameters: hiddenUnits\[0\] must be a positive integer, got 0/);
    expect(r.stdout).not.toMatch(/tfjs backend/);
    expect(fs.readdirSync(out)).toEqual([]);
  });
});
