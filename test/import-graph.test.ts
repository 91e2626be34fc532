/**
 * The house's layout, kept: no import loop between files of lib/, bench/, cli/ or scripts, the library
 * below the tools that measure and drive it (lib/ imports nothing of bench/ or cli/), and no loop between
 * the folders of lib/ (a folder that imports another may not be imported back by it, so that the
 * layers read one way: io and data under train, train under results, kernels under engine, …).
 * Imports are read by TypeScript's own pre-processor (type-only imports count: they tie modules too).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(rel);
    return /\.ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** file → the project files it imports (relative imports resolved to .ts files or folder indexes). */
function importGraph(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  return new Map(
    files.map((file) => {
      const { importedFiles } = ts.preProcessFile(fs.readFileSync(path.join(root, file), 'utf8'), true, true);
      const targets = importedFiles
        .filter((i) => i.fileName.startsWith('.'))
        .map((i) => path.normalize(path.join(path.dirname(file), i.fileName)))
        .map((t) => [`${t}.ts`, path.join(t, 'index.ts'), t].find((c) => known.has(c)))
        .filter((t): t is string => t !== undefined);
      return [file, targets];
    }),
  );
}

/** Strongly connected components of more than one node (Tarjan): the loops. */
function loops(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('the import graph', () => {
  const files = ['lib', 'bench', 'cli', 'scripts']
    .filter((d) => fs.existsSync(path.join(root, d)))
    .flatMap(sourceFiles);
  const graph = importGraph(files);

  it('reads the imports (a sanity check of the reader itself)', () => {
    expect(graph.get('cli/train.ts')).toContain('lib/experiment.ts');
    expect(
      loops(
        new Map([
          ['a', ['b']],
          ['b', ['a']],
          ['c', ['a']],
        ]),
      ),
    ).toEqual([['a', 'b']]);
  });

  it('has no loop between files', () => {
    expect(loops(graph)).toEqual([]);
  });

  it('keeps the library below the tools: nothing in lib/ imports bench/ or cli/', () => {
    const upward = [...graph].flatMap(([file, targets]) =>
      file.startsWith('lib/') ? targets.filter((t) => !t.startsWith('lib/')).map((t) => `${file} -> ${t}`) : [],
    );
    expect(upward).toEqual([]);
  });

  it("has no loop between lib's folders", () => {
    // Files at lib/'s top level (presets, quantizers, experiment, index) are left out: they are the
    // library's shared vocabulary and its entry points, not a layer.
    const folderOf = (file: string) => path.dirname(file);
    const folders = new Map<string, Set<string>>();
    for (const [file, targets] of graph) {
      const from = folderOf(file);
      if (!from.startsWith('lib/')) continue;
      for (const to of targets.map(folderOf)) {
        if (to !== from && to.startsWith('lib/')) folders.set(from, (folders.get(from) ?? new Set()).add(to));
      }
    }
    expect(loops(new Map([...folders].map(([k, v]) => [k, [...v]])))).toEqual([]);
  });
});
