/**
 * GSPMD benchmark (`npm run bench:spmd -- [--json <file>] [--quick]`, issue 6):
 *  (a) data-parallel training-step throughput of an MLP with big matmuls on 2 worker devices vs
 *      1 (a 1-device Mesh, and plain `jit` with one ONNX Runtime thread) — samples/s and the
 *      speed-up (target ≥ 1.7× on a 2-core machine);
 *      The same for a transformer LM training step as `myriad train` runs it (Trainer, AdamW +
 *      clipping, 3-layer DecoderLM), one device vs a 2-device mesh;
 *  (b) compile time of a 12-layer MLP training step (trace + propagate + partition, then
 *      scheduling/combining collectives, splitting at them and ONNX lowering of every per-device
 *      segment, as Mesh.compile does) at 1, 2, 4, …, 64 virtual devices
 *      on a 2-D data × model mesh — no workers are started (target: flat, 64 devices within 1.5×
 *      of 1);
 *  (c) bytes moved per step by each collective kind, counted from the per-device program (each
 *      collective's operand bytes, and the bytes a ring algorithm sends per device:
 *      all-reduce 2(k−1)/k·L, reduce-scatter and all-to-all (k−1)/k·L, all-gather (k−1)·L,
 *      permute L), for data-parallel (MLP training step), model-parallel (Megatron MLP forward)
 *      and expert-parallel (MoE dispatch/combine forward) layouts, next to the analytic count.
 * (a) interleaves the three setups' steps (blocks of 2) so background load hits them alike,
 * checks that their losses agree step by step, and prints where a mesh step's time goes
 * (`mesh.lastStepProfile`). Prints tables; `--json <file>` writes every number. The machine may be shared: the 1-minute
 * load average is printed before and after.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Array, jit, lax, np, optim, valueAndGrad } from '../src/index.js';
import { DecoderLM } from '../src/models/index.js';
import { Trainer, arrayBatchSource } from '../src/train/trainer.js';
import { Graph } from '../src/core/ir.js';
import { isCollective } from '../src/core/primitives.js';
import { jitSharded } from '../src/distributed/jit_sharded.js';
import { withShardingConstraint } from '../src/distributed/constraint.js';
import { NamedSharding, P, makeMeshShape, replicated, type MeshShape } from '../src/distributed/sharding/index.js';
import { splitAtCollectives } from '../src/distributed/spmd/split.js';
import { scheduleCollectives } from '../src/distributed/spmd/combine.js';
import { lowerGraph } from '../src/backends/onnx/index.js';
import { Mesh, ShardedArray, devicePut, type StepProfile } from '../src/runtime/index.js';
import { BenchCheckError, fmt, loadAverage, machineInfo, median, normal, rng, table, timeInterleaved } from './common.js';

const args = process.argv.slice(2);
const jsonIdx = args.indexOf('--json');
const jsonFile = jsonIdx >= 0 ? args[jsonIdx + 1] : undefined;
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : 'abc';
if (!/^[abc]+$/.test(only)) throw new Error(`--only takes some of the letters a, b, c (the benchmark parts), got '${only}'`);

const mm = (a: Array, b: Array) => lax.dotGeneral(a, b, { lhsContracting: [a.ndim - 1], rhsContracting: [0] });
const rand = (shape: number[], seed: number, std = 0.05) => Array.fromData(normal(rng(seed), shape.reduce((a, b) => a * b, 1), std), shape, 'float32');
const bytesOf = (shape: readonly number[], dtype: string) => shape.reduce((a, b) => a * b, 1) * (dtype === 'float64' ? 8 : dtype === 'bool' || dtype === 'uint8' || dtype === 'int8' ? 1 : 4);

// ------------------------------------------------------------------------------------ (a)

interface Mlp { w: Array[] }
function mlpLoss(p: Mlp, x: Array, y: Array): Array {
  let h = x;
  p.w.forEach((w, i) => (h = i < p.w.length - 1 ? np.tanh(mm(h, w)) : mm(h, w)));
  return np.mean(np.square(np.subtract(h, y)));
}
function sgdStep(p: Mlp, x: Array, y: Array): { p: Mlp; loss: Array } {
  const [loss, g] = valueAndGrad((q: Mlp) => mlpLoss(q, x, y))(p);
  return { p: { w: p.w.map((w, i) => np.subtract(w, np.multiply((g as Mlp).w[i], 0.01))) }, loss };
}

async function throughput() {
  const num = (flag: string, d: number) => (args.includes(flag) ? Number(args[args.indexOf(flag) + 1]) : d);
  const [B, D, H] = [num('--batch', quick ? 2048 : 4096), num('--dim', 256), num('--hidden', 512)];
  const dims = [D, H, H, D];
  const params: Mlp = { w: dims.slice(1).map((d, i) => rand([dims[i], d], 10 + i)) };
  const x = rand([B, D], 1, 1);
  const y = rand([B, D], 2, 1);
  const flops = 6 * B * dims.slice(1).reduce((s, d, i) => s + dims[i] * d, 0);
  const reps = quick ? 6 : 16;
  // plain jit, one ONNX Runtime thread, on the main thread
  const j = jit(sgdStep, { intraOpNumThreads: 1 });
  let pj = params;
  const losses: Record<string, number[]> = { jit: [], mesh1: [], mesh2: [] };
  const jitStep = () => {
    const o = j(pj, x, y);
    losses.jit.push(Number(o.loss.item()));
    pj = o.p;
  };
  const meshes: Mesh[] = [];
  const fns: { close(): void }[] = [];
  const onMesh = async (n: number, key: string) => {
    const mesh = new Mesh({ data: n });
    meshes.push(mesh);
    await mesh.ready();
    const rep = { w: params.w.map((w) => replicated(mesh.shape, w.ndim)) };
    const f = jitSharded(sgdStep, { mesh, inShardings: [rep, P('data'), P('data')], outShardings: { p: rep, loss: P() } });
    fns.push(f);
    let p: Mlp | { w: ShardedArray[] } = params;
    const xs = devicePut(x, P('data'), mesh.shape);
    const ys = devicePut(y, P('data'), mesh.shape);
    return async () => {
      const o = await f(p as Mlp, xs as never, ys as never);
      losses[key].push(Number((o.loss as ShardedArray).gather().item()));
      p = o.p;
      if (mesh.lastStepProfile) profiles[key].push(mesh.lastStepProfile);
    };
  };
  const profiles: Record<string, StepProfile[]> = { mesh1: [], mesh2: [] };
  const m1 = await onMesh(1, 'mesh1');
  const m2 = await onMesh(2, 'mesh2');
  // interleaved in blocks of 2 so that background load hits every setup alike
  const [tj, t1s, t2s] = await timeInterleaved([{ fn: jitStep, warmup: 2, reps }, { fn: m1, warmup: 2, reps }, { fn: m2, warmup: 2, reps }], 2);
  j.close();
  for (const f of fns) f.close();
  for (const m of meshes) await m.close();
  // the three setups run the same SGD steps from the same params: their loss curves must agree
  const n = Math.min(losses.jit.length, losses.mesh1.length, losses.mesh2.length);
  for (let i = 0; i < n; i++) {
    for (const k of ['mesh1', 'mesh2']) {
      if (!(Math.abs(losses[k][i] - losses.jit[i]) <= 1e-3 * (1 + Math.abs(losses.jit[i])))) throw new BenchCheckError(`step ${i}: ${k} loss ${losses[k][i]} differs from jit's ${losses.jit[i]}`);
    }
  }
  const [tJit, t1, t2] = [median(tj) / 1000, median(t1s) / 1000, median(t2s) / 1000];
  // where a mesh step's time goes: medians over steps of the slowest device's share of each part
  const breakdown = (ps: StepProfile[]) => {
    const part = (k: 'sendMs' | 'computeMs' | 'collectiveMs' | 'returnMs') => median(ps.map((q) => Math.max(...q.devices.map((d) => d[k]))));
    return { wallMs: median(ps.map((q) => q.wallMs)), sendMs: part('sendMs'), computeMs: part('computeMs'), collectiveMs: part('collectiveMs'), returnMs: part('returnMs') };
  };
  return {
    model: `MLP ${dims.join('→')} (tanh), batch ${B}, SGD; ${(flops / 1e9).toFixed(2)} GFLOP/step`,
    reps,
    jit1: { stepS: tJit, samplesPerS: B / tJit, gflops: flops / tJit / 1e9 },
    mesh1: { stepS: t1, samplesPerS: B / t1, gflops: flops / t1 / 1e9 },
    mesh2: { stepS: t2, samplesPerS: B / t2, gflops: flops / t2 / 1e9 },
    profile: { mesh1: breakdown(profiles.mesh1), mesh2: breakdown(profiles.mesh2) },
    speedupVsMesh1: t1 / t2,
    speedupVsJit: tJit / t2,
    lossesAgreeSteps: n,
  };
}

/**
 * (a, second model) A transformer LM training step as `myriad train` runs it: the Trainer with
 * AdamW + global-norm clipping on a 3-layer `DecoderLM` (d 128, seq 128, batch 16), on one device
 * (plain jit) and data-parallel on a 2-device mesh, interleaved; losses must agree.
 */
