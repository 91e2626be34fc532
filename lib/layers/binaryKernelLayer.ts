/**
 * What BinaryDense and BinaryConv2D share (larq's QuantDense/QuantConv2D pattern): a latent real
 * kernel, initialised uniformly in [−H, H] and clipped to [−H, H] after every update (the `Clip`
 * constraint the trainer applies), quantized on the forward pass; an optional input quantizer;
 * and the per-layer learning-rate scale of the Theano code, 1 / sqrt(1.5 / (fan_in + fan_out)).
 */
import * as tf from '@tensorflow/tfjs';
import { checkQuantizer, quantize, type QuantizerName } from '../quantizers';
import { Clip } from './clip';

export interface BinaryKernelLayerArgs {
  /** Quantizer of the kernel (default 'steSign'); null keeps a real-valued kernel. */
  kernelQuantizer?: QuantizerName | null;
  /** Quantizer of the layer's input (default null: the previous layer's activation binarizes). */
  inputQuantizer?: QuantizerName | null;
  /** Latent weights live in [−H, H] (paper: H = 1). */
  H?: number;
  /** Seed of the kernel initialiser and of stochastic quantizers. */
  seed?: number;
  name?: string;
  inputShape?: tf.Shape;
  batchInputShape?: tf.Shape;
  trainable?: boolean;
}

export abstract class BinaryKernelLayer extends tf.layers.Layer {
  readonly kernelQuantizer: QuantizerName | null;
  readonly inputQuantizer: QuantizerName | null;
  readonly H: number;
  readonly seed: number;
  protected kernel: tf.LayerVariable | null = null;
  private draws = 0;

  constructor(args: BinaryKernelLayerArgs) {
    super(args);
    const what = (this.constructor as unknown as { className: string }).className;
    this.kernelQuantizer = checkQuantizer(args.kernelQuantizer === undefined ? 'steSign' : args.kernelQuantizer, `${what} kernelQuantizer`);
    this.inputQuantizer = checkQuantizer(args.inputQuantizer ?? null, `${what} inputQuantizer`);
    this.H = args.H ?? 1;
    if (!(this.H > 0) || !Number.isFinite(this.H)) throw new Error(`${what}: H must be a positive finite number, got ${args.H}`);
    this.seed = args.seed ?? 1;
  }

  /** fan_in and fan_out of the kernel, for the Glorot learning-rate scale. */
  protected abstract fans(): { fanIn: number; fanOut: number };

  /** Multiplier of this layer's kernel updates: 1 / sqrt(1.5 / (fan_in + fan_out)). */
  get kernelLrScale(): number {
    const { fanIn, fanOut } = this.fans();
    return 1 / Math.sqrt(1.5 / (fanIn + fanOut));
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

  private nextSeed = (): number => this.seed * 1_000_003 + ++this.draws;

  /** The kernel as used on the forward pass (±1 when binarized). */
  effectiveKernel(): tf.Tensor {
    if (!this.kernel) throw new Error(`${this.name}: layer is not built yet`);
    const w = this.kernel.read();
    return this.kernelQuantizer ? quantize(this.kernelQuantizer, w, this.nextSeed) : w;
  }

  protected quantizeInput(x: tf.Tensor): tf.Tensor {
    return this.inputQuantizer ? quantize(this.inputQuantizer, x, this.nextSeed) : x;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      kernelQuantizer: this.kernelQuantizer,
      inputQuantizer: this.inputQuantizer,
      H: this.H,
      seed: this.seed,
    };
  }
}
