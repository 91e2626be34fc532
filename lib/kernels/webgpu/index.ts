/**
 * The WebGPU tier: the paper's XNOR kernel in WGSL (shaders.ts), asynchronous since reading the GPU is. In a browser
 * `await createWebGpuKernel(navigator.gpu)`; in Node `loadWebGpuKernel()` (node.ts, the `webgpu` package). The
 * engine takes it as it takes the other tiers (`new BinaryEngine(model, { kernel })`, then `await predictAsync`).
 * Nothing here needs Node.
 */
import type { PackedBits } from '../bitPack';
import type { AsyncXnorKernel, NetworkLayerSpec } from '../kernel';
import { GpuContext } from './device';
import { XnorGemm } from './gemm';
import { GpuNetwork } from './network';

async function product(ctx: GpuContext, a: PackedBits, b: PackedBits, planes: boolean): Promise<Int32Array> {
  const gemm = new XnorGemm(ctx, a, b, planes);
  try {
    return await gemm.compute();
  } finally {
    gemm.destroy();
  }
}

/** The WebGPU tier on a context (its device and compiled shaders). */
export function webGpuKernel(ctx: GpuContext): AsyncXnorKernel & { context: GpuContext } {
  return {
    tier: 'webgpu',
    isa: ctx.adapter.label,
    software: ctx.adapter.software,
    context: ctx,
    gemm: (a, b) => product(ctx, a, b, false),
    bitPlaneGemm: (planes, b) => product(ctx, planes, b, true),
    compileNetwork: (inputSize: number, layers: readonly NetworkLayerSpec[]) => new GpuNetwork(ctx, inputSize, layers),
    destroy: () => ctx.destroy(),
  };
}

/** The WebGPU tier on `gpu`'s adapter (`navigator.gpu` in a browser); rejects when there is no adapter. */
export async function createWebGpuKernel(gpu: GPU): Promise<AsyncXnorKernel & { context: GpuContext }> {
  return webGpuKernel(await GpuContext.create(gpu));
}

export { describeAdapter, GpuContext, type AdapterDescription } from './device';
export { FloatGemm, XnorGemm } from './gemm';
export { GpuNetwork } from './network';
