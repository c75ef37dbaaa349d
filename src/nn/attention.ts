/**
 * Attention: masks (causal, padding, packed segments, prefix-LM) and their conversion to
 * additive biases, T5's relative position buckets and bias layer, rotary position embeddings,
 * scaled or unscaled dot-product attention, and MultiHeadAttention (self- or cross-attention)
 * with a key/value cache for incremental decoding.
 *
 * Layouts: queries/keys/values are [batch, length, heads, headDim]; masks are boolean
 * [batch|1, heads|1, qLen, kLen] (true = may attend); biases are float arrays of the same layout
 * added to the logits. Masked logits get −1e10 (as T5X), so a fully masked row (a padding query)
 * gives finite, ignorable outputs rather than NaN.
 *
 * T5's relative position bucketing (Raffel et al. 2020; Mesh TensorFlow `_relative_position_bucket`):
 * with r = key position − query position, for bidirectional attention half of the buckets are
 * for r > 0 (offset numBuckets/2) and n = |r|; for causal attention n = max(−r, 0). Of the
 * remaining B buckets, the first B/2 hold n exactly (n < B/2); larger n go to
 * B/2 + ⌊log(n/(B/2)) / log(maxDistance/(B/2)) · (B − B/2)⌋, capped at B − 1 — logarithmically
 * wider bins up to maxDistance, beyond which all distances share the last bucket. As in T5X, the
 * logarithm is taken in float32 of n/(B/2) + ε(float32) so exact bin edges round up.
 */

import { Array } from '../core/array.js';
import type { DType } from '../core/dtype.js';
import * as lax from '../core/lax.js';
import { np } from '../np/index.js';
import { cast, DenseGeneral, type DenseParams } from './layers.js';
import { splitKey, checkInput, dropout, initializers, LogicalAxes, ModelError, positiveInt, rateIn01, subKey, type ApplyOptions, type AxesTree, type Initializer, type Layer } from './module.js';

/** The logit given to masked-out positions (T5X's value). */
export const MASK_VALUE = -1e10;

// ---------------------------------------------------------------- masks

/** [B, L] → [B, 1, L, L] style mask from a pairwise test of query and key features (T5X make_attention_mask). */
export function makeAttentionMask(queryValid: Array, keyValid: Array, pairwise: (q: Array, k: Array) => Array = np.logicalAnd): Array {
  checkInput(queryValid, 'makeAttentionMask queries', { rank: 2 });
  checkInput(keyValid, 'makeAttentionMask keys', { rank: 2 });
  const q = np.expandDims(queryValid, [1, 3]); // [B,1,Lq,1]
  const k = np.expandDims(keyValid, [1, 2]); // [B,1,1,Lk]
  return pairwise(q, k);
}

/** Causal mask [1, 1, L, L]: query i may attend to keys j ≤ i. */
export function causalMask(length: number): Array {
  const i = lax.iota('int32', [length, length], 0);
  const j = lax.iota('int32', [length, length], 1);
  return np.expandDims(np.greaterEqual(i, j), [0, 1]);
}

/** Segment mask [B, 1, Lq, Lk]: tokens attend only within their own packed segment (equal ids). */
export function segmentMask(querySegments: Array, keySegments: Array): Array {
  return makeAttentionMask(querySegments, keySegments, np.equal);
}

/** Logical AND of masks (nulls skipped); null when every mask is null. Shapes broadcast. */
export function combineMasks(...masks: (Array | null | undefined)[]): Array | null {
  let out: Array | null = null;
  for (const m of masks) {
    if (!m) continue;
    if (m.dtype !== 'bool') throw new ModelError(`combineMasks: masks must be boolean, got ${m.dtype}`);
    out = out === null ? m : np.logicalAnd(out, m);
  }
  return out;
}

/** Sum of biases (nulls skipped); null when every bias is null. Shapes broadcast. */
export function combineBiases(...biases: (Array | null | undefined)[]): Array | null {
  let out: Array | null = null;
  for (const b of biases) if (b) out = out === null ? b : np.add(out, b);
  return out;
}

/** A boolean mask as an additive bias: 0 where true, −1e10 where false. */
export function maskToBias(mask: Array, dtype: DType = 'float32'): Array {
  return np.where(mask, np.zeros([], dtype), np.full([], MASK_VALUE, dtype));
}

/**
 * The decoder self-attention mask of T5X's `make_decoder_mask`: causal, restricted to non-padding
 * tokens (`valid` [B, L]: target tokens > 0 or segment ids > 0), to equal segments when
 * `segmentIds` is given, and — for a prefix LM — also bidirectional among positions where
 * `causalAttention` [B, L] is nonzero (the inputs). Returns [B, 1, L, L].
 */
