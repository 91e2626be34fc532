/**
 * Binary convolution (NHWC, stride 1, k×k, 'same' or 'valid') as an XNOR GEMM over a packed im2col.
 *
 * Each output position becomes one packed row of kh·kw·c bits (tap-major, channels innermost — the
 * order of a tfjs kernel [kh, kw, c, filters], so the kernel packs by columns directly). tfjs pads
 * with 0, which is not a ±1 value: padded taps are filled with +1 bits and their contribution,
 * Σ over the padded taps of the filter's weights, is subtracted afterwards — exact.
 */
import { allocPacked, packBitPlanes, packColumns, packRows, type PackedBits } from './bitPack';
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

export function checkGeometry(g: ConvGeometry): { outH: number; outW: number; pad: number } {
  for (const key of ['batch', 'height', 'width', 'channels', 'kernelSize', 'filters'] as const) {
    if (!Number.isInteger(g[key]) || g[key] < (key === 'batch' ? 0 : 1))
      throw new RangeError(`${key} must be a positive integer, got ${g[key]}`);
  }
  if (g.padding !== 'same' && g.padding !== 'valid')
    throw new RangeError(`padding must be 'same' or 'valid', got '${String(g.padding)}'`);
  const pad = g.padding === 'same' ? Math.floor((g.kernelSize - 1) / 2) : 0;
  const outH = g.padding === 'same' ? g.height : g.height - g.kernelSize + 1;
  const outW = g.padding === 'same' ? g.width : g.width - g.kernelSize + 1;
  if (outH < 1 || outW < 1)
    throw new RangeError(`a ${g.kernelSize}×${g.kernelSize} 'valid' convolution needs inputs of at least that size`);
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
  if (pixels.rows !== g.batch * g.height * g.width || pixels.k !== g.channels)
    throw new RangeError('packed pixels do not match the geometry');
  const ks = g.kernelSize,
    c = g.channels;
  const cols = allocPacked(g.batch * outH * outW, ks * ks * c);
  const rowBits = cols.stride * 32,
    pixelBits = pixels.stride * 32;
  for (let b = 0; b < g.batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const row = (b * outH + oy) * outW + ox;
        for (let dy = 0; dy < ks; dy++) {
          for (let dx = 0; dx < ks; dx++) {
            const y = oy + dy - pad,
              x = ox + dx - pad;
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

/** Σ_ch w[tap, ch, f] (±1) per tap and filter, from packed weights (rows = filters, k = taps·c). */
export function tapSums(weights: PackedBits, taps: number, channels: number): Int32Array {
  if (weights.k !== taps * channels)
    throw new RangeError(`weights have k = ${weights.k}, expected ${taps} × ${channels}`);
  const f = weights.rows;
  const sums = new Int32Array(taps * f);
  for (let j = 0; j < f; j++) {
    for (let t = 0; t < taps; t++) {
      let s = 0;
      for (let ch = 0; ch < channels; ch++) {
        const bit = t * channels + ch;
        s += (weights.data[j * weights.stride + (bit >>> 5)] >>> (bit & 31)) & 1 ? 1 : -1;
      }
      sums[t * f + j] = s;
    }
  }
  return sums;
}

/**
 * Removes what the +1 fill of padded taps added: out[pos, f] −= scale · Σ_{padded taps} tapSums[tap, f]
 * (scale 255 for bit planes, where every plane was filled).
 */
function subtractPadding(out: Int32Array, sums: Int32Array, g: ConvGeometry, scale: number): void {
  const { outH, outW, pad } = checkGeometry(g);
  // Not `pad === 0`: an even 'same' kernel pads only at the bottom and right (tfjs: ⌊(k−1)/2⌋ top, the rest below).
  if (g.padding === 'valid' || g.kernelSize === 1) return;
  const ks = g.kernelSize,
    f = g.filters;
  for (let b = 0; b < g.batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const noPaddedTap = oy >= pad && oy + ks - 1 - pad < g.height && ox >= pad && ox + ks - 1 - pad < g.width;
        if (noPaddedTap) continue;
        const o = ((b * outH + oy) * outW + ox) * f;
        for (let dy = 0; dy < ks; dy++) {
          for (let dx = 0; dx < ks; dx++) {
            const y = oy + dy - pad,
              x = ox + dx - pad;
            if (y >= 0 && y < g.height && x >= 0 && x < g.width) continue;
            const t = dy * ks + dx;
            for (let j = 0; j < f; j++) out[o + j] -= scale * sums[t * f + j];
          }
        }
      }
    }
  }
}

/** Binary convolution of ±1 pixels packed per pixel (rows batch·h·w, k = channels): batch·outH·outW × filters sums. */
export function binaryConvPacked(
  kernel: XnorKernel,
  pixels: PackedBits,
  weights: PackedBits,
  sums: Int32Array,
  g: ConvGeometry,
  options?: GemmOptions,
): Int32Array {
  const out = kernel.gemm(packedIm2col(pixels, g), weights, options);
  subtractPadding(out, sums, g, 1);
  return out;
}

/**
 * The first conv layer on uint8 pixels (NHWC) through bit planes (firstLayer.ts): 255 × the float
 * convolution of x = p/127.5 − 1 with zero padding, exactly.
 */
export function bitPlaneConv(
  kernel: XnorKernel,
  pixels: Uint8Array,
  weights: PackedBits,
  sums: Int32Array,
  g: ConvGeometry,
  options?: GemmOptions,
): Int32Array {
  const { outH, outW } = checkGeometry(g);
  const pixelCount = g.batch * g.height * g.width;
  if (pixels.length !== pixelCount * g.channels)
    throw new RangeError(
      `pixels has ${pixels.length} values, expected ${g.batch}×${g.height}×${g.width}×${g.channels}`,
    );
  // Plane n of every pixel, then its im2col; rows interleaved 8 per output position.
  const planes = packBitPlanes(pixels, pixelCount, g.channels);
  const positions = g.batch * outH * outW;
  const cols = allocPacked(positions * 8, g.kernelSize * g.kernelSize * g.channels);
  for (let n = 0; n < 8; n++) {
    const plane = allocPacked(pixelCount, g.channels);
    for (let i = 0; i < pixelCount; i++)
      plane.data.set(
        planes.data.subarray((i * 8 + n) * planes.stride, (i * 8 + n + 1) * planes.stride),
        i * plane.stride,
      );
    const c = packedIm2col(plane, g);
    for (let pos = 0; pos < positions; pos++)
      cols.data.set(c.data.subarray(pos * c.stride, (pos + 1) * c.stride), (pos * 8 + n) * cols.stride);
  }
  const out = kernel.bitPlaneGemm(cols, weights, options);
  subtractPadding(out, sums, g, 255);
  return out;
}

/**
 * out[b, oy, ox, f] = Σ x[b, oy+dy−pad, ox+dx−pad, ch] · sign(w[dy, dx, ch, f]) with zero padding,
 * x ±1 (NHWC, any real values are binarized by sign), w in tfjs layout [k, k, c, filters].
 */
export function binaryConv2d(
  kernel: XnorKernel,
  x: ArrayLike<number>,
  weights: ArrayLike<number>,
  g: ConvGeometry,
  options?: GemmOptions,
): Int32Array {
  checkGeometry(g);
  const taps = g.kernelSize * g.kernelSize;
  if (x.length !== g.batch * g.height * g.width * g.channels)
    throw new RangeError(`x has ${x.length} values, expected ${g.batch}×${g.height}×${g.width}×${g.channels}`);
  if (weights.length !== taps * g.channels * g.filters)
    throw new RangeError(
      `weights have ${weights.length} values, expected ${g.kernelSize}×${g.kernelSize}×${g.channels}×${g.filters}`,
    );
  const w = packColumns(weights, taps * g.channels, g.filters);
  return binaryConvPacked(
    kernel,
    packRows(x, g.batch * g.height * g.width, g.channels),
    w,
    tapSums(w, taps, g.channels),
    g,
    options,
  );
}

/** 2×2 max pooling, stride 2 ('valid', as tfjs's default), of batch × h × w × f int32 sums. */
export function maxPool2(sums: Int32Array, batch: number, h: number, w: number, f: number): Int32Array {
  const oh = Math.floor(h / 2),
    ow = Math.floor(w / 2);
  const out = new Int32Array(batch * oh * ow * f);
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const o = ((b * oh + y) * ow + x) * f;
        const i00 = ((b * h + 2 * y) * w + 2 * x) * f,
          i01 = i00 + f,
          i10 = i00 + w * f,
          i11 = i10 + f;
        for (let j = 0; j < f; j++) out[o + j] = Math.max(sums[i00 + j], sums[i01 + j], sums[i10 + j], sums[i11 + j]);
      }
    }
  }
  return out;
}

/**
 * Per-pixel packed activations (rows batch·pixels, k = c) as one row per image (k = pixels·c, NHWC order = tfjs
 * Flatten).
 */
export function flattenPacked(bits: PackedBits, batch: number): PackedBits {
  const pixels = bits.rows / batch;
  if (!Number.isInteger(pixels)) throw new RangeError(`${bits.rows} pixel rows do not split into ${batch} images`);
  const out = allocPacked(batch, pixels * bits.k);
  for (let b = 0; b < batch; b++) {
    for (let p = 0; p < pixels; p++)
      copyBits(bits.data, (b * pixels + p) * bits.stride * 32, out.data, b * out.stride * 32 + p * bits.k, bits.k);
  }
  return out;
}
