/** Binary inference engine: export a trained tfjs BNN, save/load it packed, run it on XNOR kernels. */
import { writeFileAtomic } from '../io/atomicWrite';
import { readDataFile } from '../data/readFile';
import { deserializePackedModel, serializePackedModel, type PackedModel } from './packedModel';

export { BinaryEngine, type EngineOptions } from './engine';
export {
  exportPackedModel,
  exportPackedModelAsync,
  foldBatchNorm,
  foldThresholds,
  readExportValues,
  type FoldedBatchNorm,
} from './exportModel';
export * from './packedModel';
export { convOutputShape, layerOutputSize } from '../kernels/networkShape';
export * from './onnxExport';

/** Writes the packed model file atomically; returns its size in bytes. */
export function savePackedModel(model: PackedModel, file: string): number {
  const bytes = serializePackedModel(model, file);
  writeFileAtomic(file, bytes);
  return bytes.length;
}

/** Reads and verifies a packed model file; errors name the file. */
export function loadPackedModel(file: string): PackedModel {
  return deserializePackedModel(new Uint8Array(readDataFile(file)), file);
}
export * from './onnxGraph';
