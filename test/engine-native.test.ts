/**
 * The native engine's whole-network path (native/engine.cc) against the layer-by-layer path on the
 * TypeScript reference kernel: identical scores, bit for bit, on random models of every geometry
 * the packed format allows — channels and units that are not multiples of 64 (gaps in the packed
 * rows), 'same' and 'valid' padding, pooling, odd sizes, bit-plane and sign first layers, batches
 * that cross the native block sizes — with both its AVX-512 and its portable micro-kernels.
 * And bad arguments: clear errors, never a crash.
 */
import { describe, expect, it } from 'vitest';
import { BinaryEngine, type PackedModel } from '../lib/engine';
import { tryKernel, type XnorKernel } from '../lib/kernels';
import { loadNativeAddon } from '../lib/kernels/native';
import { cpuFeature } from './helpers/requireAllTests';
import { ENGINE_TEST_MODELS as MODELS, randomPackedModel, randomPixels } from './helpers/randomPackedModel';

const native = tryKernel('native');
const reference = tryKernel('ts') as XnorKernel;
const addon = loadNativeAddon().addon;
const hasAvx512 = addon ? new addon.BinaryNetwork(smallSpec()).isa === 'avx512' : false;

function smallSpec() {
  const m = randomPackedModel({ inputShape: [8], dense: [], classes: 3 });
  return { inputSize: 8, layers: m.layers };
}

function scores(model: PackedModel, kernel: XnorKernel, pixels: Uint8Array, count: number, threads?: number) {
  return new BinaryEngine(model, { kernel, threads, compiled: kernel !== reference }).scores(pixels, count);
}

describe.skipIf(typeof native === 'string')('native whole-network engine', () => {
  const kernel = native as XnorKernel;
  for (const isa of ['avx512', 'portable'] as const) {
    const tag = isa === 'avx512' ? ` ${cpuFeature('avx512-vpopcntdq')}` : '';
    describe.skipIf(isa === 'avx512' && !hasAvx512)(`${isa} micro-kernels${tag}`, () => {
      const withIsa: XnorKernel = {
        ...kernel,
        compileNetwork: (inputSize, layers) => new addon!.BinaryNetwork({ inputSize, layers, isa }),
      };
      for (const [name, spec] of MODELS) {
        it(name, () => {
          const model = randomPackedModel(spec);
          for (const count of [1, 3, 37]) {
            const pixels = randomPixels(model, count, count);
            const expected = scores(model, reference, pixels, count);
            for (const threads of [1, 2]) expect(scores(model, withIsa, pixels, count, threads)).toEqual(expected);
          }
        });
      }
    });
  }

  it('is what BinaryEngine uses on the native tier, and records time per layer', () => {
    const model = randomPackedModel(MODELS[2][1]);
    const engine = new BinaryEngine(model, { kernel });
    expect(engine.network).not.toBeNull();
    engine.scores(randomPixels(model, 4), 4);
    expect(engine.layerSeconds.length).toBe(model.layers.length);
    expect(Array.from(engine.layerSeconds).every((s) => s > 0)).toBe(true);
    expect(new BinaryEngine(model, { kernel, compiled: false }).network).toBeNull();
  });

  describe('bad arguments give errors, not crashes', () => {
    const model = randomPackedModel(MODELS[2][1]);
    const network = () => new addon!.BinaryNetwork({ inputSize: 12 * 12 * 3, layers: model.layers });
    const spec = (change: (layers: Record<string, unknown>[]) => void, inputSize = 12 * 12 * 3) => {
      const layers = model.layers.map((l) => ({ ...l, weights: { ...l.weights }, output: { ...l.output } })) as Record<
        string,
        unknown
      >[];
      change(layers);
      return { inputSize, layers };
    };
    const bad: [string, unknown, RegExp][] = [
      ['no spec', undefined, /needs a spec/],
      ['no layers', { inputSize: 3, layers: [] }, /no layers/],
      ['input size', spec(() => {}, 100), /input size/],
      ['a missing field', spec((l) => delete l[0].kernelSize), /missing 'kernelSize'/],
      ['short weights', spec((l) => ((l[1].weights as { data: Uint32Array }).data = new Uint32Array(3))), /elements/],
      [
        'weights of the wrong type',
        spec((l) => ((l[1].weights as { data: unknown }).data = new Float32Array(9))),
        /Uint32Array/,
      ],
      ['a chain that does not fit', spec((l) => (l[2].channels = 17)), /does not match|weights do not match/],
      [
        'thresholds of the wrong length',
        spec((l) => ((l[0].output as { thresholds: unknown }).thresholds = new Int32Array(2))),
        /thresholds/,
      ],
      ['scores before the end', spec((l) => (l[1].output = l[5].output)), /scale|scores/],
      ['pixels in a later layer', spec((l) => (l[1].input = 'pixels')), /only the first layer/],
      ['an unknown padding', spec((l) => (l[0].padding = 'full')), /geometry/],
      ['a huge pool', spec((l) => (l[0].pool = 3)), /pool/],
    ];
    for (const [what, value, message] of bad)
      it(what, () => expect(() => new addon!.BinaryNetwork(value as never)).toThrow(message));

    it('run checks its arrays and counts', () => {
      const net = network();
      const px = new Uint8Array(2 * 12 * 12 * 3);
      const out = new Float64Array(20);
      expect(() => net.run(px, 3, out, 1)).toThrow(/pixels/);
      expect(() => net.run(px, 2, new Float64Array(19), 1)).toThrow(/scores/);
      expect(() => net.run(px, 2, out, 0)).toThrow(/threads/);
      expect(() => net.run(px, -1, out, 1)).toThrow(/n must be/);
      expect(() => net.run(new Float32Array(px.length) as never, 2, out, 1)).toThrow(/Uint8Array/);
      expect(() => net.run(px, 2, out, 1, new Float64Array(2))).toThrow(/profile/);
      net.run(px, 2, out, 1);
      expect(out.every(Number.isFinite)).toBe(true);
    });
  });
});
