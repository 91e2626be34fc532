/**
 * mulberry32: a small seeded generator of uniform numbers in [0, 1). Shuffles, validation picks,
 * fixtures and benchmark inputs use it so that they are the same on every machine and backend.
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` uniform numbers in [lo, hi), from `seed`. */
export function seededUniform(count: number, seed: number, lo = -1, hi = 1): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = lo + (hi - lo) * random();
  return out;
}

/**
 * The seeds a layer built with `seed` draws, one per call: different every forward pass, the same
 * sequence in every run. Layers keep one each (quantizers, dropout masks).
 */
export function seedSequence(seed: number): () => number {
  let draws = 0;
  return () => seed * 1_000_003 + ++draws;
}
