/**
 * The `models` namespace: the two Transformer families (decoder-only `DecoderLM`, encoder-decoder
 * `T5` with Flan-T5's architecture), their presets, losses, decoding (greedy, sampling, beam
 * search, scoring), the Hugging Face T5 name mapping and the `TextModel` wrapper for the eval
 * harness, and the sparse families `GLaM` and `STMoE` (docs/moe.md). See docs/models.md.
 */

import * as common from './common.js';
import * as decoderLm from './decoder_lm.js';
import * as decoding from './decoding.js';
import * as hf from './hf.js';
import * as moeCommon from './moe_common.js';
import * as moeDecoder from './moe_decoder.js';
import * as moeEncdec from './moe_encdec.js';
import * as t5 from './t5.js';
import * as text from './text.js';

export * from './common.js';
export * from './decoder_lm.js';
export * from './decoding.js';
export * from './hf.js';
export * from './moe_common.js';
export * from './moe_decoder.js';
export * from './moe_encdec.js';
export * from './t5.js';
export * from './text.js';

/** A `createModel` spec: a preset name or a config object with its family. */
export type ModelSpec =
  | string
  | ({ family: 'decoder' } & decoderLm.DecoderLMConfig)
  | ({ family: 'encdec' } & t5.T5Config)
  | ({ family: 'glam' } & moeDecoder.GlamConfig)
  | ({ family: 'st-moe' } & moeEncdec.StMoeConfig);

/**
 * Creates a model from `{ family: 'decoder' | 'encdec' | 'glam' | 'st-moe', ...config }` or a preset
 * name ('decoder:tiny', 't5-small', 'glam:tiny', 'st-moe:tiny', …).
 */
export function createModel(spec: ModelSpec): common.Model {
  if (typeof spec === 'string') {
    if (spec.startsWith('decoder:')) return decoderLm.DecoderLM(spec.slice('decoder:'.length));
    if (spec.startsWith('t5:')) return t5.T5(spec.slice('t5:'.length));
    if (spec.startsWith('glam:')) return moeDecoder.GLaM(spec.slice('glam:'.length));
    if (spec.startsWith('st-moe:')) return moeEncdec.STMoE(spec.slice('st-moe:'.length));
    if (spec in t5.T5_PRESETS) return t5.T5(spec);
    throw new common.ModelSpecError(`createModel: unknown preset ${JSON.stringify(spec)}; use 'decoder:<${Object.keys(decoderLm.DECODER_LM_PRESETS).join('|')}>', '<${Object.keys(t5.T5_PRESETS).join('|')}>', 'glam:<${Object.keys(moeDecoder.GLAM_PRESETS).join('|')}>' or 'st-moe:<${Object.keys(moeEncdec.ST_MOE_PRESETS).join('|')}>'`);
  }
  if (!spec || typeof spec !== 'object') throw new common.ModelSpecError('createModel: expected a preset name or a config object with a family field');
  const { family, ...rest } = spec as unknown as { family: string } & Record<string, unknown>;
  if (family === 'decoder') return decoderLm.DecoderLM(rest as unknown as decoderLm.DecoderLMConfig);
  if (family === 'encdec') return t5.T5(rest as unknown as t5.T5Config);
  if (family === 'glam') return moeDecoder.GLaM(rest as unknown as moeDecoder.GlamConfig);
  if (family === 'st-moe') return moeEncdec.STMoE(rest as unknown as moeEncdec.StMoeConfig);
  throw new common.ModelSpecError(`createModel: family must be 'decoder', 'encdec', 'glam' or 'st-moe', got ${JSON.stringify(family)}`);
}

/** The `models` namespace. */
export const models = { ...common, ...decoderLm, ...t5, ...decoding, ...hf, ...text, ...moeCommon, ...moeDecoder, ...moeEncdec, createModel } as const;
