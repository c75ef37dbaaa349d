/**
 * The task-family abstraction of the built-in collection, and the two builders every family is
 * defined with (the built-in families call them through the group shorthands of `family_builder.ts`).
 *
 * A family is one kind of problem (e.g. "boolean expressions", "WordNet antonyms") with a cluster,
 * at least five Flan templates, a deterministic generator per split, the answer, and optionally
 * answer options (for the options variants) and a worked rationale (for chain of thought).
 *
 * - `defineGeneratedFamily` draws problems from code. Candidate i of (split, seed) comes from its
 *   own RNG stream; it is kept only if the hash of its canonical key assigns it to the requested
 *   split (`splitOf`) and it was not already drawn, so train, validation and test never share a
 *   problem and `generate(split, n)` is a prefix of `generate(split, n + k)`.
 * - `defineDataFamily` builds problems from data records (WordNet, UDHR, the CMU dictionary). The
 *   records are loaded lazily on first use, partitioned by the hash of each record's key, and
 *   enumerated in a seeded order; asking for more examples than a split holds is an error.
 */

import { TaskError } from './errors.js';
import { Rng, SPLITS, hash32, splitOf, type Split } from './rng.js';
import type { Template } from './templates.js';

export type { Split } from './rng.js';

/** Clusters of the collection (families in one cluster test the same skill). */
export type ClusterName =
  | 'arithmetic'
  | 'symbolic_reasoning'
  | 'temporal'
  | 'string_manipulation'
  | 'list_manipulation'
  | 'translation'
  | 'language_identification'
  | 'lexical_semantics'
  | 'phonetics';

/** What a maker returns for one problem. */
export interface Problem {
  /** Canonical key: two problems with the same key are the same problem (splits are assigned by it). */
  key: string;
  /** Template fields (`answer` is added automatically). */
  fields: Record<string, string>;
  /** The canonical answer. */
  answer: string;
  /** Answer options including the answer (families that support options variants). */
  options?: string[];
  /** Worked rationale for chain of thought, without the final "So the answer is …". */
  rationale?: string;
  /** Structured facts about the example for tests and tooling (never shown to the model). */
  meta?: Record<string, unknown>;
}

/** What a data family's maker returns: a problem whose key is its record's key (`keyOf`). */
export type DataProblem = Omit<Problem, 'key'>;

/** One generated example of a family: its problem, identified and assigned to a split. */
export interface TaskExample extends Problem {
  /** Stable id: `family/split/key-hash`. */
  id: string;
  family: string;
  split: Split;
  /** Template fields (always includes `answer`). */
  fields: Record<string, string>;
}

/** Where a family's problems come from. */
export type FamilySource = 'generated' | 'udhr' | 'wordnet' | 'cmudict';

/** The metric a family is naturally scored with (the eval harness maps these to implementations). */
export type FamilyMetric = 'exact_match' | 'bleu' | 'chrf';

/** A task family of the collection. */
export interface TaskFamily {
  name: string;
  cluster: ClusterName;
  description: string;
  source: FamilySource;
  metric: FamilyMetric;
  /** At least five templates; some may be inverted. */
  templates: readonly Template[];
  /** `n` examples of `split`, deterministic in (split, n, seed); a prefix of any larger request. */
  generate(split: Split, n: number, seed?: number): TaskExample[];
  /**
   * The examples of `split` lazily, in the same order as `generate` (which takes a prefix of it):
   * endless for generated families, every record of the split once for data families.
   */
  stream(split: Split, seed?: number): Generator<TaskExample, void, undefined>;
  /** How many distinct examples `split` holds, or undefined when effectively unbounded. Loads data. */
  capacity(split: Split): number | undefined;
  /** The canonical answer of an example. */
  answer(ex: TaskExample): string;
  /** Answer options (answer included), for families with options variants. */
  options?(ex: TaskExample): string[];
  /** The worked rationale, for families with chain-of-thought variants. */
  cot?(ex: TaskExample): string;
}

interface CommonSpec {
  name: string;
  cluster: ClusterName;
  description: string;
  templates: readonly Template[];
  metric?: FamilyMetric;
  /** True if every example carries options (enables the options variants). */
  hasOptions?: boolean;
  /** True if every example carries a rationale (enables the chain-of-thought variants). */
  hasCot?: boolean;
  /**
   * Namespace of the split hash (default: the family name). Families that share a group and key
   * put the same item in the same split, e.g. every WordNet family keeps the word "dog" in one
   * split, so no family's test item is another family's training item.
   */
  splitGroup?: string;
}

