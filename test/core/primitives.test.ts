/**
 * Every primitive of the closed set, evaluated eagerly by the reference interpreter through
 * `lax.*` (so the shape rules run too), against hand-computed values: edge cases (negative values,
 * size-0 and size-1 dims, strides, interior and negative padding), integer wrap-around, shifts,
 * float32 rounding, NaN handling, batched/multi-contracting dot_general, gather/scatter_add with
 * batchDims and out-of-range indices, top_k and argmax ties; plus shape-rule errors from `bind`
 * and `evalGraphReference` while a trace is active.
 */

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { referenceRules, evalGraphReference } from '../../src/backends/reference/index.js';
import { Array } from '../../src/core/array.js';
import type { DType } from '../../src/core/dtype.js';
import { DTypeError, ShapeError, TracerError } from '../../src/core/errors.js';
import * as lax from '../../src/core/lax.js';
import { bind, closureConvert, makeGraph } from '../../src/core/trace.js';
import { customVjp } from '../../src/core/autodiff.js';
import { UNARY_OPS, BINARY_OPS, COMPARE_OPS, shapeRules, type Primitive } from '../../src/core/primitives.js';

const JsArray = globalThis.Array;

function arr(dtype: DType, values: number[], shape: number[] = [values.length]): Array {
  const ctor = { float32: Float32Array, float64: Float64Array, int32: Int32Array, uint32: Uint32Array, bool: Uint8Array }[dtype as 'float32'];
  return Array.fromData(new ctor(values), shape, dtype);
}
const f32 = (v: number[], s?: number[]) => arr('float32', v, s);
const f64 = (v: number[], s?: number[]) => arr('float64', v, s);
const i32 = (v: number[], s?: number[]) => arr('int32', v, s);
const u32 = (v: number[], s?: number[]) => arr('uint32', v, s);
const b8 = (v: number[], s?: number[]) => arr('bool', v, s);
const si = (v: number) => Array.scalar(v, 'int32');
/** 0, 1, 2, … as float32 of the given shape. */
const range = (shape: number[], dtype: DType = 'float32') => lax.reshape(lax.iota(dtype, [shape.reduce((a, b) => a * b, 1)]), shape);

/** Flat values as a plain JS array. */
function vals(x: Array): number[] {
  return JsArray.from(x.dataSync());
}

/** Asserts dtype, shape and values (Object.is per element, so -0 and NaN are checked). */
function check(x: Array, dtype: DType, shape: number[], expected: number[]): void {
  assert.equal(x.dtype, dtype, 'dtype');
  assert.deepEqual(x.shape, shape, 'shape');
  const got = vals(x);
  assert.equal(got.length, expected.length, `length of ${JSON.stringify(got)}`);
  got.forEach((g, i) => assert.ok(Object.is(g, expected[i]), `element ${i}: got ${g}, expected ${expected[i]} (all: ${JSON.stringify(got.map(String))})`));
}

function close(x: Array, expected: number[], rel: number): void {
  const got = vals(x);
  assert.equal(got.length, expected.length);
  got.forEach((g, i) => {
    const e = expected[i];
    const err = e === 0 ? Math.abs(g) : Math.abs(g - e) / Math.abs(e);
    assert.ok(err <= rel, `element ${i}: got ${g}, expected ${e} (rel err ${err})`);
  });
}

// Hand-computed setup: the line number of a call, read from a stack trace on the same line.
function lineHere(): number {
  const frame = (new Error().stack ?? '').split('\n')[2];
  return Number(/:(\d+):\d+\)?$/.exec(frame)![1]);
}

describe('rule table', () => {
  test('covers every primitive', () => {
    const listed: Primitive[] = [...UNARY_OPS, ...BINARY_OPS, ...COMPARE_OPS];
    for (const p of listed) assert.equal(typeof referenceRules[p], 'function', p);
    assert.deepEqual(Object.keys(referenceRules).sort(), Object.keys(shapeRules).sort());
  });
});

