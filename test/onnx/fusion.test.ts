/**
 * Host epilogue fusion (src/backends/fusion.ts): the elementwise tail of a jitted graph runs as
 * generated WebAssembly SIMD kernels after the ONNX model. Checked: an AdamW + global-norm
 * clipping step gives bit-identical float32 results with and without fusion (and matches the
 * reference backend), which equations are split off (no reductions; scalars come from the head;
 * nothing for a matmul output, a one-op tail or small tensors), in-place writes into donated
 * buffers only, recycling of donated buffers, values shared between head and kernels, several
 * shape classes, float64, select on a compare mask, every kernel primitive on special values
 * against ONNX Runtime and the reference, and the opt-outs.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, jit, makeGraph, np, optim, evalGraphReference, lax, type TypedArray } from '../../src/index.js';
import { dce } from '../../src/core/passes.js';
import { createFusedExecutable, hostFusionEnabled, splitEpilogue, FusionError } from '../../src/backends/fusion.js';
import { OnnxExecutable } from '../../src/backends/onnx/index.js';
import { DEFAULT_TOL, Rng, compareArrays, randArray } from './helpers.js';

/**
 * Same values, bit for bit up to NaN payloads; −0 and +0 differ unless `zeroSign` is false (for
 * the two documented ±0 differences: ONNX Runtime's Max/Min on ±0 ties, which the kernels and
 * the reference resolve as IEEE maximum/minimum, and ONNX Runtime's Where turning a selected −0
 * into +0, which the kernels follow and the reference does not).
 */
function assertSameBits(got: Array, want: Array, label: string, zeroSign = true): void {
  assert.equal(got.dtype, want.dtype, `${label}: dtype`);
  assert.deepEqual(got.shape, want.shape, `${label}: shape`);
  const g = got._data as TypedArray;
  const w = want._data as TypedArray;
  for (let i = 0; i < w.length; i++) {
    if (!Object.is(g[i], w[i]) && !(Number.isNaN(g[i]) && Number.isNaN(w[i])) && (zeroSign || g[i] !== w[i])) assert.fail(`${label}: element ${i} is ${g[i]}, want ${w[i]}`);
  }
}

const copy = (x: Array) => Array.fromData(x.dataSync(), x.shape, x.dtype);
const copyTree = <T>(t: T): T => (t instanceof Array ? copy(t) : globalThis.Array.isArray(t) ? t.map(copyTree) : t && typeof t === 'object' ? Object.fromEntries(Object.entries(t).map(([k, v]) => [k, copyTree(v)])) : t) as T;
const leaves = (t: unknown): Array[] => (t instanceof Array ? [t] : globalThis.Array.isArray(t) ? t.flatMap(leaves) : t && typeof t === 'object' ? Object.values(t).flatMap(leaves) : []);

const opt = optim.chain(optim.clipByGlobalNorm(1), optim.adamw(optim.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1e-2, warmupSteps: 2, decaySteps: 10 }), { weightDecay: 0.01 }));
const adamStep = (params: any, state: any, grads: any) => {
  const [u, s2] = opt.update(grads, state, params);
  return [optim.applyUpdates(params, u), s2];
};

function adamProblem(seed: number, shapes: Record<string, number[]>) {
  const r = new Rng(seed);
  const params = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, randArray(r, 'float32', s)]));
  const grads = [0, 1, 2].map(() => Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, randArray(r, 'float32', s, { lo: -0.3, hi: 0.3 })])));
  return { params, state: opt.init(params), grads };
}

const SHAPES = { w: [256, 256], e: [96, 1024], b: [16] };

test('AdamW + clipByGlobalNorm: fused, unfused and reference agree over 3 donated steps (bit-identical float32)', () => {
  const { params, state, grads } = adamProblem(1, SHAPES);
  const fused = jit(adamStep, { donateArgnums: [0, 1] });
  const plain = jit(adamStep, { donateArgnums: [0, 1], hostFusion: false });
  const ref = jit(adamStep, { backend: 'reference' });
  let a: any[] = [copyTree(params), copyTree(state)];
  let b: any[] = [copyTree(params), copyTree(state)];
  let c: any[] = [params, state];
  for (let t = 0; t < 3; t++) {
    const inBuf = a[0].w._data;
    a = fused(a[0], a[1], grads[t]);
    assert.equal(a[0].w._data, inBuf, 'the new params overwrite the donated ones');
    b = plain(b[0], b[1], grads[t]);
    c = ref(c[0], c[1], grads[t]);
    const [la, lb, lc] = [leaves(a), leaves(b), leaves(c)];
    assert.equal(la.length, lb.length);
    la.forEach((x, i) => {
      assertSameBits(x, lb[i], `step ${t} leaf ${i}`);
      assert.equal(compareArrays(x, lc[i], { rtol: 1e-5, atol: 1e-6 }, null, `fusion adam ref ${i}`), null, `step ${t} leaf ${i} vs reference`);
    });
  }
  assert.equal(fused.stats.traces, 1);
});

