/** Node loader of the WebAssembly tier (build/xnor.wasm); the kernels themselves are in wasmKernels.ts. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WasmKernels } from './wasmKernels';

export { WasmKernels } from './wasmKernels';

export function wasmFileCandidates(): string[] {
  if (process.env.BNN_WASM_FILE) return [process.env.BNN_WASM_FILE];
  return [path.join(__dirname, '..', '..'), path.join(__dirname, '..', '..', '..')].map((root) =>
    path.join(root, 'build', 'xnor.wasm'),
  );
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
