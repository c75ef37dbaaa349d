/**
 * chrF / chrF++ against sacreBLEU 2.x: its README corpus example (chrF2 = 59.73), the values in its
 * test suite (test/test_chrf.py: epsilon smoothing, effective order, whitespace kept, sentence level),
 * the documented chrF and chrF++ examples of the Hugging Face `chrf` metric (which wraps sacreBLEU),
 * a small case computed by hand, and the signatures.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { corpusChrf, sentenceChrf, chrfWords, chrfFromStats } from '../../src/eval/index.js';

const EPS = 1e-4;
function near(a: number, b: number, eps = EPS): void {
  assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);
}

test('README corpus example: chrF2 = 59.73 with two references', () => {
  const refs = [
    ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
    ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
  ];
  const hyps = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];
  const s = corpusChrf(hyps, refs);
  assert.equal(s.format(), 'chrF2 = 59.73');
  assert.equal(s.signature, 'nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.4.0');
});

test('Hugging Face chrf examples: chrF, chrF++, chrF++ lowercased', () => {
  const p = ['The relationship between cats and dogs is not exactly friendly.', 'a good bookshop is just a genteel black hole that knows how to read.'];
  const r = [['The relationship between dogs and cats is not exactly friendly.', 'A good bookshop is just a genteel Black Hole that knows how to read.']];
  near(corpusChrf(p, r).score, 84.64214891738334, 1e-9);
  const pp = corpusChrf(p, r, { wordOrder: 2 });
  near(pp.score, 82.87263732906315, 1e-9);
  assert.equal(pp.name, 'chrF2++');
  assert.equal(pp.signature, 'nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.4.0');
  near(corpusChrf(p, r, { wordOrder: 2, lowercase: true }).score, 92.12853119829202, 1e-9);
});

test('test_chrf cases (beta 3, epsilon smoothing)', () => {
  const cases: Array<[string[], string[], number]> = [
    [['abcdefg'], ['hijklmnop'], 0.0],
    [['a'], ['b'], 0.0],
    [[''], ['b'], 0.0],
    [[''], ['ref'], 0.0],
    [[''], ['reference'], 0.0],
    [['aa'], ['ab'], 8.3333],
    [['a', 'b'], ['a', 'c'], 8.3333],
    [['a'], ['a'], 16.6667],
    [['a b c'], ['a b c'], 50.0],
    [['a b c'], ['abc'], 50.0],
    [[' risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .'],
      ['risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .'], 63.361730],
    [[' Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. '],
      ['Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.'], 64.1302698],
    [['Niemand hat die Absicht, eine Mauer zu errichten'], ['Niemand hat die Absicht, eine Mauer zu errichten'], 100.0],
  ];
  for (const [h, r, v] of cases) near(corpusChrf(h, [r], { beta: 3, epsSmoothing: true }).score, v);
});

test('test_chrf_eff_order cases (beta 3, effective order)', () => {
  const cases: Array<[string[], string[], number]> = [
    [['a'], ['a'], 100.0],
    [[''], ['reference'], 0.0],
    [['a b c'], ['a b c'], 100.0],
    [['a b c'], ['abc'], 100.0],
    [[''], ['c'], 0.0],
    [['a', 'b'], ['a', 'c'], 50.0],
    [['aa'], ['ab'], 25.0],
  ];
  for (const [h, r, v] of cases) near(corpusChrf(h, [r], { beta: 3 }).score, v);
});

test('test_chrf_keep_whitespace and sentence-level cases', () => {
  near(corpusChrf(['Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.'], [['Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.']], { beta: 3, whitespace: true }).score, 67.3481606);
  near(corpusChrf(['risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .'], [['risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .']], { beta: 3, whitespace: true }).score, 65.2414427);
  const sent: Array<[string, string, number]> = [
    ['Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.', 'Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.', 39.14078509],
    ['Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.', 'A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.', 31.22557079],
    ['Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.', 'Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.', 57.15704367],
  ];
  for (const [h, r, v] of sent) near(sentenceChrf(h, [r], { epsSmoothing: true }).score, v);
});

test('a small chrF++ case by hand', () => {
  // hyp "ab c", ref "ab d", char order 2, word order 1, beta 1, effective order.
  // chars (whitespace removed): hyp "abc", ref "abd": 1-grams 2/3 matched both ways, 2-grams {ab,bc} vs {ab,bd}: 1/2.
  // words: hyp {ab, c}, ref {ab, d}: 1/2. P = R = (2/3 + 1/2 + 1/2) / 3 = 5/9; F1 = 5/9.
  const s = corpusChrf(['ab c'], [['ab d']], { charOrder: 2, wordOrder: 1, beta: 1 });
  near(s.score, (100 * 5) / 9, 1e-12);
  assert.deepEqual(s.stats, [3, 3, 2, 2, 2, 1, 2, 2, 1]);
  assert.equal(s.name, 'chrF1+');
  near(chrfFromStats([3, 3, 2, 2, 2, 1, 2, 2, 1], 1, false), (100 * 5) / 9, 1e-12);
  assert.deepEqual(chrfWords('(hi) there, "x" a.'), ['(hi', ')', 'there', ',', '"x', '"', 'a', '.']);
  // Code points, not UTF-16 units: an astral character is one character n-gram.
  assert.deepEqual(corpusChrf(['😀a'], [['😀b']], { charOrder: 1 }).stats, [2, 2, 1]);
});
