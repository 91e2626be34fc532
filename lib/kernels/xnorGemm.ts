/**
 * The readable reference tier: C = A · Bᵀ over ±1 values packed as in bitPack.ts, each entry
 * k − 2·popcount(a_i XOR b_j), one 32-bit word at a time. Exact: equals a float matmul of the
 * same ±1 matrices.
 */
import { checkPacked, popcount32, type PackedBits } from './bitPack';

/** Checks that a and b can be multiplied and returns the output size. */
export function checkGemmOperands(a: PackedBits, b: PackedBits): { m: number; n: number } {
  checkPacked(a, 'a');
  checkPacked(b, 'b');
  if (a.k !== b.k) throw new RangeError(`a has k = ${a.k} but b has k = ${b.k}`);
  if (a.rows * b.rows > 2 ** 31) throw new RangeError(`output of ${a.rows} × ${b.rows} is too large`);
  return { m: a.rows, n: b.rows };
}

/** c[i·n + j] = Σ_c a[i][c] · b[j][c] (b holds the right operand's columns as rows). */
export function xnorGemmReference(a: PackedBits, b: PackedBits): Int32Array {
  const { m, n } = checkGemmOperands(a, b);
  const words = Math.ceil(a.k / 32);
  const c = new Int32Array(m * n);
  for (let i = 0; i < m; i++) {
    const ai = i * a.stride;
    for (let j = 0; j < n; j++) {
      const bj = j * b.stride;
      let mismatches = 0;
      for (let w = 0; w < words; w++) mismatches += popcount32(a.data[ai + w] ^ b.data[bj + w]);
      c[i * n + j] = a.k - 2 * mismatches;
    }
  }
  return c;
}

/**
 * BatchNorm + sign folded into one integer comparison per output: bit j of row i is +1 where
 * (flips[j] ? −s : s) ≥ thresholds[j], s = scores[i·n + j]. The reference of every tier's
 * thresholdPack.
 */
export function thresholdPackReference(
  scores: Int32Array,
  m: number,
  n: number,
  thresholds: Int32Array,
  flips: Uint8Array,
): PackedBits {
  checkThresholdArgs(scores, m, n, thresholds, flips);
  const stride = Math.ceil(n / 512) * 16;
  const data = new Uint32Array(m * stride);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const s = scores[i * n + j];
      if ((flips[j] ? -s : s) >= thresholds[j]) data[i * stride + (j >>> 5)] |= 1 << (j & 31);
    }
  }
  return { rows: m, k: n, stride, data };
}

export function checkThresholdArgs(
  scores: Int32Array,
  m: number,
  n: number,
  thresholds: Int32Array,
  flips: Uint8Array,
): void {
  if (!(scores instanceof Int32Array)) throw new TypeError('scores must be an Int32Array');
  if (!(thresholds instanceof Int32Array)) throw new TypeError('thresholds must be an Int32Array');
  if (!(flips instanceof Uint8Array)) throw new TypeError('flips must be a Uint8Array');
  if (!Number.isInteger(m) || m < 0 || !Number.isInteger(n) || n < 0)
    throw new RangeError(`m and n must be non-negative integers, got ${m}, ${n}`);
  if (scores.length !== m * n) throw new RangeError(`scores has ${scores.length} values, expected ${m} × ${n}`);
  if (thresholds.length !== n || flips.length !== n) throw new RangeError(`thresholds and flips need ${n} values each`);
}

/** Plane rows come 8 per input, and 255·k must fit int32; returns the number of inputs. */
export function checkPlaneRows(planeRows: number, k?: number): number {
  if (planeRows % 8 !== 0) throw new RangeError(`bit planes come 8 rows per input, got ${planeRows} rows`);
  if (k !== undefined && k > 2 ** 23)
    throw new RangeError(`k = ${k} is too long for 8-bit inputs (255·k must fit int32)`);
  return planeRows / 8;
}

/**
 * S[i][j] = Σ_n 2^n · dots[i·8 + n][j] (see firstLayer.ts). |S| ≤ 255·k, so int32 holds it for
 * k < 8.4 million.
 */
export function combineBitPlanesReference(dots: Int32Array, rows: number, units: number): Int32Array {
  if (dots.length !== rows * 8 * units)
    throw new RangeError(`expected ${rows} × 8 × ${units} plane dot products, got ${dots.length}`);
  const out = new Int32Array(rows * units);
  for (let i = 0; i < rows; i++) {
    const base = i * 8 * units;
    for (let j = 0; j < units; j++) {
      let s = 0;
      for (let n = 7; n >= 0; n--) s = 2 * s + dots[base + n * units + j];
      out[i * units + j] = s;
    }
  }
  return out;
}
