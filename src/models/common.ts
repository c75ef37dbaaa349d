/**
 * What the model families share: the batch type (seqio feature names → int32 Arrays), conversion
 * from the data pipeline's `{data, shape}` rows, the token-level cross-entropy loss with z-loss and
 * label smoothing plus its metrics (token accuracy, token count), the `Model` interface every
 * family implements (init/axes/apply/loss, incremental decoding), and config validation helpers.
 *
 * Feature names follow seqio's feature converters: `decoder_target_tokens`,
 * `decoder_input_tokens` (targets shifted right within each packed segment, start id 0),
 * `decoder_segment_ids` (1, 2, … per packed example, 0 on padding), `decoder_positions`,
 * `decoder_loss_weights`, `decoder_causal_attention` (prefix LM), and `encoder_input_tokens`,
 * `encoder_segment_ids`, `encoder_positions`. Task-routed (Task-MoE) models also read task ids:
 * per token, `decoder_task_ids` / `encoder_task_ids` [B, L] (what the converters emit, so packed
 * rows may mix tasks; padding holds 0), or per example, `task_ids` [B]; see {@link tokenTaskIds}.
 */

import { Array } from '../core/array.js';
import type { DType } from '../core/dtype.js';
import * as lax from '../core/lax.js';
import { np } from '../np/index.js';
import { ModelError, type AxesTree } from '../nn/module.js';

/** Thrown for an unknown model preset or family. */
export class ModelSpecError extends ModelError {}

/** A model batch: seqio feature name → int32 Array [batch, length]. */
export type Batch = Record<string, Array>;

/** A row-major int32 array as the data pipeline produces it. */
export interface RawIntArray {
  data: Int32Array;
  shape: readonly number[];
}

/**
 * Converts a data-pipeline batch (`{feature: {data: Int32Array, shape}}`, as seqio's converters
 * emit) or a batch of Arrays into model inputs (int32 Arrays). Leaves Arrays as they are.
 */
export function toModelBatch(batch: Record<string, RawIntArray | Array>): Batch {
  const out: Batch = {};
  for (const [k, v] of Object.entries(batch)) {
    if (v instanceof Array) out[k] = v;
    else if (v && v.data instanceof Int32Array && globalThis.Array.isArray(v.shape)) out[k] = Array.fromData(v.data, [...v.shape], 'int32');
    else throw new ModelError(`toModelBatch: feature ${k} must be an Array or {data: Int32Array, shape}, got ${typeof v}`);
  }
  return out;
}

/** Fetches a required feature, checking rank 2 and an integer dtype. */
export function feature(batch: Batch, name: string, where: string, shape?: readonly number[]): Array {
  const v = batch[name];
  if (v === undefined) throw new ModelError(`${where}: the batch has no feature ${name} (features: ${Object.keys(batch).join(', ') || 'none'})`);
  return checkFeature(v, name, where, shape);
}

/** Fetches an optional feature (undefined if absent), with the same checks as {@link feature}. */
export function optionalFeature(batch: Batch, name: string, where: string, shape?: readonly number[]): Array | undefined {
  const v = batch[name];
  return v === undefined ? undefined : checkFeature(v, name, where, shape);
}

function checkFeature(v: unknown, name: string, where: string, shape?: readonly number[]): Array {
  if (!(v instanceof Array)) throw new ModelError(`${where}: feature ${name} must be an Array (use toModelBatch for pipeline batches)`);
  if (v.ndim !== 2) throw new ModelError(`${where}: feature ${name} must be [batch, length], got shape [${v.shape.join(', ')}]`);
  if (v.dtype !== 'int32' && v.dtype !== 'float32' && v.dtype !== 'float64') throw new ModelError(`${where}: feature ${name} must be int32 (or float for weights), got ${v.dtype}`);
  if (shape && (v.shape[0] !== shape[0] || v.shape[1] !== shape[1])) throw new ModelError(`${where}: feature ${name} has shape [${v.shape.join(', ')}] but [${shape.join(', ')}] was expected (all decoder features share one shape)`);
  return v;
}

/** The per-token task id features the data pipeline emits for task-routed models, per stack. */
export const TASK_ID_FEATURES = { decoder: 'decoder_task_ids', encoder: 'encoder_task_ids' } as const;

