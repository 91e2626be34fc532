/**
 * The WebGPU tier (lib/kernels/webgpu/): the paper's XNOR kernel in WGSL against the TypeScript reference, exactly,
 * on shapes that are not multiples of anything (k not a multiple of 32, m and n not multiples of the 64-wide tiles,
 * bit planes), and the engine on WebGPU against the CPU engine: random models of every geometry, and the committed
 * demo model on all 10,000 MNIST test images. Runs on whatever adapter the `webgpu` package finds — in CI Mesa's
 * lavapipe, a CPU emulation (correctness, not speed); skipped, saying why, where there is none.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMnist } from '../lib/data/mnist';
import { BinaryEngine, deserializePackedModel, type PackedModel } from '../lib/engine';
import { packRows, selectKernel, tryKernel, unpackRows, type PackedBits, type XnorKernel } from '../lib/kernels';
import { loadWebGpuKernel } from '../lib/kernels/webgpu/node';
import { seededRandom } from '../lib/random';
import { ENGINE_TEST_MODELS, randomPackedModel, randomPixels } from './helpers/randomPackedModel';

const gpu = await loadWebGpuKernel();
const skipped = typeof gpu === 'string' ? ` — SKIPPED: ${gpu}` : '';
const reference = tryKernel('ts') as XnorKernel;
afterAll(() => (typeof gpu === 'string' ? undefined : gpu.destroy()));

function randomBits(rows: number, k: number, seed: number): PackedBits {
  const random = seededRandom(seed);
  return packRows(
    Array.from({ length: rows * k }, () => (random() < 0.5 ? -1 : 1)),
    rows,
    k,
  );
}

describe.skipIf(typeof gpu === 'string')(`WebGPU XNOR kernel${skipped}`, () => {
  const kernel = gpu as Exclude<typeof gpu, string>;

  it(`names its adapter (${kernel?.isa})`, () => {
    expect(kernel.tier).toBe('webgpu');
    expect(kernel.isa).toMatch(/\((software|hardware) adapter\)$/);
    if (/llvmpipe|swiftshader/i.test(kernel.isa)) expect(kernel.software).toBe(true);
  });

  // [m, n, k]: tiles are 64 × 64 (128 plane rows × 64 for bit planes), K staged 16 words at a time.
  const shapes = [
    [1, 1, 1],
    [3, 4, 0],
    [5, 7, 33],
    [63, 65, 31],
    [70, 130, 100],
    [129, 65, 1000],
    [64, 64, 512],
    [200, 3, 2049],
    [17, 300, 784],
  ];
  it('C = A·Bᵀ equals the TypeScript reference exactly (awkward m, n and k)', async () => {
    for (const [i, [m, n, k]] of shapes.entries()) {
      const a = randomBits(m, k, 2 * i + 1),
        b = randomBits(n, k, 2 * i + 2);
      expect(Array.from(await kernel.gemm(a, b)), `${m}×${n}×${k}`).toEqual(Array.from(reference.gemm(a, b)));
    }
  });

  it('equals a float matrix product of the ±1 matrices', async () => {
    const [m, n, k] = [37, 45, 333];
    const a = randomBits(m, k, 7),
      b = randomBits(n, k, 8);
    const av = unpackRows(a),
      bv = unpackRows(b);
    const float = new Float32Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += av[i * k + p] * bv[j * k + p];
        float[i * n + j] = s;
      }
    expect(Array.from(await kernel.gemm(a, b))).toEqual(Array.from(float));
  });

  it('the bit-plane product of the first layer equals the reference (planes combined in the kernel)', async () => {
    for (const [i, [m, n, k]] of [
      [1, 1, 1],
      [3, 70, 100],
      [17, 65, 784],
      [20, 5, 33],
    ].entries()) {
      const planes = randomBits(8 * m, k, 50 + i),
        b = randomBits(n, k, 60 + i);
      expect(Array.from(await kernel.bitPlaneGemm(planes, b)), `${m}×${n}×${k}`).toEqual(
        Array.from(reference.bitPlaneGemm(planes, b)),
      );
    }
  });

  it('checks its operands as the other tiers do', async () => {
    await expect(kernel.gemm(randomBits(2, 10, 1), randomBits(2, 11, 2))).rejects.toThrow(/k = 10 but b has k = 11/);
    await expect(kernel.bitPlaneGemm(randomBits(7, 10, 1), randomBits(2, 10, 2))).rejects.toThrow(/8 rows per input/);
  });
});

describe.skipIf(typeof gpu === 'string')(`the engine on WebGPU${skipped}`, () => {
  const kernel = gpu as Exclude<typeof gpu, string>;

  const scores = (model: PackedModel, pixels: Uint8Array, count: number) =>
    new BinaryEngine(model, { kernel: reference, compiled: false }).scores(pixels, count);

  for (const [name, spec] of ENGINE_TEST_MODELS) {
    it(`gives the reference engine's scores bit for bit: ${name}`, async () => {
      const model = randomPackedModel(spec);
      const engine = new BinaryEngine(model, { kernel });
      try {
        for (const count of [1, 3, 37]) {
          const pixels = randomPixels(model, count, count);
          expect(Array.from(await engine.scoresAsync(pixels, count))).toEqual(Array.from(scores(model, pixels, count)));
        }
      } finally {
        engine.dispose();
      }
    });
  }

  it('says to use the asynchronous calls, and runs whole networks only', () => {
    const model = randomPackedModel(ENGINE_TEST_MODELS[0][1]);
    const engine = new BinaryEngine(model, { kernel });
    expect(() => engine.scores(randomPixels(model, 1), 1)).toThrow(
      /needs a CPU tier: the webgpu tier answers asynchronously \(scoresAsync/,
    );
    expect(() => engine.predict(randomPixels(model, 1), 1)).toThrow(
      /needs a CPU tier: the webgpu tier answers asynchronously \(scoresAsync/,
    );
    expect(() => engine.layerSums(randomPixels(model, 1), 1)).toThrow(/layerSums needs a CPU tier/);
    engine.dispose();
    expect(() => new BinaryEngine(model, { kernel, compiled: false })).toThrow(/runs whole networks only/);
  });

  it('predicts what the CPU engine predicts on all 10,000 MNIST test images (the committed demo model)', async () => {
    const source = path.join(__dirname, '..', 'demo', 'model');
    const about = JSON.parse(fs.readFileSync(path.join(source, 'about.json'), 'utf8'));
    const model = deserializePackedModel(new Uint8Array(fs.readFileSync(path.join(source, about.file))));
    const test = loadMnist().test;
    const cpu = new BinaryEngine(model, { kernel: selectKernel() });
    // One call for all images: the GPU network splits them into batches of its own.
    const engine = new BinaryEngine(model, { kernel, batchSize: test.count });
    try {
      const [got, expected] = [await engine.scoresAsync(test.images, test.count), cpu.scores(test.images, test.count)];
      expect(got.length).toBe(test.count * 10);
      expect(got.every((v, i) => v === expected[i])).toBe(true);
      const predictions = await engine.predictAsync(test.images, test.count);
      expect(Array.from(predictions)).toEqual(Array.from(cpu.predict(test.images, test.count)));
      expect(predictions.filter((c, i) => c !== test.labels[i]).length / test.count).toBe(about.testError);
    } finally {
      engine.dispose();
    }
  }, 300_000);
});
