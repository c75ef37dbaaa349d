/**
 * What the sparse model families (GLaM-style decoder `GLaM`, ST-MoE-style encoder-decoder `STMoE`)
 * share: the MoE fields of their configs and their validation, a pre-norm Transformer block whose
 * feed-forward sublayer is either a dense MLP or an MoE layer (`SparseBlock`, encoder or decoder
 * flavour, with a KV cache for decoding), the task ids of a batch (Task-MoE), the auxiliary
 * losses and routing metrics of a forward pass (averaged over the MoE layers, with the default
 * coefficients 1e-2 and 1e-3), the per-layer × per-expert load matrix read back from those
 * metrics (for the heatmap), and `bindTaskIds` (a task-routed model with fixed task ids, so the
 * generic decoding helpers can drive it).
 *
 * MoE layers in decoding never drop tokens: each decoder MoE layer has a twin used by
 * `decode` whose token-choice router is dropless and whose groups are the tokens fed in that
 * call for one row (`groupSize` = the number of decoded tokens), so a token's experts depend
 * only on the token itself — decoding one token at a time gives the same experts whatever the
 * batch holds.
 *
 * Metrics (all scalar Arrays, so a jitted step can return them and the trainer can log them):
 * `moe_aux_loss`, `moe_z_loss` (layer means of the unscaled losses), `moe_dropped_fraction`,
 * `moe_load_max_over_mean`, `moe_router_confidence`, `moe_router_entropy` (layer means), and with
 * `moeMetrics: 'full'` (the default) per layer `moe/<layer>/<metric>` plus
 * `moe/<layer>/expert_load/<e>` (and, for token choice and task routing, `expert_demand/<e>`)
 * for every expert (what `moeExpertLoads` turns into the layers × experts heatmap).
 */

import { Array } from '../core/array.js';
import type { DType } from '../core/dtype.js';
import * as lax from '../core/lax.js';
import { np } from '../np/index.js';
import { MultiHeadAttention, type AttentionParams } from '../nn/attention.js';
import { MLP, MLP_ACTIVATIONS, type MlpActivation, type MlpParams, type NormParams } from '../nn/layers.js';
import { dropout, ModelError, positiveInt, rateIn01, splitKey, subKey, type AxesTree } from '../nn/module.js';
import { DEFAULT_AUX_LOSS_COEF, DEFAULT_Z_LOSS_COEF } from '../nn/moe/losses.js';
import { MoeLayer, type MoeLayerModule, type MoeLayerOutput, type MoeParams, type RouterSpec } from '../nn/moe/layer.js';
import { writeExpertLoadHeatmap, type HeatmapFiles, type RouterMetrics } from '../nn/moe/metrics.js';
import { makeNorm, type DecoderLayerCache } from '../nn/transformer.js';
import type { Batch, DecodeCache, LossMetrics, LossOptions, Model, StepOutput } from './common.js';

/** How task names map to Task-MoE task ids (recorded in the config; used by `myriad export --task <name>`). */
export type TaskIdScheme = 'cluster' | 'family';

/** The MoE fields shared by the sparse model configs. */
export interface MoeFields {
  /** Experts per MoE layer (E). */
  numExperts: number;
  /** Hidden width of each expert (default: the dense `mlpDim`, as in GLaM). */
  expertMlpDim?: number;
  /** Tokens per routing group (default: the sequence length, one group per example). */
  groupSize?: number;
  /** Dispatch implementation of the MoE layers (default 'index'). */
  dispatch?: 'dense' | 'index' | 'grouped';
  /** 'grouped' dispatch: row partitions per MoE layer (see MoeLayerConfig.groupedPartitions; default 1). */
  groupedPartitions?: number;
  /** Dropout inside the experts (default 0). */
  expertDropoutRate?: number;
  /** Coefficient of the load-balancing loss, averaged over MoE layers (default 1e-2). */
  auxLossCoef?: number;
  /** Coefficient of the router z-loss, averaged over MoE layers (default 1e-3). */
  routerZLossCoef?: number;
  /** How task names map to task ids for task-routed models (informational; default none). */
  taskIds?: TaskIdScheme;
}

/** Resolved MoE fields. */
export interface ResolvedMoeFields {
  numExperts: number;
  expertMlpDim: number;
  groupSize: number | null;
  dispatch: 'dense' | 'index' | 'grouped';
  groupedPartitions: number;
  expertDropoutRate: number;
  auxLossCoef: number;
  routerZLossCoef: number;
  taskIds: TaskIdScheme | null;
}

