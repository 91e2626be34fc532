/** Squared hinge loss on ±1 targets (the L2-SVM output layer): mean(max(0, 1 − t·y)²). */
import * as tf from '@tensorflow/tfjs';

export function squaredHinge(targets: tf.Tensor, scores: tf.Tensor): tf.Scalar {
  if (targets.shape.join() !== scores.shape.join()) {
    throw new Error(`squaredHinge: targets [${targets.shape}] and scores [${scores.shape}] differ in shape`);
  }
  return tf.tidy(() => tf.mean(tf.square(tf.relu(tf.sub(1, tf.mul(targets, scores))))) as tf.Scalar);
}

/** Fraction of rows whose highest score is not at the target's +1. */
export function classificationError(targets: tf.Tensor, scores: tf.Tensor): number {
  return tf.tidy(() => classificationErrorTensor(targets, scores).dataSync()[0]);
}

/** `classificationError` as a scalar tensor, to be read asynchronously (as the trainer does on every backend). */
export function classificationErrorTensor(targets: tf.Tensor, scores: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.cast(tf.notEqual(tf.argMax(scores, -1), tf.argMax(targets, -1)), 'float32')));
}
