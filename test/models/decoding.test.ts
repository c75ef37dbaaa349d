/**
 * Decoding: greedy decoding is deterministic and equals argmax over full recomputation, sampling
 * filters (temperature, top-k, top-p) on hand-made logits, top-k = 1 equals greedy, seeded sampling
 * is reproducible, beam search with one beam equals greedy and with enough beams equals brute force,
 * scoring equals the sum of log-softmax at the target ids (checked against cached decoding), the
 * jitted step traces once, and the TextModel wrapper drives both families through a tokenizer.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, np, random } from '../../src/index.js';
import {
  DecoderLM,
  T5,
  TextModel,
  applyStop,
  beamSearch,
  filterLogits,
  generateTokens,
  jittedStepFn,
  sampleLogits,
  scoreTargets,
  type Model,
} from '../../src/models/index.js';
import { ByteTokenizer } from '../../src/data/tokenizer/byte.js';

const t5 = T5('test');
const t5p = t5.init(random.key(0));
const lm = DecoderLM('test');
const lmp = lm.init(random.key(1));
const i32 = (rows: number[][]) => np.array(rows, { dtype: 'int32' });

/** Greedy continuation computed without the cache: argmax of a full forward pass per token. */
function greedyByRecomputation(model: Model, params: unknown, opts: { prompt?: number[]; encoder?: number[]; n: number }): number[] {
  const seq = [0, ...(opts.prompt ?? [])];
  const out: number[] = [];
  for (let i = 0; i < opts.n; i++) {
    const batch: Record<string, Array> = { decoder_input_tokens: i32([seq]) };
    if (opts.encoder) batch.encoder_input_tokens = i32([opts.encoder]);
    const logits = model.apply(params, batch);
    const last = np.slice(logits, null, [seq.length - 1, seq.length]).reshape([-1]);
    const tok = np.argmax(last).item() as number;
    if (tok === 1) break;
    out.push(tok);
    seq.push(tok);
  }
  return out;
}

test('greedy decoding (KV cache) equals argmax over full recomputation, and is deterministic', () => {
  const prompts = [[5, 6, 7], [9], [10, 11, 12, 13, 14]];
  const g = generateTokens(lm, lmp, { prompts }, { maxNewTokens: 5 });
  prompts.forEach((p, i) => assert.deepEqual(g.tokens[i], greedyByRecomputation(lm, lmp, { prompt: p, n: 5 }), `prompt ${i}`));
  assert.deepEqual(generateTokens(lm, lmp, { prompts }, { maxNewTokens: 5 }).tokens, g.tokens);
  // Batching does not change a row's result.
  assert.deepEqual(generateTokens(lm, lmp, { prompts: [prompts[1]] }, { maxNewTokens: 5 }).tokens[0], g.tokens[1]);
  const enc = [[5, 6, 7, 1], [9, 1]];
  const ge = generateTokens(t5, t5p, { encoderInputs: enc }, { maxNewTokens: 5 });
  enc.forEach((e, i) => assert.deepEqual(ge.tokens[i], greedyByRecomputation(t5, t5p, { encoder: e, n: 5 })));
});

test('EOS ends a row; the logprob sums the chosen tokens', () => {
  // Pick as EOS the token greedy decoding produces second, so the row stops there.
  const g = generateTokens(t5, t5p, { encoderInputs: [[5, 6, 7, 1]] }, { maxNewTokens: 5 });
  const eos = g.tokens[0][1];
  const h = generateTokens(t5, t5p, { encoderInputs: [[5, 6, 7, 1]] }, { maxNewTokens: 5, eosId: eos });
  assert.deepEqual(h.tokens[0], g.tokens[0].slice(0, 1));
  assert.equal(h.finished[0], true);
  assert.equal(g.finished[0], false);
  // logprob equals the score of the generated tokens (with EOS) given the input.
  const s = scoreTargets(t5, t5p, { prompts: [[5, 6, 7, 1]], targets: [[g.tokens[0][0], eos]] });
  assert.ok(Math.abs(s[0] - h.logprob[0]) < 1e-4);
});

