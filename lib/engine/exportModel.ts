/**
 * Export a trained tfjs BNN (a Sequential of the lib's layers) into a PackedModel.
 *
 * Accepted layer sequence: repeated
 *   BinaryConv2D [→ MaxPooling2D 2×2] → BatchNormalization | ShiftBatchNormalization → SignActivation,
 * then [Flatten], repeated BinaryDense → BatchNorm → SignActivation, and a final
 * BinaryDense → BatchNorm (the scores); Dropout anywhere (identity at inference).
 * A BinaryDense whose input quantizer is sign may stand in for the SignActivation before it.
 */
import * as tf from '@tensorflow/tfjs';
import { packColumns } from '../kernels/bitPack';
import { isQuantizedLayer, SignActivation } from '../layers';
import { getQuantizer, quantizerNames, type Quantizer } from '../quantizers';
import { ap2Forward } from '../shift';
import { convOutputShape } from '../kernels/networkShape';
import {
  checkPackedModel,
  type LayerInput,
  type PackedLayer,
  type PackedModel,
  type ScoreOutput,
  type SignOutput,
} from './packedModel';

/** Per-neuron BatchNorm as a = c·(s − μ) + β, in float64 from the layer's float32 parameters. */
export interface FoldedBatchNorm {
  c: Float64Array;
  mu: Float64Array;
  beta: Float64Array;
}

/**
 * Where the export reads the model's numbers. `SYNC_VALUES` reads each with dataSync (every backend but
 * webgpu, which cannot read synchronously in Node); `exportPackedModelAsync` reads them all first with
 * `await data()` and exports from those.
 */
export interface ExportValues {
  /** A weight's values. */
  weight(v: tf.LayerVariable): Float32Array;
  /** Shift BatchNorm's scale AP2(1/√(relu(var) + ε))·AP2(γ) of `layer`, as the layer computes it. */
  shiftScale(layer: tf.layers.Layer, inputs: BatchNormInputs): Float32Array;
}

/** A BatchNorm layer's parameters, as the fold reads them. */
interface BatchNormInputs {
  gamma: Float32Array;
  beta: Float32Array;
  mu: Float32Array;
  variance: Float32Array;
  eps: number;
}

/** The same float32 tensor ops as ShiftBatchNormalization: AP2(rsqrt(relu(var) + ε)) · AP2(γ), both powers of 2. */
const shiftScaleTensor = ({ variance, gamma, eps }: BatchNormInputs) =>
  tf.tidy(() =>
    tf.mul(ap2Forward(tf.rsqrt(tf.add(tf.relu(tf.tensor1d(variance)), eps))), ap2Forward(tf.tensor1d(gamma))),
  );

export const SYNC_VALUES: ExportValues = {
  weight: (v) => v.read().dataSync() as Float32Array,
  shiftScale: (_layer, inputs) => {
    const scale = shiftScaleTensor(inputs);
    const values = scale.dataSync() as Float32Array;
    scale.dispose();
    return values;
  },
};

/** Every number the export of `model` reads, read asynchronously (on every backend, webgpu included). */
export async function readExportValues(model: tf.LayersModel): Promise<ExportValues> {
  const weights = new Map<tf.LayerVariable, Float32Array>();
  for (const w of model.weights) weights.set(w, (await w.read().data()) as Float32Array);
  const weight = (v: tf.LayerVariable) => {
    const values = weights.get(v);
    if (!values) throw new Error(`weight ${v.name} is not one of the model's`);
    return values;
  };
  const scales = new Map<tf.layers.Layer, Float32Array>();
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'ShiftBatchNormalization') continue;
    const units = Number(weightBySuffix(layer, 'moving_variance').shape[0]);
    const scale = shiftScaleTensor(batchNormInputs(layer, units, weight));
    scales.set(layer, (await scale.data()) as Float32Array);
    scale.dispose();
  }
  return {
    weight,
    shiftScale: (layer) => {
      const scale = scales.get(layer);
      if (!scale) throw new Error(`${layer.name}: not a ShiftBatchNormalization layer of the model`);
      return scale;
    },
  };
}

function weightBySuffix(layer: tf.layers.Layer, suffix: string): tf.LayerVariable {
  const w = layer.weights.find(
    (v) => v.originalName.endsWith(`/${suffix}`) || v.name.endsWith(`/${suffix}`) || v.originalName === suffix,
  );
  if (!w) throw new Error(`layer ${layer.name} has no weight '${suffix}'`);
  return w;
}

