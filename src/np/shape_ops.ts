/**
 * Shape manipulation for the `np` library: reshape (with one -1), transpose/swapaxes/moveaxis,
 * expand_dims/squeeze, broadcasting, concatenate/stack/split, tile/repeat, pad, NumPy-style
 * slicing (`x.slice([0, 2], null, [1, null])`, negative starts and steps), flip/roll,
 * diagonal/trace/tril/triu, and `dynamicSlice`/`dynamicUpdateSlice` with numbers or int32
 * scalar arrays as starts. Everything is built on the structural primitives, so it traces and
 * differentiates.
 */

import { Array, type ArrayLike } from '../core/array.js';
import { AxisError, DTypeError, ShapeError, ValueError } from '../core/errors.js';
import * as lax from '../core/lax.js';
import { fmtShape, shapeEqual, sizeOf } from '../core/shape.js';
import { IndexError, bcast, diagOfSquare, checkInt, checkOperand, describe, normAxes, normAxis, promote, range, toArray, toDtype, type Axis } from './util.js';

function arg(x: ArrayLike, what = 'x'): Array {
  checkOperand(x, what);
  return toArray(x);
}

/**
 * Gives `x` a new shape with the same number of elements. One entry may be -1: it is inferred.
 * @example np.reshape(np.arange(6), [2, -1]) // shape [2,3]
 */
export function reshape(x: ArrayLike, shape: number | readonly number[]): Array {
  const a = arg(x);
  const s = typeof shape === 'number' ? [shape] : [...shape];
  if (!globalThis.Array.isArray(s) || s.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < -1)) {
    throw new ShapeError(`invalid shape ${JSON.stringify(shape)}; entries must be non-negative integers, with at most one -1`);
  }
  const unknown = s.filter((d) => d === -1).length;
  if (unknown > 1) throw new ShapeError(`shape ${fmtShape(s)} has more than one -1; only one dimension can be inferred`);
  if (unknown === 1) {
    const known = s.reduce((p, d) => (d === -1 ? p : p * d), 1);
    if (known === 0) throw new ShapeError(`cannot reshape ${fmtShape(a.shape)} to ${fmtShape(s)}: the -1 is ambiguous because the other dims multiply to 0; give every dim explicitly`);
    if (a.size % known !== 0) {
      throw new ShapeError(`cannot reshape ${fmtShape(a.shape)} (${a.size} elements) to ${fmtShape(s)}: the -1 cannot be inferred because ${a.size} is not a multiple of ${known}`);
    }
    s[s.indexOf(-1)] = a.size / known;
  }
  if (sizeOf(s) !== a.size) throw new ShapeError(`cannot reshape ${fmtShape(a.shape)} (${a.size} elements) to ${fmtShape(s)} (${sizeOf(s)} elements)`);
  return lax.reshape(a, s);
}

/** The elements of `x` as a 1-D array (row-major order). */
export function ravel(x: ArrayLike): Array {
  const a = arg(x);
  return lax.reshape(a, [a.size]);
}

/** Same as {@link ravel}. */
export function flatten(x: ArrayLike): Array {
  return ravel(x);
}

/**
 * Permutes the axes of `x`; by default reverses them (matrix transpose for 2-D).
 * @example np.transpose(x, [0, 2, 1])
 */
export function transpose(x: ArrayLike, axes?: readonly number[] | null): Array {
  const a = arg(x);
  if (axes === undefined || axes === null) return lax.transpose(a, range(a.ndim).reverse());
  if (!globalThis.Array.isArray(axes) || axes.length !== a.ndim) {
    throw new AxisError(`axes ${JSON.stringify(axes)} must list each of the ${a.ndim} axes of ${fmtShape(a.shape)} exactly once`);
  }
  const perm = axes.map((ax) => normAxis(ax, a.ndim));
  if (new Set(perm).size !== perm.length) throw new AxisError(`axes ${JSON.stringify(axes)} repeat an axis; a permutation of 0..${a.ndim - 1} is needed`);
  return lax.transpose(a, perm);
}

