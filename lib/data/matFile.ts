/**
 * A reader for MATLAB level-5 MAT-files (the format of `save -v6` / `-v7`, and of scipy's
 * `savemat`), enough for SVHN's format-2 files and numeric data in general.
 *
 * Written here rather than taken from npm: the one level-5 parser there (`mat-for-js`) is little
 * used and returns nested JS arrays, where SVHN's `extra` set is 1.6 GB of uint8 that must stay a
 * single typed array. Here numeric data come back as typed arrays of the MATLAB class, as views
 * into the file (or the inflated element) whenever the stored type and alignment allow.
 *
 * Layout (MathWorks, "MAT-File Format", level 5):
 * - 128-byte header: 116 bytes of text starting "MATLAB 5.0 MAT-file", 8 bytes subsystem offset,
 *   version 0x0100 (2 bytes), endian indicator "IM" as written by a little-endian machine.
 * - Then data elements, each an 8-byte tag (uint32 type, uint32 byte count) and its data padded to
 *   8 bytes; or a "small data element" (count ≤ 4) packed as (uint16 count, uint16 type) + 4 bytes.
 * - miCOMPRESSED (15) holds one zlib-compressed element; miMATRIX (14) holds sub-elements:
 *   array flags (class in the low byte, complex/global/logical bits), dimensions (int32),
 *   name (int8), real part, and an imaginary part when complex. The real part's stored type may
 *   be narrower than the class (MATLAB writes a double array of small integers as uint8).
 */
import * as fs from 'fs';
import * as zlib from 'zlib';
import { readFailure } from './readFile';

export type MatClass =
  | 'cell'
  | 'struct'
  | 'object'
  | 'char'
  | 'sparse'
  | 'double'
  | 'single'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64';

export type MatNumericArray =
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export interface MatVariable {
  name: string;
  className: MatClass;
  /** MATLAB dimensions; data are column-major (first index fastest). */
  dims: number[];
  /** Numeric data in the class's own type; absent for classes this reader does not decode. */
  real?: MatNumericArray;
  imag?: MatNumericArray;
  /** Text of a char array (column-major order of its characters). */
  text?: string;
  complex: boolean;
  logical: boolean;
  global: boolean;
}

const CLASS_NAMES: Record<number, MatClass> = {
  1: 'cell',
  2: 'struct',
  3: 'object',
  4: 'char',
  5: 'sparse',
  6: 'double',
  7: 'single',
  8: 'int8',
  9: 'uint8',
  10: 'int16',
  11: 'uint16',
  12: 'int32',
  13: 'uint32',
  14: 'int64',
  15: 'uint64',
};

// Data types of elements (miINT8 …) and their typed-array constructors.
const MI_MATRIX = 14;
const MI_COMPRESSED = 15;
type TypedCtor = {
  new (n: number): MatNumericArray;
  new (b: ArrayBuffer, o: number, n: number): MatNumericArray;
  BYTES_PER_ELEMENT: number;
};
const MI_TYPES: Record<number, { name: string; ctor: TypedCtor }> = {
  1: { name: 'miINT8', ctor: Int8Array },
  2: { name: 'miUINT8', ctor: Uint8Array },
  3: { name: 'miINT16', ctor: Int16Array },
  4: { name: 'miUINT16', ctor: Uint16Array },
  5: { name: 'miINT32', ctor: Int32Array },
  6: { name: 'miUINT32', ctor: Uint32Array },
  7: { name: 'miSINGLE', ctor: Float32Array },
  9: { name: 'miDOUBLE', ctor: Float64Array },
  12: { name: 'miINT64', ctor: BigInt64Array as unknown as TypedCtor },
  13: { name: 'miUINT64', ctor: BigUint64Array as unknown as TypedCtor },
  16: { name: 'miUTF8', ctor: Uint8Array },
  17: { name: 'miUTF16', ctor: Uint16Array },
  18: { name: 'miUTF32', ctor: Uint32Array },
};
const CLASS_CTORS: Partial<Record<MatClass, TypedCtor>> = {
  double: Float64Array,
  single: Float32Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array as unknown as TypedCtor,
  uint64: BigUint64Array as unknown as TypedCtor,
};

export class MatFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'MatFileError';
  }
}

/** One data element: its type and the bytes of its data (unpadded). */
interface Element {
  type: number;
  data: Uint8Array;
  /** Offset of the element after this one. */
  next: number;
}

class Reader {
  constructor(
    readonly file: string,
    readonly littleEndian: boolean,
  ) {}

  fail(message: string): never {
    throw new MatFileError(this.file, message);
  }

