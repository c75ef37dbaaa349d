/**
 * Task-MoE sub-network extraction: the extracted model (the task's experts merged into dense
 * MLPs, routers removed) equals the full task-routed model on that task's inputs (GLaM and
 * ST-MoE, learned task embeddings with k = 2 and k = 1, fixed tables); it is smaller and rebuilds
 * from its spec; non-task-routed or capacity-limited models and bad task ids are refused; and
 * `myriad export --task` (runExport) writes an ONNX file that plain `onnxruntime-node` runs,
 * without Myriad, with the same logits — from a checkpoint and from a fresh preset.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { Array, makeGraph, np, random } from '../../src/index.js';
import { dce } from '../../src/core/passes.js';
import type { Graph } from '../../src/core/ir.js';
import { models, type Batch, type GlamModel, type GlamParams } from '../../src/models/index.js';
import { extractTaskSubnetwork, resolveTaskId, taskExperts, type SparseModel } from '../../src/export/task_moe.js';
import { exportModelOnnx } from '../../src/export/onnx_model.js';
import { saveModelCheckpoint } from '../../src/export/model_checkpoint.js';
import { runExport, formatExportReport } from '../../src/cli/export.js';
import { maxAbsDiff } from './helpers.js';

const { GLaM, STMoE, GLAM_PRESETS, ST_MOE_PRESETS } = models;

function tokens(seed: number, B: number, L: number, V = 64): Array {
  return random.randint(random.key(seed), [B, L], 2, V);
}

function ids(...t: number[]): Array {
  return np.array(t, { dtype: 'int32' });
}

/** Params with the task embeddings scaled up, so tasks prefer distinct experts with distinct weights. */
function sharpen<P>(params: P): P {
  const walk = (t: unknown): unknown => {
    if (t instanceof Array) return t;
    if (t && typeof t === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(t)) out[k] = k === 'task_embedding' ? np.multiply(v as Array, 60) : walk(v);
      return out;
    }
    return t;
  };
  return walk(params) as P;
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-moe-extract-'));
}

function checkEqual(model: SparseModel, params: unknown, taskId: number, batch: Batch): ReturnType<typeof extractTaskSubnetwork> {
  const B = batch.decoder_input_tokens.shape[0];
  const full = model.apply(params as never, { ...batch, task_ids: ids(...globalThis.Array.from({ length: B }, () => taskId)) });
  const ex = extractTaskSubnetwork(model, params as never, taskId);
  const sub = ex.model.apply(ex.params as never, batch);
  const d = maxAbsDiff(full, sub);
  assert.ok(d <= 1e-5, `task ${taskId}: extracted logits differ from the full model's by ${d}`);
  return ex;
}

test('GLaM: the extracted sub-network equals the full model on its task (k = 2 and k = 1), is smaller and dense', () => {
  const m = GLaM({ ...GLAM_PRESETS.test, numLayers: 4, numExperts: 8, router: { kind: 'task', numTasks: 5, k: 2 } });
  const p = sharpen(m.init(random.key(0)));
  const batch = { decoder_input_tokens: tokens(1, 3, 10) };
  const choices = new Set<string>();
  for (const t of [0, 3, 4]) {
    const ex = checkEqual(m, p, t, batch);
    assert.deepEqual(ex.layers.map((l) => l.layer), ['layers_1', 'layers_3']);
    for (const l of ex.layers) {
      assert.equal(l.experts.length, 2);
      assert.ok(l.weights.every((w) => w > 0 && w < 1));
      choices.add(l.experts.join(','));
    }
    assert.equal(ex.model.moeLayerNames.length, 0, 'no MoE layer is left');
    assert.deepEqual((ex.model as GlamModel).config.layerMlpDims, [32, 64, 32, 64], 'MoE layers became dense MLPs of width k·f');
    const pp = ex.params as GlamParams;
    assert.ok(pp.layers_1.mlp && !pp.layers_1.moe, 'the router and the unused experts are gone');
    assert.ok(ex.paramCount.extracted < ex.paramCount.full / 2, `${ex.paramCount.extracted} vs ${ex.paramCount.full}`);
    const rebuilt = models.createModel(ex.spec);
    assert.ok(maxAbsDiff(rebuilt.apply(ex.params, batch), ex.model.apply(ex.params as never, batch)) < 1e-6);
  }
  assert.ok(choices.size > 1, 'different tasks use different experts');
  const m1 = GLaM({ ...GLAM_PRESETS.test, router: { kind: 'task', numTasks: 3, k: 1, renormalize: false } });
  const ex1 = checkEqual(m1, sharpen(m1.init(random.key(2))), 2, batch);
  assert.equal(ex1.layers[0].experts.length, 1);
  assert.deepEqual((ex1.model as GlamModel).config.layerMlpDims, [32, 32]);
});

