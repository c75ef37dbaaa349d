/**
 * Threefry-2x32 keys and bits: Random123 known-answer vectors, JAX golden values (documentation
 * and tests), the seed rule, split/foldIn/bits against an independent plain-JS model, slices
 * of random arrays, traced evaluation, and key-misuse errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/backends/reference/index.js';
import '../../src/backends/registry.js';
import { Array } from '../../src/core/array.js';
import { KeyError, ShapeError } from '../../src/core/errors.js';
import { jit } from '../../src/core/jit.js';
import * as lax from '../../src/core/lax.js';
import { evalGraph, makeGraph } from '../../src/core/trace.js';
import { random } from '../../src/random/index.js';
import { bitsP, foldInP, splitP, threefry, uniformP } from './plain.js';

const u32 = (xs: number[], shape = [xs.length]) => Array.fromData(new Uint32Array(xs), shape, 'uint32');
const hex = (xs: ArrayLike<number>) => globalThis.Array.from(xs, (v) => '0x' + (v >>> 0).toString(16).padStart(8, '0'));

// Random123 threefry2x32_20 known answers, as JAX's testThreefry2x32 checks them
// (tests/random_test.py; values from Random123-Boost test_threefry.cpp).
const KAT: { key: number[]; ctr: number[]; out: number[] }[] = [
  { key: [0x00000000, 0x00000000], ctr: [0x00000000, 0x00000000], out: [0x6b200159, 0x99ba4efe] },
  { key: [0xffffffff, 0xffffffff], ctr: [0xffffffff, 0xffffffff], out: [0x1cb996fc, 0xbb002be7] },
  { key: [0x13198a2e, 0x03707344], ctr: [0x243f6a88, 0x85a308d3], out: [0xc4923a9c, 0x483df7a0] },
];

test('threefry2x32 matches the Random123 known-answer vectors', () => {
  for (const { key, ctr, out } of KAT) {
    const got = random.threefry2x32(u32(key), u32(ctr)).dataSync();
    assert.deepEqual(hex(got), hex(out));
    // the independent plain-JS model agrees too (it is the oracle for everything below)
    assert.deepEqual(hex(threefry(key[0], key[1], ctr[0], ctr[1])), hex(out));
  }
});

test('threefry2x32 on count arrays follows JAX threefry_2x32 (halves, odd padding): JAX golden values', () => {
  // JAX testPRNGValues (non-partitionable split = reshape(threefry_2x32(key, iota(8)), (4, 2))).
  const k0 = random.key(0);
  const split4 = random.threefry2x32(k0, lax.iota('uint32', [8]));
  assert.deepEqual(globalThis.Array.from(split4.dataSync()), [2285895361, 1501764800, 1518642379, 4090693311, 433833334, 4221794875, 839183663, 3740430601]);
  // JAX testRngRandomBits (non-partitionable 32-bit bits = threefry_2x32(key, iota(3)), an odd count).
  const b3 = random.threefry2x32(random.key(1701), lax.iota('uint32', [3]));
  assert.deepEqual(globalThis.Array.from(b3.dataSync()), [56197195, 4200222568, 961309823]);
  // shape is kept, empty counts stay empty
  assert.deepEqual(random.threefry2x32(k0, lax.iota('uint32', [2, 3], 1)).shape, [2, 3]);
  assert.deepEqual(random.threefry2x32(k0, lax.iota('uint32', [0])).shape, [0]);
});

test('key(seed) is [0, seed mod 2^32] (JAX test_prng_seeds_and_keys, 32-bit column)', () => {
  const cases: [number | bigint, number[]][] = [
    [0, [0, 0]],
    [1, [0, 1]],
    [3, [0, 3]],
    [-1, [0, 4294967295]],
    [-2, [0, 4294967294]],
    [-3, [0, 4294967293]],
    [2147483647 + 100, [0, 2147483747]],
    [2147483647 + 101, [0, 2147483748]],
    [-2147483648 - 100, [0, 2147483548]],
    [-2147483648 - 101, [0, 2147483547]],
    [2 ** 40 + 5, [0, 5]],
    [(1n << 64n) + 7n, [0, 7]],
  ];
  for (const [seed, want] of cases) {
    const k = random.key(seed);
    assert.equal(k.dtype, 'uint32');
    assert.deepEqual(k.shape, [2]);
    assert.deepEqual(globalThis.Array.from(k.dataSync()), want, `seed ${seed}`);
  }
  // an int32 scalar array seed gives the same key
  assert.deepEqual(random.key(Array.scalar(-1, 'int32')).toArray(), [0, 4294967295]);
});

test('JAX documentation values: uniform(key(0)) = 0.947667, uniform(split(key(0))[1]) = 0.00729382', () => {
  // docs.jax.dev "jax.random module" (partitionable threefry, the JAX ≥ 0.5 default)
  const key = random.key(0);
  assert.ok(Math.abs((random.uniform(key).item() as number) - 0.947667) < 5e-7);
  const [, subkey] = random.split(key);
  assert.ok(Math.abs((random.uniform(subkey).item() as number) - 0.00729382) < 5e-9);
});

test('split, foldIn and bits equal the independent plain-JS model', () => {
  for (const seed of [0, 1, 42, 1701, -7]) {
    const k = random.key(seed);
    const pk: [number, number] = [0, seed >>> 0];
    for (const n of [1, 2, 3, 7]) {
      const ks = random.split(k, n);
      assert.deepEqual(ks.shape, [n, 2]);
      assert.deepEqual(ks.toArray(), splitP(pk, n));
    }
    for (const d of [0, 1, 4, 123456, 0xffffffff, -1]) {
      assert.deepEqual(random.foldIn(k, d).toArray(), foldInP(pk, d));
    }
    // bits of a multi-dimensional array are in row-major flat order
    const b = random.bits(k, [3, 4, 5]);
    assert.deepEqual(b.shape, [3, 4, 5]);
    assert.deepEqual(globalThis.Array.from(b.dataSync()), bitsP(pk, 60));
    assert.deepEqual(globalThis.Array.from(random.bits(k, []).dataSync()), bitsP(pk, 1));
    assert.deepEqual(random.bits(k, [2, 0, 3]).shape, [2, 0, 3]);
  }
  // a split of a split, and the plain uniform on a derived key
  const kk = random.split(random.keyAt(random.split(random.key(5), 3), 2), 2);
  const pkk = splitP(splitP([0, 5], 3)[2], 2);
  assert.deepEqual(kk.toArray(), pkk);
  assert.deepEqual(globalThis.Array.from(random.uniform(random.keyAt(kk, 1), [9]).dataSync()), uniformP(pkk[1], 9));
});

test('foldIn(key, i) equals split(key, n)[i] (JAX test_threefry_split_fold_in_symmetry)', () => {
  const key = random.key(72);
  const keys = random.split(key, 3);
  for (let i = 0; i < 3; i++) assert.deepEqual(random.foldIn(key, i).toArray(), random.keyAt(keys, i).toArray());
});

test('split results destructure into keys', () => {
  const [a, b] = random.split(random.key(0));
  assert.deepEqual(a.shape, [2]);
  assert.deepEqual(a.toArray(), [1797259609, 2579123966]);
  assert.deepEqual(b.toArray(), [928981903, 3453687069]);
  const rows = [...random.split(random.key(3), 4)];
  assert.equal(rows.length, 4);
  // split with a shape of keys
  const grid = random.split(random.key(3), [2, 3]);
  assert.deepEqual(grid.shape, [2, 3, 2]);
  assert.deepEqual(grid.toArray().flat(), splitP([0, 3], 6));
});

test('any window of a random array equals the same slice of the full array', () => {
  const key = random.key(11);
  const shape = [5, 7, 3];
  const full = random.bits(key, shape).toArray() as number[][][];
  const windows = [
    { start: [0, 0, 0], limit: [5, 7, 3] },
    { start: [1, 2, 0], limit: [4, 6, 3] },
    { start: [4, 6, 2], limit: [5, 7, 3] },
    { start: [2, 0, 1], limit: [2, 7, 3] },
    { start: [0, 3, 1], limit: [5, 4, 2] },
    { start: [3, 0, 1], limit: [4, 7, 2] },
    { start: [3, 5, 2], limit: [4, 6, 3] },
  ];
  for (const w of windows) {
    const got = random.bitsSlice(key, shape, w.start, w.limit);
    assert.deepEqual(got.shape, w.limit.map((l, i) => l - w.start[i]));
    const want = full.slice(w.start[0], w.limit[0]).map((p) => p.slice(w.start[1], w.limit[1]).map((r) => r.slice(w.start[2], w.limit[2])));
    assert.deepEqual(got.toArray(), want, JSON.stringify(w));
  }
  // tiling the array by blocks (as devices of a 2x2 mesh would) reproduces it
  const tiles = [
    [0, 3],
    [3, 5],
  ].map(([r0, r1]) => [
    [0, 4],
    [4, 7],
  ].map(([c0, c1]) => random.normal(key, [5, 7], { window: { start: [r0, c0], limit: [r1, c1] } }).toArray() as number[][]));
  const joined = tiles.flatMap(([left, right]) => left.map((row, i) => [...row, ...right[i]]));
  assert.deepEqual(joined, random.normal(key, [5, 7]).toArray());
});

test('traced: the same bits come out of a Graph, which prints as primitives', () => {
  const fn = (k: Array) => {
    const [a, b] = random.split(k);
    return [random.uniform(a, [2, 3]), random.bits(random.foldIn(b, 7), [4])];
  };
  const key = random.key(9);
  const g = makeGraph(fn)(key);
  const text = g.toString();
  assert.match(text, /shift_right_logical/);
  assert.match(text, /iota/);
  assert.match(text, /xor/);
  const [u, b] = evalGraph(g, [key]);
  const [ue, be] = fn(key);
  assert.deepEqual(u.toArray(), ue.toArray());
  assert.deepEqual(b.toArray(), be.toArray());
  // jit (reference backend) gives the same values
  const jitted = jit(fn)(key) as Array[];
  assert.deepEqual(jitted.map((x) => x.toArray()), [ue.toArray(), be.toArray()]);
  // a traced seed works too
  const g2 = makeGraph((s: Array) => random.bits(random.key(s), [3]))(Array.scalar(1701, 'int32'));
  assert.deepEqual(evalGraph(g2, [Array.scalar(1701, 'int32')])[0].toArray(), random.bits(random.key(1701), [3]).toArray());
});

test('key misuse gets KeyErrors that say what to do', () => {
  const key = random.key(0);
  const f32 = Array.fromData(new Float32Array([0, 0]), [2], 'float32');
  assert.throws(() => random.split(f32), (e: unknown) => e instanceof KeyError && /must have dtype uint32 and shape \[2\], got f32\[2\]/.test(e.message) && /random\.key\(seed\)/.test(e.message));
  assert.throws(() => random.uniform(5 as unknown as Array), (e: unknown) => e instanceof KeyError && /got number 5/.test(e.message) && /first argument/.test(e.message));
  assert.throws(() => random.normal(u32([1, 2, 3])), (e: unknown) => e instanceof KeyError && /shape \[2\].*got u32\[3\]/.test(e.message));
  assert.throws(() => random.normal(random.split(key, 4)), (e: unknown) => e instanceof KeyError && /batch of keys u32\[4,2\]/.test(e.message));
  assert.throws(() => random.split(key, 0), (e: unknown) => e instanceof KeyError && /num must be a positive integer/.test(e.message));
  assert.throws(() => random.split(key, -3), KeyError);
  assert.throws(() => random.split(key, 2.5), KeyError);
  assert.throws(() => random.key(1.5), (e: unknown) => e instanceof KeyError && /seed must be an integer, got 1\.5/.test(e.message));
  assert.throws(() => random.key(2 ** 60), (e: unknown) => e instanceof KeyError && /bigint/.test(e.message));
  assert.throws(() => random.key(Array.scalar(1.5, 'float32')), (e: unknown) => e instanceof KeyError && /integer/.test(e.message));
  assert.throws(() => random.foldIn(key, 0.5), (e: unknown) => e instanceof KeyError && /32-bit integer/.test(e.message));
  assert.throws(() => random.bitsSlice(key, [4, 4], [0, 3], [2, 5]), (e: unknown) => e instanceof ShapeError && /dimension 1 needs integers 0 ≤ start ≤ limit ≤ 4, got \[3, 5\)/.test(e.message));
  assert.throws(() => random.bits(key, 5 as unknown as number[]), (e: unknown) => e instanceof ShapeError && /write \[5\]/.test(e.message));
});
