/**
 * Neural-network functions and indexing of the `np` library: activations (sigmoid, softplus,
 * silu, gelu in tanh and erf forms, relu, …), stable softmax/log_softmax, one_hot, take and
 * take_along_axis (NumPy negative indices; 'fill' | 'clip' | 'wrap' for out-of-range ones),
 * top_k, sort and argsort. Written so their gradients are exact where a naive form would be
 * wrong or NaN (stopped-gradient max shifts, select-based kinks, safe branches).
 */

import { Array, type ArrayLike } from '../core/array.js';
import { checkDtype, isFloat, type DType } from '../core/dtype.js';
import { DTypeError, ShapeError, ValueError } from '../core/errors.js';
import * as lax from '../core/lax.js';
import { fmtShape } from '../core/shape.js';
import { array, type NestedArray } from './creation.js';
import { bcast, checkInt, checkOperand, describe, keepDims, normAxes, normAxis, range, toArray, type Axis } from './util.js';

function floatArg(x: ArrayLike): Array {
  checkOperand(x, 'x');
  const a = toArray(x);
  return isFloat(a.dtype) ? a : lax.convert(a, 'float32');
}

function c(like: Array, v: number): Array {
  return lax.full(v, like.dtype, [...like.shape]);
}

// ---------------------------------------------------------------- activations

/** Logistic sigmoid 1 / (1 + e^−x). */
export function sigmoid(x: ArrayLike): Array {
  return lax.logistic(floatArg(x));
}

/**
 * log(1 + e^x), computed stably as max(x, 0) + log1p(e^−|x|); its gradient is exactly
 * sigmoid(x), also at 0.
 */
export function softplus(x: ArrayLike): Array {
  const a = floatArg(x);
  const zero = c(a, 0);
  const pos = lax.ge(a, zero);
  const relu_ = lax.select(pos, a, zero);
  const absx = lax.select(pos, a, lax.neg(a));
  return lax.add(relu_, lax.log1p(lax.exp(lax.neg(absx))));
}

/** log(sigmoid(x)) = −softplus(−x), stable for large |x|. */
export function log_sigmoid(x: ArrayLike): Array {
  return lax.neg(softplus(lax.neg(floatArg(x))));
}

/** SiLU / swish: x · sigmoid(x). */
export function silu(x: ArrayLike): Array {
  const a = floatArg(x);
  return lax.mul(a, lax.logistic(a));
}

/** Same as {@link silu}. */
export function swish(x: ArrayLike): Array {
  return silu(x);
}

/** Options of {@link gelu}. */
export interface GeluOptions {
  /** true (default, as in JAX): the tanh approximation; false: the exact erf form. */
  approximate?: boolean;
}

/**
 * GELU. approximate (default): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)));
 * exact (`approximate: false`): 0.5·x·(1 + erf(x/√2)).
 */
export function gelu(x: ArrayLike, opts: GeluOptions = {}): Array {
  const a = floatArg(x);
  const half = lax.mul(c(a, 0.5), a);
  if (opts.approximate ?? true) {
    const cube = lax.mul(lax.mul(a, a), a);
    const inner = lax.mul(c(a, Math.sqrt(2 / Math.PI)), lax.add(a, lax.mul(c(a, 0.044715), cube)));
    return lax.mul(half, lax.add(c(a, 1), lax.tanh(inner)));
  }
  return lax.mul(half, lax.add(c(a, 1), lax.erf(lax.mul(a, c(a, Math.SQRT1_2)))));
}

/** max(x, 0); the gradient at 0 is 0 (as in JAX). Ints stay ints. */
export function relu(x: ArrayLike): Array {
  checkOperand(x, 'x');
  const a = toArray(x);
  const zero = c(a, 0);
  return lax.select(lax.gt(a, zero), a, zero);
}

/** min(max(x, 0), 6). */
export function relu6(x: ArrayLike): Array {
  const r = relu(x);
  const six = c(r, 6);
  return lax.select(lax.lt(r, six), r, six);
}

/** x for x ≥ 0, negative_slope·x otherwise (default slope 0.01). */
export function leaky_relu(x: ArrayLike, negative_slope = 0.01): Array {
  const a = floatArg(x);
  return lax.select(lax.ge(a, c(a, 0)), a, lax.mul(c(a, negative_slope), a));
}

