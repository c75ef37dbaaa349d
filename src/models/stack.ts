/**
 * What the dense and sparse Transformer families share beneath their blocks: the common config
 * fields (with their defaults and validation) of decoder-only models (`DecoderLM`, `GLaM`) and of
 * encoder-decoders (`T5`, `STMoE`), preset lookup, and two "stems" — everything of a model except
 * its stack of blocks. `decoderOnlyStem` holds the token embedding, the learned / T5 relative /
 * rotary positions, the causal (packed, prefix-LM) self-attention bias, the final norm and the
 * logits (tied embedding divided by √dModel, or `logits_dense`), plus the batch features, the
 * per-step inputs of KV-cache decoding and the parameters and axes outside the blocks.
 * `encoderDecoderStem` holds the shared embedding, one relative position bias per stack, the
 * encoder's bidirectional bias, the decoder's self- and cross-attention biases (packed batches
 * attend within equal segment ids), the final norms, the logits and the decoding inputs.
 *
 * A model file builds its blocks (dense `DecoderBlock`/`EncoderBlock`, or `SparseBlock` with MoE
 * feed-forward layers), runs them between the stem's pieces and says what is its own (task ids,
 * MoE losses). Dropout key slots: 0 after the embedding, 1 after the final norm, 7 for the encoder
 * inside an encoder-decoder's forward pass, 100 + i for encoder (or decoder-only) layer i and
 * 1000 + i for decoder layer i (init keys fold the same layer numbers). Also here: `moeFieldsSpec` (the MoE
 * fields of `glamSpec` / `stMoeSpec`). This module is internal: src/models/index.ts does not
 * re-export it, so the public API stays the families' own exports.
 */

import { Array } from '../core/array.js';
import type { DType } from '../core/dtype.js';
import * as lax from '../core/lax.js';
import { np } from '../np/index.js';
import { combineBiases, combineMasks, decoderMask, makeAttentionMask, maskToBias, RelativePositionBias, segmentMask, type RelativePositionBiasParams } from '../nn/attention.js';
import { cast, Dense, Embed, MLP_ACTIVATIONS, type DenseParams, type EmbedParams, type MlpActivation, type NormParams } from '../nn/layers.js';
import { dropout, foldKey, initializers, ModelError, positiveInt, rateIn01, subKey, type AxesTree } from '../nn/module.js';
import { makeNorm, type DecoderLayerCache } from '../nn/transformer.js';
import { bool, feature, noUnknownKeys, oneOf, optionalFeature, type Batch, type ModelApplyOptions } from './common.js';
import type { MoeFields, ResolvedMoeFields } from './moe_common.js';

// ---------------------------------------------------------------- configs

/** How a decoder-only model encodes positions. */
export type Positional = 'learned' | 'relative' | 'rotary' | 'none';

/** The fields every decoder-only config has (`DecoderLM`, `GLaM`). */
export interface DecoderStackConfig {
  vocabSize: number;
  dModel: number;
  numHeads: number;
  headDim: number;
  mlpDim: number;
  numLayers: number;
  /** MLP activation (default 'gated-gelu', as GLaM). */
  activation?: MlpActivation;
  /** Position encoding (default 'relative': the T5 bias, computed once and shared by all layers). */
  positional?: Positional;
  /** Longest sequence (learned positions' table size; default 2048). */
  maxLen?: number;
  /** Tie the output logits to the token embedding (default true). */
  tieEmbeddings?: boolean;
  /** Dropout rate (default 0). */
  dropoutRate?: number;
  normEps?: number;
  /** Scale attention logits by 1/√headDim (default true; false folds it into the query init as T5). */
  scaleLogits?: boolean;
  /** Relative position buckets (default 32) and max distance (default 128). */
  relativeBuckets?: number;
  relativeMaxDistance?: number;
  /** Parameter dtype (default float32). */
  dtype?: DType;
}

/** A resolved {@link DecoderStackConfig}: every field set, dtype float32 or float64. */
export type ResolvedDecoderStack = Required<Omit<DecoderStackConfig, 'dtype'>> & { dtype: 'float32' | 'float64' };

