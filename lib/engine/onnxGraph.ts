/**
 * The float network of a BNN as plain arrays (`FloatNetwork`) and its encoding as an ONNX model
 * (`onnxModelBytes`, protobufjs with a subset of onnx.proto, field numbers from onnx/onnx.proto).
 * No Node or tfjs imports: browsers use it too (the demo page builds its ONNX Runtime Web peer from
 * the packed model with `packedFloatNetwork`). onnxExport.ts makes the network from a tfjs model.
 */
import * as protobuf from 'protobufjs';
import type { PackedModel } from './packedModel';

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

/**
 * The float network that computes what a packed model computes: ±1 weights from its bits, each
 * folded BatchNorm + sign back as a float comparison, and the scores as BatchNormalization(scale·d,
 * bias shift), d = 255 for a layer on pixels (its integer sums S are 255 × the float sums x = S/d).
 * The integer test (flip ? −S : S) ≥ T becomes BatchNormalization(scale ±1, mean (±T ∓ ½)/d,
 * variance 1, ε 0) then sign: half an integer step from any S, so float rounding of x cannot tip it
 * and the graph decides every sign as the engine does. For a model with no tfjs original at hand
 * (the browser demo's peer).
 */
export function packedFloatNetwork(model: PackedModel): FloatNetwork {
  const image = model.inputShape.length === 3;
  const ops: FloatOp[] = [{ op: 'input', nchw: image }];
  let flattenedFrom: [number, number, number] | null = null;
  for (const l of model.layers) {
    const w = l.weights;
    const bit = (row: number, i: number) => ((w.data[row * w.stride + (i >>> 5)] >>> (i & 31)) & 1 ? 1 : -1);
    if (l.input === 'pixelSigns') ops.push({ op: 'sign', name: `${l.name}/input_sign` });
    if (l.kind === 'conv') {
      const [ks, c, f] = [l.kernelSize, l.channels, w.rows];
      const weights = new Float32Array(f * c * ks * ks);
      for (let j = 0; j < f; j++)
        for (let t = 0; t < ks * ks; t++)
          for (let ch = 0; ch < c; ch++) weights[(j * c + ch) * ks * ks + t] = bit(j, t * c + ch);
      ops.push({ op: 'conv', name: l.name, weights, shape: [f, c, ks, ks], stride: 1, padding: l.padding });
      if (l.pool === 2)
        ops.push({ op: 'maxpool', name: `${l.name}/pool`, size: [2, 2], strides: [2, 2], padding: 'valid' });
      const shrink = l.padding === 'valid' ? ks - 1 : 0;
      flattenedFrom = [f, Math.floor((l.height - shrink) / l.pool), Math.floor((l.width - shrink) / l.pool)];
    } else {
      const [k, units] = [w.k, w.rows];
      if (flattenedFrom) ops.push({ op: 'flatten', name: `${l.name}/flatten` });
      const weights = new Float32Array(k * units);
      for (let i = 0; i < k; i++) {
        // The packed row is in tfjs's NHWC flatten order, ONNX's Flatten of NCHW is channel-major.
        let row = i;
        if (flattenedFrom) {
          const [channels, height, width] = flattenedFrom;
          row = (i % channels) * height * width + Math.floor(i / channels);
        }
        for (let j = 0; j < units; j++) weights[row * units + j] = bit(j, i);
      }
      ops.push({ op: 'matmul', name: l.name, weights, shape: [k, units] });
      flattenedFrom = null;
    }
    const d = l.input === 'pixels' ? 255 : 1;
    const n = w.rows;
    const out = l.output;
    if (out.kind === 'sign') {
      const scale = Float32Array.from(out.flips, (flip) => (flip ? -1 : 1));
      const mean = Float32Array.from(out.thresholds, (t, j) => (out.flips[j] ? 0.5 - t : t - 0.5) / d);
      const [bias, variance] = [new Float32Array(n), new Float32Array(n).fill(1)];
      ops.push({ op: 'batchnorm', name: `${l.name}/threshold`, scale, bias, mean, variance, epsilon: 0 });
      ops.push({ op: 'sign', name: `${l.name}/sign` });
    } else {
      const scale = Float32Array.from(out.scale, (s) => s * d);
      const [mean, variance] = [new Float32Array(n), new Float32Array(n).fill(1)];
      ops.push({
        op: 'batchnorm',
        name: `${l.name}/scores`,
        scale,
        bias: Float32Array.from(out.shift),
        mean,
        variance,
        epsilon: 0,
      });
    }
  }
  const last = model.layers[model.layers.length - 1];
  return { inputShape: model.inputShape, numClasses: last.weights.rows, ops };
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
