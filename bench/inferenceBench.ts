/**
 * `npm run bench:infer`: whole-network inference of the paper's three networks, the binary engine on
 * each kernel tier against the float runtimes a user would pick instead — ONNX Runtime (the exported
 * ONNX graph, lib/engine/onnxExport.ts), PyTorch (scripts/pytorch_infer.py, when installed) and
 * tfjs on wasm (the tfjs model itself) — all running the same weights, each in its own process.
 *
 * The parent builds each network (the project's builders, BatchNorm calibrated on the bench images:
 * speed does not depend on the weights) or restores a checkpoint, and writes its artefacts to a work
 * folder: images.bin (uint8 pixels), model.bnnpack (engine), model.onnx (ONNX Runtime), tfjs/ (the
 * tfjs model), float.json + float.bin (the float network for PyTorch: int8 ±1 weights, float32
 * BatchNorm). A child gets a `WorkerSpec` as JSON, times each batch size (warm-up, repeats, median)
 * and prints one JSON line, a `WorkerResult` with the predicted classes of its largest batch, which
 * the parent compares with the engine's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { makeImageSet, type SplitDataset } from '../lib/data/dataset';
import { loadFashionMnist, loadMnist } from '../lib/data/mnist';
import {
  BinaryEngine,
  exportPackedModel,
  floatNetwork,
  layerMacs,
  loadPackedModel,
  onnxModelBytes,
  packedFloatNetwork,
  savePackedModel,
  type FloatNetwork,
  type PackedModel,
} from '../lib/engine';
import { writeFileAtomic } from '../lib/io/atomicWrite';
import { registerFileSystemIO } from '../lib/io/fileSystem';
import { allocPacked, tryKernel } from '../lib/kernels';
import type { Figure } from '../lib/plots/figure';
import { seededRandom } from '../lib/random';
import { buildModel } from '../lib/experiment';
import { checkpointHyperparameters, restoreModelFromCheckpoint } from '../lib/train/checkpoint';
import type { Hyperparameters } from '../lib/presets';
import { measureRoofline, type MachineDescription } from './xnorBench';
import { calibrateBatchNorm } from './mlpBench';
import { median } from './median';
import { FLOAT_TIE_MARGIN } from './report';
import { loadOnnxRuntime, onnxScores, onnxSession } from './onnxRuntime';
import { getDataset } from '../lib/data/registry';
import { networkHyperparameters, resolveNetwork } from './benchNetworks';

export const INFERENCE_IMPLEMENTATIONS = [
  'engine-native',
  'engine-native-layers',
  'engine-wasm',
  'onnxruntime',
  'pytorch',
  'tfjs-wasm',
] as const;
export type InferenceImplementation = (typeof INFERENCE_IMPLEMENTATIONS)[number];
export const isEngine = (impl: string) => impl.startsWith('engine-');
/** Float peers that are not the strongest a user would pick: shown beside the main column. */
export const WEAK_BASELINES: InferenceImplementation[] = ['tfjs-wasm'];

/** A benchmark network: the paper's (the default), the smoke ones, or a checkpoint. */
export interface InferenceNetwork {
  name: string;
  what: string;
  /** Batch sizes timed, the largest being every bench image. */
  batches: number[];
}

export const PAPER_INFERENCE_NETWORKS: InferenceNetwork[] = [
  { name: 'mnist-mlp-3x4096', what: 'MNIST MLP 784-3×4096-10 (paper)', batches: [1, 100, 10_000] },
  {
    name: 'cifar10-convnet-paper',
    what: 'CIFAR-10 ConvNet (2×128C3)-MP2-(2×256C3)-MP2-(2×512C3)-MP2-(2×1024FC)-10 (paper)',
    batches: [1, 100, 1000],
  },
  {
    name: 'svhn-convnet-paper',
    what: 'SVHN ConvNet: the CIFAR-10 one at half the conv widths (paper)',
    batches: [1, 100, 1000],
  },
];

