/**
 * Threefry-2x32 keys and random bits, written with the uint32 primitives of `lax` (add, xor,
 * shift_left, shift_right_logical, or, iota, …) so the same code runs eagerly on concrete keys
 * and inside traced code (makeGraph, grad, jit), where it becomes ordinary Graph equations the
 * SPMD partitioner can slice.
 *
 * Bit-exact with JAX's default `threefry2x32` PRNG in its 32-bit mode with
 * `jax_threefry_partitionable=True` (the default since JAX 0.5). The JAX functions each piece
 * follows (jax/_src/prng.py) are named in the comments:
 * - a key is a uint32 array of shape [2];
 * - `key(seed)` is `threefry_seed` as `random_seed` feeds it in 32-bit mode: a JS integer seed is
 *   taken modulo 2^32 (JAX first makes an int64 and canonicalizes it to int32, keeping the low 32
 *   bits), and the high word is 0 because `shift_right_logical(int32 seed, 32)` is 0. So
 *   key(s) = [0, s mod 2^32]; e.g. key(-1) = [0, 4294967295], key(2^31 + 99) = [0, 2147483747]
 *   (the x32 values of JAX's `test_prng_seeds_and_keys`).
 * - the counter of element i (row-major flat index) of an array is the 64-bit number i split
 *   into (hi32(i), lo32(i)) (`iota_2x32_shape`, built per dimension from iotas times strides as
 *   its lowering does); Myriad arrays have fewer than 2^32 elements, so hi is 0;
 * - 32-bit random bits of element i are x0 ^ x1 of threefry2x32(key, counter(i))
 *   (`_threefry_random_bits_partitionable`, bit_width 32); 64-bit ones (used for float64) are
 *   (x0 << 32) | x1;
 * - `split(key, shape)` hashes the counters of `shape` and stacks (x0, x1) as the new keys
 *   (`_threefry_split_foldlike`);
 * - `foldIn(key, d)` = threefry2x32(key, (0, d)) (`threefry_fold_in`: `threefry_2x32(key,
 *   threefry_seed(d))`), so foldIn(key, i) equals split(key, n)[i].
 *
 * Because the bits of element i depend only on the key and i, any slice of a random array can
 * be computed without the rest (`counters` takes a start/limit window): this is what makes
 * sharded random numbers equal unsharded ones.
 */

import { Array } from '../core/array.js';
import { DTypeError, KeyError, ShapeError } from '../core/errors.js';
import { fmtAval } from '../core/ir.js';
import * as lax from '../core/lax.js';
import { checkShape, fmtShape, sizeOf, stridesOf } from '../core/shape.js';

/** A PRNG key: a uint32 Array of shape [2] (or [...batch, 2] for the result of `split`). */
export type Key = Array;

/** A uint32 array of keys (shape [...num, 2]) that destructures into its rows: `const [a, b] = split(k)`. */
/** A batch of keys ([n, …, 2]); Arrays iterate over their first axis, so batches destructure. */
export type KeyArray = Array;

/** A rectangular window [start, limit) of a random array, per dimension. */
export interface RandomWindow {
  start: number[];
  limit: number[];
}

const TWO32 = 4294967296;

/** Threefry's key-schedule parity constant (Random123 SKEIN_KS_PARITY32). */
const KS_PARITY = 0x1bd11bda;
/** Rotation amounts of the two alternating groups of four rounds. */
const ROTATIONS: readonly (readonly number[])[] = [
  [13, 15, 26, 6],
  [17, 29, 16, 24],
];

function describe(x: unknown): string {
  if (x instanceof Array) return fmtAval(x);
  if (x === null || x === undefined) return String(x);
  if (typeof x === 'object') return (x as object).constructor?.name ?? 'object';
  return `${typeof x} ${String(x)}`;
}

/**
 * Validates a single PRNG key argument and returns it. Keys are uint32 arrays of shape [2]; the
 * message says what was passed instead and how to get a key.
 */
