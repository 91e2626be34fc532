/**
 * A run folder (`runs/<run>/`) belongs to one run at a time. `openRunFolder`, called by `train` (and
 * earlier by `runExperiment`, before any data is loaded, so that a refusal comes at once) for the CLI
 * and the notebooks alike:
 *   - takes the folder's lock, `run.lock`, created atomically (a complete file hard-linked into place)
 *     and holding the PID, host, start time and command of its holder; a second run refuses, naming
 *     the holder; the lock of a process that is gone (same host) is taken over, saying so;
 *   - removes the temporary files (`.<name>.<pid>.tmp`) that dead processes left behind;
 *   - checks that the folder holds what was asked for: a resume needs checkpoint.bnn (a rollback
 *     checkpoint.prev.bnn), and a fresh start needs a folder with no run in it unless `overwrite`,
 *     which moves the old run's files to `replaced/`, deleted only once the new run has written its
 *     first checkpoint. Nothing else is ever deleted.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closestName } from '../closestName';
import { processAlive, removeStaleTempFiles } from '../io/atomicWrite';
import { BEST_FILE, CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE } from './checkpoint';

export const LOCK_FILE = 'run.lock';
/** Where `overwrite` keeps the files of the run it replaces until the new run's first checkpoint. */
export const REPLACED_DIR = 'replaced';
/** What a run leaves in its folder (besides the lock). */
export const RUN_FILES = [CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE, BEST_FILE, 'history.json', 'model'];

export interface LockHolder {
  pid: number;
  host: string;
  /** ISO 8601. */
  started: string;
  command: string;
}

export interface RunFolderOptions {
  resume?: boolean;
  rollback?: boolean;
  /** Start afresh in a folder that holds a run: its files are kept in `replaced/` until the first new checkpoint. */
  overwrite?: boolean;
  /** Recorded in the lock (default: this process's command line). */
  command?: string;
  log?: (line: string) => void;
}

export interface RunFolder {
  dir: string;
  /** `replaced/`, set aside by this call's `overwrite`, for the trainer to delete after its first checkpoint. */
  replaced: string | null;
  /** Deletes `replaced/` (once the new run has a checkpoint of its own). */
  dropReplaced(): void;
  /** Gives the lock back (idempotent; also done when the process exits). */
  release(): void;
}

const describeHolder = (h: LockHolder) =>
  `process ${h.pid} on ${h.host}, started ${h.started}${h.command ? `: ${h.command}` : ''}`;

function isHolder(h: unknown): h is LockHolder {
  const x = h as LockHolder;
  return typeof x === 'object' && x !== null && Number.isInteger(x.pid) && typeof x.host === 'string';
}

/** The lock's holder; null when there is no lock; an error for a file that is not one of our locks. */
function readLock(file: string): LockHolder | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let holder: unknown;
  try {
    holder = JSON.parse(text);
  } catch {
    holder = undefined;
  }
  if (!isHolder(holder))
    throw new Error(`${file} is not a lock binarynet-ts wrote; if no run uses this folder, delete it and start again`);
  return holder;
}

/** Creates `file` holding `holder`, atomically and complete (a hard link of a written file); false if it exists. */
function createLock(file: string, holder: LockHolder): boolean {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(holder, null, 1) + '\n');
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

const sameHolder = (a: LockHolder, b: LockHolder) =>
  a.pid === b.pid && a.host === b.host && a.started === b.started && a.command === b.command;

/**
 * Replaces the stale lock (`stale`, of a dead process) with ours, under a short-lived second lock so
 * that two runs starting at once cannot both take it over. False when the lock changed meanwhile.
 */
