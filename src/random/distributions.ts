/**
 * Samplers on top of the Threefry bits: uniform, normal, truncatedNormal, bernoulli, gumbel,
 * categorical, randint, permutation and choice. Each follows the algorithm of the same-named
 * function in JAX's jax/_src/random.py step by step (named in the JSDoc), with `lax`
 * primitives only, so results match JAX's (partitionable threefry, 32-bit mode) and the code
 * runs inside traced functions. Elementwise samplers take an optional `window` to compute just
 * a block [start, limit) of the array (equal to slicing the full result).
 */

import { Array } from '../core/array.js';
import { allocate, isFloat, type DType } from '../core/dtype.js';
import { DTypeError, ShapeError, TracerError, ValueError } from '../core/errors.js';
import { fmtAval } from '../core/ir.js';
import * as lax from '../core/lax.js';
import { broadcastShapes, fmtShape, normAxis, shapeEqual, sizeOf } from '../core/shape.js';
import { erfInv } from './erf_inv.js';
import { bitPairs, bits32, checkKey, keyAt, split, userShape, type Key, type RandomWindow } from './threefry.js';

/** Float dtypes the samplers produce. float64 exists for gradient checks on the reference interpreter. */
export type FloatDType = 'float32' | 'float64';

/** A number (weakly typed: takes the sampler's dtype) or an array. */
export type Param = number | Array;

function floatDtype(d: unknown, where: string): FloatDType {
  if (d === undefined) return 'float32';
  if (d === 'float32' || d === 'float64') return d;
  throw new DTypeError(`${where}: dtype must be 'float32' or 'float64', got ${JSON.stringify(d)}`);
}

/** Broadcasts `x` to exactly `shape` with NumPy rules (trailing alignment, size-1 dims stretch). */
function broadcastTo(x: Array, shape: number[], what: string): Array {
  if (shapeEqual(x.shape, shape)) return x;
  const offset = shape.length - x.ndim;
  if (!broadcastsTo(x.shape, shape)) {
    throw new ShapeError(`${what}: shape ${fmtShape(x.shape)} does not broadcast to the sample shape ${fmtShape(shape)}; give a parameter whose trailing dimensions match the shape or are 1`);
  }
  return lax.broadcastInDim(x, shape, x.shape.map((_, i) => offset + i));
}

/** Whether `from` broadcasts to exactly `to` (NumPy rules). */
function broadcastsTo(from: readonly number[], to: readonly number[]): boolean {
  const offset = to.length - from.length;
  return offset >= 0 && from.every((d, i) => d === 1 || d === to[offset + i]);
}

/** A parameter as an array of `dtype`: a scalar for numbers, else converted (not yet broadcast). */
function paramArray(v: Param, dtype: DType, what: string): Array {
  if (typeof v === 'number') return lax.full(v, dtype, []);
  if (v instanceof Array) {
    if (v.dtype === 'bool' && isFloat(dtype)) throw new DTypeError(`${what}: got a bool array ${fmtAval(v)}; use a numeric array`);
    return lax.convert(v, dtype);
  }
  throw new ValueError(`${what}: expected a number or an array, got ${v === null ? 'null' : typeof v}`);
}

function bcast(x: Array, shape: number[], what: string): Array {
  return x.ndim === 0 && shape.length ? lax.broadcastInDim(x, shape, []) : broadcastTo(x, shape, what);
}

function paramShape(v: Param): number[] {
  return typeof v === 'number' ? [] : [...v.shape];
}

/**
 * float32 unit floats in [0, 1) from 32 random bits (JAX `_uniform`): JAX keeps the top 23 bits
 * as the mantissa of a float in [1, 2) and subtracts 1: bitcast(bits >>> 9 | 0x3f800000) − 1 =
 * (1 + m·2⁻²³) − 1 = m·2⁻²³ exactly (Sterbenz), and float32(m)·2⁻²³ is the same number (m < 2²⁴
 * converts exactly; scaling by 2⁻²³ is exact) — so no bitcast primitive is needed.
 */
