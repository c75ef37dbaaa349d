/**
 * `Task`: one dataset in seqio's sense — a deterministic source of raw examples per split, a chain of
 * preprocessors (each may drop an example), output features that are tokenized into `<feature>_ids`
 * (with EOS when asked), a postprocessor and metrics for evaluation, and free-form metadata. Its
 * `getDataset` stream is deterministic given (split, seed), resumable from a plain-JSON position,
 * sharded by source index across data-parallel ranks, optionally repeated over epochs (each epoch reads
 * the source with a derived seed), and optionally read from an on-disk cache of preprocessed and
 * tokenized examples (see cache.ts).
 */

import { createHash } from 'node:crypto';
import type { Example, Feature, Metric, Preprocessor, ShardSpec, Split, TaskSpec } from './types.js';
import { DataError } from './errors.js';
import {
  Dataset,
  type ResumableIterator,
  type StreamPosition,
  type TaskPosition,
  checkSeed,
  checkShard,
  checkSplit,
  describeShard,
  sameShard,
} from './stream.js';
import { deriveSeed } from './rng.js';
import { openTaskCache, type CacheHandle } from './cache.js';
import { vocabularyFingerprint } from './vocabularies.js';

/** Options of `Task.getDataset`. */
export interface TaskDatasetOptions {
  /** Seed passed to the source (and preprocessors); default 0. */
  seed?: number;
  /** Read only this data-parallel shard: source examples with `index % count == shard.index`. */
  shard?: ShardSpec;
  /** Skip this many output examples at the start (of this shard's stream). */
  start?: number;
  /** Cycle over epochs forever (epoch e > 0 reads the source with a seed derived from (seed, e)). Default false. */
  repeat?: boolean;
  /** Read (and build when missing or stale) the on-disk cache under this directory. */
  cacheDir?: string;
  /** Add `<feature>_ids` fields (default true). */
  tokenize?: boolean;
  /** Start at this position (from an iterator's `position`) instead of the beginning. */
  position?: TaskPosition;
}

/** One preprocessed example with its source index; `tokenized` when it already carries `<feature>_ids`. */
export interface TaskRecord {
  index: number;
  ex: Example;
  tokenized: boolean;
}

/** The seed a task's source gets in epoch `epoch` of a stream seeded `seed`. */
export function epochSeed(seed: number, epoch: number): number {
  return epoch === 0 ? seed : deriveSeed(seed, 'epoch', epoch);
}

