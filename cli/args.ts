/**
 * Command-line flags of every CLI. Each command declares one table of its flags (`FlagSpec`: the value's
 * placeholder, the help, the default); the flags several commands share are defined once here (`FLAGS`)
 * and reused by name. The table drives both the parser and `--help`, so the help cannot drift from what is
 * accepted. We wrap node:util `parseArgs` (always strict: unknown flags, stray arguments, a switch given a
 * value, a value-taking flag followed by another flag are errors) for two things it lacks: the help
 * generated from the table, and an unknown-flag error that lists the accepted flags.
 *
 * `npm run train`: every hyperparameter of the presets is a flag in kebab-case (`--hidden-units 1024,1024
 * --lr-start 0.001 --batch-norm shift`, the clip bound H is `--h`); the value's type follows the preset's.
 */
import * as path from 'node:path';
import { parseArgs as parseNodeArgs, type ParseArgsConfig } from 'node:util';
import { datasetNames } from '../lib/data/registry';
import { PRESET_NAMES, type Hyperparameters } from '../lib/presets';

export interface FlagSpec {
  /** Placeholder of the value in --help; a flag without one is a switch (false unless given). */
  value?: string;
  help: string;
  /** The value when the flag is not given; --help shows it. */
  default?: string;
}
export type FlagTable = Record<string, FlagSpec>;

/**
 * What `parseFlags` returns for a table: a switch is a boolean, a value a string (undefined when not given
 * and without a default); for a table built at run time, either.
 */
export type FlagValues<T extends FlagTable> = {
  -readonly [K in keyof T]: T[K] extends { value: string }
    ? T[K] extends { default: string }
      ? string
      : string | undefined
    : 'value' extends keyof T[K]
      ? string | boolean | undefined
      : boolean;
};

/** The flags several commands share. A command may add a default or a note to one (`{ ...FLAGS.run, … }`). */
export const FLAGS = {
  help: { help: 'show this help' },
  dataset: { value: datasetNames().join('|'), help: 'data set', default: 'mnist' },
  run: { value: 'NAME', help: 'name of the run' },
  'runs-dir': { value: 'DIR', help: 'where checkpoints and the trained models go', default: 'runs' },
  'results-dir': { value: 'DIR', help: 'where metrics, curves and the results table go' },
  checkpoint: {
    value: 'FILE',
    help: 'a trained model from its training checkpoint (runs/<run>/checkpoint.bnn or best.bnn)',
  },
  model: { value: 'DIR', help: 'a trained model saved by tfjs (runs/<run>/model)' },
  out: { value: 'DIR', help: 'where the files go (default results/bench)' },
  smoke: { help: 'tiny networks or sizes and few repeats, for tests and CI' },
} satisfies FlagTable;

/** The help of a command: its usage, then a line for each flag (the table's and --help). */
export function flagHelp(usage: string, table: FlagTable): string {
  const rows = Object.entries(withHelp(table)).map(([name, spec]) => ({
    flag: `--${name}${spec.value ? ` ${spec.value}` : ''}`,
    help: spec.default === undefined ? spec.help : `${spec.help} (default ${spec.default})`,
  }));
  const width = Math.min(44, Math.max(...rows.map((r) => r.flag.length)) + 1);
  return [usage, ...rows.map((r) => `  ${r.flag.padEnd(width)} ${r.help}`)].join('\n');
}

/** `argv` parsed against `table` (plus --help); an unknown flag is an error that lists the accepted ones. */
export function parseFlags<T extends FlagTable>(argv: string[], table: T): FlagValues<T> & { help: boolean } {
  const specs = withHelp(table);
  const options: ParseArgsConfig['options'] = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = spec.value
      ? { type: 'string', ...(spec.default !== undefined && { default: spec.default }) }
      : { type: 'boolean', default: false };
  }
  try {
    const { values } = parseNodeArgs({ args: argv, options, strict: true, allowPositionals: false });
    return values as FlagValues<T> & { help: boolean };
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw err;
    const flags = Object.keys(specs).map((f) => `--${f}`);
    throw new Error(`${e.message}; flags: ${flags.join(' ')}`, { cause: err });
  }
}

