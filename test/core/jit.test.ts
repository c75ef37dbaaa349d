import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, jit, np, grad, valueAndGrad, makeGraph, ShapeDtypeStruct } from '../../src/index.js';

const f32 = (data: number[], shape: number[]) => Array.fromData(new Float32Array(data), shape);

test('jit caches per signature and retraces on a new shape', () => {
  const f = jit((x: Array, y: Array) => np.add(np.multiply(x, 2), y), { backend: 'reference' });
  const a = f(f32([1, 2], [2]), f32([10, 20], [2]));
  assert.deepEqual(a.toArray(), [12, 24]);
  f(f32([3, 4], [2]), f32([0, 0], [2]));
  assert.equal(f.stats.traces, 1);
  assert.equal(f.stats.hits, 1);
  f(f32([1, 2, 3], [3]), f32([0, 0, 0], [3]));
  assert.equal(f.stats.traces, 2);
});

test('jit with static arguments and pytrees in and out', () => {
  let traced = 0;
  const f = jit(
    (p: { w: Array; b: Array }, scale: number) => {
      traced++;
      return { y: np.multiply(np.add(p.w, p.b), scale), n: [np.sum(p.w)] };
    },
    { staticArgnums: 1, backend: 'reference' },
  );
  const p = { w: f32([1, 2], [2]), b: f32([1, 1], [2]) };
  const r = f(p, 3);
  assert.deepEqual(r.y.toArray(), [6, 9]);
  assert.deepEqual(r.n[0].toArray(), 3);
  f(p, 3);
  assert.equal(traced, 1);
  assert.deepEqual(f(p, 4).y.toArray(), [8, 12]);
  assert.equal(traced, 2);
});

test('jit composes with grad both ways', () => {
  const loss = (w: Array) => np.sum(np.square(w));
  const g1 = jit(valueAndGrad(loss), { backend: 'reference' });
  const [v, g] = g1(f32([1, 2], [2]));
  assert.equal(v.item(), 5);
  assert.deepEqual(g.toArray(), [2, 4]);
  const g2 = grad(jit(loss, { backend: 'reference' }));
  assert.deepEqual(g2(f32([3, 4], [2])).toArray(), [6, 8]);
  const graph = makeGraph(jit(loss))(new ShapeDtypeStruct([2]));
  assert.match(graph.toString(), /reduce_sum/);
});

test('a changed argument that breaks the traced function is named in the error', () => {
  const f = jit((p: { w: Array }) => np.sum(p.w), { backend: 'reference' });
  f({ w: f32([1], [1]) });
  assert.throws(
    () => f({ v: f32([1], [1]) } as unknown as { w: Array }),
    (e: unknown) => /argument 0 was \{argument 0\.w: f32\[1\]\} and is now \{argument 0\.v: f32\[1\]\}/.test((e as Error).message),
  );
});

test('unknown backend is a clear error', () => {
  assert.throws(() => jit((x: Array) => x, { backend: 'tpu' })(f32([1], [1])), /unknown backend "tpu"; registered backends: reference/);
});

test('donated arguments are consumed and their buffers recycled (onnx backend)', () => {
  const step = jit((p: { w: Array }, g: Array) => ({ w: np.subtract(p.w, np.multiply(g, 0.5)) }), { donateArgnums: 0 });
  let p = { w: f32([1, 2, 3, 4], [4]) };
  const g = f32([1, 1, 1, 1], [4]);
  const first = p;
  for (let i = 0; i < 4; i++) p = step(p, g);
  assert.deepEqual(p.w.toArray(), [-1, 0, 1, 2]);
  assert.equal(step.stats.traces, 1);
  assert.throws(() => first.w.toArray(), /donated to a jitted function/);
  assert.deepEqual(g.toArray(), [1, 1, 1, 1]);
});

test('jit runs on the onnx backend by default and matches the reference', () => {
  const f = (x: Array, y: Array) => np.sum(np.tanh(np.matmul(x, y)), -1);
  const x = f32([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [2, 3]);
  const y = f32([1, -1, 0.5, 2, 0, 1], [3, 2]);
  const a = jit(f)(x, y).toArray() as number[];
  const b = jit(f, { backend: 'reference' })(x, y).toArray() as number[];
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6));
});