/** Names of the MoE config fields (for unknown-key checks). */
export const MOE_FIELD_NAMES = ['numExperts', 'expertMlpDim', 'groupSize', 'dispatch', 'groupedPartitions', 'expertDropoutRate', 'auxLossCoef', 'routerZLossCoef', 'taskIds'] as const;

function coef(v: unknown, dflt: number, field: string, where: string): number {
  const x = v ?? dflt;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw new ModelError(`${where}: ${field} must be a finite number ≥ 0, got ${JSON.stringify(v)}`);
  return x;
}

/** Validates the MoE fields of a config (`mlpDim` is the dense width, the expert default). */
export function resolveMoeFields(c: MoeFields, mlpDim: number, where: string): ResolvedMoeFields {
  const dispatch = c.dispatch ?? 'index';
  if (dispatch !== 'dense' && dispatch !== 'index' && dispatch !== 'grouped') throw new ModelError(`${where}: dispatch must be 'dense', 'index' or 'grouped', got ${JSON.stringify(c.dispatch)}`);
  if (c.taskIds !== undefined && c.taskIds !== 'cluster' && c.taskIds !== 'family') throw new ModelError(`${where}: taskIds must be 'cluster' or 'family', got ${JSON.stringify(c.taskIds)}`);
  return {
    numExperts: positiveInt(c.numExperts, 'numExperts', where),
    expertMlpDim: positiveInt(c.expertMlpDim ?? mlpDim, 'expertMlpDim', where),
    groupSize: c.groupSize === undefined ? null : positiveInt(c.groupSize, 'groupSize', where),
    dispatch,
    groupedPartitions: positiveInt(c.groupedPartitions ?? 1, 'groupedPartitions', where),
    expertDropoutRate: rateIn01(c.expertDropoutRate ?? 0, 'expertDropoutRate', where),
    auxLossCoef: coef(c.auxLossCoef, DEFAULT_AUX_LOSS_COEF, 'auxLossCoef', where),
    routerZLossCoef: coef(c.routerZLossCoef, DEFAULT_Z_LOSS_COEF, 'routerZLossCoef', where),
    taskIds: c.taskIds ?? null,
  };
}

/** The default router of the sparse families: token choice top-2, capacity factor 1.25 / 2.0, no jitter (flaxformer's default `jitter_noise = 0`). */
export const DEFAULT_ROUTER: RouterSpec = { kind: 'token_choice', k: 2, jitterEps: 0 };

/** Validates a router spec (shape only; the router itself checks the rest) and fills the jitter default (0). */
export function resolveRouterSpec(spec: RouterSpec | undefined, field: string, where: string): RouterSpec {
  const s = spec ?? DEFAULT_ROUTER;
  if (!s || typeof s !== 'object' || !['token_choice', 'expert_choice', 'task'].includes((s as { kind?: string }).kind as string)) {
    throw new ModelError(`${where}: ${field} must be a router spec { kind: 'token_choice' | 'expert_choice' | 'task', … }, got ${JSON.stringify(spec)}`);
  }
  if (s.kind === 'task') return { ...s };
  return { ...s, jitterEps: s.jitterEps ?? 0 };
}

/**
 * The MoE layer indices of a stack of `numLayers` layers: the explicit list, or every
 * `every`-th layer (layers every−1, 2·every−1, …). An empty default placement is an error (the
 * model would have no MoE layer); an explicit empty list gives a dense stack (extracted models).
 */
export function moeLayerIndices(numLayers: number, every: number, explicit: readonly number[] | undefined, field: string, where: string): number[] {
  if (explicit !== undefined) {
    if (!globalThis.Array.isArray(explicit) || explicit.some((i) => !Number.isInteger(i) || i < 0 || i >= numLayers)) {
      throw new ModelError(`${where}: ${field} must list layer indices in 0..${numLayers - 1}, got ${JSON.stringify(explicit)}`);
    }
    if (new Set(explicit).size !== explicit.length) throw new ModelError(`${where}: ${field} repeats a layer: ${JSON.stringify(explicit)}`);
    return [...explicit].sort((a, b) => a - b);
  }
  const out: number[] = [];
  for (let i = every - 1; i < numLayers; i += every) out.push(i);
  if (out.length === 0) {
    throw new ModelError(`${where}: ${numLayers} layer(s) with an MoE layer every ${every} layers gives no MoE layer; use at least ${every} layers, a smaller moeEvery, or list the MoE layers explicitly (${field})`);
  }
  return out;
}

