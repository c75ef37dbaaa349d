/**
 * `withShardingConstraint(x, spec, mesh)`: the user's way to pin the sharding of an
 * intermediate value inside a traced (jit) function, as in JAX. It records a
 * `sharding_constraint` equation — the identity on values — that sharding propagation never
 * overrides and the partitioner honours (resharding into and out of it as needed). Outside a
 * trace it simply returns its input's values (there is nothing to partition).
 */

import { Array } from '../core/array.js';
import { ValueError } from '../core/errors.js';
import * as lax from '../core/lax.js';
import { NamedSharding, isSharding, meshEqual, shardingForRank, type MeshShape, type PartitionSpec, type Sharding } from './sharding/index.js';

/** A mesh given as plain data, or anything holding one as `.shape` (the runtime's Mesh). */
export type MeshLike = MeshShape | { readonly shape: MeshShape };

/** The MeshShape of a mesh-like value. */
export function toMeshShape(mesh: MeshLike, where: string): MeshShape {
  if (mesh !== null && typeof mesh === 'object') {
    if (globalThis.Array.isArray((mesh as MeshShape).axisNames) && globalThis.Array.isArray((mesh as MeshShape).shape)) return mesh as MeshShape;
    const inner = (mesh as { shape?: unknown }).shape as MeshShape | undefined;
    if (inner && typeof inner === 'object' && globalThis.Array.isArray(inner.axisNames)) return inner;
  }
  throw new ValueError(`${where}: expected a mesh (a runtime Mesh or {axisNames, shape}), got ${mesh === null ? 'null' : typeof mesh}`);
}

/**
 * Constrains `x`'s sharding. `sharding` is a Sharding (e.g. `NamedSharding(mesh, P('data'))`)
 * or a PartitionSpec (`P('data', null)`), which then needs `mesh`. The spec may be shorter than
 * `x`'s rank (missing trailing dims are not split).
 */
export function withShardingConstraint(x: Array, sharding: Sharding | PartitionSpec, mesh?: MeshLike): Array {
  const where = 'withShardingConstraint';
  if (!(x instanceof Array)) throw new ValueError(`${where}: x must be an Array, got ${x === null ? 'null' : typeof x}`);
  let s: Sharding;
  if (isSharding(sharding)) {
    s = shardingForRank(sharding, x.ndim, where);
    if (mesh !== undefined && !meshEqual(toMeshShape(mesh, where), s.mesh)) {
      throw new ValueError(`${where}: the sharding's mesh ${JSON.stringify(s.mesh)} differs from the mesh argument ${JSON.stringify(toMeshShape(mesh, where))}; pass one of them`);
    }
  } else if (globalThis.Array.isArray(sharding)) {
    if (mesh === undefined) throw new ValueError(`${where}: a PartitionSpec needs the mesh: withShardingConstraint(x, P(...), mesh), or pass NamedSharding(mesh, P(...))`);
    s = NamedSharding(toMeshShape(mesh, where), sharding, x.ndim);
  } else {
    throw new ValueError(`${where}: expected a Sharding or a PartitionSpec such as P('data', null), got ${sharding === null ? 'null' : typeof sharding}`);
  }
  return lax.shardingConstraint(x, s);
}