describe('unary elementwise', () => {
  test('neg: floats keep -0, int32 wraps at INT_MIN, uint32 wraps', () => {
    check(lax.neg(f32([1, -2.5, 0])), 'float32', [3], [-1, 2.5, -0]);
    check(lax.neg(i32([5, -2147483648])), 'int32', [2], [-5, -2147483648]);
    check(lax.neg(u32([1, 0])), 'uint32', [2], [4294967295, 0]);
  });
  test('abs, sign', () => {
    check(lax.abs(f32([-1.5, -0, 2])), 'float32', [3], [1.5, 0, 2]);
    check(lax.abs(i32([-3, -2147483648, 7])), 'int32', [3], [3, -2147483648, 7]);
    check(lax.sign(f32([-2, 0, -0, 3, NaN])), 'float32', [5], [-1, 0, -0, 1, NaN]);
    check(lax.sign(i32([-5, 0, 7])), 'int32', [3], [-1, 0, 1]);
    check(lax.sign(u32([0, 4000000000])), 'uint32', [2], [0, 1]);
  });
  test('floor, ceil, round (half away from zero)', () => {
    check(lax.floor(f32([-1.5, 1.5, -0.2, 3])), 'float32', [4], [-2, 1, -1, 3]);
    check(lax.ceil(f32([-1.5, 1.5, -0.2, 3])), 'float32', [4], [-1, 2, -0, 3]);
    check(lax.round(f32([0.5, 1.5, 2.5, -0.5, -2.5, -0.2, 0.49999997, Infinity, NaN])), 'float32', [9], [1, 2, 3, -1, -3, -0, 0, Infinity, NaN]);
    // the largest double below 0.5 must not round up (x + 0.5 would give 1)
    check(lax.round(f64([0.49999999999999994, -0.49999999999999994, 4503599627370497])), 'float64', [3], [0, -0, 4503599627370497]);
  });
  test('is_finite gives bool', () => {
    const r = lax.isFinite(f32([1, Infinity, -Infinity, NaN, -0]));
    check(r, 'bool', [5], [1, 0, 0, 0, 1]);
    assert.ok(r.dataSync() instanceof Uint8Array);
  });
  test('exp, log, log1p, expm1 (float32 rounding, special values)', () => {
    check(lax.exp(f32([0, 1, -Infinity, 100])), 'float32', [4], [1, Math.fround(2.718281828459045), 0, Infinity]);
    check(lax.log(f32([1, 0, -1, Infinity])), 'float32', [4], [0, -Infinity, NaN, Infinity]);
    // log1p(1e-10) = 1e-10 - 5e-21 + …; expm1(1e-10) = 1e-10 + 5e-21 + …
    close(lax.log1p(f64([1e-10])), [9.9999999995e-11], 1e-15);
    close(lax.expm1(f64([1e-10])), [1.00000000005e-10], 1e-15);
    check(lax.log1p(f32([-1])), 'float32', [1], [-Infinity]);
  });
  test('tanh, sin, cos, sqrt, rsqrt', () => {
    check(lax.tanh(f64([0, 20, -20])), 'float64', [3], [0, 1, -1]);
    close(lax.tanh(f64([-1])), [-0.7615941559557649], 1e-15);
    close(lax.sin(f64([Math.PI / 2, Math.PI / 6])), [1, 0.5], 1e-15);
    close(lax.cos(f64([0, Math.PI / 3])), [1, 0.5], 1e-15);
    check(lax.sqrt(f32([4, 2, -1, 0])), 'float32', [4], [2, Math.fround(1.4142135623730951), NaN, 0]);
    check(lax.rsqrt(f32([4, 0, 0.25])), 'float32', [3], [0.5, Infinity, 2]);
  });
  test('logistic is stable for large |x|', () => {
    check(lax.logistic(f32([0, 800, -800])), 'float32', [3], [0.5, 1, 0]);
    close(lax.logistic(f64([2, -2])), [0.8807970779778823, 0.11920292202211755], 1e-15);
    const tiny = vals(lax.logistic(f64([-700])))[0];
    assert.ok(tiny > 0 && Math.abs(tiny - Math.exp(-700)) / Math.exp(-700) < 1e-12, String(tiny));
  });
  test('erf to ~1e-15 relative in float64', () => {
    // reference values: erf(0.5), erf(1), erf(2), erf(3), erf(-1.5), erf(5), erf(0.001)
    const xs = [0.5, 1, 2, 3, -1.5, 5, 0.001, 0];
    const want = [0.5204998778130465, 0.8427007929497149, 0.9953222650189527, 0.9999779095030014, -0.9661051464753108, 0.9999999999984626, 0.0011283787909692365, 0];
    close(lax.erf(f64(xs)), want, 2e-15);
    check(lax.erf(f64([NaN, -0, 7, -Infinity])), 'float64', [4], [NaN, -0, 1, -1]);
    check(lax.erf(f32([1])), 'float32', [1], [Math.fround(0.8427007929497149)]);
    // odd symmetry and monotonicity across the series/continued-fraction switch at 3
    const around3 = vals(lax.erf(f64([2.999999, 3, 3.000001])));
    assert.ok(around3[0] < around3[1] && around3[1] < around3[2]);
  });
  test('not: logical on bool, bitwise on ints', () => {
    check(lax.not(b8([1, 0])), 'bool', [2], [0, 1]);
    check(lax.not(i32([0, -1, 5])), 'int32', [3], [-1, 0, -6]);
    check(lax.not(u32([0, 4294967295])), 'uint32', [2], [4294967295, 0]);
  });
  test('size-0 operands give size-0 results', () => {
    check(lax.exp(f32([], [0, 3])), 'float32', [0, 3], []);
    check(lax.add(i32([], [2, 0]), i32([], [2, 0])), 'int32', [2, 0], []);
  });
});