export const SMOKE_INFERENCE_NETWORKS: InferenceNetwork[] = [
  { name: 'mnist-mlp-smoke', what: 'MNIST smoke MLP 784-2×128-10', batches: [1, 50] },
  {
    name: 'fashion-convnet-smoke',
    what: 'Fashion-MNIST smoke ConvNet (2×8C3)-MP2-(2×16C3)-MP2-64FC-10',
    batches: [1, 20],
  },
];

/** Files of one prepared network (paths relative to nothing: absolute). */
export interface PreparedNetwork {
  network: string;
  what: string;
  dir: string;
  inputShape: number[];
  numClasses: number;
  images: number;
  imagesFrom: string;
  batches: number[];
  floatBytes: number;
  onnxBytes: number;
}

/** What a child runs. */
export interface WorkerSpec {
  implementation: InferenceImplementation;
  threads: number;
  dir: string;
  inputShape: number[];
  numClasses: number;
  batches: { images: number; warmup: number; runs: number }[];
}

export interface WorkerResult {
  detail: string;
  timings: { images: number; msPerBatch: number; runsMs: number[] }[];
  /** Predicted class of each image of the largest batch. */
  predictions: number[];
  /** Engines: median time per layer on a batch of `images`. */
  profile?: LayerProfile;
}

export interface LayerProfile {
  images: number;
  layers: { name: string; kind: 'binary' | '8-bit'; macsPerImage: number; msPerBatch: number }[];
}

/** A layer profile with its network, implementation and thread count, as inference.json keeps it. */
export interface ProfileRow extends LayerProfile {
  network: string;
  implementation: InferenceImplementation;
  threads: number;
}

/** The XNOR kernels' ceilings measured in the same run, G binary MAC/s. */
export interface KernelPeaks {
  /** XOR + VPOPCNTQ + ADD on registers, one thread (null without VPOPCNTQ). */
  roofline: number | null;
  /** The native XNOR GEMM on a 4096³ product, per thread count. */
  gemm4096: { threads: number; gMacs: number }[];
}

export interface InferenceRow {
  network: string;
  images: number;
  threads: number;
  implementation: InferenceImplementation;
  detail: string;
  msPerBatch: number;
  msPerImage: number;
  runsMs: number[];
  /** Predictions equal to the engine's (reference: the first engine row), of `compared` images. */
  agree: number | null;
  compared: number | null;
}

export interface InferenceSkip {
  network: string;
  implementation: InferenceImplementation;
  threads: number;
  reason: string;
}

export interface InferenceResults {
  date: string;
  smoke: boolean;
  command: string;
  machine: MachineDescription;
  loadAverageStart: number[];
  loadAverageEnd: number[];
  wallSeconds: number;
  networks: Omit<PreparedNetwork, 'dir'>[];
  rows: InferenceRow[];
  skipped: InferenceSkip[];
  /** Per-layer times of the engines (layer by layer, and the whole network in one native call). */
  profiles: ProfileRow[];
  peaks: KernelPeaks;
  /** Images where a float peer's class differs from the engine's, with the engine's top-two score gap. */
  disagreements: {
    network: string;
    implementation: string;
    threads: number;
    image: number;
    engineTopGap: number;
    /** The image's BatchNorm decision nearest its threshold (null without the float model: --packed). */
    closest: { layer: string; relativeMargin: number } | null;
  }[];
}

/** Timed repeats and warm-ups of a batch of `images` (`runs` overrides the repeats). */
export function batchPlan(images: number, runs?: number): { images: number; warmup: number; runs: number } {
  if (images === 1) return { images, warmup: 5, runs: runs ?? 30 };
  if (images <= 100) return { images, warmup: 2, runs: runs ?? 10 };
  return { images, warmup: 1, runs: runs ?? 3 };
}

/** Fashion-MNIST's test set where the Debian package (dataset-fashion-mnist) is installed, else null. */
function tryFashionMnist(): SplitDataset | null {
  try {
    return loadFashionMnist();
  } catch {
    return null;
  }
}