test('ST-MoE and fixed task tables: extraction is exact; weights are the router probabilities (or 1/k)', () => {
  const s = STMoE({ ...ST_MOE_PRESETS.test, numExperts: 6, router: { kind: 'task', numTasks: 4, k: 2, renormalize: true } });
  const ps = sharpen(s.init(random.key(3)));
  const batch = { encoder_input_tokens: tokens(4, 2, 9), decoder_input_tokens: tokens(5, 2, 7) };
  const ex = checkEqual(s, ps, 1, batch);
  assert.deepEqual(ex.layers.map((l) => l.layer), ['encoder/layers_3', 'decoder/layers_3']);
  for (const l of ex.layers) assert.ok(Math.abs(l.weights[0] + l.weights[1] - 1) < 1e-6, 'renormalized weights sum to 1');
  const table = [[0, 3], [2, 1], [3, 0]];
  const g = GLaM({ ...GLAM_PRESETS.test, router: { kind: 'task', numTasks: 3, table } });
  const pg = g.init(random.key(6));
  const exg = checkEqual(g, pg, 1, { decoder_input_tokens: tokens(7, 2, 6) });
  assert.deepEqual(exg.layers[0], { layer: 'layers_1', experts: [2, 1], weights: [0.5, 0.5] });
  assert.deepEqual(taskExperts(g, pg, 2)[0].experts, [3, 0]);
});

/** The traced inference graph (what jit and the ONNX export lower) of `model.apply`. */
function inferenceGraph(model: SparseModel, params: unknown, batch: Batch): Graph {
  return dce(makeGraph((p: unknown, b: Batch) => model.apply(p as never, b))(params, batch));
}

function primCounts(g: Graph): Map<string, number> {
  const c = new Map<string, number>();
  for (const e of g.eqns) c.set(e.prim, (c.get(e.prim) ?? 0) + 1);
  return c;
}

/** Primitives of routing and dispatch (top-k choice, slot placement, scatter of expert outputs). */
const ROUTING_PRIMS = ['top_k', 'cumsum', 'scatter_add', 'argmax'];

test('the extracted model is as lean as a dense model: no routing ops, no float64, one k·f-wide matmul per merged projection', () => {
  // vocabulary 96, so no other matmul is k·f = 64 wide
  const m = GLaM({ ...GLAM_PRESETS.test, vocabSize: 96, numLayers: 4, numExperts: 8, router: { kind: 'task', numTasks: 5, k: 2 } });
  const p = sharpen(m.init(random.key(0)));
  const batch = { decoder_input_tokens: tokens(1, 2, 8) };
  const ex = extractTaskSubnetwork(m, p, 3);
  const full = primCounts(inferenceGraph(m, p, { ...batch, task_ids: ids(3, 3) }));
  const sub = inferenceGraph(ex.model, ex.params, batch);
  const counts = primCounts(sub);
  // the check can fail: the full model's graph has the routing primitives
  assert.ok(ROUTING_PRIMS.some((r) => (full.get(r) ?? 0) > 0), `the full model routes: ${[...full.keys()].join(', ')}`);
  for (const r of ROUTING_PRIMS) assert.equal(counts.get(r) ?? 0, 0, `the extracted graph has ${counts.get(r)} ${r}`);
  // a dense GLaM of the same widths, built directly, traces to the same program
  const dense = GLaM({ ...GLAM_PRESETS.test, vocabSize: 96, numLayers: 4, numExperts: 8, moeLayers: [], layerMlpDims: [32, 64, 32, 64] });
  assert.deepEqual([...counts].sort(), [...primCounts(inferenceGraph(dense, dense.init(random.key(1)), batch))].sort());
  // gathers: the token embedding and the relative-position bias only (the dense model's two)
  assert.equal(counts.get('gather') ?? 0, 2);
  const avals = [...sub.inputs, ...sub.consts, ...sub.eqns.flatMap((e) => e.outputs)].map((v) => v.aval);
  assert.ok(avals.every((a) => a.dtype !== 'float64'), 'no float64 value in the extracted graph');
  // each merged layer: its two input projections are ONE matmul of width k·f = 64 each (not k of width 32)
  const dots = sub.eqns.filter((e) => e.prim === 'dot_general').map((e) => e.outputs[0].aval.shape);
  assert.equal(dots.filter((sh) => sh[sh.length - 1] === 64).length, 4, `dot_general output shapes: ${JSON.stringify(dots)}`);
  // the merged weights are stored pre-merged as plain [d, k·f] / [k·f, d] arrays
  const mlp = (ex.params as GlamParams).layers_1.mlp as unknown as Record<string, { kernel: Array }>;
  assert.deepEqual(Object.fromEntries(Object.entries(mlp).map(([k, v]) => [k, v.kernel.shape])), { wo: [64, 16], wi_0: [16, 64], wi_1: [16, 64] });
  for (const w of Object.values(mlp)) assert.equal(w.kernel.dataSync().length, w.kernel.size);
});

