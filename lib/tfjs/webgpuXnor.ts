/**
 * `BnnBinaryMatMul` (lib/tfjs/binaryMatMul.ts) on the webgpu backend: the paper's XNOR kernel, the engine's own
 * WGSL (xnorGemmShader of lib/kernels/webgpu/shaders.ts) run as tfjs-webgpu programs so that tensors stay on the
 * GPU. Each operand is packed to sign bits (32 to an int32 word, bit 1 for +1) by a small program, then the
 * tiled XNOR-popcount GEMM writes k − 2·popcount(a XOR b) as float32: the float product's value exactly, since
 * both operands hold only ±1 and k < 2^24. No tfjs-webgpu import: the backend is typed here by what is used.
 */
import * as tf from '@tensorflow/tfjs';
import { GEMM_PARAMS, GEMM_THREADS, gemmTile, xnorGemmShader, type GemmIo } from '../kernels/webgpu/shaders';
import { BNN_BINARY_MATMUL, type BnnBinaryMatMulAttrs } from './kernelNames';

type TensorInfo = tf.TensorInfo;

/** tfjs-webgpu's WebGPUProgram, the fields used (its webgpu_program.ts). */
interface WebgpuProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms: string;
  getUserCode: () => string;
}

interface WebgpuBackend {
  runWebGPUProgram(
    program: WebgpuProgram,
    inputs: TensorInfo[],
    outputDtype: tf.DataType,
    uniforms: { type: 'uint32'; data: number[] }[],
  ): TensorInfo;
  disposeData(dataId: object): boolean;
}

/** A struct body of u32 fields, as tfjs-webgpu appends a program's own uniforms to its `Uniforms`. */
const uniformFields = (names: readonly string[]) => names.map((name) => `${name} : u32,`).join(' ');
const uniformValues = (values: number[]) => values.map((v) => ({ type: 'uint32' as const, data: [v] }));

const PACK_PARAMS = ['rows', 'words', 'k', 'rowStride', 'colStride'] as const;
const PACK_WORKGROUP = 64;

/**
 * Row r of the packed operand: bit b of word w is 1 where element (r, 32w + b) of x, at x[r·rowStride +
 * e·colStride], is ≥ 0 (+1); bits past k stay 0 in both operands, which adds nothing to a popcount of XOR.
 */
const packCode = `
fn main(index: i32) {
  let i = u32(index);
  if (i >= uniforms.rows * uniforms.words) { return; }
  let row = i / uniforms.words;
  let word = i % uniforms.words;
  let end = min(32u, uniforms.k - word * 32u);
  var bits = 0u;
  for (var b = 0u; b < end; b++) {
    let e = word * 32u + b;
    bits |= select(0u, 1u, x[row * uniforms.rowStride + e * uniforms.colStride] >= 0.0) << b;
  }
  result[index] = bitcast<i32>(bits);
}
`;

/** The packed rows of x: `rows` rows of `words` words, element (r, e) read at r·rowStride + e·colStride. */
function pack(
  backend: WebgpuBackend,
  x: TensorInfo,
  rows: number,
  k: number,
  rowStride: number,
  colStride: number,
): TensorInfo {
  const words = Math.ceil(k / 32);
  const program: WebgpuProgram = {
    variableNames: ['x'],
    outputShape: [rows, words],
    shaderKey: 'bnnSignPack',
    dispatchLayout: { x: [0, 1] },
    dispatch: [Math.ceil((rows * words) / PACK_WORKGROUP), 1, 1],
    workgroupSize: [PACK_WORKGROUP, 1, 1],
    uniforms: uniformFields(PACK_PARAMS),
    getUserCode: () => packCode,
  };
  return backend.runWebGPUProgram(program, [x], 'int32', uniformValues([rows, words, k, rowStride, colStride]));
}

/** The engine's GEMM in a tfjs-webgpu program: tfjs declares the bindings (result, a, b as int32, uniforms). */
const TFJS_GEMM_IO: GemmIo = {
  declarations: '',
  entry: 'fn main() {\n  let lid = localId;\n  let wid = workgroupId;',
  param: (name) => `uniforms.${name}`,
  word: (operand, index) => `bitcast<u32>(${operand}[${index}])`,
  store: (index, value) => `result[${index}] = f32(${value});`,
};
const gemmCode = xnorGemmShader(false, TFJS_GEMM_IO);

function binaryMatMul(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) {
  const backend = args.backend as WebgpuBackend;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as BnnBinaryMatMulAttrs;
  if (a.shape.length !== 2 || b.shape.length !== 2)
    throw new Error(`${BNN_BINARY_MATMUL}: rank-2 operands only, got [${a.shape}] and [${b.shape}]`);
  const [m, k] = transposeA ? [a.shape[1], a.shape[0]] : a.shape;
  const [kb, n] = transposeB ? [b.shape[1], b.shape[0]] : b.shape;
  if (k !== kb) throw new Error(`${BNN_BINARY_MATMUL}: inner dimensions differ: a [${a.shape}] and b [${b.shape}]`);
  // A's rows are a's rows (a's columns if transposed); B's rows are b's columns (its rows if transposed).
  const aBits = pack(backend, a, m, k, transposeA ? 1 : k, transposeA ? m : 1);
  const bBits = pack(backend, b, n, k, transposeB ? k : 1, transposeB ? 1 : n);
  const words = Math.ceil(k / 32);
  const tile = gemmTile(false);
  const program: WebgpuProgram = {
    variableNames: ['a', 'b'],
    outputShape: [m, n],
    shaderKey: 'bnnXnorGemm',
    dispatchLayout: { x: [1], y: [0] },
    dispatch: [Math.ceil(n / tile.cols), Math.ceil(m / tile.rows), 1],
    workgroupSize: [GEMM_THREADS, GEMM_THREADS, 1],
    uniforms: uniformFields(GEMM_PARAMS),
    getUserCode: () => gemmCode,
  };
  const params: Record<(typeof GEMM_PARAMS)[number], number> = {
    m,
    n,
    kWords: words,
    k,
    aStride: words,
    bStride: words,
    ldc: n,
  };
  const out = backend.runWebGPUProgram(
    program,
    [aBits, bBits],
    'float32',
    uniformValues(GEMM_PARAMS.map((name) => params[name])),
  );
  backend.disposeData(aBits.dataId);
  backend.disposeData(bBits.dataId);
  return out;
}

/** Registers BnnBinaryMatMul for the webgpu backend (once). */
export function registerWebgpuXnorKernels(): void {
  if (tf.getKernel(BNN_BINARY_MATMUL, 'webgpu')) return;
  tf.registerKernel({ kernelName: BNN_BINARY_MATMUL, backendName: 'webgpu', kernelFunc: binaryMatMul });
}
