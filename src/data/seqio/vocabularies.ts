/**
 * Small vocabularies that need no training: `ByteVocabulary` maps UTF-8 bytes to ids the way ByT5's
 * seqio `ByteVocabulary` does (pad 0, EOS 1, UNK 2, byte b → b + 3, plus optional extra ids at the
 * end). It satisfies the structural `Tokenizer` interface, so tasks, feature converters and tests can
 * run before (or without) a trained SentencePiece model. Also `vocabularyFingerprint`, the content
 * hash of any vocabulary that the on-disk cache uses to notice a vocabulary change.
 */

import { createHash } from 'node:crypto';
import type { Tokenizer } from './types.js';
import { DataError } from './errors.js';

const BYTE_OFFSET = 3;

/** UTF-8 byte-level vocabulary (ByT5 layout): ids 0/1/2 are pad/EOS/UNK, then 256 bytes, then extra ids. */
export class ByteVocabulary implements Tokenizer {
  readonly padId = 0;
  readonly eosId = 1;
  readonly unkId = 2;
  readonly vocabSize: number;
  private static readonly encoder = new TextEncoder();
  private static readonly decoder = new TextDecoder('utf-8', { fatal: false });

  /** @param extraIds number of sentinel ids `<extra_id_0>`… appended after the bytes (counted down from the end, as in T5). */
  constructor(readonly extraIds = 0) {
    if (!Number.isInteger(extraIds) || extraIds < 0) {
      throw new DataError(`ByteVocabulary: extraIds must be a non-negative integer, got ${extraIds}`);
    }
    this.vocabSize = BYTE_OFFSET + 256 + extraIds;
  }

  encode(text: string): number[] {
    if (typeof text !== 'string') throw new DataError(`ByteVocabulary.encode: expected a string, got ${typeof text}`);
    const bytes = ByteVocabulary.encoder.encode(text);
    const out = new Array<number>(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] + BYTE_OFFSET;
    return out;
  }

  /** Decodes ids; stops at the first EOS, skips pad/UNK/extra ids (as seqio's ByteVocabulary does). */
  decode(ids: number[]): string {
    const bytes: number[] = [];
    for (const id of ids) {
      if (id === this.eosId) break;
      if (id >= BYTE_OFFSET && id < BYTE_OFFSET + 256) bytes.push(id - BYTE_OFFSET);
    }
    return ByteVocabulary.decoder.decode(Uint8Array.from(bytes));
  }

  pieceToId(piece: string): number {
    if (piece === '<pad>') return this.padId;
    if (piece === '</s>') return this.eosId;
    if (piece === '<unk>') return this.unkId;
    const m = /^<extra_id_(\d+)>$/.exec(piece);
    if (m) {
      const k = Number(m[1]);
      if (k < this.extraIds) return this.vocabSize - 1 - k;
      return this.unkId;
    }
    const bytes = ByteVocabulary.encoder.encode(piece);
    if (bytes.length === 1) return bytes[0] + BYTE_OFFSET;
    const hex = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
    if (hex) return parseInt(hex[1], 16) + BYTE_OFFSET;
    return this.unkId;
  }

  idToPiece(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new DataError(`ByteVocabulary.idToPiece: id ${id} is outside [0, ${this.vocabSize})`);
    }
    if (id === this.padId) return '<pad>';
    if (id === this.eosId) return '</s>';
    if (id === this.unkId) return '<unk>';
    if (id < BYTE_OFFSET + 256) {
      const b = id - BYTE_OFFSET;
      return b < 128 ? String.fromCharCode(b) : `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
    }
    return `<extra_id_${this.vocabSize - 1 - id}>`;
  }
}

const fingerprints = new WeakMap<object, string>();

/**
 * A SHA-256 over a vocabulary's size, special ids and every piece, memoized per object. Two
 * vocabularies with the same fingerprint tokenize identically as far as the cache can tell.
 */
export function vocabularyFingerprint(vocab: Tokenizer): string {
  const cached = fingerprints.get(vocab);
  if (cached) return cached;
  const h = createHash('sha256');
  h.update(`size=${vocab.vocabSize};eos=${vocab.eosId};pad=${vocab.padId};unk=${vocab.unkId}\n`);
  for (let id = 0; id < vocab.vocabSize; id++) {
    h.update(vocab.idToPiece(id));
    h.update('\u0000');
  }
  const fp = h.digest('hex');
  fingerprints.set(vocab, fp);
  return fp;
}
