/**
 * `TextModel`: wraps a model, its params and a tokenizer into the `LanguageModel` interface of the
 * evaluation harness (`generate(prompts, opts)` and `score(prompts, targets)`), so any Myriad
 * model can be evaluated zero-/few-shot, by generation or by rank classification.
 *
 * Tokenization follows T5/seqio: encoder-decoder inputs get EOS appended (after truncation to
 * `maxInputLength`), and scored targets get EOS appended (`scoreEos`, default true for
 * encoder-decoders — the likelihood of the full answer, as seqio's scoring does — and false for
 * decoder-only models, where the target is a plain continuation). Decoder-only prompts longer
 * than `maxInputLength` keep their last tokens. The tokenizer's pad id must be 0 (the models'
 * padding and decoder start id) and its EOS id must be defined.
 */

import { ModelError } from '../nn/module.js';
import type { Model } from './common.js';
import { beamSearch, generateTokens, scoreTargets } from './decoding.js';

/** The tokenizer interface the wrapper needs (every Myriad tokenizer implements it). */
export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  readonly eosId: number;
  readonly padId: number;
}

/** Options of a TextModel. */
export interface TextModelOptions {
  /** Name shown in eval reports. */
  name?: string;
  /** Longest encoder input / decoder-only prompt in tokens (default 512). */
  maxInputLength?: number;
  /** Prompts per forward batch (default 8). */
  batchSize?: number;
  /** Append EOS to scored targets (default: true for encoder-decoders, false for decoder-only). */
  scoreEos?: boolean;
  /** Run decoding steps through jit (default false). */
  jit?: boolean;
  backend?: string;
}

/** Options of `generate` (the harness's GenerateOptions plus sampling and beam settings). */
export interface TextGenerateOptions {
  /** Most new tokens (default 64). */
  maxTokens?: number;
  /** 0 (default): greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Cut each output at the first occurrence of any of these strings. */
  stop?: string[];
  seed?: number;
  /** Beam search with this many beams (encoder-decoders only; temperature must be 0). */
  numBeams?: number;
  /** Beam search length penalty α (default 0.6). */
  lengthPenalty?: number;
}

/** Cuts `s` at the earliest occurrence of any stop string. */
export function applyStop(s: string, stop: readonly string[] | undefined): string {
  let end = s.length;
  for (const t of stop ?? []) {
    if (!t) continue;
    const i = s.indexOf(t);
    if (i >= 0 && i < end) end = i;
  }
  return s.slice(0, end);
}

/** A model plus params plus tokenizer, usable by the eval harness. */
export class TextModel {
  readonly name?: string;
  private readonly maxIn: number;
  private readonly batchSize: number;
  private readonly scoreEos: boolean;

  constructor(
    readonly model: Model,
    readonly params: unknown,
    readonly tokenizer: TextTokenizer,
    private readonly opts: TextModelOptions = {},
  ) {
    if (tokenizer.padId !== 0) throw new ModelError(`TextModel: the tokenizer's pad id is ${tokenizer.padId}, but Myriad models use id 0 for padding and the decoder start; use a tokenizer with pad id 0`);
    if (!(tokenizer.eosId > 0)) throw new ModelError(`TextModel: the tokenizer defines no EOS id (got ${tokenizer.eosId}); generation needs one`);
    this.name = opts.name;
    this.maxIn = opts.maxInputLength ?? 512;
    this.batchSize = opts.batchSize ?? 8;
    if (!Number.isInteger(this.maxIn) || this.maxIn < 2) throw new ModelError(`TextModel: maxInputLength must be an integer ≥ 2, got ${this.maxIn}`);
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new ModelError(`TextModel: batchSize must be a positive integer, got ${this.batchSize}`);
    this.scoreEos = opts.scoreEos ?? model.family === 'encdec';
  }

  /** Token ids of a prompt as the model consumes it (truncated; EOS appended for encoder-decoders). */
  promptIds(prompt: string): number[] {
    const ids = this.tokenizer.encode(prompt);
    if (this.model.family === 'encdec') return [...ids.slice(0, this.maxIn - 1), this.tokenizer.eosId];
    return ids.length > this.maxIn ? ids.slice(ids.length - this.maxIn) : ids;
  }

  private batches<T>(xs: T[]): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < xs.length; i += this.batchSize) out.push(xs.slice(i, i + this.batchSize));
    return out;
  }

  /** One completion per prompt. */
  async generate(prompts: string[], opts: TextGenerateOptions = {}): Promise<string[]> {
    if (!globalThis.Array.isArray(prompts)) throw new ModelError('TextModel.generate: prompts must be a list of strings');
    const maxNew = opts.maxTokens ?? 64;
    const out: string[] = [];
    let batchNo = 0;
    for (const chunk of this.batches(prompts)) {
      const ids = chunk.map((p) => this.promptIds(p));
      let gen: number[][];
      if (opts.numBeams !== undefined && opts.numBeams > 1) {
        if ((opts.temperature ?? 0) !== 0) throw new ModelError('TextModel.generate: beam search is deterministic; use temperature 0 with numBeams > 1');
        gen = beamSearch(this.model, this.params, ids, { numBeams: opts.numBeams, maxNewTokens: maxNew, lengthPenalty: opts.lengthPenalty, eosId: this.tokenizer.eosId, jit: this.opts.jit, backend: this.opts.backend }).tokens;
      } else {
        const inputs = this.model.family === 'encdec' ? { encoderInputs: ids } : { prompts: ids };
        gen = generateTokens(this.model, this.params, inputs, {
          maxNewTokens: maxNew,
          temperature: opts.temperature,
          topK: opts.topK,
          topP: opts.topP,
          eosId: this.tokenizer.eosId,
          // Each batch gets its own PRNG stream (derived from the seed and the batch number).
          seed: (opts.seed ?? 0) + batchNo * 7919,
          jit: this.opts.jit,
          backend: this.opts.backend,
        }).tokens;
      }
      for (const g of gen) out.push(applyStop(this.tokenizer.decode(g), opts.stop));
      batchNo++;
      await Promise.resolve();
    }
    return out;
  }

  /** log p(target | prompt) per pair (sum over target tokens; EOS included when `scoreEos`). */
  async score(prompts: string[], targets: string[]): Promise<number[]> {
    if (!globalThis.Array.isArray(prompts) || !globalThis.Array.isArray(targets) || prompts.length !== targets.length) {
      throw new ModelError(`TextModel.score: prompts and targets must be lists of equal length`);
    }
    const pairs = prompts.map((p, i) => [p, targets[i]] as const);
    const out: number[] = [];
    for (const chunk of this.batches([...pairs])) {
      const ps = chunk.map(([p]) => this.promptIds(p));
      const ts = chunk.map(([, t], i) => {
        const ids = this.tokenizer.encode(t);
        const full = this.scoreEos ? [...ids, this.tokenizer.eosId] : ids;
        if (full.length === 0) throw new ModelError(`TextModel.score: target ${JSON.stringify(t)} (pair ${i}) encodes to no tokens`);
        return full;
      });
      out.push(...scoreTargets(this.model, this.params, { prompts: ps, targets: ts }));
      await Promise.resolve();
    }
    return out;
  }
}
