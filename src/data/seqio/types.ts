/**
 * Core types of Myriad's seqio-shaped data pipeline: examples, splits, output features, preprocessors,
 * metrics and the `TaskSpec` a task is built from, plus the structural `Tokenizer` shape every
 * vocabulary satisfies (the SentencePiece tokenizer in `src/data/tokenizer/`, or the `ByteVocabulary`
 * here). Kept free of implementation so that task authors can import types without pulling code in.
 */

/**
 * What a vocabulary must provide. Structural: any object of this shape works (Myriad's SentencePiece
 * `Tokenizer`, the `ByteVocabulary` in this package, ...).
 */
export interface Tokenizer {
  /** Number of ids; every id is in `[0, vocabSize)`. */
  readonly vocabSize: number;
  /** Text → ids (no EOS appended). */
  encode(text: string): number[];
  /** Ids → text. */
  decode(ids: number[]): string;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  pieceToId(piece: string): number;
  idToPiece(id: number): string;
}

/** One example: a plain JSON-able record, e.g. `{inputs: string, targets: string, options?: string[]}`. */
export type Example = Record<string, unknown>;

/** The three dataset splits. */
export type Split = 'train' | 'validation' | 'test';

/** The list of valid splits, for validation of user input. */
export const SPLITS: readonly Split[] = ['train', 'validation', 'test'];

/** An output feature: the field `<name>` (a string) is tokenized into `<name>_ids`. */
export interface Feature {
  vocabulary: Tokenizer;
  /** Append `vocabulary.eosId` to the ids. */
  addEos: boolean;
  /** When true (the default) an example lacking the field is an error; when false it is skipped. */
  required?: boolean;
}

/** Context passed to every preprocessor call: the split, the stream seed and the example's source index. */
export interface PreprocessContext {
  split: Split;
  seed: number;
  /** Index of the example in the (unsharded) source stream; stable across shards and resumes. */
  index: number;
}

/** Maps one example to another, or to `null` to drop it. Must be deterministic given `(ex, ctx)`. */
export type Preprocessor = (ex: Example, ctx: PreprocessContext) => Example | null;

/** Corpus-level metric: parallel lists of targets and predictions → named scores. */
export type Metric = (targets: unknown[], predictions: unknown[]) => Record<string, number>;

/** Everything that defines a task. */
export interface TaskSpec {
  /** Unique name, used by the registries, in positions, cache paths and reports. */
  name: string;
  /** The raw examples of a split; must be deterministic given `(split, seed)`. */
  source: (split: Split, opts: { seed: number }) => Iterable<Example>;
  /** Applied in order; a `null` drops the example. */
  preprocessors?: Preprocessor[];
  /** Features to tokenize, e.g. `{inputs: {...}, targets: {...}}`. */
  outputFeatures: Record<string, Feature>;
  /** Maps a model's decoded output (and its example) to the value metrics compare against `ex.answer ?? ex.targets`. */
  postprocessor?: (output: string, ex?: Example) => unknown;
  /** Metrics used by the evaluation harness. */
  metrics?: Metric[];
  /** Number of source examples of a split (used by examples-proportional mixing); counted from the source when absent. */
  numExamples?: (split: Split) => number | undefined;
  /** Free-form metadata: cluster, family, template info, version (part of the cache hash), ... */
  meta?: Record<string, unknown>;
}

/** Which slice of the stream a data-parallel rank reads. */
export interface ShardSpec {
  index: number;
  count: number;
}
