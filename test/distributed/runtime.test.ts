/**
 * The multi-device runtime: per-device programs with collectives on 4 devices (a 2×2 mesh — more
 * devices than this machine's cores) and on 2 devices, run by worker threads with ONNX Runtime
 * sessions and shared-memory collectives. Checked: equality with evalSpmdReference (bitwise where
 * ONNX Runtime and the reference compute the same bits: multiplications, integer ops and the
 * collectives themselves; within float tolerance for transcendental ops), bit-identical results
 * run to run, devicePut/ShardedArray, argument errors, and failures: an exception on one device
 * (test hook), a worker that calls process.exit, an uncaught error in a worker, and a device
 * stuck past the collective timeout each reject the step quickly with that device's error, and
 * the mesh keeps working afterwards and closes cleanly.
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, ShapeDtypeStruct, grad, jit, lax, makeGraph, np } from '../../src/index.js';
import { evalSpmdReference, groupParams } from '../../src/distributed/spmd/index.js';
import { NamedSharding, P, makeSharding } from '../../src/distributed/sharding/index.js';
import { DeviceError, Mesh, MeshError, ShardedArray, devicePut, makeMesh } from '../../src/runtime/index.js';
import { Rng, rand, sameBits } from './fixtures/helpers.js';

let mesh4: Mesh;
let mesh2: Mesh;
before(async () => {
  mesh4 = new Mesh({ data: 2, model: 2 }, { combineCollectives: false }); // the split is pinned below: keep the program's order
  mesh2 = makeMesh({ x: 2 }, { collectiveTimeoutMs: 1000, recoveryGraceMs: 300 });
  await Promise.all([mesh4.ready(), mesh2.ready()]);
});
after(async () => {
  await mesh4?.close();
  await mesh2?.close();
});

const f32 = new ShapeDtypeStruct([4, 4], 'float32');

/** Every collective, joined by ops ONNX Runtime computes bit-exactly like the reference (mul, neg, int ops). */
function exactProgram(mesh: Mesh) {
  const s = mesh.shape;
  return makeGraph((x: Array, y: Array, k: Array) => {
    const a = lax.allReduce(lax.mul(x, x), groupParams(s, ['model']));
    const b = lax.allGather(lax.mul(a, y), { ...groupParams(s, ['data', 'model']), dimension: 0 });
    const c = lax.reduceScatter(lax.neg(b), { ...groupParams(s, ['model', 'data']), dimension: 0 });
    const d = lax.allToAll(c, { ...groupParams(s, ['data']), splitDimension: 1, concatDimension: 0 });
    const e = lax.collectivePermute(lax.mul(d, d), { ...groupParams(s, ['model']), pairs: [[0, 1], [1, 0]] });
    const f = lax.allReduce(e, { ...groupParams(s, ['data', 'model']), op: 'max' });
    const i = lax.axisIndex(groupParams(s, ['model', 'data']));
    const q = lax.allReduce(lax.mul(k, lax.broadcastInDim(lax.add(i, lax.full(1, 'int32')), [3], [])), groupParams(s, ['data']));
    return [a, b, c, d, e, f, i, q];
  })(f32, f32, new ShapeDtypeStruct([3], 'int32'));
}

function exactArgs(seed: number): Array[][] {
  const r = new Rng(seed);
  return [0, 1, 2, 3].map(() => [rand(r, [4, 4]), rand(r, [4, 4]), np.array([2147483000, -7, r.int(-100, 100)], { dtype: 'int32' })]);
}

