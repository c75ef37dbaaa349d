/**
 * Shared helpers for the np tests: exact and approximate comparisons of Myriad arrays against
 * nested JS values (checking shape and dtype too), and an assertion that an error carries a
 * given message and the caller's source line.
 */

import assert from 'node:assert/strict';
import { Array, type DType } from '../../src/index.js';

/** Shape of a nested JS array. */
function nestedShape(v: unknown): number[] {
  const s: number[] = [];
  let cur = v;
  while (globalThis.Array.isArray(cur)) {
    s.push(cur.length);
    cur = cur[0];
  }
  return s;
}

function flat(v: unknown): unknown[] {
  return globalThis.Array.isArray(v) ? v.flatMap(flat) : [v];
}

/** Asserts `a` equals the nested value exactly (shape from the nesting), and its dtype if given. */
export function assertArray(a: Array, expected: unknown, dtype?: DType): void {
  assert.ok(a instanceof Array, `expected a Myriad Array, got ${String(a)}`);
  if (dtype) assert.equal(a.dtype, dtype, `dtype of ${a.toString()}`);
  const want = nestedShape(expected);
  if (want.length === 0 || !want.includes(0)) assert.deepEqual(a.shape, want, `shape of ${a.toString()}`);
  assert.deepEqual(a.toArray(), expected);
}

/** Asserts `a` is elementwise within atol + rtol·|expected| of `expected` (NaN matches NaN). */
export function assertClose(a: Array, expected: unknown, opts: { rtol?: number; atol?: number; dtype?: DType } = {}): void {
  const rtol = opts.rtol ?? 1e-6;
  const atol = opts.atol ?? 1e-6;
  assert.ok(a instanceof Array, `expected a Myriad Array, got ${String(a)}`);
  if (opts.dtype) assert.equal(a.dtype, opts.dtype, `dtype of ${a.toString()}`);
  assert.deepEqual(a.shape, nestedShape(expected), `shape of ${a.toString()}`);
  const got = flat(a.toArray()) as number[];
  const want = flat(expected) as number[];
  got.forEach((g, i) => {
    const w = want[i];
    if (Number.isNaN(w)) assert.ok(Number.isNaN(g), `element ${i}: expected NaN, got ${g} in ${a.toString()}`);
    else if (!Number.isFinite(w)) assert.equal(g, w, `element ${i} of ${a.toString()}`);
    else assert.ok(Math.abs(g - w) <= atol + rtol * Math.abs(w), `element ${i}: got ${g}, expected ${w} (atol ${atol}, rtol ${rtol}) in ${a.toString()}`);
  });
}

/** Asserts `fn` throws an error of class `cls` whose message matches every pattern. */
export function assertThrows(fn: () => unknown, cls: new (...a: any[]) => Error, ...patterns: RegExp[]): Error {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, 'expected an error, none was thrown');
  assert.ok(caught instanceof cls, `expected ${cls.name}, got ${String(caught)}`);
  for (const p of patterns) assert.match((caught as Error).message, p);
  return caught as Error;
}

/** The primitive names of a graph's equations, in order. */
export function prims(g: { eqns: readonly { prim: string }[] }): string[] {
  return g.eqns.map((e) => e.prim);
}

/** A deterministic float32 array with values in [-1, 1) (mulberry32). */
export function rand(shape: number[], seed = 1): Array {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    d[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return Array.fromData(d, shape, 'float32');
}

/** Plain-JS matrix product of two nested 2-D arrays (float64 sums). */
export function refMatmul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}
