/**
 * The sparse model families: GLaM (decoder-only, MoE every other layer) and ST-MoE
 * (encoder-decoder, MoE every 4th layer) — parameter shapes and logical axes (the `expert` axis on
 * expert weights), the loss adding the averaged MoE losses with their coefficients, routing
 * metrics and the expert-load heatmap, the loss dropping on a fixed batch with jit + AdamW, the
 * decoder refusing expert choice (the encoder accepting it), KV-cache decoding equal to
 * recomputation (and never dropping tokens), task routing through `task_ids`, createModel
 * registration, a checkpoint round-trip of expert weights, and grouped dispatch equal to index
 * dispatch through a whole model (loss and gradients, jit).
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { Array, grad, jit, loadCheckpoint, makeGraph, np, optim, random, saveCheckpoint, tree, valueAndGrad } from '../../src/index.js';
import { moe, type MoeLayerModule, type MoeParams } from '../../src/nn/moe/index.js';
import { nn } from '../../src/nn/index.js';
import { models, type Batch, type GlamModel, type SparseBlockParams, type StMoeModel } from '../../src/models/index.js';
import { maxAbsDiff } from './helpers.js';

const { GLaM, STMoE, GLAM_PRESETS, ST_MOE_PRESETS } = models;

function ints(rows: number[][]): Array {
  return np.array(rows, { dtype: 'int32' });
}

/** A decoder-only LM batch from token rows (inputs = targets shifted right, start id 0). */
function lmBatch(rows: number[][]): Batch {
  return { decoder_input_tokens: ints(rows.map((r) => [0, ...r.slice(0, -1)])), decoder_target_tokens: ints(rows) };
}

function randomRows(seed: number, B: number, L: number, V: number): number[][] {
  const d = random.randint(random.key(seed), [B, L], 2, V).dataSync();
  return globalThis.Array.from({ length: B }, (_, b) => globalThis.Array.from(d.slice(b * L, (b + 1) * L), Number));
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-moe-models-'));
}

test('GLaM: MoE in every other layer, expert weights carry the expert axis, logits shape', () => {
  const m = GLaM({ ...GLAM_PRESETS.test, numLayers: 4 });
  assert.deepEqual(m.moeLayerNames, ['layers_1', 'layers_3']);
  const p = m.init(random.key(0));
  nn.checkAxes(p, m.axes());
  const table = nn.paramAxesTable(p, m.axes());
  assert.deepEqual(table.get('layers_1.moe.experts.wi_0.kernel'), { shape: [4, 16, 32], axes: ['expert', 'embed', 'mlp'] });
  assert.deepEqual(table.get('layers_1.moe.experts.wo.kernel'), { shape: [4, 32, 16], axes: ['expert', 'mlp', 'embed'] });
  assert.deepEqual(table.get('layers_1.moe.router.kernel'), { shape: [16, 4], axes: ['embed', 'unmodeled'] });
  assert.deepEqual(table.get('layers_0.mlp.wi_0.kernel')!.axes, ['embed', 'mlp']);
  assert.ok(!table.has('layers_0.moe.router.kernel') && !table.has('layers_1.mlp.wo.kernel'));
  // GLaM: gated GELU experts, RMSNorm (scale only), no biases anywhere
  assert.ok([...table.keys()].every((k) => !/\.bias$/.test(k)), 'no bias parameters');
  assert.deepEqual(Object.keys(p.layers_1.pre_mlp_layer_norm), ['scale']);
  const logits = m.apply(p, lmBatch(randomRows(1, 2, 8, 64)));
  assert.deepEqual(logits.shape, [2, 8, 64]);
  assert.throws(() => GLaM({ ...GLAM_PRESETS.test, numLayers: 1 }), /gives no MoE layer/);
  assert.deepEqual(GLaM({ ...GLAM_PRESETS.test, numLayers: 6, moeEvery: 3 }).moeLayerNames, ['layers_2', 'layers_5']);
  assert.throws(() => GLaM({ ...GLAM_PRESETS.test, bogus: 1 } as never), /unknown config field "bogus"/);
});

