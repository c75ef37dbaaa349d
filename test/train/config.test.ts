// Train config validation: every bad config is refused with an error naming the field (its zod
// path) and what was expected; a good config gets its defaults filled in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import '../../src/index.js';
import { loadTrainConfig, parseTrainConfig, resolveModelSpec } from '../../src/train/config.js';
import { ConfigError } from '../../src/train/errors.js';
import { buildOptimizer, buildSchedule } from '../../src/train/run.js';

const good = () => ({
  model: { family: 'decoder', preset: 'tiny' },
  optimizer: { name: 'adamw', learningRate: { kind: 'warmup-cosine', peak: 1e-3, warmupSteps: 10 } },
  data: { source: { kind: 'udhr', languages: ['eng'] }, sequenceLength: 64, batchSize: 4 },
  steps: 100,
  outDir: 'runs/x',
});

/** Asserts that parsing fails with an issue at `path` whose message matches `re`. */
function rejects(cfg: unknown, path: string, re: RegExp): void {
  assert.throws(() => parseTrainConfig(cfg), (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    const hit = e.issues.find((i) => i.path === path);
    assert.ok(hit, `no issue at ${path}; issues: ${JSON.stringify(e.issues)}`);
    assert.match(hit.message, re);
    assert.ok(e.message.includes(`${path}:`), `message does not name ${path}: ${e.message}`);
    return true;
  });
}

test('a valid config gets its defaults', () => {
  const c = parseTrainConfig(good());
  assert.equal(c.seed, 0);
  assert.equal(c.evalEvery, 0);
  assert.equal(c.keepCheckpoints, 3);
  assert.deepEqual(c.data.tokenizer, { kind: 'byte' });
  assert.equal(c.data.pack, true);
  assert.equal(c.data.evalBatches, 16);
  assert.equal(c.optimizer.name, 'adamw');
  if (c.optimizer.name === 'adamw') assert.equal(c.optimizer.weightDecay, 1e-4);
  if (c.data.source.kind === 'udhr') assert.deepEqual(c.data.source.heldOutArticles, [26, 27, 28, 29, 30]);
  assert.deepEqual(c.loss, { zLoss: 1e-4, labelSmoothing: 0 });
});

test('missing and mistyped fields are named by their path', () => {
  const noSteps: Record<string, unknown> = good();
  delete noSteps.steps;
  rejects(noSteps, 'steps', /expected number/);
  rejects({ ...good(), steps: 2.5 }, 'steps', /int/);
  rejects({ ...good(), data: { ...good().data, batchSize: 0 } }, 'data.batchSize', />=\s*1|too small/i);
  rejects({ ...good(), seed: 'seven' }, 'seed', /expected number/);
});

test('unknown fields are rejected (typos cannot pass silently)', () => {
  rejects({ ...good(), model: { family: 'decoder', preset: 'tiny', dModl: 64 } }, 'model.dModl', /unknown field/);
  rejects({ ...good(), stepz: 3 }, 'stepz', /unknown field/);
});

test('discriminated unions name the discriminator and the options', () => {
  rejects({ ...good(), optimizer: { name: 'adamax', learningRate: 1e-3 } }, 'optimizer.name', /adamw.*adam.*sgd.*adafactor/);
  rejects({ ...good(), model: { family: 'rnn' } }, 'model.family', /decoder.*encdec/);
  rejects({ ...good(), data: { ...good().data, source: { kind: 'wiki' } } }, 'data.source.kind', /udhr/);
  rejects({ ...good(), model: { family: 'decoder', preset: 'huge' } }, 'model.preset', /tiny/);
});

test('errors inside a number-or-schedule union point into the schedule', () => {
  rejects({ ...good(), optimizer: { name: 'adamw', learningRate: { kind: 'warmup-cosine', peak: 1e-3, warmupSteps: -1 } } }, 'optimizer.learningRate.warmupSteps', />=\s*0|too small/i);
  rejects({ ...good(), optimizer: { name: 'sgd', learningRate: -0.1 } }, 'optimizer.learningRate', />\s*0|too small/i);
  rejects({ ...good(), optimizer: { name: 'sgd', learningRate: 'fast' } }, 'optimizer.learningRate', /number.*object|object.*number/);
});

