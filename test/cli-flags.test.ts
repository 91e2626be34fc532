/**
 * Every command parses its flags through one mechanism (cli/args.ts): a table per command, from which both
 * the parser and `--help` come, shared flags defined once, typos refused with the list of accepted flags.
 * The tables are imported (a CLI runs only as the program), so the commands need not all be started.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { benchOutputDir, FLAGS, flagHelp, parseFlags, trainFlags, type FlagTable } from '../cli/args';
import { preset } from '../lib/presets';

const root = path.resolve(__dirname, '..');

/** The flags each command took before they shared one table (and bench's --gpu since); --help is added to every one. */
const COMMANDS: Record<string, string[]> = {
  bench: ['smoke', 'out', 'sizes', 'runs', 'images', 'hidden', 'model', 'checkpoint', 'no-mlp', 'gpu', 'note'],
  'bench-infer': [
    ...['networks', 'checkpoint', 'packed', 'dataset', 'batches', 'threads', 'implementations'],
    ...['runs', 'smoke', 'out', 'worker'],
  ],
  'bench-before-after': ['rev', 'networks', 'rounds', 'steps', 'warmup', 'out'],
  'bench-train': ['networks', 'implementations', 'steps', 'warmup', 'smoke', 'out', 'worker'],
  'bench-wasm-grads': ['batch', 'reps', 'warmup', 'out'],
  demo: ['port', 'no-serve', 'screenshot', 'timing'],
  'demo-model': ['run', 'runs-dir', 'results-dir'],
  'export-onnx': ['checkpoint', 'model', 'out', 'check'],
  profile: ['network', 'steps', 'warmup', 'backend', 'out'],
  report: ['results-dir'],
};

const command = async (file: string) => (await import(`../cli/${file}.ts`)) as { USAGE: string; FLAG_TABLE: FlagTable };

const listed = (help: string) => [...help.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]);

describe('one flag table per command', () => {
  it('covers every command in cli/ (train builds its table from the presets)', () => {
    const files = fs.readdirSync(path.join(root, 'cli')).filter((f) => f.endsWith('.ts'));
    const commands = files.map((f) => f.replace(/\.ts$/, '')).filter((f) => !['args', 'signals', 'train'].includes(f));
    expect(commands.sort()).toEqual(Object.keys(COMMANDS).sort());
  });

  it.each(Object.entries(COMMANDS))('cli/%s.ts: --help lists every flag of its table', async (file, flags) => {
    const { USAGE, FLAG_TABLE } = await command(file);
    expect(Object.keys(FLAG_TABLE).sort()).toEqual([...flags].sort());
    const help = flagHelp(USAGE, FLAG_TABLE);
    expect(help.startsWith(`usage: npm run ${file.replace('-', ':')} -- `)).toBe(true);
    expect(listed(help)).toEqual([...Object.keys(FLAG_TABLE), 'help']);
    // Every listed flag is accepted (a value-taking one with a value).
    for (const [name, spec] of Object.entries(FLAG_TABLE))
      expect(() => parseFlags(spec.value ? [`--${name}`, '1'] : [`--${name}`], FLAG_TABLE), name).not.toThrow();
  });

  it.each(Object.keys(COMMANDS))('cli/%s.ts: an unknown flag fails, naming the accepted ones', async (file) => {
    const { FLAG_TABLE } = await command(file);
    const accepted = [...Object.keys(FLAG_TABLE), 'help'].map((f) => `--${f}`).join(' ');
    expect(() => parseFlags(['--no-such-flag'], FLAG_TABLE)).toThrow(
      `Unknown option '--no-such-flag'; flags: ${accepted}`,
    );
    expect(() => parseFlags(['stray'], FLAG_TABLE)).toThrow(/Unexpected argument 'stray'/);
  });

  it.each(Object.keys(COMMANDS))('cli/%s.ts parses its table with cliFlags and nothing else', (file) => {
    const source = fs.readFileSync(path.join(root, 'cli', `${file}.ts`), 'utf8');
    expect(source).toContain('cliFlags(USAGE, FLAG_TABLE)');
    expect(source).toContain('runMain(module, main)');
    expect(source).not.toMatch(/parseArgs|process\.argv\[/);
  });

  it('shares the common flags by name, the train CLI too', async () => {
    const train = trainFlags(preset('mnist', 'paper'));
    expect(train.dataset).toBe(FLAGS.dataset);
    expect(train['runs-dir']).toBe(FLAGS['runs-dir']);
    expect(train.run.value).toBe(FLAGS.run.value);
    expect(train.run.help.startsWith(FLAGS.run.help)).toBe(true);
    expect((await command('bench-infer')).FLAG_TABLE.smoke).toBe(FLAGS.smoke);
    expect((await command('export-onnx')).FLAG_TABLE.checkpoint).toBe(FLAGS.checkpoint);
  });

  it('gives defaults; a switch is off and a value undefined unless given', () => {
    const table = {
      port: { value: 'N', help: 'port', default: '8080' },
      out: { value: 'DIR', help: 'where' },
      smoke: { help: 'small' },
    } satisfies FlagTable;
    expect(parseFlags([], table)).toEqual({ port: '8080', smoke: false, help: false });
    expect(parseFlags(['--port=1', '--out', 'x', '--smoke'], table)).toEqual({
      port: '1',
      out: 'x',
      smoke: true,
      help: false,
    });
    expect(() => parseFlags(['--smoke=false'], table)).toThrow(/Option '--smoke' does not take an argument/);
    expect(() => parseFlags(['--out', '--smoke'], table)).toThrow(/Option '--out' argument is ambiguous/);
    expect(flagHelp('usage: x', table)).toBe(
      [
        'usage: x',
        '  --port N   port (default 8080)',
        '  --out DIR  where',
        '  --smoke    small',
        '  --help     show this help',
      ].join('\n'),
    );
  });
});

describe('where the benchmarks write', () => {
  it('--out, else results/bench, and a smoke run never there', () => {
    expect(benchOutputDir('x/y', true, 'bench')).toBe('x/y');
    expect(benchOutputDir(undefined, false, 'bench-train')).toBe(path.join('results', 'bench'));
    for (const command of ['bench', 'bench-infer', 'bench-train'])
      expect(benchOutputDir(undefined, true, command)).toBe(path.join('runs', `${command}-smoke`));
  });
});

describe('the commands themselves', () => {
  const run = promisify(execFile);
  const tsx = (args: string[]) => run(process.execPath, ['--import', 'tsx', ...args], { cwd: root, encoding: 'utf8' });

  it('--help prints the table; a typo fails before any work (demo took typos silently before)', async () => {
    const [help, typo] = await Promise.all([
      tsx(['cli/report.ts', '--help']),
      tsx(['cli/demo.ts', '--prot', '8081']).then(
        () => null,
        (err: { code: number; stderr: string }) => err,
      ),
    ]);
    const report = await command('report');
    expect(help.stdout).toBe(`${flagHelp(report.USAGE, report.FLAG_TABLE)}\n`);
    expect(typo?.code).toBe(1);
    expect(typo?.stderr).toMatch(/^error: Unknown option '--prot'; flags: --port --no-serve .*--help\n$/);
  }, 120_000);
});
