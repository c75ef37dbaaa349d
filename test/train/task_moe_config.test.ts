/**
 * The shipped Task-MoE config (configs/task-moe-tiny.json) end to end, shortened to a few steps:
 * `myriad train` trains the task-routed GLaM on its Flan tasks with per-token cluster ids, logs
 * routing metrics and checkpoints; `myriad export --task <cluster>` on that checkpoint writes the
 * cluster's sub-network as ONNX, which plain onnxruntime-node runs with the full model's logits
 * for that task's tokens.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Array, np } from '../../src/index.js';
import { runTraining } from '../../src/train/index.js';
import { runExport } from '../../src/cli/export.js';
import { loadModelCheckpoint } from '../../src/export/model_checkpoint.js';
import { taskExperts } from '../../src/export/task_moe.js';
import type { GlamModel, GlamParams } from '../../src/models/index.js';
import { ByteTokenizer } from '../../src/data/tokenizer/byte.js';

test('configs/task-moe-tiny.json trains (3 steps), checkpoints, and exports one cluster\'s sub-network that ONNX Runtime runs', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-taskmoe-cfg-'));
  try {
    const raw = JSON.parse(fs.readFileSync('configs/task-moe-tiny.json', 'utf8'));
    raw.steps = 3;
    raw.optimizer.learningRate.warmupSteps = 1;
    raw.evalEvery = 0;
    raw.checkpointEvery = 0;
    raw.data.evalBatches = 1;
    raw.outDir = dir;
    const res = await runTraining(raw, { progress: 'none', output: { write: () => true } });
    assert.match(res.dataDescription, /per-token task ids \(meta\.cluster\[9\]\): arithmetic=0, symbolic_reasoning=1, temporal=2, string_manipulation=3, list_manipulation=4/);
    const log = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const steps = log.filter((r) => r.event === 'step');
    assert.ok(steps.length >= 1 && Object.keys(steps[0]).some((k) => /^moe\/layers_1\/expert_load\/\d+$/.test(k)), 'routing metrics are logged');
    assert.ok(log.some((r) => r.event === 'eval'), 'evaluated on held-out batches with task ids');
    assert.ok(fs.existsSync(path.join(dir, 'expert_load.svg')));

    const file = path.join(dir, 'arithmetic.onnx');
    const report = runExport({ checkpoint: dir, task: 'arithmetic', out: file, batch: 1, length: 24 });
    assert.equal(report.task!.id, 0);
    assert.equal(report.task!.name, 'arithmetic');
    const loaded = loadModelCheckpoint(dir);
    assert.equal(loaded.step, 3);
    const m = loaded.model as GlamModel;
    const p = loaded.params as GlamParams;
    assert.deepEqual(report.task!.layers.map((l) => l.experts), taskExperts(m, p, 0).map((l) => l.experts));
    assert.ok(report.paramCount.exported < report.paramCount.full);
    // phonetics (cluster id 8) is not in the config's data: refused unless asked for explicitly
    assert.throws(() => runExport({ checkpoint: dir, task: 'phonetics', out: path.join(dir, 'ph.onnx'), batch: 1, length: 24 }), /task id 8 never occurred in this checkpoint's training data \(it trained on arithmetic \(0\), .*--allow-untrained-task/);
    assert.equal(runExport({ checkpoint: dir, task: 'phonetics', out: path.join(dir, 'ph.onnx'), batch: 1, length: 24, allowUntrainedTask: true }).task!.id, 8);

    // An arithmetic prompt: the full model with every token's task id 0 vs the exported sub-network.
    const ids = new ByteTokenizer().encode('What is 17 mod 5? Answer:').slice(0, 24);
    while (ids.length < 24) ids.push(0);
    const toks = Array.fromData(Int32Array.from(ids), [1, 24], 'int32');
    const full = m.apply(p, { decoder_input_tokens: toks, decoder_task_ids: np.zeros([1, 24], 'int32') }).dataSync();
    const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
    try {
      const out = await session.run({ decoder_input_tokens: new ort.Tensor('int32', Int32Array.from(ids), [1, 24]) });
      const got = out.logits.data as Float32Array;
      assert.equal(got.length, full.length);
      let d = 0;
      for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - Number(full[i])));
      assert.ok(d < 1e-4, `ONNX sub-network vs full model: max |Δlogit| = ${d}`);
    } finally {
      await session.release();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a UDHR source with a task-routed model: each language is a task, and export resolves a language name', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-taskmoe-udhr-'));
  try {
    const cfg = {
      model: { family: 'glam', dModel: 32, numHeads: 2, headDim: 16, mlpDim: 64, numLayers: 2, numExperts: 4, router: { kind: 'task', numTasks: 3, k: 1 } },
      optimizer: { name: 'adamw', learningRate: 0.003 },
      data: { source: { kind: 'udhr', languages: ['eng', 'fra'] }, tokenizer: { kind: 'byte' }, sequenceLength: 32, batchSize: 4, evalBatches: 1 },
      steps: 2, evalEvery: 0, checkpointEvery: 0, seed: 0, outDir: dir, progress: 'none',
    };
    const res = await runTraining(cfg, { progress: 'none', output: { write: () => true } });
    assert.match(res.dataDescription, /one task per language; per-token task ids \(meta\.language\[2\]\): eng=0, fra=1/);
    const report = runExport({ checkpoint: dir, task: 'fra', out: path.join(dir, 'fra.onnx'), batch: 1, length: 16 });
    assert.equal(report.task!.id, 1);
    assert.equal(report.task!.name, 'fra');
    assert.throws(() => runExport({ checkpoint: dir, task: 'deu', out: path.join(dir, 'x.onnx'), batch: 1, length: 16 }), /--task deu: not a task of this checkpoint's training data \(eng=0, fra=1\)/);
    assert.throws(() => runExport({ checkpoint: dir, task: '2', out: path.join(dir, 'x.onnx'), batch: 1, length: 16 }), /task id 2 never occurred in this checkpoint's training data/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // one language is one task: refused, as is a Flan naming scheme
  const { parseTrainConfig } = await import('../../src/train/index.js');
  const base = { optimizer: { name: 'adamw', learningRate: 0.003 }, steps: 2, outDir: 'x' };
  const model = { family: 'glam', dModel: 32, numHeads: 2, headDim: 16, mlpDim: 64, numLayers: 2, numExperts: 4, router: { kind: 'task', numTasks: 3, k: 1 } };
  assert.throws(() => parseTrainConfig({ ...base, model, data: { source: { kind: 'udhr', languages: ['eng'] }, tokenizer: { kind: 'byte' }, sequenceLength: 32, batchSize: 4 } }), /a one-language "udhr" source/);
  assert.throws(() => parseTrainConfig({ ...base, model: { ...model, taskIds: 'cluster' }, data: { source: { kind: 'udhr', languages: ['eng', 'fra'] }, tokenizer: { kind: 'byte' }, sequenceLength: 32, batchSize: 4 } }), /each language is a task.*leave taskIds out/);
});
