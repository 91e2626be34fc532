/**
 * AP2(x) = sign(x) · 2^round(log2|x|): the "approximate power of 2" of the paper's shift-based
 * BatchNorm (Algorithm 3) and AdaMax (Algorithm 4); multiplying by AP2(y) is a bit shift.
 * AP2(0) = 0. Its gradient is taken as the identity (straight-through), since round() has none.
 */
import * as tf from '@tensorflow/tfjs';
import { customGradOp } from './tfjs/customGrad';

export function ap2Forward(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const mag = tf.pow(2, tf.round(tf.log(tf.abs(x)).div(Math.LN2)));
    return tf.where(tf.equal(x, 0), tf.zerosLike(x), tf.mul(tf.sign(x), mag));
  });
}

export const ap2 = customGradOp<[tf.Tensor]>((x) => ({ value: ap2Forward(x), gradFunc: (dy) => dy }));

/** AP2 of a plain number. */
export function ap2Scalar(x: number): number {
  return x === 0 ? 0 : Math.sign(x) * 2 ** Math.round(Math.log2(Math.abs(x)));
}