test('the split: the update goes to one loop per parameter, reductions and scalars stay in the head', () => {
  const { params, state, grads } = adamProblem(2, SHAPES);
  const g = dce(makeGraph(adamStep)(params, state, grads[0]));
  const split = splitEpilogue(g);
  assert.ok(split);
  const { head, epilogue } = split;
  assert.equal(epilogue.loops.length, 2, epilogue.toString());
  assert.deepEqual(epilogue.loops.map((l) => l.size).sort((x, y) => x - y), [65536, 98304]);
  for (const l of epilogue.loops) {
    assert.ok(l.eqns.every((e) => !e.prim.startsWith('reduce')), 'no reduction in a loop');
    assert.ok(l.eqns.some((e) => e.prim === 'sqrt') && l.eqns.some((e) => e.prim === 'div'));
    assert.ok(l.scalars.length > 0 && l.scalars.every((s) => s.source.kind === 'head' && s.aval.shape.length === 0), 'scalars (lr, clip scale, bias corrections) come from the head');
    assert.deepEqual(l.writes.map((w) => w.aval.shape), [l.shape, l.shape, l.shape], 'new param, mu and nu');
    assert.equal(l.dtype, 'float32');
    assert.match(l.listing, /= sqrt v\d+/);
  }
  assert.ok(head.eqns.some((e) => e.prim === 'reduce_sum'), 'the global norm is computed in the head');
  assert.equal(head.eqns.length + epilogue.numEqns, g.eqns.length);
  // the small leaf's update stays in the head
  assert.ok(head.eqns.some((e) => e.prim === 'sqrt' && e.outputs[0].aval.shape.join() === '16'));
  const text = epilogue.toString();
  assert.match(text, /host epilogue: 2 kernel\(s\)/);
  assert.match(text, /kernel 0: float32 \d+ elements \[\d+,\d+\], \d+ equation\(s\): .*sqrt/);
  assert.match(text, /in place of input \d+/);
  // the head only takes inputs it uses: the big params and moments are read by the loops alone
  assert.ok(epilogue.headInputs.length < g.inputs.length);
});

test('no split without a large elementwise tail: matmul output, one-op tail, small tensors', () => {
  const r = new Rng(3);
  const x = randArray(r, 'float32', [256, 256]);
  const y = randArray(r, 'float32', [256, 256]);
  assert.equal(splitEpilogue(makeGraph((a: Array, b: Array) => np.matmul(a, b))(x, y)), null);
  assert.equal(splitEpilogue(makeGraph((a: Array, b: Array) => np.add(np.matmul(a, b), 1))(x, y)), null, 'one add is not worth a loop');
  assert.notEqual(splitEpilogue(makeGraph((a: Array, b: Array) => np.sqrt(np.add(np.multiply(np.matmul(a, b), 2), 1)))(x, y)), null);
  const { params, state, grads } = adamProblem(4, { w: [64, 64], b: [16] });
  assert.equal(splitEpilogue(dce(makeGraph(adamStep)(params, state, grads[0]))), null, '4096-element params stay in ONNX Runtime');
  assert.notEqual(splitEpilogue(dce(makeGraph(adamStep)(params, state, grads[0])), { minElements: 4096 }), null);
  assert.throws(() => splitEpilogue(makeGraph((a: Array) => a)(x), { minElements: 1 }), (e: unknown) => e instanceof FusionError && /minElements must be an integer ≥ 2/.test((e as Error).message));
});

