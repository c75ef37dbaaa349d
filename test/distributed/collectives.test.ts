/**
 * Collective primitives and sharding_constraint: shape rules, the errors outside SPMD contexts,
 * the SPMD reference interpreter on 1-D and 2-D meshes (1–8 devices, groups over one or two
 * axes in either order) against hand-computed results and an independent np-based oracle,
 * fixed-order numerics and bit-reproducibility, VJP rules checked against finite differences of
 * the whole multi-device function, withShardingConstraint, and splitAtCollectives.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, Graph, Var, checkpoint, evalGraphReference, grad, lax, makeGraph, np, OnnxExecutable, lowerGraph, ShapeDtypeStruct } from '../../src/index.js';
import { OnnxUnsupportedError } from '../../src/backends/onnx/index.js';
import type { DType } from '../../src/core/dtype.js';
import type { Primitive } from '../../src/core/primitives.js';
import { evalSpmdReference, formatSplit, groupOf, groupParams, splitAtCollectives } from '../../src/distributed/spmd/index.js';
import { withShardingConstraint } from '../../src/distributed/constraint.js';
import { NamedSharding, P, ShardingError, makeMeshShape } from '../../src/distributed/sharding/index.js';
import { Rng, bruteGroup, oracle, rand, sameBits, type TestMesh } from './fixtures/helpers.js';

const f32 = (vals: number[], shape?: number[]) => np.array(vals, { dtype: 'float32' }).reshape(shape ?? [vals.length]);
const size = (m: TestMesh) => m.shape.reduce((a, b) => a * b, 1);

/** A one-collective per-device program. */
function single(prim: Primitive, params: object, shape: number[], dtype: DType = 'float32'): Graph {
  if (prim === 'axis_index') return makeGraph(() => lax.axisIndex(params as never))();
  return makeGraph((x: Array) => (lax as any)[camel(prim)](x, params))(new ShapeDtypeStruct(shape, dtype));
}
const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

describe('shape rules and errors outside SPMD', () => {
  const g = { axes: ['x'], axisSizes: [4] };
  const aval = (shape: number[]) => new ShapeDtypeStruct(shape, 'float32');
  test('output shapes', () => {
    const out = makeGraph((x: Array) => [
      lax.allReduce(x, g), lax.allGather(x, { ...g, dimension: 1 }), lax.reduceScatter(x, { ...g, dimension: 0 }),
      lax.allToAll(x, { ...g, splitDimension: 0, concatDimension: 1 }), lax.collectivePermute(x, { ...g, pairs: [[0, 1], [1, 0]] }), lax.axisIndex(g),
    ])(aval([8, 3]));
    assert.deepEqual(out.outAvals.map((a) => `${a.dtype}[${a.shape}]`), ['float32[8,3]', 'float32[8,12]', 'float32[2,3]', 'float32[2,12]', 'float32[8,3]', 'int32[]']);
    assert.match(out.toString(), /all_gather\[axes=\(x,\) axis_sizes=\(4,\) dimension=1\]/);
  });
  test('bad params are refused with what and how', () => {
    const tr = (f: (x: Array) => Array) => () => makeGraph(f)(aval([6, 3]));
    assert.throws(tr((x) => lax.reduceScatter(x, { ...g, dimension: 0 })), /not divisible by the group size 4.*pad it/s);
    assert.throws(tr((x) => lax.allToAll(x, { ...g, splitDimension: 1, concatDimension: 0 })), /split dimension 1 .* not divisible/);
    assert.throws(tr((x) => lax.collectivePermute(x, { ...g, pairs: [[0, 1], [2, 1]] })), /repeat a source or a target/);
    assert.throws(tr((x) => lax.collectivePermute(x, { ...g, pairs: [[0, 4]] })), /group ranks in 0\.\.3/);
    assert.throws(tr((x) => lax.allGather(x, { axes: ['x', 'x'], axisSizes: [2, 2], dimension: 0 })), /distinct/);
    assert.throws(tr((x) => lax.allReduce(x, { axes: ['x'], axisSizes: [] })), /equal length/);
    assert.throws(tr((x) => lax.allGather(x, { ...g, dimension: 2 })), /dimension 2 out of range/);
    assert.throws(() => makeGraph((x: Array) => lax.allReduce(x, g))(new ShapeDtypeStruct([2], 'bool')), /op 'sum' needs a numeric operand/);
  });
  test('eager collectives name the SPMD interpreter', () => {
    assert.throws(() => lax.allReduce(f32([1, 2]), g), /collective all_reduce needs the SPMD interpreter \(evalSpmdReference\)/);
    assert.throws(() => lax.axisIndex(g), /axis_index needs the SPMD interpreter/);
    const gr = single('all_gather', { ...g, dimension: 0 }, [2]);
    assert.throws(() => evalGraphReference(gr, [f32([1, 2])]), /evalSpmdReference/);
  });
  test('ONNX: collectives are unsupported (the runtime runs them), sharding_constraint is Identity', () => {
    assert.throws(() => lowerGraph(single('all_reduce', g, [2])), (e: unknown) => e instanceof OnnxUnsupportedError && /runtime .* executes collectives/.test((e as Error).message));
    const mesh = makeMeshShape({ data: 2 });
    const gc = makeGraph((x: Array) => lax.mul(withShardingConstraint(x, P('data'), mesh), x))(aval([4]));
    const exe = OnnxExecutable.createSync(gc);
    const x = f32([1, 2, 3, 4]);
    assert.deepEqual(globalThis.Array.from(exe.runSync([x])[0].dataSync()), [1, 4, 9, 16]);
    exe.close();
  });
});

