/**
 * Partitioned programs on the worker runtime (jitSharded with the default 'runtime' backend): on
 * 2 devices ({x: 2}) and 4 devices ({data: 2, model: 2}), a subset of the property cases —
 * reductions and argmax/top_k/cumsum along uneven split dims, a reshape that moves a split
 * (all-to-all), a vocab-split embedding, a Megatron MLP block and a data-parallel training step
 * — equals the unpartitioned result (exact for integers, float tolerance for ONNX Runtime's
 * kernels), and equals the same per-device program on the SPMD reference interpreter.
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, lax, np, random, valueAndGrad } from '../../src/index.js';
import { jitSharded } from '../../src/distributed/jit_sharded.js';
import { P } from '../../src/distributed/sharding/index.js';
import { Mesh, ShardedArray } from '../../src/runtime/index.js';
import { Rng, rand } from './fixtures/helpers.js';

let mesh2: Mesh;
let mesh4: Mesh;
before(async () => {
  mesh2 = new Mesh({ x: 2 });
  mesh4 = new Mesh({ data: 2, model: 2 });
  await Promise.all([mesh2.ready(), mesh4.ready()]);
});
after(async () => {
  await mesh2?.close();
  await mesh4?.close();
});

const mm = (a: Array, b: Array) => lax.dotGeneral(a, b, { lhsContracting: [a.ndim - 1], rhsContracting: [0] });

function close(got: Array, want: Array, tol: number): void {
  assert.deepEqual(got.shape, want.shape);
  assert.equal(got.dtype, want.dtype);
  const g = got.dataSync(), w = want.dataSync();
  for (let i = 0; i < w.length; i++) {
    if (g[i] === w[i]) continue;
    assert.ok(tol > 0 && Math.abs(g[i] - w[i]) <= tol * (1 + Math.abs(w[i])), `element ${i}: ${g[i]} vs ${w[i]}`);
  }
}

/** Runs `f` partitioned on the runtime and on the reference interpreter; both equal the unpartitioned result. */
async function check(mesh: () => Mesh, f: (...a: any[]) => any, args: any[], inShardings: unknown[], outShardings?: unknown, tol = 1e-5): Promise<void> {
  const m = mesh();
  const onRuntime = jitSharded(f, { mesh: m, inShardings, outShardings, gather: true });
  const onRef = jitSharded(f, { mesh: m.shape, backend: 'spmd-reference', inShardings, outShardings, gather: true });
  const [a, b] = [await onRuntime(...args), await onRef(...args)];
  const want = f(...args);
  const flat = (x: unknown): Array[] => (x instanceof Array ? [x] : globalThis.Array.isArray(x) ? x.flatMap(flat) : Object.keys(x as object).sort().flatMap((k) => flat((x as Record<string, unknown>)[k])));
  const [fa, fb, fw] = [flat(a), flat(b), flat(want)];
  fw.forEach((w, i) => {
    close(fa[i], w, w.dtype === 'float32' ? tol : 0);
    close(fb[i], w, w.dtype === 'float32' ? 1e-5 : 0);
  });
  onRuntime.close();
}

describe('partitioned programs on worker devices', () => {
  const r = new Rng(11);
  test('2 devices: max/min/argmax/top_k/cumsum along an uneven split dim', async () => {
    const x = rand(r, [3, 7]);
    const xi = np.array(globalThis.Array.from({ length: 21 }, () => r.int(-3, 3)), { dtype: 'int32' }).reshape([3, 7]);
    const f = (a: Array, b: Array) => [lax.reduceMax(a, [1]), lax.reduceMin(b, [1]), lax.argmax(b, 1), ...lax.topK(a, 3), lax.cumsum(a, 1, true), lax.cumsum(b, 1)];
    await check(() => mesh2, f, [x, xi], [P(null, 'x'), P(null, 'x')]);
  });

  test('2 devices: reshape moving a split (all-to-all), transpose, pad and a vocab-split embedding', async () => {
    const x = rand(r, [4, 6]);
    const table = rand(r, [9, 4]);
    const ids = np.array([0, 8, 3, 5, 9, -1], { dtype: 'int32' });
    const f = (a: Array, t: Array, i: Array) => [np.tanh(lax.reshape(lax.transpose(a, [1, 0]), [2, 12])), lax.pad(a, 0.5, [1, 0], [0, 2]), lax.gather(t, i, 0)];
    await check(() => mesh2, f, [x, table, ids], [P(null, 'x'), P('x'), P()], [P(null, 'x'), P('x'), P()]);
  });

  test('4 devices: Megatron MLP block', async () => {
    const block = (x: Array, w1: Array, b1: Array, w2: Array) => np.add(x, mm(np.maximum(np.add(mm(x, w1), b1), 0), w2));
    await check(() => mesh4, block, [rand(r, [6, 8]), rand(r, [8, 10]), rand(r, [10]), rand(r, [10, 8])], [P('data'), P(null, 'model'), P('model'), P('model', null)]);
  });

  test('4 devices: data-parallel training step on a 2×2 mesh (batch over data, hidden over model)', async () => {
    const loss = (p: Record<string, Array>, x: Array, y: Array) => np.mean(np.square(np.subtract(mm(np.tanh(mm(x, p.w1)), p.w2), y)));
    const step = (p: Record<string, Array>, x: Array, y: Array) => {
      const [l, g] = valueAndGrad(loss)(p, x, y) as [Array, Record<string, Array>];
      return [l, { w1: np.subtract(p.w1, np.multiply(g.w1, 0.1)), w2: np.subtract(p.w2, np.multiply(g.w2, 0.1)) }];
    };
    const p = { w1: rand(r, [5, 6]), w2: rand(r, [6, 3]) };
    await check(() => mesh4, step, [p, rand(r, [7, 5]), rand(r, [7, 3])], [{ w1: P(null, 'model'), w2: P('model') }, P('data'), P('data')], undefined, 1e-4);
  });

  test('4 devices: sharded random numbers equal the unsharded ones', async () => {
    const f = (k: Array) => random.normal(k, [6, 5]);
    const jf = jitSharded(f, { mesh: mesh4, outShardings: P('model', 'data') });
    const out: ShardedArray = await jf(random.key(3));
    assert.deepEqual(out.shards[0].shape, [3, 3]);
    close(out.gather(), f(random.key(3)), 1e-6);
    jf.close();
  });
});