export function checkKey(key: unknown, where: string): Key {
  const how = 'make one with random.key(seed), or take one from random.split(key) / random.foldIn(key, i)';
  if (!(key instanceof Array)) {
    throw new KeyError(`${where}: the key must be a PRNG key (a uint32 array of shape [2]), got ${describe(key)}; ${how}. The key is always the first argument.`);
  }
  if (key.dtype !== 'uint32') {
    throw new KeyError(`${where}: a PRNG key must have dtype uint32 and shape [2], got ${fmtAval(key)}; ${how}. A ${key.dtype} array is data, not a key — the key is the first argument.`);
  }
  if (key.ndim === 0 || key.shape[key.ndim - 1] !== 2) {
    throw new KeyError(`${where}: a PRNG key must have shape [2] (its last dimension holds the two key words), got ${fmtAval(key)}; ${how}.`);
  }
  if (key.ndim !== 1) {
    throw new KeyError(`${where}: expected a single key of shape [2], got a batch of keys ${fmtAval(key)}; pass one key, e.g. \`const [k1, k2] = random.split(key)\` or keys[i] via random.keyAt(keys, i).`);
  }
  return key;
}

/** A uint32 constant of the given shape. */
function u32(value: number, shape: number[]): Array {
  return lax.full(value >>> 0, 'uint32', shape);
}

/** The scalar word `i` (0 or 1) of a key of shape [2], as a uint32 array of shape []. */
function keyWord(key: Key, i: number): Array {
  return lax.reshape(lax.slice(key, [i], [i + 1]), []);
}

/**
 * The Threefry-2x32 block cipher with 20 rounds (Random123; JAX's `_threefry2x32_lowering`,
 * unrolled): encrypts the counter pairs (x0, x1) (uint32 arrays of one shape) under the key
 * words (k0, k1) (uint32 scalars, shape []). Returns the two output words.
 */
export function threefry2x32Words(k0: Array, k1: Array, x0: Array, x1: Array): [Array, Array] {
  for (const [name, v] of [['k0', k0], ['k1', k1], ['x0', x0], ['x1', x1]] as const) {
    if (v.dtype !== 'uint32') throw new DTypeError(`threefry2x32: ${name} must be uint32, got ${fmtAval(v)}`);
  }
  if (k0.ndim !== 0 || k1.ndim !== 0) throw new ShapeError(`threefry2x32: key words must be scalars, got ${fmtAval(k0)} and ${fmtAval(k1)}`);
  if (fmtShape(x0.shape) !== fmtShape(x1.shape)) throw new ShapeError(`threefry2x32: counter words differ in shape: ${fmtAval(x0)} vs ${fmtAval(x1)}`);
  const shape = [...x0.shape];
  // Key schedule: ks = [k0, k1, k0 ^ k1 ^ parity]; injection s adds ks[s % 3] to x0 and
  // ks[(s + 1) % 3] + s to x1. The scalar sums are formed first and then broadcast (uint32
  // addition is associative mod 2^32, so this equals JAX's (x1 + ks) + s bit for bit).
  const ks = [k0, k1, lax.xor(lax.xor(k0, k1), u32(KS_PARITY, []))];
  const bcast = (s: Array) => (shape.length ? lax.broadcastInDim(s, shape, []) : s);
  const rot = new Map<number, Array>();
  const rc = (r: number) => {
    let c = rot.get(r);
    if (!c) {
      c = u32(r, shape);
      rot.set(r, c);
    }
    return c;
  };
  let a = lax.add(x0, bcast(ks[0]));
  let b = lax.add(x1, bcast(ks[1]));
  for (let s = 1; s <= 5; s++) {
    for (const r of ROTATIONS[(s - 1) % 2]) {
      // one round: a += b; b = rotl(b, r) ^ a
      a = lax.add(a, b);
      b = lax.or(lax.shiftLeft(b, rc(r)), lax.shiftRightLogical(b, rc(32 - r)));
      b = lax.xor(b, a);
    }
    a = lax.add(a, bcast(ks[s % 3]));
    b = lax.add(b, bcast(lax.add(ks[(s + 1) % 3], u32(s, []))));
  }
  return [a, b];
}

