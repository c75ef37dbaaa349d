/**
 * BLEU against sacreBLEU 2.x: the values in its README and its test suite (test/test_bleu.py) —
 * corpus BLEU with two and with a variable number of references, each tokenizer, max n-gram orders
 * 1..6, floor/add-k/none smoothing, effective order, sufficient statistics, degenerate statistics —
 * plus the 13a tokenizer and the signature strings.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { corpusBleu, computeBleu, sentenceBleu, tokenize13a, bleuSignature, EvalError } from '../../src/eval/index.js';

const EPS = 1e-8;
const refs = [
  ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
  ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
];
const hyps = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];

function near(a: number, b: number, eps = EPS): void {
  assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);
}

test('README example: score, verbose line and signature', () => {
  const b = corpusBleu(hyps, refs);
  near(b.score, 48.530827);
  assert.equal(b.format(), 'BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)');
  assert.equal(b.signature, 'nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.4.0');
  assert.equal(corpusBleu(hyps, refs, { version: '2.0.0' }).signature, 'nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.0.0');
});

test('README example with a variable number of references', () => {
  const b = corpusBleu(hyps, [['', 'It was not unexpected.', 'The man bit him first.'], refs[1]]);
  assert.equal(b.format(true), 'BLEU|nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:2.4.0 = 29.44 82.4/42.9/27.3/12.5 (BP = 0.889 ratio = 0.895 hyp_len = 17 ref_len = 19)');
});

test('test_corpus_bleu cases', () => {
  near(corpusBleu(['', '', ''], refs).score, 0);
  near(corpusBleu(hyps, refs, { tokenize: 'none' }).score, 49.1919566);
  near(corpusBleu(hyps, refs, { tokenize: '13a' }).score, 48.530827);
  near(corpusBleu(hyps, refs, { tokenize: 'intl' }).score, 43.91623493);
  near(corpusBleu(hyps, refs, { smoothMethod: 'none' }).score, 48.530827);
});

test('test_max_ngram_order cases', () => {
  const expected = ['77.65', '60.50', '53.93', '48.53', '46.14', '43.28'];
  expected.forEach((e, k) => assert.equal(corpusBleu(hyps, refs, { maxNgramOrder: k + 1 }).score.toFixed(2), e));
});

// sacreBLEU's raw_corpus_bleu: floor smoothing, no tokenization, effective order.
const raw = (h: string[], r: string[][], smoothValue?: number) => corpusBleu(h, r, { tokenize: 'none', smoothMethod: 'floor', smoothValue, effectiveOrder: true }).score / 100;

test('test_raw_bleu, test_effective_order and test_offset cases', () => {
  near(raw(['this is a test', 'another test'], [['ref1', 'ref2']], 0.01), 0);
  near(raw(['this is a test'], [['this is a test']], 0.01), 1);
  near(raw(['this is a fest'], [['this is a test']], 0.01), 0.223606797749979);
  near(raw(['test'], [['a test']], 0.01), 0.3678794411714425);
  near(raw(['a test'], [['a test']], 0.01), 1);
  near(raw(['a little test'], [['a test']], 0.01), 0.03218297948685433);
  near(raw(['am I am a character sequence'], [['I am a symbol string sequence a a']], 0), 0);
  near(raw(['am I am a character sequence'], [['I am a symbol string sequence a a']]), 0.1555722182);
});

test('test_statistics, test_scoring and degenerate statistics', () => {
  const s = corpusBleu(['am I am a character sequence'], [['I am a symbol string sequence a a']], { tokenize: 'none', smoothMethod: 'floor', smoothValue: 0.01, effectiveOrder: true });
  assert.deepEqual(s.counts, [4, 2, 1, 0]);
  assert.deepEqual(s.totals, [6, 5, 4, 3]);
  near(computeBleu([9, 7, 5, 3], [10, 8, 6, 4], 11, 11).score / 100, 0.8375922397);
  const degenerate: Array<[number[], number[], number, number, number]> = [
    [[0, 0, 0, 0], [4, 4, 2, 1], 0, 1, 0.0],
    [[0, 0, 0, 0], [10, 11, 12, 0], 14, 10, 0.0],
    [[0, 0, 0, 0], [0, 0, 0, 0], 0, 0, 0.0],
    [[6, 5, 4, 0], [6, 5, 4, 3], 6, 6, 0.0],
    [[0, 0, 0, 0], [0, 0, 0, 0], 0, 0, 0.1],
    [[0, 0, 0, 0], [0, 0, 0, 0], 1, 5, 0.01],
  ];
  for (const [c, t, sys, ref, v] of degenerate) assert.equal(computeBleu(c, t, sys, ref, { smoothMethod: 'floor', smoothValue: v }).score / 100, 0);
});

test('add-k smoothing and sentence BLEU by hand', () => {
  // hyp "a b c d", ref "a b c e": unigrams 3/4, bigrams 2/3, trigrams 1/2, 4-grams 0/1.
  const exp = corpusBleu(['a b c d'], [['a b c e']]);
  near(exp.score, 100 * Math.exp((Math.log(3 / 4) + Math.log(2 / 3) + Math.log(1 / 2) + Math.log(1 / 2)) / 4));
  const addk = corpusBleu(['a b c d'], [['a b c e']], { smoothMethod: 'add-k' });
  near(addk.score, 100 * Math.exp((Math.log(3 / 4) + Math.log(3 / 4) + Math.log(2 / 3) + Math.log(1 / 2)) / 4));
  assert.equal(addk.signature, 'nrefs:1|case:mixed|eff:no|tok:13a|smooth:add-k[1.00]|version:2.4.0');
  const sent = sentenceBleu('a b', ['a b c']);
  near(sent.score, 100 * Math.exp(1 - 3 / 2));
  assert.equal(sent.signature.includes('eff:yes'), true);
  assert.equal(bleuSignature('1', { smoothMethod: 'floor', lowercase: true }), 'nrefs:1|case:lc|eff:no|tok:13a|smooth:floor[0.10]|version:2.4.0');
  near(corpusBleu(['THE DOG'], [['the dog']], { lowercase: true, maxNgramOrder: 2 }).score, 100);
});

test('13a tokenizer', () => {
  assert.equal(tokenize13a("It wasn't surprising."), "It wasn't surprising ."); // the apostrophe is not split
  assert.equal(tokenize13a('Costs $1,000.50 (approx.) -- see 3-4 &amp; more'), 'Costs $ 1,000.50 ( approx . ) -- see 3 - 4 & more');
  assert.equal(tokenize13a('a<skipped>b end-\nline'), 'ab endline');
  assert.equal(tokenize13a('x\u00a0y'), 'x y');
});

test('bad input', () => {
  assert.throws(() => corpusBleu(['a'], [['a', 'b']]), /1 hypotheses/);
  assert.throws(() => corpusBleu(['a'], []), EvalError);
  assert.throws(() => corpusBleu(['a'], [['']]), /no non-empty reference/);
  assert.throws(() => corpusBleu(['a'], [['a']], { smoothMethod: 'bogus' as never }), /unknown smoothMethod/);
  assert.throws(() => corpusBleu(['a'], [['a']], { tokenize: 'zh' as never }), /unknown tokenizer/);
});
