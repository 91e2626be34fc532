/**
 * Shift-based BatchNorm (lib/layers/shiftBatchNorm.ts) value by value against a plain transcription
 * of the paper's Algorithm 3 on a small batch: training output, moving averages, inference output.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { ShiftBatchNormalization } from '../lib/layers';
import { seededRandom } from '../lib/random';
import { ap2Scalar as AP2 } from '../lib/shift';

const ROWS = 6,
  CHANNELS = 4,
  EPSILON = 1e-4,
  MOMENTUM = 0.9;

afterAll(async () => {
  await initBackend('cpu');
});

/** Algorithm 3 for one channel's values `x` (x ⋘⋙ y multiplies x by AP2(y), a shift). */
function algorithm3(x: number[], gamma: number, beta: number): { y: number[]; mean: number; variance: number } {
  const m = x.length;
  // μ_B ← 1/m Σ x_i
  const mean = x.reduce((a, b) => a + b, 0) / m;
  // C(x_i) ← x_i − μ_B
  const C = x.map((xi) => xi - mean);
  // σ²_B ← 1/m Σ C(x_i) ⋘⋙ AP2(C(x_i))
  const variance = C.reduce((s, c) => s + c * AP2(c), 0) / m;
  // x̂_i ← C(x_i) ⋘⋙ AP2((√(σ²_B + ε))^−1)
  const xHat = C.map((c) => c * AP2(1 / Math.sqrt(variance + EPSILON)));
  // y_i ← AP2(γ) ⋘⋙ x̂_i, plus β: the line is titled "scale and shift" and the Theano code adds β.
  return { y: xHat.map((h) => AP2(gamma) * h + beta), mean, variance };
}

describe.each(['cpu', 'wasm'])('shift-based BatchNorm on %s', (backend) => {
  it("equals the paper's Algorithm 3 written out: training output, moving averages, inference output", async () => {
    await initBackend(backend);
    const random = seededRandom(8);
    // Channels of different scales, so that AP2 of C and of 1/σ take several powers of two.
    const x = Array.from(
      { length: ROWS * CHANNELS },
      (_, i) => (random() * 2 - 1) * 3 ** (i % CHANNELS) + (i % CHANNELS),
    );
    const gamma = [0.7, -1.3, 3.1, 0.2];
    const beta = [0.1, -0.4, 0, 2];
    const layer = new ShiftBatchNormalization({ epsilon: EPSILON, momentum: MOMENTUM });
    const input = tf.tensor2d(x, [ROWS, CHANNELS]);
    layer.apply(input); // builds the weights
    layer.setWeights([tf.tensor1d(gamma), tf.tensor1d(beta), tf.zeros([CHANNELS]), tf.ones([CHANNELS])]);

    const trained = (layer.apply(input, { training: true }) as tf.Tensor).dataSync();
    const [, , movingMean, movingVariance] = layer.getWeights().map((w) => w.dataSync());
    const inference = (layer.apply(input) as tf.Tensor).dataSync();

    for (let c = 0; c < CHANNELS; c++) {
      const column = Array.from({ length: ROWS }, (_, r) => x[r * CHANNELS + c]);
      const { y, mean, variance } = algorithm3(column, gamma[c], beta[c]);
      const expectedMean = MOMENTUM * 0 + (1 - MOMENTUM) * mean;
      const expectedVariance = MOMENTUM * 1 + (1 - MOMENTUM) * variance;
      expect(movingMean[c], `moving mean ${c}`).toBeCloseTo(expectedMean, 5);
      expect(movingVariance[c], `moving variance ${c}`).toBeCloseTo(expectedVariance, 4);
      // Inference: the same transform with the moving statistics in place of the batch's.
      const invStd = AP2(1 / Math.sqrt(expectedVariance + EPSILON));
      for (let r = 0; r < ROWS; r++) {
        expect(trained[r * CHANNELS + c], `training y[${r}, ${c}]`).toBeCloseTo(y[r], 4);
        const yInference = AP2(gamma[c]) * (column[r] - expectedMean) * invStd + beta[c];
        expect(inference[r * CHANNELS + c], `inference y[${r}, ${c}]`).toBeCloseTo(yInference, 4);
      }
    }
  });
});
