/**
 * A model summary in the spirit of larq's: per layer, the precision of its input and kernel,
 * quantized and real parameter counts, the memory they need stored as float32 versus packed at
 * their precision (1 bit for binary weights), and its multiply-accumulates (MACs) per example by
 * operand precision: binary×binary (XNOR-popcount), binary×float (additions and subtractions only,
 * e.g. the first layer's real pixels with binary weights) and float×float ("float": over 1 bit).
 * MACs are counted for the quantized layers, as larq counts its quantized conv and dense layers;
 * BatchNorm's per-element scale and shift are not MACs of a product and are left out.
 */
import type * as tf from '@tensorflow/tfjs';
import { isQuantizedLayer } from './layers/binaryKernelLayer';
import { SignActivation } from './layers/signActivation';
import { escapeHtml, htmlTable } from './results/htmlTable';

export interface MacCounts {
  binaryBinary: number;
  binaryFloat: number;
  floatFloat: number;
}

export interface LayerSummary {
  name: string;
  className: string;
  outputShape: string;
  /** Bits of the values the layer's kernel multiplies; null for layers without a quantized kernel. */
  inputBits: number | null;
  /** Bits of the kernel as the forward pass uses it (its quantizer's precision, 32 unquantized); null likewise. */
  weightBits: number | null;
  /** Parameters stored 1 bit each. */
  binaryParams: number;
  /** Parameters stored with 2 to 31 bits each (`weightBits`), by a quantizer of the user's own. */
  quantizedParams: number;
  realParams: number;
  /** Bytes with every parameter as float32. */
  float32Bytes: number;
  /** Bytes with quantized parameters packed at their precision and real ones as float32. */
  packedBytes: number;
  /** Multiply-accumulates per example. */
  macs: MacCounts;
}

/** tfjs layers that keep the precision of their input: reshaping, max-pooling, dropout (identity at inference). */
const PRECISION_KEEPING = new Set(['InputLayer', 'Flatten', 'Reshape', 'MaxPooling1D', 'MaxPooling2D', 'Dropout']);

/** The layer whose output feeds `layer` (the first input of its first call). */
function producer(layer: tf.layers.Layer): tf.layers.Layer | undefined {
  return layer.inboundNodes[0]?.inboundLayers[0];
}

/** Bits of the values `layer` outputs: its quantizer's precision for a sign activation, else float32. */
function outputBits(layer: tf.layers.Layer | undefined): number {
  if (layer instanceof SignActivation) return layer.quantizer.precision;
  if (layer && PRECISION_KEEPING.has(layer.getClassName())) return outputBits(producer(layer));
  return 32;
}

const size = (shape: readonly (number | null)[]) => shape.reduce((a: number, b) => a * (b ?? 1), 1);

function macCounts(count: number, inputBits: number, weightBits: number): MacCounts {
  const binaryOperands = Number(inputBits === 1) + Number(weightBits === 1);
  return {
    binaryBinary: binaryOperands === 2 ? count : 0,
    binaryFloat: binaryOperands === 1 ? count : 0,
    floatFloat: binaryOperands === 0 ? count : 0,
  };
}