test('in place only into donated buffers; a donated input cannot be read afterwards; non-donated inputs are unchanged', () => {
  const r = new Rng(5);
  const f = (p: Array, g: Array) => np.subtract(p, np.multiply(np.divide(g, np.add(np.sqrt(np.abs(g)), 1)), 0.5));
  const p0 = randArray(r, 'float32', [128, 512]);
  const g = randArray(r, 'float32', [128, 512]);
  const want = jit(f, { hostFusion: false })(p0, g);
  const donating = jit(f, { donateArgnums: 0 });
  const p = copy(p0);
  const pBuf = p._data;
  const out = donating(p, g);
  assert.equal(out._data, pBuf, 'the output is the donated buffer');
  assertSameBits(out, want, 'donated');
  assert.throws(() => p.toArray(), /donated to a jitted function/);
  assert.throws(() => donating(p, g), /donated to a jitted function/);
  // without donation: fresh outputs, inputs untouched
  const keep = jit(f);
  const p1 = copy(p0);
  const gCopy = copy(g);
  const out2 = keep(p1, g);
  assert.notEqual(out2._data, p1._data);
  assert.notEqual(out2._data, g._data);
  assertSameBits(p1, p0, 'non-donated p');
  assertSameBits(g, gCopy, 'non-donated g');
  assertSameBits(out2, want, 'not donated');
  // shared memory (mesh shards live there): written in place too
  const ps = Array.fromData(new Float32Array(new SharedArrayBuffer(p0.size * 4)).fill(0.25), p0.shape);
  const psBuf = ps._data;
  const outS = donating(ps, g);
  assert.equal(outS._data, psBuf);
  assertSameBits(outS, jit(f, { hostFusion: false })(Array.fromData(new Float32Array(p0.size).fill(0.25), p0.shape), g), 'shared memory');
  // the same array passed donated and not donated: never written in place
  const both = jit(f, { donateArgnums: 0 });
  const q = copy(g);
  const out3 = both(q, q);
  assert.notEqual(out3._data, q._data);
  assertSameBits(out3, jit(f, { hostFusion: false })(copy(g), copy(g)), 'aliased arguments');
});

test('donated buffers are recycled for the head across calls; buffers that became outputs are not', () => {
  const r = new Rng(6);
  const f = (x: Array, y: Array) => [np.matmul(x, x), np.sqrt(np.add(np.multiply(y, y), 1))];
  const step = jit(f, { donateArgnums: [0, 1] });
  const plain = jit(f, { hostFusion: false });
  let y = randArray(r, 'float32', [256, 256]);
  let lastX: TypedArray | null = null;
  for (let t = 0; t < 3; t++) {
    const x = randArray(r, 'float32', [256, 256]);
    const want = plain(x, y);
    const [xx, y2] = step(x, y);
    if (lastX) assert.equal(xx._data, lastX, 'the head writes into the buffer of the x donated last call');
    assert.equal(y2._data, y._data, 'y is overwritten in place');
    assertSameBits(xx, want[0], `call ${t} matmul`);
    assertSameBits(y2, want[1], `call ${t} loop`);
    lastX = x._data;
    y = y2; // the output of the last call, donated again
  }
  // the passthrough rule: an input returned as is is never overwritten
  const g = jit((p: Array, q: Array) => [p, np.sqrt(np.add(np.multiply(q, q), np.multiply(p, p)))], { donateArgnums: [0] });
  const p = randArray(r, 'float32', [256, 256]);
  const pCopy = copy(p);
  const [pOut, s] = g(p, randArray(r, 'float32', [256, 256]));
  assert.equal(pOut, p);
  assertSameBits(p, pCopy, 'p unchanged');
  assert.notEqual(s._data, p._data);
});

test('an output that is also an input is returned intact; a value shared by head and loop stays correct', () => {
  const r = new Rng(7);
  const x0 = randArray(r, 'float32', [256, 256]);
  const f = (x: Array) => {
    const y = np.add(np.multiply(x, 2), 1); // read by the head's sum and by the loop
    const s = np.sum(y);
    return [x, s, np.add(np.sqrt(np.abs(np.subtract(np.multiply(y, 3), x))), np.divide(s, 1e6))];
  };
  const g = makeGraph(f)(x0);
  const split = splitEpilogue(g);
  assert.ok(split);
  const loop = split.epilogue.loops[0];
  assert.ok(loop.arrays.some((a) => a.source.kind === 'head' && a.aval.shape.join() === '256,256'), 'y comes from the head');
  assert.ok(!loop.eqns.some((e) => e.prim === 'reduce_sum'));
  const want = jit(f, { hostFusion: false })(x0);
  const ref = evalGraphReference(g, [x0]);
  const x = copy(x0);
  const xBuf = x._data!;
  const got = jit(f, { donateArgnums: 0 })(x);
  assertSameBits(got[0], x0, 'passthrough');
  assertSameBits(Array.fromData(xBuf, x0.shape), x0, 'the donated x is returned, so its buffer is not overwritten');
  assertSameBits(got[2], want[2], 'fused vs unfused');
  assert.equal(compareArrays(got[2], ref[2], DEFAULT_TOL, null, 'fusion shared'), null);
  // the same kernel value returned twice: two buffers with the same values
  const twice = jit((a: Array) => {
    const z = np.sqrt(np.add(np.multiply(a, a), 1));
    return [z, z];
  }, { donateArgnums: 0 });
  const a = copy(x0);
  const [z1, z2] = twice(a);
  assert.notEqual(z1._data, z2._data);
  assertSameBits(z1, z2, 'duplicated output');
});

