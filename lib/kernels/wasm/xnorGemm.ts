// XNOR-popcount GEMM in AssemblyScript, compiled to WebAssembly SIMD (128-bit vectors).
//
// Same packed layout as the other tiers (see ../bitPack.ts): rows of `stride` 32-bit words, a
// multiple of 16, bit 1 for +1, padding bits 0; c[i·n + j] = k − 2·popcount(a_i XOR b_j).
// The caller places a, b and c in this module's linear memory (pointers are byte offsets).
//
// Per 128 bits: v128.xor, i8x16.popcnt and an i8x16.add into byte counters. A byte holds at most
// 255, i.e. 31 vectors of up to 8 counts each: every 31 vectors the bytes are widened and added
// to the 32-bit totals in c.

const KC: i32 = 256; // 128-bit vectors per K block (4 KiB of each row): an A row panel stays in L1
const NC: i32 = 64; // B rows per block: 64 · 4 KiB = 256 KiB, sized for L2
const RUN: i32 = 31; // vectors per byte-counter run

@inline
function count(acc: v128, x: v128, y: v128): v128 {
  return i8x16.add(acc, i8x16.popcnt(v128.xor(x, y)));
}

@inline
function total(acc: v128): i32 {
  const wide = i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(acc));
  return (
    i32x4.extract_lane(wide, 0) +
    i32x4.extract_lane(wide, 1) +
    i32x4.extract_lane(wide, 2) +
    i32x4.extract_lane(wide, 3)
  );
}

@inline
function addTo(c: usize, acc: v128): void {
  store<i32>(c, load<i32>(c) + total(acc));
}

// A 4 × 2 block of c (4 rows of a against 2 rows of b): 8 counters + 3 operands in registers.
function tile4x2(a: usize, b: usize, rowBytes: usize, k0: i32, k1: i32, c: usize, ldcBytes: usize): void {
  for (let r0 = k0; r0 < k1; r0 += RUN) {
    const r1 = min(k1, r0 + RUN);
    let c00 = i8x16.splat(0), c01 = i8x16.splat(0), c10 = i8x16.splat(0), c11 = i8x16.splat(0);
    let c20 = i8x16.splat(0), c21 = i8x16.splat(0), c30 = i8x16.splat(0), c31 = i8x16.splat(0);
    for (let k = r0; k < r1; k++) {
      const off = <usize>k << 4;
      const b0 = v128.load(b + off), b1 = v128.load(b + rowBytes + off);
      let x = v128.load(a + off);
      c00 = count(c00, x, b0); c01 = count(c01, x, b1);
      x = v128.load(a + rowBytes + off);
      c10 = count(c10, x, b0); c11 = count(c11, x, b1);
      x = v128.load(a + 2 * rowBytes + off);
      c20 = count(c20, x, b0); c21 = count(c21, x, b1);
      x = v128.load(a + 3 * rowBytes + off);
      c30 = count(c30, x, b0); c31 = count(c31, x, b1);
    }
    addTo(c, c00); addTo(c + 4, c01);
    addTo(c + ldcBytes, c10); addTo(c + ldcBytes + 4, c11);
    addTo(c + 2 * ldcBytes, c20); addTo(c + 2 * ldcBytes + 4, c21);
    addTo(c + 3 * ldcBytes, c30); addTo(c + 3 * ldcBytes + 4, c31);
  }
}

// One element of c, for the edges.
function tile1x1(a: usize, b: usize, k0: i32, k1: i32, c: usize): void {
  for (let r0 = k0; r0 < k1; r0 += RUN) {
    const r1 = min(k1, r0 + RUN);
    let acc = i8x16.splat(0);
    for (let k = r0; k < r1; k++) {
      const off = <usize>k << 4;
      acc = count(acc, v128.load(a + off), v128.load(b + off));
    }
    addTo(c, acc);
  }
}