export function decoderMask(valid: Array, opts: { segmentIds?: Array; causalAttention?: Array } = {}): Array {
  const L = valid.shape[1];
  let causal = causalMask(L);
  if (opts.causalAttention) {
    const ca = np.greater(opts.causalAttention, 0);
    causal = np.logicalOr(causal, makeAttentionMask(ca, ca, np.logicalAnd));
  }
  const v = valid.dtype === 'bool' ? valid : np.greater(valid, 0);
  return combineMasks(causal, makeAttentionMask(v, v), opts.segmentIds ? segmentMask(opts.segmentIds, opts.segmentIds) : null)!;
}

// ---------------------------------------------------------------- relative position buckets

/**
 * T5's relative position bucket of each relative position r = key − query (int32 array, any
 * shape, possibly traced); see the file header for the formula. Returns int32 in [0, numBuckets).
 */
export function relativePositionBucket(relativePosition: Array, o: { bidirectional: boolean; numBuckets: number; maxDistance: number }): Array {
  const where = 'relativePositionBucket';
  if (relativePosition.dtype !== 'int32') throw new ModelError(`${where}: relative positions must be int32, got ${relativePosition.dtype}`);
  let nb = positiveInt(o.numBuckets, 'numBuckets', where);
  const md = positiveInt(o.maxDistance, 'maxDistance', where);
  const r = relativePosition;
  let ret: Array = np.zerosLike(r);
  let n: Array;
  if (o.bidirectional) {
    if (nb % 2 !== 0 || nb < 4) throw new ModelError(`${where}: bidirectional bucketing needs an even numBuckets ≥ 4, got ${nb}`);
    nb = nb / 2;
    ret = np.multiply(np.astype(np.greater(r, 0), 'int32'), nb);
    n = np.abs(r);
  } else {
    if (nb < 2) throw new ModelError(`${where}: numBuckets must be ≥ 2, got ${nb}`);
    n = np.maximum(np.negative(r), 0);
  }
  const maxExact = Math.floor(nb / 2);
  if (md <= maxExact) throw new ModelError(`${where}: maxDistance (${md}) must exceed the exact range (${maxExact})`);
  const isSmall = np.less(n, maxExact);
  const nf = np.astype(n, 'float32');
  const eps = 2 ** -23;
  const scaled = np.multiply(np.divide(np.log(np.add(np.divide(nf, maxExact), eps)), Math.fround(Math.log(md / maxExact))), nb - maxExact);
  // Small n give log of values < 1 (negative); they are replaced by n below, so clamp before the cast.
  const large = np.minimum(np.add(np.astype(np.maximum(scaled, 0), 'int32'), maxExact), nb - 1);
  return np.add(ret, np.where(isSmall, n, large));
}

/** Relative positions key − query for a [qLen, kLen] grid, queries starting at `queryOffset` (number or int32 scalar). */
export function relativePositions(qLen: number, kLen: number, queryOffset: number | Array = 0): Array {
  const q = lax.iota('int32', [qLen, kLen], 0);
  const k = lax.iota('int32', [qLen, kLen], 1);
  const qq = typeof queryOffset === 'number' ? (queryOffset === 0 ? q : np.add(q, queryOffset)) : np.add(q, cast(queryOffset, 'int32'));
  return np.subtract(k, qq);
}

/** Config of {@link RelativePositionBias}. */
export interface RelativePositionBiasConfig {
  numHeads: number;
  /** Default 32 (T5). */
  numBuckets?: number;
  /** Default 128 (T5). */
  maxDistance?: number;
  /** true for encoders, false for causal decoders. */
  bidirectional: boolean;
  dtype?: DType;
  /** Default: variance scaling 1.0, fan-avg, uniform (T5X's relative embedding init). */
  embeddingInit?: Initializer;
}

/** Params of {@link RelativePositionBias}: `rel_embedding` [heads, relpos_buckets] (T5X layout). */
export interface RelativePositionBiasParams {
  rel_embedding: Array;
}

/** T5's learned relative position bias: one scalar per (head, bucket). */
export interface RelativePositionBiasLayer {
  readonly config: Readonly<RelativePositionBiasConfig>;
  init(key: Array): RelativePositionBiasParams;
  axes(): AxesTree;
  /** Bias [1, heads, qLen, kLen] for queries at positions queryOffset + 0..qLen−1 and keys 0..kLen−1. */
  apply(params: RelativePositionBiasParams, qLen: number, opts?: { kLen?: number; queryOffset?: number | Array }): Array;
}

