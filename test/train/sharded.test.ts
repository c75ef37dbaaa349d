// Sharded training (GSPMD): one full training step of the GLaM-style MoE model (test preset) on
// a 2×2 mesh — data × expert on the worker runtime, data × model on the SPMD reference
// interpreter — equals the single-device step (loss, metrics and every param after the AdamW
// update) within 2e-4·(1 + |x|); optimizer state is laid out like its params; a checkpoint saved
// from a 4-device run resumes on 1 device (and one from a 1-device run on 2 devices) with the
// same losses as the uninterrupted run.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Array, np, optim } from '../../src/index.js';
import { GLaM } from '../../src/models/index.js';
import { flatten } from '../../src/core/pytree.js';
import { leafPaths } from '../../src/optim/tree_utils.js';
import { Trainer, arrayBatchSource, type Batch } from '../../src/train/trainer.js';
import { defaultShardingRules, optStateShardings, parseMeshSpec, type ShardingOptions } from '../../src/train/sharded.js';
import { NamedSharding, makeMeshShape, shardingToString } from '../../src/distributed/sharding/index.js';
import { ConfigError, TrainError } from '../../src/train/errors.js';

const B = 4;
const L = 8;
const TOL = 2e-4;

function lmBatch(offset: number): Batch {
  const t = new Int32Array(B * L).map((_, i) => 3 + ((i * 5 + offset * 11 + ((i * i) % 7)) % 60));
  const inp = new Int32Array(B * L);
  for (let i = 0; i < B * L; i++) inp[i] = i % L === 0 ? 0 : t[i - 1];
  return { decoder_target_tokens: Array.fromData(t, [B, L], 'int32'), decoder_input_tokens: Array.fromData(inp, [B, L], 'int32') };
}

