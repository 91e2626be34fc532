/**
 * Figures with plotly.js-dist: a standalone HTML file that works offline (the library is inlined,
 * no CDN), and PNG/SVG images rendered by Plotly itself inside headless Chromium (Debian's
 * `chromium`, driven by playwright-core) so that README and notebooks can show them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Figure {
  data: object[];
  layout: Record<string, unknown>;
}

let plotlySource: string | null = null;
/** plotly.js itself (≈ 10 MB), read once per process. */
export function plotlyJs(): string {
  plotlySource ??= fs.readFileSync(require.resolve('plotly.js-dist'), 'utf8');
  return plotlySource;
}

/** `fig` as JSON that is safe inside a `<script>` (a `</script>` in the data is escaped). */
export function figureJson(fig: Figure): string {
  return JSON.stringify(fig).replace(/</g, '\\u003c');
}

/** A self-contained HTML page showing `fig`. */
export function figureHtml(fig: Figure, title: string): string {
  const json = figureJson(fig);
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${title.replace(/</g, '&lt;')}</title></head>
<body style="margin:0">
<div id="figure" style="width:100%;height:100vh"></div>
<script>${plotlyJs()}</script>
<script>const fig = ${json}; Plotly.newPlot('figure', fig.data, fig.layout, {responsive: true});</script>
</body></html>
`;
}

export const CHROMIUM_CANDIDATES = [process.env.BNN_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(
  Boolean,
) as string[];

/** Chromium flags for a headless run on a machine without a display or network. */
export const HEADLESS_CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function findChromium(): string | null {
  return CHROMIUM_CANDIDATES.find((p) => fs.existsSync(p)) ?? null;
}

export interface RenderedFigure {
  html: string;
  png?: string;
  svg?: string;
  /** Why images were not rendered, when they were not. */
  skipped?: string;
}

/** A figure's own size (its layout's width and height, where it sets them), else 900 × 500. */
export function figureSize(fig: Figure): { width: number; height: number } {
  const { width, height } = fig.layout as { width?: number; height?: number };
  return { width: width ?? 900, height: height ?? 500 };
}

/**
 * Writes `<outBase>.html`, and `<outBase>.png` / `.svg` when Chromium is available.
 * Images are rendered at `width`×`height` CSS pixels (PNG at 2× scale).
 */
export async function saveFigure(fig: Figure, outBase: string, size = figureSize(fig)): Promise<RenderedFigure> {
  fs.mkdirSync(path.dirname(outBase), { recursive: true });
  const html = figureHtml(fig, String((fig.layout.title as { text?: string })?.text ?? path.basename(outBase)));
  const out: RenderedFigure = { html: `${outBase}.html` };
  fs.writeFileSync(out.html, html);
  const executablePath = findChromium();
  if (!executablePath) {
    out.skipped =
      `no Chromium found (tried ${CHROMIUM_CANDIDATES.join(', ')}); apt-get install chromium, or set ` + `BNN_CHROMIUM`;
    return out;
  }
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath,
    args: [...HEADLESS_CHROMIUM_ARGS, '--disable-quic'],
  });
  try {
    const page = await browser.newPage();
    // 10 MB of inline script: parsing it takes seconds on a busy 2-core machine, past playwright's default 30 s.
    await page.setContent(`<!DOCTYPE html><html><body><div id="f"></div><script>${plotlyJs()}</script></body></html>`, {
      timeout: 180_000,
    });
    const images = await page.evaluate(
      async ({ fig, size }) => {
        // The two calls used here, typed: plotly.js ships no types.
        type PlotlyApi = {
          newPlot(div: string, data: object[], layout: object, config: object): Promise<unknown>;
          toImage(div: string, options: object): Promise<string>;
        };
        const Plotly = (window as unknown as { Plotly: PlotlyApi }).Plotly;
        const layout = { ...fig.layout, width: size.width, height: size.height };
        await Plotly.newPlot('f', fig.data, layout, { staticPlot: true });
        const png = await Plotly.toImage('f', { format: 'png', width: size.width, height: size.height, scale: 2 });
        const svg = await Plotly.toImage('f', { format: 'svg', width: size.width, height: size.height });
        return { png, svg };
      },
      { fig, size },
    );
    out.png = `${outBase}.png`;
    fs.writeFileSync(out.png, Buffer.from(images.png.split(',')[1], 'base64'));
    out.svg = `${outBase}.svg`;
    fs.writeFileSync(out.svg, decodeURIComponent(images.svg.replace(/^data:image\/svg\+xml,/, '')));
  } finally {
    await browser.close();
  }
  return out;
}

/** Saves `fig` like `saveFigure` and returns the PNG's bytes (null without Chromium): for notebooks. */
export async function figurePng(fig: Figure, outBase: string, size = figureSize(fig)): Promise<Uint8Array | null> {
  const saved = await saveFigure(fig, outBase, size);
  return saved.png ? fs.readFileSync(saved.png) : null;
}