test('filterLogits: temperature, top-k and top-p on hand-made logits', () => {
  const l = np.array([[Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]]);
  const keep = (x: Array) => (x.toArray()[0] as number[]).map((v) => v > -1e9);
  assert.deepEqual(keep(filterLogits(l, { topK: 2 })), [true, true, false, false]);
  assert.deepEqual(keep(filterLogits(l, { topP: 0.45 })), [true, false, false, false]);
  assert.deepEqual(keep(filterLogits(l, { topP: 0.55 })), [true, true, false, false]);
  assert.deepEqual(keep(filterLogits(l, { topP: 0.9 })), [true, true, true, false]);
  assert.deepEqual(keep(filterLogits(l, { topP: 1 })), [true, true, true, true]);
  const t = filterLogits(l, { temperature: 2 }).toArray()[0] as number[];
  assert.ok(Math.abs(t[0] - Math.log(0.5) / 2) < 1e-6);
  assert.throws(() => filterLogits(l, { topP: 0 }), /topP must be in \(0, 1\]/);
  assert.throws(() => sampleLogits(l, undefined, { temperature: 1 }), /needs a PRNG key/);
});

test('sampling: top-k 1 equals greedy; seeded sampling is reproducible; samples follow the distribution', () => {
  const prompts = [[5, 6, 7], [9]];
  const greedy = generateTokens(lm, lmp, { prompts }, { maxNewTokens: 4 }).tokens;
  assert.deepEqual(generateTokens(lm, lmp, { prompts }, { maxNewTokens: 4, temperature: 1.5, topK: 1, seed: 4 }).tokens, greedy);
  const a = generateTokens(lm, lmp, { prompts }, { maxNewTokens: 4, temperature: 1, topP: 0.95, seed: 7 }).tokens;
  assert.deepEqual(generateTokens(lm, lmp, { prompts }, { maxNewTokens: 4, temperature: 1, topP: 0.95, seed: 7 }).tokens, a);
  // Frequencies of 2000 draws from a 3-way distribution.
  const l = np.broadcastTo(np.log(np.array([0.6, 0.3, 0.1])), [2000, 3]);
  const draws = sampleLogits(l, random.key(3), { temperature: 1 }).dataSync();
  const freq = [0, 1, 2].map((k) => draws.filter((d) => d === k).length / 2000);
  [0.6, 0.3, 0.1].forEach((p, k) => assert.ok(Math.abs(freq[k] - p) < 0.04, `freq ${freq}`));
});

test('beam search: one beam equals greedy; enough beams find the exact best sequence', () => {
  const enc = [[5, 6, 7, 1], [9, 1], [12, 13, 14, 15, 16, 1]];
  const greedy = generateTokens(t5, t5p, { encoderInputs: enc }, { maxNewTokens: 6 });
  const b1 = beamSearch(t5, t5p, enc, { numBeams: 1, maxNewTokens: 6, lengthPenalty: 0 });
  assert.deepEqual(b1.tokens, greedy.tokens);
  b1.scores.forEach((s, i) => assert.ok(Math.abs(s - greedy.logprob[i]) < 1e-4));
  // Each returned beam's score is its log-likelihood (α = 0), checked by scoring it.
  const b4 = beamSearch(t5, t5p, enc, { numBeams: 4, maxNewTokens: 6, lengthPenalty: 0 });
  b4.beams.forEach((bs, i) => {
    assert.ok(bs.length >= 1 && bs.length <= 4);
    for (const beam of bs) {
      const target = beam.finished ? [...beam.tokens, 1] : beam.tokens;
      const s = scoreTargets(t5, t5p, { prompts: [enc[i]], targets: [target] })[0];
      assert.ok(Math.abs(s - beam.logprob) < 1e-4);
    }
  });
  // With as many beams as tokens, two steps of beam search are exhaustive: compare with brute force
  // over every [EOS] and [a, b] (a ≠ EOS), EOS = 1 being id 1 of the 64-token vocabulary.
  const V = t5.vocabSize;
  const bV = beamSearch(t5, t5p, [enc[1]], { numBeams: V, maxNewTokens: 2, lengthPenalty: 0 });
  const targets: number[][] = [[1]];
  for (let a = 0; a < V; a++) if (a !== 1) for (let b = 0; b < V; b++) targets.push([a, b]);
  const scores = scoreTargets(t5, t5p, { prompts: targets.map(() => enc[1]), targets });
  let best = 0;
  scores.forEach((s, i) => (s > scores[best] ? (best = i) : 0));
  const bestTokens = targets[best].at(-1) === 1 ? targets[best].slice(0, -1) : targets[best];
  assert.deepEqual(bV.tokens[0], bestTokens);
  assert.ok(Math.abs(bV.scores[0] - scores[best]) < 1e-4);
  // With EOS = a token greedy emits, finished hypotheses end with it and get the length penalty.
  const eos = greedy.tokens[0][2];
  const bp = beamSearch(t5, t5p, [enc[0]], { numBeams: 3, maxNewTokens: 6, eosId: eos, lengthPenalty: 0.6 });
  const fin = bp.beams[0].filter((b) => b.finished);
  assert.ok(fin.length > 0);
  for (const beam of fin) assert.ok(Math.abs(beam.score - beam.logprob / ((5 + beam.tokens.length + 1) / 6) ** 0.6) < 1e-9);
  assert.throws(() => beamSearch(lm, lmp, enc, { numBeams: 2, maxNewTokens: 2 }), /encoder-decoder models/);
});

