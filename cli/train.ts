/**
 * `npm run train -- --dataset mnist|fashion-mnist|cifar10|svhn --preset paper|quick|smoke --epochs 50 …`
 * (and `npm start`: MNIST quick); `--help` lists every flag. Both npm scripts run the compiled
 * `node dist/cli/train.js`, with no wrapper process that could kill it while it saves.
 *
 * Ctrl-C and SIGTERM ask the trainer to stop: it saves a checkpoint after the current batch (a batch
 * runs synchronously, so signal handlers only run between batches) and the process exits with
 * 128 + the signal's number, printing the command that resumes. A second Ctrl-C only says it is still
 * saving; a third quits at once: checkpoints are written synchronously and atomically, so even then
 * the last one written stays valid.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { helpText, integerFlag, parseArgs } from './args';
import { exitStatus, watchSignals } from './signals';
import { resolveHyperparameters, runExperiment, runSeeds, type ExperimentOptions } from '../lib/experiment';
import { preset } from '../lib/presets';
import { CHECKPOINT_FILE } from '../lib/train/checkpoint';

const shellQuote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

/** The command that started this process, as one would type it again (`npm start` is `npm run train`). */
function launchCommand(args: string[]): string {
  const event = process.env.npm_lifecycle_event;
  if (event === 'train' || event === 'start') return ['npm run train --', ...args.map(shellQuote)].join(' ');
  const script = path.relative(process.cwd(), process.argv[1]);
  return ['node', ...process.execArgv, script, ...args].map(shellQuote).join(' ');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const template = preset('mnist', 'paper');
  const args = parseArgs(argv, template);
  if (args.flags.help) {
    console.log(helpText(template));
    return;
  }
  // Every value is checked before any work starts.
  const hp = resolveHyperparameters(args.dataset, args.preset, args.overrides);
  const stopAfter = integerFlag(args.flags['stop-after'] as string | undefined, 'stop-after');
  const seeds = integerFlag(args.flags.seeds as string | undefined, 'seeds');
  const signals = watchSignals();
  const options: ExperimentOptions = {
    dataset: args.dataset,
    preset: args.preset,
    overrides: args.overrides,
    dataDir: args.flags['data-dir'] as string | undefined,
    run: args.flags.run as string | undefined,
    resultsDir: args.flags['results-dir'] as string | undefined,
    runsDir: args.flags['runs-dir'] as string | undefined,
    resume: args.flags.resume === true,
    rollback: args.flags.rollback === true,
    overwrite: args.flags.overwrite === true,
    stopAfter,
    progress: process.stdout.isTTY ? 'bar' : 'lines',
    shouldStop: signals.stopRequested,
    figures: args.flags['no-figures'] !== true,
    command: launchCommand(argv),
  };
  const { result, runDir } =
    seeds === undefined ? await runExperiment(options) : (await runSeeds(options, seeds)).runs.at(-1)!;
  if (result.epochsRun < hp.epochs) {
    const again = argv.filter((a) => a !== '--rollback' && a !== '--overwrite');
    const resume = launchCommand(again.includes('--resume') ? again : [...again, '--resume']);
    console.log(
      `stopped after ${result.epochsRun}/${hp.epochs} epochs; checkpoint ${path.join(runDir, CHECKPOINT_FILE)}`,
    );
    console.log(`resume with: ${resume}`);
    const signal = signals.signal();
    if (signal) process.exitCode = exitStatus(signal);
  }
}

/**
 * `npx tsx cli/train.ts` runs this file in a child of tsx's CLI, which relays each SIGINT/SIGTERM and
 * SIGKILLs the child unless the child's JavaScript acknowledges it within 2 × 30 ms: impossible while
 * a training step runs (100+ ms, synchronous), so Ctrl-C lost the work since the last epoch. Under
 * tsx's CLI this process therefore only relays: it trains in a child of its own (`node --import tsx`,
 * which tsx does not watch) and stays idle, so tsx always gets its acknowledgement. The child gets
 * the terminal's Ctrl-C directly (same process group) and the copies relayed here count as the same
 * key press (cli/signals.ts).
 */
function underTsxCli(): boolean {
  return process.execArgv.some((arg) => /tsx[\\/]dist[\\/]preflight\.cjs$/.test(arg));
}

function trainInOwnProcess(): void {
  const child = spawn(process.execPath, ['--import', 'tsx', ...process.argv.slice(1)], { stdio: 'inherit' });
  const relay = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', relay);
  process.on('SIGTERM', relay);
  child.on('exit', (code, signal) => process.exit(code ?? exitStatus(signal!)));
}

if (underTsxCli()) trainInOwnProcess();
else {
  main().catch((err: Error) => {
    console.error(`error: ${err.message}`);
    process.exit(1);
  });
}
