// SGD (momentum, Nesterov), Adam/AdamW (bias correction, decoupled weight decay, masks),
// global-norm clipping, chain and masked, checked against steps computed by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, np, ValueError } from '../../src/index.js';
import { optim } from '../../src/optim/index.js';
import { close, f32 } from './helpers.js';

test('sgd without momentum is −lr·g', () => {
  const opt = optim.sgd(0.1);
  const p = { w: f32([1, 2]) };
  const [u, s] = opt.update({ w: f32([0.5, -1]) }, opt.init(p), p);
  close(u.w, [-0.05, 0.1]);
  close(optim.applyUpdates(p, u).w, [0.95, 2.1]);
  assert.equal(s.length, 2);
});

test('sgd with momentum: two hand-computed steps', () => {
  // t1 = g1 = [0.5, −1];  u1 = −0.1·t1 = [−0.05, 0.1]
  // t2 = g2 + 0.9·t1 = [1 + 0.45, 1 − 0.9] = [1.45, 0.1];  u2 = [−0.145, −0.01]
  const opt = optim.sgd(0.1, { momentum: 0.9 });
  let p = { w: f32([1, 2]) };
  let s = opt.init(p);
  let u;
  [u, s] = opt.update({ w: f32([0.5, -1]) }, s, p);
  close(u.w, [-0.05, 0.1]);
  p = optim.applyUpdates(p, u);
  [u, s] = opt.update({ w: f32([1, 1]) }, s, p);
  close(u.w, [-0.145, -0.01]);
  close(optim.applyUpdates(p, u).w, [0.95 - 0.145, 2.1 - 0.01]);
  close(s[0].trace.w, [1.45, 0.1]);
});

test('sgd with Nesterov momentum: two hand-computed steps', () => {
  // u1 = −0.1·(g1 + 0.9·t1), t1 = g1:  −0.1·[0.95, −1.9] = [−0.095, 0.19]
  // t2 = [1.45, 0.1];  u2 = −0.1·(g2 + 0.9·t2) = −0.1·[2.305, 1.09] = [−0.2305, −0.109]
  const opt = optim.sgd(0.1, { momentum: 0.9, nesterov: true });
  const p = { w: f32([1, 2]) };
  let s = opt.init(p);
  let u;
  [u, s] = opt.update({ w: f32([0.5, -1]) }, s, p);
  close(u.w, [-0.095, 0.19]);
  [u, s] = opt.update({ w: f32([1, 1]) }, s, p);
  close(u.w, [-0.2305, -0.109]);
  assert.throws(() => optim.sgd(0.1, { nesterov: true }), ValueError);
});

test('adamw: two hand-computed steps with bias correction and decoupled weight decay', () => {
  const lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
  const opt = optim.adamw(lr, { b1, b2, eps, weightDecay: wd });
  const p0 = [1, -2];
  const g1 = [0.5, 0.25];
  const g2 = [-0.5, 1];
  let p = { w: f32(p0) };
  let s = opt.init(p);
  let u;
  [u, s] = opt.update({ w: f32(g1) }, s, p);
  // Step 1: m = 0.1·g, v = 0.001·g², m̂ = g, v̂ = g² → m̂/(√v̂+eps) = g/(|g|+1e-8) ≈ ±1.
  // u1 = −lr·(sign(g) + wd·p) = −0.1·[1 + 0.01, 1 − 0.02] = [−0.101, −0.098].
  close(u.w, [-0.1 * (0.5 / (0.5 + eps) + 0.01), -0.1 * (0.25 / (0.25 + eps) - 0.02)]);
  close(u.w, [-0.101, -0.098], { rtol: 1e-6 });
  p = optim.applyUpdates(p, u);
  const p1 = [0.899, -2.098];
  close(p.w, p1, { rtol: 1e-6 });
  [u, s] = opt.update({ w: f32(g2) }, s, p);
  // Step 2 by hand: m = 0.9·0.1·g1 + 0.1·g2, v = 0.999·0.001·g1² + 0.001·g2²,
  // m̂ = m/(1−0.81) = m/0.19, v̂ = v/(1−0.998001) = v/0.001999.
  const want = p1.map((pi, i) => {
    const m = 0.9 * 0.1 * g1[i] + 0.1 * g2[i];
    const v = 0.999 * 0.001 * g1[i] ** 2 + 0.001 * g2[i] ** 2;
    const mh = m / (1 - 0.9 ** 2);
    const vh = v / (1 - 0.999 ** 2);
    return -lr * (mh / (Math.sqrt(vh) + eps) + wd * pi);
  });
  // m = [−0.005, 0.1225]; v = [0.00049975, 0.0010624375]
  close(u.w, want, { rtol: 1e-5 });
  close(u.w, [-0.1 * (-0.005 / 0.19 / Math.sqrt(0.00049975 / 0.001999) + 0.00899), -0.1 * (0.1225 / 0.19 / Math.sqrt(0.0010624375 / 0.001999) - 0.02098)], { rtol: 1e-5 });
  assert.equal(s[0].count.dtype, 'int32');
  assert.equal(s[0].count.item(), 2);
  close(s[0].mu.w, [-0.005, 0.1225]);
});

