/** Shared by the native-kernel tests: seeded inputs, and the same computation on native and on cpu. */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { loadNativeAddon } from '../../lib/kernels/native';
import { seededRandom } from '../../lib/random';

const native = loadNativeAddon();

/**
 * The composite-op path (cpu backend) and the native one, each with a title suffix saying why it is
 * unavailable here (empty when it runs): one describe.skipIf per backend.
 */
export const CPU_AND_NATIVE: { backend: string; skip: string }[] = [
  { backend: 'cpu', skip: '' },
  { backend: 'native', skip: native.addon ? '' : ` (unavailable: ${native.why})` },
];

export function randomArray(n: number, seed: number, plusMinusOne = false): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: n }, () => (plusMinusOne ? (random() < 0.5 ? -1 : 1) : 2 * random() - 1));
}

/** Runs `f` on the native backend and on cpu; every output tensor's values from both. */
export async function onBoth(
  f: () => tf.Tensor | tf.Tensor[],
): Promise<{ native: Float32Array[]; cpu: Float32Array[] }> {
  const run = () => tf.tidy(() => [f()].flat().map((t) => t.dataSync() as Float32Array));
  await initBackend('native');
  const native = run();
  await initBackend('cpu');
  const cpu = run();
  await initBackend('native');
  return { native, cpu };
}

/** ‖a − b‖ / ‖b‖. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0,
    norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff / Math.max(norm, 1e-30));
}