/** A data set of the network's shape only (what buildModel reads: sizes and classes). */
function shapeDataset(hp: Hyperparameters): SplitDataset {
  const s = getDataset(hp.dataset).shape;
  const set = makeImageSet(new Uint8Array(s.height * s.width * s.channels), Uint8Array.of(0), s, s.numClasses);
  return { name: hp.dataset, train: set, valid: set, test: set };
}

/** The bench images: MNIST's genuine test images for MNIST networks, else seeded random pixels. */
function benchImages(hp: Pick<Hyperparameters, 'dataset'>, count: number): { pixels: Uint8Array; from: string } {
  const s = getDataset(hp.dataset).shape;
  const per = s.height * s.width * s.channels;
  const real = hp.dataset === 'mnist' ? loadMnist : hp.dataset === 'fashion-mnist' ? tryFashionMnist : null;
  const test = real?.()?.test;
  if (test) {
    if (count > test.count) throw new Error(`${hp.dataset} has ${test.count} test images, ${count} asked for`);
    return { pixels: test.images.slice(0, count * per), from: `the first ${count} ${hp.dataset} test images` };
  }
  const random = seededRandom(2016);
  const pixels = Uint8Array.from({ length: count * per }, () => Math.floor(random() * 256));
  return { pixels, from: `${count} seeded random uint8 images (no ${hp.dataset} data on this machine)` };
}

/** The float network for PyTorch: float.json (ops, offsets) and float.bin (int8 ±1 weights, float32 BatchNorm). */
function writeFloatNetwork(net: FloatNetwork, dir: string): void {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const put = (a: Float32Array, asInt8: boolean) => {
    const bytes = asInt8
      ? new Uint8Array(Int8Array.from(a).buffer)
      : new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const at = offset;
    // float32 arrays start at a multiple of 4 (numpy.frombuffer needs no alignment, but keep it tidy).
    const pad = (4 - (bytes.length % 4)) % 4;
    chunks.push(bytes, new Uint8Array(pad));
    offset += bytes.length + pad;
    return { offset: at, length: a.length, dtype: asInt8 ? 'int8' : 'float32' };
  };
  const ops = net.ops.map((o) => {
    if (o.op === 'conv' || o.op === 'matmul') return { ...o, weights: put(o.weights, true) };
    if (o.op === 'batchnorm')
      return {
        ...o,
        scale: put(o.scale, false),
        bias: put(o.bias, false),
        mean: put(o.mean, false),
        variance: put(o.variance, false),
      };
    return o;
  });
  fs.writeFileSync(path.join(dir, 'float.bin'), Buffer.concat(chunks));
  fs.writeFileSync(path.join(dir, 'float.json'), JSON.stringify({ ...net, ops }));
}

/**
 * Builds (or restores from `checkpoint`) the network, calibrates its BatchNorm when untrained, and
 * writes the artefacts every implementation reads into `dir`.
 */
/**
 * A packed model file (e.g. the demo's trained MLP, demo/model/model.bnnpack) as a bench network: the
 * float peers run `packedFloatNetwork` (ONNX Runtime, PyTorch) or the demo's FloatModel (tfjs, MLPs).
 */
async function preparePacked(
  network: { packed: string; dataset: Hyperparameters['dataset']; batches: number[] },
  dir: string,
  log: (line: string) => void,
): Promise<PreparedNetwork> {
  const packed = loadPackedModel(network.packed);
  const s = getDataset(network.dataset).shape;
  const size = packed.inputShape.reduce((a, b) => a * b, 1);
  if (size !== s.height * s.width * s.channels)
    throw new Error(`${network.packed} takes ${packed.inputShape.join('×')} inputs, not ${network.dataset} images`);
  const count = Math.max(...network.batches);
  const images = benchImages({ dataset: network.dataset }, count);
  const what = `trained packed model ${network.packed}`;
  const net = packedFloatNetwork(packed);
  return writeArtefacts(`${network.dataset}-packed`, what, dir, images, packed, net, network.batches, log);
}

