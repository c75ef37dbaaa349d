/**
 * Pre-norm Transformer blocks (T5.1.1 / T5X layout): an encoder block (self-attention, MLP) and a
 * decoder block (causal self-attention, optional cross-attention over an encoder's output, MLP),
 * each sublayer computed as x + dropout(sublayer(norm(x))). Attention masks and position biases
 * are computed once per stack by the caller and passed in as additive biases, so the relative
 * position bias of the first block is shared by all blocks, as in T5.
 *
 * Parameter names follow T5X (`pre_attention_layer_norm`, `attention`, `pre_mlp_layer_norm`,
 * `mlp`; decoder: `pre_self_attention_layer_norm`, `self_attention`,
 * `pre_cross_attention_layer_norm`, `encoder_decoder_attention`, …). Decoder blocks also decode
 * one token at a time against a {@link DecoderLayerCache}.
 */

import { Array } from '../core/array.js';
import type { DType } from '../core/dtype.js';
import { MultiHeadAttention, type AttentionParams, type KVCache } from './attention.js';
import { LayerNorm, MLP, RMSNorm, type MlpActivation, type MlpParams, type NormLayer, type NormParams } from './layers.js';
import { splitKey, dropout, ModelError, positiveInt, rateIn01, subKey, type ApplyOptions, type AxesTree, type Initializer } from './module.js';
import { np } from '../np/index.js';

/** Config shared by the blocks. */
export interface BlockConfig {
  numHeads: number;
  headDim: number;
  mlpDim: number;
  /** Default 'relu'. */
  activation?: MlpActivation;
  /** Dropout after each sublayer (and inside the MLP and attention weights, see below). Default 0. */
  dropoutRate?: number;
  /** Dropout on attention weights (default 0, as T5X). */
  attentionDropoutRate?: number;
  /** 'rms' (T5, default) or 'layer'. */
  norm?: 'rms' | 'layer';
  /** Norm epsilon (default 1e-6). */
  normEps?: number;
  /** Scale attention logits by 1/√headDim (default true; T5: false). */
  scaleLogits?: boolean;
  /** Decoder blocks only: include cross-attention (default true for decoder blocks of an encoder-decoder). */
  crossAttention?: boolean;
  dtype?: DType;
  kernelInit?: Initializer;
}

/** Options of a block's apply. */
export interface BlockOptions extends ApplyOptions {
  /** Additive self-attention bias [B|1, H|1, L, L] (mask and position bias combined). */
  bias?: Array | null;
  /** Rotary positions int32 [B|1, L] (rotary models only). */
  rotaryPositions?: Array;
}

export function makeNorm(config: { norm?: 'rms' | 'layer'; normEps?: number; dtype?: DType }): NormLayer {
  const kind = config.norm ?? 'rms';
  if (kind !== 'rms' && kind !== 'layer') throw new ModelError(`norm must be 'rms' or 'layer', got ${JSON.stringify(kind)}`);
  return kind === 'rms' ? RMSNorm({ eps: config.normEps, dtype: config.dtype }) : LayerNorm({ eps: config.normEps, dtype: config.dtype });
}

function checkBlock(config: BlockConfig, where: string): number {
  positiveInt(config.numHeads, 'numHeads', where);
  positiveInt(config.headDim, 'headDim', where);
  positiveInt(config.mlpDim, 'mlpDim', where);
  rateIn01(config.attentionDropoutRate ?? 0, 'attentionDropoutRate', where);
  return rateIn01(config.dropoutRate ?? 0, 'dropoutRate', where);
}

function parts(config: BlockConfig) {
  const attn = MultiHeadAttention({
    numHeads: config.numHeads,
    headDim: config.headDim,
    scaleLogits: config.scaleLogits,
    dropoutRate: config.attentionDropoutRate,
    dtype: config.dtype,
    kernelInit: config.kernelInit,
  });
  const mlp = MLP({ mlpDim: config.mlpDim, activation: config.activation, dropoutRate: config.dropoutRate, dtype: config.dtype, kernelInit: config.kernelInit });
  return { attn, mlp, norm: makeNorm(config) };
}

// ---------------------------------------------------------------- encoder block

/** Params of {@link EncoderBlock}. */
export interface EncoderBlockParams {
  pre_attention_layer_norm: NormParams;
  attention: AttentionParams;
  pre_mlp_layer_norm: NormParams;
  mlp: MlpParams;
}

