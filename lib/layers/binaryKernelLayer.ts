/**
 * What BinaryDense and BinaryConv2D share (larq's QuantDense/QuantConv2D pattern): a latent real
 * kernel, initialised uniformly in [−H, H] and clipped to [−H, H] after every update (the `Clip`
 * constraint the trainer applies), quantized on the forward pass; an optional input quantizer;
 * and the per-layer learning-rate scale of the Theano code, 1 / sqrt(1.5 / (fan_in + fan_out)).
 *
 * The optimizer, the summary, the exporter and the diagnostics ask a layer for these through the
 * `QuantizedLayer` interface instead of guessing from weight names.
 */
import * as tf from '@tensorflow/tfjs';
import { quantize, resolveQuantizer, STE_SIGN, type Quantizer } from '../quantizers';
import { seedSequence } from '../random';
import { Clip } from './clip';

/** The Theano code's per-layer scale of binary weights' updates: 1 / sqrt(1.5 / (fan_in + fan_out)). */
export function glorotLrScale(fanIn: number, fanOut: number): number {
  return 1 / Math.sqrt(1.5 / (fanIn + fanOut));
}

/** A layer with a latent real kernel that it quantizes on the forward pass. */
export interface QuantizedLayer extends tf.layers.Layer {
  /** The latent real-valued weights that the optimizer updates. */
  readonly latentKernel: tf.LayerVariable;
  /** Quantizer of the kernel; null for a real-valued kernel. */
  readonly kernelQuantizer: Quantizer | null;
  /** Quantizer of the layer's input; null when the input is used as it comes. */
  readonly inputQuantizer: Quantizer | null;
  /** Multiplier of the latent kernel's updates (the Glorot scale of the Theano code). */
  readonly kernelLrScale: number;
  /** The latent kernel is clipped to [−H, H]. */
  readonly H: number;
}

/** Whether `layer` has a quantized latent kernel (asked of the layer, not of its weight names). */
export function isQuantizedLayer(layer: tf.layers.Layer): layer is QuantizedLayer {
  // `in` only: reading the getters of a layer not built yet would throw.
  return 'latentKernel' in layer && 'kernelQuantizer' in layer && 'kernelLrScale' in layer;
}

export interface BinaryKernelLayerArgs {
  /** Quantizer of the kernel, registered object or name (default 'steSign'); null keeps a real-valued kernel. */
  kernelQuantizer?: Quantizer | string | null;
  /** Quantizer of the layer's input (default null: the previous layer's activation binarizes). */
  inputQuantizer?: Quantizer | string | null;
  /** Latent weights live in [−H, H] (paper: H = 1). */
  H?: number;
  /** Seed of the kernel initialiser and of stochastic quantizers. */
  seed?: number;
  name?: string;
  inputShape?: tf.Shape;
  batchInputShape?: tf.Shape;
  trainable?: boolean;
}

export abstract class BinaryKernelLayer extends tf.layers.Layer implements QuantizedLayer {
  readonly kernelQuantizer: Quantizer | null;
  readonly inputQuantizer: Quantizer | null;
  readonly H: number;
  readonly seed: number;
  private kernel: tf.LayerVariable | null = null;
  private readonly nextSeed: () => number;

  constructor(args: BinaryKernelLayerArgs) {
    super(args);
    const what = `${this.getClassName()} '${this.name}'`;
    this.kernelQuantizer = resolveQuantizer(
      args.kernelQuantizer === undefined ? STE_SIGN : args.kernelQuantizer,
      `${what} kernelQuantizer`,
    );
    this.inputQuantizer = resolveQuantizer(args.inputQuantizer, `${what} inputQuantizer`);
    this.H = args.H ?? 1;
    if (!(this.H > 0) || !Number.isFinite(this.H))
      throw new Error(`${what}: H must be a positive finite number, got ${args.H}`);
    this.seed = args.seed ?? 1;
    this.nextSeed = seedSequence(this.seed);
  }

  /** fan_in and fan_out of the kernel, for the Glorot learning-rate scale. */
  protected abstract fans(): { fanIn: number; fanOut: number };

  get latentKernel(): tf.LayerVariable {
    if (!this.kernel) throw new Error(`${this.name}: layer is not built yet`);
    return this.kernel;
  }

  /** Multiplier of this layer's kernel updates (`glorotLrScale` of its fans). */
  get kernelLrScale(): number {
    const { fanIn, fanOut } = this.fans();
    return glorotLrScale(fanIn, fanOut);
  }

  protected addKernel(shape: number[]): void {
    this.kernel = this.addWeight(
      'kernel',
      shape,
      'float32',
      tf.initializers.randomUniform({ minval: -this.H, maxval: this.H, seed: this.seed }),
      undefined,
      true,
      new Clip({ limit: this.H }),
    );
  }

  /**
   * The kernel as used on the forward pass (±1 when binarized). The quantizer sees W / H, as in the
   * reference code (hard_sigmoid(W / H)): the gradient is cancelled beyond the clip ±H, not beyond ±1,
   * and a stochastic sign's probability spans [−H, H].
   */
  effectiveKernel(): tf.Tensor {
    const w = this.latentKernel.read();
    if (!this.kernelQuantizer) return w;
    return quantize(this.kernelQuantizer, this.H === 1 ? w : tf.div(w, this.H), this.nextSeed);
  }

  protected quantizeInput(x: tf.Tensor): tf.Tensor {
    return this.inputQuantizer ? quantize(this.inputQuantizer, x, this.nextSeed) : x;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      kernelQuantizer: this.kernelQuantizer?.name ?? null,
      inputQuantizer: this.inputQuantizer?.name ?? null,
      H: this.H,
      seed: this.seed,
    };
  }
}
