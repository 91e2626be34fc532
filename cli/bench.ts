/**
 * `npm run bench`: the paper's speed experiment on this machine (see bench/); `--help` lists the flags.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { benchOutputDir, cliFlags, FLAGS, runMain, type FlagTable, type FlagValues } from './args';
import { initBackend } from '../lib/backend';
import { benchGpu, gpuBenchMarkdown } from '../bench/gpuBench';
import { benchMlp } from '../bench/mlpBench';
import { benchMarkdown, FLOAT_TIE_MARGIN, speedupFigure, type BenchResults } from '../bench/report';
import { benchMatMul, describeMachine, measureRoofline } from '../bench/xnorBench';
import type { SplitDataset } from '../lib/data/dataset';
import { loadPackedModel } from '../lib/engine';
import { loadMnist } from '../lib/data/mnist';
import { buildModel } from '../lib/experiment';
import { checkpointHyperparameters, restoreModelFromCheckpoint } from '../lib/train/checkpoint';
import { registerFileSystemIO } from '../lib/io/fileSystem';
import { selectKernel } from '../lib/kernels';
import { saveFigure } from '../lib/plots/figure';
import '../lib/layers';

export const USAGE = [
  'usage: npm run bench -- [flags]',
  'XNOR-popcount against float matrix products, and the MLP of the paper (bench.json, README.md, the chart);',
  'with --smoke, to runs/bench-smoke unless --out is given.',
].join('\n');
export const FLAG_TABLE = {
  smoke: FLAGS.smoke,
  out: FLAGS.out,
  sizes: { value: 'n,n', help: 'square matrix sizes (default 1024,2048,4096,8192)' },
  runs: { value: 'N', help: 'timed runs per measurement (default 3; 1 for the largest products)' },
  images: { value: 'N', help: 'MNIST test images for the MLP part (default 10000)' },
  hidden: { value: 'n,n,…', help: "MLP hidden layers (default: the paper's 3 × 4096)" },
  model: { ...FLAGS.model, help: `${FLAGS.model.help}: an MLP instead of a calibrated untrained one` },
  checkpoint: { ...FLAGS.checkpoint, help: `${FLAGS.checkpoint.help}: an MLP, as --model` },
  'no-mlp': { help: 'skip the MLP part' },
  gpu: {
    help:
      'the GPU section instead: the XNOR kernel in WGSL against float on the WebGPU adapter, and the MLP on ' +
      "the engine against float (the demo's trained model): gpu.json and gpu.md",
  },
  note: { value: 'TEXT', help: 'recorded with the machine description (e.g. what else was running)' },
} satisfies FlagTable;

function positiveInts(value: string, flag: string): number[] {
  const list = value.split(',').map(Number);
  if (list.length === 0 || list.some((x) => !Number.isInteger(x) || x < 1))
    throw new Error(`--${flag} takes positive integers separated by commas, got '${value}'`);
  return list;
}

/** The model a training run saved, rebuilt from its checkpoint's hyperparameters. */
function modelFromCheckpoint(file: string, data: SplitDataset): tf.Sequential {
  const model = buildModel(checkpointHyperparameters(file), data);
  const { hyperparameters, epoch } = restoreModelFromCheckpoint(model, file);
  console.log(`model from ${file}: ${hyperparameters.hiddenUnits.join('-')} after ${epoch} epochs`);
  return model;
}

/** `--gpu`: bench/gpuBench.ts on the WebGPU adapter at hand; gpu.json and gpu.md. */
async function gpuSection(flags: FlagValues<typeof FLAG_TABLE>, log: (line: string) => void): Promise<void> {
  for (const flag of ['hidden', 'model', 'checkpoint'] as const)
    if (typeof flags[flag] === 'string') throw new Error(`--${flag} does not apply to --gpu (its MLP is the demo's)`);
  const smoke = flags.smoke;
  const runs = typeof flags.runs === 'string' ? positiveInts(flags.runs, 'runs')[0] : smoke ? 1 : 3;
  const sizes =
    typeof flags.sizes === 'string'
      ? positiveInts(flags.sizes, 'sizes')
      : smoke
        ? [256, 512]
        : [1024, 2048, 4096, 8192];
  const images = typeof flags.images === 'string' ? positiveInts(flags.images, 'images')[0] : smoke ? 200 : 10_000;
  const about = JSON.parse(fs.readFileSync(path.join('demo', 'model', 'about.json'), 'utf8'));
  const results = await benchGpu({
    sizes,
    batch: smoke ? 100 : Math.min(1000, images),
    runs,
    mlp: flags['no-mlp']
      ? null
      : {
          model: loadPackedModel(path.join('demo', 'model', about.file)),
          name: `the demo's ${about.run} model, 784-${about.layers.length - 1}×${about.layers[1].split('→')[0]}-10`,
          test: loadMnist().test,
          images,
        },
    smoke,
    note: typeof flags.note === 'string' ? flags.note : '',
    log,
  });
  if (typeof results === 'string') throw new Error(`the GPU section cannot run here: ${results}`);
  const out = benchOutputDir(flags.out, smoke, 'bench');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'gpu.json'), JSON.stringify(results, null, 2) + '\n');
  fs.writeFileSync(path.join(out, 'gpu.md'), gpuBenchMarkdown(results));
  log(`wrote ${path.join(out, 'gpu.json')} and gpu.md`);
  const inexact = results.matmul.filter((r) => !r.exact).map((r) => `${r.label} ${r.method}`);
  if (inexact.length) {
    console.error(`results differ from the exact ±1 products: ${inexact.join('; ')}`);
    process.exitCode = 1;
  }
}

