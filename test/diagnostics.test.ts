import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { BinaryDense } from '../lib/layers';
import { BinaryWeightMonitor, type LayerDiagnostics } from '../lib/train/diagnostics';
import { type RunMetrics } from '../lib/results/metrics';
import { diagnosticsFigure } from '../lib/results/figures';

beforeAll(async () => {
  await initBackend();
});

/** A one-layer model whose 8 latent weights (H = 0.5) we set by hand. */
function model(weights: number[]) {
  const layer = new BinaryDense({ units: 4, H: 0.5, inputShape: [2], name: 'binary' });
  const real = [
    new BinaryDense({ units: 2, kernelQuantizer: null, name: 'real' }),
    new BinaryDense({ units: 1, kernelQuantizer: 'identity', name: 'identity' }),
  ];
  const m = tf.sequential({ layers: [layer, ...real] });
  layer.latentKernel.write(tf.tensor2d(weights, [2, 4]));
  return { m, layer };
}

describe('BinaryWeightMonitor', () => {
  it('flip ratio since the last snapshot, fraction at ±H, mean |W|; real (null, identity) kernels out', async () => {
    const { m, layer } = model([0.1, -0.2, 0.5, -0.5, 0, 0.3, -0.05, 0.4]);
    const monitor = await BinaryWeightMonitor.create(m);
    // Signs before: + − + − + + − + (sign(0) = +1). After: 3 change (0.1→−0.1, −0.2→0.2, 0→−0.01).
    layer.latentKernel.write(tf.tensor2d([-0.1, 0.2, 0.5, -0.5, -0.01, 0.3, -0.05, 0.49999], [2, 4]));
    const [d] = await monitor.epochEnd();
    expect((await monitor.epochEnd()).length).toBe(1);
    expect(d.layer).toBe('binary');
    expect(d.flipRatio).toBe(3 / 8);
    expect(d.atClip).toBe(2 / 8); // 0.49999 is a weight near the clip, not at it
    expect(d.meanAbs).toBeCloseTo((0.1 + 0.2 + 0.5 + 0.5 + 0.01 + 0.3 + 0.05 + 0.49999) / 8, 6);
  });

  it('re-snapshots at each epoch end: no change, no flips', async () => {
    const { m, layer } = model([0.1, -0.2, 0.5, -0.5, 0, 0.3, -0.05, 0.4]);
    const monitor = await BinaryWeightMonitor.create(m);
    layer.latentKernel.write(tf.neg(layer.latentKernel.read()));
    expect((await monitor.epochEnd())[0].flipRatio).toBe(7 / 8); // 0 → −0 keeps sign +1
    expect((await monitor.epochEnd())[0].flipRatio).toBe(0);
  });
});

describe('diagnosticsFigure', () => {
  const metrics = { dataset: 'mnist', preset: 'smoke' } as RunMetrics;
  const diag = (layer: string, flipRatio: number): LayerDiagnostics => ({
    layer,
    flipRatio,
    atClip: 0.25,
    meanAbs: 0.4,
  });

  it('draws three panels with one line per layer, zero flips left off the log axis', () => {
    const history = [
      { epoch: 1, layers: [diag('dense_1', 0.1), diag('dense_2', 0.2)] },
      { epoch: 2, layers: [diag('dense_1', 0), diag('dense_2', 0.05)] },
    ];
    const fig = diagnosticsFigure(metrics, history)!;
    expect(fig.data).toHaveLength(3 * 2);
    const traces = fig.data as {
      name: string;
      xaxis: string;
      yaxis: string;
      x: number[];
      y: (number | null)[];
      showlegend: boolean;
    }[];
    expect(traces.map((t) => `${t.name}@${t.yaxis}`)).toEqual([
      'dense_1@y',
      'dense_2@y',
      'dense_1@y2',
      'dense_2@y2',
      'dense_1@y3',
      'dense_2@y3',
    ]);
    expect(traces[0]).toMatchObject({ x: [1, 2], y: [0.1, null], showlegend: true });
    expect(traces[2]).toMatchObject({ y: [25, 25], showlegend: false });
    expect(traces[4].y).toEqual([0.4, 0.4]);
    expect((fig.layout.yaxis as { type?: string }).type).toBe('log');
    expect((fig.layout.yaxis2 as { type?: string }).type).toBeUndefined();
  });

  it('is null for a history without diagnostics (runs recorded before they existed)', () => {
    expect(diagnosticsFigure(metrics, [{ epoch: 1 }, { epoch: 2 }])).toBeNull();
  });
});
