/**
 * The one place that picks the tfjs compute backend.
 * `BNN_BACKEND=webgpu|native|tensorflow|wasm|cpu` forces one; otherwise the best that loads:
 * webgpu on a hardware GPU (tfjs-backend-webgpu on Dawn, optional dependencies: lib/tfjs/webgpu.ts; a
 * software adapter such as llvmpipe only when forced; on Linux without a GPU device node, not even probed for:
 * lib/tfjs/gpuDevices.ts) → native (the wasm backend with its heavy training kernels run by this project's
 * C++ addon on all cores, in place on the wasm heap: lib/tfjs/nativeKernels.ts)
 * → tensorflow (libtensorflow via @tensorflow/tfjs-node, an optional dependency whose install fails where
 * Google's storage is unreachable) → wasm (SIMD, one thread) → cpu (pure JS).
 * `native` runs as tfjs's `wasm` backend (tf.getBackend() says 'wasm'); the name returned here is
 * the one to record.
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { registerWasmGradientKernels } from './tfjs/wasmConvGradients';
import { registerWasmMatMulTransposes } from './tfjs/wasmMatMulTranspose';
import { setNativeKernels } from './tfjs/nativeKernels';
import { unsupportedTfjs } from './tfjs/version';
import { noHardwareGpu } from './tfjs/gpuDevices';
import { registerWebgpuBackend, webgpuAdapter, webgpuLabel } from './tfjs/webgpu';

export type BackendName = 'webgpu' | 'native' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['webgpu', 'native', 'tensorflow', 'wasm', 'cpu'];

// Backend packages load on demand: @tensorflow/tfjs-node is optional (and slow to load); loading one registers it.
const requireModule = createRequire(__filename);

/** Loads what `name` needs; returns why it cannot be used, or null. `forced`: asked for by name. */
async function loadBackendModule(name: BackendName, forced: boolean): Promise<string | null> {
  if (name === 'webgpu') return (!forced && noHardwareGpu()) || registerWebgpuBackend(forced);
  if (name === 'tensorflow') requireModule('@tensorflow/tfjs-node');
  else if (name === 'wasm' || name === 'native') {
    const wasm = requireModule('@tensorflow/tfjs-backend-wasm') as { version_wasm?: string };
    const why = unsupportedTfjs({ 'tfjs-core': tf.version_core, 'tfjs-backend-wasm': wasm.version_wasm });
    if (why) return why;
    registerWasmMatMulTransposes();
    registerWasmGradientKernels();
    return setNativeKernels(name === 'native');
  }
  // cpu ships with @tensorflow/tfjs.
  return null;
}

async function tryBackend(name: BackendName, forced: boolean): Promise<string | null> {
  try {
    const why = await loadBackendModule(name, forced);
    if (why) return why;
    const tfName = name === 'native' ? 'wasm' : name;
    if (!(await tf.setBackend(tfName))) return `tf.setBackend('${tfName}') returned false`;
    await tf.ready();
    return null;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

let chosen: BackendName | null = null;

/**
 * Initialises and returns the backend. Idempotent: the first call decides.
 * @param requested overrides `BNN_BACKEND`; throws if a forced backend does not load.
 */
export async function initBackend(
  requested: string | undefined = process.env.BNN_BACKEND,
  log: (line: string) => void = () => {},
): Promise<BackendName> {
  if (chosen && (!requested || requested === chosen)) return chosen;
  if (requested) {
    if (!BACKENDS.includes(requested as BackendName)) {
      throw new Error(`unknown backend '${requested}' (BNN_BACKEND must be one of ${BACKENDS.join(', ')})`);
    }
    const why = await tryBackend(requested as BackendName, true);
    if (why) throw new Error(`backend '${requested}' did not load: ${why}`);
    chosen = requested as BackendName;
  } else {
    for (const name of BACKENDS) {
      const why = await tryBackend(name, false);
      if (!why) {
        chosen = name;
        break;
      }
      log(`backend ${name} unavailable: ${why}`);
    }
    if (!chosen) throw new Error('no tfjs backend could be initialised');
  }
  const adapter = chosen === 'webgpu' ? ` — adapter: ${webgpuAdapter()!.description}` : '';
  log(`tfjs backend: ${backendLabel()}${adapter}`);
  return chosen;
}

/**
 * The chosen backend as results record it: its name, and for webgpu the adapter
 * (`webgpu (NVIDIA GeForce RTX 4090)`, `webgpu (llvmpipe, software)`).
 */
export function backendLabel(): string {
  if (!chosen) throw new Error('no backend chosen yet: call initBackend first');
  return chosen === 'webgpu' ? webgpuLabel(webgpuAdapter()!) : chosen;
}