test('cross-field rules name the field to fix', () => {
  const noLen = good();
  delete (noLen.data as Record<string, unknown>).sequenceLength;
  rejects(noLen, 'data.sequenceLength', /required for decoder-only/);
  rejects({ ...good(), model: { family: 'decoder', dModel: 32 } }, 'model.numHeads', /required when no preset/);
  rejects({ ...good(), model: { family: 'encdec', preset: 'tiny' } }, 'data.inputsLength', /required for encoder-decoder/);
  rejects({ ...good(), model: { family: 'encdec', preset: 'tiny' }, data: { source: { kind: 'udhr' }, inputsLength: 8, targetsLength: 8, batchSize: 4 } }, 'data.source.kind', /task.*mixture/);
  rejects({ ...good(), microbatches: 3 }, 'microbatches', /divide data.batchSize/);
});

test('loadTrainConfig reports unreadable files and bad JSON, and applies overrides', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-cfg-'));
  try {
    assert.throws(() => loadTrainConfig(path.join(dir, 'none.json')), (e: unknown) => e instanceof ConfigError && /cannot read/.test(e.message));
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"steps": 3,,}');
    assert.throws(() => loadTrainConfig(path.join(dir, 'bad.json')), (e: unknown) => e instanceof ConfigError && /not valid JSON/.test(e.message));
    fs.writeFileSync(path.join(dir, 'ok.json'), JSON.stringify(good()));
    const c = loadTrainConfig(path.join(dir, 'ok.json'), { steps: 7, outDir: 'elsewhere' });
    assert.equal(c.steps, 7);
    assert.equal(c.outDir, 'elsewhere');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('model specs merge the preset and take the vocabulary from the tokenizer', () => {
  const c = parseTrainConfig({ ...good(), model: { family: 'decoder', preset: 'tiny', numLayers: 3 } });
  const spec = resolveModelSpec(c.model, 259);
  assert.equal(spec.numLayers, 3);
  assert.equal(spec.dModel, 128);
  assert.equal(spec.vocabSize, 259);
  const small = parseTrainConfig({ ...good(), model: { family: 'decoder', preset: 'tiny', vocabSize: 100 } });
  assert.throws(() => resolveModelSpec(small.model, 259), (e: unknown) => e instanceof ConfigError && /model\.vocabSize/.test(e.message));
});

test('schedules and optimizers are built from their configs', () => {
  const sched = buildSchedule({ kind: 'warmup-cosine', peak: 1e-2, warmupSteps: 10, init: 0, end: 0 }, 100);
  assert.equal(typeof sched, 'function');
  const lr = (s: number) => Number((sched as (x: number) => { item(): number })(s).item());
  assert.ok(Math.abs(lr(10) - 1e-2) < 1e-7, `peak at the end of warm-up, got ${lr(10)}`);
  assert.ok(lr(5) < lr(10) && lr(50) < lr(10));
  assert.throws(() => buildSchedule({ kind: 'warmup-cosine', peak: 1e-2, warmupSteps: 100, init: 0, end: 0 }, 100), (e: unknown) => e instanceof ConfigError && /warmupSteps/.test(e.message));
  for (const o of [
    { name: 'adamw', learningRate: 1e-3 },
    { name: 'sgd', learningRate: 0.1, momentum: 0.9, clipGlobalNorm: 1 },
    { name: 'adafactor' },
  ]) {
    const c = parseTrainConfig({ ...good(), optimizer: o });
    const built = buildOptimizer(c.optimizer, c.steps);
    assert.equal(typeof built.optimizer.update, 'function');
    assert.ok(built.learningRate !== undefined);
  }
});