/**
 * JAX's `threefry_2x32(keypair, count)`: hashes a uint32 `count` array under `key` by splitting
 * the flattened counts into two halves (padding an odd count with one 0), encrypting the pairs
 * (first half, second half) and concatenating the two output halves. For count = [c0, c1] this
 * is the Random123 block function on the counter (c0, c1), the form of its known-answer tests.
 */
export function threefry2x32(key: Key, count: Array): Array {
  checkKey(key, 'random.threefry2x32');
  if (count.dtype !== 'uint32') throw new DTypeError(`random.threefry2x32: count must be uint32, got ${fmtAval(count)}`);
  const n = count.size;
  if (n === 0) return count;
  let flat = lax.reshape(count, [n]);
  const odd = n % 2;
  if (odd) flat = lax.concatenate([flat, u32(0, [1])], 0);
  const half = (n + odd) / 2;
  const [y0, y1] = threefry2x32Words(keyWord(key, 0), keyWord(key, 1), lax.slice(flat, [0], [half]), lax.slice(flat, [half], [2 * half]));
  let out = lax.concatenate([y0, y1], 0);
  if (odd) out = lax.slice(out, [0], [n]);
  return lax.reshape(out, [...count.shape]);
}

/** Checks a window of `shape` and returns its shape (limit − start). */
export function checkWindow(shape: number[], w: RandomWindow, where: string): number[] {
  const { start, limit } = w;
  const bad = (msg: string): never => {
    throw new ShapeError(`${where}: invalid window start=${JSON.stringify(start)} limit=${JSON.stringify(limit)} of shape ${fmtShape(shape)}: ${msg}`);
  };
  if (!globalThis.Array.isArray(start) || !globalThis.Array.isArray(limit)) bad('start and limit must be arrays of integers');
  if (start.length !== shape.length || limit.length !== shape.length) bad(`need one start and one limit per dimension (${shape.length})`);
  shape.forEach((d, i) => {
    const s = start[i], l = limit[i];
    if (!Number.isInteger(s) || !Number.isInteger(l) || s < 0 || s > l || l > d) bad(`dimension ${i} needs integers 0 ≤ start ≤ limit ≤ ${d}, got [${s}, ${l})`);
  });
  return shape.map((_, i) => limit[i] - start[i]);
}

/**
 * The low counter words of the elements in window [start, limit) of an array of `shape`: the
 * row-major flat index Σ_d (start_d + iota_d) · stride_d, as uint32 (JAX's `iota_2x32_shape`,
 * lowered the same way: per-dimension iotas times strides, summed). The high words are 0
 * because Myriad arrays have fewer than 2^32 elements (checked).
 */
export function counters(shape: number[], window: RandomWindow | undefined, where: string): Array {
  const size = sizeOf(shape);
  if (size > TWO32) {
    throw new ShapeError(`${where}: random arrays are limited to 2^32 elements (the high counter word is always 0 here), got shape ${fmtShape(shape)} with ${size} elements; generate it in pieces with random.foldIn`);
  }
  const w = window ?? { start: shape.map(() => 0), limit: [...shape] };
  const out = checkWindow(shape, w, where);
  if (out.length === 0) return u32(0, []);
  const strides = stridesOf(shape);
  let offset = 0;
  let acc: Array | null = null;
  out.forEach((d, i) => {
    offset += w.start[i] * strides[i];
    if (d <= 1) return; // a size-1 window dimension contributes only its start
    let term = lax.iota('uint32', out, i);
    if (strides[i] !== 1) term = lax.mul(term, u32(strides[i], out));
    acc = acc ? lax.add(acc, term) : term;
  });
  let lo: Array = acc ?? u32(0, out);
  if (offset !== 0) lo = lax.add(lo, u32(offset, out));
  return lo;
}

