/**
 * `npm run bench:train`: ms per training step, side by side in one run, for each network × {native,
 * wasm, pytorch, webgpu} (webgpu: a hardware GPU's row; a software adapter such as llvmpipe is measured
 * only when --implementations names webgpu, and labelled as such). Each implementation runs in its own
 * child process (tfjs with BNN_BACKEND set; PyTorch via scripts/pytorch_train_step.py); one that fails to
 * load is reported as skipped with the reason.
 * Writes training.json, training.md and the figure training.{png,svg,html} (bench/trainBench.ts).
 * `--help` lists the flags.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchOutputDir, cliFlags, FLAGS, integerFlag, runMain, type FlagTable } from './args';
import { backendLabel, initBackend } from '../lib/backend';
import { registerWebgpuBackend } from '../lib/tfjs/webgpu';
import { cpuId, describeCpu } from '../bench/cpuId';
import {
  IMPLEMENTATIONS,
  trainBenchFigure,
  trainBenchMarkdown,
  type Implementation,
  type SkippedRow,
  type TrainBenchResults,
  type TrainBenchRow,
} from '../bench/trainBench';
import { BENCHMARK_NETWORKS, buildTrainStepBench, networkConfig, resolveNetworks } from '../bench/benchNetworks';
import { median } from '../bench/median';
import { PEER_PYTHON as PYTHON, runJsonChild } from '../bench/child';
import { openBlasEnv } from '../bench/xnorBench';
import { loadNativeAddon } from '../lib/kernels/native';
import { saveFigure } from '../lib/plots/figure';

const PYTORCH_SCRIPT = path.join(__dirname, '..', 'scripts', 'pytorch_train_step.py');
const HEAVY = new Set(['cifar10-convnet-paper', 'svhn-convnet-paper']);
const SMOKE_NETWORKS = ['mnist-mlp-smoke', 'fashion-convnet-smoke'];

export const USAGE = [
  'usage: npm run bench:train -- [flags]',
  'ms per training step for each network × implementation, each in its own process (training.json,',
  'training.md, the figure); with --smoke, to runs/bench-train-smoke unless --out is given. BNN_PYTHON: the',
  "Python with torch (default /usr/bin/python3); BNN_THREADS: the native path's threads.",
].join('\n');
export const FLAG_TABLE = {
  networks: {
    value: 'a,b',
    help: 'full or dataset-less names, or all (default: the four benchmark networks and svhn-convnet-paper)',
  },
  implementations: { value: 'a,b', help: 'which to measure', default: IMPLEMENTATIONS.join(',') },
  steps: { value: 'N', help: 'timed steps (default 15; 3 for the paper ConvNets, whose step takes seconds on wasm)' },
  warmup: { value: 'N', help: 'warm-up steps (default 3; 1 for the paper ConvNets)' },
  smoke: FLAGS.smoke,
  out: FLAGS.out,
  worker: { help: '(internal) measure the first network on BNN_BACKEND in this process, as a child' },
} satisfies FlagTable;

const round = (x: number) => Math.round(x * 1000) / 1000;
const loadavg = () => os.loadavg().map((l) => Math.round(l * 100) / 100);

/** Threads the tfjs step uses: wasm (and cpu, and webgpu, which feeds the GPU) run one; the native path its pool's. */
function tfjsThreads(backend: string): number {
  if (backend === 'wasm' || backend === 'cpu' || backend === 'webgpu') return 1;
  const addon = loadNativeAddon().addon as unknown as { poolThreads?: number; hardwareConcurrency?: number } | null;
  return addon?.poolThreads ?? (Number(process.env.BNN_THREADS) || addon?.hardwareConcurrency || os.cpus().length);
}

/** The child: one network on the backend of BNN_BACKEND; prints its row as one JSON line. */
async function worker(network: string, warmup: number, steps: number): Promise<void> {
  if (process.env.BNN_BACKEND === 'webgpu' && process.env.BNN_BENCH_GPU_ONLY === '1') {
    const why = await registerWebgpuBackend(false);
    if (why) throw new Error(why);
  }
  const backend = await initBackend(process.env.BNN_BACKEND);
  const bench = buildTrainStepBench(network);
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    await bench.step();
    if (i >= warmup) times.push(performance.now() - t0);
  }
  bench.dispose();
  const row: TrainBenchRow = {
    network: bench.network,
    implementation: (process.env.BNN_BACKEND ?? backend) as Implementation,
    batchSize: bench.hp.batchSize,
    msPerStep: round(median(times)),
    threads: tfjsThreads(backend),
    warmup,
    steps,
    stepsMs: times.map(round),
    detail: `tfjs backend ${backendLabel()}`,
  };
  console.log(JSON.stringify(row));
}

