/**
 * Benchmark children: each implementation runs in a process of its own (its threads and allocations
 * cannot disturb another's timing) and reports on its last stdout line, as JSON.
 */
import { spawnSync } from 'node:child_process';

/** Debian's Python, which has python3-torch (the first python3 on PATH may be another); BNN_PYTHON overrides. */
export const PEER_PYTHON = process.env.BNN_PYTHON ?? '/usr/bin/python3';

/** Seconds a child may take: a paper ConvNet on a slow implementation, with room for a busy machine. */
const CHILD_TIMEOUT_S = 30 * 60;

/** The last JSON line the child printed, or why it failed (its last line of output, at most 300 characters). */
export function runJsonChild<T>(command: string, args: string[], env: NodeJS.ProcessEnv): T | string {
  const child = spawnSync(command, args, {
    env,
    encoding: 'utf8',
    timeout: CHILD_TIMEOUT_S * 1000,
    maxBuffer: 256 * 2 ** 20,
  });
  const line = child.stdout
    ?.split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (child.status === 0 && line) return JSON.parse(line) as T;
  const why = child.error
    ? child.error.message
    : ((child.stderr || child.stdout || '').trim().split('\n').filter(Boolean).pop() ?? `exit status ${child.status}`);
  return why.slice(0, 300);
}
