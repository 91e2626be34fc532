/**
 * The webgpu backend (tfjs-backend-webgpu on Dawn, lib/tfjs/webgpu.ts) against the cpu backend: one
 * training step's gradients and updated weights (MLP and ConvNet, standard and shift BatchNorm, Adam and
 * shift-based AdaMax, dropout), and a short training run that learns, is checkpointed and resumed.
 * On CI the adapter is Mesa's lavapipe (llvmpipe, from bookworm-backports: .ci/run), a software renderer:
 * forced here with initBackend('webgpu'), as it is never chosen on its own.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isSoftwareAdapter } from '../lib/kernels/webgpu/device';
import { adapterName, registerWebgpuBackend, webgpuAdapter, webgpuLabel } from '../lib/tfjs/webgpu';
import type { Hyperparameters } from '../lib/presets';

/** Why webgpu cannot run here ('' when it can): a missing package or no Vulkan adapter. */
const unavailable = await (async () => {
  try {
    return (await registerWebgpuBackend(true)) ?? '';
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
})();
const ON_WEBGPU = `on webgpu${unavailable ? ` (unavailable: ${unavailable})` : ''}`;

/**
 * Tolerances, webgpu vs cpu, ‖a − b‖ / ‖b‖ per tensor (measured on lavapipe: gradients ≤ 2e-6; Adam's
 * weights ≤ 4e-7 and updates ≤ 5e-6; shift AdaMax's weights ≤ 9e-5 and updates ≤ 7e-4). Both backends
 * compute in float32 but sum in other orders. Shift AdaMax rounds its step to a power of 2 (and shift
 * BatchNorm its scale), so an element within rounding of a power's boundary moves by twice or half
 * as much: its bounds are looser.
 */
const GRAD_TOLERANCE = 1e-5;
const TOLERANCES = {
  adam: { weights: 1e-5, update: 1e-4 },
  shift_adamax: { weights: 1e-3, update: 1e-2 },
};

describe('webgpu adapters', () => {
  const llvmpipe = {
    vendor: 'mesa',
    architecture: 'software',
    device: 'llvmpipe-llvm-15-0-6-256-bits-',
    description: 'llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)',
    isFallbackAdapter: true,
  };
  const nvidia = { vendor: 'nvidia', architecture: 'ada', device: 'NVIDIA GeForce RTX 4090', description: 'NVIDIA' };

  it('tells a software renderer (llvmpipe, lavapipe, SwiftShader) from a GPU, and names it', () => {
    expect(isSoftwareAdapter(llvmpipe)).toBe(true);
    expect(isSoftwareAdapter({ ...llvmpipe, isFallbackAdapter: false, architecture: '' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'google', device: 'SwiftShader Device (Subzero)' })).toBe(true);
    expect(isSoftwareAdapter(nvidia)).toBe(false);
    expect(adapterName(llvmpipe)).toBe('llvmpipe');
    expect(adapterName(nvidia)).toBe('NVIDIA GeForce RTX 4090');
    expect(webgpuLabel({ name: 'llvmpipe', software: true, description: '' })).toBe('webgpu (llvmpipe, software)');
    expect(webgpuLabel({ name: 'NVIDIA GeForce RTX 4090', software: false, description: '' })).toBe(
      'webgpu (NVIDIA GeForce RTX 4090)',
    );
  });
});

/**
 * Both BatchNorm kinds, both optimizers, dense and conv layers, dropout: what the presets train. `xnor`: whether
 * the forward pass has ±1 × ±1 products, which run as the XNOR kernel on webgpu (lib/tfjs/webgpuXnor.ts): the
 * hidden Dense layers (after a Dropout too), the ConvNet's convs but the first, and its Dense layers.
 */
export const CASES: { name: string; dataset: string; overrides: Partial<Hyperparameters>; xnor: boolean }[] = [
  {
    name: 'MLP: BatchNorm, Adam, dropout (XNOR forward products on the dropped signs)',
    dataset: 'mnist',
    overrides: { hiddenUnits: [64, 64], dropoutInput: 0.2, dropoutHidden: 0.5, batchSize: 32 },
    xnor: true,
  },
  {
    // Batch 32: at batch 5 BatchNorm's backward made the gradients differ by 20 % (webgpu vs cpu), with or
    // without the XNOR kernel alike (the forward values were the same; the sums' order differs in the backward).
    name: 'MLP: XNOR forward products (no hidden dropout; widths 50 and 40)',
    dataset: 'mnist',
    overrides: { hiddenUnits: [50, 40], dropoutInput: 0.2, dropoutHidden: 0, batchSize: 32 },
    xnor: true,
  },
  {
    name: 'ConvNet: shift BatchNorm, shift AdaMax',
    dataset: 'fashion-mnist',
    overrides: { batchNorm: 'shift', optimizer: 'shift_adamax', batchSize: 8 },
    xnor: true,
  },
];

/** lavapipe compiles every shader on first use, on the CPU: the first step takes tens of seconds. */
const SLOW = 600_000;

/** Runs test/helpers/webgpuWorker.ts (in its own process: see there) and returns what it printed. */
async function inWorker<T>(...args: string[]): Promise<T> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'test/helpers/webgpuWorker.ts', ...args],
    { maxBuffer: 1 << 24, timeout: SLOW },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

