/**
 * Resharding for the SPMD partitioner: turning a per-device value laid out by one sharding into
 * the same global value laid out by another, with collectives emitted into the per-device program
 * being traced. `planReshard(mesh, shape, from, to)` is a pure function that lists the steps;
 * `reshardCost` prices a plan in bytes moved per device (the partitioner's cost model, e.g. to
 * choose how a dot_general is split); `SpmdEmitter.reshard` emits a plan with `lax` ops.
 *
 * Layout (docs/sharding.md): a dimension of size d tiled by mesh axes with K shards in total holds
 * c = ceil(d/K) rows per device; shard j covers [j·c, (j+1)·c) of the dimension padded to K·c, so
 * padding only ever sits at the global end. Every per-device value is the shard of that padded
 * global array; `PValue.padZero` records whether its padded positions are known to hold 0.
 *
 * The plan, in order (as GSPMD does):
 * 1. pending sums (`partial`) the target does not keep: a reduce_scatter onto the dimension the
 *    target tiles next with that axis, else one all_reduce over all the remaining axes;
 * 2. then, until the tiling matches: a **local slice** (dynamic_slice at axis_index·c) for every
 *    dimension whose target only adds axes that are replicated now; else a **collective
 *    permute** when every dimension keeps its shard count but tiles move between devices; else an
 *    **all-to-all** moving the minor axis of one dimension to the dimension that wants it next;
 *    else an **all-gather** of the mismatched (minor) axes, followed by a slice;
 * 3. pending sums the target adds: kept on group rank 0, zeros elsewhere (a select, no traffic).
 * Uneven dimensions are handled exactly: a step that would change the padding layout of a
 * dimension split over several axes (e.g. [5] over 2×2 devices gathering the minor axis) gathers
 * the dimension completely, trims the padding and slices again. Nothing is silently replicated.
 */

import { Array } from '../../core/array.js';
import { isFloat, type DType } from '../../core/dtype.js';
import { MyriadError } from '../../core/errors.js';
import * as lax from '../../core/lax.js';
import { shardingToString, trustedSharding, type MeshShape, type Sharding } from '../sharding/sharding.js';
import { groupParams } from './groups.js';

/** Errors of the partitioner (bad programs or shardings it cannot partition). */
export class PartitionError extends MyriadError {}

/**
 * A per-device value of the program being partitioned: the device's shard of a global value.
 */
export interface PValue {
  /** The per-device array (a tracer of the per-device program, or a concrete constant). */
  readonly x: Array;
  /** The global shape. */
  readonly shape: readonly number[];
  /** The layout: dims padded to the rank, partial axes in mesh order. */
  readonly s: Sharding;
  /** Whether the padded positions (past the global end of uneven dims) hold 0 on every device. */
  readonly padZero: boolean;
  /** Whether the value is known to be all zeros (a broadcast literal 0): a pending sum over anything. */
  readonly zero: boolean;
}

/** One step of a resharding plan (see the file header). */
export type ReshardStep =
  | { kind: 'all_reduce'; axes: string[] }
  | { kind: 'reduce_scatter'; axes: string[]; dim: number }
  | { kind: 'slice'; dims: { dim: number; axes: string[] }[] }
  | { kind: 'permute'; axes: string[]; pairs: [number, number][]; dims: string[][] }
  | { kind: 'all_to_all'; axes: string[]; from: number; to: number }
  | { kind: 'all_gather'; axes: string[]; dim: number }
  | { kind: 'partialize'; axes: string[] };

/** The layout state a plan works on. */
interface Layout {
  dims: string[][];
  partial: string[];
}

