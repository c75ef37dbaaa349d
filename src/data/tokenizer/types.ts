/**
 * Shared vocabulary of the tokenizer package: the `Tokenizer` interface every tokenizer in Myriad
 * implements (the SentencePiece unigram model and the byte-level tokenizer), the SentencePiece
 * piece types (the `ModelProto.SentencePiece.Type` enum of sentencepiece_model.proto), the
 * whitespace meta symbol `▁` (U+2581), byte-piece naming (`<0x3A>`), and `TokenizerError`, the
 * error every tokenizer function throws on bad input.
 */

import { MyriadError } from '../../core/errors.js';

/**
 * What the data pipeline and the trainer need from a tokenizer. Ids are dense in
 * `[0, vocabSize)`. A special id that a vocabulary does not define is `-1`.
 */
export interface Tokenizer {
  /** Number of ids (pieces) in the vocabulary. */
  readonly vocabSize: number;
  /** Text to ids. Never adds EOS; callers append `eosId` where a feature wants it. */
  encode(text: string): number[];
  /** Ids to text. Control ids (pad, eos, bos) decode to nothing. */
  decode(ids: readonly number[]): string;
  /** The id of a piece, or `unkId` when the vocabulary has no such piece. */
  pieceToId(piece: string): number;
  /** The piece of an id; throws `TokenizerError` for an id outside `[0, vocabSize)`. */
  idToPiece(id: number): string;
  /** End-of-sequence id (T5 convention: 1), or -1 if undefined. */
  readonly eosId: number;
  /** Padding id (T5 convention: 0), or -1 if undefined. */
  readonly padId: number;
  /** Unknown-piece id (T5 convention: 2). Always defined. */
  readonly unkId: number;
}

/** Thrown for malformed models, bad training options, bad ids and unreadable files. */
export class TokenizerError extends MyriadError {}

/** `ModelProto.SentencePiece.Type` of sentencepiece_model.proto (wire values). */
export enum PieceType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

/** The whitespace meta symbol U+2581 (LOWER ONE EIGHTH BLOCK) that SentencePiece writes for spaces. */
export const SPACE_SYMBOL = '\u2581';

/** SentencePiece's name for byte `b` when byte fallback is on: `<0x00>` … `<0xFF>` (upper-case hex). */
export function byteToPiece(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** The byte a piece names (`<0x3A>` → 58), or -1 if the piece is not a byte piece. */
export function pieceToByte(piece: string): number {
  const m = /^<0x([0-9A-F]{2})>$/.exec(piece);
  return m ? parseInt(m[1], 16) : -1;
}
