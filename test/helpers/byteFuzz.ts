/**
 * Seeded fuzzing of a file format's reader: the good bytes unchanged, then byte flips, overwritten
 * runs, NaN/Inf written into the data, truncations and appended bytes. Each case must end in a
 * clear error (a plain Error whose message starts with the file's name) or, for unchanged bytes
 * only, a load equal to the original; anything else (a crash, a silent load) is a failure.
 */
import { seededRandom } from '../../lib/random';

type Mutation = (bytes: Uint8Array, random: () => number) => Uint8Array;
const at = (random: () => number, n: number) => Math.floor(random() * n);

export const MUTATIONS = {
  'byte flip': (b, r) => ((b[at(r, b.length)] ^= 1 + at(r, 255)), b),
  '16 random bytes': (b, r) => (
    b.set(
      Uint8Array.from({ length: 16 }, () => at(r, 256)),
      at(r, b.length - 16),
    ),
    b
  ),
  'NaN or Inf': (b, r) => {
    new DataView(b.buffer, b.byteOffset).setFloat32(
      4 * at(r, b.length / 4),
      [NaN, Infinity, -Infinity][at(r, 3)],
      true,
    );
    return b;
  },
  truncation: (b, r) => b.subarray(0, at(r, b.length)),
  'appended bytes': (b, r) => Uint8Array.from([...b, ...Array.from({ length: 1 + at(r, 16) }, () => at(r, 256))]),
} satisfies Record<string, Mutation>;

export interface FuzzCounts {
  cases: number;
  errors: number;
  correctLoads: number;
  failures: string[];
}

/** `load` reads the bytes as the file `source` and says whether what it loaded equals the original. */
export async function fuzzReader(
  good: Uint8Array,
  plan: Partial<Record<keyof typeof MUTATIONS, number>>,
  seed: number,
  source: string,
  load: (bytes: Uint8Array) => boolean | Promise<boolean>,
): Promise<FuzzCounts> {
  const random = seededRandom(seed);
  const counts: FuzzCounts = { cases: 0, errors: 0, correctLoads: 0, failures: [] };
  const cases: [string, number, Mutation][] = [['unchanged', 1, (b) => b]];
  for (const [name, n] of Object.entries(plan)) cases.push([name, n, MUTATIONS[name as keyof typeof MUTATIONS]]);
  for (const [name, n, mutate] of cases) {
    for (let i = 0; i < n; i++) {
      const bytes = mutate(good.slice(), random);
      const unchanged = Buffer.from(bytes).equals(good);
      counts.cases++;
      try {
        const equal = await load(bytes);
        if (unchanged && equal) counts.correctLoads++;
        else counts.failures.push(`${name} #${i}: loaded without an error`);
      } catch (err) {
        if (err instanceof Error && err.constructor === Error && err.message.startsWith(`${source}: `)) counts.errors++;
        else counts.failures.push(`${name} #${i}: ${String(err)}`);
      }
    }
  }
  return counts;
}
