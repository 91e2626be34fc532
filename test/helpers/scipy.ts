/** Debian's python3 with scipy: an independent writer and reader of MAT files for the loader tests. */
import { spawnSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

/** Empty when scipy imports; otherwise the reason, for the name of the skipped test. */
export const scipyMissing =
  spawnSync(PYTHON, ['-c', 'import scipy.io'], { stdio: 'ignore' }).status === 0
    ? ''
    : `${PYTHON} cannot import scipy.io (apt-get install python3-scipy)`;
