/**
 * Tests for np under transformations: traced graphs contain the expected primitives, traced and eager results agree, gradients match finite differences.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { np, makeGraph, evalGraph, grad, checkGrads, ShapeDtypeStruct, type Array } from '../../src/index.js';
import { assertArray, assertClose, prims, rand } from './util.js';

const S = (shape: number[], dtype: 'float32' | 'int32' = 'float32') => new ShapeDtypeStruct(shape, dtype);
const f64 = (x: Array) => x.astype('float64');

test('np functions trace to the expected primitives', () => {
  const g = makeGraph((w: Array, x: Array) => np.mean(np.tanh(np.matmul(x, w))))(S([4, 3]), S([2, 4]));
  assert.deepEqual(prims(g), ['dot_general', 'tanh', 'reduce_sum', 'div']);
  const s = makeGraph((x: Array) => np.softmax(x))(S([2, 3]));
  assert.deepEqual(prims(s).filter((p) => !['broadcast_in_dim', 'reshape'].includes(p)), ['reduce_max', 'stop_gradient', 'is_finite', 'select', 'sub', 'exp', 'reduce_sum', 'div']);
  assert.deepEqual(prims(makeGraph(() => np.arange(4))()), ['iota']);
  assert.deepEqual(prims(makeGraph(() => np.eye(3))()), ['iota', 'iota', 'eq', 'convert_element_type']);
  const e = makeGraph((a: Array, b: Array, c: Array) => np.einsum('ij,jk,kl->il', a, b, c))(S([2, 3]), S([3, 4]), S([4, 5]));
  assert.deepEqual(prims(e), ['dot_general', 'dot_general']);
  assert.deepEqual(e.outAvals[0].shape, [2, 5]);
  const t = makeGraph((x: Array, i: Array) => np.take(x, i, { axis: 0, mode: 'clip' }))(S([5, 3]), S([2], 'int32'));
  assert.ok(prims(t).includes('gather'));
  const m = makeGraph((x: Array) => x.add(1).mul(2).sum(-1, { keepdims: true }))(S([2, 3]));
  assert.deepEqual(prims(m), ['broadcast_in_dim', 'add', 'broadcast_in_dim', 'mul', 'reduce_sum', 'reshape']);
});

test('traced and eager evaluation agree (incl. paths only taken for traced indices)', () => {
  const x = rand([4, 3], 1);
  const idx = np.array([0, -1, 7, 2]);
  for (const mode of ['fill', 'clip', 'wrap'] as const) {
    const f = (a: Array, i: Array) => np.take(a, i, { axis: 0, mode });
    const g = makeGraph(f)(x, idx);
    assert.deepEqual(evalGraph(g, [x, idx])[0].toArray(), f(x, idx).toArray());
  }
  const f = (a: Array) => np.dynamicSlice(a, [np.argmax(a.slice(null, 0)), 0], [1, 3]);
  assert.deepEqual(evalGraph(makeGraph(f)(x), [x])[0].toArray(), f(x).toArray());
  const neg = (a: Array, i: Array) => np.dynamicSlice(a, [i, 0], [1, 3]);
  const i = np.array(-1);
  assert.deepEqual(evalGraph(makeGraph(neg)(x, i), [x, i])[0].toArray(), x.slice([-1, null]).toArray());
});

test('gradients of activations at their kinks and stable forms', () => {
  const f32 = (v: number | number[]) => np.array(v, { dtype: 'float32' });
  assertArray(grad((x: Array) => np.softplus(x))(f32(0)), 0.5);
  assertArray(grad((x: Array) => np.sum(np.relu(x)))(f32([0, 1, -1])), [0, 1, 0]);
  assertClose(grad((x: Array) => np.logsumexp(x))(f32([1e4, 1e4])), [0.5, 0.5]);
  assertClose(grad((x: Array) => np.log_softmax(x).slice(0))(f32([1e4, 1e4, -1e4])), [0.5, -0.5, 0]);
  assertClose(grad((x: Array) => np.sum(np.elu(x)))(f32([-1000, 1000])), [0, 1]);
  assertClose(grad((x: Array) => np.logaddexp(x, 0))(f32(0)), 0.5);
  assertClose(grad((x: Array) => np.sum(np.power(x, 3)))(f32([2, -1])), [12, 3]);
});

test('gradients match finite differences (float64)', () => {
  const x = f64(rand([3, 4], 2));
  const y = f64(rand([4, 2], 3));
  checkGrads((a: Array) => np.softmax(a), [x]);
  checkGrads((a: Array) => np.softmax(a, 0), [x]);
  checkGrads((a: Array) => np.log_softmax(a), [x]);
  checkGrads((a: Array) => np.logsumexp(a, 1), [x]);
  checkGrads((a: Array) => np.gelu(a), [x]);
  checkGrads((a: Array) => np.gelu(a, { approximate: false }), [x]);
  checkGrads((a: Array) => np.softplus(a), [x]);
  checkGrads((a: Array) => np.silu(a), [x]);
  checkGrads((a: Array) => np.log_sigmoid(a), [x]);
  checkGrads((a: Array, b: Array) => np.matmul(a, b), [x, y]);
  checkGrads((a: Array, b: Array) => np.einsum('ij,jk->ki', a, b), [x, y]);
  checkGrads((a: Array) => np.einsum('ii->i', a.slice(null, [0, 3])), [x]);
  checkGrads((a: Array, b: Array, c: Array) => np.einsum('ij,jk,kl->il', a, b, c), [x, y, f64(rand([2, 3], 4))]);
  checkGrads((a: Array) => np.var(a, 1, { ddof: 1 }), [x]);
  checkGrads((a: Array) => np.std(a, 0), [x]);
  checkGrads((a: Array) => np.prod(a, 1), [x]);
  checkGrads((a: Array) => np.logaddexp(a, a.T.reshape([3, 4])), [x]);
  checkGrads((a: Array) => np.take(a, np.array([2, 0, 2, -1]), { axis: 1 }), [x]);
  checkGrads((a: Array) => np.take_along_axis(a, np.array([[1], [3], [0]]), 1), [x]);
  checkGrads((a: Array) => a.slice([null, null, -1], [3, 0, -2]), [x]);
  checkGrads((a: Array) => np.pad(a, [[1, 0], [0, 2]], { constant_values: 3 }), [x]);
  checkGrads((a: Array) => np.concatenate([a, np.square(a)], 1), [x]);
  checkGrads((a: Array) => np.cumsum(a, 1, { reverse: true }), [x]);
  checkGrads((a: Array) => np.clip(a, -0.5, 0.5), [x]);
  checkGrads((a: Array) => np.where(np.greater(a, 0), np.exp(a), np.sin(a)), [x]);
  checkGrads((a: Array) => np.remainder(a, 0.3), [x]);
  checkGrads((a: Array) => np.power(np.abs(a), 1.5), [x]);
  checkGrads((a: Array) => np.sort(a, 0), [x]);
  checkGrads((a: Array) => np.top_k(a, 2)[0], [x]);
  checkGrads((a: Array) => np.dynamicUpdateSlice(a, np.ones([1, 2], 'float64'), [1, 2]), [x]);
  checkGrads((a: Array) => np.tile(np.roll(a, 1, 1), [2, 1]), [x]);
  checkGrads((a: Array) => np.mean(np.tanh(np.matmul(a, y))), [x], { order: 2 });
});
