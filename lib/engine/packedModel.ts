/**
 * The packed model: what the binary inference engine runs, and its file format.
 *
 * Each binary layer keeps 1 bit per weight (bitPack.ts layout, one row per output neuron) and, in
 * place of BatchNorm followed by sign, one integer threshold and a flip flag per neuron:
 *   a = c·(s − μ) + β ≥ 0  ⟺  s ≥ τ (c > 0)  or  s ≤ τ (c < 0),   τ = μ − β / c,
 * and since s is an integer (a ±1 dot product, or 255× the first layer's, see firstLayer.ts) this
 * is `(flip ? −S : S) ≥ T` with T = ⌈τ⌉ or −⌊τ⌋. The last layer keeps its BatchNorm as an affine
 * map of the integer sums, the class scores.
 *
 * File: the project's checksummed container (lib/io/container.ts, magic "BNNPACK", version 2): a
 * JSON header with the layers' geometry, then the arrays `layers/<i>/weights` (unpadded, ⌈k / 32⌉
 * words per row), `thresholds` and `flips`, or `scale` and `shift`.
 */
import {
  decodeContainer,
  encodeContainer,
  type ArrayType,
  type ContainerKind,
  type NamedArray,
  type TypedArray,
} from '../io/container';
import { allocPacked, checkCount, type PackedBits } from '../kernels/bitPack';
import { checkLayerChain } from '../kernels/networkShape';

/** How a layer's input arrives. */
export type LayerInput =
  /** uint8 pixels p that the float model sees as p / 127.5 − 1 (the first layer: bit planes). */
  | 'pixels'
  /** uint8 pixels binarized by the layer's input quantizer: sign(p / 127.5 − 1) = +1 ⟺ p ≥ 128. */
  | 'pixelSigns'
  /** ±1 activations of the previous layer, packed. */
  | 'bits';

export interface SignOutput {
  kind: 'sign';
  /** +1 where (flips[j] ? −S : S) ≥ thresholds[j], S the layer's integer sum. */
  thresholds: Int32Array;
  flips: Uint8Array;
}

export interface ScoreOutput {
  kind: 'scores';
  /** score_j = scale[j] · S_j + shift[j]. */
  scale: Float64Array;
  shift: Float64Array;
}

export interface PackedDense {
  kind: 'dense';
  name: string;
  input: LayerInput;
  /** units rows of k bits: row j = sign of the float kernel's column j. */
  weights: PackedBits;
  output: SignOutput | ScoreOutput;
}

/** A binary k×k convolution (stride 1, NHWC), optionally followed by 2×2 max pooling of its sums. */
export interface PackedConv {
  kind: 'conv';
  name: string;
  input: 'pixels' | 'bits';
  /** Input image size and channels, kernel size, filters, padding. */
  height: number;
  width: number;
  channels: number;
  kernelSize: number;
  padding: 'same' | 'valid';
  /** 2: 2×2 max pooling (stride 2) of the integer sums before BatchNorm, as in the paper's ConvNets; 1: none. */
  pool: 1 | 2;
  /** filters rows of k·k·c bits, tap-major (the tfjs kernel [k, k, c, filters] by columns). */
  weights: PackedBits;
  output: SignOutput;
}

export type PackedLayer = PackedDense | PackedConv;

export interface PackedModel {
  format: 'binarynet-packed';
  version: 1;
  inputShape: number[];
  layers: PackedLayer[];
  /** Bytes of the float32 weights of the tfjs model it was exported from (kernels + BatchNorm). */
  floatBytes: number;
}

const KIND: ContainerKind = { magic: 'BNNPACK', version: 2, what: 'packed model' };

/** A layer in the file's header; its arrays are stored by name (`layers/<i>/<array>`). */
interface HeaderLayer {
  kind: 'dense' | 'conv';
  conv?: Pick<PackedConv, 'height' | 'width' | 'channels' | 'kernelSize' | 'padding' | 'pool'>;
  name: string;
  input: LayerInput;
  units: number;
  k: number;
  output: 'sign' | 'scores';
}

interface Header {
  inputShape: number[];
  floatBytes: number;
  layers: HeaderLayer[];
}

/** Weights without the padding to 512 bits: ⌈k / 32⌉ words per row. */
function compactWeights(w: PackedBits): Uint32Array {
  const words = Math.ceil(w.k / 32);
  const out = new Uint32Array(w.rows * words);
  for (let r = 0; r < w.rows; r++) out.set(w.data.subarray(r * w.stride, r * w.stride + words), r * words);
  return out;
}

function expandWeights(compact: Uint32Array, rows: number, k: number): PackedBits {
  const w = allocPacked(rows, k);
  const words = Math.ceil(k / 32);
  if (compact.length !== rows * words)
    throw new RangeError(`weights of ${rows} × ${k} bits need ${rows * words} words, got ${compact.length}`);
  for (let r = 0; r < rows; r++) w.data.set(compact.subarray(r * words, (r + 1) * words), r * w.stride);
  if (k % 32) {
    const mask = ~((1 << (k % 32)) - 1) >>> 0;
    for (let r = 0; r < rows; r++)
      if (w.data[r * w.stride + words - 1] & mask) throw new RangeError('packed weights have bits set past k');
  }
  return w;
}

