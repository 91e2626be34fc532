// The binary inference engine's whole network in WebAssembly (the wasm tier's `compileNetwork`):
// the same arithmetic as native/engine.cc, with 128-bit vectors and 32-bit words. The JavaScript
// side (../wasmNetwork.ts) checks the packed model, lays out every layer's weights and tables once
// in this module's memory and describes each layer in a descriptor of FIELDS i32 values; then a
// run is one `runLayer` call per layer and batch, activations staying packed in this memory.
//
// Layers:
//   conv on pixels   direct integer conv: Σ (2p − 255)·w over the taps inside the image (255 × the
//                    float conv of p/127.5 − 1 with zero padding, exact), i16 pairs × ±1 pairs with
//                    i32x4.dot_i16x8_s, 32 filters at a time;
//   conv on bits     packed im2col of whole words (⌈c/32⌉ words per pixel, the bits past c 0; a padded
//                    tap is +1 in its c real bits), popcount against vertical weights, then the padded
//                    taps' Σ w subtracted per border case;
//   dense on pixels  8 bit-plane rows per image (firstLayer.ts), combined as Σ 2^p · (plane p · w);
//   dense on signs   one row of pixel signs (p ≥ 128 ↔ +1); dense on bits: the previous output row;
// then 2×2 max pooling of the integer sums (convs), and the folded BatchNorm + sign as one integer
// comparison per neuron, packed to bits — or the last layer's scale·S + shift as float64 scores.
//
// Vertical weights: neurons in groups of 4, word q of the 4 neurons of a group side by side in one
// v128 (at (g·words + q)·16). One input word splat against it gives 4 neurons' popcounts in the 4
// lanes: no horizontal sums. Popcounts go into byte counters (i8x16.popcnt, ≤ 8 per word and byte),
// widened to 32 bits every RUN ≤ 31 words.

// Descriptor fields (i32 each; ../wasmNetwork.ts writes them with the same numbers).
const KIND = 0; // 0 conv on pixels, 1 conv on bits, 2 dense on pixels, 3 dense on signs, 4 dense on bits
const SCORES = 1; // 1: the last layer (float64 scores), 0: sign bits
const H = 2;
const W = 3;
const C = 4;
const KS = 5;
const PAD = 6;
const POOL = 7;
const OH = 8; // after pooling
const OW = 9;
const UNITS = 10;
const LDC = 11; // sums per position: units rounded up to 32
const K = 12; // ±1 values per dot product
const WORDS = 13; // 32-bit words of each product row (im2col row, input row)
const PW_IN = 14; // conv on bits: words per input pixel
const IN_ROW = 15; // words per input row (per image; per bit plane for dense on pixels)
const OUT_ROW = 16; // words per output image
const WEIGHTS = 17; // vertical weights (bits), or ⌈K/2⌉ × LDC pairs of i16 ±1 (conv on pixels)
const THRESHOLDS = 18; // LDC i32 (past the units: i32.MAX_VALUE)
const NEGATE = 19; // LDC i32: −1 where flipped, else 0
const CORR = 20; // border case × LDC i32: Σ over the padded taps of Σ_ch w (0: no padded taps)
const CASE_Y = 21; // i32 per conv output row / column: its border case
const CASE_X = 22;
const CASES_X = 23;
const SCALE = 24; // f64 per unit (scores)
const SHIFT = 25;
const ROWS = 26; // scratch: im2col rows of a tile, or the first dense layer's pixel rows
const SUMS = 27; // scratch: a tile's sums, LDC per position
const IMAGE = 28; // scratch: one image as i16 2p − 255, then one window (conv on pixels)
const TILE_ITEMS = 29; // conv: items (image, pooled output row) per tile
const GROUPS = 30; // groups of 4 neurons computed: ⌈units/4⌉
const ONES = 31; // conv on bits: one padded pixel (+1 in the c real bits)
const LAST_MASK = 32; // the real bits of a pixel's last output word
// const FIELDS = 33;

const RUN = 31; // words per byte-counter run

const TMP = memory.data(128, 16); // pop4's four results

@inline
function field(d: usize, i: i32): i32 {
  return load<i32>(d + (<usize>i << 2));
}