test('two shape classes, float64, and select on a compare mask', () => {
  const r = new Rng(8);
  const a = randArray(r, 'float32', [256, 256], { special: 0.05 });
  const b = randArray(r, 'float32', [300, 200], { special: 0.05 });
  const c = randArray(r, 'float64', [200, 250], { special: 0.05 });
  const d = randArray(r, 'float64', [200, 250]);
  const f = (a: Array, b: Array, c: Array, d: Array) => [
    np.where(np.greater(a, 0.5), np.multiply(a, 3), np.subtract(np.abs(a), 1)),
    np.maximum(np.minimum(np.multiply(b, b), 4), np.negative(np.sqrt(np.abs(b)))),
    np.divide(np.add(np.multiply(c, c), d), np.add(np.sqrt(np.abs(d)), 1)),
  ];
  const g = makeGraph(f)(a, b, c, d);
  const split = splitEpilogue(g);
  assert.ok(split);
  assert.equal(split.epilogue.loops.length, 3, split.epilogue.toString());
  assert.ok(split.epilogue.loops.some((l) => l.eqns.some((e) => e.prim === 'gt') && l.eqns.some((e) => e.prim === 'select')));
  assert.ok(split.epilogue.loops.some((l) => l.dtype === 'float64' && l.arrays.every((x) => x.aval.dtype === 'float64')), 'a float64 kernel');
  const got = jit(f)(a, b, c, d);
  const want = jit(f, { hostFusion: false })(a, b, c, d);
  const ref = evalGraphReference(g, [a, b, c, d]);
  got.forEach((x: Array, i: number) => {
    assertSameBits(x, want[i], `output ${i}`, i !== 1); // output 1: max/min ties
    assertSameBits(x, ref[i], `output ${i} vs reference`, i !== 0); // output 0: select
  });
});

for (const dt of ['float32', 'float64'] as const) {
  test(`every kernel primitive on special values (${dt}) matches ONNX Runtime bit for bit and the reference`, () => {
    const r = new Rng(dt === 'float32' ? 9 : 19);
    const shape = [257, 161]; // an odd count: the last vector and the last chunk are partial
    const x = randArray(r, dt, shape, { special: 0.2, lo: -3, hi: 3 });
    const y = randArray(r, dt, shape, { special: 0.2, lo: -3, hi: 3 });
    const m = randArray(r, 'bool', shape);
    const flag = Array.scalar(true, 'bool');
    const f = (x: Array, y: Array, m: Array, flag: Array) => {
      const fin = np.logical_and(np.isfinite(x), lax.not(m));
      const s = lax.add(lax.sign(x), lax.floor(lax.mul(y, lax.broadcastInDim(Array.scalar(2.5, dt), y.shape, []))));
      const t = lax.sub(lax.ceil(y), lax.round(x));
      const u = lax.div(x, y);
      const v = np.where(fin, lax.add(s, t), lax.neg(u));
      const w = np.where(np.logical_or(lax.eq(x, y), lax.le(x, y)), np.maximum(x, y), np.minimum(u, x));
      const bm = lax.broadcastInDim(flag, shape, []);
      const masks = [lax.lt(m, fin), lax.ge(m, fin), lax.eq(m, bm), lax.gt(fin, m), lax.xor(m, lax.ne(x, y))];
      const z = masks.reduce((acc, k, i) => lax.add(acc, lax.mul(lax.convert(k, dt), lax.broadcastInDim(Array.scalar(2 ** i, dt), shape, []))), lax.abs(lax.sqrt(x)));
      return [v, w, lax.convert(lax.ne(x, y), dt), z];
    };
    const g = makeGraph(f)(x, y, m, flag);
    const split = splitEpilogue(g);
    assert.ok(split);
    assert.equal(split.epilogue.loops.length, 1, split.epilogue.toString());
    const loop = split.epilogue.loops[0];
    assert.equal(loop.dtype, dt);
    assert.ok(loop.arrays.some((a) => a.aval.dtype === 'bool') && loop.scalars.some((s) => s.aval.dtype === 'bool'), 'bool arrays and bool scalars are read');
    const prims = new Set(loop.eqns.map((e) => e.prim));
    for (const p of ['sign', 'floor', 'ceil', 'round', 'is_finite', 'not', 'and', 'or', 'xor', 'select', 'eq', 'le', 'lt', 'ge', 'gt', 'ne', 'max', 'min', 'convert_element_type', 'neg', 'div', 'sqrt', 'abs']) assert.ok(prims.has(p as never), `${p} runs in the kernel`);
    const got = jit(f)(x, y, m, flag);
    const want = jit(f, { hostFusion: false })(x, y, m, flag);
    const ref = evalGraphReference(g, [x, y, m, flag]);
    got.forEach((o: Array, i: number) => {
      assertSameBits(o, ref[i], `output ${i} vs reference`, i !== 0 && i !== 1); // outputs 0, 1: select of −0
      assertSameBits(o, want[i], `output ${i} vs ONNX Runtime`, i !== 1); // output 1: max/min ties
    });
    // max/min alone: the reference's rule exactly, NaN and ±0 included
    const mm = (x: Array, y: Array) => [lax.add(lax.max(x, y), lax.min(y, x)), lax.mul(lax.max(y, x), lax.min(x, y))];
    const gm = makeGraph(mm)(x, y);
    assert.ok(splitEpilogue(gm));
    jit(mm)(x, y).forEach((o: Array, i: number) => assertSameBits(o, evalGraphReference(gm, [x, y])[i], `max/min ${i}`));
  });
}

