/**
 * Internal helpers shared by the `np` modules: operand validation, NumPy dtype promotion with
 * weakly typed JS scalars, NumPy broadcasting via `broadcast_in_dim`, strict axis normalization,
 * and the wrapper that stamps np-level errors with the np function's name and the user's source
 * line. Nothing here is public API; the public functions live in the sibling modules.
 */

import { Array, type ArrayLike } from '../core/array.js';
import { isInteger, promoteTypes, weakScalarDtype, defaultScalarDtype, type DType } from '../core/dtype.js';
import { AxisError, DTypeError, MyriadError, ValueError, withLocation } from '../core/errors.js';
import * as lax from '../core/lax.js';
import { broadcastShapes, shapeEqual } from '../core/shape.js';

/** An axis argument: one axis, several, or null/undefined for all axes. */
export type Axis = number | readonly number[] | null | undefined;

/** A short description of a JS value for error messages. */
export function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (globalThis.Array.isArray(x)) return `a JS array of length ${x.length}`;
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name}`;
  if (typeof x === 'object') return `a ${(x as object).constructor?.name ?? 'object'}`;
  if (typeof x === 'string') return `the string ${JSON.stringify(x)}`;
  return `${typeof x} ${String(x)}`;
}

/** Throws unless `x` is an Array, a JS number or a boolean. */
export function checkOperand(x: unknown, what: string): asserts x is ArrayLike {
  if (x instanceof Array || typeof x === 'number' || typeof x === 'boolean') return;
  if (globalThis.Array.isArray(x) || ArrayBuffer.isView(x)) {
    throw new ValueError(`${what} is ${describe(x)}; np functions take Myriad arrays, numbers or booleans: convert it first with np.array(...)`);
  }
  throw new ValueError(`${what} must be an array, number or boolean, got ${describe(x)}`);
}

/** A weakly typed JS scalar as a concrete scalar of dtype `d`, refusing values `d` cannot hold. */
export function weakScalar(v: number | boolean, d: DType): Array {
  if (typeof v === 'number' && isInteger(d)) {
    if (!Number.isInteger(v)) throw new DTypeError(`the number ${v} is not an integer, so it cannot be used as ${d}; use a float array (astype('float32'))`);
    const [lo, hi] = d === 'int32' ? [-2147483648, 2147483647] : [0, 4294967295];
    if (v < lo || v > hi) throw new DTypeError(`the number ${v} does not fit in ${d} (range ${lo}..${hi}); use a float array or a wider value range`);
  }
  return Array.scalar(v, d);
}

/** Converts one operand (already validated) to an Array of dtype `d`. */
export function toDtype(x: ArrayLike, d: DType): Array {
  if (x instanceof Array) return lax.convert(x, d);
  return weakScalar(x, d);
}

/** An operand as an Array with its own dtype (JS scalars take their default dtype). */
export function toArray(x: ArrayLike): Array {
  if (x instanceof Array) return x;
  return Array.scalar(x, defaultScalarDtype(x));
}

/**
 * The result dtype of combining operands: arrays promote along the lattice; JS scalars are weak
 * (they take the arrays' dtype, except a non-integer number meeting integers gives float32).
 * With no arrays at all, the scalars' default dtypes are promoted.
 */
export function resultDtype(xs: readonly ArrayLike[]): DType {
  let d: DType | null = null;
  for (const x of xs) if (x instanceof Array) d = d === null ? x.dtype : promoteTypes(d, x.dtype);
  if (d === null) {
    for (const x of xs) {
      const s = defaultScalarDtype(x as number | boolean);
      d = d === null ? s : promoteTypes(d, s);
    }
    return d ?? 'float32';
  }
  for (const x of xs) if (!(x instanceof Array)) d = promoteTypes(d, weakScalarDtype(x, d));
  return d;
}

/** Converts all operands to their common (promoted) dtype. */
export function promote(xs: readonly ArrayLike[]): Array[] {
  const d = resultDtype(xs);
  return xs.map((x) => toDtype(x, d));
}

/** Broadcasts `x` to `shape` (trailing-aligned, NumPy rules; the shape rule checks sizes). */
export function bcast(x: Array, shape: readonly number[]): Array {
  if (shapeEqual(x.shape, shape)) return x;
  const off = shape.length - x.ndim;
  return lax.broadcastInDim(x, [...shape], x.shape.map((_, i) => i + off));
}

/** Broadcasts arrays to their common NumPy broadcast shape. */
export function broadcastAll(xs: readonly Array[]): Array[] {
  const shape = broadcastShapes(...xs.map((x) => x.shape));
  return xs.map((x) => bcast(x, shape));
}

/** Promotes then broadcasts operands. */
export function promoteAndBroadcast(xs: readonly ArrayLike[]): Array[] {
  return broadcastAll(promote(xs));
}

/** Normalizes one axis for rank `ndim` (negative counts from the end); AxisError otherwise. */
export function normAxis(axis: number, ndim: number, what = 'axis'): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < -ndim || axis >= ndim) {
    const valid = ndim === 0 ? 'an array of rank 0 has no axes; use axis=null' : `valid: ${-ndim}..${ndim - 1}`;
    throw new AxisError(`${what} ${String(axis)} is out of range for an array of rank ${ndim} (${valid})`);
  }
  return axis < 0 ? axis + ndim : axis;
}

/** Normalizes an axis argument to sorted distinct axes (all axes for null/undefined). */
export function normAxes(axis: Axis, ndim: number, what = 'axis'): number[] {
  if (axis === null || axis === undefined) return [...globalThis.Array(ndim).keys()];
  const list = typeof axis === 'number' ? [axis] : [...axis];
  const out = list.map((a) => normAxis(a, ndim, what));
  if (new Set(out).size !== out.length) throw new AxisError(`repeated ${what} in ${JSON.stringify(list)} for an array of rank ${ndim}; list each axis once`);
  return out.sort((a, b) => a - b);
}

/** Reinserts size-1 dims at `axes` after a reduction (keepdims). */
export function keepDims(y: Array, inShape: readonly number[], axes: readonly number[]): Array {
  return lax.reshape(y, inShape.map((d, i) => (axes.includes(i) ? 1 : d)));
}

/** `0..n-1` as a JS array. */
export function range(n: number): number[] {
  return [...globalThis.Array(n).keys()];
}

/** Checks that `shape` is a list of non-negative integers (a number means a 1-D shape). */
export function toShape(shape: number | readonly number[], what: string): number[] {
  const s = typeof shape === 'number' ? [shape] : shape;
  if (!globalThis.Array.isArray(s) || s.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
    throw new ValueError(`${what}: invalid shape ${JSON.stringify(shape)}; a shape is a non-negative integer or a list of them`);
  }
  return [...s];
}

/** Throws a ValueError unless `v` is an integer (optionally ≥ min). */
export function checkInt(v: unknown, what: string, min = -Infinity): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new ValueError(`${what} must be an integer${min > -Infinity ? ` ≥ ${min}` : ''}, got ${describe(v)}`);
  }
  return v;
}

interface Annotated {
  _annotated?: boolean;
  _npName?: string;
}

/**
 * Prefixes a Myriad error with the np function's name and, unless a primitive already did,
 * appends the user's source line. Other errors (internal bugs) pass through unchanged.
 */
export function annotateNpError(err: unknown, name: string): unknown {
  if (!(err instanceof MyriadError)) return err;
  const e = err as MyriadError & Annotated;
  if (e._npName === undefined) {
    e._npName = name;
    e.message = `np.${name}: ${e.message}`;
  }
  if (!e._annotated) {
    e.message = withLocation(e.message);
    e._annotated = true;
  }
  return e;
}

/** Wraps every function of a namespace so its Myriad errors carry the name and user location. */
export function wrapNamespace<T extends object>(ns: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(ns)) {
    if (typeof f !== 'function') {
      out[name] = f;
      continue;
    }
    const fn = f as (...args: unknown[]) => unknown;
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      try {
        return fn.apply(this, args);
      } catch (e) {
        throw annotateNpError(e, name);
      }
    };
    Object.defineProperty(wrapped, 'name', { value: name });
    out[name] = wrapped;
  }
  return Object.freeze(out) as T;
}

/**
 * An index outside the bounds of an axis, or too many indices (`np.slice`). A ValueError
 * subclass, so `catch (e) { if (e instanceof ValueError) … }` also sees it.
 */
export class IndexError extends ValueError {}

/** The main diagonal of the last two (equal) dims, as the last dim. */
export function diagOfSquare(t: Array): Array {
  const lead = t.shape.slice(0, -2);
  const d = t.shape[t.ndim - 1];
  const flat = lax.reshape(t, [...lead, d * d]);
  if (d <= 1) return lax.reshape(flat, [...lead, d]);
  return lax.slice(flat, [...lead.map(() => 0), 0], [...lead, d * d], [...lead.map(() => 1), d + 1]);
}

/** `x` as a bool array (`x != 0` unless already bool). */
export function toBool(x: ArrayLike): Array {
  checkOperand(x, 'operand');
  const a = toArray(x);
  return a.dtype === 'bool' ? a : lax.ne(a, lax.full(0, a.dtype, [...a.shape]));
}