function batchNormInputs(
  layer: tf.layers.Layer,
  units: number,
  read: (v: tf.LayerVariable) => Float32Array,
): BatchNormInputs {
  const config = layer.getConfig() as { epsilon: number; center?: boolean; scale?: boolean };
  const ones = () => new Float32Array(units).fill(1);
  const zeros = () => new Float32Array(units);
  const weight = (suffix: string) => read(weightBySuffix(layer, suffix));
  const gamma = config.scale === false ? ones() : weight('gamma');
  const beta = config.center === false ? zeros() : weight('beta');
  const mu = weight('moving_mean');
  const variance = weight('moving_variance');
  for (const [what, a] of [
    ['gamma', gamma],
    ['beta', beta],
    ['moving_mean', mu],
    ['moving_variance', variance],
  ] as const) {
    if (a.length !== units) throw new Error(`${layer.name}: ${what} has ${a.length} values, expected ${units}`);
  }
  return { gamma, beta, mu, variance, eps: config.epsilon };
}

export function foldBatchNorm(layer: tf.layers.Layer, units: number, values = SYNC_VALUES): FoldedBatchNorm {
  const className = layer.getClassName();
  const config = layer.getConfig() as { axis?: number };
  const inputs = batchNormInputs(layer, units, values.weight);
  const { gamma, beta, mu, variance, eps } = inputs;
  const c = new Float64Array(units);
  if (className === 'BatchNormalization') {
    if (config.axis !== undefined && config.axis !== -1)
      throw new Error(`${layer.name}: only BatchNorm over the last axis is supported`);
    for (let j = 0; j < units; j++) c[j] = gamma[j] / Math.sqrt(variance[j] + eps);
  } else if (className === 'ShiftBatchNormalization') {
    c.set(values.shiftScale(layer, inputs));
  } else {
    throw new Error(`${layer.name}: expected a BatchNorm layer, got ${className}`);
  }
  return { c, mu: Float64Array.from(mu), beta: Float64Array.from(beta) };
}

const INT32_MAX = 2 ** 31 - 1;
const clampInt32 = (x: number) => Math.max(-INT32_MAX, Math.min(INT32_MAX, x));

/**
 * sign(c·(S/d − μ) + β) as (flip ? −S : S) ≥ T for integer S (d = 255 for pixel inputs, else 1).
 * Ties (a = 0 exactly) give +1, as sign(0) = +1.
 */
export function foldThresholds(bn: FoldedBatchNorm, denominator: number): SignOutput {
  const units = bn.c.length;
  const thresholds = new Int32Array(units);
  const flips = new Uint8Array(units);
  for (let j = 0; j < units; j++) {
    const c = bn.c[j];
    if (c === 0 || !Number.isFinite(c)) {
      if (!Number.isFinite(c) && !Number.isNaN(c)) throw new Error(`BatchNorm scale of neuron ${j} is infinite`);
      // a = β whatever S is: always +1 (S ≥ −2³¹+1 holds) or never (S ≥ 2³¹−1 fails, |S| < 2³¹−1).
      thresholds[j] = bn.beta[j] >= 0 ? -INT32_MAX : INT32_MAX;
      continue;
    }
    const tau = denominator * (bn.mu[j] - bn.beta[j] / c);
    if (Number.isNaN(tau)) throw new Error(`BatchNorm threshold of neuron ${j} is NaN`);
    if (c > 0) thresholds[j] = clampInt32(Math.ceil(tau));
    else {
      flips[j] = 1;
      thresholds[j] = clampInt32(-Math.floor(tau));
    }
  }
  return { kind: 'sign', thresholds, flips };
}

function foldScores(bn: FoldedBatchNorm, denominator: number): ScoreOutput {
  const units = bn.c.length;
  const scale = new Float64Array(units);
  const shift = new Float64Array(units);
  for (let j = 0; j < units; j++) {
    scale[j] = bn.c[j] / denominator;
    shift[j] = bn.beta[j] - bn.c[j] * bn.mu[j];
  }
  return { kind: 'scores', scale, shift };
}

/** The quantizer as the packed engine runs it, or a clear refusal naming the layer and the field. */
function checkPackable(layer: tf.layers.Layer, field: string, quantizer: Quantizer | null): void {
  if (quantizer !== null && !quantizer.packable) {
    const packable = quantizerNames().filter((name) => getQuantizer(name).packable);
    throw new Error(
      `${layer.name}: ${field} '${quantizer.name}' cannot be exported (the packed engine runs ` +
        `${packable.join(', ')} only)`,
    );
  }
}

/** Whether `layer` binarizes its input in a way the engine runs (deterministic sign). */
const signsInput = (layer: tf.layers.Layer | undefined) =>
  layer !== undefined && isQuantizedLayer(layer) && !!layer.inputQuantizer?.packable;

/**
 * Exports `model`; throws with the offending layer's name on anything the engine cannot run. Reads the
 * weights synchronously: on webgpu, use exportPackedModelAsync.
 */
