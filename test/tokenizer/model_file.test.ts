/**
 * Model files: `.model` (ModelProto) write → read → write round trips, clear errors for broken
 * models, the compiled normalization rules (darts-clone double array) and Hugging Face Unigram
 * `tokenizer.json` files (one written from a trained model, one written by hand with a
 * segmentation worked out by hand).
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  DoubleArray, PieceType, SentencePieceTokenizer, TokenizerError, buildDoubleArray, compileCharsMap,
  decodeModelProto, decompileCharsMap, encodeModelProto, fromHuggingFaceJson, loadHuggingFaceTokenizer,
  toHuggingFaceJson, trainUnigram, type HfTokenizerJson, type ModelProto,
} from '../../src/data/tokenizer/index.js';
import { rng, tempDir, udhrLines } from './helpers.js';

const corpus = udhrLines(['eng', 'fra', 'deu_1996', 'spa']);
const text = udhrLines(['ita', 'nld']);

function minimalProto(pieces: ModelProto['pieces'], extra: Partial<ModelProto> = {}): ModelProto {
  return { pieces, trainerSpec: { unkId: 0, bosId: -1, eosId: -1 }, normalizerSpec: { name: 'identity', addDummyPrefix: true }, ...extra };
}

describe('.model files', () => {
  const tok = trainUnigram(corpus, {
    vocabSize: 600, byteFallback: true, userDefinedSymbols: ['<extra_id_0>'], controlSymbols: ['<2en>'], normalization: 'nmt_nfkc',
  });

  it('write → read gives the same ModelProto and the same bytes', () => {
    const bytes = tok.serialize();
    const proto = decodeModelProto(bytes);
    assert.equal(proto.pieces.length, 600);
    assert.deepEqual(proto.pieces, tok.proto.pieces);
    assert.deepEqual(proto.trainerSpec, tok.proto.trainerSpec);
    assert.equal(proto.normalizerSpec?.name, 'nmt_nfkc');
    assert.ok(Buffer.from(proto.normalizerSpec!.precompiledCharsmap!).equals(Buffer.from(tok.proto.normalizerSpec!.precompiledCharsmap!)));
    assert.ok(Buffer.from(encodeModelProto(proto)).equals(Buffer.from(bytes)), 're-encoding changed the bytes');
  });

  it('save → load gives a tokenizer with the same vocabulary and segmentation', () => {
    const dir = tempDir();
    const file = path.join(dir, 'nested', 'dir', 'tok.model');
    tok.save(file);
    assert.ok(existsSync(file));
    const back = SentencePieceTokenizer.load(file);
    assert.equal(back.vocabSize, tok.vocabSize);
    for (let id = 0; id < tok.vocabSize; id++) {
      assert.equal(back.idToPiece(id), tok.idToPiece(id));
      assert.equal(back.getScore(id), tok.getScore(id));
      assert.equal(back.pieceType(id), tok.pieceType(id));
    }
    for (const line of text) assert.deepEqual(back.encode(line), tok.encode(line));
    assert.equal(back.pieceType(back.pieceToId('<2en>')), PieceType.CONTROL);
    assert.equal(back.pieceType(back.pieceToId('<extra_id_0>')), PieceType.USER_DEFINED);
  });

  it('writes a .vocab listing with one piece and score per line', () => {
    const lines = tok.vocabText().trimEnd().split('\n');
    assert.equal(lines.length, 600);
    assert.equal(lines[0], '<pad>\t0');
    const [piece, score] = lines[599].split('\t');
    assert.equal(piece, tok.idToPiece(599));
    assert.ok(Math.abs(Number(score) - tok.getScore(599)) < 1e-4);
  });

  it('rejects missing files, garbage and inconsistent models with clear errors', () => {
    assert.throws(() => SentencePieceTokenizer.load('/nonexistent/spiece.model'), /model file not found: \/nonexistent\/spiece.model/);
    assert.throws(() => SentencePieceTokenizer.fromBytes(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), 'junk.model'), /junk.model is not a SentencePiece model/);
    const normal = (piece: string, score = -1) => ({ piece, score });
    assert.throws(() => new SentencePieceTokenizer(minimalProto([normal('a'), normal('b')])), /no piece has type UNKNOWN/);
    assert.throws(
      () => new SentencePieceTokenizer(minimalProto([{ piece: '<unk>', type: PieceType.UNKNOWN }, normal('a'), normal('a')])),
      /"a" is defined twice/,
    );
    assert.throws(() => new SentencePieceTokenizer(minimalProto([{ piece: '<unk>', type: PieceType.UNKNOWN }, normal('')])), /piece 1 is empty/);
    assert.throws(
      () => new SentencePieceTokenizer(minimalProto([{ piece: '<unk>', type: PieceType.UNKNOWN }, { piece: '<0x41>', type: PieceType.BYTE }])),
      /byte piece <0x41> found although byte_fallback is false/,
    );
    assert.throws(
      () => new SentencePieceTokenizer(minimalProto([{ piece: '<unk>', type: PieceType.UNKNOWN }], { trainerSpec: { modelType: 2 } })),
      /only UNIGRAM/,
    );
    assert.throws(() => tok.decode([600]), TokenizerError);
    assert.throws(() => tok.idToPiece(1.5), /invalid id 1.5/);
  });
});

describe('compiled normalization rules (darts-clone double array)', () => {
  it('finds every key and no other, for random byte-string keys', () => {
    const next = rng(5);
    const keys = new Map<string, Uint8Array>();
    while (keys.size < 3000) {
      const len = 1 + Math.floor(next() * 6);
      const k = Uint8Array.from({ length: len }, () => 1 + Math.floor(next() * (next() < 0.5 ? 8 : 255)));
      keys.set(Buffer.from(k).toString('hex'), k);
    }
    const list = [...keys.values()];
    const values = list.map((_, i) => i * 7);
    const da = new DoubleArray(buildDoubleArray(list, values));
    list.forEach((k, i) => assert.equal(da.exactMatch(k), values[i]));
    for (let i = 0; i < 2000; i++) {
      const k = Uint8Array.from({ length: 1 + Math.floor(next() * 6) }, () => 1 + Math.floor(next() * 255));
      const want = keys.has(Buffer.from(k).toString('hex')) ? values[list.findIndex((x) => Buffer.from(x).equals(Buffer.from(k)))] : -1;
      assert.equal(da.exactMatch(k), want);
    }
    const entries = da.entries();
    assert.equal(entries.length, list.length);
  });

  it('compiles and decompiles rules, and applies them longest-match first', () => {
    const rules = new Map([['a', 'b'], ['ab', 'X'], ['ﬁ', 'fi'], ['\u0007', ''], ['é', 'e\u0301']]);
    const blob = compileCharsMap(rules);
    assert.deepEqual(decompileCharsMap(blob), rules);
    const tok = new SentencePieceTokenizer({
      pieces: [{ piece: '<unk>', type: PieceType.UNKNOWN }, { piece: '\u2581', score: -1 }],
      trainerSpec: { unkId: 0, bosId: -1, eosId: -1 },
      normalizerSpec: { name: 'custom', precompiledCharsmap: blob },
    });
    assert.equal(tok.normalize('aab ﬁ\u0007é'), '\u2581bX\u2581fie\u0301');
  });
});

describe('Hugging Face tokenizer.json (Unigram)', () => {
  it('reads a tokenizer.json written from a trained model and segments identically', () => {
    const tok = trainUnigram(corpus, { vocabSize: 500, byteFallback: true, userDefinedSymbols: ['<extra_id_0>'] });
    const file = path.join(tempDir(), 'tokenizer.json');
    writeFileSync(file, JSON.stringify(toHuggingFaceJson(tok), null, 1));
    const hf = loadHuggingFaceTokenizer(file);
    assert.equal(hf.vocabSize, tok.vocabSize);
    assert.deepEqual([hf.padId, hf.eosId, hf.unkId], [tok.padId, tok.eosId, tok.unkId]);
    for (const line of [...text, 'x<extra_id_0>y 𝄞 ＡＢＣ  spaces ']) {
      assert.deepEqual(hf.encode(line), tok.encode(line), line);
      assert.equal(hf.decode(hf.encode(line)), tok.decode(tok.encode(line)));
    }
  });

  it('segments a hand-written tokenizer.json as worked out by hand', () => {
    // Scores: ▁ab −1.5 beats ▁a + b (−1 − 3 = −4) and ▁ + a + b (−2 − 4 − 3 = −9);
    // "ba" can only be b + a (−3 − 4), and "c" is unknown.
    const json: HfTokenizerJson = {
      added_tokens: [
        { id: 0, content: '<pad>', special: true }, { id: 1, content: '</s>', special: true }, { id: 2, content: '<unk>', special: true },
      ],
      normalizer: null,
      pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
      model: {
        type: 'Unigram', unk_id: 2,
        vocab: [['<pad>', 0], ['</s>', 0], ['<unk>', 0], ['\u2581', -2], ['\u2581a', -1], ['b', -3], ['a', -4], ['\u2581ab', -1.5]],
      },
    };
    const tok = fromHuggingFaceJson(json);
    assert.deepEqual(tok.encode('ab'), [7]);
    assert.deepEqual(tok.encodeAsPieces('ab ba'), ['\u2581ab', '\u2581', 'b', 'a']);
    assert.deepEqual(tok.encode('c'), [3, 2]);
    assert.equal(tok.decode([7, 3, 5, 6, 1]), 'ab ba');
    assert.deepEqual([tok.padId, tok.eosId, tok.unkId], [0, 1, 2]);
  });

  it('rejects tokenizer.json files that are not SentencePiece-style Unigram', () => {
    const bpe = { model: { type: 'BPE', vocab: [] } } as unknown as HfTokenizerJson;
    assert.throws(() => fromHuggingFaceJson(bpe, 'bpe.json'), /bpe.json: model type is "BPE"/);
    const json: HfTokenizerJson = {
      normalizer: { type: 'Lowercase' },
      pre_tokenizer: { type: 'Metaspace', replacement: '\u2581' },
      model: { type: 'Unigram', unk_id: 0, vocab: [['<unk>', 0]] },
    };
    assert.throws(() => fromHuggingFaceJson(json), /unsupported normalizer type "Lowercase"/);
    assert.throws(() => loadHuggingFaceTokenizer('/nonexistent/tokenizer.json'), /not found/);
  });
});
