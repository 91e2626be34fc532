/**
 * The wasm backend's heap as native kernels use it: tensors stay in the WebAssembly heap and native
 * code reads and writes them in place (lib/tfjs/nativeKernels.ts says why). The types tfjs-backend-wasm
 * does not export and the views, shared by every file that registers or calls such kernels.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc } from '@tensorflow/tfjs-core';

type TensorInfo = tf.TensorInfo;
/** What tfjs passes a kernel: its inputs, the backend and the op's attributes. */
export type KernelArgs = Parameters<KernelFunc>[0];

/** The parts of tfjs-backend-wasm's BackendWasm used here (its class is not exported for typing). */
export interface WasmHeapBackend extends tf.KernelBackend {
  disposeData(dataId: object, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  /** A view of the tensor's data on the wasm heap (invalidated when the heap grows). */
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  refCount(dataId: object): number;
}

/** A float32 tensor's data, in place on the wasm heap. */
export function heapFloats(backend: WasmHeapBackend, t: TensorInfo): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`native kernels take float32 tensors, got ${t.dtype}`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** The wasm backend instance, for in-place native work on its heap. */
export function wasmHeapBackend(): WasmHeapBackend {
  return tf.findBackend('wasm') as WasmHeapBackend;
}

/**
 * Gives each variable data of its own before an in-place write on the heap: a reshape, clone or assign may
 * share it. The copy must be a real one: tf.clone is the native backend's copy-free Identity.
 */
export function ownDataForWrite(backend: WasmHeapBackend, variables: tf.Variable[]): void {
  for (const x of variables) {
    if (backend.refCount(x.dataId) > 1) tf.tidy(() => x.assign(tf.tensor(x.dataSync(), x.shape, 'float32')));
  }
}