const isPrefix = (a: readonly string[], b: readonly string[]): boolean => a.length <= b.length && a.every((x, i) => x === b[i]);
const listEq = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Mesh-axis size lookups. */
export class MeshInfo {
  private readonly sizes = new Map<string, number>();
  private readonly order = new Map<string, number>();
  constructor(readonly mesh: MeshShape) {
    mesh.axisNames.forEach((a, i) => {
      this.sizes.set(a, mesh.shape[i]);
      this.order.set(a, i);
    });
  }
  /** Size of one axis. */
  size(a: string): number {
    const s = this.sizes.get(a);
    if (s === undefined) throw new PartitionError(`mesh axis '${a}' is not in the mesh (axes ${JSON.stringify(this.mesh.axisNames)})`);
    return s;
  }
  /** Product of the axes' sizes. */
  count(axes: readonly string[]): number {
    let n = 1;
    for (const a of axes) n *= this.size(a);
    return n;
  }
  /** Axes sorted in mesh order. */
  sorted(axes: Iterable<string>): string[] {
    return [...axes].sort((a, b) => this.order.get(a)! - this.order.get(b)!);
  }
  /** A sharding from parts (dims copied, partial sorted into mesh order). */
  sharding(dims: readonly (readonly string[])[], partial: Iterable<string> = []): Sharding {
    return trustedSharding(this.mesh, dims.map((d) => [...d]), this.sorted(new Set(partial)));
  }
  /** Per-device size of a dim of size d tiled by `axes`. */
  local(d: number, axes: readonly string[]): number {
    return Math.ceil(d / this.count(axes));
  }
  /** The per-device shape of `shape` laid out by `dims`. */
  localShape(shape: readonly number[], dims: readonly (readonly string[])[]): number[] {
    return shape.map((d, i) => this.local(d, dims[i] ?? []));
  }
  /** Whether the layout has padding (some tiled dim not divisible by its shard count). */
  hasPadding(shape: readonly number[], dims: readonly (readonly string[])[]): boolean {
    return shape.some((d, i) => (dims[i]?.length ?? 0) > 0 && d % this.count(dims[i]) !== 0);
  }
  /** Whether dimension `i` is padded under `dims`. */
  padded(shape: readonly number[], dims: readonly (readonly string[])[], i: number): boolean {
    const a = dims[i] ?? [];
    return a.length > 0 && shape[i] % this.count(a) !== 0;
  }
  /**
   * Whether adding `add` after `prefix` on a dim of size d keeps shard boundaries aligned: from
   * an unsplit dim always (pad, then slice); otherwise only when the sub-shards tile the shard.
   */
  refineOk(d: number, prefix: readonly string[], add: readonly string[]): boolean {
    const kp = this.count(prefix);
    if (kp === 1) return true;
    const ka = this.count(add);
    return ka * Math.ceil(d / (kp * ka)) === Math.ceil(d / kp);
  }
  /** Whether removing the minor axes `suffix` (leaving `prefix`) is a plain concatenation of shards. */
  coarsenOk(d: number, prefix: readonly string[], suffix: readonly string[]): boolean {
    return this.refineOk(d, prefix, suffix);
  }
}

/** Bytes per element of a dtype (for the cost model). */
export function dtypeBytes(d: DType): number {
  return d === 'float64' ? 8 : d === 'bool' ? 1 : d === 'float16' || d === 'bfloat16' ? 2 : 4;
}

/** The identity of a reduction for a dtype: what padding is masked with. */
export function reductionIdentity(op: 'sum' | 'max' | 'min', dtype: DType): number {
  if (op === 'sum') return 0;
  if (isFloat(dtype)) return op === 'max' ? -Infinity : Infinity;
  switch (dtype) {
    case 'int32': return op === 'max' ? -2147483648 : 2147483647;
    case 'uint32': return op === 'max' ? 0 : 4294967295;
    case 'bool': return op === 'max' ? 0 : 1;
    default: throw new PartitionError(`no ${op} identity for dtype ${dtype}`);
  }
}

/**
 * The steps that turn layout `from` into layout `to` for a global array of `shape` (see the file
 * header for the order). Pure: no ops are emitted.
 */