describe('binary elementwise', () => {
  test('add rounds to float32 once: 0.1 + 0.2', () => {
    // f32(0.1) = 0.100000001490116…, f32(0.2) = 0.200000002980232…; their sum rounds to 0.300000011920929
    check(lax.add(f32([0.1]), f32([0.2])), 'float32', [1], [0.30000001192092896]);
    check(lax.add(f64([0.1]), f64([0.2])), 'float64', [1], [0.30000000000000004]);
    check(lax.add(f32([3e38, 16777216]), f32([3e38, 1])), 'float32', [2], [Infinity, 16777216]);
  });
  test('integer add/sub/mul wrap', () => {
    check(lax.add(i32([2147483647, -2147483648]), i32([1, -1])), 'int32', [2], [-2147483648, 2147483647]);
    check(lax.sub(i32([-2147483648]), i32([1])), 'int32', [1], [2147483647]);
    check(lax.add(u32([4294967295]), u32([1])), 'uint32', [1], [0]);
    check(lax.sub(u32([0]), u32([1])), 'uint32', [1], [4294967295]);
    // 123456789·987654321 = 121932631112635269 ≡ 4227814277 (mod 2^32) = -67153019 as int32
    check(lax.mul(i32([65536, 123456789, -3]), i32([65536, 987654321, 7])), 'int32', [3], [0, -67153019, -21]);
    check(lax.mul(u32([4294967295, 123456789]), u32([4294967295, 987654321])), 'uint32', [2], [1, 4227814277]);
  });
  test('div: float IEEE, integer truncates; x/0 = all ones, INT_MIN/-1 = INT_MIN', () => {
    check(lax.div(f32([1, 1, -1, 0]), f32([3, 0, 0, 0])), 'float32', [4], [Math.fround(1 / 3), Infinity, -Infinity, NaN]);
    check(lax.div(i32([7, -7, 7, -7, 5, -2147483648]), i32([2, 2, -2, -2, 0, -1])), 'int32', [6], [3, -3, -3, 3, -1, -2147483648]);
    check(lax.div(u32([7, 5, 4294967295]), u32([2, 0, 2])), 'uint32', [3], [3, 4294967295, 2147483647]);
  });
  test('rem: C fmod (sign of dividend); x % 0 = x for ints', () => {
    check(lax.rem(f32([5.5, -5.5, 5.5, -5.5, 1]), f32([2, 2, -2, -2, 0])), 'float32', [5], [1.5, -1.5, 1.5, -1.5, NaN]);
    check(lax.rem(i32([7, -7, 7, -7, 5, -2147483648]), i32([3, 3, -3, -3, 0, -1])), 'int32', [6], [1, -1, 1, -1, 5, 0]);
    check(lax.rem(u32([4294967295, 9]), u32([10, 0])), 'uint32', [2], [5, 9]);
  });
  test('pow follows C pow', () => {
    check(lax.pow(f32([2, 2, -8, 1, NaN, -1, 0]), f32([10, -1, 1 / 3, NaN, 0, Infinity, -1])), 'float32', [7], [1024, 0.5, NaN, 1, 1, 1, Infinity]);
  });
  test('max/min propagate NaN; ints and bools', () => {
    check(lax.max(f32([1, NaN, -1]), f32([NaN, 2, -2])), 'float32', [3], [NaN, NaN, -1]);
    check(lax.min(f32([1, NaN, -1]), f32([NaN, 2, -2])), 'float32', [3], [NaN, NaN, -2]);
    check(lax.max(i32([-5, 3]), i32([-7, 4])), 'int32', [2], [-5, 4]);
    check(lax.min(u32([4294967295, 3]), u32([1, 4])), 'uint32', [2], [1, 3]);
    check(lax.max(b8([1, 0, 0]), b8([0, 1, 0])), 'bool', [3], [1, 1, 0]);
  });
  test('atan2(y, x) by quadrant', () => {
    close(lax.atan2(f64([1, 1, -1]), f64([-1, 1, -1])), [(3 * Math.PI) / 4, Math.PI / 4, (-3 * Math.PI) / 4], 1e-15);
    check(lax.atan2(f64([0, -0, 0]), f64([-0, 1, 0])), 'float64', [3], [Math.PI, -0, 0]);
  });
  test('and/or/xor: bitwise on ints, logical on bool', () => {
    check(lax.and(i32([12, -1]), i32([10, 5])), 'int32', [2], [8, 5]);
    check(lax.or(i32([12, -2147483648]), i32([3, 1])), 'int32', [2], [15, -2147483647]);
    check(lax.xor(u32([4294967295]), u32([1])), 'uint32', [1], [4294967294]);
    check(lax.and(b8([1, 1, 0]), b8([1, 0, 0])), 'bool', [3], [1, 0, 0]);
    check(lax.or(b8([1, 1, 0]), b8([1, 0, 0])), 'bool', [3], [1, 1, 0]);
    check(lax.xor(b8([1, 1, 0]), b8([1, 0, 0])), 'bool', [3], [0, 1, 0]);
  });
  test('bool arithmetic stores x != 0 (add is or, mul is and)', () => {
    check(lax.add(b8([1, 1, 0]), b8([1, 0, 0])), 'bool', [3], [1, 1, 0]);
    check(lax.mul(b8([1, 1, 0]), b8([1, 0, 0])), 'bool', [3], [1, 0, 0]);
  });
  test('int32 shifts: counts ≥ 32 (or negative) give 0 / sign fill', () => {
    check(lax.shiftLeft(i32([1, 1, 1, -1, 3]), i32([0, 31, 32, 100, -1])), 'int32', [5], [1, -2147483648, 0, 0, 0]);
    check(lax.shiftRightLogical(i32([-1, -8, 5, 5]), i32([28, 1, 32, -3])), 'int32', [4], [15, 2147483644, 0, 0]);
    check(lax.shiftRightArithmetic(i32([-8, -1, 8, -8, -8]), i32([1, 40, 32, 2, -1])), 'int32', [5], [-4, -1, 0, -2, -1]);
  });
  test('uint32 shifts', () => {
    check(lax.shiftLeft(u32([0x80000000, 1, 1]), u32([1, 31, 32])), 'uint32', [3], [0, 0x80000000, 0]);
    check(lax.shiftRightLogical(u32([0xffffffff, 0xffffffff]), u32([4, 32])), 'uint32', [2], [0x0fffffff, 0]);
    check(lax.shiftRightArithmetic(u32([0x80000000, 0x80000000, 0x40000000]), u32([4, 33, 40])), 'uint32', [3], [0xf8000000, 0xffffffff, 0]);
  });
  test('comparisons give bool; NaN compares unequal; uint32 compares unsigned', () => {
    const a = f32([1, NaN, 2]);
    const b = f32([1, NaN, 3]);
    check(lax.eq(a, b), 'bool', [3], [1, 0, 0]);
    check(lax.ne(a, b), 'bool', [3], [0, 1, 1]);
    check(lax.lt(a, b), 'bool', [3], [0, 0, 1]);
    check(lax.le(a, b), 'bool', [3], [1, 0, 1]);
    check(lax.gt(a, b), 'bool', [3], [0, 0, 0]);
    check(lax.ge(a, b), 'bool', [3], [1, 0, 0]);
    check(lax.gt(u32([4294967295]), u32([1])), 'bool', [1], [1]);
    check(lax.lt(i32([-1]), i32([1])), 'bool', [1], [1]);
    check(lax.eq(f32([0]), f32([-0])), 'bool', [1], [1]);
  });
});