test('the exported extracted ONNX graph holds no routing or dispatch node and no float64 tensor', () => {
  const m = GLaM({ ...GLAM_PRESETS.test, numLayers: 4, numExperts: 8, router: { kind: 'task', numTasks: 5, k: 2 } });
  const p = m.init(random.key(0));
  const ex = extractTaskSubnetwork(m, p, 1);
  const { onnx } = onnxProto;
  const opsOf = (bytes: Uint8Array) => {
    const g = onnx.ModelProto.decode(bytes).graph!;
    const doubles = [...g.initializer!.filter((t) => t.dataType === onnx.TensorProto.DataType.DOUBLE).map((t) => t.name),
      ...g.node!.filter((n) => n.opType === 'Cast' && n.attribute!.some((a) => a.name === 'to' && Number(a.i) === onnx.TensorProto.DataType.DOUBLE)).map((n) => n.name)];
    return { ops: new Set(g.node!.map((n) => n.opType!)), doubles };
  };
  const routing = ['TopK', 'CumSum', 'ScatterND', 'ScatterElements', 'GatherND', 'GatherElements', 'ArgMax'];
  const fullOps = opsOf(exportModelOnnx(m, p, { batch: 2, length: 8 }).bytes);
  assert.ok(routing.some((o) => fullOps.ops.has(o)), `the full model's export routes: ${[...fullOps.ops].join(', ')}`);
  const sub = opsOf(exportModelOnnx(ex.model, ex.params, { batch: 2, length: 8 }).bytes);
  assert.deepEqual(routing.filter((o) => sub.ops.has(o)), []);
  assert.deepEqual(sub.doubles, []);
});

test('extraction refuses models that do not route by task, capacity-limited task routing and bad task ids', () => {
  const tc = GLaM('test');
  assert.throws(() => extractTaskSubnetwork(tc, tc.init(random.key(0)), 0), /does not route by task/);
  const lim = GLaM({ ...GLAM_PRESETS.test, router: { kind: 'task', numTasks: 2, k: 2, dropless: false } });
  assert.throws(() => extractTaskSubnetwork(lim, lim.init(random.key(0)), 0), /dropless/);
  const t = GLaM({ ...GLAM_PRESETS.test, router: { kind: 'task', numTasks: 2, k: 2 } });
  assert.throws(() => extractTaskSubnetwork(t, t.init(random.key(0)), 2), /outside 0\.\.1/);
  assert.equal(resolveTaskId('arithmetic', 9, 'cluster'), 0);
  assert.equal(resolveTaskId('phonetics', 9, 'cluster'), 8);
  assert.equal(resolveTaskId('4', 9, null), 4);
  assert.throws(() => resolveTaskId('arithmetic', 9, null), /numeric task id/);
  assert.throws(() => resolveTaskId('arithmetik', 9, 'cluster'), /unknown cluster "arithmetik"/);
});

