/**
 * Elementwise functions of the `np` library. Binary functions promote their operands (JS numbers
 * and booleans are weakly typed, see util.ts/resultDtype) and broadcast them with NumPy rules
 * before binding one primitive; unary math promotes integers and bools to float32 as NumPy/JAX
 * do. NumPy semantics are kept where they differ from the primitives: true division, floored
 * `floor_divide`/`remainder` (sign of the divisor), `round` half to even, bool `add`/`multiply`
 * as logical or/and.
 */

import { Array, type ArrayLike } from '../core/array.js';
import { checkDtype, finfo, isFloat, isInteger, type DType } from '../core/dtype.js';
import { DTypeError, ValueError } from '../core/errors.js';
import * as lax from '../core/lax.js';
import { broadcastShapes } from '../core/shape.js';
import { bcast, checkOperand, describe, promote, promoteAndBroadcast, resultDtype, toArray, toBool, toDtype } from './util.js';

// ---------------------------------------------------------------- helpers

function two(a: ArrayLike, b: ArrayLike): [Array, Array] {
  checkOperand(a, 'first operand');
  checkOperand(b, 'second operand');
  const [x, y] = promoteAndBroadcast([a, b]);
  return [x, y];
}

function one(x: ArrayLike): Array {
  checkOperand(x, 'operand');
  return toArray(x);
}

/** The operand as a float array (ints and bools convert to float32). */
function floatArg(x: ArrayLike): Array {
  const a = one(x);
  return isFloat(a.dtype) ? a : lax.convert(a, 'float32');
}

function scalarLike(x: Array, v: number): Array {
  return lax.full(v, x.dtype, [...x.shape]);
}

function needIntOrBool(name: string, a: Array): void {
  if (isFloat(a.dtype)) throw new DTypeError(`${name} needs integer or bool operands, got ${a.dtype}; convert with astype('int32')`);
}


// ---------------------------------------------------------------- arithmetic

/** Elementwise `a + b` (logical or for two bools). */
export function add(a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = two(a, b);
  return x.dtype === 'bool' ? lax.or(x, y) : lax.add(x, y);
}

/** Elementwise `a - b` (not defined for two bools: use logical_xor). */
export function subtract(a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = two(a, b);
  if (x.dtype === 'bool') throw new DTypeError('subtracting booleans is not supported; use np.logical_xor, or convert with astype(\'int32\')');
  return lax.sub(x, y);
}

/** Elementwise `a * b` (logical and for two bools). */
export function multiply(a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = two(a, b);
  return x.dtype === 'bool' ? lax.and(x, y) : lax.mul(x, y);
}

/** True division `a / b`; integer and bool operands give float32. */
export function divide(a: ArrayLike, b: ArrayLike): Array {
  let [x, y] = two(a, b);
  if (!isFloat(x.dtype)) {
    x = lax.convert(x, 'float32');
    y = lax.convert(y, 'float32');
  }
  return lax.div(x, y);
}

/** Same as {@link divide}. */
export function true_divide(a: ArrayLike, b: ArrayLike): Array {
  return divide(a, b);
}

/** Whether the integer remainder `r` needs the divisor added (floored semantics). */
function wrongSign(r: Array, y: Array): Array {
  const zero = scalarLike(r, 0);
  return lax.and(lax.ne(r, zero), lax.ne(lax.lt(r, zero), lax.lt(y, zero)));
}

/** Floor of `a / b` (rounds toward −∞ like Python's `//`); ints stay ints. */
export function floor_divide(a: ArrayLike, b: ArrayLike): Array {
  let [x, y] = two(a, b);
  if (x.dtype === 'bool') {
    x = lax.convert(x, 'int32');
    y = lax.convert(y, 'int32');
  }
  if (isFloat(x.dtype)) return lax.floor(lax.div(x, y));
  const q = lax.div(x, y);
  if (x.dtype === 'uint32') return q;
  return lax.select(wrongSign(lax.rem(x, y), y), lax.sub(q, scalarLike(q, 1)), q);
}

/**
 * Remainder with the sign of the divisor, like Python's `%` and NumPy's `remainder`
 * (`remainder(-1, 3)` is 2). See {@link fmod} for the C remainder.
 */
