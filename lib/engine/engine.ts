/**
 * The binary inference engine: runs a PackedModel with integer and popcount arithmetic only —
 * bit planes for the first layer, XNOR GEMM + integer thresholds for the hidden ones, and the
 * last layer's folded BatchNorm for the class scores.
 *
 * Two paths with the same integers: where the kernel tier can compile the whole network
 * (`compileNetwork`: native/engine.cc fuses each layer's im2col, product, pooling and threshold and
 * keeps activations packed between layers), `scores` makes one call per batch; otherwise (and for
 * `layerSums`) `batchScores` below runs it layer by layer — the readable version, and the reference
 * the compiled paths are tested against (test/engine-native.test.ts).
 *
 * The WebGPU tier (lib/kernels/webgpu/) runs the whole network on the GPU and answers asynchronously: with it,
 * `scoresAsync` and `predictAsync` (which work on every tier) give the same numbers as `scores` and `predict` do on
 * the others.
 */
import { packRows, type PackedBits } from '../kernels/bitPack';
import { bitPlaneDense, pixelSigns } from '../kernels/firstLayer';
import {
  isAsyncKernel,
  type AsyncCompiledNetwork,
  type AsyncXnorKernel,
  type CompiledNetwork,
  type XnorKernel,
} from '../kernels/kernel';
import { binaryConvPacked, bitPlaneConv, flattenPacked, maxPool2, tapSums } from '../kernels/binaryConv';
import { convOutputShape } from '../kernels/networkShape';
import { checkPackedModel, type PackedConv, type PackedLayer, type PackedModel } from './packedModel';

export interface EngineOptions {
  /**
   * Kernel to run on: in Node `selectKernel()` (BNN_KERNEL or the fastest tier), in a browser
   * `createWasmKernel(module)`; or the WebGPU tier (`loadWebGpuKernel()` in Node, `createWebGpuKernel(navigator.gpu)`
   * in a browser), then use `scoresAsync` / `predictAsync`. Required, so that this file imports nothing Node-only.
   */
  kernel: XnorKernel | AsyncXnorKernel;
  /** Threads for the native tier (default: all cores). */
  threads?: number;
  /** Images per pass (bounds the memory of intermediate results). */
  batchSize?: number;
  /**
   * Run the whole network in one kernel call where the tier can (native: native/engine.cc), else
   * layer by layer here (default true). Both give the same integers; this file is the readable one.
   */
  compiled?: boolean;
}

export class BinaryEngine {
  readonly kernel: XnorKernel | AsyncXnorKernel;
  /** The kernel when it answers synchronously (every tier but WebGPU). */
  private readonly syncKernel: XnorKernel | null;
  readonly inputSize: number;
  readonly numClasses: number;
  private readonly threads: number | undefined;
  private readonly batchSize: number;
  private readonly tapSums = new Map<PackedConv, Int32Array>();
  /** Each layer's sums buffer, reused from batch to batch (fresh large arrays cost page faults). */
  private readonly scratch = new Map<PackedLayer, Int32Array>();
  /** The kernel's compiled network, when it has one and `compiled` is not false. */
  readonly network: CompiledNetwork | null;
  /** The WebGPU tier's network (always compiled): `scoresAsync` runs it. */
  readonly asyncNetwork: AsyncCompiledNetwork | null;
  /** Seconds spent in each layer by `scores` so far (one entry per model layer). */
  readonly layerSeconds: Float64Array;

