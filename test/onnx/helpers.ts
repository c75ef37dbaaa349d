/**
 * Shared helpers of the ONNX backend tests: a seeded PRNG, random arrays of every dtype (with
 * the special values where semantics usually diverge: NaN, ±∞, ±0, halves, extremes), random
 * shapes (including size-1 and size-0 dims), and the comparison against the reference
 * interpreter (integers and bools exactly, floats within a tolerance).
 */

import '../../src/index.js'; // installs the reference interpreter as the eager evaluator (and np)
import { Array } from '../../src/core/array.js';
import type { DType, TypedArray } from '../../src/core/dtype.js';
import { allocate } from '../../src/core/dtype.js';
import { sizeOf } from '../../src/core/shape.js';

/** Mulberry32: a small seeded PRNG (uniform in [0, 1)). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  /** A random permutation of 0..n-1. */
  perm(n: number): number[] {
    const p = globalThis.Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(0, i);
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }
}

/** Float values where implementations usually disagree. */
export const FLOAT_SPECIALS = [
  NaN, Infinity, -Infinity, 0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 1, -1, 1e-30, -1e-30, 1e-7, 1e30, -1e30,
  3e38, 0.49999997, 8388609, -3, 100, -100, 2147483520, 2147483648, -2147483904, 3e9, -3e9, 4294967296,
];
export const INT32_SPECIALS = [0, 1, -1, 2, -2, 7, -7, 31, 32, 33, 2147483647, -2147483648, 65536, -65536, 123456789, -987654321];
export const UINT32_SPECIALS = [0, 1, 2, 7, 31, 32, 33, 0x7fffffff, 0x80000000, 0xffffffff, 65536, 123456789, 3000000000];

/** A random shape: rank in [minRank, maxRank], dims mostly 1..4, sometimes 0 when allowed. */
export function randShape(r: Rng, minRank = 0, maxRank = 3, allowZero = true): number[] {
  const rank = r.int(minRank, maxRank);
  return globalThis.Array.from({ length: rank }, () => (allowZero && r.bool(0.08) ? 0 : r.pick([1, 2, 3, 4, 5])));
}

export interface FillOptions {
  /** Range of random floats (default [-4, 4]) or ints (default [-20, 20] / [0, 40]). */
  lo?: number;
  hi?: number;
  /** Probability that an element is taken from the dtype's special values (default 0). */
  special?: number;
}

/** A random concrete array of the given dtype and shape. */
export function randArray(r: Rng, dtype: DType, shape: readonly number[], o: FillOptions = {}): Array {
  const n = sizeOf(shape);
  const data = allocate(dtype, n);
  const sp = o.special ?? 0;
  for (let i = 0; i < n; i++) {
    const useSpecial = r.bool(sp);
    switch (dtype) {
      case 'float32':
      case 'float64':
        data[i] = useSpecial ? r.pick(FLOAT_SPECIALS) : r.uniform(o.lo ?? -4, o.hi ?? 4);
        break;
      case 'int32':
        data[i] = useSpecial ? r.pick(INT32_SPECIALS) : r.int(o.lo ?? -20, o.hi ?? 20);
        break;
      case 'uint32':
        data[i] = useSpecial ? r.pick(UINT32_SPECIALS) : r.int(o.lo ?? 0, o.hi ?? 40);
        break;
      case 'bool':
        data[i] = r.bool() ? 1 : 0;
        break;
      default:
        throw new Error(`randArray: ${dtype}`);
    }
  }
  return Array.fromData(data, shape, dtype);
}

/** An array holding exactly `values`. */
export function arrayOf(dtype: DType, shape: readonly number[], values: readonly number[]): Array {
  const data = allocate(dtype, values.length);
  values.forEach((v, i) => (data[i] = dtype === 'bool' ? (v ? 1 : 0) : v));
  return Array.fromData(data, shape, dtype);
}

/** A scalar int32 array. */
export function i32(v: number): Array {
  return arrayOf('int32', [], [v]);
}

/** Float tolerance: |got − ref| ≤ atol + rtol·max(|ref|, magnitude). */
export interface Tol {
  rtol: number;
  atol: number;
}

/** Default float32 tolerance for elementwise results. */
export const DEFAULT_TOL: Tol = { rtol: 1e-5, atol: 1e-6 };

export interface Mismatch {
  index: number;
  got: number;
  want: number;
}

/** Largest relative error seen per label (reported with MYRIAD_ONNX_REPORT=1). */
export const maxErrors = new Map<string, number>();

/**
 * Compares one output. Integers and bools must be identical; floats must agree on NaN and on
 * infinities, and otherwise be within `tol` (scaled by `mag`, the same computation on absolute
 * values, when given: sums and products accumulate rounding in proportion to it).
 */
export function compareArrays(got: Array, want: Array, tol: Tol, mag: Array | null, label: string): Mismatch | null {
  if (got.dtype !== want.dtype) throw new Error(`${label}: dtype ${got.dtype} vs ${want.dtype}`);
  if (got.shape.join(',') !== want.shape.join(',')) throw new Error(`${label}: shape [${got.shape}] vs [${want.shape}]`);
  const g = got._data as TypedArray;
  const w = want._data as TypedArray;
  const m = mag ? (mag._data as TypedArray) : null;
  const float = want.dtype === 'float32' || want.dtype === 'float64';
  let worst = 0;
  for (let i = 0; i < w.length; i++) {
    const a = g[i];
    const b = w[i];
    if (!float) {
      if (a !== b) return { index: i, got: a, want: b };
      continue;
    }
    if (Number.isNaN(b) || Number.isNaN(a)) {
      if (Number.isNaN(a) !== Number.isNaN(b)) return { index: i, got: a, want: b };
      continue;
    }
    if (!Number.isFinite(b) || !Number.isFinite(a)) {
      if (a !== b) return { index: i, got: a, want: b };
      continue;
    }
    const scale = Math.max(Math.abs(b), m ? Math.abs(m[i]) : 0);
    const err = Math.abs(a - b);
    if (err > tol.atol + tol.rtol * scale) return { index: i, got: a, want: b };
    if (scale >= 1e-3) worst = Math.max(worst, err / scale);
  }
  if (float) maxErrors.set(label, Math.max(maxErrors.get(label) ?? 0, worst));
  return null;
}
