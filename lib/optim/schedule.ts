/**
 * The paper's learning-rate schedule: exponential decay per epoch from LR_start to LR_fin,
 * LR_decay = (LR_fin / LR_start)^(1 / num_epochs); epoch 0 trains at LR_start.
 */
export function lrDecay(lrStart: number, lrEnd: number, epochs: number): number {
  if (!(lrStart > 0) || !(lrEnd > 0)) throw new Error(`learning rates must be positive, got ${lrStart} → ${lrEnd}`);
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`epochs must be a positive integer, got ${epochs}`);
  return (lrEnd / lrStart) ** (1 / epochs);
}

/** Learning rate used during epoch `epoch` (0-based). */
export function lrAtEpoch(epoch: number, lrStart: number, lrEnd: number, epochs: number): number {
  return lrStart * lrDecay(lrStart, lrEnd, epochs) ** epoch;
}
