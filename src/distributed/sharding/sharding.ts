/**
 * The sharding representation of Myriad's GSPMD: device meshes, partition specs and shardings
 * as plain data. A `MeshShape` names the mesh axes and their sizes (devices are numbered
 * row-major over the axes: device id = linear index of its coordinates). A `Sharding` says,
 * for every dimension of an array, which mesh axes tile it (major → minor), and over which mesh
 * axes the value is a pending SUM (`partial`: each device holds a partial sum; the true value is
 * the sum over those axes). Every mesh axis used in neither is *replicated*. `P(...)` builds a
 * JAX-style partition spec and `NamedSharding(mesh, spec)` a sharding from it. The helpers here
 * compute per-device shard shapes (uneven dimensions are padded: each device gets
 * ceil(dim / k) rows, the last ones may hold fewer valid rows or none), the slice of the global
 * array each device holds, GSPMD's tile-assignment view, equality and printing. Everything is
 * validated with errors that say what is wrong and how to fix it.
 */

import { MyriadError } from '../../core/errors.js';

/** Thrown for malformed meshes, partition specs and shardings, and by sharding propagation. */
export class ShardingError extends MyriadError {}

/** A device mesh as plain data: named axes and their sizes. Devices are numbered row-major. */
export interface MeshShape {
  axisNames: string[];
  shape: number[];
}

/**
 * One entry per array dimension: the mesh axis (or axes, major → minor) that split it, or null
 * for "not split". Missing trailing entries mean null. Build with {@link P}.
 */
export type PartitionSpec = (string | string[] | null)[];

/**
 * How an array is laid out over a mesh. `dims[i]` lists the mesh axes tiling dimension i (major →
 * minor; [] = not split); `partial` lists the mesh axes over which the value is a pending sum.
 * A mesh axis appears at most once in a sharding; axes in neither list are replicated. `dims`
 * may be shorter than the array's rank (missing trailing dims are not split).
 */
export interface Sharding {
  mesh: MeshShape;
  dims: string[][];
  partial: string[];
}

/**
 * The shardings this module makes are instances of this small class (frozen, JSON-serializable)
 * so that they are single pytree leaves; every function here also accepts plain objects of the
 * same shape.
 */
