import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, makeGraph, lax, grad, TracerError, ShapeError, ShapeDtypeStruct, np } from '../../src/index.js';

const f32 = (data: number[], shape: number[]) => Array.fromData(new Float32Array(data), shape);

// A small function written with lax, so the golden text depends only on the IR and printer.
const f = (w: Array, x: Array) => lax.reduceSum(lax.tanh(lax.dotGeneral(x, w, { lhsContracting: [1], rhsContracting: [0] })), [0, 1]);

test('printer golden: a small function', () => {
  const g = makeGraph(f)(new ShapeDtypeStruct([4, 3]), new ShapeDtypeStruct([2, 4]));
  assert.equal(
    g.toString(),
    [
      '{ lambda ; a:f32[4,3] b:f32[2,4]. let',
      '    c:f32[2,3] = dot_general[lhs_contracting=(1,) rhs_contracting=(0,) lhs_batch=() rhs_batch=() preferred_element_type=None] b a',
      '    d:f32[2,3] = tanh c',
      '    e:f32[] = reduce_sum[axes=(0,1)] d',
      '  in (e,) }',
    ].join('\n'),
  );
});

test('printer golden: the gradient of the small function', () => {
  const g = makeGraph(grad(f))(new ShapeDtypeStruct([4, 3]), new ShapeDtypeStruct([2, 4]));
  const text = g.toString();
  assert.equal(text, GRAD_GOLDEN);
});

const GRAD_GOLDEN = [
  '{ lambda ; a:f32[4,3] b:f32[2,4]. let',
  '    c:f32[2,3] = dot_general[lhs_contracting=(1,) rhs_contracting=(0,) lhs_batch=() rhs_batch=() preferred_element_type=None] b a',
  '    d:f32[2,3] = tanh c',
  '    e:f32[] = reduce_sum[axes=(0,1)] d',
  '    f:f32[2,3] = broadcast_in_dim[shape=(2,3) broadcast_dimensions=()] 1.0:f32',
  '    g:f32[2,3] = broadcast_in_dim[shape=(2,3) broadcast_dimensions=()] 1.0:f32',
  '    h:f32[2,3] = mul d d',
  '    i:f32[2,3] = sub g h',
  '    j:f32[2,3] = mul f i',
  '    k:f32[4,3] = dot_general[lhs_contracting=(0,) rhs_contracting=(0,) lhs_batch=() rhs_batch=() preferred_element_type=None] b j',
  '  in (k,) }',
].join('\n');

test('equations remember the user source line', () => {
  const g = makeGraph((x: Array) => lax.exp(x))(new ShapeDtypeStruct([2]));
  assert.match(g.toString({ source: true }), /exp a {2}# test\/core\/trace\.test\.ts:\d+:\d+/);
});

test('captured constants and literals', () => {
  const c = f32([1, 2], [2]);
  const g = makeGraph((x: Array) => np.multiply(lax.add(x, c), 2).sum())(new ShapeDtypeStruct([2]));
  const text = g.toString();
  assert.match(text, /^\{ lambda a:f32\[2\] ; b:f32\[2\]\. let/);
  assert.match(text, /2\.0:f32/);
});

test('reading a tracer gives a clear concretization error', () => {
  assert.throws(
    () => makeGraph((x: Array) => (x.item() ? x : x))(new ShapeDtypeStruct([])),
    (e: unknown) => e instanceof TracerError && /cannot read the values of a traced array f32\[\] inside makeGraph/.test((e as Error).message) && /np\.where/.test((e as Error).message),
  );
});

test('an escaped tracer is reported', () => {
  let leaked: Array | null = null;
  makeGraph((x: Array) => {
    leaked = x;
    return x;
  })(new ShapeDtypeStruct([2]));
  assert.throws(() => np.add(leaked!, 1), (e: unknown) => e instanceof TracerError && /escaped its trace/.test((e as Error).message));
});

test('shape errors name primitive, operands and the user line', () => {
  assert.throws(
    () => lax.add(f32([1, 2], [2]), f32([1, 2, 3], [3])),
    (e: unknown) => e instanceof ShapeError && /^add needs operands of equal shape, got f32\[2\] and f32\[3\]/.test((e as Error).message) && /at test\/core\/trace\.test\.ts:\d+:\d+/.test((e as Error).message),
  );
});

test('dce removes equations nothing uses', async () => {
  const { dce } = await import('../../src/core/passes.js');
  const g = makeGraph(grad(f))(new ShapeDtypeStruct([4, 3]), new ShapeDtypeStruct([2, 4]));
  const pruned = dce(g);
  assert.equal(pruned.eqns.length, g.eqns.length - 1);
  assert.ok(!pruned.eqns.some((e) => e.prim === 'reduce_sum'));
});
