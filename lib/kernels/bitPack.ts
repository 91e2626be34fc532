/**
 * Packing ±1 (or any real) values into bits, the layout every XNOR kernel tier shares.
 *
 * A matrix of `rows` × `k` values is stored row by row; value v becomes bit 1 when v ≥ 0 (sign
 * convention: 0 → +1) and bit 0 when v < 0, at bit (c % 32) of 32-bit word c / 32 of its row. Each
 * row takes `stride` words, a multiple of 16 (512 bits, one AVX-512 vector), and the padding bits
 * past `k` are 0 — in both operands of a product, so that they add nothing to popcount(a XOR b),
 * and a · b = k − 2·popcount(a XOR b) holds exactly for any k.
 */

export interface PackedBits {
  rows: number;
  /** ±1 values per row (the reduction length). */
  k: number;
  /** 32-bit words per row: a multiple of 16, at least ⌈k / 32⌉. */
  stride: number;
  data: Uint32Array;
}

/** Largest k accepted: keeps k − 2·popcount and every count exact in int32. */
export const MAX_K = 2 ** 30;

export function checkCount(value: number, what: string, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} must be an integer in [0, ${max}], got ${value}`);
  }
}

/** Words per packed row of k values (rounded up to whole 512-bit vectors). */
export function strideFor(k: number): number {
  checkCount(k, 'k', MAX_K);
  return Math.ceil(k / 512) * 16;
}

/** Allocates an all-zero (all −1) packed matrix. */
export function allocPacked(rows: number, k: number): PackedBits {
  checkCount(rows, 'rows');
  const stride = strideFor(k);
  const words = rows * stride;
  if (words > 2 ** 31) throw new RangeError(`${rows} rows of ${k} bits need ${words} words, more than one array holds`);
  return { rows, k, stride, data: new Uint32Array(words) };
}

function checkValues(values: ArrayLike<number>, length: number, what: string): void {
  if (!values || typeof values.length !== 'number') throw new TypeError(`${what} must be an array of numbers`);
  if (values.length !== length) throw new RangeError(`${what} has ${values.length} values, expected ${length}`);
}

/** Packs a row-major `rows` × `k` matrix, row by row (the left operand, or a weight matrix stored out × in). */
export function packRows(values: ArrayLike<number>, rows: number, k: number): PackedBits {
  const out = allocPacked(rows, k);
  checkValues(values, rows * k, 'values');
  const { stride, data } = out;
  for (let r = 0; r < rows; r++) {
    const src = r * k;
    const dst = r * stride;
    for (let c = 0; c < k; c++) {
      if (values[src + c] >= 0) data[dst + (c >>> 5)] |= 1 << (c & 31);
      else if (Number.isNaN(values[src + c])) throw new RangeError(`NaN at row ${r}, column ${c}`);
    }
  }
  return out;
}

/**
 * Packs a row-major `k` × `n` matrix by columns: row j of the result holds column j. This is how
 * the right operand of C = A·B (and a tfjs Dense kernel [inputDim, units]) is stored.
 */
export function packColumns(values: ArrayLike<number>, k: number, n: number): PackedBits {
  const out = allocPacked(n, k);
  checkValues(values, k * n, 'values');
  const { stride, data } = out;
  for (let c = 0; c < k; c++) {
    const src = c * n;
    const word = c >>> 5;
    const bit = 1 << (c & 31);
    for (let j = 0; j < n; j++) {
      if (values[src + j] >= 0) data[j * stride + word] |= bit;
      else if (Number.isNaN(values[src + j])) throw new RangeError(`NaN at row ${c}, column ${j}`);
    }
  }
  return out;
}

/** Back to ±1 values, row-major `rows` × `k`. */
export function unpackRows(p: PackedBits): Float32Array {
  const out = new Float32Array(p.rows * p.k);
  for (let r = 0; r < p.rows; r++) {
    for (let c = 0; c < p.k; c++) out[r * p.k + c] = (p.data[r * p.stride + (c >>> 5)] >>> (c & 31)) & 1 ? 1 : -1;
  }
  return out;
}

/** Throws unless `p` is a well-formed packed matrix (types, lengths, zero padding). */
export function checkPacked(p: PackedBits, what: string): void {
  if (!p || typeof p !== 'object') throw new TypeError(`${what} must be a packed matrix`);
  checkCount(p.rows, `${what}.rows`);
  checkCount(p.k, `${what}.k`, MAX_K);
  if (p.stride !== strideFor(p.k))
    throw new RangeError(`${what}.stride is ${p.stride}, expected ${strideFor(p.k)} for k = ${p.k}`);
  if (!(p.data instanceof Uint32Array)) throw new TypeError(`${what}.data must be a Uint32Array`);
  if (p.data.length < p.rows * p.stride)
    throw new RangeError(`${what}.data has ${p.data.length} words, needs ${p.rows * p.stride}`);
  const full = p.k >>> 5;
  const tailMask = p.k & 31 ? ~((1 << (p.k & 31)) - 1) >>> 0 : 0xffffffff;
  for (let r = 0; r < p.rows; r++) {
    const row = r * p.stride;
    let clean = full >= p.stride || (p.data[row + full] & tailMask) === 0;
    for (let w = full + 1; clean && w < p.stride; w++) clean = p.data[row + w] === 0;
    if (!clean) throw new RangeError(`${what}: padding bits past k in row ${r} are not 0`);
  }
}

/** Number of set bits of a 32-bit word (SWAR). */
export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * The 8 bit planes of uint8 inputs, `rows` × `k` row-major: row r·8 + n of the result holds bit n
 * (weight 2^n) of every value of input row r, as a ±1 row (bit set ↔ +1). See firstLayer.ts.
 */
export function packBitPlanes(pixels: Uint8Array, rows: number, k: number): PackedBits {
  if (!(pixels instanceof Uint8Array)) throw new TypeError('pixels must be a Uint8Array');
  checkCount(rows, 'rows');
  if (pixels.length !== rows * k) throw new RangeError(`pixels has ${pixels.length} values, expected ${rows} × ${k}`);
  const out = allocPacked(rows * 8, k);
  const { stride, data } = out;
  for (let r = 0; r < rows; r++) {
    const src = r * k;
    const base = r * 8 * stride;
    for (let c = 0; c < k; c++) {
      const p = pixels[src + c];
      if (p === 0) continue;
      const word = base + (c >>> 5);
      const bit = 1 << (c & 31);
      for (let n = 0; n < 8; n++) if ((p >>> n) & 1) data[word + n * stride] |= bit;
    }
  }
  return out;
}
