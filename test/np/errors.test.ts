/**
 * Tests for np error messages: they name the function, the axis/rank or both shapes, say how to fix the call, and point at the user's source line.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { np, makeGraph, ShapeDtypeStruct, AxisError, DTypeError, EinsumError, ShapeError, ValueError, MyriadError } from '../../src/index.js';
import { assertThrows } from './util.js';

/** The line number of the caller (for asserting that errors point at the user's line). */
function callerLine(): number {
  const frame = new Error().stack!.split('\n')[2];
  return Number(/:(\d+):\d+\)?$/.exec(frame)![1]);
}

const x = np.ones([2, 3]);

test('axis errors name the axis and the rank, at the user line', () => {
  let line = 0;
  const e = assertThrows(() => { line = callerLine(); return np.sum(x, 5); }, AxisError, /^np\.sum: axis 5 is out of range for an array of rank 2 \(valid: -2\.\.1\)/);
  assert.match(e.message, new RegExp(`\\n  at test/np/errors\\.test\\.ts:${line}:\\d+$`));
  assertThrows(() => x.mean(-3), AxisError, /^np\.mean: axis -3 is out of range for an array of rank 2/);
  assertThrows(() => np.softmax(x, 2), AxisError, /^np\.softmax: axis 2 is out of range/);
  assertThrows(() => np.argmax(x, 2), AxisError, /^np\.argmax: axis 2 is out of range/);
  assertThrows(() => np.cumsum(x, -3), AxisError, /^np\.cumsum: axis -3/);
  assertThrows(() => np.concatenate([x, x], 2), AxisError, /^np\.concatenate: axis 2/);
  assertThrows(() => np.take(x, [0], { axis: 7 }), AxisError, /^np\.take: axis 7 is out of range for an array of rank 2/);
  assertThrows(() => np.sum(x, 1.5), AxisError, /axis 1\.5 is out of range/);
});

test('broadcast errors name both shapes, also inside traces', () => {
  let line = 0;
  const e = assertThrows(() => { line = callerLine(); return np.multiply(x, np.ones([4])); }, ShapeError, /^np\.multiply: shapes \[2,3\] and \[4\] cannot be broadcast together \(dimension -1 has sizes 3 and 4\)/);
  assert.match(e.message, new RegExp(`at test/np/errors\\.test\\.ts:${line}:`));
  const t = assertThrows(() => makeGraph((a) => np.where(np.greater(a, 0), a, np.zeros([3, 3])))(new ShapeDtypeStruct([2, 3])), ShapeError, /^np\.where: shapes \[2,3\] and \[2,3\] and \[3,3\] cannot be broadcast/);
  assert.match(t.message, /at test\/np\/errors\.test\.ts:\d+:\d+/);
  assertThrows(() => x.add(np.ones([3, 2])), ShapeError, /^np\.add: shapes \[2,3\] and \[3,2\]/);
});

test('errors from primitives inside np functions keep the primitive annotation and location', () => {
  const e = assertThrows(() => np.einsum('ij,jk->ik', np.array([[1, 2]]), np.array([[1], [2]], { dtype: 'uint32' })), DTypeError, /^np\.einsum: mixing int32 and uint32/);
  assert.match(e.message, /at test\/np\/errors\.test\.ts:\d+:\d+/);
  const g = assertThrows(() => np.exp(np.array(['a'] as any)), ValueError, /^np\.array: element \[0\] is the string "a"/);
  assert.ok(g instanceof MyriadError);
});

test('dtype, einsum and value errors say how to fix', () => {
  assertThrows(() => np.bitwise_or(np.ones([2]), 1), DTypeError, /np\.bitwise_or: bitwise_or needs integer or bool operands, got float32; convert with astype\('int32'\)/);
  assertThrows(() => np.einsum('ab,bc->ac', x, x), EinsumError, /np\.einsum: 'ab,bc->ac': index 'b' has size 3 in operand 0 \(shape \[2,3\]\) but 2 in operand 1/);
  assertThrows(() => np.reshape(x, [4, 2]), ShapeError, /np\.reshape: cannot reshape \[2,3\] \(6 elements\) to \[4,2\] \(8 elements\)/);
  assertThrows(() => np.squeeze(x, 0), ShapeError, /np\.squeeze: cannot squeeze axis 0 of an array of shape \[2,3\]: its size is 2, not 1/);
  assertThrows(() => np.exp('1' as any), ValueError, /np\.exp: operand must be an array, number or boolean, got the string "1"/);
  assertThrows(() => np.where(x as any, 1, undefined as any), ValueError, /np\.where: where needs three arguments/);
  assertThrows(() => np.max(np.zeros([0])), ValueError, /np\.max: zero-size reduction: max over axis 0 of shape \[0\] has no identity/);
});
