/**
 * Decoding for both model families with the KV cache: greedy, temperature, top-k and top-p
 * (nucleus) sampling; beam search (encoder-decoders) with a GNMT length penalty and EOS handling;
 * and scoring of given targets (sum of log-likelihoods per example) for rank classification.
 *
 * Every token goes through one step function `(params, cache, tokens [B, 1], key) → {next, logprob,
 * cache}` whose only varying inputs are arrays (the position index lives in the cache as an int32
 * scalar), so `jit` compiles it once per batch shape and reuses it for every token. The host loop
 * around it only chooses the next input tokens: for decoder-only models, prompts of different
 * lengths are handled by feeding the longest common prefix in one "prefill" call and then forcing
 * each row's remaining prompt tokens (as T5X's decoder-only inference does) before sampling.
 *
 * Conventions (T5/seqio): id 0 is padding and the decoder's start token; decoder-only inputs are
 * [0, prompt…]; generation stops per row at `eosId` (default 1) or after `maxNewTokens`.
 */

import { Array } from '../core/array.js';
import { jit, type Jitted } from '../core/jit.js';
import * as lax from '../core/lax.js';
import { map as treeMap } from '../core/pytree.js';
import { np } from '../np/index.js';
import { random } from '../random/index.js';
import { MASK_VALUE } from '../nn/attention.js';
import { ModelError, positiveInt } from '../nn/module.js';
import { sequenceLogLikelihood, type DecodeCache, type Model } from './common.js';

/** How the next token is chosen from logits. */
export interface SamplingOptions {
  /** 0 (default): greedy argmax. Otherwise logits are divided by the temperature and sampled. */
  temperature?: number;
  /** Keep only the k most likely tokens before sampling (0 = off, default). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 = off, default). */
  topP?: number;
}