/** Exchanges two axes. */
export function swapaxes(x: ArrayLike, axis1: number, axis2: number): Array {
  const a = arg(x);
  const i = normAxis(axis1, a.ndim, 'axis1');
  const j = normAxis(axis2, a.ndim, 'axis2');
  const perm = range(a.ndim);
  perm[i] = j;
  perm[j] = i;
  return lax.transpose(a, perm);
}

/** Moves axes `source` to positions `destination`, keeping the order of the others. */
export function moveaxis(x: ArrayLike, source: number | readonly number[], destination: number | readonly number[]): Array {
  const a = arg(x);
  const src = (typeof source === 'number' ? [source] : [...source]).map((s) => normAxis(s, a.ndim, 'source axis'));
  const dst = (typeof destination === 'number' ? [destination] : [...destination]).map((s) => normAxis(s, a.ndim, 'destination axis'));
  if (src.length !== dst.length) throw new AxisError(`source ${JSON.stringify(source)} and destination ${JSON.stringify(destination)} must have the same number of axes`);
  if (new Set(src).size !== src.length || new Set(dst).size !== dst.length) throw new AxisError('moveaxis: repeated axis in source or destination');
  const order = range(a.ndim).filter((i) => !src.includes(i));
  const pairs = dst.map((d, i) => [d, src[i]] as const).sort((p, q) => p[0] - q[0]);
  for (const [d, s] of pairs) order.splice(d, 0, s);
  return lax.transpose(a, order);
}

/** Inserts size-1 axes at the given positions (counted in the result's rank). */
export function expand_dims(x: ArrayLike, axis: number | readonly number[]): Array {
  const a = arg(x);
  const list = typeof axis === 'number' ? [axis] : [...axis];
  const outRank = a.ndim + list.length;
  const axes = normAxes(list, outRank);
  const shape: number[] = [];
  let src = 0;
  for (let i = 0; i < outRank; i++) shape.push(axes.includes(i) ? 1 : a.shape[src++]);
  return lax.reshape(a, shape);
}

/** Removes size-1 axes: all of them, or the given ones (a ShapeError if one is not size 1). */
export function squeeze(x: ArrayLike, axis?: Axis): Array {
  const a = arg(x);
  let axes: number[];
  if (axis === undefined || axis === null) axes = range(a.ndim).filter((i) => a.shape[i] === 1);
  else {
    axes = normAxes(axis, a.ndim);
    for (const ax of axes) {
      if (a.shape[ax] !== 1) throw new ShapeError(`cannot squeeze axis ${ax} of an array of shape ${fmtShape(a.shape)}: its size is ${a.shape[ax]}, not 1`);
    }
  }
  return lax.reshape(a, a.shape.filter((_, i) => !axes.includes(i)));
}

/** Broadcasts `x` to `shape` with NumPy rules (trailing dims must match or be 1). */
export function broadcast_to(x: ArrayLike, shape: number | readonly number[]): Array {
  const a = arg(x);
  const s = typeof shape === 'number' ? [shape] : [...shape];
  if (s.some((d) => !Number.isInteger(d) || d < 0)) throw new ShapeError(`invalid target shape ${JSON.stringify(shape)}`);
  if (a.ndim > s.length) throw new ShapeError(`cannot broadcast shape ${fmtShape(a.shape)} to ${fmtShape(s)}: the target has fewer dimensions`);
  const off = s.length - a.ndim;
  a.shape.forEach((d, i) => {
    if (d !== 1 && d !== s[i + off]) {
      throw new ShapeError(`cannot broadcast shape ${fmtShape(a.shape)} to ${fmtShape(s)}: dimension ${i - a.ndim} has size ${d}, which is neither 1 nor ${s[i + off]}`);
    }
  });
  return bcast(a, s);
}

