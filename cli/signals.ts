/**
 * Ctrl-C / SIGTERM for the training CLI: the first press asks the trainer to save a checkpoint and
 * stop, the second only says it is still saving, the third quits at once. Quitting never cuts a
 * checkpoint in half: writes are synchronous and atomic, and handlers only run between them.
 */
import * as os from 'node:os';

/**
 * Signals closer together than this are one key press: under `npm run train` the terminal signals
 * the whole process group and npm forwards its copy, so node receives every Ctrl-C twice (under
 * `npx tsx`, cli/train.ts relays one more).
 */
export const SAME_PRESS_MS = 500;

export interface SignalWatch {
  /** Polled by the trainer after every batch. */
  stopRequested(): boolean;
  /** The first signal counted, if any (it sets the exit status, 128 + its number). */
  signal(): NodeJS.Signals | undefined;
}

/** `now`, `exit` and `log` are the process's own, replaceable in tests. */
export function watchSignals(
  now = () => performance.now(),
  exit = (code: number): void => process.exit(code),
  log = (line: string) => console.log(line),
): SignalWatch {
  let received: NodeJS.Signals | undefined;
  let presses = 0;
  let lastPress = -Infinity;
  const onSignal = (signal: NodeJS.Signals) => {
    if (now() - lastPress < SAME_PRESS_MS) return;
    lastPress = now();
    received ??= signal;
    presses++;
    if (presses === 1) {
      log(`\n${signal}: saving a checkpoint after the current batch… (Ctrl-C twice more quits without saving)`);
    } else if (presses === 2) {
      log(`\n${signal}: still saving… (Ctrl-C once more quits without saving)`);
    } else {
      log(`\n${signal}: quitting without saving the work since the last checkpoint, which is kept`);
      exit(exitStatus(received));
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { stopRequested: () => received !== undefined, signal: () => received };
}

/** As a shell reports a process ended by `signal`. */
export const exitStatus = (signal: NodeJS.Signals) => 128 + os.constants.signals[signal];
