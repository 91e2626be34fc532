/**
 * The synthetic CIFAR-10 / SVHN writers (used by notebooks 04–05 under the smoke preset): the real
 * loaders read what they write, and scipy (an independent reader) agrees on the MAT file.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { loadCifar10 } from '../lib/data/cifar10';
import { classCounts } from '../lib/data/dataset';
import { writeCifar10Fixture, writeSvhnFixture, writeSvhnMat } from '../lib/data/fixtures';
import { loadSvhn, readSvhnMat } from '../lib/data/svhn';
import { PYTHON, scipyMissing } from './helpers/scipy';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-fixtures-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('CIFAR-10 fixture: five training batches and a test batch the loader splits 45:5-style', async () => {
  writeCifar10Fixture(tmp, { perBatch: 40, testCount: 30 });
  const data = await loadCifar10({ dir: tmp, download: false, validCount: 20 });
  expect([data.train.count, data.valid.count, data.test.count]).toEqual([180, 20, 30]);
  expect(classCounts(data.test)).toEqual([3, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
  expect(data.train.images.some((p) => p > 200) && data.train.images.some((p) => p < 50)).toBe(true);
});

it('SVHN fixture: MAT level-5 files the loader reads, labels 1..10 with 10 for the digit 0', async () => {
  const dir = path.join(tmp, 'svhn');
  writeSvhnFixture(dir, { trainCount: 100, testCount: 20 });
  const raw = readSvhnMat(path.join(dir, 'train_32x32.mat'));
  expect(raw.count).toBe(100);
  expect(Array.from(raw.labels.subarray(0, 11))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]);
  const data = await loadSvhn({ dir, includeExtra: false, validPerClassTrain: 2, download: false });
  expect([data.train.count, data.valid.count, data.test.count]).toEqual([80, 20, 20]);
});

it.skipIf(scipyMissing !== '')(
  `scipy reads the MAT file the same way${scipyMissing && ` (skipped: ${scipyMissing})`}`,
  () => {
    const file = path.join(tmp, 'one.mat');
    writeSvhnMat(file, 3, 5, 1);
    const script =
      'import sys; from scipy.io import loadmat; m = loadmat(sys.argv[1]); print(m["X"].shape, ' +
      'm["X"].dtype, int(m["X"][1, 2, 0, 2]), m["y"].ravel().tolist())';
    const r = spawnSync(PYTHON, ['-c', script, file], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const raw = readSvhnMat(file);
    // X(r=1, c=2, ch=0, n=2) column-major.
    const expected = raw.pixels[1 + 32 * 2 + 0 + 3072 * 2];
    expect(r.stdout.trim()).toBe(`(32, 32, 3, 3) uint8 ${expected} [10.0, 1.0, 2.0]`);
  },
);