/** Broadcasts several arrays against each other (dtypes unchanged). */
export function broadcast_arrays(...xs: ArrayLike[]): Array[] {
  const arrs = xs.map((x, i) => arg(x, `argument ${i}`));
  if (arrs.length === 0) return [];
  // broadcastShapes gives the ShapeError naming all shapes
  const shape = arrs.reduce<number[]>((s, a) => broadcastPair(s, a.shape, arrs), [...arrs[0].shape]);
  return arrs.map((a) => bcast(a, shape));
}

function broadcastPair(s: number[], t: readonly number[], all: Array[]): number[] {
  const n = Math.max(s.length, t.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = s[s.length - n + i] ?? 1;
    const b = t[t.length - n + i] ?? 1;
    if (a !== b && a !== 1 && b !== 1) {
      throw new ShapeError(`shapes ${all.map((x) => fmtShape(x.shape)).join(' and ')} cannot be broadcast together (dimension ${i - n} has sizes ${a} and ${b})`);
    }
    out.push(a === 1 ? b : a);
  }
  return out;
}

/**
 * Joins arrays along an existing axis (default 0; `null` flattens them first). Dtypes are
 * promoted; all other dimensions must agree.
 */
export function concatenate(xs: readonly ArrayLike[], axis: number | null = 0): Array {
  if (!globalThis.Array.isArray(xs) || xs.length === 0) throw new ValueError('need a non-empty list of arrays to concatenate');
  xs.forEach((x, i) => checkOperand(x, `element ${i}`));
  let arrs = promote(xs);
  if (axis === null) {
    arrs = arrs.map((a) => lax.reshape(a, [a.size]));
    axis = 0;
  }
  const r = arrs[0].ndim;
  if (r === 0) throw new ShapeError('zero-dimensional arrays cannot be concatenated; use np.stack');
  const ax = normAxis(axis, r);
  for (const a of arrs) {
    if (a.ndim !== r || a.shape.some((d, i) => i !== ax && d !== arrs[0].shape[i])) {
      throw new ShapeError(`all arrays must have the same shape except along axis ${ax}; got ${arrs.map((b) => fmtShape(b.shape)).join(', ')}`);
    }
  }
  return lax.concatenate(arrs, ax);
}

/** Joins equally shaped arrays along a new axis (default 0). Dtypes are promoted. */
export function stack(xs: readonly ArrayLike[], axis = 0): Array {
  if (!globalThis.Array.isArray(xs) || xs.length === 0) throw new ValueError('need a non-empty list of arrays to stack');
  xs.forEach((x, i) => checkOperand(x, `element ${i}`));
  const arrs = promote(xs);
  const s0 = arrs[0].shape;
  for (const a of arrs) {
    if (!shapeEqual(a.shape, s0)) throw new ShapeError(`all arrays must have the same shape to stack; got ${arrs.map((b) => fmtShape(b.shape)).join(', ')}`);
  }
  const ax = normAxis(axis, s0.length + 1);
  const shape = [...s0.slice(0, ax), 1, ...s0.slice(ax)];
  return lax.concatenate(arrs.map((a) => lax.reshape(a, shape)), ax);
}

/**
 * Splits `x` along `axis` into `sections` equal parts (a ValueError if they do not divide the
 * axis evenly), or at the given sorted indices (`[2, 5]` gives x[:2], x[2:5], x[5:]).
 */
export function split(x: ArrayLike, sections: number | readonly number[], axis = 0): Array[] {
  const a = arg(x);
  const ax = normAxis(axis, a.ndim);
  const n = a.shape[ax];
  let points: number[];
  if (typeof sections === 'number') {
    checkInt(sections, 'number of sections', 1);
    if (n % sections !== 0) throw new ValueError(`cannot split axis ${ax} of size ${n} into ${sections} equal sections; pass split indices instead`);
    points = range(sections - 1).map((i) => ((i + 1) * n) / sections);
  } else {
    points = sections.map((p, i) => {
      checkInt(p, `split index ${i}`);
      return Math.min(Math.max(p < 0 ? p + n : p, 0), n);
    });
  }
  const bounds = [0, ...points, n];
  const out: Array[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const lo = bounds[i];
    const hi = Math.max(lo, bounds[i + 1]);
    const start = a.shape.map(() => 0);
    const limit = [...a.shape];
    start[ax] = lo;
    limit[ax] = hi;
    out.push(lo === 0 && hi === n ? a : lax.slice(a, start, limit));
  }
  return out;
}

