#!/usr/bin/env node
// Lines ≤ 120 characters in the C++ addon (native/), as eslint's @stylistic/max-len enforces for TS/JS.
// A check of our own because the usual tool, clang-format, is not an npm package: CI would need an apt
// dependency just for this, and a developer's local clang-format version may format differently.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const MAX = 120;
const dir = path.join(__dirname, '..', 'native');
const long = fs
  .readdirSync(dir)
  .filter((f) => /\.(cc|h)$/.test(f))
  .flatMap((f) =>
    fs
      .readFileSync(path.join(dir, f), 'utf8')
      .split('\n')
      .map((line, i) => ({ where: `native/${f}:${i + 1}`, length: [...line].length }))
      .filter((l) => l.length > MAX),
  );
for (const l of long) console.error(`${l.where}: ${l.length} characters (at most ${MAX})`);
process.exit(long.length ? 1 : 0);
