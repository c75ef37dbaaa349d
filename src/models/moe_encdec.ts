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
 *
 * The parts outside the blocks are T5's, from the encoder-decoder stem of src/models/stack.ts;
 * this file adds the MoE placement and routers per stack, the `SparseBlock` stacks, task ids and
 * the MoE losses.
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
import type { SparseForward } from './moe_decoder.js';
import {
  checkConfigObject,
  checkEncDecStack,
  ENCDEC_STACK_FIELDS,
  encoderDecoderStem,
  lossTargets,
  moeFieldsSpec,
  presetConfig,
  realTokens,
  resolveEncDecStack,
  trainMode,
  type EncDecParams,
  type EncDecStackConfig,
  type ResolvedEncDecStack,
} from './stack.js';

/** Config of {@link STMoE}: T5's fields (src/models/stack.ts), the MoE fields and the MoE placement and routers per stack. */
export interface StMoeConfig extends MoeFields, EncDecStackConfig {
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
  ...ENCDEC_STACK_FIELDS, 'moeEvery', 'encoderMoeLayers', 'decoderMoeLayers', 'encoderLayerMlpDims', 'decoderLayerMlpDims', 'router', 'encoderRouter', 'decoderRouter', ...MOE_FIELD_NAMES,
] as const;

/** A resolved ST-MoE config. */
export interface ResolvedStMoeConfig extends ResolvedEncDecStack {
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
  checkConfigObject(config, KNOWN, where);
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
    ...resolveEncDecStack(config, where),
    moeEvery: every,
    encoderMoeLayers: moeLayerIndices(nEnc, every, config.encoderMoeLayers, 'encoderMoeLayers', where),
    decoderMoeLayers: moeLayerIndices(nDec, every, config.decoderMoeLayers, 'decoderMoeLayers', where),
    encoderLayerMlpDims: layerMlpDims(nEnc, mlpDim, config.encoderLayerMlpDims, 'encoderLayerMlpDims', where),
    decoderLayerMlpDims: layerMlpDims(nDec, mlpDim, config.decoderLayerMlpDims, 'decoderLayerMlpDims', where),
    encoderRouter,
    decoderRouter,
    moe: resolveMoeFields(config, mlpDim, where),
  };
  checkEncDecStack(c, where);
  if (c.encoderMoeLayers.length > 0 && c.decoderMoeLayers.length > 0 && (encoderRouter.kind === 'task') !== (decoderRouter.kind === 'task')) {
    throw new ModelError(`${where}: either both stacks route by task or neither (encoderRouter is ${encoderRouter.kind}, decoderRouter is ${decoderRouter.kind})`);
  }
  return c;
}

