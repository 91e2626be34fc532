/**
 * ONNX Runtime (npm `onnxruntime-node`, an optional dependency: 288 MB installed) as the float peer
 * of the binary engine: loaded when present, with the reason when not. Typed here by the few calls
 * the project makes, so that the code compiles without the package.
 */
import { createRequire } from 'node:module';

export interface OrtTensor {
  data: Float32Array | Uint8Array;
  dims: readonly number[];
}

export interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

export interface OrtSessionOptions {
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  executionMode?: 'sequential' | 'parallel';
}

export interface OnnxRuntime {
  version: string;
  InferenceSession: { create(pathOrBytes: string | Uint8Array, options?: OrtSessionOptions): Promise<OrtSession> };
  Tensor: new (type: 'uint8', data: Uint8Array, dims: readonly number[]) => OrtTensor;
}

/** onnxruntime-node, or why it cannot be loaded (not installed: `npm install` without --omit=optional). */
export function loadOnnxRuntime(): OnnxRuntime | string {
  const require = createRequire(__filename);
  try {
    const ort = require('onnxruntime-node') as Omit<OnnxRuntime, 'version'>;
    const { version } = require('onnxruntime-node/package.json') as { version: string };
    return { ...ort, version };
  } catch (err) {
    return (
      `onnxruntime-node is not installed (an optional dependency: npm install without --omit=optional; ` +
      `${(err as Error).message.split('\n')[0]})`
    );
  }
}

/** A session on an ONNX file or its bytes, with `threads` intra-op threads and one inter-op thread. */
export function onnxSession(ort: OnnxRuntime, model: string | Uint8Array, threads: number): Promise<OrtSession> {
  return ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1 });
}

/** Class scores (count × classes, row-major) of `count` images of uint8 pixels, [count, ...inputShape]. */
export async function onnxScores(
  ort: OnnxRuntime,
  session: OrtSession,
  pixels: Uint8Array,
  count: number,
  inputShape: readonly number[],
): Promise<Float32Array> {
  const out = await session.run({ pixels: new ort.Tensor('uint8', pixels, [count, ...inputShape]) });
  return out.scores.data as Float32Array;
}