function checkSampling(o: SamplingOptions, where: string): Required<SamplingOptions> {
  const temperature = o.temperature ?? 0;
  const topK = o.topK ?? 0;
  const topP = o.topP ?? 1;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new ModelError(`${where}: temperature must be a finite number ≥ 0, got ${temperature}`);
  if (!Number.isInteger(topK) || topK < 0) throw new ModelError(`${where}: topK must be an integer ≥ 0, got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new ModelError(`${where}: topP must be in (0, 1], got ${topP}`);
  return { temperature, topK, topP };
}

/**
 * Filters logits [B, V] for sampling: divides by the temperature, then keeps the top-k and/or the
 * top-p nucleus (the most likely tokens until their cumulative probability first reaches p; the
 * most likely token is always kept); the rest get −1e10. Ties at a threshold are kept.
 */
export function filterLogits(logits: Array, o: SamplingOptions): Array {
  const { temperature, topK, topP } = checkSampling(o, 'filterLogits');
  if (logits.ndim !== 2) throw new ModelError(`filterLogits: logits must be [batch, vocab], got [${logits.shape.join(', ')}]`);
  const V = logits.shape[1];
  const neg = np.full([], MASK_VALUE, logits.dtype);
  let l = temperature > 0 ? np.divide(logits, temperature) : logits;
  if (topK > 0 && topK < V) {
    const [vals] = np.topK(l, topK);
    const kth = np.slice(vals, null, [topK - 1, topK]); // [B, 1]
    l = np.where(np.less(l, kth), neg, l);
  }
  if (topP < 1) {
    const [sorted] = np.topK(l, V); // descending
    const probs = np.softmax(sorted, -1);
    const before = np.subtract(np.cumsum(probs, 1), probs); // exclusive cumulative probability
    const keep = np.less(before, topP);
    // The smallest kept logit is the cut-off.
    const cutoff = np.min(np.where(keep, sorted, np.full([], Infinity, sorted.dtype)), -1, { keepdims: true });
    l = np.where(np.less(l, cutoff), neg, l);
  }
  return l;
}

/** Picks next tokens (int32 [B]) from logits [B, V]: argmax when temperature is 0, else a sample. */
export function sampleLogits(logits: Array, key: Array | undefined, o: SamplingOptions): Array {
  const s = checkSampling(o, 'sampleLogits');
  if (s.temperature === 0) return lax.argmax(logits, 1, 'int32');
  if (!key) throw new ModelError('sampleLogits: sampling (temperature > 0) needs a PRNG key');
  return random.categorical(key, filterLogits(logits, s), { axis: -1 });
}

/** One decoding step's results. */
export interface StepResult {
  /** Chosen next tokens, int32 [B]. */
  next: Array;
  /** log p(next) under the model (untempered), [B]. */
  logprob: Array;
  /** Log-probabilities of every token at the last fed position, [B, V]. */
  logprobs: Array;
  cache: DecodeCache;
}

/** The step function: feeds tokens [B, n], returns the choice at the last position. */
export type StepFn = (params: unknown, cache: DecodeCache, tokens: Array, key: Array) => StepResult;

/** Builds the (jittable) step function of a model for fixed sampling options. */
export function makeStepFn(model: Model, sampling: SamplingOptions = {}): StepFn {
  const s = checkSampling(sampling, 'makeStepFn');
  return (params, cache, tokens, key) => {
    const { logits, cache: next } = model.decodeStep(params, cache, tokens);
    const n = logits.shape[1];
    const last = np.squeeze(np.slice(logits, null, [n - 1, n]), 1); // [B, V]
    const logprobs = np.logSoftmax(last, -1);
    const tok = sampleLogits(last, key, s);
    const logprob = np.squeeze(np.takeAlongAxis(logprobs, np.expandDims(tok, -1), -1), -1);
    return { next: tok, logprob, logprobs, cache: next };
  };
}

const jitCache = new WeakMap<Model, Map<string, Jitted<StepFn>>>();

/** A jitted step function, memoized per model and sampling options (so repeated calls reuse compilations). */
export function jittedStepFn(model: Model, sampling: SamplingOptions = {}, backend?: string): Jitted<StepFn> {
  const s = checkSampling(sampling, 'jittedStepFn');
  const k = JSON.stringify([s, backend ?? null]);
  let m = jitCache.get(model);
  if (!m) jitCache.set(model, (m = new Map()));
  let f = m.get(k);
  if (!f) m.set(k, (f = jit(makeStepFn(model, s), { backend })));
  return f;
}

/** Options of {@link generateTokens}. */
export interface DecodeOptions extends SamplingOptions {
  /** Most tokens generated per row (EOS included). */
  maxNewTokens: number;
  /** End-of-sequence id (default 1, T5). */
  eosId?: number;
  /** PRNG key (sampling); default random.key(seed ?? 0). */
  key?: Array;
  seed?: number;
  /** Run the step function through `jit` (default false: eager). */
  jit?: boolean;
  /** Backend for jit (default: the global default). */
  backend?: string;
}

/** Generated tokens per row. */
export interface DecodeResult {
  /** Generated ids per row, without the EOS. */
  tokens: number[][];
  /** Whether each row ended with EOS (else it hit maxNewTokens). */
  finished: boolean[];
  /** Sum of log p of the generated tokens (EOS included) under the untempered model. */
  logprob: number[];
  /** Step-function calls made (prefill included). */
  steps: number;
}

function intMatrix(rows: number[][], width: number, where: string, fillLeft = false): Array {
  const data = new Int32Array(rows.length * width);
  rows.forEach((r, i) => {
    if (r.length > width) throw new ModelError(`${where}: row ${i} has ${r.length} tokens, more than ${width}`);
    const off = fillLeft ? width - r.length : 0;
    r.forEach((t, j) => {
      if (!Number.isInteger(t) || t < 0) throw new ModelError(`${where}: token ids must be integers ≥ 0, got ${t} in row ${i}`);
      data[i * width + off + j] = t;
    });
  });
  return Array.fromData(data, [rows.length, width], 'int32');
}

function checkRows(rows: unknown, what: string, where: string): number[][] {
  if (!globalThis.Array.isArray(rows) || rows.length === 0 || !rows.every((r) => globalThis.Array.isArray(r))) {
    throw new ModelError(`${where}: ${what} must be a non-empty list of token-id lists`);
  }
  return rows as number[][];
}

/**
 * Generates continuations with the KV cache. Decoder-only models take `prompts` (token ids, no
 * start token); encoder-decoders take `encoderInputs` (token ids, EOS included as T5 expects).
 */
export function generateTokens(model: Model, params: unknown, inputs: { prompts?: number[][]; encoderInputs?: number[][] }, opts: DecodeOptions): DecodeResult {
  const where = `generateTokens(${model.family})`;
  const maxNew = positiveInt(opts.maxNewTokens, 'maxNewTokens', where);
  const eos = opts.eosId ?? 1;
  const sampling = checkSampling(opts, where);
  const step: StepFn = opts.jit ? jittedStepFn(model, sampling, opts.backend) : makeStepFn(model, sampling);
  let key = opts.key ?? random.key(opts.seed ?? 0);

  let prompts: number[][];
  let cache: DecodeCache;
  let B: number;
  if (model.family === 'encdec') {
    const enc = checkRows(inputs.encoderInputs, 'encoderInputs', where);
    B = enc.length;
    prompts = enc.map(() => []);
    const width = Math.max(1, ...enc.map((r) => r.length));
    cache = model.initDecodeCache(params, { batch: B, maxLen: maxNew, encoderInputTokens: intMatrix(enc, width, where) });
  } else {
    prompts = checkRows(inputs.prompts, 'prompts', where);
    B = prompts.length;
    const maxPrompt = Math.max(...prompts.map((p) => p.length));
    cache = model.initDecodeCache(params, { batch: B, maxLen: maxPrompt + maxNew });
  }
  // Row b's decoder sequence is [0, ...prompts[b], generated...]; position t's input is seq[t].
  const seqs = prompts.map((p) => [0, ...p]);
  const lens = prompts.map((p) => p.length);
  const minLen = Math.min(...lens);
  // Prefill: positions 0..minLen are known for every row.
  let fed = minLen + 1;
  let tokens = intMatrix(seqs.map((s) => s.slice(0, fed)), fed, where);
  const out: number[][] = prompts.map(() => []);
  const finished = prompts.map(() => false);
  const done = prompts.map(() => false);
  const logprob = prompts.map(() => 0);
  let steps = 0;
  for (;;) {
    const [k0, k1] = random.split(key);
    key = k0;
    const r = step(params, cache, tokens, k1);
    steps++;
    cache = r.cache;
    const next = r.next.dataSync();
    const lp = r.logprob.dataSync();
    // The fed positions end at fed − 1; the next input position is `fed`.
    const inputs1: number[] = [];
    for (let b = 0; b < B; b++) {
      let tok: number;
      if (fed <= lens[b]) tok = seqs[b][fed]; // still inside the prompt: force it
      else if (done[b]) tok = 0;
      else {
        tok = next[b];
        logprob[b] += lp[b];
        if (tok === eos) {
          finished[b] = true;
          done[b] = true;
        } else {
          out[b].push(tok);
          if (out[b].length >= maxNew) done[b] = true;
        }
      }
      inputs1.push(tok);
    }
    if (done.every((d, b) => d && fed > lens[b])) break;
    tokens = intMatrix(inputs1.map((t) => [t]), 1, where);
    fed++;
  }
  return { tokens: out, finished, logprob, steps };
}

/** Options of {@link beamSearch}. */
export interface BeamSearchOptions {
  /** Beams per example (≥ 1). */
  numBeams: number;
  maxNewTokens: number;
  /** GNMT length penalty exponent α: scores are divided by ((5 + length)/6)^α (default 0.6, as T5X). */
  lengthPenalty?: number;
  eosId?: number;
  jit?: boolean;
  backend?: string;
}

/** Beam search results, best first. */
export interface BeamSearchResult {
  /** Best sequence per example (without EOS). */
  tokens: number[][];
  /** Its length-normalized score. */
  scores: number[];
  /** All final beams per example, best first: tokens, raw log-probability, normalized score. */
  beams: { tokens: number[]; logprob: number; score: number; finished: boolean }[][];
}

function repeatRows<T>(rows: T[], k: number): T[] {
  return rows.flatMap((r) => globalThis.Array.from({ length: k }, () => r));
}

/**
 * Beam search for encoder-decoders: keeps `numBeams` live hypotheses per example; at each step
 * the 2·numBeams best extensions are examined, those ending in EOS become finished hypotheses
 * (scored logprob / ((5 + len)/6)^α, len counting the EOS), the best numBeams others stay
 * alive. An example stops when it has numBeams finished hypotheses and no live one can still
 * beat the worst of them (live scores only fall, and the penalty is largest at maxNewTokens), or
 * at maxNewTokens, when unfinished beams compete with their current scores.
 */
export function beamSearch(model: Model, params: unknown, encoderInputs: number[][], opts: BeamSearchOptions): BeamSearchResult {
  const where = 'beamSearch';
  if (model.family !== 'encdec') throw new ModelError(`${where}: beam search is implemented for encoder-decoder models; use generateTokens for decoder-only models`);
  const K = positiveInt(opts.numBeams, 'numBeams', where);
  const maxNew = positiveInt(opts.maxNewTokens, 'maxNewTokens', where);
  const alpha = opts.lengthPenalty ?? 0.6;
  if (!(alpha >= 0)) throw new ModelError(`${where}: lengthPenalty must be ≥ 0, got ${alpha}`);
  const eos = opts.eosId ?? 1;
  const enc = checkRows(encoderInputs, 'encoderInputs', where);
  const B = enc.length;
  const V = model.vocabSize;
  const penalty = (len: number) => ((5 + len) / 6) ** alpha;
  const step: StepFn = opts.jit ? jittedStepFn(model, {}, opts.backend) : makeStepFn(model, {});
  const width = Math.max(1, ...enc.map((r) => r.length));
  let cache = model.initDecodeCache(params, { batch: B * K, maxLen: maxNew, encoderInputTokens: intMatrix(repeatRows(enc, K), width, where) });

  type Hyp = { tokens: number[]; logprob: number };
  let alive: Hyp[][] = enc.map(() => globalThis.Array.from({ length: K }, (_, k) => ({ tokens: [], logprob: k === 0 ? 0 : -Infinity })));
  const fin: { tokens: number[]; logprob: number; score: number }[][] = enc.map(() => []);
  const stopped = enc.map(() => false);
  let tokens = Array.fromData(new Int32Array(B * K), [B * K, 1], 'int32');
  const dummyKey = random.key(0);
  for (let t = 0; t < maxNew; t++) {
    const r = step(params, cache, tokens, dummyKey);
    const lp = r.logprobs.dataSync(); // [B*K, V]
    const parents = new Int32Array(B * K);
    const nextTok = new Int32Array(B * K);
    const newAlive: Hyp[][] = [];
    for (let b = 0; b < B; b++) {
      // Top 2K candidates over (beam, token), by a partial selection.
      const cand: { score: number; k: number; v: number }[] = [];
      const need = 2 * K;
      for (let k = 0; k < K; k++) {
        const base = alive[b][k].logprob;
        if (base === -Infinity || stopped[b]) continue;
        const off = (b * K + k) * V;
        for (let v = 0; v < V; v++) {
          const s = base + lp[off + v];
          if (cand.length < need) {
            cand.push({ score: s, k, v });
            if (cand.length === need) cand.sort((x, y) => y.score - x.score);
          } else if (s > cand[need - 1].score) {
            let i = need - 1;
            while (i > 0 && cand[i - 1].score < s) i--;
            cand.splice(i, 0, { score: s, k, v });
            cand.pop();
          }
        }
      }
      cand.sort((x, y) => y.score - x.score);
      const next: Hyp[] = [];
      for (const c of cand) {
        const toks = [...alive[b][c.k].tokens, c.v];
        if (c.v === eos) {
          fin[b].push({ tokens: toks.slice(0, -1), logprob: c.score, score: c.score / penalty(toks.length) });
        } else if (next.length < K) {
          next.push({ tokens: toks, logprob: c.score });
          parents[b * K + next.length - 1] = b * K + c.k;
          nextTok[b * K + next.length - 1] = c.v;
        }
      }
      fin[b].sort((x, y) => y.score - x.score);
      fin[b].splice(K);
      while (next.length < K) {
        parents[b * K + next.length] = b * K;
        next.push({ tokens: [], logprob: -Infinity });
      }
      newAlive.push(next);
      // Early stop: K finished and no live hypothesis can catch up.
      const bestAlive = Math.max(...next.map((h) => h.logprob));
      if (stopped[b] || (fin[b].length >= K && (bestAlive === -Infinity || bestAlive / penalty(maxNew) <= fin[b][fin[b].length - 1].score))) stopped[b] = true;
    }
    alive = newAlive;
    if (stopped.every(Boolean) || t === maxNew - 1) break;
    const idx = Array.fromData(parents, [B * K], 'int32');
    cache = reorderCache(r.cache, idx, B * K);
    tokens = Array.fromData(nextTok, [B * K, 1], 'int32');
  }
  const beams = enc.map((_, b) => {
    const all = [
      ...fin[b].map((f) => ({ ...f, finished: true })),
      ...(stopped[b] && fin[b].length >= K ? [] : alive[b].filter((h) => h.logprob > -Infinity).map((h) => ({ tokens: h.tokens, logprob: h.logprob, score: h.logprob / penalty(h.tokens.length), finished: false }))),
    ];
    all.sort((x, y) => y.score - x.score);
    return all.slice(0, K);
  });
  return { tokens: beams.map((bs) => bs[0]?.tokens ?? []), scores: beams.map((bs) => bs[0]?.score ?? -Infinity), beams };
}

/** Reorders every cache leaf whose first dim is the batch (rows `indices`); scalars (the index) are kept. */
export function reorderCache<C>(cache: C, indices: Array, batch: number): C {
  return treeMap((leaf: unknown) => {
    if (leaf instanceof Array && leaf.ndim >= 1 && leaf.shape[0] === batch) return lax.gather(leaf, indices, 0, 0);
    return leaf;
  }, cache);
}

/** Inputs of {@link scoreTargets}. */
export interface ScoreInputs {
  /** Decoder-only: prompt ids; encoder-decoder: encoder input ids (EOS included). */
  prompts: number[][];
  /** Target ids scored as the continuation (append EOS yourself if it should count). */
  targets: number[][];
}

/**
 * Sum over target tokens of log p(target token | prompt, previous target tokens), per example,
 * from one full forward pass (no cache): the rank-classification score.
 */
export function scoreTargets(model: Model, params: unknown, inputs: ScoreInputs): number[] {
  const where = `scoreTargets(${model.family})`;
  const prompts = checkRows(inputs.prompts, 'prompts', where);
  const targets = checkRows(inputs.targets, 'targets', where);
  if (prompts.length !== targets.length) throw new ModelError(`${where}: ${prompts.length} prompts but ${targets.length} targets`);
  targets.forEach((t, i) => {
    if (t.length === 0) throw new ModelError(`${where}: target ${i} is empty; there is nothing to score`);
  });
  if (model.family === 'encdec') {
    const L = Math.max(...targets.map((t) => t.length));
    const Le = Math.max(1, ...prompts.map((p) => p.length));
    const batch = {
      encoder_input_tokens: intMatrix(prompts, Le, where),
      decoder_input_tokens: intMatrix(targets.map((t) => [0, ...t.slice(0, -1)]), L, where),
      decoder_target_tokens: intMatrix(targets, L, where),
      decoder_loss_weights: intMatrix(targets.map((t) => t.map(() => 1)), L, where),
    };
    return globalThis.Array.from(sequenceLogLikelihood(model.apply(params, batch), batch.decoder_target_tokens, batch.decoder_loss_weights).dataSync());
  }
  const seqs = prompts.map((p, i) => [...p, ...targets[i]]);
  const L = Math.max(...seqs.map((s) => s.length));
  const weights = prompts.map((p, i) => [...p.map(() => 0), ...targets[i].map(() => 1)]);
  const batch = {
    decoder_input_tokens: intMatrix(seqs.map((s) => [0, ...s.slice(0, -1)]), L, where),
    decoder_target_tokens: intMatrix(seqs, L, where),
    decoder_loss_weights: intMatrix(weights, L, where),
  };
  // Padding is at the end, so causal attention never sees it; no segment features are needed.
  const logits = model.apply(params, { decoder_input_tokens: batch.decoder_input_tokens });
  return globalThis.Array.from(sequenceLogLikelihood(logits, batch.decoder_target_tokens, batch.decoder_loss_weights).dataSync());
}
