/**
 * The one way the project replaces a file it must not lose (checkpoints, models, histories): write
 * a temporary file in the same folder, fsync it, rename it over the target, fsync the folder. A
 * crash or Ctrl-C at any moment leaves the old file or the new one, never half of one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

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

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  // Named here: a rename onto a folder fails with a bare EISDIR or ENOTEMPTY.
  if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory())
    throw new Error(`${file}: is a folder, expected a file`);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
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
    throw err;
  }
  fsyncFolder(dir);
}
