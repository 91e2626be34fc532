/**
 * The demo page: draw or pick a digit, classify it with the packed binary model on the WebAssembly
 * XNOR kernel, show what happens inside, and time it against the same model in float32 with tfjs and
 * with ONNX Runtime Web (both WebAssembly, one thread as the engine; the ONNX peer is loaded after the
 * page's first render, onnx-peer.mjs). Every asset is fetched by a relative URL from the page's folder
 * (built by `npm run demo`). Query: ?timing=0 skips the automatic timing, ?onnx=0 the ONNX peer,
 * ?threads=N runs ONNX Runtime on N threads (needs a cross-origin isolated page; the default is 1). Where
 * `navigator.gpu` has an adapter, the binary engine also runs on WebGPU (the XNOR kernel in WGSL) beside the
 * WebAssembly one, and the page says whether their predictions agree (?gpu=0 leaves WebGPU out).
 * `window.bnnDemo` exposes the state for the browser test and the screenshot script.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import {
  BinaryEngine,
  createWasmKernel,
  createWebGpuKernel,
  deserializePackedModel,
  packedParameterBytes,
  type AsyncXnorKernel,
  type PackedModel,
  type XnorKernel,
} from '../lib/browser';
import { median } from '../bench/median';
import { FloatModel } from './floatModel';
import { bitPlanes, hiddenActivations } from './inspect';
import { digitInput, FIELD } from './preprocess';
import type { OnnxPeer } from './onnxPeer';

const PIXELS = FIELD * FIELD;
const CLASSES = 10;

interface Result {
  source: string;
  input: number[];
  scores: number[];
  prediction: number;
  floatPrediction: number;
  /** The ONNX Runtime Web peer's prediction, set when it has answered (it runs asynchronously). */
  onnxPrediction?: number;
  /** The binary engine's prediction on WebGPU, set when it has answered. */
  gpuPrediction?: number;
}

interface Timing {
  images: number;
  engineMs: number;
  /** tfjs float32, WebAssembly backend, 1 thread. */
  tfjsMs: number;
  /** ONNX Runtime Web float32, WebAssembly, `onnx.threads` threads (NaN without the peer). */
  onnxMs: number;
  /** The faster float peer's time, and the engine's speed-up over it. */
  bestFloatMs: number;
  ratio: number;
}

const query = new URLSearchParams(location.search);

const state = {
  kernel: null as XnorKernel | null,
  model: null as PackedModel | null,
  engine: null as BinaryEngine | null,
  floatModel: null as FloatModel | null,
  onnx: null as OnnxPeer | null,
  /** The ONNX peer: its version and threads, and its predictions on the gallery images against the engine's. */
  onnxInfo: null as null | {
    version: string;
    threads: number;
    onnxBytes: number;
    images: number;
    agree: number;
    predictions: number[];
    enginePredictions: number[];
  },
  onnxError: '',
  /** The binary engine on WebGPU (when navigator.gpu has an adapter), and its gallery predictions against wasm's. */
  gpuKernel: null as AsyncXnorKernel | null,
  gpuEngine: null as BinaryEngine | null,
  gpuInfo: null as null | { adapter: string; images: number; agree: number; predictions: number[] },
  gpuError: '',
  crossOriginIsolated: self.crossOriginIsolated,
  modelName: '',
  digits: { images: new Uint8Array(0), labels: new Uint8Array(0), count: 0 },
  last: null as Result | null,
  timing: [] as Timing[],
  ready: false,
  message: '',
};
(window as unknown as { bnnDemo: typeof state }).bnnDemo = state;

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const pad = byId<HTMLCanvasElement>('pad');
const padContext = pad.getContext('2d', { willReadFrequently: true })!;