export function remainder(a: ArrayLike, b: ArrayLike): Array {
  let [x, y] = two(a, b);
  if (x.dtype === 'bool') {
    x = lax.convert(x, 'int32');
    y = lax.convert(y, 'int32');
  }
  const r = lax.rem(x, y);
  if (x.dtype === 'uint32') return r;
  return lax.select(wrongSign(r, y), lax.add(r, y), r);
}

/** Same as {@link remainder}. */
export function mod(a: ArrayLike, b: ArrayLike): Array {
  return remainder(a, b);
}

/** C-style remainder with the sign of the dividend (`fmod(-1, 3)` is -1). */
export function fmod(a: ArrayLike, b: ArrayLike): Array {
  let [x, y] = two(a, b);
  if (x.dtype === 'bool') {
    x = lax.convert(x, 'int32');
    y = lax.convert(y, 'int32');
  }
  return lax.rem(x, y);
}

/** x^n for a static integer n ≥ 1 by repeated squaring (exact for ints, few roundings for floats). */
function intPowStatic(x: Array, n: number): Array {
  let acc: Array | null = null;
  let base = x;
  while (n > 0) {
    if (n & 1) acc = acc ? lax.mul(acc, base) : base;
    n = Math.floor(n / 2);
    if (n > 0) base = lax.mul(base, base);
  }
  return acc!;
}

/** Integer power with an integer array exponent (wrapping like repeated multiplication). */
function intPowArray(x: Array, y: Array): Array {
  const d = x.dtype;
  const one_ = scalarLike(x, 1);
  const zero = scalarLike(x, 0);
  let e = d === 'int32' ? lax.abs(y) : y;
  let bits = 32;
  if (!y.isTracer) {
    let mx = 0;
    for (const v of e.dataSync()) mx = Math.max(mx, v >>> 0);
    bits = Math.max(1, Math.ceil(Math.log2(mx + 1)));
  }
  let acc = one_;
  let base = x;
  for (let bit = 0; bit < bits; bit++) {
    const on = lax.ne(lax.and(e, one_), zero);
    acc = lax.select(on, lax.mul(acc, base), acc);
    if (bit + 1 < bits) {
      base = lax.mul(base, base);
      e = lax.shiftRightLogical(e, one_);
    }
  }
  if (d === 'int32') {
    // x^-n truncated toward zero: 1 for x = 1, ±1 for x = -1, 0 otherwise
    const minus = scalarLike(x, -1);
    const odd = lax.ne(lax.and(y, one_), zero);
    const negRes = lax.select(lax.eq(x, one_), one_, lax.select(lax.eq(x, minus), lax.select(odd, minus, one_), zero));
    acc = lax.select(lax.lt(y, zero), negRes, acc);
  }
  return acc;
}

/**
 * Elementwise `a ** b`. A JS integer exponent (|n| ≤ 32) is applied by repeated multiplication
 * (so `x ** 2` is `x·x`, and negative integer powers of floats are reciprocals); integer arrays
 * to integer powers stay integers (a negative power of an int other than ±1 is 0); otherwise
 * float `pow`.
 */
export function power(a: ArrayLike, b: ArrayLike): Array {
  checkOperand(a, 'base');
  checkOperand(b, 'exponent');
  if (typeof b === 'number' && Number.isInteger(b) && Math.abs(b) <= 32) {
    let x = toDtype(a, resultDtype([a, b]));
    if (x.dtype === 'bool') x = lax.convert(x, 'int32');
    if (b === 0) return scalarLike(x, 1);
    if (b > 0) return intPowStatic(x, b);
    if (!isFloat(x.dtype)) throw new ValueError(`integers to negative integer powers are not allowed (exponent ${b}); use a float base, e.g. x.astype('float32')`);
    return lax.div(scalarLike(x, 1), intPowStatic(x, -b));
  }
  let [x, y] = two(a, b);
  if (x.dtype === 'bool') {
    x = lax.convert(x, 'int32');
    y = lax.convert(y, 'int32');
  }
  if (isFloat(x.dtype)) return lax.pow(x, y);
  return intPowArray(x, y);
}

