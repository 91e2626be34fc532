/**
 * Runs the data loaders in a worker thread for the loader fuzz (test/loader-fuzz.test.ts), so that
 * a case that hangs is stopped (Worker.terminate interrupts even a synchronous loop) and reported,
 * instead of stalling the test run.
 */
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { loadCifar10 } from '../../lib/data/cifar10';
import type { ImageSet, SplitDataset } from '../../lib/data/dataset';
import { loadMnist, readIdxPair } from '../../lib/data/mnist';
import { readSvhnMat } from '../../lib/data/svhn';

/** What a loader returned, flattened in file order (train, validation, test). */
export interface Loaded {
  images: Uint8Array;
  labels: Uint8Array;
}

/** Which loader to run on which files. */
export type LoadSpec =
  | { loader: 'readIdxPair'; images: string; labels: string }
  | { loader: 'loadMnist'; dir: string; validCount: number }
  | { loader: 'loadCifar10'; dir: string; validCount: number }
  | { loader: 'readSvhnMat'; file: string };

const flatten = (sets: ImageSet[]): Loaded => ({
  images: Buffer.concat(sets.map((s) => s.images)),
  labels: Buffer.concat(sets.map((s) => s.labels)),
});
const allOf = (d: SplitDataset) => flatten([d.train, d.valid, d.test]);

async function load(spec: LoadSpec): Promise<Loaded> {
  switch (spec.loader) {
    case 'readIdxPair':
      return flatten([readIdxPair(spec.images, spec.labels)]);
    case 'loadMnist':
      return allOf(loadMnist({ dir: spec.dir, validCount: spec.validCount }));
    case 'loadCifar10':
      return allOf(await loadCifar10({ dir: spec.dir, download: false, validCount: spec.validCount }));
    case 'readSvhnMat': {
      const raw = readSvhnMat(spec.file);
      return { images: raw.pixels, labels: raw.labels };
    }
  }
}

/** A loader's outcome: its values, an Error it threw, or what else happened. */
export type Outcome = Loaded | Error | { hang: number } | { notAnError: string };

type Reply = { loaded: Loaded } | { error: { name: string; message: string } } | { notAnError: string };

/** One worker thread, restarted after a case that had to be stopped. */
export class LoaderWorker {
  private worker: Promise<Worker> | null = null;

  constructor(private readonly limitMs: number) {}

  private start(): Promise<Worker> {
    // The worker runs this file through tsx, as vitest runs the tests.
    const boot = `require('tsx/cjs/api').register(); require(${JSON.stringify(__filename)});`;
    const worker = new Worker(boot, { eval: true });
    return new Promise((resolve, reject) => {
      worker.once('message', () => resolve(worker));
      worker.once('error', reject);
    });
  }

  /** Runs `spec`, stopping the worker when it takes longer than the limit. */
  async run(spec: LoadSpec): Promise<Outcome> {
    this.worker ??= this.start();
    const worker = await this.worker; // start-up time is not the case's
    return new Promise((resolve) => {
      const done = (outcome: Outcome) => {
        clearTimeout(timer);
        worker.removeAllListeners('message').removeAllListeners('error');
        resolve(outcome);
      };
      const timer = setTimeout(() => {
        this.worker = null;
        void worker.terminate();
        done({ hang: this.limitMs });
      }, this.limitMs);
      worker.once('message', (reply: Reply) => {
        if ('loaded' in reply) done(reply.loaded);
        else if ('error' in reply) done(Object.assign(new Error(reply.error.message), { name: reply.error.name }));
        else done(reply);
      });
      worker.once('error', (err) => {
        this.worker = null;
        done({ notAnError: `the worker died: ${err.message}` });
      });
      worker.postMessage(spec);
    });
  }

  async close(): Promise<void> {
    if (this.worker) await (await this.worker).terminate();
    this.worker = null;
  }
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on('message', async (spec: LoadSpec) => {
    let reply: Reply;
    try {
      reply = { loaded: await load(spec) };
    } catch (err) {
      reply = err instanceof Error ? { error: { name: err.name, message: err.message } } : { notAnError: String(err) };
    }
    port.postMessage(reply);
  });
  port.postMessage('ready');
}