/** Per-layer dense MLP widths (default: `mlpDim` everywhere). */
export function layerMlpDims(numLayers: number, mlpDim: number, explicit: readonly number[] | undefined, field: string, where: string): number[] {
  if (explicit === undefined) return globalThis.Array.from({ length: numLayers }, () => mlpDim);
  if (!globalThis.Array.isArray(explicit) || explicit.length !== numLayers) throw new ModelError(`${where}: ${field} must list one MLP width per layer (${numLayers}), got ${JSON.stringify(explicit)}`);
  return explicit.map((d, i) => positiveInt(d, `${field}[${i}]`, where));
}

// ---------------------------------------------------------------- the block

/** Params of a {@link SparseBlock}: a dense block has `mlp`, a sparse one `moe`. */
export interface SparseBlockParams {
  pre_attention_layer_norm?: NormParams;
  attention?: AttentionParams;
  pre_self_attention_layer_norm?: NormParams;
  self_attention?: AttentionParams;
  pre_cross_attention_layer_norm?: NormParams;
  encoder_decoder_attention?: AttentionParams;
  pre_mlp_layer_norm: NormParams;
  mlp?: MlpParams;
  moe?: MoeParams;
}

/** Config of {@link SparseBlock}. */
export interface SparseBlockConfig {
  /** 'encoder' (bidirectional self-attention; T5X names `attention`) or 'decoder' (causal; `self_attention`). */
  kind: 'encoder' | 'decoder';
  numHeads: number;
  headDim: number;
  activation: MlpActivation;
  dropoutRate: number;
  normEps: number;
  scaleLogits: boolean;
  dtype: DType;
  /** Decoder blocks of an encoder-decoder. */
  crossAttention?: boolean;
  /** The feed-forward sublayer: a dense MLP of this width, or an MoE layer. */
  ffn: { kind: 'dense'; mlpDim: number } | { kind: 'moe'; moe: ResolvedMoeFields; router: RouterSpec };
}

/** Options of a block's apply. */
export interface SparseBlockOptions {
  /** Additive self-attention bias. */
  bias: Array | null;
  /** Additive cross-attention bias and the encoder output (decoder blocks with cross-attention). */
  crossBias?: Array | null;
  encoded?: Array;
  train: boolean;
  key?: Array;
  /** Rotary positions (decoder-only models with rotary positions). */
  rotaryPositions?: Array;
  /** Real-token mask [B, L] for the MoE layer (nonzero = real). */
  paddingMask?: Array;
  /** Task ids (task routing): int32 [B] or [B, L]. */
  taskId?: Array;
}

/** A pre-norm Transformer block with a dense or MoE feed-forward sublayer. */
export interface SparseBlockLayer {
  readonly config: Readonly<SparseBlockConfig>;
  readonly sparse: boolean;
  /** The MoE layer (sparse blocks). */
  readonly moe: MoeLayerModule | null;
  init(key: Array, embedDim: number): SparseBlockParams;
  axes(): AxesTree;
  apply(params: SparseBlockParams, x: Array, opts: SparseBlockOptions): { y: Array; moe: MoeLayerOutput | null };
  initCache(params: SparseBlockParams, batch: number, maxLen: number, encoded?: Array): DecoderLayerCache;
  decode(params: SparseBlockParams, x: Array, cache: DecoderLayerCache, index: Array, opts: { bias: Array | null; crossBias?: Array | null; rotaryPositions?: Array; taskId?: Array }): { y: Array; cache: DecoderLayerCache; moe: MoeLayerOutput | null };
}