/** The model as bytes (the file's content). */
export function serializePackedModel(model: PackedModel, source = 'packed model'): Uint8Array {
  const arrays: NamedArray[] = [];
  const add = (i: number, name: string, data: TypedArray) =>
    arrays.push({ name: `layers/${i}/${name}`, shape: [data.length], data });
  const layers = model.layers.map((l, i): HeaderLayer => {
    add(i, 'weights', compactWeights(l.weights));
    if (l.output.kind === 'sign') {
      add(i, 'thresholds', l.output.thresholds);
      add(i, 'flips', l.output.flips);
    } else {
      add(i, 'scale', l.output.scale);
      add(i, 'shift', l.output.shift);
    }
    const conv =
      l.kind === 'conv'
        ? {
            conv: {
              height: l.height,
              width: l.width,
              channels: l.channels,
              kernelSize: l.kernelSize,
              padding: l.padding,
              pool: l.pool,
            },
          }
        : {};
    const { rows: units, k } = l.weights;
    return { kind: l.kind, ...conv, name: l.name, input: l.input, units, k, output: l.output.kind };
  });
  const header: Header = { inputShape: model.inputShape, floatBytes: model.floatBytes, layers };
  return encodeContainer(KIND, header, arrays, source);
}

function parseLayer(l: HeaderLayer, i: number, arrays: Map<string, NamedArray>): PackedLayer {
  const array = <T extends TypedArray>(name: string, type: ArrayType, Type: new (n: number) => T): T => {
    const a = arrays.get(`layers/${i}/${name}`)?.data;
    if (!(a instanceof Type)) throw new Error(`array layers/${i}/${name} is ${a ? `not of type ${type}` : 'missing'}`);
    return a;
  };
  if (l.kind !== 'dense' && l.kind !== 'conv') throw new Error(`unknown layer kind ${String(l.kind)}`);
  checkCount(l.units, 'units');
  const weights = expandWeights(array('weights', 'u32', Uint32Array), l.units, l.k);
  const output =
    l.output === 'sign'
      ? {
          kind: 'sign' as const,
          thresholds: array('thresholds', 'i32', Int32Array),
          flips: array('flips', 'u8', Uint8Array),
        }
      : {
          kind: 'scores' as const,
          scale: array('scale', 'f64', Float64Array),
          shift: array('shift', 'f64', Float64Array),
        };
  const perNeuron = output.kind === 'sign' ? [output.thresholds, output.flips] : [output.scale, output.shift];
  if (perNeuron.some((a) => a.length !== l.units))
    throw new Error(`layer ${l.name}: per-neuron arrays do not have ${l.units} entries`);
  if (l.kind === 'conv') {
    const c = l.conv;
    if (!c || output.kind !== 'sign' || l.input === 'pixelSigns') throw new Error(`conv layer ${l.name} is malformed`);
    for (const v of [c.height, c.width, c.channels, c.kernelSize]) checkCount(v, `conv layer ${l.name} geometry`);
    if (c.padding !== 'same' && c.padding !== 'valid')
      throw new Error(`conv layer ${l.name}: padding '${String(c.padding)}'`);
    if (c.pool !== 1 && c.pool !== 2) throw new Error(`conv layer ${l.name}: pool ${String(c.pool)}`);
    return { kind: 'conv', name: l.name, input: l.input, ...c, weights, output };
  }
  return { kind: 'dense', name: l.name, input: l.input, weights, output };
}

/** Parses and checks a packed model file's bytes; `source` (the file name) prefixes every error. */
export function deserializePackedModel(bytes: Uint8Array, source = 'packed model'): PackedModel {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('packed model bytes must be a Uint8Array');
  const { meta, arrays } = decodeContainer(KIND, bytes, source);
  const header = meta as Header;
  try {
    if (!Array.isArray(header?.layers) || !Array.isArray(header.inputShape)) {
      throw new Error('the header has no layers or input shape');
    }
    const layers = header.layers.map((l, i) => parseLayer(l, i, arrays));
    const { inputShape, floatBytes } = header;
    const model: PackedModel = { format: 'binarynet-packed', version: 1, inputShape, layers, floatBytes };
    checkPackedModel(model);
    return model;
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Multiply-accumulates per image of a layer (a conv's counted before pooling), and of which kind:
 * '8-bit' for a first layer on pixels (8 bit planes, or the native engine's integer conv), else
 * 'binary' (XNOR-popcount).
 */
export function layerMacs(l: PackedLayer): { macs: number; kind: 'binary' | '8-bit' } {
  const shrink = l.kind === 'conv' && l.padding === 'valid' ? l.kernelSize - 1 : 0;
  const positions = l.kind === 'conv' ? (l.height - shrink) * (l.width - shrink) : 1;
  return { macs: l.weights.k * l.weights.rows * positions, kind: l.input === 'pixels' ? '8-bit' : 'binary' };
}

/** Layers chain (each takes what the previous gives), convs before denses, only the last gives scores. */
export function checkPackedModel(model: PackedModel): void {
  checkLayerChain(model.inputShape, model.layers);
}

/** Bytes of the packed model's parameters: 1 bit per weight plus the per-neuron thresholds or scores. */
export function packedParameterBytes(model: PackedModel): number {
  return model.layers.reduce((sum, l) => {
    const weightBytes = l.weights.rows * Math.ceil(l.weights.k / 32) * 4;
    const perNeuron =
      l.output.kind === 'sign'
        ? l.output.thresholds.byteLength + l.output.flips.byteLength
        : l.output.scale.byteLength + l.output.shift.byteLength;
    return sum + weightBytes + perNeuron;
  }, 0);
}
