/**
 * `T5`: a T5.1.1-style encoder-decoder with Flan-T5's architecture (T5X `EncoderDecoder`):
 * a shared token embedding; an encoder stack and a decoder stack of pre-norm blocks with T5's
 * RMSNorm (no bias, no mean subtraction, eps 1e-6); no 1/√d attention scaling (folded into the
 * query init); a learned relative position bias computed once per stack (T5X's
 * `encoder.relpos_bias` / `decoder.relpos_bias`, which Hugging Face stores in block 0) and shared
 * by every block of that stack, bidirectional in the encoder and causal in the decoder;
 * gated-GELU MLPs with `wi_0` the GELU branch and `wi_1` linear; final layer norms; an untied LM
 * head (`decoder.logits_dense`); dropout after the embeddings, each sublayer, inside the MLP and
 * after the final norms. Token ids: pad = decoder start = 0, EOS = 1.
 *
 * Packed batches (seqio's `EncDecFeatureConverter`) are supported: encoder self-attention stays
 * within `encoder_segment_ids`, decoder self-attention within `decoder_segment_ids`, and
 * cross-attention connects only equal segment ids. Incremental decoding encodes once, projects
 * every layer's cross-attention keys/values once, and then runs one step per token.
 */

import { Array } from '../core/array.js';
import type { DType } from '../core/dtype.js';
import * as lax from '../core/lax.js';
import { np } from '../np/index.js';
import { combineBiases, combineMasks, decoderMask, makeAttentionMask, maskToBias, RelativePositionBias, segmentMask, type RelativePositionBiasParams } from '../nn/attention.js';
import { cast, Dense, Embed, MLP_ACTIVATIONS, type DenseParams, type EmbedParams, type MlpActivation, type NormParams } from '../nn/layers.js';
import { foldKey, dropout, ModelError, positiveInt, rateIn01, subKey, type AxesTree } from '../nn/module.js';
import { DecoderBlock, EncoderBlock, makeNorm, type DecoderBlockParams, type DecoderLayerCache, type EncoderBlockParams } from '../nn/transformer.js';
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