/** Elementwise maximum (NaN propagates). */
export function maximum(a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = two(a, b);
  return lax.max(x, y);
}

/** Elementwise minimum (NaN propagates). */
export function minimum(a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = two(a, b);
  return lax.min(x, y);
}

/** Elementwise arctangent of a/b choosing the quadrant (float). */
export function arctan2(a: ArrayLike, b: ArrayLike): Array {
  let [x, y] = two(a, b);
  if (!isFloat(x.dtype)) {
    x = lax.convert(x, 'float32');
    y = lax.convert(y, 'float32');
  }
  return lax.atan2(x, y);
}

/** Stable `log(exp(a) + exp(b))` (exact gradients: the shift is a stopped-gradient max). */
export function logaddexp(a: ArrayLike, b: ArrayLike): Array {
  let [x, y] = two(a, b);
  if (!isFloat(x.dtype)) {
    x = lax.convert(x, 'float32');
    y = lax.convert(y, 'float32');
  }
  const m = lax.stopGradient(lax.max(x, y));
  const shift = lax.select(lax.isFinite(m), m, lax.zerosLike(m));
  const s = lax.add(lax.exp(lax.sub(x, shift)), lax.exp(lax.sub(y, shift)));
  return lax.add(lax.log(s), shift);
}

// ---------------------------------------------------------------- unary arithmetic

/** Elementwise `-x` (not defined for bools: use logical_not). */
export function negative(x: ArrayLike): Array {
  const a = one(x);
  if (a.dtype === 'bool') throw new DTypeError('negating booleans is not supported; use np.logical_not');
  return lax.neg(a);
}

/** Elementwise `+x` (identity). */
export function positive(x: ArrayLike): Array {
  return one(x);
}

/** Elementwise absolute value. */
export function abs(x: ArrayLike): Array {
  const a = one(x);
  return a.dtype === 'bool' || a.dtype === 'uint32' ? a : lax.abs(a);
}

/** Same as {@link abs}. */
export function absolute(x: ArrayLike): Array {
  return abs(x);
}

/** Elementwise sign: -1, 0 or 1 (NaN stays NaN). */
export function sign(x: ArrayLike): Array {
  const a = one(x);
  if (a.dtype === 'bool') return a;
  if (a.dtype === 'uint32') return lax.convert(lax.ne(a, scalarLike(a, 0)), 'uint32');
  return lax.sign(a);
}

/** Elementwise `x * x`. */
export function square(x: ArrayLike): Array {
  const a = one(x);
  return a.dtype === 'bool' ? a : lax.mul(a, a);
}

/** Elementwise `1 / x` (float; ints convert to float32). */
export function reciprocal(x: ArrayLike): Array {
  const a = floatArg(x);
  return lax.div(scalarLike(a, 1), a);
}

/** Elementwise e^x. */
export function exp(x: ArrayLike): Array {
  return lax.exp(floatArg(x));
}

/** Elementwise 2^x. */
export function exp2(x: ArrayLike): Array {
  const a = floatArg(x);
  return lax.pow(scalarLike(a, 2), a);
}

/** Elementwise natural logarithm. */
export function log(x: ArrayLike): Array {
  return lax.log(floatArg(x));
}

/** Elementwise base-2 logarithm. */
export function log2(x: ArrayLike): Array {
  const a = floatArg(x);
  return lax.div(lax.log(a), scalarLike(a, Math.LN2));
}

/** Elementwise base-10 logarithm. */
export function log10(x: ArrayLike): Array {
  const a = floatArg(x);
  return lax.div(lax.log(a), scalarLike(a, Math.LN10));
}

/** Elementwise log(1 + x), accurate for small x. */
export function log1p(x: ArrayLike): Array {
  return lax.log1p(floatArg(x));
}

/** Elementwise e^x − 1, accurate for small x. */
export function expm1(x: ArrayLike): Array {
  return lax.expm1(floatArg(x));
}

/** Elementwise square root. */
export function sqrt(x: ArrayLike): Array {
  return lax.sqrt(floatArg(x));
}