/** x for x > 0, alpha·(e^x − 1) otherwise (default alpha 1); gradients stay finite. */
export function elu(x: ArrayLike, alpha = 1): Array {
  const a = floatArg(x);
  const zero = c(a, 0);
  const neg = lax.mul(c(a, alpha), lax.expm1(lax.min(a, zero)));
  return lax.select(lax.gt(a, zero), a, neg);
}

// ---------------------------------------------------------------- softmax

function shiftedByMax(a: Array, axes: number[]): Array {
  const m = lax.stopGradient(keepDims(lax.reduceMax(a, axes), a.shape, axes));
  const shift = lax.select(lax.isFinite(m), m, lax.zerosLike(m));
  return lax.sub(a, bcast(shift, a.shape));
}

function softmaxAxes(a: Array, axis: Axis): number[] {
  const axes = normAxes(axis, a.ndim);
  for (const ax of axes) if (a.shape[ax] === 0) throw new ValueError(`softmax over the empty axis ${ax} of shape ${fmtShape(a.shape)}`);
  return axes;
}

/**
 * Softmax over `axis` (default -1; a list normalizes over several axes), stable for large
 * inputs: the max is subtracted first (with a stopped gradient, which is exact).
 */
export function softmax(x: ArrayLike, axis: Axis = -1): Array {
  const a = floatArg(x);
  const axes = softmaxAxes(a, axis);
  const e = lax.exp(shiftedByMax(a, axes));
  const s = keepDims(lax.reduceSum(e, axes), a.shape, axes);
  return lax.div(e, bcast(s, a.shape));
}

/** log(softmax(x)) over `axis` (default -1), computed stably as (x − max) − log Σ e^(x − max). */
export function log_softmax(x: ArrayLike, axis: Axis = -1): Array {
  const a = floatArg(x);
  const axes = softmaxAxes(a, axis);
  const sh = shiftedByMax(a, axes);
  const lse = keepDims(lax.log(lax.reduceSum(lax.exp(sh), axes)), a.shape, axes);
  return lax.sub(sh, bcast(lse, a.shape));
}

// ---------------------------------------------------------------- indexing

/** Converts indices (array, number or nested JS array) to an int32 array. */
function indexArray(indices: ArrayLike | NestedArray, what = 'indices'): Array {
  let idx: Array;
  if (indices instanceof Array) idx = indices;
  else if (typeof indices === 'number') {
    checkInt(indices, what);
    idx = Array.scalar(indices, 'int32');
  } else if (globalThis.Array.isArray(indices)) idx = array(indices as NestedArray);
  else throw new ValueError(`${what} must be an integer array, a number or a nested list of integers, got ${describe(indices)}`);
  if (idx.dtype === 'int32') return idx;
  if (idx.dtype === 'uint32') return lax.convert(idx, 'int32');
  if (idx.size === 0 && idx.dtype === 'float32' && !(indices instanceof Array)) return lax.convert(idx, 'int32');
  throw new DTypeError(`${what} must be integers, got dtype ${idx.dtype}; convert with astype('int32')`);
}

/** How out-of-range indices are treated by take/take_along_axis. */
export type IndexMode = 'fill' | 'clip' | 'wrap';

/** Options of {@link take} and {@link take_along_axis}. */
export interface TakeOptions {
  /**
   * After negative indices are counted from the end (NumPy), out-of-range ones: 'fill'
   * (default, as in JAX) reads `fill_value`; 'clip' clamps to the nearest valid index; 'wrap'
   * takes them modulo the axis size (then negatives need no normalizing).
   */
  mode?: IndexMode;
  /** Value read by out-of-range indices in 'fill' mode: NaN for floats, 0 otherwise. */
  fill_value?: number;
}

function allInRange(idx: Array, n: number): boolean {
  if (idx.isTracer) return false;
  for (const v of idx.dataSync()) if (v < 0 || v >= n) return false;
  return true;
}