/** Creates a {@link SparseBlockLayer}. Decoder MoE layers are causal: expert-choice routing is refused there. */
export function SparseBlock(config: SparseBlockConfig): SparseBlockLayer {
  const where = `SparseBlock(${config.kind})`;
  if (!MLP_ACTIVATIONS.includes(config.activation)) throw new ModelError(`${where}: unknown activation ${JSON.stringify(config.activation)}`);
  const rate = config.dropoutRate;
  const dec = config.kind === 'decoder';
  const cross = dec && (config.crossAttention ?? false);
  const attnCfg = { numHeads: config.numHeads, headDim: config.headDim, scaleLogits: config.scaleLogits, dtype: config.dtype };
  const attn = MultiHeadAttention(attnCfg);
  const xattn = MultiHeadAttention(attnCfg);
  const norm = makeNorm({ norm: 'rms', normEps: config.normEps, dtype: config.dtype });
  const selfName = dec ? 'self_attention' : 'attention';
  const selfNorm = dec ? 'pre_self_attention_layer_norm' : 'pre_attention_layer_norm';
  let mlp: ReturnType<typeof MLP> | null = null;
  let moe: MoeLayerModule | null = null;
  let decodeMoe: MoeLayerModule | null = null;
  if (config.ffn.kind === 'dense') {
    mlp = MLP({ mlpDim: positiveInt(config.ffn.mlpDim, 'mlpDim', where), activation: config.activation, dropoutRate: rate, dtype: config.dtype });
  } else {
    const m = config.ffn.moe;
    const base = { numExperts: m.numExperts, mlpDim: m.expertMlpDim, activation: config.activation, dispatch: m.dispatch, groupedPartitions: m.groupedPartitions, expertDropoutRate: m.expertDropoutRate, causal: dec, dtype: config.dtype };
    moe = MoeLayer({ ...base, router: config.ffn.router, groupSize: m.groupSize ?? undefined });
    if (dec) {
      // Decoding: the tokens fed for one row form the group and no choice is ever dropped.
      const r = config.ffn.router;
      decodeMoe = MoeLayer({ ...base, router: r.kind === 'expert_choice' ? r : { ...r, dropless: true } });
    }
  }

  const ffn = (params: SparseBlockParams, h: Array, train: boolean, key: Array | undefined, paddingMask: Array | undefined, taskId: Array | undefined, decoding: boolean): { y: Array; moe: MoeLayerOutput | null } => {
    if (mlp) {
      if (!params.mlp) throw new ModelError(`${where}: this block is dense; its params need an mlp entry`);
      return { y: mlp.apply(params.mlp, h, { deterministic: !train, key }), moe: null };
    }
    if (!params.moe) throw new ModelError(`${where}: this block is sparse; its params need a moe entry { router, experts }`);
    const layer = decoding ? decodeMoe! : moe!;
    const out = layer.apply(params.moe, h, { train, key, paddingMask, taskId });
    return { y: out.output, moe: out };
  };

  return {
    config,
    sparse: moe !== null,
    moe,
    init(key: Array, embedDim: number): SparseBlockParams {
      const [ka, kc, km] = splitKey(key, 3);
      const p: Record<string, unknown> = { [selfNorm]: norm.init(key, embedDim), [selfName]: attn.init(ka, embedDim) };
      if (cross) {
        p.pre_cross_attention_layer_norm = norm.init(key, embedDim);
        p.encoder_decoder_attention = xattn.init(kc, embedDim);
      }
      p.pre_mlp_layer_norm = norm.init(key, embedDim);
      if (mlp) p.mlp = mlp.init(km, embedDim);
      else p.moe = moe!.init(km, embedDim);
      return p as unknown as SparseBlockParams;
    },
    axes(): AxesTree {
      const a: Record<string, AxesTree> = { [selfNorm]: norm.axes(0), [selfName]: attn.axes(0) };
      if (cross) {
        a.pre_cross_attention_layer_norm = norm.axes(0);
        a.encoder_decoder_attention = xattn.axes(0);
      }
      a.pre_mlp_layer_norm = norm.axes(0);
      if (mlp) a.mlp = mlp.axes(0);
      else a.moe = moe!.axes();
      return a;
    },
    apply(params: SparseBlockParams, x: Array, opts: SparseBlockOptions): { y: Array; moe: MoeLayerOutput | null } {
      const det = !opts.train;
      const sp = params as unknown as Record<string, AttentionParams & NormParams>;
      let h = norm.apply(sp[selfNorm], x);
      h = attn.apply(sp[selfName], h, { bias: opts.bias, rotaryPositions: opts.rotaryPositions, deterministic: det, key: subKey(opts.key, 0) });
      x = np.add(x, dropout(h, { rate, deterministic: det, key: subKey(opts.key, 1) }));
      if (cross) {
        if (!opts.encoded) throw new ModelError(`${where}: this block has cross-attention; pass the encoder output`);
        h = norm.apply(params.pre_cross_attention_layer_norm!, x);
        h = xattn.apply(params.encoder_decoder_attention!, h, { kv: opts.encoded, bias: opts.crossBias, deterministic: det, key: subKey(opts.key, 2) });
        x = np.add(x, dropout(h, { rate, deterministic: det, key: subKey(opts.key, 3) }));
      }
      h = norm.apply(params.pre_mlp_layer_norm, x);
      const f = ffn(params, h, opts.train, subKey(opts.key, 4), opts.paddingMask, opts.taskId, false);
      return { y: np.add(x, dropout(f.y, { rate, deterministic: det, key: subKey(opts.key, 5) })), moe: f.moe };
    },
    initCache(params: SparseBlockParams, batch: number, maxLen: number, encoded?: Array): DecoderLayerCache {
      if (!dec) throw new ModelError(`${where}: encoder blocks have no decoding cache`);
      const c: DecoderLayerCache = { self: attn.initCache(batch, maxLen, config.dtype) };
      if (cross) {
        if (!encoded) throw new ModelError(`${where}.initCache: this block has cross-attention; pass the encoder output`);
        c.cross = xattn.projectKV(params.encoder_decoder_attention!, encoded);
      }
      return c;
    },
    decode(params: SparseBlockParams, x: Array, cache: DecoderLayerCache, index: Array, opts): { y: Array; cache: DecoderLayerCache; moe: MoeLayerOutput | null } {
      if (!dec) throw new ModelError(`${where}: encoder blocks do not decode`);
      let h = norm.apply(params.pre_self_attention_layer_norm!, x);
      const [o, self] = attn.decode(params.self_attention!, h, cache.self, index, { bias: opts.bias, rotaryPositions: opts.rotaryPositions });
      x = np.add(x, o);
      if (cross) {
        if (!cache.cross) throw new ModelError(`${where}.decode: the cache has no cross-attention memory; create it with initCache(params, batch, maxLen, encoded)`);
        h = norm.apply(params.pre_cross_attention_layer_norm!, x);
        x = np.add(x, xattn.attendKV(params.encoder_decoder_attention!, h, cache.cross, { bias: opts.crossBias }));
      }
      h = norm.apply(params.pre_mlp_layer_norm, x);
      const f = ffn(params, h, false, undefined, undefined, opts.taskId, true);
      return { y: np.add(x, f.y), cache: cache.cross ? { self, cross: cache.cross } : { self }, moe: f.moe };
    },
  };
}

