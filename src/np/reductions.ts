/**
 * Reductions and scans of the `np` library: sum, mean, max, min, prod, var, std, argmax,
 * argmin, logsumexp, any, all, cumsum, allclose. `axis` is a number, a list of numbers
 * (negatives count from the end) or null/undefined for all axes; `{keepdims: true}` keeps
 * reduced axes as size 1. Integer/bool inputs sum as int32 and average as float32, as in JAX.
 */

import { Array, type ArrayLike } from '../core/array.js';
import { checkDtype, isFloat, type DType } from '../core/dtype.js';
import { ValueError } from '../core/errors.js';
import * as lax from '../core/lax.js';
import { fmtShape, sizeOf } from '../core/shape.js';
import { isclose, type IsCloseOptions } from './elementwise.js';
import { bcast, checkOperand, keepDims, normAxes, normAxis, range, toArray, toBool, type Axis } from './util.js';

/** Options shared by the reductions. */
export interface ReduceOptions {
  /** Keep reduced axes as size-1 dims (default false). */
  keepdims?: boolean;
  /** Convert the input to this dtype first. */
  dtype?: DType;
}

/** Options of {@link var_} and {@link std}. */
export interface VarOptions extends ReduceOptions {
  /** Delta degrees of freedom: divide by N − ddof (default 0). */
  ddof?: number;
}

function arg(x: ArrayLike, dtype?: DType): Array {
  checkOperand(x, 'x');
  const a = toArray(x);
  return dtype === undefined ? a : lax.convert(a, checkDtype(dtype, 'reduction dtype'));
}

function finish(r: Array, inShape: readonly number[], axes: number[], keepdims: boolean | undefined): Array {
  return keepdims ? keepDims(r, inShape, axes) : r;
}

function asFloat(a: Array): Array {
  return isFloat(a.dtype) ? a : lax.convert(a, 'float32');
}

function nonEmpty(a: Array, axes: number[], name: string): void {
  for (const ax of axes) {
    if (a.shape[ax] === 0) throw new ValueError(`zero-size reduction: ${name} over axis ${ax} of shape ${fmtShape(a.shape)} has no identity; use a non-empty array`);
  }
  if (axes.length === 0 && a.size === 0) throw new ValueError(`zero-size reduction: ${name} of an empty array has no identity`);
}

/** Sum over `axis` (all axes by default). Bools and ints sum as int32 (wrapping). */
export function sum(x: ArrayLike, axis?: Axis, opts: ReduceOptions = {}): Array {
  let a = arg(x, opts.dtype);
  if (a.dtype === 'bool') a = lax.convert(a, 'int32');
  const axes = normAxes(axis, a.ndim);
  return finish(lax.reduceSum(a, axes), a.shape, axes, opts.keepdims);
}

/** Arithmetic mean over `axis`; ints and bools give float32. An empty reduction gives NaN. */
export function mean(x: ArrayLike, axis?: Axis, opts: ReduceOptions = {}): Array {
  const a = asFloat(arg(x, opts.dtype));
  const axes = normAxes(axis, a.ndim);
  const n = sizeOf(axes.map((i) => a.shape[i]));
  const s = lax.reduceSum(a, axes);
  return finish(lax.div(s, lax.full(n, s.dtype, [...s.shape])), a.shape, axes, opts.keepdims);
}

/** Maximum over `axis` (NaN propagates). A ValueError for an empty reduction. */
export function max(x: ArrayLike, axis?: Axis, opts: ReduceOptions = {}): Array {
  const a = arg(x, opts.dtype);
  const axes = normAxes(axis, a.ndim);
  nonEmpty(a, axes, 'max');
  return finish(lax.reduceMax(a, axes), a.shape, axes, opts.keepdims);
}

