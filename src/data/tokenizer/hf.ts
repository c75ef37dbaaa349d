/**
 * Hugging Face `tokenizer.json` files with a Unigram model (how T5, mT5 and other SentencePiece
 * vocabularies are shipped for the `tokenizers` library), read into and written from Myriad's
 * `SentencePieceTokenizer`.
 *
 * Reading converts the file to the equivalent SentencePiece `ModelProto`: `model.vocab` gives
 * pieces and scores, `model.unk_id` the unknown piece, `added_tokens` the control (special) and
 * user-defined (non-special) pieces, `model.byte_fallback` the byte pieces. The normalizer may be
 * `Precompiled` (SentencePiece's compiled rules, base64), `NFKC`, and `Replace` of runs of spaces
 * by one space (SentencePiece's `remove_extra_whitespaces`), alone or in a `Sequence`; the
 * pre-tokenizer `Metaspace` (with `▁`, its prefix setting giving `add_dummy_prefix`) optionally
 * preceded by `WhitespaceSplit`. Other components are rejected with an error naming them.
 * Segmentation then follows SentencePiece (as `spm_encode` would on the converted model).
 */

import { readFileSync } from 'node:fs';
import { precompiledCharsmapFor } from './charsmap.js';
import { SentencePieceTokenizer } from './model.js';
import { normalizerSpecWithDefaults, trainerSpecWithDefaults, type ModelProto, type ProtoPiece } from './proto.js';
import { PieceType, SPACE_SYMBOL, TokenizerError, pieceToByte } from './types.js';

interface HfAddedToken { id: number; content: string; special?: boolean; [k: string]: unknown }
interface HfComponent { type: string; [k: string]: unknown }

/** The subset of `tokenizer.json` that describes a Unigram tokenizer. */
export interface HfTokenizerJson {
  version?: string;
  added_tokens?: HfAddedToken[];
  normalizer?: HfComponent | null;
  pre_tokenizer?: HfComponent | null;
  post_processor?: HfComponent | null;
  decoder?: HfComponent | null;
  model: { type: string; unk_id?: number | null; vocab: [string, number][]; byte_fallback?: boolean };
  [k: string]: unknown;
}

function fail(source: string, msg: string): never {
  throw new TokenizerError(`${source}: ${msg}`);
}

/** Converts a parsed Unigram `tokenizer.json` into a SentencePiece tokenizer. */
export function fromHuggingFaceJson(json: HfTokenizerJson, source = 'tokenizer.json'): SentencePieceTokenizer {
  const model = json?.model;
  if (!model || typeof model !== 'object') fail(source, 'has no "model" object; is this a Hugging Face tokenizer.json?');
  if (model.type !== 'Unigram') fail(source, `model type is ${JSON.stringify(model.type)}; only "Unigram" (SentencePiece) tokenizers are supported`);
  if (!Array.isArray(model.vocab) || model.vocab.length === 0) fail(source, 'model.vocab must be a non-empty array of [piece, score] pairs');
  const byteFallback = model.byte_fallback === true;
  const unkId = model.unk_id;
  if (typeof unkId !== 'number' || !Number.isInteger(unkId) || unkId < 0 || unkId >= model.vocab.length) {
    fail(source, `model.unk_id must be an id in [0, ${model.vocab.length}), got ${JSON.stringify(unkId)}`);
  }
  const added = new Map<number, HfAddedToken>();
  for (const t of json.added_tokens ?? []) {
    if (t.id < model.vocab.length) {
      if (t.content !== model.vocab[t.id][0]) fail(source, `added token ${t.id} is ${JSON.stringify(t.content)} but model.vocab[${t.id}] is ${JSON.stringify(model.vocab[t.id][0])}`);
      added.set(t.id, t);
    } else {
      fail(source, `added token ${JSON.stringify(t.content)} has id ${t.id} outside model.vocab; only tokens that are part of the Unigram vocabulary are supported`);
    }
  }
  const pieces: ProtoPiece[] = model.vocab.map((entry, id) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') {
      fail(source, `model.vocab[${id}] must be [piece, score], got ${JSON.stringify(entry)}`);
    }
    const [piece, score] = entry;
    let type = PieceType.NORMAL;
    const a = added.get(id);
    if (id === unkId) type = PieceType.UNKNOWN;
    else if (a) type = a.special ? PieceType.CONTROL : PieceType.USER_DEFINED;
    else if (byteFallback && pieceToByte(piece) >= 0) type = PieceType.BYTE;
    return type === PieceType.NORMAL ? { piece, score } : { piece, score, type };
  });

  // Normalizer.
  let charsmap: Uint8Array | undefined;
  let name = 'identity';
  let removeExtra = false;
  const visitNormalizer = (n: HfComponent | null | undefined): void => {
    if (!n) return;
    switch (n.type) {
      case 'Sequence':
        for (const m of (n.normalizers as HfComponent[] | undefined) ?? []) visitNormalizer(m);
        return;
      case 'Precompiled': {
        const b64 = n.precompiled_charsmap;
        if (typeof b64 !== 'string') fail(source, 'Precompiled normalizer without a base64 precompiled_charsmap');
        charsmap = new Uint8Array(Buffer.from(b64, 'base64'));
        name = charsmap.length > 0 ? 'precompiled' : 'identity';
        return;
      }
      case 'NFKC':
        charsmap = precompiledCharsmapFor('nfkc');
        name = 'nfkc';
        return;
      case 'Replace': {
        const pat = n.pattern as { String?: string; Regex?: string } | undefined;
        const p = pat?.Regex ?? pat?.String;
        if (p === ' {2,}' && n.content === ' ') { removeExtra = true; return; }
        fail(source, `unsupported Replace normalizer ${JSON.stringify(pat)} → ${JSON.stringify(n.content)}; only runs of spaces to one space are supported`);
        return;
      }
      default:
        fail(source, `unsupported normalizer type ${JSON.stringify(n.type)}; supported: Precompiled, NFKC, Replace(" {2,}" → " "), Sequence`);
    }
  };
  visitNormalizer(json.normalizer);

  // Pre-tokenizer.
  let addDummyPrefix = true;
  let sawMetaspace = false;
  const visitPre = (p: HfComponent | null | undefined): void => {
    if (!p) return;
    switch (p.type) {
      case 'Sequence':
        for (const q of (p.pretokenizers as HfComponent[] | undefined) ?? []) visitPre(q);
        return;
      case 'WhitespaceSplit':
        removeExtra = true;
        return;
      case 'Metaspace': {
        sawMetaspace = true;
        if ((p.replacement ?? SPACE_SYMBOL) !== SPACE_SYMBOL) fail(source, `Metaspace replacement must be ${SPACE_SYMBOL} (U+2581), got ${JSON.stringify(p.replacement)}`);
        if (typeof p.prepend_scheme === 'string') addDummyPrefix = p.prepend_scheme !== 'never';
        else if (typeof p.add_prefix_space === 'boolean') addDummyPrefix = p.add_prefix_space;
        return;
      }
      default:
        fail(source, `unsupported pre_tokenizer type ${JSON.stringify(p.type)}; supported: Metaspace, WhitespaceSplit, Sequence`);
    }
  };
  visitPre(json.pre_tokenizer);
  if (!sawMetaspace) fail(source, 'pre_tokenizer has no Metaspace; a SentencePiece-style Unigram tokenizer.json writes spaces as ▁ with Metaspace');

  const special = (content: string): number => {
    for (const [id, t] of added) if (t.content === content && t.special) return id;
    return -1;
  };
  const proto: ModelProto = {
    pieces,
    trainerSpec: {
      modelType: 1,
      vocabSize: pieces.length,
      byteFallback,
      unkId,
      unkPiece: model.vocab[unkId][0],
      eosId: special('</s>'),
      padId: special('<pad>'),
      bosId: special('<s>'),
      userDefinedSymbols: [...added.values()].filter((t) => !t.special).map((t) => t.content),
      controlSymbols: [...added.values()].filter((t) => t.special && t.id !== unkId && !['</s>', '<pad>', '<s>'].includes(t.content)).map((t) => t.content),
    },
    normalizerSpec: {
      name,
      precompiledCharsmap: charsmap ?? new Uint8Array(0),
      addDummyPrefix,
      removeExtraWhitespaces: removeExtra,
      escapeWhitespaces: true,
    },
  };
  return new SentencePieceTokenizer(proto, source);
}