export function summarize(model: tf.LayersModel): LayerSummary[] {
  return model.layers.map((layer) => {
    const shape = layer.outputShape as (number | null)[];
    const quantized = isQuantizedLayer(layer) ? layer : null;
    const latent = quantized?.latentKernel;
    const weightBits = quantized ? (quantized.kernelQuantizer?.precision ?? 32) : null;
    const inputBits = quantized ? (quantized.inputQuantizer?.precision ?? outputBits(producer(layer))) : null;
    const params = { binary: 0, quantized: 0, real: 0 };
    for (const w of layer.weights) {
      const bits = w === latent ? weightBits! : 32;
      params[bits === 1 ? 'binary' : bits < 32 ? 'quantized' : 'real'] += size(w.shape);
    }
    // Each output value of a dense or conv layer sums (kernel size / output channels) products.
    const macs = latent ? (size(shape.slice(1)) * size(latent.shape)) / latent.shape[latent.shape.length - 1]! : 0;
    return {
      name: layer.name,
      className: layer.getClassName(),
      outputShape: `[${shape.map((d) => (d === null ? '?' : d)).join(', ')}]`,
      inputBits,
      weightBits,
      binaryParams: params.binary,
      quantizedParams: params.quantized,
      realParams: params.real,
      float32Bytes: 4 * (params.binary + params.quantized + params.real),
      packedBytes:
        Math.ceil(params.binary / 8) + Math.ceil((params.quantized * (weightBits ?? 32)) / 8) + 4 * params.real,
      macs: macCounts(macs, inputBits ?? 32, weightBits ?? 32),
    };
  });
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(2)} KiB`;
}

const count = (n: number) => n.toLocaleString('en-US');

/** The summary's cells (header, one row per layer, the totals) and its two closing lines. */
function summaryCells(rows: LayerSummary[]): { header: string[]; body: string[][]; foot: string[]; notes: string[] } {
  const sum = (f: (r: LayerSummary) => number) => rows.reduce((t, r) => t + f(r), 0);
  const total = {
    quantizedParams: sum((r) => r.binaryParams + r.quantizedParams),
    realParams: sum((r) => r.realParams),
    float32Bytes: sum((r) => r.float32Bytes),
    packedBytes: sum((r) => r.packedBytes),
    macs: {
      binaryBinary: sum((r) => r.macs.binaryBinary),
      binaryFloat: sum((r) => r.macs.binaryFloat),
      floatFloat: sum((r) => r.macs.floatFloat),
    },
  };
  const header = [
    'Layer (class)',
    'Output shape',
    'Bits in×w',
    'Quantized params',
    'Real params',
    'float32',
    'packed',
    'MACs bin×bin',
    'bin×float',
    'float×float',
  ];
  const macCells = (m: MacCounts) => [m.binaryBinary, m.binaryFloat, m.floatFloat].map((n) => (n ? count(n) : '0'));
  const body = rows.map((r) => [
    `${r.name} (${r.className})`,
    r.outputShape,
    r.weightBits === null ? '' : `${r.inputBits}×${r.weightBits}`,
    String(r.binaryParams + r.quantizedParams),
    String(r.realParams),
    kib(r.float32Bytes),
    kib(r.packedBytes),
    ...macCells(r.macs),
  ]);
  const foot = [
    'Total',
    '',
    '',
    String(total.quantizedParams),
    String(total.realParams),
    kib(total.float32Bytes),
    kib(total.packedBytes),
    ...macCells(total.macs),
  ];
  const ratio = total.packedBytes > 0 ? (total.float32Bytes / total.packedBytes).toFixed(1) : '—';
  const allMacs = total.macs.binaryBinary + total.macs.binaryFloat + total.macs.floatFloat;
  const binaryPercent = ((100 * total.macs.binaryBinary) / allMacs).toFixed(1);
  const binaryShare = allMacs > 0 ? ` (${binaryPercent} % binary×binary)` : '';
  const notes = [
    `Memory: ${kib(total.float32Bytes)} as float32, ${kib(total.packedBytes)} packed (${ratio}× smaller)`,
    `MACs per example: ${count(allMacs)}${binaryShare}`,
  ];
  return { header, body, foot, notes };
}

/** The summary as a fixed-width text table with totals (the CLI's form). */
export function formatSummary(rows: LayerSummary[]): string {
  const { header, body, foot, notes } = summaryCells(rows);
  const table = [header, ...body, foot];
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c].length)));
  const line = (row: string[]) =>
    row.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const rule = '─'.repeat(widths.reduce((a, b) => a + b + 2, -2));
  return [rule, line(header), rule, ...body.map(line), rule, line(foot), rule, ...notes].join('\n');
}

/**
 * The same summary as an HTML table (the notebooks' form: it fits the output area, numbers right-aligned,
 * parameter counts with thousands separators).
 */
export function summaryHtml(rows: LayerSummary[]): string {
  const { header, body, foot, notes } = summaryCells(rows);
  const grouped = (r: string[]) => r.map((cell, c) => ((c === 3 || c === 4) && cell ? count(Number(cell)) : cell));
  const table = htmlTable(header, body.map(grouped), { footer: [grouped(foot)] });
  return `${table}<div style="font-size:12px;margin:4px 0">${notes.map(escapeHtml).join('<br>')}</div>`;
}