describe('evalSpmdReference: hand-computed results on a 2×2 mesh', () => {
  const mesh = makeMeshShape({ data: 2, model: 2 }); // device = 2·data + model
  const run = (g: Graph, xs: Array[]) => evalSpmdReference(g, mesh, xs.map((x) => [x])).map((o) => o[0].toArray());
  const per = (f: (d: number) => number[]) => [0, 1, 2, 3].map((d) => f32(f(d)));
  test('all_reduce over data', () => {
    assert.deepEqual(run(single('all_reduce', { axes: ['data'], axisSizes: [2] }, [1]), per((d) => [d])), [[2], [4], [2], [4]]);
  });
  test('all_gather over (model, data): model is the major axis of the rank', () => {
    const want = [0, 2, 1, 3];
    assert.deepEqual(run(single('all_gather', { axes: ['model', 'data'], axisSizes: [2, 2], dimension: 0 }, [1]), per((d) => [d])), [want, want, want, want]);
    assert.deepEqual(run(single('all_gather', { axes: ['data', 'model'], axisSizes: [2, 2], dimension: 0 }, [1]), per((d) => [d]))[0], [0, 1, 2, 3]);
  });
  test('reduce_scatter over model', () => {
    assert.deepEqual(run(single('reduce_scatter', { axes: ['model'], axisSizes: [2], dimension: 0 }, [2]), per((d) => [d, 10 * d])), [[1], [10], [5], [50]]);
  });
  test('all_to_all over model', () => {
    const g = single('all_to_all', { axes: ['model'], axisSizes: [2], splitDimension: 0, concatDimension: 0 }, [2]);
    assert.deepEqual(run(g, per((d) => [10 * d, 10 * d + 1])), [[0, 10], [1, 11], [20, 30], [21, 31]]);
  });
  test('collective_permute over data: non-receivers get zeros', () => {
    const g = single('collective_permute', { axes: ['data'], axisSizes: [2], pairs: [[0, 1]] }, [1]);
    assert.deepEqual(run(g, per((d) => [d + 1])), [[0], [0], [1], [2]]);
  });
  test('axis_index', () => {
    const g = single('axis_index', { axes: ['model', 'data'], axisSizes: [2, 2] }, []);
    assert.deepEqual(evalSpmdReference(g, mesh, [[], [], [], []]).map((o) => o[0].item()), [0, 2, 1, 3]);
  });
});

