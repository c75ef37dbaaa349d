/**
 * Tests for np products: matmul (vectors, batch broadcasting), dot/inner/outer/tensordot, and einsum (hand values, 3 operands, diagonals, ellipsis, errors).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { np, DTypeError, EinsumError, ShapeError, ValueError } from '../../src/index.js';
import { assertArray, assertClose, assertThrows, rand, refMatmul } from './util.js';

const a = np.array([[1, 2, 3], [4, 5, 6]]);
const b = np.array([[1, 0], [0, 1], [2, 3]]);

test('matmul of matrices and vectors (NumPy semantics)', () => {
  assertArray(np.matmul(a, b), [[7, 11], [16, 23]], 'int32');
  assertArray(a.matmul(b), [[7, 11], [16, 23]]);
  assertArray(np.matmul(np.array([1, 1]), a), [5, 7, 9]);
  assertArray(np.matmul(a, np.array([1, 0, 1])), [4, 10]);
  assertArray(np.matmul(np.array([1, 2, 3]), np.array([4, 5, 6])), 32);
  assertArray(np.matmul(a, np.array([[0.5], [0], [0]])), [[0.5], [2]], 'float32');
  assert.deepEqual(np.matmul(np.zeros([2, 0]), np.zeros([0, 3])).shape, [2, 3]);
  assertArray(np.matmul(np.zeros([2, 0]), np.zeros([0, 1])), [[0], [0]]);
});

test('matmul broadcasts batch dims', () => {
  const x = rand([2, 3, 4], 1), w = rand([4, 5], 2);
  const y = np.matmul(x, w);
  assert.deepEqual(y.shape, [2, 3, 5]);
  assertClose(y.slice(1), refMatmul(x.slice(1).toArray(), w.toArray()), { atol: 1e-6 });
  const m = rand([3, 4], 3), bw = rand([2, 4, 5], 4);
  const z = np.matmul(m, bw);
  assert.deepEqual(z.shape, [2, 3, 5]);
  assertClose(z.slice(0), refMatmul(m.toArray(), bw.slice(0).toArray()), { atol: 1e-6 });
  assertClose(z.slice(1), refMatmul(m.toArray(), bw.slice(1).toArray()), { atol: 1e-6 });
  const p = rand([2, 1, 3, 4], 5), q = rand([3, 4, 2], 6);
  const r = np.matmul(p, q);
  assert.deepEqual(r.shape, [2, 3, 3, 2]);
  assertClose(r.slice(1, 2), refMatmul(p.slice(1, 0).toArray(), q.slice(2).toArray()), { atol: 1e-6 });
  const v = np.matmul(rand([2, 3, 4], 7), rand([4], 8));
  assert.deepEqual(v.shape, [2, 3]);
  assert.deepEqual(np.matmul(rand([4], 9), rand([2, 4, 3], 10)).shape, [2, 3]);
});

test('matmul errors name the shapes', () => {
  assertThrows(() => np.matmul(a, a), ShapeError, /np\.matmul: contracting dimensions differ: \[2,3\] has 3 columns \(last dim\) but \[2,3\] has 2 rows/);
  assertThrows(() => np.matmul(np.ones([2, 2, 3]), np.ones([3, 3, 2])), ShapeError, /batch dimensions \[2\] of \[2,2,3\] and \[3\] of \[3,3,2\] cannot be broadcast/);
  assertThrows(() => np.matmul(a, 2), ValueError, /matmul does not accept scalars/);
  assertThrows(() => np.matmul(np.array([[true]]), np.array([[true]])), DTypeError, /matmul of bool arrays is not supported/);
});

test('dot, inner, vdot, outer, tensordot', () => {
  assertArray(np.dot(np.array([1, 2, 3]), np.array([4, 5, 6])), 32);
  assertArray(a.dot(b), [[7, 11], [16, 23]]);
  assertArray(np.dot(a, np.array([1, 1, 1])), [6, 15]);
  assertArray(np.dot(a, 2), [[2, 4, 6], [8, 10, 12]]);
  const x = rand([2, 3, 4], 11), y = rand([5, 4, 6], 12);
  const d = np.dot(x, y);
  assert.deepEqual(d.shape, [2, 3, 5, 6]);
  assertClose(d.slice(1, 2, 3), refMatmul([x.slice(1, 2).toArray()], y.slice(3).toArray())[0], { atol: 1e-6 });
  assertThrows(() => np.dot(a, a), ShapeError, /shapes \[2,3\] and \[2,3\] are not aligned/);
  assertArray(np.inner(a, np.array([1, 0, 1])), [4, 10]);
  assertArray(np.inner(a, a), [[14, 32], [32, 77]]);
  assertArray(np.vdot(a, a), 91);
  assertArray(np.outer(np.array([1, 2]), np.array([1, 10, 100])), [[1, 10, 100], [2, 20, 200]]);
  assertArray(np.outer(a, np.array([1])), [[1], [2], [3], [4], [5], [6]]);
  assertArray(np.tensordot(a, b, 1), [[7, 11], [16, 23]]);
  assertArray(np.tensordot(a, a, 2), 91);
  assertArray(np.tensordot(a, a, [[1], [1]]), [[14, 32], [32, 77]]);
  assertArray(np.tensordot(a, a, [0, 0]), [[17, 22, 27], [22, 29, 36], [27, 36, 45]]);
  assertArray(np.tensordot(a, np.array([7]), 0), [[[7], [14], [21]], [[28], [35], [42]]]);
  assertThrows(() => np.tensordot(a, b, [[0], [0]]), ShapeError, /axis 0 of \[2,3\] \(size 2\) does not match axis 0 of \[3,2\] \(size 3\)/);
});

test('einsum matches matmul, transposes and hand values', () => {
  assertArray(np.einsum('ij,jk->ik', a, b), [[7, 11], [16, 23]]);
  assertArray(np.einsum('ij,jk', a, b), [[7, 11], [16, 23]]);
  assertArray(np.einsum('ij->ji', a), [[1, 4], [2, 5], [3, 6]]);
  assertArray(np.einsum('ba', a), [[1, 4], [2, 5], [3, 6]]);
  assertArray(np.einsum('ij', a), [[1, 2, 3], [4, 5, 6]]);
  assertArray(np.einsum('ij->', a), 21);
  assertArray(np.einsum('ij->j', a), [5, 7, 9]);
  assertArray(np.einsum('i,i->', np.array([1, 2, 3]), np.array([4, 5, 6])), 32);
  assertArray(np.einsum('i,i->i', np.array([1, 2, 3]), np.array([4, 5, 6])), [4, 10, 18]);
  assertArray(np.einsum('i,j->ij', np.array([1, 2]), np.array([3, 4, 5])), [[3, 4, 5], [6, 8, 10]]);
  assertArray(np.einsum('i,j', np.array([1, 2]), np.array([3])), [[3], [6]]);
  assertArray(np.einsum(',ij->ij', 2, a), [[2, 4, 6], [8, 10, 12]]);
  assertArray(np.einsum(' ij , jk -> ki ', a, b), [[7, 16], [11, 23]]);
  const q = rand([2, 3, 4, 5], 21), k = rand([2, 3, 6, 5], 22);
  const s = np.einsum('bhqd,bhkd->bhqk', q, k);
  assertClose(s, np.matmul(q, np.swapaxes(k, -1, -2)).toArray(), { atol: 1e-6 });
});

test('einsum with three operands, diagonals and traces', () => {
  const x = rand([2, 3], 31), y = rand([3, 4], 32), z = rand([4, 5], 33);
  assertClose(np.einsum('ij,jk,kl->il', x, y, z), np.matmul(np.matmul(x, y), z).toArray(), { atol: 1e-6 });
  assertClose(np.einsum('ij,jk,kl', x, y, z), np.matmul(np.matmul(x, y), z).toArray(), { atol: 1e-6 });
  // an index shared by the first and third operands only
  const u = np.array([1, 2]), v = np.array([[1, 2, 3]]), w = np.array([[1, 1], [2, 0], [0, 3]]);
  // out = sum_{i,j} u[i] v[0,j] w[j,i] = u·(vw) = [1,2]·[5,10] = 25
  assertArray(np.einsum('i,aj,ji->a', u, v, w), [25]);
  const m = np.arange(9).reshape([3, 3]);
  assertArray(np.einsum('ii->i', m), [0, 4, 8]);
  assertArray(np.einsum('ii->', m), 12);
  assertArray(np.einsum('ii', m), 12);
  assertArray(np.einsum('iji->j', np.arange(8).reshape([2, 2, 2])), [0 + 5, 2 + 7]);
  assertArray(np.einsum('bii->bi', np.arange(8).reshape([2, 2, 2])), [[0, 3], [4, 7]]);
  assertArray(np.einsum('ii,i->i', m, np.array([1, 10, 100])), [0, 40, 800]);
  assertArray(np.einsum('iii->i', np.arange(8).reshape([2, 2, 2])), [0, 7]);
});

test('einsum ellipsis and size-1 broadcasting', () => {
  const x = rand([2, 1, 3, 4], 41), y = rand([5, 4, 2], 42);
  const e = np.einsum('...ij,...jk->...ik', x, y);
  assert.deepEqual(e.shape, [2, 5, 3, 2]);
  assertClose(e, np.matmul(x, y).toArray(), { atol: 1e-6 });
  assertArray(np.einsum('...i->...', a), [6, 15]);
  assertArray(np.einsum('i...->...', a), [5, 7, 9]);
  assert.deepEqual(np.einsum('...ij->ji...', np.arange(6).reshape([1, 2, 3])).shape, [3, 2, 1]);
  assertArray(np.einsum('...,...', np.array([1, 2]), np.array([[3], [4]])), [[3, 6], [4, 8]]);
  assertArray(np.einsum('ij,ij->ij', np.array([[1, 2]]), np.array([[1], [2]])), [[1, 2], [2, 4]]);
  assertArray(np.einsum('...i->i', a), [5, 7, 9]);
  assertArray(np.einsum('ij,jk->ik', np.array([[true, false]]), np.array([[true], [true]])), [[true]], 'bool');
});

test('einsum errors explain the fix', () => {
  assertThrows(() => np.einsum('ij,jk->ik', a), EinsumError, /'ij,jk->ik' names 2 operands but 1 was given/);
  assertThrows(() => np.einsum('ijk,jk->ik', a, b), EinsumError, /operand 0 has shape \[2,3\] \(rank 2\) but its subscripts 'ijk' name 3 dims; give one letter per dim, or use '\.\.\.'/);
  assertThrows(() => np.einsum('ij,jk->ik', a, a), EinsumError, /index 'j' has size 3 in operand 0 \(shape \[2,3\]\) but 2 in operand 1 \(shape \[2,3\]\)/);
  assertThrows(() => np.einsum('ij,jk->iz', a, b), EinsumError, /output index 'z' does not appear in any input/);
  assertThrows(() => np.einsum('ij,jk->ii', a, b), EinsumError, /output index 'i' appears more than once/);
  assertThrows(() => np.einsum('ij->j->i', a), EinsumError, /more than one '->'/);
  assertThrows(() => np.einsum('i1', a), EinsumError, /invalid character '1' in operand 0 term 'i1'/);
  assertThrows(() => np.einsum('..i', a), EinsumError, /an ellipsis is exactly three dots/);
  assertThrows(() => np.einsum('...i...', a), EinsumError, /more than one '\.\.\.'/);
  assertThrows(() => np.einsum('ii', a), EinsumError, /repeats index 'i' on dims of sizes 2 and 3; a repeated index takes the diagonal/);
  assertThrows(() => np.einsum('ij-jk', a, b), EinsumError, /stray/);
  const err = assertThrows(() => np.einsum('ij', a, b), EinsumError, /names 1 operand but 2 were given/);
  assert.match(err.message, /\n {2}at test\/np\/linalg\.test\.ts:\d+:\d+/);
});
