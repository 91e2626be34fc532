/**
 * Progress of a training run: a bar with ETA and live loss/error on a terminal; one line per
 * epoch otherwise (notebooks, CI logs), so that long work always shows where it is.
 */
import { SingleBar, Presets } from 'cli-progress';

export interface ProgressReporter {
  startEpoch(epoch: number, epochs: number, batches: number, firstBatch: number): void;
  batch(done: number, loss: number, error: number): void;
  endEpoch(line: string): void;
  /** Ends the epoch's display without a line (the run stops with an error). */
  abort(): void;
}

export function progressReporter(mode: 'bar' | 'lines' | 'none', log: (line: string) => void): ProgressReporter {
  if (mode === 'none') return { startEpoch() {}, batch() {}, endEpoch() {}, abort() {} };
  if (mode === 'lines') {
    // Without a terminal, a long epoch still reports every minute, with its ETA.
    let started = 0;
    let lastReport = 0;
    let label = '';
    let total = 0;
    let first = 0;
    return {
      startEpoch(epoch, epochs, batches, firstBatch) {
        started = lastReport = performance.now();
        label = `epoch ${epoch}/${epochs}`;
        total = batches;
        first = firstBatch;
      },
      batch(done, loss, error) {
        const now = performance.now();
        if (now - lastReport < 60_000 || done >= total) return;
        lastReport = now;
        const eta = ((now - started) / (done - first)) * (total - done);
        log(
          `  ${label}: ${done}/${total} batches, loss ${loss.toFixed(4)}, train err ` +
            `${(100 * error).toFixed(2)}%, ETA ${Math.round(eta / 1000)} s`,
        );
      },
      endEpoch: log,
      abort() {},
    };
  }
  let bar: SingleBar | null = null;
  return {
    startEpoch(epoch, epochs, batches, firstBatch) {
      bar = new SingleBar(
        {
          format:
            `epoch ${epoch}/${epochs} {bar} {value}/{total} batches | ETA {eta_formatted} | loss {loss} | ` +
            `train err {err}`,
          etaBuffer: 50,
          hideCursor: true,
          clearOnComplete: true,
        },
        Presets.shades_classic,
      );
      bar.start(batches, firstBatch, { loss: '—', err: '—' });
    },
    batch(done, loss, error) {
      bar?.update(done, { loss: loss.toFixed(4), err: `${(100 * error).toFixed(2)}%` });
    },
    endEpoch(line) {
      this.abort();
      log(line);
    },
    abort() {
      bar?.stop();
      bar = null;
    },
  };
}
