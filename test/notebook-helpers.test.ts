import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { highlightTypeScript, showSource, sourceOf } from '../lib/notebook/showSource';
import { displayHtml, showFigure } from '../lib/notebook/display';
import { closestName, editDistance } from '../lib/closestName';

// Chromium takes seconds per image: the test stands in a tiny PNG for it.
vi.mock('../lib/plots/figure', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../lib/plots/figure')>();
  return {
    ...actual,
    saveFigure: async (_fig: unknown, outBase: string) => {
      if (outBase.endsWith('broken')) throw new Error('page.setContent: Timeout 30000ms exceeded.\nCall log: …');
      fs.writeFileSync(`${outBase}.html`, '<html></html>');
      fs.writeFileSync(`${outBase}.png`, Buffer.from('89504e470d0a1a0a', 'hex'));
      return { html: `${outBase}.html`, png: `${outBase}.png` };
    },
  };
});

// In a Jupyter kernel tslab's display sends an output; outside one it throws. The tests stand in for both.
const shown: Record<string, string>[] = [];
let kernel = false;
vi.mock('tslab', () => ({
  display: {
    html: (html: string) => {
      if (!kernel) throw new Error('Not ready');
      shown.push({ 'text/html': html });
    },
  },
}));
const inKernel = () => (kernel = true);
const outsideKernel = () => (kernel = false);

describe('sourceOf / showSource', () => {
  it('finds a function of lib/ with its doc comment, file and line, exactly as in the file', () => {
    const s = sourceOf('classificationError');
    expect(s.file).toBe('lib/loss.ts');
    const lines = fs.readFileSync(path.join(__dirname, '..', s.file), 'utf8').split('\n');
    expect(lines.slice(s.line - 1, s.line - 1 + s.text.split('\n').length).join('\n')).toBe(s.text);
    expect(s.text).toMatch(/^\/\*\* Fraction of rows[^\n]*\nexport function classificationError\(/);
    expect(s.text.trimEnd().endsWith('}')).toBe(true);
  });

  it('finds class methods (dedented) and file-qualified names; ambiguous and unknown names are clear errors', () => {
    expect(sourceOf('BinaryNetOptimizer.apply').text).toMatch(/^(\/\*\*[^\n]*\n)?apply\(grads/);
    expect(sourceOf('train/trainer.ts:trainStep').file).toBe('lib/train/trainer.ts');
    expect(() => sourceOf('noSuchFunction')).toThrow(/no declaration 'noSuchFunction' in lib\//);
    expect(() => sourceOf('squaredHing')).toThrow(/similar: squaredHinge/);
  });

  it('highlights with the TypeScript scanner without losing a character (templates included)', () => {
    const code = "const a = `x ${b + { c: 1 }.c} y ${d}`; // note <b>\nif (a) return 'q' as Foo;";
    const html = highlightTypeScript(code);
    const text = html
      .replace(/<[^>]+>/g, '')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
    expect(text).toBe(code);
    expect(html).toContain('<span style="color:#cf222e">const</span>');
    expect(html).toContain('<span style="color:#0a3069">} y ${</span>');
    expect(html).toContain('// note &lt;b&gt;</span>');
  });

  it('shows several listings side by side in a kernel, plain text elsewhere', () => {
    inKernel();
    showSource('sign', 'squaredHinge');
    const html = shown.pop()!['text/html'];
    expect(html).toMatch(/display:flex[\s\S]*lib\/loss\.ts:\d+ · squaredHinge/);
    outsideKernel();
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    showSource('squaredHinge');
    expect(log.mock.calls[0][0]).toMatch(/^\/\/ lib\/loss\.ts:\d+\nexport function squaredHinge\(/);
    log.mockRestore();
    expect(displayHtml('<b>x</b>', () => 'x')).toBe(false);
  });
});

describe('showFigure', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-figure-'))));
  afterAll(() => {
    outsideKernel();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('inlines plotly.js (gzipped) once per session, then each figure with its PNG as the fallback', async () => {
    inKernel();
    const fig = { data: [{ x: [1, 2], y: [3, 4], name: '</script>' }], layout: { title: { text: 't' } } };
    await showFigure(fig, path.join(dir, 'a'));
    await showFigure(fig, path.join(dir, 'b'));
    const [a, b] = shown.splice(0).map((d) => d['text/html']);
    expect(a).toContain("new DecompressionStream('gzip')");
    expect(b).not.toContain('DecompressionStream');
    expect(b).toContain('Plotly.newPlot(div');
    expect(b).not.toContain('</script>"'); // the data's </script> is escaped
    expect(fs.existsSync(path.join(dir, 'a.html')) && fs.existsSync(path.join(dir, 'b.html'))).toBe(true);
    expect(b).toContain(
      `<img src="data:image/png;base64,${fs.readFileSync(path.join(dir, 'b.png')).toString('base64')}"`,
    );
    // Well under the 10 MB of plotly.js itself.
    expect(a.length).toBeLessThan(3.5e6);
  });

  it('still shows the interactive figure when the PNG cannot be rendered', async () => {
    inKernel();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    await showFigure({ data: [], layout: {} }, path.join(dir, 'broken'));
    expect(warn.mock.calls[0][0]).toMatch(/broken: PNG not rendered \(page\.setContent: Timeout 30000ms exceeded\.\)$/);
    warn.mockRestore();
    const html = shown.pop()!['text/html'];
    expect(html).toContain('Plotly.newPlot(div');
    expect(html).not.toContain('<img');
  });
});

describe('closestName', () => {
  it('suggests the nearest candidate, and nothing when all are far', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(closestName('lrstart', ['lrStart', 'lrEnd', 'epochs'])).toBe('lrStart');
    expect(closestName('hiddenUnit', ['hiddenUnits', 'H'])).toBe('hiddenUnits');
    expect(closestName('zzzzzzzz', ['lrStart', 'H'])).toBeNull();
  });
});
