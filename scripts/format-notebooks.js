#!/usr/bin/env node
// The notebooks' code cells through prettier at 100 columns, so that no code line is cut at a Jupyter cell's
// edge (notebooks/ is in .prettierignore: prettier does not read .ipynb). `--check` only reports. A cell tagged
// `no-format` (its metadata's tags; the hyperparameter cell with its aligned comments) is left as written,
// but its lines must fit too. Outputs are untouched: formatting changes no behaviour.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const prettier = require('prettier');

const WIDTH = 100;
const root = path.join(__dirname, '..');
const check = process.argv.includes('--check');
const options = { parser: 'typescript', printWidth: WIDTH, singleQuote: true, trailingComma: 'all' };

async function main() {
  const dir = path.join(root, 'notebooks');
  const problems = [];
  for (const name of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb'))
    .sort()) {
    const file = path.join(dir, name);
    const text = fs.readFileSync(file, 'utf8');
    const nb = JSON.parse(text);
    let changed = false;
    for (const [i, cell] of nb.cells.entries()) {
      if (cell.cell_type !== 'code') continue;
      const source = cell.source.join('');
      let formatted = source;
      if (!(cell.metadata.tags ?? []).includes('no-format')) {
        try {
          formatted = (await prettier.format(source, options)).replace(/\n$/, '');
        } catch (e) {
          problems.push(`${name} cell ${i}: prettier cannot parse it: ${e.message.split('\n')[0]}`);
        }
      }
      const long = formatted.split('\n').filter((l) => l.length > WIDTH);
      if (long.length) problems.push(`${name} cell ${i}: ${long.length} line(s) over ${WIDTH} characters`);
      if (formatted === source) continue;
      if (check) problems.push(`${name} cell ${i}: not formatted (node scripts/format-notebooks.js)`);
      cell.source = formatted.split(/(?<=\n)/);
      changed = true;
    }
    if (changed && !check) fs.writeFileSync(file, JSON.stringify(nb, null, 1) + '\n');
  }
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
