/**
 * The hand-written optimizers (lib/optim/optimizers.ts) value by value: our Adam against tfjs's
 * `tf.train.adam`, and shift-based AdaMax against a plain transcription of the paper's Algorithm 4,
 * over several steps, on the composite path (cpu backend) and on the native fused pass.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { BinaryNetOptimizer, type OptimizerName } from '../lib/optim/optimizers';
import { seededRandom } from '../lib/random';
import { ap2Scalar } from '../lib/shift';
import { CPU_AND_NATIVE } from './helpers/nativeVsCpu';

const STEPS = 6;
const SHAPES = [[3, 4], [5]];

afterAll(async () => {
  await initBackend('cpu');
});

/** Starting weights and, for every step, a gradient per weight (none near 0, so ε plays no part). */
function problem(seed: number): { start: Float64Array[]; grads: Float64Array[][] } {
  const random = seededRandom(seed);
  const values = (n: number) => Float64Array.from({ length: n }, () => (random() < 0.5 ? -1 : 1) * (0.05 + random()));
  const sizes = SHAPES.map((s) => s.reduce((a, b) => a * b, 1));
  return { start: sizes.map(values), grads: Array.from({ length: STEPS }, () => sizes.map(values)) };
}

/** Our optimizer on `problem`, without the Glorot scale or a clip; the weights after every step. */
function runOurs(name: OptimizerName, lr: number, seed: number): Float32Array[][] {
  const { start, grads } = problem(seed);
  const params = start.map((w, i) => ({
    variable: tf.variable(tf.tensor(Float32Array.from(w), SHAPES[i])),
    lrScale: 1,
  }));
  const optimizer = new BinaryNetOptimizer(name, params);
  const after: Float32Array[][] = [];
  for (const stepGrads of grads) {
    optimizer.apply(
      stepGrads.map((g, i) => tf.tensor(Float32Array.from(g), SHAPES[i])),
      lr,
    );
    after.push(params.map((p) => p.variable.dataSync() as Float32Array));
  }
  optimizer.dispose();
  return after;
}

function expectClose(got: Float32Array[][], expected: ArrayLike<number>[][], tolerance: number): void {
  got.forEach((step, t) =>
    step.forEach((w, i) =>
      w.forEach((v, j) =>
        expect(Math.abs(v - expected[t][i][j]), `step ${t + 1}, weight ${i}[${j}]`).toBeLessThan(tolerance),
      ),
    ),
  );
}

for (const { backend, skip } of CPU_AND_NATIVE)
  describe.skipIf(skip !== '')(`optimizers on the ${backend} backend${skip}`, () => {
    it(`Adam equals tf.train.adam step by step (lr 0.01, β1 0.9, β2 0.999, ε 1e-8)`, async () => {
      await initBackend(backend);
      const lr = 0.01;
      const ours = runOurs('adam', lr, 1);
      const { start, grads } = problem(1);
      const variables = start.map((w, i) => tf.variable(tf.tensor(Float32Array.from(w), SHAPES[i])));
      const reference = tf.train.adam(lr, 0.9, 0.999, 1e-8);
      const theirs = grads.map((stepGrads) => {
        const named = Object.fromEntries(
          variables.map((v, i) => [v.name, tf.tensor(Float32Array.from(stepGrads[i]), SHAPES[i])]),
        );
        reference.applyGradients(named);
        return variables.map((v) => v.dataSync() as Float32Array);
      });
      // Each step moves a weight by about lr: a wrong bias correction or moment is off by far more.
      expectClose(ours, theirs, 2e-6);
      const moved = Math.abs(ours[STEPS - 1][0][0] - start[0][0]);
      expect(moved).toBeGreaterThan(0.5 * lr * STEPS);
    });

    it("shift-based AdaMax equals the paper's Algorithm 4 written out", async () => {
      await initBackend(backend);
      const lr = 0.003;
      const ours = runOurs('shift_adamax', lr, 2);
      // Algorithm 4, with α = lr, β1 = 0.9, β2 = 0.999; x ⋘⋙ y multiplies x by the power of two
      // AP2(y) (a shift). The step size α ⋘⋙ (1 − β1^t) is α / (1 − β1^t) rounded to a power of two,
      // as in the authors' Torch code.
      const { start, grads } = problem(2);
      const b1 = 0.9,
        b2 = 0.999;
      const theta = start.map((w) => Float64Array.from(w));
      const m = start.map((w) => new Float64Array(w.length));
      const v = start.map((w) => new Float64Array(w.length));
      const expected = grads.map((stepGrads, step) => {
        const t = step + 1;
        return theta.map((th, i) => {
          for (let j = 0; j < th.length; j++) {
            const g = stepGrads[i][j];
            // m_t ← β1·m_{t−1} + (1 − β1)·g_t
            m[i][j] = b1 * m[i][j] + (1 - b1) * g;
            // v_t ← max(β2·v_{t−1}, |g_t|)
            v[i][j] = Math.max(b2 * v[i][j], Math.abs(g));
            // θ_t ← θ_{t−1} − (α ⋘⋙ (1 − β1^t))·(m_t ⋘⋙ v_t^−1)
            th[j] -= ap2Scalar(lr / (1 - b1 ** t)) * m[i][j] * ap2Scalar(1 / v[i][j]);
          }
          return Float64Array.from(th);
        });
      });
      expectClose(ours, expected, 1e-5);
    });

    it('an update changes the variable only, never a tensor that shared its data (clone, initial value)', async () => {
      await initBackend(backend);
      const initial = tf.tensor1d([-0.3, 0.2, 0.5]);
      const variable = tf.variable(initial.clone());
      const copy = variable.clone();
      const optimizer = new BinaryNetOptimizer('adam', [{ variable, lrScale: 1 }]);
      optimizer.apply([tf.tensor1d([1, -1, 1])], 0.01);
      optimizer.dispose();
      expect(Array.from(initial.dataSync())).toEqual(Array.from(Float32Array.of(-0.3, 0.2, 0.5)));
      expect(Array.from(copy.dataSync())).toEqual(Array.from(Float32Array.of(-0.3, 0.2, 0.5)));
      expect(Array.from(variable.dataSync())).not.toEqual(Array.from(copy.dataSync()));
    });
  });