/** Repeats the whole array `reps` times along each axis (NumPy tile). */
export function tile(x: ArrayLike, reps: number | readonly number[]): Array {
  const a = arg(x);
  const r = typeof reps === 'number' ? [reps] : [...reps];
  r.forEach((v, i) => checkInt(v, `reps[${i}]`, 0));
  const d = Math.max(a.ndim, r.length);
  const shape = [...globalThis.Array<number>(d - a.ndim).fill(1), ...a.shape];
  const rr = [...globalThis.Array<number>(d - r.length).fill(1), ...r];
  const base = lax.reshape(a, shape);
  const big = shape.flatMap((s, i) => [rr[i], s]);
  const b = lax.broadcastInDim(base, big, range(d).map((i) => 2 * i + 1));
  return lax.reshape(b, shape.map((s, i) => s * rr[i]));
}

/** Repeats each element `repeats` times along `axis` (default: flattened), like NumPy repeat. */
export function repeat(x: ArrayLike, repeats: number, axis: number | null = null): Array {
  let a = arg(x);
  if (typeof repeats !== 'number') throw new ValueError(`repeats must be a single non-negative integer here (per-element counts would make the shape data-dependent), got ${describe(repeats)}`);
  checkInt(repeats, 'repeats', 0);
  if (axis === null) {
    a = lax.reshape(a, [a.size]);
    axis = 0;
  }
  const ax = normAxis(axis, a.ndim);
  const big = [...a.shape.slice(0, ax + 1), repeats, ...a.shape.slice(ax + 1)];
  const dims = range(a.ndim).map((i) => (i <= ax ? i : i + 1));
  const b = lax.broadcastInDim(a, big, dims);
  const out = [...a.shape];
  out[ax] *= repeats;
  return lax.reshape(b, out);
}

/** Padding widths: one number for all sides, `[lo, hi]` for every axis, or one `[lo, hi]` per axis. */
export type PadWidth = number | readonly number[] | readonly (readonly number[])[];

/** Options of {@link pad}. */
export interface PadOptions {
  /** Only 'constant' is supported. */
  mode?: 'constant';
  /** The value written into the padding (default 0). */
  constant_values?: number;
}

function padPairs(widths: PadWidth, ndim: number): [number, number][] {
  const pair = (w: readonly number[] | number, what: string): [number, number] => {
    const p: readonly number[] = typeof w === 'number' ? [w, w] : w.length === 1 ? [w[0], w[0]] : w;
    if (p.length !== 2) throw new ValueError(`${what}: expected [before, after], got ${JSON.stringify(w)}`);
    p.forEach((v) => checkInt(v, `${what} width`, 0));
    return [p[0], p[1]];
  };
  if (typeof widths === 'number') return range(ndim).map(() => pair(widths, 'pad'));
  if (!globalThis.Array.isArray(widths)) throw new ValueError(`pad widths must be a number or nested list, got ${describe(widths)}`);
  if (widths.every((w) => typeof w === 'number')) {
    const p = pair(widths as readonly number[], 'pad');
    return range(ndim).map(() => p);
  }
  const list = widths as readonly (readonly number[])[];
  if (list.length === 1) return range(ndim).map(() => pair(list[0], 'pad'));
  if (list.length !== ndim) throw new ValueError(`pad widths give ${list.length} axes but the array has rank ${ndim}; give one [before, after] per axis`);
  return list.map((w, i) => pair(w, `axis ${i}`));
}

/**
 * Pads with a constant (default 0). `widths`: n (all sides), [before, after] (every axis) or
 * one [before, after] per axis.
 */
