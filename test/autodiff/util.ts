/**
 * Shared helpers for the autodiff tests: a seeded PRNG for test data and random shapes, float64
 * and int32 array builders, and the API under test (re-exported from the package entry point so
 * the tests exercise what users import).
 */

import { Array } from '../../src/index.js';

export * from '../../src/index.js';

/** mulberry32: deterministic uniform floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A float64 array from flat values. */
export function f64(values: readonly number[], shape: readonly number[] = [values.length]): Array {
  return Array.fromData(Float64Array.from(values), shape, 'float64');
}

/** An int32 array from flat values. */
export function i32(values: readonly number[], shape: readonly number[] = [values.length]): Array {
  return Array.fromData(Int32Array.from(values), shape, 'int32');
}

/** An int32 scalar. */
export function i32s(v: number): Array {
  return Array.fromData(Int32Array.of(v), [], 'int32');
}

/** Uniform float64 values in [lo, hi). */
export function uniform(u: () => number, shape: readonly number[], lo = -1, hi = 1): Array {
  const d = new Float64Array(size(shape));
  for (let i = 0; i < d.length; i++) d[i] = lo + (hi - lo) * u();
  return Array.fromData(d, shape, 'float64');
}

/** Uniform int32 values in [lo, hi). */
export function randint(u: () => number, shape: readonly number[], lo: number, hi: number): Array {
  const d = new Int32Array(size(shape));
  for (let i = 0; i < d.length; i++) d[i] = lo + Math.floor((hi - lo) * u());
  return Array.fromData(d, shape, 'int32');
}

/** A random shape of the given rank with dims in [lo, hi]. */
export function randShape(u: () => number, rank: number, lo = 1, hi = 4): number[] {
  return globalThis.Array.from({ length: rank }, () => lo + Math.floor((hi - lo + 1) * u()));
}

/** A float64 array's values as a plain JS array (flat). */
export function values(x: Array): number[] {
  return globalThis.Array.from(x.dataSync() as ArrayLike<number>);
}

/** Asserts two flat number lists agree to within `tol`. */
export function close(actual: readonly number[], expected: readonly number[], tol = 1e-12): boolean {
  return actual.length === expected.length && actual.every((a, i) => Math.abs(a - expected[i]) <= tol * (1 + Math.abs(expected[i])));
}
