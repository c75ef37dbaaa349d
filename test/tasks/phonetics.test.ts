// Independent checks of the CMU-dictionary families: every answer is checked against the
// package's own exported `dictionary` object (the families parse the module's text instead).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dictionary } from 'cmu-pronouncing-dictionary';
import { getFamily } from '../../src/tasks/collection.js';
import type { TaskExample } from '../../src/tasks/family.js';
import { loadCmuDict } from '../../src/tasks/data/cmudict.js';

function sample(name: string, n = 150): TaskExample[] {
  const f = getFamily(name);
  return [...f.generate('train', n, 6), ...f.generate('test', Math.ceil(n / 3), 6)];
}

const entry = (w: string): string => {
  const e = dictionary[w];
  assert.ok(e !== undefined, `'${w}' is not in the CMU dictionary`);
  return e;
};
const variants = (w: string): string[] => [entry(w), ...[2, 3, 4, 5].map((k) => dictionary[`${w}(${k})`]).filter((x): x is string => x !== undefined)];

/** Rhyme: the phones from the last vowel stressed 1 or 2 (else the last vowel), digits removed. */
function rhyme(pron: string): string {
  const phones = pron.split(' ');
  const lastWhere = (ok: (p: string) => boolean): number => {
    for (let i = phones.length - 1; i >= 0; i--) if (ok(phones[i])) return i;
    return -1;
  };
  let at = lastWhere((p) => p.endsWith('1') || p.endsWith('2'));
  if (at < 0) at = lastWhere((p) => /[0-9]$/.test(p));
  return phones.slice(at).join(' ').replace(/[0-9]/g, '');
}

test('the parsed dictionary agrees with the package export on every entry', () => {
  const parsed = loadCmuDict();
  const exported = new Map<string, string[]>();
  for (const [k, v] of Object.entries(dictionary)) {
    const base = k.replace(/\(\d+\)$/, '');
    const pron = v.replace(/ #.*$/, ''); // a few entries carry a comment after the phones
    const l = exported.get(base);
    if (l) l.push(pron); else exported.set(base, [pron]);
  }
  assert.equal(parsed.size, exported.size);
  for (const [w, prons] of parsed) {
    const want = exported.get(w) as string[];
    assert.deepEqual(prons.map((p) => p.join(' ')).sort(), want.slice().sort(), w);
    if (dictionary[w] !== undefined) assert.equal(prons[0].join(' '), dictionary[w].replace(/ #.*$/, ''), w);
  }
});

test('cmu_pronunciation: the answer is the word\'s only dictionary entry', () => {
  for (const ex of sample('cmu_pronunciation')) {
    assert.equal(ex.answer, entry(ex.fields.word));
    assert.equal(variants(ex.fields.word).length, 1);
    assert.match(ex.fields.word, /^[a-z]+$/);
  }
});

test('cmu_syllable_count: the answer counts the stress digits of the entry', () => {
  for (const ex of sample('cmu_syllable_count')) {
    assert.equal(ex.answer, String((entry(ex.fields.word).match(/[012]/g) ?? []).length), ex.fields.word);
  }
});

test('cmu_rhymes: the answer rhymes with the word and the distractors do not', () => {
  for (const ex of sample('cmu_rhymes')) {
    const r = rhyme(entry(ex.fields.word));
    assert.notEqual(ex.answer, ex.fields.word);
    assert.equal(rhyme(entry(ex.answer)), r, `${ex.fields.word} / ${ex.answer}`);
    for (const o of ex.options ?? []) if (o !== ex.answer) assert.notEqual(rhyme(entry(o)), r, `distractor ${o} rhymes with ${ex.fields.word}`);
  }
});

test('cmu_stress: the answer is the position of the primary-stress vowel', () => {
  const ORD = ['first', 'second', 'third', 'fourth', 'fifth'];
  for (const ex of sample('cmu_stress')) {
    const digits: string[] = entry(ex.fields.word).match(/[012]/g) ?? [];
    assert.equal(digits.filter((d) => d === '1').length, 1);
    assert.equal(ex.answer, ORD[digits.indexOf('1')], ex.fields.word);
    assert.equal(ex.fields.syllables, String(digits.length));
  }
});

test('cmu_homophones: the answer has the same entry, the distractors share no pronunciation', () => {
  for (const ex of sample('cmu_homophones')) {
    const p = entry(ex.fields.word);
    assert.notEqual(ex.answer, ex.fields.word);
    assert.equal(entry(ex.answer), p, `${ex.fields.word} / ${ex.answer}`);
    for (const o of ex.options ?? []) if (o !== ex.answer) assert.ok(!variants(o).includes(p), `distractor ${o} sounds like ${ex.fields.word}`);
  }
});
