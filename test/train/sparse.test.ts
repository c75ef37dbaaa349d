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

test('MFU of sparse models counts each expert weight at k/E (activated parameters)', async () => {
  const { activeParamScale, matmulParamCount } = await import('../../src/train/flops.js');
  const models = await import('../../src/models/index.js');
  const { evalShape } = await import('../../src/nn/module.js');
  const { random } = await import('../../src/index.js');
  const glam = models.GLaM('tiny');
  const scale = activeParamScale(glam);
  assert.ok(scale, 'a GLaM model has MoE layers');
  const E = glam.blocks.find((b) => b.moe)!.moe!.router.numExperts;
  assert.equal(scale('layers_1.moe.experts.wo.kernel'), 2 / E, 'top-2 of E experts');
  assert.equal(scale('layers_1.moe.router.kernel'), 1);
  assert.equal(scale('layers_0.mlp.wo.kernel'), 1);
  const p = evalShape((k: never) => glam.init(k), random.key(0));
  const full = matmulParamCount(p);
  const active = matmulParamCount(p, [], scale);
  const expert = matmulParamCount(p, [/^(?!.*\.moe\.experts\.)/]);
  assert.ok(expert > 0);
  assert.ok(Math.abs(active - (full - expert + (expert * 2) / E)) < 1e-6 * full, `${active} vs ${full} − ${expert}·(1 − 2/${E})`);
  const st = models.STMoE('tiny');
  const s2 = activeParamScale(st)!;
  const enc = st.encoderBlocks.find((b) => b.moe)!.moe!.router;
  assert.equal(s2('encoder.layers_3.moe.experts.wi_0.kernel'), Math.min(1, enc.expertsPerToken / enc.numExperts));
  assert.equal(activeParamScale(models.DecoderLM('tiny')), null, 'dense models are not scaled');
});