/** A pre-norm encoder block: x + SelfAttn(norm(x)), then + MLP(norm(·)). */
export interface EncoderBlockLayer {
  readonly config: Readonly<BlockConfig>;
  init(key: Array, embedDim: number): EncoderBlockParams;
  axes(): AxesTree;
  apply(params: EncoderBlockParams, x: Array, opts?: BlockOptions): Array;
}

/** Creates an encoder block. */
export function EncoderBlock(config: BlockConfig): EncoderBlockLayer {
  const rate = checkBlock(config, 'EncoderBlock');
  const { attn, mlp, norm } = parts(config);
  return {
    config,
    init(key: Array, embedDim: number): EncoderBlockParams {
      const [ka, km] = splitKey(key);
      return { pre_attention_layer_norm: norm.init(key, embedDim), attention: attn.init(ka, embedDim), pre_mlp_layer_norm: norm.init(key, embedDim), mlp: mlp.init(km, embedDim) };
    },
    axes: () => ({ pre_attention_layer_norm: norm.axes(0), attention: attn.axes(0), pre_mlp_layer_norm: norm.axes(0), mlp: mlp.axes(0) }) as AxesTree,
    apply(params: EncoderBlockParams, x: Array, opts: BlockOptions = {}): Array {
      const det = opts.deterministic ?? true;
      let h = norm.apply(params.pre_attention_layer_norm, x);
      h = attn.apply(params.attention, h, { bias: opts.bias, rotaryPositions: opts.rotaryPositions, deterministic: det, key: subKey(opts.key, 0) });
      x = np.add(x, dropout(h, { rate, deterministic: det, key: subKey(opts.key, 1) }));
      h = norm.apply(params.pre_mlp_layer_norm, x);
      h = mlp.apply(params.mlp, h, { deterministic: det, key: subKey(opts.key, 2) });
      return np.add(x, dropout(h, { rate, deterministic: det, key: subKey(opts.key, 3) }));
    },
  };
}

// ---------------------------------------------------------------- decoder block

/** Params of {@link DecoderBlock} (cross-attention entries only when enabled). */
export interface DecoderBlockParams {
  pre_self_attention_layer_norm: NormParams;
  self_attention: AttentionParams;
  pre_cross_attention_layer_norm?: NormParams;
  encoder_decoder_attention?: AttentionParams;
  pre_mlp_layer_norm: NormParams;
  mlp: MlpParams;
}

/** A decoder block's decoding state: its self-attention KV cache and, with cross-attention, the encoder memory. */
export interface DecoderLayerCache {
  self: KVCache;
  cross?: KVCache;
}

/** Options of a decoder block. */
export interface DecoderBlockOptions extends BlockOptions {
  /** Encoder output [B, Le, E] (cross-attention blocks). */
  encoded?: Array;
  /** Additive cross-attention bias [B|1, H|1, L, Le]. */
  crossBias?: Array | null;
}

/** A pre-norm decoder block. */
export interface DecoderBlockLayer {
  readonly config: Readonly<BlockConfig>;
  init(key: Array, embedDim: number): DecoderBlockParams;
  axes(): AxesTree;
  apply(params: DecoderBlockParams, x: Array, opts?: DecoderBlockOptions): Array;
  /** A zero cache for `maxLen` decoding positions; the cross memory is projected from `encoded` once. */
  initCache(params: DecoderBlockParams, batch: number, maxLen: number, encoded?: Array): DecoderLayerCache;
  /** Decodes x [B, n, E] at positions index.. (int32 scalar); `bias` must hide cache positions after the current ones. */
  decode(params: DecoderBlockParams, x: Array, cache: DecoderLayerCache, index: Array, opts?: Omit<DecoderBlockOptions, 'encoded'>): [Array, DecoderLayerCache];
}

