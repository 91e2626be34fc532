/**
 * Where one training step's time goes: per tfjs kernel (self time, calls) and per phase (forward =
 * inside the function given to tf.variableGrads, backward = the rest of variableGrads, optimizer =
 * optimizer.apply, readout = reading the loss and error back). Medians over steps after warm-up.
 * Profiles are kept in results/bench/train-profile.json keyed by network and backend, and the
 * Markdown is regenerated from all of them, so a 'before' and an 'after' backend sit side by side.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StepPhase } from '../lib/train/trainer';
import { cpuId, type CpuId } from './cpuId';
import { wrapKernels } from './kernelTimer';
import { median } from './median';
import { BENCHMARK_NETWORKS, NETWORKS, type TrainStepBench } from './benchNetworks';

export const PHASES: readonly StepPhase[] = ['forward', 'backward', 'optimizer', 'readout'];

export interface PhaseProfile {
  phase: StepPhase;
  /** Median wall time of the phase per step. */
  ms: number;
  /**
   * Median time inside registered kernels during the phase; the rest is JavaScript (tape, tidy, layers) or native calls
   * outside kernels.
   */
  kernelMs: number;
}

export interface KernelProfile {
  kernel: string;
  callsPerStep: number;
  /** Median self time per step. */
  ms: number;
  /** Median self time per step in each phase. */
  byPhase: Record<StepPhase, number>;
}

export interface TrainProfile {
  network: string;
  what: string;
  backend: string;
  batchSize: number;
  warmup: number;
  steps: number;
  /** Median wall time of a whole step (trainStep from call to return), and every timed step. */
  stepMs: number;
  stepMsAll: number[];
  phases: PhaseProfile[];
  kernels: KernelProfile[];
  machine: { cpu: CpuId; cores: number; node: string; loadAverageStart: number[]; loadAverageEnd: number[] };
  date: string;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const loadavg = () => os.loadavg().map((l) => round(l, 2));

/** Profiles `warmup` + `steps` training steps of `bench`; the kernel registry is restored afterwards. */
export async function profileTrainStep(
  bench: TrainStepBench,
  backend: string,
  opts: { warmup: number; steps: number; log?: (line: string) => void },
): Promise<TrainProfile> {
  const loadAverageStart = loadavg();
  const timer = wrapKernels();
  const stepMs: number[] = [];
  const phaseMs: Record<StepPhase, number[]> = { forward: [], backward: [], optimizer: [], readout: [] };
  const phaseKernelMs: Record<StepPhase, number[]> = { forward: [], backward: [], optimizer: [], readout: [] };
  const perStep: Map<string, { calls: number; byPhase: Record<StepPhase, number> }>[] = [];
  try {
    for (let i = 0; i < opts.warmup + opts.steps; i++) {
      timer.reset();
      const marks: { phase: StepPhase; t: number }[] = [];
      const t0 = performance.now();
      await bench.step((phase) => {
        timer.bucket = phase;
        marks.push({ phase, t: performance.now() });
      });
      const t1 = performance.now();
      timer.bucket = 'outside';
      const timed = i >= opts.warmup;
      opts.log?.(`  ${timed ? 'step' : 'warm-up'} ${timed ? i - opts.warmup + 1 : i + 1}: ${(t1 - t0).toFixed(1)} ms`);
      if (!timed) continue;
      stepMs.push(t1 - t0);
      marks.forEach((m, k) => phaseMs[m.phase].push((marks[k + 1]?.t ?? t1) - m.t));
      const kernels = new Map<string, { calls: number; byPhase: Record<StepPhase, number> }>();
      const kernelTotal: Record<StepPhase, number> = { forward: 0, backward: 0, optimizer: 0, readout: 0 };
      for (const [name, byBucket] of timer.stats) {
        const k = { calls: 0, byPhase: { forward: 0, backward: 0, optimizer: 0, readout: 0 } };
        for (const [bucket, s] of byBucket) {
          if (!PHASES.includes(bucket as StepPhase)) continue;
          k.calls += s.calls;
          k.byPhase[bucket as StepPhase] += s.ms;
          kernelTotal[bucket as StepPhase] += s.ms;
        }
        kernels.set(name, k);
      }
      PHASES.forEach((p) => phaseKernelMs[p].push(kernelTotal[p]));
      perStep.push(kernels);
    }
  } finally {
    timer.restore();
  }
  const names = [...new Set(perStep.flatMap((s) => [...s.keys()]))];
  const kernels: KernelProfile[] = names
    .map((kernel) => {
      const of = (s: (typeof perStep)[number]) =>
        s.get(kernel) ?? { calls: 0, byPhase: { forward: 0, backward: 0, optimizer: 0, readout: 0 } };
      const byPhase = Object.fromEntries(
        PHASES.map((p) => [p, round(median(perStep.map((s) => of(s).byPhase[p])))]),
      ) as Record<StepPhase, number>;
      return {
        kernel,
        callsPerStep: median(perStep.map((s) => of(s).calls)),
        ms: round(median(perStep.map((s) => PHASES.reduce((sum, p) => sum + of(s).byPhase[p], 0)))),
        byPhase,
      };
    })
    .filter((k) => k.callsPerStep > 0)
    .sort((a, b) => b.ms - a.ms);
  return {
    network: bench.network,
    what: NETWORKS[bench.network].what,
    backend,
    batchSize: bench.hp.batchSize,
    warmup: opts.warmup,
    steps: opts.steps,
    stepMs: round(median(stepMs)),
    stepMsAll: stepMs.map((x) => round(x)),
    phases: PHASES.map((phase) => ({
      phase,
      ms: round(median(phaseMs[phase])),
      kernelMs: round(median(phaseKernelMs[phase])),
    })),
    kernels,
    machine: {
      cpu: cpuId(),
      cores: os.cpus().length,
      node: process.version,
      loadAverageStart,
      loadAverageEnd: loadavg(),
    },
    date: new Date().toISOString(),
  };
}

export interface ProfileFile {
  /** Keyed `<network>|<backend>`. */
  profiles: Record<string, TrainProfile>;
}

export function readProfiles(file: string): ProfileFile {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as ProfileFile) : { profiles: {} };
}

