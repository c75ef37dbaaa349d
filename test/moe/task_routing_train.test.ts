/**
 * Task-routed (Task-MoE) models trained through the real data pipeline: `buildData` emits per-token
 * task ids (Flan cluster ids) for a mixture of Flan tasks, packed rows mix tasks, and every token
 * goes to its own task's experts — checked against a fixed task → experts table in a `myriad train`
 * step (the logged per-expert load), against a learned router's per-task experts (`taskExperts`),
 * and in both stacks of an ST-MoE encoder-decoder. Per-token ids agree with per-example `task_ids`
 * [B] on unpacked rows. Bad configs (a single-task source, task ids beyond `numTasks`) are
 * ConfigErrors naming the field.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Array, np, random } from '../../src/index.js';
import type { Batch, GlamModel, StMoeModel } from '../../src/models/index.js';
import { taskExperts } from '../../src/export/task_moe.js';
import { buildData, parseTrainConfig, resolveModelSpec, runTraining, ConfigError, type TrainConfigInput } from '../../src/train/index.js';
import { buildModel } from '../../src/train/run.js';

// Three clusters: arithmetic (id 0), temporal (2), list_manipulation (4).
const NAMES = ['modular_arithmetic_zs_noopt', 'day_of_week_zs_noopt', 'list_sum_zs_noopt', 'leap_year_zs_noopt'];
const TABLE = [[0, 1], [2, 3], [1, 2], [3, 0], [0, 2], [1, 3], [2, 0], [3, 1], [0, 3]];

function config(model: Record<string, unknown>, data: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): TrainConfigInput {
  const decoder = model.family === 'glam';
  return {
    model: model as never,
    optimizer: { name: 'adamw', learningRate: 0.003 },
    data: {
      source: { kind: 'tasks', names: NAMES },
      tokenizer: { kind: 'byte' },
      ...(decoder ? { sequenceLength: 128 } : { inputsLength: 48, targetsLength: 16 }),
      batchSize: 4,
      evalBatches: 0,
      ...data,
    } as never,
    steps: 1,
    outDir: 'unused',
    progress: 'none',
    ...extra,
  };
}

async function firstBatch(cfg: TrainConfigInput): Promise<Batch> {
  const c = parseTrainConfig(cfg);
  const data = await buildData(c, c.model.family === 'st-moe' ? 'encdec' : 'decoder');
  return data.train.open().next().value as Batch;
}

/** Expected per-expert share of dispatched assignments: each real token sends one to each of its task's experts. */
function expectedLoads(tids: Array, seg: Array, expertsOf: (t: number) => number[], E: number): { load: number[]; demand: number[]; tasksPerRow: number[] } {
  const t = tids.dataSync();
  const s = seg.dataSync();
  const [B, L] = tids.shape;
  const count = new globalThis.Array<number>(E).fill(0);
  let n = 0;
  let k = 0;
  const tasksPerRow: number[] = [];
  for (let b = 0; b < B; b++) {
    const seen = new Set<number>();
    for (let i = 0; i < L; i++) {
      if (s[b * L + i] === 0) continue;
      const ex = expertsOf(Number(t[b * L + i]));
      k = ex.length;
      for (const e of ex) count[e]++;
      n++;
      seen.add(Number(t[b * L + i]));
    }
    tasksPerRow.push(seen.size);
  }
  return { load: count.map((c) => c / (n * k)), demand: count.map((c) => c / n), tasksPerRow };
}

function close(got: number[], want: number[], what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `${what}[${i}]: ${got[i]} vs ${want[i]} (got ${got.map((x) => x.toFixed(4))}, want ${want.map((x) => x.toFixed(4))})`);
}

