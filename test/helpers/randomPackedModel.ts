/**
 * Random packed models of any geometry, for checking one engine path against another (speed and
 * agreement do not depend on training). Thresholds are spread around where the sums fall, so that
 * both signs occur; a third of the neurons are flipped (a negative BatchNorm scale).
 */
import { allocPacked, type PackedBits } from '../../lib/kernels';
import type { PackedConv, PackedLayer, PackedModel, SignOutput } from '../../lib/engine';
import { convOutputShape } from '../../lib/kernels/networkShape';
import { seededRandom } from '../../lib/random';

export interface ConvSpec {
  filters: number;
  pool?: 1 | 2;
  padding?: 'same' | 'valid';
  kernelSize?: number;
}

export interface RandomModelSpec {
  /** [height, width, channels] with convs, else [values]. */
  inputShape: number[];
  convs?: ConvSpec[];
  /** Hidden dense layers, then `classes` scores. */
  dense: number[];
  classes: number;
  /** The first dense layer's input when there are no convs (default 'pixels'). */
  firstInput?: 'pixels' | 'pixelSigns';
  seed?: number;
}

export function randomPackedModel(spec: RandomModelSpec): PackedModel {
  const random = seededRandom(spec.seed ?? 1);
  const bits = (rows: number, k: number): PackedBits => {
    const w = allocPacked(rows, k);
    const words = Math.ceil(k / 32);
    for (let r = 0; r < rows; r++)
      for (let i = 0; i < words; i++) {
        let v = (random() * 2 ** 32) >>> 0;
        if (i === words - 1 && k % 32) v &= (1 << (k % 32)) - 1;
        w.data[r * w.stride + i] = v >>> 0;
      }
    return w;
  };
  const sign = (units: number, spread: number): SignOutput => ({
    kind: 'sign',
    thresholds: Int32Array.from({ length: units }, () => Math.round((random() - 0.5) * spread)),
    flips: Uint8Array.from({ length: units }, () => (random() < 0.33 ? 1 : 0)),
  });
  const layers: PackedLayer[] = [];
  let [h, w, c] = spec.inputShape;
  for (const [i, conv] of (spec.convs ?? []).entries()) {
    const ks = conv.kernelSize ?? 3;
    const k = ks * ks * c;
    const layer: PackedConv = {
      kind: 'conv',
      name: `conv${i}`,
      input: i === 0 ? 'pixels' : 'bits',
      height: h,
      width: w,
      channels: c,
      kernelSize: ks,
      padding: conv.padding ?? 'same',
      pool: conv.pool ?? 1,
      weights: bits(conv.filters, k),
      output: sign(conv.filters, (i === 0 ? 255 : 1) * Math.sqrt(k)),
    };
    layers.push(layer);
    [h, w, c] = convOutputShape(layer);
  }
  let k = layers.length ? h * w * c : spec.inputShape.reduce((a, b) => a * b, 1);
  for (const [i, units] of [...spec.dense, spec.classes].entries()) {
    const first = layers.length === 0;
    const input = first ? (spec.firstInput ?? 'pixels') : 'bits';
    const last = i === spec.dense.length;
    layers.push({
      kind: 'dense',
      name: `dense${i}`,
      input,
      weights: bits(units, k),
      output: last
        ? {
            kind: 'scores',
            scale: Float64Array.from({ length: units }, () => random() - 0.5),
            shift: Float64Array.from({ length: units }, () => random() - 0.5),
          }
        : sign(units, (input === 'pixels' ? 255 : 1) * Math.sqrt(k)),
    });
    k = units;
  }
  return { format: 'binarynet-packed', version: 1, inputShape: spec.inputShape, layers, floatBytes: 0 };
}

/** `count` images of random uint8 pixels. */
export function randomPixels(model: PackedModel, count: number, seed = 2): Uint8Array {
  const random = seededRandom(seed);
  const size = model.inputShape.reduce((a, b) => a * b, 1);
  return Uint8Array.from({ length: count * size }, () => Math.floor(random() * 256));
}

/** Geometries that exercise every path of an engine (gaps in packed rows, padding, pooling, odd sizes). */
export const ENGINE_TEST_MODELS: [string, RandomModelSpec][] = [
  ['MLP on bit planes, k and units not multiples of 64', { inputShape: [100], dense: [70, 130], classes: 10 }],
  ['MLP on pixel signs', { inputShape: [200], dense: [64], classes: 7, firstInput: 'pixelSigns' }],
  [
    'ConvNet as the paper’s (pool after every second conv), 3 channels',
    {
      inputShape: [12, 12, 3],
      convs: [{ filters: 16 }, { filters: 16, pool: 2 }, { filters: 32 }, { filters: 64, pool: 2 }],
      dense: [48],
      classes: 10,
    },
  ],
  [
    'odd sizes, channels 5 / 70 / 130, valid padding, 5×5 kernel',
    {
      inputShape: [11, 9, 1],
      convs: [
        { filters: 70, pool: 2 },
        { filters: 130, padding: 'valid' },
        { filters: 5, kernelSize: 1 },
      ],
      dense: [33],
      classes: 4,
    },
  ],
  [
    'a 5×5 first conv and pooled odd sizes',
    {
      inputShape: [13, 7, 2],
      convs: [
        { filters: 24, kernelSize: 5, pool: 2 },
        { filters: 200, pool: 2 },
      ],
      dense: [],
      classes: 10,
    },
  ],
  [
    '2×2 and 4×4 kernels with same padding (padded only after: pad 0 before)',
    {
      inputShape: [9, 8, 2],
      convs: [
        { filters: 15, kernelSize: 2 },
        { filters: 40, kernelSize: 2, pool: 2 },
        { filters: 33, kernelSize: 4 },
      ],
      dense: [20],
      classes: 5,
    },
  ],
];
