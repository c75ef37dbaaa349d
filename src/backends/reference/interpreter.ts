/**
 * The reference interpreter: every primitive of `src/core/primitives.ts` implemented in plain
 * TypeScript on typed arrays. It is the eager evaluator by default and the oracle every compiled
 * backend is compared against, so it favours exactness and documented semantics over speed
 * (hot loops are still tight: typed arrays, precomputed strides, no per-element allocation).
 *
 * Numeric rules beyond the primitives.ts header (chosen to match XLA where XLA defines them):
 * - float32 results are stored in Float32Array, so every primitive rounds to f32 once; sums inside
 *   reduce_sum, cumsum, dot_general and scatter_add accumulate in float64 and round at the end.
 * - int32/uint32 arithmetic wraps modulo 2^32 (products via Math.imul). Integer `div` truncates
 *   toward zero; x / 0 gives all ones (-1 for int32, 4294967295 for uint32) and INT_MIN / -1 gives
 *   INT_MIN. Integer `rem` has the sign of the dividend; x % 0 gives x and INT_MIN % -1 gives 0
 *   (XLA's CPU/GPU behaviour). Float `rem` is C fmod.
 * - bool arithmetic computes on 0/1 and stores `result != 0` (add is or, mul is and).
 * - shifts treat the count as unsigned: counts ≥ 32 give 0 (shift_left, shift_right_logical) or
 *   the sign fill (shift_right_arithmetic, which acts on the 32-bit pattern also for uint32).
 * - `round` rounds half away from zero; `sign` keeps NaN and ±0; `pow` follows C pow (pow(1, y)
 *   = 1, pow(x, 0) = 1, pow(-1, ±inf) = 1); max/min propagate NaN.
 * - `erf` uses the everywhere-convergent series erf(x) = 2/√π·e^{-x²}·Σ 2ⁿx^{2n+1}/(2n+1)!! for
 *   |x| < 3 and the Laplace continued fraction of erfc beyond (relative error ~1e-15 in float64).
 * - convert_element_type: float → int truncates toward zero and saturates to the target range,
 *   NaN → 0; int32 ↔ uint32 reinterprets the 32-bit pattern (wraps); anything → bool is x ≠ 0
 *   (NaN → true); float64 → float32 rounds to nearest even.
 * - reduce_max/min and argmax treat NaN as the maximum (argmax returns the first NaN);
 *   top_k orders NaN above +inf, ties go to the lower index.
 */

import { Array } from '../../core/array.js';
import { allocate, isFloat, isInteger, type DType, type TypedArray } from '../../core/dtype.js';
import { MyriadError, ShapeError, ValueError } from '../../core/errors.js';
import { Literal, type AbstractValue, type Atom, type Graph, type Var } from '../../core/ir.js';
import type { Primitive, PrimitiveParams } from '../../core/primitives.js';
import { sizeOf, stridesOf } from '../../core/shape.js';
import type { EagerEvaluator } from '../../core/trace.js';

/** Implementation of one primitive on concrete arrays: returns the storage of each output. */
export type RefRule<P extends Primitive> = (inputs: Array[], params: PrimitiveParams[P], outAvals: AbstractValue[]) => TypedArray[];

type NumArray = TypedArray;
/** A rule that ignores its params (assignable to every RefRule<P> with empty params). */
type PlainRule = (inputs: Array[], params: unknown, outAvals: AbstractValue[]) => TypedArray[];

// ---------------------------------------------------------------------------------------------
// helpers

function data(x: Array): TypedArray {
  return x.concrete('evaluate a primitive on');
}

function alloc(a: AbstractValue): TypedArray {
  return allocate(a.dtype, sizeOf(a.shape));
}

/** Normalizes raw 0/±n values into bool storage (x ≠ 0, NaN → 1). */
function toBool(src: ArrayLike<number>): Uint8Array {
  const n = src.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = src[i] !== 0 ? 1 : 0;
  return out;
}

/**
 * Copies `outShape` elements from `src` into `dst` (row-major), reading element at multi-index i
 * from `src[offset + Σ i_d·srcStrides[d]]`. Strides may be 0 (broadcast) or permuted (transpose).
 */
export function stridedCopy(src: ArrayLike<number>, offset: number, srcStrides: readonly number[], outShape: readonly number[], dst: NumArray, dstOffset = 0): void {
  const n = outShape.length;
  const total = sizeOf(outShape);
  if (total === 0) return;
  if (n === 0) {
    dst[dstOffset] = src[offset];
    return;
  }
  const last = outShape[n - 1];
  const ls = srcStrides[n - 1];
  const idx = new Int32Array(n);
  let off = offset;
  let o = dstOffset;
  const end = dstOffset + total;
  while (o < end) {
    if (ls === 1) {
      for (let j = 0; j < last; j++) dst[o + j] = src[off + j];
    } else {
      for (let j = 0, p = off; j < last; j++, p += ls) dst[o + j] = src[p];
    }
    o += last;
    // odometer over leading dims
    for (let d = n - 2; d >= 0; d--) {
      idx[d]++;
      off += srcStrides[d];
      if (idx[d] < outShape[d]) break;
      off -= srcStrides[d] * outShape[d];
      idx[d] = 0;
    }
  }
}

