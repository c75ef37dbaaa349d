/**
 * `STMoE`: an ST-MoE-style sparse encoder-decoder (Zoph et al. 2022) on the T5.1.1 / Flan-T5
 * layout of `T5` (shared token embedding, pre-norm RMSNorm blocks, relative position bias per
 * stack shared by its blocks, gated-GELU MLPs, untied LM head, dropout 0.1): every 4th layer of
 * each stack (layers 3, 7, …; `moeEvery`) has a mixture-of-experts feed-forward block. As in
 * ST-MoE the routers run in float32 and the router z-loss is on: `loss()` adds
 * `1e-2 · mean(load-balancing) + 1e-3 · mean(z-loss)` over all MoE layers and returns the routing
 * metrics (src/models/moe_common.ts).
 *
 * Routers: top-2 token choice by default in both stacks. The encoder may use expert choice
 * (`encoderRouter: { kind: 'expert_choice', capacityFactor: 2 }`): encoder self-attention is
 * bidirectional, so seeing the whole group is legitimate there. The decoder refuses expert choice
 * with a clear error (its routing would read future tokens). Task routing (Task-MoE):
 * `router: { kind: 'task', numTasks, k }` applies to both stacks (or set `encoderRouter` /
 * `decoderRouter` separately); batches then carry per-token `encoder_task_ids` [B, Le] and
 * `decoder_task_ids` [B, L] (what the data pipeline emits; packed rows may mix tasks) or one
 * `task_ids` int32 [B] per example.
 *
 * Decoding encodes once, projects each decoder layer's cross-attention memory once, and runs one
 * step per token; decoder MoE layers decode without dropping tokens (see moe_common.ts).
 * Empty `encoderMoeLayers` / `decoderMoeLayers` lists with per-layer MLP widths give a dense
 * model with the same parameter names (what Task-MoE extraction builds).
 */

import { Array } from '../core/array.js';
import type { DType } from '../core/dtype.js';
import * as lax from '../core/lax.js';
import { np } from '../np/index.js';
import { combineBiases, combineMasks, decoderMask, makeAttentionMask, maskToBias, RelativePositionBias, segmentMask, type RelativePositionBiasParams } from '../nn/attention.js';
import { cast, Dense, Embed, MLP_ACTIVATIONS, type DenseParams, type EmbedParams, type MlpActivation, type NormParams } from '../nn/layers.js';
import { dropout, foldKey, ModelError, positiveInt, rateIn01, subKey, type AxesTree } from '../nn/module.js';
import type { RouterSpec } from '../nn/moe/layer.js';
import { makeNorm, type DecoderLayerCache } from '../nn/transformer.js';
import { bool, crossEntropyLoss, feature, noUnknownKeys, oneOf, optionalFeature, tokenTaskIds, type Batch, type DecodeCache, type LossOutput, type Model, type ModelApplyOptions, type StepOutput } from './common.js';
import {
  batchTaskIds,
  decodeTaskIds,
  layerMlpDims,
  moeLayerIndices,
  moeLossTerms,
  MOE_FIELD_NAMES,
  resolveMoeFields,
  resolveRouterSpec,
  SparseBlock,
  withMoeLoss,
  type MoeFields,
  type MoeLossOptions,
  type NamedMoeOutput,
  type ResolvedMoeFields,
  type SparseBlockLayer,
  type SparseBlockParams,
} from './moe_common.js';
import type { SparseForward } from './moe_decoder.js';

/** Config of {@link STMoE} (T5 fields plus the MoE fields). */
export interface StMoeConfig extends MoeFields {
  vocabSize: number;
  dModel: number;
  numHeads: number;
  headDim: number;
  mlpDim: number;
  numEncoderLayers: number;
  numDecoderLayers: number;
  activation?: MlpActivation;
  /** Default 0.1. */
  dropoutRate?: number;
  relativeBuckets?: number;
  relativeMaxDistance?: number;
  normEps?: number;
  tieEmbeddings?: boolean;
  scaleLogits?: boolean;
  dtype?: DType;
  /** An MoE layer every N layers in each stack (default 4: layers 3, 7, …). */
  moeEvery?: number;
  encoderMoeLayers?: number[];
  decoderMoeLayers?: number[];
  encoderLayerMlpDims?: number[];
  decoderLayerMlpDims?: number[];
  /** Router of both stacks (default token choice, top-2, no jitter); overridden per stack below. */
  router?: RouterSpec;
  /** Router of the encoder's MoE layers (expert choice allowed). */
  encoderRouter?: RouterSpec;
  /** Router of the decoder's MoE layers (expert choice refused). */
  decoderRouter?: RouterSpec;
}

