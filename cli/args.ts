/**
 * Command-line flags → hyperparameter overrides. Every hyperparameter of the presets is a flag in
 * kebab-case (`--hidden-units 1024,1024 --lr-start 0.001 --batch-norm shift`); the value's type
 * follows the preset's. Unknown flags and malformed values are errors.
 */
import type { Hyperparameters } from '../lib/presets';

export interface ParsedArgs {
  dataset: string;
  preset: string;
  overrides: Partial<Hyperparameters>;
  flags: Record<string, string | boolean>;
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * @param template any preset, giving the names and types of the hyperparameters
 * @param extraFlags flags that are not hyperparameters: name → takes a value?
 */
export function parseArgs(argv: string[], template: Hyperparameters, extraFlags: Record<string, boolean>): ParsedArgs {
  const byFlag = new Map((Object.keys(template) as (keyof Hyperparameters)[]).map((k) => [kebab(k), k]));
  const out: ParsedArgs = { dataset: 'mnist', preset: 'quick', overrides: {}, flags: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument '${arg}' (flags look like --name value)`);
    let name = arg.slice(2);
    let value: string | undefined;
    if (name.includes('=')) [name, value] = [name.slice(0, name.indexOf('=')), name.slice(name.indexOf('=') + 1)];
    const needsValue = name === 'dataset' || name === 'preset' || byFlag.has(name) || extraFlags[name] === true;
    if (!needsValue && !(name in extraFlags)) {
      throw new Error(`unknown flag --${name}; hyperparameters: ${[...byFlag.keys()].map((f) => '--' + f).join(' ')}; other: --dataset --preset ${Object.keys(extraFlags).map((f) => '--' + f).join(' ')}`);
    }
    if (needsValue && value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value`);
    }
    if (name === 'dataset') out.dataset = value!;
    else if (name === 'preset') out.preset = value!;
    else if (byFlag.has(name)) {
      const key = byFlag.get(name)!;
      (out.overrides as Record<string, unknown>)[key] = coerce(value!, template[key], name);
    } else out.flags[name] = needsValue ? value! : true;
  }
  return out;
}

function coerce(value: string, example: unknown, flag: string): unknown {
  if (typeof example === 'number') {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`--${flag} must be a number, got '${value}'`);
    return n;
  }
  if (typeof example === 'boolean') {
    if (value !== 'true' && value !== 'false') throw new Error(`--${flag} must be true or false, got '${value}'`);
    return value === 'true';
  }
  if (Array.isArray(example)) {
    // An empty value is an empty list (`--conv-filters ''`).
    if (value.trim() === '') return [];
    return value.split(',').map((v) => {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`--${flag} must be a comma-separated list of numbers, got '${value}'`);
      return n;
    });
  }
  return value;
}
