/**
 * Binary convolution (NHWC, stride 1, k×k, 'same' or 'valid') as an XNOR GEMM over a packed im2col.
 *
 * Each output position becomes one packed row of kh·kw·c bits (tap-major, channels innermost — the
 * order of a tfjs kernel [kh, kw, c, filters], so the kernel packs by columns directly). tfjs pads
 * with 0, which is not a ±1 value: padded taps are filled with +1 bits and their contribution,
 * Σ over the padded taps of the filter's weights, is subtracted afterwards — exact.
 */
import { allocPacked, packColumns, packRows, type PackedBits } from './bitPack';
import type { GemmOptions, XnorKernel } from './kernel';

export interface ConvGeometry {
  batch: number;
  height: number;
  width: number;
  channels: number;
  kernelSize: number;
  filters: number;
  padding: 'same' | 'valid';
}

function checkGeometry(g: ConvGeometry): { outH: number; outW: number; pad: number } {
  for (const key of ['batch', 'height', 'width', 'channels', 'kernelSize', 'filters'] as const) {
    if (!Number.isInteger(g[key]) || g[key] < (key === 'batch' ? 0 : 1)) throw new RangeError(`${key} must be a positive integer, got ${g[key]}`);
  }
  if (g.padding !== 'same' && g.padding !== 'valid') throw new RangeError(`padding must be 'same' or 'valid', got '${String(g.padding)}'`);
  const pad = g.padding === 'same' ? Math.floor((g.kernelSize - 1) / 2) : 0;
  const outH = g.padding === 'same' ? g.height : g.height - g.kernelSize + 1;
  const outW = g.padding === 'same' ? g.width : g.width - g.kernelSize + 1;
  if (outH < 1 || outW < 1) throw new RangeError(`a ${g.kernelSize}×${g.kernelSize} 'valid' convolution needs inputs of at least that size`);
  return { outH, outW, pad };
}

/** Copies `count` bits from src (starting at bit `from`) to dst (starting at bit `to`); dst bits must be 0. */
function copyBits(src: Uint32Array, from: number, dst: Uint32Array, to: number, count: number): void {
  if ((from & 31) === 0 && (to & 31) === 0) {
    const words = count >>> 5;
    dst.set(src.subarray(from >>> 5, (from >>> 5) + words), to >>> 5);
    from += words * 32;
    to += words * 32;
    count -= words * 32;
  }
  for (let i = 0; i < count; i++) {
    if ((src[(from + i) >>> 5] >>> ((from + i) & 31)) & 1) dst[(to + i) >>> 5] |= 1 << ((to + i) & 31);
  }
}

function setBits(dst: Uint32Array, to: number, count: number): void {
  for (let i = 0; i < count; i++) dst[(to + i) >>> 5] |= 1 << ((to + i) & 31);
}

/** The im2col rows of ±1 pixels packed per pixel (`pixels.rows` = batch·height·width, k = channels). */
export function packedIm2col(pixels: PackedBits, g: ConvGeometry): PackedBits {
  const { outH, outW, pad } = checkGeometry(g);
  if (pixels.rows !== g.batch * g.height * g.width || pixels.k !== g.channels) throw new RangeError('packed pixels do not match the geometry');
  const ks = g.kernelSize, c = g.channels;
  const cols = allocPacked(g.batch * outH * outW, ks * ks * c);
  const rowBits = cols.stride * 32, pixelBits = pixels.stride * 32;
  for (let b = 0; b < g.batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const row = (b * outH + oy) * outW + ox;
        for (let dy = 0; dy < ks; dy++) {
          for (let dx = 0; dx < ks; dx++) {
            const y = oy + dy - pad, x = ox + dx - pad;
            const to = row * rowBits + (dy * ks + dx) * c;
            if (y < 0 || y >= g.height || x < 0 || x >= g.width) setBits(cols.data, to, c);
            else copyBits(pixels.data, ((b * g.height + y) * g.width + x) * pixelBits, cols.data, to, c);
          }
        }
      }
    }
  }
  return cols;
}

/**
 * out[b, oy, ox, f] = Σ x[b, oy+dy−pad, ox+dx−pad, ch] · sign(w[dy, dx, ch, f]) with zero padding,
 * x ±1 (NHWC, any real values are binarized by sign), w in tfjs layout [k, k, c, filters].
 */
export function binaryConv2d(kernel: XnorKernel, x: ArrayLike<number>, weights: ArrayLike<number>, g: ConvGeometry, options?: GemmOptions): Int32Array {
  const { outH, outW, pad } = checkGeometry(g);
  const ks = g.kernelSize, c = g.channels, f = g.filters;
  const taps = ks * ks;
  if (x.length !== g.batch * g.height * g.width * c) throw new RangeError(`x has ${x.length} values, expected ${g.batch}×${g.height}×${g.width}×${c}`);
  if (weights.length !== taps * c * f) throw new RangeError(`weights have ${weights.length} values, expected ${ks}×${ks}×${c}×${f}`);
  const w = packColumns(weights, taps * c, f);
  const cols = packedIm2col(packRows(x, g.batch * g.height * g.width, c), g);
  const out = kernel.gemm(cols, w, options);
  if (pad === 0) return out;
  // Σ_ch sign(w[tap, ch, f]) per tap and filter: what the +1 fill of a padded tap added.
  const tapSums = new Int32Array(taps * f);
  for (let t = 0; t < taps; t++) for (let ch = 0; ch < c; ch++) for (let j = 0; j < f; j++) tapSums[t * f + j] += weights[(t * c + ch) * f + j] >= 0 ? 1 : -1;
  for (let b = 0; b < g.batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        if (oy >= pad && oy < g.height - (ks - 1 - pad) && ox >= pad && ox < g.width - (ks - 1 - pad)) continue; // no padded tap
        const o = ((b * outH + oy) * outW + ox) * f;
        for (let dy = 0; dy < ks; dy++) {
          for (let dx = 0; dx < ks; dx++) {
            const y = oy + dy - pad, xx = ox + dx - pad;
            if (y >= 0 && y < g.height && xx >= 0 && xx < g.width) continue;
            const t = dy * ks + dx;
            for (let j = 0; j < f; j++) out[o + j] -= tapSums[t * f + j];
          }
        }
      }
    }
  }
  return out;
}