export function unitFloat32FromBits(bits: Array): Array {
  const shape = [...bits.shape];
  const m = lax.shiftRightLogical(bits, lax.full(9, 'uint32', shape));
  return lax.mul(lax.convert(m, 'float32'), lax.full(2 ** -23, 'float32', shape));
}

/**
 * float64 unit floats in [0, 1) from the two threefry words: JAX's 64-bit bits are
 * (x0 << 32) | x1; the top 52 are x0·2²⁰ + (x1 >>> 12), and the float is that integer times
 * 2⁻⁵² (exact in float64). Equals jax.random.uniform in x64 mode (partitionable).
 */
export function unitFloat64FromWords(x0: Array, x1: Array): Array {
  const s = [...x0.shape];
  const hi = lax.mul(lax.convert(x0, 'float64'), lax.full(2 ** 20, 'float64', s));
  const lo = lax.convert(lax.shiftRightLogical(x1, lax.full(12, 'uint32', s)), 'float64');
  return lax.mul(lax.add(hi, lo), lax.full(2 ** -52, 'float64', s));
}

/** Uniform floats in [0, 1) for the window of an array of `shape`. */
function unitFloats(key: Key, shape: number[], dtype: FloatDType, window: RandomWindow | undefined, where: string): Array {
  if (dtype === 'float32') return unitFloat32FromBits(bits32(key, shape, window, where));
  const [x0, x1] = bitPairs(key, shape, window, where);
  return unitFloat64FromWords(x0, x1);
}

/** Scales unit floats f to max(minval, f·(maxval − minval) + minval) (JAX `_uniform`). */
export function scaleUniform(f: Array, minval: Param, maxval: Param, where: string): Array {
  const shape = [...f.shape];
  const lo = paramArray(minval, f.dtype, `${where} minval`);
  const hi = paramArray(maxval, f.dtype, `${where} maxval`);
  let span: Array;
  if (lo.ndim === 0 && hi.ndim === 0) span = lax.sub(hi, lo);
  else span = lax.sub(bcast(hi, shape, `${where} maxval`), bcast(lo, shape, `${where} minval`));
  const loB = bcast(lo, shape, `${where} minval`);
  return lax.max(loB, lax.add(lax.mul(f, bcast(span, shape, where)), loB));
}

/** Options of the elementwise float samplers. */
export interface FloatSampleOptions {
  /** 'float32' (default) or 'float64' (reference interpreter only). */
  dtype?: FloatDType;
  /**
   * Compute only the block [start, limit) of the array of `shape`; the result equals slicing
   * the full sample. Array-valued parameters must then be given for the block (broadcastable
   * to its shape).
   */
  window?: RandomWindow;
}

/**
 * `random.uniform(key, shape, {dtype, minval, maxval})`: uniform floats in [minval, maxval)
 * (JAX `uniform`): the top 23 (float32) or 52 (float64) random bits form f in [0, 1), then
 * max(minval, f·(maxval − minval) + minval), computed in the dtype.
 */
export function uniform(key: Key, shape: number[] = [], opts: FloatSampleOptions & { minval?: Param; maxval?: Param } = {}): Array {
  const where = 'random.uniform';
  checkKey(key, where);
  const s = userShape(shape, where);
  const dtype = floatDtype(opts.dtype, where);
  const f = unitFloats(key, s, dtype, opts.window, where);
  return scaleUniform(f, opts.minval ?? 0, opts.maxval ?? 1, where);
}

/** The float32/float64 number just above −1 (np.nextafter(−1, 0) in the dtype). */
function nextAboveMinusOne(dtype: FloatDType): number {
  return dtype === 'float32' ? -(1 - 2 ** -24) : -(1 - 2 ** -53);
}

/**
 * `random.normal(key, shape, {dtype})`: standard normal samples (JAX `_normal_real`):
 * √2 · erfinv(u) with u uniform in (nextafter(−1, 0), 1).
 */
export function normal(key: Key, shape: number[] = [], opts: FloatSampleOptions = {}): Array {
  const where = 'random.normal';
  checkKey(key, where);
  const s = userShape(shape, where);
  const dtype = floatDtype(opts.dtype, where);
  return normalFromUnit(unitFloats(key, s, dtype, opts.window, where));
}