@inline
function ptr(d: usize, i: i32): usize {
  return <usize>load<u32>(d + (<usize>i << 2));
}

@inline
function widen(b: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(b));
}

@inline
function count(acc: v128, w: v128, a: usize): v128 {
  return i8x16.add(acc, i8x16.popcnt(v128.xor(w, v128.load32_splat(a))));
}

// Popcounts of 4 rows (a, a + rowBytes, …) against one group of vertical weights: 4 × 4 lanes at TMP.
function pop4(a: usize, rowBytes: usize, w: usize, words: i32): void {
  const a1 = a + rowBytes,
    a2 = a1 + rowBytes,
    a3 = a2 + rowBytes;
  let t0 = i32x4.splat(0),
    t1 = i32x4.splat(0),
    t2 = i32x4.splat(0),
    t3 = i32x4.splat(0);
  for (let q0 = 0; q0 < words; q0 += RUN) {
    const q1 = min(words, q0 + RUN);
    let b0 = i8x16.splat(0),
      b1 = i8x16.splat(0),
      b2 = i8x16.splat(0),
      b3 = i8x16.splat(0);
    for (let q = q0; q < q1; q++) {
      const wq = v128.load(w + (<usize>q << 4));
      const o = <usize>q << 2;
      b0 = count(b0, wq, a + o);
      b1 = count(b1, wq, a1 + o);
      b2 = count(b2, wq, a2 + o);
      b3 = count(b3, wq, a3 + o);
    }
    t0 = i32x4.add(t0, widen(b0));
    t1 = i32x4.add(t1, widen(b1));
    t2 = i32x4.add(t2, widen(b2));
    t3 = i32x4.add(t3, widen(b3));
  }
  v128.store(TMP, t0);
  v128.store(TMP, t1, 16);
  v128.store(TMP, t2, 32);
  v128.store(TMP, t3, 48);
}

// Popcounts of one row against one group of vertical weights (two chains for the adds' latency).
function pop1(a: usize, w: usize, words: i32): v128 {
  let t = i32x4.splat(0);
  for (let q0 = 0; q0 < words; q0 += RUN) {
    const q1 = min(words, q0 + RUN);
    let b0 = i8x16.splat(0),
      b1 = i8x16.splat(0);
    let q = q0;
    for (; q + 2 <= q1; q += 2) {
      b0 = count(b0, v128.load(w + (<usize>q << 4)), a + (<usize>q << 2));
      b1 = count(b1, v128.load(w + (<usize>q << 4), 16), a + (<usize>q << 2) + 4);
    }
    if (q < q1) b0 = count(b0, v128.load(w + (<usize>q << 4)), a + (<usize>q << 2));
    t = i32x4.add(t, widen(i8x16.add(b0, b1)));
  }
  return t;
}

// ±1 dot products from popcounts: K − 2·pc.
@inline
function dots(k: v128, pc: v128): v128 {
  return i32x4.sub(k, i32x4.shl(pc, 1));
}

// 4 bits: (negate ? −s : s) ≥ threshold, for the 4 neurons at t / n.
@inline
function signBits(s: v128, t: usize, n: usize): i32 {
  const neg = v128.load(n);
  return i32x4.bitmask(i32x4.ge_s(i32x4.sub(v128.xor(s, neg), neg), v128.load(t)));
}

// ---- convs -------------------------------------------------------------------------------------

// A conv tile is `items` items (image, pooled output row) from item0; each has pool rows × ow·pool
// conv output positions, in order, whose sums are at SUMS (LDC per position).