export function planReshard(info: MeshInfo, shape: readonly number[], from: Sharding, to: Sharding): ReshardStep[] {
  const rank = shape.length;
  const cur: Layout = { dims: fillList(rank, (i) => [...(from.dims[i] ?? [])]), partial: [...from.partial] };
  const want: Layout = { dims: fillList(rank, (i) => [...(to.dims[i] ?? [])]), partial: [...to.partial] };
  const steps: ReshardStep[] = [];

  // 1. pending sums the target does not keep
  let drop = cur.partial.filter((a) => !want.partial.includes(a));
  if (drop.length) {
    for (let j = 0; j < rank && drop.length; j++) {
      const cd = cur.dims[j], td = want.dims[j];
      if (!isPrefix(cd, td)) continue;
      const run: string[] = [];
      for (let k = cd.length; k < td.length && drop.includes(td[k]); k++) run.push(td[k]);
      while (run.length && !info.refineOk(shape[j], cd, run)) run.pop();
      if (!run.length) continue;
      steps.push({ kind: 'reduce_scatter', axes: run, dim: j });
      cd.push(...run);
      drop = drop.filter((a) => !run.includes(a));
      cur.partial = cur.partial.filter((a) => !run.includes(a));
    }
    if (drop.length) {
      steps.push({ kind: 'all_reduce', axes: info.sorted(drop) });
      cur.partial = cur.partial.filter((a) => !drop.includes(a));
    }
  }

  // 2. tiling
  const maxIter = 4 * rank + 8;
  for (let iter = 0; ; iter++) {
    if (cur.dims.every((d, i) => listEq(d, want.dims[i]))) break;
    if (iter > maxIter) throw new PartitionError(`internal: resharding ${shardingToString(from)} → ${shardingToString(to)} for shape [${shape.join(',')}] does not converge`);
    const used = new Set<string>([...cur.dims.flat(), ...cur.partial]);

    // a. local slices
    const slices: { dim: number; axes: string[] }[] = [];
    for (let j = 0; j < rank; j++) {
      const cd = cur.dims[j], td = want.dims[j];
      if (!isPrefix(cd, td) || td.length === cd.length) continue;
      const run: string[] = [];
      for (let k = cd.length; k < td.length && !used.has(td[k]); k++) run.push(td[k]);
      while (run.length && !info.refineOk(shape[j], cd, run)) run.pop();
      if (run.length) slices.push({ dim: j, axes: run });
    }
    if (slices.length) {
      steps.push({ kind: 'slice', dims: slices });
      for (const s of slices) cur.dims[s.dim].push(...s.axes);
      continue;
    }

    // b. collective permute: same shard counts per dim, tiles on other devices
    if (cur.dims.every((d, i) => info.count(d) === info.count(want.dims[i]))) {
      steps.push(permuteStep(info, cur.dims, want.dims));
      cur.dims = want.dims.map((d) => [...d]);
      continue;
    }

    // c. all-to-all: the minor axis of a mismatched dim goes to the dim that wants it next
    let moved = false;
    for (let i = 0; i < rank && !moved; i++) {
      const cd = cur.dims[i];
      if (isPrefix(cd, want.dims[i])) continue;
      const a = cd[cd.length - 1];
      const rest = cd.slice(0, -1);
      if (!info.coarsenOk(shape[i], rest, [a])) continue;
      for (let j = 0; j < rank; j++) {
        if (j === i) continue;
        const cj = cur.dims[j], tj = want.dims[j];
        if (!isPrefix(cj, tj) || tj[cj.length] !== a || !info.refineOk(shape[j], cj, [a])) continue;
        steps.push({ kind: 'all_to_all', axes: [a], from: i, to: j });
        cd.pop();
        cj.push(a);
        moved = true;
        break;
      }
    }
    if (moved) continue;

    // d. all-gather the mismatched minor axes (the whole dim when the padding layout would change)
    let gathered = false;
    for (let i = 0; i < rank; i++) {
      const cd = cur.dims[i], td = want.dims[i];
      let keep: number;
      if (!isPrefix(cd, td)) {
        keep = 0;
        while (keep < cd.length && keep < td.length && cd[keep] === td[keep]) keep++;
        if (!info.coarsenOk(shape[i], cd.slice(0, keep), cd.slice(keep))) keep = 0;
      } else if (td.length > cd.length && cd.length > 0 && !used.has(td[cd.length]) && !info.refineOk(shape[i], cd, [td[cd.length]])) {
        keep = 0; // the next split would not align with the current shards: start over from unsplit
      } else continue;
      if (keep === cd.length) continue;
      steps.push({ kind: 'all_gather', axes: cd.slice(keep), dim: i });
      cur.dims[i] = cd.slice(0, keep);
      gathered = true;
    }
    if (!gathered) throw new PartitionError(`internal: no resharding step applies for ${shardingToString(from)} → ${shardingToString(to)} at [${cur.dims.map((d) => d.join('+')).join(', ')}]`);
  }

  // 3. pending sums the target adds
  const add = want.partial.filter((a) => !cur.partial.includes(a));
  if (add.length) steps.push({ kind: 'partialize', axes: info.sorted(add) });
  return steps;
}

