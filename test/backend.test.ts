import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';

const hasTfjsNode = (() => {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
})();

describe('backend selection', () => {
  it('picks the best backend that loads and reports what it skipped', async () => {
    const lines: string[] = [];
    const chosen = await initBackend(undefined, (l) => lines.push(l));
    expect(chosen).toBe(hasTfjsNode ? 'tensorflow' : 'wasm');
    expect(tf.getBackend()).toBe(chosen);
    expect(lines.at(-1)).toBe(`tfjs backend: ${chosen}`);
    if (!hasTfjsNode) expect(lines[0]).toMatch(/backend tensorflow unavailable/);
  });

  it('BNN_BACKEND forces one', async () => {
    expect(await initBackend('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await initBackend('wasm')).toBe('wasm');
  });

  it('rejects unknown names, and a forced backend that does not load', async () => {
    await expect(initBackend('webgpu')).rejects.toThrow(/unknown backend 'webgpu' \(BNN_BACKEND must be one of tensorflow, wasm, cpu\)/);
    if (!hasTfjsNode) await expect(initBackend('tensorflow')).rejects.toThrow(/backend 'tensorflow' did not load/);
  });
});
