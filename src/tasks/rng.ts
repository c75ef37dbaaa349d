/**
 * Deterministic hashing and pseudo-random numbers for the task collection.
 *
 * Every generated example must be reproducible from (family, split, seed, index) alone, on any
 * machine and in any order, so the collection never uses `Math.random`. Strings are hashed with
 * 32-bit FNV-1a followed by the murmur3 finalizer (good avalanche for short keys); a generator is
 * seeded from such hashes and runs sfc32 (Chris Doty-Humphrey's small fast counting generator,
 * 128 bits of state, passes PractRand far beyond what task generation needs).
 *
 * `splitOf(key)` assigns an item to train/validation/test by a hash of its canonical key, so an
 * item (a generated problem text, or a data record such as a WordNet lemma) lands in exactly one
 * split however many examples are drawn and whatever the seed: splits never overlap.
 */

/** A dataset split, as seqio names them. */
export type Split = 'train' | 'validation' | 'test';

/** All splits, in canonical order. */
export const SPLITS: readonly Split[] = ['train', 'validation', 'test'];

/** Fractions of items assigned to each split by {@link splitOf} (train 80%, validation 10%, test 10%). */
export const SPLIT_FRACTIONS: Readonly<Record<Split, number>> = { train: 0.8, validation: 0.1, test: 0.1 };

/** 32-bit FNV-1a over the UTF-16 code units of `s`, then the murmur3 fmix32 finalizer. Unsigned. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A hash of `s` as a float in [0, 1). */
export function hashUnit(s: string): number {
  return hash32(s) / 4294967296;
}

/**
 * The split an item belongs to, from a hash of its canonical key. Callers prefix the key with the
 * family (or data set) name so different families split independently.
 */
export function splitOf(key: string): Split {
  const u = hashUnit(`split\u0000${key}`);
  if (u < SPLIT_FRACTIONS.train) return 'train';
  if (u < SPLIT_FRACTIONS.train + SPLIT_FRACTIONS.validation) return 'validation';
  return 'test';
}

/** A seedable pseudo-random generator (sfc32). Construct from any string or number seed. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Seeds the state from `seed` (strings and numbers with the same text give the same stream). */
  constructor(seed: string | number) {
    const s = String(seed);
    this.a = hash32(`a\u0000${s}`);
    this.b = hash32(`b\u0000${s}`);
    this.c = hash32(`c\u0000${s}`);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** The next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float uniformly distributed in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An integer uniformly distributed in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) {
      throw new RangeError(`Rng.int: need integers lo <= hi, got lo=${lo}, hi=${hi}`);
    }
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  bool(p = 0.5): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array, uniformly. */
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new RangeError('Rng.pick: the array is empty');
    return xs[Math.floor(this.next() * xs.length)];
  }

  /** A shuffled copy of `xs` (Fisher–Yates). */
  shuffle<T>(xs: readonly T[]): T[] {
    const out = xs.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = out[i];
      out[i] = out[j];
      out[j] = t;
    }
    return out;
  }

  /** `k` distinct elements of `xs` (by position), in random order. */
  sample<T>(xs: readonly T[], k: number): T[] {
    if (k > xs.length) throw new RangeError(`Rng.sample: cannot draw ${k} distinct items from ${xs.length}`);
    if (k * 4 <= xs.length) {
      // Few draws from a large array: rejection on positions, O(k) expected.
      const seen = new Set<number>();
      const out: T[] = [];
      while (out.length < k) {
        const j = Math.floor(this.next() * xs.length);
        if (seen.has(j)) continue;
        seen.add(j);
        out.push(xs[j]);
      }
      return out;
    }
    // Otherwise a partial Fisher–Yates over positions.
    const idx = Array.from({ length: xs.length }, (_, i) => i);
    const out: T[] = [];
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(this.next() * (idx.length - i));
      const t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
      out.push(xs[idx[i]]);
    }
    return out;
  }
}
