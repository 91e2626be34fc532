/**
 * How sure a test error is. One run on 10,000 test images is a sample: its binomial standard error is
 * √(p(1−p)/n) (0.11 points at 1.3 %). Runs of one recipe with different seeds (`--seeds N`) differ by
 * more than that, as initialisation and batch order change too: a series reports mean ± standard
 * deviation over its seeds, with n.
 */

/** What the grouping needs of a run's metrics (`RunMetrics` in ./report has these fields). */
export interface SeededRun {
  run: string;
  series?: string;
  /** Test error at the best-validation epoch, as a fraction, measured on `testCount` images. */
  testError: number;
  testCount: number;
}

export interface SeedSpread {
  /** Number of runs (seeds). */
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator); NaN for a single run. */
  std: number;
}

export function seedSpread(values: number[]): SeedSpread {
  if (values.length === 0) throw new Error('seedSpread: no values');
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : NaN;
  return { n, mean, std };
}

/** Standard error of an error rate `p` measured on `n` independent examples: √(p(1−p)/n). */
export function binomialStandardError(p: number, n: number): number {
  if (!(n > 0) || !(p >= 0 && p <= 1))
    throw new Error(`binomialStandardError: need 0 ≤ p ≤ 1 and n > 0, got ${p}, ${n}`);
  return Math.sqrt((p * (1 - p)) / n);
}

/** The run name of seed `seed` in a series started at `firstSeed`: the first keeps the plain name. */
export function seedRunName(series: string, seed: number, firstSeed: number): string {
  return seed === firstSeed ? series : `${series}-seed${seed}`;
}

/**
 * Runs grouped by series (`metrics.series`, else each run alone), in the order of first appearance.
 * A series of seeds is one recipe measured several times: the table gives it one row.
 */
export function groupBySeries<R extends SeededRun>(runs: R[]): R[][] {
  const groups = new Map<string, R[]>();
  for (const m of runs) {
    const key = m.series ?? m.run;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  return [...groups.values()];
}

/** Mean ± std of a series' test errors (the spread of a single run is its binomial standard error). */
export function seriesTestError(runs: SeededRun[]): SeedSpread & { standardError: number } {
  const spread = seedSpread(runs.map((m) => m.testError));
  const single = runs.length === 1 && runs[0].testCount > 0;
  const standardError = single
    ? binomialStandardError(runs[0].testError, runs[0].testCount)
    : spread.std / Math.sqrt(spread.n);
  return { ...spread, standardError };
}
