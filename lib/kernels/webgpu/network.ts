/**
 * The WebGPU tier's whole network: a packed model run on the GPU with the engine's integer arithmetic, one
 * submission per batch. Each layer is up to three dispatches over buffers allocated once:
 *   gather   — its packed left operand: the bit planes of the pixels, their signs, the im2col of a conv's input (padded
 *              taps as +1), or a conv's output flattened (skipped where the previous layer's packed rows already are
 *              the operand: after a dense layer, or a conv with whole words of channels);
 *   XNOR GEMM — the paper's kernel (shaders.ts), bit planes combined in its registers;
 *   epilogue — the padding correction, 2×2 max pooling, BatchNorm + sign as one comparison, packing to bits.
 * The last layer's integer sums are read back and scaled in float64 here, as the engine does, so the scores are the
 * same numbers bit for bit. Activations stay packed on the GPU between layers. Nothing here needs Node.
 */
import { checkGeometry, tapSums } from '../binaryConv';
import type { AsyncCompiledNetwork, NetworkLayerSpec } from '../kernel';
import { checkNetworkSpec, convOutputShape } from '../networkShape';
import { PARAMS, type GpuContext } from './device';
import { GATHER_MODE, gemmTile } from './shaders';

/** Bytes of each scratch buffer per batch (at most), and images per batch. */
const BATCH_BYTES = 64 * 2 ** 20;
const MAX_BATCH = 1024;

type Params = Record<string, number>;

/** A layer's geometry per image; the parameters that depend on the batch are filled in per run. */
interface Plan {
  spec: NetworkLayerSpec;
  units: number;
  kWords: number;
  planes: boolean;
  /** Gather mode and its rows per image, or null when the previous layer's output is the operand. */
  gather: { mode: number; rows: number; params: Params } | null;
  /** Rows of the product per image (bit-plane rows count once: they are combined in the GEMM). */
  sumRows: number;
  /** Rows of packed output per image (pooled positions, or 1) and their words. */
  outRows: number;
  outWords: number;
  epilogue: Params;
}

function plan(layers: readonly NetworkLayerSpec[]): Plan[] {
  const plans: Plan[] = [];
  for (const [i, spec] of layers.entries()) {
    const prev = plans[i - 1];
    const units = spec.weights.rows,
      K = spec.weights.k,
      kWords = Math.ceil(K / 32);
    const dense = { pool: 1, ch: 1, cw: 1, oh: 1, ow: 1, h: 1, w: 1, ks: 0, pad: 0, corrScale: 0 };
    const p: Plan = {
      spec,
      units,
      kWords,
      planes: spec.input === 'pixels',
      gather: null,
      sumRows: 1,
      outRows: 1,
      outWords: Math.ceil(units / 32),
      epilogue: dense,
    };
    const base = { k: K, words: kWords, positions: 1, cw: 1, inputSize: K };
    if (spec.kind === 'conv') {
      const { height: h, width: w, channels: c, kernelSize: ks, padding } = spec as Required<NetworkLayerSpec>;
      // Before pooling: ch × cw positions.
      const {
        outH: ch,
        outW: cw,
        pad,
      } = checkGeometry({ batch: 1, height: h, width: w, channels: c, kernelSize: ks, filters: units, padding });
      const [oh, ow] = convOutputShape(spec as Required<NetworkLayerSpec>);
      const geometry = { ...base, h, w, c, ks, pad, cw, positions: ch * cw, inputSize: h * w * c };
      p.gather = p.planes
        ? { mode: GATHER_MODE.im2colPlanes, rows: ch * cw * 8, params: geometry }
        : { mode: GATHER_MODE.im2colBits, rows: ch * cw, params: { ...geometry, pixelWords: prev.outWords } };
      p.sumRows = ch * cw;
      p.outRows = oh * ow;
      const corrScale = padding === 'same' && ks > 1 ? (p.planes ? 255 : 1) : 0;
      p.epilogue = { pool: spec.pool!, ch, cw, oh, ow, h, w, ks, pad, corrScale };
    } else if (spec.input === 'pixels') p.gather = { mode: GATHER_MODE.planes, rows: 8, params: base };
    else if (spec.input === 'pixelSigns') p.gather = { mode: GATHER_MODE.signs, rows: 1, params: base };
    else if (prev.spec.kind === 'conv' && prev.units % 32 !== 0)
      p.gather = {
        mode: GATHER_MODE.flatten,
        rows: 1,
        params: { ...base, c: prev.units, pixels: prev.outRows, pixelWords: prev.outWords },
      };
    plans.push(p);
  }
  return plans;
}

