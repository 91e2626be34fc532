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
 * File: "BNNPACK1", a little-endian u32 header length, the JSON header, then the arrays, each at a
 * multiple of 8 bytes; weights are stored unpadded, ⌈k / 32⌉ words per row.
 */
import { allocPacked, checkCount, type PackedBits } from '../kernels/bitPack';

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

/** Output height, width and channels of a conv layer (after pooling). */
export function convOutputShape(l: PackedConv): [number, number, number] {
  const h = l.padding === 'same' ? l.height : l.height - l.kernelSize + 1;
  const w = l.padding === 'same' ? l.width : l.width - l.kernelSize + 1;
  return [Math.floor(h / l.pool), Math.floor(w / l.pool), l.weights.rows];
}

export interface PackedModel {
  format: 'binarynet-packed';
  version: 1;
  inputShape: number[];
  layers: PackedLayer[];
  /** Bytes of the float32 weights of the tfjs model it was exported from (kernels + BatchNorm). */
  floatBytes: number;
}

const MAGIC = 'BNNPACK1';

interface ArrayRef {
  offset: number;
  length: number;
  type: 'u32' | 'i32' | 'u8' | 'f64';
}

interface HeaderLayer {
  kind: 'dense' | 'conv';
  conv?: Pick<PackedConv, 'height' | 'width' | 'channels' | 'kernelSize' | 'padding' | 'pool'>;
  name: string;
  input: LayerInput;
  units: number;
  k: number;
  weights: ArrayRef;
  output: { kind: 'sign'; thresholds: ArrayRef; flips: ArrayRef } | { kind: 'scores'; scale: ArrayRef; shift: ArrayRef };
}

interface Header {
  format: 'binarynet-packed';
  version: 1;
  inputShape: number[];
  floatBytes: number;
  layers: HeaderLayer[];
}

type Typed = Uint32Array | Int32Array | Uint8Array | Float64Array;
const TYPES = { u32: Uint32Array, i32: Int32Array, u8: Uint8Array, f64: Float64Array } as const;

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
  if (compact.length !== rows * words) throw new RangeError(`weights of ${rows} × ${k} bits need ${rows * words} words, got ${compact.length}`);
  for (let r = 0; r < rows; r++) w.data.set(compact.subarray(r * words, (r + 1) * words), r * w.stride);
  if (k % 32) {
    const mask = ~((1 << (k % 32)) - 1) >>> 0;
    for (let r = 0; r < rows; r++) if (w.data[r * w.stride + words - 1] & mask) throw new RangeError('packed weights have bits set past k');
  }
  return w;
}

/** The model as bytes (the file's content). */
export function serializePackedModel(model: PackedModel): Uint8Array {
  const arrays: Typed[] = [];
  let at = 0;
  const ref = (array: Typed, type: ArrayRef['type']): ArrayRef => {
    const r = { offset: at, length: array.length, type };
    arrays.push(array);
    at += Math.ceil(array.byteLength / 8) * 8;
    return r;
  };
  const header: Header = {
    format: 'binarynet-packed',
    version: 1,
    inputShape: model.inputShape,
    floatBytes: model.floatBytes,
    layers: model.layers.map((l) => ({
      kind: l.kind,
      ...(l.kind === 'conv' ? { conv: { height: l.height, width: l.width, channels: l.channels, kernelSize: l.kernelSize, padding: l.padding, pool: l.pool } } : {}),
      name: l.name,
      input: l.input,
      units: l.weights.rows,
      k: l.weights.k,
      weights: ref(compactWeights(l.weights), 'u32'),
      output:
        l.output.kind === 'sign'
          ? { kind: 'sign', thresholds: ref(l.output.thresholds, 'i32'), flips: ref(l.output.flips, 'u8') }
          : { kind: 'scores', scale: ref(l.output.scale, 'f64'), shift: ref(l.output.shift, 'f64') },
    })),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = Math.ceil((MAGIC.length + 4 + json.length) / 8) * 8;
  const bytes = new Uint8Array(dataStart + at);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(MAGIC.length, json.length, true);
  bytes.set(json, MAGIC.length + 4);
  let offset = dataStart;
  for (const a of arrays) {
    bytes.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offset);
    offset += Math.ceil(a.byteLength / 8) * 8;
  }
  return bytes;
}

