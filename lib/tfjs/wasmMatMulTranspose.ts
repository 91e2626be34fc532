/**
 * The wasm backend's BatchMatMul is fast (XNNPACK) without transposes but takes a slow path when
 * `transposeA`/`transposeB` is set, an order of magnitude slower at the MLP's shapes than an explicit
 * transpose followed by the plain product (`npm run profile` shows it). Every Dense
 * gradient uses those flags, so training an MLP on wasm was dominated by them. This wraps the
 * kernel: transposes are done explicitly by the Transpose kernel, then the fast path runs.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig } from '@tensorflow/tfjs-core';

type TensorInfo = tf.TensorInfo;

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

function withExplicitTransposes(kernelName: string): void {
  const original = tf.getKernel(kernelName, 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!original || !transpose || (original as { explicitTransposes?: boolean }).explicitTransposes) return;
  tf.unregisterKernel(kernelName, 'wasm');
  const config = {
    ...original,
    explicitTransposes: true,
    kernelFunc: (args: Parameters<KernelConfig['kernelFunc']>[0]) => {
      const attrs = args.attrs as { transposeA: boolean; transposeB: boolean };
      if (!attrs.transposeA && !attrs.transposeB) return original.kernelFunc(args);
      const backend = args.backend as { disposeData(id: object): void };
      const temporaries: TensorInfo[] = [];
      const explicit = (t: TensorInfo) => {
        const out = transpose.kernelFunc({
          inputs: { x: t },
          backend: args.backend,
          attrs: { perm: swapLastTwo(t.shape.length) },
        }) as TensorInfo;
        temporaries.push(out);
        return out;
      };
      const inputs = { ...args.inputs };
      if (attrs.transposeA) inputs.a = explicit(inputs.a as TensorInfo);
      if (attrs.transposeB) inputs.b = explicit(inputs.b as TensorInfo);
      const result = original.kernelFunc({
        ...args,
        inputs,
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
      for (const t of temporaries) backend.disposeData(t.dataId);
      return result;
    },
  };
  tf.registerKernel(config as KernelConfig);
}

/** Idempotent; call after the wasm backend module is loaded. */
export function registerWasmMatMulTransposes(): void {
  withExplicitTransposes('BatchMatMul');
  withExplicitTransposes('_FusedMatMul');
}