/**
 * Where a benchmark writes: --out, else results/bench, or runs/<command>-smoke for a smoke run, so that a
 * smoke run never overwrites the committed results.
 */
export function benchOutputDir(out: string | undefined, smoke: boolean | undefined, command: string): string {
  return out ?? (smoke ? path.join('runs', `${command}-smoke`) : path.join('results', 'bench'));
}

/** A command's flags from its command line; `--help` prints the help generated from `table` and exits. */
export function cliFlags<T extends FlagTable>(usage: string, table: T, argv = process.argv.slice(2)): FlagValues<T> {
  const values = parseFlags(argv, table);
  if (values.help) {
    console.log(flagHelp(usage, table));
    process.exit(0);
  }
  return values;
}

const withHelp = (table: FlagTable): FlagTable => ({ ...table, help: FLAGS.help });

/**
 * Runs a command's `main` when its file is the program, not when a test imports it for its flag table;
 * an error ends the process with its message and status 1.
 */
export function runMain(mod: NodeModule, main: () => Promise<void>): void {
  if (require.main !== mod) return;
  main().catch((err: unknown) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}

export interface ParsedArgs {
  dataset: string;
  preset: string;
  overrides: Partial<Hyperparameters>;
  flags: Record<string, string | boolean>;
}

/** The flags of `npm run train` that are not hyperparameters. */
const OTHER_FLAGS = {
  dataset: FLAGS.dataset,
  preset: { value: PRESET_NAMES.join('|'), help: 'hyperparameter preset', default: 'quick' },
  resume: { help: "continue from the run's checkpoint (<runs-dir>/<run>/checkpoint.bnn)" },
  rollback: { help: 'resume from the previous good checkpoint (when the latest one is damaged)' },
  overwrite: {
    help: 'start over in a run folder that holds a run (its files are kept aside until the first checkpoint)',
  },
  'stop-after': { value: 'N', help: 'stop, resumably, after N epochs in this call' },
  seeds: {
    value: 'N',
    help: "train N seeds (the preset's, then the next): runs <run>, <run>-seed2, …; mean ± std in the table",
  },
  'data-dir': { value: 'DIR', help: "folder of the data set's files" },
  run: { ...FLAGS.run, help: `${FLAGS.run.help} (default <dataset>-<preset>, -custom when overridden)` },
  'results-dir': {
    ...FLAGS['results-dir'],
    help:
      `${FLAGS['results-dir'].help} (default: results/ for a named preset on the full data, unedited, run to ` +
      'the end; runs/results/ for any other run: edited flags, smoke, a data limit, --stop-after)',
  },
  'runs-dir': FLAGS['runs-dir'],
  'no-figures': { help: 'skip the HTML/PNG/SVG figures' },
} satisfies FlagTable;

/** `lrStart` → `lr-start`; the one-letter `H` → `h`. */
export const kebab = (s: string) => s.replace(/(?<=.)[A-Z]/g, (c) => `-${c}`).toLowerCase();

/** Hyperparameter flags, from any preset (the names and the types of the values). */
function hyperparameterFlags(template: Hyperparameters): Map<string, keyof Hyperparameters> {
  const keys = (Object.keys(template) as (keyof Hyperparameters)[]).filter((k) => k !== 'dataset');
  return new Map(keys.map((k) => [kebab(k), k]));
}

export function trainFlags(template: Hyperparameters): FlagTable {
  const flags: FlagTable = {};
  for (const [flag, key] of hyperparameterFlags(template)) {
    const example = template[key];
    const value = Array.isArray(example) ? 'n,n,…' : typeof example === 'boolean' ? 'true|false' : typeof example;
    flags[flag] = {
      value,
      help: key === 'H' ? 'hyperparameter H: latent weights are clipped to [-H, H]' : `hyperparameter ${key}`,
    };
  }
  return { ...OTHER_FLAGS, ...flags };
}

export function helpText(template: Hyperparameters): string {
  const usage = [
    'usage: npm run train -- [flags]   (or node dist/cli/train.js [flags])',
    "Hyperparameters default to the preset's values (lib/presets.ts). Ctrl-C or SIGTERM saves a checkpoint",
    'after the current batch; a second Ctrl-C only repeats that it is saving; a third quits at once, keeping',
    'the last checkpoint written.',
  ];
  return flagHelp(usage.join('\n'), trainFlags(template));
}

/**
 * @param template any preset, giving the names and types of the hyperparameters
 */
export function parseArgs(argv: string[], template: Hyperparameters): ParsedArgs {
  const hyper = hyperparameterFlags(template);
  const numeric = new Set([
    ...NUMERIC_OTHER_FLAGS,
    ...[...hyper].filter(([, k]) => isNumeric(template[k])).map(([f]) => f),
  ]);
  const values = parseFlags(attachDashValues(argv, numeric), trainFlags(template));
  const out: ParsedArgs = {
    dataset: values.dataset as string,
    preset: values.preset as string,
    overrides: {},
    flags: {},
  };
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || value === false || name === 'dataset' || name === 'preset') continue;
    if (hyper.has(name)) {
      const key = hyper.get(name)!;
      (out.overrides as Record<string, unknown>)[key] = coerce(value as string, template[key], name);
    } else out.flags[name] = value;
  }
  return out;
}