async function lmThroughput() {
  const B = 16, L = 128;
  const t = new Int32Array(B * L).map((_, i) => 3 + ((i * 5 + ((i * i) % 7)) % 60));
  const inp = new Int32Array(B * L);
  for (let i = 0; i < B * L; i++) inp[i] = i % L === 0 ? 0 : t[i - 1];
  const batch = { decoder_target_tokens: Array.fromData(t, [B, L], 'int32'), decoder_input_tokens: Array.fromData(inp, [B, L], 'int32') };
  const model = DecoderLM({ ...DecoderLM('tiny').config, numLayers: 3 });
  const dirs: string[] = [];
  const make = (mesh?: Record<string, number>) => {
    const dir = mkdtempSync(join(tmpdir(), 'myriad-bench-spmd-'));
    dirs.push(dir);
    return new Trainer({ model, optimizer: optim.chain(optim.clipByGlobalNorm(1), optim.adamw(1e-3)), data: arrayBatchSource([batch]), steps: 1000, outDir: dir, seed: 3, progress: 'none', peakFlops: null, plots: false, handleSignals: false, sharding: mesh ? { mesh } : undefined });
  };
  const single = make();
  const dp = make({ data: 2 });
  const losses: number[][] = [[], []];
  const reps = quick ? 6 : 14;
  const [ts, td] = await timeInterleaved([
    { fn: async () => losses[0].push((await single.trainStepAsync()).loss), warmup: 2, reps },
    { fn: async () => losses[1].push((await dp.trainStepAsync()).loss), warmup: 2, reps },
  ], 2);
  await single.close();
  await dp.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  losses[0].forEach((l, i) => {
    if (!(Math.abs(l - losses[1][i]) <= 1e-3 * (1 + Math.abs(l)))) throw new BenchCheckError(`LM step ${i}: data=2 loss ${losses[1][i]} differs from one device's ${l}`);
  });
  const [t1, t2] = [median(ts) / 1000, median(td) / 1000];
  return { model: `DecoderLM 3×d128 (MLP 512), seq ${L}, batch ${B}, AdamW + clip, Trainer`, single: { stepS: t1, tokensPerS: (B * L) / t1 }, mesh2: { stepS: t2, tokensPerS: (B * L) / t2 }, speedup: t1 / t2 };
}

