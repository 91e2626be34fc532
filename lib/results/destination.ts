/**
 * Which runs the committed results/ takes: only a named preset (not `smoke`) on the full, real data set,
 * unedited and run to the end. Anything else (edited hyperparameters, a subset, `--stop-after`, the smoke
 * preset, a synthetic stand-in) is recorded under runs/results/ (git-ignored) with its table and figures,
 * so that trying something never changes the repository. Refreshing committed results stays explicit:
 * `npm start` / `npm run train` with a named preset, `notebooks/run.sh --inplace`, `npm run report`.
 */
import * as path from 'node:path';
import type { Hyperparameters } from '../presets';
import type { DataSource } from '../data/dataset';

/** Where the runs that results/ does not take are recorded, relative to the repository root. */
export const SCRATCH_RESULTS = path.join('runs', 'results');

export interface RunDescription {
  preset: string;
  /** Hyperparameters that differ from the preset. */
  overrides: object;
  data?: DataSource;
  /** The resolved hyperparameters: a preset of its own may limit the data (smoke does). */
  hp?: Pick<Hyperparameters, 'trainLimit' | 'validLimit' | 'testLimit'>;
  /** False for a run stopped before its planned epochs; undefined before it has run. */
  complete?: boolean;
}

/** Why the run stays out of results/ (a phrase), or null when results/ takes it. */
export function whyNotCommitted(r: RunDescription): string | null {
  const edited = Object.keys(r.overrides);
  if (r.data === 'synthetic') return 'trained on a synthetic stand-in';
  if (r.preset === 'smoke') return 'the smoke preset';
  if (edited.length) return `edited hyperparameters (${edited.join(', ')})`;
  if (r.hp && (r.hp.trainLimit || r.hp.validLimit || r.hp.testLimit)) return 'a subset of the data';
  if (r.complete === false) return 'stopped before its last epoch';
  return null;
}

/** `<root>/results` when results/ takes the run, else `<root>/runs/results`. */
export function resultsDirFor(r: RunDescription, root = '.'): string {
  return path.join(root, whyNotCommitted(r) === null ? 'results' : SCRATCH_RESULTS);
}
