/**
 * The optimizer's whole update of one parameter as one native pass, where the native backend is active:
 * the moments, the step, the per-layer learning-rate scale and the clip, with one read and one write of
 * each array, in place on the wasm heap, on all cores (native/train_ops.cc). The optimizer
 * (lib/optim/optimizers.ts) states the update rule; this file is how it reaches the addon.
 */
import * as tf from '@tensorflow/tfjs';
import { activeNativeAddon } from './nativeKernels';
import { heapFloats, ownDataForWrite, wasmHeapBackend } from './wasmHeap';

export interface FusedUpdate {
  /** Adam (Lasagne's) or the paper's shift-based AdaMax (Algorithm 4). */
  rule: 'adam' | 'shift_adamax';
  param: tf.Variable;
  grad: tf.Tensor;
  /** First and second moments (AdaMax: the infinity norm), updated in place. */
  m: tf.Variable;
  v: tf.Variable;
  /** The step size times the parameter's learning-rate scale. */
  scale: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Clip the result to [−clip, clip]; 0 for none. */
  clip: number;
}

/** Whether `applyFusedUpdate` can run (the native backend is active). */
export function fusedUpdateAvailable(): boolean {
  return activeNativeAddon() !== null;
}

export function applyFusedUpdate(u: FusedUpdate): void {
  const addon = activeNativeAddon();
  if (!addon) throw new Error('the fused update needs the native backend');
  const backend = wasmHeapBackend();
  ownDataForWrite(backend, [u.param, u.m, u.v]);
  const n = u.param.size;
  if (u.grad.size !== n) throw new Error(`gradient of ${u.param.name} has ${u.grad.size} values, the parameter ${n}`);
  addon.optimizerStep({
    kind: u.rule === 'adam' ? 0 : 1,
    w: heapFloats(backend, u.param),
    g: heapFloats(backend, u.grad),
    m: heapFloats(backend, u.m),
    v: heapFloats(backend, u.v),
    n,
    stepScale: u.scale,
    beta1: u.beta1,
    beta2: u.beta2,
    epsilon: u.epsilon,
    clip: u.clip,
  });
}
