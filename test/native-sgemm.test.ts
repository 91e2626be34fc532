import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { packColumns, packRows } from '../lib/kernels';
import { loadNativeAddon, nativeAddonCandidates } from '../lib/kernels/native';
import { seededRandom } from '../lib/random';
import { cpuFeature } from './helpers/requireAllTests';

const { addon, why } = loadNativeAddon();
const unavailable = addon ? '' : ` (unavailable: ${why})`;

function randoms(count: number, random: () => number): Float32Array {
  return Float32Array.from({ length: count }, () => 2 * random() - 1);
}

/** op(a)·op(b) (+ c0) in float64. */
function reference(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  c0?: Float32Array,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = c0 ? c0[i * n + j] : 0;
      for (let p = 0; p < k; p++) s += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = s;
    }
  return c;
}

/** Largest |got − want| over the tolerance a float32 dot product of length k may need. */
function worstError(got: Float32Array, want: Float64Array, k: number): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1e-6 * (1 + k)));
  return worst;
}

const shapes: [number, number, number][] = [
  [1, 1, 1],
  [1, 67, 5],
  [67, 1, 9],
  [5, 7, 1],
  [3, 33, 2],
  [13, 17, 19],
  [6, 64, 31],
  [7, 65, 67],
  [15, 31, 64],
  [29, 48, 33],
  [64, 13, 100],
  [100, 70, 37],
  [2, 3, 500],
];

/** Runs every shape, transpose combination, accumulate flag and thread count; returns failures. */
function checkAll(sgemm: NonNullable<typeof addon>['sgemm']): string[] {
  const random = seededRandom(3);
  const failures: string[] = [];
  for (const [m, n, k] of shapes)
    for (const transA of [false, true])
      for (const transB of [false, true])
        for (const accumulate of [false, true])
          for (const threads of [1, 2]) {
            const a = randoms(m * k, random),
              b = randoms(k * n, random),
              c0 = randoms(m * n, random);
            const c = c0.slice();
            sgemm({ a, b, c, m, n, k, transA, transB, accumulate, threads });
            const err = worstError(c, reference(a, b, m, n, k, transA, transB, accumulate ? c0 : undefined), k);
            if (!(err <= 1))
              failures.push(
                `${m}×${n}×${k} transA=${transA} transB=${transB} accumulate=${accumulate} threads=${threads}: ${err}`,
              );
          }
  return failures;
}

