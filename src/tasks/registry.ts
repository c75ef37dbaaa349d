/**
 * The seqio adapter of the task collection: one seqio `Task` per family and prompt variant, and
 * the Flan mixtures, registered in `TaskRegistry` / `MixtureRegistry`.
 *
 * Variants (task name `<family>_<variant>`, as Flan 2022 names its templated task versions):
 *  - `zs_noopt`  zero-shot, any template (inverted ones included), no answer options;
 *  - `fs_noopt`  few-shot (3 exemplars from the train split, rendered with the query's template);
 *  - `zs_opt` / `fs_opt`  with answer options: an `OPTIONS:` list or randomized letter markers
 *    (half of the examples each), for families that have options;
 *  - `zs_cot` / `fs_cot`  chain of thought, for families with rationales; targets end with
 *    "So the answer is X." and the postprocessor extracts X the way Flan does.
 * The template of each example is drawn by a hash of (example id, seed), so a task mixes all of
 * its family's templates deterministically.
 *
 * Mixtures: `flan_train` (every task of the training clusters), `flan_heldout` (every task of
 * the held-out clusters), `flan_all`, and `flan_cluster_<cluster>` per cluster; all
 * examples-proportional with a per-task cap.
 *
 * Registration happens when this module is imported, with a byte-level vocabulary; it only
 * builds Task objects (no data is read until a task's examples are requested).
 * `registerFlanTasks(opts)` re-registers with another vocabulary or other sizes.
 */

import { ByteVocabulary, Mixture, MixtureRegistry, Task, TaskRegistry } from '../data/seqio/index.js';
import type { Example, Split, Tokenizer } from '../data/seqio/index.js';
import { ALL_FAMILIES, CLUSTERS, HELD_OUT_CLUSTERS, TRAIN_CLUSTERS, getFamily } from './collection.js';
import { TaskError, unknownNameError } from './errors.js';
import type { ClusterName, TaskExample, TaskFamily } from './family.js';
import { Rng, hash32, SPLITS } from './rng.js';
import {
  COT_TEMPLATES, extractCotAnswer, normalizeCotTarget, renderExample, renderFewShot,
  type OptionsMode, type RenderedExample, type Template,
} from './templates.js';

/** Prompt variants of a family's tasks. */
export type Variant = 'zs_noopt' | 'fs_noopt' | 'zs_opt' | 'fs_opt' | 'zs_cot' | 'fs_cot';

/** All variants, in registration order. */
export const VARIANTS: readonly Variant[] = ['zs_noopt', 'fs_noopt', 'zs_opt', 'fs_opt', 'zs_cot', 'fs_cot'];

/** Examples per split of each task (capped by what a data family's split holds). */
export const DEFAULT_SPLIT_SIZES: Readonly<Record<Split, number>> = { train: 2000, validation: 200, test: 200 };

/** Number of few-shot exemplars in the `fs_*` variants. */
export const DEFAULT_FEW_SHOT = 3;

/** Per-task cap of the examples-proportional mixtures. */
export const DEFAULT_MIXTURE_CAP = 3000;

/** Size of the train-split pool few-shot exemplars are drawn from. */
const EXEMPLAR_POOL = 64;

/** The variants a family supports. */
export function variantsOf(family: TaskFamily): Variant[] {
  return VARIANTS.filter((v) => (v.endsWith('_opt') ? !!family.options : v.endsWith('_cot') ? !!family.cot : true));
}

/** The task name of a family variant. */
export function flanTaskName(family: string, variant: Variant): string {
  return `${family}_${variant}`;
}

/** Family and variant of a task name built by {@link flanTaskName}, or undefined. */
export function parseFlanTaskName(name: string): { family: TaskFamily; variant: Variant } | undefined {
  for (const v of VARIANTS) {
    const suffix = `_${v}`;
    if (!name.endsWith(suffix)) continue;
    const fam = ALL_FAMILIES.find((f) => f.name === name.slice(0, -suffix.length));
    if (fam && variantsOf(fam).includes(v)) return { family: fam, variant: v };
  }
  return undefined;
}

// ----------------------------------------------------------------------------------------------
// Rendering one family example in a variant

/** How to render an example (the CLI's `tasks sample` exposes each knob). */
export interface RenderOptions {
  /** Template index into `family.templates`; default: drawn from (example id, seed). */
  template?: number;
  /** Number of few-shot exemplars (0 = zero-shot). */
  fewShot?: number;
  /** Chain of thought (needs a family with rationales). */
  cot?: boolean;
  /** Answer options (needs a family with options). */
  options?: OptionsMode;
  /** Chain-of-thought template index into `COT_TEMPLATES`; default: drawn. */
  cotTemplate?: number;
  /** Seed that drives template choice, exemplar choice and option shuffling. */
  seed?: number;
}