/** Adds (or replaces) profiles in `<dir>/train-profile.json` and regenerates `<dir>/train-profile.md`. */
export function saveProfiles(dir: string, profiles: TrainProfile[]): { json: string; md: string } {
  const json = path.join(dir, 'train-profile.json');
  const md = path.join(dir, 'train-profile.md');
  const all = readProfiles(json);
  for (const p of profiles) all.profiles[`${p.network}|${p.backend}`] = p;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(json, JSON.stringify(all, null, 1) + '\n');
  fs.writeFileSync(md, profilesMarkdown(Object.values(all.profiles)));
  return { json, md };
}

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const pct = (x: number, total: number) => `${((100 * x) / total).toFixed(1)} %`;
/** wasm first: it is the 'before' the native path is compared with. */
const backendOrder = (b: string) => (b === 'wasm' ? 0 : b === 'native' ? 1 : 2);

/** Kernels under this share of the step are summed into one row. */
const MINOR_SHARE = 0.005;

function profileSection(p: TrainProfile): string {
  const m = p.machine;
  const lines = [
    `### ${p.network} on ${p.backend}`,
    '',
    `${m.cpu.modelName} (CPU family ${m.cpu.family}, model ${m.cpu.model}), ${m.cores} CPUs, Node ` +
      `${m.node}; backend **${p.backend}**; ${p.date}; load average ${m.loadAverageStart.join(' / ')} at ` +
      `start, ${m.loadAverageEnd.join(' / ')} at end. Batch ${p.batchSize}; ${p.warmup} warm-up steps, then ` +
      `the median of ${p.steps} steps (${p.stepMsAll.map(ms).join(', ')} ms).`,
    '',
    `**Step: ${ms(p.stepMs)} ms** (median).`,
    '',
    '| phase | ms/step | share of the phases | in kernels (ms) | outside kernels (ms) |',
    '|---|---|---|---|---|',
    // Shares of the phases' own sum: medians taken phase by phase need not add up to the median step.
    ...p.phases.map(
      (ph) =>
        `| ${ph.phase} | ${ms(ph.ms)} | ${pct(
          ph.ms,
          p.phases.reduce((s, x) => s + x.ms, 0),
        )} | ${ms(ph.kernelMs)} | ${ms(Math.max(0, ph.ms - ph.kernelMs))} |`,
    ),
    '',
    `| kernel | calls/step | ms/step | share of step | ${PHASES.join(' | ')} |`,
    `|---|---|---|---|${PHASES.map(() => '---').join('|')}|`,
  ];
  const major = p.kernels.filter((k) => k.ms >= MINOR_SHARE * p.stepMs);
  const minor = p.kernels.filter((k) => k.ms < MINOR_SHARE * p.stepMs);
  for (const k of major)
    lines.push(
      `| ${k.kernel} | ${k.callsPerStep} | ${ms(k.ms)} | ${pct(k.ms, p.stepMs)} | ` +
        `${PHASES.map((ph) => ms(k.byPhase[ph])).join(' | ')} |`,
    );
  if (minor.length) {
    const sum = (f: (k: KernelProfile) => number) => minor.reduce((s, k) => s + f(k), 0);
    const minorMs = sum((k) => k.ms);
    lines.push(
      `| ${minor.length} others (${minor.map((k) => k.kernel).join(', ')}) | ${sum((k) => k.callsPerStep)} | ` +
        `${ms(minorMs)} | ${pct(minorMs, p.stepMs)} | ` +
        `${PHASES.map((ph) => ms(sum((k) => k.byPhase[ph]))).join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

function comparison(ps: TrainProfile[]): string {
  const base = ps[0];
  const lines = [
    `| | ${ps.map((p) => `${p.backend} (ms)`).join(' | ')} | ${ps
      .slice(1)
      .map((p) => `${base.backend} / ${p.backend}`)
      .join(' | ')} |`,
    `|---|${ps.map(() => '---').join('|')}|${ps
      .slice(1)
      .map(() => '---')
      .join('|')}|`,
  ];
  const row = (label: string, f: (p: TrainProfile) => number | undefined) => {
    const v = ps.map(f);
    lines.push(
      `| ${label} | ${v.map((x) => (x === undefined ? '—' : ms(x))).join(' | ')} | ${v
        .slice(1)
        .map((x) => (x && v[0] !== undefined ? `${(v[0] / x).toFixed(2)}×` : '—'))
        .join(' | ')} |`,
    );
  };
  row('whole step', (p) => p.stepMs);
  for (const phase of PHASES) row(phase, (p) => p.phases.find((x) => x.phase === phase)?.ms);
  for (const k of base.kernels.filter((k) => k.ms >= 0.02 * base.stepMs))
    row(`kernel ${k.kernel}`, (p) => p.kernels.find((x) => x.kernel === k.kernel)?.ms);
  return lines.join('\n');
}

export function profilesMarkdown(profiles: TrainProfile[]): string {
  const byNetwork = new Map<string, TrainProfile[]>();
  for (const p of [...profiles].sort(
    (a, b) => backendOrder(a.backend) - backendOrder(b.backend) || a.backend.localeCompare(b.backend),
  )) {
    byNetwork.set(p.network, [...(byNetwork.get(p.network) ?? []), p]);
  }
  const out = [
    "# Where a training step's time goes",
    '',
    'Generated by `npm run profile` (cli/profile.ts) from `train-profile.json`; every section is a ' +
      'measurement with its machine, backend, date and load average. ' +
      "One step is exactly `trainStep` of lib/train/trainer.ts on the preset's network " +
      "(bench/benchNetworks.ts): seeded random inputs of the data set's shape and ±1 one-hot targets. " +
      'Phases: forward = inside the function given to `tf.variableGrads` (model and loss), backward = ' +
      'the rest of `variableGrads`, optimizer = `BinaryNetOptimizer.apply` (Adam, Glorot scale, clip), ' +
      'readout = reading loss and error back. ' +
      'Kernel times are self times of every registered kernel of the backend (wrapped via ' +
      "`tf.registerKernel`): a kernel that runs others through the registry (on wasm the project's " +
      'conv-gradient kernels run Conv2D, Transpose, Reverse and PadV2) has their time counted under ' +
      'theirs; time outside kernels is JavaScript (layers, tape, tidy) and any native call made outside a ' +
      'registered kernel (e.g. a fused optimizer). ' +
      `The machine is shared with other jobs: compare sections measured close in time, and read the load ` +
      `average. Kernels under ${100 * MINOR_SHARE} % of the step are summed in one row.`,
    '',
  ];
  const order = [...BENCHMARK_NETWORKS, ...Object.keys(NETWORKS).filter((n) => !BENCHMARK_NETWORKS.includes(n))];
  for (const network of [...byNetwork.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b))) {
    const ps = byNetwork.get(network)!;
    out.push(`## ${network}`, '', ps[0].what + '.', '');
    if (ps.length > 1) out.push(comparison(ps), '');
    for (const p of ps) out.push(profileSection(p), '');
  }
  return out.join('\n');
}