/**
 * The two threefry output words for every element of the window of a random array of `shape`
 * (the whole array by default): (x0, x1) = threefry2x32(key, (0, counter)).
 */
export function bitPairs(key: Key, shape: number[], window: RandomWindow | undefined, where: string): [Array, Array] {
  const lo = counters(shape, window, where);
  const hi = u32(0, [...lo.shape]);
  return threefry2x32Words(keyWord(key, 0), keyWord(key, 1), hi, lo);
}

/** 32-bit random bits of the window of an array of `shape`: x0 ^ x1 (partitionable mode). */
export function bits32(key: Key, shape: number[], window: RandomWindow | undefined, where: string): Array {
  const [x0, x1] = bitPairs(key, shape, window, where);
  return lax.xor(x0, x1);
}

/** Validates a user-given shape. */
export function userShape(shape: unknown, where: string): number[] {
  if (typeof shape === 'number') {
    throw new ShapeError(`${where}: shape must be an array of non-negative integers, got the number ${shape}; write [${shape}]`);
  }
  return checkShape(shape as number[], where);
}

/**
 * `random.key(seed)`: a PRNG key from an integer seed, [0, seed mod 2^32] as JAX's
 * `random.key`/`PRNGKey` give in 32-bit mode. `seed` may be a safe JS integer (negative seeds
 * wrap: key(-1) = [0, 4294967295]), a bigint (its low 32 bits), or an int32/uint32 scalar
 * Array (also traced: the key is then computed in the graph).
 */
export function key(seed: number | bigint | Array): Key {
  if (typeof seed === 'bigint') {
    return Array.fromData(new Uint32Array([0, Number(BigInt.asUintN(32, seed))]), [2], 'uint32');
  }
  if (typeof seed === 'number') {
    if (!Number.isInteger(seed)) {
      throw new KeyError(`random.key: the seed must be an integer, got ${seed}; use e.g. random.key(${Number.isFinite(seed) ? Math.trunc(seed) : 0})`);
    }
    if (!Number.isSafeInteger(seed)) {
      throw new KeyError(`random.key: the seed ${seed} is beyond 2^53 and not exactly representable as a JS number; pass it as a bigint (e.g. random.key(${BigInt(seed)}n)) — only its low 32 bits are used`);
    }
    const lo = ((seed % TWO32) + TWO32) % TWO32;
    return Array.fromData(new Uint32Array([0, lo]), [2], 'uint32');
  }
  if (seed instanceof Array) {
    if (seed.ndim !== 0) throw new KeyError(`random.key: the seed must be a scalar, got ${fmtAval(seed)}; make one key per seed (random.key(s) for each s)`);
    if (seed.dtype !== 'int32' && seed.dtype !== 'uint32') {
      throw new KeyError(`random.key: the seed must be an integer, got ${fmtAval(seed)}; convert with astype('int32')`);
    }
    const lo = lax.reshape(lax.convert(seed, 'uint32'), [1]);
    return lax.concatenate([u32(0, [1]), lo], 0);
  }
  throw new KeyError(`random.key: the seed must be an integer (number, bigint or int32 scalar array), got ${describe(seed)}`);
}

/** Row `i` of a batch of keys (shape [n, ..., 2]), dropping the leading dimension. */
export function keyAt(keys: Array, i: number): Array {
  if (!(keys instanceof Array) || keys.dtype !== 'uint32' || keys.ndim < 2 || keys.shape[keys.ndim - 1] !== 2) {
    throw new KeyError(`random.keyAt: expected a batch of keys (uint32 [n, ..., 2], e.g. from random.split), got ${describe(keys)}`);
  }
  const n = keys.shape[0];
  if (!Number.isInteger(i) || i < -n || i >= n) throw new KeyError(`random.keyAt: index ${i} is out of range for ${n} keys`);
  const j = i < 0 ? i + n : i;
  const start = keys.shape.map((_, d) => (d === 0 ? j : 0));
  const limit = keys.shape.map((s, d) => (d === 0 ? j + 1 : s));
  return lax.reshape(lax.slice(keys, start, limit), keys.shape.slice(1));
}

