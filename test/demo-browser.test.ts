/**
 * The browser demo (demo/, npm run demo): the MNIST-style preprocessing and the float twin in Node,
 * then the built page driven in Debian's Chromium, its results (the engine's, and its two float peers':
 * tfjs and ONNX Runtime Web) checked against the Node engine.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { slice } from '../lib/data/dataset';
import { loadMnist } from '../lib/data/mnist';
import { FloatModel } from '../demo/floatModel';
import { bitPlanes, hiddenActivations } from '../demo/inspect';
import { digitInput, type RgbaImage } from '../demo/preprocess';
import { buildDemo, DEMO_SOURCE, DEMO_TEST_IMAGES, serveDirectory } from '../demo/site';
import { BinaryEngine, deserializePackedModel } from '../lib/engine';
import { selectKernel, wasmFileCandidates } from '../lib/kernels';
import { findChromium, HEADLESS_CHROMIUM_ARGS } from '../lib/plots/figure';

const modelFile = path.join(
  DEMO_SOURCE,
  'model',
  JSON.parse(fs.readFileSync(path.join(DEMO_SOURCE, 'model', 'about.json'), 'utf8')).file,
);
const model = deserializePackedModel(new Uint8Array(fs.readFileSync(modelFile)));
const engine = new BinaryEngine(model, { kernel: selectKernel() });
const test = slice(loadMnist().test, 0, DEMO_TEST_IMAGES);

/** A black RGBA image with white filled rectangles [x, y, w, h]. */
function blackImage(width: number, height: number, rects: number[][]): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) data[4 * i + 3] = 255;
  for (const [x0, y0, w, h] of rects) {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) data.set([255, 255, 255], 4 * (y * width + x));
  }
  return { width, height, data };
}

describe('demo preprocessing (canvas → 28×28, as MNIST was made)', () => {
  it('gives null for an empty canvas and rejects RGBA data of the wrong size', () => {
    expect(digitInput(blackImage(50, 40, []))).toBeNull();
    expect(() => digitInput({ width: 10, height: 10, data: new Uint8Array(10) })).toThrow(
      /RGBA data has 10 values, expected 400/,
    );
  });

  it('scales the ink box into 20×20 keeping its aspect ratio and centers its mass in 28×28', () => {
    // A 100 × 50 bar → 20 × 10, uniformly white, its center of mass moved to (14, 14).
    const input = digitInput(blackImage(280, 280, [[10, 200, 100, 50]]))!;
    const rows = Array.from({ length: 28 }, (_, y) => Array.from(input.subarray(y * 28, y * 28 + 28)));
    expect(rows.filter((r) => r.some((v) => v > 0)).length).toBe(10);
    expect(rows[14].filter((v) => v > 0).length).toBe(20);
    expect(rows[14].slice(4, 24).every((v) => v === 255)).toBe(true);
    expect(rows[8].every((v) => v === 0) && rows[19].every((v) => v === 0)).toBe(true);
    expect(rows[9][4]).toBe(255);
  });

  it('area-averages: a 1-pixel line in a 40-pixel box keeps half its ink at half scale', () => {
    // 40 × 40 box (two corner dots) with a vertical 1-pixel line: scale 0.5, the line becomes 50 % gray.
    const input = digitInput(
      blackImage(60, 60, [
        [0, 0, 1, 1],
        [39, 39, 1, 1],
        [20, 0, 1, 40],
      ]),
    )!;
    expect(Math.max(...input)).toBe(128);
  });
});

describe('demo helpers', () => {
  it('splits pixels into 8 bit planes and reads each hidden layer’s ±1 outputs from the engine sums', () => {
    const planes = bitPlanes(Uint8Array.from([0, 1, 128, 255, 6]));
    expect(planes[0]).toEqual(Uint8Array.from([0, 1, 0, 1, 0]));
    expect(planes[2]).toEqual(Uint8Array.from([0, 0, 0, 1, 1]));
    expect(planes[7]).toEqual(Uint8Array.from([0, 0, 1, 1, 0]));
    const image = test.images.subarray(0, 784);
    const acts = hiddenActivations(model, engine.layerSums(image, 1));
    expect(acts.map((a) => a.length)).toEqual(model.layers.slice(0, -1).map((l) => l.weights.rows));
    expect(acts.every((a) => a.every((v) => v === 1 || v === -1))).toBe(true);
  });

  it('builds the same model in float32 (tfjs) from the packed file: its predictions equal the engine’s', async () => {
    await initBackend();
    const float = new FloatModel(model);
    const n = 20;
    const scores = float.scores(test.images.subarray(0, n * 784), n);
    const predictions = Array.from({ length: n }, (_, i) => {
      const row = Array.from(scores.subarray(i * 10, i * 10 + 10));
      return row.indexOf(Math.max(...row));
    });
    expect(predictions).toEqual(Array.from(engine.predict(test.images.subarray(0, n * 784), n)));
    expect(float.kernelBytes).toBe(model.layers.reduce((s, l) => s + l.weights.rows * l.weights.k * 4, 0));
    float.dispose();
  });
});

