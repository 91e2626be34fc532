/**
 * Tables as HTML for the notebooks, styled inline so that Jupyter's own table style (fixed layout, columns of
 * equal width, centred) does not apply: columns as wide as their content, numbers right-aligned and kept on one
 * line, long text wrapping. No dependencies: the library's summaries render with it too.
 */

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A number as tables show one: `1,234`, `1.23 %`, `12.5 KiB`, `3 s`, `4 (2)`, `1.2e-3`, or a dash. */
const NUMBER = /^[-−+]?(\d[\d,]*(\.\d+)?|\.\d+)(e[-+]?\d+)?( ?(%|s|ms|KiB|MiB|GiB|×|x))?( \(\d+\))?$|^[—–-]$/;

export function isNumeric(cell: string): boolean {
  return NUMBER.test(cell.replace(/<[^>]*>|\*\*/g, '').trim());
}

/**
 * Text cells up to this many characters never wrap (`[?, 4096]`, `native`, a date); longer text (and any header)
 * may wrap within its column, which the browser does only where the table would not fit its output area.
 */
const NO_WRAP = 12;

export interface HtmlTableOptions {
  /** Rows rendered in bold with a rule above (totals). */
  footer?: string[][];
  /** Cells are HTML already (default: plain text, escaped). */
  html?: boolean;
  caption?: string;
}

/** A table: `header`, then `rows`; a column whose cells are all numeric is right-aligned. */
export function htmlTable(header: string[], rows: string[][], o: HtmlTableOptions = {}): string {
  const all = [...rows, ...(o.footer ?? [])];
  const numeric = header.map(
    (_, c) => all.some((r) => r[c]?.trim()) && all.every((r) => !r[c]?.trim() || isNumeric(r[c])),
  );
  const text = (cell: string) => (o.html ? cell : escapeHtml(cell));
  const length = (cell: string) => cell.replace(/<[^>]*>/g, '').length;
  const style = (cell: string, c: number, th: boolean) =>
    `padding:3px 8px;text-align:${numeric[c] ? 'right' : 'left'};vertical-align:top;` +
    `white-space:${!th && (numeric[c] || length(cell) <= NO_WRAP) ? 'nowrap' : 'normal'};` +
    (th ? 'border-bottom:1px solid #888;font-weight:600;' : '');
  const cellHtml = (cell: string, c: number, th: boolean) => {
    const tag = th ? 'th' : 'td';
    return `<${tag} style="${style(cell, c, th)}">${text(cell)}</${tag}>`;
  };
  const row = (r: string[], th = false, extra = '') =>
    `<tr style="${extra}">${r.map((cell, c) => cellHtml(cell, c, th)).join('')}</tr>`;
  const foot = (o.footer ?? []).map((r, i) =>
    row(r, false, `font-weight:600;${i === 0 ? 'border-top:1px solid #888;' : ''}`),
  );
  return (
    `<table style="border-collapse:collapse;table-layout:auto;margin:4px 0;font-size:12px;line-height:1.4;` +
    `width:auto;max-width:100%">` +
    (o.caption ? `<caption style="caption-side:top;text-align:left;padding:2px 0">${text(o.caption)}</caption>` : '') +
    `<thead>${row(header, true)}</thead><tbody>${rows.map((r) => row(r)).join('')}${foot.join('')}</tbody></table>`
  );
}

/** Markdown's inline marks: `code` (taken as written), **bold**, *italic*, [text](url); the rest escaped. */
export function inlineMarkdown(text: string): string {
  // Odd parts are code spans: no emphasis inside them (`results/*/metrics.json` is not italic).
  return escapeHtml(text)
    .split(/`([^`]+)`/)
    .map((part, i) =>
      i % 2
        ? `<code>${part}</code>`
        : part
            .replace(/\*\*([^*]+)\*\*/g, '<b>$1</b>')
            .replace(/(^|[^*\w])\*([^*]+)\*(?!\w)/g, '$1<i>$2</i>')
            .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, '<a href="$2">$1</a>'),
    )
    .join('');
}

/**
 * Markdown as the project writes it (headings, paragraphs, `- ` bullet lists, pipe tables: results/table.md, the
 * notebooks' comparison tables and generated prose) as HTML, every table through `htmlTable`. `$…$` is left as
 * written: Jupyter typesets an HTML output's TeX with MathJax.
 */
export function markdownHtml(markdown: string): string {
  const out: string[] = [];
  const lines = markdown.split('\n');
  const cells = (line: string) =>
    line
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((c) => inlineMarkdown(c.trim().replace(/\\\|/g, '|')));
  let paragraph: string[] = [];
  /** Bullet items, each its lines; a list ends at a blank line or a line that is not indented. */
  let items: string[][] = [];
  const flush = () => {
    if (paragraph.length) out.push(`<p style="margin:4px 0">${inlineMarkdown(paragraph.join(' '))}</p>`);
    paragraph = [];
    if (items.length) {
      const li = items.map((item) => `<li style="margin:2px 0">${inlineMarkdown(item.join(' '))}</li>`);
      out.push(`<ul style="margin:4px 0;padding-left:20px">${li.join('')}</ul>`);
    }
    items = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (line.trim().startsWith('|') && /^\s*\|?\s*:?-+/.test(lines[i + 1] ?? '')) {
      flush();
      const header = cells(line);
      const rows: string[][] = [];
      for (i += 2; i < lines.length && lines[i].trim().startsWith('|'); i++) rows.push(cells(lines[i]));
      i--;
      out.push(htmlTable(header, rows, { html: true }));
    } else if (heading) {
      flush();
      const level = Math.min(6, heading[1].length + 2);
      out.push(`<h${level} style="margin:10px 0 4px">${inlineMarkdown(heading[2])}</h${level}>`);
    } else if (!line.trim()) flush();
    else if (/^[-*] /.test(line)) {
      if (paragraph.length) flush();
      items.push([line.slice(2).trim()]);
    } else if (items.length && /^\s/.test(line)) items[items.length - 1].push(line.trim());
    else {
      if (items.length) flush();
      paragraph.push(line.trim());
    }
  }
  flush();
  return `<div style="max-width:100%">${out.join('\n')}</div>`;
}