/** Standard normals from unit floats f in [0, 1): √2·erfinv(scale f to (nextafter(−1, 0), 1)). */
export function normalFromUnit(f: Array): Array {
  const dtype = f.dtype as FloatDType;
  const u = scaleUniform(f, nextAboveMinusOne(dtype), 1, 'random.normal');
  return lax.mul(lax.full(Math.SQRT2, dtype, [...u.shape]), erfInv(u));
}

/** The next representable number after `x` toward `toward`, in float32 or float64. */
export function nextAfter(x: number, toward: number, dtype: FloatDType): number {
  if (Number.isNaN(x) || Number.isNaN(toward)) return NaN;
  if (x === toward) return toward;
  if (dtype === 'float32') {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    f[0] = x;
    if (f[0] === 0) {
      u[0] = 1; // smallest subnormal, with the sign of the direction
      return toward > 0 ? f[0] : -f[0];
    }
    const up = toward > f[0];
    u[0] += (f[0] > 0) === up ? 1 : -1;
    return f[0];
  }
  const f = new Float64Array(1);
  const u = new BigUint64Array(f.buffer);
  f[0] = x;
  if (f[0] === 0) {
    u[0] = 1n;
    return toward > 0 ? f[0] : -f[0];
  }
  const up = toward > f[0];
  u[0] += (f[0] > 0) === up ? 1n : -1n;
  return f[0];
}

/** Clip bounds nextafter(bound, direction) for a static (number or concrete array) bound. */
function staticNextAfter(v: Param, toward: number, dtype: FloatDType, what: string): Array {
  if (typeof v === 'number') return lax.full(nextAfter(dtype === 'float32' ? Math.fround(v) : v, toward, dtype), dtype, []);
  if (v.isTracer) {
    throw new TracerError(`${what} is a traced array ${fmtAval(v)}; truncatedNormal needs static bounds (numbers or concrete arrays) to clip its samples — pass the bounds as numbers or close over concrete arrays`);
  }
  const conv = lax.convert(v, dtype).dataSync();
  const out = allocate(dtype, conv.length);
  for (let i = 0; i < conv.length; i++) out[i] = nextAfter(conv[i], toward, dtype);
  return Array.fromData(out, v.shape, dtype);
}

/**
 * `random.truncatedNormal(key, lower, upper, shape?, {dtype})`: standard normal samples
 * truncated to the open interval (lower, upper) (JAX `_truncated_normal`): u uniform between
 * erf(lower/√2) and erf(upper/√2), out = √2·erfinv(u), clipped to
 * [nextafter(lower, +∞), nextafter(upper, −∞)]. The shape defaults to the broadcast of the
 * bounds' shapes. Bounds must be static (numbers or concrete arrays).
 */
export function truncatedNormal(key: Key, lower: Param, upper: Param, shape?: number[], opts: FloatSampleOptions = {}): Array {
  const where = 'random.truncatedNormal';
  checkKey(key, where);
  const dtype = floatDtype(opts.dtype, where);
  const boundsShape = broadcastShapes(paramShape(lower), paramShape(upper));
  let s: number[];
  if (shape === undefined) s = boundsShape;
  else {
    s = userShape(shape, where);
    if (!opts.window && !broadcastsTo(boundsShape, s)) {
      throw new ShapeError(`${where}: the bounds' shape ${fmtShape(boundsShape)} must broadcast to the shape argument ${fmtShape(s)}; pass bounds whose trailing dimensions match the shape or are 1`);
    }
  }
  return truncatedNormalFromUnit(unitFloats(key, s, dtype, opts.window, where), lower, upper);
}

/**
 * Truncated normals from unit floats f in [0, 1): u = f scaled to [erf(lower/√2), erf(upper/√2)),
 * √2·erfinv(u), clipped to [nextafter(lower, +∞), nextafter(upper, −∞)].
 */
