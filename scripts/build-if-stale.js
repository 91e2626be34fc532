#!/usr/bin/env node
// Before `npm start` / `npm run train` (which run the compiled dist/cli/train.js, see cli/train.ts):
// recompile with tsc when a source under lib/ or cli/ (or tsconfig.json) is newer than the oldest of
// their outputs in dist/ (so a build cut short by Ctrl-C is redone too), so edits are picked up.
// Checking costs about 0.1 s; a rebuild about 30 s. Type errors are printed but do not stop the run
// (tsc still emits, and tsx would run it too); `npm run typecheck` and CI are where they fail.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const mtime = (file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : -Infinity);

const sources = ['lib', 'cli'].flatMap((dir) =>
  fs
    .readdirSync(path.join(root, dir), { recursive: true })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.split(path.sep).includes('wasm'))
    .map((f) => path.join(dir, f)),
);
const newestSource = Math.max(...[...sources, 'tsconfig.json'].map((f) => mtime(path.join(root, f))));
const oldestOutput = Math.min(...sources.map((f) => mtime(path.join(root, 'dist', f.replace(/\.ts$/, '.js')))));

if (newestSource > oldestOutput) {
  console.error('sources changed since the last build: compiling to dist/ (npm run build)…');
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (!fs.existsSync(path.join(root, 'dist', 'cli', 'train.js'))) process.exit(tsc.status || 1);
  if (tsc.status !== 0) console.error('type errors above (npm run typecheck); running the emitted JavaScript anyway');
}