describe('evalSpmdReference vs an independent oracle (1, 2, 4, 8 devices; 1-D and 2-D meshes)', () => {
  const cases: { mesh: TestMesh; axes: string[][] }[] = [
    { mesh: { axisNames: ['x'], shape: [1] }, axes: [['x']] },
    { mesh: { axisNames: ['x'], shape: [2] }, axes: [['x']] },
    { mesh: { axisNames: ['x'], shape: [4] }, axes: [['x']] },
    { mesh: { axisNames: ['x'], shape: [8] }, axes: [['x']] },
    { mesh: { axisNames: ['data', 'model'], shape: [2, 2] }, axes: [['data'], ['model'], ['data', 'model'], ['model', 'data']] },
    { mesh: { axisNames: ['data', 'model'], shape: [2, 4] }, axes: [['data'], ['model'], ['model', 'data']] },
    { mesh: { axisNames: ['a', 'b'], shape: [4, 2] }, axes: [['a'], ['b', 'a']] },
  ];
  const r = new Rng(7);
  for (const { mesh, axes } of cases) {
    for (const ax of axes) {
      const grp = groupParams(mesh, ax);
      const k = grp.axisSizes.reduce((a, b) => a * b, 1);
      const ring: [number, number][] = globalThis.Array.from({ length: k }, (_, i) => [i, (i + 1) % k]);
      const prims: [Primitive, Record<string, any>, number[], DType][] = [
        ['all_reduce', { ...grp, op: 'sum' }, [2, 3], 'float32'],
        ['all_reduce', { ...grp, op: 'max' }, [3], 'float32'],
        ['all_reduce', { ...grp, op: 'min' }, [3], 'int32'],
        ['all_reduce', { ...grp, op: 'sum' }, [4], 'int32'],
        ['all_gather', { ...grp, dimension: 0 }, [2, 3], 'float32'],
        ['all_gather', { ...grp, dimension: 1 }, [2, 3], 'int32'],
        ['reduce_scatter', { ...grp, dimension: 0 }, [2 * k, 3], 'float32'],
        ['reduce_scatter', { ...grp, dimension: 1 }, [2, k], 'float32'],
        ['all_to_all', { ...grp, splitDimension: 1, concatDimension: 0 }, [2, 2 * k], 'float32'],
        ['all_to_all', { ...grp, splitDimension: 0, concatDimension: 0 }, [k, 3], 'int32'],
        ['all_to_all', { ...grp, splitDimension: 0, concatDimension: 2 }, [k, 2, 2], 'float32'],
        ['collective_permute', { ...grp, pairs: ring }, [2, 2], 'float32'],
        ['collective_permute', { ...grp, pairs: [[0, k - 1]] }, [3], 'float32'],
        ['axis_index', grp, [], 'int32'],
      ];
      test(`mesh ${JSON.stringify(mesh.shape)} ${mesh.axisNames.join('×')} over [${ax}]`, () => {
        for (const [prim, params, shape, dtype] of prims) {
          const g = single(prim, params, shape, dtype);
          const xs = globalThis.Array.from({ length: size(mesh) }, () => rand(r, shape, dtype));
          const got = evalSpmdReference(g, mesh, prim === 'axis_index' ? xs.map(() => []) : xs.map((x) => [x]));
          got.forEach((o, d) => {
            const want = oracle(prim, params, mesh, xs, d);
            assert.ok(sameBits(o[0], want), `${prim} ${JSON.stringify(params)} device ${d}: got ${o[0]} want ${want}`);
          });
        }
      });
    }
  }
  test('the brute-force groups agree with the documented rank order', () => {
    const m = { axisNames: ['a', 'b', 'c'], shape: [2, 3, 2] };
    // device 7 = (a=1, b=0, c=1); over (c, a) the rank is 2·c + a
    assert.deepEqual(bruteGroup(m, ['c', 'a'], 7), { members: [0, 6, 1, 7], rank: 3 });
    for (let d = 0; d < 12; d++) assert.deepEqual(groupOf(m, ['c', 'a'], d), bruteGroup(m, ['c', 'a'], d));
  });
});