describe('the committed demo model and the static server', () => {
  it('is what demo/model/about.json says: its bytes, and its test error on all 10,000 MNIST test images', () => {
    const about = JSON.parse(fs.readFileSync(path.join(DEMO_SOURCE, 'model', 'about.json'), 'utf8'));
    expect(fs.statSync(modelFile).size).toBe(about.bytes);
    const all = loadMnist().test;
    const predicted = engine.predict(all.images, all.count);
    expect(predicted.filter((c, i) => c !== all.labels[i]).length / all.count).toBe(about.testError);
  });

  it('npm run demo:model names the missing trained model instead of failing later', () => {
    const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-runs-'));
    const tsx = path.join(__dirname, '..', 'node_modules', '.bin', 'tsx');
    const run = spawnSync(tsx, ['cli/demo-model.ts', '--runs-dir', runsDir, '--run', 'nope'], {
      cwd: path.join(__dirname, '..'),
      encoding: 'utf8',
    });
    fs.rmSync(runsDir, { recursive: true, force: true });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${runsDir}/nope/model/model.json not found: train the run first`);
  }, 30_000);

  it('serves files with their types and nothing outside its folder', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-serve-'));
    const dir = path.join(parent, 'site');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'k.wasm'), 'x');
    fs.writeFileSync(path.join(dir, 'm.mjs'), 'export {};');
    fs.writeFileSync(path.join(parent, 'secret.txt'), 'not served');
    // A raw path (fetch would normalize it before sending).
    const rawStatus = (url: string, rawPath: string) =>
      new Promise<number>((resolve, reject) => {
        http.get(new URL(url), { path: rawPath }, (res) => resolve(res.resume().statusCode!)).on('error', reject);
      });
    const { server, url } = await serveDirectory(dir);
    try {
      const wasm = await fetch(`${url}k.wasm`);
      expect([wasm.status, wasm.headers.get('content-type')]).toEqual([200, 'application/wasm']);
      // Cross-origin isolation (WebAssembly threads in the page), and ES modules served as JavaScript.
      expect(wasm.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(wasm.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expect((await fetch(`${url}m.mjs`)).headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(await rawStatus(url, '/../secret.txt')).toBe(404);
      expect(await rawStatus(url, '/%2e%2e/secret.txt')).toBe(404);
      expect((await fetch(`${url}missing.json`)).status).toBe(404);
      expect((await fetch(`${url}%E0%A4%A`)).status).toBe(400);
    } finally {
      server.close();
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});

const chromium = findChromium();
const skipped = !chromium || !wasmFileCandidates().some((f) => fs.existsSync(f));
const why = skipped ? ' — SKIPPED: needs Chromium (apt-get install chromium) and build/xnor.wasm' : '';

interface PageResult {
  source: string;
  input: number[];
  scores: number[];
  prediction: number;
  floatPrediction: number;
  onnxPrediction?: number;
  gpuPrediction?: number;
}

interface OnnxInfo {
  version: string;
  threads: number;
  images: number;
  agree: number;
  predictions: number[];
  enginePredictions: number[];
}

describe.skipIf(skipped)(`the demo page in Chromium${why}`, () => {
  let dir = '';
  let close = async () => {};
  let url = '';
  let browser: import('playwright-core').Browser;
  /** One page for the checks below, opened once (a page load takes seconds on a loaded machine). */
  let page: import('playwright-core').Page;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-demo-'));
    await buildDemo(dir);
    const served = await serveDirectory(dir);
    url = served.url;
    const { chromium: launcher } = await import('playwright-core');
    // WebGPU: Chromium's SwiftShader adapter (a GPU emulated on the CPU) where there is no GPU.
    browser = await launcher.launch({
      executablePath: chromium!,
      args: [...HEADLESS_CHROMIUM_ARGS, '--enable-unsafe-webgpu'],
    });
    close = async () => {
      await browser.close();
      served.server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    };
    page = await openPage();
  }, 90_000);
  afterAll(() => close());

  /** The built page, without the automatic timing (these tests check results, not speed). */
  async function openPage(query = '?timing=0') {
    const opened = await browser.newPage();
    await opened.goto(url + query);
    await opened.waitForFunction(() => {
      const s = (window as unknown as { bnnDemo: { ready: boolean; message: string } }).bnnDemo;
      return s.ready || s.message !== '';
    });
    return opened;
  }
  const last = (p = page) => p.evaluate(() => (window as unknown as { bnnDemo: { last: PageResult } }).bnnDemo.last);
  const message = (p = page) => p.locator('#message').textContent();

  it('runs the ONNX Runtime Web peer (1 thread, cross-origin isolated page): predictions = the engine’s', async () => {
    await page.waitForFunction(
      () => {
        const s = (window as unknown as { bnnDemo: { onnxInfo: unknown; onnxError: string } }).bnnDemo;
        return s.onnxInfo !== null || s.onnxError !== '';
      },
      undefined,
      { timeout: 120_000 },
    );
    const state = await page.evaluate(() => {
      const s = (
        window as unknown as { bnnDemo: { onnxInfo: OnnxInfo; onnxError: string; crossOriginIsolated: boolean } }
      ).bnnDemo;
      return { info: s.onnxInfo, error: s.onnxError, isolated: s.crossOriginIsolated };
    });
    expect(state.error).toBe('');
    expect(state.isolated).toBe(true);
    const version = JSON.parse(
      fs.readFileSync(path.join(__dirname, '..', 'node_modules', 'onnxruntime-web', 'package.json'), 'utf8'),
    ).version;
    expect([state.info.version, state.info.threads, state.info.images]).toEqual([version, 1, DEMO_TEST_IMAGES]);
    const expected = Array.from(engine.predict(test.images, DEMO_TEST_IMAGES));
    expect(state.info.enginePredictions).toEqual(expected);
    expect(state.info.predictions).toEqual(expected);
    expect(state.info.agree).toBe(DEMO_TEST_IMAGES);
    expect(await page.locator('#onnx-status').textContent()).toMatch(/equal the engine’s on 100 of 100 gallery images/);
    expect(await page.locator('#isolation').textContent()).toMatch(/is cross-origin isolated/);
  }, 150_000);

  it('runs the binary engine on WebGPU too (SwiftShader here): its predictions = the wasm engine’s', async () => {
    await page.waitForFunction(
      () => {
        const s = (window as unknown as { bnnDemo: { gpuInfo: unknown; gpuError: string } }).bnnDemo;
        return s.gpuInfo !== null || s.gpuError !== '';
      },
      undefined,
      { timeout: 120_000 },
    );
    const state = await page.evaluate(() => {
      const s = (
        window as unknown as {
          bnnDemo: {
            gpuInfo: { adapter: string; images: number; agree: number; predictions: number[] };
            gpuError: string;
          };
        }
      ).bnnDemo;
      return { info: s.gpuInfo, error: s.gpuError };
    });
    expect(state.error).toBe('');
    expect(state.info.adapter).toMatch(/\((software|hardware) adapter\)$/);
    expect(state.info.predictions).toEqual(Array.from(engine.predict(test.images, DEMO_TEST_IMAGES)));
    expect([state.info.images, state.info.agree]).toEqual([DEMO_TEST_IMAGES, DEMO_TEST_IMAGES]);
    expect(await page.locator('#gpu-status').textContent()).toMatch(
      /equal the WebAssembly engine’s on 100 of 100 gallery images/,
    );
  }, 150_000);

  it('classifies real MNIST test images picked in the gallery exactly as the Node engine does', async () => {
    const picks = [0, 1, 2, 3, 8, 18, 33, 47, 62, 77, 91, 99];
    for (const i of picks) {
      await page.click(`#gallery canvas[data-index="${i}"]`);
      const result = await last(page);
      const image = test.images.subarray(i * 784, (i + 1) * 784);
      expect(result.source).toContain(`#${i} (label ${test.labels[i]})`);
      expect(result.input).toEqual(Array.from(image));
      expect(result.scores).toEqual(Array.from(engine.scores(image, 1)));
      expect(result.prediction).toBe(engine.predict(image, 1)[0]);
      expect(result.floatPrediction).toBe(result.prediction);
      // The ONNX peer and the engine on WebGPU answer asynchronously for the picked image.
      await page.waitForFunction(() => {
        const r = (window as unknown as { bnnDemo: { last: PageResult } }).bnnDemo.last;
        return r.onnxPrediction !== undefined && r.gpuPrediction !== undefined;
      });
      expect((await last(page)).onnxPrediction).toBe(result.prediction);
      expect((await last(page)).gpuPrediction).toBe(result.prediction);
      expect(await page.locator('#source').textContent()).toMatch(/tfjs float agrees · ONNX agrees · WebGPU agrees$/);
    }
    expect(await page.locator('#hidden canvas').count()).toBe(model.layers.length - 1);
    expect(await page.locator('#planes canvas').count()).toBe(8);
  }, 150_000);

  it('draws strokes with the mouse: the page’s 28×28 input is what Node computes from the canvas pixels', async () => {
    const strokes = [
      [
        [70, 60],
        [210, 60],
        [130, 240],
      ], // a 7
      [
        [140, 40],
        [145, 250],
      ], // a 1
    ];
    for (const points of strokes) {
      await page.click('#clear');
      await page.locator('#pad').scrollIntoViewIfNeeded();
      const box = (await page.locator('#pad').boundingBox())!;
      await page.mouse.move(box.x + points[0][0], box.y + points[0][1]);
      await page.mouse.down();
      for (const [x, y] of points.slice(1)) await page.mouse.move(box.x + x, box.y + y, { steps: 6 });
      await page.mouse.up();
      // The pad's RGBA pixels, as base64 (a 313,600-number array takes seconds to pass).
      const pixels = await page.evaluate(() => {
        const pad = document.getElementById('pad') as HTMLCanvasElement;
        const image = pad.getContext('2d')!.getImageData(0, 0, pad.width, pad.height);
        let text = '';
        for (let i = 0; i < image.data.length; i += 8192)
          text += String.fromCharCode(...image.data.subarray(i, i + 8192));
        return { width: image.width, height: image.height, base64: btoa(text) };
      });
      const canvas = { width: pixels.width, height: pixels.height, data: Buffer.from(pixels.base64, 'base64') };
      const result = await last(page);
      const expected = digitInput(canvas)!;
      expect(result.source).toBe('your drawing');
      expect(expected.some((v) => v > 0)).toBe(true);
      expect(result.input).toEqual(Array.from(expected));
      expect(result.scores).toEqual(Array.from(engine.scores(expected, 1)));
      expect(result.prediction).toBe(engine.predict(expected, 1)[0]);
      expect(result.floatPrediction).toBe(result.prediction);
      await page.waitForFunction(
        () => (window as unknown as { bnnDemo: { last: PageResult } }).bnnDemo.last.onnxPrediction !== undefined,
      );
      expect((await last(page)).onnxPrediction).toBe(result.prediction);
    }
  }, 60_000);

  it('says so when the canvas is empty, or the model file is wrong, and keeps working', async () => {
    await page.click('#clear');
    await page.click('#classify');
    expect(await message(page)).toMatch(/canvas is empty/);

    await page.setInputFiles('#model-file', {
      name: 'notes.bnnpack',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from('hello, not a model'),
    });
    await page.waitForFunction(
      () =>
        !document.getElementById('message')!.hidden &&
        /notes\.bnnpack/.test(document.getElementById('message')!.textContent!),
    );
    expect(await message(page)).toMatch(/The model file notes\.bnnpack cannot be used: .*magic/);

    const truncated = fs.readFileSync(modelFile).subarray(0, 5000);
    await page.setInputFiles('#model-file', {
      name: 'cut.bnnpack',
      mimeType: 'application/octet-stream',
      buffer: truncated,
    });
    await page.waitForFunction(() => /cut\.bnnpack/.test(document.getElementById('message')!.textContent!));
    expect(await message(page)).toMatch(/The model file cut\.bnnpack cannot be used: .*truncated/);

    // The committed model is still in use.
    await page.click('#gallery canvas[data-index="5"]');
    expect((await last(page)).scores).toEqual(Array.from(engine.scores(test.images.subarray(5 * 784, 6 * 784), 1)));
    expect(await page.locator('#message').isHidden()).toBe(true);

    const missing = await openPage('?timing=0&model=missing.bnnpack');
    expect(await missing.evaluate(() => (window as unknown as { bnnDemo: { ready: boolean } }).bnnDemo.ready)).toBe(
      false,
    );
    expect(await message(missing)).toMatch(/Could not load the model file \(missing\.bnnpack\): HTTP 404/);
  }, 60_000);
});