const KNOWN = [
  'vocabSize', 'dModel', 'numHeads', 'headDim', 'mlpDim', 'numEncoderLayers', 'numDecoderLayers', 'activation', 'dropoutRate', 'relativeBuckets', 'relativeMaxDistance',
  'normEps', 'tieEmbeddings', 'scaleLogits', 'dtype', 'moeEvery', 'encoderMoeLayers', 'decoderMoeLayers', 'encoderLayerMlpDims', 'decoderLayerMlpDims', 'router',
  'encoderRouter', 'decoderRouter', ...MOE_FIELD_NAMES,
] as const;

/** A resolved ST-MoE config. */
export interface ResolvedStMoeConfig {
  vocabSize: number;
  dModel: number;
  numHeads: number;
  headDim: number;
  mlpDim: number;
  numEncoderLayers: number;
  numDecoderLayers: number;
  activation: MlpActivation;
  dropoutRate: number;
  relativeBuckets: number;
  relativeMaxDistance: number;
  normEps: number;
  tieEmbeddings: boolean;
  scaleLogits: boolean;
  dtype: 'float32' | 'float64';
  moeEvery: number;
  encoderMoeLayers: number[];
  decoderMoeLayers: number[];
  encoderLayerMlpDims: number[];
  decoderLayerMlpDims: number[];
  encoderRouter: RouterSpec;
  decoderRouter: RouterSpec;
  moe: ResolvedMoeFields;
}

/**
 * Presets: `test` for unit tests; `tiny` (bytes, 4+4 layers, trains in CPU minutes); `small` and
 * `base` at the widths of T5-small / T5-base with 8 and 32 experts every 4th layer.
 */
export const ST_MOE_PRESETS: Record<string, StMoeConfig> = {
  test: { vocabSize: 64, dModel: 16, numHeads: 2, headDim: 8, mlpDim: 32, numEncoderLayers: 4, numDecoderLayers: 4, numExperts: 4, dropoutRate: 0 },
  tiny: { vocabSize: 259, dModel: 128, numHeads: 4, headDim: 32, mlpDim: 256, numEncoderLayers: 4, numDecoderLayers: 4, numExperts: 8 },
  small: { vocabSize: 32128, dModel: 512, numHeads: 6, headDim: 64, mlpDim: 1024, numEncoderLayers: 8, numDecoderLayers: 8, numExperts: 8 },
  base: { vocabSize: 32128, dModel: 768, numHeads: 12, headDim: 64, mlpDim: 2048, numEncoderLayers: 12, numDecoderLayers: 12, numExperts: 32 },
};