/**
 * The per-token task ids of one stack (`decoder_task_ids` or `encoder_task_ids`: int32 [B, L],
 * each token's example's task id, as the seqio converters emit them), or undefined when the batch
 * has none. A batch that also carries per-example `task_ids` is refused: the two could disagree.
 */
export function tokenTaskIds(batch: Batch, name: (typeof TASK_ID_FEATURES)[keyof typeof TASK_ID_FEATURES], shape: readonly number[], where: string): Array | undefined {
  const v = optionalFeature(batch, name, where, shape);
  if (v === undefined) return undefined;
  if (v.dtype !== 'int32') throw new ModelError(`${where}: ${name} must be int32 (one task id per token), got ${v.dtype}`);
  if (batch.task_ids !== undefined) throw new ModelError(`${where}: the batch has both per-token ${name} and per-example task_ids; give one (the data pipeline emits ${name})`);
  return v;
}

/** Options of a model's `apply` and `loss`. */
export interface ModelApplyOptions {
  /** Training mode: dropout on (needs `key`). Default false. */
  train?: boolean;
  /** PRNG key for dropout. */
  key?: Array;
}

/** Options of `loss`. */
export interface LossOptions extends ModelApplyOptions {
  /** z-loss coefficient: adds zLoss · log²Z per token (T5X; default 1e-4). */
  zLoss?: number;
  /** Label smoothing (default 0). */
  labelSmoothing?: number;
  /**
   * What the summed weighted loss is divided by: 'tokens' (default: the sum of loss weights, a
   * per-token mean), 'none' (T5X's default sum), or a fixed number (e.g. batch × length).
   */
  normalizer?: 'tokens' | 'none' | number;
}

/** Scalar metrics of a loss call (all Arrays, so a jitted step can return them). */
export interface LossMetrics {
  /** Mean cross-entropy per weighted token (without z-loss or smoothing), in nats. */
  cross_entropy: Array;
  /** Mean z-loss term per weighted token. */
  z_loss: Array;
  /** Fraction of weighted tokens whose argmax equals the target. */
  accuracy: Array;
  /** Sum of loss weights (number of target tokens). */
  num_tokens: Array;
  [name: string]: Array;
}

/** Result of `loss`: the scalar to differentiate plus metrics. */
export interface LossOutput {
  loss: Array;
  metrics: LossMetrics;
}

/**
 * Token cross-entropy of logits [B, L, V] (float) against int32 targets [B, L] with weights
 * [B, L]: returns the scalar training loss (with z-loss and label smoothing) and metrics.
 */
export function crossEntropyLoss(logits: Array, targets: Array, weights: Array, opts: LossOptions = {}): LossOutput {
  const where = 'crossEntropyLoss';
  if (logits.ndim !== 3 || targets.ndim !== 2 || logits.shape[0] !== targets.shape[0] || logits.shape[1] !== targets.shape[1]) {
    throw new ModelError(`${where}: logits [B, L, V] and targets [B, L] must agree, got [${logits.shape}] and [${targets.shape}]`);
  }
  const zCoef = opts.zLoss ?? 1e-4;
  const ls = opts.labelSmoothing ?? 0;
  if (!(zCoef >= 0)) throw new ModelError(`${where}: zLoss must be ≥ 0, got ${zCoef}`);
  if (!(ls >= 0 && ls < 1)) throw new ModelError(`${where}: labelSmoothing must be in [0, 1), got ${ls}`);
  const V = logits.shape[2];
  const dt: DType = logits.dtype;
  const w = np.astype(weights, dt);
  const lse = np.logsumexp(logits, -1); // [B, L]
  const tgt = np.squeeze(np.takeAlongAxis(logits, np.expandDims(np.astype(targets, 'int32'), -1), -1), -1);
  const ce = np.subtract(lse, tgt);
  let tokenLoss = ce;
  if (ls > 0) {
    // Smoothed targets: 1 − ls on the label, ls/(V − 1) on every other id; minus their entropy, as T5X does.
    const confidence = 1 - ls;
    const low = ls / (V - 1);
    const normConst = -(confidence * Math.log(confidence) + (V - 1) * low * Math.log(low + 1e-20));
    const meanLogit = np.mean(logits, -1);
    const smooth = np.subtract(lse, np.add(np.multiply(tgt, confidence - low), np.multiply(meanLogit, low * V)));
    tokenLoss = np.subtract(smooth, normConst);
  }
  const z = np.multiply(np.square(lse), zCoef);
  const total = np.sum(np.multiply(np.add(tokenLoss, z), w));
  const numTokens = np.sum(w);
  const denom = np.maximum(numTokens, 1e-8);
  const norm = opts.normalizer ?? 'tokens';
  let loss: Array;
  if (norm === 'tokens') loss = np.divide(total, denom);
  else if (norm === 'none') loss = total;
  else if (typeof norm === 'number' && norm > 0) loss = np.divide(total, norm);
  else throw new ModelError(`${where}: normalizer must be 'tokens', 'none' or a positive number, got ${JSON.stringify(norm)}`);
  const pred = lax.argmax(logits, 2, 'int32');
  const correct = np.astype(np.equal(pred, np.astype(targets, 'int32')), dt);
  return {
    loss,
    metrics: {
      cross_entropy: lax.stopGradient(np.divide(np.sum(np.multiply(ce, w)), denom)),
      z_loss: lax.stopGradient(np.divide(np.sum(np.multiply(z, w)), denom)),
      accuracy: lax.stopGradient(np.divide(np.sum(np.multiply(correct, w)), denom)),
      num_tokens: lax.stopGradient(numTokens),
    },
  };
}

