import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { build } from 'esbuild';
import { expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { calibrateBatchNorm } from '../bench/mlpBench';
import { scaledPixels, slice } from '../lib/data/dataset';
import { loadMnist } from '../lib/data/mnist';
import { BinaryEngine, exportPackedModel, serializePackedModel } from '../lib/engine';
import { selectKernel, wasmFileCandidates } from '../lib/kernels';
import { buildMlp } from '../lib/models/mlp';
import { findChromium, HEADLESS_CHROMIUM_ARGS } from '../lib/plots/figure';

const chromium = findChromium();
const wasmFile = wasmFileCandidates().find((f) => fs.existsSync(f));
const missing = [
  chromium ? '' : 'no Chromium (apt-get install chromium, or set BNN_CHROMIUM)',
  wasmFile ? '' : 'no build/xnor.wasm (npm run build:kernels)',
].filter(Boolean);

it.skipIf(missing.length > 0)(
  `runs the packed MNIST model in a browser page on the WebAssembly tier, as in ` +
    `Node${missing.length ? ` (skipped: ${missing.join('; ')})` : ''}`,
  async () => {
    await initBackend('cpu');
    const count = 300;
    const test = slice(loadMnist().test, 0, count);
    const model = buildMlp({
      inputDim: 784,
      numClasses: 10,
      hiddenUnits: [256, 256],
      dropoutInput: 0,
      dropoutHidden: 0,
      binarization: 'deterministic',
      batchNorm: 'standard',
      H: 1,
      seed: 3,
    });
    calibrateBatchNorm(
      model,
      tf.tensor2d(
        scaledPixels(
          test,
          Array.from({ length: count }, (_, i) => i),
        ),
        [count, 784],
      ),
      5,
    );
    const packed = exportPackedModel(model);
    const inNode = Array.from(new BinaryEngine(packed, { kernel: selectKernel('wasm') }).predict(test.images, count));

    // The browser entry must bundle without any Node module.
    const bundle = await build({
      entryPoints: [path.join(__dirname, '..', 'lib', 'browser.ts')],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      globalName: 'BNN',
      write: false,
      logLevel: 'silent',
    });
    const { chromium: launcher } = await import('playwright-core');
    const browser = await launcher.launch({
      executablePath: chromium!,
      args: HEADLESS_CHROMIUM_ARGS,
    });
    try {
      const page = await browser.newPage();
      await page.setContent(`<!DOCTYPE html><html><body><script>${bundle.outputFiles[0].text}</script></body></html>`);
      const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
      const inBrowser = await page.evaluate(
        async ({ wasm, model, pixels, n }) => {
          const bytes = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
          const BNN = (window as unknown as { BNN: typeof import('../lib/browser') }).BNN;
          const kernel = BNN.createWasmKernel(await WebAssembly.compile(bytes(wasm)));
          const engine = new BNN.BinaryEngine(BNN.deserializePackedModel(bytes(model)), { kernel });
          return Array.from(engine.predict(bytes(pixels), n));
        },
        {
          wasm: b64(fs.readFileSync(wasmFile!)),
          model: b64(serializePackedModel(packed)),
          pixels: b64(test.images),
          n: count,
        },
      );
      expect(inBrowser).toEqual(inNode);
    } finally {
      await browser.close();
    }
  },
);