// Pools the tile's sums and packs the thresholded bits into the output pixels.
function convOutput(d: usize, item0: i32, items: i32, out: usize): void {
  const pool = field(d, POOL),
    oh = field(d, OH),
    ow = field(d, OW),
    ldc = field(d, LDC);
  const cols = ow * pool,
    ldcBytes = <usize>ldc << 2,
    blocks = ldc >> 5,
    outRow = field(d, OUT_ROW),
    mask = field(d, LAST_MASK);
  const sums = ptr(d, SUMS),
    thresholds = ptr(d, THRESHOLDS),
    negate = ptr(d, NEGATE);
  const down = <usize>cols * ldcBytes; // the next conv row
  for (let i = 0; i < items; i++) {
    const it = item0 + i,
      b = it / oh,
      yo = it % oh;
    const base = sums + <usize>(i * pool * cols) * ldcBytes;
    let px = out + ((<usize>b * <usize>outRow + <usize>(yo * ow * blocks)) << 2);
    for (let x = 0; x < ow; x++) {
      const v = base + <usize>(x * pool) * ldcBytes;
      for (let blk = 0; blk < blocks; blk++) {
        let word = 0;
        for (let j = 0; j < 8; j++) {
          const off = <usize>(blk * 32 + j * 4) << 2;
          let s = v128.load(v + off);
          if (pool == 2) {
            s = i32x4.max_s(
              i32x4.max_s(s, v128.load(v + ldcBytes + off)),
              i32x4.max_s(v128.load(v + down + off), v128.load(v + down + ldcBytes + off)),
            );
          }
          word |= signBits(s, thresholds + off, negate + off) << (j * 4);
        }
        if (blk == blocks - 1) word &= mask;
        store<i32>(px + (<usize>blk << 2), word);
      }
      px += <usize>blocks << 2;
    }
  }
}

// The first conv, on uint8 pixels: sums Σ (2p − 255)·w over the taps inside the image. Each
// position's window is gathered as i16 values (0 for padded taps, K rounded up to pairs), and
// i32x4.dot_i16x8_s multiplies a pair of them by a pair of ±1 weights of 4 filters (weights: pair
// t of filter f at (t·LDC + f)·4 bytes), 8 multiply-adds an instruction, exactly.
function convPixels(d: usize, n: i32, pixels: usize, out: usize): void {
  const h = field(d, H),
    w = field(d, W),
    c = field(d, C),
    ks = field(d, KS),
    pad = field(d, PAD),
    pool = field(d, POOL),
    oh = field(d, OH),
    ow = field(d, OW),
    ldc = field(d, LDC);
  const cols = ow * pool,
    ldcBytes = <usize>ldc << 2,
    blocks = ldc >> 5,
    items = n * oh,
    tileItems = field(d, TILE_ITEMS),
    k = field(d, K),
    pairs = (k + 1) >> 1;
  const weights = ptr(d, WEIGHTS),
    sums = ptr(d, SUMS),
    image = ptr(d, IMAGE);
  const imageSize = h * w * c,
    window = image + (((<usize>imageSize << 1) + 15) & ~(<usize>15));
  const span = <usize>c << 1;
  let current = -1;
  for (let item0 = 0; item0 < items; item0 += tileItems) {
    const cnt = min(tileItems, items - item0);
    let row = sums;
    for (let it = item0; it < item0 + cnt; it++) {
      const b = it / oh,
        yo = it % oh;
      if (b != current) {
        // Each pixel converted once, not once per tap.
        const src = pixels + <usize>b * <usize>imageSize;
        for (let e = 0; e < imageSize; e++) store<i16>(image + (<usize>e << 1), 2 * <i32>load<u8>(src + e) - 255);
        current = b;
      }
      for (let dy = 0; dy < pool; dy++) {
        const y = yo * pool + dy;
        for (let x = 0; x < cols; x++, row += ldcBytes) {
          let dst = window;
          for (let i = 0; i < ks; i++) {
            const yy = y + i - pad;
            for (let j = 0; j < ks; j++, dst += span) {
              const xx = x + j - pad;
              if (yy < 0 || yy >= h || xx < 0 || xx >= w) memory.fill(dst, 0, span);
              else memory.copy(dst, image + (<usize>((yy * w + xx) * c) << 1), span);
            }
          }
          store<i16>(dst, 0); // the second half of an odd K's last pair
          for (let blk = 0; blk < blocks; blk++) {
            let a0 = i32x4.splat(0),
              a1 = i32x4.splat(0),
              a2 = i32x4.splat(0),
              a3 = i32x4.splat(0),
              a4 = i32x4.splat(0),
              a5 = i32x4.splat(0),
              a6 = i32x4.splat(0),
              a7 = i32x4.splat(0);
            let wr = weights + (<usize>blk << 7);
            for (let t = 0; t < pairs; t++, wr += ldcBytes) {
              const v = v128.load32_splat(window + (<usize>t << 2));
              a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v, v128.load(wr)));
              a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v, v128.load(wr, 16)));
              a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v, v128.load(wr, 32)));
              a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v, v128.load(wr, 48)));
              a4 = i32x4.add(a4, i32x4.dot_i16x8_s(v, v128.load(wr, 64)));
              a5 = i32x4.add(a5, i32x4.dot_i16x8_s(v, v128.load(wr, 80)));
              a6 = i32x4.add(a6, i32x4.dot_i16x8_s(v, v128.load(wr, 96)));
              a7 = i32x4.add(a7, i32x4.dot_i16x8_s(v, v128.load(wr, 112)));
            }
            const o = row + (<usize>blk << 7);
            v128.store(o, a0);
            v128.store(o, a1, 16);
            v128.store(o, a2, 32);
            v128.store(o, a3, 48);
            v128.store(o, a4, 64);
            v128.store(o, a5, 80);
            v128.store(o, a6, 96);
            v128.store(o, a7, 112);
          }
        }
      }
    }
    convOutput(d, item0, cnt, out);
  }
}

