/**
 * nn layers: shapes, logical axes, known values (Dense = matmul, RMSNorm/LayerNorm formulas,
 * gated MLP branches), dropout semantics, initializer statistics, evalShape and config errors.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, np, random, ShapeDtypeStruct } from '../../src/index.js';
import { nn, LogicalAxes, ModelError } from '../../src/nn/index.js';

const key = random.key(0);

function vals(a: Array): number[] {
  return globalThis.Array.from(a.dataSync() as Float32Array);
}

function close(a: number[], b: number[], tol = 1e-5): void {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= tol * (1 + Math.abs(b[i])), `element ${i}: ${x} vs ${b[i]}`));
}

test('Dense: kernel [in, out], axes, and y = x·W', () => {
  const d = nn.Dense({ features: 3, axes: ['embed', 'mlp'] });
  const p = d.init(key, 4);
  assert.deepEqual(p.kernel.shape, [4, 3]);
  assert.equal(p.bias, undefined);
  nn.checkAxes(p, d.axes(4));
  assert.deepEqual((d.axes(4) as { kernel: LogicalAxes }).kernel.names, ['embed', 'mlp']);
  const x = random.normal(random.key(1), [2, 5, 4]);
  const y = d.apply(p, x);
  assert.deepEqual(y.shape, [2, 5, 3]);
  close(vals(y), vals(np.matmul(x, p.kernel)));
  const db = nn.Dense({ features: 3, useBias: true });
  const pb = db.init(key, 4);
  nn.checkAxes(pb, db.axes(4));
  assert.deepEqual(pb.bias!.shape, [3]);
});

test('DenseGeneral: several input and output dims', () => {
  const q = nn.DenseGeneral({ features: [2, 3], axes: ['embed', 'heads', 'kv'] });
  const pq = q.init(key, [4]);
  assert.deepEqual(pq.kernel.shape, [4, 2, 3]);
  nn.checkAxes(pq, q.axes([4]));
  const x = random.normal(random.key(2), [2, 5, 4]);
  const h = q.apply(pq, x);
  assert.deepEqual(h.shape, [2, 5, 2, 3]);
  close(vals(h), vals(np.einsum('ble,ehd->blhd', x, pq.kernel)));
  const o = nn.DenseGeneral({ features: 4, axis: [-2, -1], axes: ['heads', 'kv', 'embed'] });
  const po = o.init(key, [2, 3]);
  assert.deepEqual(po.kernel.shape, [2, 3, 4]);
  const y = o.apply(po, h);
  assert.deepEqual(y.shape, [2, 5, 4]);
  close(vals(y), vals(np.einsum('blhd,hde->ble', h, po.kernel)));
  assert.throws(() => nn.DenseGeneral({ features: [2, 3], axes: ['embed', 'heads'] }), /axes must name 1 input dim\(s\) and 2 feature dim\(s\)/);
  assert.throws(() => o.apply(po, random.normal(key, [2, 5, 3, 3])), /input dim 2 has size 3/);
});

test('Embed: lookup, attend (tied logits) and out-of-range ids', () => {
  const e = nn.Embed({ numEmbeddings: 10, features: 4 });
  const p = e.init(key);
  nn.checkAxes(p, e.axes());
  assert.deepEqual((e.axes() as { embedding: LogicalAxes }).embedding.names, ['vocab', 'embed']);
  const ids = np.array([[1, 2], [9, 0]], { dtype: 'int32' });
  const x = e.apply(p, ids);
  assert.deepEqual(x.shape, [2, 2, 4]);
  close(vals(np.slice(x, 1, 0)), vals(np.slice(p.embedding, 9)));
  const logits = e.attend(p, x);
  assert.deepEqual(logits.shape, [2, 2, 10]);
  close(vals(logits), vals(np.matmul(x, np.transpose(p.embedding))));
  assert.throws(() => e.apply(p, np.array([1.5])), /ids must be an int32 Array/);
});

test('RMSNorm: x·rsqrt(mean(x²)+eps)·scale, no mean subtraction, no bias', () => {
  const n = nn.RMSNorm();
  const p = n.init(key, 3);
  nn.checkAxes(p, n.axes(3));
  assert.deepEqual(Object.keys(p), ['scale']);
  const x = np.array([[1, 2, 3], [-4, 0, 4]], { dtype: 'float32' });
  const y = vals(n.apply({ scale: np.array([1, 2, 0.5]) }, x));
  const r1 = 1 / Math.sqrt(14 / 3 + 1e-6);
  const r2 = 1 / Math.sqrt(32 / 3 + 1e-6);
  close(y, [1 * r1, 4 * r1, 1.5 * r1, -4 * r2, 0, 2 * r2]);
});

test('LayerNorm: standardizes over the last dim, then scale and bias', () => {
  const n = nn.LayerNorm();
  const p = n.init(key, 4);
  nn.checkAxes(p, n.axes(4));
  const x = np.array([[1, 2, 3, 6]], { dtype: 'float32' });
  const y = vals(n.apply({ scale: np.array([1, 1, 2, 1]), bias: np.array([0, 1, 0, 0]) }, x));
  const m = 3, v = (4 + 1 + 0 + 9) / 4;
  const s = 1 / Math.sqrt(v + 1e-6);
  close(y, [(1 - m) * s, (2 - m) * s + 1, 2 * (3 - m) * s, (6 - m) * s]);
});

test('MLP: relu / gated-gelu (wi_0 = GELU branch, wi_1 linear) / swiglu shapes, axes and values', () => {
  const x = random.normal(random.key(3), [2, 3, 4]);
  const relu = nn.MLP({ mlpDim: 6 });
  const pr = relu.init(key, 4);
  nn.checkAxes(pr, relu.axes(4));
  assert.deepEqual(Object.keys(pr).sort(), ['wi', 'wo']);
  close(vals(relu.apply(pr, x)), vals(np.matmul(np.relu(np.matmul(x, pr.wi!.kernel)), pr.wo.kernel)));
  const gg = nn.MLP({ mlpDim: 6, activation: 'gated-gelu' });
  const pg = gg.init(key, 4);
  nn.checkAxes(pg, gg.axes(4));
  assert.deepEqual(Object.keys(pg).sort(), ['wi_0', 'wi_1', 'wo']);
  assert.deepEqual((gg.axes(4) as any).wi_0.kernel.names, ['embed', 'mlp']);
  assert.deepEqual((gg.axes(4) as any).wo.kernel.names, ['mlp', 'embed']);
  const h = np.multiply(np.gelu(np.matmul(x, pg.wi_0!.kernel)), np.matmul(x, pg.wi_1!.kernel));
  close(vals(gg.apply(pg, x)), vals(np.matmul(h, pg.wo.kernel)));
  const sw = nn.MLP({ mlpDim: 6, activation: 'swiglu' });
  const ps = sw.init(key, 4);
  const hs = np.multiply(np.silu(np.matmul(x, ps.wi_0!.kernel)), np.matmul(x, ps.wi_1!.kernel));
  close(vals(sw.apply(ps, x)), vals(np.matmul(hs, ps.wo.kernel)));
  assert.throws(() => nn.MLP({ mlpDim: 6, activation: 'tanh' as never }), /unknown activation "tanh"/);
});

test('dropout: identity when deterministic, needs a key otherwise, zeroes ~rate and rescales', () => {
  const x = np.ones([4000]);
  assert.equal(nn.dropout(x, { rate: 0.3, deterministic: true }), x);
  assert.throws(() => nn.dropout(x, { rate: 0.3 }), /PRNG key is needed/);
  assert.throws(() => nn.dropout(x, { rate: 1 }), /rate must be a number in \[0, 1\)/);
  const y = vals(nn.dropout(x, { rate: 0.3, key: random.key(5) }));
  const zeros = y.filter((v) => v === 0).length;
  assert.ok(Math.abs(zeros / 4000 - 0.3) < 0.03, `dropped fraction ${zeros / 4000}`);
  for (const v of y) assert.ok(v === 0 || Math.abs(v - 1 / 0.7) < 1e-6);
  // Same key, same mask; different key, different mask.
  assert.deepEqual(vals(nn.dropout(x, { rate: 0.3, key: random.key(5) })), y);
  assert.notDeepEqual(vals(nn.dropout(x, { rate: 0.3, key: random.key(6) })), y);
});

test('initializers: variance scaling (fan-in, truncated normal) and normal have the intended std', () => {
  const w = vals(nn.initializers.lecunTruncated()(random.key(7), [256, 200], 'float32'));
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  assert.ok(Math.abs(std - 1 / 16) < 0.003, `std ${std}`);
  assert.ok(Math.max(...w.map(Math.abs)) <= (2 / 16) / 0.87962566103423978 + 1e-6);
  const e = vals(nn.initializers.normal(1)(random.key(8), [100, 100], 'float32'));
  const se = Math.sqrt(e.reduce((s, v) => s + v * v, 0) / e.length);
  assert.ok(Math.abs(se - 1) < 0.03, `std ${se}`);
  assert.equal(nn.initializers.normal(1)(key, [2], 'float64').dtype, 'float64');
  assert.throws(() => nn.initializers.normal(1)(key, [2], 'int32'), /float32 or float64/);
});

test('checkAxes: names the offending parameter', () => {
  const p = { a: { kernel: np.zeros([2, 3]) }, b: np.zeros([4]) };
  nn.checkAxes(p, { a: { kernel: new LogicalAxes('embed', 'mlp') }, b: new LogicalAxes('embed') });
  assert.throws(() => nn.checkAxes(p, { a: { kernel: new LogicalAxes('embed') }, b: new LogicalAxes('embed') }), /a\.kernel has shape \[2, 3\] but 1 axis names/);
  assert.throws(() => nn.checkAxes(p, { a: { kernel: new LogicalAxes('embed', 'mlp') } }), /params without axes: b/);
  assert.throws(() => nn.checkAxes(p, { a: { kernel: ['embed', 'mlp'] }, b: new LogicalAxes('embed') }), /does not match|not a LogicalAxes/);
  assert.throws(() => new LogicalAxes('embed', ''), /non-empty string/);
});

test('evalShape: parameter shapes without computing, paramCount and paramAxesTable', () => {
  const mha = nn.MultiHeadAttention({ numHeads: 4, headDim: 16 });
  const shapes = nn.evalShape((k: Array) => mha.init(k, 64), key);
  assert.ok(shapes.query.kernel instanceof ShapeDtypeStruct);
  assert.deepEqual(shapes.query.kernel.shape, [64, 4, 16]);
  assert.deepEqual(shapes.out.kernel.shape, [4, 16, 64]);
  nn.checkAxes(shapes, mha.axes(64));
  assert.equal(nn.paramCount(shapes), 4 * 64 * 64);
  const table = nn.paramAxesTable(shapes, mha.axes(64));
  assert.deepEqual(table.get('out.kernel'), { shape: [4, 16, 64], axes: ['heads', 'kv', 'embed'] });
  // The real init has the same shapes.
  const real = mha.init(key, 64);
  assert.deepEqual(real.value.kernel.shape, shapes.value.kernel.shape);
});

test('bad configs give errors naming the field', () => {
  assert.throws(() => nn.Dense({ features: 0 }), (e: unknown) => e instanceof ModelError && /features\[0\] must be a positive integer/.test((e as Error).message));
  assert.throws(() => nn.Embed({ numEmbeddings: 10.5, features: 4 }), /numEmbeddings must be a positive integer/);
  assert.throws(() => nn.MultiHeadAttention({ numHeads: 2, headDim: 4, dropoutRate: 2 }), /dropoutRate must be a number in \[0, 1\)/);
});

test('paramAxes: a model-level table from shapes only; norms reject integer inputs', () => {
  const blk = nn.EncoderBlock({ numHeads: 2, headDim: 4, mlpDim: 16, activation: 'gated-gelu' });
  const t = nn.paramAxes({ init: (k: Array) => blk.init(k, 8), axes: () => blk.axes() });
  assert.deepEqual(t.get('attention.query.kernel'), { shape: [8, 2, 4], axes: ['embed', 'heads', 'kv'] });
  assert.deepEqual(t.get('mlp.wi_1.kernel'), { shape: [8, 16], axes: ['embed', 'mlp'] });
  assert.deepEqual(t.get('pre_mlp_layer_norm.scale'), { shape: [8], axes: ['embed'] });
  assert.throws(() => nn.RMSNorm().apply({ scale: np.ones([2]) }, np.array([[1, 2]], { dtype: 'int32' })), /expected a float input/);
});
