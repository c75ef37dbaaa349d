/**
 * The autodiff transformations end to end: second-order derivatives (grad of grad) of
 * elementwise and matmul compositions, valueAndGrad with argnums and hasAux, vjp of pytrees,
 * checkpoint (same gradients, forward recomputed inside the backward Graph), customVjp (the
 * user's bwd is used; closures), stopGradient, gradient Graphs, error messages, and checkGrads
 * itself catching a wrong gradient.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Array, Graph, GradError, checkGrads, checkpoint, customVjp, evalGraph, grad, lax, makeGraph, stopGradient, valueAndGrad, vjp,
  f64, i32, rng, uniform, values, close,
} from './util.js';

const sum = (x: Array) => lax.reduceSum(x, x.shape.map((_, i) => i));
const scal = (v: number) => f64([v], []);

test('grad(grad(f)) of elementwise compositions matches the hand-derived second derivative', () => {
  const f = (x: Array) => lax.mul(lax.sin(x), lax.exp(x));
  const d2 = grad(grad(f));
  for (const v of [-1.3, 0, 0.7, 2.1]) {
    // (sin·exp)'' = 2·cos(x)·exp(x)
    assert.ok(close([d2(scal(v)).item() as number], [2 * Math.cos(v) * Math.exp(v)], 1e-12));
  }
  const cube = (x: Array) => lax.mul(lax.mul(x, x), x);
  assert.equal(grad(grad(cube))(scal(1.5)).item(), 9);
  assert.equal(grad(grad(grad(cube)))(scal(1.5)).item(), 6);
  const u = rng(21);
  checkGrads((x: Array, y: Array) => lax.div(lax.tanh(lax.mul(x, y)), lax.add(lax.exp(y), lax.logistic(x))), [uniform(u, [3, 2]), uniform(u, [3, 2])], { order: 2 });
});

test('grad(grad(f)) of matmul compositions (second order through dot_general)', () => {
  const u = rng(22);
  const x = uniform(u, [4, 3]);
  const mm = (a: Array, b: Array) => lax.dotGeneral(a, b, { lhsContracting: [1], rhsContracting: [0] });
  const loss = (w1: Array, w2: Array) => sum(lax.tanh(mm(lax.tanh(mm(x, w1)), w2)));
  checkGrads(loss, [uniform(u, [3, 5]), uniform(u, [5, 2])], { order: 2 });
  // a Hessian-vector product written as grad of a projection of grad
  const w1 = uniform(u, [3, 5]);
  const w2 = uniform(u, [5, 2]);
  const v = uniform(u, [3, 5]);
  const hvp = grad((a: Array) => sum(lax.mul(grad(loss)(a, w2), v)));
  const h = hvp(w1);
  assert.deepEqual(h.shape, [3, 5]);
  // central difference of the gradient along v
  const eps = 1e-6;
  const gp = values(grad(loss)(lax.add(w1, lax.mul(v, lax.fullLike(v, eps))), w2));
  const gm = values(grad(loss)(lax.sub(w1, lax.mul(v, lax.fullLike(v, eps))), w2));
  const fd = gp.map((p, i) => (p - gm[i]) / (2 * eps));
  assert.ok(close(values(h), fd, 1e-6));
});

test('valueAndGrad with argnums as a number and as an array', () => {
  const f = (x: Array, y: Array) => sum(lax.mul(lax.mul(x, x), y));
  const x = f64([1, 2]);
  const y = f64([3, 4]);
  const [v0, g0] = valueAndGrad(f)(x, y);
  assert.equal(v0.item(), 1 * 3 + 4 * 4);
  assert.deepEqual(values(g0), [6, 16]);
  const [, g1] = valueAndGrad(f, { argnums: 1 })(x, y);
  assert.deepEqual(values(g1), [1, 4]);
  const [, gs] = valueAndGrad(f, { argnums: [1, 0] })(x, y);
  assert.equal(gs.length, 2);
  assert.deepEqual(values(gs[0]), [1, 4]);
  assert.deepEqual(values(gs[1]), [6, 16]);
  const [, gneg] = valueAndGrad(f, { argnums: -1 })(x, y);
  assert.deepEqual(values(gneg), [1, 4]);
});

test('valueAndGrad with hasAux returns [[value, aux], grads]; aux is not differentiated', () => {
  const f = (p: { w: Array; b: Array }, x: Array) => {
    const y = lax.add(lax.mul(p.w, x), p.b);
    return [sum(lax.mul(y, y)), { pred: y, n: lax.reduceSum(x, [0]) }];
  };
  const p = { w: f64([2, -1]), b: f64([0.5, 0.5]) };
  const x = f64([1, 3]);
  const [[value, aux], g] = valueAndGrad(f, { hasAux: true })(p, x);
  // y = [2.5, -2.5]; value = 12.5
  assert.equal(value.item(), 12.5);
  assert.deepEqual(values(aux.pred), [2.5, -2.5]);
  assert.equal(aux.n.item(), 4);
  assert.deepEqual(values(g.w), [5, -15]);
  assert.deepEqual(values(g.b), [5, -5]);
  const [g2, aux2] = grad(f, { hasAux: true })(p, x);
  assert.deepEqual(values(g2.b), [5, -5]);
  assert.deepEqual(values(aux2.pred), [2.5, -2.5]);
});

test('vjp of a pytree-valued function returns cotangents shaped like the primals', () => {
  const f = (a: { u: Array; v: Array }) => [lax.mul(a.u, a.v), lax.sin(a.u)];
  const a = { u: f64([1, 2]), v: f64([3, 4]) };
  const [out, pb] = vjp(f, a);
  assert.deepEqual(values(out[0]), [3, 8]);
  const [ct] = pb([f64([1, 1]), f64([0, 2])]);
  assert.deepEqual(values(ct.v), [1, 2]);
  assert.ok(close(values(ct.u), [3, 4 + 2 * Math.cos(2)]));
  checkGrads(f, [a], { order: 2 });
});

test('checkpoint gives the same gradients and its gradient Graph recomputes the forward', () => {
  const u = rng(23);
  const w = uniform(u, [3, 3]);
  const block = (x: Array) => lax.sin(lax.tanh(lax.dotGeneral(x, w, { lhsContracting: [1], rhsContracting: [0] })));
  const plain = (x: Array) => sum(block(block(x)));
  const remat = (x: Array) => sum(checkpoint(block)(checkpoint(block)(x)));
  const x = uniform(u, [2, 3]);
  assert.ok(close(values(grad(remat)(x)), values(grad(plain)(x)), 1e-14));
  const second = (h: (y: Array) => Array) => grad((y: Array) => sum(lax.mul(grad(h)(y), y)))(x);
  assert.ok(close(values(second(remat)), values(second(plain)), 1e-12));
  checkGrads(remat, [x], { order: 2 });

  const gPlain = makeGraph(grad(plain))(x);
  const gRemat = makeGraph(grad(remat))(x);
  const count = (g: Graph, prim: string): number =>
    g.eqns.reduce((n, e) => n + (e.prim === prim ? 1 : 0) + (e.prim === 'remat' ? count((e.params as { graph: Graph }).graph, prim) : 0), 0);
  const rematIdx = gRemat.eqns.findIndex((e) => e.prim === 'remat');
  assert.ok(rematIdx >= 0, 'the forward is a remat call');
  assert.equal(count(gPlain, 'tanh'), 2);
  // forward: 2 tanh inside the remat calls; backward: each block's forward recomputed once more
  assert.equal(count(gRemat, 'tanh'), 4);
  const lastRemat = gRemat.eqns.map((e) => e.prim).lastIndexOf('remat');
  assert.ok(gRemat.eqns.slice(lastRemat + 1).some((e) => e.prim === 'tanh'), 'tanh is recomputed after the forward remat calls');
  assert.match(gRemat.toString(), /remat\[graph=\{graph\}\]/);
  assert.ok(close(values(evalGraph(gRemat, [x])[0]), values(grad(plain)(x)), 1e-14));
});

test('checkpoint of a closure over a differentiated value passes its gradient through', () => {
  const x = f64([1, 2]);
  const g = grad((w: Array) => sum(checkpoint((y: Array) => lax.sin(lax.mul(y, w)))(x)))(f64([0.1, 0.2]));
  assert.ok(close(values(g), [Math.cos(0.1), 2 * Math.cos(0.4)]));
  checkGrads((w: Array, y: Array) => checkpoint((z: Array) => lax.tanh(lax.mul(z, w)))(y), [f64([0.3, -0.2]), x], { order: 2 });
});

test('printer golden text: the gradient Graph of a small matmul loss', () => {
  const loss = (w: Array, x: Array) => sum(lax.tanh(lax.dotGeneral(x, w, { lhsContracting: [1], rhsContracting: [0] })));
  const text = makeGraph(grad(loss))(f64([1, 2, 3, 4, 5, 6], [3, 2]), f64([1, 2, 3, 4, 5, 6], [2, 3])).toString();
  const dims = 'lhs_batch=() rhs_batch=() preferred_element_type=None';
  assert.equal(
    text,
    [
      '{ lambda ; a:f64[3,2] b:f64[2,3]. let',
      `    c:f64[2,2] = dot_general[lhs_contracting=(1,) rhs_contracting=(0,) ${dims}] b a`,
      '    d:f64[2,2] = tanh c',
      '    e:f64[] = reduce_sum[axes=(0,1)] d',
      '    f:f64[2,2] = broadcast_in_dim[shape=(2,2) broadcast_dimensions=()] 1.0:f64',
      '    g:f64[2,2] = broadcast_in_dim[shape=(2,2) broadcast_dimensions=()] 1.0:f64',
      '    h:f64[2,2] = mul d d',
      '    i:f64[2,2] = sub g h',
      '    j:f64[2,2] = mul f i',
      `    k:f64[3,2] = dot_general[lhs_contracting=(0,) rhs_contracting=(0,) ${dims}] b j`,
      '  in (k,) }',
    ].join('\n'),
  );
});

test('customVjp uses the user bwd (clipped gradient) and closes over values', () => {
  const clipGrad = customVjp(
    (x: Array) => x,
    (x: Array) => [x, null],
    (_res: unknown, ct: Array) => [lax.max(lax.min(ct, lax.fullLike(ct, 1)), lax.fullLike(ct, -1))],
  );
  const c = f64([5, -5, 0.5]);
  const g = grad((x: Array) => sum(lax.mul(clipGrad(x), c)))(f64([1, 2, 3]));
  assert.deepEqual(values(g), [1, -1, 0.5]);

  // a closure over a concrete array, with residuals from fwd
  const w = f64([2, 3, 4]);
  let bwdCalls = 0;
  const scaledSin = customVjp(
    (x: Array) => lax.mul(lax.sin(x), w),
    (x: Array) => [lax.mul(lax.sin(x), w), lax.cos(x)],
    (cosx: Array, ct: Array) => {
      bwdCalls++;
      return [lax.mul(lax.mul(ct, cosx), w)];
    },
  );
  const x = f64([0.1, 0.2, 0.3]);
  assert.ok(close(values(scaledSin(x)), [0.1, 0.2, 0.3].map((v, i) => Math.sin(v) * [2, 3, 4][i])));
  const gs = grad((y: Array) => sum(scaledSin(y)))(x);
  assert.equal(bwdCalls, 1);
  assert.ok(close(values(gs), [0.1, 0.2, 0.3].map((v, i) => Math.cos(v) * [2, 3, 4][i])));
  checkGrads((y: Array) => scaledSin(lax.mul(y, y)), [x], { order: 2 });

  // a closure over a value of an enclosing trace that is not being differentiated
  const outer = (s: Array) => {
    const f = customVjp(
      (x: Array) => lax.mul(x, s),
      (x: Array) => [lax.mul(x, s), s],
      (res: Array, ct: Array) => [lax.mul(ct, res)],
    );
    return grad((x: Array) => sum(lax.mul(f(x), f(x))))(f64([1, 2]));
  };
  const s = f64([3, -1]);
  assert.deepEqual(values(outer(s)), [18, 4]);
  assert.deepEqual(values(evalGraph(makeGraph(outer)(s), [s])[0]), [18, 4]);

  // a closure over a traced value of the same computation that is not differentiated (the data)
  const loss = (wt: Array, data: Array) => {
    const feat = lax.sin(data);
    const mulFeat = customVjp(
      (v: Array) => lax.mul(v, feat),
      (v: Array) => [lax.mul(v, feat), null],
      (_r: unknown, ct: Array) => [lax.mul(lax.mul(ct, feat), lax.fullLike(ct, 2))], // deliberately 2× the true gradient
    );
    return sum(mulFeat(wt));
  };
  assert.ok(close(values(grad(loss)(f64([1, 2]), f64([0.5, 1]))), [2 * Math.sin(0.5), 2 * Math.sin(1)]));
  assert.match(makeGraph(loss)(f64([1, 2]), f64([0.5, 1])).toString(), /custom_vjp_call\[graph=\{graph\} fwd=fn bwd=fn\] [a-z]+ [a-z]+\n/);

  // bwd returning a cotangent of the wrong shape is reported
  const badBwd = customVjp((x: Array) => lax.sin(x), (x: Array) => [lax.sin(x), null], (_r: unknown, ct: Array) => [lax.reduceSum(ct, [0])]);
  assert.throws(() => grad((x: Array) => sum(badBwd(x)))(f64([1, 2])), (e: unknown) => e instanceof GradError && /bwd's cotangent for argument 0 leaf 0 is f64\[\] but the argument is f64\[2\]/.test(e.message));
  // called outside any trace, a customVjp function just computes f
  assert.ok(close(values(badBwd(f64([0.5]))), [Math.sin(0.5)]));

  // differentiating a closed-over tracer through customVjp is refused with advice
  assert.throws(
    () => grad((sv: Array) => sum(customVjp((x: Array) => lax.mul(x, sv), (x: Array) => [lax.mul(x, sv), null], (_r: unknown, ct: Array) => [ct])(f64([1, 2]))))(s),
    (e: unknown) => e instanceof GradError && /closes over a traced value.*pass it as an explicit argument/s.test(e.message),
  );
});

test('stopGradient on a pytree', () => {
  const f = (p: { a: Array; b: Array }) => {
    const q = stopGradient(p);
    return lax.add(sum(lax.mul(q.a, p.a)), sum(lax.mul(q.b, p.b)));
  };
  const g = grad(f)({ a: f64([1, 2]), b: f64([3]) });
  assert.deepEqual(values(g.a), [1, 2]);
  assert.deepEqual(values(g.b), [3]);
});

test('the gradient of a function is a Graph that evaluates to the gradient', () => {
  const f = (x: Array) => sum(lax.exp(lax.mul(x, x)));
  const x = f64([0.5, -0.25, 1]);
  const g = makeGraph(grad(f))(x);
  assert.ok(g instanceof Graph);
  const text = g.toString();
  assert.match(text, /^\{ lambda ; a:f64\[3\]\. let/);
  assert.match(text, /exp a|exp b/);
  assert.match(text, /in \([a-z]+,\) \}$/);
  assert.ok(close(values(evalGraph(g, [x])[0]), values(grad(f)(x))));
  assert.ok(close(values(grad(f)(x)), [0.5, -0.25, 1].map((v) => 2 * v * Math.exp(v * v))));
});

test('grad errors: non-scalar output, integer output, integer input (with advice)', () => {
  const x = f64([1, 2, 3]);
  assert.throws(() => grad((a: Array) => lax.mul(a, a))(x), (e: unknown) => e instanceof GradError && /grad needs a scalar output, got f64\[3\]; reduce it \(e\.g\. np\.sum or np\.mean\) or use vjp/.test(e.message));
  assert.throws(() => grad((a: Array) => lax.argmax(a, 0))(x), (e: unknown) => e instanceof GradError && /needs a float output, got i32\[\]/.test(e.message));
  assert.throws(
    () => grad((n: Array) => sum(lax.convert(n, 'float64')))(i32([1, 2])),
    (e: unknown) => e instanceof GradError && /argument 0 leaf 0 is i32\[2\]; gradients are defined for float inputs only.*astype\('float32'\)/.test(e.message),
  );
  assert.throws(() => grad((a: Array) => [sum(a), sum(a)])(x), (e: unknown) => e instanceof GradError && /must return a scalar array, got a pytree \[\*, \*\].*hasAux/.test(e.message));
  assert.throws(() => grad((a: Array) => sum(a), { argnums: 2 })(x), (e: unknown) => e instanceof GradError && /argnums 2 is out of range/.test(e.message));
});

test('checkGrads catches a wrong gradient and reports where', () => {
  const wrong = customVjp(
    (x: Array) => lax.mul(x, x),
    (x: Array) => [lax.mul(x, x), x],
    (x: Array, ct: Array) => [lax.mul(ct, lax.mul(x, lax.fullLike(x, 2.01)))], // 2.01·x instead of 2·x
  );
  const x = f64([0.5, 1, -2, 3], [2, 2]);
  assert.throws(
    () => checkGrads(function squareWrong(y: Array) { return wrong(y); }, [x]),
    (e: unknown) => e instanceof Error && /squareWrong do not match central finite differences/.test(e.message) && /argument 0 leaf 0 \(f64\[2,2\]\): 4 of 4 elements differ; max abs error .* at index \[1,1\]/.test(e.message),
  );
  // large leaves are checked along random directions
  const big = uniform(rng(24), [10, 10]);
  assert.throws(() => checkGrads((y: Array) => wrong(y), [big]), /of 3 directions differ/);
  checkGrads((y: Array) => lax.mul(y, y), [big]);
  // float32 inputs are converted to float64 (so the check is exact even for float32 callers) …
  const x32 = Array.fromData(Float32Array.from([0.5, 1, -2, 3]), [2, 2], 'float32');
  checkGrads((y: Array) => lax.exp(lax.sin(y)), [x32], { order: 2 });
  // … and a function that leaves float64 is refused
  assert.throws(() => checkGrads((y: Array) => lax.convert(y, 'float32'), [x]), /must preserve float64/);
});