// ------------------------------------------------------------------------------------ (b)

function meshFor(n: number): MeshShape {
  const data = 2 ** Math.ceil(Math.log2(n) / 2);
  return makeMeshShape({ data, model: n / data });
}

function compileTime() {
  const L = 12, B = 64, D = 128, H = 256;
  const params: Mlp = { w: globalThis.Array.from({ length: 2 * L }, (_, i) => rand(i % 2 ? [H, D] : [D, H], 100 + i)) };
  const x = rand([B, D], 3, 1);
  const y = rand([B, D], 4, 1);
  const step = (p: Mlp, xx: Array, yy: Array) => sgdStep(p, xx, yy);
  const rows: { devices: number; mesh: string; traceProp: number; lower: number; total: number; eqns: number; segments: number; collectives: number }[] = [];
  const reps = quick ? 2 : 3;
  for (const n of [1, 2, 4, 8, 16, 32, 64]) {
    const mesh = meshFor(n);
    const shard = { w: params.w.map((_, i) => NamedSharding(mesh, i % 2 ? P('model', null) : P(null, 'model'))) };
    const samples: { tp: number; lo: number; eqns: number; segs: number; coll: number }[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      const f = jitSharded(step, { mesh, backend: 'spmd-reference', inShardings: [shard, P('data'), P('data')], outShardings: { p: shard, loss: P() } });
      const low = f.lower(params, x, y);
      const t1 = performance.now();
      const split = splitAtCollectives(scheduleCollectives(low.partitioned.graph).graph); // as Mesh.compile does
      for (const s of split.segments) lowerGraph(s.graph);
      const t2 = performance.now();
      samples.push({ tp: (t1 - t0) / 1000, lo: (t2 - t1) / 1000, eqns: low.partitioned.graph.eqns.length, segs: split.segments.length, coll: split.numCollectives });
    }
    const tp = median(samples.map((s) => s.tp));
    const lo = median(samples.map((s) => s.lo));
    rows.push({ devices: n, mesh: mesh.axisNames.map((a, i) => `${a}=${mesh.shape[i]}`).join(','), traceProp: tp, lower: lo, total: tp + lo, eqns: samples[0].eqns, segments: samples[0].segs, collectives: samples[0].coll });
  }
  return { model: `${L}-layer MLP training step (${2 * L} matmuls ${D}↔${H}, batch ${B}), data × model layout`, rows, ratio64to1: rows[rows.length - 1].total / rows[0].total };
}

