/**
 * Shorthands the built-in families are declared with, so that each family states only what is
 * specific to it (name, description, templates, data and problem maker) and not the settings its
 * whole group shares.
 *
 * - `generatedFamilyBuilder(defaults)` / `dataFamilyBuilder(defaults)` return a function that
 *   defines one family of a group with `defineGeneratedFamily` / `defineDataFamily`, filling in
 *   the group's shared settings: its cluster and, for data families, the source and record key,
 *   plus any flag (options, chain of thought, split group, metric) every family of the group has.
 *   A family's own spec may still set any optional setting itself.
 * - `flanTemplates(...)` lists a family's templates, writing the common Flan template (target: the
 *   bare `{answer}`) as just its inputs pattern; `invertedTemplate(...)` writes one that, given
 *   the answer, asks for other fields.
 */

import {
  defineDataFamily, defineGeneratedFamily, type DataFamilySpec, type GeneratedFamilySpec, type TaskFamily,
} from './family.js';
import type { Template } from './templates.js';

/** Settings shared by every family of a group: the cluster, and optionally flags they all have. */
export type FamilyDefaults = Pick<GeneratedFamilySpec, 'cluster'> & Partial<Pick<GeneratedFamilySpec, 'metric' | 'hasOptions' | 'hasCot' | 'splitGroup'>>;

/** Settings shared by every data family of a group: also the source and the record key. */
export type DataFamilyDefaults<Item> = FamilyDefaults & Pick<DataFamilySpec<Item>, 'source' | 'keyOf'> & Partial<Pick<DataFamilySpec<Item>, 'splitKeyOf'>>;

/** Defines generated families of one group: `build(spec)` is `defineGeneratedFamily({ ...defaults, ...spec })`. */
export function generatedFamilyBuilder(defaults: FamilyDefaults): (spec: Omit<GeneratedFamilySpec, 'cluster'>) => TaskFamily {
  return (spec) => defineGeneratedFamily({ ...defaults, ...spec });
}

/** Defines data families of one group: `build(spec)` is `defineDataFamily({ ...defaults, ...spec })`. */
export function dataFamilyBuilder<Item>(defaults: DataFamilyDefaults<Item>): (spec: Omit<DataFamilySpec<Item>, 'cluster' | 'source' | 'keyOf'>) => TaskFamily {
  return (spec) => defineDataFamily<Item>({ ...defaults, ...spec });
}

/**
 * A family's templates, in order: a string is an inputs pattern whose target is the bare
 * `{answer}` (the usual Flan template); a `Template` object is taken as it is (inverted templates,
 * other targets).
 */
export function flanTemplates(...templates: Array<string | Template>): Template[] {
  return templates.map((t) => (typeof t === 'string' ? { inputs: t, targets: '{answer}' } : t));
}

/** An inverted template: the inputs pattern shows `{answer}` and the targets ask for other fields. */
export function invertedTemplate(inputs: string, targets: string): Template {
  return { inputs, targets, inverted: true };
}
