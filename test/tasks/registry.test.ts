// The seqio adapter: tasks per family variant, the Flan mixtures, and the examples the tasks stream
// (rendered prompts whose gold targets score as correct under each task's postprocessor).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteVocabulary, MixtureRegistry, TaskRegistry, type Example } from '../../src/data/seqio/index.js';
import { ALL_FAMILIES, HELD_OUT_CLUSTERS, getFamily } from '../../src/tasks/collection.js';
import {
  DEFAULT_SPLIT_SIZES, VARIANTS, flanRegistration, flanTaskName, getFlanMixture, getFlanTask, parseFlanTaskName, registerFlanTasks, taskSize, variantsOf,
} from '../../src/tasks/registry.js';
import { TaskError } from '../../src/tasks/errors.js';

function first(name: string, n: number, seed = 0, split: 'train' | 'validation' | 'test' = 'train'): Example[] {
  const out: Example[] = [];
  for (const ex of TaskRegistry.get(name).getDataset(split, { seed })) {
    out.push(ex);
    if (out.length >= n) break;
  }
  return out;
}

test('every family variant is a registered task; names round-trip', () => {
  const reg = flanRegistration();
  const want = ALL_FAMILIES.flatMap((f) => variantsOf(f).map((v) => flanTaskName(f.name, v)));
  assert.deepEqual(reg.tasks, want);
  assert.ok(want.length >= 2 * ALL_FAMILIES.length);
  for (const name of want) {
    assert.ok(TaskRegistry.has(name), name);
    const p = parseFlanTaskName(name);
    assert.ok(p && flanTaskName(p.family.name, p.variant) === name);
  }
  for (const f of ALL_FAMILIES) {
    const v = variantsOf(f);
    assert.ok(v.includes('zs_noopt') && v.includes('fs_noopt'));
    assert.equal(v.includes('zs_opt'), !!f.options);
    assert.equal(v.includes('zs_cot'), !!f.cot);
  }
  assert.deepEqual(VARIANTS, ['zs_noopt', 'fs_noopt', 'zs_opt', 'fs_opt', 'zs_cot', 'fs_cot']);
});

test('flan_train holds exactly the training clusters, flan_heldout exactly the held-out ones', () => {
  const train = MixtureRegistry.get('flan_train').tasks().map((t) => t.meta.cluster as string);
  const held = MixtureRegistry.get('flan_heldout').tasks().map((t) => t.meta.cluster as string);
  assert.ok(train.length > 0 && held.length > 0);
  for (const c of train) assert.ok(!HELD_OUT_CLUSTERS.includes(c as never), c);
  for (const c of held) assert.ok(HELD_OUT_CLUSTERS.includes(c as never), c);
  assert.equal(train.length + held.length, flanRegistration().tasks.length);
  assert.equal(MixtureRegistry.get('flan_all').tasks().length, flanRegistration().tasks.length);
  for (const t of MixtureRegistry.get('flan_cluster_arithmetic').tasks()) assert.equal(t.meta.cluster, 'arithmetic');
});

test('mixture rates are examples-proportional over task sizes', () => {
  const m = getFlanMixture('flan_cluster_phonetics');
  const rates = m.rates('train');
  const sizes = new Map(m.tasks().map((t) => [t.name, t.numExamples('train')]));
  const total = [...sizes.values()].reduce((a, b) => a + Math.min(b, m.cap ?? Infinity), 0);
  let sum = 0;
  for (const [name, r] of rates) {
    assert.ok(Math.abs(r - Math.min(sizes.get(name) as number, m.cap ?? Infinity) / total) < 1e-12, name);
    sum += r;
  }
  assert.ok(Math.abs(sum - 1) < 1e-12);
  // The homophone family holds fewer training words than the default size, so its rate is lower.
  const homophones = getFamily('cmu_homophones');
  assert.ok((homophones.capacity('train') as number) < DEFAULT_SPLIT_SIZES.train);
  assert.ok((rates.get('cmu_homophones_zs_noopt') as number) < (rates.get('cmu_syllable_count_zs_noopt') as number));
});