export function truncatedNormalFromUnit(f: Array, lower: Param, upper: Param): Array {
  const where = 'random.truncatedNormal';
  const dtype = f.dtype as FloatDType;
  const out = [...f.shape];
  const sqrt2 = lax.full(Math.SQRT2, dtype, []);
  const lo = paramArray(lower, dtype, `${where} lower`);
  const hi = paramArray(upper, dtype, `${where} upper`);
  const a = lax.erf(lax.div(lo, lo.ndim ? bcast(sqrt2, [...lo.shape], where) : sqrt2));
  const b = lax.erf(lax.div(hi, hi.ndim ? bcast(sqrt2, [...hi.shape], where) : sqrt2));
  const u = scaleUniform(f, a, b, where);
  const x = lax.mul(bcast(sqrt2, out, where), erfInv(u));
  const clipLo = bcast(staticNextAfter(lower, Infinity, dtype, `${where}: lower`), out, `${where} lower`);
  const clipHi = bcast(staticNextAfter(upper, -Infinity, dtype, `${where}: upper`), out, `${where} upper`);
  return lax.min(clipHi, lax.max(clipLo, x));
}

/**
 * `random.bernoulli(key, p = 0.5, shape?)`: booleans that are true with probability p
 * (JAX `_bernoulli`: uniform(key, shape, dtype of p) < p). The shape defaults to p's shape.
 */
export function bernoulli(key: Key, p: Param = 0.5, shape?: number[], opts: { window?: RandomWindow } = {}): Array {
  const where = 'random.bernoulli';
  checkKey(key, where);
  let dtype: FloatDType = 'float32';
  if (p instanceof Array) {
    if (p.dtype !== 'float32' && p.dtype !== 'float64') throw new DTypeError(`${where}: the probability p must be a float array, got ${fmtAval(p)}; convert with astype('float32')`);
    dtype = p.dtype;
  } else if (typeof p !== 'number') {
    throw new ValueError(`${where}: p must be a number or a float array`);
  }
  let s: number[];
  if (shape === undefined) s = paramShape(p);
  else {
    s = userShape(shape, where);
    if (!opts.window && !broadcastsTo(paramShape(p), s)) throw new ShapeError(`${where}: p's shape ${fmtShape(paramShape(p))} must broadcast to the shape argument ${fmtShape(s)}`);
  }
  const u = unitFloats(key, s, dtype, opts.window, where);
  return lax.lt(u, bcast(paramArray(p, dtype, `${where} p`), [...u.shape], `${where} p`));
}

/**
 * `random.gumbel(key, shape, {dtype})`: standard Gumbel samples (JAX `_gumbel`, mode 'low'):
 * −log(−log(u)) with u uniform in [tiny, 1).
 */
export function gumbel(key: Key, shape: number[] = [], opts: FloatSampleOptions = {}): Array {
  const where = 'random.gumbel';
  checkKey(key, where);
  const s = userShape(shape, where);
  const dtype = floatDtype(opts.dtype, where);
  return gumbelFromUnit(unitFloats(key, s, dtype, opts.window, where));
}

/** Gumbel samples from unit floats f in [0, 1): −log(−log(scale f to [tiny, 1))). */
export function gumbelFromUnit(f: Array): Array {
  const tiny = f.dtype === 'float32' ? 2 ** -126 : 2 ** -1022;
  const u = scaleUniform(f, tiny, 1, 'random.gumbel');
  return lax.neg(lax.log(lax.neg(lax.log(u))));
}

/**
 * `random.categorical(key, logits, {axis = -1, shape})`: int32 samples from the categorical
 * distributions softmax(logits, axis) by the Gumbel-max trick (JAX `categorical`):
 * argmax(gumbel(key, [...prefix, ...logits shape]) + logits, axis). `shape` (default: logits'
 * shape without `axis`) may add leading sample dimensions.
 */