/** T5's relative position bias layer (see the file header for the bucketing). */
export function RelativePositionBias(config: RelativePositionBiasConfig): RelativePositionBiasLayer {
  const where = 'RelativePositionBias';
  const heads = positiveInt(config.numHeads, 'numHeads', where);
  const numBuckets = positiveInt(config.numBuckets ?? 32, 'numBuckets', where);
  const maxDistance = positiveInt(config.maxDistance ?? 128, 'maxDistance', where);
  const dtype = config.dtype ?? 'float32';
  const init = config.embeddingInit ?? initializers.varianceScaling(1, 'fan_avg', 'uniform', { inAxes: [1], outAxes: [0] });
  return {
    config,
    init: (key: Array) => ({ rel_embedding: init(key, [heads, numBuckets], dtype) }),
    axes: () => ({ rel_embedding: new LogicalAxes('heads', 'relpos_buckets') }),
    apply(params: RelativePositionBiasParams, qLen: number, opts: { kLen?: number; queryOffset?: number | Array } = {}): Array {
      const kLen = opts.kLen ?? qLen;
      const buckets = relativePositionBucket(relativePositions(qLen, kLen, opts.queryOffset ?? 0), { bidirectional: config.bidirectional, numBuckets, maxDistance });
      const b = lax.gather(params.rel_embedding, buckets, 1, 0); // [H, qLen, kLen]
      return np.expandDims(b, 0);
    },
  };
}

// ---------------------------------------------------------------- rotary embeddings

/**
 * Rotary position embeddings (Su et al. 2021, RoFormer), half-split layout: x [B, L, H, D] with D
 * even; dims i and i + D/2 rotate by angle pos / maxWavelength^(2i/D). `positions` is int32 [B, L]
 * or [1, L].
 */
export function applyRotary(x: Array, positions: Array, maxWavelength = 10000): Array {
  checkInput(x, 'applyRotary', { rank: 4 });
  const D = x.shape[3];
  if (D % 2 !== 0) throw new ModelError(`applyRotary: the head dim must be even, got ${D}`);
  const half = D / 2;
  const invFreq = np.array(globalThis.Array.from({ length: half }, (_, i) => 1 / maxWavelength ** ((2 * i) / D)), { dtype: x.dtype });
  const ang = np.multiply(np.expandDims(np.astype(positions, x.dtype), -1), invFreq); // [B, L, half]
  const sin = np.expandDims(np.sin(ang), 2); // [B, L, 1, half]
  const cos = np.expandDims(np.cos(ang), 2);
  const x1 = np.slice(x, null, null, null, [0, half]);
  const x2 = np.slice(x, null, null, null, [half, D]);
  return np.concatenate([np.subtract(np.multiply(x1, cos), np.multiply(x2, sin)), np.add(np.multiply(x2, cos), np.multiply(x1, sin))], 3);
}

// ---------------------------------------------------------------- dot-product attention

/** Options of {@link dotProductAttention}. */
export interface DotProductAttentionOptions extends ApplyOptions {
  /** Additive bias broadcastable to [B, H, qLen, kLen] (masks, relative positions). */
  bias?: Array | null;
  /** Boolean mask broadcastable to [B, H, qLen, kLen] (true = attend). */
  mask?: Array | null;
  /** Multiply logits by 1/√headDim (default true; T5 folds it into the query init instead). */
  scale?: boolean;
  /** Dropout on the attention weights. */
  dropoutRate?: number;
}

/**
 * softmax(q·kᵀ [· 1/√d] + bias) · v for q [B, qLen, H, D], k/v [B, kLen, H, D] → [B, qLen, H, D].
 * The softmax runs in the dtype of q (float32 by default).
 */
