/**
 * Training checkpoints: one file, written to a temporary name, fsync'ed, then renamed over the
 * old one, so that a crash or Ctrl-C at any moment leaves either the old or the new checkpoint,
 * never half of one. Layout: "BNNCKPT1", a uint32 header length, a JSON header, float32 data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const MAGIC = 'BNNCKPT1';

export interface TensorRecord {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface Checkpoint<Meta> {
  meta: Meta;
  tensors: TensorRecord[];
}

export function writeCheckpoint<Meta>(file: string, checkpoint: Checkpoint<Meta>): void {
  const specs = checkpoint.tensors.map(({ name, shape, data }) => ({ name, shape, length: data.length }));
  const header = Buffer.from(JSON.stringify({ meta: checkpoint.meta, tensors: specs }), 'utf8');
  const prefix = Buffer.alloc(MAGIC.length + 4);
  prefix.write(MAGIC, 0, 'ascii');
  prefix.writeUInt32LE(header.length, MAGIC.length);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, prefix);
    fs.writeSync(fd, header);
    // Data starts on a 4-byte boundary so it can be viewed as float32 without copying.
    fs.writeSync(fd, Buffer.alloc((4 - ((prefix.length + header.length) % 4)) % 4));
    for (const t of checkpoint.tensors) fs.writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function readCheckpoint<Meta>(file: string): Checkpoint<Meta> {
  const buf = fs.readFileSync(file);
  if (buf.length < MAGIC.length + 4 || buf.toString('ascii', 0, MAGIC.length) !== MAGIC) {
    throw new Error(`${file}: not a binarynet-ts checkpoint`);
  }
  const headerLength = buf.readUInt32LE(MAGIC.length);
  const headerEnd = MAGIC.length + 4 + headerLength;
  if (headerEnd > buf.length) throw new Error(`${file}: truncated checkpoint header`);
  let header: { meta: Meta; tensors: { name: string; shape: number[]; length: number }[] };
  try {
    header = JSON.parse(buf.toString('utf8', MAGIC.length + 4, headerEnd));
  } catch {
    throw new Error(`${file}: corrupt checkpoint header`);
  }
  let offset = headerEnd + ((4 - (headerEnd % 4)) % 4);
  const tensors = header.tensors.map(({ name, shape, length }) => {
    if (offset + 4 * length > buf.length) throw new Error(`${file}: truncated checkpoint data (tensor ${name})`);
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + 4 * length));
    offset += 4 * length;
    return { name, shape, data };
  });
  if (offset !== buf.length) throw new Error(`${file}: checkpoint has ${buf.length - offset} unexpected trailing bytes`);
  return { meta: header.meta, tensors };
}
