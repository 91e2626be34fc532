/**
 * ONNX export: a trained tfjs BNN (a Sequential of the lib's layers) as a standard ONNX float graph
 * that any float runtime (ONNX Runtime, …) runs — the network a user would deploy without the
 * packed engine, and the float peer of `npm run bench:infer`.
 *
 * The graph takes what the engine takes, uint8 pixels channels-last ([N, H, W, C], or [N, K] for an
 * MLP), and gives the class scores [N, classes]:
 *
 *   Cast → x = p / 127.5 − 1  (the training input) → [Transpose to NCHW for ConvNets]
 *   per binary layer: [sign of the input, for a layer with an input quantizer]
 *     → Conv (±1 float weights, stride/padding of the layer) [→ MaxPool] | MatMul (±1 float weights)
 *     → BatchNormalization → sign, except after the last layer (its BatchNorm output is the scores)
 *
 * sign is the paper's (0 → +1): Where(GreaterOrEqual(x, 0), 1, −1), not ONNX `Sign` (0 → 0).
 * BatchNormalization keeps the model's γ, β, moving mean, moving variance and ε. A
 * ShiftBatchNormalization (paper Algorithm 3) is exported exactly: at inference it is
 * (x − μ)·c + β with c = AP2(1/√(relu(var) + ε))·AP2(γ), a power of two computed with the layer's own
 * float32 ops (foldBatchNorm), written as BatchNormalization(scale c, mean μ, variance 1, ε 0).
 * The conv part runs NCHW, the layout of ONNX's Conv; tfjs's Flatten is channels-last, so the first
 * dense layer after the convolutions has its weight rows permuted to the NCHW flatten order
 * (no transpose back at run time).
 *
 * The network is first described as a `FloatNetwork` (plain arrays, no protobuf, onnxGraph.ts), which
 * the benchmark also hands to its PyTorch peer; `onnxModelBytes` encodes it.
 */
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../io/atomicWrite';
import { isQuantizedLayer, SignActivation, type QuantizedLayer } from '../layers';
import type { Quantizer } from '../quantizers';
import { foldBatchNorm } from './exportModel';
import { onnxModelBytes, type FloatNetwork, type FloatOp, type OnnxExportOptions } from './onnxGraph';

const SUPPORTED =
  'InputLayer, Dropout, Flatten, BinaryDense, BinaryConv2D, MaxPooling2D, BatchNormalization, ' +
  'ShiftBatchNormalization, SignActivation';

/** A quantizer the float graph can express: the deterministic sign (0 → +1), or none. */
function checkSign(layer: tf.layers.Layer, field: string, q: Quantizer | null): void {
  if (q !== null && !q.packable)
    throw new Error(
      `${layer.name}: ${field} '${q.name}' cannot be exported to ONNX (only the deterministic sign, 'steSign')`,
    );
}

/** sign(W) of the layer's latent kernel as float32 ±1 (0 → +1), in the kernel's own order. */
function signedKernel(layer: QuantizedLayer): { values: Float32Array; shape: number[] } {
  checkSign(layer, 'kernelQuantizer', layer.kernelQuantizer);
  if (layer.kernelQuantizer === null)
    throw new Error(`${layer.name}: a real-valued kernel (kernelQuantizer null) is not a binary layer`);
  const kernel = layer.latentKernel.read();
  const latent = kernel.dataSync();
  return { values: Float32Array.from(latent, (w) => (w >= 0 ? 1 : -1)), shape: kernel.shape };
}

function batchNormOp(layer: tf.layers.Layer, units: number): FloatOp {
  const className = layer.getClassName();
  if (className === 'ShiftBatchNormalization') {
    const bn = foldBatchNorm(layer, units);
    return {
      op: 'batchnorm',
      name: layer.name,
      scale: Float32Array.from(bn.c),
      bias: Float32Array.from(bn.beta),
      mean: Float32Array.from(bn.mu),
      variance: new Float32Array(units).fill(1),
      epsilon: 0,
    };
  }
  const config = layer.getConfig() as { epsilon: number; center?: boolean; scale?: boolean; axis?: number };
  if (config.axis !== undefined && config.axis !== -1)
    throw new Error(`${layer.name}: only BatchNorm over the last (channel) axis can be exported`);
  const read = (suffix: string) => {
    const w = layer.weights.find((v) => v.originalName.endsWith(`/${suffix}`) || v.name.endsWith(`/${suffix}`));
    if (!w) throw new Error(`layer ${layer.name} has no weight '${suffix}'`);
    const values = Float32Array.from(w.read().dataSync());
    if (values.length !== units)
      throw new Error(`${layer.name}: ${suffix} has ${values.length} values, expected ${units}`);
    return values;
  };
  return {
    op: 'batchnorm',
    name: layer.name,
    scale: config.scale === false ? new Float32Array(units).fill(1) : read('gamma'),
    bias: config.center === false ? new Float32Array(units) : read('beta'),
    mean: read('moving_mean'),
    variance: read('moving_variance'),
    epsilon: config.epsilon,
  };
}

/**
 * The float network of `model`; throws naming the layer on anything the export cannot express
 * (stochastic or identity quantizers, real-valued kernels, layers other than the lib's).
 */
