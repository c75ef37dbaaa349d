/**
 * The unigram trainer and the Viterbi encoder: requested vocabulary sizes are reached exactly,
 * training is deterministic, special/user-defined/byte pieces sit where they should, user-defined
 * symbols are never split, character coverage controls the alphabet, bad options fail clearly,
 * and Viterbi segmentation equals a brute-force search over all segmentations.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PieceType, SPACE_SYMBOL, SentencePieceTokenizer, TokenizerError, byteToPiece, trainUnigram, type ModelProto } from '../../src/data/tokenizer/index.js';
import { rng, udhrLines } from './helpers.js';

const corpus = udhrLines(['eng', 'fra', 'deu_1996', 'spa']);

function piecesOf(tok: SentencePieceTokenizer): string[] {
  return Array.from({ length: tok.vocabSize }, (_, i) => tok.idToPiece(i));
}

describe('unigram trainer', () => {
  it('reaches the requested vocabulary size exactly, with T5 special ids', () => {
    for (const vocabSize of [300, 800, 1500]) {
      const tok = trainUnigram(corpus, { vocabSize, normalization: 'identity' });
      assert.equal(tok.vocabSize, vocabSize);
      assert.equal(new Set(piecesOf(tok)).size, vocabSize, 'pieces must be distinct');
      assert.deepEqual([tok.idToPiece(0), tok.idToPiece(1), tok.idToPiece(2)], ['<pad>', '</s>', '<unk>']);
      assert.deepEqual([tok.padId, tok.eosId, tok.unkId, tok.bosId], [0, 1, 2, -1]);
      // Learned pieces come in order of decreasing score, as in spm_train output.
      for (let id = 4; id < vocabSize; id++) assert.ok(tok.getScore(id) <= tok.getScore(id - 1), `scores out of order at ${id}`);
    }
  });

  it('is deterministic: the same corpus and options give byte-identical models', () => {
    const opts = { vocabSize: 700, byteFallback: true, userDefinedSymbols: ['<extra_id_0>'] };
    const a = trainUnigram(corpus, opts).serialize();
    const b = trainUnigram([...corpus], opts).serialize();
    assert.ok(Buffer.from(a).equals(Buffer.from(b)));
  });

  it('places user-defined, control and byte pieces after the special ids and never splits user symbols', () => {
    const syms = Array.from({ length: 5 }, (_, i) => `<extra_id_${i}>`);
    const text = corpus.map((l, i) => (i % 3 === 0 ? `${l} <extra_id_${i % 5}>` : l));
    const tok = trainUnigram(text, { vocabSize: 900, byteFallback: true, userDefinedSymbols: syms, controlSymbols: ['<2de>'], normalization: 'identity' });
    assert.equal(tok.idToPiece(3), '<2de>');
    assert.equal(tok.pieceType(3), PieceType.CONTROL);
    syms.forEach((s, i) => {
      assert.equal(tok.idToPiece(4 + i), s);
      assert.equal(tok.pieceType(4 + i), PieceType.USER_DEFINED);
    });
    for (let b = 0; b < 256; b++) {
      assert.equal(tok.idToPiece(9 + b), byteToPiece(b));
      assert.equal(tok.pieceType(9 + b), PieceType.BYTE);
    }
    // No learned piece contains a fragment of a user symbol.
    for (const p of piecesOf(tok).slice(265)) assert.ok(!p.includes('extra_id') && !p.includes('<') && !p.includes('>'), p);
    for (const s of ['a<extra_id_0>b', '<extra_id_3><extra_id_3>', 'word<extra_id_4>', ' <extra_id_1> x']) {
      const pieces = tok.encodeAsPieces(s);
      const n = (s.match(/<extra_id_\d>/g) ?? []).length;
      assert.equal(pieces.filter((p) => syms.includes(p)).length, n, `${s} → ${pieces.join(' ')}`);
      assert.equal(tok.decode(tok.encode(s)), s.trim());
    }
    // A control symbol in text is ordinary text, not the control id.
    assert.ok(!tok.encode('<2de> Haus').includes(3));
  });

  it('keeps the characters covering characterCoverage of the text', () => {
    const rare = [...corpus, 'ǂ ǃ ʘ', 'ǂǃ'];
    const singles = (tok: SentencePieceTokenizer) => piecesOf(tok).filter((p, id) => tok.pieceType(id) === PieceType.NORMAL && [...p].length === 1 && p !== SPACE_SYMBOL);
    const full = trainUnigram(rare, { vocabSize: 600, characterCoverage: 1, normalization: 'identity' });
    const partial = trainUnigram(rare, { vocabSize: 600, characterCoverage: 0.98, normalization: 'identity' });
    assert.ok(singles(full).includes('ǂ') && singles(full).includes('ʘ'));
    assert.ok(!singles(partial).includes('ǂ'));
    assert.ok(singles(partial).length < singles(full).length);
    assert.ok(partial.encode('ʘ').includes(partial.unkId));
  });

  it('fails clearly on bad options and on corpora too small for the vocabulary', () => {
    assert.throws(() => trainUnigram(corpus, { vocabSize: 100000, normalization: 'identity' }), /Vocabulary size too high \(100000\): the corpus supports at most \d+ pieces/);
    const soft = trainUnigram(corpus.slice(0, 40), { vocabSize: 100000, hardVocabLimit: false, normalization: 'identity' });
    assert.ok(soft.vocabSize < 100000 && soft.vocabSize > 100);
    assert.throws(() => trainUnigram(corpus, { vocabSize: 20, normalization: 'identity' }), /smaller than the alphabet plus meta pieces/);
    assert.throws(() => trainUnigram(corpus, { vocabSize: 500, characterCoverage: 0.5 }), /characterCoverage must be in \[0.98, 1\]/);
    assert.throws(() => trainUnigram(corpus, { vocabSize: 0 }), /vocabSize must be an integer/);
    assert.throws(() => trainUnigram(corpus, { vocabSize: 500, padId: 1 }), /padId=1 is already used by <\/s>/);
    assert.throws(() => trainUnigram(corpus, { vocabSize: 500, unkId: -1 }), /unkId must be defined/);
    assert.throws(() => trainUnigram(['', ''], { vocabSize: 500 }), TokenizerError);
  });
});

describe('Viterbi segmentation', () => {
  /** Best segmentation by exhaustive search: [pieces, score], pieces from `vocab`. */
  function bruteForce(s: string, vocab: Map<string, number>): [string[], number] {
    let best: [string[], number] = [[], -Infinity];
    const go = (i: number, acc: string[], score: number): void => {
      if (i === s.length) {
        if (score > best[1]) best = [[...acc], score];
        return;
      }
      for (let j = i + 1; j <= s.length; j++) {
        const sc = vocab.get(s.slice(i, j));
        if (sc !== undefined) { acc.push(s.slice(i, j)); go(j, acc, score + sc); acc.pop(); }
      }
    };
    go(0, [], 0);
    return best;
  }

  it('finds the maximum-score segmentation (checked against exhaustive search)', () => {
    const next = rng(99);
    const alphabet = [SPACE_SYMBOL, 'a', 'b', 'c', 'd'];
    const vocab = new Map<string, number>();
    for (const ch of alphabet) vocab.set(ch, Math.fround(-5 - 5 * next()));
    while (vocab.size < 60) {
      const len = 2 + Math.floor(next() * 4);
      let p = '';
      for (let k = 0; k < len; k++) p += alphabet[Math.floor(next() * alphabet.length)];
      if (!vocab.has(p)) vocab.set(p, Math.fround(-1 - 10 * next()));
    }
    const proto: ModelProto = {
      pieces: [{ piece: '<unk>', score: 0, type: PieceType.UNKNOWN }, ...[...vocab].map(([piece, score]) => ({ piece, score }))],
      trainerSpec: { unkId: 0, bosId: -1, eosId: -1 },
      normalizerSpec: { name: 'identity', addDummyPrefix: true, removeExtraWhitespaces: false },
    };
    const tok = new SentencePieceTokenizer(proto);
    for (let t = 0; t < 300; t++) {
      const len = 1 + Math.floor(next() * 9);
      let s = '';
      for (let k = 0; k < len; k++) s += 'abcd '[Math.floor(next() * 5)];
      const norm = tok.normalize(s);
      const [want, bestScore] = bruteForce(norm, vocab);
      const got = tok.encodeAsPieces(s);
      assert.equal(got.join(''), norm);
      const score = got.reduce((acc, p) => acc + vocab.get(p)!, 0);
      // Equal scores (e.g. "b bb" vs "bb b") are ties; SentencePiece sums in float32, hence the tolerance.
      assert.ok(Math.abs(score - bestScore) < 1e-4, `${JSON.stringify(norm)}: got ${got.join(' ')} (${score}), best ${want.join(' ')} (${bestScore})`);
    }
  });
});