  constructor(
    readonly model: PackedModel,
    options: EngineOptions,
  ) {
    checkPackedModel(model);
    if (!options?.kernel)
      throw new TypeError('BinaryEngine needs a kernel (selectKernel() in Node, createWasmKernel() in a browser)');
    this.kernel = options.kernel;
    this.syncKernel = isAsyncKernel(this.kernel) ? null : this.kernel;
    this.threads = options.threads;
    this.batchSize = options.batchSize ?? 512;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1)
      throw new RangeError(`batchSize must be a positive integer, got ${this.batchSize}`);
    this.inputSize = model.inputShape.reduce((a, b) => a * b, 1);
    this.numClasses = model.layers[model.layers.length - 1].weights.rows;
    if (this.syncKernel) {
      const compile = options.compiled !== false && this.syncKernel.compileNetwork;
      this.network = compile ? compile(this.inputSize, model.layers) : null;
      this.asyncNetwork = null;
    } else {
      if (options.compiled === false)
        throw new RangeError(
          `the ${this.kernel.tier} tier runs whole networks only (compiled: false is for the CPU tiers)`,
        );
      this.network = null;
      this.asyncNetwork = (this.kernel as AsyncXnorKernel).compileNetwork(this.inputSize, model.layers);
    }
    this.layerSeconds = new Float64Array(model.layers.length);
  }

  /** Class scores, count × numClasses row-major, for `count` images of uint8 pixels (flattened, channels last). */
  scores(pixels: Uint8Array, count: number): Float64Array {
    const kernel = this.cpuKernel('scores');
    this.checkPixels(pixels, count);
    const out = new Float64Array(count * this.numClasses);
    for (let start = 0; start < count; start += this.batchSize) {
      const n = Math.min(this.batchSize, count - start);
      const batch = pixels.subarray(start * this.inputSize, (start + n) * this.inputSize);
      if (this.network) {
        const threads = this.threads ?? kernel.maxThreads;
        this.network.run(batch, n, out.subarray(start * this.numClasses), threads, this.layerSeconds);
      } else out.set(this.batchScores(batch, n), start * this.numClasses);
    }
    return out;
  }

  /**
   * `scores` on any tier, the WebGPU one included (there, the seconds per batch are added to `layerSeconds[0]`:
   * the GPU runs the layers in one submission).
   */
  async scoresAsync(pixels: Uint8Array, count: number): Promise<Float64Array> {
    if (!this.asyncNetwork) return this.scores(pixels, count);
    this.checkPixels(pixels, count);
    const out = new Float64Array(count * this.numClasses);
    for (let start = 0; start < count; start += this.batchSize) {
      const n = Math.min(this.batchSize, count - start);
      const t0 = performance.now();
      const batch = pixels.subarray(start * this.inputSize, (start + n) * this.inputSize);
      await this.asyncNetwork.run(batch, n, out.subarray(start * this.numClasses));
      this.layerSeconds[0] += (performance.now() - t0) / 1000;
    }
    return out;
  }

  /** Predicted class per image: the first index of the largest score. */
  predict(pixels: Uint8Array, count: number): Uint8Array {
    return this.argMax(this.scores(pixels, count), count);
  }

  /** `predict` on any tier, the WebGPU one included. */
  async predictAsync(pixels: Uint8Array, count: number): Promise<Uint8Array> {
    return this.argMax(await this.scoresAsync(pixels, count), count);
  }

  /** Frees what the kernel holds for this engine (the WebGPU tier's buffers). */
  dispose(): void {
    this.asyncNetwork?.destroy();
  }

  private checkPixels(pixels: Uint8Array, count: number): void {
    if (!(pixels instanceof Uint8Array)) throw new TypeError('pixels must be a Uint8Array');
    if (!Number.isInteger(count) || count < 0)
      throw new RangeError(`count must be a non-negative integer, got ${count}`);
    if (pixels.length !== count * this.inputSize) {
      throw new RangeError(`pixels has ${pixels.length} values, expected ${count} images × ${this.inputSize}`);
    }
  }

  private cpuKernel(what: string): XnorKernel {
    if (!this.syncKernel)
      throw new Error(
        `${what} needs a CPU tier: the ${this.kernel.tier} tier answers asynchronously (scoresAsync, predictAsync)`,
      );
    return this.syncKernel;
  }

  private argMax(scores: Float64Array, count: number): Uint8Array {
    const labels = new Uint8Array(count);
    const c = this.numClasses;
    for (let i = 0; i < count; i++) {
      let best = 0;
      for (let j = 1; j < c; j++) if (scores[i * c + j] > scores[i * c + best]) best = j;
      labels[i] = best;
    }
    return labels;
  }

  private sumsBuffer(layer: PackedLayer, length: number): Int32Array {
    let buffer = this.scratch.get(layer);
    if (buffer?.length !== length) this.scratch.set(layer, (buffer = new Int32Array(length)));
    return buffer;
  }

  private tapSumsOf(layer: PackedConv): Int32Array {
    let sums = this.tapSums.get(layer);
    if (!sums)
      this.tapSums.set(layer, (sums = tapSums(layer.weights, layer.kernelSize * layer.kernelSize, layer.channels)));
    return sums;
  }

  /** Every layer's integer sums S (n × units) for a few images: for explaining results. */
  layerSums(pixels: Uint8Array, n: number): Int32Array[] {
    this.cpuKernel('layerSums');
    if (pixels.length !== n * this.inputSize)
      throw new RangeError(`pixels has ${pixels.length} values, expected ${n} images × ${this.inputSize}`);
    const sums: Int32Array[] = [];
    this.batchScores(pixels, n, sums);
    return sums;
  }

  private batchScores(pixels: Uint8Array, n: number, trace?: Int32Array[]): Float64Array {
    const kernel = this.syncKernel!;
    // Activations: packed ±1, one row per pixel after a conv layer (k = channels), per image otherwise.
    let bits: PackedBits | null = null;
    let perPixel = false;
    for (const [index, layer] of this.model.layers.entries()) {
      const start = performance.now();
      let sums: Int32Array;
      let rows = n;
      const units = layer.weights.rows;
      if (layer.kind === 'conv') {
        const g = {
          batch: n,
          height: layer.height,
          width: layer.width,
          channels: layer.channels,
          kernelSize: layer.kernelSize,
          filters: layer.weights.rows,
          padding: layer.padding,
        };
        const shrink = layer.padding === 'same' ? 0 : layer.kernelSize - 1;
        const options = {
          threads: this.threads,
          out: this.sumsBuffer(layer, n * (layer.height - shrink) * (layer.width - shrink) * units),
        };
        const taps = this.tapSumsOf(layer);
        sums =
          layer.input === 'pixels'
            ? bitPlaneConv(kernel, pixels, layer.weights, taps, g, options)
            : binaryConvPacked(kernel, bits!, layer.weights, taps, g, options);
        const [oh, ow] = convOutputShape(layer);
        if (layer.pool === 2) {
          sums = maxPool2(sums, n, layer.height - shrink, layer.width - shrink, layer.weights.rows);
        }
        rows = n * oh * ow;
      } else if (layer.input === 'pixels')
        sums = bitPlaneDense(kernel, pixels, n, layer.weights, {
          threads: this.threads,
          out: this.sumsBuffer(layer, n * units),
        });
      else {
        const options = { threads: this.threads, out: this.sumsBuffer(layer, n * units) };
        const input =
          layer.input === 'pixelSigns'
            ? packRows(pixelSigns(pixels), n, layer.weights.k)
            : perPixel
              ? flattenPacked(bits!, n)
              : bits!;
        sums = kernel.gemm(input, layer.weights, options);
      }
      trace?.push(sums.slice());
      if (layer.output.kind === 'sign') {
        bits = kernel.thresholdPack(sums, rows, units, layer.output.thresholds, layer.output.flips);
        perPixel = layer.kind === 'conv';
        this.layerSeconds[index] += (performance.now() - start) / 1000;
      } else {
        const { scale, shift } = layer.output;
        const scores = new Float64Array(n * units);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < units; j++) scores[i * units + j] = scale[j] * sums[i * units + j] + shift[j];
        this.layerSeconds[index] += (performance.now() - start) / 1000;
        return scores;
      }
    }
    throw new Error('the packed model does not end in a scores layer');
  }
}
