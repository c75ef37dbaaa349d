/**
 * Attention: T5 relative-position buckets against values computed by hand from the formula
 * (bidirectional and causal), masks (causal, padding, packed segments — perturbing hidden
 * positions leaves outputs unchanged), logit scaling, cross-attention, rotary embeddings and the
 * KV cache (incremental decoding equals full attention).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, np, random } from '../../src/index.js';
import { nn } from '../../src/nn/index.js';

const key = random.key(0);

function vals(a: Array): number[] {
  return globalThis.Array.from(a.dataSync() as Float32Array);
}
function maxDiff(a: Array, b: Array): number {
  return np.max(np.abs(np.subtract(a, b))).item() as number;
}

/**
 * The T5 bucket of relative position r (key − query), evaluated by hand in exact arithmetic:
 * bidirectional: half the buckets (offset nb/2) for r > 0, n = |r|; causal: n = max(−r, 0). With
 * B buckets left and E = B/2 exact ones: n < E → n; else E + ⌊ln(n/E)/ln(maxDist/E)·(B − E)⌋ capped at B − 1.
 */
const HAND_BIDIRECTIONAL_32_128: [number, number][] = [
  // r, bucket   (B = 16 per side, E = 8; bin edges at n = 8·2^(k/2): 11.3, 16, 22.6, 32, 45.3, 64, 90.5, 128)
  [0, 0], [-1, 1], [-7, 7], [-8, 8], [-11, 8], [-12, 9], [-16, 10], [-22, 10], [-23, 11],
  [-31, 11], [-32, 12], [-45, 12], [-46, 13], [-64, 14], [-90, 14], [-91, 15], [-127, 15], [-128, 15], [-1000, 15],
  [1, 17], [7, 23], [8, 24], [15, 25], [16, 26], [20, 26], [32, 28], [100, 31], [127, 31], [128, 31], [5000, 31],
];
const HAND_CAUSAL_32_128: [number, number][] = [
  // (B = 32, E = 16; bin k starts at n = 16·8^(k/16): 18.2, 20.7, 23.6, 26.9, 30.6, 34.9, …, 112.4 for k = 15)
  [5, 0], [1, 0], [0, 0], [-1, 1], [-15, 15], [-16, 16], [-17, 16], [-18, 16], [-19, 17],
  [-32, 21], [-33, 21], [-64, 26], [-65, 26], [-100, 30], [-112, 30], [-113, 31], [-127, 31], [-128, 31], [-129, 31], [-4000, 31],
];

test('relativePositionBucket: bidirectional, 32 buckets, max distance 128 (hand-computed)', () => {
  const rs = HAND_BIDIRECTIONAL_32_128.map(([r]) => r);
  const got = vals(nn.relativePositionBucket(np.array(rs, { dtype: 'int32' }), { bidirectional: true, numBuckets: 32, maxDistance: 128 }));
  assert.deepEqual(got, HAND_BIDIRECTIONAL_32_128.map(([, b]) => b));
});

test('relativePositionBucket: causal, 32 buckets, max distance 128 (hand-computed)', () => {
  const rs = HAND_CAUSAL_32_128.map(([r]) => r);
  const got = vals(nn.relativePositionBucket(np.array(rs, { dtype: 'int32' }), { bidirectional: false, numBuckets: 32, maxDistance: 128 }));
  assert.deepEqual(got, HAND_CAUSAL_32_128.map(([, b]) => b));
});

