/**
 * The WGSL of the WebGPU tier, as template strings.
 *
 * `xnorGemmShader` is the paper's XNOR kernel: C = A · Bᵀ over ±1 values packed 32 to a u32 word (bitPack.ts),
 * each entry k − 2·countOneBits(a XOR b) summed over the words. Tiled like the paper's CUDA kernel: a workgroup of
 * 16 × 16 threads computes a BM × 64 block of C, each thread a TM × 4 register tile (TM = 4; 8 for bit planes), and
 * the operands' tiles of BK words per row are staged in workgroup memory, k-major, so that the threads of a row
 * read consecutive columns. Rows of A past m and words past the row are loaded as 0 (both operands), which adds
 * nothing to a popcount of XOR. For the first layer's bit planes (firstLayer.ts) a thread's 8 rows are one input's
 * 8 planes and it writes Σ 2^p · dot_p, the 8-bit layer's integer sum, directly.
 *
 * `floatGemmShader` is the paper's "baseline kernel": one output per thread, straight from global memory.
 * `gatherShader` and `epilogueShader` are the rest of a binary layer for the engine (network.ts).
 */

/** Threads per workgroup side of the GEMM, words of K per staged tile, columns per thread. */
export const GEMM_THREADS = 16;
export const GEMM_BK = 16;
export const GEMM_TN = 4;
/** Rows per thread: 4, or 8 (one input's 8 bit planes). */
export const gemmRowsPerThread = (planes: boolean) => (planes ? 8 : 4);
/** Rows and columns of C per workgroup. */
export const gemmTile = (planes: boolean) => ({
  rows: GEMM_THREADS * gemmRowsPerThread(planes),
  cols: GEMM_THREADS * GEMM_TN,
});

/** Uniform fields of each shader, in order (all u32). */
export const GEMM_PARAMS = ['m', 'n', 'kWords', 'k', 'aStride', 'bStride', 'ldc'] as const;
export const FLOAT_GEMM_PARAMS = ['m', 'n', 'k'] as const;
export const GATHER_PARAMS = [
  'mode',
  'rows',
  'words',
  'k',
  'h',
  'w',
  'c',
  'ks',
  'pad',
  'cw',
  'positions',
  'pixelWords',
  'pixels',
  'inputSize',
] as const;
export const EPILOGUE_PARAMS = [
  'rows',
  'units',
  'outWords',
  'pool',
  'ch',
  'cw',
  'oh',
  'ow',
  'h',
  'w',
  'ks',
  'pad',
  'corrScale',
] as const;

/** How gatherShader builds a layer's packed left operand (one row per product row). */
export const GATHER_MODE = {
  /** Dense layer on uint8 pixels: 8 rows per image, row 8i + p holds bit p of each pixel as ±1. */
  planes: 0,
  /** Dense layer on pixel signs: +1 ⟺ p ≥ 128. */
  signs: 1,
  /** Conv on uint8 pixels: the im2col of each bit plane, 8 rows per output position; padded taps +1. */
  im2colPlanes: 2,
  /** Conv on packed ±1 activations (one row of `pixelWords` words per pixel): im2col, padded taps +1. */
  im2colBits: 3,
  /** Dense after a conv whose channels are not whole words: each image's pixel rows as one row (tfjs Flatten). */
  flatten: 4,
} as const;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** A shader's parameters (a uniform struct of u32 fields, binding 0) and its storage buffers (bindings 1, 2, …). */
function bindings(params: readonly string[], buffers: [access: 'read' | 'read_write', declaration: string][]): string {
  return [
    `struct Params {\n${params.map((f) => `  ${f}: u32,`).join('\n')}\n}`,
    '@group(0) @binding(0) var<uniform> p: Params;',
    ...buffers.map(
      ([access, declaration], i) => `@group(0) @binding(${i + 1}) var<storage, ${access}> ${declaration};`,
    ),
  ].join('\n');
}

