/**
 * Pytree helpers shared by the optimizers and checkpoints: dotted leaf paths
 * (`encoder.block.0.mlp.wi_0.kernel`, in the same depth-first, sorted-key order as
 * `tree.flatten`), rebuilding a tree from such paths, walking a tree "up to" the leaves of
 * another structure (optimizer states keep one small record per parameter leaf), boolean masks
 * selected by path, and small numeric helpers (global norm, zeros-like trees) composed only of
 * np ops so that they trace into a jitted step.
 */

import { Array } from '../core/array.js';
import { PytreeError, ValueError } from '../core/errors.js';
import { flatten, treedefToString, unflatten, type TreeDef } from '../core/pytree.js';
import { np } from '../np/index.js';

/** A boolean per parameter leaf (same structure as the params), or a function building one. */
export type MaskTree = unknown;
/** A mask given directly or computed from the params (e.g. "decay only kernels"). */
export type MaskSpec = MaskTree | ((params: any) => MaskTree);

/** The dotted paths of the leaves of a structure, in flatten order. */
export function leafPaths(def: TreeDef): string[] {
  const out: string[] = [];
  const walk = (d: TreeDef, prefix: string): void => {
    switch (d.kind) {
      case 'leaf': out.push(prefix); return;
      case 'none': return;
      case 'array': d.children.forEach((c, i) => walk(c, prefix === '' ? String(i) : `${prefix}.${i}`)); return;
      case 'object': d.children.forEach((c, i) => walk(c, prefix === '' ? d.keys[i] : `${prefix}.${d.keys[i]}`)); return;
    }
  };
  walk(def, '');
  return out;
}

/**
 * Flattens a pytree into `[path, leaf]` pairs plus its structure. Paths join object keys and
 * array indices with dots; a tree whose single leaf is the root gets the path `''`. Throws if two
 * leaves would get the same path (a key containing a dot can collide with nesting).
 */
export function flattenWithPaths(tree: unknown): { entries: [string, unknown][]; def: TreeDef } {
  const [leaves, def] = flatten(tree);
  const paths = leafPaths(def);
  const seen = new Set<string>();
  for (const p of paths) {
    if (seen.has(p)) {
      throw new PytreeError(`two leaves of the pytree have the same dotted path ${JSON.stringify(p)} (an object key contains a '.'); rename the key so that paths are unique`);
    }
    seen.add(p);
  }
  return { entries: paths.map((p, i) => [p, leaves[i]]), def };
}

/**
 * Builds a nested tree of plain objects from dotted paths (`{'a.b': x, 'a.c': y}` →
 * `{a: {b: x, c: y}}`). Path segments are always object keys (digits included): use the saved
 * structure to restore JS arrays exactly.
 */
export function unflattenPaths(flat: Record<string, unknown>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(flat)) {
    const parts = path.split('.');
    let node = root;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) {
        if (part in node) throw new PytreeError(`unflattenPaths: path ${JSON.stringify(path)} is both a leaf and a prefix of another path`);
        node[part] = value;
        return;
      }
      const next = node[part];
      if (next === undefined) {
        const child: Record<string, unknown> = {};
        node[part] = child;
        node = child;
      } else if (next !== null && typeof next === 'object' && !(next instanceof Array)) {
        node = next as Record<string, unknown>;
      } else {
        throw new PytreeError(`unflattenPaths: path ${JSON.stringify(path)} goes through ${JSON.stringify(parts.slice(0, i + 1).join('.'))}, which is already a leaf`);
      }
    });
  }
  return root;
}

/**
 * The subtrees of `tree` found at the leaf positions of structure `def` (JAX's
 * `flatten_up_to`): `tree` must have `def`'s containers, and whatever sits where `def` has a leaf
 * is returned as one item (it may itself be an object, e.g. `{vRow, vCol}`).
 */