// ---------------------------------------------------------------- task ids

/** Whether a router spec routes by task. */
export function isTaskRouted(spec: RouterSpec | null | undefined): boolean {
  return !!spec && spec.kind === 'task';
}

/**
 * The `task_ids` feature of a batch for task-routed models: int32 [B] (one id per example) or
 * [B, L] (one per token, for packed rows). Throws when a task-routed model gets none.
 */
export function batchTaskIds(batch: Batch, B: number, L: number | null, needed: boolean, where: string): Array | undefined {
  const t = batch.task_ids;
  if (t === undefined) {
    if (needed) throw new ModelError(`${where}: this model routes by task; the batch needs task_ids (int32 [batch], one task id per example)`);
    return undefined;
  }
  if (!(t instanceof Array) || t.dtype !== 'int32') throw new ModelError(`${where}: task_ids must be an int32 Array [batch], got ${t instanceof Array ? t.dtype : typeof t}`);
  const okB = t.ndim === 1 && t.shape[0] === B;
  const okBL = L !== null && t.ndim === 2 && t.shape[0] === B && t.shape[1] === L;
  if (!okB && !okBL) throw new ModelError(`${where}: task_ids must be [${B}] (one id per example)${L !== null ? ` or [${B}, ${L}] (per token)` : ''}, got [${t.shape.join(', ')}]`);
  return t;
}