test('relativePositionBucket: small configurations and the exact formula on a range', () => {
  // 8 bidirectional buckets, max distance 16: 4 per side, exact 0..1, then 2 + ⌊ln(n/2)/ln 8 · 2⌋.
  const rs = [-20, -16, -8, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 7, 8, 15, 16];
  const want = [3, 3, 3, 2, 2, 2, 2, 1, 0, 5, 6, 6, 6, 7, 7, 7, 7];
  assert.deepEqual(vals(nn.relativePositionBucket(np.array(rs, { dtype: 'int32' }), { bidirectional: true, numBuckets: 8, maxDistance: 16 })), want);
  // Every r in [-300, 300] against the formula evaluated in float64 away from bin edges.
  const all = globalThis.Array.from({ length: 601 }, (_, i) => i - 300);
  for (const bidirectional of [true, false]) {
    const got = vals(nn.relativePositionBucket(np.array(all, { dtype: 'int32' }), { bidirectional, numBuckets: 32, maxDistance: 128 }));
    all.forEach((r, i) => {
      let nb = 32;
      let ret = 0;
      let n: number;
      if (bidirectional) {
        nb = 16;
        if (r > 0) ret = 16;
        n = Math.abs(r);
      } else n = Math.max(-r, 0);
      const e = nb / 2;
      const x = n < e ? n : Math.min(nb - 1, e + Math.floor((Math.log(n / e) / Math.log(128 / e)) * (nb - e) + 1e-9));
      assert.equal(got[i], ret + x, `r=${r} bidirectional=${bidirectional}`);
    });
  }
  assert.throws(() => nn.relativePositionBucket(np.array([1, 2], { dtype: 'int32' }), { bidirectional: true, numBuckets: 5, maxDistance: 16 }), /even numBuckets/);
});

test('RelativePositionBias: [1, heads, q, k] from rel_embedding [heads, buckets], with a query offset', () => {
  const rp = nn.RelativePositionBias({ numHeads: 3, numBuckets: 8, maxDistance: 16, bidirectional: false });
  const p = rp.init(key);
  nn.checkAxes(p, rp.axes());
  assert.deepEqual(p.rel_embedding.shape, [3, 8]);
  const b = rp.apply(p, 4);
  assert.deepEqual(b.shape, [1, 3, 4, 4]);
  const emb = p.rel_embedding.toArray() as number[][];
  const bb = b.toArray() as number[][][][];
  // Query 3, key 0: r = -3 → causal bucket 2 + ⌊ln(3/4)…⌋: n = 3 < 4 exact → 3.
  assert.equal(bb[0][1][3][0], emb[1][3]);
  assert.equal(bb[0][2][0][3], emb[2][0]); // future key: bucket 0
  // A query at offset 5 against 8 keys equals row 5 of the full 8×8 bias.
  const full = rp.apply(p, 8);
  const one = rp.apply(p, 1, { kLen: 8, queryOffset: np.array(5, { dtype: 'int32' }) });
  assert.deepEqual(vals(one), vals(np.slice(full, null, null, [5, 6])));
});

test('masks: causal, padding, segments, prefix-LM, and their additive bias', () => {
  assert.deepEqual(nn.causalMask(3).toArray(), [[[[true, false, false], [true, true, false], [true, true, true]]]]);
  const valid = np.array([[true, true, false]]);
  assert.deepEqual(nn.makeAttentionMask(valid, valid).toArray(), [[[[true, true, false], [true, true, false], [false, false, false]]]]);
  const seg = np.array([[1, 1, 2]], { dtype: 'int32' });
  assert.deepEqual(nn.segmentMask(seg, seg).toArray(), [[[[true, true, false], [true, true, false], [false, false, true]]]]);
  const pre = nn.decoderMask(np.array([[1, 1, 1, 0]], { dtype: 'int32' }), { causalAttention: np.array([[1, 1, 0, 0]], { dtype: 'int32' }) });
  assert.deepEqual(pre.toArray(), [[[[true, true, false, false], [true, true, false, false], [true, true, true, false], [false, false, false, false]]]]);
  assert.deepEqual(vals(nn.maskToBias(np.array([true, false]))), [0, -1e10]);
  assert.equal(nn.combineMasks(null, undefined), null);
});

function mhaSetup(scaleLogits = true) {
  const mha = nn.MultiHeadAttention({ numHeads: 2, headDim: 4, scaleLogits });
  const p = mha.init(key, 6);
  nn.checkAxes(p, mha.axes(6));
  return { mha, p };
}

test('causal self-attention: perturbing future positions does not change earlier outputs', () => {
  const { mha, p } = mhaSetup();
  const x = random.normal(random.key(1), [2, 5, 6]);
  const mask = nn.causalMask(5);
  const y = mha.apply(p, x, { mask });
  const x2 = np.concatenate([np.slice(x, null, [0, 3]), np.add(np.slice(x, null, [3, 5]), 10)], 1);
  const y2 = mha.apply(p, x2, { mask });
  assert.equal(maxDiff(np.slice(y, null, [0, 3]), np.slice(y2, null, [0, 3])), 0);
  assert.ok(maxDiff(np.slice(y, null, [3, 5]), np.slice(y2, null, [3, 5])) > 1e-3);
});

