/**
 * The native kernels give the same bits whatever the thread count: a few seeded training steps of a
 * binary MLP and ConvNet, and the fused BatchNorm kernels on inputs whose sums round differently in
 * another order, each in a child process with BNN_THREADS = 1, 2 and 3 (the pool size is fixed per
 * process). A reduction split by thread count made two runs of the same training drift apart.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadNativeAddon } from '../lib/kernels/native';

const { addon, why } = loadNativeAddon();

async function hashesWithThreads(threads: number): Promise<Record<string, string>> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'test/helpers/determinismWorker.ts'],
    { env: { ...process.env, BNN_THREADS: String(threads) }, encoding: 'utf8' },
  );
  return JSON.parse(stdout) as Record<string, string>;
}

describe.skipIf(!addon)(`native kernels and thread count${addon ? '' : ` (unavailable: ${why})`}`, () => {
  it('1, 2 and 3 threads train and normalize to the same bits', { timeout: 60_000 }, async () => {
    const [one, ...others] = await Promise.all([1, 2, 3].map(hashesWithThreads));
    expect(Object.keys(one)).toEqual(['batchNorm', 'mlp', 'convnet']);
    for (const other of others) expect(other).toEqual(one);
  });
});
