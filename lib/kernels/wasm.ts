/**
 * The WebAssembly tier: lib/kernels/wasm/xnorGemm.ts compiled by AssemblyScript to build/xnor.wasm
 * (SIMD, no imports), so the same file runs in Node and in browsers. Operands are copied into the
 * module's linear memory, which grows as needed (up to the 4 GiB of wasm32).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface WasmExports {
  memory: WebAssembly.Memory;
  gemm(a: number, b: number, m: number, n: number, k: number, stride: number, c: number): void;
  thresholdPack(scores: number, m: number, n: number, thresholds: number, flips: number, out: number, stride: number): void;
  combineBitPlanes(dots: number, rows: number, units: number, out: number): void;
  heapBase(): number;
}

/** The compiled kernels with a simple bump allocator over their memory. */
export class WasmKernels {
  private readonly exports: WasmExports;

  constructor(module: WebAssembly.Module) {
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

  thresholdPack(scores: Int32Array, m: number, n: number, thresholds: Int32Array, flips: Uint8Array, out: Uint32Array, stride: number): void {
    const [ps, pt, pf, po] = this.layout([scores.byteLength, thresholds.byteLength, flips.byteLength, out.byteLength]);
    const heap = this.exports.memory.buffer;
    new Int32Array(heap, ps, scores.length).set(scores);
    new Int32Array(heap, pt, thresholds.length).set(thresholds);
    new Uint8Array(heap, pf, flips.length).set(flips);
    this.exports.thresholdPack(ps, m, n, pt, pf, po, stride);
    out.set(new Uint32Array(this.exports.memory.buffer, po, out.length));
  }
}

export function wasmFileCandidates(): string[] {
  if (process.env.BNN_WASM_FILE) return [process.env.BNN_WASM_FILE];
  return [path.join(__dirname, '..', '..'), path.join(__dirname, '..', '..', '..')].map((root) => path.join(root, 'build', 'xnor.wasm'));
}

let cached: { kernels: WasmKernels | null; why: string } | null = null;

/** Node: compiles build/xnor.wasm once. In a browser, construct WasmKernels from a fetched module instead. */
export function loadWasmKernels(): { kernels: WasmKernels | null; why: string } {
  if (cached) return cached;
  const file = wasmFileCandidates().find((f) => fs.existsSync(f));
  if (!file) {
    cached = { kernels: null, why: `build/xnor.wasm not found (run npm run build:kernels)` };
  } else {
    try {
      cached = { kernels: new WasmKernels(new WebAssembly.Module(fs.readFileSync(file))), why: '' };
    } catch (err) {
      cached = { kernels: null, why: `${file} did not load: ${(err as Error).message.split('\n')[0]}` };
    }
  }
  return cached;
}
