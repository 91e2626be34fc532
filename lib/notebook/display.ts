/**
 * Rich output for the notebooks (tslab kernel), with a plain-text fallback anywhere else.
 *
 * API (stable; used by every notebook):
 * - `showFigure(fig, outBase, size?)`: an interactive Plotly figure, live in Jupyter. plotly.js is inlined
 *   (gzipped, ≈ 2.6 MB) into the notebook once per kernel session, by the first call, not once per figure.
 *   The figure is also saved as `<outBase>.html` and, when Chromium is present, `.png`/`.svg`; the PNG is
 *   put inside the figure's output so that GitHub and untrusted notebooks (no scripts run) show it.
 * - `displayHtml(html, plain)`: HTML in a kernel, `plain()` printed elsewhere.
 * - `printTensor(t)`: what `t.print()` prints, on every backend (webgpu included).
 * lib/notebook is for the notebooks only (not exported by lib/index.ts): it loads the development
 * dependencies tslab and typescript.
 */
import type * as tf from '@tensorflow/tfjs';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as tslab from 'tslab';
import { escapeHtml } from '../results/htmlTable';
import { figureJson, figureSize, plotlyJs, saveFigure, type Figure, type RenderedFigure } from '../plots/figure';

export { escapeHtml };

/** Shows `html` when running in a Jupyter kernel (tslab); otherwise prints `plain()`. Returns whether it was HTML. */
export function displayHtml(html: string, plain: () => string): boolean {
  try {
    // tslab's display throws outside a kernel ("Not ready").
    tslab.display.html(html);
    return true;
  } catch {
    console.log(plain());
    return false;
  }
}

let plotlyInjected = false;

/**
 * A script that defines `window.bnnPlotly`, a promise of Plotly: gzipped plotly.js decompressed by the
 * browser (DecompressionStream), so the notebook carries 2.6 MB instead of 10 MB.
 */
function plotlyLoaderHtml(): string {
  const packed = gzipSync(plotlyJs(), { level: 9 }).toString('base64');
  return (
    `<script>
window.bnnPlotly = window.bnnPlotly || (window.Plotly ? Promise.resolve(window.Plotly) : (async () => {
  const bytes = Uint8Array.from(atob('${packed}'), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  const script = document.createElement('script');
  script.text = await new Response(stream).text();
  document.head.appendChild(script);
  return window.Plotly;
})());
</script>` +
    `<div style="font:11px sans-serif;color:#57606a">plotly.js ${escapeHtml(plotlyVersion())} loaded for this ` +
    `notebook's interactive figures</div>`
  );
}

function plotlyVersion(): string {
  return /plotly\.js v([\d.]+)/.exec(plotlyJs().slice(0, 200))?.[1] ?? '';
}

/** The figure's output: the PNG (if any) until, and unless, Plotly draws the interactive figure over it. */
function figureOutputHtml(fig: Figure, png: Buffer | null, size: { width: number; height: number }): string {
  const id = `bnn-figure-${randomUUID()}`;
  const image = png
    ? `<img src="data:image/png;base64,${png.toString('base64')}" width="${size.width}" style="max-width:100%">`
    : '<i>interactive figure: run the notebook in Jupyter (trusted) to see it</i>';
  return `<div id="${id}" style="width:100%;max-width:${size.width}px;min-height:${size.height}px">${image}</div>
<script>
(window.bnnPlotly || Promise.resolve(window.Plotly)).then((Plotly) => {
  const div = document.getElementById('${id}');
  if (!Plotly || !div) return;
  const fig = ${figureJson(fig)};
  div.innerHTML = '';
  Plotly.newPlot(div, fig.data, { height: ${size.height}, ...fig.layout }, { responsive: true });
});
</script>`;
}

/**
 * Saves and shows `fig`: see the file's comment. Returns nothing, so that a notebook cell ending with it prints
 * nothing.
 */
export async function showFigure(fig: Figure, outBase: string, size = figureSize(fig)): Promise<void> {
  let saved: RenderedFigure;
  try {
    saved = await saveFigure(fig, outBase, size);
  } catch (e) {
    // The interactive figure needs no Chromium: a failed PNG render costs only the static copy.
    console.warn(`${outBase}: PNG not rendered (${(e as Error).message.split('\n')[0]})`);
    saved = { html: `${outBase}.html`, skipped: String(e) };
  }
  const png = saved.png ? fs.readFileSync(saved.png) : null;
  const html = (plotlyInjected ? '' : plotlyLoaderHtml()) + figureOutputHtml(fig, png, size);
  const shown = displayHtml(html, () => `figure: ${[saved.html, saved.png].filter(Boolean).join(', ')}`);
  plotlyInjected ||= shown;
}

/**
 * `t.print()` on every backend: tfjs-webgpu cannot read synchronously in Node (print does), so the values
 * are read asynchronously first; a backend keeps the values it has read, and print uses them.
 */
export async function printTensor(t: tf.Tensor): Promise<void> {
  await t.data();
  t.print();
}
