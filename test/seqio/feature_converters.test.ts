/**
 * Tests of the feature converters: seqio's documented goldens (packed prefix-LM, unpacked prefix-LM,
 * packed encoder-decoder), packing invariants on a real task stream (positions restart, decoder inputs
 * shifted per segment, loss weights zero on padding and inputs), masks that allow no attention across
 * segments — proved numerically by running masked attention and changing another segment's tokens —,
 * truncation/overflow handling, and resumable batch streams.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DecoderOnlyConverter,
  EncDecConverter,
  Mixture,
  Task,
  batchRow,
  checkPackedBatch,
  selfAttentionMask,
  crossAttentionMask,
  CounterRng,
  type Batch,
  type Example,
} from '../../src/data/seqio/index.js';
import { arithmeticTask, roundTrip, vocab } from './fixtures.js';

const rowOf = (b: Batch, f: string, r = 0) => Array.from(batchRow(b, f, r));
const ex = (inputs: number[], targets: number[]): Example => ({ inputs_ids: inputs, targets_ids: targets });

test('packed prefix-LM matches seqio’s documented example', () => {
  const conv = new DecoderOnlyConverter({ length: 15, mode: 'prefix-lm' });
  const [b] = [...conv.batches([ex([7, 8, 5, 1], [3, 9, 1]), ex([8, 4, 9, 3, 1], [4, 1])], 1)];
  assert.deepEqual(rowOf(b, 'decoder_target_tokens'), [7, 8, 5, 1, 3, 9, 1, 8, 4, 9, 3, 1, 4, 1, 0]);
  assert.deepEqual(rowOf(b, 'decoder_input_tokens'), [0, 7, 8, 5, 1, 3, 9, 0, 8, 4, 9, 3, 1, 4, 0]);
  assert.deepEqual(rowOf(b, 'decoder_loss_weights'), [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0]);
  assert.deepEqual(rowOf(b, 'decoder_positions'), [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 0]);
  assert.deepEqual(rowOf(b, 'decoder_segment_ids'), [1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 0]);
  assert.deepEqual(rowOf(b, 'decoder_causal_attention'), [1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0]);
  checkPackedBatch(b);
});

test('unpacked prefix-LM matches seqio (the final EOS stays in the shifted inputs)', () => {
  const conv = new DecoderOnlyConverter({ length: 9, mode: 'prefix-lm', pack: false });
  const [b] = [...conv.batches([ex([9, 4, 6, 1], [3, 9, 1])], 1)];
  assert.deepEqual(rowOf(b, 'decoder_target_tokens'), [9, 4, 6, 1, 3, 9, 1, 0, 0]);
  assert.deepEqual(rowOf(b, 'decoder_input_tokens'), [0, 9, 4, 6, 1, 3, 9, 1, 0]);
  assert.deepEqual(rowOf(b, 'decoder_loss_weights'), [0, 0, 0, 0, 1, 1, 1, 0, 0]);
  assert.deepEqual(rowOf(b, 'decoder_causal_attention'), [1, 1, 1, 1, 1, 0, 0, 0, 0]);
  checkPackedBatch(b, { packed: false });
});

test('packed encoder-decoder matches seqio’s documented example', () => {
  const conv = new EncDecConverter({ inputsLength: 10, targetsLength: 7 });
  const [b] = [...conv.batches([ex([7, 8, 5, 1], [3, 9, 1]), ex([8, 4, 9, 3, 1], [4, 1])], 1)];
  assert.deepEqual(rowOf(b, 'encoder_input_tokens'), [7, 8, 5, 1, 8, 4, 9, 3, 1, 0]);
  assert.deepEqual(rowOf(b, 'encoder_segment_ids'), [1, 1, 1, 1, 2, 2, 2, 2, 2, 0]);
  assert.deepEqual(rowOf(b, 'encoder_positions'), [0, 1, 2, 3, 0, 1, 2, 3, 4, 0]);
  assert.deepEqual(rowOf(b, 'decoder_target_tokens'), [3, 9, 1, 4, 1, 0, 0]);
  assert.deepEqual(rowOf(b, 'decoder_input_tokens'), [0, 3, 9, 0, 4, 0, 0]);
  assert.deepEqual(rowOf(b, 'decoder_loss_weights'), [1, 1, 1, 1, 1, 0, 0]);
  assert.deepEqual(rowOf(b, 'decoder_segment_ids'), [1, 1, 1, 2, 2, 0, 0]);
  assert.deepEqual(rowOf(b, 'decoder_positions'), [0, 1, 2, 0, 1, 0, 0]);
  assert.deepEqual(b.encoder_input_tokens.shape, [1, 10]);
  assert.ok(b.encoder_input_tokens.data instanceof Int32Array);
  checkPackedBatch(b);
});

test('packing invariants hold on a real task stream, for every converter', () => {
  const task = arithmeticTask('fc_stream', 400, { dropEvery: 9 });
  const convs = [
    new DecoderOnlyConverter({ length: 96, mode: 'concat' }),
    new DecoderOnlyConverter({ length: 96, mode: 'prefix-lm' }),
    new DecoderOnlyConverter({ length: 64, mode: 'lm' }),
    new EncDecConverter({ inputsLength: 96, targetsLength: 24 }),
  ];
  for (const conv of convs) {
    let examplesSeen = 0;
    for (const b of conv.batches(task.getDataset('train', { seed: 1 }), 8)) {
      checkPackedBatch(b);
      for (let r = 0; r < 8; r++) {
        const seg = batchRow(b, 'decoder_segment_ids', r);
        const loss = batchRow(b, 'decoder_loss_weights', r);
        const tgt = batchRow(b, 'decoder_target_tokens', r);
        examplesSeen += Math.max(0, ...seg);
        // Decoder-only concat: loss exactly on each segment's target tokens (the last digits + EOS).
        if (conv instanceof DecoderOnlyConverter && conv.mode !== 'lm') {
          for (let s = 1; s <= Math.max(0, ...seg); s++) {
            const idx = [...seg.keys()].filter((i) => seg[i] === s);
            const weighted = idx.filter((i) => loss[i] === 1).map((i) => tgt[i]);
            assert.equal(weighted[weighted.length - 1], 1, 'targets end in EOS');
            const text = String.fromCharCode(...weighted.slice(0, -1).map((id) => id - 3));
            assert.match(text, /^\d+$/, 'only the answer digits carry loss');
          }
        }
      }
    }
    assert.equal(examplesSeen, [...task.getDataset('train', { seed: 1 })].length, `${conv.describe()} packs every example once`);
    assert.ok(conv.packingEfficiency > 0.6, `${conv.describe()} efficiency ${conv.packingEfficiency}`);
  }
});

/** Single-head softmax attention over scalar features with a 0/1 mask. */
function attend(x: number[], mask: Uint8Array): number[] {
  const L = x.length;
  return x.map((q, i) => {
    let num = 0;
    let den = 0;
    for (let k = 0; k < L; k++) {
      if (!mask[i * L + k]) continue;
      const w = Math.exp(Math.sin(q * 1.3 + x[k] * 0.7));
      num += w * Math.cos(x[k]);
      den += w;
    }
    return den === 0 ? 0 : num / den;
  });
}