/** The files every implementation reads: images, packed model, ONNX graph and float network. */
function writeArtefacts(
  name: string,
  what: string,
  dir: string,
  images: { pixels: Uint8Array; from: string },
  packed: PackedModel,
  net: FloatNetwork,
  batches: number[],
  log: (line: string) => void,
): PreparedNetwork {
  fs.writeFileSync(path.join(dir, 'images.bin'), images.pixels);
  savePackedModel(packed, path.join(dir, 'model.bnnpack'));
  const onnx = onnxModelBytes(net, { description: what });
  writeFileAtomic(path.join(dir, 'model.onnx'), onnx);
  writeFloatNetwork(net, dir);
  log(`${name}: ${what}; ${images.from}; ONNX ${(onnx.length / 2 ** 20).toFixed(1)} MiB`);
  return {
    network: name,
    what,
    dir,
    inputShape: packed.inputShape,
    numClasses: net.numClasses,
    images: Math.max(...batches),
    imagesFrom: images.from,
    batches,
    floatBytes: packed.floatBytes,
    onnxBytes: onnx.length,
  };
}

export async function prepareNetwork(
  network:
    | InferenceNetwork
    | { checkpoint: string; batches: number[] }
    | { packed: string; dataset: Hyperparameters['dataset']; batches: number[] },
  dir: string,
  log: (line: string) => void,
): Promise<PreparedNetwork> {
  fs.mkdirSync(dir, { recursive: true });
  if ('packed' in network) return preparePacked(network, dir, log);
  let model: tf.Sequential;
  let name: string;
  let what: string;
  let hp: Hyperparameters;
  if ('checkpoint' in network) {
    hp = checkpointHyperparameters(network.checkpoint);
    model = buildModel(hp, shapeDataset(hp));
    const { epoch } = restoreModelFromCheckpoint(model, network.checkpoint);
    name = `${hp.dataset}-${hp.arch}-checkpoint`;
    what = `trained ${hp.dataset} ${hp.arch} from ${network.checkpoint} (${epoch} epochs)`;
  } else {
    name = resolveNetwork(network.name);
    hp = networkHyperparameters(name);
    model = buildModel(hp, shapeDataset(hp));
    what = `${network.what}, random weights, BatchNorm calibrated on the bench images`;
  }
  const count = Math.max(...network.batches);
  const { pixels, from } = benchImages(hp, count);
  const s = getDataset(hp.dataset).shape;
  const inputShape = model.inputs[0].shape.slice(1) as number[];
  if (!('checkpoint' in network)) {
    // Statistics of up to 200 images (the ConvNets' forward pass is slow on a plain backend).
    const n = Math.min(count, hp.arch === 'mlp' ? 1000 : 200);
    const per = s.height * s.width * s.channels;
    const x = tf.tensor(
      Float32Array.from(pixels.subarray(0, n * per), (p) => p / 127.5 - 1),
      [n, ...inputShape],
    );
    calibrateBatchNorm(model, x, 7);
    x.dispose();
  }
  const prepared = writeArtefacts(
    name,
    what,
    dir,
    { pixels, from },
    exportPackedModel(model),
    floatNetwork(model),
    network.batches,
    log,
  );
  registerFileSystemIO();
  await model.save(`file://${path.join(dir, 'tfjs')}`);
  model.dispose();
  return prepared;
}

function argmaxRows(scores: ArrayLike<number>, classes: number): number[] {
  return Array.from({ length: scores.length / classes }, (_, i) => {
    let best = 0;
    for (let j = 1; j < classes; j++) if (scores[i * classes + j] > scores[i * classes + best]) best = j;
    return best;
  });
}

