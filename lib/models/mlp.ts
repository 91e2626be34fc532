/**
 * The paper's MNIST MLP: input − (BinaryDense → BatchNorm → sign) × N − BinaryDense → BatchNorm
 * (L2-SVM scores), dropout on the input and after every hidden activation, as the Theano code.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNorm, BinaryDense, Dropout, ShiftBatchNormalization, SignActivation } from '../layers';
import { quantizerFor, type Binarization } from '../quantizers';

export interface MlpConfig {
  inputDim: number;
  numClasses: number;
  hiddenUnits: number[];
  dropoutInput: number;
  dropoutHidden: number;
  /** 'deterministic' (the paper's results) or 'stochastic' binarization. */
  binarization: Binarization;
  batchNorm: BatchNormKind;
  H: number;
  seed: number;
}

/** The paper's two BatchNorms: standard (§1.4) and shift-based (Algorithm 3). */
export const BATCH_NORMS = ['standard', 'shift'] as const;
export type BatchNormKind = (typeof BATCH_NORMS)[number];

/** BatchNorm with the paper's alpha = 0.1 (momentum 0.9) and epsilon = 1e-4. */
export function batchNorm(kind: BatchNormKind, name: string): tf.layers.Layer {
  return kind === 'shift'
    ? new ShiftBatchNormalization({ momentum: 0.9, epsilon: 1e-4, name })
    : new BatchNorm({ momentum: 0.9, epsilon: 1e-4, name });
}

export function buildMlp(c: MlpConfig): tf.Sequential {
  const q = quantizerFor(c.binarization);
  const model = tf.sequential({ name: 'binary_mlp' });
  model.add(tf.layers.inputLayer({ inputShape: [c.inputDim], name: 'image' }));
  if (c.dropoutInput > 0) model.add(new Dropout({ rate: c.dropoutInput, seed: c.seed + 300, name: 'dropout_in' }));
  c.hiddenUnits.forEach((units, i) => {
    model.add(new BinaryDense({ units, kernelQuantizer: q, H: c.H, seed: c.seed + i, name: `dense_${i + 1}` }));
    model.add(batchNorm(c.batchNorm, `bn_${i + 1}`));
    model.add(new SignActivation({ quantizer: q, seed: c.seed + 100 + i, name: `sign_${i + 1}` }));
    if (c.dropoutHidden > 0)
      model.add(new Dropout({ rate: c.dropoutHidden, seed: c.seed + 301 + i, name: `dropout_${i + 1}` }));
  });
  const last = c.hiddenUnits.length + 1;
  model.add(
    new BinaryDense({ units: c.numClasses, kernelQuantizer: q, H: c.H, seed: c.seed + last, name: `dense_${last}` }),
  );
  model.add(batchNorm(c.batchNorm, `bn_${last}`));
  return model;
}
