/** Binary inference engine: export a trained tfjs BNN, save/load it packed, run it on XNOR kernels. */
import * as fs from 'node:fs';
import { deserializePackedModel, serializePackedModel, type PackedModel } from './packedModel';

export { BinaryEngine, type EngineOptions } from './engine';
export { exportPackedModel, foldBatchNorm, foldThresholds, type FoldedBatchNorm } from './exportModel';
export * from './packedModel';

/** Writes the packed model file (atomically: a temporary file, then a rename). */
export function savePackedModel(model: PackedModel, file: string): number {
  const bytes = serializePackedModel(model);
  fs.writeFileSync(`${file}.tmp`, bytes);
  fs.renameSync(`${file}.tmp`, file);
  return bytes.length;
}

export function loadPackedModel(file: string): PackedModel {
  return deserializePackedModel(new Uint8Array(fs.readFileSync(file)));
}