describe.skipIf(!addon)(`native float GEMM (sgemm)${unavailable}`, () => {
  // The body is collected even when skipped: no addon, no function (the tests then do not run).
  const sgemm = addon?.sgemm as NonNullable<typeof addon>['sgemm'];

  it('reports its micro-kernel', () => {
    expect(['avx512', 'avx2-fma', 'scalar']).toContain(addon!.sgemmIsa);
  });

  it('matches a float64 reference on awkward shapes, all transposes, accumulate, 1 and 2 threads', () => {
    expect(checkAll(sgemm)).toEqual([]);
  });

  it('is exact on larger edge-heavy products and equal across thread counts', () => {
    const random = seededRandom(5);
    for (const [m, n, k, transA, transB] of [
      [100, 4096, 37, false, false],
      [100, 133, 530, false, true],
      [301, 200, 100, true, false],
      [130, 70, 600, true, true],
    ] as [number, number, number, boolean, boolean][]) {
      // Small integers: every partial sum is exact in float32, so any blocking gives the same bits.
      const a = Float32Array.from(randoms(m * k, random), (x) => Math.round(4 * x));
      const b = Float32Array.from(randoms(k * n, random), (x) => Math.round(4 * x));
      const want = Float32Array.from(reference(a, b, m, n, k, transA, transB));
      for (const threads of [1, 2, 0]) {
        const c = new Float32Array(m * n);
        sgemm({ a, b, c, m, n, k, transA, transB, accumulate: false, threads });
        let differing = 0;
        for (let i = 0; i < want.length; i++) if (c[i] !== want[i]) differing++;
        expect(differing, `${m}×${n}×${k} threads=${threads}`).toBe(0);
      }
    }
  });

  it('k = 0 writes zeros, or leaves c alone when accumulating', () => {
    const c = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const empty = { a: new Float32Array(0), b: new Float32Array(0), transA: false, transB: false, threads: 1 };
    sgemm({ ...empty, c, m: 2, n: 3, k: 0, accumulate: true });
    expect(Array.from(c)).toEqual([1, 2, 3, 4, 5, 6]);
    sgemm({ ...empty, c, m: 2, n: 3, k: 0, accumulate: false });
    expect(Array.from(c)).toEqual([0, 0, 0, 0, 0, 0]);
    sgemm({ ...empty, c: new Float32Array(0), m: 0, n: 0, k: 5, accumulate: false });
  });

  it('rejects bad arguments with JavaScript exceptions', () => {
    const good = {
      a: new Float32Array(6),
      b: new Float32Array(6),
      c: new Float32Array(4),
      m: 2,
      n: 2,
      k: 3,
      transA: false,
      transB: false,
      accumulate: false,
      threads: 1,
    };
    /** The good call with some fields replaced (undefined: left out). */
    const call = (change: Record<string, unknown>) => () => sgemm({ ...good, ...change } as typeof good);
    expect(call({})).not.toThrow();
    expect(call({ c: new Float32Array(3) })).toThrow(/c has 3 elements, needs 4/);
    expect(call({ a: new Float32Array(5) })).toThrow(RangeError);
    expect(call({ b: new Float32Array(5) })).toThrow(RangeError);
    expect(call({ a: new Float64Array(6) })).toThrow(/a must be a Float32Array/);
    expect(call({ a: [0, 0, 0, 0, 0, 0] })).toThrow(TypeError);
    expect(call({ m: 2.5 })).toThrow(/m must be an integer/);
    expect(call({ m: -1 })).toThrow(RangeError);
    expect(call({ n: NaN })).toThrow(RangeError);
    expect(call({ k: '3' })).toThrow(/k must be a number/);
    expect(call({ transA: 0 })).toThrow(/transA must be a boolean/);
    expect(call({ accumulate: undefined })).toThrow(/accumulate must be a boolean/);
    expect(call({ threads: -2 })).toThrow(/threads/);
    expect(call({ threads: undefined })).toThrow(/threads must be a number/);
    expect(call({ m: 2 ** 40, n: 2 ** 40 })).toThrow(RangeError);
    expect(() => (sgemm as (...x: unknown[]) => void)(good.a, good.b, good.c)).toThrow(/takes one object/);
  });

  // Each lesser micro-kernel, forced with BNN_SGEMM_ISA in a child process (the choice is made
  // once per process): exact on small-integer products over edge-heavy shapes, all transposes.
  // AVX2 is a CPU feature (the addon lists it when the CPU has it); scalar runs everywhere.
  for (const [forced, isa, onThisCpu, tag] of [
    ['avx2', 'avx2-fma', addon?.isas.includes('avx2') ?? false, ` ${cpuFeature('avx2')}`],
    ['scalar', 'scalar', true, ''],
  ] as const)
    it.skipIf(!onThisCpu)(`is exact with BNN_SGEMM_ISA=${forced}${tag}`, () => {
      const file = nativeAddonCandidates().find((f) => fs.existsSync(f))!;
      const script = `
      const addon = require(${JSON.stringify(file)});
      let seed = 1, bad = 0;
      const int = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) % 9) - 4;
      for (const [m, n, k] of [[1, 1, 1], [7, 17, 3], [13, 33, 70], [20, 5, 257], [6, 16, 1], [65, 40, 9]])
        for (const tA of [false, true]) for (const tB of [false, true])
          for (const acc of [false, true]) for (const threads of [1, 2]) {
          const a = Float32Array.from({ length: m * k }, int), b = Float32Array.from({ length: k * n }, int);
          const c0 = Float32Array.from({ length: m * n }, int), c = c0.slice();
          addon.sgemm({ a, b, c, m, n, k, transA: tA, transB: tB, accumulate: acc, threads });
          for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
            let s = acc ? c0[i * n + j] : 0;
            for (let p = 0; p < k; p++) s += (tA ? a[p * m + i] : a[i * k + p]) * (tB ? b[j * k + p] : b[p * n + j]);
            if (c[i * n + j] !== s) bad++;
          }
        }
      process.stdout.write(JSON.stringify({ isa: addon.sgemmIsa, bad }));`;
      const out = JSON.parse(
        execFileSync(process.execPath, ['-e', script], {
          env: { ...process.env, BNN_SGEMM_ISA: forced },
          encoding: 'utf8',
        }),
      );
      expect(out.isa).toBe(isa);
      expect(out.bad).toBe(0);
    });
});

describe.skipIf(!addon)(`native XNOR GEMM on the thread pool${unavailable}`, () => {
  it('gives the same result with 2 threads as with 1, from tiny to training-sized products', () => {
    const random = seededRandom(11);
    for (const [m, n, k] of [
      [1, 1, 1],
      [3, 40, 70],
      [200, 1024, 784],
      [17, 1000, 300],
    ]) {
      const a = packRows(
        Float32Array.from({ length: m * k }, () => (random() < 0.5 ? -1 : 1)),
        m,
        k,
      );
      const b = packColumns(
        Float32Array.from({ length: k * n }, () => (random() < 0.5 ? -1 : 1)),
        k,
        n,
      );
      const one = new Int32Array(m * n),
        two = new Int32Array(m * n);
      addon!.gemm({ a: a.data, b: b.data, m, n, k, stride: a.stride, out: one, threads: 1 });
      addon!.gemm({ a: a.data, b: b.data, m, n, k, stride: a.stride, out: two, threads: 2 });
      expect(two).toEqual(one);
    }
  });
});