test('few-shot chain-of-thought examples: three exemplars, Flan separators, extractable answer, tokenized', () => {
  const task = getFlanTask('multistep_arithmetic_fs_cot');
  for (const ex of first('multistep_arithmetic_fs_cot', 5)) {
    const inputs = ex.inputs as string;
    assert.equal(inputs.split('\n\n\n').length, 4, inputs);
    assert.ok(inputs.endsWith('\n\n'));
    assert.match(ex.targets as string, /So the answer is -?\d+\.$|The final answer: -?\d+\.$/);
    assert.equal(task.postprocess(ex.targets as string), ex.answer);
    const ids = ex.targets_ids as number[];
    const vocab = task.outputFeatures.targets.vocabulary;
    assert.equal(ids[ids.length - 1], vocab.eosId);
    assert.equal(vocab.decode(ids), ex.targets);
    assert.notEqual((ex.inputs_ids as number[]).at(-1), vocab.eosId);
    assert.equal(ex.family, 'multistep_arithmetic');
    assert.equal(ex.variant, 'fs_cot');
  }
});

test('gold targets score as correct in every task (postprocess(targets) equals answer)', () => {
  for (const name of flanRegistration().tasks) {
    const task = getFlanTask(name);
    const p = parseFlanTaskName(name)!;
    for (const ex of first(name, 2, 0, 'validation')) {
      assert.equal(task.postprocess(ex.targets as string), ex.answer, `${name}: ${JSON.stringify(ex.targets)}`);
      if (p.variant.endsWith('_opt')) {
        const opts = ex.options as string[];
        const targets = ex.option_targets as string[];
        assert.equal(opts.length, targets.length);
        assert.ok(targets.includes(ex.targets as string), name);
        assert.ok((ex.inputs as string).includes('OPTIONS:'), name);
      }
      if (p.variant.startsWith('fs_')) assert.ok((ex.inputs as string).includes('\n\n\n'), name);
    }
  }
});

test('task streams are deterministic in the seed and resumable from a position', () => {
  const a = first('wordnet_synonyms_zs_opt', 6, 3);
  assert.deepEqual(first('wordnet_synonyms_zs_opt', 6, 3), a);
  assert.notDeepEqual(first('wordnet_synonyms_zs_opt', 6, 4).map((e) => e.inputs), a.map((e) => e.inputs));
  const it = TaskRegistry.get('navigate_zs_cot').getDataset('train', { seed: 1 })[Symbol.iterator]();
  for (let i = 0; i < 4; i++) it.next();
  const pos = JSON.parse(JSON.stringify(it.position));
  const next = it.next().value;
  const resumed = TaskRegistry.get('navigate_zs_cot').getDataset('train', { seed: 1, position: pos })[Symbol.iterator]().next().value;
  assert.deepEqual(resumed, next);
});

test('numExamples follows the configured sizes, capped by data capacity; re-registration applies options', () => {
  const t = getFlanTask('cmu_homophones_zs_noopt');
  assert.equal(t.numExamples('train'), taskSize(getFamily('cmu_homophones'), 'train'));
  assert.equal(getFlanTask('leap_year_zs_noopt').numExamples('test'), DEFAULT_SPLIT_SIZES.test);
  const vocab = new ByteVocabulary(10);
  try {
    registerFlanTasks({ sizes: { train: 40 }, vocabulary: vocab, fewShot: 2 });
    const small = getFlanTask('leap_year_fs_noopt');
    assert.equal(small.numExamples('train'), 40);
    assert.equal(first('leap_year_fs_noopt', 100).length, 40);
    assert.equal(small.outputFeatures.inputs.vocabulary, vocab);
    assert.equal(((first('leap_year_fs_noopt', 1)[0].inputs as string).split('\n\n\n').length), 3);
    assert.throws(() => registerFlanTasks({ sizes: { train: -1 } }), TaskError);
  } finally {
    registerFlanTasks();
  }
  assert.equal(getFlanTask('leap_year_fs_noopt').numExamples('train'), DEFAULT_SPLIT_SIZES.train);
});

test('unknown task and mixture names are errors listing close matches', () => {
  assert.throws(() => getFlanTask('leap_year_zs_nopt'), (e: Error) => e instanceof TaskError && /Did you mean: leap_year_zs_noopt/.test(e.message));
  assert.throws(() => getFlanMixture('flan_trian'), (e: Error) => e instanceof TaskError && /flan_train/.test(e.message));
});
