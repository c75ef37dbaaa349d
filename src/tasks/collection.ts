/**
 * The built-in task collection: every family, grouped into clusters, and the documented split of
 * whole clusters held out from training for evaluating generalization to unseen tasks (Flan's
 * protocol: finetune on some task clusters, evaluate zero-/few-shot on clusters never seen).
 *
 * Held-out clusters (`HELD_OUT_CLUSTERS`):
 *  - `symbolic_reasoning` — the BIG-Bench-Hard-like families (boolean expressions, Dyck
 *    languages, navigate, web of lies, logical deduction, tracking shuffled objects, word sorting,
 *    object counting), mirroring Flan 2022's use of BBH as a held-out benchmark;
 *  - `phonetics` — CMU-dictionary knowledge (pronunciation, syllables, rhymes, stress,
 *    homophones), a knowledge domain no training cluster covers.
 * Every other cluster is a training cluster. Within any family, train/validation/test splits are
 * additionally disjoint by item (see `family.ts`).
 */

import { TaskError, unknownNameError } from './errors.js';
import type { ClusterName, TaskFamily } from './family.js';
import { ARITHMETIC_FAMILIES } from './families/arithmetic.js';
import { REASONING_FAMILIES } from './families/reasoning.js';
import { TEMPORAL_FAMILIES } from './families/temporal.js';
import { STRING_FAMILIES } from './families/strings.js';
import { LIST_FAMILIES } from './families/lists.js';
import { LANGUAGE_ID_FAMILIES, TRANSLATION_FAMILIES } from './families/multilingual.js';
import { LEXICAL_FAMILIES } from './families/lexical.js';
import { PHONETICS_FAMILIES } from './families/phonetics.js';

/** Every family of the collection, grouped by cluster in this order. */
export const ALL_FAMILIES: readonly TaskFamily[] = [
  ...ARITHMETIC_FAMILIES,
  ...REASONING_FAMILIES,
  ...TEMPORAL_FAMILIES,
  ...STRING_FAMILIES,
  ...LIST_FAMILIES,
  ...TRANSLATION_FAMILIES,
  ...LANGUAGE_ID_FAMILIES,
  ...LEXICAL_FAMILIES,
  ...PHONETICS_FAMILIES,
];

/** All clusters, in collection order. */
export const CLUSTERS: readonly ClusterName[] = [
  'arithmetic', 'symbolic_reasoning', 'temporal', 'string_manipulation', 'list_manipulation',
  'translation', 'language_identification', 'lexical_semantics', 'phonetics',
];

/** Clusters held out of `flan_train` and used for unseen-task evaluation (`flan_heldout`). */
export const HELD_OUT_CLUSTERS: readonly ClusterName[] = ['symbolic_reasoning', 'phonetics'];

/** Clusters used for training (all but the held-out ones). */
export const TRAIN_CLUSTERS: readonly ClusterName[] = CLUSTERS.filter((c) => !HELD_OUT_CLUSTERS.includes(c));

const byName = new Map(ALL_FAMILIES.map((f) => [f.name, f]));
if (byName.size !== ALL_FAMILIES.length) throw new TaskError('Duplicate family names in the task collection.');
for (const f of ALL_FAMILIES) {
  if (!CLUSTERS.includes(f.cluster)) throw new TaskError(`Family '${f.name}' has unknown cluster '${f.cluster}'.`);
}

/** The family named `name`; unknown names are an error listing close matches. */
export function getFamily(name: string): TaskFamily {
  const f = byName.get(name);
  if (!f) throw unknownNameError('task family', name, byName.keys(), "Run 'myriad tasks list' to see every family.");
  return f;
}

/** Family names, in collection order. */
export function familyNames(): string[] {
  return ALL_FAMILIES.map((f) => f.name);
}

/** The families of a cluster. */
export function familiesInCluster(cluster: ClusterName): TaskFamily[] {
  if (!CLUSTERS.includes(cluster)) throw unknownNameError('cluster', cluster, CLUSTERS, `Clusters: ${CLUSTERS.join(', ')}.`);
  return ALL_FAMILIES.filter((f) => f.cluster === cluster);
}

/** True if the family's cluster is held out of training. */
export function isHeldOut(family: TaskFamily | string): boolean {
  const f = typeof family === 'string' ? getFamily(family) : family;
  return HELD_OUT_CLUSTERS.includes(f.cluster);
}
