/**
 * Adam (as in Lasagne, which the paper's Theano code uses) and the paper's shift-based AdaMax
 * (Algorithm 4), written out so that each parameter can carry its own learning-rate scale (the
 * Glorot scale of binary weights) and constraint (clipping to [−H, H] after the update).
 *
 * 'bop' is Bop (Helwegen et al., NeurIPS 2019, "Latent weights do not exist", Algorithm 1) for the
 * binary kernels and Adam for every other parameter (BatchNorm's γ and β), as larq's
 * CaseOptimizer(Bop, Adam): a binary kernel holds ±H itself (no latent weights), and Bop flips a sign
 * where an exponential moving average of its gradient is strong enough and agrees with it.
 */
import * as tf from '@tensorflow/tfjs';
import type { Constraint } from '@tensorflow/tfjs-layers/dist/constraints';
import { ap2, ap2Scalar } from '../shift';
import { Clip } from '../layers/clip';
import { isQuantizedLayer } from '../layers/binaryKernelLayer';
import { applyFusedUpdate, fusedUpdateAvailable } from '../tfjs/fusedUpdate';
import { heapFloats, ownDataForWrite, wasmHeapBackend } from '../tfjs/wasmHeap';

export interface Param {
  variable: tf.Variable;
  /** Multiplies this parameter's update (1 for BatchNorm parameters). */
  lrScale: number;
  /** Applied to the parameter after every update (the binary weights' clip). */
  constraint?: Constraint;
  /** A kernel that the forward pass binarizes (1-bit quantizer): Bop trains it; the others Adam. */
  binary?: boolean;
}

export type OptimizerName = 'adam' | 'shift_adamax' | 'bop';
export const OPTIMIZERS: readonly OptimizerName[] = ['adam', 'shift_adamax', 'bop'];

/** Bop's hyperparameters (Helwegen et al. 2019; their CIFAR-10 values: γ = 1e-4, τ = 1e-8). */
export interface BopSettings {
  /** Adaptivity rate γ of the gradient's moving average, in (0, 1]; the trainer schedules it per epoch. */
  gamma: number;
  /** Threshold τ ≥ 0: a weight flips only where |m| > τ. */
  threshold: number;
}

export interface OptimizerOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Used by 'bop' only (default γ = 1e-4, τ = 1e-8). */
  bop?: BopSettings;
}

export interface OptimizerState {
  name: OptimizerName;
  step: number;
  /**
   * First and second moment per parameter, in `params` order. Under 'bop', a binary kernel's `m` is
   * Bop's moving average of its gradient and its `v` stays zero.
   */
  moments: { m: Float32Array; v: Float32Array }[];
}

/** Checks Bop's γ and τ; throws naming the impossible value. */
export function checkBopSettings({ gamma, threshold }: BopSettings): void {
  if (!(gamma > 0 && gamma <= 1)) throw new Error(`Bop's adaptivity rate gamma must be in (0, 1], got ${gamma}`);
  if (!(threshold >= 0 && Number.isFinite(threshold)))
    throw new Error(`Bop's threshold tau must be a finite number ≥ 0, got ${threshold}`);
}

