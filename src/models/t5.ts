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
 *
 * Everything outside the blocks (config fields, embedding, relative biases, masks, final norms,
 * logits, decoding inputs) is the encoder-decoder stem of src/models/stack.ts, shared with
 * `STMoE`; this file adds the dense `EncoderBlock` / `DecoderBlock` stacks.
 */

import { Array } from '../core/array.js';
import * as lax from '../core/lax.js';
import { np } from '../np/index.js';
import { ModelError, subKey, type AxesTree } from '../nn/module.js';
import { DecoderBlock, EncoderBlock, type DecoderBlockParams, type DecoderLayerCache, type EncoderBlockParams } from '../nn/transformer.js';
import { crossEntropyLoss, type Batch, type DecodeCache, type LossOptions, type LossOutput, type Model, type ModelApplyOptions, type StepOutput } from './common.js';
import { checkConfigObject, checkEncDecStack, ENCDEC_STACK_FIELDS, encoderDecoderStem, lossTargets, presetConfig, realTokens, resolveEncDecStack, trainMode, type EncDecParams, type EncDecStackConfig } from './stack.js';

/** Config of {@link T5}: the encoder-decoder fields of src/models/stack.ts (T5X's T5Config names, HF names in their docs). */
export type T5Config = EncDecStackConfig;

const KNOWN = ENCDEC_STACK_FIELDS;

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
export type T5Params = EncDecParams<EncoderBlockParams, DecoderBlockParams>;

/** Decoding cache of a T5 model: per-layer self/cross KV, the cross-attention bias, the position index. */
export interface T5Cache extends DecodeCache {
  layers: DecoderLayerCache[];
  /** Additive cross-attention bias [B, 1, 1, Le] (hides encoder padding). */
  crossBias: Array;
}

/** Validates a config and fills defaults. */
export function resolveT5Config(config: T5Config): Required<T5Config> {
  const where = 'T5 config';
  checkConfigObject(config, KNOWN, where);
  const c: Required<T5Config> = resolveEncDecStack(config, where);
  checkEncDecStack(c, where);
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
  const c = resolveT5Config(presetConfig(configOrPreset, T5_PRESETS, 'T5'));
  const E = c.dModel;
  const stem = encoderDecoderStem(c);
  const blockConfig = { numHeads: c.numHeads, headDim: c.headDim, mlpDim: c.mlpDim, activation: c.activation, dropoutRate: c.dropoutRate, norm: 'rms' as const, normEps: c.normEps, scaleLogits: c.scaleLogits, dtype: c.dtype };
  const encBlock = EncoderBlock(blockConfig);
  const decBlock = DecoderBlock({ ...blockConfig, crossAttention: true });
  const encNames = stem.encoderNames;
  const decNames = stem.decoderNames;

  const encode = (params: T5Params, tokens: Array, opts: EncodeOptions = {}): Array => {
    const where = 'T5.encode';
    if (!(tokens instanceof Array) || tokens.ndim !== 2) throw new ModelError(`${where}: encoder input tokens must be int32 [batch, length]`);
    const det = !trainMode(opts, c.dropoutRate, where);
    const key = opts.key;
    let x = stem.embed(params, tokens, det, key);
    const valid = np.greater(tokens, 0);
    const bias = stem.encoderBias(params, valid, opts.segmentIds, tokens.shape[1], x.dtype);
    encNames.forEach((n, i) => {
      x = encBlock.apply(params.encoder[n] as EncoderBlockParams, x, { bias, deterministic: det, key: subKey(key, 100 + i) });
    });
    return stem.finalNorm(params.encoder.encoder_norm, x, det, key);
  };

  const model: T5Model = {
    family: 'encdec',
    config: c,
    vocabSize: c.vocabSize,
    init(key: Array): T5Params {
      return stem.init(key, (_, k) => encBlock.init(k, E), (_, k) => decBlock.init(k, E)) as unknown as T5Params;
    },
    axes(): AxesTree {
      return stem.axes(() => encBlock.axes(), () => decBlock.axes());
    },
    encode,
    apply(params: T5Params, batch: Batch, opts: ModelApplyOptions = {}): Array {
      const where = 'T5.apply';
      const f = stem.readBatch(batch, where);
      const det = !trainMode(opts, c.dropoutRate, where);
      const key = opts.key;
      const encoded = encode(params, f.encoderTokens, { segmentIds: f.encoderSegmentIds, train: !det, key: subKey(key, 7) });
      let x = stem.embed(params, f.decoderInputs, det, key);
      const valid = realTokens(f.decoderSegmentIds, f.targets) ?? np.ones([f.B, f.L], 'bool');
      const { selfBias, crossBias } = stem.decoderBiases(params, valid, f, x.dtype);
      decNames.forEach((n, i) => {
        x = decBlock.apply(params.decoder[n] as DecoderBlockParams, x, { encoded, bias: selfBias, crossBias, deterministic: det, key: subKey(key, 1000 + i) });
      });
      return stem.logits(params, stem.finalNorm(params.decoder.decoder_norm, x, det, key));
    },
    loss(params: T5Params, batch: Batch, opts: LossOptions = {}): LossOutput {
      const { targets, weights } = lossTargets(batch, 'T5.loss');
      return crossEntropyLoss(model.apply(params, batch, opts), targets, weights, opts);
    },
    initDecodeCache(params: T5Params, o: { batch: number; maxLen: number; encoderInputTokens?: Array; encoded?: Array }): T5Cache {
      const enc = stem.cacheEncoderTokens(o, 'T5.initDecodeCache');
      const encoded = o.encoded ?? encode(params, enc);
      const crossBias = stem.cacheCrossBias(enc, encoded.dtype);
      return {
        index: lax.full(0, 'int32'),
        layers: decNames.map((n) => decBlock.initCache(params.decoder[n] as DecoderBlockParams, o.batch, o.maxLen, encoded)),
        crossBias,
      };
    },
    decodeStep(params: T5Params, cache0: DecodeCache, tokens: Array): StepOutput<T5Cache> {
      const cache = cache0 as T5Cache;
      const s = stem.stepInputs(params, cache, tokens, 'T5.decodeStep');
      let x = s.x;
      const layers = decNames.map((name, i) => {
        const [y, lc] = decBlock.decode(params.decoder[name] as DecoderBlockParams, x, cache.layers[i], s.idx, { bias: s.bias, crossBias: cache.crossBias });
        x = y;
        return lc;
      });
      return { logits: stem.logits(params, stem.finalNorm(params.decoder.decoder_norm, x, true, undefined)), cache: { index: np.add(s.idx, s.n), layers, crossBias: cache.crossBias } };
    },
  };
  return model;
}
