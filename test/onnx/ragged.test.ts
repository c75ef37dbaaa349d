/**
 * The ONNX lowering of row-grouped values: a ragged_dot result is kept as per-group pieces,
 * elementwise ops apply piece by piece, and a following ragged op of the same grouping reads its
 * rows from the pieces (no Concat + Slice between the matmuls of an expert FFN). Checked against
 * the reference interpreter on chains whose group sizes leave rows past the last group (where
 * an elementwise op makes them nonzero) or exceed M, forward and through the VJP, and by counting
 * the Slice/Concat nodes of the lowered model.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, lax, makeGraph, np, random, vjp } from '../../src/index.js';
import { evalGraphReference } from '../../src/backends/reference/index.js';
import { OnnxExecutable, lowerGraph } from '../../src/backends/onnx/index.js';
import onnxProto from 'onnx-proto';

/** x → ragged_dot(W1) → tanh(·)·0.5 + 1 → ragged_dot(W2ᵀ); returns the middle value too. */
function chain(x: Array, w1: Array, w2: Array, gs: Array): Array[] {
  const h = lax.raggedDot(x, w1, gs);
  const a = np.add(np.multiply(np.tanh(h), 0.5), 1);
  return [lax.raggedDot(a, w2, gs, { transposeRhs: true }), a];
}

function close(got: Array, want: Array, what: string): void {
  const g = got.dataSync(), w = want.dataSync();
  assert.equal(g.length, w.length, what);
  let scale = 0;
  for (const v of w) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < w.length; i++) assert.ok(Math.abs(g[i] - w[i]) <= 1e-5 * (1 + scale), `${what}: element ${i} is ${g[i]}, reference ${w[i]}`);
}

function run(fn: (...xs: Array[]) => Array[], args: Array[], what: string): Uint8Array {
  const graph = makeGraph(fn)(...args);
  const want = evalGraphReference(graph, args);
  const exe = OnnxExecutable.createSync(graph);
  try {
    exe.runSync(args).forEach((o, i) => close(o, want[i], `${what}: output ${i}`));
  } finally {
    exe.close();
  }
  return lowerGraph(graph).model;
}

const sizesCases: [string, number[]][] = [
  ['groups short of M (tail rows become 1 after the activation)', [3, 0, 4]],
  ['groups exactly M', [5, 2, 5]],
  ['groups past M (clipped)', [6, 9, 1]],
];

for (const [label, sizes] of sizesCases) {
  test(`ragged chain equals the reference: ${label}`, () => {
    const M = 12, K = 5, N = 7, G = sizes.length;
    const x = random.normal(random.key(1), [M, K]);
    const w1 = random.normal(random.key(2), [G, K, N]);
    const w2 = random.normal(random.key(3), [G, K, N]);
    const gs = np.array(sizes, { dtype: 'int32' });
    run(chain, [x, w1, w2, gs], `forward, sizes ${sizes}`);
    const ct = random.normal(random.key(4), [M, K]);
    const ctMid = random.normal(random.key(5), [M, N]);
    // the pullback: ragged_dot / ragged_contract on pieces of the backward values
    run((xx, a, b, g) => {
      const [, pull] = vjp((p: Array, q: Array, r: Array) => chain(p, q, r, g), xx, a, b);
      return pull([ct, ctMid]) as Array[];
    }, [x, w1, w2, gs], `vjp, sizes ${sizes}`);
  });
}

test('between the two matmuls of a chain there is no Concat or row Slice of the middle value', () => {
  const M = 16, K = 4, N = 6, G = 3;
  const args = [random.normal(random.key(6), [M, K]), random.normal(random.key(7), [G, K, N]), random.normal(random.key(8), [G, K, N]), np.array([5, 6, 5], { dtype: 'int32' })];
  const count = (model: Uint8Array) => {
    const m = onnxProto.onnx.ModelProto.decode(model);
    const ops = (m.graph?.node ?? []).map((n) => n.opType);
    return { concat: ops.filter((o) => o === 'Concat').length, gemm: ops.filter((o) => o === 'Gemm').length, slice: ops.filter((o) => o === 'Slice').length };
  };
  // only the final result is returned: the middle value is never concatenated
  const only = count(run((x, a, b, g) => [chain(x, a, b, g)[0]], args, 'final only'));
  // returning the middle value too concatenates it once (for the output), nothing more
  const both = count(run(chain, args, 'both'));
  assert.equal(only.gemm, 2 * G);
  assert.equal(both.concat, only.concat + 1, `returning the middle value adds exactly one Concat (${JSON.stringify({ only, both })})`);
  // row slices: only the input x is sliced per group; the middle value is read from its pieces
  assert.equal(both.slice, only.slice);
});

test('OnnxExecutable feeds grouped-matmul weights as per-group views and returns weight gradients per group; exports keep whole tensors', () => {
  const M = 10, K = 3, N = 4, G = 3;
  const x = random.normal(random.key(9), [M, K]);
  const w1 = random.normal(random.key(10), [G, K, N]);
  const w2 = random.normal(random.key(11), [G, K, N]);
  const gs = np.array([4, 3, 2], { dtype: 'int32' });
  const ct = random.normal(random.key(12), [M, K]);
  // weight gradients of the chain: w1, w2 only feed ragged_dot; their cotangents are ragged_contracts
  const fn = (xx: Array, a: Array, b: Array, g: Array) => {
    const [, pull] = vjp((q: Array, r: Array) => [chain(xx, q, r, g)[0]], a, b);
    return pull([ct]) as Array[];
  };
  const args = [x, w1, w2, gs];
  const graph = makeGraph(fn)(...args);
  const want = evalGraphReference(graph, args);
  const exe = OnnxExecutable.createSync(graph);
  try {
    assert.deepEqual(exe.lowered.inputPieces?.map((p) => p?.length ?? 0), [0, G, G, 0]);
    assert.deepEqual(exe.lowered.outputPieces?.map((p) => p?.length ?? 0), [G, G]);
    exe.runSync(args).forEach((o, i) => close(o, want[i], `gradient ${i}`));
    // into given buffers (the donation pool's path): each gradient lands in its buffer
    const bufs = want.map((w) => new Float32Array(w.size));
    const got = exe.runSync(args, { outputs: bufs });
    got.forEach((o, i) => {
      assert.equal(o._data, bufs[i]);
      close(o, want[i], `gradient ${i} into a given buffer`);
    });
  } finally {
    exe.close();
  }
  const exported = lowerGraph(graph);
  assert.equal(exported.inputPieces, undefined);
  assert.equal(exported.outputPieces, undefined);
});