/** Validates an ST-MoE config and fills defaults. */
export function resolveStMoeConfig(config: StMoeConfig): ResolvedStMoeConfig {
  const where = 'STMoE config';
  if (!config || typeof config !== 'object') throw new ModelError(`${where}: expected an object`);
  noUnknownKeys(config, KNOWN, where);
  const nEnc = positiveInt(config.numEncoderLayers, 'numEncoderLayers', where);
  const nDec = positiveInt(config.numDecoderLayers, 'numDecoderLayers', where);
  const mlpDim = positiveInt(config.mlpDim, 'mlpDim', where);
  const every = positiveInt(config.moeEvery ?? 4, 'moeEvery', where);
  const encoderRouter = resolveRouterSpec(config.encoderRouter ?? config.router, config.encoderRouter ? 'encoderRouter' : 'router', where);
  const decoderRouter = resolveRouterSpec(config.decoderRouter ?? config.router, config.decoderRouter ? 'decoderRouter' : 'router', where);
  if (decoderRouter.kind === 'expert_choice') {
    throw new ModelError(`${where}: the decoder's router cannot be expert choice: the decoder is causal, and each expert would rank all tokens of a group, so a token's routing would depend on future tokens. Use expert choice in the encoder only (encoderRouter) and token choice (k = 1 or 2) or task routing in the decoder (decoderRouter)`);
  }
  const c: ResolvedStMoeConfig = {
    vocabSize: positiveInt(config.vocabSize, 'vocabSize', where),
    dModel: positiveInt(config.dModel, 'dModel', where),
    numHeads: positiveInt(config.numHeads, 'numHeads', where),
    headDim: positiveInt(config.headDim, 'headDim', where),
    mlpDim,
    numEncoderLayers: nEnc,
    numDecoderLayers: nDec,
    activation: oneOf(config.activation ?? 'gated-gelu', MLP_ACTIVATIONS, 'activation', where),
    dropoutRate: rateIn01(config.dropoutRate ?? 0.1, 'dropoutRate', where),
    relativeBuckets: positiveInt(config.relativeBuckets ?? 32, 'relativeBuckets', where),
    relativeMaxDistance: positiveInt(config.relativeMaxDistance ?? 128, 'relativeMaxDistance', where),
    normEps: config.normEps ?? 1e-6,
    tieEmbeddings: bool(config.tieEmbeddings ?? false, 'tieEmbeddings', where),
    scaleLogits: bool(config.scaleLogits ?? false, 'scaleLogits', where),
    dtype: oneOf(config.dtype ?? 'float32', ['float32', 'float64'] as const, 'dtype', where),
    moeEvery: every,
    encoderMoeLayers: moeLayerIndices(nEnc, every, config.encoderMoeLayers, 'encoderMoeLayers', where),
    decoderMoeLayers: moeLayerIndices(nDec, every, config.decoderMoeLayers, 'decoderMoeLayers', where),
    encoderLayerMlpDims: layerMlpDims(nEnc, mlpDim, config.encoderLayerMlpDims, 'encoderLayerMlpDims', where),
    decoderLayerMlpDims: layerMlpDims(nDec, mlpDim, config.decoderLayerMlpDims, 'decoderLayerMlpDims', where),
    encoderRouter,
    decoderRouter,
    moe: resolveMoeFields(config, mlpDim, where),
  };
  if (!(c.normEps > 0)) throw new ModelError(`${where}: normEps must be > 0, got ${c.normEps}`);
  if (c.encoderMoeLayers.length > 0 && c.decoderMoeLayers.length > 0 && (encoderRouter.kind === 'task') !== (decoderRouter.kind === 'task')) {
    throw new ModelError(`${where}: either both stacks route by task or neither (encoderRouter is ${encoderRouter.kind}, decoderRouter is ${decoderRouter.kind})`);
  }
  return c;
}

/** Params of an ST-MoE model (T5X layout). */
export interface StMoeParams {
  token_embedder: EmbedParams;
  encoder: { relpos_bias: RelativePositionBiasParams; encoder_norm: NormParams; [layer: string]: SparseBlockParams | RelativePositionBiasParams | NormParams };
  decoder: { relpos_bias: RelativePositionBiasParams; decoder_norm: NormParams; logits_dense?: DenseParams; [layer: string]: SparseBlockParams | RelativePositionBiasParams | NormParams | DenseParams | undefined };
}

/** Decoding cache of an ST-MoE model. */
export interface StMoeCache extends DecodeCache {
  layers: DecoderLayerCache[];
  crossBias: Array;
  task_ids?: Array;
}

