/**
 * Host epilogue fusion on the multi-device runtime (src/runtime/mesh.ts + worker.ts with
 * src/backends/fusion.ts): the elementwise tail of a program's last segment — the optimizer
 * update after the gradient all-reduce — runs as WebAssembly kernels on every device. Checked on
 * a 2-device data-parallel mesh: an AdamW + global-norm-clipping training step run for 3 steps
 * gives params, optimizer state and loss bit-identical to the unfused mesh (opted out with the
 * `hostFusion` option and with MYRIAD_HOST_FUSION=0) and close to single-device `jit`; the
 * devices really ran kernels (the compiled program's epilogue, the step profile's kernel count
 * and time); a program whose last segment has no elementwise tail is unchanged; a program
 * without collectives (one segment, a head without equations) returns a passed-through input
 * and a value returned twice in buffers of their own; a failure between the head and the kernels
 * rejects the step with that device's error, a worker exiting there is replaced, and the mesh
 * keeps working.
 */

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, ShapeDtypeStruct, jit, lax, makeGraph, np, optim, valueAndGrad } from '../../src/index.js';
import { flatten } from '../../src/core/pytree.js';
import { P } from '../../src/distributed/sharding/index.js';
import { groupParams } from '../../src/distributed/spmd/index.js';
import { jitSharded } from '../../src/distributed/jit_sharded.js';
import { DeviceError, Mesh, ShardedArray, devicePut, type CompiledProgram } from '../../src/runtime/index.js';
import { Rng, rand, sameBits } from '../distributed/fixtures/helpers.js';

let mesh: Mesh;
before(async () => {
  mesh = new Mesh({ data: 2 }, { recoveryGraceMs: 500 });
  await mesh.ready();
});
after(async () => {
  await mesh?.close();
});

interface Params { w1: Array; w2: Array; b: Array }
const opt = optim.chain(optim.clipByGlobalNorm(0.5), optim.adamw(optim.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1e-2, warmupSteps: 2, decaySteps: 10 }), { weightDecay: 0.01 }));

/** One training step of a 2-layer MLP: loss, gradients, AdamW with clipping. */
function trainStep(params: Params, state: any, x: Array, y: Array) {
  const loss = (p: Params) => np.mean(np.square(np.subtract(np.add(np.matmul(np.tanh(np.matmul(x, p.w1)), p.w2), p.b), y)));
  const [l, g] = valueAndGrad(loss)(params);
  const [u, s2] = opt.update(g, state, params);
  return [optim.applyUpdates(params, u), s2, l];
}

function problem(seed: number) {
  const r = new Rng(seed);
  const params: Params = { w1: np.multiply(rand(r, [192, 256]), 0.1), w2: np.multiply(rand(r, [256, 128]), 0.1), b: rand(r, [128]) };
  const batches = [0, 1, 2].map(() => ({ x: rand(r, [16, 192]), y: rand(r, [16, 128]) }));
  return { params, state: opt.init(params), batches };
}

const leaves = (t: unknown): Array[] => flatten(t)[0].map((l) => (l instanceof ShardedArray ? l.gather() : (l as Array)));

/** Runs 3 steps with jitSharded on the mesh; returns every step's flat outputs (params, state, loss). */
async function meshRun(hostFusion: boolean | undefined): Promise<{ outs: Array[][]; kernels: number[]; kernelMs: number[] }> {
  const { params, state, batches } = problem(1);
  const f = jitSharded(trainStep, { mesh, inShardings: [P(), P(), P('data'), P('data')], outShardings: [P(), P(), P()], hostFusion });
  let p: unknown = params;
  let s: unknown = state;
  const outs: Array[][] = [];
  const kernels: number[] = [];
  const kernelMs: number[] = [];
  for (const b of batches) {
    const [p2, s2, l] = await f(p as never, s as never, b.x, b.y);
    outs.push(leaves([p2, s2, l]));
    const prof = mesh.lastStepProfile!;
    kernels.push(...prof.devices.map((d) => d.kernels));
    kernelMs.push(...prof.devices.map((d) => d.kernelMs));
    for (const d of prof.devices) assert.ok(d.kernelMs <= d.computeMs, 'kernel time is part of the compute time');
    p = p2;
    s = s2;
  }
  f.close();
  return { outs, kernels, kernelMs };
}