@inline
function copyWords(dst: usize, src: usize, words: i32): void {
  let q = 0;
  for (; q + 4 <= words; q += 4) v128.store(dst + (<usize>q << 2), v128.load(src + (<usize>q << 2)));
  for (; q < words; q++) store<u32>(dst + (<usize>q << 2), load<u32>(src + (<usize>q << 2)));
}

// A conv on packed bits: im2col of whole words per pixel, popcounts, padding correction.
function convBits(d: usize, n: i32, input: usize, out: usize): void {
  const h = field(d, H),
    w = field(d, W),
    ks = field(d, KS),
    pad = field(d, PAD),
    pool = field(d, POOL),
    oh = field(d, OH),
    ow = field(d, OW),
    ldc = field(d, LDC);
  const cols = ow * pool,
    per = pool * cols,
    ldcBytes = <usize>ldc << 2,
    items = n * oh,
    tileItems = field(d, TILE_ITEMS);
  const words = field(d, WORDS),
    pw = field(d, PW_IN),
    inRow = field(d, IN_ROW),
    groups = field(d, GROUPS);
  const rowBytes = <usize>words << 2,
    k = i32x4.splat(field(d, K));
  const weights = ptr(d, WEIGHTS),
    rows = ptr(d, ROWS),
    sums = ptr(d, SUMS),
    ones = ptr(d, ONES);
  const corr = ptr(d, CORR),
    caseY = ptr(d, CASE_Y),
    caseX = ptr(d, CASE_X),
    casesX = field(d, CASES_X);
  for (let item0 = 0; item0 < items; item0 += tileItems) {
    const cnt = min(tileItems, items - item0),
      m = cnt * per;
    // The tile's im2col rows.
    let dst = rows;
    for (let it = item0; it < item0 + cnt; it++) {
      const img = input + ((<usize>(it / oh) * <usize>inRow) << 2),
        yo = it % oh;
      for (let dy = 0; dy < pool; dy++) {
        const y = yo * pool + dy;
        for (let x = 0; x < cols; x++) {
          const x0 = x - pad;
          for (let i = 0; i < ks; i++) {
            const yy = y + i - pad;
            const inside = yy >= 0 && yy < h;
            if (inside && x0 >= 0 && x0 + ks <= w) {
              // The window's row lies inside the image: ks pixels in a row are contiguous words.
              copyWords(dst, img + (<usize>((yy * w + x0) * pw) << 2), ks * pw);
              dst += <usize>(ks * pw) << 2;
              continue;
            }
            for (let j = 0; j < ks; j++, dst += <usize>pw << 2) {
              const xx = x0 + j;
              const src = inside && xx >= 0 && xx < w ? img + (<usize>((yy * w + xx) * pw) << 2) : ones;
              copyWords(dst, src, pw);
            }
          }
        }
      }
    }
    // The product: groups of 4 neurons outside (their weights stay in L1), 4 rows at a time.
    for (let g = 0; g < groups; g++) {
      const wg = weights + <usize>g * <usize>words * 16,
        col = <usize>g << 4;
      let r = 0;
      for (; r + 4 <= m; r += 4) {
        pop4(rows + <usize>r * rowBytes, rowBytes, wg, words);
        const s = sums + <usize>r * ldcBytes + col;
        v128.store(s, dots(k, v128.load(TMP)));
        v128.store(s + ldcBytes, dots(k, v128.load(TMP, 16)));
        v128.store(s + 2 * ldcBytes, dots(k, v128.load(TMP, 32)));
        v128.store(s + 3 * ldcBytes, dots(k, v128.load(TMP, 48)));
      }
      for (; r < m; r++)
        v128.store(sums + <usize>r * ldcBytes + col, dots(k, pop1(rows + <usize>r * rowBytes, wg, words)));
    }
    // Padded taps: what their +1 fill added is subtracted (CORR is 0 where no position has one; an
    // even 'same' kernel has them with pad = 0, at the bottom and right).
    if (corr != 0) {
      let s = sums;
      for (let it = item0; it < item0 + cnt; it++) {
        const yo = it % oh;
        for (let dy = 0; dy < pool; dy++) {
          const cy = load<i32>(caseY + (<usize>(yo * pool + dy) << 2)) * casesX;
          for (let x = 0; x < cols; x++, s += ldcBytes) {
            const id = cy + load<i32>(caseX + (<usize>x << 2));
            if (id == 0) continue;
            const cr = corr + <usize>id * ldcBytes;
            for (let g = 0; g < groups; g++) {
              const o = <usize>g << 4;
              v128.store(s + o, i32x4.sub(v128.load(s + o), v128.load(cr + o)));
            }
          }
        }
      }
    }
    convOutput(d, item0, cnt, out);
  }
}