function showMessage(text: string, kind: 'error' | 'info' = 'error'): void {
  state.message = text;
  const el = byId('message');
  el.textContent = text;
  el.className = `message ${kind}`;
  el.hidden = !text;
}

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`Could not load ${what} (${url}): ${(err as Error).message}`, { cause: err });
  }
  if (!response.ok) throw new Error(`Could not load ${what} (${url}): HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Draws 0/1 or ±1 values (≥ 0.5 → white) or 0–255 pixels into a canvas of w × h pixels. */
function paint(canvas: HTMLCanvasElement, values: ArrayLike<number>, w: number, h: number, gray = false): void {
  canvas.width = w;
  canvas.height = h;
  const context = canvas.getContext('2d')!;
  const image = context.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const v = gray ? values[i] : values[i] > 0.5 ? 235 : 40;
    image.data.set([v, v, v, 255], 4 * i);
  }
  context.putImageData(image, 0, 0);
}

function bitFigure(values: ArrayLike<number>, w: number, h: number, caption: string, scale: number): HTMLElement {
  const figure = document.createElement('figure');
  const canvas = document.createElement('canvas');
  paint(canvas, values, w, h);
  canvas.style.width = `${w * scale}px`;
  canvas.style.height = `${h * scale}px`;
  const text = document.createElement('figcaption');
  text.textContent = caption;
  figure.append(canvas, text);
  return figure;
}

function argMax(values: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < values.length; j++) if (values[j] > values[best]) best = j;
  return best;
}

function renderScores(scores: ArrayLike<number>, prediction: number): void {
  const min = Math.min(...Array.from(scores));
  const max = Math.max(...Array.from(scores));
  const rows = Array.from(scores, (s, j) => {
    const width = max > min ? (100 * (s - min)) / (max - min) : 0;
    const bar =
      `<div class="bar${j === prediction ? ' top' : ''}" ` + `style="width:${Math.max(width, 1).toFixed(1)}%"></div>`;
    return `<span>${j}</span>${bar}<span class="num">${s.toFixed(2)}</span>`;
  });
  byId('scores').innerHTML = rows.join('');
}

/** Classifies one 28×28 image and shows everything about it. */
function classify(input: Uint8Array, source: string): void {
  const { engine, floatModel, model } = state;
  if (!engine || !floatModel || !model) return showMessage('No model is loaded.');
  showMessage('');
  const scores = engine.scores(input, 1);
  const prediction = argMax(scores);
  const floatPrediction = argMax(floatModel.scores(input, 1));
  const result: Result = { source, input: Array.from(input), scores: Array.from(scores), prediction, floatPrediction };
  state.last = result;
  paint(byId<HTMLCanvasElement>('input'), input, FIELD, FIELD, true);
  byId('prediction').textContent = String(prediction);
  showAgreement(result);
  if (state.onnx) void askOnnx(state.onnx, input, result);
  if (state.gpuEngine) void askGpu(state.gpuEngine, input, result);
  renderScores(scores, prediction);
  const planes = bitPlanes(input);
  byId('planes').replaceChildren(
    ...[7, 6, 5, 4, 3, 2, 1, 0].map((n) => bitFigure(planes[n], FIELD, FIELD, `bit ${n}`, 2)),
  );
  const hidden = hiddenActivations(model, engine.layerSums(input, 1));
  byId('hidden').replaceChildren(
    ...hidden.map((a, i) => bitFigure(a, 64, Math.ceil(a.length / 64), `layer ${i + 1}`, 2)),
  );
}

function showAgreement(r: Result): void {
  const says = (name: string, p: number | undefined) =>
    p === undefined ? '' : p === r.prediction ? ` · ${name} agrees` : ` · ${name} says ${p}!`;
  byId('source').textContent =
    `${r.source}${says('tfjs float', r.floatPrediction)}${says('ONNX', r.onnxPrediction)}` +
    says('WebGPU', r.gpuPrediction);
}

async function askGpu(engine: BinaryEngine, input: Uint8Array, result: Result): Promise<void> {
  result.gpuPrediction = (await engine.predictAsync(input, 1))[0];
  if (state.last === result) showAgreement(result);
}

/**
 * The binary engine on WebGPU, where navigator.gpu has an adapter: the same packed model through the XNOR kernel
 * in WGSL, its predictions on the gallery images compared with the WebAssembly engine's. Without an adapter the
 * page says so and works as before.
 */
async function loadGpuEngine(): Promise<void> {
  const { model, engine, digits } = state;
  if (!model || !engine) return;
  const status = byId('gpu-status');
  state.gpuEngine?.dispose();
  state.gpuEngine = null;
  state.gpuInfo = null;
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    status.textContent = 'WebGPU: not available in this browser (the binary engine runs on WebAssembly only).';
    return;
  }
  try {
    state.gpuKernel ??= await createWebGpuKernel(gpu);
    const gpuEngine = new BinaryEngine(model, { kernel: state.gpuKernel });
    const predictions = Array.from(await gpuEngine.predictAsync(digits.images, digits.count));
    const expected = engine.predict(digits.images, digits.count);
    const agree = predictions.filter((p, i) => p === expected[i]).length;
    state.gpuEngine = gpuEngine;
    state.gpuInfo = { adapter: state.gpuKernel.isa, images: digits.count, agree, predictions };
    status.textContent =
      `The binary engine on WebGPU (the XNOR kernel in WGSL) on ${state.gpuKernel.isa}: its predictions equal ` +
      `the WebAssembly engine’s on ${agree} of ${digits.count} gallery images.`;
    if (state.last) await askGpu(gpuEngine, Uint8Array.from(state.last.input), state.last);
  } catch (err) {
    state.gpuError = (err as Error).message;
    status.textContent = `WebGPU could not run the binary engine here: ${state.gpuError}`;
  }
}

async function askOnnx(peer: OnnxPeer, input: Uint8Array, result: Result): Promise<void> {
  const onnxPrediction = argMax(await peer.scores(input, 1));
  result.onnxPrediction = onnxPrediction;
  if (state.last === result) showAgreement(result);
}

function clearPad(): void {
  padContext.fillStyle = '#000';
  padContext.fillRect(0, 0, pad.width, pad.height);
  pad.dataset.shows = 'drawing';
}

function classifyPad(): void {
  const input = digitInput(padContext.getImageData(0, 0, pad.width, pad.height));
  if (!input) return showMessage('The canvas is empty: draw a digit first (or pick a test image below it).', 'info');
  classify(input, 'your drawing');
}

function setUpDrawing(): void {
  clearPad();
  let last: { x: number; y: number } | null = null;
  const at = (e: PointerEvent) => {
    const box = pad.getBoundingClientRect();
    return {
      x: ((e.clientX - box.left) * pad.width) / box.width,
      y: ((e.clientY - box.top) * pad.height) / box.height,
    };
  };
  const stroke = (to: { x: number; y: number }) => {
    padContext.strokeStyle = '#fff';
    padContext.lineWidth = 20;
    padContext.lineCap = 'round';
    padContext.lineJoin = 'round';
    padContext.beginPath();
    padContext.moveTo(last!.x, last!.y);
    padContext.lineTo(to.x, to.y);
    padContext.stroke();
    last = to;
  };
  pad.addEventListener('pointerdown', (e) => {
    if (pad.dataset.shows === 'test image') clearPad();
    pad.setPointerCapture(e.pointerId);
    last = at(e);
    stroke(last);
  });
  pad.addEventListener('pointermove', (e) => last && stroke(at(e)));
  const end = () => {
    if (!last) return;
    last = null;
    classifyPad();
  };
  pad.addEventListener('pointerup', end);
  pad.addEventListener('pointercancel', end);
  byId('clear').addEventListener('click', () => {
    clearPad();
    showMessage('');
  });
  byId('classify').addEventListener('click', classifyPad);
}

function pickDigit(i: number): void {
  const { images, labels } = state.digits;
  const input = images.slice(i * PIXELS, (i + 1) * PIXELS);
  const small = document.createElement('canvas');
  paint(small, input, FIELD, FIELD, true);
  clearPad();
  padContext.imageSmoothingEnabled = false;
  padContext.drawImage(small, 0, 0, pad.width, pad.height);
  pad.dataset.shows = 'test image';
  for (const c of byId('gallery').children) c.classList.toggle('picked', c === byId('gallery').children[i]);
  classify(input, `MNIST test image #${i} (label ${labels[i]})`);
}

