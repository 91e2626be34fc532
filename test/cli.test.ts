import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { helpText, kebab, parseArgs, trainFlags } from '../cli/args';
import { SAME_PRESS_MS, watchSignals } from '../cli/signals';
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
      overrides: {
        epochs: 50,
        hiddenUnits: [512, 256],
        glorotLrScale: false,
        batchNorm: 'shift',
        lrStart: 0.001,
        H: 2,
      },
      flags: { resume: true, 'runs-dir': 'runs' },
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
    expect(listed.sort()).toEqual([...Object.keys(trainFlags(template)), 'help'].sort());
    expect(r.stdout).toBe(helpText(template) + '\n');
    // Every listed flag is accepted (a value-taking one with a value).
    for (const [name, spec] of Object.entries(trainFlags(template))) {
      const value =
        name === 'dataset' ? 'mnist' : name === 'preset' ? 'quick' : spec.value?.includes('true') ? 'true' : '1';
      expect(() => parseArgs(spec.value ? [`--${name}`, value] : [`--${name}`], template), name).not.toThrow();
    }
  });

  it.each([
    ['mnist', 'paper', { hiddenUnits: [0] }, /hiddenUnits\[0\] must be a positive integer, got 0/],
    ['mnist', 'paper', { lrStart: -0.1 }, /lrStart must be a positive number, got -0.1/],
    ['mnist', 'paper', { dropoutHidden: 1 }, /dropoutHidden must be in \[0, 1\)/],
    ['mnist', 'paper', { batchSize: 2.5 }, /batchSize must be a positive integer/],
    ['mnist', 'paper', { optimizer: 'sgd' }, /optimizer must be one of adam, shift_adamax/],
    ['imagenet', 'paper', {}, /unknown dataset 'imagenet'; use mnist, fashion-mnist, cifar10, svhn/],
    ['mnist', 'fast', {}, /unknown preset 'fast' \(use paper, paper-fast, quick, smoke/],
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
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'cli/train.ts', '--hidden-units', '0', '--results-dir', out],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error: invalid hyperparameters: hiddenUnits\[0\] must be a positive integer, got 0/);
    expect(r.stdout).not.toMatch(/tfjs backend/);
    expect(fs.readdirSync(out)).toEqual([]);
  });
});

describe('Ctrl-C presses (cli/signals.ts)', () => {
  const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  afterEach(() => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      for (const l of process.listeners(signal)) if (!before[signal].includes(l)) process.off(signal, l);
    }
  });

  const watch = () => {
    const clock = { t: 0 };
    const exits: number[] = [];
    const lines: string[] = [];
    const w = watchSignals(
      () => clock.t,
      (code) => exits.push(code),
      (line) => lines.push(line.trim()),
    );
    const press = (signal: NodeJS.Signals, atMs: number) => {
      clock.t = atMs;
      process.emit(signal, signal);
    };
    return { w, press, exits, lines };
  };

  it('the first asks for a checkpoint, a second says still saving, only a third quits (128 + the first signal)', () => {
    const { w, press, exits, lines } = watch();
    expect(w.stopRequested()).toBe(false);
    press('SIGTERM', 1000);
    expect([w.stopRequested(), w.signal(), exits]).toEqual([true, 'SIGTERM', []]);
    press('SIGINT', 2000);
    expect(lines[1]).toMatch(/still saving/);
    expect(exits).toEqual([]);
    press('SIGINT', 3000);
    expect(exits).toEqual([143]);
    expect(lines[2]).toMatch(/quitting without saving/);
  });

  it('copies of one Ctrl-C (terminal + npm, + the tsx relay) count once', () => {
    const { press, exits, lines } = watch();
    for (const t of [0, 1, 30, 60]) press('SIGINT', 5000 + t);
    expect(lines).toHaveLength(1);
    // The window starts at the counted press, not the last copy.
    press('SIGINT', 5000 + SAME_PRESS_MS + 1);
    press('SIGINT', 5000 + SAME_PRESS_MS + 2);
    expect(lines).toHaveLength(2);
    press('SIGINT', 5000 + 2 * SAME_PRESS_MS + 2);
    expect(exits).toEqual([130]);
  });
});
