/**
 * VJP rules of the elementwise primitives (unary, binary, select, convert_element_type,
 * stop_gradient) against central finite differences in float64 on random shapes, plus
 * hand-computed values where the rule has a convention (max/min ties, pow at 0).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, checkGrads, grad, lax, vjp, f64, i32, rng, uniform, randShape, values, close } from './util.js';

const sum = (x: Array) => lax.reduceSum(x, x.shape.map((_, i) => i));

/** Unary primitives with the input domain on which they are smooth. */
const UNARY: [string, (x: Array) => Array, number, number][] = [
  ['neg', lax.neg, -2, 2],
  ['abs', lax.abs, 0.1, 2],
  ['exp', lax.exp, -2, 2],
  ['log', lax.log, 0.2, 3],
  ['log1p', lax.log1p, -0.8, 3],
  ['expm1', lax.expm1, -2, 2],
  ['tanh', lax.tanh, -2, 2],
  ['logistic', lax.logistic, -3, 3],
  ['sin', lax.sin, -3, 3],
  ['cos', lax.cos, -3, 3],
  ['sqrt', lax.sqrt, 0.2, 3],
  ['rsqrt', lax.rsqrt, 0.2, 3],
  ['erf', lax.erf, -2, 2],
];

for (const [name, op, lo, hi] of UNARY) {
  test(`vjp of ${name} matches finite differences (random shapes, order 2)`, () => {
    const u = rng(name.length * 7919 + 1);
    for (let rank = 0; rank <= 3; rank++) {
      const x = uniform(u, randShape(u, rank), lo, hi);
      checkGrads(op, [x], { order: 2, seed: rank });
    }
  });
}

test('abs on negative inputs has gradient -1', () => {
  const g = grad((x: Array) => sum(lax.abs(x)))(f64([-1.5, -0.25, 2]));
  assert.deepEqual(values(g), [-1, -1, 1]);
});

/** Binary primitives with operand domains on which they are smooth. */
const BINARY: [string, (a: Array, b: Array) => Array, [number, number], [number, number]][] = [
  ['add', lax.add, [-2, 2], [-2, 2]],
  ['sub', lax.sub, [-2, 2], [-2, 2]],
  ['mul', lax.mul, [-2, 2], [-2, 2]],
  ['div', lax.div, [-2, 2], [0.5, 2]],
  ['pow', lax.pow, [0.3, 2], [-1.5, 2]],
  ['max', lax.max, [-2, 2], [-2, 2]],
  ['min', lax.min, [-2, 2], [-2, 2]],
  ['atan2', lax.atan2, [-2, 2], [-2, 2]],
];

for (const [name, op, [alo, ahi], [blo, bhi]] of BINARY) {
  test(`vjp of ${name} matches finite differences in both operands (random shapes, order 2)`, () => {
    const u = rng(name.length * 104729 + 3);
    for (let rank = 0; rank <= 3; rank++) {
      const shape = randShape(u, rank);
      checkGrads(op, [uniform(u, shape, alo, ahi), uniform(u, shape, blo, bhi)], { order: 2, seed: 10 + rank });
    }
  });
}

test('vjp of rem matches finite differences away from its jumps', () => {
  // a/b stays strictly between integers: a in (2.2, 2.8)·b, so trunc(a/b) = ±2 is locally constant
  const u = rng(42);
  const shape = [3, 4];
  const b = uniform(u, shape, 0.5, 2);
  const sgn = f64(values(uniform(u, shape)).map((v) => (v < 0 ? -1 : 1)), shape);
  const a = lax.mul(lax.mul(sgn, b), uniform(u, shape, 2.2, 2.8));
  checkGrads(lax.rem, [a, b]);
  checkGrads(lax.rem, [a, lax.neg(b)]);
  // d rem / db = -trunc(a/b)
  const [, pb] = vjp(lax.rem, f64([5.5, -5.5]), f64([2, 2]));
  const [, gb] = pb(f64([1, 1]));
  assert.deepEqual(values(gb), [-2, 2]);
});