/** Index of a one-dimensional dispatch spread over x and y (x at most 65,535 workgroups of 64). */
const LINEAR_INDEX = 'gid.y * (nwg.x * 64u) + gid.x';

/** A parameter of the GEMM (GEMM_PARAMS). */
export type GemmParam = (typeof GEMM_PARAMS)[number];

/**
 * Where the XNOR GEMM reads its parameters and packed operands and stores C: the engine's own bindings
 * (`ENGINE_GEMM_IO`) or another program's (the webgpu training backend's BnnBinaryMatMul: lib/tfjs/webgpuXnor.ts).
 */
export interface GemmIo {
  /** Module-scope declarations before the kernel (its bindings). */
  declarations: string;
  /** The entry point through its opening brace, with `lid` (local invocation id) and `wid` (workgroup id) in scope. */
  entry: string;
  /** A parameter, as a u32 expression. */
  param(name: GemmParam): string;
  /** Word `index` of operand a or b, as a u32 expression. */
  word(operand: 'a' | 'b', index: string): string;
  /** The statement that stores the i32 expression `value` at element `index` of C. */
  store(index: string, value: string): string;
}

/** The engine's GEMM: parameters in a uniform (binding 0), a and b in storage (1, 2), C as i32 (3). */
export const ENGINE_GEMM_IO: GemmIo = {
  declarations: bindings(GEMM_PARAMS, [
    ['read', 'a: array<u32>'],
    ['read', 'b: array<u32>'],
    ['read_write', 'c: array<i32>'],
  ]),
  entry: `@compute @workgroup_size(${GEMM_THREADS}, ${GEMM_THREADS})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {`,
  param: (name) => `p.${name}`,
  word: (operand, index) => `${operand}[${index}]`,
  store: (index, value) => `c[${index}] = ${value};`,
};

export function xnorGemmShader(planes: boolean, io: GemmIo = ENGINE_GEMM_IO): string {
  const T = GEMM_THREADS,
    TM = gemmRowsPerThread(planes),
    TN = GEMM_TN,
    BK = GEMM_BK;
  const { rows: BM, cols: BN } = gemmTile(planes);
  const p = Object.fromEntries(GEMM_PARAMS.map((name) => [name, io.param(name)])) as Record<GemmParam, string>;
  // The register tile is written out by this generator (named registers, no indexed arrays, which a compiler may
  // leave in memory): thread (tx, ty)'s row i of the tile is ty + 16i, or ty·8 + i (8 consecutive plane rows), and
  // its column j is tx + 16j, so that the threads of a row read consecutive words of the staged tiles.
  const rows = range(TM),
    cols = range(TN);
  const rowOf = (i: number) => (planes ? `ty * ${TM}u + ${i}u` : `ty + ${T * i}u`);
  const planeSum = (j: number) => rows.map((i) => `((k - 2i * i32(acc${i}_${j})) << ${i}u)`).join(' + ');
  const each = (f: (i: number, j: number) => string) => rows.flatMap((i) => cols.map((j) => f(i, j))).join('\n');
  const store = planes
    ? `
  let input = wid.y * ${T}u + ty;
  if (input * 8u >= ${p.m}) { return; }
${cols
  .map(
    (j) => `  if (col0 + tx + ${T * j}u < ${p.n}) {
    ${io.store(`input * ${p.ldc} + col0 + tx + ${T * j}u`, planeSum(j))}
  }`,
  )
  .join('\n')}`
    : rows
        .map(
          (i) => `
  if (row0 + ${rowOf(i)} < ${p.m}) {
${cols
  .map(
    (j) => `    if (col0 + tx + ${T * j}u < ${p.n}) {
      ${io.store(`(row0 + ${rowOf(i)}) * ${p.ldc} + col0 + tx + ${T * j}u`, `k - 2i * i32(acc${i}_${j})`)}
    }`,
  )
  .join('\n')}
  }`,
        )
        .join('');
  return /* wgsl */ `
${io.declarations}

var<workgroup> As: array<u32, ${BK * BM}>;
var<workgroup> Bs: array<u32, ${BK * BN}>;

${io.entry}
  let tx = lid.x;
  let ty = lid.y;
  let t = ty * ${T}u + tx;
  let row0 = wid.y * ${BM}u;
  let col0 = wid.x * ${BN}u;
${each((i, j) => `  var acc${i}_${j} = 0u;`)}
  for (var k0 = 0u; k0 < ${p.kWords}; k0 += ${BK}u) {
    // Stage BM rows of A and BN rows of B, BK words each, k-major; past the matrices, 0.
    for (var l = t; l < ${BM * BK}u; l += ${T * T}u) {
      let r = row0 + l / ${BK}u;
      let w = k0 + l % ${BK}u;
      var v = 0u;
      if (r < ${p.m} && w < ${p.kWords}) { v = ${io.word('a', `r * ${p.aStride} + w`)}; }
      As[(l % ${BK}u) * ${BM}u + l / ${BK}u] = v;
    }
    for (var l = t; l < ${BN * BK}u; l += ${T * T}u) {
      let r = col0 + l / ${BK}u;
      let w = k0 + l % ${BK}u;
      var v = 0u;
      if (r < ${p.n} && w < ${p.kWords}) { v = ${io.word('b', `r * ${p.bStride} + w`)}; }
      Bs[(l % ${BK}u) * ${BN}u + l / ${BK}u] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk++) {
${rows.map((i) => `      let a${i} = As[kk * ${BM}u + ${rowOf(i)}];`).join('\n')}
${cols.map((j) => `      let b${j} = Bs[kk * ${BN}u + tx + ${T * j}u];`).join('\n')}
${each((i, j) => `      acc${i}_${j} += countOneBits(a${i} ^ b${j});`)}
    }
    workgroupBarrier();
  }
  let k = i32(${p.k});${store}
}
`;
}