/** Elementwise 1/√x. */
export function rsqrt(x: ArrayLike): Array {
  return lax.rsqrt(floatArg(x));
}

/** Elementwise sine. */
export function sin(x: ArrayLike): Array {
  return lax.sin(floatArg(x));
}

/** Elementwise cosine. */
export function cos(x: ArrayLike): Array {
  return lax.cos(floatArg(x));
}

/** Elementwise tangent (sin/cos). */
export function tan(x: ArrayLike): Array {
  const a = floatArg(x);
  return lax.div(lax.sin(a), lax.cos(a));
}

/** Elementwise hyperbolic tangent. */
export function tanh(x: ArrayLike): Array {
  return lax.tanh(floatArg(x));
}

/** Elementwise error function. */
export function erf(x: ArrayLike): Array {
  return lax.erf(floatArg(x));
}

/** Elementwise floor (ints and bools unchanged). */
export function floor(x: ArrayLike): Array {
  const a = one(x);
  return isFloat(a.dtype) ? lax.floor(a) : a;
}

/** Elementwise ceiling (ints and bools unchanged). */
export function ceil(x: ArrayLike): Array {
  const a = one(x);
  return isFloat(a.dtype) ? lax.ceil(a) : a;
}

/** Elementwise rounding toward zero (ints and bools unchanged). */
export function trunc(x: ArrayLike): Array {
  const a = one(x);
  if (!isFloat(a.dtype)) return a;
  return lax.select(lax.lt(a, scalarLike(a, 0)), lax.ceil(a), lax.floor(a));
}

/** Round half to even, the NumPy rule (lax.round rounds half away from zero). */
function roundHalfEven(a: Array): Array {
  const r = lax.round(a);
  const half = lax.eq(lax.sub(a, lax.floor(a)), scalarLike(a, 0.5));
  const even = lax.mul(lax.round(lax.mul(a, scalarLike(a, 0.5))), scalarLike(a, 2));
  return lax.select(half, even, r);
}

/**
 * Rounds to `decimals` decimal places (default 0), halves to even like NumPy
 * (`round(2.5)` is 2, `round(-0.5)` is -0). Ints are unchanged for decimals ≥ 0.
 */
export function round(x: ArrayLike, decimals = 0): Array {
  const a = one(x);
  if (!Number.isInteger(decimals)) throw new ValueError(`decimals must be an integer, got ${describe(decimals)}`);
  if (!isFloat(a.dtype)) {
    if (decimals >= 0) return a;
    const f = lax.convert(a, 'float32');
    return lax.convert(round(f, decimals), a.dtype);
  }
  if (decimals === 0) return roundHalfEven(a);
  const scale = scalarLike(a, 10 ** decimals);
  return lax.div(roundHalfEven(lax.mul(a, scale)), scale);
}

// ---------------------------------------------------------------- comparison

function cmp(op: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge', a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = two(a, b);
  return lax.compare(op, x, y);
}

/** Elementwise `a == b` (bool). */
export function equal(a: ArrayLike, b: ArrayLike): Array {
  return cmp('eq', a, b);
}
/** Elementwise `a != b` (bool). */
export function not_equal(a: ArrayLike, b: ArrayLike): Array {
  return cmp('ne', a, b);
}
/** Elementwise `a < b` (bool). */
export function less(a: ArrayLike, b: ArrayLike): Array {
  return cmp('lt', a, b);
}
/** Elementwise `a <= b` (bool). */
export function less_equal(a: ArrayLike, b: ArrayLike): Array {
  return cmp('le', a, b);
}
/** Elementwise `a > b` (bool). */
export function greater(a: ArrayLike, b: ArrayLike): Array {
  return cmp('gt', a, b);
}
/** Elementwise `a >= b` (bool). */
export function greater_equal(a: ArrayLike, b: ArrayLike): Array {
  return cmp('ge', a, b);
}

// ---------------------------------------------------------------- logical and bitwise

function bools(a: ArrayLike, b: ArrayLike): [Array, Array] {
  checkOperand(a, 'first operand');
  checkOperand(b, 'second operand');
  const x = toBool(a), y = toBool(b);
  const shape = broadcastShapes(x.shape, y.shape);
  return [bcast(x, shape), bcast(y, shape)];
}

