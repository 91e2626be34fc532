/**
 * Child process of test/native-determinism.test.ts: a few seeded training steps of a binary MLP and
 * a binary ConvNet on the native backend, whose thread pool has BNN_THREADS threads (fixed per
 * process). Prints one JSON line: a SHA-256 per network over its losses and final parameters.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { buildMlp } from '../../lib/models/mlp';
import { buildConvNet } from '../../lib/models/convnet';
import { BinaryNetOptimizer, modelParams } from '../../lib/optim/optimizers';
import { BNN_BATCH_NORM_GRAD, BNN_BATCH_NORM_TRAIN } from '../../lib/tfjs/kernelNames';
import { squaredHinge } from '../../lib/loss';
import { randomArray } from './nativeVsCpu';

const STEPS = 3;

function trainHash(model: tf.LayersModel, inputShape: number[], batch: number): string {
  const hash = createHash('sha256');
  const params = modelParams(model, true);
  const optimizer = new BinaryNetOptimizer('adam', params);
  const size = inputShape.reduce((a, b) => a * b);
  const labels = Array.from({ length: batch }, (_, i) => (i * 7) % 10);
  const y = tf.tidy(() => tf.sub(tf.mul(tf.oneHot(tf.tensor1d(labels, 'int32'), 10), 2), 1));
  for (let step = 0; step < STEPS; step++) {
    tf.tidy(() => {
      const x = tf.tensor(randomArray(batch * size, 100 + step), [batch, ...inputShape]);
      const { value, grads } = tf.variableGrads(
        () => squaredHinge(y, model.apply(x, { training: true }) as tf.Tensor),
        params.map((p) => p.variable),
      );
      hash.update(value.dataSync() as Float32Array);
      optimizer.apply(
        params.map((p) => grads[p.variable.name]),
        0.003,
      );
    });
  }
  for (const p of params) hash.update(p.variable.dataSync() as Float32Array);
  optimizer.dispose();
  return hash.digest('hex');
}

/**
 * The fused BatchNorm kernels on [1024, 1024], large enough for every thread, with one outlier
 * of ±2^40 in rows 0 and 512 of each channel: the outliers swamp the double-precision sums, so
 * their rounding shows whenever the summation order over rows follows the thread count.
 */
function batchNormHash(): string {
  const rows = 1024,
    channels = 1024;
  const values = randomArray(rows * channels, 7);
  for (let c = 0; c < channels; c++) {
    values[c] = 2 ** 40;
    values[(rows / 2) * channels + c] = -(2 ** 40);
  }
  const hash = createHash('sha256');
  tf.tidy(() => {
    const x = tf.tensor2d(values, [rows, channels]);
    const dy = tf.tensor2d(
      randomArray(rows * channels, 8).map((v, i) => v * values[i]),
      [rows, channels],
    );
    const gamma = tf.tensor1d(randomArray(channels, 9));
    const beta = tf.tensor1d(randomArray(channels, 10));
    const epsilon = 1e-4;
    const [y, mean, variance] = tf
      .engine()
      .runKernel(BNN_BATCH_NORM_TRAIN, { x, gamma, beta }, { epsilon }) as tf.Tensor[];
    const grads = tf
      .engine()
      .runKernel(BNN_BATCH_NORM_GRAD, { dy, x, gamma, mean, variance }, { epsilon }) as tf.Tensor[];
    for (const t of [y, mean, variance, ...grads]) hash.update(t.dataSync() as Float32Array);
  });
  return hash.digest('hex');
}

async function main(): Promise<void> {
  if ((await initBackend('native')) !== 'native') throw new Error('the native backend is unavailable');
  const common = { binarization: 'deterministic', batchNorm: 'standard', H: 1 } as const;
  // BatchNorm over [100, 2048]: the size where the old pool chose 1 or all threads by timing.
  const mlp = buildMlp({
    inputDim: 784,
    numClasses: 10,
    hiddenUnits: [2048],
    dropoutInput: 0,
    dropoutHidden: 0,
    seed: 4,
    ...common,
  });
  // The first conv's BatchNorm runs over 32·28·28 rows × 32 channels: always on every thread.
  const convnet = buildConvNet({
    inputShape: [28, 28, 1],
    numClasses: 10,
    convFilters: [32, 64],
    hiddenUnits: [256],
    seed: 6,
    ...common,
  });
  const result = {
    batchNorm: batchNormHash(),
    mlp: trainHash(mlp, [784], 100),
    convnet: trainHash(convnet, [28, 28, 1], 32),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
