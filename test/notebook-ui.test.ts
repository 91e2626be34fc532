/**
 * The notebooks as a reader meets them: Debian's Jupyter Notebook server (loopback, a token, a free port),
 * driven in headless Chromium by playwright-core. Notebooks 01, 02 and 07 are opened; 02's hyperparameter cell
 * is edited in the page's editor to a seconds-long run (an edited run: it must land in runs/results/, not
 * results/), and 07's `PRESET` line to the seconds-long `smoke` preset (every cell still runs: the four
 * training runs, their table and figure, the paragraph written from the numbers); each runs with Kernel →
 * Restart & Run All. Checked: no error output, every figure live (Plotly drew it), no output collapsed into a
 * scroll box, no table wider than its output area, the kernel indicator busy while cells run, and `git status`
 * of results/ and notebooks/ unchanged afterwards (the page's autosave is turned off, as a reader's edits would
 * be saved otherwise). Screenshots, whole notebooks and a few cells, go to runs/notebook-ui/.
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

/**
 * What the reader changes in the page before running: values of 02's hyperparameter cell (its aligned
 * `// paper:` comments kept), or whole lines that start with a given text.
 */
type Edit = { hyperparameters: Record<string, string> } | { lines: Record<string, string> };

/** 02: a run of seconds instead of minutes, edited as a reader would (an edited run). */
const EDITS_02: Edit = {
  hyperparameters: {
    hiddenUnits: '[256, 256, 256]',
    epochs: '2',
    trainLimit: '2000',
    validLimit: '500',
    testLimit: '1000',
  },
};
/** 07: its four training runs with the `smoke` preset (seconds each) instead of `compare` (minutes each). */
const EDITS_07: Edit = { lines: { 'const PRESET: string = ': "const PRESET: string = 'smoke';" } };
/** Longest a notebook may run, Restart & Run All to the last cell. */
const RUN_LIMIT_S = 420;

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
  /** Code cells left without an execution count: a cell before them stopped the run. */
  notRun: number;
  /** Text on stderr (tslab prints compile errors there). */
  stderr: string[];
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
async function runInPage(page: Page, base: string, name: string, edit?: Edit): Promise<Findings> {
  await page.goto(`${base}/notebooks/${name}`);
  await page.waitForFunction(() => {
    const j = (window as any).Jupyter;
    return j?.notebook?.kernel?.is_connected?.() && j.notebook.get_cells().length > 0;
  });
  // A reader's session would autosave the edited notebook into the repository: not in a test.
  await page.evaluate(() => (window as any).Jupyter.notebook.set_autosave_interval(0));
  if (edit) {
    const missed = await page.evaluate((edit) => {
      const cells = (window as any).Jupyter.notebook.get_cells();
      const missed: string[] = [];
      if ('hyperparameters' in edit) {
        const cm = cells.find((c: any) => c.get_text().startsWith('const hyperparameters')).code_mirror;
        for (const [key, value] of Object.entries(edit.hyperparameters)) {
          const line = cm
            .getValue()
            .split('\n')
            .findIndex((l: string) => new RegExp(`^\\s*${key}: `).test(l));
          const m = line < 0 ? null : new RegExp(`^(\\s*${key}: )(.+?)(,\\s+//.*)$`).exec(cm.getLine(line));
          if (!m) missed.push(key);
          // As typing would: replace the value, keep the aligned `// paper:` comment.
          else cm.replaceRange(value, { line, ch: m[1].length }, { line, ch: m[1].length + m[2].length });
        }
      } else {
        for (const [start, text] of Object.entries(edit.lines)) {
          const cell = cells.find((c: any) =>
            c
              .get_text()
              .split('\n')
              .some((l: string) => l.startsWith(start)),
          );
          if (!cell) {
            missed.push(start);
            continue;
          }
          const cm = cell.code_mirror;
          const line = cm
            .getValue()
            .split('\n')
            .findIndex((l: string) => l.startsWith(start));
          cm.replaceRange(text, { line, ch: 0 }, { line, ch: cm.getLine(line).length });
        }
      }
      return missed;
    }, edit);
    if (missed.length) throw new Error(`${name}: nothing to edit for ${missed.join(', ')}`);
  }
  const started = Date.now();
  await page.click('#kernellink');
  await page.click('#restart_run_all');
  await page.click('.modal-dialog .modal-footer button.btn-danger');
  // Running: wait for every queued cell; sample the kernel indicator meanwhile.
  let samples = 0;
  let idleWhileRunning = 0;
  let sawRunning = false;
  let idleStopped = 0;
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
    // After an error (tslab's compile errors are not error outputs) the kernel skips the queued cells, whose
    // prompts may keep [*] or go blank: stop once the kernel has been idle for 2 s with nothing running.
    idleStopped = sawRunning && state.idle && (state.error || state.running === 0) ? idleStopped + 1 : 0;
    if (idleStopped >= 8) break;
    if (Date.now() - started > RUN_LIMIT_S * 1000)
      throw new Error(`${name}: still running after ${RUN_LIMIT_S} s (${JSON.stringify(state)})`);
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
    const code = (window as any).Jupyter.notebook.get_cells().filter((c: any) => c.cell_type === 'code');
    const notRun = code.filter((c: any) => typeof c.input_prompt_number !== 'number').length;
    const stderr = [...document.querySelectorAll('.output_stderr')].map((e) => e.textContent!.slice(0, 500));
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
      notRun,
      stderr,
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

/**
 * The cells from the one whose source starts with `from` to the one whose source starts with `to`, in one
 * image (after `screenshot`, which lets the page grow); with `outputs`, only their outputs.
 */
async function cellsShot(page: Page, file: string, from: string, to = from, outputs = false): Promise<void> {
  const clip = await page.evaluate(
    ([from, to, outputs]) => {
      const cells = (window as any).Jupyter.notebook.get_cells();
      const at = (start: string) => cells.findIndex((c: any) => c.get_text().startsWith(start));
      const [a, b] = [at(from as string), at(to as string)];
      if (a < 0 || b < a) return null;
      const part = (c: any) => (outputs ? c.element[0].querySelector('.output_wrapper') : c.element[0]);
      const boxes = cells.slice(a, b + 1).map((c: any) => part(c).getBoundingClientRect());
      const top = Math.min(...boxes.map((r: DOMRect) => r.top)) + window.scrollY;
      const bottom = Math.max(...boxes.map((r: DOMRect) => r.bottom)) + window.scrollY;
      const left = Math.min(...boxes.map((r: DOMRect) => r.left));
      const right = Math.max(...boxes.map((r: DOMRect) => r.right));
      return { x: left, y: top, width: right - left, height: bottom - top };
    },
    [from, to, outputs],
  );
  // Missing or empty (a run that stopped early): no image; the test's checks say why.
  if (!clip || clip.width < 1 || clip.height < 1) console.warn(`${file}: no cells from "${from}" to "${to}"`);
  else await page.screenshot({ path: file, clip, fullPage: true });
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
    await cellsShot(page, path.join(shots, '01-summary.png'), 'const mlp = buildMlp', '// The summary');
    expect(f.errors).toEqual([]);
    expect(f.notRun, f.stderr.join('\n')).toBe(0);
    expect(f.figures).toBeGreaterThan(0);
    expect(f.liveFigures).toBe(f.figures);
    expect(f.scrollBoxes).toBe(0);
    expect(f.wideTables).toEqual([]);
  }, 300_000);

  it('02, its hyperparameters edited in the page: the same, and the run kept out of results/', async () => {
    const f = await runInPage(page, base, '02-mnist-mlp.ipynb', EDITS_02);
    report('02', f);
    await screenshot(page, path.join(shots, '02-mnist-mlp.png'));
    await cellsShot(page, path.join(shots, '02-one-step.png'), 'const stepModel', 'const stepModel', true);
    await cellsShot(page, path.join(shots, '02-results.png'), '// (tslab does not resolve', '// The results table');
    expect(f.errors).toEqual([]);
    expect(f.notRun, f.stderr.join('\n')).toBe(0);
    expect(f.figures).toBeGreaterThan(0);
    expect(f.liveFigures).toBe(f.figures);
    expect(f.scrollBoxes).toBe(0);
    expect(f.wideTables).toEqual([]);
    const note = await page.evaluate(() => document.body.innerText.match(/recorded in .*/)?.[0] ?? '');
    expect(note).toMatch(/recorded in \.\.\/runs\/results\/mnist-quick-custom\/ \(not in results\/: edited/);
    // Busy while the cells ran, bar the odd sample taken between a status and its correction.
    expect(f.idleWhileRunning).toBeLessThanOrEqual(Math.max(2, f.samples * 0.05));
  }, 300_000);

  it(
    '07, its PRESET line edited to smoke: the same, every cell run, the closing paragraph written',
    async () => {
      const f = await runInPage(page, base, '07-shift-based.ipynb', EDITS_07);
      report('07', f);
      await screenshot(page, path.join(shots, '07-shift-based.png'));
      await cellsShot(page, path.join(shots, '07-batchnorm-table.png'), '## 7.2 Shift-based BatchNorm');
      await cellsShot(page, path.join(shots, '07-adamax-table.png'), '## 7.3 Shift-based AdaMax');
      await cellsShot(page, path.join(shots, '07-variants.png'), 'const optimizerName', 'const variantsFigure');
      await cellsShot(page, path.join(shots, '07-reading.png'), 'const signedPct', 'const signedPct', true);
      expect(f.errors).toEqual([]);
      expect(f.notRun, f.stderr.join('\n')).toBe(0);
      expect(f.figures).toBeGreaterThanOrEqual(2);
      expect(f.liveFigures).toBe(f.figures);
      expect(f.scrollBoxes).toBe(0);
      expect(f.wideTables).toEqual([]);
      const text = await page.evaluate(() => document.body.innerText);
      expect(text).toContain('the runs are recorded in ../runs/results/');
      expect(text).toMatch(/MNIST, smoke preset \(128×128 MLP, 2 epochs\)/);
      // The closing paragraph, written from this run's numbers.
      expect(text).toMatch(/Training \(128×128 MLP, 2 epochs, one seed\): \d+\.\d\d % test error/);
      expect(f.idleWhileRunning).toBeLessThanOrEqual(Math.max(2, f.samples * 0.05));
    },
    (RUN_LIMIT_S + 120) * 1000,
  );

  it('leaves the repository as it found it (git status of results/ and notebooks/)', () => {
    expect(repositoryState()).toBe(before);
  });
});
