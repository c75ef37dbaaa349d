/**
 * `DecoderLM`: a decoder-only causal Transformer language model (T5X's `DecoderOnly` layout):
 * token embedding, optional learned absolute / T5 relative / rotary positions, a stack of pre-norm
 * decoder blocks without cross-attention, a final norm, and logits from the tied embedding
 * (divided by √dModel, as T5X does) or an untied `logits_dense`. Packed batches are supported
 * (attention stays inside `decoder_segment_ids`), as is the prefix-LM mask
 * (`decoder_causal_attention`). Incremental decoding keeps a KV cache per layer and a shared
 * position index, so one jitted step function serves every token.
 *
 * Params (T5X names): `token_embedder.embedding` [vocab, embed]; `pos_embedder.embedding`
 * [abspos_buckets, embed] (learned positions); `relpos_bias.rel_embedding` [heads, relpos_buckets]
 * (relative positions, computed once and shared by all layers); `layers_{i}` (decoder blocks);
 * `decoder_norm`; `logits_dense.kernel` [embed, vocab] (untied).
 */

import { Array } from '../core/array.js';
import type { DType } from '../core/dtype.js';
import * as lax from '../core/lax.js';
import { np } from '../np/index.js';
import { combineBiases, maskToBias, RelativePositionBias, decoderMask, type RelativePositionBiasParams } from '../nn/attention.js';
import { Dense, Embed, MLP_ACTIVATIONS, cast, type DenseParams, type EmbedParams, type MlpActivation, type NormParams } from '../nn/layers.js';
import { foldKey, dropout, initializers, ModelError, positiveInt, rateIn01, subKey, type AxesTree } from '../nn/module.js';
import { DecoderBlock, makeNorm, type DecoderBlockParams, type DecoderLayerCache } from '../nn/transformer.js';
import {
  bool,
  crossEntropyLoss,
  feature,
  noUnknownKeys,
  oneOf,
  optionalFeature,
  type Batch,
  type DecodeCache,
  type LossOptions,
  type LossOutput,
  type Model,
  type ModelApplyOptions,
  type StepOutput,
} from './common.js';

/** How a DecoderLM encodes positions. */
export type Positional = 'learned' | 'relative' | 'rotary' | 'none';

/** Config of {@link DecoderLM}. */
export interface DecoderLMConfig {
  vocabSize: number;
  dModel: number;
  numHeads: number;
  headDim: number;
  mlpDim: number;
  numLayers: number;
  /** MLP activation (default 'gated-gelu'). */
  activation?: MlpActivation;
  /** Position encoding (default 'relative'). */
  positional?: Positional;
  /** Longest sequence (learned positions' table size; default 2048). */
  maxLen?: number;
  /** Tie the output logits to the token embedding (default true). */
  tieEmbeddings?: boolean;
  /** Dropout rate (default 0). */
  dropoutRate?: number;
  /** 'rms' (default) or 'layer'. */
  norm?: 'rms' | 'layer';
  normEps?: number;
  /** Scale attention logits by 1/√headDim (default true; false folds it into the query init as T5). */
  scaleLogits?: boolean;
  /** Relative position buckets (default 32) and max distance (default 128). */
  relativeBuckets?: number;
  relativeMaxDistance?: number;
  /** Parameter dtype (default float32). */
  dtype?: DType;
}

const KNOWN = ['vocabSize', 'dModel', 'numHeads', 'headDim', 'mlpDim', 'numLayers', 'activation', 'positional', 'maxLen', 'tieEmbeddings', 'dropoutRate', 'norm', 'normEps', 'scaleLogits', 'relativeBuckets', 'relativeMaxDistance', 'dtype'] as const;

/** Params of a DecoderLM. */
export interface DecoderLMParams {
  token_embedder: EmbedParams;
  pos_embedder?: EmbedParams;
  relpos_bias?: RelativePositionBiasParams;
  decoder_norm: NormParams;
  logits_dense?: DenseParams;
  [layer: `layers_${number}`]: DecoderBlockParams;
}

