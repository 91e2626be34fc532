import { buildMetrics, type RunMetrics } from '../../lib/results/metrics';
import type { DataSource } from '../../lib/data/dataset';
import type { MachineInfo } from '../../lib/results/machine';
import type { Hyperparameters } from '../../lib/presets';
import type { TrainResult } from '../../lib/train/trainer';

/** A machine description for metrics built in tests (the real one is read from the host). */
export const TEST_MACHINE: MachineInfo = {
  cpu: 'test cpu',
  cores: 2,
  memoryGiB: 8,
  platform: 'test',
  arch: 'x64',
  node: 'v20',
  hostname: 'h',
  loadAverage: [0, 0, 0],
};

/** A run's metrics as `buildMetrics` writes them, for a run that ended at its best epoch with `testError`. */
export function testMetrics(o: {
  run: string;
  preset: string;
  hp: Hyperparameters;
  testError: number;
  counts: { train: number; valid: number; test: number };
  wallSeconds: number;
  backend?: string;
  data?: DataSource;
  series?: string;
}): RunMetrics {
  const epochs = o.hp.epochs;
  const result = {
    epochsRun: epochs,
    bestEpoch: epochs,
    bestValidError: o.testError,
    testError: o.testError,
    wallSeconds: o.wallSeconds,
    history: [{ seconds: o.wallSeconds / epochs }],
  };
  return buildMetrics({
    run: o.run,
    preset: o.preset,
    overrides: {},
    hp: o.hp,
    backend: o.backend ?? 'cpu',
    result: result as unknown as TrainResult,
    counts: o.counts,
    machine: TEST_MACHINE,
    command: 'test',
    data: o.data,
    series: o.series,
  });
}
