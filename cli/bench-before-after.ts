/**
 * `npm run bench:before-after -- --rev REV`: the native training step of this checkout against commit REV's,
 * timed by bench:train alternately (REV, this, REV, this, …) in one run, so that both meet the same machine:
 * the before/after of a speed change, as a ratio. REV is checked out in a temporary git worktree and built
 * there (its TypeScript and kernels, as npm install builds them); this checkout's TypeScript is built too,
 * and its addon must be (npm install does it). Writes before-after.json and before-after.md to --out.
 * `--help` lists the flags.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliFlags, FLAGS, integerFlag, runMain, type FlagTable } from './args';
import { cpuId, describeCpu } from '../bench/cpuId';
import { median } from '../bench/median';
import type { TrainBenchResults } from '../bench/trainBench';

export const USAGE = [
  'usage: npm run bench:before-after -- --rev REV [flags]',
  'ms per native training step of this checkout and of commit REV (built in a temporary worktree), measured',
  'alternately by bench:train in one run; before-after.json and before-after.md in --out.',
].join('\n');
export const FLAG_TABLE = {
  rev: { value: 'REV', help: 'the commit to compare with (a hash, tag, HEAD~3, …)' },
  networks: { value: 'a,b', help: "bench:train's networks (default: its own)" },
  rounds: { value: 'N', help: 'how many times each tree is measured, alternately', default: '2' },
  steps: { value: 'N', help: "bench:train's timed steps" },
  warmup: { value: 'N', help: "bench:train's warm-up steps" },
  out: { ...FLAGS.out, help: 'where the files go', default: path.join('runs', 'bench-before-after') },
} satisfies FlagTable;

/** The checkout this runs in. */
const root = () => spawnSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8' }).stdout.trim() || '.';

/** Runs a command to the end, its output shown; throws with the command line if it fails. */
function run(command: string, args: string[], cwd = root()): string {
  const r = spawnSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed: ${r.error ?? `exit ${r.status}`}`);
  return r.stdout;
}

/** A worktree of `rev` with its TypeScript and addon built; node_modules is this checkout's. */
function buildTree(rev: string, dir: string): void {
  run('git', ['worktree', 'add', '--detach', dir, rev]);
  fs.symlinkSync(path.join(root(), 'node_modules'), path.join(dir, 'node_modules'));
  console.log(`building ${rev} in ${dir}`);
  run('npx', ['tsc', '-p', 'tsconfig.json'], dir);
  run('node', [path.join('scripts', 'build-kernels.js')], dir);
  // build-kernels only warns when the addon fails to build (the wasm tier stands in): here it must exist.
  if (!fs.existsSync(path.join(dir, 'build', 'Release', 'xnor_native.node')))
    throw new Error(`the native addon of ${rev} did not build (see above)`);
}

interface Round {
  tree: string;
  round: number;
  msPerStep: Record<string, number>;
}

async function main(): Promise<void> {
  const values = cliFlags(USAGE, FLAG_TABLE);
  if (!values.rev) throw new Error('--rev is required: the commit to compare this checkout with');
  const rounds = integerFlag(values.rounds, 'rounds')!;
  const rev = run('git', ['rev-parse', '--verify', `${values.rev}^{commit}`]).trim();
  const head = run('git', ['rev-parse', 'HEAD']).trim();
  const dirty = run('git', ['status', '--porcelain', '--untracked-files=no']).trim() !== '';
  const thisLabel = `${head.slice(0, 7)}${dirty ? '+changes' : ''}`;
  const out = path.resolve(values.out);
  const started = Date.now();
  const loadStart = os.loadavg();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-before-'));
  const trees = [
    { label: rev.slice(0, 7), dir: path.join(tmp, 'tree') },
    { label: thisLabel, dir: root() },
  ];
  const benchFlags = [
    ...(values.networks ? ['--networks', values.networks] : []),
    ...(values.steps ? ['--steps', values.steps] : []),
    ...(values.warmup ? ['--warmup', values.warmup] : []),
  ];
  const measured: Round[] = [];
  try {
    buildTree(rev, trees[0].dir);
    run('npx', ['tsc', '-p', 'tsconfig.json']);
    for (let round = 1; round <= rounds; round++) {
      for (const tree of trees) {
        const dir = path.join(tmp, 'rounds', `${tree.label}-${round}`);
        console.log(`round ${round} of ${rounds}: ${tree.label}`);
        const bench = path.join(tree.dir, 'dist', 'cli', 'bench-train.js');
        run('node', [bench, '--implementations', 'native', '--out', dir, ...benchFlags], tree.dir);
        const results = JSON.parse(fs.readFileSync(path.join(dir, 'training.json'), 'utf8')) as TrainBenchResults;
        const msPerStep = Object.fromEntries(results.rows.map((r) => [r.network, r.msPerStep]));
        measured.push({ tree: tree.label, round, msPerStep });
      }
    }
  } finally {
    spawnSync('git', ['worktree', 'remove', '--force', trees[0].dir], { cwd: root() });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const networks = Object.keys(measured[0].msPerStep);
  const of = (tree: string, network: string) =>
    measured.filter((m) => m.tree === tree).map((m) => m.msPerStep[network]);
  const [before, after] = trees.map((t) => t.label);
  const rows = networks.map((network) => {
    const b = of(before, network),
      a = of(after, network);
    return { network, before: b, after: a, ratio: median(a) / median(b) };
  });
  const report = {
    date: new Date(started).toISOString(),
    command: `npm run bench:before-after -- ${process.argv.slice(2).join(' ')}`,
    machine: describeCpu(cpuId()),
    node: process.version,
    before: { label: before, commit: rev },
    after: { label: after, commit: head, uncommittedChanges: dirty },
    loadAverageStart: loadStart,
    loadAverageEnd: os.loadavg(),
    wallSeconds: (Date.now() - started) / 1000,
    rows,
  };
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'before-after.json'), JSON.stringify(report, null, 2) + '\n');
  const ms = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(' / ');
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const md = [
    `# Native training step: ${before} (before) and ${after} (after)`,
    '',
    `Generated by \`${report.command}\` on ${report.date}: ${report.machine}, Node ${report.node}. ` +
      `Load average ${load(report.loadAverageStart)} at start, ${load(report.loadAverageEnd)} at end ` +
      `(more than the CPU count: other jobs competed). ${Math.round(report.wallSeconds)} s in all.`,
    '',
    `Each round runs \`bench:train --implementations native\` in the ${before} tree, then in the ${after} one ` +
      `(${rounds} rounds, alternately); each figure is that run's median ms per step (bench/README.md).`,
    '',
    `| network | ${before} ms/step | ${after} ms/step | after / before (medians) |`,
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.network} | ${ms(r.before)} | ${ms(r.after)} | ${r.ratio.toFixed(2)} |`),
    '',
  ].join('\n');
  fs.writeFileSync(path.join(out, 'before-after.md'), md);
  console.log(md);
}

runMain(module, main);
