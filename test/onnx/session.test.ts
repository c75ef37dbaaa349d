/**
 * OnnxExecutable: the async and synchronous paths agree, inputs are validated with clear errors,
 * caller-owned output buffers are filled, closed executables refuse to run, captured constants
 * become initializers, unsupported dtypes are refused at lowering, and a whole training step
 * (forward, backward by graph replay, SGD update) lowers to one ONNX model matching the
 * reference interpreter.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import onnxProto from 'onnx-proto';
import { Array, ShapeDtypeStruct } from '../../src/core/array.js';
import * as lax from '../../src/core/lax.js';
import { makeGraph } from '../../src/core/trace.js';
import { valueAndGrad } from '../../src/core/autodiff.js';
import { evalGraphReference } from '../../src/backends/reference/index.js';
import { OnnxError, OnnxExecutable, lowerGraph } from '../../src/backends/onnx/index.js';
import { DEFAULT_TOL, Rng, arrayOf, compareArrays, randArray } from './helpers.js';

const f = (x: Array, y: Array) => [lax.add(lax.mul(x, y), x), lax.gt(x, y), lax.convert(lax.abs(x), 'uint32')];

test('async run and runSync agree; outputs have the graph dtypes (bool and uint32 included)', async () => {
  const r = new Rng(1);
  const x = randArray(r, 'float32', [3, 4], { lo: -10, hi: 10 });
  const y = randArray(r, 'float32', [3, 4]);
  const g = makeGraph(f)(x, y);
  const a = await OnnxExecutable.create(g);
  const s = OnnxExecutable.createSync(g);
  const outA = await a.run([x, y]);
  const outS = s.runSync([x, y]);
  const want = evalGraphReference(g, [x, y]);
  assert.deepEqual(outA.map((o) => o.dtype), ['float32', 'bool', 'uint32']);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(outA[i].toArray(), outS[i].toArray());
    assert.equal(compareArrays(outS[i], want[i], DEFAULT_TOL, null, `output ${i}`), null);
  }
  // run() on a synchronous executable works too; runSync on an async one is refused clearly
  assert.deepEqual((await s.run([x, y]))[0].toArray(), outS[0].toArray());
  assert.throws(() => a.runSync([x, y]), /runSync needs a session made with OnnxExecutable.createSync/);
  const bufs = [new Float32Array(12), new Uint8Array(12), new Uint32Array(12)];
  const outB = await a.run([x, y], { outputs: bufs });
  outB.forEach((o, i) => {
    assert.equal(o._data, bufs[i]);
    assert.deepEqual(o.toArray(), outS[i].toArray());
  });
  a.close();
  s.close();
});

test('bad inputs give errors naming the input and the expected shape/dtype', () => {
  const r = new Rng(2);
  const x = randArray(r, 'float32', [3, 4]);
  const exe = OnnxExecutable.createSync(makeGraph(f)(x, x));
  assert.throws(() => exe.runSync([x]), (e: unknown) => e instanceof OnnxError && /takes 2 inputs \(f32\[3,4\], f32\[3,4\]\), got 1/.test((e as Error).message));
  assert.throws(() => exe.runSync([x, randArray(r, 'float32', [4, 3])]), /input 1 is f32\[4,3\] but the compiled graph expects f32\[3,4\]/);
  assert.throws(() => exe.runSync([x, randArray(r, 'int32', [3, 4])]), /input 1 is i32\[3,4\] but the compiled graph expects f32\[3,4\]/);
  exe.close();
  exe.close(); // idempotent
  assert.throws(() => exe.runSync([x, x]), /closed/);
  assert.throws(() => OnnxExecutable.createSync(makeGraph(f)(x, x), { intraOpNumThreads: 0 }), /intraOpNumThreads must be a positive integer/);
});

test('caller-owned output buffers are written through fetches', () => {
  const r = new Rng(3);
  const x = randArray(r, 'float32', [2, 5]);
  const g = makeGraph(f)(x, x);
  const exe = OnnxExecutable.createSync(g);
  const bufs = [new Float32Array(10), new Uint8Array(10), new Uint32Array(10)];
  const out = exe.runSync([x, x], { outputs: bufs });
  out.forEach((o, i) => assert.equal(o._data, bufs[i]));
  const want = exe.runSync([x, x]);
  assert.deepEqual(out.map((o) => o.toArray()), want.map((o) => o.toArray()));
  assert.throws(() => exe.runSync([x, x], { outputs: [new Float32Array(10), new Uint8Array(10), new Float32Array(10)] }), /output buffer 2 must be a Uint32Array of 10 elements/);
  exe.close();
});

test('captured constants become initializers; literals are shared scalars', () => {
  const r = new Rng(4);
  const w = randArray(r, 'float32', [4, 4]);
  const x = randArray(r, 'float32', [4, 4]);
  const g = makeGraph((v: Array) => lax.add(lax.mul(v, w), lax.full(2, 'float32', [4, 4])))(x);
  const low = lowerGraph(g);
  const model = onnxProto.onnx.ModelProto.decode(low.model);
  const inits = model.graph?.initializer ?? [];
  assert.ok(inits.some((t) => (t.dims ?? []).map(Number).join(',') === '4,4' && t.rawData!.length === 64), 'the captured 4×4 array is an initializer');
  const exe = OnnxExecutable.fromLoweredSync(low);
  assert.equal(compareArrays(exe.runSync([x])[0], evalGraphReference(g, [x])[0], DEFAULT_TOL, null, 'const'), null);
  exe.close();
});

test('half-precision dtypes are refused at lowering with a clear error', () => {
  const g = makeGraph((v: Array) => lax.neg(v))(new ShapeDtypeStruct([2], 'float16'));
  assert.throws(() => lowerGraph(g), (e: unknown) => e instanceof OnnxError && /float16 is not computable yet.*astype\('float32'\)/.test((e as Error).message));
});

test('a whole training step (forward, backward, SGD) is one ONNX model matching the reference', () => {
  const r = new Rng(5);
  const B = 16, D = 24, H = 32, C = 5;
  const bcast = (v: Array, shape: number[], dims: number[]) => lax.broadcastInDim(v, shape, dims);
  const loss = (p: { w1: Array; b1: Array; w2: Array }, x: Array, y: Array) => {
    const h0 = lax.dotGeneral(x, p.w1, { lhsContracting: [1], rhsContracting: [0] });
    const h = lax.tanh(lax.add(h0, bcast(p.b1, [B, H], [1])));
    const z = lax.dotGeneral(h, p.w2, { lhsContracting: [1], rhsContracting: [0] });
    const m = lax.stopGradient(lax.reduceMax(z, [1]));
    const zs = lax.sub(z, bcast(m, [B, C], [0]));
    const logp = lax.sub(zs, bcast(lax.log(lax.reduceSum(lax.exp(zs), [1])), [B, C], [0]));
    const onehot = lax.convert(lax.eq(lax.iota('int32', [B, C], 1), bcast(y, [B, C], [0])), 'float32');
    return lax.div(lax.neg(lax.reduceSum(lax.mul(logp, onehot), [0, 1])), lax.full(B, 'float32'));
  };
  const step = (p: { w1: Array; b1: Array; w2: Array }, x: Array, y: Array) => {
    const [l, g] = valueAndGrad(loss)(p, x, y);
    const sgd = (w: Array, gw: Array) => lax.sub(w, lax.mul(lax.full(0.5, 'float32', w.shape), gw));
    return [l, { w1: sgd(p.w1, g.w1), b1: sgd(p.b1, g.b1), w2: sgd(p.w2, g.w2) }];
  };
  let p = { w1: randArray(r, 'float32', [D, H], { lo: -0.3, hi: 0.3 }), b1: randArray(r, 'float32', [H], { lo: -0.1, hi: 0.1 }), w2: randArray(r, 'float32', [H, C], { lo: -0.3, hi: 0.3 }) };
  const x = randArray(r, 'float32', [B, D]);
  const y = arrayOf('int32', [B], globalThis.Array.from({ length: B }, (_, i) => i % C));
  const graph = makeGraph(step)(p, x, y);
  const exe = OnnxExecutable.createSync(graph);
  const losses: number[] = [];
  for (let it = 0; it < 5; it++) {
    const args = [p.b1, p.w1, p.w2, x, y]; // flattened leaves: object keys sorted
    const got = exe.runSync(args);
    const want = evalGraphReference(graph, args);
    got.forEach((o, i) => assert.equal(compareArrays(o, want[i], { rtol: 1e-4, atol: 1e-5 }, null, `step ${it} output ${i}`), null));
    losses.push(got[0].item() as number);
    p = { b1: got[1], w1: got[2], w2: got[3] };
  }
  assert.ok(losses[4] < losses[0], `the loss decreases over SGD steps: ${losses.join(', ')}`);
  exe.close();
});
