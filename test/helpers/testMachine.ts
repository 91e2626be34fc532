import type { MachineInfo } from '../../lib/results/machine';

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
