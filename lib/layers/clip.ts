/**
 * Clip constraint: keeps latent real weights in [−H, H] (paper §1.2: the weights are clipped after
 * every update, otherwise they would grow without changing sign(W) and stop learning).
 */
import * as tf from '@tensorflow/tfjs';
import type { Constraint } from '@tensorflow/tfjs-layers/dist/constraints';

// tfjs does not export its Constraint base class at run time; Serializable + apply() is all it is.
export class Clip extends tf.serialization.Serializable implements Constraint {
  static className = 'Clip';
  readonly limit: number;

  constructor(args: { limit: number }) {
    super();
    if (!(args.limit > 0) || !Number.isFinite(args.limit)) {
      throw new Error(`Clip: limit H must be a positive finite number, got ${args.limit}`);
    }
    this.limit = args.limit;
  }

  apply(w: tf.Tensor): tf.Tensor {
    return tf.clipByValue(w, -this.limit, this.limit);
  }

  override getClassName(): string {
    return Clip.className;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { limit: this.limit };
  }
}
tf.serialization.registerClass(Clip as unknown as tf.serialization.SerializableConstructor<Clip>);