function fillList<T>(n: number, f: (i: number) => T): T[] {
  return globalThis.Array.from({ length: n }, (_, i) => f(i));
}

/**
 * A collective permute from tiling `from` to tiling `to` (equal shard counts per dim), over the
 * mesh axes either uses. Devices already holding the tile they need keep it (self pairs); the
 * others are matched to sources in rank order. One pass over the group (no per-device code in
 * the program: the pairs are data of one collective).
 */
function permuteStep(info: MeshInfo, from: string[][], to: string[][]): ReshardStep {
  const axes = info.sorted(new Set([...from.flat(), ...to.flat()]));
  const sizes = axes.map((a) => info.size(a));
  const n = sizes.reduce((x, y) => x * y, 1);
  const coords = (r: number): Map<string, number> => {
    const m = new Map<string, number>();
    for (let i = axes.length - 1; i >= 0; i--) {
      m.set(axes[i], r % sizes[i]);
      r = Math.floor(r / sizes[i]);
    }
    return m;
  };
  const tileOf = (dims: string[][], c: Map<string, number>): string =>
    dims.map((d) => d.reduce((t, a) => t * info.size(a) + c.get(a)!, 0)).join(',');
  const have: string[] = [], need: string[] = [];
  for (let r = 0; r < n; r++) {
    const c = coords(r);
    have.push(tileOf(from, c));
    need.push(tileOf(to, c));
  }
  const pairs: [number, number][] = [];
  const sending = new globalThis.Array<boolean>(n).fill(false);
  const served = new globalThis.Array<boolean>(n).fill(false);
  for (let r = 0; r < n; r++) {
    if (have[r] === need[r]) {
      pairs.push([r, r]);
      sending[r] = served[r] = true;
    }
  }
  const sources = new Map<string, number[]>();
  for (let r = 0; r < n; r++) if (!sending[r]) (sources.get(have[r]) ?? sources.set(have[r], []).get(have[r])!).push(r);
  for (let t = 0; t < n; t++) {
    if (served[t]) continue;
    const src = sources.get(need[t])?.shift();
    if (src === undefined) throw new PartitionError(`internal: no device holds tile (${need[t]}) for a collective permute`);
    pairs.push([src, t]);
  }
  pairs.sort((a, b) => a[1] - b[1]);
  return { kind: 'permute', axes, pairs, dims: to.map((d) => [...d]) };
}

/**
 * The communication cost of resharding, in bytes per device (all-reduce 2(k−1)/k, reduce-scatter
 * and all-to-all (k−1)/k, all-gather (k−1) times the local bytes before the step; a permute the
 * local bytes; slices and partial-izing are free).
 */
