/**
 * `npm run demo`: builds the browser demo into build/demo/ and serves it on localhost.
 * `--help` lists the flags.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cliFlags, runMain, type FlagTable } from './args';
import { buildDemo, serveDirectory, type BuiltDemo } from '../demo/site';
import { findChromium, HEADLESS_CHROMIUM_ARGS } from '../lib/plots/figure';
import { machineInfo } from '../lib/results/machine';

export const USAGE = [
  'usage: npm run demo -- [flags]',
  'Builds the browser demo into build/demo/ and serves it on localhost.',
].join('\n');
export const FLAG_TABLE = {
  port: { value: 'N', help: 'port to serve on', default: '8080' },
  'no-serve': { help: 'build only (CI; the folder works from any static host)' },
  screenshot: {
    value: 'FILE',
    help:
      "open the built page in Chromium, save a screenshot, and write the page's timings (engine, tfjs, " +
      "onnxruntime-web), the peers' versions, the machine, the date and the page weight to --timing (then exit)",
  },
  timing: {
    value: 'FILE',
    help: 'where --screenshot writes them',
    default: path.join('results', 'demo', 'timing.json'),
  },
} satisfies FlagTable;

/** Bytes of the files that only the ONNX Runtime Web peer loads (onnx-peer.mjs and ort/). */
const onnxPeerBytes = (built: BuiltDemo) =>
  Object.entries(built.assets)
    .filter(([file]) => file === 'onnx-peer.mjs' || file.startsWith('ort/'))
    .reduce((sum, [, bytes]) => sum + bytes, 0);

async function screenshot(built: BuiltDemo, file: string, timingFile: string): Promise<void> {
  const chromium = findChromium();
  if (!chromium) throw new Error('--screenshot needs Chromium (apt-get install chromium)');
  const { server, url } = await serveDirectory(built.dir);
  const { chromium: launcher } = await import('playwright-core');
  const browser = await launcher.launch({ executablePath: chromium, args: HEADLESS_CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(url);
    await page.waitForSelector('#timing[data-done], #message.error:not([hidden])', { timeout: 300_000 });
    const state = await page.evaluate(() => {
      const s = (
        window as unknown as {
          bnnDemo: {
            timing: unknown;
            message: string;
            modelName: string;
            onnxInfo: null | { version: string; threads: number; onnxBytes: number; images: number; agree: number };
            onnxError: string;
            crossOriginIsolated: boolean;
          };
        }
      ).bnnDemo;
      const info = s.onnxInfo;
      return {
        timing: s.timing,
        message: s.message,
        model: s.modelName,
        onnx: info && {
          version: info.version,
          threads: info.threads,
          onnxModelBytes: info.onnxBytes,
          predictionsEqualEngine: `${info.agree} of ${info.images} gallery images`,
        },
        onnxError: s.onnxError,
        crossOriginIsolated: s.crossOriginIsolated,
      };
    });
    if (state.message) throw new Error(`the page shows an error: ${state.message}`);
    if (!state.onnx) throw new Error(`the page's ONNX Runtime Web peer did not run: ${state.onnxError}`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await page.screenshot({ path: file, fullPage: true });
    const tfjsVersion = JSON.parse(
      fs.readFileSync(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'), 'utf8'),
    ).version;
    const about = JSON.parse(fs.readFileSync(path.join(built.dir, 'model', 'about.json'), 'utf8'));
    // A second page with ONNX Runtime on 2 threads (where the page is cross-origin isolated), beside the main,
    // same-thread comparison: the engine and tfjs still on 1 thread there.
    let onnxTwoThreads: unknown = null;
    if (state.crossOriginIsolated) {
      const second = await browser.newPage();
      await second.goto(`${url}?threads=2`);
      await second.waitForSelector('#timing[data-done], #message.error:not([hidden])', { timeout: 300_000 });
      onnxTwoThreads = await second.evaluate(() => {
        const s = (window as unknown as { bnnDemo: { timing: unknown; onnxInfo: { threads: number } | null } }).bnnDemo;
        return { threads: s.onnxInfo?.threads, timing: s.timing };
      });
      await second.close();
    }
    const record = {
      what:
        'median inference time in the demo page (15 interleaved runs after 2 warm-up rounds): binary engine ' +
        '(wasm XNOR kernel, 1 thread) vs the same model in float32 with tfjs (wasm backend, 1 thread) and with ' +
        'onnxruntime-web (wasm, 1 thread); ratio = the faster float time / the engine time',
      browser: `Chromium ${browser.version()} (headless)`,
      crossOriginIsolated: state.crossOriginIsolated,
      tfjs: { version: tfjsVersion, backend: 'wasm (SIMD)', threads: 1 },
      onnxruntimeWeb: { ...state.onnx, executionProvider: 'wasm (SIMD)', graphOptimizationLevel: 'all' },
      model: { run: about.run, file: state.model, testError: about.testError },
      timing: state.timing,
      onnxTwoThreads,
      pageWeight: {
        totalBytes: built.totalBytes,
        // Loaded by the page after its first render (the ONNX Runtime Web peer): the rest is the page itself.
        onnxPeerBytes: onnxPeerBytes(built),
        withoutOnnxPeerBytes: built.totalBytes - onnxPeerBytes(built),
        assets: built.assets,
      },
      machine: machineInfo(),
      date: new Date().toISOString(),
      command: `npm run demo -- ${process.argv.slice(2).join(' ')}`,
    };
    fs.mkdirSync(path.dirname(timingFile), { recursive: true });
    fs.writeFileSync(timingFile, `${JSON.stringify(record, null, 2)}\n`);
    console.log(`wrote ${file} and ${timingFile}`);
  } finally {
    await browser.close();
    server.close();
  }
}

async function main(): Promise<void> {
  const values = cliFlags(USAGE, FLAG_TABLE);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be an integer in [0, 65535], got '${values.port}'`);
  const built = await buildDemo();
  console.log(`built ${path.relative(process.cwd(), built.dir)}/: ${(built.totalBytes / 1e6).toFixed(2)} MB`);
  for (const [file, bytes] of Object.entries(built.assets))
    console.log(`  ${file.padEnd(30)} ${String(bytes).padStart(9)} bytes`);
  if (values.screenshot) return screenshot(built, values.screenshot, values.timing);
  if (values['no-serve']) return;
  const { url } = await serveDirectory(built.dir, port);
  console.log(`serving the demo at ${url} (Ctrl-C to stop)`);
}

runMain(module, main);