describe('select, convert_element_type, stop_gradient', () => {
  test('select', () => {
    check(lax.select(b8([1, 0, 1], [3]), f32([1, 2, 3]), f32([-1, -2, -3])), 'float32', [3], [1, -2, 3]);
    check(lax.select(b8([0], []), i32([4], []), i32([9], [])), 'int32', [], [9]);
  });
  test('float → int32 truncates toward zero, saturates, NaN → 0', () => {
    check(lax.convert(f32([1.9, -1.9, NaN, 3e9, -3e9, Infinity, -0.5]), 'int32'), 'int32', [7], [1, -1, 0, 2147483647, -2147483648, 2147483647, 0]);
    check(lax.convert(f64([2147483647.9, -2147483648.9]), 'int32'), 'int32', [2], [2147483647, -2147483648]);
  });
  test('float → uint32 saturates at 0 and 2^32-1', () => {
    check(lax.convert(f32([-1.5, 3.7, 5e9, NaN, -Infinity]), 'uint32'), 'uint32', [5], [0, 3, 4294967295, 0, 0]);
  });
  test('int32 ↔ uint32 reinterpret the bit pattern', () => {
    check(lax.convert(i32([-1, 5]), 'uint32'), 'uint32', [2], [4294967295, 5]);
    check(lax.convert(u32([4294967295, 2147483648]), 'int32'), 'int32', [2], [-1, -2147483648]);
  });
  test('to float rounds to nearest even; to bool is x != 0', () => {
    check(lax.convert(i32([16777217, 16777219]), 'float32'), 'float32', [2], [16777216, 16777220]);
    check(lax.convert(f64([0.1]), 'float32'), 'float32', [1], [0.10000000149011612]);
    check(lax.convert(u32([4294967295]), 'float64'), 'float64', [1], [4294967295]);
    check(lax.convert(f32([0, -0, NaN, 0.1, -2]), 'bool'), 'bool', [5], [0, 0, 1, 1, 1]);
    check(lax.convert(i32([0, 3]), 'bool'), 'bool', [2], [0, 1]);
    check(lax.convert(b8([1, 0]), 'float32'), 'float32', [2], [1, 0]);
  });
  test('stop_gradient is a copying identity', () => {
    const x = f32([1, -2], [1, 2]);
    const y = lax.stopGradient(x);
    check(y, 'float32', [1, 2], [1, -2]);
    assert.notEqual(y._data, x._data);
  });
});

describe('structural', () => {
  test('broadcast_in_dim: scalar, rows, size-1 dims, size-0 output', () => {
    check(lax.broadcastInDim(Array.scalar(7, 'int32'), [2, 3], []), 'int32', [2, 3], [7, 7, 7, 7, 7, 7]);
    check(lax.broadcastInDim(f32([1, 2, 3]), [2, 3], [1]), 'float32', [2, 3], [1, 2, 3, 1, 2, 3]);
    check(lax.broadcastInDim(f32([1, 2]), [2, 3], [0]), 'float32', [2, 3], [1, 1, 1, 2, 2, 2]);
    check(lax.broadcastInDim(f32([5, 6], [2, 1]), [2, 1, 3], [0, 1]), 'float32', [2, 1, 3], [5, 5, 5, 6, 6, 6]);
    check(lax.broadcastInDim(f32([5], [1]), [4], [0]), 'float32', [4], [5, 5, 5, 5]);
    check(lax.broadcastInDim(f32([1, 2]), [2, 0], [0]), 'float32', [2, 0], []);
  });
  test('reshape', () => {
    check(lax.reshape(range([2, 3]), [3, 2]), 'float32', [3, 2], [0, 1, 2, 3, 4, 5]);
    check(lax.reshape(range([6]), [1, 6, 1]), 'float32', [1, 6, 1], [0, 1, 2, 3, 4, 5]);
    check(lax.reshape(f32([], [0, 3]), [3, 0]), 'float32', [3, 0], []);
    check(lax.reshape(f32([4], [1, 1]), []), 'float32', [], [4]);
  });
  test('transpose', () => {
    check(lax.transpose(range([2, 3]), [1, 0]), 'float32', [3, 2], [0, 3, 1, 4, 2, 5]);
    // x[i,j,k] = 12i + 4j + k; out[k,i,j] = x[i,j,k]
    const t = lax.transpose(range([2, 3, 4]), [2, 0, 1]);
    const want: number[] = [];
    for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) want.push(12 * i + 4 * j + k);
    check(t, 'float32', [4, 2, 3], want);
    check(lax.transpose(f32([], [0, 2]), [1, 0]), 'float32', [2, 0], []);
  });
  test('slice with strides, empty and size-1 results', () => {
    check(lax.slice(range([10]), [1], [9], [3]), 'float32', [3], [1, 4, 7]);
    check(lax.slice(range([10]), [1], [8], [3]), 'float32', [3], [1, 4, 7]);
    check(lax.slice(range([3, 4]), [0, 1], [3, 4], [2, 2]), 'float32', [2, 2], [1, 3, 9, 11]);
    check(lax.slice(range([3, 4]), [1, 2], [2, 3]), 'float32', [1, 1], [6]);
    check(lax.slice(range([5]), [2], [2]), 'float32', [0], []);
    check(lax.slice(range([2, 3, 4]), [1, 0, 1], [2, 3, 4], [1, 2, 2]), 'float32', [1, 2, 2], [13, 15, 21, 23]);
  });
  test('pad: lo/hi, interior, negative (cropping)', () => {
    check(lax.pad(f32([1, 2, 3]), 0, [0], [0], [2]), 'float32', [7], [1, 0, 0, 2, 0, 0, 3]);
    check(lax.pad(i32([1, 2]), -1, [2], [1]), 'int32', [5], [-1, -1, 1, 2, -1]);
    check(lax.pad(f32([1, 2, 3, 4]), 9, [-1], [-2]), 'float32', [1], [2]);
    // negative lo crops into interior padding: [1,0,2,0,3] → drop 2 at the start, add 1 at the end
    check(lax.pad(f32([1, 2, 3]), 0, [-2], [1], [1]), 'float32', [4], [2, 0, 3, 0]);
    // 2-D: rows lo 1, interior 1; columns lo -1, hi 1, interior 1
    check(lax.pad(f32([1, 2, 3, 4, 5, 6], [2, 3]), 0, [1, -1], [0, 1], [1, 1]), 'float32', [4, 5], [
      0, 0, 0, 0, 0,
      0, 2, 0, 3, 0,
      0, 0, 0, 0, 0,
      0, 5, 0, 6, 0,
    ]);
    check(lax.pad(f32([], [0]), 5, [1], [1], [3]), 'float32', [2], [5, 5]);
    check(lax.pad(b8([1, 1]), 0, [1], [0]), 'bool', [3], [0, 1, 1]);
    check(lax.pad(f32([1, 2]), 0, [-2], [0]), 'float32', [0], []);
  });
  test('concatenate, including size-0 pieces', () => {
    check(lax.concatenate([f32([1, 2], [2, 1]), f32([3, 4, 5, 6], [2, 2]), f32([], [2, 0])], 1), 'float32', [2, 3], [1, 3, 4, 2, 5, 6]);
    check(lax.concatenate([i32([1, 2]), i32([3])], 0), 'int32', [3], [1, 2, 3]);
  });
  test('dynamic_slice clamps starts to [0, dim - size]', () => {
    const x = range([5]);
    check(lax.dynamicSlice(x, [si(1)], [2]), 'float32', [2], [1, 2]);
    check(lax.dynamicSlice(x, [si(4)], [2]), 'float32', [2], [3, 4]);
    check(lax.dynamicSlice(x, [si(-2)], [2]), 'float32', [2], [0, 1]);
    check(lax.dynamicSlice(range([3, 4]), [si(1), si(3)], [2, 2]), 'float32', [2, 2], [6, 7, 10, 11]);
    check(lax.dynamicSlice(x, [Array.scalar(3, 'uint32')], [0]), 'float32', [0], []);
  });
  test('dynamic_update_slice clamps starts', () => {
    check(lax.dynamicUpdateSlice(range([5]), f32([-1, -2]), [si(4)]), 'float32', [5], [0, 1, 2, -1, -2]);
    check(lax.dynamicUpdateSlice(range([5]), f32([-1, -2]), [si(-7)]), 'float32', [5], [-1, -2, 2, 3, 4]);
    check(lax.dynamicUpdateSlice(range([3, 3]), f32([-1, -2], [2, 1]), [si(2), si(1)]), 'float32', [3, 3], [0, 1, 2, 3, -1, 5, 6, -2, 8]);
    check(lax.dynamicUpdateSlice(range([2]), f32([], [0]), [si(1)]), 'float32', [2], [0, 1]);
  });
});

