/**
 * The browser entry of the binary inference engine: nothing here imports Node modules. Bundle it
 * (e.g. esbuild --bundle --platform=browser), serve build/xnor.wasm and a packed model file, then:
 *
 *   const kernel = createWasmKernel(await WebAssembly.compileStreaming(fetch('xnor.wasm')));
 *   const model = deserializePackedModel(new Uint8Array(await (await fetch('mlp.bnn')).arrayBuffer()));
 *   const labels = new BinaryEngine(model, { kernel }).predict(pixels, count);
 *
 * On the GPU, where `navigator.gpu` has an adapter: `kernel = await createWebGpuKernel(navigator.gpu)`, then
 * `await engine.predictAsync(pixels, count)` (the same predictions).
 */
export { BinaryEngine, type EngineOptions } from './engine/engine';
export { deserializePackedModel, packedParameterBytes, type PackedModel } from './engine/packedModel';
export { createWasmKernel } from './kernels/wasmKernels';
export type { AsyncXnorKernel, XnorKernel } from './kernels/kernel';
export { createWebGpuKernel } from './kernels/webgpu';
