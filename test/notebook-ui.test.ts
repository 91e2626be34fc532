/**
 * The notebooks as a reader meets them: Debian's Jupyter Notebook server (loopback, a token, a free port),
 * driven in headless Chromium by playwright-core. Notebooks 01 and 02 are opened, 02's hyperparameter cell is
 * edited in the page's editor to a seconds-long run (an edited run: it must land in runs/results/, not
 * results/), and each runs with Kernel → Restart & Run All. Checked: no error output, every figure live
 * (Plotly drew it), no output collapsed into a scroll box, no table wider than its output area, the kernel
 * indicator busy while cells run, and `git status` of results/ and notebooks/ unchanged afterwards (the page's
 * autosave is turned off, as a reader's edits would be saved otherwise). Screenshots go to runs/notebook-ui/.
 * Skips, saying why, where Jupyter Notebook, Chromium or tslab is missing (CI installs them: .ci/run).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { findChromium, HEADLESS_CHROMIUM_ARGS } from '../lib/plots/figure';

/* eslint-disable @typescript-eslint/no-explicit-any -- the page's Jupyter globals are untyped */

const root = path.resolve(__dirname, '..');
const PY = process.env.BNN_JUPYTER_PYTHON ?? '/usr/bin/python3';
const bin = path.join(root, 'node_modules', '.bin');
const shots = path.join(root, 'runs', 'notebook-ui');
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
delete env.BNN_PRESET; // 02 runs its `quick` preset with the edits below: an edited run

function missing(): string | null {
  if (spawnSync(PY, ['-c', 'import notebook'], { stdio: 'ignore' }).status !== 0) {
    return `no Jupyter Notebook for ${PY} (apt-get install jupyter-notebook)`;
  }
  if (!findChromium()) return 'no Chromium (apt-get install chromium)';
  if (!fs.existsSync(path.join(bin, 'tslab'))) return 'no tslab in node_modules/.bin (npm install)';
  return null;
}
const why = missing();
if (why) console.warn(`notebook UI test skipped: ${why}`);

/** What the reader changes in 02's hyperparameter cell: a run of seconds instead of minutes. */
const EDITS: Record<string, string> = {
  hiddenUnits: '[256, 256, 256]',
  epochs: '2',
  trainLimit: '2000',
  validLimit: '500',
  testLimit: '1000',
};