/** Task ids given to `initDecodeCache` as an Array or numbers → int32 [batch]. */
export function decodeTaskIds(ids: Array | readonly number[] | undefined, batch: number, needed: boolean, where: string): Array | undefined {
  if (ids === undefined) {
    if (needed) throw new ModelError(`${where}: this model routes by task; pass { taskIds } (one task id per row) to initDecodeCache, or wrap it with bindTaskIds(model, ids)`);
    return undefined;
  }
  const a = ids instanceof Array ? ids : Array.fromData(Int32Array.from(ids), [ids.length], 'int32');
  if (a.dtype !== 'int32' || a.ndim !== 1 || a.shape[0] !== batch) throw new ModelError(`${where}: taskIds must be int32 [${batch}] (one id per row), got ${a.dtype} [${a.shape.join(', ')}]`);
  return a;
}

// ---------------------------------------------------------------- losses and metrics

/** One MoE layer's output, named by its parameter path (e.g. `layers_1`, `encoder/layers_3`). */
export interface NamedMoeOutput {
  name: string;
  out: MoeLayerOutput;
}

/** How many routing metrics `loss` returns: 'full' (per layer, per expert), 'summary' (layer means) or 'none'. */
export type MoeMetricsLevel = 'full' | 'summary' | 'none';

/** Options of the sparse models' `loss`. */
export interface MoeLossOptions extends LossOptions {
  /** Routing metrics to return (default 'full'). */
  moeMetrics?: MoeMetricsLevel;
}

const PER_LAYER: readonly (keyof RouterMetrics)[] = ['auxLoss', 'zLoss', 'droppedFraction', 'loadMaxOverMean', 'routerConfidence', 'routerEntropy', 'expertUsage'];
const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * The auxiliary-loss term of a forward pass — `auxLossCoef · mean_layers(aux) + zCoef ·
 * mean_layers(z)` — and its metrics (see the file header).
 */
export function moeLossTerms(layers: readonly NamedMoeOutput[], coefs: { auxLossCoef: number; routerZLossCoef: number }, level: MoeMetricsLevel = 'full'): { total: Array; metrics: Record<string, Array> } {
  if (layers.length === 0) return { total: np.zeros([], 'float32'), metrics: {} };
  const n = layers.length;
  const mean = (xs: Array[]) => np.divide(xs.reduce((a, b) => np.add(a, b)), n);
  const aux = mean(layers.map((l) => l.out.auxLoss));
  const z = mean(layers.map((l) => l.out.zLoss));
  const total = np.add(np.multiply(aux, coefs.auxLossCoef), np.multiply(z, coefs.routerZLossCoef));
  const metrics: Record<string, Array> = {};
  if (level === 'none') return { total, metrics };
  const sg = lax.stopGradient;
  metrics.moe_aux_loss = sg(aux);
  metrics.moe_z_loss = sg(z);
  for (const m of ['droppedFraction', 'loadMaxOverMean', 'routerConfidence', 'routerEntropy'] as const) {
    metrics[`moe_${snake(m)}`] = sg(mean(layers.map((l) => l.out.metrics[m])));
  }
  if (level === 'full') {
    for (const { name, out } of layers) {
      for (const m of PER_LAYER) metrics[`moe/${name}/${snake(m)}`] = out.metrics[m]!;
      const load = out.metrics.expertLoad;
      const E = load.shape[0];
      for (let e = 0; e < E; e++) metrics[`moe/${name}/expert_load/${e}`] = lax.reshape(lax.slice(load, [e], [e + 1]), []);
      const demand = out.metrics.expertDemand;
      if (demand) for (let e = 0; e < E; e++) metrics[`moe/${name}/expert_demand/${e}`] = lax.reshape(lax.slice(demand, [e], [e + 1]), []);
    }
  }
  return { total, metrics };
}

/** Adds the MoE term and metrics to a token loss. */
export function withMoeLoss(base: { loss: Array; metrics: LossMetrics }, terms: { total: Array; metrics: Record<string, Array> }): { loss: Array; metrics: LossMetrics } {
  return { loss: np.add(base.loss, np.astype(terms.total, base.loss.dtype)), metrics: { ...base.metrics, ...terms.metrics } };
}

/**
 * The layers × experts load matrix from a metrics record written with `moeMetrics: 'full'` (plain
 * numbers, e.g. a trainer log record, or scalar Arrays): rows in layer order as they appear.
 * `which: 'load'` (default) is each expert's share of the dispatched assignments (after
 * capacity); `'demand'` the pre-capacity share of tokens choosing it (token choice and task
 * routing; sums to k), which shows imbalance that a full capacity hides.
 */
