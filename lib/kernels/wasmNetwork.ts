/**
 * The wasm tier's `compileNetwork`: a packed model run whole inside WebAssembly
 * (lib/kernels/wasm/network.ts, the same arithmetic as native/engine.cc). Each compiled network
 * gets its own instance of the module, so its memory holds nothing else: the layers' weights
 * (vertical layout, with the per-pixel gaps of the activations they read), thresholds, padding
 * corrections and descriptors are written once here; the activations and scratch buffers for a
 * batch of up to `chunk` images are laid out once too and reused by every run. A run copies the
 * pixels in, makes one `runLayer` call per layer and batch, and copies the scores out.
 * Nothing here needs Node.
 */
import { checkNetworkSpec, convOutputShape, type ConvGeometry } from './networkShape';
import type { CompiledNetwork, NetworkLayerSpec } from './kernel';

interface NetworkExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  runLayer(desc: number, n: number, input: number, out: number): void;
}

// Descriptor fields: the numbers of lib/kernels/wasm/network.ts.
const F = {
  KIND: 0,
  SCORES: 1,
  H: 2,
  W: 3,
  C: 4,
  KS: 5,
  PAD: 6,
  POOL: 7,
  OH: 8,
  OW: 9,
  UNITS: 10,
  LDC: 11,
  K: 12,
  WORDS: 13,
  PW_IN: 14,
  IN_ROW: 15,
  OUT_ROW: 16,
  WEIGHTS: 17,
  THRESHOLDS: 18,
  NEGATE: 19,
  CORR: 20,
  CASE_Y: 21,
  CASE_X: 22,
  CASES_X: 23,
  SCALE: 24,
  SHIFT: 25,
  ROWS: 26,
  SUMS: 27,
  IMAGE: 28,
  TILE_ITEMS: 29,
  GROUPS: 30,
  ONES: 31,
  LAST_MASK: 32,
} as const;
const FIELDS = 33;
const KIND = { convPixels: 0, convBits: 1, densePixels: 2, denseSigns: 3, denseBits: 4 } as const;

/** Conv output positions per tile (the product's rows), and the bytes of activations per run. */
const TILE_POSITIONS = 64;
const BATCH_BYTES = 64 * 2 ** 20;
const MAX_BATCH = 256;
const INT32_MAX = 2 ** 31 - 1;

const words32 = (bits: number) => Math.ceil(bits / 32);
const roundUp = (x: number, to: number) => Math.ceil(x / to) * to;

/** A layer's geometry in the module's units (32-bit words), before its arrays are placed. */
interface Plan {
  spec: NetworkLayerSpec;
  kind: number;
  units: number;
  ldc: number;
  K: number;
  words: number;
  inRow: number;
  outRow: number;
  pwIn: number;
  h: number;
  w: number;
  c: number;
  ks: number;
  pad: number;
  pool: number;
  ch: number;
  cw: number;
  oh: number;
  ow: number;
  tileItems: number;
  /** Logical input bit i = g·group + e goes to word g·gw + ⌊e/32⌋ (the input's per-pixel gaps). */
  group: number;
  gw: number;
}