/** Splits `shape` around `axis` into [outer, n, inner] sizes. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis], sizeOf(shape.slice(axis + 1))];
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

// ---------------------------------------------------------------------------------------------
// special functions

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const ONE_OVER_SQRT_PI = 0.5641895835477563;

/** erfc(x) for x ≥ 3 by the Laplace continued fraction, evaluated with the modified Lentz method. */
function erfcLarge(x: number): number {
  // erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))))
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    d = d === 0 ? tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (Math.exp(-x * x) * ONE_OVER_SQRT_PI) / f;
}

/** The error function, accurate to ~1e-15 relative in float64. */
export function erf(x: number): number {
  if (x !== x) return NaN;
  const ax = Math.abs(x);
  if (ax >= 3) {
    if (ax > 6) return x > 0 ? 1 : -1;
    const r = 1 - erfcLarge(ax);
    return x > 0 ? r : -r;
  }
  if (ax === 0) return x; // keeps -0
  // erf(x) = 2/√π · e^{-x²} · Σ_{n≥0} 2ⁿ x^{2n+1} / (1·3·…·(2n+1)); all terms positive.
  const x2 = ax * ax;
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  const r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  return x > 0 ? r : -r;
}

/** Logistic sigmoid, without overflow for large |x|. */
export function logistic(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** Round half away from zero (XLA's round). */
export function roundHalfAway(x: number): number {
  const t = Math.trunc(x);
  const f = x - t;
  if (f >= 0.5) return t + 1;
  if (f <= -0.5) return t - 1;
  return t;
}

/** C `pow`: like Math.pow except pow(1, y) = 1 and pow(-1, ±inf) = 1. */
export function cPow(x: number, y: number): number {
  if (x === 1 || y === 0) return 1;
  if (x === -1 && (y === Infinity || y === -Infinity)) return 1;
  return Math.pow(x, y);
}

// ---------------------------------------------------------------------------------------------
// elementwise

type UnaryFn = (v: number) => number;

const FLOAT_UNARY: { [k: string]: UnaryFn } = {
  floor: Math.floor,
  ceil: Math.ceil,
  round: roundHalfAway,
  exp: Math.exp,
  log: Math.log,
  log1p: Math.log1p,
  expm1: Math.expm1,
  tanh: Math.tanh,
  logistic,
  sin: Math.sin,
  cos: Math.cos,
  sqrt: Math.sqrt,
  rsqrt: (v) => 1 / Math.sqrt(v),
  erf,
};

function mapUnary(x: TypedArray, out: NumArray, f: UnaryFn): void {
  const n = x.length;
  for (let i = 0; i < n; i++) out[i] = f(x[i]);
}

function unaryRule(op: string): PlainRule {
  return (inputs, _p, outAvals) => {
    const x = data(inputs[0]);
    const dt = inputs[0].dtype;
    const n = x.length;
    const out = alloc(outAvals[0]);
    switch (op) {
      case 'neg':
        if (dt === 'bool') return [x.slice()];
        for (let i = 0; i < n; i++) out[i] = -x[i];
        return [out];
      case 'abs':
        for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]);
        return [out];
      case 'sign':
        for (let i = 0; i < n; i++) out[i] = Math.sign(x[i]);
        return [out];
      case 'not':
        if (dt === 'bool') for (let i = 0; i < n; i++) out[i] = x[i] ? 0 : 1;
        else for (let i = 0; i < n; i++) out[i] = ~x[i];
        return [out];
      case 'is_finite':
        for (let i = 0; i < n; i++) out[i] = Number.isFinite(x[i]) ? 1 : 0;
        return [out];
      default: {
        const f = FLOAT_UNARY[op];
        if (!f) throw new Error(`internal: no unary implementation for ${op}`);
        mapUnary(x, out, f);
        return [out];
      }
    }
  };
}

const I32_MIN = -2147483648;

function intDiv(a: TypedArray, b: TypedArray, out: NumArray, unsigned: boolean): void {
  const n = a.length;
  const allOnes = unsigned ? 4294967295 : -1;
  for (let i = 0; i < n; i++) {
    const y = b[i];
    out[i] = y === 0 ? allOnes : Math.trunc(a[i] / y); // INT_MIN / -1 = 2^31 stores as INT_MIN
  }
}

function intRem(a: TypedArray, b: TypedArray, out: NumArray): void {
  const n = a.length;
  for (let i = 0; i < n; i++) {
    const y = b[i];
    out[i] = y === 0 ? a[i] : a[i] % y; // JS % truncates like C; INT_MIN % -1 = -0 → 0
  }
}