/** Parses and checks a packed model file's bytes. */
export function deserializePackedModel(bytes: Uint8Array): PackedModel {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('packed model bytes must be a Uint8Array');
  if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) {
    throw new Error('not a packed BinaryNet model (bad magic)');
  }
  const jsonLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length, true);
  if (MAGIC.length + 4 + jsonLength > bytes.length) throw new Error('packed model is truncated (header)');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + jsonLength))) as Header;
  if (header.format !== 'binarynet-packed' || header.version !== 1) throw new Error(`unsupported packed model format ${header.format} v${header.version}`);
  const dataStart = Math.ceil((MAGIC.length + 4 + jsonLength) / 8) * 8;
  const read = (r: ArrayRef) => {
    const Type = TYPES[r.type];
    if (!Type) throw new Error(`unknown array type ${r.type}`);
    checkCount(r.offset, 'array offset');
    checkCount(r.length, 'array length');
    const start = dataStart + r.offset;
    const end = start + r.length * Type.BYTES_PER_ELEMENT;
    if (end > bytes.length) throw new Error('packed model is truncated (arrays)');
    // Copy: the source may not be aligned for the element type.
    return new Type(bytes.slice(start, end).buffer);
  };
  const layers = header.layers.map((l): PackedLayer => {
    if (l.kind !== 'dense' && l.kind !== 'conv') throw new Error(`unknown layer kind ${String(l.kind)}`);
    checkCount(l.units, 'units');
    const weights = expandWeights(read(l.weights) as Uint32Array, l.units, l.k);
    const output =
      l.output.kind === 'sign'
        ? { kind: 'sign' as const, thresholds: read(l.output.thresholds) as Int32Array, flips: read(l.output.flips) as Uint8Array }
        : { kind: 'scores' as const, scale: read(l.output.scale) as Float64Array, shift: read(l.output.shift) as Float64Array };
    const perNeuron = output.kind === 'sign' ? [output.thresholds, output.flips] : [output.scale, output.shift];
    if (perNeuron.some((a) => a.length !== l.units)) throw new Error(`layer ${l.name}: per-neuron arrays do not have ${l.units} entries`);
    if (l.kind === 'conv') {
      const c = l.conv;
      if (!c || output.kind !== 'sign' || l.input === 'pixelSigns') throw new Error(`conv layer ${l.name} is malformed`);
      for (const v of [c.height, c.width, c.channels, c.kernelSize]) checkCount(v, `conv layer ${l.name} geometry`);
      if (c.padding !== 'same' && c.padding !== 'valid') throw new Error(`conv layer ${l.name}: padding '${String(c.padding)}'`);
      if (c.pool !== 1 && c.pool !== 2) throw new Error(`conv layer ${l.name}: pool ${String(c.pool)}`);
      return { kind: 'conv', name: l.name, input: l.input, ...c, weights, output };
    }
    return { kind: 'dense', name: l.name, input: l.input, weights, output };
  });
  const model: PackedModel = { format: 'binarynet-packed', version: 1, inputShape: header.inputShape, layers, floatBytes: header.floatBytes };
  checkPackedModel(model);
  return model;
}

/** Values a layer produces per image. */
export function layerOutputSize(l: PackedLayer): number {
  return l.kind === 'conv' ? convOutputShape(l).reduce((a, b) => a * b, 1) : l.weights.rows;
}

/** Layers chain (each takes what the previous gives), convs before denses, only the last gives scores. */
export function checkPackedModel(model: PackedModel): void {
  if (model.layers.length === 0) throw new Error('packed model has no layers');
  const inputSize = model.inputShape.reduce((a, b) => a * b, 1);
  model.layers.forEach((l, i) => {
    const prev = model.layers[i - 1];
    if (l.kind === 'conv') {
      if (l.weights.k !== l.kernelSize * l.kernelSize * l.channels) throw new Error(`conv layer ${l.name}: weights do not match its kernel size and channels`);
      const expected = i === 0 ? model.inputShape : prev.kind === 'conv' ? convOutputShape(prev) : null;
      if (!expected || expected.join('×') !== [l.height, l.width, l.channels].join('×')) {
        throw new Error(`conv layer ${l.name} takes ${l.height}×${l.width}×${l.channels}, expected ${expected ? expected.join('×') : 'an image (a conv cannot follow a dense layer)'}`);
      }
    } else {
      const expectedK = i === 0 ? inputSize : layerOutputSize(prev);
      if (l.weights.k !== expectedK) throw new Error(`layer ${l.name} takes ${l.weights.k} inputs, expected ${expectedK}`);
    }
    if ((i === 0) !== (l.input !== 'bits')) throw new Error(`layer ${l.name}: input '${l.input}' is not allowed at position ${i}`);
    if ((i === model.layers.length - 1) !== (l.output.kind === 'scores')) throw new Error(`layer ${l.name}: only the last layer gives scores`);
  });
}

/** Bytes of the packed model's parameters: 1 bit per weight plus the per-neuron thresholds or scores. */
export function packedParameterBytes(model: PackedModel): number {
  return model.layers.reduce((sum, l) => {
    const weightBytes = l.weights.rows * Math.ceil(l.weights.k / 32) * 4;
    const perNeuron = l.output.kind === 'sign' ? l.output.thresholds.byteLength + l.output.flips.byteLength : l.output.scale.byteLength + l.output.shift.byteLength;
    return sum + weightBytes + perNeuron;
  }, 0);
}
