/**
 * Tests for np reductions: axes (negative, lists, null), keepdims, empty and size-1 dims, integer/bool dtypes, stable logsumexp, cumsum.
 */

import { test } from 'node:test';
import { np, AxisError, ValueError } from '../../src/index.js';
import { assertArray, assertClose, assertThrows } from './util.js';

const x = np.array([[1, 2, 3], [4, 5, 6]]);
const cube = np.arange(24).reshape([2, 3, 4]);

test('sum over axes, negative axes, keepdims, bools, empty', () => {
  assertArray(np.sum(x), 21, 'int32');
  assertArray(np.sum(x, 0), [5, 7, 9]);
  assertArray(np.sum(x, -1), [6, 15]);
  assertArray(x.sum(1, { keepdims: true }), [[6], [15]]);
  assertArray(np.sum(x, null, { keepdims: true }), [[21]]);
  assertArray(np.sum(cube, [0, 2]), [60, 92, 124]);
  assertArray(np.sum(cube, [-1, 0], { keepdims: true }), [[[60], [92], [124]]]);
  assertArray(np.sum(np.array([true, true, false])), 2, 'int32');
  assertArray(np.sum(x, 1, { dtype: 'float32' }), [6, 15], 'float32');
  assertArray(np.sum(np.zeros([0, 3]), 0), [0, 0, 0]);
  assertArray(np.sum(np.zeros([0])), 0);
  assertArray(np.sum(np.ones([2, 1]), 1), [1, 1]);
  assertThrows(() => np.sum(x, 2), AxisError, /np\.sum: axis 2 is out of range for an array of rank 2 \(valid: -2\.\.1\)/);
  assertThrows(() => np.sum(x, [0, -2]), AxisError, /repeated axis/);
  assertThrows(() => np.sum(np.array(1), 0), AxisError, /rank 0 has no axes/);
});

test('mean: ints give float32, empty gives NaN', () => {
  assertArray(np.mean(x), 3.5, 'float32');
  assertArray(np.mean(x, 0), [2.5, 3.5, 4.5]);
  assertArray(x.mean(-1, { keepdims: true }), [[2], [5]]);
  assertArray(np.mean(np.array([1, 2], { dtype: 'float64' })), 1.5, 'float64');
  assertArray(np.mean(np.zeros([0])), NaN);
});

test('max, min and their errors on empty reductions', () => {
  assertArray(np.max(x), 6, 'int32');
  assertArray(x.max(0), [4, 5, 6]);
  assertArray(np.min(x, 1, { keepdims: true }), [[1], [4]]);
  assertArray(np.amax(np.array([1, NaN, 3])), NaN);
  assertArray(np.amin(cube, [1, 2]), [0, 12]);
  assertArray(np.max(np.zeros([0, 2]), 1), []);
  assertThrows(() => np.max(np.zeros([0, 2]), 0), ValueError, /zero-size reduction: max over axis 0 of shape \[0,2\] has no identity/);
});

test('prod by pairwise products', () => {
  assertArray(np.prod(x, 1), [6, 120], 'int32');
  assertArray(np.prod(np.arange(1, 6)), 120);
  assertArray(np.prod(x), 720);
  assertArray(np.prod(x, 0, { keepdims: true }), [[4, 10, 18]]);
  assertArray(np.prod(np.array([1.5, 2, -1, 0.5, 3, 2, 2])), -18, 'float32');
  assertArray(np.prod(np.zeros([2, 0]), 1), [1, 1]);
  assertArray(np.prod(np.array([true, false])), 0, 'int32');
});

test('var and std with ddof', () => {
  const v = np.array([1, 2, 3, 4]);
  assertArray(np.var(v), 1.25, 'float32');
  assertClose(np.var(v, null, { ddof: 1 }), 5 / 3);
  assertClose(np.std(v), Math.sqrt(1.25));
  assertArray(x.var(1), [2 / 3, 2 / 3].map(Math.fround));
  assertArray(np.var(x, 0, { keepdims: true }), [[2.25, 2.25, 2.25]]);
  assertClose(np.std(x, -1, { ddof: 1 }), [1, 1]);
});

test('argmax and argmin: first occurrence, flattened by default', () => {
  const a = np.array([[1, 5, 5], [7, 0, 7]]);
  assertArray(np.argmax(a, 1), [1, 0], 'int32');
  assertArray(a.argmax(), 3);
  assertArray(np.argmax(a, 0, { keepdims: true }), [[1, 0, 1]]);
  assertArray(np.argmin(a, 0), [0, 1, 0]);
  assertArray(np.argmin(a), 4);
  assertArray(np.argmin(a, -1, { keepdims: true }), [[0], [1]]);
  assertArray(np.argmax(a, null, { keepdims: true }), [[3]]);
  assertArray(np.argmin(np.array([0, -2147483648, 5])), 1);
  assertArray(np.argmin(np.array([3, 0, 4294967295], { dtype: 'uint32' })), 1);
  assertArray(np.argmin(np.array([2.5, -1.5, -1.5])), 1);
  assertArray(np.argmax(np.array([1, NaN, 3])), 1);
  assertArray(np.argmin(np.array([true, false, false])), 1);
  assertThrows(() => np.argmax(np.zeros([0])), ValueError, /zero-size reduction: argmax/);
});

test('logsumexp is stable', () => {
  assertClose(np.logsumexp(np.array([1, 2, 3])), 3.40760596444438);
  assertClose(np.logsumexp(np.array([1e4, 1e4])), 1e4 + Math.LN2, { atol: 1e-3 });
  assertClose(np.logsumexp(np.array([-1e4, -1e4 - 1])), -1e4 + Math.log1p(Math.exp(-1)), { atol: 1e-3 });
  assertArray(np.logsumexp(np.array([-Infinity, -Infinity])), -Infinity);
  assertArray(np.logsumexp(np.array([Infinity, 1])), Infinity);
  assertClose(np.logsumexp(np.array([[0, 0], [1e4, 1e4]]), 1, { keepdims: true }), [[Math.LN2], [1e4 + Math.LN2]], { atol: 1e-3 });
  assertClose(np.logsumexp(np.array([[0, 0], [1, 1]]), 0), [Math.log(1 + Math.E), Math.log(1 + Math.E)]);
});

test('any and all', () => {
  const b = np.array([[0, 1], [0, 0]]);
  assertArray(np.any(b), true, 'bool');
  assertArray(np.all(b), false);
  assertArray(np.any(b, 1), [true, false]);
  assertArray(np.all(np.array([[1, 2], [0, 3]]), 0, { keepdims: true }), [[false, true]]);
  assertArray(np.any(np.zeros([0])), false);
  assertArray(np.all(np.zeros([0])), true);
});

test('cumsum along axes, reversed, flattened', () => {
  assertArray(np.cumsum(np.array([1, 2, 3, 4])), [1, 3, 6, 10], 'int32');
  assertArray(np.cumsum(np.array([1, 2, 3, 4]), 0, { reverse: true }), [10, 9, 7, 4]);
  assertArray(np.cumsum(x, 1), [[1, 3, 6], [4, 9, 15]]);
  assertArray(np.cumsum(x, -2), [[1, 2, 3], [5, 7, 9]]);
  assertArray(np.cumsum(x), [1, 3, 6, 10, 15, 21]);
  assertArray(np.cumsum(np.array([true, true, false])), [1, 2, 2], 'int32');
  assertArray(np.cumsum(np.array([0.5, 0.25]), 0, { dtype: 'float64' }), [0.5, 0.75], 'float64');
});
