/**
 * `myriad tokenizer train|encode|decode`: train a SentencePiece-compatible unigram model from text
 * files (writing `<prefix>.model`, loadable by `spm_encode` and T5 tooling, and `<prefix>.vocab`),
 * encode text to ids or pieces (arguments, or each line of stdin, like `spm_encode`), and decode
 * ids back to text. Models ending in `.json` are read as Hugging Face Unigram `tokenizer.json`.
 * Bad input (missing files, bad numbers) prints one clear error line and exits with status 1.
 */

import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { loadHuggingFaceTokenizer } from '../data/tokenizer/hf.js';
import { SentencePieceTokenizer, writeFileAtomic } from '../data/tokenizer/model.js';
import { trainUnigramFromFiles } from '../data/tokenizer/trainer.js';
import { NORMALIZATION_NAMES, type NormalizationName } from '../data/tokenizer/charsmap.js';
import { MyriadError } from '../core/errors.js';

function integer(name: string, min: number): (v: string) => number {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}.`);
    return n;
  };
}

function coverage(v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !(x >= 0.98 && x <= 1)) throw new InvalidArgumentError(`character coverage must be a number in [0.98, 1], got ${JSON.stringify(v)}.`);
  return x;
}

function list(v: string): string[] {
  return v.split(',').filter((s) => s.length > 0);
}

function normalizationName(v: string): NormalizationName {
  if (!(NORMALIZATION_NAMES as readonly string[]).includes(v)) throw new InvalidArgumentError(`choose one of ${NORMALIZATION_NAMES.join(', ')}.`);
  return v as NormalizationName;
}

/** Output functions of a command (commander's configured writers, so tests can capture them). */
function writers(cmd: Command): { out: (s: string) => void; err: (s: string) => void } {
  const cfg = cmd.configureOutput();
  return {
    out: (s) => (cfg.writeOut ? cfg.writeOut(s) : process.stdout.write(s)),
    err: (s) => (cfg.writeErr ? cfg.writeErr(s) : process.stderr.write(s)),
  };
}

/** Runs an action; Myriad errors become a one-line `error: …` message and exit status 1. */
function guarded<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  return (...args: A): void => {
    const cmd = args[args.length - 1] as Command;
    try {
      fn(...args);
    } catch (e) {
      if (e instanceof MyriadError) cmd.error(`error: ${e.message}`, { exitCode: 1, code: 'myriad.tokenizer' });
      throw e;
    }
  };
}

function loadModel(file: string): SentencePieceTokenizer {
  return file.endsWith('.json') ? loadHuggingFaceTokenizer(file) : SentencePieceTokenizer.load(file);
}

function readStdinLines(): string[] {
  const text = readFileSync(0, 'utf8');
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Adds `tokenizer train|encode|decode` to a commander program. */
export function registerTokenizerCommands(program: Command): void {
  const tok = program.command('tokenizer').description('train, encode with and decode with SentencePiece-compatible unigram tokenizers');

  tok.command('train')
    .description('train a unigram model; writes <prefix>.model (SentencePiece format) and <prefix>.vocab')
    .requiredOption('--input <files>', 'comma-separated text files, one sentence per line', list)
    .requiredOption('--vocab-size <n>', 'number of pieces, special pieces included', integer('--vocab-size', 1))
    .requiredOption('--model-prefix <prefix>', 'output path prefix')
    .option('--byte-fallback', 'add the 256 <0xNN> byte pieces; unknown characters become bytes', false)
    .option('--character-coverage <x>', 'fraction of characters the alphabet must cover', coverage, 0.9995)
    .option('--user-defined-symbols <list>', 'comma-separated symbols that are never split (e.g. <extra_id_0>)', list, [])
    .option('--control-symbols <list>', 'comma-separated control symbols (ids only, never produced by encode)', list, [])
    .option('--normalization <name>', `normalization rules: ${NORMALIZATION_NAMES.join(', ')}`, normalizationName, 'nmt_nfkc')
    .option('--pad-id <id>', 'id of <pad> (-1: none)', integer('--pad-id', -1), 0)
    .option('--eos-id <id>', 'id of </s> (-1: none)', integer('--eos-id', -1), 1)
    .option('--unk-id <id>', 'id of <unk>', integer('--unk-id', 0), 2)
    .option('--bos-id <id>', 'id of <s> (-1: none)', integer('--bos-id', -1), -1)
    .option('--no-hard-vocab-limit', 'allow a smaller vocabulary when the corpus is too small')
    .option('--quiet', 'do not print progress')
    .action(guarded((opts: {
      input: string[]; vocabSize: number; modelPrefix: string; byteFallback: boolean; characterCoverage: number;
      userDefinedSymbols: string[]; controlSymbols: string[]; normalization: NormalizationName;
      padId: number; eosId: number; unkId: number; bosId: number; hardVocabLimit: boolean; quiet?: boolean;
    }, cmd: Command) => {
      const { out, err } = writers(cmd);
      const model = trainUnigramFromFiles(opts.input, {
        vocabSize: opts.vocabSize,
        byteFallback: opts.byteFallback,
        characterCoverage: opts.characterCoverage,
        userDefinedSymbols: opts.userDefinedSymbols,
        controlSymbols: opts.controlSymbols,
        normalization: opts.normalization,
        padId: opts.padId,
        eosId: opts.eosId,
        unkId: opts.unkId,
        bosId: opts.bosId,
        hardVocabLimit: opts.hardVocabLimit,
        modelPrefix: opts.modelPrefix,
        onProgress: opts.quiet ? undefined : (p) => err(`[${(p.elapsedMs / 1000).toFixed(1)}s] ${p.message}\n`),
      });
      model.save(`${opts.modelPrefix}.model`);
      writeFileAtomic(`${opts.modelPrefix}.vocab`, model.vocabText());
      out(`wrote ${opts.modelPrefix}.model and ${opts.modelPrefix}.vocab (${model.vocabSize} pieces)\n`);
    }));

  tok.command('encode')
    .description('encode text (arguments, or each stdin line) to ids or pieces')
    .requiredOption('--model <file>', '.model file (or Hugging Face tokenizer.json)')
    .option('--pieces', 'print pieces instead of ids', false)
    .argument('[text...]', 'text to encode; omit to encode stdin line by line')
    .action(guarded((text: string[], opts: { model: string; pieces: boolean }, cmd: Command) => {
      const { out } = writers(cmd);
      const model = loadModel(opts.model);
      const lines = text.length > 0 ? [text.join(' ')] : readStdinLines();
      for (const line of lines) {
        out((opts.pieces ? model.encodeAsPieces(line) : model.encode(line)).join(' ') + '\n');
      }
    }));

  tok.command('decode')
    .description('decode ids (arguments, or each stdin line of space-separated ids) to text')
    .requiredOption('--model <file>', '.model file (or Hugging Face tokenizer.json)')
    .argument('[ids...]', 'ids to decode; omit to decode stdin line by line')
    .action(guarded((ids: string[], opts: { model: string }, cmd: Command) => {
      const { out } = writers(cmd);
      const model = loadModel(opts.model);
      const lines = ids.length > 0 ? [ids.join(' ')] : readStdinLines();
      for (const line of lines) {
        const parsed = line.split(/\s+/).filter((s) => s.length > 0).map((s) => {
          const n = Number(s);
          if (!Number.isInteger(n)) throw new MyriadError(`decode: ${JSON.stringify(s)} is not an integer id`);
          return n;
        });
        out(model.decode(parsed) + '\n');
      }
    }));
}