/** Config of {@link T5} (names follow T5X's T5Config; HF names in parentheses). */
export interface T5Config {
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

const KNOWN = ['vocabSize', 'dModel', 'numHeads', 'headDim', 'mlpDim', 'numEncoderLayers', 'numDecoderLayers', 'activation', 'dropoutRate', 'relativeBuckets', 'relativeMaxDistance', 'normEps', 'tieEmbeddings', 'scaleLogits', 'dtype'] as const;

/** T5's special ids. */
export const T5_PAD_ID = 0;
export const T5_EOS_ID = 1;
/** The decoder start id (= pad). */
export const T5_DECODER_START_ID = 0;

/**
 * Presets. `t5-small`/`t5-base`/`t5-large` are the shapes of T5 v1.1 and Flan-T5 (google/flan-t5-small:
 * d_model 512, 6 heads of 64, d_ff 1024, 8+8 layers; base: 768, 12 × 64, 2048, 12+12; large: 1024,
 * 16 × 64, 2816, 24+24; vocab 32128). `t5x-tiny` is T5X's t5_1_1 tiny.gin; `tiny` trains in CPU
 * minutes on bytes; `test` is for unit tests.
 */
export const T5_PRESETS: Record<string, T5Config> = {
  test: { vocabSize: 64, dModel: 16, numHeads: 2, headDim: 8, mlpDim: 32, numEncoderLayers: 2, numDecoderLayers: 2, dropoutRate: 0 },
  tiny: { vocabSize: 259, dModel: 128, numHeads: 4, headDim: 32, mlpDim: 256, numEncoderLayers: 2, numDecoderLayers: 2, dropoutRate: 0.1 },
  't5x-tiny': { vocabSize: 32128, dModel: 8, numHeads: 4, headDim: 3, mlpDim: 16, numEncoderLayers: 2, numDecoderLayers: 2 },
  't5-small': { vocabSize: 32128, dModel: 512, numHeads: 6, headDim: 64, mlpDim: 1024, numEncoderLayers: 8, numDecoderLayers: 8 },
  't5-base': { vocabSize: 32128, dModel: 768, numHeads: 12, headDim: 64, mlpDim: 2048, numEncoderLayers: 12, numDecoderLayers: 12 },
  't5-large': { vocabSize: 32128, dModel: 1024, numHeads: 16, headDim: 64, mlpDim: 2816, numEncoderLayers: 24, numDecoderLayers: 24 },
};

/** Params of a T5 model (T5X layout). */
export interface T5Params {
  token_embedder: EmbedParams;
  encoder: { relpos_bias: RelativePositionBiasParams; encoder_norm: NormParams; [layer: string]: EncoderBlockParams | RelativePositionBiasParams | NormParams };
  decoder: { relpos_bias: RelativePositionBiasParams; decoder_norm: NormParams; logits_dense?: DenseParams; [layer: string]: DecoderBlockParams | RelativePositionBiasParams | NormParams | DenseParams | undefined };
}

/** Decoding cache of a T5 model: per-layer self/cross KV, the cross-attention bias, the position index. */
export interface T5Cache extends DecodeCache {
  layers: DecoderLayerCache[];
  /** Additive cross-attention bias [B, 1, 1, Le] (hides encoder padding). */
  crossBias: Array;
}

/** Validates a config and fills defaults. */
export function resolveT5Config(config: T5Config): Required<T5Config> {
  const where = 'T5 config';
  if (!config || typeof config !== 'object') throw new ModelError(`${where}: expected an object`);
  noUnknownKeys(config, KNOWN, where);
  const c: Required<T5Config> = {
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
    dtype: oneOf(config.dtype ?? 'float32', ['float32', 'float64'] as const, 'dtype', where),
  };
  if (!(c.normEps > 0)) throw new ModelError(`${where}: normEps must be > 0, got ${c.normEps}`);
  return c;
}

/** Options of {@link T5Model.encode}. */
export interface EncodeOptions extends ModelApplyOptions {
  /** Packed-row segment ids [B, Le] (0 = padding). */
  segmentIds?: Array;
}

/** A T5 encoder-decoder; see the file header. */
export interface T5Model extends Model<Required<T5Config>, T5Params> {
  readonly family: 'encdec';
  /** Encoder outputs [B, Le, E] for encoder input tokens [B, Le]. */
  encode(params: T5Params, encoderInputTokens: Array, opts?: EncodeOptions): Array;
  initDecodeCache(params: T5Params, o: { batch: number; maxLen: number; encoderInputTokens?: Array; encoded?: Array }): T5Cache;
  decodeStep(params: T5Params, cache: DecodeCache, tokens: Array): StepOutput<T5Cache>;
}

/** Creates a T5 model from a config or a preset name ({@link T5_PRESETS}). */
export function T5(configOrPreset: T5Config | string): T5Model {
  let raw: T5Config;
  if (typeof configOrPreset === 'string') {
    const p = T5_PRESETS[configOrPreset];
    if (!p) throw new ModelError(`T5: unknown preset ${JSON.stringify(configOrPreset)}; presets: ${Object.keys(T5_PRESETS).join(', ')}`);
    raw = p;
  } else raw = configOrPreset;
  const c = resolveT5Config(raw);
  const E = c.dModel;
  const embed = Embed({ numEmbeddings: c.vocabSize, features: E, dtype: c.dtype });
  const rel = (bidirectional: boolean) => RelativePositionBias({ numHeads: c.numHeads, numBuckets: c.relativeBuckets, maxDistance: c.relativeMaxDistance, bidirectional, dtype: c.dtype });
  const encRel = rel(true);
  const decRel = rel(false);
  const blockConfig = { numHeads: c.numHeads, headDim: c.headDim, mlpDim: c.mlpDim, activation: c.activation, dropoutRate: c.dropoutRate, norm: 'rms' as const, normEps: c.normEps, scaleLogits: c.scaleLogits, dtype: c.dtype };
  const encBlock = EncoderBlock(blockConfig);
  const decBlock = DecoderBlock({ ...blockConfig, crossAttention: true });
  const norm = makeNorm({ norm: 'rms', normEps: c.normEps, dtype: c.dtype });
  const logitsDense = Dense({ features: c.vocabSize, axes: ['embed', 'vocab'], dtype: c.dtype });
  const encNames = globalThis.Array.from({ length: c.numEncoderLayers }, (_, i) => `layers_${i}`);
  const decNames = globalThis.Array.from({ length: c.numDecoderLayers }, (_, i) => `layers_${i}`);

  const checkTrain = (opts: ModelApplyOptions, where: string): boolean => {
    const det = !(opts.train ?? false);
    if (!det && c.dropoutRate > 0 && !opts.key) throw new ModelError(`${where}: training with dropout needs { key }`);
    return det;
  };

  const encode = (params: T5Params, tokens: Array, opts: EncodeOptions = {}): Array => {
    const where = 'T5.encode';
    if (!(tokens instanceof Array) || tokens.ndim !== 2) throw new ModelError(`${where}: encoder input tokens must be int32 [batch, length]`);
    const det = checkTrain(opts, where);
    const L = tokens.shape[1];
    const key = opts.key;
    let x = embed.apply(params.token_embedder, cast(tokens, 'int32'));
    x = dropout(x, { rate: c.dropoutRate, deterministic: det, key: subKey(key, 0) });
    const valid = np.greater(tokens, 0);
    const mask = combineMasks(makeAttentionMask(valid, valid), opts.segmentIds ? segmentMask(opts.segmentIds, opts.segmentIds) : null)!;
    const bias = combineBiases(maskToBias(mask, x.dtype), encRel.apply(params.encoder.relpos_bias, L));
    encNames.forEach((n, i) => {
      x = encBlock.apply(params.encoder[n] as EncoderBlockParams, x, { bias, deterministic: det, key: subKey(key, 100 + i) });
    });
    x = norm.apply(params.encoder.encoder_norm, x);
    return dropout(x, { rate: c.dropoutRate, deterministic: det, key: subKey(key, 1) });
  };

  const logitsOf = (params: T5Params, y: Array): Array => {
    if (c.tieEmbeddings) return np.divide(embed.attend(params.token_embedder, y), Math.sqrt(E));
    return logitsDense.apply(params.decoder.logits_dense!, y);
  };

  const model: T5Model = {
    family: 'encdec',
    config: c,
    vocabSize: c.vocabSize,
    init(key: Array): T5Params {
      const k = (i: number) => foldKey(key, i);
      const enc: Record<string, unknown> = { relpos_bias: encRel.init(k(1)), encoder_norm: norm.init(k(2), E) };
      encNames.forEach((n, i) => (enc[n] = encBlock.init(k(100 + i), E)));
      const dec: Record<string, unknown> = { relpos_bias: decRel.init(k(3)), decoder_norm: norm.init(k(4), E) };
      decNames.forEach((n, i) => (dec[n] = decBlock.init(k(1000 + i), E)));
      if (!c.tieEmbeddings) dec.logits_dense = logitsDense.init(k(5), E);
      return { token_embedder: embed.init(k(0)), encoder: enc, decoder: dec } as unknown as T5Params;
    },
    axes(): AxesTree {
      const enc: Record<string, AxesTree> = { relpos_bias: encRel.axes(), encoder_norm: norm.axes(E) };
      for (const n of encNames) enc[n] = encBlock.axes();
      const dec: Record<string, AxesTree> = { relpos_bias: decRel.axes(), decoder_norm: norm.axes(E) };
      for (const n of decNames) dec[n] = decBlock.axes();
      if (!c.tieEmbeddings) dec.logits_dense = logitsDense.axes(E);
      return { token_embedder: embed.axes(), encoder: enc, decoder: dec };
    },
    encode,
    apply(params: T5Params, batch: Batch, opts: ModelApplyOptions = {}): Array {
      const where = 'T5.apply';
      const encTokens = feature(batch, 'encoder_input_tokens', where);
      const decInputs = feature(batch, 'decoder_input_tokens', where);
      const [B, L] = decInputs.shape;
      if (encTokens.shape[0] !== B) throw new ModelError(`${where}: encoder_input_tokens has batch ${encTokens.shape[0]} but decoder_input_tokens has ${B}`);
      const encSeg = optionalFeature(batch, 'encoder_segment_ids', where, encTokens.shape);
      const targets = optionalFeature(batch, 'decoder_target_tokens', where, [B, L]);
      const decSeg = optionalFeature(batch, 'decoder_segment_ids', where, [B, L]);
      if ((encSeg === undefined) !== (decSeg === undefined)) throw new ModelError(`${where}: packed batches need both encoder_segment_ids and decoder_segment_ids`);
      const det = checkTrain(opts, where);
      const key = opts.key;
      const encoded = encode(params, encTokens, { segmentIds: encSeg, train: !det, key: subKey(key, 7) });
      let x = embed.apply(params.token_embedder, cast(decInputs, 'int32'));
      x = dropout(x, { rate: c.dropoutRate, deterministic: det, key: subKey(key, 0) });
      const valid = decSeg ? np.greater(decSeg, 0) : targets ? np.greater(targets, 0) : np.ones([B, L], 'bool');
      const selfMask = decoderMask(valid, { segmentIds: decSeg });
      const selfBias = combineBiases(maskToBias(selfMask, x.dtype), decRel.apply(params.decoder.relpos_bias, L));
      const crossMask = combineMasks(makeAttentionMask(valid, np.greater(encTokens, 0)), decSeg && encSeg ? segmentMask(decSeg, encSeg) : null)!;
      const crossBias = maskToBias(crossMask, x.dtype);
      decNames.forEach((n, i) => {
        x = decBlock.apply(params.decoder[n] as DecoderBlockParams, x, { encoded, bias: selfBias, crossBias, deterministic: det, key: subKey(key, 1000 + i) });
      });
      let y = norm.apply(params.decoder.decoder_norm, x);
      y = dropout(y, { rate: c.dropoutRate, deterministic: det, key: subKey(key, 1) });
      return logitsOf(params, y);
    },
    loss(params: T5Params, batch: Batch, opts: LossOptions = {}): LossOutput {
      const where = 'T5.loss';
      const targets = feature(batch, 'decoder_target_tokens', where);
      const weights = optionalFeature(batch, 'decoder_loss_weights', where, targets.shape) ?? np.greater(targets, 0);
      return crossEntropyLoss(model.apply(params, batch, opts), targets, weights, opts);
    },
    initDecodeCache(params: T5Params, o: { batch: number; maxLen: number; encoderInputTokens?: Array; encoded?: Array }): T5Cache {
      const where = 'T5.initDecodeCache';
      positiveInt(o.batch, 'batch', where);
      positiveInt(o.maxLen, 'maxLen', where);
      const enc = o.encoderInputTokens;
      if (!enc) throw new ModelError(`${where}: pass { encoderInputTokens } (int32 [batch, length])`);
      if (enc.ndim !== 2 || enc.shape[0] !== o.batch) throw new ModelError(`${where}: encoderInputTokens must be [${o.batch}, length], got [${enc.shape.join(', ')}]`);
      const encoded = o.encoded ?? encode(params, enc);
      const crossBias = maskToBias(np.expandDims(np.greater(enc, 0), [1, 2]), encoded.dtype);
      return {
        index: lax.full(0, 'int32'),
        layers: decNames.map((n) => decBlock.initCache(params.decoder[n] as DecoderBlockParams, o.batch, o.maxLen, encoded)),
        crossBias,
      };
    },
    decodeStep(params: T5Params, cache0: DecodeCache, tokens: Array): StepOutput<T5Cache> {
      const where = 'T5.decodeStep';
      const cache = cache0 as T5Cache;
      if (!(tokens instanceof Array) || tokens.ndim !== 2) throw new ModelError(`${where}: tokens must be int32 [batch, n]`);
      const n = tokens.shape[1];
      const maxLen = cache.layers[0].self.key.shape[1];
      const idx = cache.index;
      let x = embed.apply(params.token_embedder, cast(tokens, 'int32'));
      const qpos = np.add(lax.iota('int32', [n, maxLen], 0), idx);
      const kpos = lax.iota('int32', [n, maxLen], 1);
      const mask = np.expandDims(np.lessEqual(kpos, qpos), [0, 1]);
      const bias = combineBiases(maskToBias(mask, x.dtype), decRel.apply(params.decoder.relpos_bias, n, { kLen: maxLen, queryOffset: idx }));
      const layers = decNames.map((name, i) => {
        const [y, lc] = decBlock.decode(params.decoder[name] as DecoderBlockParams, x, cache.layers[i], idx, { bias, crossBias: cache.crossBias });
        x = y;
        return lc;
      });
      const y = norm.apply(params.decoder.decoder_norm, x);
      return { logits: logitsOf(params, y), cache: { index: np.add(idx, n), layers, crossBias: cache.crossBias } };
    },
  };
  return model;
}