function plan(layers: readonly NetworkLayerSpec[]): Plan[] {
  const plans: Plan[] = [];
  for (const [i, spec] of layers.entries()) {
    const prev = plans[i - 1];
    const units = spec.weights.rows,
      K = spec.weights.k;
    const p: Plan = {
      spec,
      kind: 0,
      units,
      ldc: roundUp(units, 32),
      K,
      words: 0,
      inRow: 0,
      outRow: 0,
      pwIn: 0,
      h: 0,
      w: 0,
      c: 0,
      ks: 0,
      pad: 0,
      pool: 1,
      ch: 0,
      cw: 0,
      oh: 0,
      ow: 0,
      tileItems: 0,
      group: K,
      gw: words32(K),
    };
    if (i === 0 && spec.kind === 'dense' && spec.input === 'pixels' && spec.output.kind === 'sign') {
      // A dense layer on pixels is a 1×1 conv of a one-pixel image with K channels: the conv's
      // i16 dot products (8 pixels × 8 weights an instruction) beat 8 bit planes of popcounts here.
      Object.assign(p, { h: 1, w: 1, c: K, ks: 1, pool: 1, ch: 1, cw: 1, oh: 1, ow: 1 });
      p.kind = KIND.convPixels;
      p.outRow = p.ldc / 32;
      p.inRow = K;
      p.tileItems = TILE_POSITIONS;
    } else if (spec.kind === 'conv') {
      const l = spec as NetworkLayerSpec & ConvGeometry;
      Object.assign(p, { h: l.height, w: l.width, c: l.channels, ks: l.kernelSize, pool: l.pool });
      p.pad = l.padding === 'same' ? Math.floor((l.kernelSize - 1) / 2) : 0;
      p.ch = l.padding === 'same' ? l.height : l.height - l.kernelSize + 1;
      p.cw = l.padding === 'same' ? l.width : l.width - l.kernelSize + 1;
      [p.oh, p.ow] = convOutputShape(l);
      p.outRow = p.oh * p.ow * (p.ldc / 32);
      p.tileItems = Math.max(1, Math.floor(TILE_POSITIONS / (p.pool * p.pool * p.ow)));
      if (i === 0) {
        p.kind = KIND.convPixels;
        p.inRow = p.h * p.w * p.c;
      } else {
        p.kind = KIND.convBits;
        p.pwIn = prev.ldc / 32;
        p.inRow = prev.outRow;
        p.words = p.ks * p.ks * p.pwIn;
        p.group = p.c;
        p.gw = p.pwIn;
      }
    } else {
      p.outRow = p.ldc / 32;
      if (i === 0) {
        p.kind = spec.input === 'pixels' ? KIND.densePixels : KIND.denseSigns;
        p.words = words32(K);
        p.inRow = p.words;
      } else {
        p.kind = KIND.denseBits;
        p.inRow = prev.outRow;
        p.words = prev.outRow;
        if (prev.spec.kind === 'conv') {
          p.group = prev.units;
          p.gw = prev.ldc / 32;
        }
      }
    }
    plans.push(p);
  }
  return plans;
}

/** Bytes from `heapBase` on, 64-byte aligned blocks. */
class Layout {
  constructor(public at: number) {}
  take(bytes: number): number {
    this.at = roundUp(this.at, 64);
    const start = this.at;
    this.at += Math.max(bytes, 16);
    return start;
  }
}

/** The vertical weights (groups of 4 neurons, word q of the 4 side by side) with the input's gaps. */
function verticalWeights(p: Plan): Uint32Array {
  const { rows, stride, data } = p.spec.weights;
  const out = new Uint32Array((p.ldc / 4) * p.words * 4);
  for (let r = 0; r < rows; r++) {
    const base = (r >> 2) * p.words * 4 + (r & 3);
    const src = r * stride;
    if (p.group % 32 === 0 || p.group === p.K) {
      // No gaps: the same words, the bits past k cleared.
      for (let q = 0; q < words32(p.K); q++) {
        const bits = Math.min(32, p.K - 32 * q);
        out[base + 4 * q] = bits === 32 ? data[src + q] : data[src + q] & ((1 << bits) - 1);
      }
      continue;
    }
    for (let i = 0; i < p.K; i++) {
      if (!((data[src + (i >>> 5)] >>> (i & 31)) & 1)) continue;
      const g = Math.floor(i / p.group),
        e = i - g * p.group;
      out[base + 4 * (g * p.gw + (e >>> 5))] |= 1 << (e & 31);
    }
  }
  return out;
}

/** For one axis, the border case of each conv output position: id 0 is the full range of taps. */
function borderCases(out: number, pad: number, k: number, size: number): { id: Int32Array; ranges: number[][] } {
  const ranges: number[][] = [[0, k]];
  const id = new Int32Array(out);
  for (let o = 0; o < out; o++) {
    const p0 = o - pad;
    const lo = Math.min(Math.max(-p0, 0), k);
    const hi = Math.max(lo, Math.min(Math.max(size - p0, 0), k));
    let at = ranges.findIndex(([a, b]) => a === lo && b === hi);
    if (at < 0) at = ranges.push([lo, hi]) - 1;
    id[o] = at;
  }
  return { id, ranges };
}

