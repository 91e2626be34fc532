/**
 * Command-line flags of `npm run train`. Every hyperparameter of the presets is a flag in kebab-case
 * (`--hidden-units 1024,1024 --lr-start 0.001 --batch-norm shift`, the clip bound H is `--h`); the
 * value's type follows the preset's. One table (`trainFlags`) drives both the parser (node:util
 * `parseArgs`, strict: unknown flags, a boolean given a value, a value-taking flag followed by another
 * flag are errors) and `--help`, so the help cannot drift from what is accepted.
 */
import { parseArgs as parseNodeArgs, type ParseArgsConfig } from 'node:util';
import { datasetNames } from '../lib/data/registry';
import { PRESET_NAMES, type Hyperparameters } from '../lib/presets';

export interface ParsedArgs {
  dataset: string;
  preset: string;
  overrides: Partial<Hyperparameters>;
  flags: Record<string, string | boolean>;
}

export interface FlagSpec {
  /** Placeholder of the value in --help; a flag without one is a switch. */
  value?: string;
  help: string;
}

/** The flags that are not hyperparameters. */
export const OTHER_FLAGS: Record<string, FlagSpec> = {
  dataset: { value: datasetNames().join('|'), help: 'data set (default mnist)' },
  preset: { value: PRESET_NAMES.join('|'), help: 'hyperparameter preset (default quick)' },
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
  run: { value: 'NAME', help: 'name of the run (default <dataset>-<preset>, -custom when overridden)' },
  'results-dir': {
    value: 'DIR',
    help:
      'where metrics, curves and the results table go (default: results/ for a named preset on the full data, ' +
      'unedited, run to the end; runs/results/ for any other run: edited flags, smoke, a data limit, --stop-after)',
  },
  'runs-dir': { value: 'DIR', help: 'where checkpoints and the trained model go (default runs)' },
  'no-figures': { help: 'skip the HTML/PNG/SVG figures' },
  help: { help: 'show this help' },
};

/** `lrStart` → `lr-start`; the one-letter `H` → `h`. */
export const kebab = (s: string) => s.replace(/(?<=.)[A-Z]/g, (c) => `-${c}`).toLowerCase();

/** Hyperparameter flags, from any preset (the names and the types of the values). */
function hyperparameterFlags(template: Hyperparameters): Map<string, keyof Hyperparameters> {
  const keys = (Object.keys(template) as (keyof Hyperparameters)[]).filter((k) => k !== 'dataset');
  return new Map(keys.map((k) => [kebab(k), k]));
}

export function trainFlags(template: Hyperparameters): Record<string, FlagSpec> {
  const flags: Record<string, FlagSpec> = {};
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
  const lines = Object.entries(trainFlags(template)).map(([name, spec]) => {
    const usage = `--${name}${spec.value ? ` ${spec.value}` : ''}`;
    return `  ${usage.padEnd(44)} ${spec.help}`;
  });
  return [
    'usage: npm run train -- [flags]   (or node dist/cli/train.js [flags])',
    "Hyperparameters default to the preset's values (lib/presets.ts). Ctrl-C or SIGTERM saves a checkpoint",
    'after the current batch; a second Ctrl-C only repeats that it is saving; a third quits at once, keeping',
    'the last checkpoint written.',
    ...lines,
  ].join('\n');
}

/**
 * @param template any preset, giving the names and types of the hyperparameters
 */
export function parseArgs(argv: string[], template: Hyperparameters): ParsedArgs {
  const hyper = hyperparameterFlags(template);
  const specs = trainFlags(template);
  const options: ParseArgsConfig['options'] = {};
  for (const [name, spec] of Object.entries(specs)) options[name] = { type: spec.value ? 'string' : 'boolean' };
  const out: ParsedArgs = { dataset: 'mnist', preset: 'quick', overrides: {}, flags: {} };
  const numeric = new Set([
    ...NUMERIC_OTHER_FLAGS,
    ...[...hyper].filter(([, k]) => isNumeric(template[k])).map(([f]) => f),
  ]);
  for (const [name, value] of Object.entries(parseStrict(attachDashValues(argv, numeric), options, specs))) {
    if (value === undefined || Array.isArray(value)) continue;
    if (name === 'dataset') out.dataset = value as string;
    else if (name === 'preset') out.preset = value as string;
    else if (hyper.has(name)) {
      const key = hyper.get(name)!;
      (out.overrides as Record<string, unknown>)[key] = coerce(value as string, template[key], name);
    } else out.flags[name] = value as string | boolean;
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

function parseStrict(argv: string[], options: ParseArgsConfig['options'], specs: Record<string, FlagSpec>) {
  try {
    return parseNodeArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw err;
    const flags = Object.keys(specs).map((f) => `--${f}`);
    throw new Error(`${e.message}; flags: ${flags.join(' ')}`, { cause: err });
  }
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
