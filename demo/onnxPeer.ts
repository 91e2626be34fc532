/**
 * The demo page's second float peer, loaded only when the page times or checks it (bundled apart as
 * onnx-peer.mjs, so that main.js stays light): the packed model's float network as an ONNX graph
 * (lib/engine/onnxGraph.ts: ±1 weights, BatchNorm + Sign thresholds half an integer step from any sum,
 * so it decides every sign as the engine does), built in the page from the packed file, run by ONNX
 * Runtime Web on its WebAssembly backend. ONNX Runtime's files are served from the page's folder
 * (ort/, relative to the page; nothing from a CDN).
 */
import type * as Ort from 'onnxruntime-web';
import { onnxModelBytes, packedFloatNetwork } from '../lib/engine/onnxGraph';
import type { PackedModel } from '../lib/engine/packedModel';

/** Where the build puts ort.wasm.min.mjs, ort-wasm-simd-threaded.mjs and .wasm, relative to the page. */
export const ORT_DIR = 'ort/';

let runtime: Promise<typeof Ort> | null = null;

/**
 * ONNX Runtime Web, started once per page with `threads` WebAssembly threads (ONNX Runtime fixes the
 * count when it starts; more than 1 needs a cross-origin isolated page, else it falls back to 1).
 */
function loadRuntime(threads: number): Promise<typeof Ort> {
  runtime ??= (async () => {
    const base = new URL(ORT_DIR, document.baseURI).href;
    const ort: typeof Ort = await import(`${base}ort.wasm.min.mjs`);
    ort.env.wasm.wasmPaths = base;
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.proxy = false;
    return ort;
  })();
  return runtime;
}

export class OnnxPeer {
  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    readonly inputSize: number,
    readonly numClasses: number,
    /** ONNX model bytes built in the page. */
    readonly onnxBytes: number,
  ) {}

  /** The ONNX Runtime Web version (e.g. 1.31.1). */
  get version(): string {
    return this.ort.env.versions.web ?? this.ort.env.versions.common;
  }

  /** WebAssembly threads ONNX Runtime runs on (1 unless the page is cross-origin isolated and asked more). */
  get threads(): number {
    return this.ort.env.wasm.numThreads ?? 1;
  }

  static async create(model: PackedModel, threads = 1): Promise<OnnxPeer> {
    const ort = await loadRuntime(threads);
    const net = packedFloatNetwork(model);
    const bytes = onnxModelBytes(net, { description: 'the demo page’s packed model as a float ONNX graph' });
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
    const inputSize = net.inputShape.reduce((a, b) => a * b, 1);
    return new OnnxPeer(ort, session, inputSize, net.numClasses, bytes.length);
  }

  private queue: Promise<unknown> = Promise.resolve();

  /** Class scores, count × numClasses row-major, for `count` images of uint8 pixels (one run at a time). */
  scores(pixels: Uint8Array, count: number): Promise<Float32Array> {
    if (pixels.length !== count * this.inputSize)
      throw new RangeError(`pixels has ${pixels.length} values, expected ${count} images × ${this.inputSize}`);
    const run = async () => {
      const input = new this.ort.Tensor('uint8', pixels, [count, this.inputSize]);
      const output = await this.session.run({ pixels: input });
      return output.scores.data as Float32Array;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  dispose(): Promise<void> {
    return this.session.release();
  }
}
