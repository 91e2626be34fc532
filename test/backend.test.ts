import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { PATCHED_TFJS_LINE, unsupportedTfjs } from '../lib/tfjs/version';
import { loadNativeAddon } from '../lib/kernels/native';
import { webgpuAdapter } from '../lib/tfjs/webgpu';

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
