/**
 * Train-config schemas (zod) of the sparse families, for `myriad train`'s config
 * (src/train/config.ts): `{ family: 'glam' | 'st-moe', preset?, …dimensions, …MoE fields, router? }`,
 * strict like the dense families' schemas, plus what the trainer needs to treat them like their
 * dense counterparts — the presets per family and the structural family ('decoder' for GLaM,
 * 'encdec' for ST-MoE), which decides the data converter. Adding `glamModelSchema` and
 * `stMoeModelSchema` to the config's model union and resolving presets with
 * `SPARSE_FAMILIES[family].presets` makes both trainable with `myriad train`; `createModel`
 * already accepts the resulting `{ family, …config }` spec.
 */

import { z } from 'zod';
import { MLP_ACTIVATIONS } from '../nn/layers.js';
import { ModelSpecError } from './common.js';
import { GLAM_PRESETS, type GlamConfig } from './moe_decoder.js';
import { ST_MOE_PRESETS, type StMoeConfig } from './moe_encdec.js';

const int = (min: number) => z.number().int().min(min);
const positive = z.number().positive();
const rate = z.number().min(0).lt(1);
const enumOf = (xs: readonly string[]) => z.enum(xs as [string, ...string[]]);

/**
 * Dimension and architecture fields shared by the decoder-only families (dense `decoder` and
 * sparse `glam`) of a train config's `model`; src/train/config.ts builds its dense schemas from
 * these too, so both stay in step.
 */
export const decoderModelFields = {
  vocabSize: int(1).optional(),
  dModel: int(1).optional(),
  numHeads: int(1).optional(),
  headDim: int(1).optional(),
  mlpDim: int(1).optional(),
  numLayers: int(1).optional(),
  activation: enumOf(MLP_ACTIVATIONS).optional(),
  positional: z.enum(['learned', 'relative', 'rotary', 'none']).optional(),
  maxLen: int(1).optional(),
  tieEmbeddings: z.boolean().optional(),
  dropoutRate: rate.optional(),
  normEps: positive.optional(),
  scaleLogits: z.boolean().optional(),
  relativeBuckets: int(1).optional(),
  relativeMaxDistance: int(1).optional(),
};

/** The same for the encoder-decoder families (dense `encdec`, sparse `st-moe`). */
export const encdecModelFields = {
  vocabSize: int(1).optional(),
  dModel: int(1).optional(),
  numHeads: int(1).optional(),
  headDim: int(1).optional(),
  mlpDim: int(1).optional(),
  numEncoderLayers: int(1).optional(),
  numDecoderLayers: int(1).optional(),
  activation: enumOf(MLP_ACTIVATIONS).optional(),
  dropoutRate: rate.optional(),
  relativeBuckets: int(1).optional(),
  relativeMaxDistance: int(1).optional(),
  normEps: positive.optional(),
  tieEmbeddings: z.boolean().optional(),
  scaleLogits: z.boolean().optional(),
};

const capacity = {
  capacityFactor: positive.optional(),
  evalCapacityFactor: positive.optional(),
  minCapacity: int(1).optional(),
  capacityMode: z.enum(['times_k', 'per_choice']).optional(),
};

/** A router spec as JSON (see docs/moe.md for each field). */
export const routerSpecSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('token_choice'),
    k: int(1).optional(),
    ...capacity,
    dropless: z.boolean().optional(),
    batchPrioritized: z.boolean().optional(),
    renormalize: z.boolean().optional(),
    jitterEps: z.number().min(0).lt(1).optional(),
  }).strict(),
  z.object({
    kind: z.literal('expert_choice'),
    capacityFactor: positive.optional(),
    evalCapacityFactor: positive.optional(),
    jitterEps: z.number().min(0).lt(1).optional(),
  }).strict(),
  z.object({
    kind: z.literal('task'),
    numTasks: int(1),
    k: int(1).optional(),
    table: z.array(z.array(int(0)).min(1)).min(1).optional(),
    renormalize: z.boolean().optional(),
    dropless: z.boolean().optional(),
    ...capacity,
  }).strict(),
]);

const moeFields = {
  numExperts: int(1).optional(),
  expertMlpDim: int(1).optional(),
  groupSize: int(1).optional(),
  dispatch: z.enum(['dense', 'index', 'grouped']).optional(),
  groupedPartitions: int(1).optional(),
  expertDropoutRate: rate.optional(),
  auxLossCoef: z.number().min(0).optional(),
  routerZLossCoef: z.number().min(0).optional(),
  taskIds: z.enum(['cluster', 'family']).optional(),
  moeEvery: int(1).optional(),
};

/** `model` of a train config for a GLaM-style sparse decoder. */
export const glamModelSchema = z.object({
  family: z.literal('glam'),
  preset: enumOf(Object.keys(GLAM_PRESETS)).optional(),
  ...decoderModelFields,
  moeLayers: z.array(int(0)).optional(),
  router: routerSpecSchema.optional(),
  ...moeFields,
}).strict();

/** `model` of a train config for an ST-MoE-style sparse encoder-decoder. */
export const stMoeModelSchema = z.object({
  family: z.literal('st-moe'),
  preset: enumOf(Object.keys(ST_MOE_PRESETS)).optional(),
  ...encdecModelFields,
  encoderMoeLayers: z.array(int(0)).optional(),
  decoderMoeLayers: z.array(int(0)).optional(),
  router: routerSpecSchema.optional(),
  encoderRouter: routerSpecSchema.optional(),
  decoderRouter: routerSpecSchema.optional(),
  ...moeFields,
}).strict();

/** The sparse families: presets, structural family (data converter) and the dimensions a config must give without a preset. */
export const SPARSE_FAMILIES = {
  glam: { presets: GLAM_PRESETS as Record<string, GlamConfig>, structural: 'decoder' as const, dims: ['dModel', 'numHeads', 'headDim', 'mlpDim', 'numLayers', 'numExperts'] as const },
  'st-moe': { presets: ST_MOE_PRESETS as Record<string, StMoeConfig>, structural: 'encdec' as const, dims: ['dModel', 'numHeads', 'headDim', 'mlpDim', 'numEncoderLayers', 'numDecoderLayers', 'numExperts'] as const },
};

/** The structural family ('decoder' or 'encdec') of any model family name. */
export function structuralFamily(family: string): 'decoder' | 'encdec' {
  if (family === 'decoder' || family === 'glam') return 'decoder';
  if (family === 'encdec' || family === 'st-moe') return 'encdec';
  throw new ModelSpecError(`unknown model family ${JSON.stringify(family)}; use decoder, encdec, glam or st-moe`);
}
