/**
 * Parity with the real SentencePiece (Debian package `sentencepiece`: spm_train, spm_encode,
 * spm_decode, spm_normalize). Models trained by spm_train on UDHR text in twelve languages and
 * loaded by Myriad must segment held-out text (other languages, edge cases, random Unicode)
 * exactly as spm_encode does, normalize as spm_normalize does and decode as spm_decode does; and a
 * model trained by Myriad must give the same results inside the SentencePiece tools. Skipped, with
 * a message, only when the tools are not on PATH.
 */

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { SentencePieceTokenizer, trainUnigram } from '../../src/data/tokenizer/index.js';
import { hasCommand, outputLines, randomUnicode, rng, run, tempDir, udhrLines } from './helpers.js';

const TOOLS = ['spm_train', 'spm_encode', 'spm_decode', 'spm_normalize'];
const missing = TOOLS.filter((t) => !hasCommand(t));
const skip = missing.length > 0
  ? `${missing.join(', ')} not on PATH: install SentencePiece (apt-get install -y sentencepiece) to run the parity tests`
  : false;

const TRAIN = ['eng', 'fra', 'deu_1996', 'spa', 'rus', 'ell_monotonic', 'arb', 'hin', 'cmn_hans', 'jpn', 'kor', 'tur'];
const HELD_OUT = ['ita', 'pol', 'vie', 'ukr', 'nld', 'heb', 'tha', 'por_PT', 'amh'];

const EDGE_CASES = [
  '  Hello   ＡＢＣ ﬁ e\u0301\tx  ',
  '😀 emoji 🎉 ok 👩‍👩‍👧 🏳️‍🌈',
  '<extra_id_0> a<extra_id_1>b <extra_id_0><extra_id_0>',
  '\u2581a b \u2581\u2581',
  '',
  '   ',
  '①②③ ½ ㍿ ｶﾞ ﾊﾟ Ⅻ ℃ ㎏ ﬀ',
  '\u0001control\u007fchars\u200b\u200czw\ufeff',
  '한국어 각 각 ㄱㅏㄱ',
  '1,234.56 km² — “quotes” ‘single’ … ¿Qué? ¡Sí!',
  'ǅ ǈ ǋ Å Ω K ẛ̣ ḱṷṓn',
  '\u00a0nbsp\u3000ideographic\u2003em',
];

/** Held-out text: unseen languages, edge cases and seeded random Unicode lines. */
function heldOutLines(): string[] {
  const next = rng(20240607);
  const noLineBreaks = new Set([0x00, 0x0a, 0x0d]);
  const random = Array.from({ length: 300 }, () => randomUnicode(next, 40, noLineBreaks));
  return [...udhrLines(HELD_OUT), ...EDGE_CASES, ...random];
}

interface SpmResult { ids: string[]; pieces: string[]; normalized: string[]; decoded: string[] }

function spmRun(model: string, inputFile: string, dir: string): SpmResult {
  const ids = outputLines(run('spm_encode', [`--model=${model}`, '--output_format=id', `--input=${inputFile}`]));
  const pieces = outputLines(run('spm_encode', [`--model=${model}`, '--output_format=piece', `--input=${inputFile}`]));
  const normalized = outputLines(run('spm_normalize', [`--model=${model}`, '--use_internal_normalization', `--input=${inputFile}`]));
  const idsFile = path.join(dir, `${path.basename(model)}.ids`);
  writeFileSync(idsFile, ids.join('\n') + '\n');
  const decoded = outputLines(run('spm_decode', [`--model=${model}`, '--input_format=id', `--input=${idsFile}`]));
  return { ids, pieces, normalized, decoded };
}