/** The padding corrections: per border case (y, x) × ldc, Σ over the padded taps of each tap's Σ_ch w. */
function corrections(p: Plan): { corr: Int32Array; caseY: Int32Array; caseX: Int32Array; casesX: number } {
  const { rows, stride, data } = p.spec.weights;
  const taps = p.ks * p.ks;
  const tap = new Int32Array(taps * rows);
  for (let f = 0; f < rows; f++)
    for (let t = 0; t < taps; t++) {
      let s = 0;
      for (let e = 0; e < p.c; e++) {
        const bit = t * p.c + e;
        s += (data[f * stride + (bit >>> 5)] >>> (bit & 31)) & 1 ? 1 : -1;
      }
      tap[t * rows + f] = s;
    }
  const ys = borderCases(p.ch, p.pad, p.ks, p.h),
    xs = borderCases(p.cw, p.pad, p.ks, p.w);
  const corr = new Int32Array(ys.ranges.length * xs.ranges.length * p.ldc);
  ys.ranges.forEach(([y0, y1], cy) =>
    xs.ranges.forEach(([x0, x1], cx) => {
      const dst = (cy * xs.ranges.length + cx) * p.ldc;
      for (let i = 0; i < p.ks; i++)
        for (let j = 0; j < p.ks; j++) {
          if (i >= y0 && i < y1 && j >= x0 && j < x1) continue;
          for (let f = 0; f < rows; f++) corr[dst + f] += tap[(i * p.ks + j) * rows + f];
        }
    }),
  );
  return { corr, caseY: ys.id, caseX: xs.id, casesX: xs.ranges.length };
}

/** The compiled network on its own instance of the wasm module. */
export class WasmNetwork implements CompiledNetwork {
  private readonly exports: NetworkExports;
  private readonly descs: number[] = [];
  private readonly plans: Plan[];
  private readonly classes: number;
  /** Images per runLayer call. */
  readonly batch: number;
  private readonly pixelsAt: number;
  private readonly act: [number, number];
  private readonly scoresAt: number;

