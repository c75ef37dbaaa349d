/**
 * Pytrees: nested plain objects and JS arrays whose leaves are arrays (or any non-container
 * value). Params, batches, optimizer states and gradients are pytrees. Plain objects are nodes
 * with their keys in sorted order (so two objects built in different key orders have the same
 * structure, as in JAX); `null`/`undefined` are empty nodes with no leaves; everything else —
 * Myriad arrays, numbers, strings, class instances — is a leaf.
 */

import { PytreeError } from './errors.js';

/** The structure of a pytree, without its leaves. */
export type TreeDef =
  | { kind: 'leaf' }
  | { kind: 'none'; value: null | undefined }
  | { kind: 'array'; children: TreeDef[] }
  | { kind: 'object'; keys: string[]; children: TreeDef[] };

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** Flattens a pytree into its leaves (depth-first, sorted object keys) and its structure. */
export function flatten(tree: unknown): [unknown[], TreeDef] {
  const leaves: unknown[] = [];
  const def = flattenInto(tree, leaves);
  return [leaves, def];
}

function flattenInto(x: unknown, leaves: unknown[]): TreeDef {
  if (x === null || x === undefined) return { kind: 'none', value: x };
  if (Array.isArray(x)) return { kind: 'array', children: x.map((c) => flattenInto(c, leaves)) };
  if (isPlainObject(x)) {
    const keys = Object.keys(x).sort();
    return { kind: 'object', keys, children: keys.map((k) => flattenInto(x[k], leaves)) };
  }
  leaves.push(x);
  return { kind: 'leaf' };
}

/** Number of leaves a structure holds. */
export function numLeaves(def: TreeDef): number {
  switch (def.kind) {
    case 'leaf': return 1;
    case 'none': return 0;
    default: return def.children.reduce((n, c) => n + numLeaves(c), 0);
  }
}

/** Rebuilds a pytree of structure `def` from `leaves`. */
export function unflatten<T = any>(def: TreeDef, leaves: readonly unknown[]): T {
  const want = numLeaves(def);
  if (want !== leaves.length) throw new PytreeError(`unflatten: structure ${treedefToString(def)} has ${want} leaves, got ${leaves.length}`);
  let i = 0;
  const build = (d: TreeDef): unknown => {
    switch (d.kind) {
      case 'leaf': return leaves[i++];
      case 'none': return d.value;
      case 'array': return d.children.map(build);
      case 'object': {
        const o: Record<string, unknown> = {};
        d.keys.forEach((k, j) => (o[k] = build(d.children[j])));
        return o;
      }
    }
  };
  return build(def) as T;
}

/** The leaves of a pytree. */
export function leaves(tree: unknown): unknown[] {
  return flatten(tree)[0];
}

/** The structure of a pytree. */
export function structure(tree: unknown): TreeDef {
  return flatten(tree)[1];
}

/** Whether two structures are equal. */
export function treedefEqual(a: TreeDef, b: TreeDef): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'leaf') return true;
  if (a.kind === 'none') return true;
  const bc = b as Extract<TreeDef, { children: TreeDef[] }>;
  if (a.children.length !== bc.children.length) return false;
  if (a.kind === 'object' && (b.kind !== 'object' || a.keys.join('\0') !== b.keys.join('\0'))) return false;
  return a.children.every((c, i) => treedefEqual(c, bc.children[i]));
}

/** A compact text form of a structure, e.g. `{b: [*, *], w: *}`. */
export function treedefToString(def: TreeDef): string {
  switch (def.kind) {
    case 'leaf': return '*';
    case 'none': return String(def.value);
    case 'array': return `[${def.children.map(treedefToString).join(', ')}]`;
    case 'object': return `{${def.keys.map((k, i) => `${k}: ${treedefToString(def.children[i])}`).join(', ')}}`;
  }
}

/**
 * Maps `f` over the leaves of `tree` and of the `rest` trees, which must have the same structure.
 * Like `jax.tree.map`.
 */
export function map<T = any>(f: (...leaves: any[]) => unknown, tree: unknown, ...rest: unknown[]): T {
  const [ls, def] = flatten(tree);
  const others = rest.map((r, j) => {
    const [rl, rdef] = flatten(r);
    if (!treedefEqual(def, rdef)) {
      throw new PytreeError(`tree.map: tree ${j + 1} has structure ${treedefToString(rdef)}, but the first tree has ${treedefToString(def)}; all trees must have the same structure`);
    }
    return rl;
  });
  return unflatten<T>(def, ls.map((l, i) => f(l, ...others.map((o) => o[i]))));
}

/** Reduces over the leaves of a tree in flatten order. */
export function reduce<A>(f: (acc: A, leaf: any) => A, tree: unknown, init: A): A {
  return leaves(tree).reduce<A>((acc, l) => f(acc, l), init);
}

/** `tree` namespace, as exported from `myriad`. */
export const tree = {
  map,
  flatten,
  unflatten,
  leaves,
  structure,
  reduce,
  numLeaves,
  treedefEqual,
  treedefToString,
  /** Whether two pytrees have the same structure. */
  structureEqual: (a: unknown, b: unknown): boolean => treedefEqual(structure(a), structure(b)),
};
