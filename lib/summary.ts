/**
 * A model summary in the spirit of larq's: per layer, binary and real parameter counts and the
 * memory they need stored as float32 versus with binary weights packed 1 bit each.
 */
import type * as tf from '@tensorflow/tfjs';
import { BinaryKernelLayer } from './layers/binaryKernelLayer';

export interface LayerSummary {
  name: string;
  className: string;
  outputShape: string;
  binaryParams: number;
  realParams: number;
  /** Bytes with every parameter as float32. */
  float32Bytes: number;
  /** Bytes with binary parameters packed 1 bit each and real ones as float32. */
  packedBytes: number;
}

export function summarize(model: tf.LayersModel): LayerSummary[] {
  return model.layers.map((layer) => {
    let binaryParams = 0;
    let realParams = 0;
    for (const w of layer.weights) {
      const size = w.shape.reduce((a: number, b) => a * (b as number), 1);
      const binary = layer instanceof BinaryKernelLayer && layer.kernelQuantizer !== null && w.originalName.endsWith('/kernel');
      if (binary) binaryParams += size;
      else realParams += size;
    }
    const shape = layer.outputShape as (number | null)[];
    return {
      name: layer.name,
      className: layer.getClassName(),
      outputShape: `[${shape.map((d) => (d === null ? '?' : d)).join(', ')}]`,
      binaryParams,
      realParams,
      float32Bytes: 4 * (binaryParams + realParams),
      packedBytes: Math.ceil(binaryParams / 8) + 4 * realParams,
    };
  });
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(2)} KiB`;
}

/** The summary as a fixed-width text table with totals. */
export function formatSummary(rows: LayerSummary[]): string {
  const total = rows.reduce(
    (t, r) => ({
      binaryParams: t.binaryParams + r.binaryParams,
      realParams: t.realParams + r.realParams,
      float32Bytes: t.float32Bytes + r.float32Bytes,
      packedBytes: t.packedBytes + r.packedBytes,
    }),
    { binaryParams: 0, realParams: 0, float32Bytes: 0, packedBytes: 0 },
  );
  const header = ['Layer (class)', 'Output shape', 'Binary params', 'Real params', 'float32', '1-bit packed'];
  const body = rows.map((r) => [
    `${r.name} (${r.className})`,
    r.outputShape,
    String(r.binaryParams),
    String(r.realParams),
    kib(r.float32Bytes),
    kib(r.packedBytes),
  ]);
  const foot = ['Total', '', String(total.binaryParams), String(total.realParams), kib(total.float32Bytes), kib(total.packedBytes)];
  const table = [header, ...body, foot];
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const rule = '─'.repeat(widths.reduce((a, b) => a + b + 2, -2));
  const ratio = total.packedBytes > 0 ? (total.float32Bytes / total.packedBytes).toFixed(1) : '—';
  return [rule, line(header), rule, ...body.map(line), rule, line(foot), rule, `Memory: ${kib(total.float32Bytes)} as float32, ${kib(total.packedBytes)} packed (${ratio}× smaller)`].join('\n');
}
