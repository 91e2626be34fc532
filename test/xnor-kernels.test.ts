import { describe, expect, it } from 'vitest';
import {
  allocPacked,
  packBitPlanes,
  packColumns,
  packRows,
  selectKernel,
  strideFor,
  tryKernel,
  unpackRows,
  xnorGemmReference,
  type XnorKernel,
} from '../lib/kernels';
import { foldThresholds } from '../lib/engine';
import { loadNativeAddon } from '../lib/kernels/native';
import { seededRandom } from '../lib/random';
import { kernelTiers, nativeIsas } from './helpers/kernelTiers';

function randomSigns(count: number, random: () => number): Float32Array {
  return Float32Array.from({ length: count }, () => (random() < 0.5 ? -1 : 1));
}

/** Plain float matmul of A (m × k) and B (k × n). */
function floatMatMul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) c[i * n + j] += a[i * k + p] * b[p * n + j];
  return c;
}

describe('bit packing', () => {
  it('rounds rows up to whole 512-bit vectors and maps 0 to +1', () => {
    expect(strideFor(0)).toBe(0);
    expect(strideFor(1)).toBe(16);
    expect(strideFor(512)).toBe(16);
    expect(strideFor(513)).toBe(32);
    const p = packRows([0, -0.5, 2, -1, 1e-9], 1, 5);
    expect(p.data[0]).toBe(0b10101);
    expect(Array.from(unpackRows(p))).toEqual([1, -1, 1, -1, 1]);
  });

  it('packs columns as the transpose of packing rows', () => {
    const random = seededRandom(1);
    const k = 70,
      n = 9;
    const b = randomSigns(k * n, random);
    const bt = new Float32Array(n * k);
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) bt[j * k + p] = b[p * n + j];
    expect(packColumns(b, k, n)).toEqual(packRows(bt, n, k));
  });

  it('splits uint8 values into 8 bit planes', () => {
    const p = packBitPlanes(Uint8Array.from([0, 255, 5, 128]), 1, 4);
    expect(p.rows).toBe(8);
    const planes = Array.from({ length: 8 }, (_, n) => p.data[n * p.stride]);
    expect(planes).toEqual([0b0110, 0b0010, 0b0110, 0b0010, 0b0010, 0b0010, 0b0010, 0b1010]);
  });

  it('rejects bad arguments', () => {
    expect(() => packRows([1, 2, 3], 2, 2)).toThrow(/expected 4/);
    expect(() => packRows([NaN], 1, 1)).toThrow(/NaN/);
    expect(() => allocPacked(-1, 3)).toThrow(RangeError);
    expect(() => allocPacked(1, 1.5)).toThrow(RangeError);
    expect(() => packBitPlanes(new Uint8Array(3), 1, 4)).toThrow(/expected/);
  });
});

for (const { kernel: loaded, title } of kernelTiers) {
  describe.skipIf(!loaded)(`XNOR GEMM, ${title}`, () => {
    const kernel = loaded!;
    it('equals a float matmul on random ±1 matrices of awkward shapes', () => {
      const random = seededRandom(7);
      const shapes: [number, number, number][] = [
        [1, 1, 1],
        [3, 5, 31],
        [4, 4, 32],
        [5, 3, 33],
        [7, 9, 63],
        [2, 17, 64],
        [6, 6, 65],
        [17, 13, 100],
        [33, 31, 511],
        [20, 21, 513],
        [9, 40, 1000],
        [130, 67, 200],
      ];
      for (const [m, n, k] of shapes) {
        const a = randomSigns(m * k, random);
        const b = randomSigns(k * n, random);
        const expected = floatMatMul(a, b, m, k, n);
        const got = kernel.gemm(packRows(a, m, k), packColumns(b, k, n));
        expect(Array.from(got), `${m}×${k}·${k}×${n}`).toEqual(Array.from(expected));
      }
    });

    it('writes into a given output buffer and checks it', () => {
      const a = packRows([1, -1, 1, 1, -1, -1], 2, 3);
      const out = new Int32Array(4).fill(99);
      expect(kernel.gemm(a, a, { out })).toBe(out);
      expect(Array.from(out)).toEqual([3, 1, 1, 3]);
      expect(() => kernel.gemm(a, a, { out: new Int32Array(3) })).toThrow(/out has 3 values, expected 4/);
      expect(() => kernel.gemm(a, a, { out: new Float32Array(4) as unknown as Int32Array })).toThrow(/Int32Array/);
    });

    it('handles empty sizes', () => {
      expect(kernel.gemm(packRows([], 0, 5), packRows(new Float32Array(15), 3, 5)).length).toBe(0);
      expect(Array.from(kernel.gemm(allocPacked(2, 0), allocPacked(3, 0)))).toEqual([0, 0, 0, 0, 0, 0]);
    });

    it('packs sign(BatchNorm(score)) as computed in floating point, ties (exactly 0) to +1', () => {
      const random = seededRandom(3);
      const m = 13,
        n = 70;
      const scores = Int32Array.from({ length: m * n }, () => Math.floor(random() * 41) - 20);
      // A third of the scales negative, two zero (constant output); the last ten neurons have integer
      // means and no shift, so some scores land exactly on the boundary.
      const c = Float64Array.from({ length: n }, (_, j) =>
        j < 2 ? 0 : (random() < 0.3 ? -1 : 1) * (0.1 + 3 * random()),
      );
      const mu = Float64Array.from({ length: n }, (_, j) =>
        j >= n - 10 ? Math.round(random() * 20 - 10) : random() * 30 - 15,
      );
      const beta = Float64Array.from({ length: n }, (_, j) => (j >= n - 10 ? 0 : random() * 4 - 2));
      const { thresholds, flips } = foldThresholds({ c, mu, beta }, 1);
      const expected = Array.from(scores, (s, i) => (c[i % n] * (s - mu[i % n]) + beta[i % n] >= 0 ? 1 : -1));
      expect(expected.filter((v) => v === 1).length).toBeGreaterThan(m * n * 0.2);
      expect(expected.filter((v) => v === -1).length).toBeGreaterThan(m * n * 0.2);
      expect(Array.from(unpackRows(kernel.thresholdPack(scores, m, n, thresholds, flips)))).toEqual(expected);
    });

    it('validates its operands', () => {
      const a = packRows([1, -1, 1], 1, 3);
      expect(() => kernel.gemm(a, packRows([1, 1], 1, 2))).toThrow(/k = 3 but b has k = 2/);
      const dirty = packRows([1, -1, 1], 1, 3);
      dirty.data[0] |= 1 << 5;
      expect(() => kernel.gemm(a, dirty)).toThrow(/padding/);
      expect(() => kernel.gemm(a, { ...a, data: new Uint32Array(2) })).toThrow(/needs 16/);
      expect(() => kernel.gemm(a, { ...a, stride: 8 })).toThrow(/stride/);
      expect(() => kernel.gemm(a, { ...a, data: new Float32Array(16) as unknown as Uint32Array })).toThrow(
        /Uint32Array/,
      );
      expect(() => kernel.gemm(a, a, { threads: 0 })).toThrow(/threads/);
      expect(() => kernel.thresholdPack(new Int32Array(4), 2, 2, new Int32Array(1), new Uint8Array(2))).toThrow(
        /thresholds/,
      );
    });
  });
}

