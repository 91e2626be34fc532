/**
 * Dropout (paper §2.1: 0.2 on the input, 0.5 after each hidden layer of the MNIST MLP): tfjs's own
 * Dropout layer — same config and saved form (saved and loaded as 'Dropout') — whose masks are
 * drawn from this layer's seed and a per-call counter, so that a run is reproducible, and, where
 * the backend has the kernel (the native backend), drawn natively: tfjs draws them in JavaScript,
 * which took a visible share of a 3×4096 training step. Elsewhere the mask is tfjs's own formula on a
 * seeded tf.randomUniform. Either way y = x · mask, mask = 1/(1 − rate) with probability 1 − rate, else 0.
 * Where x holds ±1 (a sign activation's output), y is marked as holding 0 and ±1/(1 − rate), so that the next
 * binary layer's product can still be the XNOR kernel (lib/tfjs/binaryMatMul.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { seedSequence } from '../random';
import { isSigns, markDroppedSigns } from '../tfjs/binaryMatMul';
import { BNN_DROPOUT_MASK, hasKernel, type BnnDropoutMaskAttrs } from '../tfjs/kernelNames';

type DropoutLayer = ReturnType<typeof tf.layers.dropout>;
type DropoutArgs = Parameters<typeof tf.layers.dropout>[0];

// tfjs-layers exports the class only as a type; its constructor comes from an instance.
const DropoutClass = tf.layers.dropout({ rate: 0.5 }).constructor as new (args: DropoutArgs) => DropoutLayer;

export class Dropout extends DropoutClass {
  private readonly nextSeed: () => number;

  constructor(args: DropoutArgs) {
    // tfjs's layer would reuse one seed for every call (the same mask each step): ours is kept apart.
    super({ ...args, seed: undefined });
    this.nextSeed = seedSequence(args.seed ?? 1);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const rate = (this as unknown as { rate: number }).rate;
    const noiseShape = (this as unknown as { noiseShape?: number[] }).noiseShape;
    if (kwargs?.training !== true || !(rate > 0) || noiseShape) return super.call(inputs, kwargs);
    const seed = this.nextSeed();
    return tf.tidy(() => {
      const attrs: BnnDropoutMaskAttrs = { shape: x.shape, rate, seed };
      const mask = hasKernel(BNN_DROPOUT_MASK)
        ? (tf.engine().runKernel(BNN_DROPOUT_MASK, {}, { ...attrs }) as tf.Tensor)
        : tf.div(tf.floor(tf.add(tf.randomUniform(x.shape, 0, 1, 'float32', seed), 1 - rate)), 1 - rate);
      const y = tf.mul(x, mask);
      // The mask's nonzero value, as float32 arithmetic gives it: 1 / (1 − rate).
      return isSigns(x) ? markDroppedSigns(y, Math.fround(1 / Math.fround(1 - rate))) : y;
    });
  }
}