describe('numerics and reproducibility', () => {
  const m4 = makeMeshShape({ x: 4 });
  const g4 = { axes: ['x'], axisSizes: [4] };
  test('sums run in group-rank order in float64, rounded once', () => {
    const g = single('all_reduce', g4, [1]);
    const out = evalSpmdReference(g, m4, [[f32([1e8])], [f32([1])], [f32([-1e8])], [f32([1])]]);
    // float32 accumulation would give 1; float64 in rank order gives exactly 2
    for (const o of out) assert.equal(o[0].item(), 2);
  });
  test('int32 sums wrap; max/min propagate NaN; bool max is or', () => {
    const gi = single('all_reduce', g4, [1], 'int32');
    const i32 = (v: number) => np.array([v], { dtype: 'int32' });
    assert.equal(evalSpmdReference(gi, m4, [[i32(2147483647)], [i32(1)], [i32(0)], [i32(0)]])[0][0].item(), -2147483648);
    for (const op of ['max', 'min'] as const) {
      const gm = single('all_reduce', { ...g4, op }, [1]);
      assert.ok(Number.isNaN(evalSpmdReference(gm, m4, [[f32([1])], [f32([NaN])], [f32([3])], [f32([-1])]])[2][0].item() as number), `${op} must propagate NaN`);
    }
    const gb = single('all_reduce', { ...g4, op: 'max' }, [2], 'bool');
    const b = (x: boolean[]) => np.array(x);
    assert.deepEqual(evalSpmdReference(gb, m4, [[b([false, false])], [b([true, false])], [b([false, false])], [b([false, false])]])[3][0].toArray(), [true, false]);
  });
  test('bit-identical run to run', () => {
    const r = new Rng(3);
    const mesh = makeMeshShape({ data: 2, model: 4 });
    const g = makeGraph((x: Array) => {
      const a = lax.allReduce(lax.tanh(x), groupParams(mesh, ['model']));
      const b = lax.reduceScatter(lax.mul(a, x), { ...groupParams(mesh, ['model', 'data']), dimension: 0 });
      return lax.allGather(lax.exp(b), { ...groupParams(mesh, ['data']), dimension: 1 });
    })(new ShapeDtypeStruct([8, 5], 'float32'));
    const xs = globalThis.Array.from({ length: 8 }, () => [rand(r, [8, 5])]);
    const a = evalSpmdReference(g, mesh, xs);
    const b = evalSpmdReference(g, mesh, xs);
    a.forEach((o, d) => assert.ok(sameBits(o[0], b[d][0]), `device ${d} differs between runs`));
    assert.deepEqual(a[0][0].shape, [1, 10]);
  });
  test('mesh mismatches and bad arguments are clear errors', () => {
    const g = single('all_reduce', { axes: ['model'], axisSizes: [4] }, [2]);
    const args = [0, 1, 2, 3].map(() => [f32([1, 2])]);
    assert.throws(() => evalSpmdReference(g, makeMeshShape({ data: 2, model: 2 }), args), /axisSizes says mesh axis 'model' has size 4 but the mesh has 2/);
    assert.throws(() => evalSpmdReference(g, makeMeshShape({ data: 4 }), args), /mesh axis 'model' is not in the mesh/);
    assert.throws(() => evalSpmdReference(g, makeMeshShape({ model: 4 }), args.slice(1)), /has 4 devices but perDeviceArgs has 3/);
    assert.throws(() => evalSpmdReference(g, makeMeshShape({ model: 4 }), [...args.slice(1), [f32([1, 2, 3])]]), /device 3: input 0 is f32\[3\] but the program expects f32\[2\]/);
  });
  test('collectives inside checkpoint (remat) sub-graphs', () => {
    const mesh = makeMeshShape({ x: 2 });
    const gp = groupParams(mesh, ['x']);
    const f = checkpoint((x: Array) => lax.allReduce(lax.mul(x, x), gp));
    const g = makeGraph((x: Array) => f(x))(new ShapeDtypeStruct([2], 'float32'));
    assert.ok(g.eqns.some((e) => e.prim === 'remat'), 'checkpoint should record a remat call');
    const out = evalSpmdReference(g, mesh, [[f32([1, 2])], [f32([3, 4])]]);
    assert.deepEqual(out[1][0].toArray(), [10, 20]);
  });
});