/** Normalizes indices for `mode`; returns them and (fill mode) the validity mask or null. */
function normIndices(idx: Array, n: number, mode: IndexMode): { idx: Array; valid: Array | null } {
  if (mode !== 'fill' && mode !== 'clip' && mode !== 'wrap') throw new ValueError(`mode must be 'fill', 'clip' or 'wrap', got ${describe(mode)}`);
  if (allInRange(idx, n)) return { idx, valid: null };
  if (n === 0 && mode !== 'fill') throw new ValueError(`cannot index an empty axis with mode '${mode}'; there is no valid index to clip or wrap to`);
  const zero = c(idx, 0);
  const nn = c(idx, n);
  if (mode === 'wrap') {
    const r = lax.rem(idx, nn);
    return { idx: lax.select(lax.lt(r, zero), lax.add(r, nn), r), valid: null };
  }
  const norm = lax.select(lax.lt(idx, zero), lax.add(idx, nn), idx);
  if (mode === 'clip') return { idx: lax.min(lax.max(norm, zero), c(idx, n - 1)), valid: null };
  return { idx: norm, valid: lax.and(lax.ge(norm, zero), lax.lt(norm, nn)) };
}

function applyFill(g: Array, valid: Array | null, fill: number | undefined, dims: number[]): Array {
  if (valid === null) return g;
  const f = fill ?? (isFloat(g.dtype) ? NaN : 0);
  if (f === 0) return g; // gather already reads 0 out of range
  return lax.select(lax.broadcastInDim(valid, [...g.shape], dims), g, c(g, f));
}

/**
 * Elements of `x` at `indices` along `axis` (default: of the flattened array), like NumPy
 * take: the result has shape x.shape[:axis] + indices.shape + x.shape[axis+1:]. Negative
 * indices count from the end; out-of-range ones follow `mode` (see {@link TakeOptions}).
 * Differentiable in `x` (the gradient is a scatter-add).
 */
export function take(x: ArrayLike, indices: ArrayLike | NestedArray, opts: TakeOptions & { axis?: number | null } = {}): Array {
  checkOperand(x, 'x');
  let a = toArray(x);
  let ax: number;
  if (opts.axis === undefined || opts.axis === null) {
    a = lax.reshape(a, [a.size]);
    ax = 0;
  } else ax = normAxis(opts.axis, a.ndim);
  const idx0 = indexArray(indices);
  const { idx, valid } = normIndices(idx0, a.shape[ax], opts.mode ?? 'fill');
  const g = lax.gather(a, idx, ax, 0);
  return applyFill(g, valid, opts.fill_value, range(idx.ndim).map((i) => i + ax));
}

/**
 * Picks, along `axis`, the elements of `x` at `indices` (same rank as `x`; other dims
 * broadcast), like NumPy take_along_axis: e.g. the values at argmax positions or the log-prob
 * of target tokens. `axis: null` works on the flattened array (indices 1-D).
 */
export function take_along_axis(x: ArrayLike, indices: ArrayLike | NestedArray, axis: number | null, opts: TakeOptions = {}): Array {
  checkOperand(x, 'x');
  let a = toArray(x);
  let idx = indexArray(indices);
  let ax: number;
  if (axis === null) {
    if (idx.ndim !== 1) throw new ShapeError(`with axis=null the indices must be 1-D, got shape ${fmtShape(idx.shape)}`);
    a = lax.reshape(a, [a.size]);
    ax = 0;
  } else {
    if (axis === undefined) throw new ValueError('take_along_axis needs an axis (a number, or null for the flattened array)');
    ax = normAxis(axis, a.ndim);
  }
  if (idx.ndim !== a.ndim) throw new ShapeError(`indices of shape ${fmtShape(idx.shape)} must have the same rank as x of shape ${fmtShape(a.shape)} (use expand_dims)`);
  const r = a.ndim;
  const others = range(r).filter((i) => i !== ax);
  const bo = others.map((i) => {
    const p = a.shape[i], q = idx.shape[i];
    if (p !== q && p !== 1 && q !== 1) throw new ShapeError(`x of shape ${fmtShape(a.shape)} and indices of shape ${fmtShape(idx.shape)} cannot be broadcast outside axis ${ax} (dim ${i}: ${p} vs ${q})`);
    return p === 1 ? q : p;
  });
  const withAx = (n: number) => {
    const s = [...bo];
    s.splice(ax, 0, n);
    return s;
  };
  a = bcast(a, withAx(a.shape[ax]));
  idx = bcast(idx, withAx(idx.shape[ax]));
  const perm = [...others, ax];
  const at = lax.transpose(a, perm);
  const { idx: it, valid } = normIndices(lax.transpose(idx, perm), a.shape[ax], opts.mode ?? 'fill');
  const g = applyFill(lax.gather(at, it, r - 1, r - 1), valid, opts.fill_value, range(r));
  const inv = range(r).map((i) => perm.indexOf(i));
  return lax.transpose(g, inv);
}

