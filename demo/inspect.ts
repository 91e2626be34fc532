/** What the page shows of a forward pass: the input's bit planes and each hidden layer's ±1 activations. */
import { unpackRows } from '../lib/kernels/bitPack';
import { thresholdPackReference } from '../lib/kernels/xnorGemm';
import type { PackedModel } from '../lib/engine/packedModel';

/** Bit n (0 = least significant) of every pixel: the 8 planes the first layer multiplies (firstLayer.ts). */
export function bitPlanes(pixels: Uint8Array): Uint8Array[] {
  return Array.from({ length: 8 }, (_, n) => pixels.map((p) => (p >> n) & 1));
}

/**
 * Each sign layer's ±1 outputs for one image, from the engine's integer sums (BinaryEngine.layerSums):
 * the same threshold comparison the engine makes.
 */
export function hiddenActivations(model: PackedModel, sums: Int32Array[]): Float32Array[] {
  return model.layers.flatMap((l, i) => {
    if (l.output.kind !== 'sign') return [];
    const units = sums[i].length;
    return [unpackRows(thresholdPackReference(sums[i], 1, units, l.output.thresholds, l.output.flips))];
  });
}