export function categorical(key: Key, logits: Array, opts: { axis?: number; shape?: number[] } = {}): Array {
  const where = 'random.categorical';
  checkKey(key, where);
  if (!(logits instanceof Array)) throw new ValueError(`${where}: logits must be a float array, got ${typeof logits}`);
  if (logits.dtype !== 'float32' && logits.dtype !== 'float64') throw new DTypeError(`${where}: logits must be float32 or float64, got ${fmtAval(logits)}`);
  if (logits.ndim === 0) throw new ShapeError(`${where}: logits must have at least one dimension (the categories), got a scalar`);
  const nd = logits.ndim;
  const axis = normAxis(opts.axis ?? -1, nd, `${where} axis`);
  const batchShape = logits.shape.filter((_, i) => i !== axis);
  let s: number[];
  if (opts.shape === undefined) s = batchShape;
  else {
    s = userShape(opts.shape, where);
    if (!broadcastsTo(batchShape, s)) throw new ShapeError(`${where}: the shape ${fmtShape(s)} must end with (a broadcast of) the batch shape ${fmtShape(batchShape)} of logits ${fmtAval(logits)}`);
  }
  const prefix = s.slice(0, s.length - batchShape.length);
  const logitsShape = s.slice(s.length - batchShape.length);
  logitsShape.splice(axis, 0, logits.shape[axis]);
  const full = [...prefix, ...logitsShape];
  const g = gumbel(key, full, { dtype: logits.dtype });
  const l = broadcastTo(logits, full, `${where} logits`);
  return lax.argmax(lax.add(g, l), prefix.length + axis, 'int32');
}

const INT_RANGE: Record<'int32' | 'uint32', [number, number]> = { int32: [-2147483648, 2147483647], uint32: [0, 4294967295] };

function intBound(v: Param, dtype: 'int32' | 'uint32', what: string): { arr: Array; outOfRange: boolean } {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new ValueError(`${what} must be an integer, got ${v}`);
    const [lo, hi] = INT_RANGE[dtype];
    return { arr: lax.full(Math.min(Math.max(v, lo), hi), dtype, []), outOfRange: v > hi };
  }
  if (v instanceof Array) {
    if (v.dtype !== dtype) throw new DTypeError(`${what} must be a ${dtype} array like the result, got ${fmtAval(v)}; convert with astype('${dtype}')`);
    return { arr: v, outOfRange: false };
  }
  throw new ValueError(`${what} must be an integer or an integer array`);
}

/**
 * `random.randint(key, shape, minval, maxval, {dtype = 'int32'})`: integers uniform in
 * [minval, maxval) (JAX `_randint`): with k1, k2 = split(key) and 32 random bits each,
 * offset = ((hi mod span)·(2³² mod span) + lo mod span) mod span in wrapping uint32 arithmetic,
 * result minval + offset. maxval ≤ minval gives minval; a maxval above the dtype's maximum
 * includes that maximum.
 */
export function randint(key: Key, shape: number[], minval: Param, maxval: Param, opts: { dtype?: 'int32' | 'uint32'; window?: RandomWindow } = {}): Array {
  const where = 'random.randint';
  checkKey(key, where);
  const s = userShape(shape, where);
  const dtype = opts.dtype ?? 'int32';
  if (dtype !== 'int32' && dtype !== 'uint32') throw new DTypeError(`${where}: dtype must be 'int32' or 'uint32', got ${JSON.stringify(dtype)}`);
  intBound(minval, dtype, `${where}: minval`); // validate before drawing bits
  intBound(maxval, dtype, `${where}: maxval`);
  const pShape = broadcastShapes(paramShape(minval), paramShape(maxval));
  if (!opts.window && !broadcastsTo(pShape, s)) {
    throw new ShapeError(`${where}: the bounds' shape ${fmtShape(pShape)} must broadcast to the shape argument ${fmtShape(s)}`);
  }
  const [k1, k2] = split(key);
  const higher = bits32(k1, s, opts.window, where);
  const lower = bits32(k2, s, opts.window, where);
  return randintFromBits(higher, lower, minval, maxval, dtype);
}

/**
 * randint's arithmetic on two arrays of 32 random bits (JAX `_randint` after its split):
 * span = maxval − minval as uint32 (1 when maxval ≤ minval, +1 when maxval was above the dtype's
 * maximum), multiplier = (2¹⁶ mod span)² mod span = 2³² mod span, offset = ((higher mod span)·
 * multiplier + lower mod span) mod span with wrapping uint32 ops, result minval + offset.
 */