function checkSpec(spec: CommonSpec): void {
  if (!/^[a-z][a-z0-9_]*$/.test(spec.name)) throw new TaskError(`Family name '${spec.name}' must be lower_snake_case.`);
  if (spec.templates.length < 5) throw new TaskError(`Family '${spec.name}' has ${spec.templates.length} templates; Flan-style families need at least 5.`);
  if (!spec.templates.some((t) => !t.inverted && t.targets === '{answer}')) {
    throw new TaskError(`Family '${spec.name}' needs at least one non-inverted template whose targets are '{answer}' (used by the options and chain-of-thought variants).`);
  }
}

function checkRequest(name: string, split: Split, n: number, seed: number): void {
  if (!SPLITS.includes(split)) throw new TaskError(`Family '${name}': unknown split '${String(split)}'; use one of ${SPLITS.join(', ')}.`);
  if (!Number.isInteger(n) || n < 0) throw new TaskError(`Family '${name}': the number of examples must be a non-negative integer, got ${n}.`);
  if (!Number.isInteger(seed)) throw new TaskError(`Family '${name}': the seed must be an integer, got ${seed}.`);
}

function finish(name: string, split: Split, p: Problem, hasOptions: boolean, hasCot: boolean): TaskExample {
  if (hasOptions) {
    if (!p.options || !p.options.includes(p.answer)) throw new TaskError(`Family '${name}': example '${p.key}' has options ${JSON.stringify(p.options)} without its answer ${JSON.stringify(p.answer)} (a bug in the family).`);
    if (new Set(p.options).size !== p.options.length) throw new TaskError(`Family '${name}': example '${p.key}' has duplicate options ${JSON.stringify(p.options)} (a bug in the family).`);
  }
  if (hasCot && !p.rationale) throw new TaskError(`Family '${name}': example '${p.key}' lacks a rationale (a bug in the family).`);
  return {
    id: `${name}/${split}/${(hashHex(p.key))}`,
    family: name,
    split,
    key: p.key,
    fields: { ...p.fields, answer: p.answer },
    answer: p.answer,
    ...(p.options ? { options: p.options } : {}),
    ...(p.rationale ? { rationale: p.rationale } : {}),
    ...(p.meta ? { meta: p.meta } : {}),
  };
}

function hashHex(s: string): string {
  return hash32(s).toString(16).padStart(8, '0') + hash32(`\u0001${s}`).toString(16).padStart(8, '0');
}

function accessors(spec: CommonSpec): Pick<TaskFamily, 'answer' | 'options' | 'cot'> {
  const out: Pick<TaskFamily, 'answer' | 'options' | 'cot'> = { answer: (ex) => ex.answer };
  if (spec.hasOptions) {
    out.options = (ex) => {
      if (!ex.options) throw new TaskError(`Example ${ex.id} has no options.`);
      return ex.options;
    };
  }
  if (spec.hasCot) {
    out.cot = (ex) => {
      if (!ex.rationale) throw new TaskError(`Example ${ex.id} has no rationale.`);
      return ex.rationale;
    };
  }
  return out;
}

/** Spec of a family generated by code. */
export interface GeneratedFamilySpec extends CommonSpec {
  /** Draws one candidate problem from `rng` (any split; the builder filters by key). */
  make(rng: Rng): Problem;
  /** How many candidates may be drawn per requested example before giving up (default 60). */
  maxAttemptsPerExample?: number;
}

/** Builds a family whose problems are drawn by code; splits are assigned by a hash of each problem's key. */
export function defineGeneratedFamily(spec: GeneratedFamilySpec): TaskFamily {
  checkSpec(spec);
  const budget = spec.maxAttemptsPerExample ?? 60;
  const fam: TaskFamily = {
    name: spec.name,
    cluster: spec.cluster,
    description: spec.description,
    source: 'generated',
    metric: spec.metric ?? 'exact_match',
    templates: spec.templates,
    capacity: () => undefined,
    ...accessors(spec),
    *stream(split: Split, seed = 0): Generator<TaskExample, void, undefined> {
      checkRequest(spec.name, split, 0, seed);
      const seen = new Set<string>();
      let misses = 0;
      for (let i = 0; ; i++) {
        const p = spec.make(new Rng(`${spec.name}\u0000${seed}\u0000${split}\u0000${i}`));
        if (splitOf(`${spec.splitGroup ?? spec.name}\u0000${p.key}`) !== split || seen.has(p.key)) {
          if (++misses > budget * 50) {
            throw new TaskError(`Family '${spec.name}': ${misses} candidates in a row were duplicates or belonged to other splits after ${seen.size} distinct ${split} problems; the problem space is too small for this many examples.`);
          }
          continue;
        }
        misses = 0;
        seen.add(p.key);
        yield finish(spec.name, split, p, !!spec.hasOptions, !!spec.hasCot);
      }
    },
    generate(split: Split, n: number, seed = 0): TaskExample[] {
      checkRequest(spec.name, split, n, seed);
      return take(fam.stream(split, seed), n);
    },
  };
  return fam;
}

