/**
 * Losslessness: with byte fallback, decode(encode(text)) gives back the text for any Unicode
 * string (seeded random strings over many scripts, emoji, combining marks, whitespace runs), or
 * exactly its normalized form for an NFKC model; byte fallback and unknown handling; and the
 * ByteTokenizer.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ByteTokenizer, PieceType, SPACE_SYMBOL, TokenizerError, byteToPiece, trainUnigram } from '../../src/data/tokenizer/index.js';
import { randomUnicode, rng, udhrLines } from './helpers.js';

const corpus = udhrLines(['eng', 'fra', 'deu_1996', 'spa', 'rus']);

describe('lossless round trip with byte fallback', () => {
  const lossless = trainUnigram(corpus, { vocabSize: 1000, byteFallback: true, normalization: 'identity', removeExtraWhitespaces: false });

  it('decode(encode(s)) === s for 2000 seeded random Unicode strings', () => {
    const next = rng(7);
    const noMetaSpace = new Set([0x2581]);
    let bytePieces = 0;
    for (let i = 0; i < 2000; i++) {
      const s = randomUnicode(next, 30, noMetaSpace);
      const ids = lossless.encode(s);
      for (const id of ids) if (lossless.pieceType(id) === PieceType.BYTE) bytePieces++;
      assert.equal(lossless.decode(ids), s, `round trip failed for ${JSON.stringify(s)}`);
    }
    assert.ok(bytePieces > 1000, 'random strings should need byte fallback');
  });

  it('keeps emoji, ZWJ sequences, CJK, combining marks and whitespace runs', () => {
    const samples = [
      '👩‍👩‍👧 🏳️‍🌈 family',
      '  leading and trailing  ',
      'tab\tand\nnewline\r\n',
      '漢字かなカナ한국어',
      'e\u0301 a\u0308 ﬁ ＡＢＣ',
      '\u0000nul and \u0007bell',
      '',
      ' ',
      'Всеобщая декларация прав человека',
    ];
    for (const s of samples) assert.equal(lossless.decode(lossless.encode(s)), s, JSON.stringify(s));
  });

  it('encodes characters outside the vocabulary as their UTF-8 byte pieces', () => {
    const clef = '\u{1d11e}'; // 𝄞, F0 9D 84 9E
    const pieces = lossless.encodeAsPieces(clef);
    assert.deepEqual(pieces.slice(-4), ['<0xF0>', '<0x9D>', '<0x84>', '<0x9E>']);
    const ids = lossless.encode(clef).slice(-4);
    assert.deepEqual(ids, [0xf0, 0x9d, 0x84, 0x9e].map((b) => lossless.pieceToId(byteToPiece(b))));
    for (const id of ids) assert.equal(lossless.pieceType(id), PieceType.BYTE);
    assert.equal(lossless.decode(ids), clef);
  });

  it('decodes invalid byte sequences to one U+FFFD per offending byte, like SentencePiece', () => {
    const ids = [0xe3, 0x81, 0x41].map((b) => lossless.pieceToId(byteToPiece(b)));
    assert.equal(lossless.decode(ids), '\ufffd\ufffdA');
  });
});

describe('round trip through NFKC normalization', () => {
  const nfkc = trainUnigram(corpus, { vocabSize: 1000, byteFallback: true });

  it('decode(encode(s)) equals the normalized text for seeded random strings', () => {
    const next = rng(11);
    for (let i = 0; i < 500; i++) {
      const s = randomUnicode(next, 30);
      const norm = nfkc.normalize(s);
      const expected = norm.replaceAll(SPACE_SYMBOL, ' ').replace(/^ /, '');
      assert.equal(nfkc.decode(nfkc.encode(s)), expected, JSON.stringify(s));
    }
  });

  it('applies NFKC and whitespace rules', () => {
    assert.equal(nfkc.normalize('  ＡＢＣ   ﬁ\t①  '), `${SPACE_SYMBOL}ABC${SPACE_SYMBOL}fi${SPACE_SYMBOL}1`);
    assert.equal(nfkc.decode(nfkc.encode('  ＡＢＣ   ﬁ\t①  ')), 'ABC fi 1');
  });
});

describe('unknown characters without byte fallback', () => {
  const plain = trainUnigram(corpus, { vocabSize: 800, normalization: 'identity' });

  it('merges a run of unknown characters into one <unk> that decodes to " ⁇ "', () => {
    const ids = plain.encode('a漢字b');
    const unk = ids.filter((id) => id === plain.unkId);
    assert.equal(unk.length, 1);
    assert.deepEqual(plain.encodeAsPieces('a漢字b').filter((p) => p.includes('漢')), ['漢字']);
    assert.equal(plain.decode(ids), 'a \u2047 b');
  });
});

describe('ByteTokenizer', () => {
  const bt = new ByteTokenizer();

  it('uses pad=0, eos=1, unk=2 and byte b → b + 3', () => {
    assert.equal(bt.vocabSize, 259);
    assert.deepEqual([bt.padId, bt.eosId, bt.unkId], [0, 1, 2]);
    assert.deepEqual(bt.encode('Aé'), [0x41 + 3, 0xc3 + 3, 0xa9 + 3]);
    assert.equal(bt.idToPiece(0x41 + 3), '<0x41>');
    assert.equal(bt.pieceToId('<0x41>'), 0x41 + 3);
    assert.equal(bt.pieceToId('</s>'), 1);
    assert.equal(bt.pieceToId('not a piece'), 2);
  });

  it('round-trips seeded random Unicode and skips special ids when decoding', () => {
    const next = rng(3);
    for (let i = 0; i < 1000; i++) {
      const s = randomUnicode(next, 40);
      assert.equal(bt.decode([0, ...bt.encode(s), 1, 0]), s);
    }
  });

  it('decodes invalid UTF-8 to U+FFFD per byte and rejects ids outside the vocabulary', () => {
    assert.equal(bt.decode([0xe3 + 3, 0x81 + 3]), '\ufffd\ufffd');
    assert.throws(() => bt.decode([259]), TokenizerError);
    assert.throws(() => bt.idToPiece(-1), /invalid id -1/);
  });
});
