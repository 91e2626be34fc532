/**
 * `npm run demo:model [-- --run mnist-quick]`: the browser demo's model, built from a trained run.
 * Loads runs/<run>/model (tfjs), exports it packed with the library's exporter, checks that the
 * binary engine predicts exactly what tfjs predicts on all 10,000 MNIST test images (reading the
 * model back from its bytes, as the page does), then writes demo/model/model.bnnpack and
 * demo/model/about.json (the run, its test error and best epoch, the date and this command). `--help` lists
 * the flags.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { cliFlags, FLAGS, runMain, type FlagTable } from './args';
import { initBackend } from '../lib/backend';
import { scaledPixels } from '../lib/data/dataset';
import { loadMnist } from '../lib/data/mnist';
import {
  BinaryEngine,
  deserializePackedModel,
  exportPackedModel,
  packedParameterBytes,
  serializePackedModel,
} from '../lib/engine';
import { writeFileAtomic } from '../lib/io/atomicWrite';
import { readRunMetrics } from '../lib/results/metrics';
import { registerFileSystemIO } from '../lib/io/fileSystem';
import { selectKernel } from '../lib/kernels';
import '../lib/layers';

const DEMO_MODEL_DIR = path.join('demo', 'model');
const DEMO_MODEL_FILE = 'model.bnnpack';

export const USAGE = [
  'usage: npm run demo:model -- [flags]',
  "The browser demo's model (demo/model/model.bnnpack and about.json), packed from a trained run and checked",
  'against tfjs on all MNIST test images.',
].join('\n');
export const FLAG_TABLE = {
  run: { ...FLAGS.run, default: 'mnist-quick' },
  'runs-dir': FLAGS['runs-dir'],
  'results-dir': { ...FLAGS['results-dir'], default: 'results' },
} satisfies FlagTable;

function readJson(file: string): Record<string, unknown> | null {
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

async function main(): Promise<void> {
  const values = cliFlags(USAGE, FLAG_TABLE);
  const run = values.run;
  const modelDir = path.join(values['runs-dir'], run, 'model');
  if (!fs.existsSync(path.join(modelDir, 'model.json')))
    throw new Error(`${modelDir}/model.json not found: train the run first (npm start trains mnist-quick)`);
  console.log(`backend: ${await initBackend()}`);
  registerFileSystemIO();
  const model = await tf.loadLayersModel(`file://${path.resolve(modelDir)}`);
  const bytes = serializePackedModel(exportPackedModel(model));
  const packed = deserializePackedModel(bytes);
  if (packed.inputShape.join('×') !== '784')
    throw new Error(
      `${modelDir}: the demo draws 28×28 digits, but the model takes ${packed.inputShape.join('×')} inputs`,
    );

  const { test } = loadMnist();
  const kernel = selectKernel();
  const engine = Array.from(new BinaryEngine(packed, { kernel }).predict(test.images, test.count));
  const x = tf.tensor2d(
    scaledPixels(
      test,
      Array.from({ length: test.count }, (_, i) => i),
    ),
    [test.count, 784],
  );
  const floatScores = model.predict(x, { batchSize: 1000 }) as tf.Tensor;
  const float = Array.from(floatScores.argMax(1).dataSync());
  tf.dispose([x, floatScores]);
  const differing = engine.flatMap((c, i) => (c !== float[i] ? [i] : []));
  if (differing.length)
    throw new Error(
      `the packed model disagrees with tfjs on ${differing.length} test images (${differing.slice(0, 10).join(', ')}…)`,
    );
  const errors = engine.filter((c, i) => c !== test.labels[i]).length;
  console.log(
    `engine (${kernel.tier}) = tfjs on all ${test.count} test images; test error ` +
      `${((100 * errors) / test.count).toFixed(2)} %`,
  );

  // Best epoch: the model folder's about.json (best-validation weights), else the run's metrics.
  const metricsFile = path.join(values['results-dir'], run, 'metrics.json');
  const metrics = fs.existsSync(metricsFile) ? readRunMetrics(metricsFile) : null;
  const modelAbout = readJson(path.join(modelDir, 'about.json'));
  const bestEpoch = modelAbout?.epoch ?? modelAbout?.bestEpoch ?? modelAbout?.best_epoch ?? metrics?.bestEpoch ?? null;
  const about = {
    run,
    source: `${modelDir}/`,
    file: DEMO_MODEL_FILE,
    bytes: bytes.length,
    packedParameterBytes: packedParameterBytes(packed),
    floatBytes: packed.floatBytes,
    layers: packed.layers.map((l) => `${l.weights.k}→${l.weights.rows}`),
    testImages: test.count,
    testError: errors / test.count,
    bestEpoch,
    bestEpochFrom: modelAbout
      ? `${modelDir}/about.json`
      : metrics
        ? `${values['results-dir']}/${run}/metrics.json`
        : null,
    runTestError: metrics?.testError ?? null,
    agreesWithTfjs: `all ${test.count} test predictions equal (engine tier ${kernel.tier})`,
    date: new Date().toISOString(),
    command: `npm run demo:model -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, ''),
  };
  writeFileAtomic(path.join(DEMO_MODEL_DIR, DEMO_MODEL_FILE), bytes);
  writeFileAtomic(path.join(DEMO_MODEL_DIR, 'about.json'), `${JSON.stringify(about, null, 2)}\n`);
  console.log(
    `wrote ${path.join(DEMO_MODEL_DIR, DEMO_MODEL_FILE)} (${bytes.length} bytes; float32 weights: ` +
      `${packed.floatBytes}) and about.json`,
  );
}

runMain(module, main);
