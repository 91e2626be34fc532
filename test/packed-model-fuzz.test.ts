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
import { fuzzReader } from './helpers/byteFuzz';

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

it.each([
  ['mlp', () => buildMlp({ ...common, inputDim: 784, hiddenUnits: [64, 32], dropoutInput: 0, dropoutHidden: 0 })],
  ['convnet', () => buildConvNet({ ...common, inputShape: [12, 12, 1], convFilters: [8, 16], hiddenUnits: [32] })],
])('a damaged packed %s is always refused with an error naming the file', async (kind, make) => {
  const good = serializePackedModel(exportPackedModel(make()));
  const file = `${kind}.bnn`;
  const plan = { 'byte flip': 300, '16 random bytes': 100, truncation: 100, 'appended bytes': 20 };
  const counts = await fuzzReader(good, plan, kind.length, file, (bytes) =>
    Buffer.from(serializePackedModel(deserializePackedModel(bytes, file))).equals(good),
  );
  console.log(
    `packed ${kind} fuzz: ${counts.cases} cases, ${counts.errors} clear errors, ${counts.correctLoads} correct loads`,
  );
  expect(counts.failures).toEqual([]);
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
