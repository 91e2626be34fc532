/**
 * A drawn digit → the 28×28 uint8 input of the MNIST model, the way MNIST itself was made (LeCun et
 * al.'s description of the data set): the ink's bounding box is scaled, keeping its aspect ratio, to
 * fit a 20×20 box (area averaging, so strokes stay anti-aliased), then placed in the 28×28 field so
 * that its center of mass falls on the field's center.
 *
 * Plain arithmetic only (no canvas resampling), so that the page and Node compute the same bytes
 * from the same canvas pixels — the browser test checks exactly that. Nothing here imports Node.
 */

export const FIELD = 28;
export const DIGIT_BOX = 20;

/** RGBA pixels, as in a canvas ImageData. */
export interface RgbaImage {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

/** Ink (0–255, white on black) per pixel: the mean of R, G and B. */
function inkOf(image: RgbaImage): Float64Array {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size must be positive integers, got ${width}×${height}`);
  }
  if (data.length !== width * height * 4)
    throw new RangeError(`RGBA data has ${data.length} values, expected ${width * height * 4}`);
  const ink = new Float64Array(width * height);
  for (let i = 0; i < ink.length; i++) ink[i] = (data[4 * i] + data[4 * i + 1] + data[4 * i + 2]) / 3;
  return ink;
}

/** For each of `to` output cells covering `from` input cells evenly: the input cells it overlaps and by how much. */
function areaWeights(from: number, to: number): { start: number; weights: number[] }[] {
  const step = from / to;
  return Array.from({ length: to }, (_, t) => {
    const lo = t * step;
    const hi = (t + 1) * step;
    const start = Math.floor(lo);
    const weights: number[] = [];
    for (let s = start; s < hi && s < from; s++) weights.push((Math.min(hi, s + 1) - Math.max(lo, s)) / step);
    return { start, weights };
  });
}

/** Area-averaging resize of a w×h grid to tw×th (separable: rows, then columns). */
function resize(src: Float64Array, w: number, h: number, tw: number, th: number): Float64Array {
  const across = areaWeights(w, tw);
  const down = areaWeights(h, th);
  const rows = new Float64Array(h * tw);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < tw; x++) {
      const { start, weights } = across[x];
      let v = 0;
      for (let i = 0; i < weights.length; i++) v += weights[i] * src[y * w + start + i];
      rows[y * tw + x] = v;
    }
  }
  const out = new Float64Array(th * tw);
  for (let y = 0; y < th; y++) {
    const { start, weights } = down[y];
    for (let x = 0; x < tw; x++) {
      let v = 0;
      for (let i = 0; i < weights.length; i++) v += weights[i] * rows[(start + i) * tw + x];
      out[y * tw + x] = v;
    }
  }
  return out;
}

/** The 28×28 model input (row-major uint8, white digit on black), or null when nothing is drawn. */
export function digitInput(image: RgbaImage): Uint8Array | null {
  const { width, height } = image;
  const ink = inkOf(image);
  let [left, top, right, bottom] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > 0) {
        left = Math.min(left, x);
        right = Math.max(right, x);
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
      }
    }
  }
  if (right < 0) return null;
  const bw = right - left + 1;
  const bh = bottom - top + 1;
  const crop = new Float64Array(bw * bh);
  for (let y = 0; y < bh; y++) crop.set(ink.subarray((top + y) * width + left, (top + y) * width + left + bw), y * bw);
  const scale = DIGIT_BOX / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * scale));
  const th = Math.max(1, Math.round(bh * scale));
  const digit = resize(crop, bw, bh, tw, th);

  // Center of mass (pixel centers at i + 0.5), moved to the field's center, the digit kept inside.
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = digit[y * tw + x];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const clamp = (v: number, max: number) => Math.min(max, Math.max(0, v));
  const ox = clamp(Math.round(FIELD / 2 - mx / mass), FIELD - tw);
  const oy = clamp(Math.round(FIELD / 2 - my / mass), FIELD - th);
  const out = new Uint8Array(FIELD * FIELD);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) out[(oy + y) * FIELD + ox + x] = Math.round(clamp(digit[y * tw + x], 255));
  }
  return out;
}
