/**
 * Array creation for the `np` library: conversion from JS values (`array`, `asarray`: numbers,
 * booleans, nested JS arrays, typed arrays plus a shape), constant arrays (`zeros`, `ones`,
 * `full` and their `_like` forms) and ranges (`arange`, `linspace`, `eye`). Ranges and identity
 * matrices are built from `iota`, so inside a trace they are a few equations rather than a
 * captured constant.
 */

import { Array, type ArrayLike } from '../core/array.js';
import { allocate, castScalar, checkDtype, defaultScalarDtype, dtypeOfTypedArray, isFloat, type DType, type TypedArray } from '../core/dtype.js';
import { ShapeError, ValueError } from '../core/errors.js';
import type { AbstractValue } from '../core/ir.js';
import * as lax from '../core/lax.js';
import { fmtShape, sizeOf } from '../core/shape.js';
import { broadcast_to, stack } from './shape_ops.js';
import { checkInt, describe, toShape } from './util.js';

/** A nested JS array of numbers/booleans (or Myriad arrays), as accepted by {@link array}. */
export type NestedArray = number | boolean | Array | readonly NestedArray[];

/** Options of {@link array} and {@link asarray}. */
export interface ArrayOptions {
  /** Element type; default inferred (bool for booleans, int32 for integers, else float32). */
  dtype?: DType;
  /** Shape; required meaning for typed arrays (default 1-D), a reshape for other inputs. */
  shape?: number | readonly number[];
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Whether a nested JS array holds a Myriad Array anywhere. */
function containsMyriadArray(x: readonly unknown[]): boolean {
  return x.some((e) => e instanceof Array || (globalThis.Array.isArray(e) && containsMyriadArray(e)));
}

/** Walks a nested JS array, checking it is rectangular, and returns its shape. */
function nestedShape(x: readonly unknown[]): number[] {
  const shape: number[] = [];
  let cur: unknown = x;
  while (globalThis.Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return shape;
}

interface LeafStats {
  bools: number;
  numbers: number;
  nonInt: boolean;
}

function fmtPath(path: number[]): string {
  return path.length ? path.map((i) => `[${i}]`).join('') : 'the top level';
}

/** Copies the leaves of a rectangular nested array into `out`, in row-major order. */
function fillNested(x: unknown, shape: number[], depth: number, path: number[], out: number[], stats: LeafStats): void {
  if (depth === shape.length) {
    if (typeof x === 'number') {
      stats.numbers++;
      if (!Number.isInteger(x) || x < INT32_MIN || x > INT32_MAX) stats.nonInt = true;
      out.push(x);
    } else if (typeof x === 'boolean') {
      stats.bools++;
      out.push(x ? 1 : 0);
    } else if (globalThis.Array.isArray(x)) {
      throw new ValueError(`ragged nested array: element ${fmtPath(path)} is a list where a number was expected (shape so far ${fmtShape(shape)}); every row must have the same length`);
    } else {
      throw new ValueError(`element ${fmtPath(path)} is ${describe(x)}; nested arrays may only hold numbers, booleans and Myriad arrays`);
    }
    return;
  }
  if (!globalThis.Array.isArray(x)) {
    throw new ValueError(`ragged nested array: element ${fmtPath(path)} is ${describe(x)} where a list of length ${shape[depth]} was expected; every row must have the same length`);
  }
  if (x.length !== shape[depth]) {
    throw new ValueError(`ragged nested array: element ${fmtPath(path)} has length ${x.length} but the first element at that depth has length ${shape[depth]}; every row must have the same length`);
  }
  for (let i = 0; i < x.length; i++) {
    path.push(i);
    fillNested(x[i], shape, depth + 1, path, out, stats);
    path.pop();
  }
}

/** Copies `values` into fresh storage of dtype `d` with C-cast semantics. */
function castInto(values: readonly number[] | TypedArray, d: DType): TypedArray {
  const out = allocate(d, values.length);
  if (d === 'float64' || d === 'float32') {
    for (let i = 0; i < values.length; i++) out[i] = values[i];
  } else {
    for (let i = 0; i < values.length; i++) out[i] = castScalar(values[i], d);
  }
  return out;
}

function applyShape(a: Array, shape: number | readonly number[] | undefined, what: string): Array {
  if (shape === undefined) return a;
  const s = toShape(shape, what);
  if (sizeOf(s) !== a.size) throw new ShapeError(`${what}: shape ${fmtShape(s)} needs ${sizeOf(s)} elements but the data has ${a.size}`);
  return lax.reshape(a, s);
}

/**
 * Creates an array from a JS value: a number or boolean (0-d), a nested JS array (must be
 * rectangular; a ragged one is a ValueError naming the offending element), a typed array (with
 * `shape`, default 1-D) or a Myriad Array. Without `dtype`: booleans → bool, integers → int32,
 * any non-integer → float32, typed arrays keep their type. Data is always copied.
 * @example np.array([[1, 2], [3, 4]]) // int32 [2,2]
 * @example np.array(new Float32Array(6), { shape: [2, 3] })
 */
export function array(x: NestedArray | TypedArray, opts: ArrayOptions = {}): Array {
  const dtype = opts.dtype === undefined ? undefined : checkDtype(opts.dtype, 'np.array');
  if (x instanceof Array) return applyShape(dtype ? lax.convert(x, dtype) : x, opts.shape, 'np.array');
  if (typeof x === 'number' || typeof x === 'boolean') {
    return applyShape(Array.scalar(x, dtype ?? defaultScalarDtype(x)), opts.shape, 'np.array');
  }
  if (ArrayBuffer.isView(x)) {
    const src = x as TypedArray;
    const own = dtypeOfTypedArray(src);
    const d = dtype ?? own;
    const shape = opts.shape === undefined ? [src.length] : toShape(opts.shape, 'np.array');
    if (sizeOf(shape) !== src.length) throw new ShapeError(`np.array: shape ${fmtShape(shape)} needs ${sizeOf(shape)} elements but the typed array has ${src.length}`);
    const data = d === own ? src.slice() : castInto(src, d);
    return Array.fromData(data, shape, d);
  }
  if (!globalThis.Array.isArray(x)) throw new ValueError(`cannot make an array from ${describe(x)}; pass a number, boolean, nested JS array or typed array`);
  if (containsMyriadArray(x)) {
    if (x.length === 0) throw new ValueError('cannot stack an empty list');
    const parts = x.map((e) => array(e as NestedArray));
    const s = stack(parts, 0);
    return applyShape(dtype ? lax.convert(s, dtype) : s, opts.shape, 'np.array');
  }
  const shape = nestedShape(x);
  const values: number[] = [];
  const stats: LeafStats = { bools: 0, numbers: 0, nonInt: false };
  fillNested(x, shape, 0, [], values, stats);
  const d: DType = dtype ?? (stats.numbers === 0 && stats.bools > 0 ? 'bool' : stats.nonInt || values.length === 0 ? 'float32' : 'int32');
  return applyShape(Array.fromData(castInto(values, d), shape, d), opts.shape, 'np.array');
}

/**
 * Like {@link array}, but returns Myriad arrays unchanged (no copy, works on tracers) when no
 * dtype change is asked for.
 */
export function asarray(x: NestedArray | TypedArray, opts: ArrayOptions = {}): Array {
  if (x instanceof Array && opts.dtype === undefined && opts.shape === undefined) return x;
  return array(x, opts);
}

/** An array of `shape` filled with zeros (default float32). */
export function zeros(shape: number | readonly number[], dtype: DType = 'float32'): Array {
  return lax.full(0, checkDtype(dtype, 'np.zeros'), toShape(shape, 'np.zeros'));
}

/** An array of `shape` filled with ones (default float32). */
export function ones(shape: number | readonly number[], dtype: DType = 'float32'): Array {
  return lax.full(1, checkDtype(dtype, 'np.ones'), toShape(shape, 'np.ones'));
}

/**
 * An array of `shape` filled with `value` (a JS scalar, or an array broadcastable to `shape`).
 * Without `dtype` a JS value takes its default dtype (int32 for integers, float32 otherwise,
 * bool for booleans); an explicit dtype casts (C semantics).
 */
export function full(shape: number | readonly number[], value: ArrayLike, dtype?: DType): Array {
  const s = toShape(shape, 'np.full');
  const d = dtype === undefined ? undefined : checkDtype(dtype, 'np.full');
  if (value instanceof Array) return broadcast_to(d ? lax.convert(value, d) : value, s);
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new ValueError(`np.full: value must be a number, boolean or array, got ${describe(value)}`);
  return lax.full(Number(value), d ?? defaultScalarDtype(value), s);
}

/** Zeros with the shape and (unless given) dtype of `x`. */
export function zeros_like(x: AbstractValue, dtype?: DType): Array {
  return lax.full(0, dtype === undefined ? x.dtype : checkDtype(dtype, 'np.zeros_like'), [...x.shape]);
}

/** Ones with the shape and (unless given) dtype of `x`. */
export function ones_like(x: AbstractValue, dtype?: DType): Array {
  return lax.full(1, dtype === undefined ? x.dtype : checkDtype(dtype, 'np.ones_like'), [...x.shape]);
}

/** `value` broadcast to the shape of `x`, with the dtype of `x` unless given. */
export function full_like(x: AbstractValue, value: ArrayLike, dtype?: DType): Array {
  const d = dtype === undefined ? x.dtype : checkDtype(dtype, 'np.full_like');
  if (value instanceof Array) return broadcast_to(lax.convert(value, d), [...x.shape]);
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new ValueError(`np.full_like: value must be a number, boolean or array, got ${describe(value)}`);
  return lax.full(Number(value), d, [...x.shape]);
}

/**
 * Evenly spaced values in [start, stop) with `step`, like NumPy: `arange(5)` is 0..4,
 * `arange(2, 8, 2)` is [2, 4, 6]. dtype: int32 when start, stop and step are integers, else
 * float32 (values are computed as start + i·step in that dtype). Built from iota.
 */
export function arange(start: number, stop?: number | null, step = 1, dtype?: DType): Array {
  if (stop === undefined || stop === null) {
    stop = start;
    start = 0;
  }
  for (const [k, v] of [['start', start], ['stop', stop], ['step', step]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValueError(`np.arange: ${k} must be a finite number, got ${describe(v)}`);
  }
  if (step === 0) throw new ValueError('np.arange: step must not be 0');
  const d = dtype === undefined ? (Number.isInteger(start) && Number.isInteger(stop) && Number.isInteger(step) ? 'int32' : 'float32') : checkDtype(dtype, 'np.arange');
  if (d === 'bool') throw new ValueError("np.arange: dtype bool makes no sense for a range; use 'int32' or 'float32'");
  const n = Math.max(0, Math.ceil((stop - start) / step));
  let out = lax.iota(d, [n], 0);
  if (step !== 1) out = lax.mul(out, lax.full(step, d, [n]));
  if (start !== 0) out = lax.add(out, lax.full(start, d, [n]));
  return out;
}

/** Options of {@link linspace}. */
export interface LinspaceOptions {
  /** Include `stop` as the last value (default true). */
  endpoint?: boolean;
  /** Element type (default float32). */
  dtype?: DType;
}

/**
 * `num` evenly spaced values from `start` to `stop` (inclusive unless `endpoint: false`), like
 * NumPy. The last value is exactly `stop` when `endpoint` is true.
 */
export function linspace(start: number, stop: number, num = 50, opts: LinspaceOptions = {}): Array {
  checkInt(num, 'np.linspace: num', 0);
  if (typeof start !== 'number' || typeof stop !== 'number') throw new ValueError('np.linspace: start and stop must be numbers');
  const endpoint = opts.endpoint ?? true;
  const d = opts.dtype === undefined ? 'float32' : checkDtype(opts.dtype, 'np.linspace');
  const calc: DType = isFloat(d) ? d : 'float32';
  const div = endpoint ? num - 1 : num;
  const step = div > 0 ? (stop - start) / div : 0;
  const i = lax.iota(calc, [num], 0);
  let out = lax.add(lax.mul(i, lax.full(step, calc, [num])), lax.full(start, calc, [num]));
  if (endpoint && num > 1) out = lax.select(lax.eq(i, lax.full(num - 1, calc, [num])), lax.full(stop, calc, [num]), out);
  return lax.convert(out, d);
}

/**
 * A 2-D array with ones on the `k`-th diagonal and zeros elsewhere: `eye(n)` is the n×n
 * identity, `eye(n, m, k)` an n×m matrix with ones at (i, i + k).
 */
export function eye(n: number, m?: number | null, k = 0, dtype: DType = 'float32'): Array {
  checkInt(n, 'np.eye: n', 0);
  const cols = m === undefined || m === null ? n : checkInt(m, 'np.eye: m', 0);
  checkInt(k, 'np.eye: k');
  const d = checkDtype(dtype, 'np.eye');
  const rows = lax.iota('int32', [n, cols], 0);
  const cs = lax.iota('int32', [n, cols], 1);
  const shifted = k === 0 ? rows : lax.add(rows, lax.full(k, 'int32', [n, cols]));
  return lax.convert(lax.eq(shifted, cs), d);
}

/** The n×n identity matrix. */
export function identity(n: number, dtype: DType = 'float32'): Array {
  return eye(n, n, 0, dtype);
}