test('ST-MoE: MoE every 4th layer in both stacks, axes, logits shape; createModel registration', () => {
  const m = STMoE('test');
  assert.deepEqual(m.moeLayerNames, ['encoder/layers_3', 'decoder/layers_3']);
  const p = m.init(random.key(0));
  nn.checkAxes(p, m.axes());
  const table = nn.paramAxesTable(p, m.axes());
  assert.deepEqual(table.get('encoder.layers_3.moe.experts.wi_1.kernel')!.axes, ['expert', 'embed', 'mlp']);
  assert.deepEqual(table.get('decoder.layers_3.moe.experts.wo.kernel')!.axes, ['expert', 'mlp', 'embed']);
  assert.ok(table.has('decoder.layers_3.encoder_decoder_attention.query.kernel'));
  const rows = randomRows(2, 2, 6, 64);
  const logits = m.apply(p, { ...lmBatch(rows), encoder_input_tokens: ints(randomRows(3, 2, 7, 64)) });
  assert.deepEqual(logits.shape, [2, 6, 64]);
  assert.equal(models.createModel('st-moe:test').family, 'encdec');
  assert.equal(models.createModel({ family: 'glam', ...GLAM_PRESETS.test }).family, 'decoder');
  assert.equal((models.createModel('glam:tiny') as GlamModel).arch, 'glam');
  assert.throws(() => models.createModel('glam:nope'), /unknown preset "nope"/);
  assert.ok(Object.keys(ST_MOE_PRESETS).includes('tiny'));
});

test('loss = token loss + 1e-2 · mean aux + 1e-3 · mean z over MoE layers; metrics and the load heatmap', () => {
  const m = GLaM({ ...GLAM_PRESETS.test, numLayers: 4 });
  const p = m.init(random.key(4));
  const batch = lmBatch(randomRows(5, 2, 8, 64));
  const out = m.loss(p, batch, { train: true });
  const f = m.forward(p, batch, { train: true });
  const base = models.crossEntropyLoss(f.logits, batch.decoder_target_tokens, np.greater(batch.decoder_target_tokens, 0));
  const aux = (Number(f.moe[0].out.auxLoss.item()) + Number(f.moe[1].out.auxLoss.item())) / 2;
  const z = (Number(f.moe[0].out.zLoss.item()) + Number(f.moe[1].out.zLoss.item())) / 2;
  assert.ok(Math.abs(Number(out.loss.item()) - (Number(base.loss.item()) + 1e-2 * aux + 1e-3 * z)) < 1e-5);
  assert.ok(Math.abs(Number(out.metrics.moe_aux_loss.item()) - aux) < 1e-6);
  assert.ok(aux >= 1.99 && aux < 4, `top-2 aux loss is ≥ k = 2 (got ${aux})`);
  for (const k of ['moe_z_loss', 'moe_dropped_fraction', 'moe/layers_3/router_entropy', 'moe/layers_1/expert_load/3']) assert.ok(k in out.metrics, k);
  for (const v of Object.values(out.metrics)) assert.equal(v.ndim, 0, 'every metric is a scalar (the trainer logs them)');
  const numbers = Object.fromEntries(Object.entries(out.metrics).map(([k, v]) => [k, Number(v.item())]));
  const { layers, loads } = models.moeExpertLoads(numbers);
  assert.deepEqual(layers, ['layers_1', 'layers_3']);
  for (const row of loads) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  const dir = tmpDir();
  const files = models.writeMoeLoadHeatmap(path.join(dir, 'load.svg'), numbers);
  assert.match(fs.readFileSync(files.picture, 'utf8'), /<svg/);
  assert.deepEqual(JSON.parse(fs.readFileSync(files.json, 'utf8')).layers, ['layers_1', 'layers_3']);
  const summary = m.loss(p, batch, { moeMetrics: 'summary' }).metrics;
  assert.ok('moe_aux_loss' in summary && !('moe/layers_1/aux_loss' in summary));
  // coefficients are configurable; 0 removes the term
  const m0 = GLaM({ ...GLAM_PRESETS.test, numLayers: 4, auxLossCoef: 0, routerZLossCoef: 0 });
  assert.ok(Math.abs(Number(m0.loss(p, batch, { train: true }).loss.item()) - Number(base.loss.item())) < 1e-6);
});