describe('4 devices (2×2 mesh, virtual devices beyond the core count)', () => {
  test('a program with every collective equals evalSpmdReference bit for bit, run after run', async () => {
    const g = exactProgram(mesh4);
    const prog = await mesh4.compile(g);
    assert.deepEqual(prog.stats, { segments: 5, collectives: 7 }); // two collectives follow each other directly twice
    const args = exactArgs(1);
    const want = evalSpmdReference(g, mesh4.shape, args);
    const runs = [await prog.run(args), await prog.run(args), await prog.run(args)];
    for (const got of runs) {
      got.forEach((outs, d) => outs.forEach((o, i) => assert.ok(sameBits(o, want[d][i]), `device ${d} output ${i}: ${o} vs reference ${want[d][i]}`)));
    }
    // the int32 all_reduce wrapped (2147483000·r summed over data wraps mod 2^32)
    assert.equal(runs[0][0][7].dataSync()[0], want[0][7].dataSync()[0]);
    prog.close();
    await assert.rejects(prog.run(args), /compiled program was closed/);
  });

  test('float MLP step with tanh/exp: close to the reference, identical bits run to run', async () => {
    const s = mesh4.shape;
    const g = makeGraph((x: Array, w1: Array, w2: Array) => {
      // column-parallel then row-parallel (Megatron): one all_reduce, then a data-parallel mean
      const h = lax.tanh(lax.dotGeneral(x, w1, { lhsContracting: [1], rhsContracting: [0] }));
      const y = lax.allReduce(lax.dotGeneral(h, w2, { lhsContracting: [1], rhsContracting: [0] }), groupParams(s, ['model']));
      const loss = lax.reduceSum(lax.exp(lax.tanh(y)), [0, 1]);
      return [y, lax.allReduce(loss, groupParams(s, ['data']))];
    })(new ShapeDtypeStruct([3, 4], 'float32'), new ShapeDtypeStruct([4, 5], 'float32'), new ShapeDtypeStruct([5, 2], 'float32'));
    const r = new Rng(2);
    const args = [0, 1, 2, 3].map(() => [rand(r, [3, 4]), rand(r, [4, 5]), rand(r, [5, 2])]);
    const want = evalSpmdReference(g, mesh4.shape, args);
    const a = await mesh4.run(g, args);
    const b = await mesh4.run(g, args);
    a.forEach((outs, d) =>
      outs.forEach((o, i) => {
        assert.ok(sameBits(o, b[d][i]), `device ${d} output ${i} differs between runs`);
        const got = o.dataSync();
        const ref = want[d][i].dataSync();
        got.forEach((v, j) => assert.ok(Math.abs(v - ref[j]) <= 1e-5 * (1 + Math.abs(ref[j])), `device ${d} output ${i}[${j}]: ${v} vs ${ref[j]}`));
      }),
    );
    // replicated over the group: both model devices hold the same y, all four the same loss
    assert.ok(sameBits(a[0][0], a[1][0]) && sameBits(a[0][1], a[3][1]), 'all_reduce results must be identical across the group');
  });

  test('devicePut / ShardedArray: uneven dims padded, gather round-trips, partial shards sum', () => {
    const x = rand(new Rng(3), [5, 3]);
    const sx = devicePut(x, P('data', 'model'), mesh4);
    assert.deepEqual(sx.shardShape, [3, 2]);
    assert.equal(sx.shards.length, 4);
    // device 3 holds rows 3..4 (plus a zero row) and column 2 (plus a zero column)
    const d3 = sx.shards[3].toArray() as number[][];
    assert.deepEqual(d3[2], [0, 0]);
    assert.equal(d3[0][0], (x.toArray() as number[][])[3][2]);
    assert.ok(sameBits(sx.gather(), x), 'gather must give back the array');
    const rep = devicePut(x, NamedSharding(mesh4.shape, P(null, 'model')));
    assert.ok(sameBits(rep.shards[0], rep.shards[2]), 'replicas over data hold the same shard');
    assert.ok(sameBits(rep.gather(), x), 'gather of a replicated layout');
    const parts = [0, 1, 2, 3].map((d) => np.array([d, 10 * d], { dtype: 'float32' }));
    const partial = new ShardedArray([2], makeSharding(mesh4.shape, [[]], ['model']), parts);
    assert.deepEqual(partial.gather().toArray(), [1, 10]);
    assert.match(String(sx), /ShardedArray\(f32\[5,3\], P\('data', 'model'\) on 4 devices\)/);
    assert.throws(() => devicePut(x, makeSharding(mesh4.shape, [['data']], ['model'])), /partial/);
    assert.throws(() => new ShardedArray([5, 3], sx.sharding, sx.shards.slice(1)), /4 devices but 3 shards/);
  });

  test('argument errors are reported before anything runs', async () => {
    const g = exactProgram(mesh4);
    await assert.rejects(mesh4.run(g, exactArgs(1).slice(1)), (e: unknown) => e instanceof MeshError && /4 devices but perDeviceArgs has 3/.test((e as Error).message));
    const bad = exactArgs(1);
    bad[2][1] = rand(new Rng(0), [4, 3]);
    await assert.rejects(mesh4.run(g, bad), /device 2: input 1 is f32\[4,3\] but the program expects f32\[4,4\]/);
    const wrongMesh = makeGraph((x: Array) => lax.allReduce(x, { axes: ['expert'], axisSizes: [2] }))(f32);
    await assert.rejects(mesh4.compile(wrongMesh), /mesh axis 'expert' is not in the mesh/);
  });

  test('a device that throws mid-step rejects the step with its error; the mesh keeps working', async () => {
    const g = exactProgram(mesh4);
    const args = exactArgs(4);
    const want = await mesh4.run(g, args);
    const t0 = Date.now();
    await assert.rejects(mesh4.run(g, args, { _testFault: { device: 2, kind: 'throw', segment: 3 } }), (e: unknown) => {
      assert.ok(e instanceof DeviceError, `expected a DeviceError, got ${String(e)}`);
      assert.equal(e.device, 2);
      assert.match(e.message, /device 2 failed in segment 4 of 7 \(before all_to_all made at .*runtime\.test\.ts:\d+:\d+\): Error: injected failure on device 2/);
      return true;
    });
    assert.ok(Date.now() - t0 < 3000, `the step took ${Date.now() - t0} ms to fail`);
    const again = await mesh4.run(g, args);
    again.forEach((outs, d) => outs.forEach((o, i) => assert.ok(sameBits(o, want[d][i]), `device ${d} output ${i} after the failure`)));
  });

  test('a worker that exits (process.exit) fails the step at once and is replaced', async () => {
    const g = exactProgram(mesh4);
    const args = exactArgs(5);
    const t0 = Date.now();
    await assert.rejects(mesh4.run(g, args, { _testFault: { device: 1, kind: 'exit', segment: 2 } }), (e: unknown) => {
      assert.ok(e instanceof DeviceError, `expected a DeviceError, got ${String(e)}`);
      assert.equal(e.device, 1);
      assert.match(e.message, /device 1's worker died \(exit code 7\)/);
      return true;
    });
    assert.ok(Date.now() - t0 < 3000, `the step took ${Date.now() - t0} ms to fail`);
    const got = await mesh4.run(g, args);
    const want = evalSpmdReference(g, mesh4.shape, args);
    got.forEach((outs, d) => outs.forEach((o, i) => assert.ok(sameBits(o, want[d][i]), `device ${d} output ${i} after the restart`)));
  });
});

describe('2 devices', () => {
  test('data-parallel gradient step: per-device grads all-reduced equal the reference', async () => {
    const s = mesh2.shape;
    const loss = (w: Array, x: Array) => np.mean(np.square(np.tanh(np.matmul(x, w))));
    const g = makeGraph((w: Array, x: Array) => {
      const gw = grad(loss)(w, x);
      return lax.allReduce(gw, groupParams(s, ['x']));
    })(new ShapeDtypeStruct([3, 2], 'float32'), new ShapeDtypeStruct([4, 3], 'float32'));
    const r = new Rng(6);
    const w = rand(r, [3, 2]);
    const xs = devicePut(rand(r, [8, 3]), P('x'), mesh2);
    const args = xs.shards.map((sh) => [w, sh]);
    const got = await mesh2.run(g, args);
    const want = evalSpmdReference(g, mesh2.shape, args);
    assert.ok(sameBits(got[0][0], got[1][0]), 'both devices hold the same reduced gradient');
    const a = got[0][0].dataSync();
    const b = want[0][0].dataSync();
    a.forEach((v, j) => assert.ok(Math.abs(v - b[j]) <= 1e-5 * (1 + Math.abs(b[j])), `grad[${j}]: ${v} vs ${b[j]}`));
  });


  test('shards live in shared memory: step results feed the next step and plain jit; the step is profiled', async () => {
    const g = makeGraph((w: Array, x: Array) => lax.allReduce(np.matmul(x, w), groupParams(mesh2.shape, ['x'])))(new ShapeDtypeStruct([3, 3], 'float32'), new ShapeDtypeStruct([2, 3], 'float32'));
    const r = new Rng(8);
    const xs = devicePut(rand(r, [4, 3]), P('x'), mesh2);
    assert.ok(xs.shards.every((s) => s.concrete().buffer instanceof SharedArrayBuffer), 'devicePut puts shards in shared memory');
    let w = [0, 1].map(() => rand(r, [3, 3]));
    const want = evalSpmdReference(g, mesh2.shape, [[w[0], xs.shards[0]], [w[1], xs.shards[1]]]);
    const got = await mesh2.run(g, [[w[0], xs.shards[0]], [w[1], xs.shards[1]]]);
    assert.ok(got.every((o) => o[0].concrete().buffer instanceof SharedArrayBuffer), 'step results are in shared memory');
    const gw = want[0][0].dataSync();
    got[0][0].dataSync().forEach((v, j) => assert.ok(Math.abs(v - gw[j]) <= 1e-5 * (1 + Math.abs(gw[j]))));
    // a result passed back in as an argument (read in place by the device), and to jit on the main thread
    w = [np.reshape(np.concatenate([got[0][0], np.ones([1, 3])]), [3, 3]), np.reshape(np.concatenate([got[1][0], np.ones([1, 3])]), [3, 3])];
    const again = await mesh2.run(g, [[w[0], got[0][0]], [w[1], got[1][0]]]);
    const ref = evalSpmdReference(g, mesh2.shape, [[w[0], got[0][0]], [w[1], got[1][0]]]);
    const rv = ref[1][0].dataSync();
    again[1][0].dataSync().forEach((v, j) => assert.ok(Math.abs(v - rv[j]) <= 1e-4 * (1 + Math.abs(rv[j]))));
    const viaJit = jit((a: Array) => np.multiply(a, 2))(got[0][0]);
    assert.deepEqual([...viaJit.dataSync()], [...got[0][0].dataSync()].map((v) => Math.fround(v * 2)));
    const prof = mesh2.lastStepProfile;
    assert.ok(prof && prof.devices.length === 2 && prof.wallMs > 0);
    for (const d of prof.devices) for (const v of Object.values(d)) assert.ok(Number.isFinite(v) && v >= -1, `profile entry ${v}`);
  });
  const ring = () =>
    makeGraph((x: Array) => {
      const y = lax.collectivePermute(lax.mul(x, x), { ...groupParams(mesh2.shape, ['x']), pairs: [[0, 1], [1, 0]] });
      return lax.allReduce(y, groupParams(mesh2.shape, ['x']));
    })(new ShapeDtypeStruct([2], 'float32'));
  const ringArgs = () => [[np.array([1, 2], { dtype: 'float32' })], [np.array([3, 4], { dtype: 'float32' })]];

  test('an uncaught error in a worker fails the step with that error', async () => {
    const g = ring();
    await assert.rejects(mesh2.run(g, ringArgs(), { _testFault: { device: 0, kind: 'uncaught', segment: 0 } }), (e: unknown) => {
      assert.ok(e instanceof DeviceError, `expected a DeviceError, got ${String(e)}`);
      assert.match(e.message, /device 0's worker died \(Error: injected uncaught error on device 0/);
      return true;
    });
    const got = await mesh2.run(g, ringArgs());
    assert.deepEqual(got[1][0].toArray(), [10, 20]);
  });

  test('a device stuck past the collective timeout fails the step; the stuck worker is replaced', async () => {
    const g = ring();
    const t0 = Date.now();
    await assert.rejects(mesh2.run(g, ringArgs(), { _testFault: { device: 1, kind: 'hang', segment: 0, hangMs: 60_000 } }), (e: unknown) => {
      assert.ok(e instanceof DeviceError, `expected a DeviceError, got ${String(e)}`);
      assert.equal(e.device, 0);
      assert.equal(e.originalName, 'CollectiveTimeout');
      assert.match(e.message, /waited 1000 ms for the other devices/);
      return true;
    });
    const dt = Date.now() - t0;
    assert.ok(dt >= 900 && dt < 2400, `the step failed after ${dt} ms (timeout 1000 ms)`);
    // device 1 never reports: it is terminated after recoveryGraceMs (300 ms) and replaced
    const got = await mesh2.run(g, ringArgs());
    assert.deepEqual(got[0][0].toArray(), [10, 20]);
    assert.ok(Date.now() - t0 < 10_000, 'the stuck worker was replaced long before its 60 s hang ended');
  });

  test('close() after a failure ends the workers; later calls are refused', async () => {
    const g = ring();
    await assert.rejects(mesh2.run(g, ringArgs(), { _testFault: { device: 0, kind: 'throw' } }), /injected failure/);
    const t0 = Date.now();
    await mesh2.close();
    assert.ok(Date.now() - t0 < 2000, `close took ${Date.now() - t0} ms`);
    assert.ok(mesh2.closed, 'the mesh reports closed');
    await assert.rejects(mesh2.run(g, ringArgs()), /mesh was closed/);
    await mesh2.close(); // idempotent
  });
});