async function runOnnx(file: string, feeds: Record<string, Array>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) inputs[k] = new ort.Tensor('int32', Int32Array.from(v.dataSync() as Int32Array), v.shape);
    const out = await session.run(inputs);
    assert.deepEqual(session.outputNames, ['logits']);
    return out.logits.data as Float32Array;
  } finally {
    await session.release();
  }
}

function maxDiff(a: Float32Array, b: Array): number {
  const d = b.dataSync();
  assert.equal(a.length, d.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - d[i]));
  return m;
}

test('myriad export --checkpoint … --task: the ONNX file runs in plain onnxruntime-node with the full model\'s logits', async () => {
  const spec = { family: 'glam' as const, ...GLAM_PRESETS.test, numLayers: 4, router: { kind: 'task' as const, numTasks: 9, k: 2 }, taskIds: 'cluster' as const };
  const m = models.createModel(spec) as GlamModel;
  const p = sharpen(m.init(random.key(8)));
  const dir = tmpDir();
  saveModelCheckpoint(path.join(dir, 'checkpoints'), spec, p, { step: 12 });
  const file = path.join(dir, 'temporal.onnx');
  const report = runExport({ checkpoint: dir, task: 'temporal', out: file, batch: 2, length: 6 });
  assert.equal(report.task!.id, 2);
  assert.equal(report.task!.name, 'temporal');
  assert.match(formatExportReport(report), /task 2 \(temporal\)/);
  assert.deepEqual(report.inputs, [{ name: 'decoder_input_tokens', dtype: 'int32', shape: [2, 6] }]);
  const desc = JSON.parse(fs.readFileSync(report.descriptionFile, 'utf8'));
  assert.equal(desc.task.id, 2);
  assert.equal(desc.model.family, 'glam');
  const toks = tokens(9, 2, 6);
  const full = m.apply(p, { decoder_input_tokens: toks, task_ids: ids(2, 2) });
  const got = await runOnnx(file, { decoder_input_tokens: toks });
  assert.ok(maxDiff(got, full) < 1e-5, `ONNX vs full model: ${maxDiff(got, full)}`);
  assert.throws(() => runExport({ checkpoint: dir, task: '9', out: path.join(dir, 'x.onnx') }), /outside 0\.\.8/);
  assert.throws(() => runExport({ checkpoint: dir, preset: 'tiny', out: path.join(dir, 'x.onnx') }), /exactly one of --checkpoint/);
  assert.throws(() => runExport({ checkpoint: dir, out: path.join(dir, 'x.txt') }), /\.onnx/);
});

test('myriad export --preset st-moe:test --seed 0 --task: an encoder-decoder sub-network in plain onnxruntime-node', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'stmoe.onnx');
  const report = runExport({ preset: 'st-moe:test', seed: 0, task: '1', numTasks: 3, out: file, batch: 1, length: 5, inputsLength: 7 });
  assert.deepEqual(report.inputs.map((i) => i.name), ['encoder_input_tokens', 'decoder_input_tokens']);
  assert.ok(report.paramCount.exported < report.paramCount.full);
  const spec = { family: 'st-moe' as const, ...ST_MOE_PRESETS.test, router: { kind: 'task' as const, numTasks: 3, k: 2 } };
  const m = models.createModel(spec);
  const p = m.init(random.key(0));
  const enc = tokens(10, 1, 7);
  const dec = tokens(11, 1, 5);
  const full = m.apply(p, { encoder_input_tokens: enc, decoder_input_tokens: dec, task_ids: ids(1) });
  const got = await runOnnx(file, { encoder_input_tokens: enc, decoder_input_tokens: dec });
  assert.ok(maxDiff(got, full) < 1e-5, `ONNX vs full model: ${maxDiff(got, full)}`);
  // without --task: the whole (token-routed) preset
  const whole = runExport({ preset: 'glam:test', out: path.join(dir, 'glam.onnx'), length: 4 });
  assert.equal(whole.task, undefined);
  assert.equal(whole.outputs[0].name, 'logits');
});
