/**
 * `npm run bench:train`'s results: ms per training step of each network on each implementation
 * (tfjs native path, tfjs wasm, PyTorch, tfjs webgpu where there is a GPU), the ratios, and what each
 * paper preset's training would take at that speed. Every number here comes from the rows measured in one run.
 */
import type { Figure } from '../lib/plots/figure';
import { preset } from '../lib/presets';
import type { CpuId } from './cpuId';
import { networkConfig } from './benchNetworks';

export const IMPLEMENTATIONS = ['native', 'wasm', 'pytorch', 'webgpu'] as const;
export type Implementation = (typeof IMPLEMENTATIONS)[number];

export interface TrainBenchRow {
  network: string;
  implementation: Implementation;
  batchSize: number;
  msPerStep: number;
  threads: number;
  warmup: number;
  steps: number;
  stepsMs: number[];
  /**
   * tfjs: the backend as results name it (webgpu with its adapter, e.g. `webgpu (llvmpipe, software)`);
   * pytorch: the torch version and BLAS library.
   */
  detail: string;
  phasesMs?: Record<string, number>;
}

export interface SkippedRow {
  network: string;
  implementation: Implementation;
  reason: string;
}

export interface TrainBenchResults {
  date: string;
  smoke: boolean;
  machine: { cpu: CpuId; cores: number; memoryGiB: number; platform: string; node: string };
  loadAverageStart: number[];
  loadAverageEnd: number[];
  wallSeconds: number;
  rows: TrainBenchRow[];
  skipped: SkippedRow[];
}

/**
 * Training images per epoch of the paper's splits (paper.md): MNIST 50,000; CIFAR-10 45,000;
 * SVHN train + extra less 6,000 validation images, 598,388.
 */
export const PAPER_TRAIN_IMAGES = { mnist: 50_000, cifar10: 45_000, svhn: 598_388 } as const;

/** The paper presets whose training time is estimated, and the paper's own time (Titan Black GPU). */
export const PAPER_RUNS = [
  { network: 'mnist-mlp-3x4096', dataset: 'mnist', paperTime: '~6 h' },
  { network: 'cifar10-convnet-paper', dataset: 'cifar10', paperTime: '~23 h' },
  { network: 'svhn-convnet-paper', dataset: 'svhn', paperTime: '~2 days' },
] as const;

/** Multiply-accumulates of one image's forward pass (3×3 "same" convs and dense layers). */
export function forwardMacs(network: string): number {
  const c = networkConfig(network);
  let [h, w, ch] = c.inputShape;
  let macs = 0;
  c.convFilters.forEach((f, i) => {
    macs += h * w * 9 * ch * f;
    ch = f;
    if (i % 2 === 1) [h, w] = [h >> 1, w >> 1];
  });
  let features = h * w * ch;
  for (const u of [...c.hiddenUnits, c.numClasses]) {
    macs += features * u;
    features = u;
  }
  return macs;
}

export interface HoursEstimate {
  network: string;
  dataset: string;
  paperTime: string;
  stepsPerEpoch: number;
  epochs: number;
  /** Per implementation: hours, and how the ms/step was obtained. */
  hours: Partial<Record<Implementation, { hours: number; basis: string }>>;
}

/**
 * Hours of training steps (no evaluation passes) for each paper preset: steps per epoch × epochs
 * × ms/step. SVHN's ConvNet, when not measured, is scaled from CIFAR-10's measured step by the ratio
 * of forward MACs (the half-width net has about a quarter of the conv MACs; this overstates the
 * saving where element-wise work, which scales with width, dominates).
 */
