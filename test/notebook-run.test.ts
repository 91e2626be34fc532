import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrStandIn } from '../lib/data/standIn';
import { writeCifar10Fixture } from '../lib/data/fixtures';
import { preset } from '../lib/presets';
import { hyperparameterTable, notebookRun } from '../lib/results/notebookRun';

/** A notebook's code cells, joined. */
function notebookCode(file: string): string {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: { cell_type: string; source: string[] }[] };
  return nb.cells
    .filter((c) => c.cell_type === 'code')
    .map((c) => c.source.join(''))
    .join('\n');
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-notebook-run-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('what the experiment notebooks share', () => {
  it('records full runs on real data in results/, smoke and synthetic runs in runs/results/, named as such', () => {
    expect(notebookRun({ dataset: 'cifar10', preset: 'quick', overrides: {}, data: 'real' })).toEqual({
      run: 'cifar10-quick',
      resultsDir: path.join('..', 'results'),
    });
    expect(notebookRun({ dataset: 'svhn', preset: 'smoke', overrides: {}, data: 'synthetic' })).toEqual({
      run: 'svhn-smoke-synthetic',
      resultsDir: path.join('..', 'runs', 'results'),
    });
    expect(
      notebookRun({ dataset: 'mnist', preset: 'quick', overrides: { epochs: 3 }, data: 'real', root: '.' }).run,
    ).toBe('mnist-quick-custom');
  });

  it('falls back to a synthetic stand-in where the real files are absent, and says so', async () => {
    const lines: string[] = [];
    const { data, source } = await loadOrStandIn('svhn', {
      dir: path.join(tmp, 'no-svhn'),
      download: false,
      log: (l) => lines.push(l),
    });
    expect(source).toBe('synthetic');
    expect(data.train.count + data.valid.count).toBe(1200);
    expect(lines.join('\n')).toMatch(/synthetic stand-in/);
  });

  it('uses the real files when they are there', async () => {
    // Enough images for the real split's 5,000 validation images.
    writeCifar10Fixture(path.join(tmp, 'cifar'), { perBatch: 1001, testCount: 30 });
    const { data, source } = await loadOrStandIn('cifar10', {
      dir: path.join(tmp, 'cifar'),
      download: false,
      log: () => {},
    });
    expect(source).toBe('real');
    expect(data.test.count).toBe(30);
  });

  it('record the backend as results name it (for webgpu, with its adapter), not the bare name', () => {
    const recording = fs
      .readdirSync('notebooks')
      .filter((f) => f.endsWith('.ipynb'))
      .map((f) => ({ f, code: notebookCode(path.join('notebooks', f)) }))
      .filter(({ code }) => code.includes('recordRun({'));
    expect(recording.length).toBeGreaterThanOrEqual(4);
    for (const { f, code } of recording) {
      expect(code, f).toMatch(/^const backend = backendLabel\(\);/m);
      expect(code, f).toMatch(/^\s*backend: backend,$/m);
    }
  });

  it('tables every hyperparameter beside the reference', () => {
    const table = hyperparameterTable(preset('mnist', 'compare'), preset('mnist', 'paper')).split('\n');
    expect(table[0]).toMatch(/^hyperparameter\s+this run\s+paper$/);
    expect(table.find((l) => l.startsWith('hiddenUnits'))).toMatch(/\[512,512,512\]\s+\[4096,4096,4096\]/);
    expect(table).toHaveLength(1 + Object.keys(preset('mnist', 'paper')).length);
  });
});