/** The names of {@link DecoderStackConfig}'s fields, in config order (for unknown-key checks). */
export const DECODER_STACK_FIELDS = ['vocabSize', 'dModel', 'numHeads', 'headDim', 'mlpDim', 'numLayers', 'activation', 'positional', 'maxLen', 'tieEmbeddings', 'dropoutRate', 'normEps', 'scaleLogits', 'relativeBuckets', 'relativeMaxDistance', 'dtype'] as const;

/** The fields every encoder-decoder config has (`T5`, `STMoE`; names follow T5X's T5Config, HF names in parentheses). */
export interface EncDecStackConfig {
  /** (vocab_size) */
  vocabSize: number;
  /** Embedding width (d_model). */
  dModel: number;
  /** (num_heads) */
  numHeads: number;
  /** Per-head width (d_kv). */
  headDim: number;
  /** MLP width (d_ff). */
  mlpDim: number;
  /** (num_layers) */
  numEncoderLayers: number;
  /** (num_decoder_layers) */
  numDecoderLayers: number;
  /** Default 'gated-gelu' (feed_forward_proj). */
  activation?: MlpActivation;
  /** Default 0.1 (dropout_rate); only active with `train: true`. */
  dropoutRate?: number;
  /** Default 32 (relative_attention_num_buckets). */
  relativeBuckets?: number;
  /** Default 128 (relative_attention_max_distance). */
  relativeMaxDistance?: number;
  /** Default 1e-6 (layer_norm_epsilon). */
  normEps?: number;
  /** Tie the LM head to the shared embedding (default false: T5.1.1 / Flan-T5 untied). */
  tieEmbeddings?: boolean;
  /** Scale attention logits by 1/√headDim (default false, as T5). */
  scaleLogits?: boolean;
  /** Parameter dtype (default float32). */
  dtype?: DType;
}

/** A resolved {@link EncDecStackConfig}: every field set, dtype float32 or float64. */
export type ResolvedEncDecStack = Required<Omit<EncDecStackConfig, 'dtype'>> & { dtype: 'float32' | 'float64' };

/** The names of {@link EncDecStackConfig}'s fields, in config order. */
export const ENCDEC_STACK_FIELDS = ['vocabSize', 'dModel', 'numHeads', 'headDim', 'mlpDim', 'numEncoderLayers', 'numDecoderLayers', 'activation', 'dropoutRate', 'relativeBuckets', 'relativeMaxDistance', 'normEps', 'tieEmbeddings', 'scaleLogits', 'dtype'] as const;

/** The config a model was given: a preset's, looked up by name, or the object itself. */
export function presetConfig<C>(configOrPreset: C | string, presets: Record<string, C>, model: string): C {
  if (typeof configOrPreset !== 'string') return configOrPreset;
  const p = presets[configOrPreset];
  if (!p) throw new ModelError(`${model}: unknown preset ${JSON.stringify(configOrPreset)}; presets: ${Object.keys(presets).join(', ')}`);
  return p;
}

/** Checks that a config is an object without unknown fields (typos would otherwise be ignored). */
export function checkConfigObject(config: unknown, known: readonly string[], where: string): void {
  if (!config || typeof config !== 'object') throw new ModelError(`${where}: expected an object`);
  noUnknownKeys(config, known, where);
}

const DTYPES = ['float32', 'float64'] as const;

/**
 * Validates the decoder-only fields and fills their defaults, in config order; with `{ norm: true }`
 * also DecoderLM's `norm` ('rms' default, or 'layer'), placed after `dropoutRate`. Checks that
 * relate fields to one another come after the model's own fields: {@link checkDecoderStack}.
 */
