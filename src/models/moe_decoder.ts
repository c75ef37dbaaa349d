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
 *
 * The parts outside the blocks are DecoderLM's, from the decoder-only stem of src/models/stack.ts;
 * this file adds the MoE placement, the `SparseBlock` stack, task ids and the MoE losses.
 */

import { Array } from '../core/array.js';
import * as lax from '../core/lax.js';
import { np } from '../np/index.js';
import { ModelError, positiveInt, subKey, type AxesTree } from '../nn/module.js';
import type { RouterSpec } from '../nn/moe/layer.js';
import type { DecoderLayerCache } from '../nn/transformer.js';
import { crossEntropyLoss, tokenTaskIds, type Batch, type DecodeCache, type LossOutput, type Model, type ModelApplyOptions, type StepOutput } from './common.js';
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
import {
  checkConfigObject,
  checkDecoderStack,
  DECODER_STACK_FIELDS,
  decoderOnlyStem,
  lossTargets,
  moeFieldsSpec,
  presetConfig,
  realTokens,
  resolveDecoderStack,
  trainMode,
  type DecoderStackConfig,
  type DecoderStemParams,
  type ResolvedDecoderStack,
} from './stack.js';

/** Config of {@link GLaM}: the decoder-only fields (src/models/stack.ts), the MoE fields and the MoE placement. */
export interface GlamConfig extends MoeFields, DecoderStackConfig {
  /** Width of the dense layers' MLP (and the experts' default width). */
  mlpDim: number;
  /** An MoE layer every N layers (default 2: layers 1, 3, 5, …). */
  moeEvery?: number;
  /** Explicit MoE layer indices (overrides moeEvery; [] gives a dense model). */
  moeLayers?: number[];
  /** Dense MLP width per layer (default mlpDim everywhere; extracted Task-MoE models widen former MoE layers). */
  layerMlpDims?: number[];
  /** The router of every MoE layer (default token choice, top-2, no jitter). */
  router?: RouterSpec;
}

const KNOWN = [...DECODER_STACK_FIELDS, 'moeEvery', 'moeLayers', 'layerMlpDims', 'router', ...MOE_FIELD_NAMES] as const;

/** A resolved GLaM config. */
export interface ResolvedGlamConfig extends ResolvedDecoderStack {
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
  checkConfigObject(config, KNOWN, where);
  const numLayers = positiveInt(config.numLayers, 'numLayers', where);
  const mlpDim = positiveInt(config.mlpDim, 'mlpDim', where);
  const moeEvery = positiveInt(config.moeEvery ?? 2, 'moeEvery', where);
  const router = resolveRouterSpec(config.router, 'router', where);
  if (router.kind === 'expert_choice') {
    throw new ModelError(`${where}: router.kind 'expert_choice' is not allowed in a causal decoder (each expert ranks all tokens of a group, so routing would depend on future tokens); use token choice (k = 1 or 2) or task routing`);
  }
  const c: ResolvedGlamConfig = {
    ...resolveDecoderStack(config, where),
    moeEvery,
    moeLayers: moeLayerIndices(numLayers, moeEvery, config.moeLayers, 'moeLayers', where),
    layerMlpDims: layerMlpDims(numLayers, mlpDim, config.layerMlpDims, 'layerMlpDims', where),
    router,
    moe: resolveMoeFields(config, mlpDim, where),
  };
  checkDecoderStack(c, where);
  return c;
}

/** Params of a GLaM model: the decoder-only stem's and `layers_{i}` (dense or sparse blocks). */
export interface GlamParams extends DecoderStemParams {
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
  const c = resolveGlamConfig(presetConfig(configOrPreset, GLAM_PRESETS, 'GLaM'));
  const D = c.dModel;
  const taskRouted = c.router.kind === 'task';
  const stem = decoderOnlyStem(c);
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
  const names = stem.names;
  const moeLayerNames = c.moeLayers.map((i) => names[i]);
  const needsTasks = taskRouted && moeLayerNames.length > 0;