function assertSameAsSpm(tok: SentencePieceTokenizer, lines: string[], spm: SpmResult, label: string): void {
  assert.equal(spm.ids.length, lines.length, `${label}: spm_encode returned ${spm.ids.length} lines for ${lines.length}`);
  let checked = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = JSON.stringify(lines[i]);
    const ids = tok.encode(lines[i]);
    assert.equal(ids.join(' '), spm.ids[i], `${label}: ids differ from spm_encode on line ${i} ${line}`);
    assert.equal(tok.encodeAsPieces(lines[i]).join(' '), spm.pieces[i], `${label}: pieces differ on line ${i} ${line}`);
    assert.equal(tok.normalize(lines[i]), spm.normalized[i], `${label}: normalization differs from spm_normalize on line ${i} ${line}`);
    assert.equal(tok.decode(ids), spm.decoded[i], `${label}: decode differs from spm_decode on line ${i} ${line}`);
    checked++;
  }
  assert.equal(checked, lines.length);
}

describe('parity with SentencePiece (spm_train / spm_encode / spm_decode / spm_normalize)', { skip }, () => {
  let dir = '';
  let corpusFile = '';
  let heldFile = '';
  let held: string[] = [];
  let corpus: string[] = [];

  before(() => {
    dir = tempDir();
    corpus = udhrLines(TRAIN);
    corpusFile = path.join(dir, 'corpus.txt');
    writeFileSync(corpusFile, corpus.join('\n') + '\n');
    held = heldOutLines();
    heldFile = path.join(dir, 'held.txt');
    writeFileSync(heldFile, held.join('\n') + '\n');
  });

  it('loads an spm_train model (T5 ids, byte fallback, user-defined symbols) and segments like spm_encode', () => {
    const prefix = path.join(dir, 'spm_bf');
    run('spm_train', [
      `--input=${corpusFile}`, `--model_prefix=${prefix}`, '--vocab_size=3000', '--model_type=unigram',
      '--byte_fallback=true', '--user_defined_symbols=<extra_id_0>,<extra_id_1>',
      '--pad_id=0', '--eos_id=1', '--unk_id=2', '--bos_id=-1', '--num_threads=1',
    ]);
    const tok = SentencePieceTokenizer.load(`${prefix}.model`);
    assert.equal(tok.vocabSize, 3000);
    assert.deepEqual([tok.padId, tok.eosId, tok.unkId, tok.bosId], [0, 1, 2, -1]);
    const spm = spmRun(`${prefix}.model`, heldFile, dir);
    assertSameAsSpm(tok, held, spm, 'spm_train model with byte fallback');
    // The held-out text really exercises byte fallback and user-defined symbols.
    const all = held.flatMap((l) => tok.encodeAsPieces(l));
    assert.ok(all.filter((p) => /^<0x[0-9A-F]{2}>$/.test(p)).length > 100, 'expected many byte pieces');
    assert.ok(all.includes('<extra_id_0>') && all.includes('<extra_id_1>'));
  });

  it('loads an spm_train model without byte fallback (unknowns merged) and matches spm_encode', () => {
    const prefix = path.join(dir, 'spm_plain');
    run('spm_train', [
      `--input=${corpusFile}`, `--model_prefix=${prefix}`, '--vocab_size=2500', '--model_type=unigram',
      '--control_symbols=<2fr>,<2de>', '--character_coverage=0.995', '--num_threads=1',
    ]);
    const tok = SentencePieceTokenizer.load(`${prefix}.model`);
    assert.deepEqual([tok.unkId, tok.bosId, tok.eosId, tok.padId], [0, 1, 2, -1]);
    const spm = spmRun(`${prefix}.model`, heldFile, dir);
    assertSameAsSpm(tok, held, spm, 'spm_train model without byte fallback');
    assert.ok(spm.ids.some((l) => /(^| )0( |$)/.test(l)), 'expected unknown ids in the held-out text');
  });

  it('writes models that spm_encode loads and segments exactly like Myriad', () => {
    const tok = trainUnigram(corpus, {
      vocabSize: 3000, byteFallback: true, userDefinedSymbols: ['<extra_id_0>', '<extra_id_1>'], controlSymbols: ['<2fr>'],
    });
    const file = path.join(dir, 'myriad.model');
    tok.save(file);
    const reloaded = SentencePieceTokenizer.load(file);
    const spm = spmRun(file, heldFile, dir);
    assertSameAsSpm(tok, held, spm, 'Myriad-trained model in spm_encode');
    assertSameAsSpm(reloaded, held, spm, 'Myriad-trained model after save/load');
  });

  it('writes lossless models (identity rules, whitespace kept) that spm_encode and spm_decode treat like Myriad', () => {
    const tok = trainUnigram(corpus, { vocabSize: 2000, byteFallback: true, normalization: 'identity', removeExtraWhitespaces: false });
    const file = path.join(dir, 'lossless.model');
    tok.save(file);
    const spm = spmRun(file, heldFile, dir);
    assertSameAsSpm(tok, held, spm, 'lossless Myriad model in spm tools');
    // Leading, repeated and trailing spaces survive the round trip.
    for (const line of ['  two leading', 'trailing  ', ' a  b   c ']) assert.equal(tok.decode(tok.encode(line)), line);
  });

  it('trains like spm_train: same seed set and EM trajectory, vocabularies nearly identical', () => {
    const codes = ['eng', 'fra', 'deu_1996', 'spa'];
    const lines = udhrLines(codes);
    const file = path.join(dir, 'four.txt');
    writeFileSync(file, lines.join('\n') + '\n');
    const prefix = path.join(dir, 'four');
    const log = run('bash', ['-c', `spm_train --input=${file} --model_prefix=${prefix} --vocab_size=1500 --num_threads=1 2>&1`]);
    const spmEm = [...log.matchAll(/EM sub_iter=(\d+) size=(\d+) obj=([\d.]+) num_tokens=(\d+)/g)].map((m) => [Number(m[2]), Number(m[3]), Number(m[4])]);
    const ours: [number, number, number][] = [];
    const tok = trainUnigram(lines, {
      vocabSize: 1500, unkId: 0, bosId: 1, eosId: 2, padId: -1,
      onProgress: (p) => { if (p.stage === 'em') ours.push([p.pieces!, p.objective!, p.tokens!]); },
    });
    assert.ok(spmEm.length >= 2, 'could not read EM progress from the spm_train log');
    // First EM iteration: identical seed vocabulary gives identical size and token count.
    assert.equal(ours[0][0], spmEm[0][0], 'pieces after the first EM iteration');
    assert.equal(ours[0][2], spmEm[0][2], 'Viterbi tokens after the first EM iteration');
    assert.ok(Math.abs(ours[0][1] - spmEm[0][1]) < 1e-3, `objective ${ours[0][1]} vs spm ${spmEm[0][1]}`);
    const spmTok = SentencePieceTokenizer.load(`${prefix}.model`);
    const spmPieces = new Set(Array.from({ length: spmTok.vocabSize }, (_, i) => spmTok.idToPiece(i)));
    let shared = 0;
    for (let i = 0; i < tok.vocabSize; i++) if (spmPieces.has(tok.idToPiece(i))) shared++;
    assert.ok(shared / tok.vocabSize > 0.97, `only ${shared} of ${tok.vocabSize} pieces shared with spm_train`);
    const heldText = udhrLines(['ita', 'nld']);
    const count = (t: SentencePieceTokenizer): number => heldText.reduce((n, l) => n + t.encode(l).length, 0);
    const ratio = count(tok) / count(spmTok);
    assert.ok(Math.abs(ratio - 1) < 0.02, `held-out token count ratio Myriad/spm = ${ratio}`);
  });

  it('reads the spm .model byte for byte: decode then encode reproduces the file', () => {
    const file = path.join(dir, 'spm_bf.model');
    const bytes = readFileSync(file);
    const again = SentencePieceTokenizer.fromBytes(bytes).serialize();
    assert.ok(Buffer.from(again).equals(bytes), 're-serialized spm_train model differs from the original');
  });
});
