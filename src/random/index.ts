/**
 * `random`: Myriad's explicit-key PRNG, the counterpart of `jax.random`. Keys are uint32 arrays
 * of shape [2]; every sampler is a pure function of (key, arguments), built from primitives so
 * it also runs inside traced code, and bit-exact with JAX's default threefry2x32 PRNG in
 * partitionable mode (`jax_threefry_partitionable=True`, JAX ≥ 0.5) and 32-bit mode. See
 * threefry.ts for the key/bits definitions, distributions.ts for the samplers and README
 * "random" for the tolerances where exact equality with JAX depends on transcendental functions.
 *
 * ```ts
 * const [k1, k2] = random.split(random.key(0));
 * const w = random.normal(k1, [4, 3]);                       // float32 [4,3]
 * const part = random.normal(k1, [4, 3], { window: { start: [2, 0], limit: [4, 3] } }); // rows 2..3 of w
 * ```
 */

import { bernoulli, categorical, choice, gumbel, normal, permutation, randint, truncatedNormal, uniform } from './distributions.js';
import { erfInv } from './erf_inv.js';
import { bits, bitsSlice, foldIn, key, keyAt, split, threefry2x32 } from './threefry.js';

export type { FloatDType, FloatSampleOptions, Param } from './distributions.js';
export type { Key, KeyArray, RandomWindow } from './threefry.js';
export { nextAfter } from './distributions.js';

/** The PRNG namespace (`import { random } from 'myriad'`). */
export const random = {
  /** A key from an integer seed: [0, seed mod 2^32] (JAX `random.key` / `PRNGKey`, 32-bit mode). */
  key,
  /** `num` new keys, uint32 [num, 2], destructurable: `const [a, b] = random.split(key)`. */
  split,
  /** A new key from a key and a 32-bit integer; equals split(key, n)[data]. */
  foldIn,
  /** Row i of a batch of keys (e.g. `random.keyAt(random.split(key, 8), 3)`). */
  keyAt,
  /** Uniform uint32 bits of a shape (optionally only a window of it). */
  bits,
  /** Bits of the block [start, limit) of an array of `shape`, equal to slicing `bits(key, shape)`. */
  bitsSlice,
  /** Uniform floats in [minval, maxval). */
  uniform,
  /** Standard normal floats. */
  normal,
  /** Standard normal floats truncated to (lower, upper). */
  truncatedNormal,
  /** Booleans, true with probability p. */
  bernoulli,
  /** Standard Gumbel floats. */
  gumbel,
  /** Samples from softmax(logits) along an axis (int32). */
  categorical,
  /** Integers uniform in [minval, maxval). */
  randint,
  /** A random permutation of 0..n−1, or of an array along an axis. */
  permutation,
  /** Random samples from an array or range, with or without replacement, optionally weighted. */
  choice,
  /** The raw Threefry-2x32 hash, JAX's `prng.threefry_2x32(key, count)` (for known-answer tests). */
  threefry2x32,
  /** erfinv composed from primitives (Giles' approximation, as XLA expands it). */
  erfInv,
} as const;