// ------------------------------------------------------------------------------------ (c)

const RING: Record<string, (k: number, L: number) => number> = {
  all_reduce: (k, L) => (2 * (k - 1) / k) * L,
  reduce_scatter: (k, L) => ((k - 1) / k) * L,
  all_to_all: (k, L) => ((k - 1) / k) * L,
  all_gather: (k, L) => (k - 1) * L,
  collective_permute: (_k, L) => L,
};

interface KindBytes { count: number; operandBytes: number; ringBytes: number }
function countBytes(g: Graph): Record<string, KindBytes> {
  const out: Record<string, KindBytes> = {};
  const walk = (h: Graph) => {
    for (const e of h.eqns) {
      const sub = (e.params as { graph?: unknown }).graph;
      if (sub instanceof Graph) walk(sub);
      if (!isCollective(e.prim) || e.prim === 'axis_index') continue;
      const a = e.inputs[0].aval;
      const L = bytesOf(a.shape, a.dtype);
      const k = ((e.params as { axisSizes: number[] }).axisSizes ?? [1]).reduce((x, y) => x * y, 1);
      const r = (out[e.prim] ??= { count: 0, operandBytes: 0, ringBytes: 0 });
      r.count++;
      r.operandBytes += L;
      r.ringBytes += RING[e.prim](k, L);
    }
  };
  walk(g);
  return out;
}