export function resolveDecoderStack(config: DecoderStackConfig, where: string): ResolvedDecoderStack;
export function resolveDecoderStack(config: DecoderStackConfig & { norm?: 'rms' | 'layer' }, where: string, opts: { norm: true }): ResolvedDecoderStack & { norm: 'rms' | 'layer' };
export function resolveDecoderStack(config: DecoderStackConfig & { norm?: 'rms' | 'layer' }, where: string, opts: { norm?: boolean } = {}): ResolvedDecoderStack & { norm?: 'rms' | 'layer' } {
  const head = {
    vocabSize: positiveInt(config.vocabSize, 'vocabSize', where),
    dModel: positiveInt(config.dModel, 'dModel', where),
    numHeads: positiveInt(config.numHeads, 'numHeads', where),
    headDim: positiveInt(config.headDim, 'headDim', where),
    mlpDim: positiveInt(config.mlpDim, 'mlpDim', where),
    numLayers: positiveInt(config.numLayers, 'numLayers', where),
    activation: oneOf(config.activation ?? 'gated-gelu', MLP_ACTIVATIONS, 'activation', where),
    positional: oneOf(config.positional ?? 'relative', ['learned', 'relative', 'rotary', 'none'] as const, 'positional', where),
    maxLen: positiveInt(config.maxLen ?? 2048, 'maxLen', where),
    tieEmbeddings: bool(config.tieEmbeddings ?? true, 'tieEmbeddings', where),
    dropoutRate: rateIn01(config.dropoutRate ?? 0, 'dropoutRate', where),
  };
  const norm = opts.norm ? { norm: oneOf(config.norm ?? 'rms', ['rms', 'layer'] as const, 'norm', where) } : {};
  return {
    ...head,
    ...norm,
    normEps: config.normEps ?? 1e-6,
    scaleLogits: bool(config.scaleLogits ?? true, 'scaleLogits', where),
    relativeBuckets: positiveInt(config.relativeBuckets ?? 32, 'relativeBuckets', where),
    relativeMaxDistance: positiveInt(config.relativeMaxDistance ?? 128, 'relativeMaxDistance', where),
    dtype: oneOf(config.dtype ?? 'float32', DTYPES, 'dtype', where),
  };
}

/** The cross-field checks of a resolved decoder-only config: normEps > 0, an even headDim for rotary positions. */
export function checkDecoderStack(c: DecoderStemConfig, where: string): void {
  if (!(c.normEps > 0)) throw new ModelError(`${where}: normEps must be > 0, got ${c.normEps}`);
  if (c.positional === 'rotary' && c.headDim % 2 !== 0) throw new ModelError(`${where}: rotary positions need an even headDim, got ${c.headDim}`);
}

/** Validates the encoder-decoder fields and fills their defaults (T5.1.1's), in config order. */
export function resolveEncDecStack(config: EncDecStackConfig, where: string): ResolvedEncDecStack {
  return {
    vocabSize: positiveInt(config.vocabSize, 'vocabSize', where),
    dModel: positiveInt(config.dModel, 'dModel', where),
    numHeads: positiveInt(config.numHeads, 'numHeads', where),
    headDim: positiveInt(config.headDim, 'headDim', where),
    mlpDim: positiveInt(config.mlpDim, 'mlpDim', where),
    numEncoderLayers: positiveInt(config.numEncoderLayers, 'numEncoderLayers', where),
    numDecoderLayers: positiveInt(config.numDecoderLayers, 'numDecoderLayers', where),
    activation: oneOf(config.activation ?? 'gated-gelu', MLP_ACTIVATIONS, 'activation', where),
    dropoutRate: rateIn01(config.dropoutRate ?? 0.1, 'dropoutRate', where),
    relativeBuckets: positiveInt(config.relativeBuckets ?? 32, 'relativeBuckets', where),
    relativeMaxDistance: positiveInt(config.relativeMaxDistance ?? 128, 'relativeMaxDistance', where),
    normEps: config.normEps ?? 1e-6,
    tieEmbeddings: bool(config.tieEmbeddings ?? false, 'tieEmbeddings', where),
    scaleLogits: bool(config.scaleLogits ?? false, 'scaleLogits', where),
    dtype: oneOf(config.dtype ?? 'float32', DTYPES, 'dtype', where),
  };
}

/** The cross-field check of a resolved encoder-decoder config: normEps > 0. */
export function checkEncDecStack(c: EncDecStemConfig, where: string): void {
  if (!(c.normEps > 0)) throw new ModelError(`${where}: normEps must be > 0, got ${c.normEps}`);
}

/** A resolved decoder-only config as the stem reads it (DecoderLM also chooses its norm). */
export type DecoderStemConfig = Required<DecoderStackConfig> & { norm?: 'rms' | 'layer' };

