/**
 * Matrix products on the GPU with their operands resident: upload once, run as often as wanted (the bench times
 * `run(times)`), read back. `XnorGemm` takes packed matrices as every tier does (bitPack.ts, rows of `stride`
 * words) and gives exactly what a float product of the ±1 matrices gives; `FloatGemm` is the paper's baseline
 * kernel on float32.
 */
import type { PackedBits } from '../bitPack';
import { checkPlaneRows, checkGemmOperands } from '../xnorGemm';
import { PARAMS, type GpuContext } from './device';
import { gemmTile } from './shaders';

/** Dispatches of one shader over resident buffers; `run` waits until the GPU is done, `read` copies `out` back. */
abstract class ResidentProduct<T extends Int32Array | Float32Array> {
  protected readonly buffers: GPUBuffer[] = [];
  protected abstract readonly out: GPUBuffer;
  protected abstract readonly outLength: number;

  constructor(protected readonly ctx: GpuContext) {}

  abstract encode(pass: GPUComputePassEncoder): void;
  protected abstract view(bytes: ArrayBuffer): T;

  /** Runs the product `times` times in one submission and waits for the GPU. */
  async run(times = 1): Promise<void> {
    await this.ctx.submit((pass) => {
      for (let i = 0; i < times; i++) this.encode(pass);
    });
  }

  /** Runs it once and returns the result. */
  async compute(): Promise<T> {
    const bytes = await this.ctx.submit((pass) => this.encode(pass), { buffer: this.out, bytes: this.outLength * 4 });
    return this.view(bytes!);
  }

  destroy(): void {
    for (const b of this.buffers) b.destroy();
  }

  protected keep(buffer: GPUBuffer): GPUBuffer {
    this.buffers.push(buffer);
    return buffer;
  }
}

/**
 * C = A · Bᵀ over packed ±1 operands (m × n int32, row-major), the paper's XNOR kernel (shaders.ts). With `planes`,
 * A holds 8 bit-plane rows per input (firstLayer.ts) and C is (m / 8) × n: Σ_p 2^p · (plane_p · b_j).
 */
export class XnorGemm extends ResidentProduct<Int32Array> {
  readonly m: number;
  readonly n: number;
  protected readonly out: GPUBuffer;
  protected readonly outLength: number;
  private readonly group: GPUBindGroup;
  private readonly pipeline: GPUComputePipeline;
  private readonly grid: [number, number];

  constructor(ctx: GpuContext, a: PackedBits, b: PackedBits, planes = false) {
    super(ctx);
    const { m, n } = checkGemmOperands(a, b);
    const rows = planes ? checkPlaneRows(m, a.k) : m;
    this.m = rows;
    this.n = n;
    this.outLength = rows * n;
    const params = { m, n, kWords: Math.ceil(a.k / 32), k: a.k, aStride: a.stride, bStride: b.stride, ldc: n };
    this.pipeline = planes ? ctx.pipelines.xnorPlanesGemm : ctx.pipelines.xnorGemm;
    const tile = gemmTile(planes);
    this.grid = [Math.max(1, Math.ceil(n / tile.cols)), Math.max(1, Math.ceil(m / tile.rows))];
    this.out = this.keep(ctx.storage(this.outLength * 4, 'xnor gemm: c'));
    this.group = ctx.bindGroup(this.pipeline, [
      this.keep(ctx.uniform(PARAMS.gemm, params, 'xnor gemm: parameters')),
      this.keep(ctx.storage(a.data.subarray(0, a.rows * a.stride), 'xnor gemm: a')),
      this.keep(ctx.storage(b.data.subarray(0, b.rows * b.stride), 'xnor gemm: b')),
      this.out,
    ]);
  }

  encode(pass: GPUComputePassEncoder): void {
    if (this.outLength > 0) this.ctx.dispatch(pass, this.pipeline, this.group, ...this.grid);
  }

  protected view(bytes: ArrayBuffer): Int32Array {
    return new Int32Array(bytes);
  }
}

/** The paper's baseline kernel: c = a · bTᵀ in float32 (a m × k, bT n × k, row-major), one output per thread. */
export class FloatGemm extends ResidentProduct<Float32Array> {
  protected readonly out: GPUBuffer;
  protected readonly outLength: number;
  private readonly group: GPUBindGroup;
  private readonly grid: [number, number];

  constructor(ctx: GpuContext, a: Float32Array, bT: Float32Array, m: number, n: number, k: number) {
    super(ctx);
    if (a.length !== m * k || bT.length !== n * k)
      throw new RangeError(`operands of ${a.length} and ${bT.length} values for ${m} × ${k} and ${n} × ${k}`);
    this.outLength = m * n;
    this.out = this.keep(ctx.storage(m * n * 4, 'float gemm: c'));
    this.grid = [Math.max(1, Math.ceil(n / 16)), Math.max(1, Math.ceil(m / 16))];
    this.group = ctx.bindGroup(ctx.pipelines.floatGemm, [
      this.keep(ctx.uniform(PARAMS.floatGemm, { m, n, k }, 'float gemm: parameters')),
      this.keep(ctx.storage(a, 'float gemm: a')),
      this.keep(ctx.storage(bT, 'float gemm: bT')),
      this.out,
    ]);
  }

  encode(pass: GPUComputePassEncoder): void {
    if (this.outLength > 0) this.ctx.dispatch(pass, this.ctx.pipelines.floatGemm, this.group, ...this.grid);
  }

  protected view(bytes: ArrayBuffer): Float32Array {
    return new Float32Array(bytes);
  }
}
