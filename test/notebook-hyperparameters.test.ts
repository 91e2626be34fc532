import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { datasetNames } from '../lib/data/registry';
import { HYPERPARAMETER_KEYS, preset, PRESET_NAMES, validateHyperparameters } from '../lib/presets';
import { resolveHyperparameters } from '../lib/experiment';

/** The literal `const hyperparameters: Hyperparameters = { … }` of notebook 02, line by line. */
function hyperparameterCell(): { key: string; value: unknown; paper: unknown }[] {
  const file = path.join(__dirname, '..', 'notebooks', '02-mnist-mlp.ipynb');
  const cells = JSON.parse(fs.readFileSync(file, 'utf8')).cells as { source: string[] }[];
  const source = cells
    .map((c) => c.source.join(''))
    .find((s) => s.includes('const hyperparameters: Hyperparameters = {'));
  if (!source) throw new Error(`${file}: no hyperparameter cell`);
  const body = source.slice(source.indexOf('{') + 1, source.indexOf('\n};'));
  // The cell's literals are JSON but for single quotes.
  const literal = (text: string) => JSON.parse(text.trim().replace(/'/g, '"'));
  return body
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const m = /^\s*(\w+): (.+),\s+\/\/ paper: (.+?)(?: — .*)?$/.exec(line);
      if (!m) throw new Error(`hyperparameter cell: cannot read '${line}'`);
      return { key: m[1], value: literal(m[2]), paper: literal(m[3]) };
    });
}

describe('notebook 02: the hyperparameter cell', () => {
  const cell = hyperparameterCell();

  it('lists every hyperparameter, once, in the order of lib/presets.ts', () => {
    expect(cell.map((l) => l.key)).toEqual(HYPERPARAMETER_KEYS);
  });

  it("comments give exactly the paper preset's values", () => {
    const paper = preset('mnist', 'paper');
    for (const { key, paper: commented } of cell)
      expect([key, commented]).toEqual([key, paper[key as keyof typeof paper]]);
  });

  it('values are the quick preset, which the committed outputs ran', () => {
    const quick = preset('mnist', 'quick');
    for (const { key, value } of cell) expect([key, value]).toEqual([key, quick[key as keyof typeof quick]]);
  });
});

describe('misspelt hyperparameter keys', () => {
  it('are rejected naming the closest valid key', () => {
    expect(() => resolveHyperparameters('mnist', 'smoke', { lrstart: 0.01 } as object)).toThrow(
      /unknown hyperparameter 'lrstart' \(did you mean 'lrStart'\?\)/,
    );
    expect(() => validateHyperparameters({ ...preset('mnist', 'smoke'), hiddenUnit: [8] } as never)).toThrow(
      /'hiddenUnit' \(did you mean 'hiddenUnits'\?\)/,
    );
  });

  it('never trip a preset: every preset has exactly the known keys', () => {
    const presets = datasetNames().flatMap((d) => PRESET_NAMES.map((p) => [d, p]));
    // Not every preset exists for every data set ('compare' is MNIST's only).
    const defined = presets.filter(([d, p]) => {
      try {
        return preset(d, p) !== undefined;
      } catch {
        return false;
      }
    });
    expect(defined.length).toBeGreaterThanOrEqual(12);
    for (const [d, p] of defined)
      expect(Object.keys(validateHyperparameters(preset(d, p)))).toEqual(HYPERPARAMETER_KEYS);
  });

  it('get no suggestion when nothing is close, and the list of valid keys', () => {
    expect(() => resolveHyperparameters('mnist', 'smoke', { zzzzzzzzzz: 1 } as object)).toThrow(
      /unknown hyperparameter 'zzzzzzzzzz'; valid: dataset, arch, /,
    );
  });
});
