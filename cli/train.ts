/**
 * `npm run train -- --dataset mnist|fashion-mnist|cifar10|svhn --preset paper|quick|smoke --epochs 50 …`
 * (and `npm start`: MNIST quick). CIFAR-10 and SVHN are downloaded into data/<dataset>/ on first use.
 * Flags besides the hyperparameters: --resume, --stop-after N, --data-dir DIR, --run NAME,
 * --results-dir DIR, --runs-dir DIR, --no-figures. Ctrl-C saves a checkpoint; --resume continues.
 */
import { parseArgs } from './args';
import { resolveHyperparameters, runExperiment } from '../lib/experiment';
import { preset } from '../lib/presets';

const EXTRA_FLAGS = { resume: false, 'stop-after': true, 'data-dir': true, run: true, 'results-dir': true, 'runs-dir': true, 'no-figures': false, help: false };

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), preset('mnist', 'paper'), EXTRA_FLAGS);
  if (args.flags.help) {
    console.log('usage: npm run train -- [--dataset mnist|fashion-mnist|cifar10|svhn] [--preset paper|quick|smoke] [--<hyperparameter> value ...] [--resume] [--stop-after N] [--data-dir DIR] [--run NAME] [--no-figures]');
    return;
  }
  // Every value is checked before any work starts.
  resolveHyperparameters(args.dataset, args.preset, args.overrides);
  const stopAfter = args.flags['stop-after'] === undefined ? undefined : Number(args.flags['stop-after']);
  if (stopAfter !== undefined && !(Number.isInteger(stopAfter) && stopAfter > 0)) throw new Error(`--stop-after must be a positive integer, got '${args.flags['stop-after']}'`);

  let stopRequested = false;
  process.on('SIGINT', () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    console.log('\nCtrl-C: saving a checkpoint at the end of this batch (Ctrl-C again to quit at once)…');
  });
  const { result } = await runExperiment({
    dataset: args.dataset,
    preset: args.preset,
    overrides: args.overrides,
    dataDir: args.flags['data-dir'] as string | undefined,
    run: args.flags.run as string | undefined,
    resultsDir: args.flags['results-dir'] as string | undefined,
    runsDir: args.flags['runs-dir'] as string | undefined,
    resume: args.flags.resume === true,
    stopAfter,
    progress: process.stdout.isTTY ? 'bar' : 'lines',
    shouldStop: () => stopRequested,
    figures: args.flags['no-figures'] !== true,
    command: `npm run train -- ${process.argv.slice(2).join(' ')}`.trim(),
  });
  if (result.interrupted) {
    console.log('stopped early; continue with the same command and --resume');
    process.exitCode = 130;
  }
}

main().catch((err: Error) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
