/**
 * The WebGPU tier in Node: Dawn through the optional npm package `webgpu`, on whatever adapter it finds (a GPU's
 * Vulkan/Metal/D3D driver; Mesa's lavapipe or SwiftShader emulate one on a CPU: `software` says so).
 */
import type { AsyncXnorKernel } from '../kernel';
import type { GpuContext } from './device';
import { createWebGpuKernel } from './index';

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0];

/** The WebGPU tier, or why it is unavailable (no `webgpu` package, no adapter). */
export async function loadWebGpuKernel(): Promise<(AsyncXnorKernel & { context: GpuContext }) | string> {
  let create: (options: string[]) => GPU;
  try {
    ({ create } = await import('webgpu'));
  } catch (err) {
    return `the optional package 'webgpu' does not load (npm install webgpu): ${message(err)}`;
  }
  try {
    return await createWebGpuKernel(create([]));
  } catch (err) {
    return `no WebGPU adapter (a GPU driver, or Mesa's lavapipe: apt-get install mesa-vulkan-drivers): ${message(err)}`;
  }
}
