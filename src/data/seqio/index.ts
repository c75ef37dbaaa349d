/**
 * Public surface of Myriad's seqio-shaped data pipeline: tasks, mixtures, registries, resumable
 * sharded streams, the on-disk cache, feature converters with packing, vocabularies and the
 * counter-based randomness the pipeline uses. See each module's header for details.
 */

export type { Example, Split, Feature, Preprocessor, PreprocessContext, Metric, TaskSpec, ShardSpec, Tokenizer } from './types.js';
export { SPLITS } from './types.js';
export { DataError, CacheError } from './errors.js';
export { Dataset, checkShard, checkSplit } from './stream.js';
export type { ResumableIterator, StreamPosition, TaskPosition, MixturePosition, BatchPosition } from './stream.js';
export { Task, TaskStream, epochSeed, stableStringify } from './task.js';
export type { TaskDatasetOptions, TaskRecord } from './task.js';
export { Mixture } from './mixture.js';
export type { MixtureMember, MixtureOptions, MixtureDatasetOptions } from './mixture.js';
export { Registry, TaskRegistry, MixtureRegistry } from './registry.js';
export { openTaskCache, cachePath, computeContentHash, CACHE_FORMAT_VERSION } from './cache.js';
export type { CacheHandle, CacheManifest, CacheStatus, CacheOptions } from './cache.js';
export {
  FeatureConverter,
  DecoderOnlyConverter,
  EncDecConverter,
  selfAttentionMask,
  crossAttentionMask,
  checkPackedBatch,
  batchRow,
} from './feature_converters.js';
export type { Batch, IntArray2D, ConverterStats, OverflowPolicy, DecoderOnlyOptions, EncDecOptions } from './feature_converters.js';
export { taskIdsByTask, taskIdsByMeta, usedTaskIds } from './task_ids.js';
export type { TaskIdMap } from './task_ids.js';
export { ByteVocabulary, vocabularyFingerprint } from './vocabularies.js';
export { CounterRng, uniform, hashInts, hashString, deriveSeed } from './rng.js';
