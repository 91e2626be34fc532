/**
 * The wasm tier's whole-network path (lib/kernels/wasm/network.ts through wasmNetwork.ts) against
 * the layer-by-layer path on the TypeScript reference kernel: identical scores, bit for bit, on
 * random models of every geometry of ENGINE_TEST_MODELS and even kernels, batches of 1, 3 and 37 images (and
 * batches larger than one runLayer call). And bad arguments: clear errors, never a corrupt result.
 */
import { describe, expect, it } from 'vitest';
import { BinaryEngine, type PackedModel } from '../lib/engine';
import { tryKernel, type XnorKernel } from '../lib/kernels';
import { WasmNetwork } from '../lib/kernels/wasmNetwork';
import { ENGINE_TEST_MODELS as MODELS, randomPackedModel, randomPixels } from './helpers/randomPackedModel';

const wasm = tryKernel('wasm');
const reference = tryKernel('ts') as XnorKernel;

function scores(model: PackedModel, kernel: XnorKernel, pixels: Uint8Array, count: number, batchSize?: number) {
  return new BinaryEngine(model, { kernel, compiled: kernel !== reference, batchSize }).scores(pixels, count);
}

describe.skipIf(typeof wasm === 'string')('wasm whole-network engine', () => {
  const kernel = wasm as XnorKernel;

  // An even 'same' kernel pads only below and right (pad 0 above and left), as the first conv and later.
  for (const [name, spec] of MODELS) {
    it(name, () => {
      const model = randomPackedModel(spec);
      const engine = new BinaryEngine(model, { kernel });
      expect(engine.network).toBeInstanceOf(WasmNetwork);
      for (const count of [1, 3, 37]) {
        const pixels = randomPixels(model, count, count);
        const expected = scores(model, reference, pixels, count);
        expect(engine.scores(pixels, count)).toEqual(expected);
      }
    });
  }

  it('runs batches larger than one runLayer call, and the same network twice gives the same scores', () => {
    const model = randomPackedModel(MODELS[0][1]);
    const network = kernel.compileNetwork!(100, model.layers) as WasmNetwork;
    const count = network.batch + 5;
    const pixels = randomPixels(model, count, 9);
    const expected = scores(model, reference, pixels, count);
    const out = new Float64Array(count * 10);
    network.run(pixels, count, out, 1);
    expect(out).toEqual(expected);
    network.run(pixels, count, out.fill(0), 1);
    expect(out).toEqual(expected);
  });

  it('is what BinaryEngine uses on the wasm tier, and records time per layer', () => {
    const model = randomPackedModel(MODELS[2][1]);
    const engine = new BinaryEngine(model, { kernel });
    engine.scores(randomPixels(model, 4), 4);
    expect(engine.layerSeconds.length).toBe(model.layers.length);
    expect(Array.from(engine.layerSeconds).every((s) => s > 0)).toBe(true);
    expect(new BinaryEngine(model, { kernel, compiled: false }).network).toBeNull();
  });

  describe('bad arguments give errors', () => {
    const model = randomPackedModel(MODELS[2][1]);
    const inputSize = 12 * 12 * 3;
    const spec = (change: (layers: Record<string, unknown>[]) => void) => {
      const layers = model.layers.map((l) => ({ ...l, weights: { ...l.weights }, output: { ...l.output } })) as Record<
        string,
        unknown
      >[];
      change(layers);
      return layers as never;
    };
    const bad: [string, () => unknown, RegExp][] = [
      ['no layers', () => kernel.compileNetwork!(3, []), /no layers/],
      ['input size', () => kernel.compileNetwork!(100, model.layers), /takes 12×12×3 values/],
      [
        'short weights',
        () =>
          kernel.compileNetwork!(
            inputSize,
            spec((l) => ((l[1].weights as { data: Uint32Array }).data = new Uint32Array(3))),
          ),
        /elements/,
      ],
      [
        'weights of the wrong type',
        () =>
          kernel.compileNetwork!(
            inputSize,
            spec((l) => ((l[1].weights as { data: unknown }).data = new Float32Array(9))),
          ),
        /Uint32Array/,
      ],
      [
        'a chain that does not fit',
        () =>
          kernel.compileNetwork!(
            inputSize,
            spec((l) => (l[2].channels = 17)),
          ),
        /takes|match/,
      ],
      [
        'thresholds of the wrong length',
        () =>
          kernel.compileNetwork!(
            inputSize,
            spec((l) => ((l[0].output as { thresholds: unknown }).thresholds = new Int32Array(2))),
          ),
        /thresholds/,
      ],
      [
        'scores before the end',
        () =>
          kernel.compileNetwork!(
            inputSize,
            spec((l) => (l[1].output = l[5].output)),
          ),
        /scale|scores/,
      ],
      [
        'pixels in a later layer',
        () =>
          kernel.compileNetwork!(
            inputSize,
            spec((l) => (l[1].input = 'pixels')),
          ),
        /not allowed/,
      ],
      [
        'an unknown padding',
        () =>
          kernel.compileNetwork!(
            inputSize,
            spec((l) => (l[0].padding = 'full')),
          ),
        /padding/,
      ],
      [
        'a pool of 3',
        () =>
          kernel.compileNetwork!(
            inputSize,
            spec((l) => (l[0].pool = 3)),
          ),
        /pool/,
      ],
    ];
    for (const [what, call, message] of bad) it(what, () => expect(call).toThrow(message));

    it('run checks its arrays and counts, and a refused call changes nothing', () => {
      const net = kernel.compileNetwork!(inputSize, model.layers);
      const px = randomPixels(model, 2, 5);
      const out = new Float64Array(20);
      net.run(px, 2, out, 1);
      const good = out.slice();
      expect(() => net.run(px, 3, out, 1)).toThrow(/pixels/);
      expect(() => net.run(px, 2, new Float64Array(19), 1)).toThrow(/scores/);
      expect(() => net.run(px, 2, out, 0)).toThrow(/threads/);
      expect(() => net.run(px, -1, out, 1)).toThrow(/n must be/);
      expect(() => net.run(px, 1.5, out, 1)).toThrow(/n must be/);
      expect(() => net.run(new Float32Array(px.length) as never, 2, out, 1)).toThrow(/Uint8Array/);
      expect(() => net.run(px, 2, out, 1, new Float64Array(2))).toThrow(/profile/);
      expect(out).toEqual(good);
      net.run(px, 2, out.fill(0), 1);
      expect(out).toEqual(good);
    });
  });
});