test('adamw mask: weight decay only where the mask is true', () => {
  const opt = optim.adamw(0.1, { weightDecay: 0.5, mask: optim.maskByPath((path) => path.endsWith('kernel')) });
  const p = { dense: { kernel: f32([2, 2]), bias: f32([2, 2]) } };
  const g = { dense: { kernel: f32([1, 1]), bias: f32([1, 1]) } };
  const [u] = opt.update(g, opt.init(p), p);
  // kernel: −0.1·(1 + 0.5·2) = −0.2;  bias: −0.1·1 = −0.1
  close(u.dense.kernel, [-0.2, -0.2], { rtol: 1e-6 });
  close(u.dense.bias, [-0.1, -0.1], { rtol: 1e-6 });
  // A boolean tree works too; a non-boolean leaf is a clear error.
  const opt2 = optim.adamw(0.1, { weightDecay: 0.5, mask: { dense: { kernel: false, bias: true } } });
  const [u2] = opt2.update(g, opt2.init(p), p);
  close(u2.dense.kernel, [-0.1, -0.1], { rtol: 1e-6 });
  close(u2.dense.bias, [-0.2, -0.2], { rtol: 1e-6 });
  const opt3 = optim.adamw(0.1, { mask: { dense: { kernel: 1, bias: true } } });
  assert.throws(() => opt3.init(p), /mask entry for dense\.kernel is number; masks must hold JS booleans/);
});

test('adamw needs params for weight decay, with a clear message', () => {
  const opt = optim.adamw(0.1);
  const p = { w: f32([1]) };
  assert.throws(() => opt.update({ w: f32([1]) }, opt.init(p)), /needs the current params: call opt\.update\(grads, state, params\)/);
});

test('adam with a schedule uses the schedule at the step count', () => {
  const opt = optim.adam(optim.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 4 }));
  const p = { w: f32([0]) };
  let s = opt.init(p);
  const lrs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const [u, s2] = opt.update({ w: f32([2]) }, s, p);
    s = s2;
    lrs.push(-(u.w.toArray() as number[])[0]);
  }
  // Constant gradient → Adam direction exactly 1 each step (up to eps), scaled by lr = 1, 0.75, 0.5.
  close(f32(lrs), [1, 0.75, 0.5], { rtol: 1e-6 });
});

test('clipByGlobalNorm scales by maxNorm/‖g‖ only when the norm exceeds maxNorm', () => {
  const g = { a: f32([3]), b: [f32([[4]])] };
  close(optim.globalNorm(g), 5);
  const [u] = optim.clipByGlobalNorm(1).update(g, {});
  close(u.a, [0.6]);
  close(u.b[0], [[0.8]]);
  const [v] = optim.clipByGlobalNorm(10).update(g, {});
  close(v.a, [3]);
  close(v.b[0], [[4]]);
  // A zero gradient stays zero (no 0/0).
  const [z] = optim.clipByGlobalNorm(1).update({ a: f32([0, 0]) }, {});
  close(z.a, [0, 0]);
  assert.throws(() => optim.clipByGlobalNorm(0), /maxNorm must be > 0/);
});

test('chain applies transforms in order and keeps a list of states', () => {
  const opt = optim.chain(optim.clipByGlobalNorm(1), optim.sgd(2));
  const p = { w: f32([0, 0]) };
  const s = opt.init(p);
  const [u] = opt.update({ w: f32([3, 4]) }, s, p);
  close(u.w, [-1.2, -1.6]);
  assert.throws(() => opt.update({ w: f32([3, 4]) }, [s[0]], p), /state should be a list of 2 inner states/);
});

test('applyUpdates keeps the param dtypes and structure', () => {
  const p = { a: f32([1]), n: np.array([1, 2], { dtype: 'float64' }) };
  const out = optim.applyUpdates(p, { a: f32([0.5]), n: np.array([0.25, 0.25], { dtype: 'float32' }) });
  assert.equal(out.a.dtype, 'float32');
  assert.equal(out.n.dtype, 'float64');
  close(out.n, [1.25, 2.25]);
  assert.ok(out.a instanceof Array);
});
