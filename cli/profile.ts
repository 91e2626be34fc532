/**
 * `npm run profile`: where one training step's time goes, per tfjs kernel and per phase
 * (bench/trainProfile.ts), for the benchmark networks on the active backend.
 * `--help` lists the flags.
 */
import { benchOutputDir, cliFlags, FLAGS, integerFlag, runMain, type FlagTable } from './args';
import { initBackend } from '../lib/backend';
import { describeCpu } from '../bench/cpuId';
import { profileTrainStep, saveProfiles } from '../bench/trainProfile';
import { buildTrainStepBench, resolveNetworks } from '../bench/benchNetworks';

/** A step of the paper's CIFAR-10 ConvNet takes seconds on wasm: fewer steps keep a run to minutes. */
const HEAVY = new Set(['cifar10-convnet-paper']);

export const USAGE = [
  'usage: npm run profile -- [flags]',
  "Where one training step's time goes, per tfjs kernel and per phase (train-profile.json, train-profile.md);",
  'e.g. npm run profile -- --network mlp-3x1024, npm run profile -- --network all --steps 5 --backend wasm',
].join('\n');
export const FLAG_TABLE = {
  network: {
    value: 'NAME[,NAME…]|all',
    help: 'benchmark networks, with or without their dataset prefix',
    default: 'all',
  },
  steps: { value: 'N', help: 'timed steps, median reported (default 5; 3 for cifar10-convnet-paper)' },
  warmup: { value: 'N', help: 'warm-up steps (default 3; 1 for cifar10-convnet-paper, seconds a step on wasm)' },
  backend: { value: 'B', help: 'the tfjs backend, as BNN_BACKEND (wasm, native, …)' },
  out: FLAGS.out,
} satisfies FlagTable;

async function main(): Promise<void> {
  const values = cliFlags(USAGE, FLAG_TABLE);
  const networks = resolveNetworks(values.network);
  const steps = integerFlag(values.steps, 'steps');
  const warmup = integerFlag(values.warmup, 'warmup', true);
  const backend = await initBackend(values.backend ?? process.env.BNN_BACKEND, (line) => console.log(line));
  console.log(`${describeCpu()}; backend ${backend}`);
  for (const network of networks) {
    const heavy = HEAVY.has(network);
    const opts = { warmup: warmup ?? (heavy ? 1 : 3), steps: steps ?? (heavy ? 3 : 5) };
    console.log(`${network}: ${opts.warmup} warm-up + ${opts.steps} timed steps`);
    const bench = buildTrainStepBench(network);
    try {
      const p = await profileTrainStep(bench, backend, { ...opts, log: (line) => console.log(line) });
      const top = p.kernels.slice(0, 3).map((k) => `${k.kernel} ${((100 * k.ms) / p.stepMs).toFixed(0)} %`);
      console.log(
        `${network} on ${backend}: ${p.stepMs.toFixed(1)} ms/step; ` +
          `${p.phases.map((ph) => `${ph.phase} ${ph.ms.toFixed(1)}`).join(', ')} ms; top kernels: ` +
          `${top.join(', ')}`,
      );
      // Saved after each network so that a long run keeps what it measured.
      const files = saveProfiles(benchOutputDir(values.out, false, 'profile'), [p]);
      console.log(`wrote ${files.md}`);
    } finally {
      bench.dispose();
    }
  }
}

runMain(module, main);