function checkNum(num: unknown): number[] {
  const list = typeof num === 'number' ? [num] : num;
  if (!globalThis.Array.isArray(list) || list.length === 0 || list.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new KeyError(`random.split: num must be a positive integer (or an array of positive integers for a shape of keys), got ${JSON.stringify(num)}; e.g. random.split(key, 2)`);
  }
  return [...(list as number[])];
}

/**
 * `random.split(key, num = 2)`: `num` new keys as a uint32 array of shape [num, 2] (or
 * [...num, 2] for a shape), destructurable: `const [k1, k2] = random.split(key)`. Follows
 * `_threefry_split_foldlike`: key i is threefry2x32(key, (0, i)), so it equals foldIn(key, i).
 */
export function split(key: Key, num: number | number[] = 2): KeyArray {
  checkKey(key, 'random.split');
  const shape = checkNum(num);
  const [x0, x1] = bitPairs(key, shape, undefined, 'random.split');
  const col = [...shape, 1];
  // Arrays iterate over their first axis, so `const [a, b] = random.split(key)` destructures rows.
  return lax.concatenate([lax.reshape(x0, col), lax.reshape(x1, col)], shape.length);
}

/**
 * `random.foldIn(key, data)`: a new key from `key` and a 32-bit integer (`threefry_fold_in`:
 * threefry2x32(key, (0, data))). `data` is a JS integer in [-2^31, 2^32) (negative values wrap
 * to uint32, as int32 data does in JAX) or an int32/uint32 scalar Array (also traced).
 */
export function foldIn(key: Key, data: number | Array): Key {
  checkKey(key, 'random.foldIn');
  let d: Array;
  if (typeof data === 'number') {
    if (!Number.isInteger(data) || data < -2147483648 || data >= TWO32) {
      throw new KeyError(`random.foldIn: data must be a 32-bit integer (in [-2^31, 2^32)), got ${data}; for larger values fold in several words`);
    }
    d = u32(data >>> 0, []);
  } else if (data instanceof Array) {
    if (data.ndim !== 0 || (data.dtype !== 'int32' && data.dtype !== 'uint32')) {
      throw new KeyError(`random.foldIn: data must be an int32/uint32 scalar, got ${fmtAval(data)}; fold in one value at a time`);
    }
    d = lax.convert(data, 'uint32');
  } else {
    throw new KeyError(`random.foldIn: data must be an integer, got ${describe(data)}`);
  }
  const [y0, y1] = threefry2x32Words(keyWord(key, 0), keyWord(key, 1), u32(0, []), d);
  return lax.concatenate([lax.reshape(y0, [1]), lax.reshape(y1, [1])], 0);
}

/**
 * `random.bits(key, shape)`: uniformly random uint32 bits of `shape`. With `window`, only the
 * elements in [window.start, window.limit) of that array are computed (see `bitsSlice`).
 */
export function bits(key: Key, shape: number[] = [], opts: { dtype?: 'uint32'; window?: RandomWindow } = {}): Array {
  checkKey(key, 'random.bits');
  const s = userShape(shape, 'random.bits');
  if (opts.dtype !== undefined && opts.dtype !== 'uint32') {
    throw new DTypeError(`random.bits: dtype must be uint32 (the only unsigned dtype here), got ${JSON.stringify(opts.dtype)}`);
  }
  return bits32(key, s, opts.window, 'random.bits');
}

/**
 * `random.bitsSlice(key, shape, start, limit)`: exactly `bits(key, shape)` sliced to
 * [start, limit) per dimension, computed without the rest of the array (each element's bits
 * depend only on the key and its flat index in `shape`). Sharded code uses this property:
 * a device that holds a block of a random array generates just that block.
 */
export function bitsSlice(key: Key, shape: number[], start: number[], limit: number[]): Array {
  return bits(key, shape, { window: { start, limit } });
}
