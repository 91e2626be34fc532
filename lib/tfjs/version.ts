/**
 * The tfjs versions the wasm-heap kernels were written for. The native backend reaches into
 * tfjs-backend-wasm's internals (its heap, `makeOutput`, kernel setup functions) and replaces kernels by
 * name; a later minor release may change any of that silently. So the patches are applied only to the
 * release line they were checked against (package.json pins the same range); anything else is refused
 * with a clear reason, and the backend choice moves on to one that does not patch tfjs.
 */
export const PATCHED_TFJS_LINE = '4.22';

/** Why these tfjs package versions cannot take the patches (null when they can). */
export function unsupportedTfjs(versions: Record<string, string | undefined>): string | null {
  const wrong = Object.entries(versions).filter(([, v]) => v?.split('.').slice(0, 2).join('.') !== PATCHED_TFJS_LINE);
  if (wrong.length === 0) return null;
  const found = wrong.map(([name, v]) => `${name} ${v ?? '(not found)'}`).join(', ');
  return (
    `${found}: the native kernels patch tfjs ${PATCHED_TFJS_LINE}.x internals only ` +
    `(npm install @tensorflow/tfjs@~${PATCHED_TFJS_LINE}.0 @tensorflow/tfjs-backend-wasm@~${PATCHED_TFJS_LINE}.0)`
  );
}
