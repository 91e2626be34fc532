import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { helpText, kebab, parseArgs, trainFlags } from '../cli/args';
import { resolveHyperparameters } from '../lib/experiment';
import { preset } from '../lib/presets';

const template = preset('mnist', 'paper');

describe('CLI arguments', () => {
  it('turns kebab-case flags into typed hyperparameter overrides', () => {
    const argv = ['--dataset', 'fashion-mnist', '--preset', 'paper', '--epochs', '50', '--hidden-units', '512,256'];
    argv.push('--glorot-lr-scale', 'false', '--batch-norm=shift', '--resume', '--lr-start', '1e-3', '--h', '2');
    expect(parseArgs(argv, template)).toEqual({
      dataset: 'fashion-mnist',
      preset: 'paper',
      overrides: { epochs: 50, hiddenUnits: [512, 256], glorotLrScale: false, batchNorm: 'shift', lrStart: 0.001, H: 2 },
      flags: { resume: true },
    });
  });

  it('names the clip bound H --h (kebab-case of a one-letter name), not ---h', () => {
    expect(kebab('H')).toBe('h');
    expect(kebab('lrStart')).toBe('lr-start');
    expect(parseArgs(['--h=0.5'], template).overrides).toEqual({ H: 0.5 });
    expect(() => parseArgs(['---h', '2'], template)).toThrow(/Unknown option '---h'/);
  });

  it.each([
    [['--epochs', 'ten'], /--epochs must be a decimal number, got 'ten'/],
    [['--hidden-units', '512,x'], /--hidden-units must be a comma-separated list of decimal numbers, got '512,x'/],
    [['--hidden-units', '0x200'], /--hidden-units must be a comma-separated list of decimal numbers/],
    [['--glorot-lr-scale', 'yes'], /--glorot-lr-scale must be true or false/],
    [['--learning-rate', '1'], /Unknown option '--learning-rate'; flags: .*--lr-start/],
    [['--epochs'], /Option '--epochs <value>' argument missing/],
    [['stray'], /Unexpected argument 'stray'/],
    // issue 8, point 3: a switch given a value must not switch on (it resumed).
    [['--resume=false'], /Option '--resume' does not take an argument/],
    // ... numbers are plain decimals (0x10 was 16) ...
    [['--lr-start', '0x10'], /--lr-start must be a decimal number, got '0x10'/],
    [['--epochs', 'Infinity'], /--epochs must be a decimal number/],
    [['--seed', ' 5'], /--seed must be a decimal number/],
    // ... and a flag without its value does not swallow the next flag.
    [['--epochs', '--resume'], /Option '--epochs' argument is ambiguous/],
    [['--run', '--no-figures'], /Option '--run' argument is ambiguous/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseArgs(argv as string[], template)).toThrow(message as RegExp);
  });

  it('--help is generated from the flag table: every accepted flag is listed, --results-dir and --runs-dir too', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/train.ts', '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const listed = [...r.stdout.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]);
    expect(listed).toContain('results-dir');
    expect(listed).toContain('runs-dir');
    expect(listed).toContain('h');
    expect(listed.sort()).toEqual(Object.keys(trainFlags(template)).sort());
    expect(r.stdout).toBe(helpText(template) + '\n');
    // Every listed flag is accepted (a value-taking one with a value).
    for (const [name, spec] of Object.entries(trainFlags(template))) {
      const value = name === 'dataset' ? 'mnist' : name === 'preset' ? 'quick' : spec.value?.includes('true') ? 'true' : '1';
      expect(() => parseArgs(spec.value ? [`--${name}`, value] : [`--${name}`], template), name).not.toThrow();
    }
  });

  it.each([
    ['mnist', 'paper', { hiddenUnits: [0] }, /hiddenUnits\[0\] must be a positive integer, got 0/],
    ['mnist', 'paper', { lrStart: -0.1 }, /lrStart must be a positive number, got -0.1/],
    ['mnist', 'paper', { dropoutHidden: 1 }, /dropoutHidden must be in \[0, 1\)/],
    ['mnist', 'paper', { batchSize: 2.5 }, /batchSize must be a positive integer/],
    ['mnist', 'paper', { optimizer: 'sgd' }, /optimizer must be one of adam, shift_adamax/],
    ['imagenet', 'paper', {}, /unknown dataset 'imagenet' \(use mnist, fashion-mnist, cifar10, svhn\)/],
    ['mnist', 'fast', {}, /unknown preset 'fast' \(use paper, quick, smoke/],
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
