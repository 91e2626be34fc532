/**
 * What the notebooks and the ConvNet CLI do beside training, on webgpu, where nothing may read synchronously
 * (tfjs-webgpu's dataSync needs OffscreenCanvas, absent in Node): notebook 02's step by hand (latent weights
 * before and after a trainStep, the per-layer diagnostics), 03's export to the binary engine, 06's (and the
 * CLI's) filter-repetition count, 01's printTensor. On cpu too, always; on webgpu where an adapter exists
 * (lavapipe on CI: .ci/run), in a child process as test/webgpu-backend.test.ts does.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { FilterRepetition } from '../lib/analysis/filterRepetition';
import type { LayerDiagnostics } from '../lib/train/diagnostics';
import { registerWebgpuBackend } from '../lib/tfjs/webgpu';

/** Why webgpu cannot run here ('' when it can): a missing package or no Vulkan adapter. */
const unavailable = await (async () => {
  try {
    return (await registerWebgpuBackend(true)) ?? '';
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
})();

interface NotebookPaths {
  backend: string;
  loss: number;
  changed: number[];
  sizes: number[];
  diagnostics: LayerDiagnostics[];
  tfjsClasses: number[];
  engineClasses: number[];
  repetition: FilterRepetition[];
  printed: string[];
}

/** lavapipe compiles every shader on first use, on the CPU. */
const SLOW = 600_000;

async function inWorker(backend: string): Promise<NotebookPaths> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'test/helpers/webgpuNotebookWorker.ts', backend],
    { maxBuffer: 1 << 24, timeout: SLOW },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as NotebookPaths;
}

function check(r: NotebookPaths, backend: string): void {
  expect(r.backend).toBe(backend);
  expect(Number.isFinite(r.loss)).toBe(true);
  // Adam moves (almost) every latent weight on its first step; the reads before and after saw it.
  r.changed.forEach((n, i) => expect(n, `layer ${i}`).toBeGreaterThan(0.9 * r.sizes[i]));
  expect(r.diagnostics.map((d) => d.layer)).toEqual(['dense_1', 'dense_2', 'dense_3']);
  for (const d of r.diagnostics) {
    expect(d.flipRatio).toBeGreaterThan(0);
    expect(d.flipRatio).toBeLessThan(0.5);
    expect(d.meanAbs).toBeGreaterThan(0);
  }
  // The engine's sums are exact; a float tie at a threshold may part the two on an image (none on cpu here).
  const differ = r.engineClasses.filter((c, i) => c !== r.tfjsClasses[i]).length;
  expect(r.engineClasses.length).toBe(64);
  expect(differ).toBeLessThanOrEqual(backend === 'cpu' ? 0 : 2);
  expect(r.repetition.map((l) => [l.layer, l.kernelShape])).toEqual([
    ['conv_1', [3, 3, 1, 8]],
    ['conv_2', [3, 3, 8, 16]],
  ]);
  for (const l of r.repetition) expect(l.uniqueFraction).toBeGreaterThan(0.5);
  expect(r.printed).toEqual(['Tensor\n     [[1, -1],]']);
}

describe("the notebooks' reads beside training", () => {
  it('on cpu', async () => check(await inWorker('cpu'), 'cpu'), SLOW);

  it.skipIf(unavailable !== '')(
    `on webgpu${unavailable ? ` (unavailable: ${unavailable})` : ''}`,
    async () => check(await inWorker('webgpu'), 'webgpu'),
    SLOW,
  );
});