interface LayerBuffers {
  gatherParams: GPUBuffer | null;
  gemmParams: GPUBuffer;
  epilogueParams: GPUBuffer | null;
  groups: { gather: GPUBindGroup | null; gemm: GPUBindGroup; epilogue: GPUBindGroup | null };
}

export class GpuNetwork implements AsyncCompiledNetwork {
  /** Images per submission. */
  readonly batch: number;
  private readonly plans: Plan[];
  private readonly classes: number;
  private readonly owned: GPUBuffer[] = [];
  private readonly layers: LayerBuffers[];
  private readonly pixels: GPUBuffer;
  private readonly sums: GPUBuffer;
  private destroyed = false;

  constructor(
    private readonly ctx: GpuContext,
    readonly inputSize: number,
    specs: readonly NetworkLayerSpec[],
  ) {
    checkNetworkSpec(inputSize, specs);
    const plans = (this.plans = plan(specs));
    this.classes = plans[plans.length - 1].units;
    // Per image: the gathered operand, the sums, the packed activations (words), and the product's row blocks.
    const perImage = {
      gather: Math.max(...plans.map((p) => (p.gather ? p.gather.rows * p.kWords : 0))),
      sums: Math.max(...plans.map((p) => p.sumRows * p.units)),
      act: Math.max(...plans.map((p) => p.outRows * p.outWords)),
    };
    const limit = Math.min(BATCH_BYTES, ctx.maxBindingBytes);
    const maxGroups = ctx.device.limits.maxComputeWorkgroupsPerDimension;
    const byGrid = Math.min(
      ...plans.map((p) => Math.floor((maxGroups * gemmTile(p.planes).rows) / ((p.planes ? 8 : 1) * p.sumRows))),
    );
    this.batch = Math.min(
      MAX_BATCH,
      byGrid,
      Math.floor(limit / Math.max(inputSize, 4 * Math.max(perImage.gather, perImage.sums, perImage.act))),
    );
    if (this.batch < 1) throw new RangeError('one image of this network needs more GPU memory than one binding holds');
    const B = this.batch;
    const keep = (b: GPUBuffer) => (this.owned.push(b), b);
    this.pixels = keep(ctx.storage(B * inputSize, 'network: pixels'));
    const gathered = keep(ctx.storage(B * perImage.gather * 4, 'network: gathered operand'));
    this.sums = keep(ctx.storage(B * perImage.sums * 4, 'network: sums'));
    const act = [0, 1].map((i) => keep(ctx.storage(B * perImage.act * 4, `network: activations ${i}`)));
    const none = keep(ctx.storage(4, 'network: unused binding'));
    const { pipelines } = ctx;
    this.layers = plans.map((p, l) => {
      const input = act[(l + 1) % 2],
        output = act[l % 2];
      const weights = p.spec.weights;
      const gatherParams = p.gather ? keep(ctx.uniform(PARAMS.gather, {}, `${p.spec.name}: gather`)) : null;
      const gemmParams = keep(ctx.uniform(PARAMS.gemm, {}, `${p.spec.name}: gemm`));
      const sign = p.spec.output.kind === 'sign' ? p.spec.output : null;
      const epilogueParams = sign ? keep(ctx.uniform(PARAMS.epilogue, {}, `${p.spec.name}: epilogue`)) : null;
      const w = keep(ctx.storage(weights.data.subarray(0, weights.rows * weights.stride), `${p.spec.name}: weights`));
      let epilogue: GPUBindGroup | null = null;
      if (sign) {
        const taps =
          p.epilogue.corrScale > 0
            ? keep(ctx.storage(tapSums(weights, p.epilogue.ks ** 2, p.spec.channels!), `${p.spec.name}: tap sums`))
            : none;
        epilogue = ctx.bindGroup(pipelines.epilogue, [
          epilogueParams!,
          this.sums,
          keep(ctx.storage(sign.thresholds, `${p.spec.name}: thresholds`)),
          keep(ctx.storage(Uint32Array.from(sign.flips), `${p.spec.name}: flips`)),
          taps,
          output,
        ]);
      }
      return {
        gatherParams,
        gemmParams,
        epilogueParams,
        groups: {
          gather: p.gather ? ctx.bindGroup(pipelines.gather, [gatherParams!, this.pixels, input, gathered]) : null,
          gemm: ctx.bindGroup(p.planes ? pipelines.xnorPlanesGemm : pipelines.xnorGemm, [
            gemmParams,
            p.gather ? gathered : input,
            w,
            this.sums,
          ]),
          epilogue,
        },
      };
    });
  }

