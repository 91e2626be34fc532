/**
 * Binarization (paper §1.1–1.3) as small functions on tensors.
 *
 * - `sign`: deterministic binarization, +1 if x ≥ 0 else −1 (zero maps to +1 everywhere in this
 *   project, kernels included).
 * - `steSign`: the same forward pass with the straight-through estimator and gradient
 *   cancellation, g_x = g_{sign(x)} · 1_{|x| ≤ 1} (the derivative of hard tanh). The paper's
 *   "binary tanh" activation is exactly this.
 * - `stochasticSign`: +1 with probability hard_sigmoid(x) = clip((x + 1) / 2, 0, 1), else −1,
 *   with the same straight-through gradient.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Fused kernels of our own, which a backend may register (the native backend does:
 * lib/tfjs/nativeKernels.ts); elsewhere the same maths runs as a composite of tfjs ops.
 */
export const BNN_SIGN = 'BnnSign';
export const BNN_STE_GRAD = 'BnnSteGrad';

/** Whether the active backend has a fused kernel of ours (the native backend does). */
function fused(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}

/**
 * Deterministic sign with 0 → +1. No gradient (it is 0 almost everywhere).
 * step(−x, −1) is +1 where x < 0 and −1 where x ≥ 0, so its negation is the sign we want; two
 * cheap unary kernels instead of compare + cast + scale + shift (measured 2× faster on wasm).
 */
export function sign(x: tf.Tensor): tf.Tensor {
  if (fused(BNN_SIGN)) return tf.engine().runKernel(BNN_SIGN, { x }) as tf.Tensor;
  return tf.tidy(() => tf.neg(tf.step(tf.neg(x), -1)));
}

/** hard_sigmoid(x) = clip((x + 1) / 2, 0, 1). */
export function hardSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.clipByValue(tf.div(tf.add(x, 1), 2), 0, 1));
}

/** 1 where |x| ≤ 1, else 0: the STE's gradient-cancellation mask. */
export function steMask(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.cast(tf.lessEqual(tf.abs(x), 1), 'float32'));
}

/** Forward `forward(x)`, backward the straight-through estimator with gradient cancellation. */
function withSteGradient(forward: (x: tf.Tensor) => tf.Tensor): (x: tf.Tensor) => tf.Tensor {
  const f = (x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    return {
      value: forward(x),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        fused(BNN_STE_GRAD) ? (tf.engine().runKernel(BNN_STE_GRAD, { dy, x: saved[0] }) as tf.Tensor) : tf.mul(dy, steMask(saved[0])),
    };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
}

/** sign(x) forward, `dy · 1_{|x| ≤ 1}` backward: the paper's binary tanh unit. */
export const steSign: (x: tf.Tensor) => tf.Tensor = withSteGradient(sign);

/** +1 with probability hard_sigmoid(x), −1 otherwise; `seed` makes the draw reproducible. */
export function stochasticSignForward(x: tf.Tensor, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const u = tf.randomUniform(x.shape, 0, 1, 'float32', seed);
    return tf.sub(tf.mul(tf.cast(tf.less(u, hardSigmoid(x)), 'float32'), 2), 1);
  });
}

/** Stochastic binarization with the straight-through gradient. */
export function stochasticSteSign(x: tf.Tensor, seed: number): tf.Tensor {
  return withSteGradient((v) => stochasticSignForward(v, seed))(x);
}

/** Names used in layer configs and saved models (camelCase: tfjs rewrites snake_case config strings on load). */
export type QuantizerName = 'steSign' | 'stochasticSign';
export const QUANTIZERS: readonly QuantizerName[] = ['steSign', 'stochasticSign'];

export function checkQuantizer(name: unknown, what: string): QuantizerName | null {
  if (name === null || name === undefined) return null;
  if (!QUANTIZERS.includes(name as QuantizerName)) {
    throw new Error(`${what}: unknown quantizer '${String(name)}' (use ${QUANTIZERS.join(', ')} or null)`);
  }
  return name as QuantizerName;
}

/**
 * A named quantizer as a function. Stochastic quantizers draw a fresh seed per call from
 * `nextSeed`, so that every forward pass samples anew yet a run is reproducible.
 */
export function quantize(name: QuantizerName, x: tf.Tensor, nextSeed: () => number): tf.Tensor {
  return name === 'steSign' ? steSign(x) : stochasticSteSign(x, nextSeed());
}
