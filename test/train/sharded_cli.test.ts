// `myriad train --config c.json --mesh data=2` end to end on a tiny decoder config (UDHR English,
// byte tokenizer): trains a few steps on 2 worker devices, evaluates, checkpoints; `--resume
// --mesh data=2,model=2` continues the run on another mesh shape; a bad mesh spec is refused.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import '../../src/index.js';
import { registerTrainCommands } from '../../src/cli/train.js';
import { ConfigError } from '../../src/train/errors.js';
import { loadTrainedModel } from '../../src/train/generate.js';
import { loadTrainConfig } from '../../src/train/config.js';

async function myriad(args: string[]): Promise<string> {
  let text = '';
  const program = new Command();
  program.exitOverride();
  registerTrainCommands(program, { stdout: { isTTY: false, write: (s: string) => (text += s) } });
  await program.parseAsync(args, { from: 'user' });
  return text;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-sharded-cli-'));
const outDir = path.join(dir, 'run');
const config = {
  model: { family: 'decoder', dModel: 16, numHeads: 2, headDim: 8, mlpDim: 32, numLayers: 1 },
  optimizer: { name: 'adamw', learningRate: 1e-2, clipGlobalNorm: 1 },
  data: { source: { kind: 'udhr', languages: ['eng'], heldOutArticles: [30] }, sequenceLength: 16, batchSize: 4, evalBatches: 1 },
  steps: 2,
  seed: 3,
  outDir,
  logEvery: 1,
};
const cfgFile = path.join(dir, 'tiny.json');
fs.writeFileSync(cfgFile, JSON.stringify(config, null, 2));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('myriad train --mesh data=2 trains on 2 devices; --resume on data=2,model=2 continues', async () => {
  const text = await myriad(['train', '--config', cfgFile, '--mesh', 'data=2']);
  const lines = text.trim().split('\n');
  const records = lines.slice(0, -1).map((l) => JSON.parse(l));
  const steps = records.filter((r) => r.event === 'step');
  assert.deepEqual(steps.map((r) => r.step), [1, 2]);
  const start = records.find((r) => r.event === 'start');
  assert.deepEqual(start.mesh, { data: 2 });
  assert.match(start.text, /on a mesh of 2 devices \(data=2\)/);
  for (const s of steps) assert.ok(Number.isFinite(s.loss) && s.loss > 0);
  // the end record says where the last mesh step's time went
  const end = records.find((r) => r.event === 'end');
  assert.ok(end.mesh_step_ms.compute > 0 && end.mesh_step_ms.collectives >= 0 && end.mesh_step_ms.wall >= end.mesh_step_ms.compute, JSON.stringify(end.mesh_step_ms));
  assert.match(end.text, /last mesh step \d+ ms: compute \(ONNX Runtime and fused kernels\) [\d.]+ ms, collectives \(incl\. waiting\) [\d.]+ ms/);
  assert.match(lines[lines.length - 1], /^completed at step 2: .*held-out loss \d+\.\d+/);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(outDir, 'config.json'), 'utf8')).mesh, { data: 2 });
  const text2 = await myriad(['train', '--config', cfgFile, '--steps', '3', '--resume', '--mesh', 'data=2,model=2']);
  const rec2 = text2.trim().split('\n').slice(0, -1).map((l) => JSON.parse(l));
  assert.deepEqual(rec2.filter((r) => r.event === 'step').map((r) => r.step), [3]);
  const run = loadTrainedModel(outDir);
  assert.equal(run.step, 3);
});

test('bad --mesh specs and sharding rules are refused with the field named', async () => {
  await assert.rejects(myriad(['train', '--config', cfgFile, '--mesh', 'data:2', '--overwrite']), (e: unknown) => e instanceof ConfigError && /axis=size/.test((e as Error).message));
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({ ...config, mesh: { data: 2 }, shardingRules: [['mlp', 'model']] }));
  assert.throws(() => loadTrainConfig(bad), (e: unknown) => e instanceof ConfigError && /shardingRules\[0\]\[1\]: mesh axis 'model' is not in the mesh/.test((e as Error).message));
});

test("myriad train on a mesh with an MoE model in 'grouped' dispatch: row partitions follow the data axis, or a note says what a mismatch costs", async () => {
  // unset groupedPartitions: set to the data axis, announced, recorded in the run's model spec
  const autoCfg = { ...config, model: { family: 'glam', preset: 'test', numLayers: 2, dispatch: 'grouped' }, steps: 1, outDir: path.join(dir, 'grouped-auto') };
  const autoFile = path.join(dir, 'grouped-auto.json');
  fs.writeFileSync(autoFile, JSON.stringify(autoCfg));
  const auto = await myriad(['train', '--config', autoFile, '--mesh', 'data=2']);
  assert.match(auto, /model\.groupedPartitions set to 2 \(the data axis of the mesh\)/);
  assert.ok(!/note: model\.dispatch/.test(auto));
  assert.equal(loadTrainedModel(autoCfg.outDir).record.model.groupedPartitions, 2);
  // an explicit mismatch is kept, with a note
  const moeCfg = { ...config, model: { family: 'glam', preset: 'test', numLayers: 2, dispatch: 'grouped', groupedPartitions: 1 }, steps: 1, outDir: path.join(dir, 'grouped') };
  const file = path.join(dir, 'grouped.json');
  fs.writeFileSync(file, JSON.stringify(moeCfg));
  const text = await myriad(['train', '--config', file, '--mesh', 'data=2']);
  const notes = text.trim().split('\n').slice(0, -1).map((l) => JSON.parse(l)).filter((r) => r.event === 'message' && /^note:/.test(r.text));
  assert.equal(notes.length, 1);
  assert.match(notes[0].text, /dispatch 'grouped' with groupedPartitions 1 keeps the MoE layers' expert rows whole.*set model\.groupedPartitions to a multiple of 2/);
  // one device, or row partitions matching the data axis: no note
  const one = await myriad(['train', '--config', file, '--overwrite']);
  assert.ok(!/note: model\.dispatch/.test(one));
  fs.writeFileSync(file, JSON.stringify({ ...moeCfg, model: { ...moeCfg.model, groupedPartitions: 2 } }));
  const parted = await myriad(['train', '--config', file, '--overwrite', '--mesh', 'data=2']);
  assert.ok(!/note: model\.dispatch/.test(parted));
  assert.match(parted.trim().split('\n').pop()!, /^completed at step 1/);
});
