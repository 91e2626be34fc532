/**
 * Ctrl-C the way a terminal sends it: to the whole process group of the CLI (node, and under
 * `npm run train` also npm and its shell), at seeded random moments from start-up to the end of
 * training. Every trial must leave a valid checkpoint holding at least the work the CLI printed,
 * exit non-zero unless training had finished, and print a command that resumes from it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { seededRandom } from '../lib/random';
import { readCheckpoint } from '../lib/train/checkpoint';

const TRIALS = 20;
const CONCURRENT = 2;
const EPOCHS = 3;
/**
 * A run long enough that the seeded moments (up to 2.5 s into training) land in a training step: 2 × 1024 units,
 * 60 batches of 100 per epoch, about 1.5 s per epoch on one idle thread (with 2 × 128 units and 6 batches, 14 of
 * 20 trials came after training had ended on an idle machine).
 */
const RUN_FLAGS = ['--preset', 'smoke', '--epochs', String(EPOCHS), '--train-limit', '6000', '--valid-limit', '200'];
RUN_FLAGS.push('--test-limit', '200', '--hidden-units', '1024,1024', '--no-figures', '--run', 'trial');

type Launcher = 'node' | 'npm' | 'npx tsx';
type Signals = 'SIGINT' | 'SIGTERM' | 'SIGINT twice';

interface Exit {
  /** As a shell reports it: the exit code, or 128 + the signal's number (npm re-raises its child's signal). */
  status: number;
  stdout: string;
}

interface Interrupt {
  /** Start the clock when the output first matches this (null: at spawn). */
  after: RegExp | null;
  delayMs: number;
  send: (pgid: number) => void;
}

/** Runs `command` in its own process group, as a shell runs a foreground job. */
function runGroup(command: string, args: string[], interrupt?: Interrupt): Promise<Exit> {
  // One thread each: two trials share the machine.
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BNN_THREADS: '1' },
  });
  let stdout = '';
  let armed = false;
  const arm = () => {
    armed = true;
    setTimeout(() => interrupt!.send(child.pid!), interrupt!.delayMs);
  };
  const collect = (d: Buffer) => {
    stdout += d;
    if (interrupt && !armed && interrupt.after?.test(stdout)) arm();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  if (interrupt && interrupt.after === null) arm();
  return new Promise((resolve) => {
    child.on('close', (code, sig) => resolve({ status: code ?? 128 + os.constants.signals[sig!], stdout }));
  });
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group has already exited.
  }
}

interface TrialResult {
  launcher: Launcher;
  signals: Signals;
  delayMs: number;
  outcome: 'finished' | 'saved mid-epoch' | 'saved at an epoch' | 'before any work';
  /** Whether a second press was counted ("still saving…") rather than merged with the first. */
  secondPress: boolean;
}

const LAUNCH: Record<Launcher, [string, string[]]> = {
  node: ['node', ['dist/cli/train.js']],
  npm: ['npm', ['run', 'train', '--']],
  'npx tsx': ['npx', ['tsx', 'cli/train.ts']],
};