/** Decoding cache of a DecoderLM. */
export interface DecoderLMCache extends DecodeCache {
  layers: DecoderLayerCache[];
}

/** Named presets (decoder-only shapes; `tiny` trains in CPU minutes). */
export const DECODER_LM_PRESETS: Record<string, DecoderLMConfig> = {
  /** For tests: a few thousand parameters. */
  test: { vocabSize: 64, dModel: 16, numHeads: 2, headDim: 8, mlpDim: 32, numLayers: 2 },
  /** Byte-level demo model: trains in minutes on 2 CPU cores. */
  tiny: { vocabSize: 259, dModel: 128, numHeads: 4, headDim: 32, mlpDim: 512, numLayers: 2, activation: 'gated-gelu', positional: 'relative' },
  /** The benchmark model of issue 4 (4 layers, d_model 256, 4 heads, MLP 1024). */
  small: { vocabSize: 32128, dModel: 256, numHeads: 4, headDim: 64, mlpDim: 1024, numLayers: 4, activation: 'gelu', positional: 'learned', maxLen: 1024 },
  /** A ~100M-parameter model of T5-base width. */
  base: { vocabSize: 32128, dModel: 768, numHeads: 12, headDim: 64, mlpDim: 2048, numLayers: 12, activation: 'gated-gelu', positional: 'relative' },
};

/** Validates a config and fills defaults. */
export function resolveDecoderLMConfig(config: DecoderLMConfig): Required<DecoderLMConfig> {
  const where = 'DecoderLM config';
  if (!config || typeof config !== 'object') throw new ModelError(`${where}: expected an object`);
  noUnknownKeys(config, KNOWN, where);
  const c: Required<DecoderLMConfig> = {
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
    norm: oneOf(config.norm ?? 'rms', ['rms', 'layer'] as const, 'norm', where),
    normEps: config.normEps ?? 1e-6,
    scaleLogits: bool(config.scaleLogits ?? true, 'scaleLogits', where),
    relativeBuckets: positiveInt(config.relativeBuckets ?? 32, 'relativeBuckets', where),
    relativeMaxDistance: positiveInt(config.relativeMaxDistance ?? 128, 'relativeMaxDistance', where),
    dtype: oneOf(config.dtype ?? 'float32', ['float32', 'float64'] as const, 'dtype', where),
  };
  if (!(c.normEps > 0)) throw new ModelError(`${where}: normEps must be > 0, got ${c.normEps}`);
  if (c.positional === 'rotary' && c.headDim % 2 !== 0) throw new ModelError(`${where}: rotary positions need an even headDim, got ${c.headDim}`);
  return c;
}

/** A decoder-only causal LM; see the file header. */
export interface DecoderLMModel extends Model<Required<DecoderLMConfig>, DecoderLMParams> {
  readonly family: 'decoder';
  initDecodeCache(params: DecoderLMParams, o: { batch: number; maxLen: number }): DecoderLMCache;
  decodeStep(params: DecoderLMParams, cache: DecodeCache, tokens: Array): StepOutput<DecoderLMCache>;
}

