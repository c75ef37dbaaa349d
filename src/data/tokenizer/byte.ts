/**
 * `ByteTokenizer`: the byte-level vocabulary of ByT5 behind Myriad's `Tokenizer` interface.
 * Text is encoded as its UTF-8 bytes; byte `b` has id `b + 3`, after the special ids pad=0,
 * eos=1, unk=2 (vocabulary size 259). Decoding skips special ids and turns bytes that do not form
 * valid UTF-8 into U+FFFD, one per offending byte, as SentencePiece does for byte pieces. Pieces
 * are `<pad>`, `</s>`, `<unk>` and `<0x00>`…`<0xFF>`.
 */

import { decodeUtf8Lenient } from './model.js';
import { TokenizerError, byteToPiece, pieceToByte, type Tokenizer } from './types.js';

const utf8 = new TextEncoder();

/** UTF-8 byte tokenizer (see the file header). */
export class ByteTokenizer implements Tokenizer {
  readonly padId = 0;
  readonly eosId = 1;
  readonly unkId = 2;
  /** Number of special ids before the first byte id. */
  readonly offset = 3;
  readonly vocabSize = 259;

  encode(text: string): number[] {
    const bytes = utf8.encode(text);
    const out = new Array<number>(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] + this.offset;
    return out;
  }

  decode(ids: readonly number[]): string {
    const bytes: number[] = [];
    for (const id of ids) {
      this.check(id);
      if (id >= this.offset) bytes.push(id - this.offset);
    }
    return decodeUtf8Lenient(bytes);
  }

  pieceToId(piece: string): number {
    if (piece === '<pad>') return this.padId;
    if (piece === '</s>') return this.eosId;
    if (piece === '<unk>') return this.unkId;
    const b = pieceToByte(piece);
    return b >= 0 ? b + this.offset : this.unkId;
  }

  idToPiece(id: number): string {
    this.check(id);
    if (id === this.padId) return '<pad>';
    if (id === this.eosId) return '</s>';
    if (id === this.unkId) return '<unk>';
    return byteToPiece(id - this.offset);
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError(`invalid id ${id}: byte tokenizer ids are integers in [0, ${this.vocabSize}).`);
    }
  }
}