/** Trains `steps` AdamW steps on one batch with a jitted valueAndGrad step; returns the losses. */
function trainFixed(model: GlamModel | StMoeModel, batch: Batch, steps: number, lr = 1e-2): number[] {
  const opt = optim.adamw(lr, { weightDecay: 0 });
  let params: unknown = model.init(random.key(0));
  let state = opt.init(params);
  const step = jit((p: unknown, s: unknown, b: Batch, key: Array) => {
    const [loss, g] = valueAndGrad((pp: unknown) => model.loss(pp as never, b, { train: true, key, moeMetrics: 'none' }).loss)(p);
    const [u, s2] = opt.update(g, s as never, p);
    return [optim.applyUpdates(p, u), s2, loss];
  });
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const [p2, s2, l] = step(params, state, batch, random.key(i)) as [unknown, never, Array];
    params = p2;
    state = s2;
    losses.push(Number(l.item()));
  }
  step.close();
  return losses;
}

test('the loss drops on a fixed batch (jit on the default backend, AdamW): GLaM and ST-MoE', () => {
  const rows = randomRows(6, 4, 8, 64);
  const g = trainFixed(GLaM('test'), lmBatch(rows), 25);
  assert.ok(g[g.length - 1] < 0.6 * g[0], `GLaM loss ${g[0]} → ${g[g.length - 1]}`);
  const s = trainFixed(STMoE('test'), { ...lmBatch(rows), encoder_input_tokens: ints(randomRows(7, 4, 8, 64)) }, 25);
  assert.ok(s[s.length - 1] < 0.6 * s[0], `ST-MoE loss ${s[0]} → ${s[s.length - 1]}`);
});

