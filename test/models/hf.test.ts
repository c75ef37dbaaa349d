/**
 * The Hugging Face T5 name mapping: every parameter of the flan-t5-small shapes gets the HF name
 * and HF shape of google/flan-t5-small's checkpoint ([out, in] Linear weights, relative bias in
 * block 0, untied lm_head), and converting params to HF tensors and back is the identity, with
 * the transposes landing where HF expects them.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, np, random } from '../../src/index.js';
import { nn } from '../../src/nn/index.js';
import { T5, T5_PRESETS, fromHfT5, hfT5Names, toHfT5 } from '../../src/models/index.js';

test('hfT5Names: flan-t5-small names and shapes (from shapes only)', () => {
  const shapes = nn.evalShape((k: Array) => T5('t5-small').init(k), random.key(0));
  const names = hfT5Names(shapes);
  const hf = (n: string) => names.get(n)?.hfShape;
  assert.deepEqual(hf('shared.weight'), [32128, 512]);
  assert.deepEqual(hf('lm_head.weight'), [32128, 512]);
  assert.deepEqual(hf('encoder.block.0.layer.0.SelfAttention.q.weight'), [384, 512]);
  assert.deepEqual(hf('encoder.block.7.layer.0.SelfAttention.o.weight'), [512, 384]);
  assert.deepEqual(hf('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'), [32, 6]);
  assert.deepEqual(hf('decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'), [32, 6]);
  assert.equal(names.has('encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight'), false);
  assert.deepEqual(hf('encoder.block.3.layer.1.DenseReluDense.wi_0.weight'), [1024, 512]);
  assert.deepEqual(hf('encoder.block.3.layer.1.DenseReluDense.wi_1.weight'), [1024, 512]);
  assert.deepEqual(hf('encoder.block.3.layer.1.DenseReluDense.wo.weight'), [512, 1024]);
  assert.deepEqual(hf('decoder.block.5.layer.1.EncDecAttention.k.weight'), [384, 512]);
  assert.deepEqual(hf('decoder.block.5.layer.2.DenseReluDense.wo.weight'), [512, 1024]);
  assert.deepEqual(hf('decoder.block.5.layer.1.layer_norm.weight'), [512]);
  assert.deepEqual(hf('encoder.final_layer_norm.weight'), [512]);
  assert.deepEqual(hf('decoder.final_layer_norm.weight'), [512]);
  assert.equal(names.get('decoder.block.2.layer.1.EncDecAttention.q.weight')!.path, 'decoder.layers_2.encoder_decoder_attention.query.kernel');
  assert.equal(names.get('decoder.block.2.layer.0.layer_norm.weight')!.path, 'decoder.layers_2.pre_self_attention_layer_norm.scale');
  assert.equal(names.get('decoder.block.2.layer.2.layer_norm.weight')!.path, 'decoder.layers_2.pre_mlp_layer_norm.scale');
  // flan-t5-small's state dict: 1 shared + 8 encoder blocks × 9 + 1 rel + 1 norm + 8 decoder blocks × 14 + 1 rel + 1 norm + lm_head.
  assert.equal(names.size, 1 + 8 * 9 + 2 + 8 * 14 + 2 + 1);
  const total = [...names.values()].reduce((n, e) => n + e.hfShape.reduce((a, b) => a * b, 1), 0);
  assert.equal(total, 76_961_152);
});

test('toHfT5 / fromHfT5: round trip, with HF layouts ([out, in], [buckets, heads])', () => {
  const m = T5({ ...T5_PRESETS.test, activation: 'relu', tieEmbeddings: true });
  const p = m.init(random.key(1));
  const t = toHfT5(p);
  assert.equal(t.has('lm_head.weight'), false); // tied
  assert.ok(t.has('encoder.block.1.layer.1.DenseReluDense.wi.weight'));
  // q.weight[o, i] = query.kernel[i, h, d] with o = h·headDim + d.
  const q = t.get('encoder.block.0.layer.0.SelfAttention.q.weight')!;
  const qk = (p as any).encoder.layers_0.attention.query.kernel.toArray() as number[][][];
  assert.deepEqual(q.shape, [16, 16]);
  assert.equal(q.data[(1 * 8 + 3) * 16 + 5], Math.fround(qk[5][1][3]));
  const rel = t.get('decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight')!;
  const re = (p as any).decoder.relpos_bias.rel_embedding.toArray() as number[][];
  assert.deepEqual(rel.shape, [32, 2]);
  assert.equal(rel.data[7 * 2 + 1], Math.fround(re[1][7]));
  const back = fromHfT5(t, p);
  for (const { path, leaf } of nn.namedLeaves<Array>(p)) {
    const b = nn.namedLeaves<Array>(back).find((x) => x.path === path)!.leaf;
    assert.deepEqual(b.shape, leaf.shape);
    assert.equal(np.max(np.abs(np.subtract(b, leaf))).item(), 0, path);
  }
  const bad = new Map(t);
  bad.delete('shared.weight');
  assert.throws(() => fromHfT5(bad, p), /no tensor shared\.weight/);
  const wrong = new Map(t);
  wrong.set('encoder.final_layer_norm.weight', { data: new Float32Array(3), shape: [3] });
  assert.throws(() => fromHfT5(wrong, p), /has shape \[3\] but the model expects \[16\]/);
});