function shiftRule(op: 'shift_left' | 'shift_right_logical' | 'shift_right_arithmetic'): PlainRule {
  return (inputs, _p, outAvals) => {
    const a = data(inputs[0]);
    const b = data(inputs[1]);
    const out = alloc(outAvals[0]);
    const n = a.length;
    for (let i = 0; i < n; i++) {
      const s = b[i] >>> 0; // the count as an unsigned 32-bit number
      const x = a[i] | 0; // the 32-bit pattern
      if (op === 'shift_left') out[i] = s >= 32 ? 0 : x << s;
      else if (op === 'shift_right_logical') out[i] = s >= 32 ? 0 : x >>> s;
      else out[i] = s >= 32 ? x >> 31 : x >> s;
    }
    return [out];
  };
}

function binaryRule(op: string): PlainRule {
  return (inputs, _p, outAvals) => {
    const a = data(inputs[0]);
    const b = data(inputs[1]);
    const dt = inputs[0].dtype;
    const n = a.length;
    // bool arithmetic: compute on 0/1 numbers, store x != 0
    const isBool = dt === 'bool';
    const out: NumArray = isBool ? new Float64Array(n) : alloc(outAvals[0]);
    const int = isInteger(dt) || isBool;
    switch (op) {
      case 'add':
        for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
        break;
      case 'sub':
        for (let i = 0; i < n; i++) out[i] = a[i] - b[i];
        break;
      case 'mul':
        if (int) for (let i = 0; i < n; i++) out[i] = Math.imul(a[i], b[i]);
        else for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
        break;
      case 'div':
        if (int) intDiv(a, b, out, dt !== 'int32');
        else for (let i = 0; i < n; i++) out[i] = a[i] / b[i];
        break;
      case 'rem':
        if (int) intRem(a, b, out);
        else for (let i = 0; i < n; i++) out[i] = a[i] % b[i];
        break;
      case 'pow':
        for (let i = 0; i < n; i++) out[i] = cPow(a[i], b[i]);
        break;
      case 'max':
        for (let i = 0; i < n; i++) out[i] = Math.max(a[i], b[i]);
        break;
      case 'min':
        for (let i = 0; i < n; i++) out[i] = Math.min(a[i], b[i]);
        break;
      case 'atan2':
        for (let i = 0; i < n; i++) out[i] = Math.atan2(a[i], b[i]);
        break;
      case 'and':
        for (let i = 0; i < n; i++) out[i] = a[i] & b[i];
        break;
      case 'or':
        for (let i = 0; i < n; i++) out[i] = a[i] | b[i];
        break;
      case 'xor':
        for (let i = 0; i < n; i++) out[i] = a[i] ^ b[i];
        break;
      default:
        throw new Error(`internal: no binary implementation for ${op}`);
    }
    return [isBool ? toBool(out) : out];
  };
}

function compareRule(op: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'): PlainRule {
  return (inputs) => {
    const a = data(inputs[0]);
    const b = data(inputs[1]);
    const n = a.length;
    const out = new Uint8Array(n);
    switch (op) {
      case 'eq': for (let i = 0; i < n; i++) out[i] = a[i] === b[i] ? 1 : 0; break;
      case 'ne': for (let i = 0; i < n; i++) out[i] = a[i] !== b[i] ? 1 : 0; break;
      case 'lt': for (let i = 0; i < n; i++) out[i] = a[i] < b[i] ? 1 : 0; break;
      case 'le': for (let i = 0; i < n; i++) out[i] = a[i] <= b[i] ? 1 : 0; break;
      case 'gt': for (let i = 0; i < n; i++) out[i] = a[i] > b[i] ? 1 : 0; break;
      case 'ge': for (let i = 0; i < n; i++) out[i] = a[i] >= b[i] ? 1 : 0; break;
    }
    return [out];
  };
}

