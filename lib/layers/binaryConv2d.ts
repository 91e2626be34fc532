/**
 * Binary 3×3 (or k×k) convolution, NHWC, stride 1 by default, "same" padding as in the paper's
 * ConvNets; same pattern as BinaryDense (the XNOR product on ±1 inputs where the backend has one).
 * fan_in = in_channels·kh·kw, fan_out = filters·kh·kw.
 */
import * as tf from '@tensorflow/tfjs';
import { binaryAwareConv2d } from '../tfjs/binaryMatMul';
import { BinaryKernelLayer, type BinaryKernelLayerArgs } from './binaryKernelLayer';

export interface BinaryConv2DArgs extends BinaryKernelLayerArgs {
  filters: number;
  kernelSize?: number;
  strides?: number;
  padding?: 'same' | 'valid';
}

export class BinaryConv2D extends BinaryKernelLayer {
  static className = 'BinaryConv2D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: 'same' | 'valid';

  constructor(args: BinaryConv2DArgs) {
    super(args);
    this.filters = args.filters;
    this.kernelSize = args.kernelSize ?? 3;
    this.strides = args.strides ?? 1;
    this.padding = args.padding ?? 'same';
    for (const [k, v] of [
      ['filters', this.filters],
      ['kernelSize', this.kernelSize],
      ['strides', this.strides],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`BinaryConv2D: ${k} must be a positive integer, got ${v}`);
    }
    if (this.padding !== 'same' && this.padding !== 'valid') {
      throw new Error(`BinaryConv2D: padding must be 'same' or 'valid', got '${String(this.padding)}'`);
    }
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    const channels = shape[3];
    if (shape.length !== 4 || !channels) {
      throw new Error(`BinaryConv2D expects inputs [batch, height, width, channels], got [${shape.join(', ')}]`);
    }
    this.addKernel([this.kernelSize, this.kernelSize, channels, this.filters]);
    this.built = true;
  }

  protected fans(): { fanIn: number; fanOut: number } {
    const [kh, kw, inC, outC] = this.latentKernel.shape as number[];
    return { fanIn: inC * kh * kw, fanOut: outC * kh * kw };
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [n, h, w] = inputShape as tf.Shape;
    const out = (d: number | null) =>
      d === null
        ? null
        : this.padding === 'same'
          ? Math.ceil(d / this.strides)
          : Math.floor((d - this.kernelSize) / this.strides) + 1;
    return [n, out(h), out(w), this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = this.quantizeInput(Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      return binaryAwareConv2d(x, this.effectiveKernel() as tf.Tensor4D, this.strides, this.padding);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
    };
  }
}
tf.serialization.registerClass(BinaryConv2D);
