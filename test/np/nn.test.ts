/**
 * Tests for np neural-network functions: activations (gelu both forms vs closed form), stable softmax, one_hot, take/take_along_axis modes, top_k and sorting.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { np, DTypeError, ShapeError, ValueError } from '../../src/index.js';
import { assertArray, assertClose, assertThrows } from './util.js';

test('sigmoid, softplus, log_sigmoid, silu, relu family', () => {
  assertClose(np.sigmoid(np.array([0, 1, -1])), [0.5, 0.7310585786300049, 0.2689414213699951]);
  assertClose(np.softplus(np.array([0, 100, -20, -100, 1e4])), [Math.LN2, 100, 2.061153620314381e-9, Math.fround(3.720075976020836e-44), 1e4], { rtol: 1e-6, atol: 0 });
  assertClose(np.log_sigmoid(np.array([0, -100, 100])), [-Math.LN2, -100, -Math.fround(3.720075976020836e-44)], { rtol: 1e-6, atol: 0 });
  assertClose(np.silu(np.array([1, -1, 0])), [0.7310585786300049, -0.2689414213699951, 0]);
  assertClose(np.swish(np.array([2])), [2 / (1 + Math.exp(-2))]);
  assertArray(np.relu(np.array([-1.5, 0, 2])), [0, 0, 2], 'float32');
  assertArray(np.relu(np.array([-3, 4])), [0, 4], 'int32');
  assertArray(np.relu6(np.array([-1, 3, 7])), [0, 3, 6]);
  assertClose(np.leaky_relu(np.array([-2, 3])), [-0.02, 3]);
  assertClose(np.leakyRelu(np.array([-2]), 0.5), [-1]);
  assertClose(np.elu(np.array([-1, 2, -1000])), [Math.expm1(-1), 2, -1]);
});

test('gelu in tanh and erf forms against closed-form values', () => {
  const x = np.array([1, -1, 2, -3, 0.5, 0]);
  // 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) and 0.5·x·(1 + erf(x/√2)), evaluated in float64
  assertClose(np.gelu(x), [0.8411919906082768, -0.15880800939172324, 1.954597694087775, -0.0036373920817729943, 0.34571400982514394, 0], { rtol: 2e-6, atol: 1e-7 });
  assertClose(np.gelu(x, { approximate: true }), [0.8411919906082768, -0.15880800939172324, 1.954597694087775, -0.0036373920817729943, 0.34571400982514394, 0], { rtol: 2e-6, atol: 1e-7 });
  assertClose(np.gelu(x, { approximate: false }), [0.8413447460685429, -0.15865525393145707, 1.9544997361036416, -0.00404969409489031, 0.34573123063700656, 0], { rtol: 2e-6, atol: 1e-7 });
  assertClose(np.gelu(np.array([1], { dtype: 'float64' }), { approximate: false }), [0.8413447460685429], { rtol: 1e-12, dtype: 'float64' });
});

test('softmax and log_softmax are stable for large inputs', () => {
  const x = np.array([[1e4, 1e4 - 1, 1e4 - 2], [-1e4, -1e4, -1e4]]);
  const e = [1, Math.exp(-1), Math.exp(-2)];
  const z = e[0] + e[1] + e[2];
  assertClose(np.softmax(x), [e.map((v) => v / z), [1 / 3, 1 / 3, 1 / 3]]);
  assertClose(np.log_softmax(x), [e.map((v) => Math.log(v / z)), [-Math.log(3), -Math.log(3), -Math.log(3)]], { atol: 1e-5 });
  assertClose(np.logSoftmax(np.array([1e4, 0])), [0, -1e4]);
  assertClose(np.softmax(np.array([[0, 0], [Math.log(3), 0]]), 0), [[0.25, 0.5], [0.75, 0.5]]);
  assertClose(np.softmax(np.array([[0, 0], [0, 0]]), [0, 1]), [[0.25, 0.25], [0.25, 0.25]]);
  assertClose(np.softmax(np.array([0, -Infinity])), [1, 0]);
  assertClose(np.log_softmax(np.array([0, -Infinity])), [0, -Infinity]);
  assertClose(np.softmax(np.array([1, 1])), [0.5, 0.5], { dtype: 'float32' });
});

test('one_hot', () => {
  assertArray(np.one_hot(np.array([0, 2, -1, 3]), 3), [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]], 'float32');
  assertArray(np.oneHot([1, 0], 2, { dtype: 'int32', axis: 0 }), [[0, 1], [1, 0]], 'int32');
  assert.deepEqual(np.one_hot(np.array([[1, 2, 0]]), 4).shape, [1, 3, 4]);
  assertArray(np.one_hot(2, 3, { dtype: 'bool' }), [false, false, true]);
  assertThrows(() => np.one_hot(np.array([0.5]), 3), DTypeError, /indices must be integers, got dtype float32/);
});

test('take: axes, negative indices and modes', () => {
  const x = np.array([[1, 2, 3], [4, 5, 6]]);
  assertArray(np.take(x, np.array([0, 5, -1])), [1, 6, 6]);
  assertArray(np.take(x, [[1, 0]], { axis: 1 }), [[[2, 1]], [[5, 4]]]);
  assertArray(np.take(x, -1, { axis: 0 }), [4, 5, 6]);
  assertArray(np.take(x, [2, -4, 3], { axis: 1, mode: 'clip' }), [[3, 1, 3], [6, 4, 6]]);
  assertArray(np.take(x, [3, -4, 7], { axis: 1, mode: 'wrap' }), [[1, 3, 2], [4, 6, 5]]);
  assertArray(np.take(x, [3, -4, 1], { axis: 1 }), [[0, 0, 2], [0, 0, 5]]);
  assertArray(np.take(x, [3, 1], { axis: 1, fill_value: -7 }), [[-7, 2], [-7, 5]]);
  assertArray(np.take(np.array([1.5, 2.5]), [0, 2, -3]), [1.5, NaN, NaN]);
  assertArray(np.take(np.array([1.5, 2.5]), [2], { fill_value: 0 }), [0]);
  assertArray(np.take(np.array([[0.5, 1], [2, 3]]), np.array([[1, 1], [0, 1]]), { axis: 0 }), [[[2, 3], [2, 3]], [[0.5, 1], [2, 3]]]);
  assertThrows(() => np.take(x, [0], { mode: 'raise' as any }), ValueError, /mode must be 'fill', 'clip' or 'wrap'/);
  assertThrows(() => np.take(np.zeros([0]), [1], { mode: 'clip' }), ValueError, /cannot index an empty axis with mode 'clip'/);
  assertThrows(() => np.take(x, [0.5] as any), DTypeError, /indices must be integers/);
});

test('take_along_axis', () => {
  const x = np.array([[10, 30, 20], [60, 40, 50]]);
  const idx = np.expand_dims(np.argmax(x, 1), 1);
  assertArray(np.take_along_axis(x, idx, 1), [[30], [60]]);
  assertArray(np.takeAlongAxis(x, np.array([[2, 0], [-1, 1]]), -1), [[20, 10], [50, 40]]);
  assertArray(np.take_along_axis(x, np.array([[1, 0, 1]]), 0), [[60, 30, 50]]);
  assertArray(np.take_along_axis(x, np.array([[0], [1]]), 1), [[10], [40]]);
  assertArray(np.take_along_axis(x, np.array([[1]]), 0), [[60, 40, 50]]);
  assertArray(np.take_along_axis(np.array([[1.5, 2]]), np.array([[0, 3]]), 1), [[1.5, NaN]]);
  assertArray(np.take_along_axis(x, np.array([[3]]), 1, { mode: 'clip' }), [[20], [50]]);
  assertArray(np.take_along_axis(x, np.array([5, 0]), null), [50, 10]);
  assertThrows(() => np.take_along_axis(x, np.array([0]), 1), ShapeError, /must have the same rank as x/);
  assertThrows(() => np.take_along_axis(x, np.array([[0], [0], [0]]), 1), ShapeError, /cannot be broadcast outside axis 1/);
});

test('top_k, sort, argsort', () => {
  const x = np.array([[3, 1, 3, 2], [0, 5, -1, 5]]);
  const [v, i] = np.top_k(x, 2);
  assertArray(v, [[3, 3], [5, 5]], 'int32');
  assertArray(i, [[0, 2], [1, 3]], 'int32');
  const [v0] = np.topK(np.array([1.5, -2]), 0);
  assert.deepEqual(v0.shape, [0]);
  assertThrows(() => np.top_k(x, 5), ValueError, /k=5 must be an integer in 0\.\.4/);
  assertThrows(() => np.top_k(np.array(1), 1), ShapeError, /rank ≥ 1/);
  assertArray(np.sort(x), [[1, 2, 3, 3], [-1, 0, 5, 5]]);
  assertArray(np.argsort(x), [[1, 3, 0, 2], [2, 0, 1, 3]]);
  assertArray(np.sort(x, 0), [[0, 1, -1, 2], [3, 5, 3, 5]]);
  assertArray(np.sort(x, -1, { descending: true }), [[3, 3, 2, 1], [5, 5, 0, -1]]);
  assertArray(np.argsort(x, -1, { descending: true }), [[0, 2, 3, 1], [1, 3, 0, 2]]);
  assertArray(np.sort(np.array([0.5, -1.5, 0, 2])), [-1.5, 0, 0.5, 2]);
  assertArray(np.argsort(np.array([2.5, 1, 2.5, 1])), [1, 3, 0, 2]);
  assertArray(np.sort(np.array([5, -2147483648, 2147483647, 0])), [-2147483648, 0, 5, 2147483647]);
  assertArray(np.sort(np.array([4294967295, 0, 7], { dtype: 'uint32' })), [0, 7, 4294967295], 'uint32');
  assertArray(np.sort(np.array([true, false, true])), [false, true, true], 'bool');
});
