/**
 * Times every tfjs kernel of a backend by re-registering each one with a wrapper around its
 * kernelFunc. On wasm (and the native path, which runs inside it) kernels are synchronous, so the
 * wall time of a kernelFunc call is the kernel's whole cost. Kernels that run other kernels through
 * the registry (the project's own transposed-BatchMatMul fix does) are counted by self time: a
 * nested call's time goes to the inner kernel only.
 */
import * as tf from '@tensorflow/tfjs';

export interface KernelStat {
  calls: number;
  /** Self time in ms (nested registered kernels excluded). */
  ms: number;
}

export interface KernelTimer {
  readonly backend: string;
  /** Names of the kernels wrapped. */
  readonly kernels: string[];
  /** Per kernel, per bucket (the current `bucket` when each call began). */
  readonly stats: Map<string, Map<string, KernelStat>>;
  /** Calls from now on are counted under this bucket (e.g. a training-step phase). */
  bucket: string;
  /** Forgets everything counted so far. */
  reset(): void;
  /** Puts the original kernels back; the timer counts nothing more. */
  restore(): void;
}

export function wrapKernels(backend: string = tf.getBackend()): KernelTimer {
  const originals = tf.getKernelsForBackend(backend);
  const stats = new Map<string, Map<string, KernelStat>>();
  // Time spent in nested kernel calls, one entry per open call, to subtract from the caller.
  const childMs: number[] = [];
  let restored = false;
  const timer: KernelTimer = {
    backend,
    kernels: originals.map((k) => k.kernelName),
    stats,
    bucket: 'all',
    reset: () => stats.clear(),
    restore: () => {
      if (restored) return;
      restored = true;
      for (const config of originals) {
        tf.unregisterKernel(config.kernelName, backend);
        tf.registerKernel(config);
      }
    },
  };
  for (const config of originals) {
    const inner = config.kernelFunc;
    const name = config.kernelName;
    const kernelFunc: tf.KernelFunc = (args) => {
      const bucket = timer.bucket;
      childMs.push(0);
      const t0 = performance.now();
      try {
        return inner(args);
      } finally {
        const elapsed = performance.now() - t0;
        const self = elapsed - childMs.pop()!;
        if (childMs.length) childMs[childMs.length - 1] += elapsed;
        let byBucket = stats.get(name);
        if (!byBucket) stats.set(name, (byBucket = new Map()));
        const s = byBucket.get(bucket) ?? { calls: 0, ms: 0 };
        s.calls += 1;
        s.ms += self;
        byBucket.set(bucket, s);
      }
    };
    tf.unregisterKernel(name, backend);
    // setupFunc already ran when the backend initialised; its closures are shared with `inner`.
    tf.registerKernel({ ...config, kernelFunc });
  }
  return timer;
}