/** The paper's baseline kernel in float: c[i·n + j] = Σ a[i·k + p] · bT[j·k + p], one output per thread, no tiling. */
export const floatGemmShader = /* wgsl */ `
${bindings(FLOAT_GEMM_PARAMS, [
  ['read', 'a: array<f32>'],
  ['read', 'bT: array<f32>'],
  ['read_write', 'c: array<f32>'],
])}

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let col = gid.x;
  let row = gid.y;
  if (row >= p.m || col >= p.n) { return; }
  var s = 0.0;
  for (var q = 0u; q < p.k; q++) { s += a[row * p.k + q] * bT[col * p.k + q]; }
  c[row * p.n + col] = s;
}
`;

/**
 * Builds one word of a packed left operand per thread, bit by bit (modes: GATHER_MODE). Pixels arrive as bytes,
 * 4 to a u32; packed activations as rows of `pixelWords` words per pixel (conv) or image (dense).
 */
export const gatherShader = /* wgsl */ `
${bindings(GATHER_PARAMS, [
  ['read', 'pixels: array<u32>'],
  ['read', 'act: array<u32>'],
  ['read_write', 'out: array<u32>'],
])}

fn pixel(i: u32) -> u32 { return (pixels[i >> 2u] >> ((i & 3u) * 8u)) & 255u; }
fn actBit(row: u32, e: u32) -> u32 { return (act[row * p.pixelWords + (e >> 5u)] >> (e & 31u)) & 1u; }

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let index = ${LINEAR_INDEX};
  if (index >= p.rows * p.words) { return; }
  let row = index / p.words;
  let word = index % p.words;
  let dense = p.mode == ${GATHER_MODE.planes}u || p.mode == ${GATHER_MODE.signs}u || p.mode == ${GATHER_MODE.flatten}u;
  let planes = p.mode == ${GATHER_MODE.planes}u || p.mode == ${GATHER_MODE.im2colPlanes}u;
  let item = select(row, row / 8u, planes);
  let plane = row % 8u;
  // Conv output position: image, y, x.
  let image = select(item / p.positions, item, dense);
  let oy = (item % p.positions) / p.cw;
  let ox = item % p.cw;
  var bits = 0u;
  let end = min(32u, p.k - word * 32u);
  for (var b = 0u; b < end; b++) {
    let e = word * 32u + b;
    var bit = 0u;
    if (p.mode == ${GATHER_MODE.planes}u) {
      bit = (pixel(image * p.inputSize + e) >> plane) & 1u;
    } else if (p.mode == ${GATHER_MODE.signs}u) {
      bit = select(0u, 1u, pixel(image * p.inputSize + e) >= 128u);
    } else if (p.mode == ${GATHER_MODE.flatten}u) {
      bit = actBit(image * p.pixels + e / p.c, e % p.c);
    } else {
      let tap = e / p.c;
      let ch = e % p.c;
      let y = i32(oy + tap / p.ks) - i32(p.pad);
      let x = i32(ox + tap % p.ks) - i32(p.pad);
      if (y < 0 || y >= i32(p.h) || x < 0 || x >= i32(p.w)) {
        bit = 1u;
      } else {
        let at = (image * p.h + u32(y)) * p.w + u32(x);
        if (p.mode == ${GATHER_MODE.im2colPlanes}u) {
          bit = (pixel(at * p.c + ch) >> plane) & 1u;
        } else {
          bit = actBit(at, ch);
        }
      }
    }
    bits |= bit << b;
  }
  out[row * p.words + word] = bits;
}
`;