/** Elementwise logical and (operands are tested against 0). */
export function logical_and(a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = bools(a, b);
  return lax.and(x, y);
}
/** Elementwise logical or. */
export function logical_or(a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = bools(a, b);
  return lax.or(x, y);
}
/** Elementwise logical exclusive or. */
export function logical_xor(a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = bools(a, b);
  return lax.xor(x, y);
}
/** Elementwise logical not. */
export function logical_not(x: ArrayLike): Array {
  return lax.not(toBool(x));
}

function bitwise(op: 'and' | 'or' | 'xor', name: string, a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = two(a, b);
  needIntOrBool(name, x);
  return lax.binary(op, x, y);
}

/** Elementwise bitwise and of integers (logical and of bools). */
export function bitwise_and(a: ArrayLike, b: ArrayLike): Array {
  return bitwise('and', 'bitwise_and', a, b);
}
/** Elementwise bitwise or. */
export function bitwise_or(a: ArrayLike, b: ArrayLike): Array {
  return bitwise('or', 'bitwise_or', a, b);
}
/** Elementwise bitwise exclusive or. */
export function bitwise_xor(a: ArrayLike, b: ArrayLike): Array {
  return bitwise('xor', 'bitwise_xor', a, b);
}
/** Elementwise bitwise not (`~x`; logical not for bools). */
export function bitwise_not(x: ArrayLike): Array {
  const a = one(x);
  needIntOrBool('bitwise_not', a);
  return lax.not(a);
}
/** Same as {@link bitwise_not}. */
export function invert(x: ArrayLike): Array {
  return bitwise_not(x);
}

function shiftArgs(name: string, a: ArrayLike, b: ArrayLike): [Array, Array] {
  const [x, y] = two(a, b);
  if (!isInteger(x.dtype)) throw new DTypeError(`${name} needs integer operands, got ${x.dtype}; convert with astype('int32') or astype('uint32')`);
  return [x, y];
}

/** Elementwise `a << b` (counts ≥ 32 give 0). */
export function left_shift(a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = shiftArgs('left_shift', a, b);
  return lax.shiftLeft(x, y);
}
/** Elementwise `a >> b`: arithmetic for int32, logical for uint32. */
export function right_shift(a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = shiftArgs('right_shift', a, b);
  return x.dtype === 'uint32' ? lax.shiftRightLogical(x, y) : lax.shiftRightArithmetic(x, y);
}

// ---------------------------------------------------------------- predicates and cleanup

/** Whether each element is finite (always true for ints and bools). */
export function isfinite(x: ArrayLike): Array {
  const a = one(x);
  return isFloat(a.dtype) ? lax.isFinite(a) : lax.full(1, 'bool', [...a.shape]);
}

/** Whether each element is NaN. */
export function isnan(x: ArrayLike): Array {
  const a = one(x);
  return isFloat(a.dtype) ? lax.ne(a, a) : lax.full(0, 'bool', [...a.shape]);
}

/** Whether each element is +∞ or −∞. */
export function isinf(x: ArrayLike): Array {
  const a = one(x);
  if (!isFloat(a.dtype)) return lax.full(0, 'bool', [...a.shape]);
  return lax.and(lax.not(lax.isFinite(a)), lax.eq(a, a));
}

/** Options of {@link nan_to_num}. */
export interface NanToNumOptions {
  /** Replacement for NaN (default 0). */
  nan?: number;
  /** Replacement for +∞ (default: the dtype's largest finite value). */
  posinf?: number;
  /** Replacement for −∞ (default: the dtype's most negative finite value). */
  neginf?: number;
}

/** Replaces NaN and infinities by finite numbers (ints and bools unchanged). */
export function nan_to_num(x: ArrayLike, opts: NanToNumOptions = {}): Array {
  const a = one(x);
  if (!isFloat(a.dtype)) return a;
  const fi = finfo(a.dtype);
  let out = lax.select(lax.ne(a, a), scalarLike(a, opts.nan ?? 0), a);
  out = lax.select(lax.eq(a, scalarLike(a, Infinity)), scalarLike(a, opts.posinf ?? fi.max), out);
  return lax.select(lax.eq(a, scalarLike(a, -Infinity)), scalarLike(a, opts.neginf ?? fi.min), out);
}