/** Params of an ST-MoE model (T5X layout; dense or sparse blocks in both stacks). */
export type StMoeParams = EncDecParams<SparseBlockParams, SparseBlockParams>;

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
  const c = resolveStMoeConfig(presetConfig(configOrPreset, ST_MOE_PRESETS, 'STMoE'));
  const D = c.dModel;
  const taskRouted = (c.encoderMoeLayers.length > 0 && c.encoderRouter.kind === 'task') || (c.decoderMoeLayers.length > 0 && c.decoderRouter.kind === 'task');
  const stem = encoderDecoderStem(c);
  const common = { numHeads: c.numHeads, headDim: c.headDim, activation: c.activation, dropoutRate: c.dropoutRate, normEps: c.normEps, scaleLogits: c.scaleLogits, dtype: c.dtype };
  const encSet = new Set(c.encoderMoeLayers);
  const decSet = new Set(c.decoderMoeLayers);
  const encoderBlocks = globalThis.Array.from({ length: c.numEncoderLayers }, (_, i) =>
    SparseBlock({ ...common, kind: 'encoder', ffn: encSet.has(i) ? { kind: 'moe', moe: c.moe, router: c.encoderRouter } : { kind: 'dense', mlpDim: c.encoderLayerMlpDims[i] } }),
  );
  const decoderBlocks = globalThis.Array.from({ length: c.numDecoderLayers }, (_, i) =>
    SparseBlock({ ...common, kind: 'decoder', crossAttention: true, ffn: decSet.has(i) ? { kind: 'moe', moe: c.moe, router: c.decoderRouter } : { kind: 'dense', mlpDim: c.decoderLayerMlpDims[i] } }),
  );
  const encNames = stem.encoderNames;
  const decNames = stem.decoderNames;
  const moeLayerNames = [...c.encoderMoeLayers.map((i) => `encoder/${encNames[i]}`), ...c.decoderMoeLayers.map((i) => `decoder/${decNames[i]}`)];
  const dropoutRates = c.dropoutRate + c.moe.expertDropoutRate;

  const encode = (params: StMoeParams, tokens: Array, opts: ModelApplyOptions & { segmentIds?: Array; taskIds?: Array } = {}): { encoded: Array; moe: NamedMoeOutput[] } => {
    const where = 'STMoE.encode';
    if (!(tokens instanceof Array) || tokens.ndim !== 2) throw new ModelError(`${where}: encoder input tokens must be int32 [batch, length]`);
    const train = trainMode(opts, dropoutRates, where);
    const key = opts.key;
    if (taskRouted && c.encoderMoeLayers.length > 0 && !opts.taskIds) throw new ModelError(`${where}: this model routes by task; pass taskIds (int32 [batch], or [batch, length] per token)`);
    let x = stem.embed(params, tokens, !train, key);
    const valid = opts.segmentIds ? np.greater(opts.segmentIds, 0) : np.greater(tokens, 0);
    const bias = stem.encoderBias(params, valid, opts.segmentIds, tokens.shape[1], x.dtype);
    const moe: NamedMoeOutput[] = [];
    encoderBlocks.forEach((b, i) => {
      const r = b.apply(params.encoder[encNames[i]] as SparseBlockParams, x, { bias, train, key: subKey(key, 100 + i), paddingMask: valid, taskId: opts.taskIds });
      x = r.y;
      if (r.moe) moe.push({ name: `encoder/${encNames[i]}`, out: r.moe });
    });
    return { encoded: stem.finalNorm(params.encoder.encoder_norm, x, !train, key), moe };
  };

  const forward = (params: StMoeParams, batch: Batch, opts: ModelApplyOptions = {}): SparseForward => {
    const where = 'STMoE.apply';
    const f = stem.readBatch(batch, where);
    const encTasks = taskRouted ? tokenTaskIds(batch, 'encoder_task_ids', f.encoderTokens.shape, where) : undefined;
    const decTasks = taskRouted ? tokenTaskIds(batch, 'decoder_task_ids', [f.B, f.L], where) : undefined;
    if ((encTasks === undefined) !== (decTasks === undefined)) throw new ModelError(`${where}: per-token task ids come in pairs: give both encoder_task_ids and decoder_task_ids (the data pipeline emits both), or one task_ids [batch]`);
    if (taskRouted && decTasks === undefined && batch.task_ids === undefined) {
      throw new ModelError(`${where}: this model routes by task; the batch needs task_ids (int32 [batch], one per example) or encoder_task_ids and decoder_task_ids (int32, each token's task id, as the data pipeline emits)`);
    }
    const taskIds = decTasks === undefined ? batchTaskIds(batch, f.B, null, taskRouted, where) : undefined;
    const train = trainMode(opts, dropoutRates, where);
    const key = opts.key;
    const enc = encode(params, f.encoderTokens, { segmentIds: f.encoderSegmentIds, train, key: subKey(key, 7), taskIds: encTasks ?? taskIds });
    let x = stem.embed(params, f.decoderInputs, !train, key);
    const validB = realTokens(f.decoderSegmentIds, f.targets);
    const { selfBias, crossBias } = stem.decoderBiases(params, validB ?? np.ones([f.B, f.L], 'bool'), f, x.dtype);
    const moe = [...enc.moe];
    decoderBlocks.forEach((b, i) => {
      const r = b.apply(params.decoder[decNames[i]] as SparseBlockParams, x, { bias: selfBias, crossBias, encoded: enc.encoded, train, key: subKey(key, 1000 + i), paddingMask: validB ?? undefined, taskId: decTasks ?? taskIds });
      x = r.y;
      if (r.moe) moe.push({ name: `decoder/${decNames[i]}`, out: r.moe });
    });
    return { logits: stem.logits(params, stem.finalNorm(params.decoder.decoder_norm, x, !train, key)), moe };
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
      return stem.init(key, (i, k) => encoderBlocks[i].init(k, D), (i, k) => decoderBlocks[i].init(k, D)) as unknown as StMoeParams;
    },
    axes(): AxesTree {
      return stem.axes((i) => encoderBlocks[i].axes(), (i) => decoderBlocks[i].axes());
    },
    encode,
    forward,
    apply(params: StMoeParams, batch: Batch, opts: ModelApplyOptions = {}): Array {
      return forward(params, batch, opts).logits;
    },
    loss(params: StMoeParams, batch: Batch, opts: MoeLossOptions = {}): LossOutput {
      const { targets, weights } = lossTargets(batch, 'STMoE.loss');
      const f = forward(params, batch, opts);
      return withMoeLoss(crossEntropyLoss(f.logits, targets, weights, opts), moeLossTerms(f.moe, c.moe, opts.moeMetrics ?? 'full'));
    },
    initDecodeCache(params: StMoeParams, o: { batch: number; maxLen: number; encoderInputTokens?: Array; taskIds?: Array | number[] }): StMoeCache {
      const where = 'STMoE.initDecodeCache';
      const encTokens = stem.cacheEncoderTokens(o, where);
      const taskIds = decodeTaskIds(o.taskIds, o.batch, taskRouted, where);
      const { encoded } = encode(params, encTokens, { taskIds });
      const crossBias = stem.cacheCrossBias(encTokens, encoded.dtype);
      const cache: StMoeCache = {
        index: lax.full(0, 'int32'),
        layers: decoderBlocks.map((b, i) => b.initCache(params.decoder[decNames[i]] as SparseBlockParams, o.batch, o.maxLen, encoded)),
        crossBias,
      };
      if (taskIds) cache.task_ids = taskIds;
      return cache;
    },
    decodeStep(params: StMoeParams, cache0: DecodeCache, tokens: Array): StepOutput<StMoeCache> {
      const cache = cache0 as StMoeCache;
      const s = stem.stepInputs(params, cache, tokens, 'STMoE.decodeStep');
      let x = s.x;
      const layers = decoderBlocks.map((b, i) => {
        const r = b.decode(params.decoder[decNames[i]] as SparseBlockParams, x, cache.layers[i], s.idx, { bias: s.bias, crossBias: cache.crossBias, taskId: cache.task_ids });
        x = r.y;
        return r.cache;
      });
      const y = stem.finalNorm(params.decoder.decoder_norm, x, true, undefined);
      const next: StMoeCache = { index: np.add(s.idx, s.n), layers, crossBias: cache.crossBias };
      if (cache.task_ids) next.task_ids = cache.task_ids;
      return { logits: stem.logits(params, y), cache: next };
    },
  };
  return model;
}

/** The config (`createModel` fields, without `family`) that rebuilds a model with this resolved config. */
export function stMoeSpec(c: ResolvedStMoeConfig): StMoeConfig {
  const { moe, ...rest } = c;
  return {
    ...rest,
    encoderMoeLayers: [...c.encoderMoeLayers], decoderMoeLayers: [...c.decoderMoeLayers],
    encoderLayerMlpDims: [...c.encoderLayerMlpDims], decoderLayerMlpDims: [...c.decoderLayerMlpDims],
    ...moeFieldsSpec(moe),
  };
}