describe('VJP rules of the collectives (gradient of the whole multi-device function vs finite differences)', () => {
  const mesh = makeMeshShape({ data: 2, model: 2 });
  const n = 4;
  const r = new Rng(11);
  const two = groupParams(mesh, ['model', 'data']);
  const one = groupParams(mesh, ['data']);
  const cases: [string, (x: Array) => Array, number[]][] = [
    ['all_reduce sum', (x) => lax.allReduce(x, { ...one, op: 'sum' }), [3]],
    ['all_reduce max', (x) => lax.allReduce(x, { ...two, op: 'max' }), [3]],
    ['all_reduce min', (x) => lax.allReduce(x, { ...one, op: 'min' }), [3]],
    ['all_gather', (x) => lax.allGather(x, { ...two, dimension: 1 }), [2, 2]],
    ['reduce_scatter', (x) => lax.reduceScatter(x, { ...two, dimension: 0 }), [4, 2]],
    ['all_to_all', (x) => lax.allToAll(x, { ...two, splitDimension: 0, concatDimension: 1 }), [4, 2]],
    ['collective_permute', (x) => lax.collectivePermute(x, { ...two, pairs: [[0, 2], [2, 1], [3, 0]] }), [3]],
  ];
  for (const [name, coll, shape] of cases) {
    test(name, () => {
      const xAval = new ShapeDtypeStruct(shape, 'float64');
      const outShape = makeGraph(coll)(xAval).outAvals[0].shape;
      const wAval = new ShapeDtypeStruct([...outShape], 'float64');
      const loss = (x: Array, w: Array) => np.sum(np.multiply(coll(np.tanh(x)), w));
      const fwd = makeGraph(loss)(xAval, wAval);
      const bwd = makeGraph(grad(loss))(xAval, wAval);
      const xs = globalThis.Array.from({ length: n }, () => rand(r, shape, 'float64'));
      const ws = globalThis.Array.from({ length: n }, () => rand(r, [...outShape], 'float64'));
      const total = (xv: Array[]) => evalSpmdReference(fwd, mesh, xv.map((x, d) => [x, ws[d]])).reduce((s, o) => s + (o[0].item() as number), 0);
      const grads = evalSpmdReference(bwd, mesh, xs.map((x, d) => [x, ws[d]])).map((o) => o[0].dataSync());
      const h = 1e-6;
      for (let d = 0; d < n; d++) {
        const base = xs[d].dataSync();
        for (let i = 0; i < base.length; i++) {
          const at = (delta: number) => {
            const v = Float64Array.from(base);
            v[i] += delta;
            return total(xs.map((x, e) => (e === d ? np.array(globalThis.Array.from(v), { dtype: 'float64' }).reshape(shape) : x)));
          };
          const fd = (at(h) - at(-h)) / (2 * h);
          assert.ok(Math.abs(grads[d][i] - fd) <= 1e-6 * (1 + Math.abs(fd)), `${name}: device ${d} element ${i}: grad ${grads[d][i]} vs finite difference ${fd}`);
        }
      }
    });
  }
  test('transposes are the documented collectives', () => {
    const prims = (f: (x: Array) => Array, shape: number[]) => makeGraph(grad((x: Array) => np.sum(f(x))))(new ShapeDtypeStruct(shape, 'float32')).eqns.map((e) => `${e.prim}${e.prim === 'all_to_all' || e.prim === 'collective_permute' ? JSON.stringify(e.params) : ''}`);
    assert.ok(prims((x) => lax.allGather(x, { ...two, dimension: 0 }), [2]).includes('reduce_scatter'), 'all_gather transposes to reduce_scatter');
    assert.ok(prims((x) => lax.reduceScatter(x, { ...two, dimension: 0 }), [4]).includes('all_gather'), 'reduce_scatter transposes to all_gather');
    assert.ok(prims((x) => lax.allToAll(x, { ...two, splitDimension: 0, concatDimension: 1 }), [4, 1]).some((s) => s.includes('"splitDimension":1,"concatDimension":0')), 'all_to_all transposes with split/concat swapped');
    assert.ok(prims((x) => lax.collectivePermute(x, { ...two, pairs: [[0, 2], [2, 1]] }), [1]).some((s) => s.includes('"pairs":[[2,0],[1,2]]')), 'collective_permute transposes with inverse pairs');
  });
});