/**
 * Limits values to [lo, hi] (either may be null/undefined for no bound). Operands are promoted
 * and broadcast together.
 */
export function clip(x: ArrayLike, lo?: ArrayLike | null, hi?: ArrayLike | null): Array {
  checkOperand(x, 'x');
  const hasLo = lo !== undefined && lo !== null, hasHi = hi !== undefined && hi !== null;
  if (!hasLo && !hasHi) throw new ValueError('clip needs at least one of lo and hi');
  if (hasLo) checkOperand(lo, 'lo');
  if (hasHi) checkOperand(hi, 'hi');
  const ops = [x, ...(hasLo ? [lo] : []), ...(hasHi ? [hi] : [])];
  const arrs = promoteAndBroadcast(ops);
  let out = arrs[0];
  if (hasLo) out = lax.max(out, arrs[1]);
  if (hasHi) out = lax.min(out, arrs[arrs.length - 1]);
  return out;
}

/**
 * Picks `x` where `cond` is true and `y` elsewhere; the three broadcast together, `x` and `y`
 * are promoted to a common dtype, and a non-bool `cond` is tested against 0.
 */
export function where(cond: ArrayLike, x: ArrayLike, y: ArrayLike): Array {
  if (x === undefined || y === undefined) throw new ValueError('where needs three arguments (cond, x, y); the one-argument form (nonzero indices) has a data-dependent shape and is not supported');
  checkOperand(cond, 'cond');
  checkOperand(x, 'x');
  checkOperand(y, 'y');
  const c = toBool(cond);
  const [a, b] = promote([x, y]);
  const shape = broadcastShapes(c.shape, a.shape, b.shape);
  return lax.select(bcast(c, shape), bcast(a, shape), bcast(b, shape));
}

/**
 * NumPy `select`: for each element, the value from the first choice whose condition holds,
 * else `defaultValue` (default 0).
 */
export function select(condlist: readonly ArrayLike[], choicelist: readonly ArrayLike[], defaultValue: ArrayLike = 0): Array {
  if (!globalThis.Array.isArray(condlist) || !globalThis.Array.isArray(choicelist) || condlist.length !== choicelist.length) {
    throw new ValueError(`condlist and choicelist must be lists of the same length, got ${describe(condlist)} and ${describe(choicelist)}`);
  }
  checkOperand(defaultValue, 'default');
  const choices = promote([...choicelist, defaultValue]);
  let out = choices[choices.length - 1];
  for (let i = condlist.length - 1; i >= 0; i--) out = where(condlist[i], choices[i], out);
  return out;
}

/** Converts to another dtype (floats → ints truncate toward zero and saturate; → bool is `x != 0`). */
export function astype(x: ArrayLike, dtype: DType): Array {
  return lax.convert(one(x), checkDtype(dtype, 'astype'));
}

/** Options of {@link isclose}. */
export interface IsCloseOptions {
  /** Relative tolerance (default 1e-5). */
  rtol?: number;
  /** Absolute tolerance (default 1e-8). */
  atol?: number;
  /** Whether NaN equals NaN (default false). */
  equal_nan?: boolean;
}

/** Elementwise `|a − b| ≤ atol + rtol·|b|` (equal infinities count as close). */
export function isclose(a: ArrayLike, b: ArrayLike, opts: IsCloseOptions = {}): Array {
  let [x, y] = two(a, b);
  if (!isFloat(x.dtype)) {
    x = lax.convert(x, 'float32');
    y = lax.convert(y, 'float32');
  }
  const tol = lax.add(scalarLike(x, opts.atol ?? 1e-8), lax.mul(scalarLike(x, opts.rtol ?? 1e-5), lax.abs(y)));
  let out = lax.or(lax.eq(x, y), lax.le(lax.abs(lax.sub(x, y)), tol));
  if (opts.equal_nan) out = lax.or(out, lax.and(lax.ne(x, x), lax.ne(y, y)));
  return out;
}