/** Options of {@link one_hot}. */
export interface OneHotOptions {
  /** Element type of the result (default float32). */
  dtype?: DType;
  /** Position of the new axis (default -1, last). */
  axis?: number;
}

/**
 * One-hot encoding: a new axis of size `n` with 1 at each index and 0 elsewhere. Indices
 * outside 0..n-1 (including negative ones) give all zeros, as in JAX.
 */
export function one_hot(indices: ArrayLike | NestedArray, n: number, opts: OneHotOptions = {}): Array {
  checkInt(n, 'n (the number of classes)', 0);
  const idx = indexArray(indices);
  const dtype = checkDtype(opts.dtype ?? 'float32', 'one_hot');
  const r = idx.ndim + 1;
  const ax = normAxis(opts.axis ?? -1, r);
  const shape = [...idx.shape];
  shape.splice(ax, 0, n);
  const ib = lax.broadcastInDim(idx, shape, range(idx.ndim).map((i) => (i < ax ? i : i + 1)));
  return lax.convert(lax.eq(ib, lax.iota('int32', shape, ax)), dtype);
}

// ---------------------------------------------------------------- top_k, sort

/**
 * The `k` largest elements along the last axis, largest first, and their int32 indices
 * (ties go to the lower index; NaN ranks above +∞). Returns [values, indices].
 */
export function top_k(x: ArrayLike, k: number): [Array, Array] {
  checkOperand(x, 'x');
  const a = toArray(x);
  if (a.ndim === 0) throw new ShapeError('top_k needs an array of rank ≥ 1, got a scalar');
  const n = a.shape[a.ndim - 1];
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > n) throw new ValueError(`k=${String(k)} must be an integer in 0..${n} (the size of the last axis of ${fmtShape(a.shape)})`);
  return lax.topK(a, k);
}

/** Options of {@link sort} and {@link argsort}. */
export interface SortOptions {
  /** Sort from largest to smallest (default false). */
  descending?: boolean;
}

/** Sort key whose descending order is `a`'s ascending order (exact for ints via bitwise not). */
function sortKeys(a: Array, descending: boolean): Array {
  if (descending) return a;
  return isFloat(a.dtype) ? lax.neg(a) : lax.not(a);
}

function sortImpl(x: ArrayLike, axis: number, opts: SortOptions): [Array, Array, Array] {
  checkOperand(x, 'x');
  let a = toArray(x);
  if (a.ndim === 0) throw new ShapeError('sort needs an array of rank ≥ 1, got a scalar');
  const orig = a.dtype;
  if (orig === 'bool') a = lax.convert(a, 'int32');
  const ax = normAxis(axis, a.ndim);
  const perm = [...range(a.ndim).filter((i) => i !== ax), ax];
  const inv = range(a.ndim).map((i) => perm.indexOf(i));
  const t = lax.transpose(a, perm);
  const desc = opts.descending ?? false;
  const [kv, ki] = lax.topK(sortKeys(t, desc), t.shape[t.ndim - 1]);
  let vals = sortKeys(kv, desc);
  if (orig === 'bool') vals = lax.convert(vals, 'bool');
  return [lax.transpose(vals, inv), lax.transpose(ki, inv), a];
}

/**
 * Sorts along `axis` (default -1), ascending unless `{descending: true}`; stable (equal
 * elements keep their order). NaNs come first in ascending and descending order.
 */
export function sort(x: ArrayLike, axis = -1, opts: SortOptions = {}): Array {
  return sortImpl(x, axis, opts)[0];
}

/** The int32 indices that sort `x` along `axis` (default -1); stable, see {@link sort}. */
export function argsort(x: ArrayLike, axis = -1, opts: SortOptions = {}): Array {
  return sortImpl(x, axis, opts)[1];
}
