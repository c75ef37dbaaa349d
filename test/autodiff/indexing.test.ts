/**
 * VJP rules of contraction and indexing primitives (dot_general with general batch/contracting
 * dims, gather, scatter_add, top_k) against central finite differences in float64 on random
 * shapes, plus hand-computed accumulation for repeated and out-of-range indices.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, checkGrads, grad, lax, f64, i32, rng, uniform, randint, values } from './util.js';

const sum = (x: Array) => lax.reduceSum(x, x.shape.map((_, i) => i));

interface DotCase {
  lhs: number[];
  rhs: number[];
  dims: { lhsContracting: number[]; rhsContracting: number[]; lhsBatch?: number[]; rhsBatch?: number[] };
}

test('dot_general: matmul, transposed operands, batch dims anywhere, several contracting dims', () => {
  const u = rng(11);
  const r = () => 1 + Math.floor(u() * 4);
  for (let trial = 0; trial < 3; trial++) {
    const [b, b2, m, k, k2, n] = [r(), r(), r(), r(), r(), r()];
    const cases: DotCase[] = [
      { lhs: [m, k], rhs: [k, n], dims: { lhsContracting: [1], rhsContracting: [0] } },
      { lhs: [k, m], rhs: [n, k], dims: { lhsContracting: [0], rhsContracting: [1] } },
      { lhs: [b, m, k], rhs: [b, k, n], dims: { lhsContracting: [2], rhsContracting: [1], lhsBatch: [0], rhsBatch: [0] } },
      { lhs: [m, b, k], rhs: [k, n, b], dims: { lhsContracting: [2], rhsContracting: [0], lhsBatch: [1], rhsBatch: [2] } },
      { lhs: [b, k2, m, k], rhs: [k, b, n, k2], dims: { lhsContracting: [3, 1], rhsContracting: [0, 3], lhsBatch: [0], rhsBatch: [1] } },
      { lhs: [b, b2, k], rhs: [b2, b, k, n], dims: { lhsContracting: [2], rhsContracting: [2], lhsBatch: [0, 1], rhsBatch: [1, 0] } },
      { lhs: [m], rhs: [n], dims: { lhsContracting: [], rhsContracting: [] } },
      { lhs: [k], rhs: [k], dims: { lhsContracting: [0], rhsContracting: [0] } },
    ];
    cases.forEach((c, i) => {
      checkGrads((x: Array, y: Array) => lax.dotGeneral(x, y, c.dims), [uniform(u, c.lhs), uniform(u, c.rhs)], { seed: trial * 10 + i });
    });
  }
});

test('gather: embedding lookup with repeated and out-of-range ids', () => {
  const u = rng(12);
  const table = uniform(u, [6, 3]);
  const ids = randint(u, [2, 5], -1, 8); // -1, 6, 7 are out of range: they read 0 and get no gradient
  checkGrads((t: Array, i: Array) => lax.gather(lax.mul(t, t), i, 0), [table, ids], { order: 2 });
  // by hand: ids [1, 1, 3, 9] → rows 1 (twice) and 3; 9 is dropped
  const g = grad((t: Array) => sum(lax.gather(t, i32([1, 1, 3, 9]), 0)))(uniform(u, [4, 2]));
  assert.deepEqual(values(g), [0, 0, 2, 2, 0, 0, 1, 1]);
});

test('gather: middle axis, batch dims (take_along_axis style)', () => {
  const u = rng(13);
  checkGrads((x: Array, i: Array) => lax.gather(x, i, 1), [uniform(u, [2, 5, 3]), randint(u, [4, 2], 0, 5)]);
  checkGrads((x: Array, i: Array) => lax.gather(x, i, 1, 1), [uniform(u, [3, 6]), randint(u, [3, 4], 0, 6)], { order: 2 });
  checkGrads((x: Array, i: Array) => lax.gather(x, i, 2, 1), [uniform(u, [2, 3, 5, 2]), randint(u, [2, 4], 0, 5)]);
});

test('scatter_add: operand passes through, updates read the cotangent at their indices', () => {
  const u = rng(14);
  const f = (x: Array, i: Array, upd: Array) => lax.scatterAdd(lax.sin(x), i, lax.mul(upd, upd), 0);
  checkGrads(f, [uniform(u, [5, 3]), randint(u, [2, 4], -1, 6), uniform(u, [2, 4, 3])], { order: 2 });
  checkGrads((x: Array, i: Array, upd: Array) => lax.scatterAdd(x, i, upd, 1, 1), [uniform(u, [3, 6]), randint(u, [3, 4], 0, 6), uniform(u, [3, 4])]);
  const w = f64([1, 2, 3]);
  const [, gu] = grad((x: Array, upd: Array) => sum(lax.mul(lax.scatterAdd(x, i32([2, 0, 5]), upd, 0), w)), { argnums: [0, 1] })(f64([0, 0, 0]), f64([0, 0, 0]));
  assert.deepEqual(values(gu), [3, 1, 0]);
});

test('top_k: the values cotangent returns to the chosen positions', () => {
  const u = rng(15);
  for (const [shape, k] of [[[7], 3], [[3, 6], 2], [[2, 3, 5], 5], [[2, 4], 1]] as [number[], number][]) {
    checkGrads((x: Array) => lax.topK(lax.mul(x, x), k)[0], [uniform(u, shape, 0.1, 2)], { order: 2 });
  }
  const g = grad((x: Array) => sum(lax.mul(lax.topK(x, 2)[0], f64([10, 1]))))(f64([0.5, 3, -1, 2]));
  assert.deepEqual(values(g), [0, 10, 0, 1]);
});
