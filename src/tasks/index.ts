/**
 * Public surface of Myriad's built-in Flan-style task collection: Flan templates (zero-/few-shot,
 * options, chain of thought), the task families and their clusters (with the held-out clusters
 * for unseen-task evaluation), and the seqio adapter that registers one Task per family variant
 * plus the Flan mixtures. Importing this module registers the tasks (cheaply: no data is read
 * until examples are requested).
 */

export {
  ALL_FAMILIES, CLUSTERS, HELD_OUT_CLUSTERS, TRAIN_CLUSTERS, familiesInCluster, familyNames, getFamily, isHeldOut,
} from './collection.js';
export { defineDataFamily, defineGeneratedFamily } from './family.js';
export type {
  ClusterName, DataFamilySpec, DataProblem, FamilyMetric, FamilySource, GeneratedFamilySpec, Problem, Split, TaskExample, TaskFamily,
} from './family.js';
export {
  COT_TEMPLATES, FLAN_FEW_SHOT, MARKER_STYLES, OPTIONS_HEADER, extractCotAnswer, fillTemplate, formatLetteredOptions, formatOptions,
  letterTarget, normalizeCotTarget, optionMarker, renderExample, renderFewShot, splitAnswerCue, templateFields,
} from './templates.js';
export type { CotTemplate, FewShotFormat, MarkerStyle, OptionsMode, RenderRequest, RenderedExample, Template } from './templates.js';
export {
  DEFAULT_FEW_SHOT, DEFAULT_MIXTURE_CAP, DEFAULT_SPLIT_SIZES, VARIANTS, answerTemplates, buildFlanTask, clusterMixtureName,
  flanRegistration, flanTaskName, getFlanMixture, getFlanTask, parseFlanTaskName, registerFlanTasks, renderFamilyExample,
  resolveTaskOrFamily, taskSize, variantsOf,
} from './registry.js';
export type { FlanRegistration, FlanRendered, FlanTaskOptions, RenderOptions, Variant } from './registry.js';
export { Rng, SPLITS, SPLIT_FRACTIONS, hash32, hashUnit, splitOf } from './rng.js';
export { TaskError, closeMatches, editDistance } from './errors.js';
export { OBJECT_LEXICON } from './families/reasoning.js';
export { HOLIDAYS, RELATIVE_PHRASES } from './families/temporal.js';
export { MAJOR_LANGUAGE_CODES, displayLanguageName } from './families/multilingual.js';