describe('reductions and scans', () => {
  test('reduce_sum over any axes set', () => {
    const x = range([2, 3, 4]);
    // sum over i,k of 12i+4j+k: 2·4·4j + 4·12 + 2·6 = 32j + 60
    check(lax.reduceSum(x, [0, 2]), 'float32', [3], [60, 92, 124]);
    check(lax.reduceSum(x, [1]), 'float32', [2, 4], [12, 15, 18, 21, 48, 51, 54, 57]);
    check(lax.reduceSum(x, [0, 1, 2]), 'float32', [], [276]);
    check(lax.reduceSum(f32([], [0, 3]), [0]), 'float32', [3], [0, 0, 0]);
    check(lax.reduceSum(f32([], [3, 0]), [0]), 'float32', [0], []);
  });
  test('reduce_sum accumulates float32 in double and rounds once', () => {
    // sequential f32 adds would lose the 1 (1e8 + 1 = 1e8 in f32)
    check(lax.reduceSum(f32([1e8, 1, -1e8]), [0]), 'float32', [], [1]);
    check(lax.reduceSum(f32([1, NaN]), [0]), 'float32', [], [NaN]);
  });
  test('reduce_sum of integers wraps; of bools is or', () => {
    check(lax.reduceSum(i32([2147483647, 1, 5]), [0]), 'int32', [], [-2147483643]);
    check(lax.reduceSum(u32([4294967295, 2]), [0]), 'uint32', [], [1]);
    check(lax.reduceSum(b8([0, 1, 1, 0, 0, 0], [2, 3]), [1]), 'bool', [2], [1, 0]);
  });
  test('reduce_max / reduce_min: NaN propagates, -inf/+inf stay', () => {
    check(lax.reduceMax(f32([1, NaN, 3]), [0]), 'float32', [], [NaN]);
    check(lax.reduceMin(f32([1, NaN, 3]), [0]), 'float32', [], [NaN]);
    check(lax.reduceMax(f32([-Infinity, -Infinity]), [0]), 'float32', [], [-Infinity]);
    check(lax.reduceMin(f32([Infinity]), [0]), 'float32', [], [Infinity]);
    check(lax.reduceMax(i32([3, -7, 9, 2, -1, -5], [2, 3]), [1]), 'int32', [2], [9, 2]);
    check(lax.reduceMin(i32([3, -7, 9, 2, -1, -5], [2, 3]), [0]), 'int32', [3], [2, -7, -5]);
    check(lax.reduceMax(u32([1, 4294967295]), [0]), 'uint32', [], [4294967295]);
    check(lax.reduceMin(b8([1, 0, 1, 1], [2, 2]), [1]), 'bool', [2], [0, 1]);
  });
  test('reduce_max over an empty dimension is a ShapeError', () => {
    assert.throws(() => lax.reduceMax(f32([], [0, 2]), [0]), (e: Error) => e instanceof ShapeError && /reduce_max.*empty/.test(e.message));
  });
  test('argmax: first maximum; NaN counts as the maximum', () => {
    check(lax.argmax(f32([1, 3, 3, 2]), 0), 'int32', [], [1]);
    check(lax.argmax(f32([1, NaN, 5, NaN]), 0), 'int32', [], [1]);
    check(lax.argmax(f32([NaN, 1]), 0), 'int32', [], [0]);
    check(lax.argmax(f32([-Infinity, -Infinity]), 0), 'int32', [], [0]);
    check(lax.argmax(i32([1, 9, 9, 4, 2, 4], [2, 3]), 0), 'int32', [3], [1, 0, 0]);
    check(lax.argmax(i32([1, 9, 9, 4, 2, 4], [2, 3]), 1), 'int32', [2], [1, 0]);
    check(lax.argmax(f32([5, 6], [2, 1]), 1), 'int32', [2], [0, 0]);
    check(lax.argmax(f32([1, 2]), 0, 'uint32'), 'uint32', [], [1]);
  });
  test('cumsum: inclusive, reverse, axis, int wrap', () => {
    check(lax.cumsum(f32([1, 2, 3, 4]), 0), 'float32', [4], [1, 3, 6, 10]);
    check(lax.cumsum(f32([1, 2, 3, 4]), 0, true), 'float32', [4], [10, 9, 7, 4]);
    check(lax.cumsum(range([2, 3]), 0), 'float32', [2, 3], [0, 1, 2, 3, 5, 7]);
    check(lax.cumsum(range([2, 3]), 1, true), 'float32', [2, 3], [3, 3, 2, 12, 9, 5]);
    check(lax.cumsum(i32([2147483647, 1, 1]), 0), 'int32', [3], [2147483647, -2147483648, -2147483647]);
    check(lax.cumsum(f32([], [0]), 0), 'float32', [0], []);
  });
});

