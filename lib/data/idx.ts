/**
 * IDX files (the MNIST format, raw or gzipped): a big-endian header of magic
 * 0x0000 | type code | number of dimensions, then one uint32 size per dimension, then the data.
 * Only unsigned bytes (type 0x08) are used by MNIST and Fashion-MNIST.
 */
import * as zlib from 'node:zlib';
import { readDataFile } from './readFile';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

/** Parses an IDX buffer; `file` names the source in error messages. */
export function parseIdx(buffer: Uint8Array, file: string, expectedRank?: number): IdxArray {
  let bytes = buffer;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (err) {
      throw new Error(`${file}: gzip data is corrupt or truncated (${(err as Error).message})`, { cause: err });
    }
  }
  if (bytes.length < 4) throw new Error(`${file}: too short for an IDX header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const type = (magic >> 8) & 0xff;
  const rank = magic & 0xff;
  if (magic >>> 16 !== 0 || type !== UBYTE || rank < 1) {
    throw new Error(
      `${file}: wrong magic number 0x${magic.toString(16).padStart(8, '0')} (an unsigned-byte IDX file ` +
        `starts with 0x000008NN)`,
    );
  }
  if (expectedRank !== undefined && rank !== expectedRank) {
    throw new Error(`${file}: expected an IDX file of ${expectedRank} dimensions, header says ${rank}`);
  }
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes)
    throw new Error(`${file}: truncated header (${bytes.length} of ${headerBytes} bytes)`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerBytes;
  if (actual < expected) {
    throw new Error(
      `${file}: truncated: header says ${dims.join('×')} = ${expected} bytes of data, file has ${actual}`,
    );
  }
  if (actual > expected) {
    throw new Error(
      `${file}: size disagrees with header: ${dims.join('×')} = ${expected} bytes of data, file has ${actual}`,
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

export function readIdx(file: string, expectedRank?: number): IdxArray {
  return parseIdx(readDataFile(file), file, expectedRank);
}

/** Writes an unsigned-byte IDX file (used by tests to make corrupted copies). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, (UBYTE << 8) | dims.length);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
