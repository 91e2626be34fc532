/**
 * The one binary container of the project's files (training checkpoints, best weights, packed
 * models): every byte is covered by a checksum, so a damaged file is refused, never loaded.
 *
 * Layout (little-endian):
 *   0   magic: a 7-character kind ("BNNCKPT", "BNNPACK") and the format version digit
 *   8   u32 length n of the JSON header
 *   12  u32 CRC-32 of bytes 0–11 and of the header
 *   16  JSON header { meta, arrays: [{ name, type, shape, crc32 }] }
 *   then each array in order, each starting on a multiple of 8 bytes, zero padding between.
 * Padding must be zero and no bytes may follow the last array, so a byte flip anywhere is an error.
 * Float arrays must be finite: NaN or ±Inf is refused on write and on read.
 *
 * No Node imports: the browser entry reads packed models with it. Under Node, CRC-32 is node:zlib's
 * (hardware-accelerated, about 10× faster than the table below, which the browser uses).
 */

export const ARRAY_TYPES = {
  f32: Float32Array,
  f64: Float64Array,
  u32: Uint32Array,
  i32: Int32Array,
  u8: Uint8Array,
} as const;
export type ArrayType = keyof typeof ARRAY_TYPES;
export type TypedArray = InstanceType<(typeof ARRAY_TYPES)[ArrayType]>;

export interface NamedArray {
  name: string;
  shape: number[];
  data: TypedArray;
}

export interface ContainerKind {
  /** 7 ASCII characters. */
  magic: string;
  version: number;
  /** What the file is, for error messages ("checkpoint", "packed model"). */
  what: string;
}

interface ArraySpec {
  name: string;
  type: ArrayType;
  shape: number[];
  crc32: number;
}

const PREFIX = 16;
const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

type Crc32 = (bytes: Uint8Array, previous?: number) => number;
const nodeProcess = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
const nodeCrc32 = (nodeProcess?.getBuiltinModule?.('node:zlib') as { crc32?: Crc32 } | undefined)?.crc32;

/** CRC-32 (IEEE 802.3, as zlib and PNG) without Node, optionally continuing from a previous value. */
export function tableCrc32(bytes: Uint8Array, previous = 0): number {
  let c = ~previous >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

export const crc32: Crc32 = nodeCrc32 ?? tableCrc32;

const align8 = (n: number) => Math.ceil(n / 8) * 8;
const bytesOf = (a: TypedArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function typeOf(data: TypedArray): ArrayType {
  const type = (Object.keys(ARRAY_TYPES) as ArrayType[]).find((t) => data instanceof ARRAY_TYPES[t]);
  if (!type) throw new TypeError('container arrays must be Float32/Float64/Uint32/Int32/Uint8 arrays');
  return type;
}

/** Index of the first NaN or ±Inf in a float array, or −1. */
export function firstNonFinite(data: TypedArray): number {
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return -1;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

function checkFinite(source: string, name: string, data: TypedArray): void {
  const i = firstNonFinite(data);
  if (i >= 0) throw new Error(`${source}: tensor ${name} has a non-finite value (${data[i]}) at index ${i}`);
}

/** The container's bytes. Refuses shapes that disagree with the data and non-finite floats. */
export function encodeContainer(kind: ContainerKind, meta: unknown, arrays: NamedArray[], source: string): Uint8Array {
  const specs: ArraySpec[] = arrays.map(({ name, shape, data }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length)
      throw new Error(`${source}: tensor ${name} has ${data.length} values, its shape [${shape}] needs ${size}`);
    checkFinite(source, name, data);
    return { name, type: typeOf(data), shape, crc32: crc32(bytesOf(data)) };
  });
  const json = new TextEncoder().encode(JSON.stringify({ meta, arrays: specs }));
  let size = align8(PREFIX + json.length);
  for (const a of arrays) size += align8(a.data.byteLength);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(kind.magic + String(kind.version)), 0);
  view.setUint32(8, json.length, true);
  bytes.set(json, PREFIX);
  view.setUint32(12, crc32(json, crc32(bytes.subarray(0, 12))), true);
  let offset = align8(PREFIX + json.length);
  for (const a of arrays) {
    bytes.set(bytesOf(a.data), offset);
    offset += align8(a.data.byteLength);
  }
  return bytes;
}

function isArraySpec(s: unknown): s is ArraySpec {
  const a = s as ArraySpec;
  return (
    typeof a === 'object' &&
    a !== null &&
    typeof a.name === 'string' &&
    Object.hasOwn(ARRAY_TYPES, a.type) &&
    Array.isArray(a.shape) &&
    a.shape.every((d) => Number.isSafeInteger(d) && d >= 0) &&
    Number.isInteger(a.crc32)
  );
}

function checkZero(bytes: Uint8Array, from: number, to: number, fail: () => never): void {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) fail();
}