test('max/min split the cotangent equally between tied operands (as JAX)', () => {
  const a = f64([1, 2, 3, -1]);
  const b = f64([1, 5, 3, -2]);
  for (const op of [lax.max, lax.min]) {
    const [ga, gb] = grad((x: Array, y: Array) => sum(op(x, y)), { argnums: [0, 1] })(a, b);
    const isMax = op === lax.max;
    assert.deepEqual(values(ga), [0.5, isMax ? 0 : 1, 0.5, isMax ? 1 : 0]);
    assert.deepEqual(values(gb), [0.5, isMax ? 1 : 0, 0.5, isMax ? 0 : 1]);
  }
});

test('pow has finite derivatives at x = 0 and y = 0', () => {
  const x = f64([0, 0, 0, 2]);
  const y = f64([2, 0, 1, 0]);
  const [gx, gy] = grad((a: Array, b: Array) => sum(lax.pow(a, b)), { argnums: [0, 1] })(x, y);
  // d/dx x^y = y·x^(y−1): 2·0 = 0; y = 0 → 0; 1·0^0 = 1; y = 0 → 0
  assert.deepEqual(values(gx), [0, 0, 1, 0]);
  // d/dy x^y = log(x)·x^y, taken as 0 at x = 0; log(2)·2^0 at x = 2
  assert.ok(close(values(gy), [0, 0, 0, Math.log(2)]));
  assert.ok(values(gx).every(Number.isFinite) && values(gy).every(Number.isFinite));
});

test('select routes the cotangent by the predicate; the predicate gets none', () => {
  const u = rng(5);
  const shape = [2, 3, 2];
  const t = uniform(u, shape);
  const f = uniform(u, shape);
  const pred = lax.gt(uniform(u, shape), lax.fullLike(t, 0));
  checkGrads((a: Array, b: Array) => lax.select(pred, lax.mul(a, a), lax.sin(b)), [t, f], { order: 2 });
  const [gt, gf] = grad((a: Array, b: Array) => sum(lax.select(pred, a, b)), { argnums: [0, 1] })(t, f);
  const p = values(lax.convert(pred, 'float64'));
  assert.deepEqual(values(gt), p);
  assert.deepEqual(values(gf), p.map((v) => 1 - v));
});

test('convert_element_type: float↔float converts the cotangent back; to int has no gradient', () => {
  const x = f64([0.25, -1.5, 3]);
  // float64 → float32 → float64: cotangents flow through both converts
  const g = grad((a: Array) => sum(lax.mul(lax.convert(lax.convert(a, 'float32'), 'float64'), a)))(x);
  assert.equal(g.dtype, 'float64');
  assert.ok(close(values(g), [0.5, -3, 6], 1e-7));
  checkGrads((a: Array) => lax.convert(lax.convert(a, 'float32'), 'float64'), [x], { atol: 1e-3, rtol: 1e-3, eps: 1e-2 });
  // through int32: zero gradient
  const gi = grad((a: Array) => sum(lax.convert(lax.convert(a, 'int32'), 'float64')))(x);
  assert.deepEqual(values(gi), [0, 0, 0]);
});

test('stop_gradient blocks the cotangent', () => {
  const x = f64([1, 2, 3]);
  const g = grad((a: Array) => sum(lax.mul(lax.stopGradient(a), a)))(x);
  assert.deepEqual(values(g), [1, 2, 3]);
});

test('non-differentiable primitives (sign, floor, ceil, round) give zero gradients', () => {
  const x = f64([0.3, -1.7, 2.5]);
  for (const op of [lax.sign, lax.floor, lax.ceil, lax.round]) {
    const g = grad((a: Array) => sum(lax.add(op(a), lax.mul(a, a))))(x);
    assert.ok(close(values(g), [0.6, -3.4, 5]));
  }
});

test('integer operands get no cotangent: mixing an int input into the graph', () => {
  const x = f64([1, 2, 3]);
  const k = i32([2, 3, 4]);
  const f = (a: Array, n: Array) => sum(lax.mul(a, lax.convert(lax.mul(n, n), 'float64')));
  const g = grad(f)(x, k);
  assert.deepEqual(values(g), [4, 9, 16]);
  checkGrads(f, [x, k]);
});
