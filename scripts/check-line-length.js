#!/usr/bin/env node
// Lines ≤ 120 characters where eslint's @stylistic/max-len does not look: the C++ addon (native/) and the
// AssemblyScript kernels (lib/kernels/wasm/, TypeScript syntax with AssemblyScript decorators and casts that
// the TS parser of eslint and prettier rejects). A check of our own because the usual C++ tool, clang-format,
// is not an npm package: CI would need an apt dependency just for this.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const MAX = 120;
const root = path.join(__dirname, '..');
const checked = [
  { dir: 'native', pattern: /\.(cc|h)$/ },
  { dir: 'lib/kernels/wasm', pattern: /\.ts$/ },
];
const long = checked.flatMap(({ dir, pattern }) =>
  fs
    .readdirSync(path.join(root, dir))
    .filter((f) => pattern.test(f))
    .flatMap((f) =>
      fs
        .readFileSync(path.join(root, dir, f), 'utf8')
        .split('\n')
        .map((line, i) => ({ where: `${dir}/${f}:${i + 1}`, length: [...line].length }))
        .filter((l) => l.length > MAX),
    ),
);
for (const l of long) console.error(`${l.where}: ${l.length} characters (at most ${MAX})`);
process.exit(long.length ? 1 : 0);