/** A resolved encoder-decoder config as the stem reads it. */
export type EncDecStemConfig = Required<EncDecStackConfig>;

/** The MoE config fields that rebuild `moe` (for `glamSpec` / `stMoeSpec`; unset optional fields stay unset). Here rather than in moe_common.ts, whose exports are public. */
export function moeFieldsSpec(moe: ResolvedMoeFields): MoeFields {
  const out: MoeFields = { numExperts: moe.numExperts, expertMlpDim: moe.expertMlpDim, dispatch: moe.dispatch, expertDropoutRate: moe.expertDropoutRate, auxLossCoef: moe.auxLossCoef, routerZLossCoef: moe.routerZLossCoef };
  if (moe.groupSize !== null) out.groupSize = moe.groupSize;
  if (moe.groupedPartitions !== 1) out.groupedPartitions = moe.groupedPartitions;
  if (moe.taskIds !== null) out.taskIds = moe.taskIds;
  return out;
}

// ---------------------------------------------------------------- shared pieces of apply/loss/decoding

/**
 * Whether a call trains (dropout on), refusing training without a PRNG key when any dropout is
 * configured (`dropoutRate`: the sum of the model's dropout rates).
 */
export function trainMode(opts: ModelApplyOptions, dropoutRate: number, where: string): boolean {
  const train = opts.train ?? false;
  if (train && dropoutRate > 0 && !opts.key) throw new ModelError(`${where}: training with dropout needs { key }`);
  return train;
}

/** The loss targets of a batch and their weights (`decoder_loss_weights`, else targets > 0). */
export function lossTargets(batch: Batch, where: string): { targets: Array; weights: Array } {
  const targets = feature(batch, 'decoder_target_tokens', where);
  const weights = optionalFeature(batch, 'decoder_loss_weights', where, targets.shape) ?? np.greater(targets, 0);
  return { targets, weights };
}

/** The real decoder tokens: segment ids > 0 (packed), else targets > 0, else null (all real). */
export function realTokens(segmentIds: Array | undefined, targets: Array | undefined): Array | null {
  return segmentIds ? np.greater(segmentIds, 0) : targets ? np.greater(targets, 0) : null;
}

/** Checks the `batch` and `maxLen` of an `initDecodeCache` call. */
function checkCacheSize(o: { batch: number; maxLen: number }, where: string): void {
  positiveInt(o.batch, 'batch', where);
  positiveInt(o.maxLen, 'maxLen', where);
}

/** What the stems read of a decoding cache. */
type StepCache = { index: Array; layers: DecoderLayerCache[] };

/** The tokens [B, n] of a decoding step, the cache's length and position index. */
function stepTokens(cache: StepCache, tokens: Array, where: string): { n: number; maxLen: number; idx: Array } {
  if (!(tokens instanceof Array) || tokens.ndim !== 2) throw new ModelError(`${where}: tokens must be int32 [batch, n]`);
  return { n: tokens.shape[1], maxLen: cache.layers[0].self.key.shape[1], idx: cache.index };
}

/** Causal mask [1, 1, n, maxLen] of n queries at positions idx … idx + n − 1 over the cache's keys. */
function cachedCausalMask(qpos: Array, kpos: Array): Array {
  return np.expandDims(np.lessEqual(kpos, qpos), [0, 1]);
}

/** `layers_0` … `layers_{n−1}`: the parameter names of a stack's blocks. */
export function layerNames(n: number): `layers_${number}`[] {
  return globalThis.Array.from({ length: n }, (_, i) => `layers_${i}` as const);
}

// ---------------------------------------------------------------- decoder-only stem

/** The parameters of a decoder-only model outside its blocks (T5X `DecoderOnly` names). */
export interface DecoderStemParams {
  token_embedder: EmbedParams;
  pos_embedder?: EmbedParams;
  relpos_bias?: RelativePositionBiasParams;
  decoder_norm: NormParams;
  logits_dense?: DenseParams;
}

