import { describe, expect, it } from 'vitest';
import {
  batchPlan,
  inferenceFigure,
  inferenceMarkdown,
  speedups,
  type InferenceResults,
  type InferenceRow,
} from '../bench/inferenceBench';
import type { MachineDescription } from '../bench/xnorBench';

const row = (implementation: InferenceRow['implementation'], threads: number, msPerBatch: number): InferenceRow => ({
  network: 'mnist-mlp-3x4096',
  images: 100,
  threads,
  implementation,
  detail: implementation,
  msPerBatch,
  msPerImage: msPerBatch / 100,
  runsMs: [msPerBatch],
  agree: implementation === 'engine-native' ? null : 100,
  compared: implementation === 'engine-native' ? null : 100,
});

const results: InferenceResults = {
  date: '2026-12-07T00:00:00.000Z',
  smoke: false,
  command: 'npm run bench:infer',
  machine: {
    cpu: 'AMD EPYC',
    cores: 2,
    cpuFlags: ['avx2'],
    memoryGiB: 24,
    platform: 'Linux',
    node: 'v20',
  } as MachineDescription,
  loadAverageStart: [1, 1, 1],
  loadAverageEnd: [1, 1, 1],
  wallSeconds: 10,
  networks: [],
  rows: [
    row('engine-native', 1, 10),
    row('engine-wasm', 1, 40),
    row('onnxruntime', 1, 80),
    row('pytorch', 1, 60),
    row('tfjs-wasm', 1, 900),
    row('engine-native', 2, 6),
    row('onnxruntime', 2, 42),
  ],
  skipped: [{ network: 'mnist-mlp-3x4096', implementation: 'tfjs-wasm', threads: 2, reason: 'one thread only' }],
  profiles: (['engine-native-layers', 'engine-native'] as const).map((implementation, i) => ({
    network: 'mnist-mlp-3x4096',
    implementation,
    threads: 1,
    images: 100,
    layers: [
      { name: 'dense0', kind: '8-bit' as const, macsPerImage: 784 * 4096 * 8, msPerBatch: 5 - 3 * i },
      { name: 'dense1', kind: 'binary' as const, macsPerImage: 4096 * 4096, msPerBatch: 4 - 2 * i },
    ],
  })),
  peaks: { roofline: 2000, gemm4096: [{ threads: 1, gMacs: 1000 }] },
  disagreements: [],
};

describe('bench:infer report', () => {
  it('speed-up vs the best float runtime of each row, the fastest engine tier against the fastest float peer', () => {
    const s = speedups(results);
    expect(s.map((x) => [x.threads, x.engine?.implementation, x.float?.implementation])).toEqual([
      [1, 'engine-native', 'pytorch'],
      [2, 'engine-native', 'onnxruntime'],
    ]);
    const md = inferenceMarkdown(results);
    expect(md).toContain('| mnist-mlp-3x4096 | 100 | 1 | 10.0 | 40.0 | 80.0 | 60.0 | 900 | **6.0×** | 90× | pytorch |');
    expect(md).toContain('| mnist-mlp-3x4096 | 100 | 2 | 6.00 | — | 42.0 | — | — | **7.0×** | — | onnxruntime |');
    expect(md).toContain('tfjs-wasm at 2 thr: one thread only');
    expect(inferenceFigure(results).data).toHaveLength(2);
  });

  it('profiles each layer before and after, with its rate and share of the kernel peaks measured in the run', () => {
    const md = inferenceMarkdown(results);
    // 100 images × 16.8 M MACs in 2 ms: 839 G/s, 84 % of the 4096³ GEMM, 42 % of the roofline.
    expect(md).toContain('| mnist-mlp-3x4096 | 1 | dense1 | binary | 16.8 | 4.00 | 2.00 | 839 | 84 % | 42 % |');
    // An 8-bit first layer has no binary peak to compare with.
    expect(md).toContain('| mnist-mlp-3x4096 | 1 | dense0 | 8-bit | 25.7 | 5.00 | 2.00 | 1285 |  |  |');
  });

  it('times a single image more often than a large batch; --runs overrides the repeats', () => {
    expect(batchPlan(1)).toEqual({ images: 1, warmup: 5, runs: 30 });
    expect(batchPlan(10_000)).toEqual({ images: 10_000, warmup: 1, runs: 3 });
    expect(batchPlan(100, 1).runs).toBe(1);
  });
});
