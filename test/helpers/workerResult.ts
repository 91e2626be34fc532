/**
 * The end of a child-process worker: its result as one JSON line on stdout and exit 0, or the error on
 * stderr and exit 1. The exit is explicit because a WebGPU device (Dawn) keeps the event loop alive.
 */
export function reportAndExit(work: Promise<unknown>): void {
  work.then(
    (result) => {
      console.log(JSON.stringify(result));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
