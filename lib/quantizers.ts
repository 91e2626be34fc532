/**
 * Binarization (paper §1.1–1.3) as quantizer objects in one registry.
 *
 * A quantizer is a forward function (what the network computes with), the gradient it passes
 * back (the straight-through estimator: the forward is flat almost everywhere), its precision in
 * bits (for the summary's memory and MAC counts) and whether the packed engine (lib/engine) can
 * run it. Layers save a quantizer by its name and look it up here on load, so a quantizer of the
 * user's own works everywhere once it is registered: adding one touches one file.
 *
 * Built-ins:
 * - `steSign`: deterministic binarization, +1 if x ≥ 0 else −1 (zero maps to +1 everywhere in this
 *   project, kernels included), with the straight-through gradient and gradient cancellation,
 *   g_x = g_{sign(x)} · 1_{|x| ≤ 1} (the derivative of hard tanh): the paper's "binary tanh".
 * - `stochasticSign`: +1 with probability hard_sigmoid(x) = clip((x + 1) / 2, 0, 1), else −1,
 *   with the same straight-through gradient.
 * - `identity`: no quantization (32-bit), the gradient unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { markSigns } from './tfjs/binaryMatMul';
import { customGradOp } from './tfjs/customGrad';
import { BNN_SIGN, BNN_STE_GRAD, hasKernel } from './tfjs/kernelNames';

export interface Quantizer {
  /** Its name in layer configs and saved models (camelCase: saved as snake_case, read back by tfjs as camelCase). */
  readonly name: string;
  /** Bits per quantized value: 1 for the signs, 32 for no quantization. */
  readonly precision: number;
  /**
   * Whether the packed inference engine can run it: only a 1-bit forward that is exactly the
   * deterministic sign (0 → +1), since the engine stores and computes sign bits.
   */
  readonly packable: boolean;
  /**
   * Whether every value it gives is exactly +1 or −1: a binary layer then takes the XNOR product where the
   * backend has one (lib/tfjs/binaryMatMul.ts). Absent: false.
   */
  readonly signs?: boolean;
  /** The quantized values; a stochastic quantizer draws from `seed` (fresh per call, reproducible per run). */
  forward(x: tf.Tensor, seed: number): tf.Tensor;
  /** The gradient passed back to `x` given the gradient `dy` of the output. */
  gradient(dy: tf.Tensor, x: tf.Tensor): tf.Tensor;
}

/**
 * Deterministic sign with 0 → +1. No gradient (it is 0 almost everywhere).
 * step(−x, −1) is +1 where x < 0 and −1 where x ≥ 0, so its negation is the sign we want; two
 * cheap unary kernels instead of compare + cast + scale + shift (measured 2× faster on wasm).
 */
export function sign(x: tf.Tensor): tf.Tensor {
  if (hasKernel(BNN_SIGN)) return tf.engine().runKernel(BNN_SIGN, { x }) as tf.Tensor;
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

/** The straight-through estimator with gradient cancellation: dy · 1_{|x| ≤ 1}. */
export function steGradient(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (hasKernel(BNN_STE_GRAD)) return tf.engine().runKernel(BNN_STE_GRAD, { dy, x }) as tf.Tensor;
  return tf.mul(dy, steMask(x));
}

/** +1 with probability hard_sigmoid(x), −1 otherwise; `seed` makes the draw reproducible. */
export function stochasticSignForward(x: tf.Tensor, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const u = tf.randomUniform(x.shape, 0, 1, 'float32', seed);
    return tf.sub(tf.mul(tf.cast(tf.less(u, hardSigmoid(x)), 'float32'), 2), 1);
  });
}

const registry = new Map<string, Quantizer>();