class ShardingValue implements Sharding {
  readonly mesh: MeshShape;
  readonly dims: string[][];
  readonly partial: string[];
  constructor(mesh: MeshShape, dims: string[][], partial: string[]) {
    this.mesh = mesh;
    this.dims = Object.freeze(dims.map((d) => Object.freeze([...d]))) as string[][];
    this.partial = Object.freeze([...partial]) as string[];
    Object.freeze(this);
  }
  toString(): string {
    return shardingToString(this);
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Sharding{${shardingToString(this, { style: 'tile' })}}`;
  }
}

const AXIS_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A mesh shape from `{axisName: size}` in major → minor order, e.g.
 * `makeMeshShape({ data: 2, model: 2 })` (4 devices; device 1 is data=0, model=1). Axis names
 * are identifiers; sizes are positive integers.
 */
export function makeMeshShape(axes: Record<string, number>): MeshShape {
  if (axes === null || typeof axes !== 'object' || Array.isArray(axes)) {
    throw new ShardingError(`makeMeshShape: expected an object {axisName: size}, e.g. {data: 2, model: 2}; got ${describe(axes)}`);
  }
  const axisNames = Object.keys(axes);
  const shape = axisNames.map((k) => axes[k]);
  return checkMeshShape({ axisNames, shape }, 'makeMeshShape');
}

/** Validates a mesh shape (distinct identifier names, positive integer sizes); returns a frozen copy. */
export function checkMeshShape(mesh: MeshShape, where = 'mesh'): MeshShape {
  if (mesh === null || typeof mesh !== 'object' || !Array.isArray(mesh.axisNames) || !Array.isArray(mesh.shape)) {
    throw new ShardingError(`${where}: a mesh is {axisNames: string[], shape: number[]} (make one with makeMeshShape({data: 2})); got ${describe(mesh)}`);
  }
  if (mesh.axisNames.length !== mesh.shape.length) {
    throw new ShardingError(`${where}: mesh has ${mesh.axisNames.length} axis names ${JSON.stringify(mesh.axisNames)} but ${mesh.shape.length} sizes ${JSON.stringify(mesh.shape)}`);
  }
  for (const n of mesh.axisNames) {
    if (typeof n !== 'string' || !AXIS_NAME.test(n)) throw new ShardingError(`${where}: mesh axis name ${JSON.stringify(n)} is not an identifier (letters, digits, _; not starting with a digit)`);
  }
  if (new Set(mesh.axisNames).size !== mesh.axisNames.length) throw new ShardingError(`${where}: mesh axis names ${JSON.stringify(mesh.axisNames)} repeat a name`);
  mesh.shape.forEach((s, i) => {
    if (!Number.isInteger(s) || s < 1) throw new ShardingError(`${where}: mesh axis '${mesh.axisNames[i]}' has size ${JSON.stringify(s)}; sizes must be positive integers`);
  });
  if (Object.isFrozen(mesh) && Object.isFrozen(mesh.axisNames) && Object.isFrozen(mesh.shape)) return mesh;
  return Object.freeze({ axisNames: Object.freeze([...mesh.axisNames]) as string[], shape: Object.freeze([...mesh.shape]) as number[] });
}

/** Number of devices of a mesh. */
export function meshSize(mesh: MeshShape): number {
  return mesh.shape.reduce((a, b) => a * b, 1);
}

/** Size of one mesh axis, with a clear error for an unknown name. */
export function axisSize(mesh: MeshShape, axis: string): number {
  const i = mesh.axisNames.indexOf(axis);
  if (i < 0) throw new ShardingError(`unknown mesh axis '${axis}'; the mesh has axes ${fmtMesh(mesh)}`);
  return mesh.shape[i];
}

/** Product of the sizes of several mesh axes (1 for none). */
export function axesSize(mesh: MeshShape, axes: readonly string[]): number {
  let n = 1;
  for (const a of axes) n *= axisSize(mesh, a);
  return n;
}

/** Whether two meshes have the same axis names and sizes in the same order. */
export function meshEqual(a: MeshShape, b: MeshShape): boolean {
  return a === b || (listEqual(a.axisNames, b.axisNames) && listEqual(a.shape, b.shape));
}

/** `{data=2, model=2}`. */
export function fmtMesh(mesh: MeshShape): string {
  return `{${mesh.axisNames.map((n, i) => `${n}=${mesh.shape[i]}`).join(', ')}}`;
}

/** Coordinates of a device on each mesh axis (row-major numbering). */
export function meshCoords(mesh: MeshShape, deviceId: number): number[] {
  const n = meshSize(mesh);
  if (!Number.isInteger(deviceId) || deviceId < 0 || deviceId >= n) throw new ShardingError(`device id ${deviceId} is out of range for mesh ${fmtMesh(mesh)} (${n} devices: 0..${n - 1})`);
  const c = new Array<number>(mesh.shape.length);
  let r = deviceId;
  for (let i = mesh.shape.length - 1; i >= 0; i--) {
    c[i] = r % mesh.shape[i];
    r = Math.floor(r / mesh.shape[i]);
  }
  return c;
}

/**
 * A partition spec, one entry per array dimension: an axis name, a list of axis names (major →
 * minor), or null (`undefined` is accepted as null). `P('data', null)`, `P(['data', 'model'])`.
 */
export function P(...entries: (string | readonly string[] | null | undefined)[]): PartitionSpec {
  return entries.map((e, i) => {
    if (e === null || e === undefined) return null;
    if (typeof e === 'string') {
      if (e === '') throw new ShardingError(`P: entry ${i} is an empty string; use null for a dimension that is not split`);
      return e;
    }
    if (Array.isArray(e) && e.every((a) => typeof a === 'string' && a !== '')) return e.length === 0 ? null : [...e];
    throw new ShardingError(`P: entry ${i} is ${describe(e)}; each entry is a mesh axis name, a list of axis names, or null`);
  });
}

function specEntryAxes(e: unknown, i: number, where: string): string[] {
  if (e === null || e === undefined) return [];
  if (typeof e === 'string') return [e];
  if (Array.isArray(e) && e.every((a) => typeof a === 'string')) return [...e];
  throw new ShardingError(`${where}: partition spec entry ${i} is ${describe(e)}; each entry is a mesh axis name, a list of axis names, or null`);
}

/**
 * A sharding from a mesh and a partition spec (no pending sums). With `rank`, the spec is checked
 * against the array's rank and padded to it. Throws on unknown mesh axes, an axis used twice, or
 * a spec longer than the rank.
 */
export function NamedSharding(mesh: MeshShape, spec: PartitionSpec, rank?: number): Sharding {
  const m = checkMeshShape(mesh, 'NamedSharding');
  if (!Array.isArray(spec)) throw new ShardingError(`NamedSharding: the spec must be a partition spec such as P('data', null), got ${describe(spec)}`);
  const dims = spec.map((e, i) => specEntryAxes(e, i, 'NamedSharding'));
  return makeSharding(m, dims, [], rank, 'NamedSharding');
}

/** The fully replicated sharding of an array of rank `rank` on `mesh`. */
export function replicated(mesh: MeshShape, rank: number): Sharding {
  if (!Number.isInteger(rank) || rank < 0) throw new ShardingError(`replicated: rank must be a non-negative integer, got ${describe(rank)}`);
  return new ShardingValue(checkMeshShape(mesh, 'replicated'), Array.from({ length: rank }, () => []), []);
}

/**
 * Builds (and validates) a sharding from its parts; `partial` is kept in mesh-axis order. With
 * `rank`, `dims` is padded to the rank (and must not be longer).
 */
export function makeSharding(mesh: MeshShape, dims: readonly (readonly string[])[], partial: readonly string[] = [], rank?: number, where = 'sharding'): Sharding {
  const m = checkMeshShape(mesh, where);
  const s = { mesh: m, dims: dims.map((d) => [...d]), partial: [...partial] };
  validateSharding(s, rank, where);
  const order = (a: string) => m.axisNames.indexOf(a);
  const padded = rank === undefined ? s.dims : [...s.dims, ...Array.from({ length: rank - s.dims.length }, () => [] as string[])];
  return new ShardingValue(m, padded, [...s.partial].sort((a, b) => order(a) - order(b)));
}

/**
 * Checks a sharding: a well-formed mesh, known axis names, no axis used twice (across dims and
 * partial), and — with `rank` — no more dims than the array has.
 */
export function validateSharding(s: Sharding, rank?: number, where = 'sharding'): void {
  if (s === null || typeof s !== 'object' || !Array.isArray(s.dims) || !Array.isArray(s.partial)) {
    throw new ShardingError(`${where}: expected a sharding {mesh, dims, partial} (make one with NamedSharding(mesh, P(...))), got ${describe(s)}`);
  }
  const mesh = checkMeshShape(s.mesh, where);
  if (rank !== undefined && s.dims.length > rank) {
    throw new ShardingError(`${where}: the spec ${specToString(s)} has ${s.dims.length} entries but the array has rank ${rank}; give at most one entry per dimension`);
  }
  const seen = new Map<string, string>();
  const use = (a: unknown, what: string) => {
    if (typeof a !== 'string') throw new ShardingError(`${where}: ${what} lists ${describe(a)}, which is not a mesh axis name`);
    if (!mesh.axisNames.includes(a)) throw new ShardingError(`${where}: unknown mesh axis '${a}' in ${what}; the mesh has axes ${fmtMesh(mesh)}`);
    const prev = seen.get(a);
    if (prev !== undefined) throw new ShardingError(`${where}: mesh axis '${a}' is used twice (in ${prev} and in ${what}); each mesh axis may split at most one dimension`);
    seen.set(a, what);
  };
  s.dims.forEach((d, i) => {
    if (!Array.isArray(d)) throw new ShardingError(`${where}: dims[${i}] must be a list of mesh axis names, got ${describe(d)}`);
    d.forEach((a) => use(a, `dimension ${i}`));
  });
  s.partial.forEach((a) => use(a, 'partial'));
}

/** Whether `x` looks like a sharding ({mesh, dims, partial}). */
export function isSharding(x: unknown): x is Sharding {
  if (x === null || typeof x !== 'object') return false;
  const s = x as Partial<Sharding>;
  return Array.isArray(s.dims) && Array.isArray(s.partial) && s.mesh !== undefined && s.mesh !== null && Array.isArray(s.mesh.axisNames);
}

/** The mesh axes tiling dimension `dim` ([] past the end of `dims`). */
export function dimAxes(s: Sharding, dim: number): string[] {
  return s.dims[dim] ?? [];
}

/** Number of shards along dimension `dim` (the product of its mesh axes' sizes). */
export function shardCount(s: Sharding, dim: number): number {
  return axesSize(s.mesh, dimAxes(s, dim));
}

/** The per-device shape: each dimension padded up to a multiple of its shard count, divided. */
export function shardShape(globalShape: readonly number[], s: Sharding): number[] {
  validateSharding(s, globalShape.length, 'shardShape');
  return globalShape.map((d, i) => Math.ceil(d / shardCount(s, i)));
}

/** Where one device's shard lies in the global array. */
export interface DeviceSlice {
  /** Per dim, the device's shard index along that dim (0 … shards − 1). */
  index: number[];
  /** Per dim, the first global index the device holds (clamped to the dim size). */
  start: number[];
  /** Per dim, one past the last valid global index the device holds. */
  limit: number[];
  /** Per dim, the number of valid (non-padding) elements: limit − start (may be 0). */
  valid: number[];
}

/**
 * The part of the global array held by `deviceId`. Along a dim of size d split k ways, shard j
 * covers [j·ceil(d/k), (j+1)·ceil(d/k)) of the padded dim; only the part below d is valid.
 * Devices that differ only in replicated or partial axes hold the same slice.
 */
export function deviceSlice(globalShape: readonly number[], s: Sharding, deviceId: number): DeviceSlice {
  validateSharding(s, globalShape.length, 'deviceSlice');
  const coords = meshCoords(s.mesh, deviceId);
  const index: number[] = [], start: number[] = [], limit: number[] = [], valid: number[] = [];
  globalShape.forEach((d, i) => {
    let j = 0;
    for (const a of dimAxes(s, i)) {
      const k = s.mesh.axisNames.indexOf(a);
      j = j * s.mesh.shape[k] + coords[k];
    }
    const per = Math.ceil(d / shardCount(s, i));
    const lo = Math.min(j * per, d);
    const hi = Math.min(j * per + per, d);
    index.push(j);
    start.push(lo);
    limit.push(hi);
    valid.push(hi - lo);
  });
  return { index, start, limit, valid };
}

/**
 * GSPMD's tile-assignment view. `tileShape` has one entry per array dim (its shard count), then
 * two more: the product of the partial axes' sizes and the product of the replicated axes'
 * sizes. `devices` is the row-major device array of that shape: the entry at
 * [t0, …, t(r−1), p, q] is the device holding tile (t0, …) whose rank among the devices summing
 * the partial value is p and among the replicas is q (partial and replicated axes in mesh order).
 */
export interface TileAssignment {
  tileShape: number[];
  devices: number[];
}

/** The tile assignment of a sharding of an array of rank `rank` (default: `s.dims.length`). */
export function tileAssignment(s: Sharding, rank: number = s.dims.length): TileAssignment {
  validateSharding(s, rank, 'tileAssignment');
  const mesh = s.mesh;
  const dims = Array.from({ length: rank }, (_, i) => dimAxes(s, i));
  const used = new Set([...dims.flat(), ...s.partial]);
  const partial = mesh.axisNames.filter((a) => s.partial.includes(a));
  const repl = mesh.axisNames.filter((a) => !used.has(a));
  const groups = [...dims, partial, repl];
  const tileShape = groups.map((g) => axesSize(mesh, g));
  const n = meshSize(mesh);
  const devices = new Array<number>(n);
  for (let dev = 0; dev < n; dev++) {
    const coords = meshCoords(mesh, dev);
    let flat = 0;
    groups.forEach((g, gi) => {
      let t = 0;
      for (const a of g) {
        const k = mesh.axisNames.indexOf(a);
        t = t * mesh.shape[k] + coords[k];
      }
      flat = flat * tileShape[gi] + t;
    });
    devices[flat] = dev;
  }
  return { tileShape, devices };
}

/**
 * A sharding from parts the caller has already validated (same mesh object, known axes, each
 * axis once, `dims` of the array's rank, `partial` in mesh order). For internal fast paths
 * (propagation builds thousands); everyone else uses {@link makeSharding}.
 */
export function trustedSharding(mesh: MeshShape, dims: readonly (readonly string[])[], partial: readonly string[]): Sharding {
  return new ShardingValue(mesh, dims as string[][], partial as string[]);
}

/** Pads (or checks) a sharding to an array of rank `rank`: the result has exactly `rank` dims. */
export function shardingForRank(s: Sharding, rank: number, where = 'sharding'): Sharding {
  validateSharding(s, rank, where);
  if (s.dims.length === rank && s instanceof ShardingValue) return s;
  return makeSharding(s.mesh, s.dims, s.partial, rank, where);
}

/**
 * Whether two shardings are the same layout: equal meshes, equal axes per dim (missing trailing
 * dims count as not split) and the same set of partial axes.
 */
export function shardingEqual(a: Sharding, b: Sharding): boolean {
  if (!meshEqual(a.mesh, b.mesh)) return false;
  const n = Math.max(a.dims.length, b.dims.length);
  for (let i = 0; i < n; i++) if (!listEqual(dimAxes(a, i), dimAxes(b, i))) return false;
  return a.partial.length === b.partial.length && a.partial.every((x) => b.partial.includes(x));
}

/** Whether every dim is unsplit and nothing is partial. */
export function isReplicated(s: Sharding): boolean {
  return s.partial.length === 0 && s.dims.every((d) => d.length === 0);
}

/** The partition spec of a sharding (ignores `partial`). Trailing unsplit dims are kept. */
export function specOf(s: Sharding): PartitionSpec {
  return s.dims.map((d) => (d.length === 0 ? null : d.length === 1 ? d[0] : [...d]));
}

function specToString(s: Sharding, compact = false): string {
  const sep = compact ? ',' : ', ';
  const entry = (d: readonly string[]) => (d.length === 0 ? 'None' : d.length === 1 ? `'${d[0]}'` : `(${d.map((a) => `'${a}'`).join(sep)})`);
  return `P(${s.dims.map(entry).join(sep)})`;
}

/** Options of {@link shardingToString}. */
export interface ShardingToStringOptions {
  /**
   * 'spec' (default): JAX-style `P('data', None)`, plus ` partial('model')` when partial.
   * 'tile': `{devices=[2,1] data, R: model}` — shards per dim, the axes used, then the
   * replicated (`R:`) and partial (`partial:`) axes.
   */
  style?: 'spec' | 'tile';
  /** No spaces (for the Graph printer): `P('data',None)+partial('model')`. */
  compact?: boolean;
}

/** Readable text of a sharding (see {@link ShardingToStringOptions}). */
export function shardingToString(s: Sharding, opts: ShardingToStringOptions = {}): string {
  const compact = opts.compact ?? false;
  if (opts.style === 'tile') {
    const used = s.dims.flat();
    const repl = s.mesh.axisNames.filter((a) => !used.includes(a) && !s.partial.includes(a));
    const parts = [`devices=[${s.dims.map((d) => axesSize(s.mesh, d)).join(',')}]${used.length ? ' ' + used.join(', ') : ''}`];
    if (repl.length) parts.push(`R: ${repl.join(', ')}`);
    if (s.partial.length) parts.push(`partial: ${s.partial.join(', ')}`);
    return `{${parts.join(', ')}}`;
  }
  const spec = specToString(s, compact);
  if (s.partial.length === 0) return spec;
  const p = `partial(${s.partial.map((a) => `'${a}'`).join(compact ? ',' : ', ')})`;
  return compact ? `${spec}+${p}` : `${spec} ${p}`;
}

/** Plain-data copy of a sharding (for JSON and structured cloning). */
export function shardingToJSON(s: Sharding): Sharding {
  return { mesh: { axisNames: [...s.mesh.axisNames], shape: [...s.mesh.shape] }, dims: s.dims.map((d) => [...d]), partial: [...s.partial] };
}

/** A validated sharding from plain data (e.g. parsed JSON). */
export function shardingFromJSON(x: unknown): Sharding {
  if (!isSharding(x)) throw new ShardingError(`shardingFromJSON: expected {mesh: {axisNames, shape}, dims, partial}, got ${describe(x)}`);
  return makeSharding(x.mesh, x.dims, x.partial, undefined, 'shardingFromJSON');
}

function listEqual<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Short description of a bad value for error messages. */
export function describe(x: unknown): string {
  if (x === undefined) return 'undefined';
  if (typeof x === 'function') return `function ${x.name || '(anonymous)'}`;
  try {
    const j = JSON.stringify(x);
    if (j !== undefined) return j.length > 120 ? j.slice(0, 117) + '...' : j;
  } catch {
    /* fall through */
  }
  return String(x);
}
