/**
 * `npm run bench:infer`: whole-network inference, the binary engine on each kernel tier against ONNX
 * Runtime, PyTorch (when /usr/bin/python3 has torch) and tfjs on wasm, on the same weights and
 * images, each implementation and thread count in its own child process (bench/inferenceBench.ts).
 * Writes inference.json, inference.md and the figure inference.{png,svg,html}; `--help` lists the flags.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchOutputDir, cliFlags, FLAGS, integerFlag, runMain, type FlagTable } from './args';
import { initBackend } from '../lib/backend';
import {
  batchPlan,
  inferenceFigure,
  inferenceMarkdown,
  INFERENCE_IMPLEMENTATIONS,
  isEngine,
  measureKernelPeaks,
  PAPER_INFERENCE_NETWORKS,
  prepareNetwork,
  runWorker,
  SMOKE_INFERENCE_NETWORKS,
  type InferenceImplementation,
  type InferenceResults,
  type InferenceRow,
  type InferenceSkip,
  type PreparedNetwork,
  type WorkerResult,
  type WorkerSpec,
} from '../bench/inferenceBench';
import { PEER_PYTHON as PYTHON, runJsonChild } from '../bench/child';
import { describeMachine, openBlasEnv } from '../bench/xnorBench';
import { writeFileAtomic } from '../lib/io/atomicWrite';
import { resolveNetwork } from '../bench/benchNetworks';
import { getDataset } from '../lib/data/registry';
import { tryKernel } from '../lib/kernels';
import { saveFigure } from '../lib/plots/figure';
import { closestThreshold } from '../bench/mlpBench';
import { registerFileSystemIO } from '../lib/io/fileSystem';
import * as tf from '@tensorflow/tfjs';
import '../lib/layers';

const PYTORCH_SCRIPT = path.join(__dirname, '..', 'scripts', 'pytorch_infer.py');

export const USAGE = [
  'usage: npm run bench:infer -- [flags]',
  'Whole-network inference: the binary engine on each kernel tier against ONNX Runtime, PyTorch and tfjs on',
  'wasm, on the same weights and images (inference.json, inference.md, the figure); with --smoke, to',
  'runs/bench-infer-smoke unless --out is given. BNN_PYTHON: the Python with torch (default /usr/bin/python3).',
].join('\n');
export const FLAG_TABLE = {
  networks: {
    value: 'a,b',
    help: 'of mnist-mlp-3x4096, cifar10-convnet-paper, svhn-convnet-paper (default: all three)',
  },
  checkpoint: { ...FLAGS.checkpoint, help: `${FLAGS.checkpoint.help}, instead of the paper's networks` },
  packed: { value: 'FILE', help: 'a packed model (e.g. demo/model/model.bnnpack), with --dataset for its images' },
  dataset: FLAGS.dataset,
  batches: { value: 'n,n', help: 'images per batch (default 1,100,10000 for the MLP, 1,100,1000 for the ConvNets)' },
  threads: { value: 'n,n', help: 'thread counts (default 1 and all CPUs)' },
  implementations: { value: 'a,b', help: 'which to measure', default: INFERENCE_IMPLEMENTATIONS.join(',') },
  runs: {
    value: 'N',
    help:
      'timed repeats of every batch (default 30 / 10 / 3 for 1 / ≤ 100 / more images; tfjs on wasm, a weak ' +
      'baseline at seconds per large batch, only up to 100 images)',
  },
  smoke: FLAGS.smoke,
  out: FLAGS.out,
  worker: { value: 'JSON', help: '(internal) measure one implementation in this process, as a child' },
} satisfies FlagTable;

function positiveList(value: string, flag: string): number[] {
  return value.split(',').map((v) => integerFlag(v.trim(), flag)!);
}

/** One implementation at one thread count on one network, in its own process. */
function measure(spec: WorkerSpec): WorkerResult | string {
  const json = JSON.stringify(spec);
  const env = spec.implementation === 'pytorch' ? openBlasEnv() : { ...process.env };
  let command: string;
  let args: string[];
  if (spec.implementation === 'pytorch') {
    env.OPENBLAS_NUM_THREADS = String(spec.threads);
    env.OMP_NUM_THREADS = String(spec.threads);
    command = PYTHON;
    args = [PYTORCH_SCRIPT, json];
  } else {
    // The native pool reads BNN_THREADS when the addon loads; the engine's threads option is set too.
    if (spec.implementation === 'engine-native') env.BNN_THREADS = String(spec.threads);
    command = process.execPath;
    args = ['--import', 'tsx', __filename, '--worker', json];
  }
  return runJsonChild<WorkerResult>(command, args, env);
}

