/**
 * The MAT-file reader and the SVHN loader on files written by an independent tool: scipy's
 * `savemat` (Debian's python3-scipy), compressed and not, plus a committed tiny fixture so the
 * reader is tested even where scipy is missing.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classCounts } from '../lib/data/dataset';
import { MatFileError, parseMat, readMatFile } from '../lib/data/matFile';
import { loadSvhn, readSvhnMat, svhnImages } from '../lib/data/svhn';
import { PYTHON, scipyMissing } from './helpers/scipy';

const FIXTURES = path.join(__dirname, 'fixtures');
const TINY = path.join(FIXTURES, 'svhn-tiny.mat.fixture');

/** The pixel the fixture writer puts at row r, column c, channel ch of image n. */
const pixel = (n: number, r: number, c: number, ch: number) => (r * 7 + c * 13 + ch * 50 + n * 31) % 256;

function writeMat(out: string, n: number, compress: boolean, ydtype: 'double' | 'uint8'): void {
  const res = spawnSync(
    PYTHON,
    [path.join(FIXTURES, 'write_svhn_mat.py'), out, String(n), compress ? '1' : '0', ydtype],
    {
      encoding: 'utf8',
    },
  );
  if (res.status !== 0) throw new Error(`savemat failed: ${res.stderr}`);
}

function python(code: string): void {
  const res = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`python failed: ${res.stderr}`);
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-svhn-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function expectLayout(set: ReturnType<typeof svhnImages>, originals: number[]): void {
  // Check a spread of pixels of every image against the writer's formula.
  for (let i = 0; i < set.count; i++) {
    const n = originals[i];
    expect(set.labels[i]).toBe((n % 10) + 1 === 10 ? 0 : (n % 10) + 1);
    for (const [r, c, ch] of [
      [0, 0, 0],
      [0, 1, 0],
      [1, 0, 2],
      [31, 5, 1],
      [17, 31, 2],
    ]) {
      expect(set.images[i * 3072 + (r * 32 + c) * 3 + ch]).toBe(pixel(n, r, c, ch));
    }
  }
}

