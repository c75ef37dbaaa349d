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
 *
 * Everything outside the blocks (config fields, embedding and positions, masks, final norm,
 * logits, decoding inputs) is the decoder-only stem of src/models/stack.ts, shared with `GLaM`;
 * this file adds the `norm` choice and the dense `DecoderBlock` stack.
 */

import { Array } from '../core/array.js';
import * as lax from '../core/lax.js';
import { np } from '../np/index.js';
import { subKey, type AxesTree } from '../nn/module.js';
import { DecoderBlock, type DecoderBlockParams, type DecoderLayerCache } from '../nn/transformer.js';
import { crossEntropyLoss, type Batch, type DecodeCache, type LossOptions, type LossOutput, type Model, type ModelApplyOptions, type StepOutput } from './common.js';
import { checkConfigObject, checkDecoderStack, decoderOnlyStem, lossTargets, presetConfig, realTokens, resolveDecoderStack, trainMode, type DecoderStackConfig, type DecoderStemParams } from './stack.js';

export type { Positional } from './stack.js';

/** Config of {@link DecoderLM}: the decoder-only fields (src/models/stack.ts) and the norm. */
export interface DecoderLMConfig extends DecoderStackConfig {
  /** 'rms' (default) or 'layer'. */
  norm?: 'rms' | 'layer';
}

// DECODER_STACK_FIELDS with `norm` after `dropoutRate`, the resolved config's order.
const KNOWN = ['vocabSize', 'dModel', 'numHeads', 'headDim', 'mlpDim', 'numLayers', 'activation', 'positional', 'maxLen', 'tieEmbeddings', 'dropoutRate', 'norm', 'normEps', 'scaleLogits', 'relativeBuckets', 'relativeMaxDistance', 'dtype'] as const;

/** Params of a DecoderLM: the decoder-only stem's (see the file header) and the blocks `layers_{i}`. */
export interface DecoderLMParams extends DecoderStemParams {
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
  checkConfigObject(config, KNOWN, where);
  const c: Required<DecoderLMConfig> = resolveDecoderStack(config, where, { norm: true });
  checkDecoderStack(c, where);
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
  const c = resolveDecoderLMConfig(presetConfig(configOrPreset, DECODER_LM_PRESETS, 'DecoderLM'));
  const E = c.dModel;
  const stem = decoderOnlyStem(c);
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
  const layerNames = stem.names;

  const model: DecoderLMModel = {
    family: 'decoder',
    config: c,
    vocabSize: c.vocabSize,
    init(key: Array): DecoderLMParams {
      return stem.init(key, (_, k) => block.init(k, E)) as unknown as DecoderLMParams;
    },
    axes(): AxesTree {
      return stem.axes(() => block.axes());
    },
    apply(params: DecoderLMParams, batch: Batch, opts: ModelApplyOptions = {}): Array {
      const where = 'DecoderLM.apply';
      const f = stem.readBatch(batch, where);
      const det = !trainMode(opts, c.dropoutRate, where);
      let x = stem.embed(params, f.tokens, f.positions, det, opts.key);
      const valid = realTokens(f.segmentIds, f.targets) ?? np.ones([f.B, f.L], 'bool');
      const bias = stem.selfBias(params, valid, f, x.dtype);
      const rotary = stem.rotary(f.positions);
      layerNames.forEach((n, i) => {
        x = block.apply(params[n], x, { bias, rotaryPositions: rotary, deterministic: det, key: subKey(opts.key, 100 + i) });
      });
      return stem.head(params, x, det, opts.key);
    },
    loss(params: DecoderLMParams, batch: Batch, opts: LossOptions = {}): LossOutput {
      const { targets, weights } = lossTargets(batch, 'DecoderLM.loss');
      const logits = model.apply(params, batch, opts);
      return crossEntropyLoss(logits, targets, weights, opts);
    },
    initDecodeCache(params: DecoderLMParams, o: { batch: number; maxLen: number }): DecoderLMCache {
      stem.checkCacheSize(o, 'DecoderLM.initDecodeCache');
      return { index: lax.full(0, 'int32'), layers: layerNames.map((n) => block.initCache(params[n], o.batch, o.maxLen)) };
    },
    decodeStep(params: DecoderLMParams, cache0: DecodeCache, tokens: Array): StepOutput<DecoderLMCache> {
      const cache = cache0 as DecoderLMCache;
      const s = stem.stepInputs(params, cache, tokens, 'DecoderLM.decodeStep');
      let x = s.x;
      const layers = layerNames.map((name, i) => {
        const [y, lc] = block.decode(params[name], x, cache.layers[i], s.idx, { bias: s.bias, rotaryPositions: s.rotaryPositions });
        x = y;
        return lc;
      });
      return { logits: stem.head(params, x, true, undefined), cache: { index: np.add(s.idx, s.n), layers } };
    },
  };
  return model;
}