  const forward = (params: GlamParams, batch: Batch, opts: ModelApplyOptions = {}): SparseForward => {
    const where = 'GLaM.apply';
    const f = stem.readBatch(batch, where);
    const tokenTasks = needsTasks ? tokenTaskIds(batch, 'decoder_task_ids', [f.B, f.L], where) : undefined;
    if (needsTasks && tokenTasks === undefined && batch.task_ids === undefined) {
      throw new ModelError(`${where}: this model routes by task; the batch needs task_ids (int32 [batch], one per example) or decoder_task_ids (int32 [batch, length], each token's task id, as the data pipeline emits)`);
    }
    const taskId = tokenTasks ?? batchTaskIds(batch, f.B, f.L, needsTasks, where);
    const train = trainMode(opts, c.dropoutRate + c.moe.expertDropoutRate, where);
    let x = stem.embed(params, f.tokens, f.positions, !train, opts.key);
    const validB = realTokens(f.segmentIds, f.targets);
    const bias = stem.selfBias(params, validB ?? np.ones([f.B, f.L], 'bool'), f, x.dtype);
    const rotary = stem.rotary(f.positions);
    const moe: NamedMoeOutput[] = [];
    blocks.forEach((b, i) => {
      const r = b.apply(params[names[i]], x, { bias, rotaryPositions: rotary, train, key: subKey(opts.key, 100 + i), paddingMask: validB ?? undefined, taskId });
      x = r.y;
      if (r.moe) moe.push({ name: names[i], out: r.moe });
    });
    return { logits: stem.head(params, x, !train, opts.key), moe };
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
      return stem.init(key, (i, k) => blocks[i].init(k, D)) as unknown as GlamParams;
    },
    axes(): AxesTree {
      return stem.axes((i) => blocks[i].axes());
    },
    forward,
    apply(params: GlamParams, batch: Batch, opts: ModelApplyOptions = {}): Array {
      return forward(params, batch, opts).logits;
    },
    loss(params: GlamParams, batch: Batch, opts: MoeLossOptions = {}): LossOutput {
      const { targets, weights } = lossTargets(batch, 'GLaM.loss');
      const f = forward(params, batch, opts);
      const base = crossEntropyLoss(f.logits, targets, weights, opts);
      return withMoeLoss(base, moeLossTerms(f.moe, c.moe, opts.moeMetrics ?? 'full'));
    },
    initDecodeCache(params: GlamParams, o: { batch: number; maxLen: number; taskIds?: Array | number[] }): GlamCache {
      const where = 'GLaM.initDecodeCache';
      stem.checkCacheSize(o, where);
      const cache: GlamCache = { index: lax.full(0, 'int32'), layers: blocks.map((b, i) => b.initCache(params[names[i]], o.batch, o.maxLen)) };
      const t = decodeTaskIds(o.taskIds, o.batch, needsTasks, where);
      if (t) cache.task_ids = t;
      return cache;
    },
    decodeStep(params: GlamParams, cache0: DecodeCache, tokens: Array): StepOutput<GlamCache> {
      const cache = cache0 as GlamCache;
      const s = stem.stepInputs(params, cache, tokens, 'GLaM.decodeStep');
      let x = s.x;
      const layers = blocks.map((b, i) => {
        const r = b.decode(params[names[i]], x, cache.layers[i], s.idx, { bias: s.bias, rotaryPositions: s.rotaryPositions, taskId: cache.task_ids });
        x = r.y;
        return r.cache;
      });
      const next: GlamCache = { index: np.add(s.idx, s.n), layers };
      if (cache.task_ids) next.task_ids = cache.task_ids;
      return { logits: stem.head(params, x, true, undefined), cache: next };
    },
  };
  return model;
}

/** The config (`createModel` fields, without `family`) that rebuilds a model with this resolved config. */
export function glamSpec(c: ResolvedGlamConfig): GlamConfig {
  const { moe, ...rest } = c;
  return { ...rest, moeLayers: [...c.moeLayers], layerMlpDims: [...c.layerMlpDims], ...moeFieldsSpec(moe) };
}
