/**
 * Seeded fuzzing of packed model files (an MLP and a ConvNet): byte flips, overwritten runs,
 * truncations and appended bytes. Every outcome must be a clear error naming the file, or a model
 * equal to the saved one; never a crash, hang or silent wrong result.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import {
  deserializePackedModel,
  exportPackedModel,
  loadPackedModel,
  savePackedModel,
  serializePackedModel,
} from '../lib/engine';
import { buildConvNet } from '../lib/models/convnet';
import { buildMlp } from '../lib/models/mlp';
import { seededRandom } from '../lib/random';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-pack-fuzz-'));
beforeAll(async () => {
  await initBackend('cpu');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const common = {
  numClasses: 10,
  binarization: 'deterministic' as const,
  batchNorm: 'standard' as const,
  H: 1,
  seed: 4,
};

type Mutation = (bytes: Uint8Array, random: () => number) => Uint8Array;
const at = (random: () => number, n: number) => Math.floor(random() * n);
const MUTATIONS: [string, number, Mutation][] = [
  ['byte flip', 300, (b, r) => ((b[at(r, b.length)] ^= 1 + at(r, 255)), b)],
  [
    '16 random bytes',
    100,
    (b, r) => (
      b.set(
        Uint8Array.from({ length: 16 }, () => at(r, 256)),
        at(r, b.length - 16),
      ),
      b
    ),
  ],
  ['truncation', 100, (b, r) => b.subarray(0, at(r, b.length))],
  ['appended bytes', 20, (b, r) => Uint8Array.from([...b, ...Array.from({ length: 1 + at(r, 16) }, () => at(r, 256))])],
];

it.each([
  ['mlp', () => buildMlp({ ...common, inputDim: 784, hiddenUnits: [64, 32], dropoutInput: 0, dropoutHidden: 0 })],
  ['convnet', () => buildConvNet({ ...common, inputShape: [12, 12, 1], convFilters: [8, 16], hiddenUnits: [32] })],
])('a damaged packed %s is always refused with an error naming the file', (kind, make) => {
  const good = serializePackedModel(exportPackedModel(make()));
  const file = `${kind}.bnn`;
  const random = seededRandom(kind.length);
  const counts = { cases: 0, errors: 0, correctLoads: 0 };
  const failures: string[] = [];
  for (const [name, n, mutate] of [['unchanged', 1, (b: Uint8Array) => b] as const, ...MUTATIONS]) {
    for (let i = 0; i < n; i++) {
      const bytes = mutate(good.slice(), random);
      counts.cases++;
      try {
        const model = deserializePackedModel(bytes, file);
        if (Buffer.from(bytes).equals(good) && Buffer.from(serializePackedModel(model)).equals(good))
          counts.correctLoads++;
        else failures.push(`${name} #${i}: loaded without an error`);
      } catch (err) {
        if (err instanceof Error && err.constructor === Error && err.message.startsWith(`${file}: `)) counts.errors++;
        else failures.push(`${name} #${i}: ${String(err)}`);
      }
    }
  }
  console.log(
    `packed ${kind} fuzz: ${counts.cases} cases, ${counts.errors} clear errors, ${counts.correctLoads} correct loads`,
  );
  expect(failures).toEqual([]);
  expect(counts.correctLoads).toBe(1);
  expect(counts.errors).toBe(counts.cases - 1);
});

it('packed model files: saved atomically, a folder or an old version refused with the file named', () => {
  const model = exportPackedModel(
    buildMlp({ ...common, inputDim: 16, hiddenUnits: [8], dropoutInput: 0, dropoutHidden: 0 }),
  );
  const file = path.join(tmp, 'm.bnn');
  savePackedModel(model, file);
  expect(serializePackedModel(loadPackedModel(file))).toEqual(serializePackedModel(model));
  expect(fs.readdirSync(tmp)).toEqual(['m.bnn']);
  fs.mkdirSync(path.join(tmp, 'dir.bnn'));
  expect(() => loadPackedModel(path.join(tmp, 'dir.bnn'))).toThrow(
    `${path.join(tmp, 'dir.bnn')}: is a folder, expected a file`,
  );
  fs.writeFileSync(file, Buffer.concat([Buffer.from('BNNPACK1'), Buffer.alloc(64)]));
  expect(() => loadPackedModel(file)).toThrow(
    `${file}: packed model format version 1 is not the supported version 2 (an older file`,
  );
});
