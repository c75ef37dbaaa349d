/**
 * `GLaM`: a GLaM-style sparse decoder-only language model (Du et al. 2021): the DecoderLM layout
 * (token embedding, T5 relative position bias shared by all layers, pre-norm blocks, final norm,
 * tied logits) in which every other layer's feed-forward block is a mixture of experts — layers
 * 1, 3, 5, … by default (`moeEvery: 2`) — routed top-2 (GShard/GLaM gating; capacity factor 1.25
 * in training, 2.0 in evaluation), with gated-GELU experts, RMSNorm and no biases anywhere.
 * `loss()` adds the load-balancing and router z-losses averaged over the MoE layers
 * (coefficients 1e-2 and 1e-3) and returns the routing metrics (src/models/moe_common.ts).
 *
 * Routers: token choice (any k), or task routing (Task-MoE: `router: { kind: 'task', numTasks,
 * k }`; the batch then carries `decoder_task_ids` int32 [B, L] — each token's task id, what the
 * data pipeline emits for packed rows that may mix tasks — or `task_ids` int32 [B], one id per
 * example). Expert choice is refused: it would let a token's routing depend on later tokens in a
 * causal decoder (MoeLayer's `causal` check).
 *
 * Decoding keeps a KV cache per layer; MoE layers decode without dropping tokens (groups are the
 * tokens fed for one row, capacity = group size), so greedy decoding with the cache equals
 * recomputing the whole prefix whenever the full forward pass drops nothing either.
 *
 * An empty `moeLayers` list with per-layer `layerMlpDims` gives a dense model with the same
 * parameter names; Task-MoE extraction (src/export/task_moe.ts) builds such a model from the
 * experts one task uses.
 */

import { Array } from '../core/array.js';
import type { DType } from '../core/dtype.js';
import * as lax from '../core/lax.js';
import { np } from '../np/index.js';
import { combineBiases, decoderMask, maskToBias, RelativePositionBias, type RelativePositionBiasParams } from '../nn/attention.js';
import { cast, Dense, Embed, MLP_ACTIVATIONS, type DenseParams, type EmbedParams, type MlpActivation, type NormParams } from '../nn/layers.js';
import { dropout, foldKey, initializers, ModelError, positiveInt, rateIn01, subKey, type AxesTree } from '../nn/module.js';
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

/** Config of {@link GLaM}. */
export interface GlamConfig extends MoeFields {
  vocabSize: number;
  dModel: number;
  numHeads: number;
  headDim: number;
  /** Width of the dense layers' MLP (and the experts' default width). */
  mlpDim: number;
  numLayers: number;
  /** Default 'gated-gelu' (GLaM). */
  activation?: MlpActivation;
  /** 'relative' (default: T5 bias), 'learned', 'rotary' or 'none'. */
  positional?: 'learned' | 'relative' | 'rotary' | 'none';
  maxLen?: number;
  tieEmbeddings?: boolean;
  dropoutRate?: number;
  normEps?: number;
  scaleLogits?: boolean;
  relativeBuckets?: number;
  relativeMaxDistance?: number;
  dtype?: DType;
  /** An MoE layer every N layers (default 2: layers 1, 3, 5, …). */
  moeEvery?: number;
  /** Explicit MoE layer indices (overrides moeEvery; [] gives a dense model). */
  moeLayers?: number[];
  /** Dense MLP width per layer (default mlpDim everywhere; extracted Task-MoE models widen former MoE layers). */
  layerMlpDims?: number[];
  /** The router of every MoE layer (default token choice, top-2, no jitter). */
  router?: RouterSpec;
}

const KNOWN = ['vocabSize', 'dModel', 'numHeads', 'headDim', 'mlpDim', 'numLayers', 'activation', 'positional', 'maxLen', 'tieEmbeddings', 'dropoutRate', 'normEps', 'scaleLogits', 'relativeBuckets', 'relativeMaxDistance', 'dtype', 'moeEvery', 'moeLayers', 'layerMlpDims', 'router', ...MOE_FIELD_NAMES] as const;