function takeOver(file: string, stale: LockHolder, me: LockHolder): boolean {
  const guard = `${file}.takeover`;
  let fd: number;
  try {
    fd = fs.openSync(guard, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const pid = Number(fs.readFileSync(guard, 'utf8'));
    // An empty guard is one being written, unless it is old.
    const young = Date.now() - (fs.statSync(guard, { throwIfNoEntry: false })?.mtimeMs ?? 0) < 10_000;
    if (Number.isInteger(pid) && pid > 0 ? processAlive(pid) : young) {
      const who = pid > 0 ? `process ${pid}` : 'another process';
      throw new Error(`another run (${who}) is taking over the lock ${file} at this moment`, { cause: err });
    }
    fs.rmSync(guard, { force: true }); // left by a process killed in the middle of a takeover
    return false;
  }
  try {
    fs.writeSync(fd, String(process.pid));
    fs.closeSync(fd);
    const now = readLock(file);
    if (now && !sameHolder(now, stale)) return false;
    fs.rmSync(file, { force: true });
    return createLock(file, me);
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

/** Takes `dir`'s lock or throws naming its holder. */
function acquireLock(dir: string, command: string, log: (line: string) => void): () => void {
  const file = path.join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: os.hostname(), started: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createLock(file, me)) return lockRelease(file, me);
    const holder = readLock(file);
    if (!holder) continue; // released meanwhile
    if (holder.host !== me.host) {
      throw new Error(
        `${dir} is in use by another run (${describeHolder(holder)}); that machine's processes cannot be checked ` +
          `from here: if that run no longer runs, delete ${file}`,
      );
    }
    if (holder.pid === me.pid || processAlive(holder.pid)) {
      const which = holder.pid === me.pid ? 'this process, in another training call' : describeHolder(holder);
      throw new Error(
        `${dir} is in use by another run (${which}): wait for it to end or stop it, or choose another run ` +
          `name (--run); lock: ${file}`,
      );
    }
    if (takeOver(file, holder, me)) {
      log(`took over the lock ${file} of ${describeHolder(holder)}: that process is no longer running`);
      return lockRelease(file, me);
    }
  }
  throw new Error(`${file}: could not take the lock (it kept changing); try again`);
}

function lockRelease(file: string, me: LockHolder): () => void {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    try {
      const holder = readLock(file);
      if (holder && sameHolder(holder, me)) fs.rmSync(file, { force: true });
    } catch {
      // Not ours any more, or unreadable: leave it.
    }
  };
  // process.exit (a third Ctrl-C) skips `finally` blocks but runs 'exit' listeners.
  process.on('exit', release);
  return release;
}

/** `checkpoint.bnn (4.2 MB), best.bnn (1.4 MB), model/`: what of a run the folder holds. */
function held(dir: string, names: string[] = RUN_FILES): string[] {
  return names.filter((n) => fs.existsSync(path.join(dir, n)));
}

const size = (bytes: number) =>
  bytes < 1e6 ? `${Math.ceil(bytes / 1e3)} kB` : `${(bytes / 1e6).toFixed(bytes < 1e8 ? 1 : 0)} MB`;

function listing(dir: string, names: string[]): string {
  return names
    .map((n) => {
      const st = fs.statSync(path.join(dir, n));
      return st.isDirectory() ? `${n}/` : `${n} (${size(st.size)})`;
    })
    .join(', ');
}

/** The error for resuming a folder that does not exist (a mistyped run name, most likely). */
function noSuchRun(dir: string, rollback: boolean): Error {
  const parent = path.dirname(dir);
  let runs: string[] = [];
  try {
    runs = fs
      .readdirSync(parent, { withFileTypes: true })
      .filter(
        (e) => e.isDirectory() && held(path.join(parent, e.name), [CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE]).length,
      )
      .map((e) => e.name);
  } catch {
    // No parent folder either.
  }
  const guess = closestName(path.basename(dir), runs);
  const there = runs.length ? `; runs in ${parent}: ${runs.join(', ')}` : `; ${parent} holds no run`;
  const what = rollback ? 'roll back' : 'resume';
  return new Error(
    `${dir}: no such run folder, nothing to ${what}${guess ? ` (did you mean --run ${guess}?)` : ''}${there}; ` +
      `to start a new run, leave out --${rollback ? 'rollback' : 'resume'}`,
  );
}

/** The error for resuming a folder that has no checkpoint.bnn: what it holds and what to do. */
function nothingToResume(dir: string): Error {
  const files = held(dir, [...RUN_FILES, REPLACED_DIR]);
  const holds = files.length ? `it holds ${listing(dir, files)}` : 'it is empty';
  const advice: string[] = [];
  if (files.includes(PREVIOUS_CHECKPOINT_FILE))
    advice.push(`to continue from ${PREVIOUS_CHECKPOINT_FILE}, resume with rollback (--rollback)`);
  if (files.includes(REPLACED_DIR))
    advice.push(`${REPLACED_DIR}/ holds the files of the run an overwrite replaced: move them back to resume that run`);
  const fresh = held(dir).length ? 'without --resume and with --overwrite' : 'without --resume';
  advice.push(`to start over, run ${fresh}`);
  return new Error(
    `${path.join(dir, CHECKPOINT_FILE)} does not exist, nothing to resume (${holds}); ${advice.join('; ')}`,
  );
}