export function dotProductAttention(q: Array, k: Array, v: Array, opts: DotProductAttentionOptions = {}): Array {
  checkInput(q, 'dotProductAttention query', { rank: 4 });
  checkInput(k, 'dotProductAttention key', { rank: 4 });
  checkInput(v, 'dotProductAttention value', { rank: 4 });
  if (k.shape[0] !== q.shape[0] || k.shape[2] !== q.shape[2] || k.shape[3] !== q.shape[3] || v.shape[1] !== k.shape[1] || v.shape[0] !== k.shape[0] || v.shape[2] !== k.shape[2]) {
    throw new ModelError(`dotProductAttention: incompatible shapes q [${q.shape}], k [${k.shape}], v [${v.shape}] (expected [B, L, H, D] with equal B, H and D, and equal key/value lengths)`);
  }
  const dt = q.dtype;
  const qs = (opts.scale ?? true) ? np.multiply(q, 1 / Math.sqrt(q.shape[3])) : q;
  // [B, H, qLen, kLen]
  let logits = lax.dotGeneral(qs, cast(k, dt), { lhsBatch: [0, 2], rhsBatch: [0, 2], lhsContracting: [3], rhsContracting: [3] });
  if (opts.bias) logits = np.add(logits, cast(opts.bias, dt));
  if (opts.mask) logits = np.where(opts.mask, logits, np.full([], MASK_VALUE, dt));
  let w = np.softmax(logits, -1);
  w = dropout(w, { rate: opts.dropoutRate ?? 0, deterministic: opts.deterministic ?? true, key: opts.key });
  // [B, H, qLen, D] → [B, qLen, H, D]
  const o = lax.dotGeneral(w, cast(v, dt), { lhsBatch: [0, 1], rhsBatch: [0, 2], lhsContracting: [3], rhsContracting: [1] });
  return lax.transpose(o, [0, 2, 1, 3]);
}

// ---------------------------------------------------------------- MultiHeadAttention

/** Config of {@link MultiHeadAttention}. */
export interface MultiHeadAttentionConfig {
  numHeads: number;
  headDim: number;
  /** Output features (default: the query input's feature size). */
  outFeatures?: number;
  /** Scale logits by 1/√headDim (default true). T5: false, with the query init divided by √headDim instead. */
  scaleLogits?: boolean;
  /** Dropout on attention weights (default 0). */
  dropoutRate?: number;
  useBias?: boolean;
  dtype?: DType;
  kernelInit?: Initializer;
}

/** Params: `query`, `key`, `value` [embed, heads, kv] and `out` [heads, kv, embed] (T5X names). */
export interface AttentionParams {
  query: DenseParams;
  key: DenseParams;
  value: DenseParams;
  out: DenseParams;
}

/** Projected keys and values [B, kLen, H, D] (a cache entry, or precomputed cross-attention memory). */
export interface KVCache {
  key: Array;
  value: Array;
}

/** Options of MultiHeadAttention calls. */
export interface AttentionOptions extends ApplyOptions {
  bias?: Array | null;
  mask?: Array | null;
  /** Rotary positions for queries (and keys in self-attention): int32 [B|1, qLen]. */
  rotaryPositions?: Array;
  /** Rotary positions for keys when they differ from the queries'. */
  rotaryKeyPositions?: Array;
}

/** Multi-head attention with T5X's parameter layout and a KV cache for decoding. */
export interface MultiHeadAttentionLayer extends Layer<[qFeatures: number, kvFeatures?: number], Array, Array, AttentionParams, AttentionOptions> {
  readonly config: Readonly<MultiHeadAttentionConfig>;
  /** Full attention of queries from `xq` [B, qLen, E] over keys/values from `xkv` [B, kLen, E'] (default xq). */
  apply(params: AttentionParams, xq: Array, opts?: AttentionOptions & { kv?: Array }): Array;
  /** Projects key/value inputs [B, kLen, E'] to a KVCache (for cross-attention memory or prefill). */
  projectKV(params: AttentionParams, xkv: Array, opts?: { rotaryPositions?: Array }): KVCache;
  /** Attention of `xq` over precomputed keys/values. */
  attendKV(params: AttentionParams, xq: Array, kv: KVCache, opts?: AttentionOptions): Array;
  /** A zero cache [B, maxLen, H, D] for incremental self-attention. */
  initCache(batch: number, maxLen: number, dtype?: DType): KVCache;
  /**
   * One (or a few) decoding positions: projects `x` [B, n, E], writes its keys/values into the cache
   * at `index` (int32 scalar, possibly traced) with dynamic_update_slice, and attends over the whole
   * cache; the caller's mask/bias must hide positions after the current one. Returns [y, new cache].
   */
  decode(params: AttentionParams, x: Array, cache: KVCache, index: Array, opts?: AttentionOptions): [Array, KVCache];
}

