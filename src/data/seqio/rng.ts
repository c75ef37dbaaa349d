/**
 * Counter-based deterministic randomness for the data pipeline. Every random decision (which task a
 * mixture slot draws, which few-shot exemplars an evaluation example gets) is a pure function of a
 * seed and a counter, so a stream can be resumed at any position, sharded, or replayed without carrying
 * generator state. The mixing function is MurmurHash3's 32-bit finalizer applied over the key words;
 * two independent 32-bit words give a 53-bit uniform double.
 */

import { ValueError } from '../../core/errors.js';

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes a list of integers (each reduced to 32 bits; values up to 2^53 keep their high bits) to a uint32. */
export function hashInts(...words: number[]): number {
  let h = 0x9e3779b9 ^ words.length;
  for (const w of words) {
    if (!Number.isFinite(w)) throw new ValueError(`hashInts: expected finite numbers, got ${w}`);
    const lo = w >>> 0;
    const hi = Math.floor(w / 4294967296) >>> 0;
    h = fmix32((h ^ lo) + 0x7f4a7c15);
    if (hi !== 0) h = fmix32((h ^ hi) + 0x165667b1);
  }
  return fmix32(h);
}

/** Hashes a string (UTF-16 code units) to a uint32, FNV-1a followed by the finalizer. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h >>> 0);
}

/** A uniform double in [0, 1) that depends only on the key words. */
export function uniform(...key: number[]): number {
  const a = hashInts(...key, 0x51ed27);
  const b = hashInts(...key, 0x2f7a91);
  return ((a >>> 5) * 67108864 + (b >>> 6)) / 9007199254740992;
}

/** Derives a child seed (uint32) from a parent seed and labels (numbers or strings). */
export function deriveSeed(seed: number, ...labels: Array<number | string>): number {
  return hashInts(seed, ...labels.map((l) => (typeof l === 'string' ? hashString(l) : l)));
}

/**
 * A small stateful generator over the counter-based hash, for code that wants a sequence of draws.
 * Its whole state is `(seed, counter)`, so it is trivially serializable.
 */
export class CounterRng {
  constructor(readonly seed: number, public counter = 0) {}
  /** Next uniform double in [0, 1). */
  next(): number {
    return uniform(this.seed, this.counter++);
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new ValueError(`CounterRng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }
  /** Fisher–Yates shuffle of a copy of `xs`. */
  shuffle<T>(xs: readonly T[]): T[] {
    const out = xs.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = out[i];
      out[i] = out[j];
      out[j] = t;
    }
    return out;
  }
  /** `k` distinct indices from [0, n) in random order. */
  sample(n: number, k: number): number[] {
    if (k > n) throw new ValueError(`CounterRng.sample: cannot draw ${k} distinct items from ${n}`);
    const idx = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
    }
    return idx.slice(0, k);
  }
}
