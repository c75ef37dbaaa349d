/**
 * `myriad tokenizer train|encode|decode`, run in-process on a commander program with captured
 * output: training writes a loadable model and vocab, encode/decode agree with the library, and
 * bad input (missing files, bad numbers) gives one clear error and exit status 1.
 */

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerTokenizerCommands } from '../../src/cli/tokenizer.js';
import { SentencePieceTokenizer } from '../../src/data/tokenizer/index.js';
import { tempDir, udhrLines } from './helpers.js';

interface Result { out: string; err: string; exitCode: number }

async function cli(...args: string[]): Promise<Result> {
  let out = '';
  let err = '';
  const program = new Command('myriad');
  program.exitOverride();
  program.configureOutput({ writeOut: (s) => { out += s; }, writeErr: (s) => { err += s; } });
  registerTokenizerCommands(program);
  try {
    await program.parseAsync(args, { from: 'user' });
    return { out, err, exitCode: 0 };
  } catch (e) {
    if (e instanceof CommanderError) return { out, err, exitCode: e.exitCode };
    throw e;
  }
}

describe('myriad tokenizer CLI', () => {
  let dir = '';
  let prefix = '';

  before(() => {
    dir = tempDir();
    writeFileSync(path.join(dir, 'corpus.txt'), udhrLines(['eng', 'fra']).join('\n'));
    prefix = path.join(dir, 'tok');
  });

  it('train writes <prefix>.model and <prefix>.vocab', async () => {
    const r = await cli('tokenizer', 'train', '--input', path.join(dir, 'corpus.txt'), '--vocab-size', '400', '--model-prefix', prefix,
      '--byte-fallback', '--user-defined-symbols', '<extra_id_0>,<extra_id_1>', '--normalization', 'identity', '--character-coverage', '1');
    assert.equal(r.exitCode, 0, r.err);
    assert.match(r.out, /wrote .*tok\.model and .*tok\.vocab \(400 pieces\)/);
    assert.match(r.err, /EM sub_iter=0/);
    assert.ok(existsSync(`${prefix}.model`));
    assert.equal(readFileSync(`${prefix}.vocab`, 'utf8').trimEnd().split('\n').length, 400);
    const tok = SentencePieceTokenizer.load(`${prefix}.model`);
    assert.equal(tok.pieceToId('<extra_id_1>'), 4);
  });

  it('encode prints ids or pieces; decode prints text', async () => {
    const tok = SentencePieceTokenizer.load(`${prefix}.model`);
    const text = 'All human beings are born free <extra_id_0> 🎉';
    const ids = await cli('tokenizer', 'encode', '--model', `${prefix}.model`, text);
    assert.equal(ids.exitCode, 0, ids.err);
    assert.equal(ids.out, tok.encode(text).join(' ') + '\n');
    const pieces = await cli('tokenizer', 'encode', '--model', `${prefix}.model`, '--pieces', text);
    assert.equal(pieces.out, tok.encodeAsPieces(text).join(' ') + '\n');
    assert.ok(pieces.out.includes('<extra_id_0>') && pieces.out.includes('<0xF0>'));
    const decoded = await cli('tokenizer', 'decode', '--model', `${prefix}.model`, ...ids.out.trim().split(' '));
    assert.equal(decoded.out, text + '\n');
  });

  it('reports bad input clearly with exit status 1', async () => {
    const missing = await cli('tokenizer', 'train', '--input', path.join(dir, 'nope.txt'), '--vocab-size', '400', '--model-prefix', prefix);
    assert.equal(missing.exitCode, 1);
    assert.match(missing.err, /error: input file not found: .*nope\.txt/);
    const badSize = await cli('tokenizer', 'train', '--input', path.join(dir, 'corpus.txt'), '--vocab-size', 'lots', '--model-prefix', prefix);
    assert.equal(badSize.exitCode, 1);
    assert.match(badSize.err, /--vocab-size must be an integer >= 1, got "lots"/);
    const tooBig = await cli('tokenizer', 'train', '--input', path.join(dir, 'corpus.txt'), '--vocab-size', '90000', '--model-prefix', prefix, '--quiet');
    assert.equal(tooBig.exitCode, 1);
    assert.match(tooBig.err, /Vocabulary size too high \(90000\)/);
    const noModel = await cli('tokenizer', 'encode', '--model', path.join(dir, 'missing.model'), 'hi');
    assert.equal(noModel.exitCode, 1);
    assert.match(noModel.err, /error: model file not found: .*missing\.model/);
    const badId = await cli('tokenizer', 'decode', '--model', `${prefix}.model`, '12', 'x');
    assert.equal(badId.exitCode, 1);
    assert.match(badId.err, /"x" is not an integer id/);
    const outOfRange = await cli('tokenizer', 'decode', '--model', `${prefix}.model`, '400');
    assert.match(outOfRange.err, /invalid id 400: ids must be integers in \[0, 400\)/);
  });
});