test('opt-out: hostFusion: false and MYRIAD_HOST_FUSION=0; bad values are refused', () => {
  const r = new Rng(10);
  const f = (p: Array, g: Array) => np.subtract(p, np.multiply(np.sqrt(np.abs(g)), 0.1));
  const g = randArray(r, 'float32', [256, 256]);
  const run = (o: { hostFusion?: boolean }) => {
    const p = randArray(r, 'float32', [256, 256]);
    const buf = p._data;
    return jit(f, { donateArgnums: 0, ...o })(p, g)._data === buf;
  };
  assert.equal(run({}), true, 'fused by default: written in place');
  assert.equal(run({ hostFusion: false }), false);
  const saved = process.env.MYRIAD_HOST_FUSION;
  try {
    process.env.MYRIAD_HOST_FUSION = '0';
    assert.equal(hostFusionEnabled(undefined), false);
    assert.equal(run({}), false);
    assert.equal(run({ hostFusion: true }), true, 'the explicit option wins over the environment');
    process.env.MYRIAD_HOST_FUSION = 'yes';
    assert.throws(() => run({}), /MYRIAD_HOST_FUSION must be 0 \(off\) or 1 \(on\), got "yes"/);
    process.env.MYRIAD_HOST_FUSION = '1';
    assert.equal(run({}), true);
  } finally {
    if (saved === undefined) delete process.env.MYRIAD_HOST_FUSION;
    else process.env.MYRIAD_HOST_FUSION = saved;
  }
});

test('createFusedExecutable: a head without equations is skipped; inputs are validated', () => {
  const r = new Rng(11);
  const x = randArray(r, 'float32', [200, 200]);
  const f = (a: Array) => np.sqrt(np.add(np.multiply(a, a), 1));
  const g = makeGraph(f)(x);
  const split = splitEpilogue(g)!;
  assert.equal(split.head.eqns.length, 0);
  let heads = 0;
  const exe = createFusedExecutable(g, split, (h) => {
    heads++;
    const e = OnnxExecutable.createSync(h);
    return { run: (ins) => e.runSync(ins), close: () => e.close() };
  });
  assert.equal(heads, 0);
  assertSameBits(exe.run([x])[0], evalGraphReference(g, [x])[0], 'loop only');
  assert.throws(() => exe.run([randArray(r, 'float32', [200, 201])]), (e: unknown) => e instanceof FusionError && /input 0 is f32\[200,201\] but the compiled graph expects f32\[200,200\]/.test((e as Error).message));
  assert.throws(() => exe.run([]), /takes 1 inputs/);
  exe.close();
  assert.throws(() => exe.run([x]), /closed/);
});
