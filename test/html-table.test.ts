/** lib/results/htmlTable.ts: the notebooks' HTML tables. */
import { describe, expect, it } from 'vitest';
import { htmlTable, isNumeric, markdownHtml } from '../lib/results/htmlTable';
import { summaryHtml, formatSummary, type LayerSummary } from '../lib/summary';

const cellsOf = (html: string) => [...html.matchAll(/<t([hd]) style="([^"]*)">(.*?)<\/t[hd]>/g)];

describe('HTML tables for the notebooks', () => {
  it('recognises the numbers tables show', () => {
    for (const n of ['1,234', '-1e-9', '1.23 %', '12.50 KiB', '3 s', '4 (2)', '—', '-0.000', '**1.23 %**']) {
      expect(isNumeric(n), n).toBe(true);
    }
    for (const t of ['dense_1 (BinaryDense)', '[?, 784]', '1×1', 'quick']) expect(isNumeric(t), t).toBe(false);
  });

  it('right-aligns numeric columns on one line, escapes text, overrides Jupyter’s fixed layout', () => {
    const html = htmlTable(
      ['name', 'error'],
      [
        ['a <b>', '1.00 %'],
        ['c', '2.00 %'],
      ],
      { footer: [['Total', '3 %']] },
    );
    expect(html).toMatch(/^<table style="[^"]*table-layout:auto/);
    const cells = cellsOf(html);
    expect(cells.map((c) => c[3])).toEqual(['name', 'error', 'a &lt;b&gt;', '1.00 %', 'c', '2.00 %', 'Total', '3 %']);
    expect(cells[3][2]).toMatch(/text-align:right;.*white-space:nowrap/);
    expect(cells[2][2]).toMatch(/text-align:left/);
    expect(cells[1][2]).toMatch(/white-space:normal/); // headers may wrap
  });

  it('renders the results table’s Markdown: headings, paragraphs with inline marks, pipe tables', () => {
    const html = markdownHtml(
      '# Title\n\nRows *(paper)* and `code`.\n\n| Method | MNIST |\n|---|---|\n| BNN | **1.40 %** |\n',
    );
    expect(html).toContain('<h3 style="margin:10px 0 4px">Title</h3>');
    expect(html).toContain('Rows <i>(paper)</i> and <code>code</code>.');
    const cells = cellsOf(html);
    expect(cells.map((c) => c[3])).toEqual(['Method', 'MNIST', 'BNN', '<b>1.40 %</b>']);
    expect(cells[3][2]).toMatch(/text-align:right/);
  });

  it('renders bullet lists (items continued on indented lines) and leaves TeX for MathJax', () => {
    const html = markdownHtml('Reading:\n\n- **AP2** within $\\sqrt2$\n  of x;\n- second\n\nAfter.');
    expect(html).toContain('<p style="margin:4px 0">Reading:</p>');
    const items = [...html.matchAll(/<li[^>]*>(.*?)<\/li>/g)].map((m) => m[1]);
    expect(items).toEqual(['<b>AP2</b> within $\\sqrt2$ of x;', 'second']);
    expect(html).toMatch(/<\/ul>\n<p style="margin:4px 0">After.<\/p>/);
  });

  it('leaves code spans as written: no emphasis across or inside them', () => {
    const html = markdownHtml('from `results/*/metrics.json`; rows marked *(paper)* are the paper’s');
    expect(html).toContain('from <code>results/*/metrics.json</code>; rows marked <i>(paper)</i> are');
  });

  it('the model summary as HTML carries the text form’s numbers', () => {
    const row: LayerSummary = {
      name: 'dense_1',
      className: 'BinaryDense',
      outputShape: '[?, 4096]',
      inputBits: 32,
      weightBits: 1,
      binaryParams: 3211264,
      quantizedParams: 0,
      realParams: 0,
      float32Bytes: 4 * 3211264,
      packedBytes: 3211264 / 8,
      macs: { binaryBinary: 0, binaryFloat: 3211264, floatFloat: 0 },
    };
    const html = summaryHtml([row]);
    expect(html).toContain('>3,211,264<');
    expect(html).toContain('12544.00 KiB');
    expect(formatSummary([row])).toContain('12544.00 KiB');
  });
});