test('scoring equals the sum of log-softmax at the target ids (checked against cached decoding)', () => {
  const check = (model: Model, params: unknown, prompt: number[], target: number[]) => {
    const s = scoreTargets(model, params, { prompts: [prompt, [3]], targets: [target, [4, 5]] })[0];
    // Independent path: feed the decoder one token at a time through the KV cache.
    const dec = model.family === 'encdec' ? [0, ...target.slice(0, -1)] : [0, ...prompt, ...target.slice(0, -1)];
    let cache = model.initDecodeCache(params, { batch: 1, maxLen: dec.length, encoderInputTokens: model.family === 'encdec' ? i32([prompt]) : undefined });
    let sum = 0;
    const offset = model.family === 'encdec' ? 0 : prompt.length;
    for (let t = 0; t < dec.length; t++) {
      const r = model.decodeStep(params, cache, i32([[dec[t]]]));
      cache = r.cache;
      if (t >= offset) sum += (np.logSoftmax(r.logits.reshape([-1])).toArray() as number[])[target[t - offset]];
    }
    assert.ok(Math.abs(s - sum) < 1e-4, `${model.family}: ${s} vs ${sum}`);
    assert.ok(s < 0);
  };
  check(t5, t5p, [5, 6, 7, 1], [8, 9, 1]);
  check(lm, lmp, [5, 6, 7], [8, 9, 10]);
  assert.throws(() => scoreTargets(t5, t5p, { prompts: [[1]], targets: [[]] }), /target 0 is empty/);
});

test('jit: the step function is traced once and reused for every token', () => {
  const f = jittedStepFn(lm, {});
  const before = f.stats.traces;
  const hits = f.stats.hits;
  const a = generateTokens(lm, lmp, { prompts: [[5, 6], [7, 8]] }, { maxNewTokens: 4, jit: true });
  // One trace for the prefill shape ([B, 3]) and one for single tokens ([B, 1]); the other calls hit the cache.
  assert.equal(f.stats.traces - before, 2);
  assert.equal(f.stats.hits - hits, a.steps - 2);
  assert.ok(a.steps >= 4);
  assert.deepEqual(a.tokens, generateTokens(lm, lmp, { prompts: [[5, 6], [7, 8]] }, { maxNewTokens: 4 }).tokens);
});

test('TextModel: generate and score through a byte tokenizer, for both families', async () => {
  const tok = new ByteTokenizer();
  const encdec = T5({ ...T5('test').config, vocabSize: 259 });
  const dec = DecoderLM({ ...DecoderLM('test').config, vocabSize: 259 });
  for (const m of [encdec, dec] as Model[]) {
    const tm = new TextModel(m, m.init(random.key(2)), tok, { batchSize: 2, name: m.family });
    const outs = await tm.generate(['hello', 'a', 'xyz'], { maxTokens: 3 });
    assert.equal(outs.length, 3);
    for (const o of outs) assert.equal(typeof o, 'string');
    assert.deepEqual(await tm.generate(['hello', 'a', 'xyz'], { maxTokens: 3 }), outs);
    const scores = await tm.score(['hello', 'hello'], ['a', 'bb']);
    assert.equal(scores.length, 2);
    scores.forEach((s) => assert.ok(Number.isFinite(s) && s < 0));
    // Rank classification is consistent with scoreTargets on the tokenized pair.
    const prompt = tm.promptIds('hello');
    const tgt = m.family === 'encdec' ? [...tok.encode('a'), 1] : tok.encode('a');
    assert.ok(Math.abs(scoreTargets(m, tm.params, { prompts: [prompt], targets: [tgt] })[0] - scores[0]) < 1e-4);
  }
  assert.deepEqual(new TextModel(encdec, encdec.init(random.key(2)), tok).promptIds('hi'), [...tok.encode('hi'), 1]);
  assert.throws(() => new TextModel(encdec, null, { ...tok, encode: tok.encode, decode: tok.decode, eosId: 1, padId: 5 }), /pad id is 5/);
  assert.equal(applyStop('abc\n\ndef', ['\n\n', 'zz']), 'abc');
});