export class BinaryNetOptimizer {
  private t = 0;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** Bop's γ (the trainer sets each epoch's, `bopGammaAtEpoch`) and τ. */
  readonly bop: BopSettings;

  constructor(
    readonly name: OptimizerName,
    readonly params: Param[],
    options: OptimizerOptions = {},
  ) {
    if (!OPTIMIZERS.includes(name)) throw new Error(`unknown optimizer '${name}' (use ${OPTIMIZERS.join(', ')})`);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.bop = { ...(options.bop ?? { gamma: 1e-4, threshold: 1e-8 }) };
    checkBopSettings(this.bop);
    this.m = params.map((p) => tf.variable(tf.zerosLike(p.variable), false));
    this.v = params.map((p) => tf.variable(tf.zerosLike(p.variable), false));
    if (name === 'bop') this.params.filter((p) => p.binary).forEach((p) => binarizeInPlace(p));
  }

  /** Whether Bop, not Adam, updates `params[i]`. */
  private flips(i: number): boolean {
    return this.name === 'bop' && this.params[i].binary === true;
  }

  /** Sets Bop's adaptivity rate γ (the trainer: once per epoch, by its schedule). */
  setBopGamma(gamma: number): void {
    checkBopSettings({ ...this.bop, gamma });
    this.bop.gamma = gamma;
  }

  /** One update with learning rate `lr`; `grads[i]` is the gradient of `params[i]`. */
  apply(grads: tf.Tensor[], lr: number): void {
    if (grads.length !== this.params.length)
      throw new Error(`${grads.length} gradients for ${this.params.length} parameters`);
    this.t += 1;
    const fused = fusedUpdateAvailable();
    this.params.forEach((p, i) => {
      if (this.flips(i)) {
        if (tf.getBackend() === 'wasm') this.applyBopInPlace(i, grads[i]);
        else tf.tidy(() => this.applyBop(i, grads[i]));
        return;
      }
      const clip = p.constraint === undefined ? 0 : p.constraint instanceof Clip ? p.constraint.limit : null;
      if (fused && clip !== null) this.applyFused(i, grads[i], lr, clip);
      else tf.tidy(() => this.applyComposite(i, grads[i], lr));
    });
  }

  /**
   * Bop (Helwegen et al. 2019, Algorithm 1) on a binary kernel w ∈ {−H, +H}; as tfjs ops on every
   * backend. No learning rate, Glorot scale or clip: the weights are ±H and only change sign.
   */
  private applyBop(i: number, g: tf.Tensor): void {
    const { gamma, threshold: tau } = this.bop;
    const w = this.params[i].variable;
    const h = clipLimit(this.params[i]);
    const m = tf.add(tf.mul(this.m[i], 1 - gamma), tf.mul(g, gamma)); // m ← (1 − γ)·m + γ·g
    // flip where |m| > τ and sign(m) = sign(w), i.e. m·w > τ·H (w = ±H): w ← −w
    const flip = tf.greater(tf.mul(m, w), tau * h);
    this.m[i].assign(m);
    w.assign(tf.where(flip, tf.neg(w), w));
  }

  /**
   * The same update as `applyBop`, bit for bit (float32 at each operation, as the ops round), in one
   * pass over the wasm heap in place (the native and wasm backends): seven array ops become one loop.
   */
  private applyBopInPlace(i: number, grad: tf.Tensor): void {
    const f = Math.fround;
    const backend = wasmHeapBackend();
    const param = this.params[i].variable;
    ownDataForWrite(backend, [param, this.m[i]]);
    const w = heapFloats(backend, param);
    const m = heapFloats(backend, this.m[i]);
    const g = heapFloats(backend, grad);
    const keep = f(1 - this.bop.gamma);
    const gamma = f(this.bop.gamma);
    const limit = f(this.bop.threshold * clipLimit(this.params[i]));
    for (let k = 0; k < w.length; k++) {
      m[k] = f(keep * m[k]) + f(gamma * g[k]); // m ← (1 − γ)·m + γ·g
      if (f(m[k] * w[k]) > limit) w[k] = -w[k]; // |m| > τ and sign(m) = sign(w): w ← −w
    }
  }

  /** Step sizes: Adam's bias-corrected rate (Lasagne), AdaMax's power-of-2 one (Algorithm 4). */
  private stepScale(lr: number): number {
    const { beta1: b1, beta2: b2, t } = this;
    return this.name !== 'shift_adamax' ? (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t) : ap2Scalar(lr / (1 - b1 ** t));
  }

  /** The update as tfjs ops: several passes over each array (every backend). */
  private applyComposite(i: number, g: tf.Tensor, lr: number): void {
    const { beta1: b1, beta2: b2, epsilon: eps } = this;
    const p = this.params[i];
    const scale = this.stepScale(lr) * p.lrScale;
    const m = tf.add(tf.mul(this.m[i], b1), tf.mul(g, 1 - b1));
    let v: tf.Tensor;
    let step: tf.Tensor;
    if (this.name !== 'shift_adamax') {
      v = tf.add(tf.mul(this.v[i], b2), tf.mul(tf.square(g), 1 - b2));
      step = tf.mul(tf.div(m, tf.add(tf.sqrt(v), eps)), scale);
    } else {
      // Algorithm 4: v = max(β2·v, |g|); θ −= (α ⋘⋙ (1 − β1^t)^−1) · (m ⋘⋙ v^−1).
      v = tf.maximum(tf.mul(this.v[i], b2), tf.abs(g));
      step = tf.mul(tf.mul(m, ap2(tf.reciprocal(tf.add(v, eps)))), scale);
    }
    this.m[i].assign(m);
    this.v[i].assign(v);
    const updated = tf.sub(p.variable, step);
    p.variable.assign(p.constraint ? p.constraint.apply(updated) : updated);
  }

  /** The same update as one native pass on the native backend (lib/tfjs/fusedUpdate.ts). */
  private applyFused(i: number, grad: tf.Tensor, lr: number, clip: number): void {
    const { beta1, beta2, epsilon } = this;
    const param = this.params[i].variable;
    const scale = this.stepScale(lr) * this.params[i].lrScale;
    const rule = this.name === 'shift_adamax' ? 'shift_adamax' : 'adam'; // 'bop': Adam for what it does not flip
    applyFusedUpdate({ rule, param, grad, m: this.m[i], v: this.v[i], scale, beta1, beta2, epsilon, clip });
  }

  /** The moments, read asynchronously (every backend, webgpu included, can). */
  async getState(): Promise<OptimizerState> {
    const read = async (x: tf.Variable) => (await x.data()) as Float32Array;
    const moments = await Promise.all(this.m.map(async (m, i) => ({ m: await read(m), v: await read(this.v[i]) })));
    return { name: this.name, step: this.t, moments };
  }

  setState(state: OptimizerState): void {
    if (state.name !== this.name) throw new Error(`optimizer state is for '${state.name}', not '${this.name}'`);
    if (state.moments.length !== this.params.length)
      throw new Error(`optimizer state has ${state.moments.length} parameters, model has ${this.params.length}`);
    this.t = state.step;
    state.moments.forEach(({ m, v }, i) => {
      this.m[i].assign(tf.tensor(m, this.m[i].shape));
      this.v[i].assign(tf.tensor(v, this.v[i].shape));
    });
  }

  dispose(): void {
    [...this.m, ...this.v].forEach((x) => x.dispose());
  }
}

/** The clip limit H of a parameter (1 when it has no Clip). */
function clipLimit(p: Param): number {
  return p.constraint instanceof Clip ? p.constraint.limit : 1;
}

/** Bop's starting point: each binary weight becomes ±H, the sign of its usual initialisation (0 → +H). */
function binarizeInPlace(p: Param): void {
  const h = clipLimit(p);
  tf.tidy(() => p.variable.assign(tf.where(tf.greaterEqual(p.variable, 0), h, -h)));
}

/** Trainable parameters of a model, each latent kernel with its layer's Glorot scale and clip. */
export function modelParams(model: tf.LayersModel, glorotScale = true): Param[] {
  const params: Param[] = [];
  for (const layer of model.layers) {
    const quantized = isQuantizedLayer(layer) ? layer : null;
    for (const w of layer.trainableWeights) {
      const kernel = quantized?.latentKernel === w;
      params.push({
        variable: w.read() as tf.Variable,
        lrScale: kernel && glorotScale ? quantized!.kernelLrScale : 1,
        constraint: w.constraint ?? undefined,
        binary: kernel && quantized!.kernelQuantizer?.precision === 1,
      });
    }
  }
  return params;
}