export function leavesUpTo(def: TreeDef, tree: unknown, what = 'tree'): unknown[] {
  const out: unknown[] = [];
  const walk = (d: TreeDef, t: unknown, path: string): void => {
    switch (d.kind) {
      case 'leaf': out.push(t); return;
      case 'none': return;
      case 'array':
        if (!globalThis.Array.isArray(t) || t.length !== d.children.length) {
          throw new PytreeError(`${what} at ${path || 'the root'} should be a list of ${d.children.length} entries (structure ${treedefToString(d)})`);
        }
        d.children.forEach((c, i) => walk(c, t[i], path ? `${path}.${i}` : String(i)));
        return;
      case 'object': {
        if (t === null || typeof t !== 'object' || globalThis.Array.isArray(t) || t instanceof Array) {
          throw new PytreeError(`${what} at ${path || 'the root'} should be an object with keys ${d.keys.join(', ')} (structure ${treedefToString(d)})`);
        }
        const o = t as Record<string, unknown>;
        d.keys.forEach((k, i) => {
          if (!(k in o)) throw new PytreeError(`${what} at ${path || 'the root'} lacks key ${JSON.stringify(k)}`);
          walk(d.children[i], o[k], path ? `${path}.${k}` : k);
        });
        return;
      }
    }
  };
  walk(def, tree, '');
  return out;
}

/** Checks that a leaf is an Array, naming the path otherwise. */
export function asArrayLeaf(x: unknown, where: string): Array {
  if (x instanceof Array) return x;
  throw new ValueError(`${where} is ${x === null ? 'null' : typeof x} where a Myriad Array was expected; optimizer pytrees may only hold arrays (and null for empty slots)`);
}

/** Zeros with the shape and dtype of each leaf. */
export function zerosLikeTree<T>(tree: T): T {
  const [leaves, def] = flatten(tree);
  return unflatten<T>(def, leaves.map((l, i) => np.zeros_like(asArrayLeaf(l, `leaf ${i}`))));
}

/** `sqrt(Σ_leaves Σ x²)` as a float32 (or float64, if any leaf is) scalar Array; 0 for no leaves. */
export function globalNorm(tree: unknown): Array {
  const leaves = flatten(tree)[0].map((l, i) => asArrayLeaf(l, `globalNorm: leaf ${i}`));
  let total: Array = np.zeros([], 'float32');
  for (const l of leaves) {
    const x = l.dtype === 'float64' ? l : l.astype('float32');
    total = np.add(total, np.sum(np.square(x)));
  }
  return np.sqrt(total);
}

/** Resolves a mask spec against the params and checks it holds one JS boolean per leaf. */
export function resolveMask(mask: MaskSpec, params: unknown, where: string): boolean[] {
  const m = typeof mask === 'function' ? (mask as (p: unknown) => MaskTree)(params) : mask;
  const [, pdef] = flatten(params);
  let bools: unknown[];
  try {
    bools = leavesUpTo(pdef, m, `${where} mask`);
  } catch (e) {
    if (e instanceof PytreeError) {
      throw new PytreeError(`${e.message}; the mask must have the same structure as the params, with true/false at every array leaf`);
    }
    throw e;
  }
  const paths = leafPaths(pdef);
  return bools.map((b, i) => {
    if (typeof b !== 'boolean') {
      throw new ValueError(`${where}: mask entry for ${paths[i] || 'the root'} is ${b instanceof Array ? 'an Array' : typeof b}; masks must hold JS booleans (they decide the traced program's structure, so they cannot be array values)`);
    }
    return b;
  });
}

/**
 * A mask function selecting parameter leaves by dotted path and array:
 * `maskByPath((path, x) => x.ndim > 1)` decays only matrices, `maskByPath((p) => !p.endsWith('bias'))`.
 */
export function maskByPath(pred: (path: string, leaf: Array) => boolean): (params: any) => MaskTree {
  return (params: any) => {
    const { entries, def } = flattenWithPaths(params);
    return unflatten(def, entries.map(([p, l]) => pred(p, asArrayLeaf(l, `maskByPath: leaf ${p}`))));
  };
}