export function exportPackedModel(model: tf.Sequential | tf.LayersModel, values = SYNC_VALUES): PackedModel {
  const inputShape = model.inputs[0].shape.slice(1) as number[];
  if (inputShape.some((d) => d === null)) throw new Error('the model input shape must be fully defined');
  const layers = model.layers.filter((l) => !['InputLayer', 'Dropout'].includes(l.getClassName()));
  const packed: PackedLayer[] = [];
  let i = 0;
  let activationsAreSigns = false;
  while (i < layers.length) {
    // Flatten: images are stored NHWC, which is already the flattened order.
    if (layers[i].getClassName() === 'Flatten') {
      i++;
      continue;
    }
    const layer = layers[i++];
    const className = layer.getClassName();
    if (className !== 'BinaryDense' && className !== 'BinaryConv2D')
      throw new Error(`layer ${layer.name}: expected BinaryDense or BinaryConv2D, got ${className}`);
    if (!isQuantizedLayer(layer)) throw new Error(`layer ${layer.name}: ${className} has no quantized kernel`);
    const cfg = layer.getConfig() as { strides?: number; padding?: 'same' | 'valid'; kernelSize?: number };
    checkPackable(layer, 'kernelQuantizer', layer.kernelQuantizer);
    if (layer.kernelQuantizer === null)
      throw new Error(`${layer.name}: a real-valued kernel (kernelQuantizer null) cannot be packed`);
    checkPackable(layer, 'inputQuantizer', layer.inputQuantizer);
    let input: LayerInput;
    if (packed.length === 0) input = signsInput(layer) ? 'pixelSigns' : 'pixels';
    else if (activationsAreSigns || signsInput(layer)) input = 'bits';
    else
      throw new Error(`${layer.name}: its input is real-valued (no SignActivation before it and no input quantizer)`);
    const shape = layer.latentKernel.shape as number[];
    const units = shape[shape.length - 1];
    const k = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const weights = packColumns(values.weight(layer.latentKernel), k, units);
    let pool: 1 | 2 = 1;
    if (className === 'BinaryConv2D' && layers[i]?.getClassName() === 'MaxPooling2D') {
      const p = layers[i++].getConfig() as { poolSize: number[] | number; strides: number[] | number; padding: string };
      const sizes = [p.poolSize, p.strides].flat();
      if (sizes.some((v) => v !== 2) || p.padding !== 'valid')
        throw new Error(`${layers[i - 1].name}: only 2×2 max pooling with stride 2 and 'valid' padding is supported`);
      pool = 2;
    }
    const bnLayer = layers[i++];
    if (!bnLayer) throw new Error(`${layer.name}: expected a BatchNorm layer after it, found the end of the model`);
    const bn = foldBatchNorm(bnLayer, units, values);
    const denominator = input === 'pixels' ? 255 : 1;
    const next = layers[i];
    if (next instanceof SignActivation) {
      checkPackable(next, 'quantizer', next.quantizer);
      i++;
      activationsAreSigns = true;
    } else activationsAreSigns = false;
    const after = next?.getClassName() === 'Flatten' ? layers[i + 1] : next;
    const hasSign = activationsAreSigns || signsInput(after);
    if (!hasSign && next)
      throw new Error(`layer ${next.name}: expected SignActivation or the end of the model after ${bnLayer.name}`);
    const output = hasSign ? foldThresholds(bn, denominator) : foldScores(bn, denominator);
    if (className === 'BinaryDense') {
      packed.push({ kind: 'dense', name: layer.name, input, weights, output });
      continue;
    }
    if ((cfg.strides ?? 1) !== 1) throw new Error(`${layer.name}: only stride 1 is supported`);
    if (output.kind !== 'sign') throw new Error(`${layer.name}: a convolution cannot be the output layer`);
    if (input === 'pixelSigns')
      throw new Error(`${layer.name}: a first conv layer with an input quantizer is not supported`);
    const prev = packed[packed.length - 1];
    const [height, width, channels] = !prev ? inputShape : prev.kind === 'conv' ? convOutputShape(prev) : [0, 0, 0];
    if (!height) throw new Error(`${layer.name}: a convolution after a dense layer is not supported`);
    packed.push({
      kind: 'conv',
      name: layer.name,
      input,
      height,
      width,
      channels,
      kernelSize: cfg.kernelSize ?? 3,
      padding: cfg.padding ?? 'same',
      pool,
      weights,
      output,
    });
  }
  const floatBytes = model.weights.reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * Number(b), 1) * 4, 0);
  const result: PackedModel = { format: 'binarynet-packed', version: 1, inputShape, layers: packed, floatBytes };
  checkPackedModel(result);
  return result;
}

/** exportPackedModel on every backend: the weights read asynchronously first (webgpu reads no other way in Node). */
export async function exportPackedModelAsync(model: tf.Sequential | tf.LayersModel): Promise<PackedModel> {
  return exportPackedModel(model, await readExportValues(model));
}
