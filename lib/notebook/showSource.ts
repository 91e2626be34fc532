/**
 * Show the code: prints the source of a function, class, constant or method of `lib/`, read from the
 * `.ts` file itself (found with the TypeScript compiler's parser), so a notebook can never drift from it.
 *
 * API (stable; used by every notebook):
 * - `showSource(...names)`: one name, one highlighted listing; several, side by side (forward and
 *   gradient, say). A name is `sign`, `BinaryNetOptimizer.apply` (a method), or `train/trainer.ts:trainStep`
 *   when the bare name is declared in several files.
 * - `sourceOf(name)`: `{ name, file, line, text }`, the same lookup as plain text.
 * Outside a Jupyter kernel the listing is printed as plain text.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { displayHtml, escapeHtml } from './display';

export interface SourceListing {
  name: string;
  /** Relative to the repository root, e.g. `lib/quantizers.ts`. */
  file: string;
  /** 1-based line of the declaration (its doc comment included). */
  line: number;
  text: string;
}

/** lib/ as .ts sources: next to this file when run from source, three levels up when run from dist/lib/notebook. */
function libDir(): string {
  const candidates = [path.resolve(__dirname, '..'), path.resolve(__dirname, '../../../lib')];
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'presets.ts')));
  if (!dir) throw new Error(`showSource: lib/*.ts sources not found (looked in ${candidates.join(', ')})`);
  return dir;
}

function tsFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** The names a top-level statement declares, with the node whose text is shown for each. */
function declarations(statement: ts.Statement): [string, ts.Node][] {
  if (ts.isVariableStatement(statement)) {
    return statement.declarationList.declarations
      .filter((d) => ts.isIdentifier(d.name))
      .map((d) => [d.name.getText(), statement]);
  }
  const named = statement as ts.Statement & { name?: ts.Identifier };
  if (!named.name || !ts.isIdentifier(named.name)) return [];
  const out: [string, ts.Node][] = [[named.name.text, statement]];
  if (ts.isClassDeclaration(statement)) {
    for (const member of statement.members) {
      if (member.name && (ts.isIdentifier(member.name) || ts.isPrivateIdentifier(member.name))) {
        out.push([`${named.name.text}.${member.name.text}`, member]);
      }
    }
  }
  return out;
}

/** Every top-level declaration (and class member) of one file. */
function declarationsOf(file: string, text: string, root: string): SourceListing[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const relative = path.relative(root, file).split(path.sep).join('/');
  return source.statements.flatMap(declarations).map(([name, node]) => {
    // getFullStart includes the leading doc comment; skip the blank lines before it.
    const start = node.getFullStart() + /^\s*/.exec(node.getFullText())![0].length;
    const indent = text.slice(text.lastIndexOf('\n', start - 1) + 1, start);
    const line = source.getLineAndCharacterOfPosition(start).line + 1;
    return { name, file: relative, line, text: dedent(indent + text.slice(start, node.getEnd())) };
  });
}

/**
 * Declarations named `name` in lib/ (all declarations when `name` is null), read afresh on every call so that
 * an edited lib/ shows at once. Only files that mention the name are parsed.
 */
function findDeclarations(name: string | null): SourceListing[] {
  const lib = libDir();
  const head = name?.split('.')[0];
  return tsFiles(lib).flatMap((file) => {
    const text = fs.readFileSync(file, 'utf8');
    if (head && !text.includes(head)) return [];
    return declarationsOf(file, text, path.dirname(lib)).filter((s) => name === null || s.name === name);
  });
}

