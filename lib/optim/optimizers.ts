/**
 * Adam (as in Lasagne, which the paper's Theano code uses) and the paper's shift-based AdaMax
 * (Algorithm 4), written out so that each parameter can carry its own learning-rate scale (the
 * Glorot scale of binary weights) and constraint (clipping to [−H, H] after the update).
 */
import * as tf from '@tensorflow/tfjs';
import type { Constraint } from '@tensorflow/tfjs-layers/dist/constraints';
import { ap2, ap2Scalar } from '../shift';
import { Clip } from '../layers/clip';
import { isQuantizedLayer } from '../layers/binaryKernelLayer';
import { applyFusedUpdate, fusedUpdateAvailable } from '../tfjs/fusedUpdate';

export interface Param {
  variable: tf.Variable;
  /** Multiplies this parameter's update (1 for BatchNorm parameters). */
  lrScale: number;
  /** Applied to the parameter after every update (the binary weights' clip). */
  constraint?: Constraint;
}

export type OptimizerName = 'adam' | 'shift_adamax';
export const OPTIMIZERS: readonly OptimizerName[] = ['adam', 'shift_adamax'];

export interface OptimizerState {
  name: OptimizerName;
  step: number;
  /** First and second moment per parameter, in `params` order. */
  moments: { m: Float32Array; v: Float32Array }[];
}

export class BinaryNetOptimizer {
  private t = 0;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];

  constructor(
    readonly name: OptimizerName,
    readonly params: Param[],
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly epsilon = 1e-8,
  ) {
    if (!OPTIMIZERS.includes(name)) throw new Error(`unknown optimizer '${name}' (use ${OPTIMIZERS.join(', ')})`);
    this.m = params.map((p) => tf.variable(tf.zerosLike(p.variable), false));
    this.v = params.map((p) => tf.variable(tf.zerosLike(p.variable), false));
  }

  /** One update with learning rate `lr`; `grads[i]` is the gradient of `params[i]`. */
  apply(grads: tf.Tensor[], lr: number): void {
    if (grads.length !== this.params.length)
      throw new Error(`${grads.length} gradients for ${this.params.length} parameters`);
    this.t += 1;
    const fused = fusedUpdateAvailable();
    this.params.forEach((p, i) => {
      const clip = p.constraint === undefined ? 0 : p.constraint instanceof Clip ? p.constraint.limit : null;
      if (fused && clip !== null) this.applyFused(i, grads[i], lr, clip);
      else tf.tidy(() => this.applyComposite(i, grads[i], lr));
    });
  }

  /** Step sizes: Adam's bias-corrected rate (Lasagne), AdaMax's power-of-2 one (Algorithm 4). */
  private stepScale(lr: number): number {
    const { beta1: b1, beta2: b2, t } = this;
    return this.name === 'adam' ? (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t) : ap2Scalar(lr / (1 - b1 ** t));
  }

  /** The update as tfjs ops: several passes over each array (every backend). */
  private applyComposite(i: number, g: tf.Tensor, lr: number): void {
    const { beta1: b1, beta2: b2, epsilon: eps } = this;
    const p = this.params[i];
    const scale = this.stepScale(lr) * p.lrScale;
    const m = tf.add(tf.mul(this.m[i], b1), tf.mul(g, 1 - b1));
    let v: tf.Tensor;
    let step: tf.Tensor;
    if (this.name === 'adam') {
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
    applyFusedUpdate({ rule: this.name, param, grad, m: this.m[i], v: this.v[i], scale, beta1, beta2, epsilon, clip });
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

/** Trainable parameters of a model, each latent kernel with its layer's Glorot scale and clip. */
export function modelParams(model: tf.LayersModel, glorotScale = true): Param[] {
  const params: Param[] = [];
  for (const layer of model.layers) {
    const quantized = isQuantizedLayer(layer) ? layer : null;
    for (const w of layer.trainableWeights) {
      params.push({
        variable: w.read() as tf.Variable,
        lrScale: quantized?.latentKernel === w && glorotScale ? quantized.kernelLrScale : 1,
        constraint: w.constraint ?? undefined,
      });
    }
  }
  return params;
}