/** A rendered example plus what was chosen. */
export interface FlanRendered extends RenderedExample {
  templateIndex: number;
  cotTemplateIndex?: number;
  exemplarIds: string[];
}

/** Templates usable with the options / chain-of-thought variants: non-inverted, targets exactly `{answer}`. */
export function answerTemplates(family: TaskFamily): number[] {
  return family.templates.map((t, i) => [t, i] as const).filter(([t]) => !t.inverted && t.targets === '{answer}').map(([, i]) => i);
}

const exemplarPools = new Map<string, TaskExample[]>();

function exemplarPool(family: TaskFamily, seed: number): TaskExample[] {
  const k = `${family.name}\u0000${seed}`;
  let pool = exemplarPools.get(k);
  if (!pool) {
    const cap = family.capacity('train');
    pool = family.generate('train', cap === undefined ? EXEMPLAR_POOL : Math.min(cap, EXEMPLAR_POOL), seed);
    if (exemplarPools.size >= 256) exemplarPools.delete(exemplarPools.keys().next().value as string);
    exemplarPools.set(k, pool);
  }
  return pool;
}

function renderOne(family: TaskFamily, ex: TaskExample, template: Template, tIndex: number, opts: RenderOptions, cotIndex: number | undefined, seed: number): RenderedExample {
  const mode = opts.options ?? 'none';
  return renderExample({
    template,
    fields: ex.fields,
    answer: ex.answer,
    options: mode !== 'none' ? family.options?.(ex) : undefined,
    optionsMode: mode,
    rng: mode === 'letters' ? new Rng(`${ex.id}\u0000${seed}\u0000letters`) : undefined,
    cot: opts.cot ? { template: COT_TEMPLATES[cotIndex as number], rationale: (family.cot as (e: TaskExample) => string)(ex) } : undefined,
    where: `family '${family.name}' template #${tIndex}`,
  });
}

/**
 * Renders a family example as a Flan prompt: template (given or drawn), optional options,
 * optional chain of thought, optional few-shot exemplars from the train split (same template).
 */
export function renderFamilyExample(family: TaskFamily, ex: TaskExample, opts: RenderOptions = {}): FlanRendered {
  const seed = opts.seed ?? 0;
  const mode = opts.options ?? 'none';
  const k = opts.fewShot ?? 0;
  if (mode !== 'none' && !family.options) throw new TaskError(`Family '${family.name}' has no answer options; drop the options setting (families with options: ${ALL_FAMILIES.filter((f) => f.options).map((f) => f.name).join(', ')}).`);
  if (opts.cot && !family.cot) throw new TaskError(`Family '${family.name}' has no chain-of-thought rationales; drop --cot (families with rationales: ${ALL_FAMILIES.filter((f) => f.cot).map((f) => f.name).join(', ')}).`);
  if (!Number.isInteger(k) || k < 0) throw new TaskError(`The number of few-shot exemplars must be a non-negative integer, got ${k}.`);
  const eligible = mode !== 'none' || opts.cot ? answerTemplates(family) : family.templates.map((_, i) => i);
  let tIndex: number;
  if (opts.template !== undefined) {
    if (!Number.isInteger(opts.template) || opts.template < 0 || opts.template >= family.templates.length) {
      throw new TaskError(`Template index ${opts.template} is out of range: family '${family.name}' has templates 0..${family.templates.length - 1}.`);
    }
    if (!eligible.includes(opts.template)) {
      throw new TaskError(`Template #${opts.template} of '${family.name}' cannot be used with options or chain of thought (it is inverted or its target is not the bare answer); usable: ${eligible.join(', ')}.`);
    }
    tIndex = opts.template;
  } else {
    tIndex = eligible[hash32(`${ex.id}\u0000${seed}\u0000template`) % eligible.length];
  }
  let cotIndex: number | undefined;
  if (opts.cot) {
    if (opts.cotTemplate !== undefined) {
      if (!Number.isInteger(opts.cotTemplate) || opts.cotTemplate < 0 || opts.cotTemplate >= COT_TEMPLATES.length) {
        throw new TaskError(`Chain-of-thought template index ${opts.cotTemplate} is out of range 0..${COT_TEMPLATES.length - 1}.`);
      }
      cotIndex = opts.cotTemplate;
    } else cotIndex = hash32(`${ex.id}\u0000${seed}\u0000cot`) % COT_TEMPLATES.length;
  }
  const template = family.templates[tIndex];
  const query = renderOne(family, ex, template, tIndex, opts, cotIndex, seed);
  const exemplarIds: string[] = [];
  let out: RenderedExample = query;
  if (k > 0) {
    const pool = exemplarPool(family, seed).filter((e) => e.id !== ex.id);
    if (pool.length < k) throw new TaskError(`Family '${family.name}': only ${pool.length} train exemplars are available, ${k} requested.`);
    const shots = new Rng(`${ex.id}\u0000${seed}\u0000fewshot`).sample(pool, k);
    const rendered = shots.map((s) => {
      exemplarIds.push(s.id);
      return renderOne(family, s, template, tIndex, opts, cotIndex, seed);
    });
    out = renderFewShot(rendered, query);
  }
  return { ...out, templateIndex: tIndex, ...(cotIndex !== undefined ? { cotTemplateIndex: cotIndex } : {}), exemplarIds };
}