function dedent(text: string): string {
  const lines = text.split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

/** The source of `name` (`fn`, `Class.method`, or `dir/file.ts:fn`); throws naming close matches when absent. */
export function sourceOf(name: string): SourceListing {
  const [file, bare] = name.includes(':') ? name.split(':') : [null, name];
  const all = findDeclarations(bare);
  const found = file ? all.filter((s) => s.file === `lib/${file}` || s.file === file) : all;
  if (found.length === 1) return found[0];
  if (found.length > 1) {
    throw new Error(
      `showSource: '${name}' is declared in ${found.map((s) => s.file).join(', ')}: write 'file.ts:${bare}'`,
    );
  }
  const lower = bare.toLowerCase();
  const names = [...new Set(findDeclarations(null).map((s) => s.name))];
  // A name inside the asked one counts from 3 characters: one-letter constants are inside every name.
  const similar = names
    .filter((k) => k.toLowerCase().includes(lower) || (k.length >= 3 && lower.includes(k.toLowerCase())))
    .slice(0, 8);
  throw new Error(
    `showSource: no declaration '${name}' in lib/${similar.length ? ` (similar: ${similar.join(', ')})` : ''}`,
  );
}

const TOKEN_COLOURS = { keyword: '#cf222e', string: '#0a3069', number: '#0550ae', comment: '#6e7781', type: '#8250df' };

/** TypeScript source as HTML with keywords, literals and comments coloured (the compiler's own scanner). */
export function highlightTypeScript(code: string): string {
  const K = ts.SyntaxKind;
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, code);
  const colourOf = (kind: ts.SyntaxKind, text: string): string | undefined => {
    if (kind === K.SingleLineCommentTrivia || kind === K.MultiLineCommentTrivia) return TOKEN_COLOURS.comment;
    if (kind >= K.FirstKeyword && kind <= K.LastKeyword) return TOKEN_COLOURS.keyword;
    if (kind >= K.FirstTemplateToken && kind <= K.LastTemplateToken) return TOKEN_COLOURS.string;
    if (kind === K.StringLiteral || kind === K.RegularExpressionLiteral) return TOKEN_COLOURS.string;
    if (kind === K.NumericLiteral || kind === K.BigIntLiteral) return TOKEN_COLOURS.number;
    if (kind === K.Identifier && /^[A-Z]/.test(text)) return TOKEN_COLOURS.type;
    return undefined;
  };
  // Open braces per template `${`, so the scanner resumes the template after its closing `}`.
  const braces: number[] = [];
  let html = '';
  for (let kind = scanner.scan(); kind !== K.EndOfFileToken; kind = scanner.scan()) {
    if (kind === K.TemplateHead) braces.push(0);
    else if (kind === K.OpenBraceToken && braces.length) braces[braces.length - 1]++;
    else if (kind === K.CloseBraceToken && braces.length) {
      if (braces[braces.length - 1] === 0) {
        kind = scanner.reScanTemplateToken(false);
        if (kind === K.TemplateTail) braces.pop();
      } else braces[braces.length - 1]--;
    }
    const text = scanner.getTokenText();
    const colour = colourOf(kind, text);
    html += colour ? `<span style="color:${colour}">${escapeHtml(text)}</span>` : escapeHtml(text);
  }
  return html;
}

function listingHtml(s: SourceListing): string {
  return (
    `<div style="flex:0 1 auto;min-width:0;max-width:100%">` +
    `<div style="font:12px sans-serif;color:#57606a;margin:2px 0">${escapeHtml(s.file)}:${s.line} · ` +
    `${escapeHtml(s.name)}</div>` +
    `<pre style="margin:0;padding:8px;background:#f6f8fa;border-radius:6px;font-size:12px;line-height:1.35;` +
    `white-space:pre;overflow-x:auto">` +
    `${highlightTypeScript(s.text)}</pre></div>`
  );
}

/** Shows the source of each name (side by side when there are several): see the file's comment. */
export function showSource(...names: string[]): void {
  if (!names.length) throw new Error('showSource: give at least one name');
  const listings = names.map(sourceOf);
  const html = `<div style="display:flex;gap:12px;flex-wrap:wrap">${listings.map(listingHtml).join('')}</div>`;
  displayHtml(html, () => listings.map((s) => `// ${s.file}:${s.line}\n${s.text}`).join('\n\n'));
}
