/**
 * In-memory image data sets. Pixels stay uint8 (N×H×W×C, row-major, channels last) so that even
 * SVHN with its extra set (~600k images, ~1.8 GB) fits a 24 GiB machine; batches are converted to
 * float32 in [−1, 1] on the fly, as the paper's preprocessing (`2·x/255 − 1`).
 */
import * as tf from '@tensorflow/tfjs';

export interface ImageSet {
  /** uint8 pixels, count × height × width × channels, channels last. */
  images: Uint8Array;
  /** Class ids 0..numClasses−1. */
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  numClasses: number;
}

export interface SplitDataset {
  name: string;
  train: ImageSet;
  valid: ImageSet;
  test: ImageSet;
}

/**
 * Where a data set's images come from: the genuine files ('real', every loader), or a stand-in written
 * in the data set's file format (lib/data/fixtures.ts) whose errors say nothing about the data set.
 */
export type DataSource = 'real' | 'synthetic';

export function pixelsPerImage(set: ImageSet): number {
  return set.height * set.width * set.channels;
}

/** Builds an ImageSet after checking that every length agrees. */
export function makeImageSet(
  images: Uint8Array,
  labels: Uint8Array,
  shape: { height: number; width: number; channels: number },
  numClasses: number,
): ImageSet {
  const per = shape.height * shape.width * shape.channels;
  if (per <= 0) throw new Error(`image shape ${JSON.stringify(shape)} has no pixels`);
  if (images.length % per !== 0) {
    throw new Error(`image buffer of ${images.length} bytes is not a whole number of ${per}-byte images`);
  }
  const count = images.length / per;
  if (labels.length !== count) {
    throw new Error(`${count} images but ${labels.length} labels`);
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses) throw new Error(`label ${labels[i]} at index ${i} is not below ${numClasses}`);
  }
  return { images, labels, count, ...shape, numClasses };
}

/** Contiguous images [start, end). Shares memory with `set`. */
export function slice(set: ImageSet, start: number, end: number): ImageSet {
  const per = pixelsPerImage(set);
  return {
    ...set,
    images: set.images.subarray(start * per, end * per),
    labels: set.labels.subarray(start, end),
    count: end - start,
  };
}

/** Pixels of the images at `indices` as float32 in [−1, 1]: `2·x/255 − 1`. */
export function scaledPixels(set: ImageSet, indices: ArrayLike<number>): Float32Array {
  const per = pixelsPerImage(set);
  const out = new Float32Array(indices.length * per);
  for (let i = 0; i < indices.length; i++) {
    const src = set.images.subarray(indices[i] * per, (indices[i] + 1) * per);
    const base = i * per;
    for (let p = 0; p < per; p++) out[base + p] = src[p] / 127.5 - 1;
  }
  return out;
}

/**
 * A batch as tensors: inputs `[n, H, W, C]` (or `[n, H·W·C]` when `flatten`) in [−1, 1], and
 * targets as ±1 one-hot rows `[n, numClasses]` for the squared hinge loss.
 */
export function batchTensors(
  set: ImageSet,
  indices: ArrayLike<number>,
  flatten: boolean,
): { x: tf.Tensor; y: tf.Tensor2D } {
  const n = indices.length;
  const shape = flatten ? [n, pixelsPerImage(set)] : [n, set.height, set.width, set.channels];
  const x = tf.tensor(scaledPixels(set, indices), shape, 'float32');
  const y = tf.tensor2d(plusMinusOneHot(set, indices), [n, set.numClasses]);
  return { x, y };
}

/** ±1 one-hot targets (−1 everywhere but +1 at the label). */
export function plusMinusOneHot(set: ImageSet, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * set.numClasses).fill(-1);
  for (let i = 0; i < indices.length; i++) out[i * set.numClasses + set.labels[indices[i]]] = 1;
  return out;
}

/** Per-class counts, for split checks and reports. */
export function classCounts(set: ImageSet): number[] {
  const counts = new Array<number>(set.numClasses).fill(0);
  for (let i = 0; i < set.count; i++) counts[set.labels[i]]++;
  return counts;
}