/** Magic, version, the header's checksum and JSON: what `decodeContainer` and `decodeContainerMeta` share. */
function decodeHeader(
  kind: ContainerKind,
  bytes: Uint8Array,
  fail: (problem: string) => never,
  whole: boolean,
): { header: { meta: unknown; arrays: unknown }; jsonLength: number } {
  const magic = new TextDecoder('latin1').decode(bytes.subarray(0, 8));
  if (!magic.startsWith(kind.magic))
    fail(`not a binarynet-ts ${kind.what} (bad magic: the file does not start with ${kind.magic})`);
  if (bytes.length < PREFIX) fail(`truncated ${kind.what}: ${bytes.length} bytes`);
  if (magic !== kind.magic + String(kind.version)) {
    const why = Number(magic[7]) < kind.version ? 'an older file: no migration, make it again' : 'unknown';
    fail(`${kind.what} format version ${magic.slice(7)} is not the supported version ${kind.version} (${why})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(8, true);
  const needed = whole ? align8(PREFIX + jsonLength) : PREFIX + jsonLength;
  if (needed > bytes.length) fail(`truncated ${kind.what}: header of ${jsonLength} bytes, file has ${bytes.length}`);
  const json = bytes.subarray(PREFIX, PREFIX + jsonLength);
  if (crc32(json, crc32(bytes.subarray(0, 12))) !== view.getUint32(12, true))
    fail(`${kind.what} header is damaged (checksum mismatch)`);
  try {
    return { header: JSON.parse(new TextDecoder().decode(json)), jsonLength };
  } catch (err) {
    return fail(`${kind.what} header is not valid JSON (${(err as Error).message})`);
  }
}

/** The length of the prefix that holds a container's header, from its first 16 bytes (0 when too short). */
export function containerHeaderLength(first16: Uint8Array): number {
  if (first16.length < PREFIX) return 0;
  return PREFIX + new DataView(first16.buffer, first16.byteOffset, 16).getUint32(8, true);
}

/**
 * A container's header meta alone, from the file's first bytes (`containerHeaderLength` of them):
 * magic, version and the header's checksum are verified, the arrays are not read.
 */
export function decodeContainerMeta(kind: ContainerKind, bytes: Uint8Array, source: string): unknown {
  const fail = (problem: string): never => {
    throw new Error(`${source}: ${problem}`);
  };
  return decodeHeader(kind, bytes, fail, false).header?.meta;
}

/** Reads and verifies a container: magic and version, both checksums, sizes, padding, finite floats. */
export function decodeContainer(
  kind: ContainerKind,
  bytes: Uint8Array,
  source: string,
): { meta: unknown; arrays: Map<string, NamedArray> } {
  const fail = (problem: string): never => {
    throw new Error(`${source}: ${problem}`);
  };
  const { header, jsonLength } = decodeHeader(kind, bytes, fail, true);
  let offset = align8(PREFIX + jsonLength);
  if (!Array.isArray(header?.arrays) || !header.arrays.every(isArraySpec))
    fail(`${kind.what} header has a malformed tensor list`);
  const arrays = new Map<string, NamedArray>();
  checkZero(bytes, PREFIX + jsonLength, offset, () => fail('damaged padding after the header'));
  for (const { name, type, shape, crc32: expected } of header.arrays as ArraySpec[]) {
    if (arrays.has(name)) fail(`tensor ${name} appears twice`);
    const Type = ARRAY_TYPES[type];
    const byteLength = shape.reduce((a, b) => a * b, 1) * Type.BYTES_PER_ELEMENT;
    const end = offset + align8(byteLength);
    if (end > bytes.length) {
      fail(`truncated ${kind.what}: tensor ${name} [${shape}] needs bytes ${offset}–${end}, file has ${bytes.length}`);
    }
    // A copy (Buffer's slice would not be one): the bytes may be unaligned, and the caller keeps it.
    const data = new Type(new Uint8Array(bytes.subarray(offset, offset + byteLength)).buffer);
    if (crc32(bytesOf(data)) !== expected) fail(`tensor ${name} is damaged (checksum mismatch)`);
    checkFinite(source, name, data);
    checkZero(bytes, offset + byteLength, end, () => fail(`damaged padding after tensor ${name}`));
    offset = end;
    arrays.set(name, { name, shape, data });
  }
  if (offset !== bytes.length) fail(`${bytes.length - offset} unexpected bytes after the last tensor`);
  return { meta: header.meta, arrays };
}
