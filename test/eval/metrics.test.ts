/**
 * Exact match and F1 with SQuAD v1.1 normalization, accuracy, WER and the Metric adapters, checked
 * against values computed by hand from the published definitions.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeSquad, exactMatch, squad, squadF1, accuracy, wer, werDetails, wordAlignment, bleu, chrfpp, corpusChrf, corpusBleu, toReferenceStreams, EvalError } from '../../src/eval/index.js';

test('SQuAD normalization: lowercase, punctuation, articles, whitespace', () => {
  assert.equal(normalizeSquad('The  Quick, brown fox!'), 'quick brown fox');
  assert.equal(normalizeSquad('An apple a day'), 'apple day');
  assert.equal(normalizeSquad('theater and thesis'), 'theater and thesis');
  assert.equal(normalizeSquad('the café'), 'café');
  assert.equal(normalizeSquad("l'the"), 'lthe'); // punctuation goes first, so this is no article
  assert.equal(normalizeSquad('A-the'), 'athe');
  assert.equal(normalizeSquad('\tThe\u00a0end.\n'), 'end');
});

test('exact match and F1, max over references, in percent', () => {
  assert.deepEqual(exactMatch(['The cat.', ['a dog', 'the hound'], 'x'], ['cat', 'Hound', 'y']), { exact_match: (100 * 2) / 3 });
  assert.ok(Math.abs(squadF1('the cat sat on the mat', 'a cat on a mat') - 6 / 7) < 1e-12);
  const s = squad([['a cat on a mat', 'cat sat'], 'Paris'], ['the cat sat on the mat', 'paris!']);
  // example 1: F1 max(6/7, 2/3 * ... ) -> vs "cat sat": P = 2/4, R = 1, F1 = 2/3; max = 6/7. EM 0. example 2: EM 1, F1 1.
  assert.ok(Math.abs(s.f1 - 100 * (6 / 7 + 1) / 2) < 1e-9);
  assert.equal(s.em, 50);
  assert.throws(() => exactMatch(['a'], []), /1 targets but 0 predictions/);
});

test('accuracy compares values strictly', () => {
  assert.deepEqual(accuracy([1, 'b', [1, 2], 4], [1, 'B', [1, 2], '4']), { accuracy: 50 });
  assert.deepEqual(accuracy([], []), { accuracy: 0 });
});

test('WER: substitutions, deletions, insertions over reference words', () => {
  assert.deepEqual(wordAlignment('the cat sat on the mat'.split(' '), 'the cat sit on mat'.split(' ')), { hits: 4, substitutions: 1, deletions: 1, insertions: 0, referenceWords: 6 });
  assert.deepEqual(wordAlignment(['hello', 'world'], ['hello', 'duck']), { hits: 1, substitutions: 1, deletions: 0, insertions: 0, referenceWords: 2 });
  assert.deepEqual(wordAlignment(['a'], ['x', 'y', 'a']), { hits: 1, substitutions: 0, deletions: 0, insertions: 2, referenceWords: 1 });
  const d = werDetails(['the cat sat on the mat', 'hello world'], ['the cat sit on mat', 'hello duck']);
  assert.equal(d.wer, (100 * 3) / 8); // corpus level: (2 + 1) / (6 + 2)
  assert.deepEqual(wer(['hello world'], ['']), { wer: 100 });
  assert.deepEqual(wer([['a b', 'a b c']], ['a b c']), { wer: 0 });
  assert.throws(() => wer([''], ['x']), EvalError);
});

test('BLEU/chrF adapters take per-example targets (string or list of references)', () => {
  const targets = [['The dog bit the man.', 'The dog had bit the man.'], ['It was not unexpected.', 'No one was surprised.'], ['The man bit him first.', 'The man had bitten the dog.']];
  const preds = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];
  assert.ok(Math.abs(bleu(targets, preds).bleu - 48.530827) < 1e-6);
  const streams = toReferenceStreams(targets, 'x');
  assert.equal(streams.length, 2);
  assert.equal(chrfpp(targets, preds).chrfpp, corpusChrf(preds, streams, { wordOrder: 2 }).score);
  assert.equal(bleu(['a b c d', ['x', 'a b c e']], ['a b c d', 'a b c e']).bleu, corpusBleu(['a b c d', 'a b c e'], [['a b c d', 'x'], ['', 'a b c e']]).score);
});