export function reshardCost(info: MeshInfo, shape: readonly number[], dtype: DType, from: Sharding, to: Sharding): number {
  const steps = planReshard(info, shape, from, to);
  if (steps.length === 0) return 0;
  const b = dtypeBytes(dtype);
  let dims = from.dims.map((d) => [...d]);
  let cost = 0;
  const elems = () => info.localShape(shape, dims).reduce((x, y) => x * y, 1);
  for (const st of steps) {
    const n = elems() * b;
    switch (st.kind) {
      case 'all_reduce': {
        const k = info.count(st.axes);
        cost += (2 * (k - 1) * n) / k;
        break;
      }
      case 'reduce_scatter': {
        const k = info.count(st.axes);
        cost += ((k - 1) * n) / k;
        dims[st.dim] = [...dims[st.dim], ...st.axes];
        break;
      }
      case 'all_to_all': {
        const k = info.count(st.axes);
        cost += ((k - 1) * n) / k;
        dims[st.from] = dims[st.from].slice(0, -st.axes.length);
        dims[st.to] = [...dims[st.to], ...st.axes];
        break;
      }
      case 'all_gather':
        cost += (info.count(st.axes) - 1) * n;
        dims[st.dim] = dims[st.dim].slice(0, dims[st.dim].length - st.axes.length);
        break;
      case 'permute':
        cost += n;
        dims = st.dims.map((d) => [...d]);
        break;
      case 'slice':
        for (const s of st.dims) dims[s.dim] = [...dims[s.dim], ...s.axes];
        break;
      case 'partialize':
        break;
    }
  }
  return cost;
}

/** Counts of collectives emitted, by primitive. */
export type CollectiveCounts = Record<'all_reduce' | 'all_gather' | 'reduce_scatter' | 'all_to_all' | 'collective_permute', number>;

/**
 * Emits per-device code while a per-device program is being traced: axis indices, shard
 * offsets, padding masks and resharding. Caches axis_index values, masks and reshards so each is
 * emitted once per program.
 */
export class SpmdEmitter {
  readonly info: MeshInfo;
  private readonly axisIdx = new Map<string, Array>();
  private readonly offsets = new Map<string, Array>();
  private readonly masks = new Map<string, Array>();
  private readonly reshards = new WeakMap<PValue, Map<string, PValue>>();
  /** Collectives emitted by resharding so far. */
  readonly counts: CollectiveCounts = { all_reduce: 0, all_gather: 0, reduce_scatter: 0, all_to_all: 0, collective_permute: 0 };

  constructor(readonly mesh: MeshShape) {
    this.info = new MeshInfo(mesh);
  }

  /** `{axes, axisSizes}` of a group. */
  group(axes: readonly string[]): { axes: string[]; axisSizes: number[] } {
    return groupParams(this.mesh, axes);
  }

  /** The device's rank in the group over `axes` (int32 scalar; axes[0] major). */
  axisIndex(axes: readonly string[]): Array {
    const key = axes.join(',');
    let v = this.axisIdx.get(key);
    if (!v) {
      v = lax.axisIndex(this.group(axes));
      this.axisIdx.set(key, v);
    }
    return v;
  }

  /** rank(axes) · c as an int32 scalar: the first global index of the device's shard. */
  offset(axes: readonly string[], c: number): Array {
    const key = `${axes.join(',')}|${c}`;
    let v = this.offsets.get(key);
    if (!v) {
      v = c === 1 ? this.axisIndex(axes) : lax.mul(this.axisIndex(axes), Array.scalar(c, 'int32'));
      this.offsets.set(key, v);
    }
    return v;
  }

  /**
   * A bool mask (of the value's local shape) that is true at valid positions along the given
   * dims (false in the padding past the global end), or null when none of them is padded.
   */
  validMask(shape: readonly number[], s: Sharding, dims: readonly number[]): Array | null {
    const info = this.info;
    const padded = dims.filter((i) => info.padded(shape, s.dims, i));
    if (!padded.length) return null;
    const local = info.localShape(shape, s.dims);
    let mask: Array | null = null;
    for (const i of padded) {
      const axes = s.dims[i];
      const c = info.local(shape[i], axes);
      const key = `${local.join(',')}|${i}|${axes.join(',')}|${shape[i]}`;
      let m = this.masks.get(key);
      if (!m) {
        const idx = lax.add(lax.iota('int32', local, i), lax.broadcastInDim(this.offset(axes, c), local, []));
        m = lax.lt(idx, lax.full(shape[i], 'int32', local));
        this.masks.set(key, m);
      }
      mask = mask ? lax.and(mask, m) : m;
    }
    return mask;
  }