/** Warm-up, repeats, median: ms per call of `fn` for each batch; predictions of the largest. */
async function timeBatches(
  spec: WorkerSpec,
  pixels: Uint8Array,
  run: (images: Uint8Array, count: number) => Promise<number[]> | number[],
): Promise<Pick<WorkerResult, 'timings' | 'predictions'>> {
  const per = spec.inputShape.reduce((a, b) => a * b, 1);
  const timings: WorkerResult['timings'] = [];
  let predictions: number[] = [];
  let largest = 0;
  for (const b of spec.batches) {
    const images = pixels.subarray(0, b.images * per);
    const t0 = performance.now();
    let last = await run(images, b.images);
    // A call of seconds (a weak baseline on a large batch) is timed 3 times, not 10 or 30.
    const slow = performance.now() - t0 > 2000;
    for (let i = 1; i < (slow ? 1 : b.warmup); i++) last = await run(images, b.images);
    const runsMs: number[] = [];
    for (let i = 0; i < (slow ? Math.min(3, b.runs) : b.runs); i++) {
      const t0 = performance.now();
      last = await run(images, b.images);
      runsMs.push(performance.now() - t0);
    }
    timings.push({
      images: b.images,
      msPerBatch: median(runsMs),
      runsMs: runsMs.map((t) => Math.round(t * 1000) / 1000),
    });
    if (b.images > largest) {
      largest = b.images;
      predictions = Array.from(last);
    }
  }
  return { timings, predictions };
}

/** Median milliseconds per layer over a few runs of the largest batch up to 100 images. */
function profileLayers(engine: BinaryEngine, spec: WorkerSpec, pixels: Uint8Array): LayerProfile {
  const images = Math.min(100, Math.max(...spec.batches.map((b) => b.images)));
  const runs = spec.batches.some((b) => b.runs === 1) ? 1 : 5;
  const per = spec.inputShape.reduce((a, b) => a * b, 1);
  const samples = engine.model.layers.map((): number[] => []);
  for (let r = 0; r <= runs; r++) {
    engine.layerSeconds.fill(0);
    engine.scores(pixels.subarray(0, images * per), images);
    if (r > 0) engine.layerSeconds.forEach((s, i) => samples[i].push(s * 1000)); // run 0 warms up
  }
  return {
    images,
    layers: engine.model.layers.map((l, i) => {
      const { macs, kind } = layerMacs(l);
      return { name: l.name, kind, macsPerImage: macs, msPerBatch: Math.round(median(samples[i]) * 1e4) / 1e4 };
    }),
  };
}

/** The child's work for the Node implementations (PyTorch is scripts/pytorch_infer.py). */
export async function runWorker(spec: WorkerSpec): Promise<WorkerResult> {
  const pixels = new Uint8Array(fs.readFileSync(path.join(spec.dir, 'images.bin')));
  const impl = spec.implementation;
  if (isEngine(impl)) {
    const kernel = tryKernel(impl === 'engine-wasm' ? 'wasm' : 'native');
    if (typeof kernel === 'string') throw new Error(kernel);
    if (spec.threads > kernel.maxThreads)
      throw new Error(`the ${kernel.tier} tier runs at most ${kernel.maxThreads} thread(s)`);
    const model = loadPackedModel(path.join(spec.dir, 'model.bnnpack'));
    const engine = new BinaryEngine(model, {
      kernel,
      threads: spec.threads,
      compiled: impl !== 'engine-native-layers',
    });
    const r = await timeBatches(spec, pixels, (images, count) => Array.from(engine.predict(images, count)));
    const how = engine.network ? 'whole network in one native call (native/engine.cc)' : 'layer by layer (engine.ts)';
    return { detail: `${kernel.tier} ${kernel.isa}, ${how}`, ...r, profile: profileLayers(engine, spec, pixels) };
  }
  if (impl === 'onnxruntime') {
    const ort = loadOnnxRuntime();
    if (typeof ort === 'string') throw new Error(ort);
    const session = await onnxSession(ort, path.join(spec.dir, 'model.onnx'), spec.threads);
    const r = await timeBatches(spec, pixels, async (images, count) =>
      argmaxRows(await onnxScores(ort, session, images, count, spec.inputShape), spec.numClasses),
    );
    await session.release();
    return { detail: `onnxruntime-node ${ort.version}, CPU, float32, default graph optimizations`, ...r };
  }
  if (impl === 'tfjs-wasm') {
    if (spec.threads !== 1) throw new Error('the tfjs wasm backend runs one thread under Node');
    const { initBackend } = await import('../lib/backend');
    await initBackend('wasm');
    await import('../lib/layers');
    if (spec.inputShape.length === 1) {
      // The demo page's float model: ±1 kernels unpacked to float32 once, thresholds as comparisons.
      const { FloatModel } = await import('../demo/floatModel');
      const float = new FloatModel(loadPackedModel(path.join(spec.dir, 'model.bnnpack')));
      const r = await timeBatches(spec, pixels, (images, count) =>
        argmaxRows(float.scores(images, count), spec.numClasses),
      );
      return { detail: `tfjs ${tf.version_core} wasm backend, demo/floatModel.ts (float32 ±1 kernels)`, ...r };
    }
    registerFileSystemIO();
    const model = await tf.loadLayersModel(`file://${path.join(spec.dir, 'tfjs')}`);
    const r = await timeBatches(spec, pixels, (images, count) =>
      tf.tidy(() => {
        const x = tf.sub(tf.div(tf.tensor(images, [count, ...spec.inputShape], 'float32'), 127.5), 1);
        const scores = model.predict(x, { batchSize: Math.min(count, 100) }) as tf.Tensor;
        return Array.from(scores.argMax(1).dataSync());
      }),
    );
    return {
      detail:
        `tfjs ${tf.version_core} wasm backend, model.predict of the tfjs model ` +
        '(sign of the latent kernels on each call)',
      ...r,
    };
  }
  throw new Error(`${impl} does not run in a Node worker`);
}