/** Per-example sum of log p(target) over weighted positions: logits [B, L, V], targets/weights [B, L] → [B]. */
export function sequenceLogLikelihood(logits: Array, targets: Array, weights: Array): Array {
  const lp = np.logSoftmax(logits, -1);
  const t = np.squeeze(np.takeAlongAxis(lp, np.expandDims(np.astype(targets, 'int32'), -1), -1), -1);
  return np.sum(np.multiply(t, np.astype(weights, lp.dtype)), -1);
}

/** The decoding cache of a model: a pytree of Arrays, with the next position in `index` (int32 scalar). */
export interface DecodeCache {
  index: Array;
  [part: string]: unknown;
}

/** Result of one incremental decoding step. */
export interface StepOutput<C extends DecodeCache = DecodeCache> {
  /** Logits [B, n, V] for the n fed tokens. */
  logits: Array;
  cache: C;
}

/** What every model family provides. */
export interface Model<Cfg = unknown, P = any> {
  /** 'decoder' (decoder-only LM) or 'encdec' (encoder-decoder). */
  readonly family: 'decoder' | 'encdec';
  readonly config: Readonly<Cfg>;
  /** Vocabulary size (logits' last dim). */
  readonly vocabSize: number;
  /** Creates parameters. */
  init(key: Array): P;
  /** Logical axis names of every parameter (same structure as `init`'s result). */
  axes(): AxesTree;
  /** Logits [B, L, V] for a batch. */
  apply(params: P, batch: Batch, opts?: ModelApplyOptions): Array;
  /** The training loss and metrics for a batch (uses `decoder_loss_weights` when present, else targets > 0). */
  loss(params: P, batch: Batch, opts?: LossOptions): LossOutput;
  /**
   * Creates the incremental decoding state for `batch` rows and up to `maxLen` decoder positions;
   * encoder-decoders also take `encoderInputTokens` [B, Le] and encode them once here.
   */
  initDecodeCache(params: P, o: { batch: number; maxLen: number; encoderInputTokens?: Array }): DecodeCache;
  /**
   * Feeds tokens [B, n] (int32) at positions cache.index … index + n − 1 and returns their logits
   * [B, n, V] and the advanced cache. With n = 1 this is the per-token step a jit compiles once.
   */
  decodeStep(params: P, cache: DecodeCache, tokens: Array): StepOutput;
}

/** Throws a ModelError naming a config field unless `v` is one of `choices`. */
export function oneOf<T extends string>(v: unknown, choices: readonly T[], field: string, where: string): T {
  if (typeof v !== 'string' || !choices.includes(v as T)) throw new ModelError(`${where}: ${field} must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Throws a ModelError naming a config field unless `v` is a boolean. */
export function bool(v: unknown, field: string, where: string): boolean {
  if (typeof v !== 'boolean') throw new ModelError(`${where}: ${field} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** Rejects unknown config keys (typos would otherwise be ignored silently). */
export function noUnknownKeys(config: object, known: readonly string[], where: string): void {
  for (const k of Object.keys(config)) {
    if (!known.includes(k)) throw new ModelError(`${where}: unknown config field ${JSON.stringify(k)}; known fields: ${known.join(', ')}`);
  }
}