// ---- dense layers ------------------------------------------------------------------------------

// The first dense layer's rows from n images of K pixels: 8 bit-plane rows per image (plane p at
// row 8i + p) or one row of signs, IN_ROW words each, the bits past K 0.
function packPixels(d: usize, n: i32, pixels: usize, rows: usize): void {
  const kk = field(d, K),
    planes = field(d, KIND) == 2,
    rowBytes = <usize>field(d, IN_ROW) << 2;
  const perImage = planes ? 8 : 1;
  memory.fill(rows, 0, <usize>(n * perImage) * rowBytes);
  for (let i = 0; i < n; i++) {
    const src = pixels + <usize>i * <usize>kk,
      dst = rows + <usize>(i * perImage) * rowBytes;
    let e = 0;
    for (; e + 16 <= kk; e += 16) {
      const v = v128.load(src + e),
        word = dst + (<usize>(e >> 5) << 2),
        shift = e & 16;
      if (planes) {
        for (let p = 0; p < 8; p++) {
          const at = word + <usize>p * rowBytes;
          store<u32>(at, load<u32>(at) | (<u32>i8x16.bitmask(i8x16.shl(v, 7 - p)) << shift));
        }
      } else {
        store<u32>(word, load<u32>(word) | (<u32>i8x16.bitmask(v) << shift)); // the top bit: p ≥ 128
      }
    }
    for (; e < kk; e++) {
      const px = <u32>load<u8>(src + e),
        word = dst + (<usize>(e >> 5) << 2),
        bit = e & 31;
      if (planes) {
        for (let p = 0; p < 8; p++) {
          const at = word + <usize>p * rowBytes;
          store<u32>(at, load<u32>(at) | (((px >> p) & 1) << bit));
        }
      } else {
        store<u32>(word, load<u32>(word) | ((px >> 7) << bit));
      }
    }
  }
}

