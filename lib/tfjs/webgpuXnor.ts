/**
 * `BnnBinaryMatMul` and `BnnBinaryConv2D` (lib/tfjs/binaryMatMul.ts) on the webgpu backend: the paper's XNOR
 * kernel, the engine's own WGSL (xnorGemmShader of lib/kernels/webgpu/shaders.ts) run as tfjs-webgpu programs so
 * that tensors stay on the GPU. Each operand is packed to sign bits (32 to an int32 word, bit 1 for +1) by a small
 * program (a conv's input as its im2col rows, padded taps +1), then the tiled XNOR-popcount GEMM writes
 * k − 2·popcount(a XOR b) as float32, a conv's less what the +1 of its padded taps added (the filter's sums over
 * those taps): the float product's value exactly, since both operands hold only ±1 and k < 2^24.
 * After a training-time Dropout a dense layer's input holds 0 and ±s: a = s·(u + v)/2 with u, v ±1 (u takes its
 * zeros as +1, v as −1), so a·b = s·(u·b + v·b)/2, the two XNOR products of one GEMM over u's and v's rows.
 * No tfjs-webgpu import: the backend is typed here by what is used.
 */
import * as tf from '@tensorflow/tfjs';
import { GEMM_PARAMS, GEMM_THREADS, gemmTile, xnorGemmShader, type GemmIo } from '../kernels/webgpu/shaders';
import { BNN_BINARY_CONV2D, BNN_BINARY_MATMUL, type BnnBinaryMatMulAttrs } from './kernelNames';

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
 * One word of a packed operand per thread: bit b of word w of row r is `fn signBit(row, e)` of element e = 32w + b
 * (1 for +1); bits past k stay 0 in both operands, which adds nothing to a popcount of XOR.
 */
const packShader = (signBit: string) => `${signBit}
fn main(index: i32) {
  let i = u32(index);
  if (i >= uniforms.rows * uniforms.words) { return; }
  let row = i / uniforms.words;
  let word = i % uniforms.words;
  let end = min(32u, uniforms.k - word * 32u);
  var bits = 0u;
  for (var b = 0u; b < end; b++) {
    bits |= signBit(row, word * 32u + b) << b;
  }
  result[index] = bitcast<i32>(bits);
}
`;

/** Element (r, e) of a matrix is x[r·rowStride + e·colStride]. */
const packCode = packShader(`
fn signBit(row: u32, e: u32) -> u32 {
  return select(0u, 1u, x[row * uniforms.rowStride + e * uniforms.colStride] >= 0.0);
}`);

/** A dropped ±1 matrix of `half` rows as 2·half rows of ±1: u (its zeros as +1), then v (its zeros as −1). */
const droppedPackCode = packShader(`
fn signBit(row: u32, e: u32) -> u32 {
  let v = x[(row % uniforms.half) * uniforms.rowStride + e * uniforms.colStride];
  return select(0u, 1u, v > 0.0 || (v == 0.0 && row < uniforms.half));
}`);

/**
 * The packed rows of x: `rows` rows of `words` words, element (r, e) read at r·rowStride + e·colStride; for a
 * dropped x, its u rows then its v rows (droppedPackCode).
 */
function pack(
  backend: WebgpuBackend,
  x: TensorInfo,
  rows: number,
  k: number,
  rowStride: number,
  colStride: number,
  dropped = false,
): TensorInfo {
  const words = Math.ceil(k / 32);
  const program = dropped
    ? flatProgram(['x'], [2 * rows, words], 'bnnDroppedSignPack', [...PACK_PARAMS, 'half'], droppedPackCode)
    : flatProgram(['x'], [rows, words], 'bnnSignPack', PACK_PARAMS, packCode);
  const values = [dropped ? 2 * rows : rows, words, k, rowStride, colStride, ...(dropped ? [rows] : [])];
  return backend.runWebGPUProgram(program, [x], 'int32', uniformValues(values));
}

/** s·(u·b + v·b)/2 from the GEMM's 2m × n output (u's rows, then v's): the sum and halving are exact integers. */
const droppedCombineCode = `
fn main(index: i32) {
  let i = u32(index);
  if (i >= uniforms.size) { return; }
  result[index] = bitcast<f32>(uniforms.scaleBits) * (0.5 * (products[i] + products[i + uniforms.size]));
}
`;

/** The engine's GEMM in a tfjs-webgpu program: tfjs declares the bindings (result, a, b as int32, uniforms). */
const TFJS_GEMM_IO: GemmIo = {
  declarations: '',
  entry: 'fn main() {\n  let lid = localId;\n  let wid = workgroupId;',
  param: (name) => `uniforms.${name}`,
  word: (operand, index) => `bitcast<u32>(${operand}[${index}])`,
  store: (index, value) => `result[${index}] = f32(${value});`,
};
const gemmCode = xnorGemmShader(false, TFJS_GEMM_IO);

