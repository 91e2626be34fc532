/**
 * `npm run export:onnx -- --checkpoint runs/<run>/best.bnn --out model.onnx`: a trained BNN as a
 * standard ONNX float graph (±1 Conv/MatMul weights, BatchNormalization, sign), which ONNX Runtime
 * or any ONNX consumer runs on uint8 pixels (lib/engine/onnxExport.ts). The model comes from a
 * training checkpoint (checkpoint.bnn or best.bnn) or from a saved tfjs model folder (--model, e.g.
 * runs/<run>/model). When onnxruntime-node is installed, the file is read back with ONNX Runtime and
 * its predictions compared with the binary engine's on up to --check N MNIST test images (MNIST
 * models) or seeded random images. `--help` lists the flags.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { cliFlags, FLAGS, flagHelp, integerFlag, runMain, type FlagTable } from './args';
import { initBackend } from '../lib/backend';
import { loadOnnxRuntime, onnxScores, onnxSession } from '../bench/onnxRuntime';
import { getDataset } from '../lib/data/registry';
import { makeImageSet } from '../lib/data/dataset';
import { loadMnist } from '../lib/data/mnist';
import { BinaryEngine, exportOnnx, exportPackedModel } from '../lib/engine';
import { buildModel } from '../lib/experiment';
import { registerFileSystemIO } from '../lib/io/fileSystem';
import { selectKernel } from '../lib/kernels';
import '../lib/layers';
import { seededRandom } from '../lib/random';
import { checkpointHyperparameters, restoreModelFromCheckpoint } from '../lib/train/checkpoint';

export const USAGE = [
  'usage: npm run export:onnx -- (--checkpoint FILE | --model DIR) --out FILE.onnx [--check N]',
  'A trained BNN as a standard ONNX float graph, checked with ONNX Runtime against the binary engine.',
].join('\n');
export const FLAG_TABLE = {
  checkpoint: FLAGS.checkpoint,
  model: FLAGS.model,
  out: { value: 'FILE', help: 'the ONNX file to write' },
  check: { value: 'N', help: 'images to compare ONNX Runtime with the engine on, 0 for none', default: '1000' },
} satisfies FlagTable;

async function loadModel(
  checkpoint?: string,
  modelDir?: string,
): Promise<{ model: tf.LayersModel; dataset: string | null }> {
  if (checkpoint) {
    const hp = checkpointHyperparameters(checkpoint);
    const s = getDataset(hp.dataset).shape;
    const set = makeImageSet(new Uint8Array(s.height * s.width * s.channels), Uint8Array.of(0), s, s.numClasses);
    const model = buildModel(hp, { name: hp.dataset, train: set, valid: set, test: set });
    const { epoch } = restoreModelFromCheckpoint(model, checkpoint);
    console.log(`model from ${checkpoint}: ${hp.dataset} ${hp.arch}, ${epoch} epochs`);
    return { model, dataset: hp.dataset };
  }
  registerFileSystemIO();
  const model = await tf.loadLayersModel(`file://${path.resolve(modelDir!)}`);
  return { model, dataset: null };
}

async function main(): Promise<void> {
  const values = cliFlags(USAGE, FLAG_TABLE);
  if (!values.out || !values.checkpoint === !values.model)
    throw new Error(`give --out and one of --checkpoint, --model\n${flagHelp(USAGE, FLAG_TABLE)}`);
  const check = integerFlag(values.check, 'check', true)!;
  await initBackend();
  const { model, dataset } = await loadModel(values.checkpoint, values.model);
  const bytes = exportOnnx(model, values.out, {
    description: `exported by npm run export:onnx from ${values.checkpoint ?? values.model}`,
  });
  console.log(`wrote ${values.out} (${(bytes / 2 ** 20).toFixed(1)} MiB)`);
  if (check === 0) return;
  const ort = loadOnnxRuntime();
  if (typeof ort === 'string') return console.log(`not checked with ONNX Runtime: ${ort}`);
  const inputShape = model.inputs[0].shape.slice(1) as number[];
  const per = inputShape.reduce((a, b) => a * b, 1);
  let pixels: Uint8Array;
  let from: string;
  // MNIST images for a 784-input model (a saved tfjs folder does not say its data set).
  if (per === 784 && (dataset === 'mnist' || dataset === null)) {
    const test = loadMnist().test;
    const n = Math.min(check, test.count);
    pixels = test.images.slice(0, n * per);
    from = `${n} MNIST test images`;
  } else {
    const random = seededRandom(1);
    pixels = Uint8Array.from({ length: check * per }, () => Math.floor(random() * 256));
    from = `${check} seeded random images`;
  }
  const count = pixels.length / per;
  const session = await onnxSession(ort, values.out, 1);
  const scores = await onnxScores(ort, session, pixels, count, inputShape);
  await session.release();
  const classes = scores.length / count;
  const engine = new BinaryEngine(exportPackedModel(model), { kernel: selectKernel() }).predict(pixels, count);
  let agree = 0;
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let j = 1; j < classes; j++) if (scores[i * classes + j] > scores[i * classes + best]) best = j;
    if (best === engine[i]) agree++;
  }
  console.log(`ONNX Runtime ${ort.version} agrees with the binary engine on ${agree} of ${from}`);
}

runMain(module, main);