// Writes image i's sums s of neurons 4g..4g+3: 4 sign bits into the output row, or scores.
@inline
function emit(d: usize, i: i32, g: i32, s: v128, out: usize): void {
  if (field(d, SCORES)) {
    const units = field(d, UNITS),
      scale = ptr(d, SCALE),
      shift = ptr(d, SHIFT),
      j = g * 4;
    const o = out + (<usize>(i * units + j) << 3);
    const sc = scale + (<usize>j << 3),
      sh = shift + (<usize>j << 3);
    store<f64>(o, load<f64>(sc) * <f64>i32x4.extract_lane(s, 0) + load<f64>(sh));
    if (j + 1 < units) store<f64>(o, load<f64>(sc, 8) * <f64>i32x4.extract_lane(s, 1) + load<f64>(sh, 8), 8);
    if (j + 2 < units) store<f64>(o, load<f64>(sc, 16) * <f64>i32x4.extract_lane(s, 2) + load<f64>(sh, 16), 16);
    if (j + 3 < units) store<f64>(o, load<f64>(sc, 24) * <f64>i32x4.extract_lane(s, 3) + load<f64>(sh, 24), 24);
  } else {
    const off = <usize>g << 4;
    const bits = signBits(s, ptr(d, THRESHOLDS) + off, ptr(d, NEGATE) + off);
    const word = out + ((<usize>i * <usize>field(d, OUT_ROW) + <usize>(g >> 3)) << 2);
    store<i32>(word, load<i32>(word) | (bits << ((g & 7) * 4)));
  }
}

function dense(d: usize, n: i32, input: usize, out: usize): void {
  const planes = field(d, KIND) == 2,
    words = field(d, WORDS),
    groups = field(d, GROUPS),
    k = i32x4.splat(field(d, K));
  const rowBytes = <usize>field(d, IN_ROW) << 2,
    weights = ptr(d, WEIGHTS);
  if (!field(d, SCORES)) memory.fill(out, 0, <usize>n * (<usize>field(d, OUT_ROW) << 2));
  // Groups of 4 neurons outside: each group's weights are read once per batch.
  for (let g = 0; g < groups; g++) {
    const wg = weights + <usize>g * <usize>words * 16;
    if (planes) {
      for (let i = 0; i < n; i++) {
        const a = input + <usize>(i * 8) * rowBytes;
        pop4(a + 4 * rowBytes, rowBytes, wg, words); // planes 4..7
        let s = dots(k, v128.load(TMP, 48));
        s = i32x4.add(i32x4.shl(s, 1), dots(k, v128.load(TMP, 32)));
        s = i32x4.add(i32x4.shl(s, 1), dots(k, v128.load(TMP, 16)));
        s = i32x4.add(i32x4.shl(s, 1), dots(k, v128.load(TMP)));
        pop4(a, rowBytes, wg, words); // planes 0..3
        s = i32x4.add(i32x4.shl(s, 1), dots(k, v128.load(TMP, 48)));
        s = i32x4.add(i32x4.shl(s, 1), dots(k, v128.load(TMP, 32)));
        s = i32x4.add(i32x4.shl(s, 1), dots(k, v128.load(TMP, 16)));
        s = i32x4.add(i32x4.shl(s, 1), dots(k, v128.load(TMP)));
        emit(d, i, g, s, out);
      }
      continue;
    }
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      pop4(input + <usize>i * rowBytes, rowBytes, wg, words);
      emit(d, i, g, dots(k, v128.load(TMP)), out);
      emit(d, i + 1, g, dots(k, v128.load(TMP, 16)), out);
      emit(d, i + 2, g, dots(k, v128.load(TMP, 32)), out);
      emit(d, i + 3, g, dots(k, v128.load(TMP, 48)), out);
    }
    for (; i < n; i++) emit(d, i, g, dots(k, pop1(input + <usize>i * rowBytes, wg, words)), out);
  }
}

/**
 * Runs layer `d` (a descriptor written by ../wasmNetwork.ts) on n images: `input` is the pixels
 * (first layer) or the previous layer's output rows, `out` its packed rows or float64 scores.
 */
export function runLayer(d: usize, n: i32, input: usize, out: usize): void {
  const kind = field(d, KIND);
  if (kind == 0) convPixels(d, n, input, out);
  else if (kind == 1) convBits(d, n, input, out);
  else if (kind == 4) dense(d, n, input, out);
  else {
    packPixels(d, n, input, ptr(d, ROWS));
    dense(d, n, ptr(d, ROWS), out);
  }
}
