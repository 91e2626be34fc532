/**
 * Binary fully connected layer: s = x_b · sign(W), no bias (the BatchNorm that follows every
 * binary layer has its own shift β, which makes a bias redundant). Where x_b is ±1 (a sign's output, not the
 * first layer's real input) the product is the XNOR kernel on backends that have one (lib/tfjs/binaryMatMul.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { binaryAwareMatMul } from '../tfjs/binaryMatMul';
import { BinaryKernelLayer, type BinaryKernelLayerArgs } from './binaryKernelLayer';

export interface BinaryDenseArgs extends BinaryKernelLayerArgs {
  units: number;
}

export class BinaryDense extends BinaryKernelLayer {
  static className = 'BinaryDense';
  readonly units: number;

  constructor(args: BinaryDenseArgs) {
    super(args);
    if (!Number.isInteger(args.units) || args.units < 1) {
      throw new Error(`BinaryDense: units must be a positive integer, got ${args.units}`);
    }
    this.units = args.units;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    const inputDim = shape[shape.length - 1];
    if (shape.length !== 2 || !inputDim) {
      throw new Error(`BinaryDense expects inputs [batch, features], got [${shape.join(', ')}]`);
    }
    this.addKernel([inputDim, this.units]);
    this.built = true;
  }

  protected fans(): { fanIn: number; fanOut: number } {
    const [fanIn, fanOut] = this.latentKernel.shape as number[];
    return { fanIn, fanOut };
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return [(inputShape as tf.Shape)[0], this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = this.quantizeInput(Array.isArray(inputs) ? inputs[0] : inputs);
      return binaryAwareMatMul(x as tf.Tensor2D, this.effectiveKernel() as tf.Tensor2D);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units };
  }
}
tf.serialization.registerClass(BinaryDense);