const model = GLaM('test');
const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-sharded-'));
  dirs.push(d);
  return d;
}
const trainers: Trainer[] = [];
after(async () => {
  for (const t of trainers) await t.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function make(outDir: string, steps: number, sharding?: ShardingOptions, resume = false): Trainer {
  const tr = new Trainer({
    model, optimizer: optim.chain(optim.clipByGlobalNorm(1), optim.adamw(1e-2)), data: arrayBatchSource([lmBatch(0), lmBatch(1), lmBatch(2)]),
    steps, outDir, seed: 5, progress: 'none', peakFlops: null, plots: false, sharding, resume, handleSignals: false,
  });
  trainers.push(tr);
  return tr;
}

function assertClose(got: unknown, want: unknown, what: string): void {
  const [g, gd] = flatten(got);
  const [w] = flatten(want);
  const paths = leafPaths(gd);
  assert.equal(g.length, w.length);
  let worst = 0;
  g.forEach((x, i) => {
    const a = (x as Array).dataSync();
    const b = (w[i] as Array).dataSync();
    assert.equal(a.length, b.length, `${what} ${paths[i]}`);
    for (let j = 0; j < a.length; j++) {
      const d = Math.abs(Number(a[j]) - Number(b[j])) / (1 + Math.abs(Number(b[j])));
      worst = Math.max(worst, d);
      assert.ok(d <= TOL, `${what} ${paths[i]}[${j}]: ${a[j]} vs ${b[j]}`);
    }
  });
}

let reference: { loss: number; metrics: Record<string, number>; params: unknown } | null = null;
async function single(): Promise<NonNullable<typeof reference>> {
  if (reference) return reference;
  const tr = make(tmp(), 1);
  const m = await tr.trainStepAsync();
  reference = { loss: m.loss, metrics: m.metrics, params: tr.params };
  return reference;
}

async function compare(sharding: ShardingOptions): Promise<Trainer> {
  const ref = await single();
  const tr = make(tmp(), 1, sharding);
  const m = await tr.trainStepAsync();
  assert.ok(Math.abs(m.loss - ref.loss) <= TOL * (1 + Math.abs(ref.loss)), `loss ${m.loss} vs ${ref.loss}`);
  for (const k of Object.keys(ref.metrics)) assert.ok(Math.abs(m.metrics[k] - ref.metrics[k]) <= TOL * (1 + Math.abs(ref.metrics[k])), `metric ${k}: ${m.metrics[k]} vs ${ref.metrics[k]}`);
  assertClose(tr.params, ref.params, 'param');
  return tr;
}

test('a GLaM training step on data=2 × expert=2 (worker runtime) equals the single-device step', async () => {
  const tr = await compare({ mesh: { data: 2, expert: 2 } });
  await tr.close();
});

test('a GLaM training step on data=2 × model=2 (SPMD reference) equals the single-device step', async () => {
  await compare({ mesh: { data: 2, model: 2 }, backend: 'spmd-reference' });
});

test('params, optimizer state and batch are laid out by the logical axis rules', async () => {
  const tr = make(tmp(), 1, { mesh: { data: 2, expert: 2 }, backend: 'spmd-reference' });
  await tr.trainStepAsync();
  const st = tr.sharded!;
  assert.deepEqual(st.batchAxes, [['data', 'expert']]);
  const [ps, pd] = flatten(st.paramShardings);
  const pp = leafPaths(pd);
  const expertLeaves = pp.filter((_, i) => shardingToString(ps[i] as never, { compact: true }).includes('expert'));
  assert.ok(expertLeaves.length >= 2, `expert-split params: ${expertLeaves.join(', ')}`);
  // AdamW's mu/nu mirror the params; the step count is replicated.
  const [os_, od] = flatten(st.optStateShardings);
  const op = leafPaths(od);
  const mu = op.findIndex((p) => p.endsWith(expertLeaves[0]) && /mu/.test(p));
  assert.ok(mu >= 0, op.join(', '));
  assert.equal(shardingToString(os_[mu] as never), shardingToString(ps[pp.indexOf(expertLeaves[0])] as never));
  const count = op.findIndex((p) => /count/.test(p));
  assert.ok(count >= 0);
  assert.equal((os_[count] as { dims: string[][] }).dims.flat().length, 0);
});

test('ZeRO option splits replicated Adam moments over data; default rules; --mesh parsing', () => {
  const mesh = makeMeshShape({ data: 2, model: 2 });
  const params = { w: np.zeros([4, 6]), b: np.zeros([3]) };
  const shard = { w: NamedSharding(mesh, [null, 'model']), b: NamedSharding(mesh, []) };
  const opt = optim.adamw(1e-3).init(params);
  const plain = flatten(optStateShardings(opt, params, shard, mesh))[0].map((s) => shardingToString(s as never, { compact: true }));
  const zero = flatten(optStateShardings(opt, params, shard, mesh, { zero: true }))[0].map((s) => shardingToString(s as never, { compact: true }));
  assert.ok(plain.some((s) => s === "P(None,'model')") && !plain.some((s) => s.includes('data')), plain.join(' '));
  assert.ok(zero.includes("P('data','model')"), zero.join(' '));
  assert.deepEqual(defaultShardingRules({ data: 2, expert: 2 }).find((r) => r[0] === 'expert'), ['expert', 'expert']);
  assert.deepEqual(defaultShardingRules({ data: 2 }).find((r) => r[0] === 'expert'), ['expert', null]);
  assert.deepEqual(defaultShardingRules({ data: 2, model: 2 }).find((r) => r[0] === 'mlp'), ['mlp', 'model']);
  assert.deepEqual(parseMeshSpec('data=2,model=2'), { data: 2, model: 2 });
  assert.throws(() => parseMeshSpec('data2'), ConfigError);
  assert.throws(() => parseMeshSpec('data=0'), ConfigError);
  assert.throws(() => parseMeshSpec('data=2,data=2'), ConfigError);
});

test('a checkpoint saved on 4 devices resumes on 1 device with the losses of the uninterrupted run (and 1 → 2)', async () => {
  const full = make(tmp(), 4);
  const want = (await full.run()).history.map((h) => h.loss);
  // 4 devices (data × expert, SPMD reference) for 2 steps, then 1 device
  const d1 = tmp();
  const a = make(d1, 4, { mesh: { data: 2, expert: 2 }, backend: 'spmd-reference' });
  const p1 = await a.run({ stopAtStep: 2 });
  const b = make(d1, 4, undefined, true);
  const p2 = await b.run();
  assert.equal(p2.startStep, 2);
  const got = [...p1.history, ...p2.history].map((h) => h.loss);
  got.forEach((l, i) => assert.ok(Math.abs(l - want[i]) <= TOL * (1 + Math.abs(want[i])), `step ${i + 1}: ${l} vs ${want[i]}`));
  // 1 device for 2 steps, then 2 devices (data=2, worker runtime)
  const d2 = tmp();
  const c = make(d2, 4);
  const q1 = await c.run({ stopAtStep: 2 });
  const d = make(d2, 4, { mesh: { data: 2 } }, true);
  const q2 = await d.run();
  await d.close();
  const got2 = [...q1.history, ...q2.history].map((h) => h.loss);
  got2.forEach((l, i) => assert.ok(Math.abs(l - want[i]) <= TOL * (1 + Math.abs(want[i])), `1→2 step ${i + 1}: ${l} vs ${want[i]}`));
  assert.notEqual(want[2], want[3]);
});

test('ZeRO-style optimizer sharding (AdamW moments split over data) gives the same step', async () => {
  const tr = await compare({ mesh: { data: 2 }, backend: 'spmd-reference', zero: true });
  const [os_] = flatten(tr.sharded!.optStateShardings);
  assert.ok(os_.some((s) => (s as { dims: string[][] }).dims.flat().includes('data')), 'some moment is split over data');
});

test('a model without axes() cannot be sharded; trainStep() on a mesh points to trainStepAsync()', async () => {
  const bare = { init: model.init, loss: model.loss };
  const tr = make(tmp(), 1, { mesh: { data: 2 }, backend: 'spmd-reference' });
  assert.throws(() => tr.trainStep(), (e: unknown) => e instanceof TrainError && /trainStepAsync/.test((e as Error).message));
  const t2 = new Trainer({ model: bare, optimizer: optim.adamw(1e-2), data: arrayBatchSource([lmBatch(0)]), steps: 1, outDir: tmp(), progress: 'none', peakFlops: null, plots: false, sharding: { mesh: { data: 2 }, backend: 'spmd-reference' } });
  await assert.rejects(t2.trainStepAsync(), (e: unknown) => e instanceof TrainError && /no axes\(\)/.test((e as Error).message));
});