/** Reads a Unigram `tokenizer.json` file. */
export function loadHuggingFaceTokenizer(file: string): SentencePieceTokenizer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TokenizerError(code === 'ENOENT' ? `tokenizer.json not found: ${file}` : `cannot read ${file}: ${(e as Error).message}`);
  }
  let json: HfTokenizerJson;
  try {
    json = JSON.parse(text) as HfTokenizerJson;
  } catch (e) {
    throw new TokenizerError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  return fromHuggingFaceJson(json, file);
}

/** Writes a SentencePiece tokenizer as a Unigram `tokenizer.json` object. */
export function toHuggingFaceJson(tok: SentencePieceTokenizer): HfTokenizerJson {
  const ns = normalizerSpecWithDefaults(tok.proto.normalizerSpec);
  const ts = trainerSpecWithDefaults(tok.proto.trainerSpec);
  const normalizers: HfComponent[] = [];
  if (ns.precompiledCharsmap && ns.precompiledCharsmap.length > 0) {
    normalizers.push({ type: 'Precompiled', precompiled_charsmap: Buffer.from(ns.precompiledCharsmap).toString('base64') });
  }
  if (ns.removeExtraWhitespaces) normalizers.push({ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' });
  const metaspace: HfComponent = { type: 'Metaspace', replacement: SPACE_SYMBOL, prepend_scheme: ns.addDummyPrefix ? 'always' : 'never', split: true };
  const added: HfAddedToken[] = [];
  const vocab: [string, number][] = [];
  for (let id = 0; id < tok.vocabSize; id++) {
    const t = tok.pieceType(id);
    vocab.push([tok.idToPiece(id), tok.getScore(id)]);
    if (t === PieceType.CONTROL || t === PieceType.UNKNOWN || t === PieceType.USER_DEFINED) {
      added.push({ id, content: tok.idToPiece(id), single_word: false, lstrip: false, rstrip: false, normalized: false, special: t !== PieceType.USER_DEFINED });
    }
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: normalizers.length === 0 ? null : normalizers.length === 1 ? normalizers[0] : { type: 'Sequence', normalizers },
    pre_tokenizer: metaspace,
    post_processor: null,
    decoder: { ...metaspace },
    model: { type: 'Unigram', unk_id: tok.unkId, vocab, byte_fallback: ts.byteFallback },
  };
}