/** The flags besides the hyperparameters whose values are numbers (checked by the CLI). */
const NUMERIC_OTHER_FLAGS = ['stop-after'];
const isNumeric = (example: unknown) => typeof example === 'number' || Array.isArray(example);

/**
 * `--lr-start -1` as `--lr-start=-1`: node's parseArgs refuses a value that starts with a dash as
 * ambiguous, so a negative or otherwise malformed number would get its message ("use --lr-start=-XYZ")
 * rather than the project's ("lrStart must be a positive number"). Only for numeric flags, and not
 * when the next word is a flag itself (`--epochs --resume` stays "argument is ambiguous").
 */
function attachDashValues(argv: string[], numeric: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    const flag = /^--([a-z][a-z-]*)$/.exec(argv[i])?.[1];
    if (flag && numeric.has(flag) && next !== undefined && next.startsWith('-') && !/^--[a-z]/i.test(next)) {
      out.push(`--${flag}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/** Plain decimal numbers only: `0x10`, `0b1`, `Infinity` or ` 5` are typos, not numbers. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function decimal(value: string, flag: string, what: string, whole = value): number {
  if (!DECIMAL.test(value)) throw new Error(`--${flag} must be ${what}, got '${whole}'`);
  return Number(value);
}

function coerce(value: string, example: unknown, flag: string): unknown {
  if (typeof example === 'number') return decimal(value, flag, 'a decimal number');
  if (typeof example === 'boolean') {
    if (value !== 'true' && value !== 'false') throw new Error(`--${flag} must be true or false, got '${value}'`);
    return value === 'true';
  }
  if (Array.isArray(example)) {
    // An empty value is an empty list (`--conv-filters ''`).
    if (value.trim() === '') return [];
    return value.split(',').map((v) => decimal(v, flag, 'a comma-separated list of decimal numbers', value));
  }
  return value;
}

/** The value of an integer flag (undefined when not given): at least 1, or 0 with `allowZero`. */
export function integerFlag(value: string | undefined, flag: string, allowZero = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  // Plain decimal digits only: Number() would also take '0x10', '1e3' or ' 2'.
  if (!/^\d+$/.test(value) || n < (allowZero ? 0 : 1))
    throw new Error(`--${flag} takes a ${allowZero ? 'non-negative' : 'positive'} integer, got '${value}'`);
  return n;
}