export function pad(x: ArrayLike, widths: PadWidth, opts: PadOptions = {}): Array {
  const a = arg(x);
  if (opts.mode !== undefined && opts.mode !== 'constant') throw new ValueError(`pad mode ${JSON.stringify(opts.mode)} is not supported; only 'constant' is`);
  const v = opts.constant_values ?? 0;
  if (typeof v !== 'number') throw new ValueError(`constant_values must be a number, got ${describe(v)}`);
  const pairs = padPairs(widths, a.ndim);
  if (pairs.every(([l, h]) => l === 0 && h === 0)) return a;
  return lax.pad(a, v, pairs.map((p) => p[0]), pairs.map((p) => p[1]));
}

/** One dimension's part of a slice: null (all), an integer index (drops the dim), or [start, stop, step]. */
export type SliceRange = null | undefined | number | readonly [start?: number | null, stop?: number | null, step?: number | null];

/**
 * NumPy-style basic slicing, one entry per leading dimension: `null` keeps the dimension, an
 * integer picks one index (the dimension is dropped; negatives count from the end), and
 * `[start, stop, step]` (each part optional/null, negatives as in Python, step may be negative)
 * takes a range. `np.slice(x, [0, 2], null, [null, null, -1])` is `x[0:2, :, ::-1]`.
 */
export function slice(x: ArrayLike, ...ranges: SliceRange[]): Array {
  const a = arg(x);
  if (ranges.length > a.ndim) throw new IndexError(`too many indices: ${ranges.length} given for an array of shape ${fmtShape(a.shape)} (rank ${a.ndim})`);
  const start: number[] = [], limit: number[] = [], strides: number[] = [];
  const flips: number[] = [], drops: number[] = [];
  for (let d = 0; d < a.ndim; d++) {
    const n = a.shape[d];
    const r = ranges[d];
    if (r === null || r === undefined) {
      start.push(0); limit.push(n); strides.push(1);
    } else if (typeof r === 'number') {
      checkInt(r, `index for axis ${d}`);
      const i = r < 0 ? r + n : r;
      if (i < 0 || i >= n) throw new IndexError(`index ${r} is out of bounds for axis ${d} with size ${n}`);
      start.push(i); limit.push(i + 1); strides.push(1);
      drops.push(d);
    } else if (globalThis.Array.isArray(r) && r.length <= 3) {
      const [s0, e0, st0] = r;
      const st = st0 ?? 1;
      checkInt(st, `step for axis ${d}`);
      if (st === 0) throw new ValueError(`slice step for axis ${d} cannot be zero`);
      for (const v of [s0, e0]) if (v !== null && v !== undefined) checkInt(v, `slice bound for axis ${d}`);
      if (st > 0) {
        const s = s0 === null || s0 === undefined ? 0 : s0 < 0 ? Math.max(0, s0 + n) : Math.min(s0, n);
        let e = e0 === null || e0 === undefined ? n : e0 < 0 ? Math.max(0, e0 + n) : Math.min(e0, n);
        if (e < s) e = s;
        start.push(s); limit.push(e); strides.push(st);
      } else {
        const s = s0 === null || s0 === undefined ? n - 1 : s0 < 0 ? Math.max(-1, s0 + n) : Math.min(s0, n - 1);
        const e = e0 === null || e0 === undefined ? -1 : e0 < 0 ? Math.max(-1, e0 + n) : Math.min(e0, n - 1);
        const count = s > e ? Math.ceil((s - e) / -st) : 0;
        if (count === 0) {
          start.push(0); limit.push(0); strides.push(1);
        } else {
          start.push(s - (count - 1) * -st); limit.push(s + 1); strides.push(-st);
          flips.push(d);
        }
      }
    } else {
      throw new IndexError(`slice entry for axis ${d} must be null, an integer or [start, stop, step], got ${describe(r)}`);
    }
  }
  let out = a;
  const identity = start.every((s, i) => s === 0 && limit[i] === a.shape[i] && strides[i] === 1);
  if (!identity) out = lax.slice(a, start, limit, strides.every((s) => s === 1) ? null : strides);
  if (flips.length) out = flip(out, flips);
  if (drops.length) out = lax.reshape(out, out.shape.filter((_, i) => !drops.includes(i)));
  return out;
}

