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
