/**
 * The first layer on popcount arithmetic: 8-bit inputs times binary weights via bit planes.
 *
 * The float model sees pixel p ∈ {0..255} as x = p / 127.5 − 1 = (2p − 255) / 255. Write
 * p = Σ_n 2^n b_n (bits b_n ∈ {0, 1}) and let ±1 plane values be β_n = 2b_n − 1. Since
 * Σ_n 2^n = 255, 2p − 255 = Σ_n 2^n (2b_n − 1) = Σ_n 2^n β_n, so for binary weights w:
 *
 *     255 · (x · w) = Σ_{n=0..7} 2^n · (β_n · w)
 *
 * — the paper's s = Σ 2^(n−1) (x^n · w_b), exactly, with each β_n · w = k − 2·popcount(plane XOR w)
 * on the same XNOR kernels. The result is an integer (255 times the float pre-activation).
 */
import { packBitPlanes, type PackedBits } from './bitPack';
import type { GemmOptions, XnorKernel } from './kernel';

/** 255 · (x · W) for `rows` inputs of `weights.k` uint8 pixels each: rows × weights.rows, row-major. */
export function bitPlaneDense(
  kernel: XnorKernel,
  pixels: Uint8Array,
  rows: number,
  weights: PackedBits,
  options?: GemmOptions,
): Int32Array {
  const planes = packBitPlanes(pixels, rows, weights.k);
  return kernel.bitPlaneGemm(planes, weights, options);
}

/** The ±1 inputs of a layer whose input quantizer binarizes pixels: sign(p / 127.5 − 1) = +1 ⟺ p ≥ 128. */
export function pixelSigns(pixels: Uint8Array): Float32Array {
  return Float32Array.from(pixels, (p) => (p >= 128 ? 1 : -1));
}