/** Reverses the order of elements along the given axes (default: all). */
export function flip(x: ArrayLike, axis?: Axis): Array {
  let a = arg(x);
  for (const ax of normAxes(axis, a.ndim)) {
    const n = a.shape[ax];
    if (n <= 1) continue;
    const idx = lax.sub(lax.full(n - 1, 'int32', [n]), lax.iota('int32', [n], 0));
    a = lax.gather(a, idx, ax, 0);
  }
  return a;
}

/** Rolls elements along `axis` by `shift` (static); with no axis, rolls the flattened array. */
export function roll(x: ArrayLike, shift: number, axis: number | null = null): Array {
  const a = arg(x);
  checkInt(shift, 'shift');
  if (axis === null) return lax.reshape(roll(lax.reshape(a, [a.size]), shift, 0), [...a.shape]);
  const ax = normAxis(axis, a.ndim);
  const n = a.shape[ax];
  if (n === 0) return a;
  const s = ((shift % n) + n) % n;
  if (s === 0) return a;
  const [head, tail] = split(a, [n - s], ax);
  return lax.concatenate([tail, head], ax);
}

function startIndex(s: number | Array, n: number, what: string): Array {
  if (typeof s === 'number') {
    checkInt(s, what);
    return Array.scalar(s < 0 ? s + n : s, 'int32');
  }
  if (!(s instanceof Array)) throw new ValueError(`${what} must be a number or an int32 scalar array, got ${describe(s)}`);
  if (s.ndim !== 0 || (s.dtype !== 'int32' && s.dtype !== 'uint32')) throw new DTypeError(`${what} must be an int32 scalar, got ${s.dtype}${fmtShape(s.shape)}`);
  const i = lax.convert(s, 'int32');
  if (!i.isTracer) {
    const v = i.item() as number;
    return v < 0 ? Array.scalar(v + n, 'int32') : i;
  }
  return lax.select(lax.lt(i, Array.scalar(0, 'int32')), lax.add(i, Array.scalar(n, 'int32')), i);
}

/**
 * A slice of static `sizes` starting at dynamic `starts` (JS numbers or int32 scalar arrays,
 * possibly traced). Negative starts count from the end; starts are then clamped so the slice
 * stays inside the array (lax.dynamic_slice semantics).
 */
export function dynamic_slice(x: ArrayLike, starts: readonly (number | Array)[], sizes: readonly number[]): Array {
  const a = arg(x);
  if (!globalThis.Array.isArray(starts) || starts.length !== a.ndim) throw new ValueError(`need one start index per dimension of ${fmtShape(a.shape)} (${a.ndim}), got ${describe(starts)}`);
  if (!globalThis.Array.isArray(sizes) || sizes.length !== a.ndim) throw new ValueError(`need one slice size per dimension of ${fmtShape(a.shape)} (${a.ndim}), got ${describe(sizes)}`);
  sizes.forEach((s, i) => {
    checkInt(s, `slice size ${i}`, 0);
    if (s > a.shape[i]) throw new ShapeError(`slice size ${s} exceeds dimension ${i} of ${fmtShape(a.shape)}`);
  });
  return lax.dynamicSlice(a, starts.map((s, i) => startIndex(s, a.shape[i], `start index ${i}`)), [...sizes]);
}

/**
 * Writes `update` into `x` at dynamic `starts` (numbers or int32 scalar arrays), returning the
 * new array. `update` is cast to `x`'s dtype and must have the same rank; starts are
 * normalized and clamped as in {@link dynamic_slice}.
 */
