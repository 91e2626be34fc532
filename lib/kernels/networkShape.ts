/**
 * The geometry of a whole binary network, layer by layer: what each layer gives and whether each takes
 * what the one before gives. Shared by the kernel tiers that compile a network (wasmNetwork; native
 * checks the same in C++) and the packed model format (lib/engine/packedModel.ts), which builds on it.
 */
import type { NetworkLayerSpec } from './kernel';

/** What the geometry of a conv layer needs: input size, kernel, padding, pooling, filters (weight rows). */
export interface ConvGeometry {
  height: number;
  width: number;
  kernelSize: number;
  padding: 'same' | 'valid';
  pool: number;
  weights: { rows: number };
}

/** Output height, width and channels of a conv layer (after pooling). */
export function convOutputShape(l: ConvGeometry): [number, number, number] {
  const h = l.padding === 'same' ? l.height : l.height - l.kernelSize + 1;
  const w = l.padding === 'same' ? l.width : l.width - l.kernelSize + 1;
  return [Math.floor(h / l.pool), Math.floor(w / l.pool), l.weights.rows];
}

/** A conv spec's geometry (its optional fields are required of convs). */
const conv = (l: NetworkLayerSpec) => l as NetworkLayerSpec & ConvGeometry & { channels: number };

/** Values a layer produces per image. */
export function layerOutputSize(l: NetworkLayerSpec): number {
  return l.kind === 'conv' ? convOutputShape(conv(l)).reduce((a, b) => a * b, 1) : l.weights.rows;
}

/** Layers chain (each takes what the previous gives), convs before denses, only the last gives scores. */
export function checkLayerChain(inputShape: readonly number[], layers: readonly NetworkLayerSpec[]): void {
  if (layers.length === 0) throw new Error('packed model has no layers');
  const inputSize = inputShape.reduce((a, b) => a * b, 1);
  layers.forEach((l, i) => {
    const prev = layers[i - 1];
    if (l.kind === 'conv') {
      const c = conv(l);
      if (l.weights.k !== c.kernelSize * c.kernelSize * c.channels)
        throw new Error(`conv layer ${l.name}: weights do not match its kernel size and channels`);
      const expected = i === 0 ? inputShape : prev.kind === 'conv' ? convOutputShape(conv(prev)) : null;
      if (!expected || expected.join('×') !== [c.height, c.width, c.channels].join('×')) {
        throw new Error(
          `conv layer ${l.name} takes ${c.height}×${c.width}×${c.channels}, expected ` +
            `${expected ? expected.join('×') : 'an image (a conv cannot follow a dense layer)'}`,
        );
      }
    } else {
      const expectedK = i === 0 ? inputSize : layerOutputSize(prev);
      if (l.weights.k !== expectedK)
        throw new Error(`layer ${l.name} takes ${l.weights.k} inputs, expected ${expectedK}`);
    }
    if ((i === 0) !== (l.input !== 'bits'))
      throw new Error(`layer ${l.name}: input '${l.input}' is not allowed at position ${i}`);
    if ((i === layers.length - 1) !== (l.output.kind === 'scores'))
      throw new Error(`layer ${l.name}: only the last layer gives scores`);
  });
}

const INT32_MAX = 2 ** 31 - 1;
const words32 = (bits: number) => Math.ceil(bits / 32);

/**
 * Checks a `compileNetwork` spec as a packed model (chain, geometry, array types and lengths), with clear errors:
 * shared by the tiers that compile whole networks (wasmNetwork.ts, webgpu/network.ts).
 */
export function checkNetworkSpec(inputSize: number, layers: readonly NetworkLayerSpec[]): void {
  if (!Number.isInteger(inputSize) || inputSize < 1 || inputSize > 2 ** 28)
    throw new RangeError(`inputSize must be an integer in [1, 2^28], got ${inputSize}`);
  if (!Array.isArray(layers) || layers.length === 0) throw new RangeError('compileNetwork: no layers');
  layers.forEach((l, i) => {
    const where = `layer ${i}${l?.name ? ` (${l.name})` : ''}`;
    if (!l || typeof l !== 'object') throw new TypeError(`${where} is not an object`);
    if (l.kind !== 'conv' && l.kind !== 'dense') throw new TypeError(`${where}: kind must be 'conv' or 'dense'`);
    const wt = l.weights;
    if (!wt || !(wt.data instanceof Uint32Array)) throw new TypeError(`${where}: weights.data must be a Uint32Array`);
    for (const key of ['rows', 'k', 'stride'] as const)
      if (!Number.isInteger(wt[key]) || wt[key] < 1 || wt[key] > 2 ** 28)
        throw new RangeError(`${where}: weights.${key} must be a positive integer, got ${wt[key]}`);
    if (wt.stride < words32(wt.k)) throw new RangeError(`${where}: weights.stride is less than ⌈k/32⌉`);
    if (wt.data.length < wt.rows * wt.stride)
      throw new RangeError(`${where}: weights.data has ${wt.data.length} elements, needs ${wt.rows * wt.stride}`);
    if (255 * wt.k > INT32_MAX) throw new RangeError(`${where}: k = ${wt.k} is too large for 32-bit sums`);
    const o = l.output;
    const typed = (a: unknown, Type: abstract new (...args: never[]) => unknown, name: string, what: string) => {
      if (!(a instanceof Type)) throw new TypeError(`${where}: ${what} must be a ${name}`);
      if ((a as ArrayLike<number>).length !== wt.rows)
        throw new RangeError(`${where}: ${what} has ${(a as ArrayLike<number>).length} elements, expected ${wt.rows}`);
    };
    if (o?.kind === 'sign') {
      typed(o.thresholds, Int32Array, 'Int32Array', 'thresholds');
      typed(o.flips, Uint8Array, 'Uint8Array', 'flips');
    } else if (o?.kind === 'scores') {
      typed(o.scale, Float64Array, 'Float64Array', 'scale');
      typed(o.shift, Float64Array, 'Float64Array', 'shift');
    } else throw new TypeError(`${where}: output kind must be 'sign' or 'scores'`);
    if (l.kind === 'conv') {
      for (const key of ['height', 'width', 'channels', 'kernelSize'] as const)
        if (!Number.isInteger(l[key]) || l[key]! < 1 || l[key]! > 2 ** 16)
          throw new RangeError(`${where}: ${key} must be a positive integer, got ${l[key]}`);
      if (l.padding !== 'same' && l.padding !== 'valid')
        throw new RangeError(`${where}: padding must be 'same' or 'valid', got '${String(l.padding)}'`);
      if (l.pool !== 1 && l.pool !== 2) throw new RangeError(`${where}: pool must be 1 or 2, got ${String(l.pool)}`);
      if (l.input === 'pixelSigns') throw new RangeError(`${where}: a conv cannot read pixel signs`);
      const shrink = l.padding === 'valid' ? l.kernelSize! - 1 : 0;
      if (l.height! - shrink < l.pool || l.width! - shrink < l.pool)
        throw new RangeError(`${where}: the input is too small for the kernel and pooling`);
    }
  });
  const first = layers[0];
  const inputShape = first.kind === 'conv' ? [first.height!, first.width!, first.channels!] : [inputSize];
  if (inputShape.reduce((a, b) => a * b, 1) !== inputSize)
    throw new RangeError(`compileNetwork: the first layer takes ${inputShape.join('×')} values, not ${inputSize}`);
  checkLayerChain(inputShape, layers);
}