function collectiveBytes() {
  const k = 4;
  const layouts: { layout: string; mesh: string; measured: Record<string, KindBytes>; expected: Record<string, KindBytes>; note: string }[] = [];
  // data-parallel training step: each gradient all-reduced once (+ the loss scalar)
  {
    const mesh = makeMeshShape({ data: k });
    const dims = [256, 512, 256];
    const p: Mlp = { w: dims.slice(1).map((d, i) => rand([dims[i], d], 20 + i)) };
    const rep = { w: p.w.map((w) => replicated(mesh, w.ndim)) };
    const f = jitSharded(sgdStep, { mesh, backend: 'spmd-reference', inShardings: [rep, P('data'), P('data')], outShardings: { p: rep, loss: P() } });
    const low = f.lower(p, rand([64, 256], 5), rand([64, 256], 6));
    const L = p.w.reduce((s, w) => s + bytesOf(w.shape, 'float32'), 0) + 4;
    layouts.push({ layout: 'data-parallel train step', mesh: `data=${k}`, measured: countBytes(low.partitioned.graph), expected: { all_reduce: { count: p.w.length + 1, operandBytes: L, ringBytes: RING.all_reduce(k, L) } }, note: 'MLP 256→512→256, batch 64: one all-reduce per gradient + the loss' });
  }
  // model-parallel Megatron MLP forward: one all-reduce of the [B, d] output
  {
    const mesh = makeMeshShape({ model: k });
    const B = 64, d = 256, h = 1024;
    const fwd = (x: Array, w1: Array, w2: Array) => np.add(x, mm(np.tanh(mm(x, w1)), w2));
    const f = jitSharded(fwd, { mesh, backend: 'spmd-reference', inShardings: [P(), P(null, 'model'), P('model', null)], outShardings: P() });
    const low = f.lower(rand([B, d], 7), rand([d, h], 8), rand([h, d], 9));
    const L = B * d * 4;
    layouts.push({ layout: 'model-parallel MLP forward', mesh: `model=${k}`, measured: countBytes(low.partitioned.graph), expected: { all_reduce: { count: 1, operandBytes: L, ringBytes: RING.all_reduce(k, L) } }, note: `Megatron block x[${B},${d}] → ${h} → ${d}: one all-reduce of the output` });
  }
  // expert-parallel MoE forward: dispatch and combine are one all-to-all each
  {
    const mesh = makeMeshShape({ expert: k });
    const G = 8, S = 16, d = 64, E = 4, C = 8, h = 128;
    const moe = (x: Array, dispatch: Array, w: Array) => {
      // x [G,S,d] · dispatch [G,S,E,C] → [E,G,C,d] (split on E), expert MLP, combine back to [G,S,d]
      const xe = lax.transpose(lax.dotGeneral(dispatch, x, { lhsContracting: [1], rhsContracting: [1], lhsBatch: [0], rhsBatch: [0] }), [1, 0, 2, 3]);
      const xc = withShardingConstraint(xe, P('expert', null, null, null), mesh);
      const he = np.tanh(lax.dotGeneral(xc, w, { lhsContracting: [3], rhsContracting: [1], lhsBatch: [0], rhsBatch: [0] })); // [E,G,C,h]
      const back = withShardingConstraint(lax.transpose(he, [1, 0, 2, 3]), P('expert', null, null, null), mesh); // [G,E,C,h]
      return lax.dotGeneral(dispatch, back, { lhsContracting: [2, 3], rhsContracting: [1, 2], lhsBatch: [0], rhsBatch: [0] }); // [G,S,h]
    };
    const disp = new Float32Array(G * S * E * C);
    const r = rng(11);
    for (let g = 0; g < G; g++) for (let s = 0; s < S; s++) { const e = Math.floor(r() * E), c = Math.floor(r() * C); disp[((g * S + s) * E + e) * C + c] = 1; }
    const f = jitSharded(moe, { mesh, backend: 'spmd-reference', inShardings: [P('expert'), P('expert'), P('expert')], outShardings: P('expert') });
    const low = f.lower(rand([G, S, d], 12), Array.fromData(disp, [G, S, E, C], 'float32'), rand([E, d, h], 13));
    const L1 = (E * G * C * d * 4) / k;
    const L2 = (E * G * C * h * 4) / k;
    layouts.push({ layout: 'expert-parallel MoE forward', mesh: `expert=${k}`, measured: countBytes(low.partitioned.graph), expected: { all_to_all: { count: 2, operandBytes: L1 + L2, ringBytes: RING.all_to_all(k, L1) + RING.all_to_all(k, L2) } }, note: `G=${G} groups × S=${S} tokens, E=${E} experts × C=${C} slots, d=${d}, h=${h}: dispatch [E,G,C,d] and combine [G,E,C,h] all-to-alls` });
  }
  return layouts;
}

// ------------------------------------------------------------------------------------ main

