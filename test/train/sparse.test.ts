// Sparse (MoE) model families train through the same config path as dense ones (`myriad train`),
// log per-layer routing metrics and write the layers × experts load map next to the loss curve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import '../../src/index.js'; // installs the eager evaluator and backends
import { runTraining, parseTrainConfig } from '../../src/train/index.js';

test('a GLaM config trains, logs MoE metrics and writes the expert-load heatmap', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-glam-'));
  try {
    const res = await runTraining({
      model: { family: 'glam', preset: 'test' },
      optimizer: { name: 'adamw', learningRate: 0.003 },
      data: { source: { kind: 'udhr', languages: ['eng'] }, tokenizer: { kind: 'byte' }, sequenceLength: 32, batchSize: 4, evalBatches: 1 },
      steps: 2, evalEvery: 0, checkpointEvery: 0, seed: 0, outDir: dir, progress: 'none',
    }, { progress: 'none', output: { write: () => true } });
    assert.ok(res);
    const log = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const step = log.find((r) => r.event === 'step');
    assert.ok(Object.keys(step).some((k) => /^moe\/.*\/aux_loss$/.test(k)), 'per-layer aux loss is logged');
    const svg = fs.readFileSync(path.join(dir, 'expert_load.svg'), 'utf8');
    assert.match(svg, /<svg[\s\S]*<\/svg>\s*$/);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'expert_load.json'), 'utf8'));
    assert.ok(json);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sparse configs are validated like dense ones', () => {
  assert.throws(() => parseTrainConfig({
    model: { family: 'glam' }, optimizer: { name: 'adamw', learningRate: 0.001 },
    data: { source: { kind: 'udhr' }, tokenizer: { kind: 'byte' }, sequenceLength: 32, batchSize: 4 }, steps: 1, outDir: 'x',
  }), /model\.dModel: required when no preset is given/);
});
