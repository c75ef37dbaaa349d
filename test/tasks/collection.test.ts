// The collection as a whole: size (≥ 40 families, ≥ 8 clusters), templates (≥ 5 per family, some
// inverted, all renderable), deterministic generation, and disjoint train/validation/test splits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_FAMILIES, CLUSTERS, HELD_OUT_CLUSTERS, TRAIN_CLUSTERS, familiesInCluster, getFamily, isHeldOut } from '../../src/tasks/collection.js';
import { TaskError } from '../../src/tasks/errors.js';
import { COT_TEMPLATES, renderExample, templateFields } from '../../src/tasks/templates.js';
import { Rng, SPLITS } from '../../src/tasks/rng.js';

test('at least 40 families in at least 8 clusters, every cluster populated', () => {
  assert.ok(ALL_FAMILIES.length >= 40, `${ALL_FAMILIES.length} families`);
  assert.ok(CLUSTERS.length >= 8);
  for (const c of CLUSTERS) assert.ok(familiesInCluster(c).length >= 3, `cluster ${c} has ${familiesInCluster(c).length} families`);
  assert.equal(new Set(ALL_FAMILIES.map((f) => f.name)).size, ALL_FAMILIES.length);
  const sources = new Set(ALL_FAMILIES.map((f) => f.source));
  assert.deepEqual([...sources].sort(), ['cmudict', 'generated', 'udhr', 'wordnet']);
});

test('held-out clusters are whole clusters, disjoint from the training clusters', () => {
  assert.deepEqual([...HELD_OUT_CLUSTERS], ['symbolic_reasoning', 'phonetics']);
  assert.equal(TRAIN_CLUSTERS.length + HELD_OUT_CLUSTERS.length, CLUSTERS.length);
  for (const c of HELD_OUT_CLUSTERS) assert.ok(!TRAIN_CLUSTERS.includes(c));
  for (const f of ALL_FAMILIES) assert.equal(isHeldOut(f), HELD_OUT_CLUSTERS.includes(f.cluster));
  assert.ok(isHeldOut('boolean_expressions'));
  assert.ok(!isHeldOut('multistep_arithmetic'));
});

test('every family has at least 5 templates; every cluster has inverted ones', () => {
  for (const f of ALL_FAMILIES) {
    assert.ok(f.templates.length >= 5, `${f.name}: ${f.templates.length} templates`);
    assert.ok(f.templates.some((t) => !t.inverted && t.targets === '{answer}'), `${f.name} needs a plain answer template`);
    assert.equal(new Set(f.templates.map((t) => t.inputs)).size, f.templates.length, `${f.name} has duplicate templates`);
  }
  for (const c of CLUSTERS) assert.ok(familiesInCluster(c).some((f) => f.templates.some((t) => t.inverted)), `cluster ${c} has no inverted template`);
  const inverted = ALL_FAMILIES.flatMap((f) => f.templates.filter((t) => t.inverted));
  assert.ok(inverted.length >= 30, `${inverted.length} inverted templates`);
  for (const t of inverted) assert.ok(templateFields(t.inputs).includes('answer'), `inverted template should mention the answer: ${t.inputs}`);
});

test('every template, options variant and rationale renders for every family', () => {
  for (const f of ALL_FAMILIES) {
    for (const ex of f.generate('test', 6, 0)) {
      assert.equal(ex.family, f.name);
      assert.equal(ex.split, 'test');
      assert.ok(ex.answer.length > 0, `${f.name}: empty answer`);
      f.templates.forEach((template, i) => {
        const r = renderExample({ template, fields: ex.fields, answer: ex.answer, where: `${f.name}#${i}` });
        assert.ok(r.inputs.length > 0 && r.targets.length > 0, `${f.name}#${i}`);
      });
      const plain = f.templates.find((t) => !t.inverted && t.targets === '{answer}');
      if (f.options) {
        const opts = f.options(ex);
        assert.ok(opts.length >= 2 && opts.includes(ex.answer) && new Set(opts).size === opts.length, `${f.name} options ${opts}`);
        const r = renderExample({ template: plain!, fields: ex.fields, answer: ex.answer, options: opts, optionsMode: 'letters', rng: new Rng(ex.id) });
        assert.equal(r.options?.[r.optionTargets!.indexOf(r.targets)], ex.answer);
      } else assert.equal(ex.options, undefined);
      if (f.cot) {
        const rationale = f.cot(ex);
        assert.ok(rationale.length > 10, `${f.name} rationale`);
        const r = renderExample({ template: plain!, fields: ex.fields, answer: ex.answer, cot: { template: COT_TEMPLATES[0], rationale } });
        assert.ok(r.targets.endsWith(`So the answer is ${ex.answer}.`));
      } else assert.equal(ex.rationale, undefined);
    }
  }
});

test('generation is deterministic, prefix-stable and seed-dependent', () => {
  for (const f of ALL_FAMILIES) {
    const a = f.generate('train', 25, 1);
    assert.deepEqual(f.generate('train', 25, 1), a, `${f.name} not deterministic`);
    assert.deepEqual(f.generate('train', 10, 1), a.slice(0, 10), `${f.name} not prefix-stable`);
    assert.deepEqual([...take(f.stream('train', 1), 25)], a, `${f.name} stream differs from generate`);
    const b = f.generate('train', 25, 2);
    assert.notDeepEqual(b.map((e) => e.id), a.map((e) => e.id), `${f.name} ignores the seed`);
    assert.equal(new Set(a.map((e) => e.id)).size, a.length, `${f.name} repeats an example`);
  }
});

function* take<T>(it: Iterator<T>, n: number): Generator<T> {
  for (let i = 0; i < n; i++) {
    const r = it.next();
    if (r.done) return;
    yield r.value;
  }
}

test('train, validation and test never share an item', () => {
  for (const f of ALL_FAMILIES) {
    const cap = SPLITS.map((s) => f.capacity(s));
    const full = cap.every((c) => c !== undefined) && (cap as number[]).reduce((x, y) => x + y, 0) <= 10000;
    const keys = SPLITS.map((s, i) => new Set(f.generate(s, full ? (cap[i] as number) : s === 'train' ? 300 : 80, 0).map((e) => e.key)));
    for (let i = 0; i < 3; i++) for (let j = i + 1; j < 3; j++) {
      for (const k of keys[i]) assert.ok(!keys[j].has(k), `${f.name}: '${k}' is in ${SPLITS[i]} and ${SPLITS[j]}`);
    }
    if (cap[0] !== undefined) {
      const [tr, va, te] = cap as number[];
      const total = tr + va + te;
      assert.ok(Math.abs(tr / total - 0.8) < 0.05 && va > 0 && te > 0, `${f.name}: split sizes ${cap}`);
    }
  }
});

test('asking a data family for more examples than a split holds is an error', () => {
  const f = getFamily('cmu_homophones');
  const cap = f.capacity('test') as number;
  assert.equal(f.generate('test', cap, 0).length, cap);
  assert.throws(() => f.generate('test', cap + 1, 0), (e: Error) => e instanceof TaskError && /holds \d+ distinct records/.test(e.message));
  assert.throws(() => f.generate('dev' as 'test', 1), /unknown split 'dev'/);
  assert.throws(() => f.generate('test', -1), /non-negative integer/);
});

test('unknown family names are errors that suggest close matches', () => {
  assert.throws(() => getFamily('boolean_expresion'), (e: Error) => e instanceof TaskError && /Did you mean: boolean_expressions/.test(e.message));
  assert.throws(() => familiesInCluster('maths' as 'arithmetic'), /Unknown cluster 'maths'/);
});
