import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { BinaryDense } from '../lib/layers';
import { buildMlp } from '../lib/models/mlp';
import { buildConvNet } from '../lib/models/convnet';
import { formatSummary, summarize, type LayerSummary } from '../lib/summary';

beforeAll(async () => {
  await initBackend();
});

const byName = (rows: LayerSummary[], name: string) => rows.find((r) => r.name === name)!;
const totals = (rows: LayerSummary[]) => ({
  binaryBinary: rows.reduce((t, r) => t + r.macs.binaryBinary, 0),
  binaryFloat: rows.reduce((t, r) => t + r.macs.binaryFloat, 0),
  floatFloat: rows.reduce((t, r) => t + r.macs.floatFloat, 0),
});

describe('MAC counts by precision in the model summary', () => {
  it('MLP 20−16−8−4: the first layer multiplies real inputs by binary weights, the others binary×binary', () => {
    const model = buildMlp({
      inputDim: 20,
      numClasses: 4,
      hiddenUnits: [16, 8],
      dropoutInput: 0.2,
      dropoutHidden: 0.5,
      binarization: 'deterministic',
      batchNorm: 'standard',
      H: 1,
      seed: 1,
    });
    const rows = summarize(model);
    expect(byName(rows, 'dense_1')).toMatchObject({
      inputBits: 32,
      weightBits: 1,
      macs: { binaryBinary: 0, binaryFloat: 20 * 16, floatFloat: 0 },
    });
    // Through dropout (identity at inference) the input of dense_2 is sign_1's ±1.
    expect(byName(rows, 'dense_2')).toMatchObject({
      inputBits: 1,
      weightBits: 1,
      macs: { binaryBinary: 16 * 8, binaryFloat: 0, floatFloat: 0 },
    });
    expect(byName(rows, 'dense_3').macs.binaryBinary).toBe(8 * 4);
    expect(byName(rows, 'bn_1')).toMatchObject({
      inputBits: null,
      weightBits: null,
      macs: { binaryBinary: 0, binaryFloat: 0, floatFloat: 0 },
    });
    expect(totals(rows)).toEqual({ binaryBinary: 160, binaryFloat: 320, floatFloat: 0 });
    const text = formatSummary(rows);
    expect(text).toMatch(/dense_1 \(BinaryDense\)\s+\[\?, 16\]\s+32×1\s/);
    expect(text).toMatch(/MACs per example: 480 \(33\.3 % binary×binary\)/);
  });

  it('ConvNet 8×8×1 −(2C3−4C3)−MP2−8FC−10: conv MACs are output pixels × 3·3·channels', () => {
    const model = buildConvNet({
      inputShape: [8, 8, 1],
      numClasses: 10,
      convFilters: [2, 4],
      hiddenUnits: [8],
      binarization: 'deterministic',
      batchNorm: 'standard',
      H: 1,
      seed: 1,
    });
    const rows = summarize(model);
    expect(byName(rows, 'conv_1').macs).toEqual({
      binaryBinary: 0,
      binaryFloat: 8 * 8 * 2 * (3 * 3 * 1),
      floatFloat: 0,
    });
    // conv_2 is counted before its pooling: 8×8 outputs of 4 filters over 3×3×2 binary inputs.
    expect(byName(rows, 'conv_2').macs).toEqual({
      binaryBinary: 8 * 8 * 4 * (3 * 3 * 2),
      binaryFloat: 0,
      floatFloat: 0,
    });
    // Pooling and flattening keep conv_sign_2's ±1: 4·4·4 binary inputs to dense_1.
    expect(byName(rows, 'dense_1').macs.binaryBinary).toBe(64 * 8);
    expect(byName(rows, 'dense_2').macs.binaryBinary).toBe(8 * 10);
    expect(totals(rows)).toEqual({ binaryBinary: 4608 + 512 + 80, binaryFloat: 1152, floatFloat: 0 });
  });

  it('an input quantizer makes the first layer binary×binary; a real kernel is float×float', () => {
    const model = tf.sequential({
      layers: [
        new BinaryDense({ units: 3, inputQuantizer: 'steSign', inputShape: [5], name: 'signed_input' }),
        new BinaryDense({ units: 2, kernelQuantizer: null, name: 'real_kernel' }),
      ],
    });
    const rows = summarize(model);
    expect(byName(rows, 'signed_input')).toMatchObject({ inputBits: 1, weightBits: 1, macs: { binaryBinary: 15 } });
    expect(byName(rows, 'real_kernel')).toMatchObject({
      inputBits: 32,
      weightBits: 32,
      binaryParams: 0,
      realParams: 6,
      macs: { floatFloat: 6 },
    });
  });
});