/** Multi-head (self- or cross-) attention; see {@link MultiHeadAttentionLayer}. */
export function MultiHeadAttention(config: MultiHeadAttentionConfig): MultiHeadAttentionLayer {
  const where = 'MultiHeadAttention';
  const H = positiveInt(config.numHeads, 'numHeads', where);
  const D = positiveInt(config.headDim, 'headDim', where);
  const rate = rateIn01(config.dropoutRate ?? 0, 'dropoutRate', where);
  const scale = config.scaleLogits ?? true;
  const dtype = config.dtype ?? 'float32';
  const base = { dtype, useBias: config.useBias };
  const kinit = config.kernelInit ?? initializers.lecunTruncated({ inAxes: [0], outAxes: [1, 2] });
  // T5X: without logit scaling, the query kernel init is divided by √headDim.
  const qinit: Initializer = scale ? kinit : (k, s, d) => np.multiply(kinit(k, s, d), 1 / Math.sqrt(D));
  const proj = (init: Initializer) => DenseGeneral({ ...base, features: [H, D], axes: ['embed', 'heads', 'kv'], kernelInit: init });
  const qProj = proj(qinit);
  const kvProj = proj(kinit);
  const outFor = (E: number) =>
    DenseGeneral({ ...base, features: E, axis: [-2, -1], axes: ['heads', 'kv', 'embed'], kernelInit: config.kernelInit ?? initializers.lecunTruncated({ inAxes: [0, 1], outAxes: [2] }) });

  const attend = (params: AttentionParams, xq: Array, kv: KVCache, opts: AttentionOptions): Array => {
    let q = qProj.apply(params.query, xq);
    if (opts.rotaryPositions) q = applyRotary(q, opts.rotaryPositions);
    const y = dotProductAttention(q, kv.key, kv.value, {
      bias: opts.bias,
      mask: opts.mask,
      scale,
      dropoutRate: rate,
      deterministic: opts.deterministic ?? true,
      key: subKey(opts.key, 0),
    });
    return outFor(params.out.kernel.shape[2]).apply(params.out, y);
  };
  const projectKV = (params: AttentionParams, xkv: Array, opts: { rotaryPositions?: Array } = {}): KVCache => {
    checkInput(xkv, `${where} key/value input`, { rank: 3 });
    let key = kvProj.apply(params.key, xkv);
    if (opts.rotaryPositions) key = applyRotary(key, opts.rotaryPositions);
    return { key, value: kvProj.apply(params.value, xkv) };
  };

  return {
    config,
    init(key: Array, qFeatures: number, kvFeatures?: number): AttentionParams {
      positiveInt(qFeatures, 'qFeatures', where);
      const kvF = kvFeatures ?? qFeatures;
      const [kq, kk, kv, ko] = splitKey(key, 4);
      return {
        query: qProj.init(kq, [qFeatures]),
        key: kvProj.init(kk, [kvF]),
        value: kvProj.init(kv, [kvF]),
        out: outFor(config.outFeatures ?? qFeatures).init(ko, [H, D]),
      };
    },
    axes(): any {
      return { query: qProj.axes([0]), key: kvProj.axes([0]), value: kvProj.axes([0]), out: outFor(1).axes([0, 0]) };
    },
    apply(params: AttentionParams, xq: Array, opts: AttentionOptions & { kv?: Array } = {}): Array {
      checkInput(xq, `${where} query input`, { rank: 3 });
      const xkv = opts.kv ?? xq;
      const kv = projectKV(params, xkv, { rotaryPositions: opts.rotaryKeyPositions ?? (opts.kv ? undefined : opts.rotaryPositions) });
      return attend(params, xq, kv, opts);
    },
    projectKV,
    attendKV(params: AttentionParams, xq: Array, kv: KVCache, opts: AttentionOptions = {}): Array {
      checkInput(xq, `${where} query input`, { rank: 3 });
      return attend(params, xq, kv, opts);
    },
    initCache(batch: number, maxLen: number, dt: DType = dtype): KVCache {
      positiveInt(batch, 'batch', `${where}.initCache`);
      positiveInt(maxLen, 'maxLen', `${where}.initCache`);
      return { key: np.zeros([batch, maxLen, H, D], dt), value: np.zeros([batch, maxLen, H, D], dt) };
    },
    decode(params: AttentionParams, x: Array, cache: KVCache, index: Array, opts: AttentionOptions = {}): [Array, KVCache] {
      checkInput(x, `${where}.decode input`, { rank: 3 });
      if (cache.key.shape[0] !== x.shape[0]) throw new ModelError(`${where}.decode: the cache holds batch ${cache.key.shape[0]} but the input has batch ${x.shape[0]}`);
      const step = projectKV(params, x, { rotaryPositions: opts.rotaryPositions });
      const zero = lax.full(0, 'int32');
      const idx = cast(index, 'int32');
      const next: KVCache = {
        key: lax.dynamicUpdateSlice(cache.key, cast(step.key, cache.key.dtype), [zero, idx, zero, zero]),
        value: lax.dynamicUpdateSlice(cache.value, cast(step.value, cache.value.dtype), [zero, idx, zero, zero]),
      };
      return [attend(params, x, next, opts), next];
    },
  };
}