/** Minimum over `axis` (NaN propagates). A ValueError for an empty reduction. */
export function min(x: ArrayLike, axis?: Axis, opts: ReduceOptions = {}): Array {
  const a = arg(x, opts.dtype);
  const axes = normAxes(axis, a.ndim);
  nonEmpty(a, axes, 'min');
  return finish(lax.reduceMin(a, axes), a.shape, axes, opts.keepdims);
}

/** Same as {@link max}. */
export function amax(x: ArrayLike, axis?: Axis, opts: ReduceOptions = {}): Array {
  return max(x, axis, opts);
}

/** Same as {@link min}. */
export function amin(x: ArrayLike, axis?: Axis, opts: ReduceOptions = {}): Array {
  return min(x, axis, opts);
}

/**
 * Product over `axis` (1 for an empty reduction). Computed as a pairwise tree of elementwise
 * products, so it traces and differentiates (also through zeros).
 */
export function prod(x: ArrayLike, axis?: Axis, opts: ReduceOptions = {}): Array {
  let a = arg(x, opts.dtype);
  if (a.dtype === 'bool') a = lax.convert(a, 'int32');
  const axes = normAxes(axis, a.ndim);
  if (axes.length === 0) return a;
  const keep = range(a.ndim).filter((i) => !axes.includes(i));
  const outShape = keep.map((i) => a.shape[i]);
  let n = sizeOf(axes.map((i) => a.shape[i]));
  let r: Array;
  if (n === 0) r = lax.full(1, a.dtype, outShape);
  else {
    let t = lax.reshape(lax.transpose(a, [...keep, ...axes]), [...outShape, n]);
    const z = outShape.map(() => 0);
    const ones = outShape.map(() => 1);
    while (n > 1) {
      if (n % 2 === 1) {
        t = lax.pad(t, 1, [...z, 0], [...z, 1]);
        n += 1;
      }
      const lo = lax.slice(t, [...z, 0], [...outShape, n], [...ones, 2]);
      const hi = lax.slice(t, [...z, 1], [...outShape, n], [...ones, 2]);
      t = lax.mul(lo, hi);
      n /= 2;
    }
    r = lax.reshape(t, outShape);
  }
  return finish(r, a.shape, axes, opts.keepdims);
}

/**
 * Variance over `axis`: mean of squared deviations from the mean, divided by N − ddof
 * (`ddof: 1` for the unbiased estimate). Ints give float32.
 */
export function var_(x: ArrayLike, axis?: Axis, opts: VarOptions = {}): Array {
  const a = asFloat(arg(x, opts.dtype));
  const axes = normAxes(axis, a.ndim);
  const ddof = opts.ddof ?? 0;
  if (typeof ddof !== 'number' || !Number.isInteger(ddof) || ddof < 0) throw new ValueError(`ddof must be a non-negative integer, got ${String(ddof)}`);
  const n = sizeOf(axes.map((i) => a.shape[i]));
  const m = keepDims(lax.div(lax.reduceSum(a, axes), lax.full(n, a.dtype, a.shape.filter((_, i) => !axes.includes(i)))), a.shape, axes);
  const d = lax.sub(a, bcast(m, a.shape));
  const ss = lax.reduceSum(lax.mul(d, d), axes);
  return finish(lax.div(ss, lax.full(n - ddof, ss.dtype, [...ss.shape])), a.shape, axes, opts.keepdims);
}

/** Standard deviation: the square root of {@link var_} (same options). */
export function std(x: ArrayLike, axis?: Axis, opts: VarOptions = {}): Array {
  return lax.sqrt(var_(x, axis, opts));
}

/** Options of {@link argmax} and {@link argmin}. */
export interface ArgOptions {
  /** Keep the reduced axis as size 1 (default false). */
  keepdims?: boolean;
}

