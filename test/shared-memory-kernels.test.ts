/**
 * Typed arrays on a SharedArrayBuffer (worker pools, wasm threads) go through every kernel tier
 * with the same results as ordinary arrays. The native addon used to refuse them in gemm,
 * bitPlaneGemm and thresholdPack with a bare "Invalid argument".
 */
import { describe, expect, it } from 'vitest';
import { packBitPlanes, packRows, tryKernel, type PackedBits, type XnorKernel } from '../lib/kernels';
import { loadNativeAddon } from '../lib/kernels/native';
import { seededRandom } from '../lib/random';
import { kernelTiers } from './helpers/kernelTiers';

/** A copy of `array` whose memory is a SharedArrayBuffer. */
function shared<T extends Uint8Array | Int32Array | Uint32Array | Float32Array>(array: T): T {
  const Ctor = array.constructor as new (buffer: SharedArrayBuffer) => T;
  const copy = new Ctor(new SharedArrayBuffer(array.byteLength));
  copy.set(array);
  return copy;
}

const sharedPacked = (p: PackedBits): PackedBits => ({ ...p, data: shared(p.data) });

const random = seededRandom(8);
const signs = (count: number) => Float32Array.from({ length: count }, () => (random() < 0.5 ? -1 : 1));
const m = 5,
  n = 7,
  k = 600;
const a = packRows(signs(m * k), m, k);
const b = packRows(signs(n * k), n, k);
const planes = packBitPlanes(
  Uint8Array.from({ length: m * 30 }, () => Math.floor(256 * random())),
  m,
  30,
);
const bPlanes = packRows(signs(n * 30), n, 30);
const scores = Int32Array.from({ length: m * n }, () => Math.floor(200 * random()) - 100);
const thresholds = Int32Array.from({ length: n }, () => Math.floor(100 * random()) - 50);
const flips = Uint8Array.from({ length: n }, (_, j) => j % 2);

const ts = tryKernel('ts') as XnorKernel;
const expected = {
  gemm: ts.gemm(a, b),
  bitPlaneGemm: ts.bitPlaneGemm(planes, bPlanes),
  thresholdPack: ts.thresholdPack(scores, m, n, thresholds, flips).data,
};

for (const { kernel, title } of kernelTiers)
  describe(`${title} on SharedArrayBuffer-backed arrays`, () => {
    it.skipIf(!kernel)('gemm, bitPlaneGemm and thresholdPack as on ordinary arrays', () => {
      const kern = kernel!;
      const out = shared(new Int32Array(m * n));
      expect(kern.gemm(sharedPacked(a), sharedPacked(b), { out })).toEqual(expected.gemm);
      expect(kern.bitPlaneGemm(sharedPacked(planes), sharedPacked(bPlanes))).toEqual(expected.bitPlaneGemm);
      const packed = kern.thresholdPack(shared(scores), m, n, shared(thresholds), shared(flips));
      expect(Array.from(packed.data)).toEqual(Array.from(expected.thresholdPack));
    });
  });

describe('native float kernels on SharedArrayBuffer-backed arrays', () => {
  const { addon, why } = loadNativeAddon();

  it.skipIf(!addon)(`sgemm and sign read and write shared memory${why && ` (skipped: ${why})`}`, () => {
    const x = Float32Array.from([1, -2, 3, -4, 0.5, -0.5]);
    const y = Float32Array.from([2, 1, -1, 3, 0, 1]);
    const c = shared(new Float32Array(4));
    const plain = { transA: false, transB: false, accumulate: false, threads: 1 };
    addon!.sgemm({ a: shared(x), b: shared(y), c, m: 2, n: 2, k: 3, ...plain });
    // [1 −2 3; −4 0.5 −0.5] · [2 1; −1 3; 0 1]
    expect(Array.from(c)).toEqual([4, -2, -8.5, -3]);
    const s = shared(new Float32Array(6));
    addon!.sign({ x: shared(x), out: s, n: 6 });
    expect(Array.from(s)).toEqual([1, -1, 1, -1, 1, -1]);
  });

  it.skipIf(!addon)(
    `still refuses a misaligned gemm operand with a message that says why${why && ` (skipped: ${why})`}`,
    () => {
      const misaligned = new Uint32Array(new SharedArrayBuffer(4 * (a.data.length + 1)), 4, a.data.length);
      misaligned.set(a.data);
      const out = new Int32Array(m * n);
      expect(() => addon!.gemm({ a: misaligned, b: b.data, m, n, k, stride: a.stride, out, threads: 1 })).toThrow(
        /a must start on an 8-byte boundary/,
      );
    },
  );
});
