/**
 * The model families: parameter axes of every preset (shapes only, nothing allocated), the
 * Flan-T5 parameter counts, loss falling under plain SGD on a fixed batch, packed batches from the
 * real seqio converters (a packed example's logits equal those of the example alone), KV-cache
 * decoding equal to full recomputation for every position encoding, dropout, and config errors.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, np, random, tree, valueAndGrad } from '../../src/index.js';
import { nn } from '../../src/nn/index.js';
import { DECODER_LM_PRESETS, DecoderLM, T5, T5_PRESETS, createModel, toModelBatch, type Batch, type Model } from '../../src/models/index.js';
import { DecoderOnlyConverter, EncDecConverter, type Example } from '../../src/data/seqio/index.js';

const key = random.key(0);

function maxDiff(a: Array, b: Array): number {
  return np.max(np.abs(np.subtract(a, b))).item() as number;
}
const i32 = (rows: number[][]) => np.array(rows, { dtype: 'int32' });

test('every preset: one logical axis name per parameter dim (shapes only), known parameter counts', () => {
  for (const name of Object.keys(DECODER_LM_PRESETS)) {
    const m = DecoderLM(name);
    const shapes = nn.evalShape((k: Array) => m.init(k), key);
    nn.checkAxes(shapes, m.axes(), `decoder:${name}`);
  }
  for (const name of Object.keys(T5_PRESETS)) {
    const m = T5(name);
    const shapes = nn.evalShape((k: Array) => m.init(k), key);
    nn.checkAxes(shapes, m.axes(), name);
  }
  // google/flan-t5-small and -base as counted by Hugging Face (shared embedding counted once, untied lm_head).
  assert.equal(nn.paramCount(nn.evalShape((k: Array) => T5('t5-small').init(k), key)), 76_961_152);
  assert.equal(nn.paramCount(nn.evalShape((k: Array) => T5('t5-base').init(k), key)), 247_577_856);
});

test('axes name the expected logical dims', () => {
  const a = T5('test').axes() as any;
  assert.deepEqual(a.token_embedder.embedding.names, ['vocab', 'embed']);
  assert.deepEqual(a.encoder.layers_0.attention.query.kernel.names, ['embed', 'heads', 'kv']);
  assert.deepEqual(a.encoder.layers_0.attention.out.kernel.names, ['heads', 'kv', 'embed']);
  assert.deepEqual(a.encoder.relpos_bias.rel_embedding.names, ['heads', 'relpos_buckets']);
  assert.deepEqual(a.decoder.layers_1.mlp.wi_0.kernel.names, ['embed', 'mlp']);
  assert.deepEqual(a.decoder.logits_dense.kernel.names, ['embed', 'vocab']);
  assert.equal(a.encoder.layers_1.relpos_bias, undefined); // only one relative bias per stack
  const d = DecoderLM({ ...DECODER_LM_PRESETS.test, positional: 'learned' }).axes() as any;
  assert.deepEqual(d.pos_embedder.embedding.names, ['abspos_buckets', 'embed']);
});

function sgdDrops(model: Model, batch: Batch, steps: number, lr: number): number[] {
  let params = model.init(random.key(1));
  const f = valueAndGrad((p: unknown) => model.loss(p, batch, { zLoss: 0 }).loss);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const [l, g] = f(params);
    losses.push(l.item() as number);
    params = tree.map((p: Array, gp: Array) => np.subtract(p, np.multiply(gp, lr)), params, g);
  }
  return losses;
}

test('DecoderLM: loss on a fixed batch falls under plain SGD', () => {
  const targets = i32([[5, 9, 12, 7, 1, 0], [22, 8, 8, 30, 41, 1]]);
  const inputs = i32([[0, 5, 9, 12, 7, 1], [0, 22, 8, 8, 30, 41]]);
  const losses = sgdDrops(DecoderLM('test'), { decoder_input_tokens: inputs, decoder_target_tokens: targets }, 8, 1);
  assert.ok(losses[0] > Math.log(64) - 0.7, `initial loss ${losses[0]} should be near ln(64)`);
  assert.ok(losses[7] < losses[0] * 0.6, `losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);
});

test('T5: loss on a fixed batch falls under plain SGD; metrics', () => {
  const m = T5('test');
  const batch = {
    encoder_input_tokens: i32([[7, 8, 5, 1], [8, 4, 1, 0]]),
    decoder_input_tokens: i32([[0, 3, 9], [0, 4, 0]]),
    decoder_target_tokens: i32([[3, 9, 1], [4, 1, 0]]),
  };
  const losses = sgdDrops(m, batch, 8, 1);
  assert.ok(losses[7] < losses[0] * 0.6, `losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);
  const out = m.loss(m.init(key), batch);
  assert.equal(out.metrics.num_tokens.item(), 5);
  const acc = out.metrics.accuracy.item() as number;
  assert.ok(acc >= 0 && acc <= 1);
  // Loss = cross-entropy + z-loss, both per token.
  assert.ok(Math.abs((out.loss.item() as number) - (out.metrics.cross_entropy.item() as number) - (out.metrics.z_loss.item() as number)) < 1e-5);
});

const exs = (pairs: [number[], number[]][]): Example[] => pairs.map(([i, t]) => ({ inputs_ids: i, targets_ids: t }));

test('T5 on a packed seqio batch: each packed example gets the logits it gets alone', () => {
  const m = T5('test');
  const p = m.init(key);
  const examples = exs([[[7, 8, 5, 1], [3, 9, 1]], [[8, 4, 9, 3, 1], [4, 12, 1]]]);
  const [packed] = [...new EncDecConverter({ inputsLength: 10, targetsLength: 7 }).batches(examples, 1)];
  const lp = m.apply(p, toModelBatch(packed as never));
  const [single] = [...new EncDecConverter({ inputsLength: 5, targetsLength: 3, pack: false }).batches(examples.slice(1), 1)];
  const ls = m.apply(p, toModelBatch(single as never));
  assert.ok(maxDiff(np.slice(lp, null, [3, 6]), ls) < 1e-5);
  const [first] = [...new EncDecConverter({ inputsLength: 4, targetsLength: 3, pack: false }).batches(examples.slice(0, 1), 1)];
  assert.ok(maxDiff(np.slice(lp, null, [0, 3]), m.apply(p, toModelBatch(first as never))) < 1e-5);
});

test('DecoderLM on packed seqio batches (lm and prefix-lm): no attention across segments', () => {
  for (const positional of ['relative', 'learned', 'rotary'] as const) {
    const m = DecoderLM({ ...DECODER_LM_PRESETS.test, positional, maxLen: 16 });
    const p = m.init(key);
    for (const mode of ['lm', 'prefix-lm'] as const) {
      const examples = exs([[[7, 8, 1], [3, 9, 1]], [[8, 4, 9, 1], [4, 1]]]);
      const [packed] = [...new DecoderOnlyConverter({ length: 14, mode }).batches(examples, 1)];
      const lp = m.apply(p, toModelBatch(packed as never));
      const [single] = [...new DecoderOnlyConverter({ length: mode === 'lm' ? 2 : 6, mode, pack: false }).batches(examples.slice(1), 1)];
      const ls = m.apply(p, toModelBatch(single as never));
      const start = mode === 'lm' ? 3 : 6;
      const n = ls.shape[1];
      assert.ok(maxDiff(np.slice(lp, null, [start, start + n]), ls) < 1e-5, `${positional} ${mode}`);
    }
  }
});

function cacheMatchesFull(m: Model, batch: Batch, encoderInputTokens?: Array): void {
  const p = m.init(key);
  const full = m.apply(p, batch);
  const inputs = batch.decoder_input_tokens;
  const [B, L] = inputs.shape;
  let cache = m.initDecodeCache(p, { batch: B, maxLen: L + 2, encoderInputTokens });
  for (let t = 0; t < L; t++) {
    const r = m.decodeStep(p, cache, np.slice(inputs, null, [t, t + 1]));
    cache = r.cache;
    assert.ok(maxDiff(r.logits, np.slice(full, null, [t, t + 1])) < 1e-5, `step ${t}`);
  }
  // Prefill of several tokens at once equals the same positions of the full pass.
  const c0 = m.initDecodeCache(p, { batch: B, maxLen: L + 2, encoderInputTokens });
  const r1 = m.decodeStep(p, c0, np.slice(inputs, null, [0, 3]));
  const r2 = m.decodeStep(p, r1.cache, np.slice(inputs, null, [3, L]));
  assert.ok(maxDiff(np.concatenate([r1.logits, r2.logits], 1), full) < 1e-5);
  assert.equal(r2.cache.index.item(), L);
  // Logits do vary along the sequence (the comparison is not vacuous).
  assert.ok(maxDiff(np.slice(full, null, [0, 1]), np.slice(full, null, [1, 2])) > 1e-3);
}

test('KV-cache decoding equals full recomputation: DecoderLM with every position encoding, tied and untied', () => {
  const inputs = i32([[0, 5, 9, 12, 7, 3], [0, 22, 8, 8, 30, 41]]);
  for (const positional of ['relative', 'learned', 'rotary', 'none'] as const) {
    for (const tieEmbeddings of [true, false]) {
      cacheMatchesFull(DecoderLM({ ...DECODER_LM_PRESETS.test, positional, tieEmbeddings, maxLen: 16, activation: 'swiglu' }), { decoder_input_tokens: inputs });
    }
  }
});

test('KV-cache decoding equals full recomputation: T5 (self and cross-attention caches, padded encoder)', () => {
  const enc = i32([[5, 6, 7, 1, 0], [9, 10, 11, 12, 1]]);
  const inputs = i32([[0, 11, 12, 13, 4], [0, 14, 15, 3, 3]]);
  cacheMatchesFull(T5('test'), { encoder_input_tokens: enc, decoder_input_tokens: inputs }, enc);
});

test('dropout: training is stochastic and needs a key; evaluation is deterministic', () => {
  const m = T5({ ...T5_PRESETS.test, dropoutRate: 0.3 });
  const p = m.init(key);
  const batch = { encoder_input_tokens: i32([[5, 6, 1]]), decoder_input_tokens: i32([[0, 3]]), decoder_target_tokens: i32([[3, 1]]) };
  assert.throws(() => m.apply(p, batch, { train: true }), /training with dropout needs \{ key \}/);
  const a = m.apply(p, batch, { train: true, key: random.key(1) });
  const b = m.apply(p, batch, { train: true, key: random.key(2) });
  const c = m.apply(p, batch, { train: true, key: random.key(1) });
  assert.ok(maxDiff(a, b) > 1e-3);
  assert.equal(maxDiff(a, c), 0);
  assert.equal(maxDiff(m.apply(p, batch), m.apply(p, batch)), 0);
});

test('configs: bad fields and unknown presets give clear errors', () => {
  assert.throws(() => DecoderLM({ ...DECODER_LM_PRESETS.test, numLayers: 0 }), /numLayers must be a positive integer/);
  assert.throws(() => DecoderLM({ ...DECODER_LM_PRESETS.test, positional: 'alibi' as never }), /positional must be one of/);
  assert.throws(() => T5({ ...T5_PRESETS.test, dModle: 4 } as never), /unknown config field "dModle"/);
  assert.throws(() => T5('t5-huge'), /unknown preset "t5-huge"/);
  assert.throws(() => createModel({ family: 'rnn' } as never), /family must be 'decoder', 'encdec'/);
  assert.equal(createModel('decoder:test').family, 'decoder');
  assert.equal(createModel({ family: 'encdec', ...T5_PRESETS.test }).family, 'encdec');
  const m = T5('test');
  assert.throws(() => m.apply(m.init(key), { decoder_input_tokens: i32([[0, 1]]) }), /the batch has no feature encoder_input_tokens/);
  const d = DecoderLM({ ...DECODER_LM_PRESETS.test, positional: 'learned', maxLen: 4 });
  assert.throws(() => d.apply(d.init(key), { decoder_input_tokens: i32([[0, 1, 2, 3, 4]]) }), /exceeds maxLen 4/);
});