/** Converts storage between dtypes with the documented rules (saturating float → int, NaN → 0). */
export function convertData(x: TypedArray, from: DType, to: DType): TypedArray {
  const n = x.length;
  const out = allocate(to, n);
  if (to === 'bool') {
    for (let i = 0; i < n; i++) out[i] = x[i] !== 0 ? 1 : 0;
  } else if (to === 'int32' && isFloat(from)) {
    for (let i = 0; i < n; i++) {
      const v = x[i];
      out[i] = v !== v ? 0 : v >= 2147483647 ? 2147483647 : v <= I32_MIN ? I32_MIN : v; // store truncates
    }
  } else if (to === 'uint32' && isFloat(from)) {
    for (let i = 0; i < n; i++) {
      const v = x[i];
      out[i] = !(v > 0) ? 0 : v >= 4294967295 ? 4294967295 : v;
    }
  } else {
    // float targets round on store; int32 <-> uint32 and bool -> int wrap/reinterpret on store
    out.set(x);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// reductions

function reduceRule(kind: 'sum' | 'max' | 'min'): (inputs: Array[], p: { axes: number[] }, outAvals: AbstractValue[]) => TypedArray[] {
  return (inputs, p, outAvals) => {
    const x = data(inputs[0]);
    const dt = inputs[0].dtype;
    const shape = inputs[0].shape;
    const outSize = sizeOf(outAvals[0].shape);
    // output strides indexed by input dim (0 on reduced dims)
    const outStrides = new globalThis.Array<number>(shape.length).fill(0);
    let acc = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (!p.axes.includes(d)) {
        outStrides[d] = acc;
        acc *= shape[d];
      }
    }
    const wrap32 = dt === 'int32' || dt === 'uint32';
    const accum: NumArray = kind === 'sum' && wrap32 ? allocate(dt, outSize) : new Float64Array(outSize);
    if (kind === 'max') accum.fill(-Infinity);
    if (kind === 'min') accum.fill(Infinity);
    const n = shape.length;
    if (x.length > 0) {
      if (n === 0) {
        accum[0] = kind === 'sum' ? x[0] : x[0];
      } else {
        const last = shape[n - 1];
        const ls = outStrides[n - 1];
        const idx = new Int32Array(n);
        let o = 0;
        for (let i = 0; i < x.length; i += last) {
          if (kind === 'sum') {
            for (let j = 0, q = o; j < last; j++, q += ls) accum[q] += x[i + j];
          } else if (kind === 'max') {
            for (let j = 0, q = o; j < last; j++, q += ls) {
              const v = x[i + j];
              if (v > accum[q] || v !== v) accum[q] = v;
            }
          } else {
            for (let j = 0, q = o; j < last; j++, q += ls) {
              const v = x[i + j];
              if (v < accum[q] || v !== v) accum[q] = v;
            }
          }
          for (let d = n - 2; d >= 0; d--) {
            idx[d]++;
            o += outStrides[d];
            if (idx[d] < shape[d]) break;
            o -= outStrides[d] * shape[d];
            idx[d] = 0;
          }
        }
      }
    }
    if (dt === 'bool') return [toBool(accum)];
    if (accum instanceof Float64Array && dt !== 'float64') {
      const out = alloc(outAvals[0]);
      out.set(accum); // rounds float32 once
      return [out];
    }
    return [accum];
  };
}

/** Whether `v` beats the current best `b` for argmax (NaN is the maximum; first one wins). */
function argmaxRule(): RefRule<'argmax'> {
  return (inputs, p, outAvals) => {
    const x = data(inputs[0]);
    const [outer, n, inner] = around(inputs[0].shape, p.axis);
    const out = alloc(outAvals[0]);
    for (let o = 0; o < outer; o++) {
      for (let r = 0; r < inner; r++) {
        const base = o * n * inner + r;
        let best = x[base];
        let bi = 0;
        if (best === best) {
          for (let k = 1; k < n; k++) {
            const v = x[base + k * inner];
            if (v !== v) {
              bi = k;
              break;
            }
            if (v > best) {
              best = v;
              bi = k;
            }
          }
        }
        out[o * inner + r] = bi;
      }
    }
    return [out];
  };
}

function cumsumRule(): RefRule<'cumsum'> {
  return (inputs, p, outAvals) => {
    const x = data(inputs[0]);
    const dt = inputs[0].dtype;
    const [outer, n, inner] = around(inputs[0].shape, p.axis);
    const out = alloc(outAvals[0]);
    const isBool = dt === 'bool';
    const wrap = isInteger(dt);
    for (let o = 0; o < outer; o++) {
      for (let r = 0; r < inner; r++) {
        const base = o * n * inner + r;
        let acc = 0;
        for (let t = 0; t < n; t++) {
          const k = p.reverse ? n - 1 - t : t;
          const q = base + k * inner;
          acc += x[q];
          if (wrap) acc = dt === 'int32' ? acc | 0 : acc >>> 0;
          out[q] = isBool ? (acc !== 0 ? 1 : 0) : acc;
        }
      }
    }
    return [out];
  };
}

// ---------------------------------------------------------------------------------------------
// dot_general

function dotGeneralRule(): RefRule<'dot_general'> {
  return (inputs, p, outAvals) => {
    const [xa, xb] = inputs;
    const A = data(xa);
    const Bd = data(xb);
    const { lhsContracting: lc, rhsContracting: rc, lhsBatch: lb, rhsBatch: rb } = p;
    const lf = xa.shape.map((_, i) => i).filter((i) => !lc.includes(i) && !lb.includes(i));
    const rf = xb.shape.map((_, i) => i).filter((i) => !rc.includes(i) && !rb.includes(i));
    const Bn = sizeOf(lb.map((d) => xa.shape[d]));
    const M = sizeOf(lf.map((d) => xa.shape[d]));
    const K = sizeOf(lc.map((d) => xa.shape[d]));
    const N = sizeOf(rf.map((d) => xb.shape[d]));
    const outAval = outAvals[0];
    const inDt = xa.dtype;
    const outDt = outAval.dtype;
    const intPath = isInteger(inDt) && isInteger(outDt);
    // pack lhs into [B, M, K] and rhs into [B, K, N]
    const packed = (x: TypedArray, shape: readonly number[], perm: number[], ctor: 'f64' | 'same'): NumArray => {
      const st = stridesOf(shape);
      const dst: NumArray = ctor === 'f64' ? new Float64Array(x.length) : allocate(inDt, x.length);
      stridedCopy(x, 0, perm.map((d) => st[d]), perm.map((d) => shape[d]), dst);
      return dst;
    };
    const ap = packed(A, xa.shape, [...lb, ...lf, ...lc], intPath ? 'same' : 'f64');
    const bp = packed(Bd, xb.shape, [...rb, ...rc, ...rf], intPath ? 'same' : 'f64');
    const size = Bn * M * N;
    if (intPath) {
      const out = allocate(outDt, size);
      const row = new Int32Array(N);
      for (let b = 0; b < Bn; b++) {
        for (let i = 0; i < M; i++) {
          row.fill(0);
          const aRow = (b * M + i) * K;
          for (let k = 0; k < K; k++) {
            const av = ap[aRow + k];
            if (av === 0) continue;
            const bRow = (b * K + k) * N;
            for (let j = 0; j < N; j++) row[j] = (row[j] + Math.imul(av, bp[bRow + j])) | 0;
          }
          out.set(row, (b * M + i) * N); // uint32 output reinterprets the wrapped pattern
        }
      }
      return [out];
    }
    const acc = new Float64Array(size);
    for (let b = 0; b < Bn; b++) {
      for (let i = 0; i < M; i++) {
        const o = (b * M + i) * N;
        const aRow = (b * M + i) * K;
        for (let k = 0; k < K; k++) {
          const av = ap[aRow + k];
          const bRow = (b * K + k) * N;
          for (let j = 0; j < N; j++) acc[o + j] += av * bp[bRow + j];
        }
      }
    }
    if (outDt === 'float64') return [acc];
    return [convertData(acc, 'float64', outDt)];
  };
}

// ---------------------------------------------------------------------------------------------
// gather / scatter / top_k

interface GatherDims {
  B: number;
  M: number;
  N: number;
  R: number;
  I: number;
}

function gatherDims(xShape: readonly number[], idxShape: readonly number[], axis: number, batchDims: number): GatherDims {
  return {
    B: sizeOf(xShape.slice(0, batchDims)),
    M: sizeOf(xShape.slice(batchDims, axis)),
    N: xShape[axis],
    R: sizeOf(xShape.slice(axis + 1)),
    I: sizeOf(idxShape.slice(batchDims)),
  };
}

function gatherRule(): RefRule<'gather'> {
  return (inputs, p, outAvals) => {
    const x = data(inputs[0]);
    const idx = data(inputs[1]);
    const { B, M, N, R, I } = gatherDims(inputs[0].shape, inputs[1].shape, p.axis, p.batchDims);
    const out = alloc(outAvals[0]);
    let o = 0;
    for (let b = 0; b < B; b++) {
      for (let m = 0; m < M; m++) {
        const xBase = (b * M + m) * N;
        for (let i = 0; i < I; i++) {
          const k = idx[b * I + i];
          if (k >= 0 && k < N) {
            const src = (xBase + k) * R;
            for (let r = 0; r < R; r++) out[o + r] = x[src + r];
          } // else: stays 0
          o += R;
        }
      }
    }
    return [out];
  };
}

/** [G, R, C] → [G, C, R] (row-major). */
function transposeLast2(x: TypedArray, G: number, R: number, C: number): Float64Array {
  const out = new Float64Array(G * R * C);
  for (let g = 0; g < G; g++) for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[(g * C + c) * R + r] = x[(g * R + r) * C + c];
  return out;
}

/** Row ranges [start, end) of the groups of ragged_dot / ragged_contract: prefix sums of max(n_g, 0), clipped to M. */
export function raggedBounds(sizes: ArrayLike<number>, M: number): [number, number][] {
  const out: [number, number][] = [];
  let o = 0;
  for (let g = 0; g < sizes.length; g++) {
    const start = Math.min(o, M);
    o += Math.max(sizes[g], 0);
    out.push([start, Math.min(o, M)]);
  }
  return out;
}

// ragged_dot: out[m] = Σ_k lhs[m, k]·rhs[g(m), k, n] (rhs[g(m), n, k] when transposed; float64
// sums); rows past the groups stay 0
function raggedDotRule(): RefRule<'ragged_dot'> {
  return (inputs, p, outAvals) => {
    const a = data(inputs[0]), gs = data(inputs[2]);
    const [M, K] = inputs[0].shape.slice(-2);
    const B = inputs[0].shape.length === 3 ? inputs[0].shape[0] : 1;
    const N = outAvals[0].shape[outAvals[0].shape.length - 1];
    const G = inputs[1].shape[0];
    // rhs as [G, K, N]
    const b = p.transposeRhs ? transposeLast2(data(inputs[1]), G, N, K) : data(inputs[1]);
    const out = alloc(outAvals[0]);
    const row = new Float64Array(N);
    for (let bi = 0; bi < B; bi++) {
      raggedBounds(gs.subarray(bi * G, (bi + 1) * G), M).forEach(([s, e], g) => {
        for (let m = bi * M + s; m < bi * M + e; m++) {
          row.fill(0);
          for (let k = 0; k < K; k++) {
            const av = a[m * K + k];
            const base = (g * K + k) * N;
            for (let n = 0; n < N; n++) row[n] += av * b[base + n];
          }
          out.set(row, m * N);
        }
      });
    }
    return [out];
  };
}

// ragged_contract: out[g, k, n] = Σ_{m ∈ group g} lhs[m, k]·rhs[m, n] (float64 sums)
function raggedContractRule(): RefRule<'ragged_contract'> {
  return (inputs, _p, outAvals) => {
    const a = data(inputs[0]), b = data(inputs[1]), gs = data(inputs[2]);
    const [M, K] = inputs[0].shape.slice(-2);
    const B = inputs[0].shape.length === 3 ? inputs[0].shape[0] : 1;
    const N = inputs[1].shape[inputs[1].shape.length - 1];
    const G = outAvals[0].shape[0];
    const out = alloc(outAvals[0]);
    const acc = new Float64Array(G * K * N); // summed over the batch, rounded once
    for (let bi = 0; bi < B; bi++) {
      raggedBounds(gs.subarray(bi * G, (bi + 1) * G), M).forEach(([s, e], g) => {
        for (let m = bi * M + s; m < bi * M + e; m++) {
          for (let k = 0; k < K; k++) {
            const av = a[m * K + k];
            const base = (g * K + k) * N;
            for (let n = 0; n < N; n++) acc[base + n] += av * b[m * N + n];
          }
        }
      });
    }
    out.set(acc);
    return [out];
  };
}

function scatterAddRule(): RefRule<'scatter_add'> {
  return (inputs, p, outAvals) => {
    const x = data(inputs[0]);
    const idx = data(inputs[1]);
    const upd = data(inputs[2]);
    const dt = inputs[0].dtype;
    const { B, M, N, R, I } = gatherDims(inputs[0].shape, inputs[1].shape, p.axis, p.batchDims);
    const float = isFloat(dt);
    // float sums accumulate in float64 and round once; ints wrap on store; bool is or
    const acc: NumArray = float || dt === 'bool' ? Float64Array.from(x) : x.slice();
    let u = 0;
    for (let b = 0; b < B; b++) {
      for (let m = 0; m < M; m++) {
        const xBase = (b * M + m) * N;
        for (let i = 0; i < I; i++) {
          const k = idx[b * I + i];
          if (k >= 0 && k < N) {
            const dst = (xBase + k) * R;
            for (let r = 0; r < R; r++) acc[dst + r] += upd[u + r];
          }
          u += R;
        }
      }
    }
    if (dt === 'bool') return [toBool(acc)];
    if (float && dt !== 'float64') {
      const out = alloc(outAvals[0]);
      out.set(acc);
      return [out];
    }
    return [acc];
  };
}

function topKRule(): RefRule<'top_k'> {
  return (inputs, p, outAvals) => {
    const x = data(inputs[0]);
    const shape = inputs[0].shape;
    const n = shape[shape.length - 1];
    const rows = n === 0 ? sizeOf(shape.slice(0, -1)) : x.length / n;
    const k = p.k;
    const vals = alloc(outAvals[0]);
    const inds = new Int32Array(rows * k);
    const order = new Float64Array(n); // indices, sorted in place
    let base = 0;
    // larger first; NaN above everything; ties (and NaN vs NaN) by lower index
    const cmp = (ia: number, ib: number): number => {
      const va = x[base + ia];
      const vb = x[base + ib];
      if (va !== va) return vb !== vb ? ia - ib : -1;
      if (vb !== vb) return 1;
      if (va > vb) return -1;
      if (va < vb) return 1;
      return ia - ib;
    };
    for (let r = 0; r < rows; r++) {
      base = r * n;
      for (let j = 0; j < n; j++) order[j] = j;
      order.sort(cmp);
      for (let j = 0; j < k; j++) {
        inds[r * k + j] = order[j];
        vals[r * k + j] = x[base + order[j]];
      }
    }
    return [vals, inds];
  };
}

// ---------------------------------------------------------------------------------------------
// higher-order

/**
 * Evaluates any Graph with the reference rules, eagerly, regardless of the active trace (the
 * oracle later stages compare against). Inputs must be concrete arrays.
 */
export function evalGraphReference(graph: Graph, args: Array[]): Array[] {
  if (args.length !== graph.inputs.length) {
    throw new ValueError(`evalGraphReference: the graph takes ${graph.inputs.length} inputs (${graph.inAvals.map((a) => `${a.dtype}[${a.shape.join(',')}]`).join(', ')}), got ${args.length}`);
  }
  const env = new Map<Var, Array>();
  graph.inputs.forEach((v, i) => {
    const a = args[i];
    if (a.dtype !== v.aval.dtype || a.shape.length !== v.aval.shape.length || a.shape.some((d, j) => d !== v.aval.shape[j])) {
      throw new ShapeError(`evalGraphReference: input ${i} is ${a.dtype}[${a.shape.join(',')}] but the graph expects ${v.aval.dtype}[${v.aval.shape.join(',')}]`);
    }
    env.set(v, a);
  });
  graph.consts.forEach((v, i) => env.set(v, graph.constValues[i]));
  const read = (a: Atom): Array => {
    if (a instanceof Literal) return Array.scalar(a.value, a.aval.dtype);
    const v = env.get(a);
    if (!v) throw new Error('internal: evalGraphReference read an undefined variable');
    return v;
  };
  for (const e of graph.eqns) {
    const ins = e.inputs.map(read);
    const avals = e.outputs.map((o) => o.aval);
    let outs: TypedArray[];
    try {
      outs = referenceEval(e.prim, ins, e.params as never, avals);
    } catch (err) {
      if (err instanceof MyriadError) err.message = `${e.prim}: ${err.message}${e.source ? `\n  at ${e.source}` : ''}`;
      throw err;
    }
    e.outputs.forEach((v, i) => env.set(v, Array.fromData(outs[i], v.aval.shape, v.aval.dtype)));
  }
  return graph.outputs.map(read);
}

function callRule(): RefRule<'remat'> {
  return (inputs, p) => evalGraphReference(p.graph, inputs).map((o) => data(o));
}

function customVjpRule(): RefRule<'custom_vjp_call'> {
  return (inputs, p) => evalGraphReference(p.graph, inputs).map((o) => data(o));
}

// ---------------------------------------------------------------------------------------------
// the rule table

/** The reference implementation of every primitive (exhaustive over `Primitive`). */
export const referenceRules: { [P in Primitive]: RefRule<P> } = {
  neg: unaryRule('neg'), abs: unaryRule('abs'), sign: unaryRule('sign'), floor: unaryRule('floor'),
  ceil: unaryRule('ceil'), round: unaryRule('round'), is_finite: unaryRule('is_finite'),
  exp: unaryRule('exp'), log: unaryRule('log'), log1p: unaryRule('log1p'), expm1: unaryRule('expm1'),
  tanh: unaryRule('tanh'), logistic: unaryRule('logistic'), sin: unaryRule('sin'), cos: unaryRule('cos'),
  sqrt: unaryRule('sqrt'), rsqrt: unaryRule('rsqrt'), erf: unaryRule('erf'), not: unaryRule('not'),

  add: binaryRule('add'), sub: binaryRule('sub'), mul: binaryRule('mul'), div: binaryRule('div'),
  rem: binaryRule('rem'), pow: binaryRule('pow'), max: binaryRule('max'), min: binaryRule('min'),
  atan2: binaryRule('atan2'), and: binaryRule('and'), or: binaryRule('or'), xor: binaryRule('xor'),
  shift_left: shiftRule('shift_left'),
  shift_right_logical: shiftRule('shift_right_logical'),
  shift_right_arithmetic: shiftRule('shift_right_arithmetic'),
  eq: compareRule('eq'), ne: compareRule('ne'), lt: compareRule('lt'), le: compareRule('le'),
  gt: compareRule('gt'), ge: compareRule('ge'),

  select: (inputs, _p, outAvals) => {
    const pred = data(inputs[0]);
    const t = data(inputs[1]);
    const f = data(inputs[2]);
    const out = alloc(outAvals[0]);
    for (let i = 0; i < out.length; i++) out[i] = pred[i] ? t[i] : f[i];
    return [out];
  },
  convert_element_type: (inputs, p) => [convertData(data(inputs[0]), inputs[0].dtype, p.newDtype)],
  stop_gradient: (inputs) => [data(inputs[0]).slice()],

  broadcast_in_dim: (inputs, p, outAvals) => {
    const x = inputs[0];
    const inStrides = stridesOf(x.shape);
    const srcStrides = new globalThis.Array<number>(p.shape.length).fill(0);
    p.broadcastDimensions.forEach((od, i) => {
      if (x.shape[i] !== 1) srcStrides[od] = inStrides[i];
    });
    const out = alloc(outAvals[0]);
    stridedCopy(data(x), 0, srcStrides, p.shape, out);
    return [out];
  },
  reshape: (inputs) => [data(inputs[0]).slice()],
  transpose: (inputs, p, outAvals) => {
    const x = inputs[0];
    const st = stridesOf(x.shape);
    const out = alloc(outAvals[0]);
    stridedCopy(data(x), 0, p.permutation.map((d) => st[d]), outAvals[0].shape, out);
    return [out];
  },
  slice: (inputs, p, outAvals) => {
    const x = inputs[0];
    const st = stridesOf(x.shape);
    const steps = p.strides ?? st.map(() => 1);
    let off = 0;
    for (let d = 0; d < st.length; d++) off += p.startIndices[d] * st[d];
    const out = alloc(outAvals[0]);
    stridedCopy(data(x), off, st.map((s, d) => s * steps[d]), outAvals[0].shape, out);
    return [out];
  },
  pad: (inputs, p, outAvals) => {
    const x = inputs[0];
    const src = data(x);
    const dt = x.dtype;
    const outShape = outAvals[0].shape;
    const out = alloc(outAvals[0]);
    out.fill(dt === 'bool' ? (p.padValue ? 1 : 0) : p.padValue);
    if (src.length === 0) return [out];
    const n = x.shape.length;
    if (n === 0) {
      out[0] = src[0];
      return [out];
    }
    const oStrides = stridesOf(outShape);
    // per dim: the output coordinate of each input coordinate, or -1 when cropped away
    const pos = x.shape.map((d, i) => {
      const m = new Int32Array(d);
      for (let j = 0; j < d; j++) {
        const q = p.lo[i] + j * (p.interior[i] + 1);
        m[j] = q >= 0 && q < outShape[i] ? q : -1;
      }
      return m;
    });
    const idx = new Int32Array(n);
    for (let s = 0; s < src.length; s++) {
      let o = 0;
      let ok = true;
      for (let d = 0; d < n; d++) {
        const q = pos[d][idx[d]];
        if (q < 0) {
          ok = false;
          break;
        }
        o += q * oStrides[d];
      }
      if (ok) out[o] = src[s];
      for (let d = n - 1; d >= 0; d--) {
        if (++idx[d] < x.shape[d]) break;
        idx[d] = 0;
      }
    }
    return [out];
  },
  concatenate: (inputs, p, outAvals) => {
    const out = alloc(outAvals[0]);
    const outShape = outAvals[0].shape;
    const [outer, total, inner] = around(outShape, p.dimension);
    let along = 0;
    for (const x of inputs) {
      const src = data(x);
      const block = x.shape[p.dimension] * inner;
      for (let o = 0; o < outer; o++) {
        out.set(src.subarray(o * block, (o + 1) * block), o * total * inner + along * inner);
      }
      along += x.shape[p.dimension];
    }
    return [out];
  },
  dynamic_slice: (inputs, p, outAvals) => {
    const [x, ...starts] = inputs;
    const st = stridesOf(x.shape);
    let off = 0;
    starts.forEach((s, d) => {
      off += clamp(data(s)[0], 0, x.shape[d] - p.sliceSizes[d]) * st[d];
    });
    const out = alloc(outAvals[0]);
    stridedCopy(data(x), off, st, p.sliceSizes, out);
    return [out];
  },
  dynamic_update_slice: (inputs) => {
    const [x, u, ...starts] = inputs;
    const out = data(x).slice();
    const st = stridesOf(x.shape);
    let off = 0;
    starts.forEach((s, d) => {
      off += clamp(data(s)[0], 0, x.shape[d] - u.shape[d]) * st[d];
    });
    // write update (row-major) into out at off with the operand's strides
    const n = u.shape.length;
    const usrc = data(u);
    if (usrc.length === 0) return [out];
    if (n === 0) {
      out[off] = usrc[0];
      return [out];
    }
    const last = u.shape[n - 1];
    const idx = new Int32Array(n);
    let o = off;
    for (let i = 0; i < usrc.length; i += last) {
      out.set(usrc.subarray(i, i + last), o);
      for (let d = n - 2; d >= 0; d--) {
        idx[d]++;
        o += st[d];
        if (idx[d] < u.shape[d]) break;
        o -= st[d] * u.shape[d];
        idx[d] = 0;
      }
    }
    return [out];
  },

  reduce_sum: reduceRule('sum'),
  reduce_max: reduceRule('max'),
  reduce_min: reduceRule('min'),
  argmax: argmaxRule(),
  cumsum: cumsumRule(),
  dot_general: dotGeneralRule(),
  gather: gatherRule(),
  ragged_dot: raggedDotRule(),
  ragged_contract: raggedContractRule(),
  scatter_add: scatterAddRule(),
  top_k: topKRule(),
  iota: (_inputs, p, outAvals) => {
    const out = alloc(outAvals[0]);
    const [outer, n, inner] = around(p.shape, p.dimension);
    let o = 0;
    for (let a = 0; a < outer; a++) {
      for (let k = 0; k < n; k++) {
        for (let r = 0; r < inner; r++) out[o++] = k;
      }
    }
    if (p.dtype === 'bool') return [toBool(out)];
    return [out];
  },
  remat: callRule(),
  custom_vjp_call: customVjpRule(),
  // identity on values (the sharding only matters to the partitioner)
  sharding_constraint: (inputs) => [data(inputs[0]).slice()],
  all_reduce: collectiveRule('all_reduce'),
  all_gather: collectiveRule('all_gather'),
  reduce_scatter: collectiveRule('reduce_scatter'),
  all_to_all: collectiveRule('all_to_all'),
  collective_permute: collectiveRule('collective_permute'),
  axis_index: collectiveRule('axis_index'),
};

/** Collectives have no single-device meaning: a clear error pointing at the SPMD interpreter. */
function collectiveRule(name: string): PlainRule {
  return () => {
    throw new ValueError(
      `collective ${name} needs the SPMD interpreter (evalSpmdReference): it combines values across the devices of a mesh, so it can run only in a per-device program ` +
        'evaluated with evalSpmdReference(graph, mesh, perDeviceArgs) or on a runtime Mesh (mesh.run), not eagerly or with evalGraphReference',
    );
  };
}

/** The reference evaluator, installable with `setEagerEvaluator`. */
export const referenceEval: EagerEvaluator = (prim, inputs, params, outAvals) => {
  const rule = referenceRules[prim] as RefRule<typeof prim> | undefined;
  if (!rule) throw new Error(`internal: the reference interpreter has no rule for primitive ${String(prim)}`);
  return rule(inputs, params, outAvals);
};