test('myriad train step on the real pipeline: every token goes to its own task\'s experts (fixed table)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-taskmoe-'));
  try {
    const model = { family: 'glam', preset: 'test', router: { kind: 'task', numTasks: 9, table: TABLE }, taskIds: 'cluster' };
    const cfg = config(model, {}, { outDir: dir, logEvery: 1 });
    const batch = await firstBatch(cfg);
    assert.deepEqual(batch.decoder_task_ids.shape, [4, 128]);
    const want = expectedLoads(batch.decoder_task_ids, batch.decoder_segment_ids, (t) => TABLE[t], 4);
    assert.ok(want.tasksPerRow.some((n) => n > 1), `packed rows mix tasks (tasks per row: ${want.tasksPerRow})`);
    assert.deepEqual(new Set(batch.decoder_task_ids.dataSync()).size > 2, true, 'several cluster ids occur');
    const res = await runTraining(cfg, { progress: 'none', output: { write: () => true } });
    assert.equal(res.dataDescription.includes('arithmetic=0, temporal=2, list_manipulation=4'), true, res.dataDescription);
    const log = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const step = log.find((r) => r.event === 'step' && r.step === 1);
    const got = [0, 1, 2, 3].map((e) => step[`moe/layers_1/expert_load/${e}`] as number);
    close(got, want.load, 'logged expert load');
    assert.equal(step['moe/layers_1/dropped_fraction'], 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('learned task router: per-expert demand equals the per-task experts; per-token ids agree with task_ids [B]', async () => {
  const cfgIn = config({ family: 'glam', preset: 'test', router: { kind: 'task', numTasks: 9, k: 2 }, taskIds: 'cluster' });
  const cfg = parseTrainConfig(cfgIn);
  const m = buildModel(resolveModelSpec(cfg.model, 259)) as GlamModel;
  // Scaled-up task embeddings: each task clearly prefers its own two experts.
  const p0 = m.init(random.key(3));
  const emb = p0.layers_1.moe!.router as { task_embedding: Array };
  emb.task_embedding = np.multiply(emb.task_embedding, 80);
  const batch = await firstBatch(cfgIn);
  const experts = new Map<number, number[]>();
  for (let t = 0; t < 9; t++) experts.set(t, taskExperts(m, p0, t)[0].experts);
  assert.ok(new Set([0, 2, 4].map((t) => experts.get(t)!.join())).size > 1, 'the used tasks do not all share experts');
  const want = expectedLoads(batch.decoder_task_ids, batch.decoder_segment_ids, (t) => experts.get(t)!, 4);
  const out = m.loss(p0, batch, { moeMetrics: 'full' });
  const demand = [0, 1, 2, 3].map((e) => Number(out.metrics[`moe/layers_1/expert_demand/${e}`].item()));
  close(demand, want.demand, 'expert demand');

  // Unpacked rows: one task per row, so per-example ids must give the same loss as per-token ones.
  const un = await firstBatch(config({ family: 'glam', preset: 'test', router: { kind: 'task', numTasks: 9, k: 2 }, taskIds: 'cluster' }, { pack: false }));
  const tid = un.decoder_task_ids.dataSync();
  const perRow = np.array([0, 1, 2, 3].map((b) => Number(tid[b * 128])), { dtype: 'int32' });
  const { decoder_task_ids: _drop, ...rest } = un;
  void _drop;
  const a = Number(m.loss(p0, un).loss.item());
  const b = Number(m.loss(p0, { ...rest, task_ids: perRow }).loss.item());
  assert.ok(Math.abs(a - b) < 1e-6, `per-token ${a} vs per-example ${b}`);
  // Routing really depends on the ids: another task's experts give another loss.
  const c = Number(m.loss(p0, { ...rest, task_ids: np.array([8, 8, 8, 8], { dtype: 'int32' }) }).loss.item());
  assert.ok(Math.abs(a - c) > 1e-4, 'task ids change the loss');
  assert.throws(() => m.loss(p0, rest), /needs task_ids \(int32 \[batch\], one per example\) or decoder_task_ids \(int32 \[batch, length\]/);
  assert.throws(() => m.loss(p0, { ...un, task_ids: perRow }), /both per-token decoder_task_ids and per-example task_ids/);
});

test('ST-MoE through the encoder-decoder converter: both stacks route each token by its task', async () => {
  const cfgIn = config({ family: 'st-moe', preset: 'test', router: { kind: 'task', numTasks: 9, table: TABLE }, taskIds: 'cluster' });
  const cfg = parseTrainConfig(cfgIn);
  const m = buildModel(resolveModelSpec(cfg.model, 259)) as StMoeModel;
  const p = m.init(random.key(1));
  const batch = await firstBatch(cfgIn);
  assert.deepEqual(batch.encoder_task_ids.shape, [4, 48]);
  const out = m.loss(p, batch, { moeMetrics: 'full' });
  assert.ok(Number.isFinite(Number(out.loss.item())));
  for (const stack of ['encoder', 'decoder'] as const) {
    const want = expectedLoads(batch[`${stack}_task_ids`], batch[`${stack}_segment_ids`], (t) => TABLE[t], 4);
    const got = [0, 1, 2, 3].map((e) => Number(out.metrics[`moe/${stack}/layers_3/expert_load/${e}`].item()));
    close(got, want.load, `${stack} expert load`);
  }
  const { encoder_task_ids: _e, ...noEnc } = batch;
  void _e;
  assert.throws(() => m.loss(p, noEnc), /come in pairs/);
});

test('bad task-routing configs are ConfigErrors naming the field', async () => {
  const glam = (router: Record<string, unknown>, taskIds?: string) => ({ family: 'glam', preset: 'test', router, ...(taskIds ? { taskIds } : {}) });
  const task = { kind: 'task', numTasks: 9, k: 2 };
  // A single-task source.
  assert.throws(() => parseTrainConfig(config(glam(task, 'cluster'), { source: { kind: 'task', name: 'list_sum_zs_noopt' } })),
    (e: unknown) => e instanceof ConfigError && /data\.source\.kind: model\.router routes by task/.test(e.message));
  assert.throws(() => parseTrainConfig(config(glam(task), { source: { kind: 'udhr', languages: ['eng'] }, mode: undefined })), /needs examples of several tasks/);
  // Several tasks, but one cluster.
  const oneCluster = config(glam(task, 'cluster'), { source: { kind: 'tasks', names: ['list_sum_zs_noopt', 'sort_numbers_zs_noopt'] } });
  await assert.rejects(buildData(parseTrainConfig(oneCluster), 'decoder'), (e: unknown) => e instanceof ConfigError && /data\.source: .*single task id by cluster \(all are cluster list_manipulation, id 4\)/.test(e.message));
  // …which is fine when tasks are numbered by their index in the source.
  const byIndex = await buildData(parseTrainConfig(config(glam(task), { source: { kind: 'tasks', names: ['list_sum_zs_noopt', 'sort_numbers_zs_noopt'] } })), 'decoder');
  assert.deepEqual([...byIndex.taskIds!.taskToId.values()], [0, 1]);
  // Ids beyond the router's numTasks.
  await assert.rejects(buildData(parseTrainConfig(config(glam({ kind: 'task', numTasks: 3, k: 2 }, 'cluster'))), 'decoder'),
    (e: unknown) => e instanceof ConfigError && /model\.router\.numTasks: 3 task ids \(0\.\.2\), but the data's task ids by cluster go up to 4 \(list_manipulation=4\); set numTasks to at least 5/.test(e.message));
  // An unknown task name.
  await assert.rejects(buildData(parseTrainConfig(config(glam(task, 'cluster'), { source: { kind: 'tasks', names: ['list_sum_zs_noopt', 'no_such_task'] } })), 'decoder'), /data\.source\.names\[1\]/);
  assert.throws(() => parseTrainConfig(config(glam(task), { source: { kind: 'tasks', names: ['a', 'a'] } })), /data\.source\.names: names a task twice/);
});