describe('dot_general', () => {
  /** Straightforward oracle: out[b…, m…, n…] = Σ_k lhs[…] · rhs[…], by explicit multi-indices. */
  function naiveDot(a: Array, b: Array, lc: number[], rc: number[], lb: number[], rb: number[]): number[] {
    const av = vals(a), bv = vals(b);
    const idx = (shape: number[], ix: number[]) => ix.reduce((acc, v, d) => acc * shape[d] + v, 0);
    const lf = a.shape.map((_, i) => i).filter((i) => !lc.includes(i) && !lb.includes(i));
    const rf = b.shape.map((_, i) => i).filter((i) => !rc.includes(i) && !rb.includes(i));
    const outDims = [...lb.map((d) => a.shape[d]), ...lf.map((d) => a.shape[d]), ...rf.map((d) => b.shape[d])];
    const kDims = lc.map((d) => a.shape[d]);
    const iter = (dims: number[]): number[][] => dims.reduce<number[][]>((acc, d) => acc.flatMap((p) => [...JsArray(d).keys()].map((v) => [...p, v])), [[]]);
    return iter(outDims).map((o) => {
      let s = 0;
      for (const k of iter(kDims)) {
        const ai = new JsArray<number>(a.ndim), bi = new JsArray<number>(b.ndim);
        lb.forEach((d, j) => { ai[d] = o[j]; bi[rb[j]] = o[j]; });
        lf.forEach((d, j) => { ai[d] = o[lb.length + j]; });
        rf.forEach((d, j) => { bi[d] = o[lb.length + lf.length + j]; });
        lc.forEach((d, j) => { ai[d] = k[j]; bi[rc[j]] = k[j]; });
        s += av[idx(a.shape, ai)] * bv[idx(b.shape, bi)];
      }
      return s;
    });
  }

  test('matrix product', () => {
    // [[1,2,3],[4,5,6]] · [[1,0],[0,1],[1,1]] = [[4,5],[10,11]]
    check(lax.dotGeneral(f32([1, 2, 3, 4, 5, 6], [2, 3]), f32([1, 0, 0, 1, 1, 1], [3, 2]), { lhsContracting: [1], rhsContracting: [0] }), 'float32', [2, 2], [4, 5, 10, 11]);
    // contracting the lhs's first dim: aᵀ·a for a = [[1,2],[3,4]] is [[10,14],[14,20]]
    check(lax.dotGeneral(f32([1, 2, 3, 4], [2, 2]), f32([1, 2, 3, 4], [2, 2]), { lhsContracting: [0], rhsContracting: [0] }), 'float32', [2, 2], [10, 14, 14, 20]);
  });
  test('batch dims come first in the output', () => {
    // batch 0: [1,2]·[[1],[1]] = 3 ; batch 1: [3,4]·[[2],[-1]] = 2
    check(
      lax.dotGeneral(f32([1, 2, 3, 4], [2, 1, 2]), f32([1, 1, 2, -1], [2, 2, 1]), { lhsContracting: [2], rhsContracting: [1], lhsBatch: [0], rhsBatch: [0] }),
      'float32', [2, 1, 1], [3, 2],
    );
  });
  test('multiple contracting dims and non-leading batch dims match the naive oracle', () => {
    const a = range([2, 3, 4]);
    const b = lax.sub(range([3, 4, 5]), lax.fullLike(range([3, 4, 5]), 7));
    const r1 = lax.dotGeneral(a, b, { lhsContracting: [1, 2], rhsContracting: [0, 1] });
    check(r1, 'float32', [2, 5], naiveDot(a, b, [1, 2], [0, 1], [], []));
    // lhs [M=3, B=2, K=4], rhs [K=4, N=5, B=2]; contracting in swapped order too
    const c = range([3, 2, 4]);
    const d = lax.sub(range([4, 5, 2]), lax.fullLike(range([4, 5, 2]), 20));
    const r2 = lax.dotGeneral(c, d, { lhsContracting: [2], rhsContracting: [0], lhsBatch: [1], rhsBatch: [2] });
    check(r2, 'float32', [2, 3, 5], naiveDot(c, d, [2], [0], [1], [2]));
    const e = range([2, 3, 4]);
    const g = range([4, 3, 2]);
    const r3 = lax.dotGeneral(e, g, { lhsContracting: [1, 2], rhsContracting: [1, 0], lhsBatch: [0], rhsBatch: [2] });
    check(r3, 'float32', [2], naiveDot(e, g, [1, 2], [1, 0], [0], [2]));
  });
  test('float32 products accumulate in double and round once', () => {
    check(lax.dotGeneral(f32([1e8, 1, -1e8]), f32([1, 1, 1]), { lhsContracting: [0], rhsContracting: [0] }), 'float32', [], [1]);
    check(lax.dotGeneral(f32([0.1]), f32([3]), { lhsContracting: [0], rhsContracting: [0] }), 'float32', [], [Math.fround(Math.fround(0.1) * 3)]);
  });
  test('integer dot wraps; preferred element type; empty contraction', () => {
    check(lax.dotGeneral(i32([65536, 3]), i32([65536, -2]), { lhsContracting: [0], rhsContracting: [0] }), 'int32', [], [-6]);
    check(lax.dotGeneral(u32([4294967295]), u32([2]), { lhsContracting: [0], rhsContracting: [0] }), 'uint32', [], [4294967294]);
    check(lax.dotGeneral(f32([0.1]), f32([1]), { lhsContracting: [0], rhsContracting: [0] }, 'float64'), 'float64', [], [0.10000000149011612]);
    check(lax.dotGeneral(f32([], [2, 0]), f32([], [0, 3]), { lhsContracting: [1], rhsContracting: [0] }), 'float32', [2, 3], [0, 0, 0, 0, 0, 0]);
    check(lax.dotGeneral(f32([NaN, 1]), f32([0, 1]), { lhsContracting: [0], rhsContracting: [0] }), 'float32', [], [NaN]);
  });
});

