/**
 * Adding a data set, and choosing a quantizer of one's own, as the README tells a newcomer: everything
 * the new data set needs is in this file (its images, its shape, its presets), and from then on the
 * trainer takes its name like MNIST's.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { makeImageSet, slice, type SplitDataset } from '../lib/data/dataset';
import { datasetNames, getDataset } from '../lib/data/registry';
import { resolveHyperparameters, runExperiment } from '../lib/experiment';
import { isQuantizedLayer } from '../lib/layers';
import { preset, registerDataset } from '../lib/presets';
import { registerQuantizer, steGradient } from '../lib/quantizers';
import { seededRandom } from '../lib/random';

/** 8×8 noisy images whose upper (class 0) or lower (class 1) half is the brighter. */
function halves(count: number, seed: number) {
  const random = seededRandom(seed);
  const images = new Uint8Array(count * 64);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    labels[n] = random() < 0.5 ? 0 : 1;
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 8; x++) {
        const bright = y < 4 === (labels[n] === 0);
        images[n * 64 + y * 8 + x] = Math.floor((bright ? 110 : 0) + random() * 145);
      }
  }
  return makeImageSet(images, labels, { height: 8, width: 8, channels: 1 }, 2);
}

function loadHalves(): SplitDataset {
  const all = halves(1200, 7);
  return { name: 'halves', train: slice(all, 0, 800), valid: slice(all, 800, 1000), test: slice(all, 1000, 1200) };
}

const small = { ...preset('mnist', 'smoke'), hiddenUnits: [32], trainLimit: 0, validLimit: 0, testLimit: 0 };

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-dataset-registry-'));
beforeAll(async () => {
  await initBackend();
  registerDataset({
    name: 'halves',
    shape: { height: 8, width: 8, channels: 1, numClasses: 2 },
    load: loadHalves,
    presets: { smoke: { ...small, epochs: 3 }, quick: { ...small, epochs: 10 } },
  });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const quiet = {
  runsDir: path.join(tmp, 'runs'),
  resultsDir: path.join(tmp, 'results'),
  figures: false,
  progress: 'none' as const,
  log: () => {},
};

describe('a data set of your own', () => {
  it('is registered with its shape and presets, and refused twice or without the required presets', () => {
    expect(datasetNames()).toEqual(['mnist', 'fashion-mnist', 'cifar10', 'svhn', 'halves']);
    expect(getDataset('halves').shape.numClasses).toBe(2);
    expect(preset('halves', 'smoke')).toMatchObject({ dataset: 'halves', epochs: 3 });
    expect(() => preset('halves', 'paper')).toThrow("preset 'paper' is not defined for halves (use quick, smoke)");
    const entry = { name: 'halves', shape: { height: 8, width: 8, channels: 1, numClasses: 2 }, load: loadHalves };
    expect(() => registerDataset({ ...entry, presets: { smoke: small, quick: small } })).toThrow('already registered');
    expect(() => registerDataset({ ...entry, name: 'dots', presets: { smoke: small } })).toThrow(
      "dataset 'dots': a 'quick' preset is required",
    );
    expect(() => getDataset('halve')).toThrow("unknown dataset 'halve' (did you mean 'halves'?)");
  });

  it('trains end to end by its name alone', async () => {
    const { metrics } = await runExperiment({ dataset: 'halves', preset: 'smoke', run: 'halves', ...quiet });
    expect(metrics).toMatchObject({ dataset: 'halves', epochsRun: 3, testCount: 200 });
    // Two classes a linear rule separates: a trained network is far from chance (50 %).
    expect(metrics!.testError).toBeLessThan(0.1);
  }, 60_000);
});

describe('a quantizer of your own as the binarization', () => {
  it('is accepted by name, and the trained layers use it', async () => {
    registerQuantizer({
      name: 'signMagnitudeHalf',
      precision: 1,
      packable: false,
      // ±0.5 instead of ±1: a different forward, the same straight-through gradient.
      forward: (x) => tf.tidy(() => tf.where(tf.greaterEqual(x, 0), 0.5, -0.5)),
      gradient: steGradient,
    });
    const overrides = { binarization: 'signMagnitudeHalf' };
    expect(resolveHyperparameters('halves', 'smoke', overrides).binarization).toBe('signMagnitudeHalf');
    expect(() => resolveHyperparameters('halves', 'smoke', { binarization: 'nope' })).toThrow(
      "binarization must be one of 'deterministic', 'stochastic', 'steSign'",
    );
    const { model, metrics } = await runExperiment({
      dataset: 'halves',
      preset: 'smoke',
      overrides,
      run: 'halves-half',
      ...quiet,
    });
    const quantizers = model.layers.filter(isQuantizedLayer).map((l) => l.kernelQuantizer.name);
    expect(new Set(quantizers)).toEqual(new Set(['signMagnitudeHalf']));
    expect(metrics!.testError).toBeLessThan(0.2);
  }, 60_000);
});
