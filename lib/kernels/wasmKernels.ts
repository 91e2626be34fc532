/**
 * The WebAssembly tier: lib/kernels/wasm/xnorGemm.ts compiled by AssemblyScript to build/xnor.wasm
 * (SIMD, no imports). Nothing here needs Node: in a browser, compile the fetched bytes and call
 * `createWasmKernel(module)`. Operands are copied into the module's linear memory, which grows as
 * needed (up to the 4 GiB of wasm32).
 */
import { allocPacked } from './bitPack';
import { checkThreads, outputFor, type XnorKernel } from './kernel';
import { WasmNetwork } from './wasmNetwork';
import { checkGemmOperands, checkPlaneRows, checkThresholdArgs } from './xnorGemm';

interface WasmExports {
  memory: WebAssembly.Memory;
  gemm(a: number, b: number, m: number, n: number, k: number, stride: number, c: number): void;
  thresholdPack(
    scores: number,
    m: number,
    n: number,
    thresholds: number,
    flips: number,
    out: number,
    stride: number,
  ): void;
  combineBitPlanes(dots: number, rows: number, units: number, out: number): void;
  heapBase(): number;
}

/** The compiled kernels with a simple bump allocator over their memory. */
export class WasmKernels {
  private readonly exports: WasmExports;

  constructor(readonly module: WebAssembly.Module) {
    this.exports = new WebAssembly.Instance(module, {}).exports as unknown as WasmExports;
  }

  /** Lays out buffers of the given byte sizes (8-byte aligned) and returns their offsets. */
  private layout(sizes: number[]): number[] {
    let at = this.exports.heapBase();
    const offsets = sizes.map((size) => {
      at = Math.ceil(at / 64) * 64;
      const start = at;
      at += size;
      return start;
    });
    if (at > 2 ** 32) throw new RangeError(`the operands need ${at} bytes, more than WebAssembly's 4 GiB`);
    const memory = this.exports.memory;
    const missing = at - memory.buffer.byteLength;
    if (missing > 0) memory.grow(Math.ceil(missing / 65536));
    return offsets;
  }

  gemm(a: Uint32Array, b: Uint32Array, m: number, n: number, k: number, stride: number, out: Int32Array): void {
    const [pa, pb, pc] = this.layout([a.byteLength, b.byteLength, m * n * 4]);
    const heap = this.exports.memory.buffer;
    new Uint32Array(heap, pa, a.length).set(a);
    new Uint32Array(heap, pb, b.length).set(b);
    this.exports.gemm(pa, pb, m, n, k, stride, pc);
    out.set(new Int32Array(this.exports.memory.buffer, pc, m * n));
  }

  combineBitPlanes(dots: Int32Array, rows: number, units: number, out: Int32Array): void {
    const [pd, po] = this.layout([dots.byteLength, out.byteLength]);
    new Int32Array(this.exports.memory.buffer, pd, dots.length).set(dots);
    this.exports.combineBitPlanes(pd, rows, units, po);
    out.set(new Int32Array(this.exports.memory.buffer, po, out.length));
  }

  thresholdPack(
    scores: Int32Array,
    m: number,
    n: number,
    thresholds: Int32Array,
    flips: Uint8Array,
    out: Uint32Array,
    stride: number,
  ): void {
    const [ps, pt, pf, po] = this.layout([scores.byteLength, thresholds.byteLength, flips.byteLength, out.byteLength]);
    const heap = this.exports.memory.buffer;
    new Int32Array(heap, ps, scores.length).set(scores);
    new Int32Array(heap, pt, thresholds.length).set(thresholds);
    new Uint8Array(heap, pf, flips.length).set(flips);
    this.exports.thresholdPack(ps, m, n, pt, pf, po, stride);
    out.set(new Uint32Array(this.exports.memory.buffer, po, out.length));
  }
}

/** The WebAssembly tier as an XnorKernel. */
export function wasmXnorKernel(kernels: WasmKernels): XnorKernel {
  return {
    tier: 'wasm',
    isa: 'simd128',
    isas: ['simd128'],
    maxThreads: 1,
    gemm(a, b, options = {}) {
      const { m, n } = checkGemmOperands(a, b);
      checkThreads(options.threads, 1);
      const out = outputFor(options, m * n);
      kernels.gemm(a.data.subarray(0, m * a.stride), b.data.subarray(0, n * b.stride), m, n, a.k, a.stride, out);
      return out;
    },
    bitPlaneGemm(planes, b, options = {}) {
      const { m, n } = checkGemmOperands(planes, b);
      checkThreads(options.threads, 1);
      const inputs = checkPlaneRows(m, planes.k);
      const out = outputFor(options, inputs * n);
      // 64 inputs at a time: the 8× larger plane products stay small.
      const chunk = 64;
      const dots = new Int32Array(chunk * 8 * n);
      const bRows = b.data.subarray(0, n * b.stride);
      for (let i0 = 0; i0 < inputs; i0 += chunk) {
        const count = Math.min(chunk, inputs - i0);
        const rows = planes.data.subarray(i0 * 8 * planes.stride, (i0 + count) * 8 * planes.stride);
        const part = dots.subarray(0, count * 8 * n);
        kernels.gemm(rows, bRows, count * 8, n, planes.k, planes.stride, part);
        kernels.combineBitPlanes(part, count, n, out.subarray(i0 * n, (i0 + count) * n));
      }
      return out;
    },
    thresholdPack(scores, m, n, thresholds, flips) {
      checkThresholdArgs(scores, m, n, thresholds, flips);
      const out = allocPacked(m, n);
      kernels.thresholdPack(scores, m, n, thresholds, flips, out.data, out.stride);
      return out;
    },
    // The whole network inside WebAssembly (wasmNetwork.ts), on its own instance of the module.
    compileNetwork(inputSize, layers) {
      return new WasmNetwork(kernels.module, inputSize, layers);
    },
  };
}

/** A kernel from the compiled module (browsers: `await WebAssembly.compile(bytes)` first). */
export function createWasmKernel(module: WebAssembly.Module): XnorKernel {
  return wasmXnorKernel(new WasmKernels(module));
}