function argReduce(a: Array, axis: number | null | undefined, opts: ArgOptions, name: string, flipOrder: boolean): Array {
  let t = a;
  if (flipOrder) t = isFloat(t.dtype) ? lax.neg(t) : lax.not(t);
  if (axis === null || axis === undefined) {
    nonEmpty(a, [], name);
    const r = lax.argmax(lax.reshape(t, [t.size]), 0, 'int32');
    return opts.keepdims ? lax.reshape(r, a.shape.map(() => 1)) : r;
  }
  const ax = normAxis(axis, a.ndim);
  nonEmpty(a, [ax], name);
  return finish(lax.argmax(t, ax, 'int32'), a.shape, [ax], opts.keepdims);
}

/** Index (int32) of the first maximum along `axis` (of the flattened array by default). */
export function argmax(x: ArrayLike, axis?: number | null, opts: ArgOptions = {}): Array {
  return argReduce(arg(x), axis, opts, 'argmax', false);
}

/** Index (int32) of the first minimum along `axis` (of the flattened array by default). */
export function argmin(x: ArrayLike, axis?: number | null, opts: ArgOptions = {}): Array {
  return argReduce(arg(x), axis, opts, 'argmin', true);
}

/**
 * `log(sum(exp(x)))` over `axis`, computed stably: the max is subtracted first (as a stopped
 * gradient, so derivatives are exactly softmax); −∞ everywhere gives −∞, +∞ gives +∞.
 */
export function logsumexp(x: ArrayLike, axis?: Axis, opts: ReduceOptions = {}): Array {
  const a = asFloat(arg(x, opts.dtype));
  const axes = normAxes(axis, a.ndim);
  nonEmpty(a, axes, 'logsumexp');
  const m = lax.stopGradient(keepDims(lax.reduceMax(a, axes), a.shape, axes));
  const shift = lax.select(lax.isFinite(m), m, lax.zerosLike(m));
  const s = lax.reduceSum(lax.exp(lax.sub(a, bcast(shift, a.shape))), axes);
  const out = lax.add(lax.log(s), lax.reshape(shift, [...s.shape]));
  return finish(out, a.shape, axes, opts.keepdims);
}

/** Whether any element along `axis` is nonzero (false for an empty reduction). */
export function any(x: ArrayLike, axis?: Axis, opts: ArgOptions = {}): Array {
  const b = toBool(x);
  const axes = normAxes(axis, b.ndim);
  const c = lax.reduceSum(lax.convert(b, 'int32'), axes);
  return finish(lax.gt(c, lax.full(0, 'int32', [...c.shape])), b.shape, axes, opts.keepdims);
}

/** Whether all elements along `axis` are nonzero (true for an empty reduction). */
export function all(x: ArrayLike, axis?: Axis, opts: ArgOptions = {}): Array {
  const b = toBool(x);
  const axes = normAxes(axis, b.ndim);
  const c = lax.reduceSum(lax.convert(lax.not(b), 'int32'), axes);
  return finish(lax.eq(c, lax.full(0, 'int32', [...c.shape])), b.shape, axes, opts.keepdims);
}

/** Options of {@link cumsum}. */
export interface CumsumOptions {
  /** Accumulate from the end (default false). */
  reverse?: boolean;
  /** Convert the input to this dtype first. */
  dtype?: DType;
}

/**
 * Inclusive cumulative sum along `axis` (of the flattened array when axis is null, the
 * default). `{reverse: true}` sums from the end. Bools sum as int32.
 */
export function cumsum(x: ArrayLike, axis: number | null = null, opts: CumsumOptions = {}): Array {
  let a = arg(x, opts.dtype);
  if (a.dtype === 'bool') a = lax.convert(a, 'int32');
  if (axis === null || axis === undefined) {
    a = lax.reshape(a, [a.size]);
    axis = 0;
  }
  const ax = normAxis(axis, a.ndim);
  return lax.cumsum(a, ax, opts.reverse ?? false);
}

/** Whether all elements of `a` and `b` are close (see np.isclose); a bool scalar array. */
export function allclose(a: ArrayLike, b: ArrayLike, opts: IsCloseOptions = {}): Array {
  return all(isclose(a, b, opts));
}
