/**
 * Tests for np elementwise functions: broadcasting, dtype promotion with weak scalars, NumPy division/remainder/round semantics, logical/bitwise ops, predicates, clip/where.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { np, makeGraph, DTypeError, ShapeError, ValueError } from '../../src/index.js';
import { assertArray, assertClose, assertThrows, prims } from './util.js';

const F32_MAX = 3.4028234663852886e38;

test('binary ops broadcast with NumPy rules', () => {
  const a = np.array([[1, 2, 3], [4, 5, 6]]);
  assertArray(np.add(a, np.array([10, 20, 30])), [[11, 22, 33], [14, 25, 36]], 'int32');
  assertArray(np.add(np.array([[1], [2]]), np.array([[10, 20, 30]])), [[11, 21, 31], [12, 22, 32]]);
  assertArray(np.multiply(a, 2), [[2, 4, 6], [8, 10, 12]], 'int32');
  assertArray(np.subtract(10, a), [[9, 8, 7], [6, 5, 4]], 'int32');
  assert.deepEqual(np.add(np.zeros([0, 3]), np.ones([3])).shape, [0, 3]);
  assertArray(np.add(np.ones([1, 1]), np.ones([2, 1, 3])), [[[2, 2, 2]], [[2, 2, 2]]]);
  assertThrows(() => np.add(np.ones([2, 3]), np.ones([2])), ShapeError, /shapes \[2,3\] and \[2\] cannot be broadcast together/);
});

test('array methods forward to np', () => {
  const x = np.array([1, 2, 3]);
  assertArray(x.add(1).mul(2).sub(1).div(2), [1.5, 2.5, 3.5], 'float32');
  assertArray(x.pow(2), [1, 4, 9], 'int32');
  assertArray(x.mod(2), [1, 0, 1], 'int32');
  assertArray(x.neg().abs(), [1, 2, 3]);
  assertArray(x.maximum(2).minimum(2.5), [2, 2, 2.5], 'float32');
  assertArray(x.greater(1), [false, true, true]);
  assertArray(x.lessEqual(2), [true, true, false]);
  assertArray(x.equal(2), [false, true, false]);
  assertArray(x.notEqual(2), [true, false, true]);
  assertArray(x.less(2), [true, false, false]);
  assertArray(x.greaterEqual(3), [false, false, true]);
  assertArray(x.square(), [1, 4, 9]);
  assertClose(x.exp().log().sqrt().tanh(), [1, 2, 3].map((v) => Math.tanh(Math.sqrt(v))));
});

test('dtype promotion and weakly typed scalars', () => {
  const i = np.array([1, 2]);
  const f = np.array([1.5, 2]);
  assert.equal(np.add(i, 2).dtype, 'int32');
  assertArray(np.add(i, 1.5), [2.5, 3.5], 'float32');
  assert.equal(np.add(i, f).dtype, 'float32');
  assert.equal(np.add(f, 2).dtype, 'float32');
  assert.equal(np.add(np.array([1], { dtype: 'float64' }), 1.5).dtype, 'float64');
  assert.equal(np.add(f, np.array([1], { dtype: 'float64' })).dtype, 'float64');
  assertArray(np.add(np.array([true, false]), np.array([true, true])), [true, true], 'bool');
  assertArray(np.multiply(np.array([true, false]), np.array([true, true])), [true, false], 'bool');
  assertArray(np.add(np.array([true, false]), 1), [2, 1], 'int32');
  assertArray(np.add(np.array([true, false]), true), [true, true], 'bool');
  assertArray(np.add(1, 2), 3, 'int32');
  assertArray(np.add(1, 2.5), 3.5, 'float32');
  assertArray(np.add(true, 1), 2, 'int32');
  assertArray(np.add(np.array([1], { dtype: 'uint32' }), 4294967294), [4294967295], 'uint32');
  assertThrows(() => np.add(i, np.array([1], { dtype: 'uint32' })), DTypeError, /np\.add: mixing int32 and uint32 is ambiguous/);
  assertThrows(() => np.add(i, 1e10), DTypeError, /the number 10000000000 does not fit in int32/);
  assertThrows(() => np.add(np.array([1], { dtype: 'uint32' }), -1), DTypeError, /does not fit in uint32/);
  assertThrows(() => np.subtract(np.array([true]), np.array([false])), DTypeError, /subtracting booleans is not supported/);
  assertThrows(() => np.negative(np.array([true])), DTypeError, /use np\.logical_not/);
  assertThrows(() => np.add(np.ones([2]), [1, 2] as any), ValueError, /second operand is a JS array of length 2; .*np\.array/);
});

test('true division, floor division and remainders', () => {
  assertArray(np.divide(np.array([1, 2, 3]), 2), [0.5, 1, 1.5], 'float32');
  assertArray(np.true_divide(1, 4), 0.25, 'float32');
  const a = np.array([7, -7, 7, -7]), b = np.array([2, 2, -2, -2]);
  assertArray(np.floor_divide(a, b), [3, -4, -4, 3], 'int32');
  assertArray(np.floorDivide(np.array([7.5, -7.5]), 2), [3, -4], 'float32');
  assertArray(np.floor_divide(np.array([7], { dtype: 'uint32' }), 2), [3], 'uint32');
  const m = np.array([3, 3, -3, -3]);
  assertArray(np.remainder(a, m), [1, 2, -2, -1], 'int32');
  assertArray(np.mod(np.array([-1.5, 1.5, 0]), 1), [0.5, 0.5, 0], 'float32');
  assertArray(np.remainder(np.array([-6]), 3), [0], 'int32');
  assertArray(np.fmod(np.array([-7, 7]), 3), [-1, 1], 'int32');
  assertArray(np.divide(np.array([1, -1, 0]), 0), [Infinity, -Infinity, NaN]);
});

test('power: integer exponents by multiplication, integer arrays stay integers', () => {
  assertArray(np.power(np.array([1.5, 2, 3]), 2), [2.25, 4, 9], 'float32');
  assertArray(np.power(np.array([2, 3]), 3), [8, 27], 'int32');
  assertArray(np.power(np.array([2, 0.25]), -1), [0.5, 4], 'float32');
  assertArray(np.power(np.array([2, -0.5]), -2), [0.25, 4], 'float32');
  assertArray(np.power(np.array([2, 4.5]), 0), [1, 1], 'float32');
  assertArray(np.power(np.array([4, 9]), 0.5), [2, 3], 'float32');
  assertArray(np.power(np.array([-2]), 3), [-8], 'int32');
  assertArray(np.power(np.array([2, 3, -2, 5, 1, -1, 7]), np.array([10, 0, 3, -1, -5, -3, 1])), [1024, 1, -8, 0, 1, -1, 7], 'int32');
  assertArray(np.power(2, np.array([1, 2, 3])), [2, 4, 8], 'int32');
  assertClose(np.power(np.array([2, 3]), np.array([0.5, -1])), [Math.SQRT2, 1 / 3], { dtype: 'float32' });
  assertThrows(() => np.power(np.array([2]), -1), ValueError, /integers to negative integer powers are not allowed/);
  const g = makeGraph((x) => np.power(x, 3))(np.ones([2]));
  assert.deepEqual(prims(g), ['mul', 'mul']);
});

test('maximum, minimum, logaddexp, arctan2', () => {
  assertArray(np.maximum(np.array([1, NaN, -1]), np.array([2, 0, -3])), [2, NaN, -1]);
  assertArray(np.minimum(np.array([[1, 5]]), np.array([[3], [0]])), [[1, 3], [0, 0]], 'int32');
  assertClose(np.logaddexp(np.array([0, 1e4, -Infinity, Infinity]), np.array([0, 1e4, -Infinity, 1])), [Math.LN2, 1e4 + Math.LN2, -Infinity, Infinity], { atol: 1e-3 });
  assertClose(np.arctan2(np.array([1, -1]), np.array([-1, -1])), [3 * Math.PI / 4, -3 * Math.PI / 4]);
});

test('unary math promotes ints to float32', () => {
  assertArray(np.exp(0), 1, 'float32');
  assertArray(np.sqrt(np.array([4, 9])), [2, 3], 'float32');
  assertArray(np.log2(np.array([8, 1024])), [3, 10], 'float32');
  assertArray(np.log10(np.array([1000])), [3], 'float32');
  assertArray(np.exp2(np.array([3, -1])), [8, 0.5], 'float32');
  assertClose(np.log1p(np.array([1e-7])), [1e-7], { rtol: 1e-6 });
  assertClose(np.expm1(np.array([1e-7])), [1e-7], { rtol: 1e-6 });
  assertArray(np.rsqrt(np.array([4, 0.25])), [0.5, 2]);
  assertArray(np.reciprocal(np.array([4])), [0.25], 'float32');
  assertArray(np.square(np.array([-3])), [9], 'int32');
  assertClose(np.sin(np.array([Math.PI / 2])), [1]);
  assertClose(np.cos(np.array([Math.PI])), [-1]);
  assertClose(np.tan(np.array([Math.PI / 4])), [1]);
  assertClose(np.tanh(np.array([0.5])), [Math.tanh(0.5)]);
  assertClose(np.erf(np.array([0.5, -2])), [0.5204998778130465, -0.9953222650189527]);
  assertArray(np.abs(np.array([-2, 3])), [2, 3], 'int32');
  assertArray(np.abs(np.array([5], { dtype: 'uint32' })), [5], 'uint32');
  assertArray(np.sign(np.array([-2.5, 0, 3])), [-1, 0, 1], 'float32');
  assertArray(np.sign(np.array([-7, 0, 9])), [-1, 0, 1], 'int32');
  assertArray(np.negative(np.array([1, -2])), [-1, 2], 'int32');
});

test('floor, ceil, trunc and round (half to even)', () => {
  const x = np.array([-1.5, -0.5, 0.4, 1.5, 2.5]);
  assertArray(np.floor(x), [-2, -1, 0, 1, 2]);
  assertArray(np.ceil(x), [-1, -0, 1, 2, 3]);
  assertArray(np.trunc(x), [-1, -0, 0, 1, 2]);
  assertArray(np.round(np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.4, 2.6, -2.6])), [0, 2, 2, -0, -2, 0, 3, -3]);
  assertClose(np.round(np.array([1.2345, -2.675]), 2), [1.23, -2.68], { atol: 1e-6 });
  assertArray(np.round(np.array([3, 4])), [3, 4], 'int32');
  assertArray(np.floor(np.array([3])), [3], 'int32');
});

test('comparisons promote and broadcast', () => {
  assertArray(np.less(np.array([1, 2, 3]), 2.5), [true, true, false], 'bool');
  assertArray(np.equal(np.array([2, 3]), 2.5), [false, false]);
  assertArray(np.greater_equal(np.array([[1], [3]]), np.array([1, 2, 3])), [[true, false, false], [true, true, true]]);
  assertArray(np.not_equal(np.array([NaN, 1]), np.array([NaN, 1])), [true, false]);
});

test('logical and bitwise ops', () => {
  assertArray(np.logical_and(np.array([1, 0, 2]), np.array([true, true, false])), [true, false, false]);
  assertArray(np.logical_or(np.array([0, 0]), np.array([0, 3.5])), [false, true]);
  assertArray(np.logical_xor(np.array([true, true]), np.array([true, false])), [false, true]);
  assertArray(np.logical_not(np.array([0, 3])), [true, false]);
  assertArray(np.bitwise_and(np.array([12]), 10), [8], 'int32');
  assertArray(np.bitwise_or(np.array([12]), 10), [14]);
  assertArray(np.bitwise_xor(np.array([12]), 10), [6]);
  assertArray(np.bitwise_not(np.array([0, 5])), [-1, -6], 'int32');
  assertArray(np.invert(np.array([0], { dtype: 'uint32' })), [4294967295], 'uint32');
  assertArray(np.left_shift(1, np.array([0, 1, 31, 32])), [1, 2, -2147483648, 0], 'int32');
  assertArray(np.right_shift(np.array([-8, 8]), 1), [-4, 4], 'int32');
  assertArray(np.right_shift(np.array([0x80000000], { dtype: 'uint32' }), 31), [1], 'uint32');
  assertThrows(() => np.bitwise_and(np.array([1.5]), 1), DTypeError, /bitwise_and needs integer or bool operands, got float32/);
  assertThrows(() => np.left_shift(np.array([1.5]), 1), DTypeError, /left_shift needs integer operands, got float32/);
  assertThrows(() => np.right_shift(np.array([true]), true), DTypeError, /right_shift needs integer operands, got bool/);
});

test('isfinite, isnan, isinf, nan_to_num', () => {
  const x = np.array([1, NaN, Infinity, -Infinity]);
  assertArray(np.isfinite(x), [true, false, false, false]);
  assertArray(np.isnan(x), [false, true, false, false]);
  assertArray(np.isinf(x), [false, false, true, true]);
  assertArray(np.isfinite(np.array([1])), [true]);
  assertArray(np.isnan(np.array([1])), [false]);
  assertArray(np.nan_to_num(x), [1, 0, F32_MAX, -F32_MAX]);
  assertArray(np.nanToNum(x, { nan: -1, posinf: 9, neginf: -9 }), [1, -1, 9, -9]);
});

test('clip, where, select, astype', () => {
  const x = np.array([-2, 0.5, 3]);
  assertArray(np.clip(x, 0, 1), [0, 0.5, 1]);
  assertArray(np.clip(x, null, 1), [-2, 0.5, 1]);
  assertArray(np.clip(np.array([1, 5]), 2, 4), [2, 4], 'int32');
  assertArray(np.clip(np.array([1, 5]), 1.5), [1.5, 5], 'float32');
  assertArray(np.clip(np.array([[1, 5]]), np.array([[0], [2]]), 4), [[1, 4], [2, 4]]);
  assertThrows(() => np.clip(x), ValueError, /clip needs at least one of lo and hi/);
  assertArray(np.where(np.array([true, false]), 1, 2.5), [1, 2.5], 'float32');
  assertArray(np.where(np.array([[1], [0]]), np.array([1, 2]), -1), [[1, 2], [-1, -1]], 'int32');
  assertArray(np.select([np.array([true, false, false]), np.array([true, true, false])], [1, 2], -1), [1, 2, -1], 'int32');
  assertArray(np.astype(np.array([1.7, -1.7]), 'int32'), [1, -1], 'int32');
  assertArray(np.array([0, 2]).astype('bool'), [false, true], 'bool');
  assertThrows(() => np.astype(x, 'float8' as any), DTypeError, /unknown dtype "float8"/);
});

test('isclose and allclose', () => {
  assertArray(np.isclose(np.array([1, 1, NaN, Infinity]), np.array([1 + 1e-7, 1.1, NaN, Infinity])), [true, false, false, true]);
  assertArray(np.isclose(np.array([NaN]), np.array([NaN]), { equal_nan: true }), [true]);
  assertArray(np.allclose(np.array([1, 2]), np.array([1, 2.00001])), true);
  assertArray(np.allclose(np.array([1, 2]), np.array([1, 2.1])), false);
});
