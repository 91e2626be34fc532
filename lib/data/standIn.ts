/**
 * CIFAR-10 or SVHN for the notebooks: the real files when they are there (or can be downloaded),
 * otherwise a small synthetic stand-in written in the data set's genuine file format (fixtures.ts),
 * read by the same loader, so that every later step still runs. The result says which it is, and
 * runs record it (RunMetrics.data), so that a stand-in's error is never shown as the data set's.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SplitDataset } from './dataset';
import { loadCifar10 } from './cifar10';
import { loadSvhn } from './svhn';
import { OfflineError } from './download';
import { writeCifar10Fixture, writeSvhnFixture } from './fixtures';
import type { DataSource } from './dataset';

export interface LoadedData {
  data: SplitDataset;
  source: DataSource;
}

export interface StandInOptions {
  /** Where the real files are, or go when downloaded (data/<dataset>/). */
  dir: string;
  /** false: use the real files only when already there (CI, smoke runs). */
  download: boolean;
  /** SVHN: train on train + extra. */
  includeExtra?: boolean;
  log?: (line: string) => void;
}

// Stand-in sizes: 1,200 training and 400 test images, a random template per class plus noise.
const TRAIN_COUNT = 1200;
const TEST_COUNT = 400;

export async function loadOrStandIn(dataset: 'cifar10' | 'svhn', o: StandInOptions): Promise<LoadedData> {
  const log = o.log ?? ((line: string) => console.log(line));
  const download = o.download ? undefined : false;
  try {
    const data =
      dataset === 'cifar10'
        ? await loadCifar10({ dir: o.dir, download, log })
        : await loadSvhn({ dir: o.dir, download, includeExtra: o.includeExtra, log });
    return { data, source: 'real' };
  } catch (err) {
    const message = (err as Error).message;
    if (!(err instanceof OfflineError) && !/no CIFAR-10 data|no SVHN data|ENOENT/.test(message)) throw err;
    log(message);
    log(`\n→ continuing on a synthetic stand-in in ${dataset}'s file format (its error means nothing about the paper)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${dataset}-stand-in-`));
  if (dataset === 'cifar10') {
    writeCifar10Fixture(dir, { perBatch: TRAIN_COUNT / 5, testCount: TEST_COUNT });
    return { data: await loadCifar10({ dir, download: false, validCount: 200 }), source: 'synthetic' };
  }
  writeSvhnFixture(dir, { trainCount: TRAIN_COUNT, testCount: TEST_COUNT });
  const data = await loadSvhn({ dir, includeExtra: false, validPerClassTrain: 20, download: false });
  return { data, source: 'synthetic' };
}