  /** Replaces the padding of `pv` along `dims` by `value` (no-op when those dims are not padded). */
  maskPadding(pv: PValue, dims: readonly number[], value: number): PValue {
    if (value === 0 && pv.padZero) return pv;
    const mask = this.validMask(pv.shape, pv.s, dims);
    if (!mask) return pv;
    const x = lax.select(mask, pv.x, lax.full(value, pv.x.dtype, [...pv.x.shape]));
    const allDims = pv.shape.map((_, i) => i);
    const rest = allDims.filter((i) => !dims.includes(i) && this.info.padded(pv.shape, pv.s.dims, i));
    return { ...pv, x, padZero: value === 0 && (pv.padZero || rest.length === 0) };
  }

  /** A PValue from parts, checking the per-device shape (an internal invariant). */
  value(x: Array, shape: readonly number[], s: Sharding, padZero: boolean, zero = false): PValue {
    const want = this.info.localShape(shape, s.dims);
    if (want.length !== x.shape.length || want.some((d, i) => d !== x.shape[i])) {
      throw new PartitionError(`internal: per-device value [${x.shape.join(',')}] does not match [${want.join(',')}] for global [${shape.join(',')}] sharded ${shardingToString(s)}`);
    }
    return { x, shape, s, padZero: padZero || !this.info.hasPadding(shape, s.dims), zero };
  }

  /** Reshards `pv` to `to` (cached per value and target). */
  reshard(pv: PValue, to: Sharding): PValue {
    const key = `${to.dims.map((d) => d.join('+')).join(',')}|${to.partial.join(',')}`;
    let byKey = this.reshards.get(pv);
    const hit = byKey?.get(key);
    if (hit) return hit;
    const steps = planReshard(this.info, pv.shape, pv.s, to);
    let cur = pv;
    for (const st of steps) cur = this.apply(cur, st);
    if (!byKey) this.reshards.set(pv, (byKey = new Map()));
    byKey.set(key, cur);
    return cur;
  }

  private withDims(pv: PValue, dims: string[][], partial: readonly string[], x: Array, padZero: boolean): PValue {
    return this.value(x, pv.shape, this.info.sharding(dims, partial), padZero, pv.zero);
  }

  /** The layout change of a step over single-device groups (no data moves). */
  private relabel(pv: PValue, st: ReshardStep): PValue {
    const dims = pv.s.dims.map((d) => [...d]);
    let partial = [...pv.s.partial];
    switch (st.kind) {
      case 'all_reduce': partial = partial.filter((a) => !st.axes.includes(a)); break;
      case 'reduce_scatter': partial = partial.filter((a) => !st.axes.includes(a)); dims[st.dim].push(...st.axes); break;
      case 'slice': for (const sd of st.dims) dims[sd.dim].push(...sd.axes); break;
      case 'permute': return this.withDims(pv, st.dims.map((d) => [...d]), partial, pv.x, pv.padZero);
      case 'all_to_all': dims[st.from] = dims[st.from].slice(0, dims[st.from].length - st.axes.length); dims[st.to].push(...st.axes); break;
      case 'all_gather': dims[st.dim] = dims[st.dim].slice(0, dims[st.dim].length - st.axes.length); break;
      case 'partialize': partial.push(...st.axes); break;
    }
    return this.withDims(pv, dims, partial, pv.x, pv.padZero);
  }

  /** Pads local dim `i` up to `size` with zeros. */
  private padTo(x: Array, i: number, size: number): Array {
    const have = x.shape[i];
    if (have >= size) return x;
    const lo = x.shape.map(() => 0);
    const hi = x.shape.map((_, k) => (k === i ? size - have : 0));
    return lax.pad(x, 0, lo, hi);
  }

  /** Keeps the first `size` entries of local dim `i`. */
  private trimTo(x: Array, i: number, size: number): Array {
    if (x.shape[i] <= size) return x;
    return lax.slice(x, x.shape.map(() => 0), x.shape.map((d, k) => (k === i ? size : d)));
  }