const git = (...args: string[]) => spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout;
/** What a notebook run could change in the repository: committed results and the notebooks themselves. */
const repositoryState = () => git('status', '--porcelain', '--untracked-files=all', '--', 'results', 'notebooks');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitForServer(url: string, server: ChildProcess, log: () => string): Promise<void> {
  for (let t = 0; t < 120; t++) {
    if (server.exitCode !== null) throw new Error(`Jupyter exited (${server.exitCode}):\n${log()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Jupyter did not answer at ${url}:\n${log()}`);
}

interface Findings {
  errors: string[];
  /** typeof window.Plotly: 'object' once the notebook's first figure has loaded plotly.js. */
  plotly: string;
  figures: number;
  liveFigures: number;
  scrollBoxes: number;
  wideTables: string[];
  idleWhileRunning: number;
  samples: number;
  seconds: number;
}

/** Opens `name`, applies `edit` (in the page), Restart & Run All, and reports what the reader would see. */
async function runInPage(page: Page, base: string, name: string, edit?: Record<string, string>): Promise<Findings> {
  await page.goto(`${base}/notebooks/${name}`);
  await page.waitForFunction(() => {
    const j = (window as any).Jupyter;
    return j?.notebook?.kernel?.is_connected?.() && j.notebook.get_cells().length > 0;
  });
  // A reader's session would autosave the edited notebook into the repository: not in a test.
  await page.evaluate(() => (window as any).Jupyter.notebook.set_autosave_interval(0));
  if (edit) {
    await page.evaluate((edits) => {
      const cell = (window as any).Jupyter.notebook
        .get_cells()
        .find((c: any) => c.get_text().startsWith('const hyperparameters'));
      const cm = cell.code_mirror;
      for (const [key, value] of Object.entries(edits)) {
        const line = cm
          .getValue()
          .split('\n')
          .findIndex((l: string) => new RegExp(`^\\s*${key}: `).test(l));
        const text: string = cm.getLine(line);
        const m = new RegExp(`^(\\s*${key}: )(.+?)(,\\s+//.*)$`).exec(text)!;
        // As typing would: replace the value, keep the aligned `// paper:` comment.
        cm.replaceRange(value, { line, ch: m[1].length }, { line, ch: m[1].length + m[2].length });
      }
    }, edit);
  }
  const started = Date.now();
  await page.click('#kernellink');
  await page.click('#restart_run_all');
  await page.click('.modal-dialog .modal-footer button.btn-danger');
  // Running: wait for every queued cell; sample the kernel indicator meanwhile.
  let samples = 0;
  let idleWhileRunning = 0;
  let sawRunning = false;
  for (;;) {
    const state = await page.evaluate(() => {
      const cells = (window as any).Jupyter.notebook.get_cells().filter((c: any) => c.cell_type === 'code');
      const running = cells.filter((c: any) => c.input_prompt_number === '*').length;
      const done = cells.filter((c: any) => typeof c.input_prompt_number === 'number').length;
      const idle = document.querySelector('#kernel_indicator_icon')?.classList.contains('kernel_idle_icon');
      const error = document.querySelector('.output_error') !== null;
      return { running, done, total: cells.length, idle, error };
    });
    if (state.running > 0) {
      sawRunning = true;
      samples++;
      // The first cell has not loaded lib/notebook (and its indicator fix) yet.
      if (state.idle && state.done > 1) idleWhileRunning++;
    }
    if (sawRunning && state.running === 0 && (state.done === state.total || state.error)) break;
    if (Date.now() - started > 240_000)
      throw new Error(`${name}: still running after 240 s (${JSON.stringify(state)})`);
    await page.waitForTimeout(250);
  }
  const seconds = (Date.now() - started) / 1000;
  // Plotly draws each figure asynchronously (plotly.js is decompressed in the page first).
  await page
    .waitForFunction(
      () =>
        [...document.querySelectorAll('.output_area [id^="bnn-figure-"]')].every((d) =>
          d.matches('.js-plotly-plot, :has(.js-plotly-plot)'),
        ),
      undefined,
      { timeout: 60_000 },
    )
    .catch(() => {});
  const findings = await page.evaluate(() => {
    const errors = [...document.querySelectorAll('.output_error')].map((e) => e.textContent!.slice(0, 500));
    const figures = [...document.querySelectorAll('.output_area [id^="bnn-figure-"]')];
    const wideTables = [...document.querySelectorAll('.output_subarea table, .text_cell_render table')]
      .map((t) => {
        const area = t.closest('.output_subarea, .text_cell_render')!;
        const style = getComputedStyle(area);
        const inner = area.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        const width = t.getBoundingClientRect().width;
        return width > inner + 1
          ? `${Math.round(width)} px > ${Math.round(inner)} px: ${t.textContent!.slice(0, 80)}`
          : '';
      })
      .filter(Boolean);
    return {
      errors,
      plotly: typeof (window as unknown as { Plotly?: object }).Plotly,
      figures: figures.length,
      liveFigures: figures.filter((d) => d.matches('.js-plotly-plot, :has(.js-plotly-plot)')).length,
      scrollBoxes: document.querySelectorAll('.output_scroll').length,
      wideTables,
    };
  });
  return { ...findings, idleWhileRunning, samples, seconds };
}

/** The whole notebook in one image: Jupyter scrolls inside #site, so let the page grow instead. */
async function screenshot(page: Page, file: string): Promise<void> {
  await page.addStyleTag({ content: '#site { height: auto !important; overflow: visible !important; }' });
  await page.screenshot({ path: file, fullPage: true });
}

describe.skipIf(why !== null)(`the notebooks in Jupyter Notebook's UI${why ? ` (skipped: ${why})` : ''}`, () => {
  let server: ChildProcess;
  let browser: Browser;
  let page: Page;
  let base = '';
  let before = '';
  let serverLog = '';

  beforeAll(async () => {
    before = repositoryState();
    // The notebooks import dist/; the kernel spec must name tslab (as notebooks/run.sh does).
    spawnSync(process.execPath, [path.join(root, 'scripts', 'build-if-stale.js')], { cwd: root, stdio: 'ignore' });
    const specs = spawnSync(PY, ['-m', 'jupyter', 'kernelspec', 'list'], { encoding: 'utf8', env }).stdout;
    if (!/^\s+tslab\s/m.test(specs)) spawnSync('tslab', ['install', `--python=${PY}`], { env, stdio: 'ignore' });
    const port = await freePort();
    const token = randomBytes(16).toString('hex');
    const flags = ['-m', 'notebook', '--no-browser', '--ip=127.0.0.1', `--port=${port}`, '--port-retries=0'];
    flags.push(`--NotebookApp.token=${token}`, `--notebook-dir=${path.join(root, 'notebooks')}`);
    if (process.getuid?.() === 0) flags.push('--allow-root');
    server = spawn(PY, flags, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (d) => (serverLog += d));
    server.stderr!.on('data', (d) => (serverLog += d));
    base = `http://127.0.0.1:${port}`;
    await waitForServer(`${base}/api/status?token=${token}`, server, () => serverLog);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: findChromium()!, args: HEADLESS_CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    // Log in once with the token (a cookie), as the server's printed URL does.
    await page.goto(`${base}/tree?token=${token}`);
    fs.mkdirSync(shots, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
  });

  const report = (name: string, f: Findings) =>
    console.log(
      `${name}: ${f.seconds.toFixed(0)} s, ${f.liveFigures}/${f.figures} figures live, ` +
        `indicator idle in ${f.idleWhileRunning} of ${f.samples} samples while cells ran, Plotly: ${f.plotly}`,
    );

  it('01: Restart & Run All: no error, every figure live, nothing in a scroll box, tables fit', async () => {
    const f = await runInPage(page, base, '01-binarization.ipynb');
    report('01', f);
    await screenshot(page, path.join(shots, '01-binarization.png'));
    expect(f.errors).toEqual([]);
    expect(f.figures).toBeGreaterThan(0);
    expect(f.liveFigures).toBe(f.figures);
    expect(f.scrollBoxes).toBe(0);
    expect(f.wideTables).toEqual([]);
  }, 300_000);

  it('02, its hyperparameters edited in the page: the same, and the run kept out of results/', async () => {
    const f = await runInPage(page, base, '02-mnist-mlp.ipynb', EDITS);
    report('02', f);
    await screenshot(page, path.join(shots, '02-mnist-mlp.png'));
    expect(f.errors).toEqual([]);
    expect(f.figures).toBeGreaterThan(0);
    expect(f.liveFigures).toBe(f.figures);
    expect(f.scrollBoxes).toBe(0);
    expect(f.wideTables).toEqual([]);
    const note = await page.evaluate(() => document.body.innerText.match(/recorded in .*/)?.[0] ?? '');
    expect(note).toMatch(/recorded in \.\.\/runs\/results\/mnist-quick-custom\/ \(not in results\/: edited/);
    // Busy while the cells ran, bar the odd sample taken between a status and its correction.
    expect(f.idleWhileRunning).toBeLessThanOrEqual(Math.max(2, f.samples * 0.05));
  }, 300_000);

  it('leaves the repository as it found it (git status of results/ and notebooks/)', () => {
    expect(repositoryState()).toBe(before);
  });
});