export function floatNetwork(model: tf.Sequential | tf.LayersModel): FloatNetwork {
  const inputShape = model.inputs[0].shape.slice(1) as (number | null)[];
  if (inputShape.some((d) => d === null)) throw new Error('the model input shape must be fully defined');
  if (inputShape.length !== 1 && inputShape.length !== 3)
    throw new Error(`the model input must be [K] or [H, W, C] images, got [${inputShape.join(', ')}]`);
  const image = inputShape.length === 3;
  const ops: FloatOp[] = [{ op: 'input', nchw: image }];
  /** The current activation: [C, H, W] (NCHW, batch left out), or K features; after Flatten, also its [C, H, W]. */
  let shape: number[] = image ? [inputShape[2]!, inputShape[0]!, inputShape[1]!] : [inputShape[0]!];
  let flattenedFrom: number[] | null = null;
  let units = 0;
  let lastBinary = '';
  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (className === 'InputLayer' || className === 'Dropout') continue;
    if (className === 'Flatten') {
      if (shape.length === 3) {
        flattenedFrom = shape;
        shape = [shape[0] * shape[1] * shape[2]];
        ops.push({ op: 'flatten', name: layer.name });
      }
      continue;
    }
    if (className === 'BinaryDense' || className === 'BinaryConv2D') {
      if (!isQuantizedLayer(layer)) throw new Error(`layer ${layer.name}: ${className} has no quantized kernel`);
      checkSign(layer, 'inputQuantizer', layer.inputQuantizer);
      if (layer.inputQuantizer !== null) ops.push({ op: 'sign', name: `${layer.name}/input_sign` });
      const kernel = signedKernel(layer);
      lastBinary = layer.name;
      if (className === 'BinaryConv2D') {
        if (shape.length !== 3) throw new Error(`${layer.name}: a convolution after a dense layer is not supported`);
        const cfg = layer.getConfig() as { strides?: number; padding?: 'same' | 'valid' };
        const [kh, kw, channels, filters] = kernel.shape;
        if (channels !== shape[0])
          throw new Error(`${layer.name}: kernel has ${channels} input channels, not ${shape[0]}`);
        // tfjs [kh, kw, C, F] → ONNX [F, C, kh, kw].
        const w = new Float32Array(kernel.values.length);
        for (let y = 0; y < kh; y++)
          for (let x = 0; x < kw; x++)
            for (let c = 0; c < channels; c++)
              for (let f = 0; f < filters; f++)
                w[((f * channels + c) * kh + y) * kw + x] = kernel.values[((y * kw + x) * channels + c) * filters + f];
        const stride = cfg.strides ?? 1;
        const padding = cfg.padding ?? 'same';
        ops.push({ op: 'conv', name: layer.name, weights: w, shape: [filters, channels, kh, kw], stride, padding });
        const out = (n: number) => (padding === 'same' ? Math.ceil(n / stride) : Math.floor((n - kh) / stride) + 1);
        shape = [filters, out(shape[1]), out(shape[2])];
        units = filters;
      } else {
        if (shape.length !== 1) throw new Error(`${layer.name}: a dense layer needs a Flatten before it`);
        const [k, n] = kernel.shape;
        if (k !== shape[0])
          throw new Error(`${layer.name}: kernel has ${k} inputs, the layer before gives ${shape[0]}`);
        let w = kernel.values;
        if (flattenedFrom) {
          // tfjs flattens [H, W, C]: row (h·W + w)·C + c; ONNX's Flatten of NCHW gives row c·H·W + h·W + w.
          const [channels, height, width] = flattenedFrom;
          w = new Float32Array(kernel.values.length);
          for (let c = 0; c < channels; c++)
            for (let p = 0; p < height * width; p++)
              w.set(
                kernel.values.subarray((p * channels + c) * n, (p * channels + c + 1) * n),
                (c * height * width + p) * n,
              );
          flattenedFrom = null;
        }
        ops.push({ op: 'matmul', name: layer.name, weights: w, shape: [k, n] });
        shape = [n];
        units = n;
      }
      continue;
    }
    if (className === 'MaxPooling2D') {
      if (shape.length !== 3) throw new Error(`${layer.name}: max pooling needs an image`);
      const p = layer.getConfig() as {
        poolSize: number[] | number;
        strides: number[] | number | null;
        padding: string;
      };
      const pair = (v: number[] | number): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [v, v]);
      const size = pair(p.poolSize);
      const strides = pair(p.strides ?? p.poolSize);
      const padding = p.padding === 'same' ? 'same' : 'valid';
      ops.push({ op: 'maxpool', name: layer.name, size, strides, padding });
      const out = (n: number, i: number) =>
        padding === 'same' ? Math.ceil(n / strides[i]) : Math.floor((n - size[i]) / strides[i]) + 1;
      shape = [shape[0], out(shape[1], 0), out(shape[2], 1)];
      continue;
    }
    if (className === 'BatchNormalization' || className === 'ShiftBatchNormalization') {
      if (!lastBinary) throw new Error(`${layer.name}: a BatchNorm before any binary layer is not supported`);
      ops.push(batchNormOp(layer, units));
      continue;
    }
    if (layer instanceof SignActivation) {
      checkSign(layer, 'quantizer', layer.quantizer);
      ops.push({ op: 'sign', name: layer.name });
      continue;
    }
    throw new Error(`layer ${layer.name}: ${className} is not supported by the ONNX export (supported: ${SUPPORTED})`);
  }
  if (shape.length !== 1) throw new Error('the model must end in a dense layer (class scores), not an image');
  if (!lastBinary) throw new Error('the model has no binary layer');
  return { inputShape: inputShape as number[], numClasses: shape[0], ops };
}

/**
 * Exports a trained tfjs BNN as an ONNX file (atomically); returns its size in bytes.
 * Throws, naming the layer, on anything it cannot express (see `floatNetwork`).
 */
export function exportOnnx(
  model: tf.Sequential | tf.LayersModel,
  file: string,
  options: OnnxExportOptions = {},
): number {
  const bytes = onnxModelBytes(floatNetwork(model), options);
  writeFileAtomic(file, bytes);
  return bytes.length;
}