/** A resolved GLaM config. */
export interface ResolvedGlamConfig {
  vocabSize: number;
  dModel: number;
  numHeads: number;
  headDim: number;
  mlpDim: number;
  numLayers: number;
  activation: MlpActivation;
  positional: 'learned' | 'relative' | 'rotary' | 'none';
  maxLen: number;
  tieEmbeddings: boolean;
  dropoutRate: number;
  normEps: number;
  scaleLogits: boolean;
  relativeBuckets: number;
  relativeMaxDistance: number;
  dtype: 'float32' | 'float64';
  moeEvery: number;
  moeLayers: number[];
  layerMlpDims: number[];
  router: RouterSpec;
  moe: ResolvedMoeFields;
}

/**
 * Presets. `test` is for unit tests; `tiny` is byte-level and trains in CPU minutes; `small` and
 * `base` follow DecoderLM's widths; `glam-0.1b-64e` and `glam-1.7b-64e` have the shapes of GLaM's
 * 0.1B/64E and 1.7B/64E models (Du et al. 2021, Table 4; 256K-token vocabulary).
 */
export const GLAM_PRESETS: Record<string, GlamConfig> = {
  test: { vocabSize: 64, dModel: 16, numHeads: 2, headDim: 8, mlpDim: 32, numLayers: 2, numExperts: 4 },
  tiny: { vocabSize: 259, dModel: 128, numHeads: 4, headDim: 32, mlpDim: 256, numLayers: 4, numExperts: 8 },
  small: { vocabSize: 32128, dModel: 256, numHeads: 4, headDim: 64, mlpDim: 1024, numLayers: 8, numExperts: 16 },
  base: { vocabSize: 32128, dModel: 768, numHeads: 12, headDim: 64, mlpDim: 3072, numLayers: 12, numExperts: 32 },
  'glam-0.1b-64e': { vocabSize: 256000, dModel: 768, numHeads: 12, headDim: 64, mlpDim: 3072, numLayers: 12, numExperts: 64 },
  'glam-1.7b-64e': { vocabSize: 256000, dModel: 2048, numHeads: 16, headDim: 128, mlpDim: 8192, numLayers: 24, numExperts: 64 },
};

/** Validates a GLaM config and fills defaults. */
export function resolveGlamConfig(config: GlamConfig): ResolvedGlamConfig {
  const where = 'GLaM config';
  if (!config || typeof config !== 'object') throw new ModelError(`${where}: expected an object`);
  noUnknownKeys(config, KNOWN, where);
  const numLayers = positiveInt(config.numLayers, 'numLayers', where);
  const mlpDim = positiveInt(config.mlpDim, 'mlpDim', where);
  const moeEvery = positiveInt(config.moeEvery ?? 2, 'moeEvery', where);
  const router = resolveRouterSpec(config.router, 'router', where);
  if (router.kind === 'expert_choice') {
    throw new ModelError(`${where}: router.kind 'expert_choice' is not allowed in a causal decoder (each expert ranks all tokens of a group, so routing would depend on future tokens); use token choice (k = 1 or 2) or task routing`);
  }
  const c: ResolvedGlamConfig = {
    vocabSize: positiveInt(config.vocabSize, 'vocabSize', where),
    dModel: positiveInt(config.dModel, 'dModel', where),
    numHeads: positiveInt(config.numHeads, 'numHeads', where),
    headDim: positiveInt(config.headDim, 'headDim', where),
    mlpDim,
    numLayers,
    activation: oneOf(config.activation ?? 'gated-gelu', MLP_ACTIVATIONS, 'activation', where),
    positional: oneOf(config.positional ?? 'relative', ['learned', 'relative', 'rotary', 'none'] as const, 'positional', where),
    maxLen: positiveInt(config.maxLen ?? 2048, 'maxLen', where),
    tieEmbeddings: bool(config.tieEmbeddings ?? true, 'tieEmbeddings', where),
    dropoutRate: rateIn01(config.dropoutRate ?? 0, 'dropoutRate', where),
    normEps: config.normEps ?? 1e-6,
    scaleLogits: bool(config.scaleLogits ?? true, 'scaleLogits', where),
    relativeBuckets: positiveInt(config.relativeBuckets ?? 32, 'relativeBuckets', where),
    relativeMaxDistance: positiveInt(config.relativeMaxDistance ?? 128, 'relativeMaxDistance', where),
    dtype: oneOf(config.dtype ?? 'float32', ['float32', 'float64'] as const, 'dtype', where),
    moeEvery,
    moeLayers: moeLayerIndices(numLayers, moeEvery, config.moeLayers, 'moeLayers', where),
    layerMlpDims: layerMlpDims(numLayers, mlpDim, config.layerMlpDims, 'layerMlpDims', where),
    router,
    moe: resolveMoeFields(config, mlpDim, where),
  };
  if (!(c.normEps > 0)) throw new ModelError(`${where}: normEps must be > 0, got ${c.normEps}`);
  if (c.positional === 'rotary' && c.headDim % 2 !== 0) throw new ModelError(`${where}: rotary positions need an even headDim, got ${c.headDim}`);
  return c;
}

