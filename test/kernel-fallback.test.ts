import { expect, it } from 'vitest';

it('falls back to WebAssembly when the native addon is absent', async () => {
  // Before the kernels load (each test file runs in its own process).
  process.env.BNN_NATIVE_ADDON = '/nonexistent/xnor_native.node';
  delete process.env.BNN_KERNEL;
  const { selectKernel, packRows, xnorGemmReference } = await import('../lib/kernels');
  const skipped: string[] = [];
  const kernel = selectKernel(undefined, (line) => skipped.push(line));
  expect(kernel.tier).toBe('wasm');
  expect(skipped.join('\n')).toMatch(/native addon not built/);
  expect(() => selectKernel('native')).toThrow(/unavailable/);
  const a = packRows([1, -1, -1, 1, 1, 1, -1], 1, 7);
  const b = packRows([1, 1, -1, -1, 1, -1, -1, 1, 1, 1, 1, 1, 1, 1], 2, 7);
  expect(Array.from(kernel.gemm(a, b))).toEqual(Array.from(xnorGemmReference(a, b)));
});