describe('withShardingConstraint', () => {
  const mesh = makeMeshShape({ data: 2, model: 2 });
  const aval = new ShapeDtypeStruct([4, 6], 'float32');
  test('records sharding_constraint with the padded sharding; identity on values', () => {
    const g = makeGraph((x: Array) => withShardingConstraint(x, P('data'), mesh))(aval);
    assert.equal(g.eqns.length, 1);
    assert.equal(g.eqns[0].prim, 'sharding_constraint');
    assert.deepEqual((g.eqns[0].params as { sharding: { dims: string[][] } }).sharding.dims, [['data'], []]);
    const x = rand(new Rng(1), [4, 6]);
    assert.ok(sameBits(evalGraphReference(g, [x])[0], x), 'sharding_constraint is the identity');
    assert.ok(sameBits(withShardingConstraint(x, NamedSharding(mesh, P(null, ['model', 'data']))), x), 'eager withShardingConstraint is the identity');
    // a runtime-like mesh holder ({ shape: MeshShape }) is accepted too
    const g2 = makeGraph((y: Array) => withShardingConstraint(y, P(null, 'model'), { shape: mesh }))(aval);
    assert.deepEqual((g2.eqns[0].params as { sharding: { dims: string[][] } }).sharding.dims, [[], ['model']]);
  });
  test('the cotangent is constrained the same way', () => {
    const g = makeGraph(grad((x: Array) => np.sum(np.tanh(withShardingConstraint(x, P('model', 'data'), mesh)))))(aval);
    const cs = g.eqns.filter((e) => e.prim === 'sharding_constraint');
    assert.equal(cs.length, 2);
    assert.deepEqual(cs[1].params, cs[0].params);
  });
  test('errors', () => {
    const x = np.zeros([4, 6]);
    assert.throws(() => withShardingConstraint(x, P('data')), /needs the mesh/);
    assert.throws(() => withShardingConstraint(x, P('expert'), mesh), (e: unknown) => e instanceof ShardingError && /unknown mesh axis 'expert'/.test((e as Error).message));
    assert.throws(() => withShardingConstraint(x, P('data', null, 'model'), mesh), /has 3 entries but the array has rank 2/);
    assert.throws(() => withShardingConstraint(x, NamedSharding(mesh, P('data')), makeMeshShape({ data: 4 })), /differs from the mesh argument/);
  });
});