/** Params of a GLaM model. */
export interface GlamParams {
  token_embedder: EmbedParams;
  pos_embedder?: EmbedParams;
  relpos_bias?: RelativePositionBiasParams;
  decoder_norm: NormParams;
  logits_dense?: DenseParams;
  [layer: `layers_${number}`]: SparseBlockParams;
}

/** Decoding cache of a GLaM model (`task_ids` for task-routed models). */
export interface GlamCache extends DecodeCache {
  layers: DecoderLayerCache[];
  task_ids?: Array;
}

/** Logits plus the MoE layers' outputs of a forward pass. */
export interface SparseForward {
  logits: Array;
  moe: NamedMoeOutput[];
}

/** A GLaM model (see the file header). */
export interface GlamModel extends Model<ResolvedGlamConfig, GlamParams> {
  readonly family: 'decoder';
  /** The architecture name used by `createModel` ('glam'). */
  readonly arch: 'glam';
  readonly taskRouted: boolean;
  /** The parameter names of the MoE layers (e.g. ['layers_1', 'layers_3']). */
  readonly moeLayerNames: string[];
  /** The blocks, in order. */
  readonly blocks: SparseBlockLayer[];
  /** Logits and the MoE layers' outputs (losses, metrics, routing). */
  forward(params: GlamParams, batch: Batch, opts?: ModelApplyOptions): SparseForward;
  loss(params: GlamParams, batch: Batch, opts?: MoeLossOptions): LossOutput;
  initDecodeCache(params: GlamParams, o: { batch: number; maxLen: number; taskIds?: Array | number[] }): GlamCache;
  decodeStep(params: GlamParams, cache: DecodeCache, tokens: Array): StepOutput<GlamCache>;
}