describe('gather / scatter_add', () => {
  test('gather on axis 0; out-of-range indices read 0', () => {
    check(lax.gather(f32([10, 11, 12, 13, 14]), i32([3, -1, 5, 0]), 0), 'float32', [4], [13, 0, 0, 10]);
    check(lax.gather(f32([10, 11, 12, 13, 14]), i32([2], []), 0), 'float32', [], [12]);
  });
  test('gather rows and inner axes: out [M…, I…, R…]', () => {
    // operand [3,2] rows; indices [2,2]
    check(lax.gather(range([3, 2]), i32([2, 0, 1, 7], [2, 2]), 0), 'float32', [2, 2, 2], [4, 5, 0, 1, 2, 3, 0, 0]);
    // axis 1 of [2,3]: out [2, I=2]
    check(lax.gather(range([2, 3]), i32([2, 0]), 1), 'float32', [2, 2], [2, 0, 5, 3]);
  });
  test('gather with batchDims', () => {
    // out[b,i] = x[b, idx[b,i]]
    check(lax.gather(range([2, 3]), i32([2, 2, 0, 3], [2, 2]), 1, 1), 'float32', [2, 2], [2, 2, 3, 0]);
    // operand [B=2, M=1, N=3, R=2], indices [B=2, I=1]: out [2,1,1,2]
    check(lax.gather(range([2, 1, 3, 2]), i32([1, 2], [2, 1]), 2, 1), 'float32', [2, 1, 1, 2], [2, 3, 10, 11]);
  });
  test('scatter_add accumulates duplicates and drops out-of-range indices', () => {
    check(lax.scatterAdd(f32([0, 0, 0, 0, 0]), i32([1, 1, 7, -1, 4]), f32([1, 2, 3, 4, 5]), 0), 'float32', [5], [0, 3, 0, 0, 5]);
    check(lax.scatterAdd(i32([1, 1]), i32([0, 0]), i32([2147483647, 1]), 0), 'int32', [2], [-2147483647, 1]);
    // batchDims 1: row b gets updates[b,i] at column idx[b,i]
    check(lax.scatterAdd(range([2, 3]), i32([2, 2, 0, 3], [2, 2]), f32([10, 20, 30, 40], [2, 2]), 1, 1), 'float32', [2, 3], [0, 1, 32, 33, 4, 5]);
  });
  test('scatter_add is the transpose of gather: <gather(x,i), u> = <x, scatter_add(0,i,u)>', () => {
    const x = lax.convert(range([2, 4, 3], 'int32'), 'float32');
    const idx = i32([3, 0, 0, -2, 9, 1, 2, 2], [2, 4]);
    const u = lax.sub(range([2, 4, 3]), lax.fullLike(range([2, 4, 3]), 5));
    const g = lax.gather(x, idx, 1, 1); // [2, 4(I), 3]
    const lhs = vals(lax.reduceSum(lax.mul(g, u), [0, 1, 2]))[0];
    const s = lax.scatterAdd(lax.zerosLike(x), idx, u, 1, 1);
    const rhs = vals(lax.reduceSum(lax.mul(x, s), [0, 1, 2]))[0];
    assert.equal(lhs, rhs);
    assert.notEqual(lhs, 0);
  });
});

describe('top_k, iota', () => {
  test('top_k: largest first, ties to the lower index, NaN largest', () => {
    const [v, i] = lax.topK(f32([1, 3, 3, 2]), 2);
    check(v, 'float32', [2], [3, 3]);
    check(i, 'int32', [2], [1, 2]);
    const [v2, i2] = lax.topK(f32([1, NaN, 5, NaN, Infinity]), 4);
    check(v2, 'float32', [4], [NaN, NaN, Infinity, 5]);
    check(i2, 'int32', [4], [1, 3, 4, 2]);
    const [v3, i3] = lax.topK(i32([4, -1, 4, 7, 0, 0], [2, 3]), 2);
    check(v3, 'int32', [2, 2], [4, 4, 7, 0]);
    check(i3, 'int32', [2, 2], [0, 2, 0, 1]);
    const [v4, i4] = lax.topK(f32([-0, 0]), 2);
    check(v4, 'float32', [2], [-0, 0]);
    check(i4, 'int32', [2], [0, 1]);
    const [v5, i5] = lax.topK(f32([1, 2], [2, 1]), 0);
    check(v5, 'float32', [2, 0], []);
    check(i5, 'int32', [2, 0], []);
  });
  test('iota along a dimension', () => {
    check(lax.iota('int32', [2, 3], 0), 'int32', [2, 3], [0, 0, 0, 1, 1, 1]);
    check(lax.iota('float32', [2, 3], 1), 'float32', [2, 3], [0, 1, 2, 0, 1, 2]);
    check(lax.iota('uint32', [0, 3], 1), 'uint32', [0, 3], []);
    check(lax.iota('bool', [2], 0), 'bool', [2], [0, 1]);
  });
});