describe('splitAtCollectives', () => {
  const mesh = makeMeshShape({ data: 2, model: 2 });
  const model = groupParams(mesh, ['model']);
  const both = groupParams(mesh, ['data', 'model']);
  const prog = makeGraph((x: Array, y: Array) => {
    const a = lax.mul(x, lax.fullLike(x, 2));
    const b = lax.allReduce(a, model);
    const c = lax.add(b, x);
    const i = lax.convert(lax.axisIndex(both), 'float32');
    const dd = lax.allGather(lax.add(c, lax.broadcastInDim(i, [3], [])), { ...both, dimension: 0 });
    const e = lax.collectivePermute(lax.allReduce(y, { ...model, op: 'max' }), { ...model, pairs: [[0, 1]] });
    return [dd, b, e, x];
  })(new ShapeDtypeStruct([3], 'float32'), new ShapeDtypeStruct([2], 'float32'));

  test('segments, value flow and printing', () => {
    const s = splitAtCollectives(prog);
    assert.equal(s.numCollectives, 4);
    assert.equal(s.axisIndex.length, 1);
    for (const seg of s.segments) assert.ok(seg.graph.eqns.every((e) => !['all_reduce', 'all_gather', 'collective_permute', 'axis_index'].includes(e.prim)));
    // every value a segment reads is defined earlier: an input, an axis_index value, a constant, a segment output or a collective output
    const known = new Set<number>([...s.inputIds, ...s.axisIndex.map((a) => a.id), ...s.constants.map((c) => c.id)]);
    for (const seg of s.segments) {
      for (const id of seg.inputIds) assert.ok(known.has(id), `value ${id} read before it is defined`);
      seg.outputIds.forEach((id) => known.add(id));
      if (seg.collective) {
        assert.ok(known.has(seg.collective.inputId), `collective input ${seg.collective.inputId} read before it is defined`);
        known.add(seg.collective.outputId);
      }
    }
    for (const id of s.outputIds) assert.ok(known.has(id), `output ${id} is never defined`);
    assert.equal(s.outputIds[3], s.inputIds[0]);
    assert.match(formatSplit(s), /then all_reduce v\d+ → v\d+/);
  });

  test('running the segments one by one equals evalSpmdReference of the whole program', () => {
    const s = splitAtCollectives(prog);
    const r = new Rng(5);
    const args = [0, 1, 2, 3].map(() => [rand(r, [3]), rand(r, [2])]);
    const envs = args.map((a, d) => {
      const env = new Map<number, Array>();
      s.inputIds.forEach((id, i) => env.set(id, a[i]));
      s.axisIndex.forEach((ai) => env.set(ai.id, evalSpmdReference(single('axis_index', ai.params, []), mesh, [[], [], [], []])[d][0]));
      s.constants.forEach((c) => env.set(c.id, typeof c.value === 'number' ? np.array(c.value, { dtype: s.avals[c.id].dtype }) : c.value));
      return env;
    });
    for (const seg of s.segments) {
      envs.forEach((env) => {
        const outs = evalGraphReference(seg.graph, seg.inputIds.map((id) => env.get(id)!));
        seg.outputIds.forEach((id, i) => env.set(id, outs[i]));
      });
      const c = seg.collective;
      if (c) {
        const v = new Var(s.avals[c.inputId]);
        const o = new Var(s.avals[c.outputId]);
        const g = new Graph([v], [], [], [{ prim: c.prim, params: c.params, inputs: [v], outputs: [o] }], [o]);
        const res = evalSpmdReference(g, mesh, envs.map((env) => [env.get(c.inputId)!]));
        envs.forEach((env, d) => env.set(c.outputId, res[d][0]));
      }
    }
    const want = evalSpmdReference(prog, mesh, args);
    envs.forEach((env, d) => s.outputIds.forEach((id, i) => assert.ok(sameBits(env.get(id)!, want[d][i]), `device ${d} output ${i}`)));
  });

  test('sub-graph calls are inlined and dead code removed', () => {
    const gp = groupParams(mesh, ['data']);
    const f = checkpoint((x: Array) => lax.allReduce(lax.mul(x, x), gp));
    const g = makeGraph((x: Array) => {
      lax.allGather(x, { ...gp, dimension: 0 }); // dead
      return lax.add(f(x), f(x));
    })(new ShapeDtypeStruct([2], 'float32'));
    const s = splitAtCollectives(g);
    assert.equal(s.numCollectives, 2);
    assert.ok(s.segments.every((seg) => seg.graph.eqns.every((e) => e.prim !== 'remat')), 'remat calls must be inlined');
  });
});