/** A conv's geometry, in the uniforms of its im2col packing and of its GEMM's padding correction. */
const CONV_PARAMS = ['h', 'w', 'c', 'oh', 'ow', 'kh', 'kw', 'strideH', 'strideW', 'padTop', 'padLeft'] as const;
type ConvGeometry = Record<(typeof CONV_PARAMS)[number], number>;

/** The input pixel (image, y, x) of tap `tap` at output position `row`, and 1 if inside the image (0: padding). */
const convTap = `
fn convTap(row: u32, tap: u32) -> vec4<i32> {
  let ox = row % uniforms.ow;
  let oy = (row / uniforms.ow) % uniforms.oh;
  let image = row / (uniforms.ow * uniforms.oh);
  let y = i32(oy * uniforms.strideH + tap / uniforms.kw) - i32(uniforms.padTop);
  let x = i32(ox * uniforms.strideW + tap % uniforms.kw) - i32(uniforms.padLeft);
  let inside = y >= 0 && y < i32(uniforms.h) && x >= 0 && x < i32(uniforms.w);
  return vec4<i32>(i32(image), y, x, select(0, 1, inside));
}
`;

/** A conv's im2col rows: element e = tap·c + channel (the filter's order) of output position `row`; padded taps +1. */
const im2colCode = packShader(`${convTap}
fn signBit(row: u32, e: u32) -> u32 {
  let at = convTap(row, e / uniforms.c);
  if (at.w == 0) { return 1u; }
  let pixel = (u32(at.x) * uniforms.h + u32(at.y)) * uniforms.w + u32(at.z);
  return select(0u, 1u, x[pixel * uniforms.c + e % uniforms.c] >= 0.0);
}`);

/** S[tap, f] = Σ over channels of the filter's ±1 values: what a padded tap's +1 adds to output unit f. */
const tapSumsCode = `
fn main(index: i32) {
  let i = u32(index);
  if (i >= uniforms.taps * uniforms.f) { return; }
  let tap = i / uniforms.f;
  let f = i % uniforms.f;
  var s = 0i;
  for (var ch = 0u; ch < uniforms.c; ch++) {
    s += select(-1i, 1i, W[(tap * uniforms.c + ch) * uniforms.f + f] >= 0.0);
  }
  result[index] = s;
}
`;

/** The GEMM of a conv: each output less the tap sums of its position's padded taps. */
const CONV_GEMM_IO: GemmIo = {
  ...TFJS_GEMM_IO,
  declarations: `${convTap}
fn padCorrection(index: u32) -> i32 {
  let row = index / uniforms.n;
  let f = index % uniforms.n;
  var corr = 0i;
  for (var tap = 0u; tap < uniforms.kh * uniforms.kw; tap++) {
    if (convTap(row, tap).w == 0) { corr += s[tap * uniforms.n + f]; }
  }
  return corr;
}`,
  store: (index, value) => `result[${index}] = f32(${value} - padCorrection(${index}));`,
};
const convGemmCode = xnorGemmShader(false, CONV_GEMM_IO);

function binaryMatMul(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) {
  const backend = args.backend as WebgpuBackend;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB, aDropped } = args.attrs as unknown as BnnBinaryMatMulAttrs;
  if (a.shape.length !== 2 || b.shape.length !== 2)
    throw new Error(`${BNN_BINARY_MATMUL}: rank-2 operands only, got [${a.shape}] and [${b.shape}]`);
  const [m, k] = transposeA ? [a.shape[1], a.shape[0]] : a.shape;
  const [kb, n] = transposeB ? [b.shape[1], b.shape[0]] : b.shape;
  if (k !== kb) throw new Error(`${BNN_BINARY_MATMUL}: inner dimensions differ: a [${a.shape}] and b [${b.shape}]`);
  // A's rows are a's rows (a's columns if transposed); B's rows are b's columns (its rows if transposed).
  const aBits = pack(backend, a, m, k, transposeA ? 1 : k, transposeA ? m : 1, aDropped > 0);
  const bBits = pack(backend, b, n, k, transposeB ? k : 1, transposeB ? 1 : n);
  const rows = aDropped > 0 ? 2 * m : m;
  const products = gemm(backend, aBits, bBits, rows, n, k, [rows, n]);
  backend.disposeData(aBits.dataId);
  backend.disposeData(bBits.dataId);
  if (!(aDropped > 0)) return products;
  const out = backend.runWebGPUProgram(
    flatProgram(['products'], [m, n], 'bnnDroppedCombine', ['size', 'scaleBits'], droppedCombineCode),
    [products],
    'float32',
    uniformValues([m * n, new Uint32Array(new Float32Array([aDropped]).buffer)[0]]),
  );
  backend.disposeData(products.dataId);
  return out;
}