/**
 * A sign layer's end: the padding correction of a conv (what the +1 fill of padded taps added, `corrScale` × the
 * filter's Σ over those taps: 255 on bit planes, 1 on bits), 2×2 max pooling of the integer sums, then BatchNorm +
 * sign as one comparison, (flip ? −s : s) ≥ threshold, 32 units packed to a word per thread.
 */
export const epilogueShader = /* wgsl */ `
${bindings(EPILOGUE_PARAMS, [
  ['read', 'sums: array<i32>'],
  ['read', 'thresholds: array<i32>'],
  ['read', 'flips: array<u32>'],
  ['read', 'taps: array<i32>'],
  ['read_write', 'out: array<u32>'],
])}

/** The corrected sum of unit j at conv position (image, y, x) before pooling (row = the position for a dense). */
fn corrected(image: u32, y: u32, x: u32, j: u32) -> i32 {
  let s = sums[((image * p.ch + y) * p.cw + x) * p.units + j];
  if (p.corrScale == 0u) { return s; }
  var corr = 0i;
  for (var dy = 0u; dy < p.ks; dy++) {
    for (var dx = 0u; dx < p.ks; dx++) {
      let yy = i32(y + dy) - i32(p.pad);
      let xx = i32(x + dx) - i32(p.pad);
      if (yy < 0 || yy >= i32(p.h) || xx < 0 || xx >= i32(p.w)) { corr += taps[(dy * p.ks + dx) * p.units + j]; }
    }
  }
  return s - i32(p.corrScale) * corr;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let index = ${LINEAR_INDEX};
  if (index >= p.rows * p.outWords) { return; }
  let row = index / p.outWords;
  let word = index % p.outWords;
  let positions = p.oh * p.ow;
  let image = row / positions;
  let oy = (row % positions) / p.ow;
  let ox = row % p.ow;
  var bits = 0u;
  let end = min(32u, p.units - word * 32u);
  for (var b = 0u; b < end; b++) {
    let j = word * 32u + b;
    var s = 0i;
    if (p.pool == 2u) {
      s = max(max(corrected(image, 2u * oy, 2u * ox, j), corrected(image, 2u * oy, 2u * ox + 1u, j)),
              max(corrected(image, 2u * oy + 1u, 2u * ox, j), corrected(image, 2u * oy + 1u, 2u * ox + 1u, j)));
    } else {
      s = corrected(image, oy, ox, j);
    }
    if (select(s, -s, flips[j] != 0u) >= thresholds[j]) { bits |= 1u << b; }
  }
  out[row * p.outWords + word] = bits;
}
`;