/** Creates a GLaM model from a config or a preset name ({@link GLAM_PRESETS}). */
export function GLaM(configOrPreset: GlamConfig | string): GlamModel {
  let raw: GlamConfig;
  if (typeof configOrPreset === 'string') {
    const p = GLAM_PRESETS[configOrPreset];
    if (!p) throw new ModelError(`GLaM: unknown preset ${JSON.stringify(configOrPreset)}; presets: ${Object.keys(GLAM_PRESETS).join(', ')}`);
    raw = p;
  } else raw = configOrPreset;
  const c = resolveGlamConfig(raw);
  const D = c.dModel;
  const taskRouted = c.router.kind === 'task';
  const embed = Embed({ numEmbeddings: c.vocabSize, features: D, dtype: c.dtype });
  const posEmbed = Embed({ numEmbeddings: c.maxLen, features: D, dtype: c.dtype, axes: ['abspos_buckets', 'embed'], embeddingInit: initializers.normal(0.02) });
  const relpos = RelativePositionBias({ numHeads: c.numHeads, numBuckets: c.relativeBuckets, maxDistance: c.relativeMaxDistance, bidirectional: false, dtype: c.dtype });
  const norm = makeNorm({ norm: 'rms', normEps: c.normEps, dtype: c.dtype });
  const logitsDense = Dense({ features: c.vocabSize, axes: ['embed', 'vocab'], dtype: c.dtype });
  const moeSet = new Set(c.moeLayers);
  const blocks = globalThis.Array.from({ length: c.numLayers }, (_, i) =>
    SparseBlock({
      kind: 'decoder',
      numHeads: c.numHeads,
      headDim: c.headDim,
      activation: c.activation,
      dropoutRate: c.dropoutRate,
      normEps: c.normEps,
      scaleLogits: c.scaleLogits,
      dtype: c.dtype,
      ffn: moeSet.has(i) ? { kind: 'moe', moe: c.moe, router: c.router } : { kind: 'dense', mlpDim: c.layerMlpDims[i] },
    }),
  );
  const names = blocks.map((_, i) => `layers_${i}` as const);
  const moeLayerNames = c.moeLayers.map((i) => names[i]);

  const embedTokens = (params: GlamParams, tokens: Array, positions: Array, det: boolean, key: Array | undefined): Array => {
    let x = embed.apply(params.token_embedder, tokens);
    if (c.positional === 'learned') x = np.add(x, posEmbed.apply(params.pos_embedder!, positions));
    return dropout(x, { rate: c.dropoutRate, deterministic: det, key: subKey(key, 0) });
  };
  const head = (params: GlamParams, x: Array, det: boolean, key: Array | undefined): Array => {
    let y = norm.apply(params.decoder_norm, x);
    y = dropout(y, { rate: c.dropoutRate, deterministic: det, key: subKey(key, 1) });
    if (c.tieEmbeddings) return np.divide(embed.attend(params.token_embedder, y), Math.sqrt(D));
    return logitsDense.apply(params.logits_dense!, y);
  };

  const forward = (params: GlamParams, batch: Batch, opts: ModelApplyOptions = {}): SparseForward => {
    const where = 'GLaM.apply';
    const tokens = feature(batch, 'decoder_input_tokens', where);
    const [B, L] = tokens.shape;
    if (c.positional === 'learned' && L > c.maxLen) throw new ModelError(`${where}: sequence length ${L} exceeds maxLen ${c.maxLen} of the learned position table`);
    const targets = optionalFeature(batch, 'decoder_target_tokens', where, [B, L]);
    const seg = optionalFeature(batch, 'decoder_segment_ids', where, [B, L]);
    const pos = optionalFeature(batch, 'decoder_positions', where, [B, L]);
    const causalAttention = optionalFeature(batch, 'decoder_causal_attention', where, [B, L]);
    const needsTasks = taskRouted && moeLayerNames.length > 0;
    const tokenTasks = needsTasks ? tokenTaskIds(batch, 'decoder_task_ids', [B, L], where) : undefined;
    if (needsTasks && tokenTasks === undefined && batch.task_ids === undefined) {
      throw new ModelError(`${where}: this model routes by task; the batch needs task_ids (int32 [batch], one per example) or decoder_task_ids (int32 [batch, length], each token's task id, as the data pipeline emits)`);
    }
    const taskId = tokenTasks ?? batchTaskIds(batch, B, L, needsTasks, where);
    const train = opts.train ?? false;
    if (train && c.dropoutRate + c.moe.expertDropoutRate > 0 && !opts.key) throw new ModelError(`${where}: training with dropout needs { key }`);
    const positions = pos ? cast(pos, 'int32') : lax.iota('int32', [1, L], 1);
    let x = embedTokens(params, cast(tokens, 'int32'), positions, !train, opts.key);
    const validB = seg ? np.greater(seg, 0) : targets ? np.greater(targets, 0) : null;
    const valid = validB ?? np.ones([B, L], 'bool');
    const mask = decoderMask(valid, { segmentIds: seg, causalAttention });
    const bias = combineBiases(maskToBias(mask, x.dtype), c.positional === 'relative' ? relpos.apply(params.relpos_bias!, L) : null);
    const rotary = c.positional === 'rotary' ? positions : undefined;
    const moe: NamedMoeOutput[] = [];
    blocks.forEach((b, i) => {
      const r = b.apply(params[names[i]], x, { bias, rotaryPositions: rotary, train, key: subKey(opts.key, 100 + i), paddingMask: validB ?? undefined, taskId });
      x = r.y;
      if (r.moe) moe.push({ name: names[i], out: r.moe });
    });
    return { logits: head(params, x, !train, opts.key), moe };
  };

  const model: GlamModel = {
    family: 'decoder',
    arch: 'glam',
    config: c,
    vocabSize: c.vocabSize,
    taskRouted,
    moeLayerNames,
    blocks,
    init(key: Array): GlamParams {
      const k = (i: number) => foldKey(key, i);
      const p: Record<string, unknown> = { token_embedder: embed.init(k(0)), decoder_norm: norm.init(k(1), D) };
      if (c.positional === 'learned') p.pos_embedder = posEmbed.init(k(2));
      if (c.positional === 'relative') p.relpos_bias = relpos.init(k(3));
      if (!c.tieEmbeddings) p.logits_dense = logitsDense.init(k(4), D);
      blocks.forEach((b, i) => (p[names[i]] = b.init(k(100 + i), D)));
      return p as unknown as GlamParams;
    },
    axes(): AxesTree {
      const a: Record<string, AxesTree> = { token_embedder: embed.axes(), decoder_norm: norm.axes(D) };
      if (c.positional === 'learned') a.pos_embedder = posEmbed.axes();
      if (c.positional === 'relative') a.relpos_bias = relpos.axes();
      if (!c.tieEmbeddings) a.logits_dense = logitsDense.axes(D);
      blocks.forEach((b, i) => (a[names[i]] = b.axes()));
      return a;
    },
    forward,
    apply(params: GlamParams, batch: Batch, opts: ModelApplyOptions = {}): Array {
      return forward(params, batch, opts).logits;
    },
    loss(params: GlamParams, batch: Batch, opts: MoeLossOptions = {}): LossOutput {
      const where = 'GLaM.loss';
      const targets = feature(batch, 'decoder_target_tokens', where);
      const weights = optionalFeature(batch, 'decoder_loss_weights', where, targets.shape) ?? np.greater(targets, 0);
      const f = forward(params, batch, opts);
      const base = crossEntropyLoss(f.logits, targets, weights, opts);
      return withMoeLoss(base, moeLossTerms(f.moe, c.moe, opts.moeMetrics ?? 'full'));
    },
    initDecodeCache(params: GlamParams, o: { batch: number; maxLen: number; taskIds?: Array | number[] }): GlamCache {
      const where = 'GLaM.initDecodeCache';
      positiveInt(o.batch, 'batch', where);
      positiveInt(o.maxLen, 'maxLen', where);
      if (c.positional === 'learned' && o.maxLen > c.maxLen) throw new ModelError(`${where}: maxLen ${o.maxLen} exceeds the model's maxLen ${c.maxLen} (learned positions)`);
      const cache: GlamCache = { index: lax.full(0, 'int32'), layers: blocks.map((b, i) => b.initCache(params[names[i]], o.batch, o.maxLen)) };
      const t = decodeTaskIds(o.taskIds, o.batch, taskRouted && moeLayerNames.length > 0, where);
      if (t) cache.task_ids = t;
      return cache;
    },
    decodeStep(params: GlamParams, cache0: DecodeCache, tokens: Array): StepOutput<GlamCache> {
      const where = 'GLaM.decodeStep';
      const cache = cache0 as GlamCache;
      if (!(tokens instanceof Array) || tokens.ndim !== 2) throw new ModelError(`${where}: tokens must be int32 [batch, n]`);
      const n = tokens.shape[1];
      const maxLen = cache.layers[0].self.key.shape[1];
      const idx = cache.index;
      const qpos = np.add(lax.iota('int32', [n, maxLen], 0), idx);
      const kpos = lax.iota('int32', [n, maxLen], 1);
      const positions = np.add(lax.iota('int32', [1, n], 1), idx);
      let x = embedTokens(params, cast(tokens, 'int32'), positions, true, undefined);
      const mask = np.expandDims(np.lessEqual(kpos, qpos), [0, 1]);
      const bias = combineBiases(maskToBias(mask, x.dtype), c.positional === 'relative' ? relpos.apply(params.relpos_bias!, n, { kLen: maxLen, queryOffset: idx }) : null);
      const rotary = c.positional === 'rotary' ? positions : undefined;
      const layers = blocks.map((b, i) => {
        const r = b.decode(params[names[i]], x, cache.layers[i], idx, { bias, rotaryPositions: rotary, taskId: cache.task_ids });
        x = r.y;
        return r.cache;
      });
      const next: GlamCache = { index: np.add(idx, n), layers };
      if (cache.task_ids) next.task_ids = cache.task_ids;
      return { logits: head(params, x, true, undefined), cache: next };
    },
  };
  return model;
}

/** The config (`createModel` fields, without `family`) that rebuilds a model with this resolved config. */
export function glamSpec(c: ResolvedGlamConfig): GlamConfig {
  const { moe, ...rest } = c;
  const out: GlamConfig = { ...rest, moeLayers: [...c.moeLayers], layerMlpDims: [...c.layerMlpDims], numExperts: moe.numExperts, expertMlpDim: moe.expertMlpDim, dispatch: moe.dispatch, expertDropoutRate: moe.expertDropoutRate, auxLossCoef: moe.auxLossCoef, routerZLossCoef: moe.routerZLossCoef };
  if (moe.groupSize !== null) out.groupSize = moe.groupSize;
  if (moe.taskIds !== null) out.taskIds = moe.taskIds;
  return out;
}
