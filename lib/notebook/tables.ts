/**
 * Tables in the notebooks as HTML (lib/results/htmlTable.ts): they fit the output area, numbers right-aligned
 * and on one line, where text tables wrapped. Outside a kernel each prints its plain-text form.
 *
 * - `showTable(header, rows, options?)`: a table from cells.
 * - `showMarkdown(markdown)`: Markdown with pipe tables (the results table, comparison tables).
 * - `showSummary(model)`: the model summary (lib/summary.ts), whose text form the CLI prints.
 */
import type * as tf from '@tensorflow/tfjs';
import { htmlTable, markdownHtml, type HtmlTableOptions } from '../results/htmlTable';
import { formatSummary, summarize, summaryHtml } from '../summary';
import { displayHtml } from './display';

export function showTable(header: string[], rows: string[][], options: HtmlTableOptions = {}): void {
  const plain = () => [header, ...rows, ...(options.footer ?? [])].map((r) => r.join('  |  ')).join('\n');
  displayHtml(htmlTable(header, rows, options), plain);
}

export function showMarkdown(markdown: string): void {
  displayHtml(markdownHtml(markdown), () => markdown);
}

export function showSummary(model: tf.LayersModel): void {
  const rows = summarize(model);
  displayHtml(summaryHtml(rows), () => formatSummary(rows));
}