function topGap(scores: number[]): number {
  const s = [...scores].sort((a, b) => b - a);
  return (s[0] - s[1]) / Math.max(Math.abs(s[0]), Math.abs(s[1]));
}

async function main(): Promise<void> {
  const values = cliFlags(USAGE, FLAG_TABLE);
  if (values.worker !== undefined) {
    console.log(JSON.stringify(await runWorker(JSON.parse(values.worker) as WorkerSpec)));
    return;
  }
  const smoke = values.smoke;
  const runs = integerFlag(values.runs, 'runs', true) ?? (smoke ? 1 : undefined);
  const batches = values.batches ? positiveList(values.batches, 'batches') : undefined;
  const cores = os.cpus().length;
  const threads = values.threads ? positiveList(values.threads, 'threads') : [...new Set([1, cores])];
  const implementations = values.implementations.split(',').map((s) => s.trim()) as InferenceImplementation[];
  const unknown = implementations.filter((i) => !INFERENCE_IMPLEMENTATIONS.includes(i));
  if (unknown.length)
    throw new Error(`unknown implementation(s) ${unknown.join(', ')}: use ${INFERENCE_IMPLEMENTATIONS.join(', ')}`);
  if ([values.checkpoint, values.networks, values.packed].filter(Boolean).length > 1)
    throw new Error('--checkpoint, --packed and --networks exclude each other');
  const dataset = getDataset(values.dataset).name;
  const catalogue = smoke ? SMOKE_INFERENCE_NETWORKS : PAPER_INFERENCE_NETWORKS;
  const networks = values.packed
    ? [{ packed: values.packed, dataset, batches: batches ?? [1, 100, 1000] }]
    : values.checkpoint
      ? [{ checkpoint: values.checkpoint, batches: batches ?? [1, 100, 1000] }]
      : (values.networks
          ? values.networks.split(',').map((n) => resolveNetwork(n.trim()))
          : catalogue.map((n) => n.name)
        ).map((name) => {
          const all = [...PAPER_INFERENCE_NETWORKS, ...SMOKE_INFERENCE_NETWORKS];
          const known = all.find((n) => n.name === name);
          if (!known) throw new Error(`no inference settings for '${name}': use ${all.map((n) => n.name).join(', ')}`);
          return { ...known, batches: batches ?? known.batches };
        });

  const started = performance.now();
  registerFileSystemIO();
  const backend = await initBackend(undefined);
  const machine = describeMachine('');
  const loadAverageStart = machine.loadAverageStart.map((l) => Math.round(l * 100) / 100);
  console.log(`${machine.cpu}, ${cores} CPUs; tfjs backend ${backend}; load average ${loadAverageStart.join(' / ')}`);
  const wasmKernel = tryKernel('wasm');
  const wasmThreads = typeof wasmKernel === 'string' ? 1 : wasmKernel.maxThreads;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-bench-infer-'));
  const rows: InferenceRow[] = [];
  const skipped: InferenceSkip[] = [];
  const disagreements: InferenceResults['disagreements'] = [];
  const profiles: InferenceResults['profiles'] = [];
  const prepared: PreparedNetwork[] = [];
  try {
    for (const [i, network] of networks.entries()) {
      const net = await prepareNetwork(network, path.join(work, String(i)), (l) => console.log(l));
      prepared.push(net);
      let reference: number[] | null = null;
      // Engines first: their predictions are the reference the float peers are compared with.
      const order = [...implementations].sort((a, b) => Number(isEngine(b)) - Number(isEngine(a)));
      for (const implementation of order) {
        for (const t of threads) {
          const spec: WorkerSpec = {
            implementation,
            threads: t,
            dir: net.dir,
            inputShape: net.inputShape,
            numClasses: net.numClasses,
            batches: net.batches
              .filter((images) => !(implementation === 'tfjs-wasm' && images > 100))
              .map((images) => batchPlan(images, runs)),
          };
          const single =
            t > 1 && implementation === 'tfjs-wasm'
              ? 'the tfjs wasm backend runs one thread under Node'
              : t > 1 && implementation === 'engine-wasm' && wasmThreads < t
                ? `the wasm tier runs at most ${wasmThreads} thread(s) in Node`
                : null;
          const result = single ?? measure(spec);
          if (typeof result === 'string') {
            skipped.push({ network: net.network, implementation, threads: t, reason: result });
            console.log(`${net.network} ${implementation} ${t} thr: skipped (${result})`);
            continue;
          }
          if (result.profile) profiles.push({ network: net.network, implementation, threads: t, ...result.profile });
          let agree: number | null = null;
          if (!reference && isEngine(implementation)) reference = result.predictions;
          else if (reference) {
            agree = result.predictions.filter((c, j) => c === reference![j]).length;
            if (agree < reference.length && !isEngine(implementation)) {
              const { BinaryEngine, loadPackedModel } = await import('../lib/engine');
              const { selectKernel } = await import('../lib/kernels');
              const engine = new BinaryEngine(loadPackedModel(path.join(net.dir, 'model.bnnpack')), {
                kernel: selectKernel(),
              });
              const pixels = new Uint8Array(fs.readFileSync(path.join(net.dir, 'images.bin')));
              const per = net.inputShape.reduce((a, b) => a * b, 1);
              // The float model (absent for --packed) tells how close each decision came to its threshold.
              const tfjsDir = path.join(net.dir, 'tfjs');
              const floatModel = fs.existsSync(tfjsDir)
                ? await tf.loadLayersModel(`file://${path.join(tfjsDir, 'model.json')}`)
                : null;
              result.predictions.forEach((c, image) => {
                if (c === reference![image] || disagreements.length >= 100) return;
                const scores = Array.from(engine.scores(pixels.subarray(image * per, (image + 1) * per), 1));
                disagreements.push({
                  network: net.network,
                  implementation,
                  threads: t,
                  image,
                  engineTopGap: topGap(scores),
                  closest: floatModel ? closestThreshold(floatModel, engine, pixels, image) : null,
                });
              });
              floatModel?.dispose();
            }
          }
          for (const timing of result.timings) {
            rows.push({
              network: net.network,
              images: timing.images,
              threads: t,
              implementation,
              detail: result.detail,
              msPerBatch: Math.round(timing.msPerBatch * 1000) / 1000,
              msPerImage: Math.round((timing.msPerBatch / timing.images) * 1e5) / 1e5,
              runsMs: timing.runsMs,
              agree: timing.images === Math.max(...spec.batches.map((b) => b.images)) ? agree : null,
              compared:
                timing.images === Math.max(...spec.batches.map((b) => b.images)) && agree !== null
                  ? result.predictions.length
                  : null,
            });
          }
          console.log(
            `${net.network} ${implementation} ${t} thr: ` +
              result.timings.map((x) => `${x.images} img ${x.msPerBatch.toFixed(2)} ms`).join(', ') +
              (agree !== null ? `; agrees with the engine on ${agree}/${result.predictions.length}` : ''),
          );
        }
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  // After the children, so that the machine is as quiet for it as for them.
  const peaks = smoke ? { roofline: null, gemm4096: [] } : measureKernelPeaks(threads);
  console.log(`XNOR peaks: roofline ${peaks.roofline} G/s (1 thr); GEMM 4096³ ${JSON.stringify(peaks.gemm4096)}`);
  const results: InferenceResults = {
    date: new Date().toISOString(),
    smoke,
    command: `npm run bench:infer -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, ''),
    machine,
    loadAverageStart,
    loadAverageEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
    wallSeconds: Math.round(performance.now() - started) / 1000,
    networks: prepared.map(({ dir: _dir, ...rest }) => rest),
    rows,
    skipped,
    profiles,
    peaks,
    disagreements,
  };
  const out = benchOutputDir(values.out, smoke, 'bench-infer');
  writeFileAtomic(path.join(out, 'inference.json'), JSON.stringify(results, null, 1) + '\n');
  writeFileAtomic(path.join(out, 'inference.md'), inferenceMarkdown(results));
  // The smoke run skips the figure: Chromium takes longer than the measurements.
  const fig = smoke ? null : await saveFigure(inferenceFigure(results), path.join(out, 'inference'));
  console.log(
    `wrote ${path.join(out, 'inference.json')}, inference.md` +
      (fig ? `, ${fig.html}${fig.png ? `, ${fig.png}` : ` (no image: ${fig.skipped})`}` : ''),
  );
}

runMain(module, main);