/** Creates a DecoderLM from a config or a preset name ({@link DECODER_LM_PRESETS}). */
export function DecoderLM(configOrPreset: DecoderLMConfig | string): DecoderLMModel {
  let raw: DecoderLMConfig;
  if (typeof configOrPreset === 'string') {
    const p = DECODER_LM_PRESETS[configOrPreset];
    if (!p) throw new ModelError(`DecoderLM: unknown preset ${JSON.stringify(configOrPreset)}; presets: ${Object.keys(DECODER_LM_PRESETS).join(', ')}`);
    raw = p;
  } else raw = configOrPreset;
  const c = resolveDecoderLMConfig(raw);
  const E = c.dModel;
  const embed = Embed({ numEmbeddings: c.vocabSize, features: E, dtype: c.dtype });
  const posEmbed = Embed({ numEmbeddings: c.maxLen, features: E, dtype: c.dtype, axes: ['abspos_buckets', 'embed'], embeddingInit: initializers.normal(0.02) });
  const relpos = RelativePositionBias({ numHeads: c.numHeads, numBuckets: c.relativeBuckets, maxDistance: c.relativeMaxDistance, bidirectional: false, dtype: c.dtype });
  const block = DecoderBlock({
    numHeads: c.numHeads,
    headDim: c.headDim,
    mlpDim: c.mlpDim,
    activation: c.activation,
    dropoutRate: c.dropoutRate,
    norm: c.norm,
    normEps: c.normEps,
    scaleLogits: c.scaleLogits,
    crossAttention: false,
    dtype: c.dtype,
  });
  const norm = makeNorm(c);
  const logitsDense = Dense({ features: c.vocabSize, axes: ['embed', 'vocab'], dtype: c.dtype });
  const layerNames = globalThis.Array.from({ length: c.numLayers }, (_, i) => `layers_${i}` as const);

  /** Embeds tokens at positions (int32 [B|1, L]) with the configured absolute positions and input dropout. */
  const embedTokens = (params: DecoderLMParams, tokens: Array, positions: Array, det: boolean, key: Array | undefined): Array => {
    let x = embed.apply(params.token_embedder, tokens);
    if (c.positional === 'learned') {
      x = np.add(x, posEmbed.apply(params.pos_embedder!, positions));
    }
    return dropout(x, { rate: c.dropoutRate, deterministic: det, key: subKey(key, 0) });
  };
  const head = (params: DecoderLMParams, x: Array, det: boolean, key: Array | undefined): Array => {
    let y = norm.apply(params.decoder_norm, x);
    y = dropout(y, { rate: c.dropoutRate, deterministic: det, key: subKey(key, 1) });
    if (c.tieEmbeddings) return np.divide(embed.attend(params.token_embedder, y), Math.sqrt(E));
    return logitsDense.apply(params.logits_dense!, y);
  };

  const model: DecoderLMModel = {
    family: 'decoder',
    config: c,
    vocabSize: c.vocabSize,
    init(key: Array): DecoderLMParams {
      const k = (i: number) => foldKey(key, i);
      const p: Record<string, unknown> = { token_embedder: embed.init(k(0)), decoder_norm: norm.init(k(1), E) };
      if (c.positional === 'learned') p.pos_embedder = posEmbed.init(k(2));
      if (c.positional === 'relative') p.relpos_bias = relpos.init(k(3));
      if (!c.tieEmbeddings) p.logits_dense = logitsDense.init(k(4), E);
      layerNames.forEach((n, i) => (p[n] = block.init(k(100 + i), E)));
      return p as unknown as DecoderLMParams;
    },
    axes(): AxesTree {
      const a: Record<string, AxesTree> = { token_embedder: embed.axes(), decoder_norm: norm.axes(E) };
      if (c.positional === 'learned') a.pos_embedder = posEmbed.axes();
      if (c.positional === 'relative') a.relpos_bias = relpos.axes();
      if (!c.tieEmbeddings) a.logits_dense = logitsDense.axes(E);
      for (const n of layerNames) a[n] = block.axes();
      return a;
    },
    apply(params: DecoderLMParams, batch: Batch, opts: ModelApplyOptions = {}): Array {
      const where = 'DecoderLM.apply';
      const tokens = feature(batch, 'decoder_input_tokens', where);
      const [B, L] = tokens.shape;
      if (c.positional === 'learned' && L > c.maxLen) throw new ModelError(`${where}: sequence length ${L} exceeds maxLen ${c.maxLen} of the learned position table`);
      const targets = optionalFeature(batch, 'decoder_target_tokens', where, [B, L]);
      const seg = optionalFeature(batch, 'decoder_segment_ids', where, [B, L]);
      const pos = optionalFeature(batch, 'decoder_positions', where, [B, L]);
      const causalAttention = optionalFeature(batch, 'decoder_causal_attention', where, [B, L]);
      const det = !(opts.train ?? false);
      if (!det && c.dropoutRate > 0 && !opts.key) throw new ModelError(`${where}: training with dropout needs { key }`);
      const positions = pos ? cast(pos, 'int32') : lax.iota('int32', [1, L], 1);
      let x = embedTokens(params, tokens, positions, det, opts.key);
      const valid = seg ? np.greater(seg, 0) : targets ? np.greater(targets, 0) : np.ones([B, L], 'bool');
      const mask = decoderMask(valid, { segmentIds: seg, causalAttention });
      const bias = combineBiases(maskToBias(mask, x.dtype), c.positional === 'relative' ? relpos.apply(params.relpos_bias!, L) : null);
      const rotary = c.positional === 'rotary' ? positions : undefined;
      layerNames.forEach((n, i) => {
        x = block.apply(params[n], x, { bias, rotaryPositions: rotary, deterministic: det, key: subKey(opts.key, 100 + i) });
      });
      return head(params, x, det, opts.key);
    },
    loss(params: DecoderLMParams, batch: Batch, opts: LossOptions = {}): LossOutput {
      const where = 'DecoderLM.loss';
      const targets = feature(batch, 'decoder_target_tokens', where);
      const weights = optionalFeature(batch, 'decoder_loss_weights', where, targets.shape) ?? np.greater(targets, 0);
      const logits = model.apply(params, batch, opts);
      return crossEntropyLoss(logits, targets, weights, opts);
    },
    initDecodeCache(params: DecoderLMParams, o: { batch: number; maxLen: number }): DecoderLMCache {
      const where = 'DecoderLM.initDecodeCache';
      positiveInt(o.batch, 'batch', where);
      positiveInt(o.maxLen, 'maxLen', where);
      if (c.positional === 'learned' && o.maxLen > c.maxLen) throw new ModelError(`${where}: maxLen ${o.maxLen} exceeds the model's maxLen ${c.maxLen} (learned positions)`);
      return { index: lax.full(0, 'int32'), layers: layerNames.map((n) => block.initCache(params[n], o.batch, o.maxLen)) };
    },
    decodeStep(params: DecoderLMParams, cache0: DecodeCache, tokens: Array): StepOutput<DecoderLMCache> {
      const where = 'DecoderLM.decodeStep';
      const cache = cache0 as DecoderLMCache;
      if (!(tokens instanceof Array) || tokens.ndim !== 2) throw new ModelError(`${where}: tokens must be int32 [batch, n]`);
      const n = tokens.shape[1];
      const maxLen = cache.layers[0].self.key.shape[1];
      const idx = cache.index;
      const qpos = np.add(lax.iota('int32', [n, maxLen], 0), idx); // absolute query positions
      const kpos = lax.iota('int32', [n, maxLen], 1);
      const positions = np.add(lax.iota('int32', [1, n], 1), idx);
      let x = embedTokens(params, cast(tokens, 'int32'), positions, true, undefined);
      const mask = np.expandDims(np.lessEqual(kpos, qpos), [0, 1]);
      const bias = combineBiases(maskToBias(mask, x.dtype), c.positional === 'relative' ? relpos.apply(params.relpos_bias!, n, { kLen: maxLen, queryOffset: idx }) : null);
      const rotary = c.positional === 'rotary' ? positions : undefined;
      const layers = layerNames.map((name, i) => {
        const [y, lc] = block.decode(params[name], x, cache.layers[i], idx, { bias, rotaryPositions: rotary });
        x = y;
        return lc;
      });
      return { logits: head(params, x, true, undefined), cache: { index: np.add(idx, n), layers } };
    },
  };
  return model;
}
