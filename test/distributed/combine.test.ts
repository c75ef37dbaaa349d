/**
 * Scheduling and combining collectives (src/distributed/spmd/combine.ts): a data-parallel
 * training step's gradient and loss all-reduces gather at one synchronization point and become
 * one all_reduce, with results bit-identical to the unscheduled program on the SPMD reference
 * interpreter; programs whose collectives depend on each other keep them; the size cap splits
 * combined operands into buckets; max-reductions combine separately from sums; a cheaply
 * computed collective the backward pass waits on (a global loss normalizer) is issued before the
 * forward pass, and optimizer work moves past the gradient all-reduce so that only the gradients
 * cross it.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, ShapeDtypeStruct, lax, makeGraph, np, valueAndGrad } from '../../src/index.js';
import { jitSharded } from '../../src/distributed/jit_sharded.js';
import { P, makeMeshShape, replicated } from '../../src/distributed/sharding/index.js';
import { countCollectives, evalSpmdReference, groupParams, scheduleCollectives, splitAtCollectives } from '../../src/distributed/spmd/index.js';
import { flatten } from '../../src/core/pytree.js';
import { Rng, rand, sameBits } from './fixtures/helpers.js';

const mm = (a: Array, b: Array) => lax.dotGeneral(a, b, { lhsContracting: [a.ndim - 1], rhsContracting: [0] });

function dataParallelStep() {
  const mesh = makeMeshShape({ data: 2 });
  const step = (p: { w: Array[] }, x: Array, y: Array) => {
    const [loss, g] = valueAndGrad((q: { w: Array[] }) => np.mean(np.square(np.subtract(mm(np.tanh(mm(x, q.w[0])), q.w[1]), y))))(p);
    return { p: { w: p.w.map((w, i) => np.subtract(w, np.multiply((g as { w: Array[] }).w[i], 0.1))) }, loss };
  };
  const r = new Rng(3);
  const params = { w: [rand(r, [4, 6]), rand(r, [6, 3])] };
  const rep = { w: params.w.map((w) => replicated(mesh, w.ndim)) };
  const f = jitSharded(step, { mesh, backend: 'spmd-reference', inShardings: [rep, P('data'), P('data')], outShardings: { p: rep, loss: P() } });
  const x = rand(r, [8, 4]);
  const y = rand(r, [8, 3]);
  const g = f.lower(params, x, y).partitioned.graph;
  const perDevice = [0, 1].map((d) => [...params.w, np.reshape(lax.slice(x, [4 * d, 0], [4 * d + 4, 4]), [4, 4]), np.reshape(lax.slice(y, [4 * d, 0], [4 * d + 4, 3]), [4, 3])]);
  return { mesh, g, perDevice };
}

test('a data-parallel step: 3 all-reduces (loss + 2 gradients) become one, bit-identical results', () => {
  const { mesh, g, perDevice } = dataParallelStep();
  assert.equal(countCollectives(g).all_reduce, 3);
  const { graph, stats } = scheduleCollectives(g);
  assert.deepEqual(stats, { collectivesBefore: 3, collectivesAfter: 1, syncPoints: 1 });
  assert.equal(countCollectives(graph).all_reduce, 1);
  assert.equal(splitAtCollectives(graph).segments.length, 2, 'one collective splits the program in two');
  const want = evalSpmdReference(g, mesh, perDevice);
  const got = evalSpmdReference(graph, mesh, perDevice);
  want.forEach((outs, d) => outs.forEach((o, j) => assert.ok(sameBits(got[d][j], o), `device ${d} output ${j}`)));
});

test('the size cap splits combined all-reduces into buckets; combine: false only reorders', () => {
  const { mesh, g, perDevice } = dataParallelStep();
  // operands: the loss (4 bytes), 4×6 and 6×3 floats (96 and 72 bytes)
  const capped = scheduleCollectives(g, { maxCombinedBytes: 100 });
  assert.equal(capped.stats.collectivesAfter, 2);
  assert.equal(capped.stats.syncPoints, 1);
  const plain = scheduleCollectives(g, { combine: false });
  assert.deepEqual(plain.stats, { collectivesBefore: 3, collectivesAfter: 3, syncPoints: 1 });
  const want = evalSpmdReference(g, mesh, perDevice);
  for (const s of [capped.graph, plain.graph]) {
    const got = evalSpmdReference(s, mesh, perDevice);
    want.forEach((outs, d) => outs.forEach((o, j) => assert.ok(sameBits(got[d][j], o))));
  }
});

test('dependent collectives stay apart; sum and max reductions are combined separately', () => {
  const mesh = makeMeshShape({ x: 2 });
  const gp = groupParams(mesh, ['x']);
  const g = makeGraph((a: Array, b: Array) => {
    const s1 = lax.allReduce(np.multiply(a, a), gp);
    const m1 = lax.allReduce(b, { ...gp, op: 'max' });
    const s2 = lax.allReduce(np.multiply(b, 2), gp);
    const m2 = lax.allReduce(np.negative(a), { ...gp, op: 'max' });
    const chained = lax.allReduce(np.add(s1, m2), gp); // needs s1 and m2 first: a second sync point
    return [s1, m1, s2, m2, chained];
  })(new ShapeDtypeStruct([3], 'float32'), new ShapeDtypeStruct([2, 2], 'float32'));
  const { graph, stats } = scheduleCollectives(g);
  assert.deepEqual(stats, { collectivesBefore: 5, collectivesAfter: 3, syncPoints: 2 });
  const r = new Rng(9);
  const args = [0, 1].map(() => [rand(r, [3]), rand(r, [2, 2])]);
  const want = evalSpmdReference(g, mesh, args);
  const got = evalSpmdReference(graph, mesh, args);
  want.forEach((outs, d) => outs.forEach((o, j) => assert.ok(sameBits(got[d][j], o), `device ${d} output ${j}`)));
});

test('a collective that cheap work feeds and the backward pass waits on (a loss normalizer) runs first; optimizer work sinks past the gradient all-reduce', () => {
  const mesh = makeMeshShape({ data: 2 });
  // a masked mean over the GLOBAL batch: the backward pass needs sum(mask) over all devices
  const step = (p: { w: Array[]; m: Array[] }, x: Array, y: Array, mask: Array) => {
    const loss = (w: Array[]) => np.divide(np.sum(np.multiply(np.sum(np.square(np.subtract(mm(np.tanh(mm(x, w[0])), w[1]), y)), -1), mask)), np.sum(mask));
    const [l, g] = valueAndGrad(loss)(p.w);
    const m = p.m.map((mi, i) => np.add(np.multiply(mi, 0.9), (g as Array[])[i]));
    return { p: { w: p.w.map((w, i) => np.subtract(w, np.multiply(m[i], 0.1))), m }, loss: l };
  };
  const r = new Rng(4);
  const params = { w: [rand(r, [4, 6]), rand(r, [6, 3])], m: [rand(r, [4, 6]), rand(r, [6, 3])] };
  const rep = { w: params.w.map((w) => replicated(mesh, w.ndim)), m: params.m.map((w) => replicated(mesh, w.ndim)) };
  const f = jitSharded(step, { mesh, backend: 'spmd-reference', inShardings: [rep, P('data'), P('data'), P('data')], outShardings: { p: rep, loss: P() } });
  const x = rand(r, [8, 4]);
  const y = rand(r, [8, 3]);
  const mask = np.array([1, 1, 0, 1, 1, 1, 1, 0], { dtype: 'float32' });
  const g = f.lower(params, x, y, mask).partitioned.graph;
  const { graph, stats } = scheduleCollectives(g);
  assert.equal(stats.syncPoints, 2, 'the normalizer, then the gradients (+ the loss)');
  const split = splitAtCollectives(graph);
  assert.equal(split.segments.length, 3);
  assert.ok(!split.segments[0].graph.eqns.some((e) => e.prim === 'dot_general'), 'the first cut comes before the forward pass');
  assert.equal(split.segments[0].outputIds.length, 1, 'only the normalizer crosses the first cut');
  assert.equal(split.segments[1].outputIds.length, 1, 'only the combined gradients cross the second cut (0.9·m is computed after it)');
  // against the unscheduled program, bit for bit
  const perDevice = [0, 1].map((d) => [...(flatten(params)[0] as Array[]), ...[x, y].map((a) => np.reshape(lax.slice(a, [4 * d, 0], [4 * d + 4, a.shape[1]]), [4, a.shape[1]])), lax.slice(mask, [4 * d], [4 * d + 4])]);
  const want = evalSpmdReference(g, mesh, perDevice);
  const got = evalSpmdReference(graph, mesh, perDevice);
  want.forEach((outs, d) => outs.forEach((o, j) => assert.ok(sameBits(got[d][j], o), `device ${d} output ${j}`)));
});
