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
 * The network is first described as a `FloatNetwork` (plain arrays, no protobuf), which the
 * benchmark also hands to its PyTorch peer; `onnxModelBytes` encodes it with protobufjs and a subset
 * of onnx.proto (field numbers from onnx/onnx.proto).
 */
import * as tf from '@tensorflow/tfjs';
import * as protobuf from 'protobufjs';
import { writeFileAtomic } from '../io/atomicWrite';
import { isQuantizedLayer, SignActivation, type QuantizedLayer } from '../layers';
import type { Quantizer } from '../quantizers';
import { foldBatchNorm } from './exportModel';

/** One step of the float network; tensors are NCHW between the input transpose and the flatten. */
export type FloatOp =
  /** Pixels p (uint8) → p / 127.5 − 1; `nchw`: then transpose NHWC → NCHW. */
  | { op: 'input'; nchw: boolean }
  | { op: 'sign'; name: string }
  /** weights [filters, channels, k, k] (±1), auto_pad SAME_UPPER ('same') or VALID. */
  | {
      op: 'conv';
      name: string;
      weights: Float32Array;
      shape: [number, number, number, number];
      stride: number;
      padding: 'same' | 'valid';
    }
  | { op: 'maxpool'; name: string; size: [number, number]; strides: [number, number]; padding: 'same' | 'valid' }
  /** y = scale·(x − mean)/√(variance + epsilon) + bias over axis 1. */
  | {
      op: 'batchnorm';
      name: string;
      scale: Float32Array;
      bias: Float32Array;
      mean: Float32Array;
      variance: Float32Array;
      epsilon: number;
    }
  /** NCHW [N, C, H, W] → [N, C·H·W]. */
  | { op: 'flatten'; name: string }
  /** weights [k, units] row-major (±1): y = x · W. */
  | { op: 'matmul'; name: string; weights: Float32Array; shape: [number, number] };

export interface FloatNetwork {
  /** The image shape without the batch axis, as the model takes it ([H, W, C] or [K]). */
  inputShape: number[];
  numClasses: number;
  ops: FloatOp[];
}

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

// --- protobuf ------------------------------------------------------------------------------

/** The part of onnx.proto (proto2, package onnx) that the export writes; field numbers as upstream. */
const ONNX_SCHEMA = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'int32', id: 20 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            floats: { rule: 'repeated', type: 'float', id: 7, options: { packed: false } },
            ints: { rule: 'repeated', type: 'int64', id: 8, options: { packed: false } },
          },
        },
        ValueInfoProto: {
          fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            domain: { type: 'string', id: 7 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            docString: { type: 'string', id: 6 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            docString: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1, options: { packed: true } },
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
        TensorShapeProto: {
          fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } },
            },
          },
        },
        TypeProto: {
          fields: { tensorType: { type: 'Tensor', id: 1 } },
          nested: {
            Tensor: {
              fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } },
            },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } },
        },
      },
    },
  },
};

/** TensorProto.DataType values. */
const FLOAT = 1;
const UINT8 = 2;
/** AttributeProto.AttributeType values. */
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;
/** IR version 8 and opset 17 (ONNX 1.12): read by every ONNX Runtime since 1.12. */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;

let modelType: protobuf.Type | null = null;
function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  return modelType;
}

type Attribute = { name: string; type: number; f?: number; i?: number; s?: Uint8Array; ints?: number[] };
const intAttr = (name: string, i: number): Attribute => ({ name, type: ATTR.INT, i });
const intsAttr = (name: string, ints: number[]): Attribute => ({ name, type: ATTR.INTS, ints });
const floatAttr = (name: string, f: number): Attribute => ({ name, type: ATTR.FLOAT, f });
const stringAttr = (name: string, s: string): Attribute => ({
  name,
  type: ATTR.STRING,
  s: new TextEncoder().encode(s),
});

const floatTensor = (name: string, dims: number[], values: Float32Array) => ({
  name,
  dims,
  dataType: FLOAT,
  rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
});

function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