/**
 * Runs one implementation on one network in its own process: its row, or why it was skipped.
 * `gpuOnly`: webgpu on a hardware adapter only (a software one is skipped).
 */
function measure(
  network: string,
  impl: Implementation,
  warmup: number,
  steps: number,
  gpuOnly: boolean,
): TrainBenchRow | SkippedRow {
  const counts = ['--warmup', String(warmup), '--steps', String(steps)];
  const env = impl === 'pytorch' ? openBlasEnv() : { ...process.env };
  let command: string;
  let args: string[];
  if (impl === 'pytorch') {
    command = PYTHON;
    args = [PYTORCH_SCRIPT, '--config', JSON.stringify(networkConfig(network)), ...counts, '--threads', '2'];
  } else {
    env.BNN_BACKEND = impl;
    if (impl === 'webgpu' && gpuOnly) env.BNN_BENCH_GPU_ONLY = '1';
    command = process.execPath;
    args = ['--import', 'tsx', __filename, '--worker', '--networks', network, ...counts];
  }
  const row = runJsonChild<TrainBenchRow & { torch?: string; blas?: string }>(command, args, env);
  if (typeof row === 'string') return { network, implementation: impl, reason: row };
  if (impl !== 'pytorch') return row;
  const { torch, blas, ...rest } = row;
  return { ...rest, detail: `torch ${torch}, BLAS ${blas}` };
}

async function main(): Promise<void> {
  const values = cliFlags(USAGE, FLAG_TABLE);
  const smoke = values.smoke;
  const networks = values.networks
    ? resolveNetworks(values.networks)
    : smoke
      ? SMOKE_NETWORKS
      : [...BENCHMARK_NETWORKS, 'svhn-convnet-paper'];
  const steps = integerFlag(values.steps, 'steps');
  const warmup = integerFlag(values.warmup, 'warmup', true);
  const counts = (network: string) => ({
    warmup: warmup ?? (smoke ? 1 : HEAVY.has(network) ? 1 : 3),
    steps: steps ?? (smoke ? 2 : HEAVY.has(network) ? 3 : 15),
  });
  if (values.worker) {
    const c = counts(networks[0]);
    return worker(networks[0], c.warmup, c.steps);
  }
  const implementations = values.implementations.split(',').map((s) => s.trim());
  const unknown = implementations.filter((i) => !IMPLEMENTATIONS.includes(i as Implementation));
  if (unknown.length)
    throw new Error(`unknown implementation(s) ${unknown.join(', ')}: use ${IMPLEMENTATIONS.join(', ')}`);

  const started = performance.now();
  const loadAverageStart = loadavg();
  const id = cpuId();
  console.log(`${describeCpu(id)}; load average ${loadAverageStart.join(' / ')}`);
  const rows: TrainBenchRow[] = [];
  const skipped: SkippedRow[] = [];
  for (const network of networks) {
    const c = counts(network);
    for (const impl of implementations as Implementation[]) {
      // webgpu in the default list runs on a hardware GPU only; named in --implementations, on any adapter.
      const result = measure(network, impl, c.warmup, c.steps, values.implementations === IMPLEMENTATIONS.join(','));
      if ('reason' in result) {
        skipped.push(result);
        console.log(`${network} on ${impl}: skipped (${result.reason})`);
      } else {
        rows.push(result);
        console.log(
          `${network} on ${impl}: ${result.msPerStep.toFixed(1)} ms/step (${result.threads} threads; ` +
            `${result.stepsMs.map((x) => x.toFixed(0)).join(', ')} ms)`,
        );
      }
    }
  }
  const results: TrainBenchResults = {
    date: new Date().toISOString(),
    smoke,
    machine: {
      cpu: id,
      cores: os.cpus().length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      platform: `${os.type()} ${os.release()}`,
      node: process.version,
    },
    loadAverageStart,
    loadAverageEnd: loadavg(),
    wallSeconds: round((performance.now() - started) / 1000),
    rows,
    skipped,
  };
  const out = benchOutputDir(values.out, smoke, 'bench-train');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'training.json'), JSON.stringify(results, null, 1) + '\n');
  fs.writeFileSync(path.join(out, 'training.md'), trainBenchMarkdown(results));
  // The smoke run skips the figure: Chromium takes longer than the measurements.
  const fig = smoke ? null : await saveFigure(trainBenchFigure(results), path.join(out, 'training'));
  console.log(
    `wrote ${path.join(out, 'training.json')}, ` +
      `training.md${fig ? `, ${fig.html}${fig.png ? `, ${fig.png}` : ` (no image: ${fig.skipped})`}` : ''}`,
  );
}

runMain(module, main);