test('padding mask: padded keys carry no information', () => {
  const { mha, p } = mhaSetup(false);
  const x = random.normal(random.key(2), [1, 4, 6]);
  const valid = np.array([[true, true, true, false]]);
  const mask = nn.makeAttentionMask(valid, valid);
  const y = mha.apply(p, x, { mask });
  const x2 = np.concatenate([np.slice(x, null, [0, 3]), random.normal(random.key(9), [1, 1, 6])], 1);
  const y2 = mha.apply(p, x2, { mask });
  assert.equal(maxDiff(np.slice(y, null, [0, 3]), np.slice(y2, null, [0, 3])), 0);
});

test('packed segments: tokens never attend across segments', () => {
  const { mha, p } = mhaSetup();
  const seg = np.array([[1, 1, 2, 2, 2]], { dtype: 'int32' });
  const mask = nn.combineMasks(nn.causalMask(5), nn.segmentMask(seg, seg));
  const x = random.normal(random.key(3), [1, 5, 6]);
  const y = mha.apply(p, x, { mask });
  // Change segment 1: segment 2's outputs are unchanged, and equal attention on segment 2 alone.
  const x2 = np.concatenate([np.multiply(np.slice(x, null, [0, 2]), -3), np.slice(x, null, [2, 5])], 1);
  const y2 = mha.apply(p, x2, { mask });
  assert.equal(maxDiff(np.slice(y, null, [2, 5]), np.slice(y2, null, [2, 5])), 0);
  const alone = mha.apply(p, np.slice(x, null, [2, 5]), { mask: nn.causalMask(3) });
  assert.ok(maxDiff(np.slice(y, null, [2, 5]), alone) < 1e-6);
});

test('dotProductAttention: scaling flag, bias addition, and a hand-checked case', () => {
  const q = random.normal(random.key(4), [1, 2, 1, 4]);
  const k = random.normal(random.key(5), [1, 3, 1, 4]);
  const v = random.normal(random.key(6), [1, 3, 1, 4]);
  const scaled = nn.dotProductAttention(q, k, v);
  const unscaled = nn.dotProductAttention(np.multiply(q, 0.5), k, v, { scale: false });
  assert.ok(maxDiff(scaled, unscaled) < 1e-6); // 1/√4 = 0.5
  // By hand for query 0: softmax(q·k / 2) · v.
  const qa = q.toArray()[0][0][0] as number[];
  const ka = (k.toArray()[0] as number[][][]).map((r) => r[0]);
  const va = (v.toArray()[0] as number[][][]).map((r) => r[0]);
  const s = ka.map((kr) => kr.reduce((acc, kv, i) => acc + kv * qa[i], 0) / 2);
  const m = Math.max(...s);
  const w = s.map((x) => Math.exp(x - m));
  const z = w.reduce((a, b) => a + b, 0);
  const want = [0, 1, 2, 3].map((d) => va.reduce((acc, vr, j) => acc + (w[j] / z) * vr[d], 0));
  const got = (scaled.toArray()[0][0][0] as number[]);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < 1e-5));
  // A -1e10 bias on a key removes it.
  const bias = np.array([0, -1e10, 0]).reshape([1, 1, 1, 3]);
  const dropped = nn.dotProductAttention(q, k, v, { bias });
  const without = nn.dotProductAttention(q, np.take(k, np.array([0, 2], { dtype: 'int32' }), { axis: 1 }), np.take(v, np.array([0, 2], { dtype: 'int32' }), { axis: 1 }));
  assert.ok(maxDiff(dropped, without) < 1e-6);
});

test('T5 attention: without logit scaling the query init is divided by √headDim', () => {
  const a = nn.MultiHeadAttention({ numHeads: 2, headDim: 16, scaleLogits: true }).init(key, 8);
  const b = nn.MultiHeadAttention({ numHeads: 2, headDim: 16, scaleLogits: false }).init(key, 8);
  assert.ok(maxDiff(np.multiply(a.query.kernel, 0.25), b.query.kernel) < 1e-7);
  assert.equal(maxDiff(a.key.kernel, b.key.kernel), 0);
});