/** Makes `quantizer` usable by name in layers and saved models; a name can be taken once. */
export function registerQuantizer(quantizer: Quantizer): Quantizer {
  const { name, precision } = quantizer;
  // tfjs saves config strings in snake_case and turns them back into camelCase on load: only a
  // camelCase name (lower-case first letter) comes back unchanged.
  if (typeof name !== 'string' || !/^[a-z][A-Za-z0-9]*$/.test(name)) {
    throw new Error(`registerQuantizer: name must be camelCase letters and digits, got '${String(name)}'`);
  }
  if (!Number.isInteger(precision) || precision < 1 || precision > 32) {
    throw new Error(
      `registerQuantizer: quantizer '${name}' precision must be an integer number of bits in 1..32, got ${precision}`,
    );
  }
  if (typeof quantizer.forward !== 'function' || typeof quantizer.gradient !== 'function') {
    throw new Error(`registerQuantizer: quantizer '${name}' needs forward(x, seed) and gradient(dy, x) functions`);
  }
  const existing = registry.get(name);
  if (existing && existing !== quantizer)
    throw new Error(`registerQuantizer: a quantizer named '${name}' is already registered`);
  registry.set(name, quantizer);
  return quantizer;
}

/** Names of the registered quantizers, built-ins first. */
export function quantizerNames(): string[] {
  return [...registry.keys()];
}

/** The registered quantizer called `name`; `what` names the field for the error. */
export function getQuantizer(name: string, what = 'quantizer'): Quantizer {
  const quantizer = registry.get(name);
  if (!quantizer) {
    const registered = quantizerNames().join(', ');
    throw new Error(`${what}: unknown quantizer '${name}' (registered: ${registered}; add one with registerQuantizer)`);
  }
  return quantizer;
}

/** A quantizer given by object or name (layer arguments and configs); null or undefined for none. */
export function resolveQuantizer(value: unknown, what: string): Quantizer | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return getQuantizer(value, what);
  const quantizer = value as Quantizer;
  // An object must be the registered one, or the layer could not be loaded again from its config.
  if (registry.get(quantizer.name) !== quantizer) {
    throw new Error(`${what}: quantizer '${String(quantizer.name)}' is not registered (call registerQuantizer first)`);
  }
  return quantizer;
}

/**
 * `quantizer` applied to `x`, forward and gradient. Stochastic quantizers draw a fresh seed per
 * call from `nextSeed`, so that every forward pass samples anew yet a run is reproducible.
 */
export function quantize(quantizer: Quantizer | string, x: tf.Tensor, nextSeed: () => number): tf.Tensor {
  const q = typeof quantizer === 'string' ? getQuantizer(quantizer) : quantizer;
  const seed = nextSeed();
  const op = customGradOp<[tf.Tensor]>((input, save) => {
    save([input]);
    return { value: q.forward(input, seed), gradFunc: (dy, saved) => q.gradient(dy, saved[0]) };
  });
  const y = op(x);
  return q.signs ? markSigns(y) : y;
}

export const STE_SIGN = registerQuantizer({
  name: 'steSign',
  precision: 1,
  packable: true,
  signs: true,
  forward: (x) => sign(x),
  gradient: steGradient,
});

export const STOCHASTIC_SIGN = registerQuantizer({
  name: 'stochasticSign',
  precision: 1,
  packable: false,
  signs: true,
  forward: stochasticSignForward,
  gradient: steGradient,
});

export const IDENTITY = registerQuantizer({
  name: 'identity',
  precision: 32,
  packable: false,
  forward: (x) => tf.clone(x),
  gradient: (dy) => tf.clone(dy),
});

/** sign(x) forward, `dy · 1_{|x| ≤ 1}` backward: the paper's binary tanh unit. */
export function steSign(x: tf.Tensor): tf.Tensor {
  return quantize(STE_SIGN, x, () => 0);
}

/** Stochastic binarization with the straight-through gradient. */
export function stochasticSteSign(x: tf.Tensor, seed: number): tf.Tensor {
  return quantize(STOCHASTIC_SIGN, x, () => seed);
}

/**
 * The presets' `binarization` as a registered quantizer: the paper's two methods (§1.1), 'deterministic'
 * (STE_SIGN, the paper's results) and 'stochastic' (STOCHASTIC_SIGN), or any registered quantizer's name.
 */
export type Binarization = string;
export function quantizerFor(binarization: Binarization): Quantizer {
  if (binarization === 'deterministic') return STE_SIGN;
  if (binarization === 'stochastic') return STOCHASTIC_SIGN;
  return getQuantizer(binarization, 'binarization');
}