function isPlainObject(x: unknown): x is Example {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Serializes a value for hashing: sorted keys, functions by their source text. */
export function stableStringify(x: unknown): string {
  if (typeof x === 'function') return `fn:${x.toString()}`;
  if (x === undefined) return 'undefined';
  if (x === null || typeof x !== 'object') return JSON.stringify(x) ?? String(x);
  if (Array.isArray(x)) return `[${x.map(stableStringify).join(',')}]`;
  if (ArrayBuffer.isView(x)) return `${x.constructor.name}[${Array.from(x as unknown as ArrayLike<number>).join(',')}]`;
  const keys = Object.keys(x).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify((x as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** A seqio-style task. */
export class Task {
  readonly name: string;
  readonly spec: Readonly<TaskSpec>;
  readonly outputFeatures: Readonly<Record<string, Feature>>;
  readonly preprocessors: readonly Preprocessor[];
  readonly metrics: readonly Metric[];
  readonly meta: Readonly<Record<string, unknown>>;
  private readonly countCache = new Map<Split, number>();

  constructor(spec: TaskSpec) {
    if (spec === null || typeof spec !== 'object') throw new DataError('Task: expected a TaskSpec object');
    if (typeof spec.name !== 'string' || spec.name.length === 0 || /\s/.test(spec.name)) {
      throw new DataError(`Task: name must be a non-empty string without whitespace, got ${JSON.stringify(spec.name)}`);
    }
    const where = `Task '${spec.name}'`;
    if (typeof spec.source !== 'function') throw new DataError(`${where}: source must be a function (split, {seed}) => Iterable<Example>`);
    if (spec.preprocessors !== undefined && (!Array.isArray(spec.preprocessors) || spec.preprocessors.some((p) => typeof p !== 'function'))) {
      throw new DataError(`${where}: preprocessors must be an array of functions`);
    }
    if (!isPlainObject(spec.outputFeatures)) throw new DataError(`${where}: outputFeatures must be an object {name: {vocabulary, addEos}}`);
    for (const [fname, f] of Object.entries(spec.outputFeatures)) {
      const v = (f as Feature | undefined)?.vocabulary as unknown as Record<string, unknown> | undefined;
      if (!v || typeof v.encode !== 'function' || typeof v.idToPiece !== 'function' || typeof v.vocabSize !== 'number' || typeof v.eosId !== 'number') {
        throw new DataError(`${where}: output feature '${fname}' needs a vocabulary with encode/decode/idToPiece/vocabSize/eosId (a Tokenizer)`);
      }
      if (typeof f.addEos !== 'boolean') throw new DataError(`${where}: output feature '${fname}' needs addEos: boolean`);
      if (fname.endsWith('_ids')) throw new DataError(`${where}: output feature name '${fname}' must not end in '_ids' (that suffix names the tokenized field)`);
    }
    if (spec.metrics !== undefined && (!Array.isArray(spec.metrics) || spec.metrics.some((m) => typeof m !== 'function'))) {
      throw new DataError(`${where}: metrics must be an array of functions (targets, predictions) => Record<string, number>`);
    }
    this.name = spec.name;
    this.spec = spec;
    this.outputFeatures = spec.outputFeatures;
    this.preprocessors = spec.preprocessors ?? [];
    this.metrics = spec.metrics ?? [];
    this.meta = spec.meta ?? {};
  }

  /** Number of source examples of a split: `spec.numExamples` when it answers, else counted from the source (seed 0, memoized). */
  numExamples(split: Split): number {
    checkSplit(split, `Task '${this.name}'.numExamples`);
    const declared = this.spec.numExamples?.(split);
    if (declared !== undefined) {
      if (!Number.isInteger(declared) || declared < 0) {
        throw new DataError(`Task '${this.name}': numExamples('${split}') returned ${declared}; expected a non-negative integer or undefined`);
      }
      return declared;
    }
    let n = this.countCache.get(split);
    if (n === undefined) {
      n = 0;
      for (const _ of this.openSource(split, 0)) n++;
      this.countCache.set(split, n);
    }
    return n;
  }

  /** Applies the postprocessor (identity when there is none). */
  postprocess(output: string, ex?: Example): unknown {
    return this.spec.postprocessor ? this.spec.postprocessor(output, ex) : output;
  }

  /** The raw source of a split, validated to be iterable. */
  openSource(split: Split, seed: number): Iterable<Example> {
    const src = this.spec.source(split, { seed });
    if (src === null || typeof src !== 'object' || typeof (src as Iterable<Example>)[Symbol.iterator] !== 'function') {
      throw new DataError(`Task '${this.name}': source('${split}', {seed: ${seed}}) must return an Iterable of examples, got ${typeof src}`);
    }
    return src;
  }

  /** Runs the preprocessor chain on one raw example; null when dropped. */
  preprocess(raw: Example, split: Split, seed: number, index: number): Example | null {
    if (!isPlainObject(raw)) {
      throw new DataError(`Task '${this.name}': source example #${index} of split '${split}' is not a plain object (got ${JSON.stringify(raw)?.slice(0, 80)})`);
    }
    let ex: Example | null = { ...raw };
    const ctx = { split, seed, index };
    for (let k = 0; k < this.preprocessors.length; k++) {
      const out: unknown = this.preprocessors[k](ex, ctx);
      if (out === null) return null;
      if (!isPlainObject(out)) {
        throw new DataError(`Task '${this.name}': preprocessor #${k} returned ${out === undefined ? 'undefined' : typeof out} for example #${index}; return an example object or null to drop it`);
      }
      ex = out;
    }
    return ex;
  }

  /** Adds `<feature>_ids` for every output feature (encode, then EOS when `addEos`). */
  tokenize(ex: Example): Example {
    const out: Example = { ...ex };
    for (const [fname, f] of Object.entries(this.outputFeatures)) {
      const v = ex[fname];
      if (v === undefined) {
        if (f.required === false) continue;
        throw new DataError(`Task '${this.name}': example lacks required feature '${fname}' (keys: ${Object.keys(ex).join(', ')}); add it in a preprocessor or mark the feature required: false`);
      }
      if (typeof v !== 'string') {
        throw new DataError(`Task '${this.name}': feature '${fname}' must be a string to tokenize, got ${Array.isArray(v) ? 'array' : typeof v}`);
      }
      const ids = f.vocabulary.encode(v);
      if (f.addEos) ids.push(f.vocabulary.eosId);
      out[`${fname}_ids`] = ids;
    }
    return out;
  }

  /**
   * A content hash of everything that determines the preprocessed+tokenized examples of (split, seed)
   * other than the source data itself: code of the source and preprocessors, features and their
   * vocabularies, metadata. The cache combines it with a digest of the source examples.
   */
  definitionHash(split: Split, seed: number): string {
    const h = createHash('sha256');
    h.update(stableStringify({
      name: this.name,
      split,
      seed,
      source: this.spec.source,
      preprocessors: this.preprocessors,
      features: Object.fromEntries(Object.entries(this.outputFeatures).map(([k, f]) => [k, {
        addEos: f.addEos,
        required: f.required !== false,
        vocabulary: vocabularyFingerprint(f.vocabulary),
      }])),
      meta: this.meta,
    }));
    return h.digest('hex');
  }

  /**
   * Preprocessed records of one epoch's source, from `startIndex` on, only for source indices `want`
   * accepts (sharding happens before preprocessing, so skipped examples cost only the source read).
   */
  *records(split: Split, seed: number, startIndex = 0, want: (i: number) => boolean = () => true): Generator<TaskRecord> {
    const src = this.openSource(split, seed);
    if (Array.isArray(src)) {
      for (let i = startIndex; i < src.length; i++) {
        if (!want(i)) continue;
        const ex = this.preprocess(src[i], split, seed, i);
        if (ex !== null) yield { index: i, ex, tokenized: false };
      }
      return;
    }
    let i = 0;
    for (const raw of src) {
      const idx = i++;
      if (idx < startIndex || !want(idx)) continue;
      const ex = this.preprocess(raw, split, seed, idx);
      if (ex !== null) yield { index: idx, ex, tokenized: false };
    }
  }

  /**
   * The examples of a split: preprocessed, tokenized into `<feature>_ids`, deterministic given
   * (split, seed), resumable (`iterator.position` / `dataset.resume`), sharded and optionally cached.
   */
  getDataset(split: Split, opts: TaskDatasetOptions = {}): Dataset<Example, TaskPosition> {
    const where = `Task '${this.name}'.getDataset`;
    checkSplit(split, where);
    const seed = checkSeed(opts.seed ?? 0, where);
    const shard = checkShard(opts.shard, where);
    const repeat = opts.repeat ?? false;
    const tokenize = opts.tokenize ?? true;
    const start = opts.start ?? 0;
    if (!Number.isInteger(start) || start < 0) throw new DataError(`${where}: start must be a non-negative integer, got ${start}`);
    const initial: TaskPosition = opts.position ?? { kind: 'task', task: this.name, split, seed, epoch: 0, index: 0, shard, repeat };
    return new Dataset<Example, TaskPosition>((from) => {
      const pos = from ?? initial;
      const stream = new TaskStream(this, this.checkPosition(pos, split, seed, shard, repeat), opts.cacheDir);
      if (from === undefined && opts.position === undefined) {
        for (let k = 0; k < start && stream.next() !== null; k++) { /* skip without tokenizing */ }
      }
      return new TaskIterator(this, stream, tokenize);
    });
  }

  /** Validates that a position belongs to this task and stream configuration. */
  checkPosition(pos: StreamPosition, split: Split, seed: number, shard: ShardSpec | null, repeat: boolean): TaskPosition {
    const where = `Task '${this.name}': cannot resume from position`;
    if (pos.kind !== 'task') throw new DataError(`${where} of kind '${pos.kind}'; it must come from this task's iterator`);
    if (pos.task !== this.name) throw new DataError(`${where} of task '${pos.task}'`);
    if (pos.split !== split || pos.seed !== seed) {
      throw new DataError(`${where} for split '${pos.split}' seed ${pos.seed}; this stream is split '${split}' seed ${seed}`);
    }
    if (!sameShard(pos.shard, shard)) throw new DataError(`${where} for ${describeShard(pos.shard)}; this stream is ${describeShard(shard)}`);
    if (pos.repeat !== repeat) throw new DataError(`${where} with repeat=${pos.repeat}; this stream has repeat=${repeat}`);
    if (!Number.isInteger(pos.epoch) || pos.epoch < 0 || !Number.isInteger(pos.index) || pos.index < 0) {
      throw new DataError(`${where}: epoch and index must be non-negative integers, got ${JSON.stringify(pos)}`);
    }
    return pos;
  }
}

/**
 * The engine under every task stream: walks epochs, applies the shard filter, reads either the
 * source through the preprocessors or the cache. Yields untokenized or (from the cache) tokenized
 * records; mixtures use it directly so they tokenize only what they emit.
 */
export class TaskStream {
  private epoch: number;
  private index: number;
  private current: Iterator<TaskRecord> | null = null;
  private keptThisEpoch = 0;
  private epochFromStart: boolean;
  private readonly caches = new Map<number, CacheHandle>();

  constructor(readonly task: Task, private readonly pos: TaskPosition, private readonly cacheDir?: string) {
    this.epoch = pos.epoch;
    this.index = pos.index;
    this.epochFromStart = pos.index === 0;
  }

  get position(): TaskPosition {
    const p = this.pos;
    return { kind: 'task', task: p.task, split: p.split, seed: p.seed, epoch: this.epoch, index: this.index, shard: p.shard === null ? null : { ...p.shard }, repeat: p.repeat };
  }

  private open(): Iterator<TaskRecord> {
    const { split, seed, shard } = this.pos;
    const s = epochSeed(seed, this.epoch);
    const want = shard === null ? () => true : (i: number) => i % shard.count === shard.index;
    if (this.cacheDir !== undefined) {
      let handle = this.caches.get(s);
      if (!handle) {
        handle = openTaskCache(this.task, split, s, this.cacheDir);
        this.caches.set(s, handle);
      }
      return handle.records(this.index, want)[Symbol.iterator]();
    }
    return this.task.records(split, s, this.index, want);
  }

  /** The next record, or null at the end (only when not repeating). */
  next(): TaskRecord | null {
    for (;;) {
      if (this.current === null) this.current = this.open();
      const r = this.current.next();
      if (!r.done) {
        this.index = r.value.index + 1;
        this.keptThisEpoch++;
        return r.value;
      }
      this.current = null;
      if (!this.pos.repeat) return null;
      if (this.epochFromStart && this.keptThisEpoch === 0) {
        throw new DataError(
          `Task '${this.task.name}': split '${this.pos.split}' (${describeShard(this.pos.shard)}) produced no examples in epoch ${this.epoch}, ` +
            'so repeating it would never yield; check the source and preprocessors, or use fewer shards',
        );
      }
      this.epoch++;
      this.index = 0;
      this.keptThisEpoch = 0;
      this.epochFromStart = true;
    }
  }
}

class TaskIterator implements ResumableIterator<Example, TaskPosition> {
  constructor(private readonly task: Task, private readonly stream: TaskStream, private readonly doTokenize: boolean) {}
  get position(): TaskPosition {
    return this.stream.position;
  }
  next(): IteratorResult<Example> {
    const r = this.stream.next();
    if (r === null) return { done: true, value: undefined };
    const ex = this.doTokenize && !r.tokenized ? this.task.tokenize(r.ex) : r.ex;
    return { done: false, value: ex };
  }
  [Symbol.iterator](): ResumableIterator<Example, TaskPosition> {
    return this;
  }
}
