/**
 * tf.customGrad with its types: tfjs declares it for a fixed list of `Tensor` arguments and a gradient
 * function typed loosely, so each use needed a double cast. Here once, typed by the op's inputs.
 */
import * as tf from '@tensorflow/tfjs';

/** An op's forward: its value, and the gradient with respect to each input given the output's gradient. */
export type GradientOp<Inputs extends tf.Tensor[]> = (...args: [...Inputs, tf.GradSaveFunc]) => {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
};

export function customGradOp<Inputs extends tf.Tensor[]>(f: GradientOp<Inputs>): (...inputs: Inputs) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (
    ...inputs: Inputs
  ) => tf.Tensor;
}