function setUpGallery(bytes: Uint8Array): void {
  const count = bytes.length / (PIXELS + 1);
  if (!Number.isInteger(count))
    throw new Error(`mnist-test.bin has ${bytes.length} bytes, not a whole number of 28×28 images + labels`);
  state.digits = { images: bytes.subarray(0, count * PIXELS), labels: bytes.subarray(count * PIXELS), count };
  byId('gallery').replaceChildren(
    ...Array.from({ length: count }, (_, i) => {
      const c = document.createElement('canvas');
      paint(c, state.digits.images.subarray(i * PIXELS, (i + 1) * PIXELS), FIELD, FIELD, true);
      c.title = `test image #${i}`;
      c.dataset.index = String(i);
      c.addEventListener('click', () => pickDigit(i));
      return c;
    }),
  );
}

const tableRow = (cells: string[], lastClass = '') => {
  const attributes = (i: number) => (i === cells.length - 1 && lastClass ? ` class="${lastClass}"` : '');
  return `<tr>${cells.map((c, i) => `<td${attributes(i)}>${c}</td>`).join('')}</tr>`;
};

const formatBytes = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`);

function renderSize(model: PackedModel, fileBytes: number): void {
  const params = packedParameterBytes(model);
  byId('size').innerHTML =
    '<tr><th>Model size</th><th>bytes</th></tr>' +
    tableRow(['float32 weights (kernels + BatchNorm)', formatBytes(model.floatBytes)]) +
    tableRow(['packed: 1 bit per weight + thresholds', formatBytes(params)]) +
    tableRow(['packed model file', formatBytes(fileBytes)]) +
    tableRow(['float32 / packed', `${(model.floatBytes / params).toFixed(1)}×`], 'ratio');
}

const nextFrame = () => new Promise((resolve) => setTimeout(resolve, 0));

async function timeModels(): Promise<void> {
  const { engine, floatModel, onnx, digits } = state;
  if (!engine || !floatModel) return;
  const table = byId('timing');
  delete table.dataset.done;
  table.innerHTML = '<tr><td>measuring…</td></tr>';
  const rows: Timing[] = [];
  for (const images of [1, digits.count]) {
    const pixels = digits.images.subarray(0, images * PIXELS);
    // Several calls per sample for one image: browsers coarsen performance.now() (0.1 ms where not isolated).
    const calls = images === 1 ? 10 : 1;
    const runs: [keyof typeof samples, () => unknown][] = [
      ['engine', () => engine.scores(pixels, images)],
      ['tfjs', () => floatModel.scores(pixels, images)],
    ];
    if (onnx) runs.push(['onnx', () => onnx.scores(pixels, images)]);
    const samples = { engine: [] as number[], tfjs: [] as number[], onnx: [] as number[] };
    for (let r = 0; r < 2 + 15; r++) {
      // Interleaved, so that all see the same load; the first 2 rounds are warm-up. The ONNX peer's runs are
      // awaited one by one, as a page calls them.
      for (const [name, run] of runs) {
        const start = performance.now();
        for (let c = 0; c < calls; c++) await run();
        if (r >= 2) samples[name].push((performance.now() - start) / calls);
      }
      await nextFrame();
    }
    const [engineMs, tfjsMs, onnxMs] = [median(samples.engine), median(samples.tfjs), median(samples.onnx)];
    const bestFloatMs = onnx ? Math.min(tfjsMs, onnxMs) : tfjsMs;
    rows.push({ images, engineMs, tfjsMs, onnxMs, bestFloatMs, ratio: bestFloatMs / engineMs });
  }
  state.timing = rows;
  const ms = (t: number) => (Number.isNaN(t) ? '—' : `${t.toFixed(2)} ms`);
  const onnxThreads = onnx ? ` (${onnx.threads} thread${onnx.threads > 1 ? 's' : ''})` : ' (not loaded)';
  table.innerHTML =
    '<tr><th>Inference (median)</th><th>binary engine</th><th>tfjs float</th>' +
    `<th>ONNX float${onnxThreads}</th><th>speed-up vs faster float</th></tr>` +
    rows
      .map((t) => {
        const cells = [`${t.images} image${t.images > 1 ? 's' : ''}`, ms(t.engineMs), ms(t.tfjsMs), ms(t.onnxMs)];
        return tableRow([...cells, `${t.ratio.toFixed(1)}×`], 'ratio');
      })
      .join('');
  table.dataset.done = '1';
}

/**
 * Loads the ONNX Runtime Web peer (onnx-peer.mjs, then ONNX Runtime's module and wasm from ort/) for the
 * current model, and compares its predictions on the gallery images with the engine's. A failure is shown
 * on the page; the rest of the page keeps working without the peer.
 */
async function loadOnnxPeer(): Promise<void> {
  const { model, engine, digits } = state;
  if (!model || !engine) return;
  const status = byId('onnx-status');
  status.textContent = 'ONNX Runtime Web: loading…';
  const threads = Number(query.get('threads') ?? 1);
  try {
    const { OnnxPeer } = (await import(new URL('onnx-peer.mjs', document.baseURI).href)) as typeof import('./onnxPeer');
    await state.onnx?.dispose();
    state.onnx = null;
    const peer = await OnnxPeer.create(model, threads);
    const scores = await peer.scores(digits.images, digits.count);
    const predictions = Array.from({ length: digits.count }, (_, i) => argMax(scores.subarray(10 * i, 10 * i + 10)));
    const enginePredictions = Array.from(engine.predict(digits.images, digits.count));
    const agree = predictions.filter((p, i) => p === enginePredictions[i]).length;
    state.onnx = peer;
    state.onnxInfo = {
      version: peer.version,
      threads: peer.threads,
      onnxBytes: peer.onnxBytes,
      images: digits.count,
      agree,
      predictions,
      enginePredictions,
    };
    status.textContent =
      `ONNX Runtime Web ${peer.version} (WebAssembly, ${peer.threads} thread${peer.threads > 1 ? 's' : ''}), ` +
      `running a ${(peer.onnxBytes / 1e6).toFixed(1)} MB ONNX graph built in this page from the packed model: ` +
      `its predictions equal the engine’s on ${agree} of ${digits.count} gallery images.`;
    if (state.last) {
      const input = Uint8Array.from(state.last.input);
      await askOnnx(peer, input, state.last);
    }
  } catch (err) {
    state.onnxError = (err as Error).message;
    status.textContent = `ONNX Runtime Web could not run here: ${state.onnxError}`;
  }
}

/** Takes a packed model into use, or throws a message saying why it cannot be used (keeping the previous one). */
function useModel(bytes: Uint8Array, name: string): void {
  let model: PackedModel;
  try {
    model = deserializePackedModel(bytes);
  } catch (err) {
    throw new Error(`The model file ${name} cannot be used: ${(err as Error).message}.`, { cause: err });
  }
  const classes = model.layers[model.layers.length - 1].weights.rows;
  if (
    model.inputShape.reduce((a, b) => a * b, 1) !== PIXELS ||
    classes !== CLASSES ||
    model.layers.some((l) => l.kind !== 'dense')
  ) {
    throw new Error(
      `The model file ${name} is a packed model for ${model.inputShape.join('×')} inputs and ${classes} ` +
        `classes; this page needs an MLP for 28×28 digits.`,
    );
  }
  state.floatModel?.dispose();
  // The ONNX peer was built for the previous model: dropped here, loaded again for this one by the caller.
  void state.onnx?.dispose();
  state.onnx = null;
  state.onnxInfo = null;
  state.model = model;
  state.engine = new BinaryEngine(model, { kernel: state.kernel! });
  state.floatModel = new FloatModel(model);
  state.modelName = name;
  renderSize(model, bytes.length);
}

async function loadUploadedModel(file: File): Promise<void> {
  try {
    useModel(new Uint8Array(await file.arrayBuffer()), file.name);
    byId('about').textContent = `Model: ${file.name} (loaded from your disk).`;
    if (state.last) classify(Uint8Array.from(state.last.input), state.last.source);
    if (query.get('gpu') !== '0') await loadGpuEngine();
    if (query.get('onnx') !== '0') await loadOnnxPeer();
    await timeModels();
  } catch (err) {
    showMessage((err as Error).message);
  }
}

async function start(): Promise<void> {
  setUpDrawing();
  byId('isolation').textContent = self.crossOriginIsolated
    ? 'This page is cross-origin isolated (its server sends COOP/COEP headers): WebAssembly threads are available; ' +
      'all three run on one thread here for a like-for-like comparison (?threads=2 gives ONNX Runtime two).'
    : 'This page is not cross-origin isolated (its server sends no COOP/COEP headers): everything runs on one ' +
      'thread.';
  byId('time').addEventListener('click', () => void timeModels());
  byId<HTMLInputElement>('model-file').addEventListener('change', (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file) void loadUploadedModel(file);
  });
  try {
    const xnor = await fetchBytes('xnor.wasm', 'the XNOR kernel');
    try {
      state.kernel = createWasmKernel(await WebAssembly.compile(xnor));
    } catch (err) {
      throw new Error(
        `This browser cannot run the XNOR kernel (it needs WebAssembly SIMD): ${(err as Error).message}`,
        { cause: err },
      );
    }
    // One thread, as the XNOR kernel: a like-for-like comparison (threads would need cross-origin isolation anyway).
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    setWasmPaths('./');
    if (!(await tf.setBackend('wasm'))) throw new Error('TensorFlow.js could not start its WebAssembly backend.');
    setUpGallery(await fetchBytes('mnist-test.bin', 'the MNIST test images'));
    const about = JSON.parse(new TextDecoder().decode(await fetchBytes('model/about.json', 'the model description')));
    const asked = new URLSearchParams(location.search).get('model');
    const url = asked ?? `model/${about.file}`;
    useModel(await fetchBytes(url, 'the model file'), url);
    byId('about').textContent = asked
      ? `Model: ${asked}.`
      : `Model: ${about.layers.join(', ')} from run ${about.run} (best epoch ${about.bestEpoch ?? '?'}), test error ` +
        `${(100 * about.testError).toFixed(2)} % on ${about.testImages} MNIST test images; packed by ` +
        `“${about.command}” on ${about.date.slice(0, 10)}.`;
    pickDigit(0);
    state.ready = true;
    // After the first render, side by side: the page works without either (the ONNX peer is most of its weight).
    await Promise.all([
      query.get('gpu') !== '0' ? loadGpuEngine() : null,
      query.get('onnx') !== '0' ? loadOnnxPeer() : null,
    ]);
    // ?timing=0 skips the automatic timing (the browser test, which checks results, not speed).
    if (query.get('timing') !== '0') await timeModels();
  } catch (err) {
    showMessage((err as Error).message);
  }
}

void start();