  constructor(
    module: WebAssembly.Module,
    readonly inputSize: number,
    layers: readonly NetworkLayerSpec[],
  ) {
    checkNetworkSpec(inputSize, layers);
    this.exports = new WebAssembly.Instance(module, {}).exports as unknown as NetworkExports;
    if (typeof this.exports.runLayer !== 'function')
      throw new Error('the WebAssembly module has no runLayer (rebuild build/xnor.wasm: npm run build:kernels)');
    const plans = (this.plans = plan(layers));
    const last = plans[plans.length - 1];
    this.classes = last.units;
    const heap = new Layout(this.exports.heapBase());
    const arrays: [number, ArrayBufferView][] = [];
    const place = (a: ArrayBufferView): number => {
      const at = heap.take(a.byteLength);
      arrays.push([at, a]);
      return at;
    };
    // Per-layer constants.
    const fields = plans.map((p) => {
      const d = new Int32Array(FIELDS);
      const s = p.spec;
      d.set([p.kind, s.output.kind === 'scores' ? 1 : 0, p.h, p.w, p.c, p.ks, p.pad, p.pool, p.oh, p.ow], 0);
      d.set([p.units, p.ldc, p.K, p.words, p.pwIn, p.inRow, p.outRow], F.UNITS);
      d[F.TILE_ITEMS] = p.tileItems;
      d[F.GROUPS] = Math.ceil(p.units / 4);
      d[F.LAST_MASK] = p.units % 32 ? (1 << (p.units % 32)) - 1 : -1;
      if (p.kind === KIND.convPixels) {
        const { rows, stride, data } = s.weights;
        // Pairs of taps × channels as i16 (t·LDC + f)·2 + (i & 1) for i = 2t, 2t + 1; 0 past K and the filters.
        const w = new Int16Array(roundUp(p.K, 2) * p.ldc);
        for (let f = 0; f < rows; f++)
          for (let i = 0; i < p.K; i++)
            w[((i >> 1) * p.ldc + f) * 2 + (i & 1)] = (data[f * stride + (i >>> 5)] >>> (i & 31)) & 1 ? 1 : -1;
        d[F.WEIGHTS] = place(w);
      } else d[F.WEIGHTS] = place(verticalWeights(p));
      if (s.output.kind === 'sign') {
        const t = new Int32Array(p.ldc).fill(INT32_MAX);
        t.set(s.output.thresholds);
        d[F.THRESHOLDS] = place(t);
        d[F.NEGATE] = place(
          Int32Array.from({ length: p.ldc }, (_, j) =>
            j < p.units && s.output.kind === 'sign' && s.output.flips[j] ? -1 : 0,
          ),
        );
      } else {
        d[F.SCALE] = place(Float64Array.from(s.output.scale));
        d[F.SHIFT] = place(Float64Array.from(s.output.shift));
      }
      if (p.kind === KIND.convBits) {
        const ones = new Uint32Array(p.pwIn);
        for (let q = 0; q < p.pwIn; q++) {
          const bits = Math.min(32, p.c - 32 * q);
          ones[q] = bits === 32 ? 0xffffffff : (1 << bits) - 1;
        }
        d[F.ONES] = place(ones);
        const c = corrections(p);
        if (c.caseY.some((id) => id !== 0) || c.caseX.some((id) => id !== 0)) d[F.CORR] = place(c.corr);
        d[F.CASE_Y] = place(c.caseY);
        d[F.CASE_X] = place(c.caseX);
        d[F.CASES_X] = c.casesX;
      }
      return d;
    });
    // Images per call: activations of at most BATCH_BYTES.
    const maxRow = Math.max(...plans.map((p) => p.outRow));
    const firstRows = plans[0].kind === KIND.densePixels ? 8 : plans[0].kind === KIND.denseSigns ? 1 : 0;
    const perImage = inputSize + 8 * maxRow + firstRows * plans[0].inRow * 4 + 8 * this.classes;
    this.batch = Math.max(1, Math.min(MAX_BATCH, Math.floor(BATCH_BYTES / perImage)));
    // Scratch shared by the layers: a conv tile's im2col rows and sums, one image as i32.
    let rowsBytes = firstRows * this.batch * plans[0].inRow * 4,
      sumsBytes = 0,
      imageBytes = 0;
    for (const p of plans) {
      if (p.kind !== KIND.convPixels && p.kind !== KIND.convBits) continue;
      const positions = p.tileItems * p.pool * p.pool * p.ow;
      rowsBytes = Math.max(rowsBytes, positions * p.words * 4);
      sumsBytes = Math.max(sumsBytes, positions * p.ldc * 4);
      if (p.kind === KIND.convPixels) imageBytes = roundUp(p.h * p.w * p.c * 2, 16) + roundUp(p.K, 2) * 2;
    }
    const rows = heap.take(rowsBytes),
      sums = heap.take(sumsBytes),
      image = heap.take(imageBytes);
    this.pixelsAt = heap.take(this.batch * inputSize);
    this.act = [heap.take(this.batch * maxRow * 4), heap.take(this.batch * maxRow * 4)];
    this.scoresAt = heap.take(this.batch * this.classes * 8);
    for (const d of fields) {
      d[F.ROWS] = rows;
      d[F.SUMS] = sums;
      d[F.IMAGE] = image;
      this.descs.push(place(d));
    }
    const end = heap.take(16);
    if (end > 2 ** 32 - 65536)
      throw new RangeError(`the network needs ${end} bytes of WebAssembly memory, more than its 4 GiB`);
    const memory = this.exports.memory;
    const missing = end - memory.buffer.byteLength;
    if (missing > 0) {
      try {
        memory.grow(Math.ceil(missing / 65536));
      } catch (err) {
        throw new RangeError(`the network needs ${end} bytes of WebAssembly memory: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    const bytes = new Uint8Array(memory.buffer);
    for (const [at, a] of arrays) bytes.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
  }

  run(pixels: Uint8Array, n: number, scores: Float64Array, threads: number, profile?: Float64Array): void {
    if (!Number.isInteger(n) || n < 0 || n > 2 ** 24)
      throw new RangeError(`n must be an integer in [0, 2^24], got ${n}`);
    if (!(pixels instanceof Uint8Array)) throw new TypeError('pixels must be a Uint8Array');
    if (pixels.length < n * this.inputSize)
      throw new RangeError(`pixels has ${pixels.length} elements, needs ${n * this.inputSize}`);
    if (!(scores instanceof Float64Array)) throw new TypeError('scores must be a Float64Array');
    if (scores.length < n * this.classes)
      throw new RangeError(`scores has ${scores.length} elements, needs ${n * this.classes}`);
    if (!Number.isInteger(threads) || threads < 1 || threads > 1024)
      throw new RangeError(`threads must be an integer in [1, 1024], got ${threads}`);
    if (profile !== undefined && (!(profile instanceof Float64Array) || profile.length < this.plans.length))
      throw new RangeError(`profile must be a Float64Array of ${this.plans.length} elements`);
    const { memory, runLayer } = this.exports;
    for (let start = 0; start < n; start += this.batch) {
      const m = Math.min(this.batch, n - start);
      new Uint8Array(memory.buffer, this.pixelsAt, m * this.inputSize).set(
        pixels.subarray(start * this.inputSize, (start + m) * this.inputSize),
      );
      let input = this.pixelsAt;
      for (let l = 0; l < this.descs.length; l++) {
        const t0 = performance.now();
        const out = l === this.descs.length - 1 ? this.scoresAt : this.act[l % 2];
        runLayer(this.descs[l], m, input, out);
        input = out;
        if (profile) profile[l] += (performance.now() - t0) / 1000;
      }
      scores.set(new Float64Array(memory.buffer, this.scoresAt, m * this.classes), start * this.classes);
    }
  }
}
