/**
 * `file://` model saving and loading for `model.save()` / `tf.loadLayersModel()` without
 * @tensorflow/tfjs-node (which registers the same scheme, in the same format, when it loads):
 * `model.json` (topology + weights manifest) and `weights.bin` in the given folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from './atomicWrite';
import { readDataFile } from '../data/readFile';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

function folderOf(url: string): string {
  const p = url.replace(/^file:\/\//, '');
  return p.endsWith(MODEL_JSON) ? path.dirname(p) : p;
}

class FileSystemHandler implements tf.io.IOHandler {
  constructor(private readonly dir: string) {}

  async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
    if (artifacts.modelTopology instanceof ArrayBuffer)
      throw new Error('file://: binary model topologies are not supported');
    const weights = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
    const modelJson = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
    };
    // Weights first, then model.json, each atomically: a reader never sees a half-written file.
    writeFileAtomic(path.join(this.dir, WEIGHTS_BIN), new Uint8Array(weights));
    writeFileAtomic(path.join(this.dir, MODEL_JSON), JSON.stringify(modelJson));
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }

  async load(): Promise<tf.io.ModelArtifacts> {
    const file = path.join(this.dir, MODEL_JSON);
    if (!fs.existsSync(file)) throw new Error(`file://: no ${MODEL_JSON} in ${this.dir}`);
    let json: {
      modelTopology: object;
      weightsManifest: tf.io.WeightsManifestConfig;
      format?: string;
      generatedBy?: string;
      convertedBy?: string | null;
    };
    try {
      json = JSON.parse(readDataFile(file).toString('utf8'));
    } catch (err) {
      throw new Error(`${file}: not valid JSON (${(err as Error).message})`, { cause: err });
    }
    const weightSpecs: tf.io.WeightsManifestEntry[] = [];
    const buffers: Buffer[] = [];
    for (const group of json.weightsManifest ?? []) {
      weightSpecs.push(...group.weights);
      for (const p of group.paths) buffers.push(readDataFile(path.join(this.dir, p)));
    }
    const data = Buffer.concat(buffers);
    const expected = weightSpecs.reduce(
      (n, s) => n + s.shape.reduce((a, b) => a * b, 1) * (s.dtype === 'float32' || s.dtype === 'int32' ? 4 : 1),
      0,
    );
    if (data.length !== expected)
      throw new Error(`${this.dir}: weights are ${data.length} bytes, the manifest describes ${expected}`);
    return {
      modelTopology: json.modelTopology,
      weightSpecs,
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
    };
  }
}

const router = (url: string | string[]) => {
  if (Array.isArray(url) || !url.startsWith('file://')) return null;
  return new FileSystemHandler(folderOf(url));
};

let registered = false;
/** Registers `file://` unless another handler (tfjs-node's) already serves it. */
export function registerFileSystemIO(): void {
  if (registered) return;
  registered = true;
  if (tf.io.getSaveHandlers('file:///probe').length === 0)
    tf.io.registerSaveRouter(router as unknown as Parameters<typeof tf.io.registerSaveRouter>[0]);
  if (tf.io.getLoadHandlers('file:///probe').length === 0)
    tf.io.registerLoadRouter(router as unknown as Parameters<typeof tf.io.registerSaveRouter>[0]);
}