function take<T>(it: Iterator<T>, n: number): T[] {
  const out: T[] = [];
  while (out.length < n) {
    const r = it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

/** Spec of a family built from data records. */
export interface DataFamilySpec<Item> extends CommonSpec {
  source: Exclude<FamilySource, 'generated'>;
  /** All usable records (called lazily, once; the result is cached). */
  items(): readonly Item[];
  /** The record's canonical key (records with equal keys are duplicates; the split is assigned from it). */
  keyOf(item: Item): string;
  /** The key the split is hashed from, when it must differ from `keyOf` (e.g. both directions of a translation pair in one split). */
  splitKeyOf?(item: Item): string;
  /** Builds the problem for a record; `rng` is per example (for distractors, order, …). */
  make(item: Item, rng: Rng): DataProblem;
}

/** Builds a family over data records; each record's split comes from a hash of its key. */
export function defineDataFamily<Item>(spec: DataFamilySpec<Item>): TaskFamily {
  checkSpec(spec);
  let pools: Record<Split, Item[]> | undefined;
  const getPools = (): Record<Split, Item[]> => {
    if (!pools) {
      const p: Record<Split, Item[]> = { train: [], validation: [], test: [] };
      const keys = new Set<string>();
      for (const item of spec.items()) {
        const key = spec.keyOf(item);
        if (keys.has(key)) continue;
        keys.add(key);
        const skey = spec.splitKeyOf ? spec.splitKeyOf(item) : key;
        p[splitOf(`${spec.splitGroup ?? spec.name}\u0000${skey}`)].push(item);
      }
      pools = p;
    }
    return pools;
  };
  // A seeded permutation of each split: records sorted by a hash of (seed, key). Sorting (rather
  // than shuffling) makes every request a prefix of a larger one. The last few orders are cached.
  const orders = new Map<string, Item[]>();
  const orderOf = (split: Split, seed: number): Item[] => {
    const k = `${split}\u0000${seed}`;
    let o = orders.get(k);
    if (!o) {
      const keyed = getPools()[split].map((item) => ({ item, h: hash32(`${seed}\u0000${spec.keyOf(item)}`), key: spec.keyOf(item) }));
      keyed.sort((a, b) => a.h - b.h || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      o = keyed.map((x) => x.item);
      if (orders.size >= 8) orders.delete(orders.keys().next().value as string);
      orders.set(k, o);
    }
    return o;
  };
  const fam: TaskFamily = {
    name: spec.name,
    cluster: spec.cluster,
    description: spec.description,
    source: spec.source,
    metric: spec.metric ?? 'exact_match',
    templates: spec.templates,
    capacity: (split: Split) => getPools()[split].length,
    ...accessors(spec),
    *stream(split: Split, seed = 0): Generator<TaskExample, void, undefined> {
      checkRequest(spec.name, split, 0, seed);
      const order = orderOf(split, seed);
      for (let i = 0; i < order.length; i++) {
        const item = order[i];
        const p = spec.make(item, new Rng(`${spec.name}\u0000${seed}\u0000${split}\u0000${i}`));
        yield finish(spec.name, split, { ...p, key: spec.keyOf(item) }, !!spec.hasOptions, !!spec.hasCot);
      }
    },
    generate(split: Split, n: number, seed = 0): TaskExample[] {
      checkRequest(spec.name, split, n, seed);
      if (n === 0) return [];
      const pool = getPools()[split];
      if (n > pool.length) {
        throw new TaskError(`Family '${spec.name}': the ${split} split holds ${pool.length} distinct records but ${n} examples were requested; ask for at most ${pool.length}.`);
      }
      return take(fam.stream(split, seed), n);
    },
  };
  return fam;
}