/** The decoder features of a batch, checked against the first one's shape, and the positions. */
export interface DecoderBatch {
  tokens: Array;
  B: number;
  L: number;
  targets?: Array;
  segmentIds?: Array;
  causalAttention?: Array;
  /** `decoder_positions` (int32), or 0 … L − 1 as [1, L]. */
  positions: Array;
}

/** Inputs of the blocks for one decoding step. */
export interface DecoderStepInputs {
  /** Embedded tokens [B, n, D]. */
  x: Array;
  bias: Array | null;
  rotaryPositions?: Array;
  /** Position of the first fed token; and the number fed. */
  idx: Array;
  n: number;
}

/** Creates the parts of a decoder-only model outside its blocks. */
export function decoderOnlyStem(c: DecoderStemConfig) {
  const E = c.dModel;
  const embed = Embed({ numEmbeddings: c.vocabSize, features: E, dtype: c.dtype });
  const posEmbed = Embed({ numEmbeddings: c.maxLen, features: E, dtype: c.dtype, axes: ['abspos_buckets', 'embed'], embeddingInit: initializers.normal(0.02) });
  const relpos = RelativePositionBias({ numHeads: c.numHeads, numBuckets: c.relativeBuckets, maxDistance: c.relativeMaxDistance, bidirectional: false, dtype: c.dtype });
  const norm = makeNorm({ norm: c.norm ?? 'rms', normEps: c.normEps, dtype: c.dtype });
  const logitsDense = Dense({ features: c.vocabSize, axes: ['embed', 'vocab'], dtype: c.dtype });
  const names = layerNames(c.numLayers);
  const learned = c.positional === 'learned';
  const relative = c.positional === 'relative';

  /** Token embedding plus learned positions, then dropout (key slot 0). */
  const embedTokens = (params: DecoderStemParams, tokens: Array, positions: Array, det: boolean, key: Array | undefined): Array => {
    let x = embed.apply(params.token_embedder, tokens);
    if (learned) x = np.add(x, posEmbed.apply(params.pos_embedder!, positions));
    return dropout(x, { rate: c.dropoutRate, deterministic: det, key: subKey(key, 0) });
  };
  /** The positions rotary attention reads (undefined unless `positional: 'rotary'`). */
  const rotary = (positions: Array): Array | undefined => (c.positional === 'rotary' ? positions : undefined);

  return {
    /** `layers_{i}`: the blocks' parameter names. */
    names,
    /** The stem's params in T5X's order, then `layers_{i}` from `initLayer(i, key)` (layer keys fold 100 + i). */
    init(key: Array, initLayer: (i: number, key: Array) => unknown): Record<string, unknown> {
      const k = (i: number) => foldKey(key, i);
      const p: Record<string, unknown> = { token_embedder: embed.init(k(0)), decoder_norm: norm.init(k(1), E) };
      if (learned) p.pos_embedder = posEmbed.init(k(2));
      if (relative) p.relpos_bias = relpos.init(k(3));
      if (!c.tieEmbeddings) p.logits_dense = logitsDense.init(k(4), E);
      names.forEach((n, i) => (p[n] = initLayer(i, k(100 + i))));
      return p;
    },
    axes(layerAxes: (i: number) => AxesTree): Record<string, AxesTree> {
      const a: Record<string, AxesTree> = { token_embedder: embed.axes(), decoder_norm: norm.axes(E) };
      if (learned) a.pos_embedder = posEmbed.axes();
      if (relative) a.relpos_bias = relpos.axes();
      if (!c.tieEmbeddings) a.logits_dense = logitsDense.axes(E);
      names.forEach((n, i) => (a[n] = layerAxes(i)));
      return a;
    },
    /** Reads the decoder features of a batch (learned positions: checks the length). */
    readBatch(batch: Batch, where: string): DecoderBatch {
      const tokens = feature(batch, 'decoder_input_tokens', where);
      const [B, L] = tokens.shape;
      if (learned && L > c.maxLen) throw new ModelError(`${where}: sequence length ${L} exceeds maxLen ${c.maxLen} of the learned position table`);
      const targets = optionalFeature(batch, 'decoder_target_tokens', where, [B, L]);
      const segmentIds = optionalFeature(batch, 'decoder_segment_ids', where, [B, L]);
      const pos = optionalFeature(batch, 'decoder_positions', where, [B, L]);
      const causalAttention = optionalFeature(batch, 'decoder_causal_attention', where, [B, L]);
      const positions = pos ? cast(pos, 'int32') : lax.iota('int32', [1, L], 1);
      return { tokens, B, L, targets, segmentIds, causalAttention, positions };
    },
    embed: embedTokens,
    /** Causal self-attention bias (packing, prefix LM) over the real tokens `valid`, plus the relative position bias. */
    selfBias(params: DecoderStemParams, valid: Array, f: DecoderBatch, dtype: DType): Array | null {
      const mask = decoderMask(valid, { segmentIds: f.segmentIds, causalAttention: f.causalAttention });
      return combineBiases(maskToBias(mask, dtype), relative ? relpos.apply(params.relpos_bias!, f.L) : null);
    },
    rotary,
    /** Final norm, dropout (key slot 1), logits. */
    head(params: DecoderStemParams, x: Array, det: boolean, key: Array | undefined): Array {
      let y = norm.apply(params.decoder_norm, x);
      y = dropout(y, { rate: c.dropoutRate, deterministic: det, key: subKey(key, 1) });
      if (c.tieEmbeddings) return np.divide(embed.attend(params.token_embedder, y), Math.sqrt(E));
      return logitsDense.apply(params.logits_dense!, y);
    },
    /** Checks the `batch` and `maxLen` of `initDecodeCache` (learned positions: against the table). */
    checkCacheSize(o: { batch: number; maxLen: number }, where: string): void {
      checkCacheSize(o, where);
      if (learned && o.maxLen > c.maxLen) throw new ModelError(`${where}: maxLen ${o.maxLen} exceeds the model's maxLen ${c.maxLen} (learned positions)`);
    },
    /** Embeds the tokens [B, n] of a decoding step and builds their attention bias over the cache. */
    stepInputs(params: DecoderStemParams, cache: StepCache, tokens: Array, where: string): DecoderStepInputs {
      const { n, maxLen, idx } = stepTokens(cache, tokens, where);
      const qpos = np.add(lax.iota('int32', [n, maxLen], 0), idx); // absolute query positions
      const kpos = lax.iota('int32', [n, maxLen], 1);
      const positions = np.add(lax.iota('int32', [1, n], 1), idx);
      const x = embedTokens(params, cast(tokens, 'int32'), positions, true, undefined);
      const mask = cachedCausalMask(qpos, kpos);
      const bias = combineBiases(maskToBias(mask, x.dtype), relative ? relpos.apply(params.relpos_bias!, n, { kLen: maxLen, queryOffset: idx }) : null);
      return { x, bias, rotaryPositions: rotary(positions), idx, n };
    },
  };
}