test('masks allow no attention across segments: changing one segment cannot change another', () => {
  const conv = new DecoderOnlyConverter({ length: 40, mode: 'prefix-lm' });
  const rng = new CounterRng(3);
  const mk = () => ex(Array.from({ length: 3 + rng.int(5) }, () => 3 + rng.int(250)), Array.from({ length: 2 + rng.int(4) }, () => 3 + rng.int(250)));
  const [b] = [...conv.batches([mk(), mk(), mk(), mk()], 1)];
  const seg = batchRow(b, 'decoder_segment_ids', 0);
  const bi = batchRow(b, 'decoder_causal_attention', 0);
  const toks = Array.from(batchRow(b, 'decoder_input_tokens', 0));
  const mask = selfAttentionMask(seg, { causal: true, bidirectional: bi });
  const L = seg.length;
  for (let q = 0; q < L; q++) {
    for (let k = 0; k < L; k++) {
      const expect = seg[q] !== 0 && seg[q] === seg[k] && (k <= q || (bi[q] === 1 && bi[k] === 1));
      assert.equal(mask[q * L + k] === 1, expect, `mask[${q},${k}]`);
    }
  }
  const base = attend(toks, mask);
  for (let s = 1; s <= Math.max(...seg); s++) {
    const changed = toks.map((t, i) => (seg[i] === s ? t + 17 : t));
    const out = attend(changed, mask);
    for (let i = 0; i < L; i++) if (seg[i] !== s && seg[i] !== 0) assert.equal(out[i], base[i], `segment ${seg[i]} output at ${i} moved when segment ${s} changed`);
  }
  // Causal part: a token never sees later tokens outside the bidirectional prefix.
  for (let q = 0; q < L; q++) for (let k = q + 1; k < L; k++) if (!(bi[q] && bi[k])) assert.equal(mask[q * L + k], 0);
  // Cross attention for encoder-decoder rows.
  const cm = crossAttentionMask([1, 1, 2, 0], [1, 2, 2, 0, 0]);
  assert.deepEqual(Array.from(cm), [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
});

test('checkPackedBatch rejects broken invariants', () => {
  const conv = new DecoderOnlyConverter({ length: 12 });
  const good = () => [...conv.batches([ex([5, 6], [7, 1]), ex([8], [9, 1])], 1)][0];
  const mutate = (f: string, i: number, v: number) => {
    const b = good();
    b[f].data[i] = v;
    return b;
  };
  assert.doesNotThrow(() => checkPackedBatch(good()));
  assert.throws(() => checkPackedBatch(mutate('decoder_positions', 4, 4)), /starts at 4 with position 4/);
  assert.throws(() => checkPackedBatch(mutate('decoder_input_tokens', 4, 1)), /decoder_input_tokens\[4\] = 1, expected 0/);
  assert.throws(() => checkPackedBatch(mutate('decoder_loss_weights', 10, 1)), /loss weight 1 on padding/);
  assert.throws(() => checkPackedBatch(mutate('decoder_segment_ids', 4, 3)), /count up/);
});

test('overflow: truncate (counted) or error', () => {
  const long = ex([3, 4, 5, 6, 7, 8], [9, 10, 1]);
  const t = new DecoderOnlyConverter({ length: 5 });
  const [b] = [...t.batches([long], 1)];
  assert.deepEqual(rowOf(b, 'decoder_target_tokens'), [3, 4, 5, 6, 7]);
  assert.deepEqual(rowOf(b, 'decoder_loss_weights'), [0, 0, 0, 0, 0]);
  assert.equal(t.stats.truncated, 1);
  assert.throws(() => [...new DecoderOnlyConverter({ length: 5, overflow: 'error' }).batches([long], 1)], /does not fit in a row of 5/);
  assert.throws(() => [...new EncDecConverter({ inputsLength: 4, targetsLength: 4 }).batches([{ inputs_ids: [1] }], 1)], /lacks 'targets_ids'/);
});

test('batch streams resume exactly from a JSON position', () => {
  const m = new Mixture('fc_mix', [arithmeticTask('fc_a', 50), arithmeticTask('fc_b', 70, { dropEvery: 5 })]);
  const conv = new DecoderOnlyConverter({ length: 80 });
  const ds = conv.batches(m.getDataset('train', { seed: 2 }), 4);
  const ref = ds.take(30);
  for (const cut of [1, 7, 19]) {
    const it = ds[Symbol.iterator]();
    for (let i = 0; i < cut; i++) it.next();
    const pos = roundTrip(it.position);
    assert.equal(pos.batches, cut);
    const it2 = ds.resume(pos);
    const rest = Array.from({ length: 30 - cut }, () => it2.next().value as Batch);
    rest.forEach((b, k) => {
      for (const f of Object.keys(b)) assert.deepEqual(Array.from(b[f].data), Array.from(ref[cut + k][f].data), `batch ${cut + k} ${f}`);
    });
  }
  const other = new DecoderOnlyConverter({ length: 81 }).batches(m.getDataset('train', { seed: 2 }), 4);
  const it = ds[Symbol.iterator]();
  it.next();
  assert.throws(() => other.resume(it.position), /same converter and batch size/);
  // Unpacked rows (and variable lengths) make positions "snapshot + skip"; resume still matches.
  const varLen = new Task({
    name: 'fc_varlen',
    source: () => Array.from({ length: 200 }, (_, i) => ({ i })),
    preprocessors: [(e) => ({ inputs: 'q', targets: 'x'.repeat([3, 3, 3, 38][(e.i as number) % 4] + ((e.i as number) % 7)) })],
    outputFeatures: { inputs: { vocabulary: vocab, addEos: true }, targets: { vocabulary: vocab, addEos: true } },
  });
  const vconv = new DecoderOnlyConverter({ length: 48, pack: false });
  const vds = vconv.batches(varLen.getDataset('train', { repeat: true }), 2);
  const vref = vds.take(40);
  const skips: number[] = [];
  for (let cut = 1; cut < 40; cut += 3) {
    const it = vds[Symbol.iterator]();
    for (let i = 0; i < cut; i++) it.next();
    const pos = roundTrip(it.position);
    skips.push(pos.skip);
    const it2 = vds.resume(pos);
    for (let k = cut; k < 40; k++) assert.deepEqual(Array.from((it2.next().value as Batch).decoder_target_tokens.data), Array.from(vref[k].decoder_target_tokens.data), `varlen batch ${k} after cut ${cut}`);
  }
  assert.ok(skips.some((k) => k > 0), `expected some positions with skip > 0, got ${skips}`);
  // A finite stream ends with a padded partial batch, or drops it.
  const finite = arithmeticTask('fc_fin', 9);
  const padded = [...conv.batches(finite.getDataset('train'), 4)];
  const dropped = [...conv.batches(finite.getDataset('train'), 4, { dropRemainder: true })];
  assert.equal(padded.length, dropped.length + 1);
});