export interface OnnxExportOptions {
  /** Stored as the model's doc string (e.g. where the weights came from). */
  description?: string;
  /** ModelProto.producer_version (default the package's version). */
  producerVersion?: string;
}

/** The ONNX model (ModelProto bytes) of a float network: input `pixels` (uint8), output `scores` (float32). */
export function onnxModelBytes(net: FloatNetwork, options: OnnxExportOptions = {}): Uint8Array {
  const nodes: object[] = [];
  const initializers: object[] = [];
  let current = 'pixels';
  let counter = 0;
  const add = (opType: string, inputs: string[], attribute: Attribute[] = [], name = opType): string => {
    const output = `${name.replace(/[^\w/.-]/g, '_')}:${counter++}`;
    nodes.push({ opType, input: inputs, output: [output], name: output, attribute });
    return output;
  };
  const constant = (name: string, dims: number[], values: Float32Array): string => {
    initializers.push(floatTensor(name, dims, values));
    return name;
  };
  const one = constant('one', [], Float32Array.of(1));
  const minusOne = constant('minus_one', [], Float32Array.of(-1));
  const zero = constant('zero', [], Float32Array.of(0));
  for (const o of net.ops) {
    switch (o.op) {
      case 'input': {
        current = add('Cast', [current], [intAttr('to', FLOAT)], 'input/cast');
        current = add('Div', [current, constant('half_255', [], Float32Array.of(127.5))], [], 'input/div');
        current = add('Sub', [current, one], [], 'input/sub');
        if (o.nchw) current = add('Transpose', [current], [intsAttr('perm', [0, 3, 1, 2])], 'input/nchw');
        break;
      }
      case 'sign': {
        const nonNegative = add('GreaterOrEqual', [current, zero], [], `${o.name}/ge`);
        current = add('Where', [nonNegative, one, minusOne], [], o.name);
        break;
      }
      case 'conv': {
        const w = constant(`${o.name}/weights`, o.shape, o.weights);
        current = add(
          'Conv',
          [current, w],
          [
            intsAttr('kernel_shape', o.shape.slice(2)),
            intsAttr('strides', [o.stride, o.stride]),
            stringAttr('auto_pad', o.padding === 'same' ? 'SAME_UPPER' : 'VALID'),
          ],
          o.name,
        );
        break;
      }
      case 'maxpool':
        current = add(
          'MaxPool',
          [current],
          [
            intsAttr('kernel_shape', o.size),
            intsAttr('strides', o.strides),
            stringAttr('auto_pad', o.padding === 'same' ? 'SAME_UPPER' : 'VALID'),
          ],
          o.name,
        );
        break;
      case 'batchnorm': {
        const n = o.scale.length;
        const inputs = [
          current,
          constant(`${o.name}/scale`, [n], o.scale),
          constant(`${o.name}/bias`, [n], o.bias),
          constant(`${o.name}/mean`, [n], o.mean),
          constant(`${o.name}/variance`, [n], o.variance),
        ];
        current = add('BatchNormalization', inputs, [floatAttr('epsilon', o.epsilon)], o.name);
        break;
      }
      case 'flatten':
        current = add('Flatten', [current], [intAttr('axis', 1)], o.name);
        break;
      case 'matmul':
        current = add('MatMul', [current, constant(`${o.name}/weights`, o.shape, o.weights)], [], o.name);
        break;
    }
  }
  // The last node's output is the graph's output.
  (nodes[nodes.length - 1] as { output: string[] }).output = ['scores'];
  const graph = {
    name: 'binarynet',
    node: nodes,
    initializer: initializers,
    input: [valueInfo('pixels', UINT8, ['N', ...net.inputShape])],
    output: [valueInfo('scores', FLOAT, ['N', net.numClasses])],
  };
  const type = onnxModelType();
  const message = type.fromObject({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'binarynet-ts',
    producerVersion: options.producerVersion ?? '0.1.0',
    docString:
      options.description ??
      'Binarized neural network (Courbariaux et al. 2016) as a float graph: ±1 weights, BatchNorm, sign (0 → +1).',
    graph,
  });
  return type.encode(message).finish();
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