// ---------------------------------------------------------------- encoder-decoder stem

/** The parameters of an encoder-decoder outside its blocks (T5X `EncoderDecoder` names). */
export interface EncDecStemParams {
  token_embedder: EmbedParams;
  encoder: { relpos_bias: RelativePositionBiasParams; encoder_norm: NormParams };
  decoder: { relpos_bias: RelativePositionBiasParams; decoder_norm: NormParams; logits_dense?: DenseParams };
}

/**
 * The params of an encoder-decoder (T5X layout): the stem's, and each stack's blocks `layers_{i}`
 * with params `Enc` (encoder) and `Dec` (decoder).
 */
export interface EncDecParams<Enc, Dec> {
  token_embedder: EmbedParams;
  encoder: { relpos_bias: RelativePositionBiasParams; encoder_norm: NormParams; [layer: string]: Enc | RelativePositionBiasParams | NormParams };
  decoder: { relpos_bias: RelativePositionBiasParams; decoder_norm: NormParams; logits_dense?: DenseParams; [layer: string]: Dec | RelativePositionBiasParams | NormParams | DenseParams | undefined };
}

/** The features of an encoder-decoder batch (decoder features share one shape). */
export interface EncDecBatch {
  encoderTokens: Array;
  decoderInputs: Array;
  B: number;
  L: number;
  encoderSegmentIds?: Array;
  targets?: Array;
  decoderSegmentIds?: Array;
}