export function dynamic_update_slice(x: ArrayLike, update: ArrayLike, starts: readonly (number | Array)[]): Array {
  const a = arg(x);
  checkOperand(update, 'update');
  const u = toDtype(update, a.dtype);
  if (u.ndim !== a.ndim) throw new ShapeError(`update of shape ${fmtShape(u.shape)} must have the same rank as the array ${fmtShape(a.shape)}`);
  if (u.shape.some((d, i) => d > a.shape[i])) throw new ShapeError(`update of shape ${fmtShape(u.shape)} does not fit in ${fmtShape(a.shape)}`);
  if (!globalThis.Array.isArray(starts) || starts.length !== a.ndim) throw new ValueError(`need one start index per dimension of ${fmtShape(a.shape)} (${a.ndim}), got ${describe(starts)}`);
  return lax.dynamicUpdateSlice(a, u, starts.map((s, i) => startIndex(s, a.shape[i], `start index ${i}`)));
}

/**
 * The diagonal with `offset` of the 2-D sub-arrays spanned by `axis1` and `axis2`; those axes
 * are removed and the diagonal becomes the last axis (NumPy semantics).
 */
export function diagonal(x: ArrayLike, offset = 0, axis1 = 0, axis2 = 1): Array {
  const a = arg(x);
  checkInt(offset, 'offset');
  const i = normAxis(axis1, a.ndim, 'axis1');
  const j = normAxis(axis2, a.ndim, 'axis2');
  if (i === j) throw new AxisError(`axis1 and axis2 must differ, both are ${i}`);
  const perm = [...range(a.ndim).filter((k) => k !== i && k !== j), i, j];
  let t = lax.transpose(a, perm);
  const lead = t.shape.slice(0, -2);
  const rows = t.shape[t.ndim - 2], cols = t.shape[t.ndim - 1];
  const r0 = offset < 0 ? Math.min(-offset, rows) : 0;
  const c0 = offset > 0 ? Math.min(offset, cols) : 0;
  const d = Math.max(0, Math.min(rows - r0, cols - c0));
  t = lax.slice(t, [...lead.map(() => 0), r0, c0], [...lead, r0 + d, c0 + d]);
  return diagOfSquare(t);
}

/** Sum of the diagonal (see {@link diagonal} for the arguments). */
export function trace(x: ArrayLike, offset = 0, axis1 = 0, axis2 = 1): Array {
  const dg = diagonal(x, offset, axis1, axis2);
  const s = dg.dtype === 'bool' ? lax.convert(dg, 'int32') : dg;
  return lax.reduceSum(s, [s.ndim - 1]);
}

function triMask(a: Array, k: number, lower: boolean): Array {
  if (a.ndim < 2) throw new ShapeError(`needs an array of rank ≥ 2, got shape ${fmtShape(a.shape)}`);
  checkInt(k, 'k');
  const n = a.shape[a.ndim - 2], m = a.shape[a.ndim - 1];
  const r = lax.add(lax.iota('int32', [n, m], 0), lax.full(k, 'int32', [n, m]));
  const c = lax.iota('int32', [n, m], 1);
  const mask = bcast(lower ? lax.ge(r, c) : lax.le(r, c), a.shape);
  return lax.select(mask, a, lax.zerosLike(a));
}

/** Lower triangle of the last two dims: keeps (i, j) with j ≤ i + k, zeros elsewhere. */
export function tril(x: ArrayLike, k = 0): Array {
  return triMask(arg(x), k, true);
}

/** Upper triangle of the last two dims: keeps (i, j) with j ≥ i + k, zeros elsewhere. */
export function triu(x: ArrayLike, k = 0): Array {
  return triMask(arg(x), k, false);
}

/** The shape of `x` as a JS array. */
export function shape(x: ArrayLike): number[] {
  return [...arg(x).shape];
}

/** The rank of `x`. */
export function ndim(x: ArrayLike): number {
  return arg(x).ndim;
}

/** The number of elements of `x`. */
export function size(x: ArrayLike): number {
  return arg(x).size;
}