// ----------------------------------------------------------------------------------------------
// seqio tasks

/** Options of the Flan tasks and mixtures. */
export interface FlanTaskOptions {
  /** Vocabulary of the `inputs` and `targets` features (default: a byte-level `ByteVocabulary`). */
  vocabulary?: Tokenizer;
  /** Examples per split (default {@link DEFAULT_SPLIT_SIZES}); data families hold at most their split's capacity. */
  sizes?: Partial<Record<Split, number>>;
  /** Exemplars of the few-shot variants (default 3). */
  fewShot?: number;
  /** Per-task cap of the mixtures (default 3000). */
  cap?: number;
  /** Append EOS to the inputs too (default false: only targets end with EOS). */
  inputsEos?: boolean;
}

function rawExample(ex: TaskExample): Example {
  return {
    id: ex.id,
    key: ex.key,
    fields: ex.fields,
    answer: ex.answer,
    ...(ex.options ? { options: ex.options } : {}),
    ...(ex.rationale ? { rationale: ex.rationale } : {}),
  };
}

function fromRaw(family: TaskFamily, split: Split, raw: Example): TaskExample {
  return {
    id: raw.id as string,
    family: family.name,
    split,
    key: raw.key as string,
    fields: raw.fields as Record<string, string>,
    answer: raw.answer as string,
    ...(raw.options ? { options: raw.options as string[] } : {}),
    ...(raw.rationale ? { rationale: raw.rationale as string } : {}),
  };
}

/** Number of examples a task built from `family` has in `split`. Loads data for data families. */
export function taskSize(family: TaskFamily, split: Split, sizes: Partial<Record<Split, number>> = {}): number {
  const want = sizes[split] ?? DEFAULT_SPLIT_SIZES[split];
  const cap = family.capacity(split);
  return cap === undefined ? want : Math.min(want, cap);
}

/** Builds the seqio Task of one family variant. */
export function buildFlanTask(family: TaskFamily, variant: Variant, opts: FlanTaskOptions = {}): Task {
  if (!variantsOf(family).includes(variant)) {
    throw new TaskError(`Family '${family.name}' has no variant '${variant}'; its variants are ${variantsOf(family).join(', ')}.`);
  }
  const vocabulary = opts.vocabulary ?? new ByteVocabulary();
  const fewShot = variant.startsWith('fs_') ? (opts.fewShot ?? DEFAULT_FEW_SHOT) : 0;
  const cot = variant.endsWith('_cot');
  const withOptions = variant.endsWith('_opt');
  const sizes = { ...opts.sizes };
  const format = (ex: Example, ctx: { split: Split; seed: number; index: number }): Example => {
    const te = fromRaw(family, ctx.split, ex);
    const mode: OptionsMode = withOptions ? (hash32(`${te.id}\u0000${ctx.seed}\u0000mode`) % 2 === 0 ? 'plain' : 'letters') : 'none';
    const r = renderFamilyExample(family, te, { fewShot, cot, options: mode, seed: ctx.seed });
    return {
      inputs: r.inputs,
      targets: r.targets,
      // What metrics compare the postprocessed prediction with.
      answer: cot ? normalizeCotTarget(r.answer) : r.answer,
      ...(r.options ? { options: r.options } : {}),
      ...(r.optionTargets ? { option_targets: r.optionTargets } : {}),
      family: family.name,
      cluster: family.cluster,
      variant,
      template_index: r.templateIndex,
      inverted: family.templates[r.templateIndex].inverted === true,
      example_id: te.id,
    };
  };
  return new Task({
    name: flanTaskName(family.name, variant),
    source: (split, { seed }) => {
      const n = taskSize(family, split, sizes);
      return {
        *[Symbol.iterator]() {
          let i = 0;
          if (n === 0) return;
          for (const ex of family.stream(split, seed)) {
            yield rawExample(ex);
            if (++i >= n) return;
          }
        },
      };
    },
    preprocessors: [format],
    outputFeatures: {
      inputs: { vocabulary, addEos: opts.inputsEos ?? false },
      targets: { vocabulary, addEos: true },
    },
    postprocessor: cot ? (output: string) => extractCotAnswer(output) : (output: string) => output.trim(),
    numExamples: (split) => taskSize(family, split, sizes),
    meta: {
      family: family.name,
      cluster: family.cluster,
      variant,
      heldOut: HELD_OUT_CLUSTERS.includes(family.cluster),
      source: family.source,
      metric: cot || withOptions ? 'exact_match' : family.metric,
      fewShot,
      version: 1,
    },
  });
}

