/**
 * `npm run profile`: where one training step's time goes, per tfjs kernel and per phase
 * (bench/trainProfile.ts), for the benchmark networks on the active backend.
 *
 *   npm run profile -- --network mlp-3x1024          (dataset prefix optional; comma-separated; all)
 *   npm run profile -- --network all --steps 5 --backend wasm
 *   --warmup N     warm-up steps (default 3; 1 for cifar10-convnet-paper, ≈ 8 s a step on wasm)
 *   --steps N      timed steps, median reported (default 5; 3 for cifar10-convnet-paper)
 *   --backend B    as BNN_BACKEND (wasm today; native once it exists)
 *   --out DIR      where train-profile.{json,md} go (default results/bench)
 */
import { parseArgs } from 'node:util';
import { integerFlag } from './args';
import { initBackend } from '../lib/backend';
import { describeCpu } from '../bench/cpuId';
import { profileTrainStep, saveProfiles } from '../bench/trainProfile';
import { buildTrainStepBench, resolveNetworks } from '../bench/benchNetworks';

/** A step of the paper's CIFAR-10 ConvNet takes seconds on wasm: fewer steps keep a run to minutes. */
const HEAVY = new Set(['cifar10-convnet-paper']);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      network: { type: 'string', default: 'all' },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      backend: { type: 'string' },
      out: { type: 'string', default: 'results/bench' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(
      'npm run profile -- [--network NAME[,NAME…]|all] [--steps N] [--warmup N] [--backend wasm|native|…] [--out DIR]',
    );
    return;
  }
  const networks = resolveNetworks(values.network!);
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
      const p = profileTrainStep(bench, backend, { ...opts, log: (line) => console.log(line) });
      const top = p.kernels.slice(0, 3).map((k) => `${k.kernel} ${((100 * k.ms) / p.stepMs).toFixed(0)} %`);
      console.log(
        `${network} on ${backend}: ${p.stepMs.toFixed(1)} ms/step; ` +
          `${p.phases.map((ph) => `${ph.phase} ${ph.ms.toFixed(1)}`).join(', ')} ms; top kernels: ` +
          `${top.join(', ')}`,
      );
      // Saved after each network so that a long run keeps what it measured.
      const files = saveProfiles(values.out!, [p]);
      console.log(`wrote ${files.md}`);
    } finally {
      bench.dispose();
    }
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
