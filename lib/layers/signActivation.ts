/**
 * The binary activation a_b = sign(a) with the straight-through gradient (the paper's
 * "binary tanh" unit), or its stochastic variant. A layer of its own so that a model reads like
 * the paper: BinaryDense → BatchNorm → SignActivation.
 */
import * as tf from '@tensorflow/tfjs';
import { checkQuantizer, quantize, type QuantizerName } from '../quantizers';

export interface SignActivationArgs {
  quantizer?: QuantizerName;
  seed?: number;
  name?: string;
  inputShape?: tf.Shape;
}

export class SignActivation extends tf.layers.Layer {
  static className = 'SignActivation';
  readonly quantizer: QuantizerName;
  readonly seed: number;
  private draws = 0;

  constructor(args: SignActivationArgs = {}) {
    super(args);
    this.quantizer = checkQuantizer(args.quantizer ?? 'steSign', 'SignActivation quantizer') ?? 'steSign';
    this.seed = args.seed ?? 1;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return quantize(this.quantizer, x, () => this.seed * 1_000_003 + ++this.draws);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), quantizer: this.quantizer, seed: this.seed };
  }
}
tf.serialization.registerClass(SignActivation);