test('AdamW + clip on data=2: fused equals unfused bit for bit over 3 steps (option and MYRIAD_HOST_FUSION=0), close to single-device jit; the devices ran kernels', async () => {
  const fused = await meshRun(true);
  const plain = await meshRun(false);
  const saved = process.env.MYRIAD_HOST_FUSION;
  let envOff: Awaited<ReturnType<typeof meshRun>>;
  let envDefault: Awaited<ReturnType<typeof meshRun>>;
  try {
    process.env.MYRIAD_HOST_FUSION = '0';
    envOff = await meshRun(undefined);
    delete process.env.MYRIAD_HOST_FUSION;
    envDefault = await meshRun(undefined);
  } finally {
    if (saved === undefined) delete process.env.MYRIAD_HOST_FUSION;
    else process.env.MYRIAD_HOST_FUSION = saved;
  }
  assert.ok(fused.kernels.every((k) => k === 2), `each device runs one kernel per large param (w1, w2) every step, got ${fused.kernels}`);
  assert.ok(fused.kernelMs.every((t) => t > 0));
  assert.ok(envDefault.kernels.every((k) => k === 2), 'fusion is on by default');
  assert.ok(plain.kernels.every((k) => k === 0) && envOff.kernels.every((k) => k === 0), 'hostFusion: false and MYRIAD_HOST_FUSION=0 turn it off');
  // single-device reference (the batch mean's reduction order differs from the data-parallel one)
  const { params, state, batches } = problem(1);
  const single = jit(trainStep, { hostFusion: false });
  let p: any = params;
  let s: any = state;
  for (let t = 0; t < 3; t++) {
    const [p2, s2, l] = single(p, s, batches[t].x, batches[t].y);
    const want = leaves([p2, s2, l]);
    assert.equal(fused.outs[t].length, want.length);
    fused.outs[t].forEach((x, i) => {
      assert.ok(sameBits(x, plain.outs[t][i]), `step ${t} leaf ${i}: fused vs unfused mesh`);
      assert.ok(sameBits(x, envOff.outs[t][i]) && sameBits(x, envDefault.outs[t][i]), `step ${t} leaf ${i}: env on/off`);
      const a = x.dataSync();
      const b = want[i].dataSync();
      assert.deepEqual(x.shape, want[i].shape);
      a.forEach((v, j) => assert.ok(Math.abs(v - b[j]) <= 1e-4 * (1 + Math.abs(b[j])), `step ${t} leaf ${i}[${j}]: mesh ${v} vs jit ${b[j]}`));
    });
    p = p2;
    s = s2;
  }
  single.close();
});

/** The per-device program of the training step and each device's arguments. */
function lowered() {
  const { params, state, batches } = problem(2);
  const f = jitSharded(trainStep, { mesh, inShardings: [P(), P(), P('data'), P('data')], outShardings: [P(), P(), P()] });
  const { partitioned } = f.lower(params, state, batches[0].x, batches[0].y);
  const flat = flatten([params, state, batches[0].x, batches[0].y])[0] as Array[];
  const shards = flat.map((x, i) => devicePut(x, partitioned.inShardings[i]).shards);
  const args = [0, 1].map((d) => shards.map((s) => s[d]));
  return { graph: partitioned.graph, args };
}

test('the compiled program carries the epilogue of its last segment; a failure before the kernels aborts the step and the mesh recovers', async () => {
  const { graph, args } = lowered();
  const fusedP: CompiledProgram = await mesh.compile(graph, { hostFusion: true });
  const plainP = await mesh.compile(graph, { hostFusion: false });
  assert.ok(fusedP.epilogue, 'an epilogue');
  assert.equal(fusedP.epilogue.loops.length, 2, fusedP.epilogue.toString());
  assert.ok(fusedP.epilogue.loops.every((l) => l.eqns.some((e) => e.prim === 'sqrt')), 'the Adam update runs in the kernels');
  assert.equal(plainP.epilogue, null);
  assert.deepEqual(fusedP.stats, plainP.stats);
  const last = fusedP.split.segments.length - 1;
  assert.equal(fusedP.split.segments[last].collective, null);
  const want = await plainP.run(args);
  const check = (got: Array[][], label: string) => got.forEach((outs, d) => outs.forEach((o, i) => assert.ok(sameBits(o, want[d][i]), `${label}: device ${d} output ${i}`)));
  check(await fusedP.run(args), 'fused');
  await assert.rejects(fusedP.run(args, { _testFault: { device: 1, kind: 'throw', segment: last, phase: 'epilogue' } }), (e: unknown) => {
    assert.ok(e instanceof DeviceError, String(e));
    assert.equal(e.device, 1);
    assert.match(e.message, /host epilogue kernels of segment \d+ of \d+.*injected failure on device 1 in segment \d+ before its epilogue kernels/);
    return true;
  });
  check(await fusedP.run(args), 'after a failed step');
  await assert.rejects(fusedP.run(args, { _testFault: { device: 0, kind: 'exit', segment: last, phase: 'epilogue' } }), (e: unknown) => e instanceof DeviceError && /worker died/.test(e.message));
  check(await fusedP.run(args), 'after the worker was replaced');
  // the unfused program has no epilogue phase: the same fault never fires
  check(await plainP.run(args, { _testFault: { device: 1, kind: 'throw', segment: last, phase: 'epilogue' } }), 'unfused with an epilogue fault');
  fusedP.close();
  plainP.close();
});

