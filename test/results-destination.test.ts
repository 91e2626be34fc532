/**
 * results/ takes only a named preset on the full data, unedited and run to the end; an edited run, a subset,
 * --stop-after or the smoke preset is recorded under runs/results/ and leaves results/ untouched.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resultsDirFor, whyNotCommitted } from '../lib/results/destination';
import { notebookRun, recordRun } from '../lib/results/notebookRun';
import { preset } from '../lib/presets';
import type { TrainResult } from '../lib/train/trainer';

const repo = path.resolve(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-destination-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Every file under `dir` with the hash of its bytes. */
function snapshot(dir: string): Record<string, string> {
  if (!fs.existsSync(dir)) return {};
  const files = fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  return Object.fromEntries(
    files.map((e) => {
      const file = path.join(e.parentPath, e.name);
      return [path.relative(dir, file), createHash('sha1').update(fs.readFileSync(file)).digest('hex')];
    }),
  );
}

/** A committed results/ folder with one run and its table, as in the repository. */
function committedResults(root: string): string {
  const results = path.join(root, 'results');
  fs.mkdirSync(path.join(results, 'mnist-quick'), { recursive: true });
  fs.copyFileSync(path.join(repo, 'results/mnist-quick/metrics.json'), path.join(results, 'mnist-quick/metrics.json'));
  fs.writeFileSync(path.join(results, 'table.md'), '# committed table\n');
  return results;
}

describe('where a run is recorded', () => {
  it('results/ for a named preset on the full data run to the end; runs/results/ for anything else', () => {
    const quick = preset('mnist', 'quick');
    expect(whyNotCommitted({ preset: 'quick', overrides: {}, hp: quick, complete: true })).toBeNull();
    expect(whyNotCommitted({ preset: 'quick', overrides: { epochs: 1 }, hp: quick })).toBe(
      'edited hyperparameters (epochs)',
    );
    expect(whyNotCommitted({ preset: 'smoke', overrides: {} })).toBe('the smoke preset');
    expect(whyNotCommitted({ preset: 'quick', overrides: {}, hp: { ...quick, trainLimit: 100 } })).toBe(
      'a subset of the data',
    );
    expect(whyNotCommitted({ preset: 'quick', overrides: {}, complete: false })).toBe('stopped before its last epoch');
    expect(whyNotCommitted({ preset: 'quick', overrides: {}, data: 'synthetic' })).toMatch(/synthetic/);
    expect(resultsDirFor({ preset: 'quick', overrides: {} }, '..')).toBe(path.join('..', 'results'));
    expect(resultsDirFor({ preset: 'quick', overrides: { seed: 2 } }, '..')).toBe(path.join('..', 'runs', 'results'));
    expect(notebookRun({ dataset: 'mnist', preset: 'quick', overrides: { epochs: 1 }, data: 'real' })).toEqual({
      run: 'mnist-quick-custom',
      resultsDir: path.join('..', 'runs', 'results'),
    });
  });

  it("a notebook's run that stopped early goes to runs/results/ although the notebook named results/", async () => {
    const root = path.join(tmp, 'notebook');
    const results = committedResults(root);
    const before = snapshot(results);
    const hp = preset('mnist', 'quick');
    const history = [{ epoch: 1, trainError: 0.2, validError: 0.1, testError: 0.1, seconds: 1, lr: 0.003, loss: 1 }];
    const result = { epochsRun: 1, bestEpoch: 1, bestValidError: 0.1, testError: 0.1, wallSeconds: 1, history };
    const recorded = await recordRun({
      run: 'mnist-quick',
      resultsDir: results,
      preset: 'quick',
      overrides: {},
      hp: hp,
      backend: 'cpu',
      result: result as unknown as TrainResult,
      machine: { cpu: 'test', cores: 1, memoryGiB: 1, node: process.version, platform: 'linux' } as never,
      counts: { train: 1, valid: 1, test: 1 },
      command: 'test',
    });
    expect(recorded.dir).toBe(path.join(root, 'runs', 'results', 'mnist-quick'));
    expect(recorded.note).toMatch(/not in results\/: stopped before its last epoch/);
    expect(fs.existsSync(path.join(recorded.dir, 'metrics.json'))).toBe(true);
    expect(snapshot(results)).toEqual(before);
  });

  it('an edited run from the CLI leaves results/ untouched and records itself under runs/results/', () => {
    const root = path.join(tmp, 'cli');
    const results = committedResults(root);
    const before = snapshot(results);
    const tsx = path.join(repo, 'node_modules', 'tsx', 'dist', 'loader.mjs');
    const flags = ['--preset', 'quick', '--epochs', '1', '--hidden-units', '32', '--train-limit', '300'];
    flags.push('--valid-limit', '100', '--test-limit', '100', '--no-figures');
    const r = spawnSync(process.execPath, ['--import', tsx, path.join(repo, 'cli/train.ts'), ...flags], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/recording under runs\/results\/, not results\/: edited hyperparameters \(epochs,/);
    expect(snapshot(results)).toEqual(before);
    const written = path.join(root, 'runs/results/mnist-quick-custom/metrics.json');
    const metrics = JSON.parse(fs.readFileSync(written, 'utf8'));
    expect(metrics.overrides.epochs).toBe(1);
  });
});