async function main(): Promise<void> {
  const flags = cliFlags(USAGE, FLAG_TABLE);
  const smoke = flags.smoke;
  const log = (line: string) => console.log(line);
  if (flags.gpu) return gpuSection(flags, log);
  const started = performance.now();
  // The tfjs rows are the wasm backend's float path (single-threaded XNNPACK), as in earlier runs;
  // the native backend's float GEMM has rows of its own (method 'float native sgemm …').
  await initBackend(process.env.BNN_BACKEND ?? 'wasm', log);
  registerFileSystemIO();
  const kernel = selectKernel(undefined, log);
  log(`XNOR kernel tier: ${kernel.tier} (${kernel.isa}), ${kernel.maxThreads} threads`);
  const shared =
    (typeof flags.note === 'string' ? flags.note + ' ' : '') +
    (os.loadavg()[0] > 0.5
      ? `The machine was shared: load average ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} CPUs ` +
        `when the benchmark started (other jobs running), so absolute speeds are lower and noisier than on ` +
        `an idle machine; ratios come from the same run.`
      : 'The machine was otherwise idle when the benchmark started.');
  const machine = describeMachine(shared);
  const runs = typeof flags.runs === 'string' ? positiveInts(flags.runs, 'runs')[0] : smoke ? 1 : 3;
  const sizes =
    typeof flags.sizes === 'string' ? positiveInts(flags.sizes, 'sizes') : smoke ? [64, 128] : [1024, 2048, 4096, 8192];
  const hidden =
    typeof flags.hidden === 'string' ? positiveInts(flags.hidden, 'hidden') : smoke ? [128, 128] : [4096, 4096, 4096];
  const images = typeof flags.images === 'string' ? positiveInts(flags.images, 'images')[0] : smoke ? 200 : 10_000;
  const batch = Math.min(1000, images);
  const roofline = measureRoofline(smoke ? 0.1 : 1.5);
  log(
    `popcount roofline: ${roofline ? (roofline / 1e9).toFixed(1) + ' G binary MAC/s (one thread)' : 'not available'}`,
  );
  const matmul = await benchMatMul({
    sizes,
    shapes: [
      { m: batch, n: hidden[0], k: 784, label: `MLP layer 1 as ±1 (${batch} img)` },
      ...(hidden.length > 1 ? [{ m: batch, n: hidden[1], k: hidden[0], label: `MLP hidden (${batch} img)` }] : []),
      { m: batch, n: 10, k: hidden[hidden.length - 1], label: `MLP output (${batch} img)` },
    ],
    baselineFullMacs: smoke ? 1e6 : 2 ** 31,
    tsMaxMacs: smoke ? 1e7 : 1024 ** 3 + 1,
    tfjsMaxMacs: smoke ? 1e9 : 8192 ** 3,
    runs,
    pythonPeers: true,
    log,
  });
  let mlp = null;
  if (!flags['no-mlp']) {
    const mnist = loadMnist();
    const model =
      typeof flags.model === 'string'
        ? ((await tf.loadLayersModel(`file://${path.resolve(flags.model)}`)) as tf.Sequential)
        : typeof flags.checkpoint === 'string'
          ? modelFromCheckpoint(flags.checkpoint, mnist)
          : undefined;
    mlp = await benchMlp({
      test: mnist.test,
      count: images,
      hiddenUnits: hidden,
      model,
      runs: smoke ? 1 : Math.min(runs, 2),
      log,
    });
  }
  machine.loadAverageEnd = os.loadavg();
  const results: BenchResults = {
    createdAt: new Date().toISOString(),
    smoke,
    machine,
    rooflineMacPerSecond: roofline,
    environmentRooflineMacPerSecond: 795e9,
    matmul,
    mlp,
    wallSeconds: (performance.now() - started) / 1000,
  };
  const out = benchOutputDir(flags.out, smoke, 'bench');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'bench.json'), JSON.stringify(results, null, 2) + '\n');
  fs.writeFileSync(path.join(out, 'README.md'), benchMarkdown(results));
  const fig = await saveFigure(speedupFigure(results), path.join(out, 'speedup'));
  log(
    `wrote ${path.join(out, 'bench.json')}, README.md, ` +
      `${fig.html}${fig.png ? ', ' + fig.png : ` (no image: ${fig.skipped})`}`,
  );
  const failures = [
    ...matmul.filter((r) => r.exact === false).map((r) => `${r.label} ${r.method}`),
    ...(mlp?.disagreements
      .filter((d) => !(d.relativeMargin < FLOAT_TIE_MARGIN))
      .map((d) => `MLP image ${d.image} (not a float tie)`) ?? []),
  ];
  if (failures.length) {
    console.error(`results differ from the XNOR reference / tfjs predictions: ${failures.join('; ')}`);
    process.exitCode = 1;
  }
}

runMain(module, main);