export function moeExpertLoads(metrics: Record<string, unknown>, which: 'load' | 'demand' = 'load'): { layers: string[]; loads: number[][] } {
  const rows = new Map<string, number[]>();
  const re = which === 'load' ? /^moe\/(.+)\/expert_load\/(\d+)$/ : /^moe\/(.+)\/expert_demand\/(\d+)$/;
  for (const [k, v] of Object.entries(metrics)) {
    const m = re.exec(k);
    if (!m) continue;
    const val = v instanceof Array ? Number(v.item()) : Number(v);
    if (!Number.isFinite(val)) throw new ModelError(`moeExpertLoads: metric ${k} is not a finite number (${String(v)})`);
    let row = rows.get(m[1]);
    if (!row) rows.set(m[1], (row = []));
    row[Number(m[2])] = val;
  }
  if (rows.size === 0) throw new ModelError(`moeExpertLoads: the metrics hold no moe/<layer>/expert_${which}/<e> entries; compute them with loss(…, { moeMetrics: 'full' })${which === 'demand' ? ' (demand exists for token-choice and task routing only)' : ''}`);
  const layers = [...rows.keys()];
  const loads = layers.map((l) => {
    const r = rows.get(l)!;
    for (let e = 0; e < r.length; e++) if (r[e] === undefined) throw new ModelError(`moeExpertLoads: layer ${l} lacks the load of expert ${e}`);
    return r;
  });
  return { layers, loads };
}

/** Writes the expert-load heatmap (SVG or PNG, plus JSON) of a metrics record (see {@link moeExpertLoads}). */
export function writeMoeLoadHeatmap(file: string, metrics: Record<string, unknown>, title = 'expert load (share of dispatched tokens)'): HeatmapFiles {
  const { layers, loads } = moeExpertLoads(metrics);
  return writeExpertLoadHeatmap(file, loads, { title, layerLabels: layers, vmin: 0 });
}

// ---------------------------------------------------------------- fixed task ids

/** A model whose decoding cache accepts task ids. */
export interface TaskRoutedModel extends Model {
  /** Whether the model routes by task (then batches need `task_ids`). */
  readonly taskRouted: boolean;
}

/**
 * A view of a task-routed model with fixed task ids (one per row, or one for all rows): `apply`
 * and `loss` add `task_ids` to batches that carry no task ids of their own (`task_ids`, or the
 * pipeline's per-token `decoder_task_ids` / `encoder_task_ids`) and `initDecodeCache` passes them, so the
 * generic helpers (`generateTokens`, `beamSearch`, `scoreTargets`, the trainer) can drive it.
 */
export function bindTaskIds(model: TaskRoutedModel, ids: number | readonly number[]): Model {
  const idsFor = (B: number): Array => {
    const list = typeof ids === 'number' ? globalThis.Array.from({ length: B }, () => ids) : ids;
    if (list.length !== B) throw new ModelError(`bindTaskIds: ${list.length} task ids bound but the batch has ${B} rows`);
    if (list.some((t) => !Number.isInteger(t) || t < 0)) throw new ModelError(`bindTaskIds: task ids must be integers ≥ 0, got ${JSON.stringify(list)}`);
    return Array.fromData(Int32Array.from(list), [B], 'int32');
  };
  const withIds = (batch: Batch): Batch => {
    // batches that carry their own ids (per example, or per token from the data pipeline) keep them
    if (batch.task_ids !== undefined || batch.decoder_task_ids !== undefined || batch.encoder_task_ids !== undefined) return batch;
    const first = batch.decoder_input_tokens ?? batch.encoder_input_tokens;
    if (!first) throw new ModelError('bindTaskIds: the batch has no decoder_input_tokens to size the task ids from');
    return { ...batch, task_ids: idsFor(first.shape[0]) };
  };
  return {
    family: model.family,
    config: model.config,
    vocabSize: model.vocabSize,
    init: (key) => model.init(key),
    axes: () => model.axes(),
    apply: (params, batch, opts) => model.apply(params, withIds(batch), opts),
    loss: (params, batch, opts) => model.loss(params, withIds(batch), opts),
    initDecodeCache: (params, o) => model.initDecodeCache(params, { ...o, taskIds: idsFor(o.batch) } as never),
    decodeStep: (params: unknown, cache: DecodeCache, tokens: Array): StepOutput => model.decodeStep(params, cache, tokens),
  };
}
