import { beforeAll, expect, it } from 'vitest';
import { filterRepetition, modelFilterRepetition } from '../lib/analysis/filterRepetition';
import { initBackend } from '../lib/backend';
import { buildConvNet } from '../lib/models/convnet';

beforeAll(async () => {
  await initBackend();
});

/** A [3, 3, ci, co] kernel (tfjs layout) from per-(ci, co) 9-tap slices. */
function kernelOf(slices: number[][][]): { data: Float32Array; shape: number[] } {
  const ci = slices.length;
  const co = slices[0].length;
  const data = new Float32Array(9 * ci * co);
  for (let c = 0; c < ci; c++)
    for (let o = 0; o < co; o++) for (let t = 0; t < 9; t++) data[(t * ci + c) * co + o] = slices[c][o][t];
  return { data, shape: [3, 3, ci, co] };
}

const A = [1, -1, 1, -1, 1, -1, 1, -1, 1];
const negA = A.map((v) => -v);
const B = [0.3, 0.2, -0.5, 0.9, -0.1, 0.4, 0.7, -0.8, 0.05];
const signB = B.map((v) => (v >= 0 ? 1 : -1));

it('counts distinct sign patterns per input channel, as the paper', () => {
  // Input channel 0: A, A, B, sign(B) → 2 distinct of 4. Channel 1: A, −A, B, 0 → 4 distinct (0 → +1).
  const zeros = new Array(9).fill(0);
  const { data, shape } = kernelOf([
    [A, A, B, signB],
    [A, negA, B, zeros],
  ]);
  const r = filterRepetition(data, shape, 'toy');
  expect(r.possiblePatterns).toBe(512);
  expect(r.meanUniquePerInputChannel).toBe(3);
  expect(r.uniqueFraction).toBe(6 / 8);
  // Up to sign, A and −A are one: channel 1 has 3.
  expect(r.uniqueFractionUpToSign).toBe(5 / 8);
  // Over the whole layer: A, B, −A, all +1.
  expect(r.distinctPatternsInLayer).toBe(4);
});

it('a kernel of one repeated slice is 1/co unique; latent values count by their sign', () => {
  const co = 16;
  const { data, shape } = kernelOf([Array.from({ length: co }, (_, o) => B.map((v) => v * (o + 1) * 0.01))]);
  expect(filterRepetition(data, shape).uniqueFraction).toBe(1 / co);
  expect(() => filterRepetition(data.subarray(1), shape)).toThrow(/does not match/);
});

it('reports every binary conv layer of a ConvNet; random ±1 slices of 512 patterns rarely repeat', async () => {
  const model = buildConvNet({
    inputShape: [8, 8, 1],
    numClasses: 10,
    convFilters: [8, 16],
    hiddenUnits: [],
    binarization: 'deterministic',
    batchNorm: 'standard',
    H: 1,
    seed: 1,
  });
  const r = await modelFilterRepetition(model);
  expect(r.map((l) => [l.layer, l.kernelShape])).toEqual([
    ['conv_1', [3, 3, 1, 8]],
    ['conv_2', [3, 3, 8, 16]],
  ]);
  // 16 random slices among 512 patterns: a repeat is possible but the fraction stays high.
  for (const l of r) expect(l.uniqueFraction).toBeGreaterThan(0.8);
  model.dispose();
});