export function randintFromBits(higher: Array, lower: Array, minval: Param, maxval: Param, dtype: 'int32' | 'uint32' = 'int32'): Array {
  const where = 'random.randint';
  const out = [...higher.shape];
  const mn = intBound(minval, dtype, `${where}: minval`);
  const mx = intBound(maxval, dtype, `${where}: maxval`);
  const pShape = broadcastShapes(paramShape(minval), paramShape(maxval));
  const lo = bcast(mn.arr, pShape, `${where} minval`);
  const hi = bcast(mx.arr, pShape, `${where} maxval`);
  const u = (v: number) => lax.full(v, 'uint32', pShape);
  let span = lax.convert(lax.sub(hi, lo), 'uint32');
  span = lax.select(lax.le(hi, lo), u(1), span);
  if (mx.outOfRange) span = lax.select(lax.gt(hi, lo), lax.add(span, u(1)), span);
  let mult = lax.rem(u(2 ** 16), span);
  mult = lax.rem(lax.mul(mult, mult), span);
  const spanB = bcast(span, out, where);
  const offset = lax.rem(lax.add(lax.mul(lax.rem(higher, spanB), bcast(mult, out, where)), lax.rem(lower, spanB)), spanB);
  return lax.add(bcast(lo, out, where), lax.convert(offset, dtype));
}

/**
 * Stable ascending sort of `vals` by uint32 `keys` along `axis` (XLA sort_key_val, is_stable):
 * top_k of the complemented keys (largest ~k = smallest k; ties go to the lower index) gives
 * the order, which a batched gather applies.
 */
function sortKeyVal(keys: Array, vals: Array, axis: number): Array {
  const nd = vals.ndim;
  const perm = [...globalThis.Array(nd).keys()].filter((d) => d !== axis).concat([axis]);
  const inv = perm.map((_, i) => perm.indexOf(i));
  const kT = lax.transpose(keys, perm);
  const vT = lax.transpose(vals, perm);
  const n = vT.shape[nd - 1];
  const [, idx] = lax.topK(lax.not(kT), n);
  return lax.transpose(lax.gather(vT, idx, nd - 1, nd - 1), inv);
}

/** JAX `_shuffle`: ⌈3·ln(size)/ln(2³²−1)⌉ rounds of sorting by fresh 32-bit keys. */
function shuffle(key: Key, x: Array, axis: number): Array {
  const rounds = Math.ceil((3 * Math.log(Math.max(1, x.size))) / Math.log(4294967295));
  let k = key;
  let out = x;
  for (let r = 0; r < rounds; r++) {
    const keys = split(k);
    k = keyAt(keys, 0);
    const sortKeys = bits32(keyAt(keys, 1), [...out.shape], undefined, 'random.permutation');
    out = sortKeyVal(sortKeys, out, axis);
  }
  return out;
}

/**
 * `random.permutation(key, x, {axis = 0, independent = false})`: a random permutation of
 * 0..x−1 (int32) when x is a number, else `x` with its entries along `axis` shuffled (JAX
 * `permutation`: sorts by random 32-bit keys, in one round up to ~1600 elements). With
 * `independent`, each slice along `axis` is shuffled separately.
 */
export function permutation(key: Key, x: number | Array, opts: { axis?: number; independent?: boolean } = {}): Array {
  const where = 'random.permutation';
  checkKey(key, where);
  if (typeof x === 'number') {
    if (!Number.isInteger(x) || x < 0) throw new ValueError(`${where}: x must be a non-negative integer or an array, got ${x}`);
    return shuffle(key, lax.iota('int32', [x], 0), 0);
  }
  if (!(x instanceof Array)) throw new ValueError(`${where}: x must be a non-negative integer or an array`);
  if (x.ndim === 0) throw new ShapeError(`${where}: x must be an integer or an array of rank ≥ 1, got ${fmtAval(x)}; pass a JS number n to permute 0..n-1`);
  const axis = normAxis(opts.axis ?? 0, x.ndim, `${where} axis`);
  if (opts.independent || x.ndim === 1) return shuffle(key, x, axis);
  const ind = shuffle(key, lax.iota('int32', [x.shape[axis]], 0), 0);
  return lax.gather(x, ind, axis, 0);
}