test('cross-attention: queries from one sequence, keys/values from another; padded memory is ignored', () => {
  const mha = nn.MultiHeadAttention({ numHeads: 2, headDim: 3 });
  const p = mha.init(key, 6, 5);
  assert.deepEqual(p.key.kernel.shape, [5, 2, 3]);
  assert.deepEqual(p.out.kernel.shape, [2, 3, 6]);
  const xq = random.normal(random.key(7), [2, 3, 6]);
  const mem = random.normal(random.key(8), [2, 4, 5]);
  const memValid = np.array([[true, true, true, true], [true, true, false, false]]);
  const mask = nn.makeAttentionMask(np.ones([2, 3], 'bool'), memValid);
  const y = mha.apply(p, xq, { kv: mem, mask });
  assert.deepEqual(y.shape, [2, 3, 6]);
  const mem2 = np.where(np.expandDims(memValid, -1), mem, np.full([2, 4, 5], 7));
  assert.equal(maxDiff(y, mha.apply(p, xq, { kv: mem2, mask })), 0);
  // Precomputed memory (decoding) equals the direct call.
  const kv = mha.projectKV(p, mem);
  assert.equal(maxDiff(mha.attendKV(p, xq, kv, { mask }), y), 0);
});

test('KV cache: decoding token by token equals full causal attention (with relative bias and rotary)', () => {
  for (const rotary of [false, true]) {
    const mha = nn.MultiHeadAttention({ numHeads: 2, headDim: 4, scaleLogits: false });
    const p = mha.init(key, 6);
    const rp = nn.RelativePositionBias({ numHeads: 2, numBuckets: 8, maxDistance: 16, bidirectional: false });
    const pr = rp.init(random.key(3));
    const L = 5;
    const x = random.normal(random.key(10), [2, L, 6]);
    const pos = np.arange(L).reshape([1, L]);
    const full = mha.apply(p, x, { bias: nn.combineBiases(nn.maskToBias(nn.causalMask(L)), rp.apply(pr, L)), rotaryPositions: rotary ? pos : undefined });
    const maxLen = 7;
    let cache = mha.initCache(2, maxLen);
    for (let t = 0; t < L; t++) {
      const idx = np.array(t, { dtype: 'int32' });
      const mask = np.less_equal(np.arange(maxLen), t).reshape([1, 1, 1, maxLen]);
      const bias = nn.combineBiases(nn.maskToBias(mask), rp.apply(pr, 1, { kLen: maxLen, queryOffset: idx }));
      const [y, c] = mha.decode(p, np.slice(x, null, [t, t + 1]), cache, idx, { bias, rotaryPositions: rotary ? np.array([[t]], { dtype: 'int32' }) : undefined });
      cache = c;
      assert.ok(maxDiff(y, np.slice(full, null, [t, t + 1])) < 1e-5, `rotary=${rotary} step ${t}`);
    }
    // The cache holds the projected keys of the fed positions and zeros after them.
    assert.equal(maxDiff(np.slice(cache.key, null, [L, maxLen]), np.zeros([2, maxLen - L, 2, 4])), 0);
  }
});

test('rotary embeddings: rotation preserves norms and makes q·k depend only on the offset', () => {
  const q = random.normal(random.key(11), [1, 1, 1, 8]);
  const k = random.normal(random.key(12), [1, 1, 1, 8]);
  const at = (x: Array, p: number) => nn.applyRotary(x, np.array([[p]], { dtype: 'int32' }));
  const dot = (a: Array, b: Array) => np.sum(np.multiply(a, b)).item() as number;
  assert.ok(Math.abs(dot(at(q, 3), at(q, 3)) - dot(q, q)) < 1e-4);
  assert.ok(Math.abs(dot(at(q, 7), at(k, 4)) - dot(at(q, 13), at(k, 10))) < 1e-4);
  assert.ok(Math.abs(dot(at(q, 7), at(k, 4)) - dot(q, k)) > 1e-4);
});
