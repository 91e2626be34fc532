/**
 * The work of test/webgpu-notebooks.test.ts, in a process of its own (lavapipe compiles shaders synchronously,
 * which stalls a vitest worker: see webgpuWorker.ts): what the notebooks do after or beside training, on the
 * backend named by its argument, every read asynchronous. Prints one JSON line.
 *   - notebook 02's step by hand: latent weights read before and after one trainStep, the per-layer diagnostics;
 *   - notebook 06's filter-repetition count on a ConvNet (and the ConvNet CLI's, after training);
 *   - notebook 03's export: the trained MLP on the binary engine against the tfjs model's classes;
 *   - notebook 01's printTensor.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { modelFilterRepetition } from '../../lib/analysis/filterRepetition';
import { batchTensors, makeImageSet } from '../../lib/data/dataset';
import { BinaryEngine, exportPackedModelAsync } from '../../lib/engine';
import { selectKernel } from '../../lib/kernels';
import { isQuantizedLayer } from '../../lib/layers';
import { buildConvNet } from '../../lib/models/convnet';
import { buildMlp } from '../../lib/models/mlp';
import { printTensor } from '../../lib/notebook/display';
import { BinaryNetOptimizer, modelParams } from '../../lib/optim/optimizers';
import { seededRandom } from '../../lib/random';
import { BinaryWeightMonitor } from '../../lib/train/diagnostics';
import { trainStep } from '../../lib/train/trainer';
import { reportAndExit } from './workerResult';

async function main() {
  const backend = await initBackend(process.argv[2]);
  const random = seededRandom(11);
  const [count, side, classes] = [64, 8, 4];
  const images = Uint8Array.from({ length: count * side * side }, () => random() * 256);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % classes);
  const set = makeImageSet(images, labels, { height: side, width: side, channels: 1 }, classes);

  // Notebook 02, one step by hand.
  const mlp = buildMlp({
    inputDim: side * side,
    numClasses: classes,
    hiddenUnits: [32, 32],
    dropoutInput: 0,
    dropoutHidden: 0,
    binarization: 'deterministic',
    batchNorm: 'standard',
    H: 1,
    seed: 3,
  });
  const params = modelParams(mlp, true);
  const optimizer = new BinaryNetOptimizer('adam', params);
  const binaryLayers = mlp.layers.filter(isQuantizedLayer);
  const latent = () =>
    Promise.all(binaryLayers.map(async (l) => (await l.latentKernel.read().data()).slice() as Float32Array));
  const monitor = await BinaryWeightMonitor.create(mlp);
  const { x, y } = batchTensors(
    set,
    Array.from({ length: count }, (_, i) => i),
    true,
  );
  const before = await latent();
  const step = await trainStep(mlp, params, optimizer, x, y, 0.01);
  const after = await latent();
  const diagnostics = await monitor.epochEnd();
  const changed = before.map((b, i) => b.filter((w, j) => w !== after[i][j]).length);

  // Notebook 03: the model on the binary engine predicts the tfjs model's classes.
  const scores = mlp.predict(x) as tf.Tensor;
  const tfjsClasses = Array.from(await scores.argMax(1).data());
  const engine = new BinaryEngine(await exportPackedModelAsync(mlp), { kernel: selectKernel() });
  const engineClasses = Array.from(engine.predict(images, count));

  // Notebook 06 and the ConvNet CLI: filter repetition.
  const convnet = buildConvNet({
    inputShape: [side, side, 1],
    numClasses: classes,
    convFilters: [8, 16],
    hiddenUnits: [],
    binarization: 'deterministic',
    batchNorm: 'standard',
    H: 1,
    seed: 1,
  });
  const repetition = await modelFilterRepetition(convnet);

  // Notebook 01: a tensor printed.
  const printed: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => printed.push(args.join(' '));
  await printTensor(tf.tensor2d([[1, -1]]));
  console.log = log;

  return {
    backend,
    tfBackend: tf.getBackend(),
    loss: step.loss,
    changed,
    sizes: before.map((b) => b.length),
    diagnostics,
    tfjsClasses,
    engineClasses,
    repetition,
    printed,
  };
}

reportAndExit(main());