test('no elementwise tail after the last collective: the program is unchanged', async () => {
  const s = mesh.shape;
  // gradients all-reduced at the very end: the last segment is the collective's input
  const g = makeGraph((w: Array, x: Array) => {
    const [, gw] = valueAndGrad((v: Array) => np.mean(np.square(np.tanh(np.matmul(x, v)))))(w);
    return lax.allReduce(gw, groupParams(s, ['data']));
  })(new ShapeDtypeStruct([256, 256], 'float32'), new ShapeDtypeStruct([8, 256], 'float32'));
  const r = new Rng(4);
  const w = rand(r, [256, 256]);
  const args = [0, 1].map(() => [w, rand(r, [8, 256])]);
  const fused = await mesh.compile(g, { hostFusion: true });
  const plain = await mesh.compile(g, { hostFusion: false });
  assert.equal(fused.epilogue, null);
  const a = await fused.run(args);
  assert.ok(mesh.lastStepProfile!.devices.every((d) => d.kernels === 0 && d.kernelMs === 0));
  const b = await plain.run(args);
  a.forEach((o, d) => assert.ok(sameBits(o[0], b[d][0])));
  fused.close();
  plain.close();
});

/**
 * Whether two arrays share memory: a SharedArrayBuffer posted to a worker and back is a new
 * object over the same memory, so identity says nothing; write into `a` and look at `b`.
 */
function aliases(a: Array, b: Array): boolean {
  const da = a.concrete();
  const db = b.concrete();
  const saved = da[0];
  const before = db[0];
  da[0] = before + 1;
  const moved = db[0] !== before;
  da[0] = saved;
  return moved;
}

test('one segment (no collectives), a head without equations: passthrough and duplicated outputs get their own shared buffers', async () => {
  const g = makeGraph((p: Array, q: Array) => {
    const z = np.sqrt(np.add(np.multiply(p, p), np.multiply(q, q)));
    return [p, z, z, np.subtract(q, np.multiply(z, 0.5))];
  })(new ShapeDtypeStruct([160, 200], 'float32'), new ShapeDtypeStruct([160, 200], 'float32'));
  const r = new Rng(5);
  const args = [0, 1].map(() => [rand(r, [160, 200]), rand(r, [160, 200])]);
  const fused = await mesh.compile(g);
  assert.ok(fused.epilogue && fused.epilogue.headEqns === 0, fused.epilogue?.toString());
  const plain = await mesh.compile(g, { hostFusion: false });
  // arguments in shared memory (as step results are): the kernels read them there, never write them
  const shared = args.map((a) => a.map((x) => devicePut(x, P(), mesh.shape).shards[0]));
  const before = shared.map((a) => a.map((x) => x.dataSync().slice()));
  for (const input of [args, shared]) {
    const got = await fused.run(input);
    assert.ok(mesh.lastStepProfile!.devices.every((d) => d.kernels === 1));
    const want = await plain.run(input);
    got.forEach((outs, d) => {
      outs.forEach((o, i) => {
        assert.ok(sameBits(o, want[d][i]), `device ${d} output ${i}`);
        assert.ok(o.concrete().buffer instanceof SharedArrayBuffer, 'results are in shared memory');
      });
      for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) assert.ok(!aliases(outs[i], outs[j]), `outputs ${i} and ${j} share memory`);
      assert.ok(!aliases(input[d][0], outs[0]), 'a passed-through argument is returned as a copy');
      assert.ok(!aliases(input[d][1], outs[3]), 'kernels do not write into their arguments');
    });
  }
  shared.forEach((a, d) => a.forEach((x, i) => assert.deepEqual(x.dataSync(), before[d][i], `shared argument ${d}/${i} unchanged`)));
  fused.close();
  plain.close();
});

test('kernels read captured constants and scalars computed by the head', async () => {
  const r = new Rng(6);
  const c = rand(r, [160, 200]);
  const g = makeGraph((p: Array) => {
    const scale = np.divide(1, np.add(np.sqrt(np.sum(np.multiply(p, p))), 1)); // a scalar from the head
    return np.add(np.multiply(np.subtract(p, c), scale), np.abs(c));
  })(new ShapeDtypeStruct([160, 200], 'float32'));
  const fused = await mesh.compile(g);
  const loop = fused.epilogue?.loops[0];
  assert.ok(loop && loop.arrays.some((a) => a.source.kind === 'const') && loop.scalars.some((s) => s.source.kind === 'head'), fused.epilogue?.toString());
  const plain = await mesh.compile(g, { hostFusion: false });
  const args = [0, 1].map(() => [rand(r, [160, 200])]);
  const got = await fused.run(args);
  const want = await plain.run(args);
  got.forEach((o, d) => assert.ok(sameBits(o[0], want[d][0]), `device ${d}`));
  fused.close();
  plain.close();
});
