/**
 * Shift-based BatchNorm (paper Algorithm 3): the multiplications of BatchNorm become shifts by
 * replacing the variance's C·C by C·AP2(C), the inverse standard deviation by its AP2, and γ by
 * AP2(γ). Moving averages as the ordinary BatchNorm (momentum 0.9 = the paper's alpha 0.1).
 * Normalises the last axis.
 */
import * as tf from '@tensorflow/tfjs';
import { ap2 } from '../shift';

export interface ShiftBatchNormArgs {
  momentum?: number;
  epsilon?: number;
  name?: string;
  inputShape?: tf.Shape;
}

export class ShiftBatchNormalization extends tf.layers.Layer {
  static className = 'ShiftBatchNormalization';
  readonly momentum: number;
  readonly epsilon: number;
  private gamma!: tf.LayerVariable;
  private beta!: tf.LayerVariable;
  private movingMean!: tf.LayerVariable;
  private movingVariance!: tf.LayerVariable;

  constructor(args: ShiftBatchNormArgs = {}) {
    super(args);
    this.momentum = args.momentum ?? 0.9;
    this.epsilon = args.epsilon ?? 1e-4;
    if (!(this.momentum >= 0 && this.momentum < 1))
      throw new Error(`ShiftBatchNormalization: momentum must be in [0, 1), got ${this.momentum}`);
    if (!(this.epsilon > 0)) throw new Error(`ShiftBatchNormalization: epsilon must be positive, got ${this.epsilon}`);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    const dim = shape[shape.length - 1] as number;
    this.gamma = this.addWeight('gamma', [dim], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('beta', [dim], 'float32', tf.initializers.zeros());
    this.movingMean = this.addWeight('moving_mean', [dim], 'float32', tf.initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight('moving_variance', [dim], 'float32', tf.initializers.ones(), undefined, false);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const axes = x.shape.map((_, i) => i).slice(0, -1);
    let centred: tf.Tensor;
    let variance: tf.Tensor;
    if (kwargs.training) {
      const mean = tf.mean(x, axes);
      centred = tf.sub(x, mean);
      variance = tf.mean(tf.mul(centred, ap2(centred)), axes);
      tf.tidy(() => {
        const m = this.momentum;
        this.movingMean.write(tf.add(tf.mul(this.movingMean.read(), m), tf.mul(mean, 1 - m)));
        this.movingVariance.write(tf.add(tf.mul(this.movingVariance.read(), m), tf.mul(variance, 1 - m)));
      });
    } else {
      centred = tf.sub(x, this.movingMean.read());
      variance = this.movingVariance.read();
    }
    const invStd = ap2(tf.rsqrt(tf.add(tf.relu(variance), this.epsilon)));
    return tf.add(tf.mul(tf.mul(centred, invStd), ap2(this.gamma.read())), this.beta.read());
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum, epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(ShiftBatchNormalization);