  /** Reads the element whose tag starts at `pos` of `buf`, within `buf.length`. */
  element(buf: Uint8Array, pos: number, where: string): Element {
    if (pos + 8 > buf.length)
      this.fail(`truncated: ${where} needs an 8-byte tag at byte ${pos}, only ${buf.length - pos} left`);
    const view = new DataView(buf.buffer, buf.byteOffset + pos, 8);
    const first = view.getUint32(0, this.littleEndian);
    // A small data element packs its byte count into the upper half of the type word.
    const small = first >>> 16;
    if (small !== 0) {
      if (small > 4) this.fail(`bad small data element at byte ${pos} in ${where}: ${small} bytes (at most 4)`);
      return { type: first & 0xffff, data: buf.subarray(pos + 4, pos + 4 + small), next: pos + 8 };
    }
    const type = first;
    const size = view.getUint32(4, this.littleEndian);
    const start = pos + 8;
    if (start + size > buf.length) {
      this.fail(`truncated: ${where} element at byte ${pos} declares ${size} bytes, only ${buf.length - start} left`);
    }
    // Compressed elements are not padded; everything else is padded to a multiple of 8 bytes.
    const next = type === MI_COMPRESSED ? start + size : start + Math.ceil(size / 8) * 8;
    return { type, data: buf.subarray(start, start + size), next: Math.min(next, buf.length) };
  }

  /** Typed values of a numeric element, converted to `ctor` when the stored type differs. */
  numbers(el: Element, ctor: TypedCtor, what: string): MatNumericArray {
    const stored = MI_TYPES[el.type];
    if (!stored || el.type === 16) this.fail(`${what}: unexpected data type ${el.type} for numeric data`);
    const size = stored.ctor.BYTES_PER_ELEMENT;
    if (el.data.length % size !== 0)
      this.fail(`${what}: ${el.data.length} bytes is not a whole number of ${stored.name} values`);
    const count = el.data.length / size;
    const aligned = el.data.byteOffset % size === 0;
    let values: MatNumericArray;
    if (this.littleEndian && aligned) {
      values = new stored.ctor(el.data.buffer as ArrayBuffer, el.data.byteOffset, count);
    } else {
      values = new stored.ctor(count);
      const view = new DataView(el.data.buffer, el.data.byteOffset, el.data.length);
      const get = dataViewGetter(el.type);
      for (let i = 0; i < count; i++) (values as unknown as unknown[])[i] = get(view, i * size, this.littleEndian);
    }
    if (stored.ctor === ctor) return values;
    const out = new ctor(count);
    const bigOut = ctor === (BigInt64Array as unknown) || ctor === (BigUint64Array as unknown);
    for (let i = 0; i < count; i++) {
      const v = values[i];
      (out as unknown as unknown[])[i] = bigOut ? BigInt(v as number) : Number(v);
    }
    return out;
  }
}

function dataViewGetter(type: number): (v: DataView, at: number, le: boolean) => number | bigint {
  switch (type) {
    case 1:
      return (v, at) => v.getInt8(at);
    case 2:
      return (v, at) => v.getUint8(at);
    case 3:
      return (v, at, le) => v.getInt16(at, le);
    case 4:
      return (v, at, le) => v.getUint16(at, le);
    case 5:
      return (v, at, le) => v.getInt32(at, le);
    case 6:
      return (v, at, le) => v.getUint32(at, le);
    case 7:
      return (v, at, le) => v.getFloat32(at, le);
    case 9:
      return (v, at, le) => v.getFloat64(at, le);
    case 12:
      return (v, at, le) => v.getBigInt64(at, le);
    case 13:
      return (v, at, le) => v.getBigUint64(at, le);
    default:
      throw new Error(`no getter for data type ${type}`);
  }
}

