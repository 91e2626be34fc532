/**
 * A run's history: one record per epoch, as train() appends it, checkpoints carry it and
 * results/<run>/history.json holds it; and the epoch the paper reports (best validation error).
 */
import type { LayerDiagnostics } from './diagnostics';

export interface EpochRecord {
  epoch: number;
  lr: number;
  trainLoss: number;
  /** Error on the training batches as they were trained (with dropout), as the reference code. */
  trainError: number;
  validError: number;
  testError: number;
  seconds: number;
  /**
   * Wall-clock seconds of training and evaluation since the run began, this epoch's included (the run's
   * `wallSeconds` so far: resumes add up, checkpoint writes are not counted): the x axis of time to
   * accuracy. Absent in runs recorded before it existed.
   */
  elapsedSeconds?: number;
  /** Per binary layer: flip ratio, fraction at ±H and mean |W| over this epoch (lib/train/diagnostics.ts). */
  layers?: LayerDiagnostics[];
}

/** Index of the best validation error, ties going to the later epoch. */
export function bestEpochIndex(history: EpochRecord[]): number {
  let best = -1;
  history.forEach((r, i) => {
    if (best < 0 || r.validError <= history[best].validError) best = i;
  });
  return best;
}