  async run(pixels: Uint8Array, n: number, scores: Float64Array): Promise<void> {
    if (this.destroyed) throw new Error('the network was destroyed');
    if (!Number.isInteger(n) || n < 0 || n > 2 ** 24)
      throw new RangeError(`n must be an integer in [0, 2^24], got ${n}`);
    if (!(pixels instanceof Uint8Array)) throw new TypeError('pixels must be a Uint8Array');
    if (pixels.length < n * this.inputSize)
      throw new RangeError(`pixels has ${pixels.length} elements, needs ${n * this.inputSize}`);
    if (!(scores instanceof Float64Array)) throw new TypeError('scores must be a Float64Array');
    if (scores.length < n * this.classes)
      throw new RangeError(`scores has ${scores.length} elements, needs ${n * this.classes}`);
    const last = this.plans[this.plans.length - 1].spec.output;
    if (last.kind !== 'scores') throw new Error('the last layer gives no scores');
    for (let start = 0; start < n; start += this.batch) {
      const m = Math.min(this.batch, n - start);
      this.ctx.write(this.pixels, pixels.subarray(start * this.inputSize, (start + m) * this.inputSize));
      this.setParams(m);
      const bytes = await this.ctx.submit((pass) => this.encode(pass, m), {
        buffer: this.sums,
        bytes: m * this.classes * 4,
      });
      const sums = new Int32Array(bytes!);
      const { scale, shift } = last;
      const c = this.classes;
      for (let i = 0; i < m; i++)
        for (let j = 0; j < c; j++) scores[(start + i) * c + j] = scale[j] * sums[i * c + j] + shift[j];
    }
  }

  private setParams(m: number): void {
    this.plans.forEach((p, l) => {
      const b = this.layers[l];
      if (p.gather)
        this.ctx.setUniform(b.gatherParams!, PARAMS.gather, {
          ...p.gather.params,
          mode: p.gather.mode,
          rows: m * p.gather.rows,
        });
      const rows = m * p.sumRows * (p.planes ? 8 : 1);
      this.ctx.setUniform(b.gemmParams, PARAMS.gemm, {
        m: rows,
        n: p.units,
        kWords: p.kWords,
        k: p.spec.weights.k,
        aStride: p.kWords,
        bStride: p.spec.weights.stride,
        ldc: p.units,
      });
      if (b.epilogueParams)
        this.ctx.setUniform(b.epilogueParams, PARAMS.epilogue, {
          ...p.epilogue,
          rows: m * p.outRows,
          units: p.units,
          outWords: p.outWords,
        });
    });
  }

  private encode(pass: GPUComputePassEncoder, m: number): void {
    const { ctx } = this;
    this.plans.forEach((p, l) => {
      const { groups } = this.layers[l];
      if (p.gather) ctx.dispatchLinear(pass, ctx.pipelines.gather, groups.gather!, m * p.gather.rows * p.kWords);
      const tile = gemmTile(p.planes);
      const rows = m * p.sumRows * (p.planes ? 8 : 1);
      ctx.dispatch(
        pass,
        p.planes ? ctx.pipelines.xnorPlanesGemm : ctx.pipelines.xnorGemm,
        groups.gemm,
        Math.ceil(p.units / tile.cols),
        Math.ceil(rows / tile.rows),
      );
      if (groups.epilogue)
        ctx.dispatchLinear(pass, ctx.pipelines.epilogue, groups.epilogue, m * p.outRows * p.outWords);
    });
  }

  destroy(): void {
    this.destroyed = true;
    for (const b of this.owned) b.destroy();
  }
}
