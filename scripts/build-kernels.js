#!/usr/bin/env node
// Builds the XNOR kernels at `npm install` (and `npm run build:kernels`):
//   1. the native addon with node-gyp (optional: on failure, warn and go on — the wasm tier is used);
//   2. the WebAssembly kernels with AssemblyScript (build/xnor.wasm).
// node-gyp's rebuild empties build/, so it runs first.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  return result.status === 0;
}

function nodeHeadersDir() {
  // Offline machines: use the headers installed with Node (e.g. /usr/include/node) instead of
  // letting node-gyp download them.
  const prefix = path.dirname(path.dirname(process.execPath));
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

if (process.env.BNN_SKIP_NATIVE) {
  console.warn('build-kernels: BNN_SKIP_NATIVE is set, not building the native addon');
} else if (!fs.existsSync(bin('node-gyp'))) {
  console.warn('build-kernels: node-gyp is not installed; the native addon is skipped (wasm tier will be used)');
} else {
  const headers = nodeHeadersDir();
  const args = ['rebuild', ...(headers ? [`--nodedir=${headers}`] : [])];
  if (!run(bin('node-gyp'), args)) {
    console.warn('build-kernels: WARNING: the native addon did not build; the WebAssembly tier will be used instead');
  }
}

if (!fs.existsSync(bin('asc'))) {
  console.warn('build-kernels: AssemblyScript is not installed; build/xnor.wasm is not built (ts tier only)');
} else {
  fs.mkdirSync(path.join(root, 'build'), { recursive: true });
  const ok = run(bin('asc'), [
    'lib/kernels/wasm/xnorGemm.ts',
    '-O3',
    '--runtime',
    'stub',
    '--noAssert',
    '--enable',
    'simd',
    '-o',
    'build/xnor.wasm',
  ]);
  if (!ok) {
    console.error('build-kernels: AssemblyScript compilation failed');
    process.exitCode = 1;
  }
}