describe('remat, custom_vjp_call, evalGraphReference', () => {
  const twice = (x: Array, y: Array) => [lax.add(lax.mul(x, y), x), lax.neg(y)];

  test('remat evaluates its sub-graph (including captured constants)', () => {
    const k = f32([10, 20]);
    const g = makeGraph((x: Array) => lax.add(x, k))(f32([0, 0]));
    const { graph, captured } = closureConvert(g);
    assert.equal(captured.length, 0); // concrete captures stay constants
    check(lax.remat(graph, [f32([1, 2])])[0], 'float32', [2], [11, 22]);
    const g2 = makeGraph(twice)(f32([0]), f32([0]));
    const [a, b] = lax.remat(g2, [f32([3]), f32([4])]);
    check(a, 'float32', [1], [15]);
    check(b, 'float32', [1], [-4]);
  });
  test('custom_vjp_call evaluates the primal graph eagerly', () => {
    // Under an outer trace the call is recorded as custom_vjp_call; evaluating that graph eagerly
    // runs the primal sub-graph.
    const f = customVjp((x: Array) => lax.exp(x), (x: Array): [Array, Array] => {
      const y = lax.exp(x);
      return [y, y];
    }, (res: Array, ct: Array) => [lax.mul(res, ct)]);
    const g = makeGraph(f)(f32([0]));
    assert.ok(g.eqns.some((e) => e.prim === 'custom_vjp_call'));
    const [y] = evalGraphReference(g, [f32([0])]);
    check(y, 'float32', [1], [1]);
  });
  test('evalGraphReference runs eagerly even inside an active trace', () => {
    const g = makeGraph(twice)(f32([0]), f32([0]));
    let inner: Array[] = [];
    const outer = makeGraph((z: Array) => {
      inner = evalGraphReference(g, [f32([2]), f32([5])]);
      return lax.neg(z);
    })(f32([1]));
    assert.equal(outer.eqns.length, 1); // nothing from g was recorded into the outer trace
    check(inner[0], 'float32', [1], [12]);
    check(inner[1], 'float32', [1], [-5]);
    assert.equal(inner[0].isTracer, false);
  });
  test('a remat equation inside evalGraphReference also stays eager under an active trace', () => {
    const g = makeGraph(twice)(f32([0]), f32([0]));
    const withRemat = makeGraph((x: Array, y: Array) => lax.remat(g, [x, y]))(f32([0]), f32([0]));
    assert.equal(withRemat.eqns[0].prim, 'remat');
    let inner: Array[] = [];
    const outer = makeGraph((z: Array) => {
      inner = evalGraphReference(withRemat, [f32([3]), f32([-1])]);
      return z;
    })(f32([1]));
    assert.equal(outer.eqns.length, 0);
    check(inner[0], 'float32', [1], [0]);
    check(inner[1], 'float32', [1], [1]);
  });
  test('evalGraphReference checks its arguments and refuses tracers', () => {
    const g = makeGraph((x: Array) => lax.neg(x))(f32([0, 0]));
    assert.throws(() => evalGraphReference(g, []), /takes 1 inputs/);
    assert.throws(() => evalGraphReference(g, [f32([1, 2, 3])]), (e: Error) => e instanceof ShapeError && /input 0 is float32\[3\].*expects float32\[2\]/.test(e.message));
    assert.throws(() => makeGraph((x: Array) => evalGraphReference(g, [x]))(f32([0, 0])), TracerError);
  });
});

describe('shape-rule errors from bind', () => {
  test('add of f32[2] and f32[3] names the primitive, both shapes and the call site', () => {
    const a = f32([1, 2]);
    const b = f32([1, 2, 3]);
    let line = 0;
    assert.throws(
      () => { line = lineHere(); lax.add(a, b); },
      (e: Error) => {
        assert.ok(e instanceof ShapeError, e.constructor.name);
        assert.match(e.message, /^add needs operands of equal shape, got f32\[2\] and f32\[3\]/);
        assert.match(e.message, /\(operands: f32\[2\], f32\[3\]\)/);
        assert.ok(e.message.includes(`at test/core/primitives.test.ts:${line}:`), e.message);
        return true;
      },
    );
    assert.ok(line > 0);
  });
  test('dtype mismatches are DTypeErrors; bad params are ShapeErrors', () => {
    assert.throws(() => lax.add(f32([1]), i32([1])), (e: Error) => e instanceof DTypeError && /add needs operands of equal dtype, got f32\[1\] and i32\[1\]/.test(e.message));
    assert.throws(() => lax.exp(i32([1])), (e: Error) => e instanceof DTypeError && /exp needs a float operand/.test(e.message));
    assert.throws(() => lax.shiftLeft(f32([1]), f32([1])), DTypeError);
    assert.throws(() => lax.dotGeneral(f32([1, 2]), f32([1, 2, 3]), { lhsContracting: [0], rhsContracting: [0] }), (e: Error) => e instanceof ShapeError && /dot_general: contracting dims differ/.test(e.message));
    assert.throws(() => lax.slice(range([4]), [1], [5]), (e: Error) => e instanceof ShapeError && /slice: bounds \[1:5:1\] out of range/.test(e.message));
    assert.throws(() => lax.gather(range([3]), i32([0]), 1), ShapeError);
    assert.throws(() => lax.topK(range([3]), 4), (e: Error) => e instanceof ShapeError && /top_k: k=4/.test(e.message));
    assert.throws(() => lax.dynamicSlice(range([3]), [Array.scalar(1, 'float32')], [1]), (e: Error) => e instanceof ShapeError && /start indices must be int32 scalars/.test(e.message));
    assert.throws(() => lax.reshape(range([4]), [3]), (e: Error) => e instanceof ShapeError && /cannot reshape f32\[4\]/.test(e.message));
  });
  test('bind with the wrong number of operands', () => {
    assert.throws(() => bind('neg', [f32([1]), f32([1])], {}), (e: Error) => e instanceof ShapeError && /neg takes 1 operand/.test(e.message));
  });
});
