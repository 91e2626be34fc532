/**
 * The one way the project replaces a file it must not lose (checkpoints, models, histories): write
 * a temporary file in the same folder, fsync it, rename it over the target, fsync the folder. A
 * crash or Ctrl-C at any moment leaves the old file or the new one, never half of one.
 *
 * The temporary file is `.<name>.<pid>.tmp` (`tempFileFor`). A process killed with SIGKILL mid-write
 * leaves it behind; `removeStaleTempFiles`, called when a run starts, deletes those whose process is
 * gone, and nothing else. A failed write (a full disk, a read-only folder) names the file and says
 * that the earlier file, if any, is unchanged.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** `.<name>.<pid>.tmp`, beside `file`. */
export function tempFileFor(file: string, pid = process.pid): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${pid}.tmp`);
}

/** The project's temporary names: `.<name>.<pid>.tmp` (and `checkpoint.prev.bnn.<pid>.tmp`, written before 2026-12). */
const TEMP_NAME = /^(?:\.(.+)|(checkpoint\.prev\.bnn))\.(\d+)\.tmp$/;

/** Whether a process with this id runs on this machine (one we may not signal still runs). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes the temporary files of dead processes in `dir` (only the names `tempFileFor` makes, only
 * when their process id is not running); returns what it removed, as `{ file, pid }`.
 */
export function removeStaleTempFiles(dir: string): { file: string; pid: number }[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: { file: string; pid: number }[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[3]);
    if (pid === process.pid || processAlive(pid)) continue;
    const file = path.join(dir, name);
    if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) continue;
    fs.rmSync(file, { force: true });
    removed.push({ file, pid });
  }
  return removed;
}

/** Makes the rename itself durable; platforms that cannot open a folder for syncing skip it. */
function fsyncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EBADF'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** A write error that names the file and says what is left of it (`cause`: the system's error). */
function writeFailed(file: string, err: unknown): Error {
  const kept = fs.existsSync(file)
    ? `the earlier ${path.basename(file)} is kept unchanged`
    : `no earlier ${path.basename(file)} existed`;
  return new Error(`${file}: could not be written (${(err as Error).message}); ${kept}`, { cause: err });
}

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  // Named here: a rename onto a folder fails with a bare EISDIR or ENOTEMPTY.
  if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory())
    throw new Error(`${file}: is a folder, expected a file`);
  const tmp = tempFileFor(file);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw writeFailed(file, err);
  }
  fsyncFolder(dir);
}
