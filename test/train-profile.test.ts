import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { wrapKernels } from '../bench/kernelTimer';
import { profileTrainStep, readProfiles, saveProfiles } from '../bench/trainProfile';
import { buildTrainStepBench, networkConfig, resolveNetwork, resolveNetworks } from '../bench/benchNetworks';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-profile-'));
let backend: string;
beforeAll(async () => {
  backend = await initBackend('wasm');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const kernelFuncs = () => new Map(tf.getKernelsForBackend(backend).map((k) => [k.kernelName, k.kernelFunc]));

describe('kernel timer', () => {
  it('counts every call of the wrapped kernels and puts the originals back', () => {
    const before = kernelFuncs();
    const timer = wrapKernels(backend);
    expect(timer.kernels.length).toBe(before.size);
    expect(kernelFuncs().get('Add')).not.toBe(before.get('Add'));
    timer.bucket = 'mine';
    const a = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const c = tf.add(tf.matMul(a, a), a);
    expect(Array.from(c.dataSync())).toEqual([8, 12, 18, 26]);
    expect(timer.stats.get('Add')?.get('mine')?.calls).toBe(1);
    expect(timer.stats.get('BatchMatMul')?.get('mine')?.calls).toBe(1);
    expect(timer.stats.get('BatchMatMul')!.get('mine')!.ms).toBeGreaterThanOrEqual(0);
    timer.restore();
    const after = kernelFuncs();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, f] of before) expect(after.get(name)).toBe(f);
    tf.add(a, a);
    expect(timer.stats.get('Add')?.get('mine')?.calls).toBe(1);
    tf.dispose([a, c]);
  });
});

describe('training-step profile', () => {
  it('splits a step into phases and kernels, and leaves the registry as it was', async () => {
    const before = kernelFuncs();
    const bench = buildTrainStepBench('mnist-mlp-smoke');
    const p = await profileTrainStep(bench, backend, { warmup: 1, steps: 2 });
    bench.dispose();
    for (const [name, f] of kernelFuncs()) expect(f).toBe(before.get(name));
    expect(p.network).toBe('mnist-mlp-smoke');
    expect(p.stepMsAll).toHaveLength(2);
    expect(p.phases.map((x) => x.phase)).toEqual(['forward', 'backward', 'optimizer', 'readout']);
    const matmul = p.kernels.find((k) => k.kernel === 'BatchMatMul')!;
    // 3 binary dense layers: 3 products forward, 2 per layer backward (the first layer's input needs no gradient, tfjs
    // computes it anyway).
    expect(matmul.byPhase.forward).toBeGreaterThan(0);
    expect(matmul.byPhase.backward).toBeGreaterThan(0);
    expect(matmul.byPhase.optimizer).toBe(0);
    expect(matmul.callsPerStep).toBeGreaterThanOrEqual(3 + 5);
    const kernelMs = p.kernels.reduce((s, k) => s + k.ms, 0);
    expect(kernelMs).toBeLessThanOrEqual(p.stepMs * 1.5);
    expect(p.machine.cpu.family).toBeTruthy();
  });

  it('one section per network and backend: a new profile replaces the old, another backend sits by it', async () => {
    const bench = buildTrainStepBench('mnist-mlp-smoke');
    const p = await profileTrainStep(bench, backend, { warmup: 0, steps: 1 });
    bench.dispose();
    saveProfiles(tmp, [p]);
    saveProfiles(tmp, [{ ...p, stepMs: p.stepMs / 2, backend: 'native' }]);
    const { md } = saveProfiles(tmp, [p]);
    expect(Object.keys(readProfiles(path.join(tmp, 'train-profile.json')).profiles).sort()).toEqual([
      'mnist-mlp-smoke|native',
      'mnist-mlp-smoke|wasm',
    ]);
    const text = fs.readFileSync(md, 'utf8');
    expect(text.match(/^### mnist-mlp-smoke on wasm$/gm)).toHaveLength(1);
    expect(text.indexOf('### mnist-mlp-smoke on wasm')).toBeLessThan(text.indexOf('### mnist-mlp-smoke on native'));
    expect(text).toContain('| whole step |');
    expect(text).toMatch(/CPU family \S+, model \S+/);
  });
});

describe('benchmark networks', () => {
  it('accept names with or without the dataset prefix, and all', () => {
    expect(resolveNetwork('mlp-3x1024')).toBe('mnist-mlp-3x1024');
    expect(resolveNetwork('cifar10-convnet-paper')).toBe('cifar10-convnet-paper');
    expect(() => resolveNetwork('convnet-paper')).toThrow(/ambiguous/);
    expect(() => resolveNetwork('resnet')).toThrow(/unknown network 'resnet'/);
    expect(resolveNetworks('all')).toEqual([
      'mnist-mlp-3x1024',
      'mnist-mlp-3x4096',
      'fashion-convnet-quick',
      'cifar10-convnet-paper',
    ]);
  });

  it('are the presets: the paper MLP has dropout 0.2/0.5, the CIFAR-10 ConvNet 32×32×3 inputs and batch 50', () => {
    const mlp = networkConfig('mlp-3x4096');
    expect([mlp.hiddenUnits, mlp.dropoutInput, mlp.dropoutHidden, mlp.batchSize]).toEqual([
      [4096, 4096, 4096],
      0.2,
      0.5,
      100,
    ]);
    const cifar = networkConfig('cifar10-convnet-paper');
    expect([cifar.inputShape, cifar.convFilters, cifar.hiddenUnits, cifar.batchSize]).toEqual([
      [32, 32, 3],
      [128, 128, 256, 256, 512, 512],
      [1024, 1024],
      50,
    ]);
    expect(networkConfig('fashion-convnet-quick').inputShape).toEqual([28, 28, 1]);
  });
});
