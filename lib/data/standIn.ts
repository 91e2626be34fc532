/**
 * A data set for the notebooks (CIFAR-10 and SVHN have stand-ins): the real files when they are there (or can
 * be downloaded), otherwise a small synthetic stand-in written in the data set's genuine file format (fixtures.ts),
 * read by the same loader, so that every later step still runs. The result says which it is, and
 * runs record it (RunMetrics.data), so that a stand-in's error is never shown as the data set's.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DataSource, SplitDataset } from './dataset';
import { OfflineError } from './download';
import { getDataset } from './registry';

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

/**
 * The data set's real files, or, where they cannot be had, its registered stand-in (lib/data/registry.ts):
 * synthetic images in the data set's own file format, read back by the same loader.
 */
export async function loadOrStandIn(dataset: string, o: StandInOptions): Promise<LoadedData> {
  const log = o.log ?? ((line: string) => console.log(line));
  const entry = getDataset(dataset);
  try {
    const data = await entry.load({ dir: o.dir, log, includeExtra: o.includeExtra, download: o.download });
    return { data, source: 'real' };
  } catch (err) {
    const message = (err as Error).message;
    const missing = err instanceof OfflineError || /no CIFAR-10 data|no SVHN data|ENOENT/.test(message);
    if (!entry.standIn || !missing) throw err;
    log(message);
    log(`\n→ continuing on a synthetic stand-in in ${dataset}'s file format (its error means nothing about the paper)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${dataset}-stand-in-`));
  return { data: await entry.standIn(dir), source: 'synthetic' };
}