interface StepErrors {
  optimizer: keyof typeof TOLERANCES;
  /** BnnBinaryMatMul's runs on webgpu in the step (forward passes and the training step). */
  xnorProducts: number;
  label: string;
  loss: { cpu: number; webgpu: number };
  sameStart: boolean;
  grads: number[];
  weights: number[];
  updates: number[];
}

describe.skipIf(unavailable !== '')(`one training step ${ON_WEBGPU} equals cpu's`, () => {
  for (const c of CASES) {
    it(
      c.name,
      async () => {
        const r = await inWorker<StepErrors>('step', JSON.stringify(c));
        expect(r.label).toBe(webgpuLabel(webgpuAdapter()!));
        expect(r.sameStart).toBe(true);
        expect(r.xnorProducts > 0, `XNOR products: ${r.xnorProducts}`).toBe(c.xnor);
        expect(Math.abs(r.loss.webgpu - r.loss.cpu)).toBeLessThanOrEqual(1e-5 * Math.max(1, r.loss.cpu));
        const tolerance = TOLERANCES[r.optimizer];
        r.grads.forEach((e, i) => expect(e, `gradient ${i}`).toBeLessThanOrEqual(GRAD_TOLERANCE));
        r.weights.forEach((e, i) => expect(e, `parameter ${i}`).toBeLessThanOrEqual(tolerance.weights));
        // The update itself (after − before), small next to the weights.
        r.updates.forEach((e, i) => expect(e, `update of parameter ${i}`).toBeLessThanOrEqual(tolerance.update));
      },
      SLOW,
    );
  }
});

describe.skipIf(unavailable !== '')(`the XNOR product ${ON_WEBGPU} equals cpu's float product exactly`, () => {
  it(
    'binary Dense on sign inputs, ±1 products (each transpose), dropped ±1 products: k % 32 ≠ 0, k < 64, batch 1',
    async () => {
      // [batch, k, units]: k = 1, 5, 33, 50, 64, 100, 1000; units across the 64-column tile; rows past 64.
      const shapes = [
        [1, 1, 1],
        [1, 5, 3],
        [1, 33, 7],
        [3, 50, 65],
        [70, 64, 130],
        [7, 100, 10],
        [2, 1000, 17],
      ];
      const r = await inWorker<{
        label: string;
        xnorProducts: number;
        cases: { shape: number[]; dense: boolean; products: boolean[]; dropped: boolean; droppedCpuError: number }[];
      }>('dense', JSON.stringify(shapes));
      expect(r.label).toBe(webgpuLabel(webgpuAdapter()!));
      // One Dense, four ±1 products and one dropped product per shape, every one on the XNOR kernel.
      expect(r.xnorProducts).toBe(6 * shapes.length);
      for (const c of r.cases) {
        expect(c.dense, `Dense [${c.shape}]`).toBe(true);
        expect(c.products, `products [${c.shape}] (transposes ff, ft, tf, tt)`).toEqual([true, true, true, true]);
        // The exact product rounded once; cpu's float sums of ±s are within rounding of it.
        expect(c.dropped, `dropped product [${c.shape}]`).toBe(true);
        expect(c.droppedCpuError, `cpu's dropped product [${c.shape}]`).toBeLessThan(1e-3);
      }
    },
    SLOW,
  );
});

describe.skipIf(unavailable !== '')(`the XNOR conv ${ON_WEBGPU} equals cpu's float conv exactly`, () => {
  it(
    "binary Conv2D on sign inputs: 'same' (zero padding) and 'valid', strides 1 and 2, odd and even kernels",
    async () => {
      // [batch, height, width, channels, filters, kernel size, stride, padding]: k = 27, 297, 9, 144, 576, 8.
      const shapes = [
        [1, 5, 5, 3, 4, 3, 1, 'same'],
        [2, 6, 7, 33, 5, 3, 1, 'same'],
        [1, 4, 4, 1, 2, 3, 1, 'valid'],
        [3, 7, 5, 16, 65, 3, 2, 'same'],
        [1, 8, 8, 64, 10, 3, 1, 'same'],
        [2, 5, 6, 2, 3, 2, 1, 'same'],
      ];
      const r = await inWorker<{ label: string; xnorProducts: number; cases: { shape: unknown[]; same: boolean }[] }>(
        'conv',
        JSON.stringify(shapes),
      );
      expect(r.label).toBe(webgpuLabel(webgpuAdapter()!));
      expect(r.xnorProducts).toBe(shapes.length);
      for (const c of r.cases) expect(c.same, `Conv2D [${c.shape}]`).toBe(true);
    },
    SLOW,
  );
});

describe.skipIf(unavailable !== '')(`training ${ON_WEBGPU}`, () => {
  it(
    'learns, checkpoints and resumes (MNIST MLP, 2 epochs of 500 images)',
    async () => {
      const r = await inWorker<{
        firstEpochs: number;
        resumedTrained: number;
        history: { trainLoss: number; validError: number; layers: unknown[] }[];
      }>('train');
      expect(r.firstEpochs).toBe(1);
      expect(r.resumedTrained).toBe(1);
      const [e1, e2] = r.history;
      // 10 classes: chance is 90 % error.
      expect(e2.trainLoss).toBeLessThan(e1.trainLoss);
      expect(e2.validError).toBeLessThan(0.5);
      expect(e2.layers.length).toBe(3);
    },
    SLOW,
  );
});