/** The native XNOR kernels' ceilings on this CPU, measured now (null/empty without the native tier). */
export function measureKernelPeaks(threads: number[]): KernelPeaks {
  const kernel = tryKernel('native');
  if (typeof kernel === 'string') return { roofline: null, gemm4096: [] };
  const n = 4096;
  const a = allocPacked(n, n);
  const random = seededRandom(3);
  for (let i = 0; i < a.data.length; i++) a.data[i] = (random() * 2 ** 32) >>> 0;
  const out = new Int32Array(n * n);
  const gemm4096 = threads.map((t) => {
    const times: number[] = [];
    for (let r = 0; r < 4; r++) {
      const t0 = performance.now();
      kernel.gemm(a, a, { threads: t, out });
      if (r > 0) times.push(performance.now() - t0);
    }
    return { threads: t, gMacs: Math.round(n ** 3 / (median(times) / 1000) / 1e9) };
  });
  const roofline = measureRoofline(1.5);
  return { roofline: roofline === null ? null : Math.round(roofline / 1e9), gemm4096 };
}

/** Markdown rows of the per-layer profiles: time, G MAC/s and share of the kernels' peaks. */
export function profileMarkdown(b: InferenceResults): string[] {
  if (!b.profiles.length) return [];
  const gemmPeaks = b.peaks.gemm4096.map((g) => `${g.gMacs} G/s on ${g.threads} thr`).join(', ');
  const lines = [
    '## Per-layer profile of the engine',
    '',
    `Median ms per batch of each layer (the first of each network's batches up to 100 images), ` +
      'the layer-by-layer engine (TypeScript between native kernels: before) and the whole network in one native ' +
      'call (after); G MAC/s counts binary multiply-accumulates (8-bit ones for a first layer on pixels). Peaks ' +
      `measured in this run: XOR + VPOPCNTQ + ADD on registers ${b.peaks.roofline ?? '—'} G/s on one thread; the ` +
      `native XNOR GEMM at 4096³ ${gemmPeaks || '—'}.`,
    '',
    '| network | threads | layer | kind | M MAC / image | before: ms | after: ms | after: G MAC/s | ' +
      '% of GEMM peak | % of roofline |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const after = b.profiles.filter((p) => p.implementation === 'engine-native');
  for (const p of after) {
    const before = b.profiles.find(
      (q) => q.implementation === 'engine-native-layers' && q.network === p.network && q.threads === p.threads,
    );
    const gemm = b.peaks.gemm4096.find((g) => g.threads === p.threads)?.gMacs;
    const roof = b.peaks.roofline === null ? null : b.peaks.roofline * p.threads;
    p.layers.forEach((l, i) => {
      const rate = (l.macsPerImage * p.images) / (l.msPerBatch / 1000) / 1e9;
      const pct = (peak: number | null | undefined) =>
        l.kind === 'binary' && peak ? `${Math.round((100 * rate) / peak)} %` : '';
      lines.push(
        `| ${p.network} | ${p.threads} | ${l.name} | ${l.kind} | ${(l.macsPerImage / 1e6).toFixed(1)} | ` +
          `${before ? fmtMs(before.layers[i].msPerBatch) : '—'} | ${fmtMs(l.msPerBatch)} | ${rate.toFixed(0)} | ` +
          `${pct(gemm)} | ${pct(roof)} |`,
      );
    });
  }
  return [...lines, ''];
}

// --- report --------------------------------------------------------------------------------

const fmtMs = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const fmtX = (x: number) => (x >= 10 ? `${x.toFixed(0)}×` : `${x.toFixed(1)}×`);

/** Per (network, images, threads): the fastest engine row, the fastest float row, and the rows. */
export function speedups(b: InferenceResults) {
  const keys = [...new Set(b.rows.map((r) => `${r.network}|${r.images}|${r.threads}`))];
  return keys.map((key) => {
    const [network, images, threads] = key.split('|');
    const rows = b.rows.filter(
      (r) => r.network === network && r.images === Number(images) && r.threads === Number(threads),
    );
    const fastest = (list: InferenceRow[]) =>
      list.length ? list.reduce((a, c) => (c.msPerBatch < a.msPerBatch ? c : a)) : undefined;
    const engine = fastest(rows.filter((r) => isEngine(r.implementation)));
    const float = fastest(rows.filter((r) => !isEngine(r.implementation)));
    return { network, images: Number(images), threads: Number(threads), rows, engine, float };
  });
}

export function inferenceMarkdown(b: InferenceResults): string {
  const m = b.machine;
  const impls = INFERENCE_IMPLEMENTATIONS.filter((i) => b.rows.some((r) => r.implementation === i));
  const floats = impls.filter((i) => !isEngine(i));
  const lines = [
    `# Whole-network inference: the binary engine vs float runtimes${b.smoke ? ' (smoke run: tiny networks)' : ''}`,
    '',
    `Generated by \`${b.command}\` on ${b.date}: ${m.cpu} (${m.cores} CPUs, flags ${m.cpuFlags.join(' ')}), ` +
      `${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}. Load average ${b.loadAverageStart.join(' / ')} at start, ` +
      `${b.loadAverageEnd.join(' / ')} at end (above ${m.cores}: other jobs competed for the CPUs). ` +
      `${b.wallSeconds.toFixed(0)} s in all.`,
    '',
    'Each implementation ran in its own process on the same weights and images; ms per batch are medians ' +
      'of the timed repeats after warm-up (inference.json lists every repeat). The engine takes uint8 ' +
      'pixels; so do the float peers (the cast and scaling to [−1, 1] are part of their graph/timing). ' +
      '**Speed-up vs best float** = the fastest float runtime of the row / the fastest engine tier; the ' +
      `weak baselines (${WEAK_BASELINES.join(', ')}) are beside it. Agreement: images whose predicted class ` +
      "equals the engine's, for the largest batch.",
    '',
    ...b.networks.map((n) => `- **${n.network}**: ${n.what}; ${n.imagesFrom}.`),
    '',
    `| network | images | threads | ${impls.map((i) => `${i} ms`).join(' | ')} | **speed-up vs best float** | ` +
      `${WEAK_BASELINES.filter((w) => impls.includes(w))
        .map((w) => `vs ${w}`)
        .join(' | ')}${impls.includes('tfjs-wasm') ? ' | ' : ''}best float |`,
    `|---|---|---|${impls.map(() => '---|').join('')}---|${WEAK_BASELINES.filter((w) => impls.includes(w))
      .map(() => '---|')
      .join('')}---|`,
  ];
  for (const s of speedups(b)) {
    const cell = (impl: string) => {
      const r = s.rows.find((x) => x.implementation === impl);
      return r ? fmtMs(r.msPerBatch) : '—';
    };
    const vs = (r: InferenceRow | undefined) => (r && s.engine ? fmtX(r.msPerBatch / s.engine.msPerBatch) : '—');
    const weak = WEAK_BASELINES.filter((w) => impls.includes(w)).map((w) =>
      vs(s.rows.find((r) => r.implementation === w)),
    );
    lines.push(
      `| ${s.network} | ${s.images} | ${s.threads} | ${impls.map(cell).join(' | ')} | **${vs(s.float)}** | ` +
        `${weak.map((w) => `${w} | `).join('')}${s.float?.implementation ?? '—'} |`,
    );
  }
  lines.push('', '## Agreement with the engine (largest batch)', '');
  lines.push('| network | threads | implementation | agree / images |', '|---|---|---|---|');
  // Each row's agreement is on its own largest batch (tfjs on wasm stops at 100 ConvNet images).
  for (const r of b.rows)
    if (r.compared !== null)
      lines.push(`| ${r.network} | ${r.threads} | ${r.implementation} | ${r.agree} / ${r.compared} |`);
  if (b.disagreements.length) {
    lines.push(
      '',
      "Differing images, with the engine's relative gap between its two top scores, and the image's " +
        'BatchNorm decision nearest its threshold anywhere in the network (relative margin |a| / ' +
        '(|c·(s − μ)| + |β|), a exact from the integer sums): near float32 precision (≈ 1e-7) the float ' +
        "runtime's rounding tipped that sign (a float tie):",
      '',
      ...b.disagreements.map(
        (d) =>
          `- ${d.network}, ${d.implementation} (${d.threads} thr): image ${d.image}, ` +
          `top-two gap ${d.engineTopGap.toExponential(2)}` +
          (d.closest
            ? `; nearest threshold in ${d.closest.layer}, margin ${d.closest.relativeMargin.toExponential(2)}` +
              (d.closest.relativeMargin < FLOAT_TIE_MARGIN ? ' (a float tie)' : ' (**not a float tie**)')
            : ''),
      ),
    );
  }
  if (b.skipped.length)
    lines.push(
      '',
      'Skipped:',
      '',
      ...b.skipped.map((s) => `- ${s.network}, ${s.implementation} at ${s.threads} thr: ${s.reason}`),
    );
  lines.push(
    '',
    `Float peers: ${floats.map((f) => `${f} (${b.rows.find((r) => r.implementation === f)?.detail})`).join('; ')}.`,
    '',
    ...profileMarkdown(b),
  );
  return lines.join('\n');
}

export function inferenceFigure(b: InferenceResults): Figure {
  const groups = speedups(b).filter((s) => s.engine && s.float);
  const x = groups.map((s) => `${s.network} ${s.images} img ${s.threads} thr`);
  const tiers = INFERENCE_IMPLEMENTATIONS.filter((i) => isEngine(i) && b.rows.some((r) => r.implementation === i));
  return {
    data: tiers.map((tier) => ({
      type: 'bar',
      name: tier,
      x,
      y: groups.map((s) => {
        const r = s.rows.find((q) => q.implementation === tier);
        return r ? s.float!.msPerBatch / r.msPerBatch : null;
      }),
      text: groups.map((s) => {
        const r = s.rows.find((q) => q.implementation === tier);
        return r ? fmtX(s.float!.msPerBatch / r.msPerBatch) : '';
      }),
      textposition: 'outside',
    })),
    layout: {
      title: { text: `Binary engine speed-up vs the best float runtime (${b.machine.cpu}; ${b.date.slice(0, 10)})` },
      barmode: 'group',
      yaxis: { title: { text: 'speed-up (× the fastest float runtime; log scale)' }, type: 'log' },
      shapes: [{ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: 1, y1: 1, line: { dash: 'dot' } }],
      legend: { orientation: 'h', y: -0.35 },
      margin: { b: 200 },
    },
  };
}