/** Creates a decoder block (with cross-attention when `config.crossAttention` is true). */
export function DecoderBlock(config: BlockConfig): DecoderBlockLayer {
  const where = 'DecoderBlock';
  const rate = checkBlock(config, where);
  const cross = config.crossAttention ?? false;
  const { attn, mlp, norm } = parts(config);
  const xattn = MultiHeadAttention({ numHeads: config.numHeads, headDim: config.headDim, scaleLogits: config.scaleLogits, dropoutRate: config.attentionDropoutRate, dtype: config.dtype, kernelInit: config.kernelInit });

  /** Runs the block given how to compute self-attention and cross-attention outputs. */
  const body = (
    params: DecoderBlockParams,
    x: Array,
    opts: DecoderBlockOptions,
    selfAttn: (h: Array, det: boolean, key: Array | undefined) => Array,
    crossAttn: (h: Array, det: boolean, key: Array | undefined) => Array,
  ): Array => {
    const det = opts.deterministic ?? true;
    let h = norm.apply(params.pre_self_attention_layer_norm, x);
    h = selfAttn(h, det, subKey(opts.key, 0));
    x = np.add(x, dropout(h, { rate, deterministic: det, key: subKey(opts.key, 1) }));
    if (cross) {
      if (!params.pre_cross_attention_layer_norm || !params.encoder_decoder_attention) throw new ModelError(`${where}: cross-attention params are missing`);
      h = norm.apply(params.pre_cross_attention_layer_norm, x);
      h = crossAttn(h, det, subKey(opts.key, 2));
      x = np.add(x, dropout(h, { rate, deterministic: det, key: subKey(opts.key, 3) }));
    }
    h = norm.apply(params.pre_mlp_layer_norm, x);
    h = mlp.apply(params.mlp, h, { deterministic: det, key: subKey(opts.key, 4) });
    return np.add(x, dropout(h, { rate, deterministic: det, key: subKey(opts.key, 5) }));
  };

  return {
    config,
    init(key: Array, embedDim: number): DecoderBlockParams {
      const [ks, kc, km] = splitKey(key, 3);
      const p: DecoderBlockParams = {
        pre_self_attention_layer_norm: norm.init(key, embedDim),
        self_attention: attn.init(ks, embedDim),
        pre_mlp_layer_norm: norm.init(key, embedDim),
        mlp: mlp.init(km, embedDim),
      };
      if (cross) {
        p.pre_cross_attention_layer_norm = norm.init(key, embedDim);
        p.encoder_decoder_attention = xattn.init(kc, embedDim);
      }
      return p;
    },
    axes(): AxesTree {
      const a: Record<string, AxesTree> = { pre_self_attention_layer_norm: norm.axes(0), self_attention: attn.axes(0), pre_mlp_layer_norm: norm.axes(0), mlp: mlp.axes(0) };
      if (cross) {
        a.pre_cross_attention_layer_norm = norm.axes(0);
        a.encoder_decoder_attention = xattn.axes(0);
      }
      return a;
    },
    apply(params: DecoderBlockParams, x: Array, opts: DecoderBlockOptions = {}): Array {
      if (cross && !opts.encoded) throw new ModelError(`${where}: this block has cross-attention; pass { encoded } (the encoder output)`);
      return body(
        params,
        x,
        opts,
        (h, det, key) => attn.apply(params.self_attention, h, { bias: opts.bias, rotaryPositions: opts.rotaryPositions, deterministic: det, key }),
        (h, det, key) => xattn.apply(params.encoder_decoder_attention!, h, { kv: opts.encoded, bias: opts.crossBias, deterministic: det, key }),
      );
    },
    initCache(params: DecoderBlockParams, batch: number, maxLen: number, encoded?: Array): DecoderLayerCache {
      const c: DecoderLayerCache = { self: attn.initCache(batch, maxLen, config.dtype ?? 'float32') };
      if (cross) {
        if (!encoded) throw new ModelError(`${where}.initCache: this block has cross-attention; pass the encoder output`);
        c.cross = xattn.projectKV(params.encoder_decoder_attention!, encoded);
      }
      return c;
    },
    decode(params: DecoderBlockParams, x: Array, cache: DecoderLayerCache, index: Array, opts: Omit<DecoderBlockOptions, 'encoded'> = {}): [Array, DecoderLayerCache] {
      let self = cache.self;
      const y = body(
        params,
        x,
        opts,
        (h, det, key) => {
          const [o, c] = attn.decode(params.self_attention, h, cache.self, index, { bias: opts.bias, rotaryPositions: opts.rotaryPositions, deterministic: det, key });
          self = c;
          return o;
        },
        (h, det, key) => {
          if (!cache.cross) throw new ModelError(`${where}.decode: the cache has no cross-attention memory; create it with initCache(params, batch, maxLen, encoded)`);
          return xattn.attendKV(params.encoder_decoder_attention!, h, cache.cross, { bias: opts.crossBias, deterministic: det, key });
        },
      );
      return [y, cache.cross ? { self, cross: cache.cross } : { self }];
    },
  };
}
