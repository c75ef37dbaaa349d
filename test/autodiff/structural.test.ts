/**
 * VJP rules of the structural primitives, reductions and scans (broadcast_in_dim, reshape,
 * transpose, slice, pad, concatenate, dynamic_slice, dynamic_update_slice, reduce_*, cumsum)
 * against central finite differences in float64 on random shapes and parameters, plus
 * hand-computed values for reduce_max/reduce_min ties and clamped dynamic starts.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, checkGrads, grad, lax, f64, i32s, rng, uniform, randShape, values, close } from './util.js';

const sum = (x: Array) => lax.reduceSum(x, x.shape.map((_, i) => i));

test('broadcast_in_dim: new dims and expanded size-1 dims are summed back', () => {
  const u = rng(1);
  for (let trial = 0; trial < 8; trial++) {
    const out = randShape(u, 3, 1, 4);
    const bd = [0, 1, 2].filter(() => u() < 0.6);
    const xs = bd.map((d) => (u() < 0.4 ? 1 : out[d]));
    checkGrads((x: Array) => lax.broadcastInDim(x, out, bd), [uniform(u, xs)], { order: 2, seed: trial });
  }
  // by hand: [2,1] → [2,3] sums over the expanded dim
  const g = grad((x: Array) => sum(lax.mul(lax.broadcastInDim(x, [2, 3], [0, 1]), f64([1, 2, 3, 4, 5, 6], [2, 3]))))(f64([0, 0], [2, 1]));
  assert.deepEqual(values(g), [6, 15]);
  assert.deepEqual(g.shape, [2, 1]);
});

test('reshape and transpose', () => {
  const u = rng(2);
  for (let trial = 0; trial < 5; trial++) {
    const shape = randShape(u, 3);
    const x = uniform(u, shape);
    checkGrads((a: Array) => lax.reshape(a, [shape[0] * shape[1], shape[2]]), [x]);
    const perm = [0, 1, 2].sort(() => u() - 0.5);
    checkGrads((a: Array) => lax.transpose(lax.mul(a, a), perm), [x], { order: 2, seed: trial });
  }
});

test('slice with starts, limits and strides', () => {
  const u = rng(3);
  for (let trial = 0; trial < 8; trial++) {
    const shape = randShape(u, 3, 2, 7);
    const start = shape.map((d) => Math.floor(u() * d));
    const limit = shape.map((d, i) => start[i] + 1 + Math.floor(u() * (d - start[i])));
    const strides = shape.map(() => 1 + Math.floor(u() * 3));
    checkGrads((a: Array) => lax.slice(a, start, limit, strides), [uniform(u, shape)], { seed: trial });
  }
  // by hand: x[1:6:2] of 7 elements picks 1, 3, 5
  const g = grad((a: Array) => sum(lax.slice(a, [1], [6], [2])))(f64([0, 0, 0, 0, 0, 0, 0]));
  assert.deepEqual(values(g), [0, 1, 0, 1, 0, 1, 0]);
});

test('pad with interior and with negative (cropping) edges', () => {
  const u = rng(4);
  const cases: { shape: number[]; lo: number[]; hi: number[]; interior: number[] }[] = [
    { shape: [3, 4], lo: [1, 2], hi: [2, 0], interior: [0, 0] },
    { shape: [3, 4], lo: [0, 1], hi: [1, 1], interior: [2, 1] },
    { shape: [4, 5], lo: [-1, 2], hi: [1, -2], interior: [0, 1] },
    { shape: [5, 3], lo: [-2, -1], hi: [-1, 0], interior: [1, 2] },
    { shape: [2, 3, 2], lo: [1, -3, 0], hi: [0, 2, -1], interior: [3, 1, 1] },
  ];
  cases.forEach(({ shape, lo, hi, interior }, i) => {
    checkGrads((a: Array) => lax.pad(a, 0.5, lo, hi, interior), [uniform(u, shape)], { seed: i });
  });
  // by hand: pad [a b c] with lo=-1, interior=1 → [0 b 0 c]... the cropped a gets no gradient
  const g = grad((a: Array) => sum(lax.mul(lax.pad(a, 0, [-1], [0], [1]), f64([10, 20, 30, 40]))))(f64([1, 2, 3]));
  assert.deepEqual(values(g), [0, 20, 40]);
});

test('concatenate splits the cotangent among operands', () => {
  const u = rng(5);
  const a = uniform(u, [2, 3]);
  const b = uniform(u, [2, 1]);
  const c = uniform(u, [2, 4]);
  checkGrads((x: Array, y: Array, z: Array) => lax.concatenate([lax.sin(x), y, lax.mul(z, z)], 1), [a, b, c], { order: 2 });
  checkGrads((x: Array, y: Array) => lax.concatenate([x, y], 0), [uniform(u, [1, 3]), uniform(u, [3, 3])]);
});

test('dynamic_slice: gradient lands at the clamped window; starts get none', () => {
  const u = rng(6);
  const x = uniform(u, [5, 4]);
  for (const [r, c] of [[1, 2], [3, 0], [4, 3], [-2, 7]]) {
    checkGrads((a: Array, s0: Array, s1: Array) => lax.dynamicSlice(lax.mul(a, a), [s0, s1], [2, 2]), [x, i32s(r), i32s(c)], { order: 2 });
  }
  // start 4 in a dim of 5 with size 2 clamps to 3
  const g = grad((a: Array) => sum(lax.dynamicSlice(a, [i32s(4)], [2])))(f64([0, 0, 0, 0, 0]));
  assert.deepEqual(values(g), [0, 0, 0, 1, 1]);
});

test('dynamic_update_slice: operand loses the window, update reads it', () => {
  const u = rng(7);
  const x = uniform(u, [4, 5]);
  const upd = uniform(u, [2, 3]);
  for (const [r, c] of [[0, 0], [1, 2], [3, 4], [-1, 9]]) {
    checkGrads((a: Array, b: Array, s0: Array, s1: Array) => lax.dynamicUpdateSlice(lax.sin(a), lax.mul(b, b), [s0, s1]), [x, upd, i32s(r), i32s(c)], { order: 2 });
  }
  const w = f64([1, 2, 3, 4, 5]);
  const [ga, gb] = grad((a: Array, b: Array) => sum(lax.mul(lax.dynamicUpdateSlice(a, b, [i32s(9)]), w)), { argnums: [0, 1] })(f64([0, 0, 0, 0, 0]), f64([0, 0]));
  assert.deepEqual(values(ga), [1, 2, 3, 0, 0]);
  assert.deepEqual(values(gb), [4, 5]);
});

test('reduce_sum over random axes', () => {
  const u = rng(8);
  for (let trial = 0; trial < 6; trial++) {
    const shape = randShape(u, 3);
    const axes = [0, 1, 2].filter(() => u() < 0.5);
    checkGrads((a: Array) => lax.reduceSum(lax.mul(a, a), axes), [uniform(u, shape)], { order: 2, seed: trial });
  }
});

test('reduce_max / reduce_min: finite differences without ties', () => {
  const u = rng(9);
  for (let trial = 0; trial < 6; trial++) {
    const shape = randShape(u, 3, 1, 4);
    const axes = [0, 1, 2].filter(() => u() < 0.5);
    const x = uniform(u, shape);
    checkGrads((a: Array) => lax.reduceMax(a, axes), [x], { seed: trial });
    checkGrads((a: Array) => lax.reduceMin(lax.mul(a, a), axes), [x], { order: 2, seed: trial });
  }
});

test('reduce_max / reduce_min split the cotangent equally among ties (hand-computed)', () => {
  const x = f64([3, 1, 3, 3, 2, 0, -1, 0, -1], [3, 3]);
  const gmax = grad((a: Array) => sum(lax.mul(lax.reduceMax(a, [1]), f64([1, 2, 3]))))(x);
  // row 0: two maxima (3, 3) share 1; row 1: the single max gets 2; row 2: the single max 0 gets 3
  assert.deepEqual(values(gmax), [0.5, 0, 0.5, 2, 0, 0, 0, 3, 0]);
  const gmin = grad((a: Array) => sum(lax.reduceMin(a, [0, 1])))(x);
  // global minimum -1 appears twice
  assert.deepEqual(values(gmin), [0, 0, 0, 0, 0, 0, 0.5, 0, 0.5]);
  const gall = grad((a: Array) => sum(lax.reduceMax(a, [0, 1])))(x);
  assert.ok(close(values(gall), [1 / 3, 0, 1 / 3, 1 / 3, 0, 0, 0, 0, 0]));
});

test('cumsum (forward and reverse) transposes to the opposite scan', () => {
  const u = rng(10);
  for (let trial = 0; trial < 6; trial++) {
    const shape = randShape(u, 3, 1, 5);
    const axis = Math.floor(u() * 3);
    const reverse = u() < 0.5;
    checkGrads((a: Array) => lax.cumsum(lax.mul(a, a), axis, reverse), [uniform(u, shape)], { order: 2, seed: trial });
  }
  const g = grad((a: Array) => sum(lax.mul(lax.cumsum(a, 0), f64([1, 10, 100]))))(f64([0, 0, 0]));
  assert.deepEqual(values(g), [111, 110, 100]);
});
