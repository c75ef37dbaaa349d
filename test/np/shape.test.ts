/**
 * Tests for np shape functions: reshape, transposes, expand/squeeze, broadcasting, concatenate/stack/split, tile/repeat, pad, slicing, dynamic slices, diagonals.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { np, Array, AxisError, DTypeError, ShapeError, ValueError } from '../../src/index.js';
import { IndexError } from '../../src/np/index.js';
import { assertArray, assertThrows } from './util.js';

const x = np.array([[1, 2, 3], [4, 5, 6]]);

test('reshape with one inferred dim, ravel, flatten', () => {
  assertArray(np.reshape(np.arange(6), [2, -1]), [[0, 1, 2], [3, 4, 5]]);
  assertArray(x.reshape([-1]), [1, 2, 3, 4, 5, 6]);
  assertArray(np.reshape(x, 6), [1, 2, 3, 4, 5, 6]);
  assertArray(np.reshape(np.array([7]), []), 7);
  assertArray(np.ravel(x), [1, 2, 3, 4, 5, 6]);
  assertArray(x.flatten(), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(np.reshape(np.zeros([0, 4]), [-1, 2]).shape, [0, 2]);
  assertThrows(() => np.reshape(np.zeros([0, 4]), [2, 0, -1]), ShapeError, /the -1 is ambiguous because the other dims multiply to 0/);
  assertThrows(() => np.reshape(x, [-1, -1]), ShapeError, /more than one -1/);
  assertThrows(() => np.reshape(x, [4, -1]), ShapeError, /cannot reshape \[2,3\] \(6 elements\) to \[4,-1\]/);
  assertThrows(() => x.reshape([5]), ShapeError, /np\.reshape: cannot reshape \[2,3\] \(6 elements\) to \[5\] \(5 elements\)/);
});

test('transpose, swapaxes, moveaxis', () => {
  assertArray(np.transpose(x), [[1, 4], [2, 5], [3, 6]]);
  assertArray(x.T, [[1, 4], [2, 5], [3, 6]]);
  const c = np.arange(24).reshape([2, 3, 4]);
  assert.deepEqual(np.transpose(c, [1, -1, 0]).shape, [3, 4, 2]);
  assertArray(np.transpose(c, [2, 0, 1]).slice(1, 0), [1, 5, 9]);
  assert.deepEqual(np.swapaxes(c, 0, -1).shape, [4, 3, 2]);
  assert.deepEqual(np.moveaxis(c, 0, -1).shape, [3, 4, 2]);
  assert.deepEqual(np.moveaxis(c, [0, 1], [-1, -2]).shape, [4, 3, 2]);
  assertArray(np.moveaxis(c, -1, 0).slice(2, 1), [14, 18, 22]);
  assertThrows(() => np.transpose(c, [0, 0, 1]), AxisError, /repeat an axis/);
  assertThrows(() => np.transpose(c, [0, 1]), AxisError, /must list each of the 3 axes/);
  assertThrows(() => np.swapaxes(c, 0, 3), AxisError, /axis2 3 is out of range for an array of rank 3/);
});

test('expand_dims and squeeze', () => {
  assert.deepEqual(np.expand_dims(x, 0).shape, [1, 2, 3]);
  assert.deepEqual(x.expandDims(-1).shape, [2, 3, 1]);
  assert.deepEqual(np.expand_dims(x, [0, 2]).shape, [1, 2, 1, 3]);
  assert.deepEqual(np.expandDims(np.array(5), 0).shape, [1]);
  const s = np.zeros([1, 2, 1, 3]);
  assert.deepEqual(np.squeeze(s).shape, [2, 3]);
  assert.deepEqual(s.squeeze(-2).shape, [1, 2, 3]);
  assert.deepEqual(np.squeeze(s, [0, 2]).shape, [2, 3]);
  assert.deepEqual(np.squeeze(np.zeros([1, 1])).shape, []);
  assertThrows(() => np.squeeze(x, 1), ShapeError, /cannot squeeze axis 1 of an array of shape \[2,3\]: its size is 3, not 1/);
  assertThrows(() => np.expand_dims(x, 4), AxisError, /axis 4 is out of range for an array of rank 3/);
});

test('broadcast_to and broadcast_arrays', () => {
  assertArray(np.broadcast_to(np.array([1, 2]), [2, 2]), [[1, 2], [1, 2]]);
  assertArray(np.array([[1], [2]]).broadcastTo([2, 3]), [[1, 1, 1], [2, 2, 2]]);
  assertArray(np.broadcastTo(3, [2]), [3, 3]);
  assertThrows(() => np.broadcast_to(x, [4, 3]), ShapeError, /cannot broadcast shape \[2,3\] to \[4,3\]: dimension -2 has size 2, which is neither 1 nor 4/);
  assertThrows(() => np.broadcast_to(x, [3]), ShapeError, /the target has fewer dimensions/);
  const [a, b] = np.broadcast_arrays(np.array([[1], [2]]), np.array([10, 20, 30]));
  assert.deepEqual(a.shape, [2, 3]);
  assertArray(b, [[10, 20, 30], [10, 20, 30]]);
  assertThrows(() => np.broadcast_arrays(np.ones([2]), np.ones([3])), ShapeError, /shapes \[2\] and \[3\] cannot be broadcast/);
});

test('concatenate, stack, split', () => {
  const y = np.array([[7.5, 8, 9]]);
  assertArray(np.concatenate([x, y]), [[1, 2, 3], [4, 5, 6], [7.5, 8, 9]], 'float32');
  assertArray(np.concatenate([x, x], -1), [[1, 2, 3, 1, 2, 3], [4, 5, 6, 4, 5, 6]], 'int32');
  assertArray(np.concatenate([x, np.array([9])], null), [1, 2, 3, 4, 5, 6, 9]);
  assertArray(np.concatenate([np.zeros([0, 3]), np.ones([1, 3])]), [[1, 1, 1]]);
  assertThrows(() => np.concatenate([x, np.ones([2, 2])]), ShapeError, /same shape except along axis 0; got \[2,3\], \[2,2\]/);
  assertThrows(() => np.concatenate([np.array(1), np.array(2)]), ShapeError, /zero-dimensional arrays cannot be concatenated/);
  assertThrows(() => np.concatenate([]), ValueError, /non-empty list/);
  assertArray(np.stack([np.array([1, 2]), np.array([3, 4])]), [[1, 2], [3, 4]]);
  assertArray(np.stack([np.array([1, 2]), np.array([3, 4])], -1), [[1, 3], [2, 4]]);
  assertArray(np.stack([1, 2.5]), [1, 2.5], 'float32');
  assertThrows(() => np.stack([np.ones([2]), np.ones([3])]), ShapeError, /same shape to stack/);
  const parts = np.split(np.arange(6), 3);
  assert.equal(parts.length, 3);
  assertArray(parts[2], [4, 5]);
  const [p, q, r] = np.split(np.arange(6), [2, -1]);
  assertArray(p, [0, 1]);
  assertArray(q, [2, 3, 4]);
  assertArray(r, [5]);
  const cols = np.split(x, [1], 1);
  assertArray(cols[0], [[1], [4]]);
  assertArray(cols[1], [[2, 3], [5, 6]]);
  assertThrows(() => np.split(np.arange(5), 2), ValueError, /cannot split axis 0 of size 5 into 2 equal sections/);
});

test('tile and repeat', () => {
  assertArray(np.tile(np.array([1, 2]), 2), [1, 2, 1, 2]);
  assertArray(np.tile(np.array([1, 2]), [2, 1]), [[1, 2], [1, 2]]);
  assertArray(np.tile(np.array([[1], [2]]), [1, 3]), [[1, 1, 1], [2, 2, 2]]);
  assertArray(np.repeat(np.array([1, 2]), 2), [1, 1, 2, 2]);
  assertArray(np.repeat(x, 2, 0), [[1, 2, 3], [1, 2, 3], [4, 5, 6], [4, 5, 6]]);
  assertArray(np.repeat(x, 2, -1), [[1, 1, 2, 2, 3, 3], [4, 4, 5, 5, 6, 6]]);
  assertThrows(() => np.repeat(x, [1, 2] as any), ValueError, /single non-negative integer/);
});

test('pad with constants', () => {
  assertArray(np.pad(np.array([1, 2]), 1), [0, 1, 2, 0]);
  assertArray(np.pad(np.array([1, 2]), [1, 2], { constant_values: 9 }), [9, 1, 2, 9, 9]);
  assertArray(np.pad(np.array([[1]]), [[0, 1], [2, 0]]), [[0, 0, 1], [0, 0, 0]]);
  assertArray(np.pad(np.array([[1]]), [[1, 0]]), [[0, 0], [0, 1]]);
  assertThrows(() => np.pad(x, [[1, 1], [1, 1], [1, 1]]), ValueError, /give 3 axes but the array has rank 2/);
  assertThrows(() => np.pad(x, -1), ValueError, /width must be an integer ≥ 0/);
  assertThrows(() => np.pad(x, 1, { mode: 'reflect' as any }), ValueError, /only 'constant'/);
});

test('slice: ranges, negative indices and steps, integer indices', () => {
  const a = np.arange(10);
  assertArray(a.slice([2, 5]), [2, 3, 4]);
  assertArray(a.slice([-3, null]), [7, 8, 9]);
  assertArray(a.slice([null, null, 3]), [0, 3, 6, 9]);
  assertArray(a.slice([null, null, -1]), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  assertArray(a.slice([8, 2, -2]), [8, 6, 4]);
  assertArray(a.slice([4, null, -2]), [4, 2, 0]);
  assertArray(a.slice([-1, -4, -1]), [9, 8, 7]);
  assertArray(a.slice([100, 200]), []);
  assertArray(a.slice([5, 2]), []);
  assertArray(a.slice([-100, 2]), [0, 1]);
  assertArray(a.slice([3, 0, -1]), [3, 2, 1]);
  assertArray(a.slice(-1), 9);
  assertArray(x.slice(null, [1, null]), [[2, 3], [5, 6]]);
  assertArray(x.slice(1), [4, 5, 6]);
  assertArray(x.slice([null, null, -1], -1), [6, 3]);
  assertArray(np.slice(x, [0, 2], [null, null, -2]), [[3, 1], [6, 4]]);
  assert.equal(x.slice(), x);
  assertThrows(() => x.slice(null, null, null), IndexError, /too many indices: 3 given for an array of shape \[2,3\]/);
  assertThrows(() => x.slice(2), IndexError, /index 2 is out of bounds for axis 0 with size 2/);
  assertThrows(() => a.slice([0, 5, 0]), ValueError, /step for axis 0 cannot be zero/);
});

test('flip and roll', () => {
  assertArray(np.flip(x), [[6, 5, 4], [3, 2, 1]]);
  assertArray(np.flip(x, 1), [[3, 2, 1], [6, 5, 4]]);
  assertArray(np.roll(np.arange(5), 2), [3, 4, 0, 1, 2]);
  assertArray(np.roll(np.arange(5), -1), [1, 2, 3, 4, 0]);
  assertArray(np.roll(x, 1, 1), [[3, 1, 2], [6, 4, 5]]);
  assertArray(np.roll(x, 1), [[6, 1, 2], [3, 4, 5]]);
});

test('dynamic_slice and dynamic_update_slice with numbers and int32 scalars', () => {
  const a = np.arange(12).reshape([3, 4]);
  assertArray(np.dynamic_slice(a, [1, 1], [2, 2]), [[5, 6], [9, 10]]);
  assertArray(np.dynamicSlice(a, [0, -2], [1, 2]), [[2, 3]]);
  assertArray(np.dynamicSlice(a, [2, 3], [2, 2]), [[6, 7], [10, 11]]); // clamped to stay inside
  const i = Array.scalar(2, 'int32');
  assertArray(np.dynamicSlice(a, [i, 0], [1, 4]), [[8, 9, 10, 11]]);
  assertArray(np.dynamicSlice(a, [Array.scalar(-1, 'int32'), 0], [1, 1]), [[8]]);
  assertArray(np.dynamic_update_slice(np.zeros([2, 3], 'int32'), np.array([[7, 8]]), [1, Array.scalar(1, 'int32')]), [[0, 0, 0], [0, 7, 8]]);
  assertArray(np.dynamicUpdateSlice(np.zeros([3]), np.array([1, 2]), [-1]), [0, 1, 2]);
  assertArray(np.dynamicUpdateSlice(np.zeros([3]), np.array([2.5]), [0]), [2.5, 0, 0], 'float32');
  assertThrows(() => np.dynamicSlice(a, [0], [1, 1]), ValueError, /need one start index per dimension of \[3,4\]/);
  assertThrows(() => np.dynamicSlice(a, [0, 0], [4, 1]), ShapeError, /slice size 4 exceeds dimension 0/);
  assertThrows(() => np.dynamicSlice(a, [np.array([0, 1]), 0], [1, 1]), DTypeError, /must be an int32 scalar/);
  assertThrows(() => np.dynamicUpdateSlice(a, np.ones([4]), [0, 0]), ShapeError, /same rank/);
});

test('diagonal, trace, tril, triu', () => {
  const m = np.arange(12).reshape([3, 4]);
  assertArray(np.diagonal(m), [0, 5, 10]);
  assertArray(np.diagonal(m, 1), [1, 6, 11]);
  assertArray(np.diagonal(m, -1), [4, 9]);
  assertArray(np.diagonal(m, 5), []);
  assertArray(np.trace(m), 15);
  assertArray(np.diagonal(np.arange(8).reshape([2, 2, 2]), 0, 1, 2), [[0, 3], [4, 7]]);
  assertArray(np.tril(np.ones([3, 3], 'int32')), [[1, 0, 0], [1, 1, 0], [1, 1, 1]]);
  assertArray(np.triu(np.ones([2, 3], 'int32'), 1), [[0, 1, 1], [0, 0, 1]]);
  assertArray(np.tril(np.ones([2, 2, 2], 'int32'), -1), [[[0, 0], [1, 0]], [[0, 0], [1, 0]]]);
  assertThrows(() => np.diagonal(m, 0, 1, -1), AxisError, /axis1 and axis2 must differ/);
});

test('shape helpers', () => {
  assert.deepEqual(np.shape(x), [2, 3]);
  assert.equal(np.ndim(x), 2);
  assert.equal(np.size(x), 6);
  assert.equal(np.ndim(3), 0);
});