/** Creates the parts of an encoder-decoder outside its blocks (RMSNorm, T5's relative biases). */
export function encoderDecoderStem(c: EncDecStemConfig) {
  const E = c.dModel;
  const embed = Embed({ numEmbeddings: c.vocabSize, features: E, dtype: c.dtype });
  const rel = (bidirectional: boolean) => RelativePositionBias({ numHeads: c.numHeads, numBuckets: c.relativeBuckets, maxDistance: c.relativeMaxDistance, bidirectional, dtype: c.dtype });
  const encRel = rel(true);
  const decRel = rel(false);
  const norm = makeNorm({ norm: 'rms', normEps: c.normEps, dtype: c.dtype });
  const logitsDense = Dense({ features: c.vocabSize, axes: ['embed', 'vocab'], dtype: c.dtype });
  const encoderNames = layerNames(c.numEncoderLayers);
  const decoderNames = layerNames(c.numDecoderLayers);

  /** Logits of the decoder's normed output. */
  const logits = (params: EncDecStemParams, y: Array): Array => {
    if (c.tieEmbeddings) return np.divide(embed.attend(params.token_embedder, y), Math.sqrt(E));
    return logitsDense.apply(params.decoder.logits_dense!, y);
  };

  return {
    encoderNames,
    decoderNames,
    /**
     * `{ token_embedder, encoder, decoder }`: each stack's relative bias and final norm, its layers
     * from `initEncoderLayer(i, key)` (keys fold 100 + i) and `initDecoderLayer(i, key)` (1000 + i),
     * and `decoder.logits_dense` when untied.
     */
    init(key: Array, initEncoderLayer: (i: number, key: Array) => unknown, initDecoderLayer: (i: number, key: Array) => unknown): Record<string, unknown> {
      const k = (i: number) => foldKey(key, i);
      const enc: Record<string, unknown> = { relpos_bias: encRel.init(k(1)), encoder_norm: norm.init(k(2), E) };
      encoderNames.forEach((n, i) => (enc[n] = initEncoderLayer(i, k(100 + i))));
      const dec: Record<string, unknown> = { relpos_bias: decRel.init(k(3)), decoder_norm: norm.init(k(4), E) };
      decoderNames.forEach((n, i) => (dec[n] = initDecoderLayer(i, k(1000 + i))));
      if (!c.tieEmbeddings) dec.logits_dense = logitsDense.init(k(5), E);
      return { token_embedder: embed.init(k(0)), encoder: enc, decoder: dec };
    },
    axes(encoderLayerAxes: (i: number) => AxesTree, decoderLayerAxes: (i: number) => AxesTree): AxesTree {
      const enc: Record<string, AxesTree> = { relpos_bias: encRel.axes(), encoder_norm: norm.axes(E) };
      encoderNames.forEach((n, i) => (enc[n] = encoderLayerAxes(i)));
      const dec: Record<string, AxesTree> = { relpos_bias: decRel.axes(), decoder_norm: norm.axes(E) };
      decoderNames.forEach((n, i) => (dec[n] = decoderLayerAxes(i)));
      if (!c.tieEmbeddings) dec.logits_dense = logitsDense.axes(E);
      return { token_embedder: embed.axes(), encoder: enc, decoder: dec };
    },
    /** Reads the features of a batch; packed batches need both stacks' segment ids. */
    readBatch(batch: Batch, where: string): EncDecBatch {
      const encoderTokens = feature(batch, 'encoder_input_tokens', where);
      const decoderInputs = feature(batch, 'decoder_input_tokens', where);
      const [B, L] = decoderInputs.shape;
      if (encoderTokens.shape[0] !== B) throw new ModelError(`${where}: encoder_input_tokens has batch ${encoderTokens.shape[0]} but decoder_input_tokens has ${B}`);
      const encoderSegmentIds = optionalFeature(batch, 'encoder_segment_ids', where, encoderTokens.shape);
      const targets = optionalFeature(batch, 'decoder_target_tokens', where, [B, L]);
      const decoderSegmentIds = optionalFeature(batch, 'decoder_segment_ids', where, [B, L]);
      if ((encoderSegmentIds === undefined) !== (decoderSegmentIds === undefined)) throw new ModelError(`${where}: packed batches need both encoder_segment_ids and decoder_segment_ids`);
      return { encoderTokens, decoderInputs, B, L, encoderSegmentIds, targets, decoderSegmentIds };
    },
    /** Token embedding (one table for both stacks), then dropout (key slot 0). */
    embed(params: EncDecStemParams, tokens: Array, det: boolean, key: Array | undefined): Array {
      const x = embed.apply(params.token_embedder, cast(tokens, 'int32'));
      return dropout(x, { rate: c.dropoutRate, deterministic: det, key: subKey(key, 0) });
    },
    /** Bidirectional encoder self-attention bias over the real tokens `valid`, within equal segment ids, plus the relative bias. */
    encoderBias(params: EncDecStemParams, valid: Array, segmentIds: Array | undefined, L: number, dtype: DType): Array | null {
      const mask = combineMasks(makeAttentionMask(valid, valid), segmentIds ? segmentMask(segmentIds, segmentIds) : null)!;
      return combineBiases(maskToBias(mask, dtype), encRel.apply(params.encoder.relpos_bias, L));
    },
    /** The decoder's causal self-attention bias and its cross-attention bias over the encoder's real tokens. */
    decoderBiases(params: EncDecStemParams, valid: Array, f: EncDecBatch, dtype: DType): { selfBias: Array | null; crossBias: Array } {
      const decSeg = f.decoderSegmentIds;
      const encSeg = f.encoderSegmentIds;
      const selfMask = decoderMask(valid, { segmentIds: decSeg });
      const selfBias = combineBiases(maskToBias(selfMask, dtype), decRel.apply(params.decoder.relpos_bias, f.L));
      const crossMask = combineMasks(makeAttentionMask(valid, np.greater(f.encoderTokens, 0)), decSeg && encSeg ? segmentMask(decSeg, encSeg) : null)!;
      return { selfBias, crossBias: maskToBias(crossMask, dtype) };
    },
    /** A stack's final norm, then dropout (key slot 1; none when deterministic, as in decoding). */
    finalNorm(normParams: NormParams, x: Array, det: boolean, key: Array | undefined): Array {
      return dropout(norm.apply(normParams, x), { rate: c.dropoutRate, deterministic: det, key: subKey(key, 1) });
    },
    logits,
    /** Checks `initDecodeCache`'s arguments and returns the encoder input tokens. */
    cacheEncoderTokens(o: { batch: number; maxLen: number; encoderInputTokens?: Array }, where: string): Array {
      checkCacheSize(o, where);
      const enc = o.encoderInputTokens;
      if (!enc) throw new ModelError(`${where}: pass { encoderInputTokens } (int32 [batch, length])`);
      if (enc.ndim !== 2 || enc.shape[0] !== o.batch) throw new ModelError(`${where}: encoderInputTokens must be [${o.batch}, length], got [${enc.shape.join(', ')}]`);
      return enc;
    },
    /** The cross-attention bias [B, 1, 1, Le] of decoding (hides encoder padding). */
    cacheCrossBias(encoderTokens: Array, dtype: DType): Array {
      return maskToBias(np.expandDims(np.greater(encoderTokens, 0), [1, 2]), dtype);
    },
    /** Embeds the tokens [B, n] of a decoding step and builds their causal bias over the cache. */
    stepInputs(params: EncDecStemParams, cache: StepCache, tokens: Array, where: string): Omit<DecoderStepInputs, 'rotaryPositions'> {
      const { n, maxLen, idx } = stepTokens(cache, tokens, where);
      const x = embed.apply(params.token_embedder, cast(tokens, 'int32'));
      const qpos = np.add(lax.iota('int32', [n, maxLen], 0), idx);
      const kpos = lax.iota('int32', [n, maxLen], 1);
      const mask = cachedCausalMask(qpos, kpos);
      const bias = combineBiases(maskToBias(mask, x.dtype), decRel.apply(params.decoder.relpos_bias, n, { kLen: maxLen, queryOffset: idx }));
      return { x, bias, idx, n };
    },
  };
}