async function main() {
  const info = machineInfo();
  const load0 = loadAverage();
  console.log(`# bench:spmd on ${info.cpu} (${info.cores} cores), ${info.node}; load average ${load0}`);
  const tp = only.includes('a') ? await throughput() : null;
  const lm = only.includes('a') ? await lmThroughput() : null;
  if (tp) {
    console.log(`\n(a) data-parallel training-step throughput: ${tp.model}`);
    console.log(table(['setup', 'step (ms)', 'samples/s', 'GFLOP/s'], [
      ['jit, 1 ORT thread (main thread)', fmt(tp.jit1.stepS * 1000), fmt(tp.jit1.samplesPerS), fmt(tp.jit1.gflops)],
      ['Mesh data=1 (1 worker)', fmt(tp.mesh1.stepS * 1000), fmt(tp.mesh1.samplesPerS), fmt(tp.mesh1.gflops)],
      ['Mesh data=2 (2 workers)', fmt(tp.mesh2.stepS * 1000), fmt(tp.mesh2.samplesPerS), fmt(tp.mesh2.gflops)],
    ]));
    console.log(`speed-up 2 devices vs Mesh data=1: ${tp.speedupVsMesh1.toFixed(2)}×; vs jit: ${tp.speedupVsJit.toFixed(2)}× (target ≥ 1.7×)`);
    console.log('where a mesh step goes (ms, medians; slowest device): args → device, ONNX Runtime, collectives (incl. waiting), results → main');
    console.log(table(['setup', 'step', 'send', 'compute', 'collectives', 'return'], (['mesh1', 'mesh2'] as const).map((k) => {
      const b = tp.profile[k];
      return [k === 'mesh1' ? 'Mesh data=1' : 'Mesh data=2', fmt(b.wallMs), fmt(b.sendMs), fmt(b.computeMs), fmt(b.collectiveMs), fmt(b.returnMs)];
    })));
  }
  if (lm) {
    console.log(`\n(a) the same for a transformer LM training step: ${lm.model}`);
    console.log(table(['setup', 'step (ms)', 'tokens/s'], [
      ['one device (jit, 1 ORT thread)', fmt(lm.single.stepS * 1000), fmt(lm.single.tokensPerS)],
      ['Mesh data=2 (2 workers)', fmt(lm.mesh2.stepS * 1000), fmt(lm.mesh2.tokensPerS)],
    ]));
    console.log(`speed-up 2 devices vs one: ${lm.speedup.toFixed(2)}×`);
  }
  const ct = only.includes('b') ? compileTime() : null;
  if (ct) {
    console.log(`\n(b) compile time: ${ct.model}`);
    console.log(table(['devices', 'mesh', 'trace+prop+part (ms)', 'schedule+split+lower (ms)', 'total (ms)', 'eqns', 'segments', 'collectives'],
      ct.rows.map((r) => [String(r.devices), r.mesh, fmt(r.traceProp * 1000), fmt(r.lower * 1000), fmt(r.total * 1000), String(r.eqns), String(r.segments), String(r.collectives)])));
    console.log(`64-device / 1-device compile time: ${ct.ratio64to1.toFixed(2)}× (target ≤ 1.5×)`);
  }
  const cb = only.includes('c') ? collectiveBytes() : [];
  if (cb.length) console.log('\n(c) bytes moved per step (per device), measured from the per-device program vs analytic');
  const rows: string[][] = [];
  for (const l of cb) {
    const kinds = [...new Set([...Object.keys(l.measured), ...Object.keys(l.expected)])];
    for (const kind of kinds) {
      const m = l.measured[kind] ?? { count: 0, operandBytes: 0, ringBytes: 0 };
      const e = l.expected[kind] ?? { count: 0, operandBytes: 0, ringBytes: 0 };
      rows.push([`${l.layout} (${l.mesh})`, kind, String(m.count), String(e.count), String(m.operandBytes), String(e.operandBytes), String(Math.round(m.ringBytes)), String(Math.round(e.ringBytes))]);
    }
  }
  if (cb.length) console.log(table(['layout', 'collective', 'count', 'expected', 'operand B', 'expected', 'ring B/device', 'expected'], rows));
  for (const l of cb) console.log(`  ${l.layout}: ${l.note}`);
  const load1 = loadAverage();
  console.log(`\nload average before ${load0}, after ${load1}`);
  if (jsonFile) {
    writeFileSync(jsonFile, JSON.stringify({ machine: info, loadAverage: { before: load0, after: load1 }, quick, throughput: tp, lmThroughput: lm, compileTime: ct, collectiveBytes: cb }, null, 2) + '\n');
    console.log(`wrote ${jsonFile}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