function parseMatrix(r: Reader, data: Uint8Array, where: string): MatVariable {
  const flagsEl = r.element(data, 0, `${where} array flags`);
  if (flagsEl.type !== 6 || flagsEl.data.length !== 8) r.fail(`${where}: array flags must be 8 bytes of miUINT32`);
  const flags = new DataView(flagsEl.data.buffer, flagsEl.data.byteOffset, 8).getUint32(0, r.littleEndian);
  const classId = flags & 0xff;
  const className = CLASS_NAMES[classId];
  if (!className) r.fail(`${where}: unknown array class ${classId}`);
  const complex = (flags & 0x800) !== 0;
  const global = (flags & 0x400) !== 0;
  const logical = (flags & 0x200) !== 0;

  const dimsEl = r.element(data, flagsEl.next, `${where} dimensions`);
  const dims = Array.from(r.numbers(dimsEl, Int32Array, `${where} dimensions`) as Int32Array);
  if (dims.length < 2 || dims.some((d) => d < 0)) r.fail(`${where}: bad dimensions [${dims}]`);
  const nameEl = r.element(data, dimsEl.next, `${where} name`);
  const name = Buffer.from(nameEl.data).toString('latin1');
  const label = name ? `variable '${name}'` : where;
  const variable: MatVariable = { name, className, dims, complex, logical, global };

  const ctor = CLASS_CTORS[className];
  if (ctor || className === 'char') {
    const count = dims.reduce((a, b) => a * b, 1);
    const realEl = r.element(data, nameEl.next, `${label} real part`);
    if (className === 'char') {
      if (realEl.type === 16) {
        variable.text = Buffer.from(realEl.data).toString('utf8');
      } else {
        const codes = r.numbers(realEl, Uint32Array, `${label} characters`) as Uint32Array;
        let text = '';
        for (const code of codes) text += String.fromCodePoint(code);
        variable.text = text;
      }
      return variable;
    }
    const real = r.numbers(realEl, ctor!, `${label} real part`);
    if (real.length !== count) {
      r.fail(
        `sizes disagree: ${label} has dimensions [${dims}] (${count} values) but its real part holds ${real.length}`,
      );
    }
    variable.real = real;
    if (complex) {
      const imag = r.numbers(r.element(data, realEl.next, `${label} imaginary part`), ctor!, `${label} imaginary part`);
      if (imag.length !== count)
        r.fail(`sizes disagree: ${label} imaginary part holds ${imag.length} values, not ${count}`);
      variable.imag = imag;
    }
  }
  // Cells, structs, objects and sparse arrays: name, class and dimensions only.
  return variable;
}

/** Parses a level-5 MAT-file held in memory. `file` names it in errors. */
export function parseMat(buf: Uint8Array, file = '<buffer>'): Map<string, MatVariable> {
  if (buf.length < 128) throw new MatFileError(file, `truncated: ${buf.length} bytes, a MAT-file header alone is 128`);
  const text = Buffer.from(buf.subarray(0, 116)).toString('latin1');
  if (text.startsWith('MATLAB 7.3 MAT-file')) {
    throw new MatFileError(file, 'is a MATLAB 7.3 (HDF5) MAT-file; only level-5 files (save -v7 or -v6) are read');
  }
  if (!text.startsWith('MATLAB 5.0 MAT-file')) {
    throw new MatFileError(
      file,
      `bad header: not a MATLAB level-5 MAT-file (starts ${JSON.stringify(text.slice(0, 20))})`,
    );
  }
  const endian = String.fromCharCode(buf[126], buf[127]);
  if (endian !== 'IM' && endian !== 'MI')
    throw new MatFileError(file, `bad header: endian indicator ${JSON.stringify(endian)}, expected "IM" or "MI"`);
  const littleEndian = endian === 'IM';
  const version = new DataView(buf.buffer, buf.byteOffset + 124, 2).getUint16(0, littleEndian);
  if (version !== 0x0100)
    throw new MatFileError(file, `bad header: version 0x${version.toString(16)}, expected 0x0100`);

  const r = new Reader(file, littleEndian);
  const vars = new Map<string, MatVariable>();
  let pos = 128;
  let index = 0;
  while (pos < buf.length) {
    const where = `element ${index} (byte ${pos})`;
    let el = r.element(buf, pos, where);
    pos = el.next;
    index++;
    if (el.type === MI_COMPRESSED) {
      let inflated: Buffer;
      try {
        inflated = zlib.inflateSync(el.data);
      } catch (err) {
        return r.fail(
          `${where}: compressed data do not inflate (${(err as Error).message}): the file is corrupt or truncated`,
        );
      }
      el = r.element(inflated, 0, `${where} (inflated)`);
    }
    if (el.type !== MI_MATRIX) continue; // MATLAB only writes matrices at top level; skip anything else.
    if (el.data.length === 0) continue; // an empty miMATRIX: an empty array without a name
    const variable = parseMatrix(r, el.data, where);
    vars.set(variable.name, variable);
  }
  return vars;
}

/** Reads and parses a level-5 MAT-file. */
export function readMatFile(path: string): Map<string, MatVariable> {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (err) {
    throw new MatFileError(path, readFailure(err));
  }
  return parseMat(buf, path);
}

/** The variable `name`, or a clear error naming the file and the variables it does have. */
export function requireVariable(vars: Map<string, MatVariable>, name: string, file: string): MatVariable {
  const v = vars.get(name);
  if (!v) {
    const have = [...vars.keys()].map((k) => `'${k}'`).join(', ') || 'none';
    throw new MatFileError(file, `missing variable '${name}' (variables: ${have})`);
  }
  return v;
}
