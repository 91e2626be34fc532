/**
 * The one place that picks the tfjs compute backend.
 * `BNN_BACKEND=tensorflow|wasm|cpu` forces one; otherwise the best that loads:
 * tensorflow (native libtensorflow via @tensorflow/tfjs-node, an optional dependency whose
 * install fails where Google's storage is unreachable) → wasm (SIMD, one thread) → cpu (pure JS).
 */
import * as tf from '@tensorflow/tfjs';
import { registerWasmGradientKernels } from './tfjs/wasmConvGradients';
import { registerWasmMatMulTransposes } from './tfjs/wasmMatMulTranspose';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

function loadBackendModule(name: BackendName): void {
  if (name === 'tensorflow') require('@tensorflow/tfjs-node');
  else if (name === 'wasm') {
    require('@tensorflow/tfjs-backend-wasm');
    registerWasmMatMulTransposes();
    registerWasmGradientKernels();
  }
  // cpu ships with @tensorflow/tfjs.
}

async function tryBackend(name: BackendName): Promise<string | null> {
  try {
    loadBackendModule(name);
    if (!(await tf.setBackend(name))) return `tf.setBackend('${name}') returned false`;
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
    const why = await tryBackend(requested as BackendName);
    if (why) throw new Error(`backend '${requested}' did not load: ${why}`);
    chosen = requested as BackendName;
  } else {
    for (const name of BACKENDS) {
      const why = await tryBackend(name);
      if (!why) {
        chosen = name;
        break;
      }
      log(`backend ${name} unavailable: ${why}`);
    }
    if (!chosen) throw new Error('no tfjs backend could be initialised');
  }
  log(`tfjs backend: ${chosen}`);
  return chosen;
}
