/**
 * A run folder belongs to one run (issue 19), checked the way a user meets it: real `node dist/cli/train.js`
 * processes on tiny MNIST runs (16 hidden units, 200 training images: about a second each). Two concurrent runs
 * on one --run, a stale lock, --resume on a folder with only checkpoint.prev.bnn and best.bnn, on an empty and on
 * a mistyped folder, a fresh start over a run (--overwrite), files from another run, `kill -9` in the middle of
 * a checkpoint write, a full disk (a small tmpfs where mounting is permitted, else a write error injected at the
 * file layer: the test's name says which), and negative numbers as flag values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { initBackend } from '../lib/backend';
import { buildModel, exportBestModel, loadDataset, resolveHyperparameters } from '../lib/experiment';
import { openRunFolder } from '../lib/train/runFolder';
import {
  readCheckpoint,
  readCheckpointMeta,
  writeCheckpoint,
  type BestMeta,
  type TrainingMeta,
} from '../lib/train/checkpoint';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-run-folder-'));
const runs = path.join(root, 'runs');
const results = path.join(root, 'results');
const TINY = ['--preset', 'smoke', '--hidden-units', '16', '--train-limit', '200', '--valid-limit', '100'];
TINY.push('--test-limit', '100', '--no-figures', '--runs-dir', runs, '--results-dir', results);

interface Exit {
  status: number;
  out: string;
}

/** Starts the CLI (one thread: the suite shares the machine). */
function start(args: string[], nodeArgs: string[] = [], env: Record<string, string> = {}): ChildProcess {
  return spawn('node', [...nodeArgs, 'dist/cli/train.js', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BNN_THREADS: '1', ...env },
  });
}

/** Output so far, and the exit, of a started CLI. */
function watch(child: ChildProcess): { out: () => string; exit: Promise<Exit> } {
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => resolve({ status: code ?? 128 + os.constants.signals[signal!], out })),
  );
  return { out: () => out, exit };
}

const cli = (args: string[], nodeArgs: string[] = [], env: Record<string, string> = {}) =>
  watch(start(args, nodeArgs, env)).exit;

function until(condition: () => boolean, what: string, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      if (condition()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error(`timed out waiting for ${what}`));
      else return;
      clearInterval(poll);
    }, 5);
  });
}

/** name → SHA-256 of every file under `dir`: "nothing changed" is this staying equal. */
function snapshot(dir: string): Record<string, string> {
  const files = fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  return Object.fromEntries(
    files.map((e) => {
      const file = path.join(e.parentPath, e.name);
      return [path.relative(dir, file), createHash('sha256').update(fs.readFileSync(file)).digest('hex')];
    }),
  );
}

/** A process id that was just used and is no longer running. */
function deadPid(): number {
  const pid = spawnSync('node', ['-e', '']).pid!;
  expect(() => process.kill(pid, 0)).toThrow();
  return pid;
}

const epochOf = (file: string) => readCheckpointMeta<TrainingMeta>(file).epoch;
const runOf = (file: string) => readCheckpointMeta<TrainingMeta>(file).run;

