/** The custom layers, each registered for tfjs serialization on import. */
export { Clip } from './clip';
export {
  BinaryKernelLayer,
  glorotLrScale,
  isQuantizedLayer,
  type BinaryKernelLayerArgs,
  type QuantizedLayer,
} from './binaryKernelLayer';
export { BinaryDense, type BinaryDenseArgs } from './binaryDense';
export { BinaryConv2D, type BinaryConv2DArgs } from './binaryConv2d';
export { SignActivation, type SignActivationArgs } from './signActivation';
export { ShiftBatchNormalization, type ShiftBatchNormArgs } from './shiftBatchNorm';
export { BatchNorm } from './batchNorm';
export { Dropout } from './dropout';