/**
 * `random.choice(key, a, shape = [], {replace = true, p, axis = 0})`: samples of `a` (an array,
 * or 0..a−1 for a number) along `axis` (JAX `choice`): without p, randint (with replacement) or
 * the first draws of a permutation (without); with p, inverse-CDF search of cumsum(p) against
 * total·(1 − u) (with replacement) or the Gumbel top-k trick (without).
 */
export function choice(key: Key, a: number | Array, shape: number[] = [], opts: { replace?: boolean; p?: Array | number[]; axis?: number } = {}): Array {
  const where = 'random.choice';
  checkKey(key, where);
  const s = userShape(shape, where);
  const replace = opts.replace ?? true;
  let arr: Array | null = null;
  let n: number;
  let axis = 0;
  if (typeof a === 'number') {
    if (!Number.isInteger(a)) throw new ValueError(`${where}: a must be an integer or an array, got ${a}`);
    n = a;
  } else if (a instanceof Array) {
    if (a.ndim === 0) throw new ShapeError(`${where}: a must be an integer or an array of rank ≥ 1, got ${fmtAval(a)}`);
    arr = a;
    axis = normAxis(opts.axis ?? 0, a.ndim, `${where} axis`);
    n = a.shape[axis];
  } else {
    throw new ValueError(`${where}: a must be an integer or an array`);
  }
  const draws = sizeOf(s);
  const resultShape = arr ? [...arr.shape.slice(0, axis), ...s, ...arr.shape.slice(axis + 1)] : s;
  if (draws === 0) return lax.full(0, arr ? arr.dtype : 'int32', resultShape);
  if (n <= 0) throw new ValueError(`${where}: a must be greater than 0 unless no samples are taken, got population size ${n}`);
  if (!replace && draws > n) throw new ValueError(`${where}: cannot take a larger sample (size ${draws}) than the population (size ${n}) when replace is false`);
  let ind: Array;
  if (opts.p === undefined) {
    if (replace) ind = lax.reshape(randint(key, s, 0, n), [draws]);
    else {
      const perm = permutation(key, n);
      ind = lax.slice(perm, [0], [draws]);
    }
  } else {
    let p: Array = globalThis.Array.isArray(opts.p) ? Array.fromData(new Float32Array(opts.p), [opts.p.length], 'float32') : opts.p;
    if (!(p instanceof Array)) throw new ValueError(`${where}: p must be an array of probabilities`);
    if (!isFloat(p.dtype)) p = lax.convert(p, 'float32');
    if (p.ndim !== 1 || p.shape[0] !== n) {
      throw new ShapeError(`${where}: p must be None or a 1D vector with the same size as a.shape[axis]: p has shape ${fmtShape(p.shape)} and the population has size ${n}`);
    }
    const dt = p.dtype as FloatDType;
    if (replace) {
      const cum = lax.cumsum(p, 0);
      const total = lax.reshape(lax.slice(cum, [n - 1], [n]), []);
      const u = uniform(key, [draws], { dtype: dt });
      const r = lax.mul(lax.broadcastInDim(total, [draws], []), lax.sub(lax.full(1, dt, [draws]), u));
      // searchsorted(cum, r, side='left') = #{j : cum[j] < r}
      const less = lax.lt(lax.broadcastInDim(cum, [draws, n], [1]), lax.broadcastInDim(r, [draws, n], [0]));
      ind = lax.reduceSum(lax.convert(less, 'int32'), [1]);
    } else {
      // JAX: argsort(−gumbel − log p)[:draws]; −(−g − l) = g + l exactly, and top_k's ties go to
      // the lower index as the stable argsort's do, so this is top_k(gumbel + log p, draws).
      ind = lax.topK(lax.add(gumbel(key, [n], { dtype: dt }), lax.log(p)), draws)[1];
    }
  }
  if (!arr) return lax.reshape(ind, s);
  return lax.reshape(lax.gather(arr, ind, axis, 0), resultShape);
}
