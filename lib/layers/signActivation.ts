/**
 * The binary activation a_b = sign(a) with the straight-through gradient (the paper's
 * "binary tanh" unit), or its stochastic variant. A layer of its own so that a model reads like
 * the paper: BinaryDense → BatchNorm → SignActivation.
 */
import * as tf from '@tensorflow/tfjs';
import { quantize, resolveQuantizer, STE_SIGN, type Quantizer } from '../quantizers';
import { seedSequence } from '../random';

export interface SignActivationArgs {
  /** Registered quantizer object or name (default 'steSign'). */
  quantizer?: Quantizer | string;
  seed?: number;
  name?: string;
  inputShape?: tf.Shape;
}

export class SignActivation extends tf.layers.Layer {
  static className = 'SignActivation';
  readonly quantizer: Quantizer;
  readonly seed: number;
  private readonly nextSeed: () => number;

  constructor(args: SignActivationArgs = {}) {
    super(args);
    this.quantizer =
      resolveQuantizer(args.quantizer ?? STE_SIGN, `SignActivation '${this.name}' quantizer`) ?? STE_SIGN;
    this.seed = args.seed ?? 1;
    this.nextSeed = seedSequence(this.seed);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return quantize(this.quantizer, x, this.nextSeed);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), quantizer: this.quantizer.name, seed: this.seed };
  }
}
tf.serialization.registerClass(SignActivation);
