/**
 * Sharded arrays: a global array laid out over a mesh as one shard per device. `devicePut(x,
 * sharding)` cuts a host Array into the shards its sharding gives each device (GSPMD's padding
 * rule: a dim of size d split k ways gives every device ceil(d/k) rows; rows past d are zero
 * padding), and `ShardedArray.gather()` puts the global array back together on the host —
 * summing partial (pending-sum) shards in group-rank order with the collectives' kernel, so the
 * result has the same bits as an all_reduce. The shards are ordinary Arrays, one per device in
 * device order, ready to be passed as per-device arguments to `Mesh.run`; their storage is
 * shared memory (SharedArrayBuffer), as is that of every shard a Mesh step returns, so passing
 * a step's results to the next step moves no data through the main thread (the devices read
 * it in place).
 */

import { Array } from '../core/array.js';
import { allocate, type DType } from '../core/dtype.js';
import { ShapeError, ValueError } from '../core/errors.js';
import { fmtAval } from '../core/ir.js';
import { shapeEqual, sizeOf } from '../core/shape.js';
import { copyBox, reduceRange } from '../distributed/spmd/collectives.js';
import { allocateShared } from './protocol.js';
import { deviceCoords, groupOf } from '../distributed/spmd/groups.js';
import { toMeshShape, type MeshLike } from '../distributed/constraint.js';
import {
  NamedSharding, deviceSlice, isSharding, meshEqual, meshSize, shardShape, shardingForRank, shardingToString,
  type PartitionSpec, type Sharding,
} from '../distributed/sharding/index.js';

/** A global array split over a mesh: one shard (an Array of the per-device shape) per device. */
export class ShardedArray {
  /** The global shape. */
  readonly shape: number[];
  readonly dtype: DType;
  /** The layout over the mesh (dims padded to the rank). */
  readonly sharding: Sharding;
  /** One shard per device, in device order (each of shape `shardShape`). */
  readonly shards: Array[];

  /**
   * Wraps per-device shards (e.g. a step's outputs) as one global array. Each shard must have
   * the per-device shape `shardShape(shape, sharding)` and the same dtype.
   */
  constructor(shape: readonly number[], sharding: Sharding, shards: readonly Array[]) {
    this.shape = [...shape];
    this.sharding = shardingForRank(sharding, shape.length, 'ShardedArray');
    const n = meshSize(this.sharding.mesh);
    if (!globalThis.Array.isArray(shards) || shards.length !== n) throw new ValueError(`ShardedArray: the mesh has ${n} devices but ${globalThis.Array.isArray(shards) ? shards.length : 'no'} shards were given`);
    const per = shardShape(this.shape, this.sharding);
    const dtype = shards[0].dtype;
    shards.forEach((s, d) => {
      if (!(s instanceof Array) || s.isTracer) throw new ValueError(`ShardedArray: shard ${d} must be a concrete Array`);
      if (s.dtype !== dtype || !shapeEqual(s.shape, per)) {
        throw new ShapeError(`ShardedArray: shard ${d} is ${fmtAval(s)} but global shape [${this.shape.join(',')}] sharded as ${shardingToString(this.sharding)} needs ${fmtAval({ shape: per, dtype })} on every device`);
      }
    });
    this.dtype = dtype;
    this.shards = [...shards];
  }

  /** The per-device (padded) shape. */
  get shardShape(): number[] {
    return [...this.shards[0].shape];
  }
  get ndim(): number {
    return this.shape.length;
  }

  /**
   * The global array on the host. Replicated copies are read from the lowest device holding
   * each tile; partial shards are summed over their partial axes in group-rank order.
   */
  gather(): Array {
    const s = this.sharding;
    const mesh = s.mesh;
    const out = allocate(this.dtype, sizeOf(this.shape));
    const per = this.shardShape;
    const tiling = new Set(s.dims.flat());
    const partial = mesh.axisNames.filter((a) => s.partial.includes(a));
    const zeros = this.shape.map(() => 0);
    for (let d = 0; d < meshSize(mesh); d++) {
      // one device per tile: coordinate 0 on every axis that does not tile the array
      const c = deviceCoords(mesh, d);
      if (mesh.axisNames.some((a, i) => !tiling.has(a) && c[i] !== 0)) continue;
      const sl = deviceSlice(this.shape, s, d);
      let src = this.shards[d].concrete('gather');
      if (partial.length) {
        const { members } = groupOf(mesh, partial, d);
        const sum = allocate(this.dtype, src.length);
        reduceRange('sum', members.map((m) => this.shards[m].concrete('gather')), 0, sum, 0, src.length);
        src = sum;
      }
      copyBox(src, per, zeros, out, this.shape, sl.start, sl.valid);
    }
    return Array.fromData(out, this.shape, this.dtype);
  }

  toString(): string {
    return `ShardedArray(${fmtAval(this)}, ${shardingToString(this.sharding)} on ${meshSize(this.sharding.mesh)} devices)`;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/**
 * Splits a host array over a mesh: `devicePut(x, NamedSharding(mesh, P('data', null)))` or
 * `devicePut(x, P('data', null), mesh)`. Uneven dims are zero-padded (see the file header).
 * Partial shardings are refused (a host value is not a pending sum).
 */
export function devicePut(x: Array, sharding: Sharding | PartitionSpec, mesh?: MeshLike): ShardedArray {
  const where = 'devicePut';
  if (!(x instanceof Array) || x.isTracer) throw new ValueError(`${where}: x must be a concrete Array (not a tracer inside jit)`);
  let s: Sharding;
  if (isSharding(sharding)) {
    s = shardingForRank(sharding, x.ndim, where);
    if (mesh !== undefined && !meshEqual(toMeshShape(mesh, where), s.mesh)) throw new ValueError(`${where}: the sharding's mesh differs from the mesh argument; pass one of them`);
  } else if (globalThis.Array.isArray(sharding)) {
    if (mesh === undefined) throw new ValueError(`${where}: a PartitionSpec needs the mesh: devicePut(x, P(...), mesh), or pass NamedSharding(mesh, P(...))`);
    s = NamedSharding(toMeshShape(mesh, where), sharding, x.ndim);
  } else {
    throw new ValueError(`${where}: expected a Sharding or a PartitionSpec such as P('data', null)`);
  }
  if (s.partial.length) throw new ValueError(`${where}: the sharding ${shardingToString(s)} is partial (a pending sum); put values with a tiled or replicated sharding`);
  const per = shardShape(x.shape, s);
  const src = x.concrete('devicePut');
  const zeros = per.map(() => 0);
  const shards: Array[] = [];
  for (let d = 0; d < meshSize(s.mesh); d++) {
    const sl = deviceSlice(x.shape, s, d);
    const data = allocateShared(x.dtype, sizeOf(per));
    copyBox(src, x.shape, sl.start, data, per, zeros, sl.valid);
    shards.push(Array.fromData(data, per, x.dtype));
  }
  return new ShardedArray(x.shape, s, shards);
}