// ----------------------------------------------------------------------------------------------
// Registration

/** What `registerFlanTasks` registered. */
export interface FlanRegistration {
  tasks: string[];
  mixtures: string[];
}

let registered: FlanRegistration | undefined;

/** The mixture name of a cluster. */
export function clusterMixtureName(cluster: ClusterName): string {
  return `flan_cluster_${cluster}`;
}

/**
 * Registers every family variant as a seqio Task and the Flan mixtures. Re-registering replaces
 * the previous Flan tasks and mixtures (same names); nothing else in the registries is touched.
 */
export function registerFlanTasks(opts: FlanTaskOptions = {}): FlanRegistration {
  const cap = opts.cap ?? DEFAULT_MIXTURE_CAP;
  for (const [split, n] of Object.entries(opts.sizes ?? {})) {
    if (!SPLITS.includes(split as Split) || !Number.isInteger(n) || (n as number) < 0) {
      throw new TaskError(`registerFlanTasks: sizes must map train/validation/test to non-negative integers, got ${split}: ${n}.`);
    }
  }
  const shared: FlanTaskOptions = { ...opts, vocabulary: opts.vocabulary ?? new ByteVocabulary() };
  const byCluster = new Map<ClusterName, Task[]>();
  const tasks: string[] = [];
  for (const family of ALL_FAMILIES) {
    for (const v of variantsOf(family)) {
      const t = TaskRegistry.add(buildFlanTask(family, v, shared), { overwrite: true });
      tasks.push(t.name);
      const l = byCluster.get(family.cluster);
      if (l) l.push(t); else byCluster.set(family.cluster, [t]);
    }
  }
  const mixtures: string[] = [];
  const addMixture = (name: string, members: Task[]): void => {
    MixtureRegistry.add(new Mixture(name, members, { cap }), { overwrite: true });
    mixtures.push(name);
  };
  for (const c of CLUSTERS) addMixture(clusterMixtureName(c), byCluster.get(c) ?? []);
  addMixture('flan_train', TRAIN_CLUSTERS.flatMap((c) => byCluster.get(c) ?? []));
  addMixture('flan_heldout', HELD_OUT_CLUSTERS.flatMap((c) => byCluster.get(c) ?? []));
  addMixture('flan_all', CLUSTERS.flatMap((c) => byCluster.get(c) ?? []));
  registered = { tasks, mixtures };
  return registered;
}

/** The names registered by the last `registerFlanTasks` call (registering with defaults if none yet). */
export function flanRegistration(): FlanRegistration {
  return registered ?? registerFlanTasks();
}

/** The Flan task named `name` (a family variant), with a helpful error for unknown names. */
export function getFlanTask(name: string): Task {
  const reg = flanRegistration();
  if (!reg.tasks.includes(name)) {
    throw unknownNameError('task', name, [...reg.tasks, ...ALL_FAMILIES.map((f) => f.name)], "Run 'myriad tasks list' to see every task.");
  }
  return TaskRegistry.get(name);
}

/** The Flan mixture named `name`, with a helpful error for unknown names. */
export function getFlanMixture(name: string): Mixture {
  const reg = flanRegistration();
  if (!reg.mixtures.includes(name)) {
    if (MixtureRegistry.has(name)) return MixtureRegistry.get(name);
    throw unknownNameError('mixture', name, [...reg.mixtures, ...MixtureRegistry.names()], `Flan mixtures: ${reg.mixtures.join(', ')}.`);
  }
  return MixtureRegistry.get(name);
}

/** Resolves a family name or a Flan task name to its family (and variant, for a task name). */
export function resolveTaskOrFamily(name: string): { family: TaskFamily; variant?: Variant } {
  const parsed = parseFlanTaskName(name);
  if (parsed) return parsed;
  if (ALL_FAMILIES.some((f) => f.name === name)) return { family: getFamily(name) };
  throw unknownNameError('task or family', name, [...ALL_FAMILIES.map((f) => f.name), ...ALL_FAMILIES.flatMap((f) => variantsOf(f).map((v) => flanTaskName(f.name, v)))], "Run 'myriad tasks list' to see every task.");
}

registerFlanTasks();