/** An ST-MoE model (see the file header). */
export interface StMoeModel extends Model<ResolvedStMoeConfig, StMoeParams> {
  readonly family: 'encdec';
  readonly arch: 'st-moe';
  readonly taskRouted: boolean;
  /** MoE layer names, `encoder/layers_3`, `decoder/layers_3`, …. */
  readonly moeLayerNames: string[];
  readonly encoderBlocks: SparseBlockLayer[];
  readonly decoderBlocks: SparseBlockLayer[];
  /** Encoder outputs [B, Le, D] and the encoder's MoE outputs. */
  encode(params: StMoeParams, tokens: Array, opts?: ModelApplyOptions & { segmentIds?: Array; taskIds?: Array }): { encoded: Array; moe: NamedMoeOutput[] };
  forward(params: StMoeParams, batch: Batch, opts?: ModelApplyOptions): SparseForward;
  loss(params: StMoeParams, batch: Batch, opts?: MoeLossOptions): LossOutput;
  initDecodeCache(params: StMoeParams, o: { batch: number; maxLen: number; encoderInputTokens?: Array; taskIds?: Array | number[] }): StMoeCache;
  decodeStep(params: StMoeParams, cache: DecodeCache, tokens: Array): StepOutput<StMoeCache>;
}

/** Creates an ST-MoE model from a config or a preset name ({@link ST_MOE_PRESETS}). */
export function STMoE(configOrPreset: StMoeConfig | string): StMoeModel {
  let raw: StMoeConfig;
  if (typeof configOrPreset === 'string') {
    const p = ST_MOE_PRESETS[configOrPreset];
    if (!p) throw new ModelError(`STMoE: unknown preset ${JSON.stringify(configOrPreset)}; presets: ${Object.keys(ST_MOE_PRESETS).join(', ')}`);
    raw = p;
  } else raw = configOrPreset;
  const c = resolveStMoeConfig(raw);
  const D = c.dModel;
  const taskRouted = (c.encoderMoeLayers.length > 0 && c.encoderRouter.kind === 'task') || (c.decoderMoeLayers.length > 0 && c.decoderRouter.kind === 'task');
  const embed = Embed({ numEmbeddings: c.vocabSize, features: D, dtype: c.dtype });
  const rel = (bidirectional: boolean) => RelativePositionBias({ numHeads: c.numHeads, numBuckets: c.relativeBuckets, maxDistance: c.relativeMaxDistance, bidirectional, dtype: c.dtype });
  const encRel = rel(true);
  const decRel = rel(false);
  const norm = makeNorm({ norm: 'rms', normEps: c.normEps, dtype: c.dtype });
  const logitsDense = Dense({ features: c.vocabSize, axes: ['embed', 'vocab'], dtype: c.dtype });
  const common = { numHeads: c.numHeads, headDim: c.headDim, activation: c.activation, dropoutRate: c.dropoutRate, normEps: c.normEps, scaleLogits: c.scaleLogits, dtype: c.dtype };
  const encSet = new Set(c.encoderMoeLayers);
  const decSet = new Set(c.decoderMoeLayers);
  const encoderBlocks = globalThis.Array.from({ length: c.numEncoderLayers }, (_, i) =>
    SparseBlock({ ...common, kind: 'encoder', ffn: encSet.has(i) ? { kind: 'moe', moe: c.moe, router: c.encoderRouter } : { kind: 'dense', mlpDim: c.encoderLayerMlpDims[i] } }),
  );
  const decoderBlocks = globalThis.Array.from({ length: c.numDecoderLayers }, (_, i) =>
    SparseBlock({ ...common, kind: 'decoder', crossAttention: true, ffn: decSet.has(i) ? { kind: 'moe', moe: c.moe, router: c.decoderRouter } : { kind: 'dense', mlpDim: c.decoderLayerMlpDims[i] } }),
  );
  const encNames = encoderBlocks.map((_, i) => `layers_${i}`);
  const decNames = decoderBlocks.map((_, i) => `layers_${i}`);
  const moeLayerNames = [...c.encoderMoeLayers.map((i) => `encoder/${encNames[i]}`), ...c.decoderMoeLayers.map((i) => `decoder/${decNames[i]}`)];

  const checkTrain = (opts: ModelApplyOptions, where: string): boolean => {
    const train = opts.train ?? false;
    if (train && c.dropoutRate + c.moe.expertDropoutRate > 0 && !opts.key) throw new ModelError(`${where}: training with dropout needs { key }`);
    return train;
  };

  const encode = (params: StMoeParams, tokens: Array, opts: ModelApplyOptions & { segmentIds?: Array; taskIds?: Array } = {}): { encoded: Array; moe: NamedMoeOutput[] } => {
    const where = 'STMoE.encode';
    if (!(tokens instanceof Array) || tokens.ndim !== 2) throw new ModelError(`${where}: encoder input tokens must be int32 [batch, length]`);
    const train = checkTrain(opts, where);
    const L = tokens.shape[1];
    const key = opts.key;
    if (taskRouted && c.encoderMoeLayers.length > 0 && !opts.taskIds) throw new ModelError(`${where}: this model routes by task; pass taskIds (int32 [batch], or [batch, length] per token)`);
    let x = embed.apply(params.token_embedder, cast(tokens, 'int32'));
    x = dropout(x, { rate: c.dropoutRate, deterministic: !train, key: subKey(key, 0) });
    const valid = opts.segmentIds ? np.greater(opts.segmentIds, 0) : np.greater(tokens, 0);
    const mask = combineMasks(makeAttentionMask(valid, valid), opts.segmentIds ? segmentMask(opts.segmentIds, opts.segmentIds) : null)!;
    const bias = combineBiases(maskToBias(mask, x.dtype), encRel.apply(params.encoder.relpos_bias, L));
    const moe: NamedMoeOutput[] = [];
    encoderBlocks.forEach((b, i) => {
      const r = b.apply(params.encoder[encNames[i]] as SparseBlockParams, x, { bias, train, key: subKey(key, 100 + i), paddingMask: valid, taskId: opts.taskIds });
      x = r.y;
      if (r.moe) moe.push({ name: `encoder/${encNames[i]}`, out: r.moe });
    });
    x = norm.apply(params.encoder.encoder_norm, x);
    return { encoded: dropout(x, { rate: c.dropoutRate, deterministic: !train, key: subKey(key, 1) }), moe };
  };

  const logitsOf = (params: StMoeParams, y: Array): Array => {
    if (c.tieEmbeddings) return np.divide(embed.attend(params.token_embedder, y), Math.sqrt(D));
    return logitsDense.apply(params.decoder.logits_dense!, y);
  };

  const forward = (params: StMoeParams, batch: Batch, opts: ModelApplyOptions = {}): SparseForward => {
    const where = 'STMoE.apply';
    const encTokens = feature(batch, 'encoder_input_tokens', where);
    const decInputs = feature(batch, 'decoder_input_tokens', where);
    const [B, L] = decInputs.shape;
    if (encTokens.shape[0] !== B) throw new ModelError(`${where}: encoder_input_tokens has batch ${encTokens.shape[0]} but decoder_input_tokens has ${B}`);
    const encSeg = optionalFeature(batch, 'encoder_segment_ids', where, encTokens.shape);
    const targets = optionalFeature(batch, 'decoder_target_tokens', where, [B, L]);
    const decSeg = optionalFeature(batch, 'decoder_segment_ids', where, [B, L]);
    if ((encSeg === undefined) !== (decSeg === undefined)) throw new ModelError(`${where}: packed batches need both encoder_segment_ids and decoder_segment_ids`);
    const encTasks = taskRouted ? tokenTaskIds(batch, 'encoder_task_ids', encTokens.shape, where) : undefined;
    const decTasks = taskRouted ? tokenTaskIds(batch, 'decoder_task_ids', [B, L], where) : undefined;
    if ((encTasks === undefined) !== (decTasks === undefined)) throw new ModelError(`${where}: per-token task ids come in pairs: give both encoder_task_ids and decoder_task_ids (the data pipeline emits both), or one task_ids [batch]`);
    if (taskRouted && decTasks === undefined && batch.task_ids === undefined) {
      throw new ModelError(`${where}: this model routes by task; the batch needs task_ids (int32 [batch], one per example) or encoder_task_ids and decoder_task_ids (int32, each token's task id, as the data pipeline emits)`);
    }
    const taskIds = decTasks === undefined ? batchTaskIds(batch, B, null, taskRouted, where) : undefined;
    const train = checkTrain(opts, where);
    const key = opts.key;
    const enc = encode(params, encTokens, { segmentIds: encSeg, train, key: subKey(key, 7), taskIds: encTasks ?? taskIds });
    let x = embed.apply(params.token_embedder, cast(decInputs, 'int32'));
    x = dropout(x, { rate: c.dropoutRate, deterministic: !train, key: subKey(key, 0) });
    const validB = decSeg ? np.greater(decSeg, 0) : targets ? np.greater(targets, 0) : null;
    const valid = validB ?? np.ones([B, L], 'bool');
    const selfMask = decoderMask(valid, { segmentIds: decSeg });
    const selfBias = combineBiases(maskToBias(selfMask, x.dtype), decRel.apply(params.decoder.relpos_bias, L));
    const crossMask = combineMasks(makeAttentionMask(valid, np.greater(encTokens, 0)), decSeg && encSeg ? segmentMask(decSeg, encSeg) : null)!;
    const crossBias = maskToBias(crossMask, x.dtype);
    const moe = [...enc.moe];
    decoderBlocks.forEach((b, i) => {
      const r = b.apply(params.decoder[decNames[i]] as SparseBlockParams, x, { bias: selfBias, crossBias, encoded: enc.encoded, train, key: subKey(key, 1000 + i), paddingMask: validB ?? undefined, taskId: decTasks ?? taskIds });
      x = r.y;
      if (r.moe) moe.push({ name: `decoder/${decNames[i]}`, out: r.moe });
    });
    let y = norm.apply(params.decoder.decoder_norm, x);
    y = dropout(y, { rate: c.dropoutRate, deterministic: !train, key: subKey(key, 1) });
    return { logits: logitsOf(params, y), moe };
  };

  const model: StMoeModel = {
    family: 'encdec',
    arch: 'st-moe',
    config: c,
    vocabSize: c.vocabSize,
    taskRouted,
    moeLayerNames,
    encoderBlocks,
    decoderBlocks,
    init(key: Array): StMoeParams {
      const k = (i: number) => foldKey(key, i);
      const enc: Record<string, unknown> = { relpos_bias: encRel.init(k(1)), encoder_norm: norm.init(k(2), D) };
      encoderBlocks.forEach((b, i) => (enc[encNames[i]] = b.init(k(100 + i), D)));
      const dec: Record<string, unknown> = { relpos_bias: decRel.init(k(3)), decoder_norm: norm.init(k(4), D) };
      decoderBlocks.forEach((b, i) => (dec[decNames[i]] = b.init(k(1000 + i), D)));
      if (!c.tieEmbeddings) dec.logits_dense = logitsDense.init(k(5), D);
      return { token_embedder: embed.init(k(0)), encoder: enc, decoder: dec } as unknown as StMoeParams;
    },
    axes(): AxesTree {
      const enc: Record<string, AxesTree> = { relpos_bias: encRel.axes(), encoder_norm: norm.axes(D) };
      encoderBlocks.forEach((b, i) => (enc[encNames[i]] = b.axes()));
      const dec: Record<string, AxesTree> = { relpos_bias: decRel.axes(), decoder_norm: norm.axes(D) };
      decoderBlocks.forEach((b, i) => (dec[decNames[i]] = b.axes()));
      if (!c.tieEmbeddings) dec.logits_dense = logitsDense.axes(D);
      return { token_embedder: embed.axes(), encoder: enc, decoder: dec };
    },
    encode,
    forward,
    apply(params: StMoeParams, batch: Batch, opts: ModelApplyOptions = {}): Array {
      return forward(params, batch, opts).logits;
    },
    loss(params: StMoeParams, batch: Batch, opts: MoeLossOptions = {}): LossOutput {
      const where = 'STMoE.loss';
      const targets = feature(batch, 'decoder_target_tokens', where);
      const weights = optionalFeature(batch, 'decoder_loss_weights', where, targets.shape) ?? np.greater(targets, 0);
      const f = forward(params, batch, opts);
      return withMoeLoss(crossEntropyLoss(f.logits, targets, weights, opts), moeLossTerms(f.moe, c.moe, opts.moeMetrics ?? 'full'));
    },
    initDecodeCache(params: StMoeParams, o: { batch: number; maxLen: number; encoderInputTokens?: Array; taskIds?: Array | number[] }): StMoeCache {
      const where = 'STMoE.initDecodeCache';
      positiveInt(o.batch, 'batch', where);
      positiveInt(o.maxLen, 'maxLen', where);
      const encTokens = o.encoderInputTokens;
      if (!encTokens) throw new ModelError(`${where}: pass { encoderInputTokens } (int32 [batch, length])`);
      if (encTokens.ndim !== 2 || encTokens.shape[0] !== o.batch) throw new ModelError(`${where}: encoderInputTokens must be [${o.batch}, length], got [${encTokens.shape.join(', ')}]`);
      const taskIds = decodeTaskIds(o.taskIds, o.batch, taskRouted, where);
      const { encoded } = encode(params, encTokens, { taskIds });
      const crossBias = maskToBias(np.expandDims(np.greater(encTokens, 0), [1, 2]), encoded.dtype);
      const cache: StMoeCache = {
        index: lax.full(0, 'int32'),
        layers: decoderBlocks.map((b, i) => b.initCache(params.decoder[decNames[i]] as SparseBlockParams, o.batch, o.maxLen, encoded)),
        crossBias,
      };
      if (taskIds) cache.task_ids = taskIds;
      return cache;
    },
    decodeStep(params: StMoeParams, cache0: DecodeCache, tokens: Array): StepOutput<StMoeCache> {
      const where = 'STMoE.decodeStep';
      const cache = cache0 as StMoeCache;
      if (!(tokens instanceof Array) || tokens.ndim !== 2) throw new ModelError(`${where}: tokens must be int32 [batch, n]`);
      const n = tokens.shape[1];
      const maxLen = cache.layers[0].self.key.shape[1];
      const idx = cache.index;
      let x = embed.apply(params.token_embedder, cast(tokens, 'int32'));
      const qpos = np.add(lax.iota('int32', [n, maxLen], 0), idx);
      const kpos = lax.iota('int32', [n, maxLen], 1);
      const mask = np.expandDims(np.lessEqual(kpos, qpos), [0, 1]);
      const bias = combineBiases(maskToBias(mask, x.dtype), decRel.apply(params.decoder.relpos_bias, n, { kLen: maxLen, queryOffset: idx }));
      const layers = decoderBlocks.map((b, i) => {
        const r = b.decode(params.decoder[decNames[i]] as SparseBlockParams, x, cache.layers[i], idx, { bias, crossBias: cache.crossBias, taskId: cache.task_ids });
        x = r.y;
        return r.cache;
      });
      const y = norm.apply(params.decoder.decoder_norm, x);
      const next: StMoeCache = { index: np.add(idx, n), layers, crossBias: cache.crossBias };
      if (cache.task_ids) next.task_ids = cache.task_ids;
      return { logits: logitsOf(params, y), cache: next };
    },
  };
  return model;
}

/** The config (`createModel` fields, without `family`) that rebuilds a model with this resolved config. */
export function stMoeSpec(c: ResolvedStMoeConfig): StMoeConfig {
  const { moe, ...rest } = c;
  const out: StMoeConfig = {
    ...rest,
    encoderMoeLayers: [...c.encoderMoeLayers], decoderMoeLayers: [...c.decoderMoeLayers],
    encoderLayerMlpDims: [...c.encoderLayerMlpDims], decoderLayerMlpDims: [...c.decoderLayerMlpDims],
    numExperts: moe.numExperts, expertMlpDim: moe.expertMlpDim, dispatch: moe.dispatch, expertDropoutRate: moe.expertDropoutRate, auxLossCoef: moe.auxLossCoef, routerZLossCoef: moe.routerZLossCoef,
  };
  if (moe.groupSize !== null) out.groupSize = moe.groupSize;
  if (moe.taskIds !== null) out.taskIds = moe.taskIds;
  return out;
}
