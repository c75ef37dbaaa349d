/**
 * Tests for np array creation: dtype inference, typed arrays, ragged-input errors, zeros/ones/full, arange, linspace, eye.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { np, DTypeError, ShapeError, ValueError } from '../../src/index.js';
import { assertArray, assertClose, assertThrows } from './util.js';

test('array infers dtype from nested JS values', () => {
  assertArray(np.array([[1, 2, 3], [4, 5, 6]]), [[1, 2, 3], [4, 5, 6]], 'int32');
  assertArray(np.array([1, 2.5]), [1, 2.5], 'float32');
  assertArray(np.array([true, false]), [true, false], 'bool');
  assertArray(np.array([true, 2]), [1, 2], 'int32');
  assertArray(np.array([3e9, 1]), [3e9, 1], 'float32');
  assertArray(np.array(3), 3, 'int32');
  assertArray(np.array(0.5), 0.5, 'float32');
  assertArray(np.array(true), true, 'bool');
  const e = np.array([]);
  assert.deepEqual(e.shape, [0]);
  assert.equal(e.dtype, 'float32');
  assert.deepEqual(np.array([[]]).shape, [1, 0]);
});

test('array honours dtype (C casts) and shape', () => {
  assertArray(np.array([1.7, -1.7], { dtype: 'int32' }), [1, -1], 'int32');
  assertArray(np.array([0, 2], { dtype: 'bool' }), [false, true], 'bool');
  assertArray(np.array([1, 2, 3, 4, 5, 6], { shape: [2, 3] }), [[1, 2, 3], [4, 5, 6]], 'int32');
  assertArray(np.array([1, 2], { dtype: 'float64' }), [1, 2], 'float64');
});

test('array from typed arrays copies and keeps the storage dtype', () => {
  const src = new Float32Array([1, 2, 3, 4, 5, 6]);
  const a = np.array(src, { shape: [2, 3] });
  src[0] = 100;
  assertArray(a, [[1, 2, 3], [4, 5, 6]], 'float32');
  assertArray(np.array(new Int32Array([7, 8])), [7, 8], 'int32');
  assertArray(np.array(new Uint8Array([1, 0])), [true, false], 'bool');
  assertArray(np.array(new Uint32Array([4294967295])), [4294967295], 'uint32');
  assertArray(np.array(new Float32Array([1.5, -2.5]), { dtype: 'int32' }), [1, -2], 'int32');
  assertThrows(() => np.array(new Float32Array(5), { shape: [2, 3] }), ShapeError, /shape \[2,3\] needs 6 elements but the typed array has 5/);
  assertThrows(() => np.array(new Int8Array(2) as any), DTypeError, /unsupported typed array/);
});

test('array stacks Myriad arrays and rejects ragged input with the offending element', () => {
  assertArray(np.array([np.array([1, 2]), np.array([3.5, 4])]), [[1, 2], [3.5, 4]], 'float32');
  assertThrows(() => np.array([[1, 2], [3]]), ValueError, /ragged nested array: element \[1\] has length 1 but the first element at that depth has length 2/);
  assertThrows(() => np.array([[1, 2], 3] as any), ValueError, /ragged nested array: element \[1\] is number 3 where a list of length 2 was expected/);
  assertThrows(() => np.array([1, [2]] as any), ValueError, /element \[1\] is a list where a number was expected/);
  assertThrows(() => np.array([[1, 'a']] as any), ValueError, /element \[0\]\[1\] is the string "a"/);
  assertThrows(() => np.array([1], { dtype: 'int64' as any }), DTypeError, /unknown dtype "int64"/);
});

test('asarray returns arrays unchanged', () => {
  const a = np.ones([2]);
  assert.equal(np.asarray(a), a);
  assertArray(np.asarray(a, { dtype: 'int32' }), [1, 1], 'int32');
  assertArray(np.asarray([1, 2]), [1, 2], 'int32');
});

test('zeros, ones, full and the _like forms', () => {
  assertArray(np.zeros([2, 2]), [[0, 0], [0, 0]], 'float32');
  assertArray(np.ones(3, 'int32'), [1, 1, 1], 'int32');
  assertArray(np.zeros([]), 0, 'float32');
  assert.deepEqual(np.zeros([0, 3]).shape, [0, 3]);
  assertArray(np.full([2], 7), [7, 7], 'int32');
  assertArray(np.full([2], 0.5), [0.5, 0.5], 'float32');
  assertArray(np.full([2], true), [true, true], 'bool');
  assertArray(np.full([2], 2.7, 'int32'), [2, 2], 'int32');
  assertArray(np.full([2, 3], np.array([1, 2, 3])), [[1, 2, 3], [1, 2, 3]], 'int32');
  const x = np.array([[1.5, 2]]);
  assertArray(np.zeros_like(x), [[0, 0]], 'float32');
  assertArray(np.zerosLike(x, 'int32'), [[0, 0]], 'int32');
  assertArray(np.ones_like(x), [[1, 1]], 'float32');
  assertArray(np.onesLike(x), [[1, 1]], 'float32');
  assertArray(np.full_like(x, 3), [[3, 3]], 'float32');
  assertArray(np.fullLike(np.array([1, 2]), 9), [9, 9], 'int32');
  assertThrows(() => np.zeros([2, -1]), ValueError, /invalid shape \[2,-1\]/);
});

test('arange like NumPy', () => {
  assertArray(np.arange(5), [0, 1, 2, 3, 4], 'int32');
  assertArray(np.arange(2, 8, 2), [2, 4, 6], 'int32');
  assertArray(np.arange(5, 0, -2), [5, 3, 1], 'int32');
  assertArray(np.arange(0, 1, 0.25), [0, 0.25, 0.5, 0.75], 'float32');
  assertArray(np.arange(3, null, 1, 'float32'), [0, 1, 2], 'float32');
  assert.deepEqual(np.arange(0).shape, [0]);
  assert.deepEqual(np.arange(3, 1).shape, [0]);
  assertThrows(() => np.arange(1, 2, 0), ValueError, /step must not be 0/);
});

test('linspace includes or excludes the endpoint', () => {
  assertArray(np.linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1], 'float32');
  assertClose(np.linspace(0, 1, 5, { endpoint: false }), [0, 0.2, 0.4, 0.6, 0.8]);
  assertArray(np.linspace(2, 3, 1), [2]);
  assert.deepEqual(np.linspace(2, 3, 0).shape, [0]);
  const l = np.linspace(0.1, 0.7, 7);
  assert.equal(l.toArray()[6], Math.fround(0.7));
  assertArray(np.linspace(0, 10, 3, { dtype: 'int32' }), [0, 5, 10], 'int32');
});

test('eye and identity', () => {
  assertArray(np.eye(3), [[1, 0, 0], [0, 1, 0], [0, 0, 1]], 'float32');
  assertArray(np.eye(2, 3, 1), [[0, 1, 0], [0, 0, 1]]);
  assertArray(np.eye(3, null, -1, 'int32'), [[0, 0, 0], [1, 0, 0], [0, 1, 0]], 'int32');
  assertArray(np.identity(2, 'bool'), [[true, false], [false, true]], 'bool');
  assert.deepEqual(np.eye(0).shape, [0, 0]);
});