test('expert choice: refused in decoders (GLaM, ST-MoE decoder), accepted in the ST-MoE encoder', () => {
  assert.throws(() => GLaM({ ...GLAM_PRESETS.test, router: { kind: 'expert_choice' } }), /not allowed in a causal decoder/);
  assert.throws(() => STMoE({ ...ST_MOE_PRESETS.test, decoderRouter: { kind: 'expert_choice' } }), /decoder's router cannot be expert choice/);
  assert.throws(() => STMoE({ ...ST_MOE_PRESETS.test, router: { kind: 'expert_choice' } }), /decoder's router cannot be expert choice/);
  const m = STMoE({ ...ST_MOE_PRESETS.test, encoderRouter: { kind: 'expert_choice', capacityFactor: 2 } });
  const p = m.init(random.key(0));
  const batch = { ...lmBatch(randomRows(8, 2, 8, 64)), encoder_input_tokens: ints(randomRows(9, 2, 8, 64)) };
  const f = m.forward(p, batch);
  const enc = f.moe.find((l) => l.name === 'encoder/layers_3')!.out;
  assert.equal(Number(enc.auxLoss.item()), 0, 'expert choice has no load-balancing loss');
  assert.equal(Number(enc.metrics.expertUsage.item()), 1, 'every expert is filled to capacity');
  assert.ok(Number(m.loss(p, batch).loss.item()) > 0);
});

/** Logits of each position fed one at a time (after a prefill of `prefill` tokens) through decodeStep. */
function decodeLogits(model: GlamModel | StMoeModel, params: unknown, tokens: number[][], prefill: number, extra: Record<string, unknown> = {}): Array {
  const B = tokens.length;
  const L = tokens[0].length;
  let cache = model.initDecodeCache(params as never, { batch: B, maxLen: L, ...extra } as never);
  const step = jit((p: unknown, c: unknown, t: Array) => model.decodeStep(p as never, c as never, t));
  const parts: Array[] = [];
  const first = step(params, cache, ints(tokens.map((r) => r.slice(0, prefill))));
  parts.push(first.logits);
  cache = first.cache as never;
  for (let t = prefill; t < L; t++) {
    const r = step(params, cache, ints(tokens.map((row) => [row[t]])));
    parts.push(r.logits);
    cache = r.cache as never;
  }
  step.close();
  return np.concatenate(parts, 1);
}

test('KV-cache decoding equals recomputation (GLaM, task-routed GLaM, ST-MoE), with no dropped tokens', () => {
  const tokens = [[0, ...randomRows(10, 1, 9, 64)[0]], [0, ...randomRows(11, 1, 9, 64)[0]]];
  const m = GLaM({ ...GLAM_PRESETS.test, numLayers: 4 });
  const p = m.init(random.key(1));
  const f = m.forward(p, { decoder_input_tokens: ints(tokens) });
  for (const l of f.moe) assert.equal(Number(l.out.metrics.assignmentDropFraction!.item()), 0, 'the full pass drops nothing (E = 4, k = 2, eval cf 2 → C = S)');
  assert.ok(maxAbsDiff(decodeLogits(m, p, tokens, 1), f.logits) < 2e-5);
  assert.ok(maxAbsDiff(decodeLogits(m, p, tokens, 4), f.logits) < 2e-5);

  const t = GLaM({ ...GLAM_PRESETS.test, router: { kind: 'task', numTasks: 3, k: 2 } });
  const pt = t.init(random.key(2));
  const ids = np.array([2, 0], { dtype: 'int32' });
  const ft = t.apply(pt, { decoder_input_tokens: ints(tokens), task_ids: ids });
  assert.ok(maxAbsDiff(decodeLogits(t, pt, tokens, 1, { taskIds: [2, 0] }), ft) < 2e-5);
  assert.throws(() => t.initDecodeCache(pt, { batch: 2, maxLen: 4 }), /routes by task; pass \{ taskIds \}/);

  const s = STMoE('test');
  const ps = s.init(random.key(3));
  const enc = ints(randomRows(12, 2, 7, 64));
  const fs2 = s.apply(ps, { encoder_input_tokens: enc, decoder_input_tokens: ints(tokens) });
  assert.ok(maxAbsDiff(decodeLogits(s, ps, tokens, 1, { encoderInputTokens: enc }), fs2) < 2e-5);
});

test('decoding never drops tokens: a prefill equals the dropless full pass even when the full pass would drop', () => {
  const router = { kind: 'token_choice' as const, k: 2, evalCapacityFactor: 0.25, minCapacity: 1 };
  const m = GLaM({ ...GLAM_PRESETS.test, numExperts: 8, router });
  const dropless = GLaM({ ...GLAM_PRESETS.test, numExperts: 8, router: { ...router, dropless: true } });
  const p = m.init(random.key(5));
  const tokens = [[0, ...randomRows(13, 1, 11, 64)[0]]];
  const f = m.forward(p, { decoder_input_tokens: ints(tokens) });
  assert.ok(Number(f.moe[0].out.metrics.assignmentDropFraction!.item()) > 0, 'the capacity-limited full pass drops choices');
  const want = dropless.apply(p, { decoder_input_tokens: ints(tokens) });
  assert.ok(maxAbsDiff(decodeLogits(m, p, tokens, 12), want) < 2e-5, 'prefill of 12 tokens');
  assert.ok(maxAbsDiff(decodeLogits(m, p, tokens, 1), want) < 2e-5, 'one token at a time');
});

test('task routing: task_ids required, every token of an example goes to its task experts, generation with bound ids', () => {
  const m = GLaM({ ...GLAM_PRESETS.test, numExperts: 8, router: { kind: 'task', numTasks: 4, k: 2 } });
  const p = m.init(random.key(6));
  const batch = lmBatch(randomRows(14, 2, 8, 64));
  assert.throws(() => m.apply(p, batch), /needs task_ids/);
  assert.throws(() => m.apply(p, { ...batch, task_ids: np.array([1, 2, 3], { dtype: 'int32' }) }), /task_ids must be \[2\]/);
  const f = m.forward(p, { ...batch, task_ids: np.array([3, 3], { dtype: 'int32' }) });
  const load = f.moe[0].out.metrics.expertLoad.dataSync();
  const used = [...load].map((v, e) => [v, e]).filter(([v]) => v > 0).map(([, e]) => e);
  assert.equal(used.length, 2, `one task uses exactly k = 2 experts, got load ${[...load]}`);
  const a = m.apply(p, { ...batch, task_ids: np.array([0, 0], { dtype: 'int32' }) });
  const b = m.apply(p, { ...batch, task_ids: np.array([0, 1], { dtype: 'int32' }) });
  assert.ok(maxAbsDiff(lastRow(a, 0), lastRow(b, 0)) === 0 && maxAbsDiff(lastRow(a, 1), lastRow(b, 1)) > 0, 'a row depends on its own task id only');
  const r = models.generateTokens(models.bindTaskIds(m, [1, 2]), p, { prompts: [[5, 6], [7]] }, { maxNewTokens: 3 });
  assert.equal(r.tokens.length, 2);
});

function lastRow(a: Array, b: number): Array {
  return np.slice(a, [b, b + 1]);
}

test('checkpoint round-trip of expert weights (saveCheckpoint / loadCheckpoint)', () => {
  const m = STMoE('test');
  const p = m.init(random.key(7));
  const dir = tmpDir();
  saveCheckpoint(dir, { params: p, step: 3, extra: { model: { family: 'st-moe', ...models.stMoeSpec(m.config) } as never } });
  const ck = loadCheckpoint(dir);
  assert.equal(ck.step, 3);
  for (const [stack, name] of [['encoder', 'layers_3'], ['decoder', 'layers_3']] as const) {
    const want = (p[stack][name] as SparseBlockParams).moe!;
    const got = ck.params[stack][name].moe;
    for (const w of ['wi_0', 'wi_1', 'wo'] as const) {
      assert.deepEqual(got.experts[w].kernel.shape, want.experts[w]!.kernel.shape);
      assert.deepEqual([...got.experts[w].kernel.dataSync()], [...want.experts[w]!.kernel.dataSync()], `${stack}.${name}.${w} bit-exact`);
    }
    assert.deepEqual([...got.router.kernel.dataSync()], [...want.router.kernel.dataSync()]);
  }
  const rebuilt = models.createModel((ck.extra as { model: never }).model);
  const batch = { ...lmBatch(randomRows(15, 2, 5, 64)), encoder_input_tokens: ints(randomRows(16, 2, 5, 64)) };
  assert.ok(maxAbsDiff(rebuilt.apply(ck.params, batch), m.apply(p, batch)) < 1e-5, "the rebuilt model computes the same logits");
});

test('task routing, one task per example: the per-group expert path equals the dense dispatch (values and gradients, with padding)', () => {
  const D = 6;
  for (const table of [undefined, [[0, 3], [2, 1], [1, 0]]]) {
    const mk = (dispatch: 'dense' | 'index') =>
      moe.MoeLayer({ numExperts: 4, mlpDim: 5, activation: 'gated-gelu', dispatch, groupSize: moe.TASK_GROUP_DISPATCH_MIN, router: { kind: 'task', numTasks: 3, k: 2, table, renormalize: true } });
    const dense = mk('dense');
    const index = mk('index');
    const p = dense.init(random.key(1), D);
    if (p.router.task_embedding) p.router.task_embedding = np.multiply(p.router.task_embedding, 50);
    const x = random.normal(random.key(2), [3, 16, D]);
    const t = np.array([2, 0, 2], { dtype: 'int32' });
    // row 1 ends in padding, row 2 starts with a fully padded group
    const pm = ints(globalThis.Array.from({ length: 3 }, (_, b) => globalThis.Array.from({ length: 16 }, (_, i) => ((b === 1 && i > 12) || (b === 2 && i < 10) ? 0 : 1))));
    assert.ok(maxAbsDiff(dense.apply(p, x, { taskId: t, paddingMask: pm }).output, index.apply(p, x, { taskId: t, paddingMask: pm }).output) < 1e-6);
    const ct = random.normal(random.key(3), [3, 16, D]);
    const loss = (l: MoeLayerModule) => (pp: MoeParams, xx: Array) => {
      const o = l.apply(pp, xx, { taskId: t, paddingMask: pm, train: true });
      return np.add(np.sum(np.multiply(o.output, ct)), np.multiply(o.auxLoss, 0.1));
    };
    const ga = grad(loss(dense), { argnums: [0, 1] })(p, x) as [MoeParams, Array];
    const gb = grad(jit(loss(index)), { argnums: [0, 1] })(p, x) as [MoeParams, Array];
    assert.ok(maxAbsDiff(ga[1], gb[1]) < 1e-5, 'input gradients');
    for (const w of ['wi_0', 'wi_1', 'wo'] as const) assert.ok(maxAbsDiff(ga[0].experts[w]!.kernel, gb[0].experts[w]!.kernel) < 1e-5, `${w} gradients`);
    if (p.router.task_embedding) assert.ok(maxAbsDiff(ga[0].router.task_embedding, gb[0].router.task_embedding) < 1e-5, 'task-embedding gradients');
  }
});

test('grouped dispatch equals index dispatch through GLaM and ST-MoE (jitted loss and gradients)', () => {
  // 4 × 32 tokens, 4 experts, k = 2: 64 rows per expert on average, above GROUPED_DISPATCH_MIN_ROWS
  const rows = randomRows(50, 4, 32, 64);
  const glam = (dispatch: 'index' | 'grouped') => GLaM({ ...GLAM_PRESETS.test, numLayers: 2, dispatch });
  const st = (dispatch: 'index' | 'grouped') => STMoE({ ...ST_MOE_PRESETS.test, dispatch });
  const enc = { encoder_input_tokens: ints(rows), ...lmBatch(rows) };
  for (const [name, mk, batch] of [['GLaM', glam, lmBatch(rows)], ['ST-MoE', st, enc]] as const) {
    const [a, b] = [mk('index'), mk('grouped')];
    const p = a.init(random.key(51));
    const lossOf = (m: typeof a) => jit((pp: unknown) => valueAndGrad((q: unknown) => (m as GlamModel).loss(q as never, batch as Batch, { train: true, key: random.key(52) }).loss)(pp));
    const traced = makeGraph((pp: unknown) => (b as GlamModel).loss(pp as never, batch as Batch, { train: true, key: random.key(52) }).loss)(p);
    assert.ok(traced.eqns.some((e) => e.prim === 'ragged_dot'), `${name}: the grouped model runs grouped matmuls`);
    const [la, ga] = lossOf(a)(p) as [Array, unknown];
    const [lb, gb] = lossOf(b)(p) as [Array, unknown];
    assert.ok(Math.abs((la.item() as number) - (lb.item() as number)) < 1e-5, `${name}: losses ${la.item()} vs ${lb.item()}`);
    const lga = tree.leaves(ga) as Array[], lgb = tree.leaves(gb) as Array[];
    assert.equal(lga.length, lgb.length);
    lga.forEach((g, i) => assert.ok(maxAbsDiff(g, lgb[i]) < 1e-4, `${name}: gradient leaf ${i} differs by ${maxAbsDiff(g, lgb[i])}`));
  }
});
