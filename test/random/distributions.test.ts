/**
 * Samplers: exactness against JAX's published test values (RandomValuesCase in JAX's
 * tests/random_test.py, produced with the original non-partitionable bits, which JAX's
 * threefry_2x32 on iota gives — so they check Myriad's transforms from bits to samples), exact
 * equality with the independent plain-JS model for partitionable bits, windows, the
 * no-bitcast uniform identity, statistical sanity, and error messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/backends/reference/index.js';
import { erf } from '../../src/backends/reference/index.js';
import { Array } from '../../src/core/array.js';
import { DTypeError, ShapeError, TracerError, ValueError } from '../../src/core/errors.js';
import * as lax from '../../src/core/lax.js';
import { evalGraph, makeGraph } from '../../src/core/trace.js';
import { random } from '../../src/random/index.js';
import { gumbelFromUnit, normalFromUnit, randintFromBits, scaleUniform, truncatedNormalFromUnit, unitFloat32FromBits } from '../../src/random/distributions.js';
import { normalP, randintP, uniform64P, uniformP } from './plain.js';

const vals = (x: Array) => globalThis.Array.from(x.dataSync() as ArrayLike<number>);
const f32 = (xs: number[], shape = [xs.length]) => Array.fromData(new Float32Array(xs), shape, 'float32');
const close = (got: number[], want: number[], rtol: number, atol: number, what: string) => {
  assert.equal(got.length, want.length, what);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= atol + rtol * Math.abs(want[i]), `${what}[${i}]: ${g} vs ${want[i]}`));
};
const mean = (xs: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
};
const variance = (xs: ArrayLike<number>) => {
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i] - m) ** 2;
  return s / xs.length;
};

test('float32(bits >>> 9)·2^-23 equals JAX bitcast(bits >>> 9 | 0x3f800000) − 1 for every mantissa', () => {
  const chunk = 1 << 20;
  const u = new Uint32Array(chunk);
  const fl = new Float32Array(u.buffer);
  for (let base = 0; base < 1 << 23; base += chunk) {
    for (let i = 0; i < chunk; i++) u[i] = (base + i) | 0x3f800000;
    for (let i = 0; i < chunk; i++) {
      const viaBitcast = Math.fround(fl[i] - 1);
      const viaArith = Math.fround(Math.fround(base + i) * 2 ** -23);
      if (viaBitcast !== viaArith) assert.fail(`mantissa ${base + i}: ${viaBitcast} vs ${viaArith}`);
    }
  }
  // and the library's transform on extreme bit patterns
  const b = Array.fromData(new Uint32Array([0, 511, 512, 0xffffffff, 0x80000000]), [5], 'uint32');
  assert.deepEqual(vals(unitFloat32FromBits(b)), [0, 0, 2 ** -23, 1 - 2 ** -23, 0.5]);
});

/** zlib.adler32, which JAX's RandomValuesCase uses to derive each case's seed. */
function adler32(s: string): number {
  let a = 1, b = 0;
  for (const c of Buffer.from(s)) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** JAX's original (non-partitionable) 32-bit bits: threefry_2x32(key, iota(n)). */
const oldBits = (key: Array, n: number) => random.threefry2x32(key, lax.iota('uint32', [n]));
/** JAX's original split: reshape(threefry_2x32(key, iota(2n)), (n, 2)). */
const oldSplit = (key: Array, n: number) => lax.reshape(random.threefry2x32(key, lax.iota('uint32', [2 * n])), [n, 2]);
const caseKey = (name: string) => random.key(adler32(name + 'threefry2x32'));

test("JAX's RandomValuesCase values (threefry2x32, float32, shape (5,)) from Myriad's transforms", () => {
  const unit = (name: string) => unitFloat32FromBits(oldBits(caseKey(name), 5));
  // JAX's assertAllClose defaults for float32: rtol = atol = 1e-6 (values are printed to ~6 digits)
  close(vals(scaleUniform(unit('uniform'), 0, 1, 'uniform')), [0.298671, 0.073213, 0.873356, 0.260549, 0.412797], 1e-6, 1e-6, 'uniform');
  close(vals(normalFromUnit(unit('normal'))), [-1.173234, -1.511662, 0.070593, -0.099764, 1.052845], 1e-6, 1e-6, 'normal');
  close(vals(gumbelFromUnit(unit('gumbel'))), [2.06701, 0.911726, 0.145736, 0.185427, -0.00711], 1e-6, 1e-6, 'gumbel');
  close(vals(truncatedNormalFromUnit(unit('truncated_normal'), 0, 2)), [0.582807, 1.709771, 0.159513, 0.861376, 0.36148], 1e-6, 1e-6, 'truncated_normal');
  assert.deepEqual(lax.lt(unit('bernoulli'), lax.full(0.5, 'float32', [5])).toArray(), [false, true, true, true, false]);
  const ks = oldSplit(caseKey('randint'), 2);
  const r = randintFromBits(oldBits(random.keyAt(ks, 0), 5), oldBits(random.keyAt(ks, 1), 5), 0, 10);
  assert.deepEqual(r.toArray(), [0, 5, 7, 7, 5]);
});

test('partitionable samples equal the plain-JS model bit for bit', () => {
  const key = random.key(2024);
  const pk: [number, number] = [0, 2024];
  assert.deepEqual(vals(random.uniform(key, [4, 6])), uniformP(pk, 24));
  assert.deepEqual(vals(random.uniform(key, [31], { minval: -3, maxval: 0.5 })), uniformP(pk, 31, -3, 0.5));
  assert.deepEqual(vals(random.normal(key, [3, 333])), normalP(pk, 999));
  assert.deepEqual(vals(random.uniform(key, [17], { dtype: 'float64' })), uniform64P(pk, 17));
  assert.deepEqual(vals(random.randint(key, [50], -5, 12)), randintP(pk, 50, -5, 12));
  assert.deepEqual(vals(random.randint(key, [50], -2000000000, 2000000000)), randintP(pk, 50, -2000000000, 2000000000));
  // array-valued bounds broadcast against the shape
  const lo = f32([0, 10, 100]);
  const u = random.uniform(key, [2, 3], { minval: lo, maxval: 200 }).toArray() as number[][];
  const plain = uniformP(pk, 6);
  u.flat().forEach((v, i) => {
    const l = [0, 10, 100][i % 3];
    assert.equal(v, Math.max(l, Math.fround(Math.fround(plain[i] * Math.fround(200 - l)) + l)));
  });
});

test('edge cases of randint follow JAX: empty spans, full int32 range, uint32', () => {
  const key = random.key(3);
  assert.deepEqual(random.randint(key, [4], 5, 5).toArray(), [5, 5, 5, 5]);
  assert.deepEqual(random.randint(key, [4], 7, 2).toArray(), [7, 7, 7, 7]);
  const full = vals(random.randint(key, [2000], -2147483648, 2147483648));
  assert.ok(full.some((v) => v < -1e9) && full.some((v) => v > 1e9));
  const un = random.randint(key, [500], 0, 4294967296, { dtype: 'uint32' });
  assert.equal(un.dtype, 'uint32');
  assert.ok(vals(un).some((v) => v > 2 ** 31));
  const bounded = vals(random.randint(key, [3000], -3, 4));
  assert.ok(bounded.every((v) => v >= -3 && v < 4));
  assert.deepEqual([...new Set(bounded)].sort((a, b) => a - b), [-3, -2, -1, 0, 1, 2, 3]);
});

test('windows of samplers equal slices of the full samples', () => {
  const key = random.key(8);
  const full = random.normal(key, [6, 4]).toArray() as number[][];
  const w = random.normal(key, [6, 4], { window: { start: [2, 1], limit: [5, 3] } }).toArray();
  assert.deepEqual(w, full.slice(2, 5).map((r) => r.slice(1, 3)));
  const fu = random.uniform(key, [10], { dtype: 'float64' }).toArray() as number[];
  assert.deepEqual(random.uniform(key, [10], { dtype: 'float64', window: { start: [3], limit: [9] } }).toArray(), fu.slice(3, 9));
  const fb = random.bernoulli(key, 0.3, [12]).toArray() as boolean[];
  assert.deepEqual(random.bernoulli(key, 0.3, [12], { window: { start: [5], limit: [12] } }).toArray(), fb.slice(5));
  const fr = random.randint(key, [3, 5], 0, 100).toArray() as number[][];
  assert.deepEqual(random.randint(key, [3, 5], 0, 100, { window: { start: [1, 0], limit: [3, 2] } }).toArray(), fr.slice(1).map((r) => r.slice(0, 2)));
  const ft = random.truncatedNormal(key, -1, 1, [8]).toArray() as number[];
  assert.deepEqual(random.truncatedNormal(key, -1, 1, [8], { window: { start: [4], limit: [8] } }).toArray(), ft.slice(4));
});

test('normal, truncatedNormal, gumbel: moments within generous bounds', () => {
  const n = 200000;
  const z = random.normal(random.key(1), [n]).dataSync();
  assert.ok(Math.abs(mean(z)) < 0.01 && Math.abs(variance(z) - 1) < 0.02, `normal mean ${mean(z)} var ${variance(z)}`);
  const t = random.truncatedNormal(random.key(2), -2, 2, [n]).dataSync();
  assert.ok(globalThis.Array.prototype.every.call(t, (v: number) => v > -2 && v < 2));
  // variance of N(0,1) truncated to [-2, 2]: 1 − 2·2·φ(2)/(Φ(2) − Φ(−2))
  const phi2 = Math.exp(-2) / Math.sqrt(2 * Math.PI);
  const tv = 1 - (4 * phi2) / erf(2 / Math.SQRT2);
  assert.ok(Math.abs(mean(t)) < 0.01 && Math.abs(variance(t) - tv) < 0.02, `truncated var ${variance(t)} vs ${tv}`);
  const onesided = random.truncatedNormal(random.key(3), 1, 5, [20000]).dataSync();
  assert.ok(globalThis.Array.prototype.every.call(onesided, (v: number) => v > 1 && v < 5));
  const g = random.gumbel(random.key(4), [n]).dataSync();
  assert.ok(Math.abs(mean(g) - 0.5772156649) < 0.02 && Math.abs(variance(g) - Math.PI ** 2 / 6) < 0.05, `gumbel ${mean(g)} ${variance(g)}`);
  const z64 = random.normal(random.key(5), [50000], { dtype: 'float64' });
  assert.equal(z64.dtype, 'float64');
  assert.ok(Math.abs(mean(z64.dataSync())) < 0.02 && Math.abs(variance(z64.dataSync()) - 1) < 0.03);
});

test('erfInv: accurate in float32 and float64, ±1 give ±∞', () => {
  const xs = [-0.999999, -0.9, -0.5, -1e-3, 0, 1e-6, 0.3, 0.75, 0.99, 0.9999999];
  const e64 = vals(random.erfInv(Array.fromData(new Float64Array(xs), [xs.length], 'float64')));
  e64.forEach((y, i) => assert.ok(Math.abs(erf(y) - xs[i]) < 4e-16 + 1e-15 * Math.abs(xs[i]), `erf(erfinv64(${xs[i]})) = ${erf(y)}`));
  // float32 against float64 on the same (float32-rounded) inputs
  const e32 = vals(random.erfInv(f32(xs)));
  const ref = vals(random.erfInv(Array.fromData(new Float64Array(xs.map(Math.fround)), [xs.length], 'float64')));
  e32.forEach((y, i) => assert.ok(Math.abs(y - ref[i]) <= 1e-6 * Math.abs(ref[i]) + 1e-7, `erfinv32(${xs[i]}) = ${y} vs ${ref[i]}`));
  assert.deepEqual(vals(random.erfInv(f32([1, -1]))), [Infinity, -Infinity]);
});

test('bernoulli rate, categorical frequencies, gumbel-max shapes', () => {
  const b = random.bernoulli(random.key(6), 0.3, [100000]);
  assert.equal(b.dtype, 'bool');
  const rate = mean(b.dataSync());
  assert.ok(Math.abs(rate - 0.3) < 0.01, `rate ${rate}`);
  const pb = random.bernoulli(random.key(6), f32([0, 1, 0.5], [3]), [2, 3]).toArray() as boolean[][];
  assert.deepEqual(pb.map((r) => [r[0], r[1]]), [[false, true], [false, true]]);

  const probs = [0.1, 0.2, 0.3, 0.4];
  const logits = f32(probs.map(Math.log));
  const n = 50000;
  const c = random.categorical(random.key(7), logits, { shape: [n] });
  assert.equal(c.dtype, 'int32');
  const counts = [0, 0, 0, 0];
  for (const v of c.dataSync()) counts[v]++;
  counts.forEach((k, i) => assert.ok(Math.abs(k / n - probs[i]) < 0.01, `category ${i}: ${k / n}`));
  // batches along axis 0, and extra sample dimensions in front
  const bl = f32([0, 0, -Infinity, 5, -Infinity, 0], [3, 2]); // categories along axis 0
  assert.deepEqual(random.categorical(random.key(8), bl, { axis: 0 }).shape, [2]);
  const s = random.categorical(random.key(8), f32([-Infinity, 0, -Infinity, -Infinity, -Infinity, 0], [2, 3]), { shape: [5, 2] });
  assert.deepEqual(s.toArray(), globalThis.Array(5).fill([1, 2]));
});

test('permutation, randint and choice', () => {
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const p = vals(random.permutation(random.key(1), 10));
  assert.deepEqual(sorted(p), [...globalThis.Array(10).keys()]);
  assert.notDeepEqual(p, [...globalThis.Array(10).keys()]);
  const big = vals(random.permutation(random.key(2), 3000)); // two sorting rounds
  assert.deepEqual(sorted(big), [...globalThis.Array(3000).keys()]);
  assert.deepEqual(vals(random.permutation(random.key(3), 1)), [0]);
  // an array along axis 1: the same column permutation for each row
  const x = lax.reshape(lax.iota('int32', [12]), [3, 4]);
  const px = random.permutation(random.key(4), x, { axis: 1 }).toArray() as number[][];
  const perm = px[0];
  assert.deepEqual(sorted(perm), [0, 1, 2, 3]);
  px.forEach((row, i) => assert.deepEqual(row, perm.map((j) => 4 * i + j)));
  const ind = random.permutation(random.key(4), x, { axis: 1, independent: true }).toArray() as number[][];
  ind.forEach((row, i) => assert.deepEqual(sorted(row), [0, 1, 2, 3].map((j) => 4 * i + j)));

  const r = vals(random.randint(random.key(5), [60000], 0, 6));
  const counts = [0, 0, 0, 0, 0, 0];
  for (const v of r) counts[v]++;
  counts.forEach((k) => assert.ok(Math.abs(k / 60000 - 1 / 6) < 0.01));

  const noRep = vals(random.choice(random.key(6), 20, [20], { replace: false }));
  assert.deepEqual(sorted(noRep), [...globalThis.Array(20).keys()]);
  const weighted = vals(random.choice(random.key(7), 4, [40000], { p: [0.1, 0.2, 0.3, 0.4] }));
  const wc = [0, 0, 0, 0];
  for (const v of weighted) wc[v]++;
  wc.forEach((k, i) => assert.ok(Math.abs(k / 40000 - [0.1, 0.2, 0.3, 0.4][i]) < 0.01, `choice p ${i}: ${k / 40000}`));
  const wNoRep = vals(random.choice(random.key(8), 5, [3], { replace: false, p: [0.5, 0, 0.2, 0.3, 0] }));
  assert.deepEqual(sorted(wNoRep), [0, 2, 3]);
  const rows = random.choice(random.key(9), x, [2, 5], { axis: 1 });
  assert.deepEqual(rows.shape, [3, 2, 5]);
  (rows.toArray() as number[][][]).forEach((m, i) => m.flat().forEach((v) => assert.ok(v >= 4 * i && v < 4 * i + 4)));
});

test('samplers trace into Graphs with the same values', () => {
  const key = random.key(10);
  const fn = (k: Array) => [random.normal(k, [5]), random.randint(k, [5], 0, 7), random.permutation(k, 6), random.categorical(k, f32([0, 1, 2]), { shape: [4] })];
  const g = makeGraph(fn)(key);
  assert.match(g.toString(), /top_k/);
  assert.match(g.toString(), /log1p/);
  // evaluating the graph reproduces the eager samples exactly
  const traced = evalGraph(g, [key]).map((a) => a.toArray());
  assert.deepEqual(traced, fn(key).map((a) => a.toArray()));
});

test('sampler misuse gets clear errors', () => {
  const key = random.key(0);
  assert.throws(() => random.uniform(key, [3], { minval: f32([1, 2]) }), (e: unknown) => e instanceof ShapeError && /shape \[2\] does not broadcast to the sample shape \[3\]/.test(e.message));
  assert.throws(() => random.uniform(key, [3], { dtype: 'int32' as 'float32' }), (e: unknown) => e instanceof DTypeError && /'float32' or 'float64'/.test(e.message));
  assert.throws(() => random.bernoulli(key, Array.scalar(1, 'int32')), (e: unknown) => e instanceof DTypeError && /must be a float array/.test(e.message));
  assert.throws(() => random.truncatedNormal(key, f32([0, 0]), 1, [3]), (e: unknown) => e instanceof ShapeError && /bounds' shape \[2\] must broadcast/.test(e.message));
  assert.throws(() => makeGraph((lo: Array) => random.truncatedNormal(key, lo, 1, [2]))(f32([0, 0])), (e: unknown) => e instanceof TracerError && /static bounds/.test(e.message));
  assert.throws(() => random.randint(key, [3], 0.5, 4), (e: unknown) => e instanceof ValueError && /minval must be an integer, got 0\.5/.test(e.message));
  assert.throws(() => random.randint(key, [3], 0, Array.scalar(4, 'uint32')), (e: unknown) => e instanceof DTypeError && /must be a int32 array/.test(e.message));
  assert.throws(() => random.categorical(key, Array.scalar(1, 'int32')), (e: unknown) => e instanceof DTypeError && /float32 or float64/.test(e.message));
  assert.throws(() => random.choice(key, 3, [5], { replace: false }), (e: unknown) => e instanceof ValueError && /larger sample \(size 5\) than the population \(size 3\)/.test(e.message));
  assert.throws(() => random.choice(key, 3, [2], { p: [0.5, 0.5] }), (e: unknown) => e instanceof ShapeError && /p has shape \[2\] and the population has size 3/.test(e.message));
  assert.throws(() => random.permutation(key, -1), (e: unknown) => e instanceof ValueError && /non-negative integer/.test(e.message));
  assert.throws(() => random.normal(key, [2], { window: { start: [0], limit: [3] } }), (e: unknown) => e instanceof ShapeError && /invalid window/.test(e.message));
});
