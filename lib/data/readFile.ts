/**
 * Reading a data file with errors that name it: Node's own messages for a folder in the file's
 * place (EISDIR) or an unreadable file (EACCES) do not say which file was meant.
 */
import * as fs from 'node:fs';

/** Why reading a file failed, in words, for a message that already names the file. */
export function readFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EISDIR') return 'is a folder, expected a file';
  return `cannot read (${(err as Error).message})`;
}

/** The bytes of `file`; any failure is an Error starting with the file's path. */
export function readDataFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Error(`${file}: ${readFailure(err)}`, { cause: err });
  }
}
