/**
 * Logical axis rules (T5X / flax style): models name each parameter dimension with a logical
 * axis (`embed`, `mlp`, `heads`, `vocab`, `expert`, …; see `LogicalAxes` in src/nn/module.ts), and
 * a rules table maps logical names to mesh axes, e.g.
 * `[['batch', 'data'], ['mlp', 'model'], ['heads', 'model'], ['vocab', 'model'], ['embed', null]]`.
 * `logicalToMesh` turns one list of logical names into a partition spec the way flax's
 * `logical_to_mesh_axes` does: the rules are scanned in order, and a rule assigns its mesh
 * axes to the dimension carrying its logical name when that dimension is still unassigned and
 * none of the rule's mesh axes is already used by another dimension (so the first matching rule
 * whose mesh axes are free wins, and a later rule can act as a fallback). A rule with `null`
 * assigns "not split". Names no rule assigns stay unsplit. `shardingsFromAxes` maps a whole
 * pytree of logical axes (a model's `axes()`) to a pytree of shardings.
 */

import type { LogicalAxes } from '../../nn/module.js';
import { NamedSharding, ShardingError, checkMeshShape, describe, fmtMesh, type MeshShape, type PartitionSpec, type Sharding } from './sharding.js';

/** One rule: a logical axis name and the mesh axis (or axes, major → minor, or null) it maps to. */
export type LogicalAxisRule = readonly [string, string | readonly string[] | null];
/** An ordered rules table; earlier rules take precedence. */
export type LogicalAxisRules = readonly LogicalAxisRule[];

/** Anything that names dimensions: a `LogicalAxes`, or any object with a `names` list. */
export type LogicalNames = LogicalAxes | { readonly names: readonly (string | null)[] };

const UNASSIGNED = Symbol('unassigned');

function checkRules(rules: LogicalAxisRules, mesh: MeshShape | undefined, where: string): string[][] {
  if (!Array.isArray(rules)) throw new ShardingError(`${where}: rules must be a list of [logicalName, meshAxes] pairs, got ${describe(rules)}`);
  return rules.map((r, i) => {
    if (!Array.isArray(r) || r.length !== 2 || typeof r[0] !== 'string' || r[0] === '') {
      throw new ShardingError(`${where}: rule ${i} is ${describe(r)}; each rule is [logicalName, meshAxis | meshAxis[] | null], e.g. ['mlp', 'model']`);
    }
    const target = r[1];
    let axes: string[];
    if (target === null) axes = [];
    else if (typeof target === 'string') axes = [target];
    else if (Array.isArray(target) && target.every((a) => typeof a === 'string')) axes = [...target];
    else throw new ShardingError(`${where}: rule ${i} (${describe(r)}) maps '${r[0]}' to ${describe(target)}; use a mesh axis name, a list of names, or null`);
    if (new Set(axes).size !== axes.length) throw new ShardingError(`${where}: rule ${i} (${describe(r)}) repeats a mesh axis`);
    if (mesh) {
      for (const a of axes) {
        if (!mesh.axisNames.includes(a)) throw new ShardingError(`${where}: rule ${i} maps logical axis '${r[0]}' to unknown mesh axis '${a}'; the mesh has axes ${fmtMesh(mesh)}`);
      }
    }
    return axes;
  });
}

function namesOf(x: unknown, where: string): (string | null)[] {
  const names = Array.isArray(x) ? x : x !== null && typeof x === 'object' ? (x as { names?: unknown }).names : undefined;
  if (!Array.isArray(names) || names.some((n) => n !== null && (typeof n !== 'string' || n === ''))) {
    throw new ShardingError(`${where}: expected logical axis names (a list of strings, or a LogicalAxes), got ${describe(x)}`);
  }
  return names as (string | null)[];
}

/**
 * The partition spec for one array whose dimensions carry the given logical names (null = an
 * unnamed dimension, never split). See the file header for the matching rule. With `mesh`, every
 * mesh axis the rules mention must exist in it. A logical name used twice is an error.
 */
export function logicalToMesh(logicalAxes: readonly (string | null)[] | LogicalNames, rules: LogicalAxisRules, mesh?: MeshShape): PartitionSpec {
  const where = 'logicalToMesh';
  const m = mesh === undefined ? undefined : checkMeshShape(mesh, where);
  const names = namesOf(logicalAxes, where);
  const ruleAxes = checkRules(rules, m, where);
  const seen = new Set<string>();
  for (const n of names) {
    if (n === null) continue;
    if (seen.has(n)) throw new ShardingError(`${where}: logical axis '${n}' names more than one dimension of (${names.join(', ')}); give each dimension its own logical name`);
    seen.add(n);
  }
  const result: (string[] | typeof UNASSIGNED)[] = names.map(() => UNASSIGNED);
  const used = new Set<string>();
  rules.forEach((r, i) => {
    const pos = names.indexOf(r[0]);
    if (pos < 0 || result[pos] !== UNASSIGNED) return;
    const axes = ruleAxes[i];
    if (axes.some((a) => used.has(a))) return;
    result[pos] = axes;
    axes.forEach((a) => used.add(a));
  });
  return result.map((r) => (r === UNASSIGNED || r.length === 0 ? null : r.length === 1 ? r[0] : [...r]));
}

function isNamesLeaf(x: unknown): boolean {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const names = (x as { names?: unknown }).names;
  return Array.isArray(names) && names.every((n) => n === null || typeof n === 'string');
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * Maps a pytree whose leaves are logical axes (`LogicalAxes`, as returned by a layer's or
 * model's `axes()`) to a pytree of the same structure whose leaves are shardings on `mesh`.
 * null/undefined nodes are kept as they are.
 */
export function shardingsFromAxes<T = any>(paramsAxesTree: unknown, rules: LogicalAxisRules, mesh: MeshShape): T {
  const m = checkMeshShape(mesh, 'shardingsFromAxes');
  checkRules(rules, m, 'shardingsFromAxes');
  const walk = (x: unknown, path: string): unknown => {
    if (x === null || x === undefined) return x;
    if (isNamesLeaf(x)) {
      const names = namesOf(x, `shardingsFromAxes at ${path}`);
      let spec: PartitionSpec;
      try {
        spec = logicalToMesh(names, rules, m);
      } catch (e) {
        if (e instanceof ShardingError) e.message = `shardingsFromAxes at ${path}: ${e.message}`;
        throw e;
      }
      return NamedSharding(m, spec, names.length) satisfies Sharding;
    }
    if (Array.isArray(x)) return x.map((c, i) => walk(c, `${path}[${i}]`));
    if (isPlainObject(x)) {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(x)) out[k] = walk(x[k], path === '' ? k : `${path}.${k}`);
      return out;
    }
    throw new ShardingError(`shardingsFromAxes: the leaf at ${path || '(root)'} is ${describe(x)}; leaves must be LogicalAxes (e.g. new LogicalAxes('embed', 'mlp')) — pass the tree returned by a model's axes()`);
  };
  return walk(paramsAxesTree, '') as T;
}