const { addon, why } = loadNativeAddon();

describe.skipIf(!addon)(`native addon${addon ? '' : ` (unavailable: ${why})`}`, () => {
  // One test per instruction set, so that one this CPU lacks shows as a skip.
  for (const { isa, tag } of nativeIsas()) {
    it.skipIf(!addon?.isas.includes(isa))(`computes the same on ${isa} at every thread count${tag}`, () => {
      const random = seededRandom(11);
      const m = 37,
        n = 45,
        k = 777;
      const a = packRows(randomSigns(m * k, random), m, k);
      const b = packRows(randomSigns(n * k, random), n, k);
      const expected = Array.from(xnorGemmReference(a, b));
      const native = tryKernel('native') as XnorKernel;
      for (const threads of [1, 2, 3, 8])
        expect(Array.from(native.gemm(a, b, { isa, threads })), `${threads} threads`).toEqual(expected);
    });
  }

  it('throws instead of crashing on bad arguments', () => {
    const a = new Uint32Array(16),
      c = new Int32Array(1);
    const good = { a, b: a, m: 1, n: 1, k: 32, stride: 16, out: c, threads: 1 };
    /** gemm (or bitPlaneGemm) with some fields of a good call replaced. */
    const g =
      (change: Record<string, unknown>, kernel = addon!.gemm) =>
      () =>
        kernel({ ...good, ...change } as typeof good);
    expect(() => (addon!.gemm as unknown as () => void)()).toThrow(/gemm takes one object of named arguments/);
    expect(() => addon!.gemm({} as typeof good)).toThrow(/m must be a number/);
    expect(g({})).not.toThrow();
    expect(g({ m: 2 })).toThrow(/a has 16 elements, needs 32/);
    expect(g({ out: new Int32Array(0) })).toThrow(/out has 0 elements/);
    expect(g({ stride: 8 })).toThrow(/multiple of 16/);
    expect(g({ k: 600 })).toThrow(/too short/);
    expect(g({ m: -1 })).toThrow(/integer/);
    expect(g({ m: 1.5 })).toThrow(/integer/);
    expect(g({ m: 2 ** 52, n: 2 ** 52 })).toThrow(/overflows|elements/);
    expect(g({ threads: 0 })).toThrow(/threads/);
    expect(g({ a: new Float64Array(16) })).toThrow(/Uint32Array/);
    expect(g({ a: a.subarray(1), k: 16 })).toThrow(/8-byte|elements/);
    expect(g({ isa: 'sse9' })).toThrow(/not available/);
    expect(g({ isa: 7 })).toThrow(/isa must be a string/);
    const dirty = new Uint32Array(16);
    dirty[3] = 1;
    expect(g({ a: dirty })).toThrow(/padding/);
    expect(() =>
      addon!.thresholdPack({
        scores: new Int32Array(4),
        m: 2,
        n: 2,
        thresholds: new Int32Array(2),
        flips: new Uint8Array(1),
        out: new Uint32Array(32),
        stride: 16,
      }),
    ).toThrow(/flips/);
    expect(g({}, addon!.bitPlaneGemm)).toThrow(/a has 16 elements, needs 128/);
    expect(g({ a: new Uint32Array(128), k: 2 ** 24 }, addon!.bitPlaneGemm)).toThrow(/k must be an integer/);
    expect(() => addon!.roofline(-1)).toThrow(/seconds/);
  });
});

describe('tier selection', () => {
  it('picks the native tier when the addon loads, else says why and falls back to wasm', () => {
    if (!addon) expect(why).toMatch(/native addon/);
    expect(selectKernel().tier).toBe(addon ? 'native' : 'wasm');
  });

  it('honours a forced tier and rejects unknown ones', () => {
    expect(selectKernel('ts').tier).toBe('ts');
    expect(() => selectKernel('gpu')).toThrow(/unknown kernel tier/);
  });
});
