/**
 * The `np` namespace: Myriad's NumPy-shaped ops library, composed from `lax` (so every function
 * works eagerly, inside `makeGraph`/`jit` traces and under `grad`). Names follow NumPy
 * (`np.log_softmax`, `np.take_along_axis`), and every snake_case name also has a camelCase alias
 * (`np.logSoftmax`, `np.takeAlongAxis`, `np.zerosLike`, `np.dynamicSlice`). Loading this module
 * installs the implementations behind the `Array` methods (`x.add(y)`, `x.sum()`, …), and wraps
 * every function so that a Myriad error raised by its argument checks names the function and
 * the user's source line.
 *
 * Dtype promotion (also in the README): arrays promote along bool < int32|uint32 < float32 <
 * float64 (int32 with uint32 is refused); JS numbers and booleans are weakly typed — they take
 * the dtype of the array they meet, except that a non-integer number meeting an integer or bool
 * array gives float32, and an integer meeting a bool array gives int32.
 */

import { installArrayMethods, type ArrayMethods } from '../core/array.js';
import * as creation from './creation.js';
import * as einsumMod from './einsum.js';
import * as elementwise from './elementwise.js';
import * as linalg from './linalg.js';
import * as nn from './nn.js';
import * as reductions from './reductions.js';
import * as shapeOps from './shape_ops.js';
import { wrapNamespace } from './util.js';

const { var_, ...reductionFns } = reductions;

const base = {
  ...creation,
  ...elementwise,
  ...reductionFns,
  /** Variance over `axis` (see np.std; `{ddof: 1}` for the unbiased estimate). */
  var: var_,
  ...shapeOps,
  ...linalg,
  ...einsumMod,
  ...nn,
};

type Camel<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;
type CamelAliases<T> = { [K in keyof T as K extends `${string}_${string}` ? Camel<K & string> : never]: T[K] };

function withCamelAliases<T extends object>(o: T): T & CamelAliases<T> {
  const out: Record<string, unknown> = { ...(o as Record<string, unknown>) };
  for (const [k, v] of Object.entries(o)) {
    if (!k.includes('_')) continue;
    const camel = k.replace(/_([a-z0-9])/g, (_m, ch: string) => ch.toUpperCase());
    if (camel in out) throw new Error(`internal: np alias ${camel} collides with an existing name`);
    out[camel] = v;
  }
  return out as T & CamelAliases<T>;
}

/** Myriad's NumPy-shaped ops library (see the module comment for naming and promotion). */
export const np = wrapNamespace(withCamelAliases(base));

installArrayMethods(np as unknown as ArrayMethods);

export { IndexError } from './util.js';
export type { Axis } from './util.js';
export type { ArrayOptions, LinspaceOptions, NestedArray } from './creation.js';
export type { IsCloseOptions, NanToNumOptions } from './elementwise.js';
export type { ArgOptions, CumsumOptions, ReduceOptions, VarOptions } from './reductions.js';
export type { PadOptions, PadWidth, SliceRange } from './shape_ops.js';
export type { GeluOptions, IndexMode, OneHotOptions, SortOptions, TakeOptions } from './nn.js';