  /** Whether a group over `axes` has a single device (its collectives are identities). */
  trivial(axes: readonly string[]): boolean {
    return this.info.count(axes) === 1;
  }

  private apply(pv: PValue, st: ReshardStep): PValue {
    const info = this.info;
    if (st.kind !== 'slice' && this.trivial(st.axes)) return this.relabel(pv, st);
    const dims = pv.s.dims.map((d) => [...d]);
    const shape = pv.shape;
    let x = pv.x;
    switch (st.kind) {
      case 'all_reduce': {
        this.counts.all_reduce++;
        x = lax.allReduce(x, { ...this.group(st.axes), op: 'sum' });
        return this.withDims(pv, dims, pv.s.partial.filter((a) => !st.axes.includes(a)), x, pv.padZero);
      }
      case 'reduce_scatter': {
        const prefix = dims[st.dim];
        const c = info.local(shape[st.dim], [...prefix, ...st.axes]);
        x = this.padTo(x, st.dim, c * info.count(st.axes));
        this.counts.reduce_scatter++;
        x = lax.reduceScatter(x, { ...this.group(st.axes), dimension: st.dim });
        dims[st.dim] = [...prefix, ...st.axes];
        return this.withDims(pv, dims, pv.s.partial.filter((a) => !st.axes.includes(a)), x, pv.padZero);
      }
      case 'slice': {
        if (st.dims.every((sd) => this.trivial(sd.axes))) return this.relabel(pv, st);
        const starts: Array[] = x.shape.map(() => Array.scalar(0, 'int32'));
        const sizes = [...x.shape];
        for (const { dim, axes } of st.dims) {
          const prefix = dims[dim];
          const c = info.local(shape[dim], [...prefix, ...axes]);
          x = this.padTo(x, dim, c * info.count(axes));
          starts[dim] = this.offset(axes, c);
          sizes[dim] = c;
          dims[dim] = [...prefix, ...axes];
        }
        x = lax.dynamicSlice(x, starts, sizes);
        return this.withDims(pv, dims, pv.s.partial, x, pv.padZero || !info.hasPadding(shape, pv.s.dims));
      }
      case 'permute': {
        this.counts.collective_permute++;
        x = lax.collectivePermute(x, { ...this.group(st.axes), pairs: st.pairs });
        return this.withDims(pv, st.dims.map((d) => [...d]), pv.s.partial, x, pv.padZero);
      }
      case 'all_to_all': {
        const { from: i, to: j } = st;
        const restI = dims[i].slice(0, dims[i].length - st.axes.length);
        const cj = info.local(shape[j], [...dims[j], ...st.axes]);
        x = this.padTo(x, j, cj * info.count(st.axes));
        this.counts.all_to_all++;
        x = lax.allToAll(x, { ...this.group(st.axes), splitDimension: j, concatDimension: i });
        x = this.trimTo(x, i, info.local(shape[i], restI));
        dims[i] = restI;
        dims[j] = [...dims[j], ...st.axes];
        return this.withDims(pv, dims, pv.s.partial, x, pv.padZero);
      }
      case 'all_gather': {
        const i = st.dim;
        const rest = dims[i].slice(0, dims[i].length - st.axes.length);
        this.counts.all_gather++;
        x = lax.allGather(x, { ...this.group(st.axes), dimension: i });
        x = this.trimTo(x, i, info.local(shape[i], rest));
        dims[i] = rest;
        return this.withDims(pv, dims, pv.s.partial, x, pv.padZero);
      }
      case 'partialize': {
        if (!pv.zero) {
          if (x.dtype === 'bool') throw new PartitionError(`cannot make a bool value a pending sum (sharding ${shardingToString(pv.s)} → partial(${st.axes.join(', ')}))`);
          const first = lax.eq(this.axisIndex(st.axes), Array.scalar(0, 'int32'));
          x = lax.select(lax.broadcastInDim(first, [...x.shape], []), x, lax.full(0, x.dtype, [...x.shape]));
        }
        return this.withDims(pv, dims, [...pv.s.partial, ...st.axes], x, pv.padZero);
      }
    }
  }
}
