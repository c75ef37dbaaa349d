import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tree, PytreeError } from '../../src/index.js';

test('flatten sorts object keys and unflatten rebuilds', () => {
  const t = { w: [1, 2], b: { z: 3, a: 4 }, n: null };
  const [leaves, def] = tree.flatten(t);
  assert.deepEqual(leaves, [4, 3, 1, 2]);
  assert.deepEqual(tree.unflatten(def, leaves), t);
  assert.equal(tree.treedefToString(def), '{b: {a: *, z: *}, n: null, w: [*, *]}');
});

test('structure equality ignores key order, not shape', () => {
  assert.ok(tree.structureEqual({ a: 1, b: [2] }, { b: [5], a: 7 }));
  assert.ok(!tree.structureEqual({ a: 1, b: [2] }, { a: 1, b: [2, 3] }));
  assert.ok(!tree.structureEqual([1], { 0: 1 }));
});

test('map over several trees, with a clear error on mismatch', () => {
  assert.deepEqual(tree.map((a: number, b: number) => a + b, { x: 1, y: [2, 3] }, { x: 10, y: [20, 30] }), { x: 11, y: [22, 33] });
  assert.throws(() => tree.map((a: number, b: number) => a + b, { x: 1 }, { y: 1 }), (e: unknown) => e instanceof PytreeError && /tree 1 has structure \{y: \*\}, but the first tree has \{x: \*\}/.test((e as Error).message));
});

test('leaves, reduce, numLeaves; unflatten checks leaf count', () => {
  const t = [{ a: 1 }, 2, [3, [4]]];
  assert.deepEqual(tree.leaves(t), [1, 2, 3, 4]);
  assert.equal(tree.reduce((s: number, l: number) => s + l, t, 0), 10);
  assert.equal(tree.numLeaves(tree.structure(t)), 4);
  assert.throws(() => tree.unflatten(tree.structure(t), [1, 2]), PytreeError);
});