describe('MAT-file reader on the committed scipy fixture', () => {
  it('reads X (uint8 32×32×3×10) and y (double 10×1)', () => {
    const vars = readMatFile(TINY);
    const X = vars.get('X')!;
    const y = vars.get('y')!;
    expect(X.className).toBe('uint8');
    expect(X.dims).toEqual([32, 32, 3, 10]);
    expect(X.real).toBeInstanceOf(Uint8Array);
    // Column-major: X(r, c, ch, n) at r + 32c + 1024ch + 3072n.
    expect(X.real![3 + 32 * 4 + 1024 * 2 + 3072 * 7]).toBe(pixel(7, 3, 4, 2));
    expect(y.className).toBe('double');
    expect(y.dims).toEqual([10, 1]);
    expect(Array.from(y.real as Float64Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('converts to NHWC with label 10 meaning digit 0', () => {
    const set = svhnImages(readSvhnMat(TINY));
    expect(set.count).toBe(10);
    expect([set.height, set.width, set.channels, set.numClasses]).toEqual([32, 32, 3, 10]);
    expect(set.labels[9]).toBe(0);
    expectLayout(set, [...Array(10).keys()]);
  });

  it('rejects a bad header, a truncated file and corrupt compressed data, naming the file', () => {
    const good = fs.readFileSync(TINY);
    const badMagic = Buffer.from(good);
    badMagic.write('NOT A MAT', 0, 'latin1');
    expect(() => parseMat(badMagic, 'x.mat')).toThrow(/x\.mat: bad header/);
    const badEndian = Buffer.from(good);
    badEndian.write('XX', 126, 'latin1');
    expect(() => parseMat(badEndian, 'x.mat')).toThrow(/endian/);
    expect(() => parseMat(good.subarray(0, 100), 'x.mat')).toThrow(/x\.mat: truncated/);
    expect(() => parseMat(good.subarray(0, good.length - 300), 'x.mat')).toThrow(/x\.mat: truncated/);
    const flipped = Buffer.from(good);
    for (let i = 200; i < 260; i++) flipped[i] ^= 0x5a;
    expect(() => parseMat(flipped, 'x.mat')).toThrow(MatFileError);
    const v73 = Buffer.from(good);
    v73.write('MATLAB 7.3 MAT-file', 0, 'latin1');
    expect(() => parseMat(v73, 'x.mat')).toThrow(/7\.3 \(HDF5\)/);
  });

  it('names a folder found in place of a .mat file', () => {
    const folder = path.join(tmp, 'test_32x32.mat');
    fs.mkdirSync(folder);
    expect(() => readSvhnMat(folder)).toThrow(new RegExp(`${folder}: is a folder, expected a file`));
  });

  it('reads a hand-built uncompressed file with small data elements and a big-endian header', () => {
    // One 1×2 double matrix 'ab' = [1.5, -2], written big-endian: exercises byte swapping and
    // the packed small-data-element form of the name.
    const header = Buffer.alloc(128, 0x20);
    header.write('MATLAB 5.0 MAT-file, hand-built', 0, 'latin1');
    header.writeUInt16BE(0x0100, 124);
    header.write('MI', 126, 'latin1');
    const body = Buffer.alloc(8 + 16 + 16 + 8 + 8 + 16);
    let o = 0;
    body.writeUInt32BE(14, o);
    body.writeUInt32BE(body.length - 8, o + 4);
    o += 8; // miMATRIX
    body.writeUInt32BE(6, o);
    body.writeUInt32BE(8, o + 4);
    body.writeUInt32BE(6, o + 8);
    o += 16; // flags: double
    body.writeUInt32BE(5, o);
    body.writeUInt32BE(8, o + 4);
    body.writeInt32BE(1, o + 8);
    body.writeInt32BE(2, o + 12);
    o += 16;
    body.writeUInt16BE(2, o);
    body.writeUInt16BE(1, o + 2);
    body.write('ab', o + 4, 'latin1');
    o += 8; // small element
    body.writeUInt32BE(9, o);
    body.writeUInt32BE(16, o + 4);
    body.writeDoubleBE(1.5, o + 8);
    body.writeDoubleBE(-2, o + 16);
    const vars = parseMat(Buffer.concat([header, body]), 'hand.mat');
    expect(vars.get('ab')!.dims).toEqual([1, 2]);
    expect(Array.from(vars.get('ab')!.real as Float64Array)).toEqual([1.5, -2]);
  });
});

describe.skipIf(scipyMissing !== '')(
  `SVHN files written by scipy savemat${scipyMissing && ` (skipped: ${scipyMissing})`}`,
  () => {
    let dir: string;
    beforeAll(() => {
      dir = path.join(tmp, 'svhn');
      fs.mkdirSync(dir);
      writeMat(path.join(dir, 'train_32x32.mat'), 60, true, 'double');
      writeMat(path.join(dir, 'extra_32x32.mat'), 40, false, 'uint8');
      writeMat(path.join(dir, 'test_32x32.mat'), 15, true, 'double');
    });

    it('reads compressed and uncompressed files alike', () => {
      const a = path.join(tmp, 'c.mat');
      const b = path.join(tmp, 'u.mat');
      writeMat(a, 12, true, 'double');
      writeMat(b, 12, false, 'uint8');
      expect(fs.statSync(a).size).toBeLessThan(fs.statSync(b).size);
      const sa = svhnImages(readSvhnMat(a));
      const sb = svhnImages(readSvhnMat(b));
      expect(Buffer.compare(Buffer.from(sa.images), Buffer.from(sb.images))).toBe(0);
      expect(Array.from(sa.labels)).toEqual(Array.from(sb.labels));
      expectLayout(sa, [...Array(12).keys()]);
    });

    it('splits as the paper: per-class validation from train and extra, the rest for training', async () => {
      const ds = await loadSvhn({ dir, download: false, validPerClassTrain: 2, validPerClassExtra: 1 });
      expect(ds.valid.count).toBe(2 * 10 + 1 * 10);
      expect(ds.train.count).toBe(60 - 20 + 40 - 10);
      expect(ds.test.count).toBe(15);
      expect(classCounts(ds.valid)).toEqual(Array(10).fill(3));
      // Train + valid hold every original image once: class counts add up.
      const total = classCounts(ds.train).map((n, k) => n + classCounts(ds.valid)[k]);
      expect(total).toEqual(Array(10).fill(10));
      expectLayout(ds.test, [...Array(15).keys()]);
      // Same seed, same validation set.
      const again = await loadSvhn({ dir, download: false, validPerClassTrain: 2, validPerClassExtra: 1 });
      expect(Buffer.compare(Buffer.from(again.valid.images), Buffer.from(ds.valid.images))).toBe(0);
    });

    it('leaves extra out when asked', async () => {
      const ds = await loadSvhn({ dir, download: false, includeExtra: false, validPerClassTrain: 2 });
      expect(ds.valid.count).toBe(20);
      expect(ds.train.count).toBe(40);
      expect(classCounts(ds.valid)).toEqual(Array(10).fill(2));
    });

    it('fails clearly when a class is too small for the validation split', async () => {
      await expect(loadSvhn({ dir, download: false, includeExtra: false, validPerClassTrain: 7 })).rejects.toThrow(
        /train_32x32\.mat: class \d has 6 images, fewer than the 7/,
      );
    });

    it('reports a missing variable, a count mismatch and bad labels', () => {
      const f1 = path.join(tmp, 'noy.mat');
      python(
        `import numpy as np; from scipy.io import savemat; savemat('${f1}', {'X': np.zeros((32,32,3,4), np.uint8)})`,
      );
      expect(() => readSvhnMat(f1)).toThrow(/noy\.mat: missing variable 'y' \(variables: 'X'\)/);
      const f2 = path.join(tmp, 'count.mat');
      python(
        `import numpy as np; from scipy.io import savemat; savemat('${f2}', {'X': np.zeros((32,32,3,4), ` +
          `np.uint8), 'y': np.ones((3,1))})`,
      );
      expect(() => readSvhnMat(f2)).toThrow(/count\.mat: image\/label count mismatch: 4 images in 'X' but 3 labels/);
      const f3 = path.join(tmp, 'label.mat');
      python(
        `import numpy as np; from scipy.io import savemat; savemat('${f3}', {'X': np.zeros((32,32,3,2), ` +
          `np.uint8), 'y': np.array([[1.0],[11.0]])})`,
      );
      expect(() => readSvhnMat(f3)).toThrow(/label\.mat: label 11 at index 1 is not in 1\.\.10/);
      const f4 = path.join(tmp, 'shape.mat');
      python(
        `import numpy as np; from scipy.io import savemat; savemat('${f4}', {'X': np.zeros((28,28,1,2), ` +
          `np.uint8), 'y': np.ones((2,1))})`,
      );
      expect(() => readSvhnMat(f4)).toThrow(/shape\.mat: 'X' has dimensions \[28,28,1,2\], expected \[32,32,3,N\]/);
    });

    it('names the file when a copy on disk is cut short', () => {
      const src = fs.readFileSync(path.join(dir, 'extra_32x32.mat'));
      const cut = path.join(tmp, 'cut.mat');
      fs.writeFileSync(cut, src.subarray(0, Math.floor(src.length / 2)));
      expect(() => readSvhnMat(cut)).toThrow(/cut\.mat: truncated/);
    });
  },
);
