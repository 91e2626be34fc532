/**
 * A minimal reader of (optionally gzipped) tar archives held in memory: enough for
 * `cifar-10-binary.tar.gz`, so its batches are read without unpacking them to disk.
 * ustar and GNU headers, with GNU long names ('L') and pax `path` records ('x').
 */
import * as zlib from 'zlib';
import { readDataFile } from './readFile';

const BLOCK = 512;

function field(h: Uint8Array, start: number, length: number): string {
  const bytes = h.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return Buffer.from(end < 0 ? bytes : bytes.subarray(0, end)).toString('utf8');
}

function octal(h: Uint8Array, start: number, length: number, file: string, at: number): number {
  // GNU base-256 encoding for large values: high bit of the first byte set.
  if (h[start] & 0x80) {
    let v = h[start] & 0x7f;
    for (let i = 1; i < length; i++) v = v * 256 + h[start + i];
    return v;
  }
  const text = field(h, start, length).trim();
  if (!/^[0-7]*$/.test(text))
    throw new Error(`${file}: corrupt tar header at byte ${at} (bad number ${JSON.stringify(text)})`);
  return text === '' ? 0 : parseInt(text, 8);
}

/** Regular files of the archive at `file` (gzip detected by its magic), name → contents. */
export function readTar(file: string, wanted?: (name: string) => boolean): Map<string, Uint8Array> {
  let buf: Uint8Array = readDataFile(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (err) {
      throw new Error(`${file}: gzip data are corrupt or truncated (${(err as Error).message})`, { cause: err });
    }
  }
  const out = new Map<string, Uint8Array>();
  let pos = 0;
  let longName: string | null = null;
  while (pos + BLOCK <= buf.length) {
    const h = buf.subarray(pos, pos + BLOCK);
    if (h.every((b) => b === 0)) return out; // end-of-archive marker
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== octal(h, 148, 8, file, pos)) throw new Error(`${file}: corrupt tar header at byte ${pos} (checksum)`);
    const size = octal(h, 124, 12, file, pos);
    const type = String.fromCharCode(h[156] || 48);
    const prefix = field(h, 257, 6) === 'ustar' ? field(h, 345, 155) : '';
    const name = longName ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
    longName = null;
    const start = pos + BLOCK;
    if (start + size > buf.length) {
      throw new Error(`${file}: truncated: tar entry '${name}' needs ${size} bytes, only ${buf.length - start} left`);
    }
    const data = buf.subarray(start, start + size);
    if (type === 'L') longName = field(data, 0, data.length);
    else if (type === 'x')
      longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(Buffer.from(data).toString('utf8'))?.[1] ?? null;
    else if ((type === '0' || type === '7') && (!wanted || wanted(name))) out.set(name, data);
    pos = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw new Error(`${file}: truncated: the tar archive ends without its end-of-archive marker`);
}