/** c (m × n int32) = a (m rows) · b (n rows)ᵀ over ±1 values; `stride` in 32-bit words. */
export function gemm(a: usize, b: usize, m: i32, n: i32, k: i32, stride: i32, c: usize): void {
  const rowBytes = <usize>stride << 2;
  const ldcBytes = <usize>n << 2;
  const vectors = stride >> 2;
  memory.fill(c, 0, <usize>m * ldcBytes);
  for (let k0 = 0; k0 < vectors; k0 += KC) {
    const k1 = min(vectors, k0 + KC);
    for (let jb = 0; jb < n; jb += NC) {
      const jb1 = min(n, jb + NC);
      let i = 0;
      for (; i + 4 <= m; i += 4) {
        const ai = a + <usize>i * rowBytes;
        const ci = c + <usize>i * ldcBytes;
        let j = jb;
        for (; j + 2 <= jb1; j += 2) {
          tile4x2(ai, b + <usize>j * rowBytes, rowBytes, k0, k1, ci + (<usize>j << 2), ldcBytes);
        }
        for (; j < jb1; j++) {
          for (let r = 0; r < 4; r++) {
            const bj = b + <usize>j * rowBytes;
            tile1x1(ai + <usize>r * rowBytes, bj, k0, k1, ci + <usize>r * ldcBytes + (<usize>j << 2));
          }
        }
      }
      for (; i < m; i++) {
        for (let j = jb; j < jb1; j++) {
          tile1x1(a + <usize>i * rowBytes, b + <usize>j * rowBytes, k0, k1, c + <usize>i * ldcBytes + (<usize>j << 2));
        }
      }
    }
  }
  const total = <usize>m * <usize>n;
  for (let e: usize = 0; e < total; e++) {
    const p = c + (e << 2);
    store<i32>(p, k - 2 * load<i32>(p));
  }
}

/**
 * BatchNorm + sign folded into integer thresholds: bit j of output row i is 1 where
 * (flips[j] ? −s : s) ≥ thresholds[j], s = scores[i·n + j]. Output rows take `stride` words.
 */
export function thresholdPack(
  scores: usize,
  m: i32,
  n: i32,
  thresholds: usize,
  flips: usize,
  out: usize,
  stride: i32,
): void {
  memory.fill(out, 0, <usize>m * (<usize>stride << 2));
  for (let i = 0; i < m; i++) {
    const row = scores + (<usize>i * <usize>n << 2);
    const bits = out + (<usize>i * <usize>stride << 2);
    for (let j = 0; j < n; j++) {
      let s = load<i32>(row + (<usize>j << 2));
      if (load<u8>(flips + <usize>j)) s = -s;
      if (s >= load<i32>(thresholds + (<usize>j << 2))) {
        const w = bits + (<usize>(j >> 5) << 2);
        store<u32>(w, load<u32>(w) | (1 << (j & 31)));
      }
    }
  }
}

/** out[i·units + j] = Σ_n 2^n · dots[(i·8 + n)·units + j] (the first layer's bit planes, recombined). */
export function combineBitPlanes(dots: usize, rows: i32, units: i32, out: usize): void {
  const planeBytes = <usize>units << 2;
  for (let i = 0; i < rows; i++) {
    const planes = dots + <usize>i * 8 * planeBytes;
    const row = out + <usize>i * planeBytes;
    const vectorBytes = planeBytes & ~(<usize>15);
    let j: usize = 0;
    for (; j < vectorBytes; j += 16) {
      let s = v128.load(planes + 7 * planeBytes + j);
      for (let n = 6; n >= 0; n--) s = i32x4.add(i32x4.shl(s, 1), v128.load(planes + <usize>n * planeBytes + j));
      v128.store(row + j, s);
    }
    for (; j < planeBytes; j += 4) {
      let s = load<i32>(planes + 7 * planeBytes + j);
      for (let n = 6; n >= 0; n--) s = 2 * s + load<i32>(planes + <usize>n * planeBytes + j);
      store<i32>(row + j, s);
    }
  }
}

/** First free byte after the module's static data: the caller's buffers start here. */
export function heapBase(): usize {
  return __heap_base;
}

// The whole network in one call per layer (network.ts): the wasm tier's compileNetwork.
export { runLayer } from './network';
