/**
 * BatchNorm (paper §1.4, α = 0.1, ε = 1e-4): tfjs's own BatchNormalization layer — same config,
 * weights and saved form (it is saved and loaded as 'BatchNormalization') — whose training pass
 * runs as two fused kernels where the backend has them (the native backend): one forward (batch
 * statistics, normalization) and one backward (dx, dγ, dβ through the statistics), instead of the
 * ~40 small ops (moments, batchNorm and their gradients) that tfjs runs per layer and step. Other
 * backends, inference, and configurations other than channels-last with γ and β take tfjs's path.
 */
import * as tf from '@tensorflow/tfjs';
import { customGradOp } from '../tfjs/customGrad';
import { BNN_BATCH_NORM_GRAD, BNN_BATCH_NORM_TRAIN, hasKernel, type BnnBatchNormAttrs } from '../tfjs/kernelNames';

type BatchNormalization = ReturnType<typeof tf.layers.batchNormalization>;
type BatchNormArgs = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;

/** The parts of tfjs's layer that it keeps private. */
interface BatchNormState {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: tf.LayerVariable | null;
  beta: tf.LayerVariable | null;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

// tfjs-layers exports the class only as a type; its constructor comes from an instance.
const BatchNormalizationClass = tf.layers.batchNormalization({}).constructor as new (
  args?: BatchNormArgs,
) => BatchNormalization;

/** y = γ·x̂ + β with batch statistics, as a custom-gradient op over the two fused kernels. */
function fusedBatchNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  let stats: tf.Tensor[] = [];
  const attrs: BnnBatchNormAttrs = { epsilon };
  const op = customGradOp<[tf.Tensor, tf.Tensor, tf.Tensor]>((xs, g, b, save) => {
    const [y, mean, variance] = tf
      .engine()
      .runKernel(BNN_BATCH_NORM_TRAIN, { x: xs, gamma: g, beta: b }, { ...attrs }) as tf.Tensor[];
    save([xs, g, mean, variance]);
    stats = [tf.keep(mean), tf.keep(variance)];
    return {
      value: y,
      gradFunc: (dy, [sx, sg, sm, sv]) =>
        tf
          .engine()
          .runKernel(
            BNN_BATCH_NORM_GRAD,
            { dy, x: sx, gamma: sg, mean: sm, variance: sv },
            { ...attrs },
          ) as tf.Tensor[],
    };
  });
  const y = op(x, gamma, beta);
  return { y, mean: stats[0], variance: stats[1] };
}

export class BatchNorm extends BatchNormalizationClass {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const s = this as unknown as BatchNormState;
    const lastAxis = s.axis === -1 || s.axis === x.rank - 1;
    const fused = hasKernel(BNN_BATCH_NORM_TRAIN);
    if (kwargs?.training !== true || !fused || !lastAxis || !s.gamma || !s.beta || x.dtype !== 'float32')
      return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const { y, mean, variance } = fusedBatchNorm(x, s.gamma!.read(), s.beta!.read(), s.epsilon);
      // The moving averages exactly as tfjs's layer updates them.
      for (const [variable, value] of [
        [s.movingMean, mean],
        [s.movingVariance, variance],
      ] as const) {
        const orig = variable.read();
        variable.write(tf.sub(orig, tf.mul(tf.sub(orig, value), 1 - s.momentum)));
        value.dispose();
      }
      return y;
    });
  }
}