/** The error for a fresh start in a folder that holds a run. */
function holdsARun(dir: string, files: string[]): Error {
  return new Error(
    `${dir} already holds a run (${listing(dir, files)}): resume it (--resume), start it over (--overwrite: ` +
      `its files are kept in ${path.join(dir, REPLACED_DIR)}/ until the new run's first checkpoint is written), ` +
      'or choose another run name (--run); nothing was changed',
  );
}

/**
 * A fresh start with `overwrite`: the old run's files go to replaced/. When replaced/ already holds a
 * run (an earlier overwrite whose new run wrote no checkpoint yet), that one is kept and the
 * unfinished new run's files are the ones dropped.
 */
function setAside(dir: string, files: string[], log: (line: string) => void): void {
  const replaced = path.join(dir, REPLACED_DIR);
  if (fs.existsSync(replaced) && !files.includes(CHECKPOINT_FILE)) {
    for (const f of files) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
    if (files.length) log(`overwrite: removed ${files.join(', ')} of an unfinished run; ${replaced}/ is kept`);
    return;
  }
  fs.rmSync(replaced, { recursive: true, force: true });
  fs.mkdirSync(replaced);
  for (const f of files) fs.renameSync(path.join(dir, f), path.join(replaced, f));
  log(`overwrite: ${files.join(', ')} moved to ${replaced}/ until this run's first checkpoint is written`);
}

/** Locks `dir` and checks that it holds what `o` asks for (see the file's comment). */
export function openRunFolder(dir: string, o: RunFolderOptions = {}): RunFolder {
  const log = o.log ?? ((line: string) => console.log(line));
  const resuming = o.resume || o.rollback;
  if (resuming && o.overwrite)
    throw new Error(
      `overwrite (--overwrite) starts ${dir} over: it cannot be combined with ${o.rollback ? 'rollback' : 'resume'}`,
    );
  if (resuming && !fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw noSuchRun(dir, o.rollback === true);
  fs.mkdirSync(dir, { recursive: true });
  const release = acquireLock(dir, o.command ?? process.argv.join(' '), log);
  try {
    for (const sub of [dir, path.join(dir, 'model')]) {
      for (const { file, pid } of removeStaleTempFiles(sub))
        log(`removed ${file}, a temporary file left by process ${pid}, which is no longer running`);
    }
    const previous = path.join(dir, PREVIOUS_CHECKPOINT_FILE);
    if (o.rollback && !fs.existsSync(previous)) throw new Error(`${previous}: no previous checkpoint to roll back to`);
    if (resuming && !o.rollback && !fs.existsSync(path.join(dir, CHECKPOINT_FILE))) throw nothingToResume(dir);
    if (!resuming) {
      const files = held(dir);
      const replacedBefore = fs.existsSync(path.join(dir, REPLACED_DIR));
      if (!o.overwrite && (files.length || replacedBefore))
        throw holdsARun(dir, [...files, ...(replacedBefore ? [REPLACED_DIR] : [])]);
      if (o.overwrite && (files.length || replacedBefore)) setAside(dir, files, log);
    }
  } catch (err) {
    release();
    throw err;
  }
  const replaced = path.join(dir, REPLACED_DIR);
  const setAsideNow = o.overwrite === true && fs.existsSync(replaced);
  if (!setAsideNow && fs.existsSync(replaced)) {
    log(`note: ${replaced}/ holds the files of a run an overwrite replaced; delete it when it is not needed`);
  }
  const folder: RunFolder = {
    dir,
    // Only a run started with `overwrite` deletes replaced/ (after its first checkpoint); a resume leaves it.
    replaced: setAsideNow ? replaced : null,
    dropReplaced() {
      if (!folder.replaced) return;
      fs.rmSync(folder.replaced, { recursive: true, force: true });
      log(`removed ${folder.replaced}/: the new run has its first checkpoint`);
      folder.replaced = null;
    },
    release,
  };
  return folder;
}
