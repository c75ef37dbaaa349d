/**
 * Gradients of model-shaped compositions written with `np` (broadcasting, promotion, nn helpers,
 * einsum, indexing) checked against finite differences in float64 — first and second order.
 * These exercise the VJP rules the way models use them, and check that np keeps float64.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, checkGrads, grad, np, f64, rng, uniform, randint, values, close } from './util.js';

test('the README example: mean(tanh(x @ w)), first and second order', () => {
  const u = rng(31);
  const loss = (w: Array, x: Array) => np.mean(np.tanh(np.matmul(x, w)));
  checkGrads(loss, [uniform(u, [4, 3]), uniform(u, [2, 4])], { order: 2 });
  const g = grad(loss)(uniform(u, [4, 3]), uniform(u, [2, 4]));
  assert.deepEqual(g.shape, [4, 3]);
});

test('MLP with biases (broadcasting), gelu in both forms, softplus and silu', () => {
  const u = rng(32);
  const params = { w1: uniform(u, [3, 5]), b1: uniform(u, [5]), w2: uniform(u, [5, 2]), b2: uniform(u, [2]) };
  const x = uniform(u, [4, 3]);
  for (const approximate of [true, false]) {
    const mlp = (p: typeof params, xb: Array) => {
      const h = np.gelu(np.add(np.matmul(xb, p.w1), p.b1), { approximate });
      return np.sum(np.silu(np.softplus(np.add(np.matmul(h, p.w2), p.b2))));
    };
    checkGrads(mlp, [params, x], { order: 2 });
  }
});

test('softmax cross-entropy with integer labels (take_along_axis) and logsumexp', () => {
  const u = rng(33);
  const logits = uniform(u, [3, 5], -2, 2);
  const labels = randint(u, [3], 0, 5);
  const xent = (z: Array, y: Array) => np.negative(np.mean(np.take_along_axis(np.log_softmax(z, -1), np.expand_dims(y, -1), -1)));
  checkGrads(xent, [logits, labels], { order: 2 });
  // ∂/∂z mean(-log softmax(z)[y]) = (softmax(z) − onehot(y)) / batch
  const g = values(grad(xent)(logits, labels));
  const sm = values(np.softmax(logits, -1));
  const oh = values(np.one_hot(labels, 5, { dtype: 'float64' }));
  assert.ok(close(g, sm.map((s, i) => (s - oh[i]) / 3), 1e-12));
  checkGrads((z: Array) => np.logsumexp(z, 1), [logits], { order: 2 });
});

test('layer norm (mean, var, rsqrt) and a residual block', () => {
  const u = rng(34);
  const ln = (x: Array, scale: Array, bias: Array) => {
    const mu = np.mean(x, -1, { keepdims: true });
    const v = np.var(x, -1, { keepdims: true });
    return np.add(np.multiply(np.divide(np.subtract(x, mu), np.sqrt(np.add(v, 1e-5))), scale), bias);
  };
  checkGrads(ln, [uniform(u, [2, 3, 4]), uniform(u, [4]), uniform(u, [4])], { order: 2 });
});

test('einsum attention with a causal mask (where) and softmax', () => {
  const u = rng(35);
  const [b, t, d] = [2, 3, 4];
  // mask[q, k] = k ≤ q
  const mask = np.less_equal(np.expand_dims(np.arange(t), 0), np.expand_dims(np.arange(t), 1));
  const attend = (q: Array, k: Array, v: Array) => {
    const s = np.divide(np.einsum('bqd,bkd->bqk', q, k), Math.sqrt(d));
    const masked = np.where(mask, s, -1e9);
    return np.einsum('bqk,bkd->bqd', np.softmax(masked, -1), v);
  };
  checkGrads(attend, [uniform(u, [b, t, d]), uniform(u, [b, t, d]), uniform(u, [b, t, d])], { order: 2 });
});

test('top-k gating (MoE style): gradient flows through the selected logits only', () => {
  const u = rng(36);
  const gate = (logits: Array, x: Array) => {
    const [vals, idx] = np.top_k(logits, 2);
    const weights = np.softmax(vals, -1); // [tokens, 2]
    const picked = np.take_along_axis(x, idx, -1); // [tokens, 2]
    return np.sum(np.multiply(weights, picked));
  };
  checkGrads(gate, [uniform(u, [4, 6]), uniform(u, [4, 6])], { order: 2 });
  const [gl] = grad(gate, { argnums: [0] })(f64([3, 1, 2, 0], [1, 4]), f64([1, 1, 1, 1], [1, 4]));
  // picked values equal → weights sum to 1 regardless: zero gradient for every logit
  assert.ok(close(values(gl), [0, 0, 0, 0]));
});

test('cumsum, pad, concatenate and slicing through np', () => {
  const u = rng(37);
  const f = (x: Array) => {
    const c = np.cumsum(np.square(x), 1);
    const p = np.pad(c, [[1, 0], [0, 2]]);
    return np.concatenate([p, np.sin(p)], 0);
  };
  checkGrads(f, [uniform(u, [2, 3])], { order: 2 });
});