async function trial(
  i: number,
  launcher: Launcher,
  delayMs: number,
  gapMs: number,
  root: string,
): Promise<TrialResult> {
  const signals: Signals = (['SIGINT', 'SIGTERM', 'SIGINT twice'] as const)[i % 3];
  const dir = fs.mkdtempSync(path.join(root, `trial-${i}-`));
  const flags = [...RUN_FLAGS, '--runs-dir', path.join(dir, 'runs'), '--results-dir', path.join(dir, 'results')];
  const [command, prefix] = LAUNCH[launcher];
  const first = await runGroup(command, [...prefix, ...flags], {
    // A few trials signal during start-up (module loading, data, model); the others once training starts.
    after: i % 7 === 3 ? null : /^hyperparameters/m,
    delayMs,
    send: (pgid) => {
      killGroup(pgid, signals === 'SIGTERM' ? 'SIGTERM' : 'SIGINT');
      if (signals === 'SIGINT twice') setTimeout(() => killGroup(pgid, 'SIGINT'), gapMs);
    },
  });
  const secondPress = /still saving/.test(first.stdout);
  const when = `${delayMs} ms ${i % 7 === 3 ? 'after start' : 'into training'}`;
  const label = `trial ${i} (${launcher}, ${signals} ${when}):\n${first.stdout}`;
  const file = path.join(dir, 'runs', 'trial', 'checkpoint.bnn');
  const epochsPrinted = [...first.stdout.matchAll(/^epoch (\d+)\/\d+ /gm)].map((m) => Number(m[1]));
  const interruptedStatus = signals === 'SIGTERM' ? 143 : 130;

  if (!fs.existsSync(file)) {
    // Only a signal before the handlers are installed (start-up) may leave nothing; nothing was done then.
    expect(epochsPrinted, label).toEqual([]);
    expect(first.stdout, label).not.toMatch(/interrupted in epoch/);
    expect(first.status, label).not.toBe(0);
    return { launcher, signals, delayMs, outcome: 'before any work', secondPress };
  }
  const { meta } = readCheckpoint<{ epoch: number; batch: number }>(file);
  expect(meta.epoch, label).toBeGreaterThanOrEqual(Math.max(0, ...epochsPrinted));
  const mid = first.stdout.match(/interrupted in epoch (\d+) after (\d+)\/\d+ batches/);
  if (mid) expect([meta.epoch, meta.batch], label).toEqual([Number(mid[1]) - 1, Number(mid[2])]);
  if (!/resume with:/.test(first.stdout)) {
    // Training had finished: node exits 0, but npm, signalled after its child exited, may die of the signal.
    expect(meta.epoch, label).toBe(EPOCHS);
    expect(first.stdout, label).toMatch(/^test error at best validation epoch/m);
    expect(launcher === 'node' ? [0] : [0, interruptedStatus], label).toContain(first.status);
    return { launcher, signals, delayMs, outcome: 'finished', secondPress };
  }
  expect(first.status, label).toBe(interruptedStatus);
  // The printed command resumes: run it (one more epoch at most) and check where it starts.
  const resume = first.stdout.match(/^resume with: (.*)$/m);
  expect(resume, label).not.toBeNull();
  const again = await runGroup('sh', ['-c', `${resume![1]} --stop-after 1`]);
  expect(again.status, `${label}\nresumed:\n${again.stdout}`).toBe(0);
  const done = `${meta.epoch} epochs${meta.batch ? ` and ${meta.batch} batches` : ''} done`;
  expect(again.stdout, `${label}\nresumed:\n${again.stdout}`).toContain(`resumed from ${file}: ${done}`);
  return { launcher, signals, delayMs, outcome: mid ? 'saved mid-epoch' : 'saved at an epoch', secondPress };
}

describe('Ctrl-C / SIGTERM to the process group', () => {
  let root: string;
  beforeAll(async () => {
    // The npm scripts build dist/ when stale; build once here so that trials do not race to do it
    // (asynchronously: a blocked worker misses vitest's RPC deadlines).
    await promisify(execFile)('node', ['scripts/build-if-stale.js']);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-interrupt-'));
  }, 180_000);
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it(`${TRIALS} trials: a valid checkpoint with the work done, non-zero exit, a command that resumes`, async () => {
    const random = seededRandom(8);
    // From the first batch to after training ends (about 2 s on an idle machine, slower under load).
    const plan = Array.from({ length: TRIALS }, () => ({
      delayMs: Math.round(2500 * random()),
      gapMs: Math.round(50 + 900 * random()),
    }));
    const results: TrialResult[] = [];
    for (let start = 0; start < TRIALS; start += CONCURRENT) {
      const batch = plan
        .slice(start, start + CONCURRENT)
        .map((p, k) => trial(start + k, (start + k) % 2 ? 'npm' : 'node', p.delayMs, p.gapMs, root));
      results.push(...(await Promise.all(batch)));
    }
    const counts = results.reduce<Record<string, number>>(
      (acc, r) => ({ ...acc, [r.outcome]: (acc[r.outcome] ?? 0) + 1 }),
      {},
    );
    const seconds = results.filter((r) => r.secondPress).length;
    console.log(`interrupt trials: ${JSON.stringify(counts)}; second Ctrl-C counted (still saving) in ${seconds}`);
    expect(results).toHaveLength(TRIALS);
    // The seeded moments must exercise the mid-epoch save, the case this test is for.
    expect(counts['saved mid-epoch'] ?? 0).toBeGreaterThan(0);
  }, 300_000);

  it('npx tsx cli/train.ts saves too (tsx SIGKILLs a busy child; the CLI trains in its own)', async () => {
    // Seconds into training, so that it is busy in a step when the signal comes.
    const outcomes = await Promise.all([0, 1].map((i) => trial(i, 'npx tsx', 800 + 400 * i, 600, root)));
    expect(outcomes.map((o) => o.outcome)).not.toContain('before any work');
  }, 120_000);
});
