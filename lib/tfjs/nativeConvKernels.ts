/**
 * ConvNet kernels of the native backend (native/conv_ops.cc): registered by setNativeKernels in
 * lib/tfjs/nativeKernels.ts, on tensors in place on the wasm heap.
 */
import type { NativeAddon } from '../kernels/native';
import type { KernelReplacer } from './nativeKernels';

export function registerNativeConvKernels(addon: NativeAddon, replace: KernelReplacer): void {
  void addon;
  void replace;
}