export function estimateHours(rows: TrainBenchRow[]): HoursEstimate[] {
  return PAPER_RUNS.map((run) => {
    const hp = preset(run.dataset, 'paper');
    const stepsPerEpoch = Math.ceil(PAPER_TRAIN_IMAGES[run.dataset] / hp.batchSize);
    const hours: HoursEstimate['hours'] = {};
    for (const impl of IMPLEMENTATIONS) {
      const own = rows.find((r) => r.network === run.network && r.implementation === impl);
      const cifar = rows.find((r) => r.network === 'cifar10-convnet-paper' && r.implementation === impl);
      const ms =
        own?.msPerStep ??
        (run.dataset === 'svhn' && cifar
          ? (cifar.msPerStep * forwardMacs(run.network)) / forwardMacs(cifar.network)
          : undefined);
      if (ms === undefined) continue;
      hours[impl] = {
        hours: (stepsPerEpoch * hp.epochs * ms) / 3.6e6,
        basis: own ? 'measured' : 'scaled from CIFAR-10 by forward MACs',
      };
    }
    return {
      network: run.network,
      dataset: run.dataset,
      paperTime: run.paperTime,
      stepsPerEpoch,
      epochs: hp.epochs,
      hours,
    };
  });
}

const fmtMs = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fmtHours = (h: number) => (h >= 48 ? `${h.toFixed(0)} h (${(h / 24).toFixed(1)} days)` : `${h.toFixed(1)} h`);

export function trainBenchMarkdown(b: TrainBenchResults): string {
  const m = b.machine;
  const networks = [...new Set([...b.rows, ...b.skipped].map((r) => r.network))];
  const get = (network: string, impl: Implementation) =>
    b.rows.find((r) => r.network === network && r.implementation === impl);
  const ratio = (network: string, num: Implementation, den: Implementation) => {
    const a = get(network, num);
    const c = get(network, den);
    return a && c ? `${(a.msPerStep / c.msPerStep).toFixed(2)}` : '—';
  };
  const cell = (network: string, impl: Implementation) => {
    const r = get(network, impl);
    if (r) return `${fmtMs(r.msPerStep)} (${r.threads} thr)`;
    // Not run at all (not among --implementations) is left blank; skipped rows say so.
    return b.skipped.some((s) => s.network === network && s.implementation === impl) ? 'skipped' : '—';
  };
  const lines = [
    `# Training speed: ms per training step${b.smoke ? ' (smoke run: tiny networks, not representative)' : ''}`,
    '',
    `Generated by \`npm run bench:train\` (cli/bench-train.ts) on ${b.date}: ${m.cpu.modelName} (CPU ` +
      `family ${m.cpu.family}, model ${m.cpu.model}), ${m.cores} CPUs, ${m.memoryGiB} GiB, ${m.platform}, ` +
      `Node ${m.node}. ` +
      `Load average ${b.loadAverageStart.join(' / ')} at start, ${b.loadAverageEnd.join(' / ')} at end ` +
      `(the machine is shared: more than ${m.cores} means other jobs competed for the CPUs). ` +
      `${b.wallSeconds.toFixed(0)} s in all.`,
    '',
    'One step = `trainStep` of lib/train/trainer.ts (forward with training = true, squared hinge loss, ' +
      "`tf.variableGrads`, Adam with the Glorot scale and the clip) on the preset's network, built by " +
      'bench/benchNetworks.ts from lib/presets.ts; ' +
      "seeded random inputs of the data set's shape, ±1 one-hot targets of random labels. `pytorch` is " +
      'scripts/pytorch_train_step.py: the same layers, loss and optimizer in PyTorch. ' +
      'Each implementation runs in its own process, one after another for each network, so the three ' +
      'columns of a row were measured minutes apart at most. Median of the timed steps after the warm-up ' +
      'steps (listed in training.json).',
    '',
    '| network | batch | native ms/step | wasm ms/step | pytorch ms/step | native / wasm | native / ' +
      'pytorch | wasm / pytorch |',
    '|---|---|---|---|---|---|---|---|',
    ...networks.map((n) => {
      const batch = b.rows.find((r) => r.network === n)?.batchSize ?? '';
      return (
        `| ${n} | ${batch} | ${cell(n, 'native')} | ${cell(n, 'wasm')} | ${cell(n, 'pytorch')} | ` +
        `${ratio(n, 'native', 'wasm')} | ${ratio(n, 'native', 'pytorch')} | ${ratio(n, 'wasm', 'pytorch')} |`
      );
    }),
    '',
    'Ratios are of times: below 1 means the first is faster.',
    '',
    ...webgpuLines(b),
  ];
  if (b.skipped.length) {
    lines.push('Skipped:', '', ...b.skipped.map((s) => `- ${s.network} on ${s.implementation}: ${s.reason}`), '');
  }
  const estimates = estimateHours(b.rows);
  if (!b.smoke && estimates.some((e) => Object.keys(e.hours).length)) {
    lines.push(
      "## What the paper's presets would take here",
      '',
      'Training steps only (steps per epoch × epochs × ms/step; the validation and test passes after ' +
        "each epoch come on top), on the paper's splits (MNIST 50,000 training images, CIFAR-10 45,000, " +
        'SVHN 598,388).',
      '',
      '| paper preset | steps/epoch | epochs | native | wasm | pytorch | paper (Titan Black GPU) |',
      '|---|---|---|---|---|---|---|',
      ...estimates.map((e) => {
        const h = (impl: Implementation) => {
          const x = e.hours[impl];
          return x ? `${fmtHours(x.hours)}${x.basis === 'measured' ? '' : ` (${x.basis})`}` : '—';
        };
        return (
          `| ${e.network} | ${e.stepsPerEpoch} | ${e.epochs} | ${h('native')} | ${h('wasm')} | ` +
          `${h('pytorch')} | ${e.paperTime} |`
        );
      }),
      '',
    );
  }
  lines.push('![ms per training step](training.png)', '');
  return lines.join('\n');
}