/** A small tmpfs for the full-disk test, where this process may mount one (CI runs as root). */
function tryMount(dir: string): boolean {
  fs.mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=320k', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const diskDir = path.join(root, 'small-disk');
// BNN_TEST_NO_MOUNT=1 takes the other path (the injected error) where mounting works.
const mounted = process.platform === 'linux' && !process.env.BNN_TEST_NO_MOUNT && tryMount(diskDir);

beforeAll(async () => {
  // Build dist/ once when stale (asynchronously: a blocked worker misses vitest's RPC deadlines).
  await promisify(execFile)('node', ['scripts/build-if-stale.js']);
}, 180_000);
afterAll(() => {
  if (mounted) execFileSync('umount', [diskDir]);
  fs.rmSync(root, { recursive: true, force: true });
});

describe('one run per folder: the lock', () => {
  it('two concurrent runs on one --run: the second refuses at once naming the first, which is unharmed', async () => {
    const first = start([...TINY, '--run', 'mix', '--epochs', '1000', '--seed', '1']);
    const a = watch(first);
    try {
      await until(() => /^epoch +2\//m.test(a.out()), 'the first run to train');
    } catch (err) {
      first.kill('SIGKILL');
      throw err;
    }
    const lock = JSON.parse(fs.readFileSync(path.join(runs, 'mix', 'run.lock'), 'utf8'));
    expect(lock).toMatchObject({ pid: first.pid, host: os.hostname(), command: expect.stringContaining('--seed 1') });
    const t0 = Date.now();
    const second = await cli([...TINY, '--run', 'mix', '--epochs', '1000', '--seed', '2']);
    expect(second.status, second.out).toBe(1);
    expect(second.out).toMatch(
      new RegExp(`mix is in use by another run \\(process ${first.pid} on ${os.hostname()}, started .*--seed 1`),
    );
    expect(second.out).not.toMatch(/^data:/m); // refused before loading anything
    console.log(`second run refused after ${Date.now() - t0} ms (process start included)`);
    first.kill('SIGINT');
    const end = await a.exit;
    expect(end.status, end.out).toBe(130);
    const dir = path.join(runs, 'mix');
    expect(fs.existsSync(path.join(dir, 'run.lock'))).toBe(false);
    const id = runOf(path.join(dir, 'checkpoint.bnn'));
    expect(id.seed).toBe(1);
    for (const f of ['checkpoint.prev.bnn', 'best.bnn']) expect(runOf(path.join(dir, f))).toEqual(id);
  }, 120_000);

  it('the lock of a live process refuses; a stale lock (its process gone) is taken over, saying so', async () => {
    const made = await cli([...TINY, '--run', 'stale', '--epochs', '3', '--stop-after', '1']);
    expect(made.status, made.out).toBe(0);
    const lockFile = path.join(runs, 'stale', 'run.lock');
    const holder = (pid: number) => ({ pid, host: os.hostname(), started: '2026-12-07T10:00:00.000Z', command: 'x' });
    fs.writeFileSync(lockFile, JSON.stringify(holder(process.pid)));
    const live = await cli([...TINY, '--run', 'stale', '--epochs', '3', '--resume']);
    expect(live.status, live.out).toBe(1);
    expect(live.out).toContain(`stale is in use by another run (process ${process.pid} on ${os.hostname()}`);
    expect(fs.existsSync(lockFile)).toBe(true); // not ours to remove

    const dead = deadPid();
    fs.writeFileSync(lockFile, JSON.stringify(holder(dead)));
    const resumed = await cli([...TINY, '--run', 'stale', '--epochs', '3', '--resume']);
    expect(resumed.status, resumed.out).toBe(0);
    expect(resumed.out).toContain(`took over the lock ${lockFile} of process ${dead} on ${os.hostname()}`);
    expect(resumed.out).toMatch(/that process is no longer running/);
    expect(resumed.out).toContain('resumed from');
    expect(fs.existsSync(lockFile)).toBe(false);
  }, 60_000);
});

describe('one run per folder: the lock in the library (notebooks)', () => {
  it('a second train call on a folder this process holds refuses; the lock is given back afterwards', () => {
    const dir = path.join(root, 'in-process');
    const held = openRunFolder(dir, { log: () => {} });
    expect(() => openRunFolder(dir, { log: () => {} })).toThrow(
      `${dir} is in use by another run (this process, in another training call)`,
    );
    held.release();
    expect(fs.existsSync(path.join(dir, 'run.lock'))).toBe(false);
    openRunFolder(dir, { log: () => {} }).release();
  });
});

describe('a resume never starts over silently', () => {
  it('--resume with only checkpoint.prev.bnn and best.bnn: an error naming them, --rollback; none lost', async () => {
    const made = await cli([...TINY, '--run', 'mnist-smoke', '--epochs', '4', '--stop-after', '2']);
    expect(made.status, made.out).toBe(0);
    const dir = path.join(runs, 'mnist-smoke');
    fs.rmSync(path.join(dir, 'checkpoint.bnn'));
    const before = snapshot(dir);
    const r = await cli([...TINY, '--run', 'mnist-smoke', '--epochs', '4', '--resume', '--stop-after', '1']);
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/mnist-smoke\/checkpoint\.bnn does not exist, nothing to resume \(it holds /);
    expect(r.out).toMatch(/checkpoint\.prev\.bnn \(\d+ kB\), best\.bnn \(\d+ kB\), history\.json .*model\/\)/);
    expect(r.out).toMatch(/to continue from checkpoint\.prev\.bnn, resume with rollback \(--rollback\)/);
    expect(r.out).toMatch(/to start over, run without --resume and with --overwrite/);
    expect(r.out).not.toMatch(/^epoch /m);
    expect(snapshot(dir)).toEqual(before);

    // Without --resume: refused too (the folder holds a run), nothing changed.
    const fresh = await cli([...TINY, '--run', 'mnist-smoke', '--epochs', '4', '--stop-after', '1']);
    expect(fresh.status, fresh.out).toBe(1);
    expect(fresh.out).toMatch(/mnist-smoke already holds a run \(checkpoint\.prev\.bnn .*\): resume it \(--resume\), /);
    expect(fresh.out).toMatch(/start it over \(--overwrite: its files are kept in .*replaced\/ until/);
    expect(snapshot(dir)).toEqual(before);

    // What the message says works: --rollback continues from checkpoint.prev.bnn (epoch 1).
    const rolled = await cli([...TINY, '--run', 'mnist-smoke', '--epochs', '4', '--rollback', '--stop-after', '1']);
    expect(rolled.status, rolled.out).toBe(0);
    expect(rolled.out).toContain(`resumed from ${path.join(dir, 'checkpoint.prev.bnn')}: 1 epochs done`);
    expect(epochOf(path.join(dir, 'checkpoint.bnn'))).toBe(2);
  }, 60_000);

  it('--resume on an empty folder and on a mistyped run name: errors, no folder made', async () => {
    fs.mkdirSync(path.join(runs, 'empty'), { recursive: true });
    const empty = await cli([...TINY, '--run', 'empty', '--resume']);
    expect(empty.status, empty.out).toBe(1);
    expect(empty.out).toMatch(/empty\/checkpoint\.bnn does not exist, nothing to resume \(it is empty\); /);
    expect(empty.out).toMatch(/to start over, run without --resume$/m);
    expect(fs.readdirSync(path.join(runs, 'empty'))).toEqual([]);

    const rollback = await cli([...TINY, '--run', 'empty', '--rollback']);
    expect(rollback.status, rollback.out).toBe(1);
    expect(rollback.out).toMatch(/empty\/checkpoint\.prev\.bnn: no previous checkpoint to roll back to/);

    const typo = await cli([...TINY, '--run', 'mnist-smok', '--resume']);
    expect(typo.status, typo.out).toBe(1);
    expect(typo.out).toMatch(/mnist-smok: no such run folder, nothing to resume \(did you mean --run mnist-smoke\?\)/);
    expect(typo.out).toMatch(/to start a new run, leave out --resume/);
    expect(fs.existsSync(path.join(runs, 'mnist-smok'))).toBe(false);
  }, 60_000);

  it('--overwrite keeps the old run in replaced/ until the new run has a checkpoint (kill -9 before it)', async () => {
    const made = await cli([...TINY, '--run', 'over', '--epochs', '2']);
    expect(made.status, made.out).toBe(0);
    const dir = path.join(runs, 'over');
    const old = snapshot(dir);
    const oldRun = runOf(path.join(dir, 'checkpoint.bnn'));
    // Killed as soon as the old files are set aside: 20 batches of training come before the first checkpoint.
    const child = start([...TINY, '--run', 'over', '--epochs', '2', '--overwrite', '--train-limit', '2000']);
    const w = watch(child);
    await until(
      () => /^overwrite: .* moved to .*replaced\/ until this run's first checkpoint/m.test(w.out()),
      'set aside',
    );
    child.kill('SIGKILL');
    await w.exit;
    expect(fs.existsSync(path.join(dir, 'checkpoint.bnn'))).toBe(false);
    const kept = snapshot(path.join(dir, 'replaced'));
    expect(kept).toEqual(old);

    const resume = await cli([...TINY, '--run', 'over', '--epochs', '2', '--resume']);
    expect(resume.status, resume.out).toBe(1);
    expect(resume.out).toContain(`took over the lock ${path.join(dir, 'run.lock')} of process ${child.pid}`);
    expect(resume.out).toMatch(/replaced\/ holds the files of the run an overwrite replaced: move them back/);

    const again = await cli([...TINY, '--run', 'over', '--epochs', '2', '--overwrite']);
    expect(again.status, again.out).toBe(0);
    expect(again.out).toMatch(/removed .*replaced\/: the new run has its first checkpoint/);
    expect(fs.existsSync(path.join(dir, 'replaced'))).toBe(false);
    expect(runOf(path.join(dir, 'checkpoint.bnn')).id).not.toBe(oldRun.id);
  }, 60_000);
});

describe('checkpoints know their run', () => {
  it('a best.bnn, checkpoint.prev.bnn or model/ from another run is refused on resume, naming both runs', async () => {
    for (const [run, seed] of [
      ['one', '1'],
      ['other', '2'],
    ]) {
      const made = await cli([...TINY, '--run', run, '--epochs', '4', '--stop-after', '2', '--seed', seed]);
      expect(made.status, made.out).toBe(0);
    }
    const one = path.join(runs, 'one');
    const other = path.join(runs, 'other');
    const mine = runOf(path.join(one, 'checkpoint.bnn'));
    const theirs = runOf(path.join(other, 'checkpoint.bnn'));
    expect(mine.id).not.toBe(theirs.id);
    const describe = (r: typeof mine) => `run ${r.id} (seed ${r.seed}, hyperparameters ${r.hyperparameters})`;
    const resume = [...TINY, '--run', 'one', '--epochs', '4', '--resume'];
    for (const file of ['best.bnn', 'checkpoint.prev.bnn', path.join('model', 'about.json')]) {
      const own = fs.readFileSync(path.join(one, file));
      fs.copyFileSync(path.join(other, file), path.join(one, file));
      const before = snapshot(one);
      const r = await cli(resume);
      expect(r.status, r.out).toBe(1);
      expect(r.out).toContain(
        `${path.join(one, file)} is from another run: it belongs to ${describe(theirs)}, ` +
          `${path.join(one, 'checkpoint.bnn')} to ${describe(mine)}`,
      );
      expect(r.out).toMatch(/the folder mixes two runs, nothing was changed/);
      expect(snapshot(one)).toEqual(before);
      fs.writeFileSync(path.join(one, file), own);
    }
    const r = await cli(resume);
    expect(r.status, r.out).toBe(0);
    expect(runOf(path.join(one, 'best.bnn'))).toEqual(mine);
    expect(JSON.parse(fs.readFileSync(path.join(one, 'model', 'about.json'), 'utf8')).runIdentity).toEqual(mine);
  }, 90_000);

  it('a checkpoint without a run identity (written before them) is refused with a clear message', async () => {
    const dir = path.join(runs, 'one');
    const file = path.join(dir, 'checkpoint.bnn');
    const ckpt = readCheckpoint<Partial<TrainingMeta>>(file);
    delete ckpt.meta.run;
    writeCheckpoint(file, ckpt);
    const r = await cli([...TINY, '--run', 'one', '--epochs', '4', '--resume']);
    expect(r.status, r.out).toBe(1);
    expect(r.out).toContain(`${file} has no run identity (it was written before binarynet-ts recorded which run`);
    expect(r.out).toMatch(
      /start the run over \(--overwrite keeps the old files aside until the first new checkpoint\)/,
    );
    const best = readCheckpoint<BestMeta>(path.join(dir, 'best.bnn'));
    expect(best.meta.run.id).toMatch(/^[0-9a-f]{16}$/);
  }, 60_000);
});

describe('checkpoints know their run: export', () => {
  it('exportBestModel refuses a best.bnn from another run, naming both; model/ is left as it was', async () => {
    await initBackend(undefined, () => {});
    const one = path.join(root, 'export-one');
    fs.cpSync(path.join(runs, 'other'), one, { recursive: true });
    const theirs = runOf(path.join(one, 'checkpoint.bnn'));
    fs.copyFileSync(path.join(runs, 'mnist-smoke', 'best.bnn'), path.join(one, 'best.bnn'));
    const mine = runOf(path.join(one, 'best.bnn'));
    const before = snapshot(path.join(one, 'model'));
    const hp = resolveHyperparameters('mnist', 'smoke', { hiddenUnits: [16], trainLimit: 200, validLimit: 100 });
    const model = buildModel(hp, await loadDataset({ ...hp, testLimit: 100 }));
    await expect(exportBestModel(model, one, 'one', () => {})).rejects.toThrow(
      `${path.join(one, 'best.bnn')} is from another run: it belongs to run ${mine.id} (seed ${mine.seed}, ` +
        `hyperparameters ${mine.hyperparameters}), ${path.join(one, 'checkpoint.bnn')} to run ${theirs.id}`,
    );
    expect(snapshot(path.join(one, 'model'))).toEqual(before);
  }, 60_000);
});

describe('leftovers and full disks', () => {
  it('kill -9 mid-write of a checkpoint, then a new run: the temporary file is gone, the run resumes', async () => {
    // 2 × 1024 units: an 18 MB checkpoint, long enough to write that the kill lands in it. Should the kill come
    // after the rename all the same (a loaded machine), the trial is repeated in a fresh folder.
    const attempt = async (n: number) => {
      const big = [...TINY, '--run', `killed-${n}`, '--hidden-units', '1024,1024', '--train-limit', '100'];
      big.push('--epochs', '3');
      const made = await cli([...big, '--stop-after', '1']);
      expect(made.status, made.out).toBe(0);
      const dir = path.join(runs, `killed-${n}`);
      const child = start([...big, '--resume']);
      const w = watch(child);
      const temp = `.checkpoint.bnn.${child.pid}.tmp`;
      const watcher = fs.watch(dir, (_, name) => name === temp && child.kill('SIGKILL'));
      const end = await w.exit;
      watcher.close();
      expect(end.status, end.out).toBe(137);
      const hit = fs.readdirSync(dir).includes(temp);
      if (!hit) console.log(`kill -9 trial ${n}: the kill came after the write; trying again`);
      return { big, dir, pid: child.pid!, temp, hit };
    };
    let trial = await attempt(1);
    for (let n = 2; !trial.hit && n <= 3; n++) trial = await attempt(n);
    const { big, dir, temp } = trial;
    const child = { pid: trial.pid };
    expect(trial.hit).toBe(true);
    expect(fs.existsSync(path.join(dir, 'run.lock'))).toBe(true);
    expect(epochOf(path.join(dir, 'checkpoint.bnn'))).toBe(1);

    const again = await cli([...big, '--resume', '--stop-after', '1']);
    expect(again.status, again.out).toBe(0);
    expect(again.out).toContain(`removed ${path.join(dir, temp)}, a temporary file left by process ${child.pid}`);
    expect(again.out).toContain(`took over the lock ${path.join(dir, 'run.lock')} of process ${child.pid}`);
    expect(again.out).toContain(`resumed from ${path.join(dir, 'checkpoint.bnn')}: 1 epochs done`);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp') || f === 'run.lock')).toEqual([]);
    expect(epochOf(path.join(dir, 'checkpoint.bnn'))).toBe(2);
  }, 120_000);

  const why = process.env.BNN_TEST_NO_MOUNT ? 'BNN_TEST_NO_MOUNT is set' : 'mounting a tmpfs is not permitted here';
  const how = mounted ? 'a 320 KiB tmpfs' : `ENOSPC injected at the file layer: ${why}`;
  it(`a full disk (${how}): the error names the file and the checkpoint kept; nothing half-written`, async () => {
    console.log(`full disk: ${how}`);
    const inject = { BNN_FAIL_WRITE_NAME: 'checkpoint.bnn', BNN_FAIL_WRITE_NTH: '2' };
    const preload = ['--require', './test/helpers/failWrites.cjs'];
    const [runsDir, nodeArgs, env] = mounted ? [diskDir, [], {}] : [path.join(root, 'full'), preload, inject];
    const args = [...TINY, '--runs-dir', runsDir, '--run', 'full', '--epochs', '3'];
    const r = await cli(args, nodeArgs, env);
    expect(r.status, r.out).toBe(1);
    const file = path.join(runsDir, 'full', 'checkpoint.bnn');
    expect(r.out).toContain(
      `error: training stopped: ${file}: could not be written (ENOSPC: no space left on device, write); ` +
        `the earlier checkpoint.bnn is kept unchanged; the last good checkpoint ${file} (epoch 1) is kept`,
    );
    expect(fs.readdirSync(path.dirname(file)).filter((f) => f.endsWith('.tmp') || f === 'run.lock')).toEqual([]);
    expect(readCheckpoint<TrainingMeta>(file).meta.epoch).toBe(1);
  }, 60_000);
});

describe('numeric flags', () => {
  it.each([
    [['--lr-start', '-1'], 'lrStart must be a positive number, got -1'],
    [['--lr-start=-1'], 'lrStart must be a positive number, got -1'],
    [['--lr-start', '-.5e-3'], 'lrStart must be a positive number, got -0.0005'],
    [['--epochs', '-3'], 'epochs must be a positive integer, got -3'],
    [['--hidden-units', '-5,3'], 'hiddenUnits[0] must be a positive integer, got -5'],
    [['--lr-start', '-x'], "--lr-start must be a decimal number, got '-x'"],
    [['--stop-after', '-1'], "--stop-after takes a positive integer, got '-1'"],
  ])('%j: the project message, before any work', async (flags, message) => {
    const r = await cli([...TINY, '--run', 'flags', ...flags]);
    expect(r.status, r.out).toBe(1);
    expect(r.out).toContain(message);
    expect(r.out).not.toMatch(/ambiguous/);
    expect(fs.existsSync(path.join(runs, 'flags'))).toBe(false);
  });
});
