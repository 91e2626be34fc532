import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { PATCHED_TFJS_LINE, unsupportedTfjs } from '../lib/tfjs/version';
import { loadNativeAddon } from '../lib/kernels/native';
import { webgpuAdapter } from '../lib/tfjs/webgpu';
import { gpuDeviceNodes, noHardwareGpu, type DeviceProbe } from '../lib/tfjs/gpuDevices';

const hasTfjsNode = (() => {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
})();

const { addon, why } = loadNativeAddon();
const hasNativeAddon = addon !== null;

describe('backend selection', () => {
  it('picks the best backend that loads and reports what it skipped', async () => {
    const lines: string[] = [];
    const chosen = await initBackend(undefined, (l) => lines.push(l));
    // webgpu first, but only on a hardware GPU (never llvmpipe, lavapipe or SwiftShader); CI has none.
    if (chosen === 'webgpu') {
      expect(webgpuAdapter()?.software).toBe(false);
      return;
    }
    expect(lines[0]).toMatch(/^backend webgpu unavailable: /);
    expect(chosen).toBe(hasNativeAddon ? 'native' : hasTfjsNode ? 'tensorflow' : 'wasm');
    // native runs as tfjs's wasm backend with native kernels registered.
    expect(tf.getBackend()).toBe(chosen === 'native' ? 'wasm' : chosen);
    expect(lines.at(-1)).toBe(`tfjs backend: ${chosen}`);
    if (!hasNativeAddon) expect(lines[1]).toMatch(/backend native unavailable: native addon/);
  });

  it.skipIf(!hasNativeAddon)(
    `wasm after native restores the wasm kernels, and native puts them ` +
      `back${hasNativeAddon ? '' : ` (native unavailable: ${why})`}`,
    async () => {
      expect(await initBackend('native')).toBe('native');
      expect(tf.getKernel('BnnSign', 'wasm')).toBeDefined();
      expect(await initBackend('wasm')).toBe('wasm');
      expect(tf.getKernel('BnnSign', 'wasm')).toBeUndefined();
      expect(tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).dataSync()).toEqual(new Float32Array([3, 3, 3, 3]));
      expect(await initBackend('native')).toBe('native');
      expect(tf.getKernel('BnnSign', 'wasm')).toBeDefined();
    },
  );

  it('BNN_BACKEND forces one', async () => {
    expect(await initBackend('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await initBackend('wasm')).toBe('wasm');
  });

  it('rejects unknown names, and a forced backend that does not load', async () => {
    await expect(initBackend('webgl')).rejects.toThrow(
      /unknown backend 'webgl' \(BNN_BACKEND must be one of webgpu, native, tensorflow, wasm, cpu\)/,
    );
    if (hasTfjsNode) expect(await initBackend('tensorflow')).toBe('tensorflow');
    else await expect(initBackend('tensorflow')).rejects.toThrow(/backend 'tensorflow' did not load/);
  });
});

describe('no Dawn probe where no hardware GPU can be', () => {
  const host = (platform: NodeJS.Platform, folders: Record<string, string[]>): DeviceProbe => ({
    platform,
    list: (dir) => folders[dir] ?? [],
  });
  const bare = { '/dev': ['null', 'zero', 'tty', 'kvm', 'dri'], '/dev/dri': ['card0'] };

  it('on Linux, a GPU is possible only with a render node, an NVIDIA device or WSL’s /dev/dxg', () => {
    expect(gpuDeviceNodes(host('linux', bare))).toEqual([]);
    expect(noHardwareGpu(host('linux', bare))).toMatch(/^no GPU device node .*Dawn not probed$/);
    expect(noHardwareGpu(host('linux', {}))).not.toBeNull();
    const amd = host('linux', { ...bare, '/dev/dri': ['card0', 'renderD128'] });
    expect(gpuDeviceNodes(amd)).toEqual(['/dev/dri/renderD128']);
    expect(noHardwareGpu(amd)).toBeNull();
    const nvidia = host('linux', { '/dev': ['null', 'nvidia0', 'nvidiactl', 'nvidia-uvm'] });
    expect(gpuDeviceNodes(nvidia)).toEqual(['/dev/nvidia0', '/dev/nvidiactl', '/dev/nvidia-uvm']);
    expect(noHardwareGpu(host('linux', { '/dev': ['dxg'] }))).toBeNull();
  });

  it('elsewhere (macOS, Windows) it cannot tell: Dawn is probed', () => {
    expect(gpuDeviceNodes(host('darwin', {}))).toBeNull();
    expect(noHardwareGpu(host('darwin', {}))).toBeNull();
    expect(noHardwareGpu(host('win32', {}))).toBeNull();
  });

  const nodeHere = noHardwareGpu() === null;
  it(
    nodeHere
      ? 'the automatic choice here probes Dawn (a GPU device node, or not Linux)'
      : 'the automatic choice here does not load Dawn (no GPU device node)',
    async () => {
      // In a process of its own: this one may have loaded Dawn already (the other tests).
      const script = [
        "const backend = await import('./lib/backend.ts');",
        // tsx gives an evaluated script's import of a CommonJS-compiled module as its default export.
        'const { initBackend } = backend.initBackend ? backend : backend.default;',
        'const lines = [];',
        'await initBackend(undefined, (l) => lines.push(l));',
        "const { createRequire } = await import('node:module');",
        "const loaded = Object.keys(createRequire(process.cwd() + '/').cache);",
        'const dawn = loaded.filter((f) => /node_modules[\\\\/]webgpu[\\\\/]/.test(f));',
        'console.log(JSON.stringify({ first: lines[0], dawn }));',
      ].join('\n');
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { env: { ...process.env, BNN_BACKEND: '' } },
      );
      const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { first: string; dawn: string[] };
      // (Probed: Dawn loaded, unless the optional package 'webgpu' is not installed.)
      if (nodeHere) return expect(r.first).not.toMatch(/Dawn not probed/);
      expect(r.first).toBe(`backend webgpu unavailable: ${noHardwareGpu()}`);
      expect(r.dawn).toEqual([]);
    },
    60_000,
  );
});

describe('the tfjs release the wasm kernels patch', () => {
  it('accepts the pinned release line, and names any other version with the fix', () => {
    expect(unsupportedTfjs({ 'tfjs-core': tf.version_core, 'tfjs-backend-wasm': '4.22.0' })).toBeNull();
    expect(unsupportedTfjs({ 'tfjs-core': '4.22.3', 'tfjs-backend-wasm': '4.22.1' })).toBeNull();
    const why = unsupportedTfjs({ 'tfjs-core': '4.23.0', 'tfjs-backend-wasm': undefined });
    expect(why).toContain('tfjs-core 4.23.0, tfjs-backend-wasm (not found)');
    expect(why).toContain(`npm install @tensorflow/tfjs@~${PATCHED_TFJS_LINE}.0`);
  });

  it('is the release line package.json pins', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    for (const name of ['@tensorflow/tfjs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm'])
      expect(pkg.dependencies[name]).toBe(`~${PATCHED_TFJS_LINE}.0`);
  });
});