/**
 * The webgpu rows, apart: a GPU is not a peer of the CPU columns, and a software adapter (llvmpipe,
 * SwiftShader: the GPU emulated on the CPU) is labelled as such and measures nothing about GPUs.
 */
function webgpuLines(b: TrainBenchResults): string[] {
  const rows = b.rows.filter((r) => r.implementation === 'webgpu');
  if (!rows.length) return [];
  const native = (n: string) => b.rows.find((r) => r.network === n && r.implementation === 'native');
  return [
    '| network | batch | webgpu ms/step | adapter | webgpu / native |',
    '|---|---|---|---|---|',
    ...rows.map((r) => {
      const ratio = native(r.network) ? (r.msPerStep / native(r.network)!.msPerStep).toFixed(2) : '—';
      return `| ${r.network} | ${r.batchSize} | ${fmtMs(r.msPerStep)} | ${r.detail} | ${ratio} |`;
    }),
    '',
    ...(rows.some((r) => r.detail.includes('software'))
      ? ['A software adapter emulates the GPU on the CPU: its times say nothing about a GPU.', '']
      : []),
  ];
}

/** ms per step per network, one bar per implementation (log scale). */
export function trainBenchFigure(b: TrainBenchResults): Figure {
  const networks = [...new Set(b.rows.map((r) => r.network))];
  return {
    data: IMPLEMENTATIONS.filter((impl) => b.rows.some((r) => r.implementation === impl)).map((impl) => ({
      type: 'bar',
      name: impl,
      x: networks,
      y: networks.map((n) => b.rows.find((r) => r.network === n && r.implementation === impl)?.msPerStep ?? null),
      text: networks.map((n) => {
        const r = b.rows.find((x) => x.network === n && x.implementation === impl);
        return r ? `${fmtMs(r.msPerStep)} ms` : '';
      }),
      textposition: 'outside',
    })),
    layout: {
      title: {
        text:
          `ms per training step (${b.machine.cpu.modelName} family ${b.machine.cpu.family}, ` +
          `${b.machine.cores} CPUs; ${b.date.slice(0, 10)})`,
      },
      barmode: 'group',
      yaxis: { title: { text: 'ms per step (log scale, lower is faster)' }, type: 'log' },
      legend: { orientation: 'h', y: -0.2 },
    },
  };
}