/** The XNOR GEMM C = A · Bᵀ of packed m × k and n × k operands, as float32 of `shape` (m · n values). */
function gemm(
  backend: WebgpuBackend,
  aBits: TensorInfo,
  bBits: TensorInfo,
  m: number,
  n: number,
  k: number,
  shape: number[],
  conv?: { geometry: ConvGeometry; tapSums: TensorInfo },
): TensorInfo {
  const words = Math.ceil(k / 32);
  const tile = gemmTile(false);
  const convFields: readonly string[] = conv ? CONV_PARAMS : [];
  const program: WebgpuProgram = {
    variableNames: conv ? ['a', 'b', 's'] : ['a', 'b'],
    outputShape: shape,
    shaderKey: conv ? 'bnnXnorConvGemm' : 'bnnXnorGemm',
    dispatchLayout: { x: [1], y: [0] },
    dispatch: [Math.ceil(n / tile.cols), Math.ceil(m / tile.rows), 1],
    workgroupSize: [GEMM_THREADS, GEMM_THREADS, 1],
    uniforms: uniformFields([...GEMM_PARAMS, ...convFields]),
    getUserCode: () => (conv ? convGemmCode : gemmCode),
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
  const values = [
    ...GEMM_PARAMS.map((name) => params[name]),
    ...(conv ? CONV_PARAMS.map((name) => conv.geometry[name]) : []),
  ];
  const inputs = conv ? [aBits, bBits, conv.tapSums] : [aBits, bBits];
  return backend.runWebGPUProgram(program, inputs, 'float32', uniformValues(values));
}

/** A program of one thread per output (64 to a workgroup), with u32 uniforms `fields`. */
function flatProgram(
  variableNames: string[],
  outputShape: number[],
  shaderKey: string,
  fields: readonly string[],
  code: string,
): WebgpuProgram {
  const size = outputShape.reduce((a, b) => a * b, 1);
  return {
    variableNames,
    outputShape,
    shaderKey,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(size / PACK_WORKGROUP), 1, 1],
    workgroupSize: [PACK_WORKGROUP, 1, 1],
    uniforms: uniformFields(fields),
    getUserCode: () => code,
  };
}

function binaryConv2d(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) {
  const backend = args.backend as WebgpuBackend;
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const { strides, pad, dilations, dimRoundingMode } = args.attrs as unknown as tf.Conv2DAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1)
    throw new Error(`${BNN_BINARY_CONV2D}: no dilation, got [${info.dilationHeight}, ${info.dilationWidth}]`);
  const geometry: ConvGeometry = {
    h: info.inHeight,
    w: info.inWidth,
    c: info.inChannels,
    oh: info.outHeight,
    ow: info.outWidth,
    kh: info.filterHeight,
    kw: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
  const m = info.batchSize * info.outHeight * info.outWidth;
  const n = info.outChannels;
  const taps = info.filterHeight * info.filterWidth;
  const k = taps * info.inChannels;
  const words = Math.ceil(k / 32);
  const aBits = backend.runWebGPUProgram(
    flatProgram(['x'], [m, words], 'bnnSignIm2col', ['rows', 'words', 'k', ...CONV_PARAMS], im2colCode),
    [x],
    'int32',
    uniformValues([m, words, k, ...CONV_PARAMS.map((name) => geometry[name])]),
  );
  // The filter [kh, kw, c, f] is k × n: B's row j is its column j.
  const bBits = pack(backend, filter, n, k, 1, n);
  const tapSums = backend.runWebGPUProgram(
    flatProgram(['W'], [taps, n], 'bnnTapSums', ['taps', 'f', 'c'], tapSumsCode),
    [filter],
    'int32',
    uniformValues([taps, n, info.inChannels]),
  );
  const out = gemm(backend, aBits, bBits, m, n, k, info.outShape, { geometry, tapSums });
  for (const t of [aBits, bBits, tapSums]) backend.disposeData(t.dataId);
  return out;
}

/** Registers BnnBinaryMatMul and BnnBinaryConv2D for the webgpu backend (once). */
export function registerWebgpuXnorKernels(): void {
  for (const [kernelName, kernelFunc] of [
    [BNN_BINARY_MATMUL, binaryMatMul],
    [BNN_BINARY_CONV2D, binaryConv2d],
  ] as const) {
    if (!tf.getKernel(kernelName, 'webgpu')) tf.registerKernel({ kernelName, backendName: 'webgpu', kernelFunc });
  }
}
