/**
 * `SentencePieceTokenizer`: a SentencePiece unigram model — the `.model` files of T5, mT5 and
 * spm_train — behind Myriad's `Tokenizer` interface. It loads and saves `ModelProto`, normalizes
 * text with the model's own compiled rules, segments with the unigram Viterbi search, falls back to
 * UTF-8 byte pieces (`<0xNN>`) for characters outside the vocabulary when the model has byte
 * fallback, and decodes ids back to text.
 *
 * Segmentation reproduces SentencePiece's optimized unigram encoder (facts from its public source)
 * so that ids equal `spm_encode --output_format=id`: best path by position, candidates visited by
 * start then length, scores accumulated in float32 as SentencePiece does (a tie keeps the earlier
 * candidate), user-defined symbols scored `bytes × max_score − 0.1`, one unknown node per
 * character not covered by a one-character piece (score `min_score − 10`), consecutive unknown
 * characters merged into one `<unk>` unless byte fallback splits them into byte pieces. Unused
 * pieces are never produced. Models that put whitespace after words (`treat_whitespace_as_suffix`)
 * are rejected.
 */

import { mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import * as path from 'node:path';
import { Normalizer, checkCharsmap } from './normalizer.js';
import {
  decodeModelProto, encodeModelProto, normalizerSpecWithDefaults, trainerSpecWithDefaults,
  type ModelProto,
} from './proto.js';
import { PieceType, SPACE_SYMBOL, TokenizerError, byteToPiece, pieceToByte, type Tokenizer } from './types.js';

const FLT_MAX = 3.4028234663852886e38;
const FLT_MIN = 1.1754943508222875e-38;
const UNK_PENALTY = 10;

const utf8 = new TextEncoder();

/** One segment of an encoded text. */
export interface EncodedPiece {
  /** Vocabulary id. */
  id: number;
  /** The piece as `spm_encode --output_format=piece` prints it (normalized text, or `<0xNN>`). */
  piece: string;
}

/**
 * Trie over the UTF-16 code units of the segmentable pieces (NORMAL, USER_DEFINED, UNUSED), as a
 * base/check double array: the child of node `n` for code unit `c` is `base[n] + c`, valid iff
 * `check[base[n] + c] === n`. Node 0 is the root; `value` holds the piece id ending at a node or -1.
 */
class PieceTrie {
  base: Int32Array;
  check: Int32Array;
  value: Int32Array;
  /** Segmentation score of the piece ending at each slot. */
  score: Float64Array;

  constructor(pieces: readonly [string, number, number][]) {
    // Explicit trie first: children as sorted (code unit, node) lists.
    const kids: [number, number][][] = [[]];
    const ids: number[] = [-1];
    const scoreOfId = new Map<number, number>();
    const edge = new Map<number, number>();
    for (const [piece, id, sc] of pieces) {
      scoreOfId.set(id, sc);
      let node = 0;
      for (let i = 0; i < piece.length; i++) {
        const c = piece.charCodeAt(i);
        let child = edge.get(node * 65536 + c);
        if (child === undefined) {
          child = ids.length;
          ids.push(-1);
          kids.push([]);
          kids[node].push([c, child]);
          edge.set(node * 65536 + c, child);
        }
        node = child;
      }
      ids[node] = id;
    }
    let cap = 65536 + 2 * ids.length + 16;
    this.base = new Int32Array(cap);
    this.check = new Int32Array(cap).fill(-1);
    this.value = new Int32Array(cap).fill(-1);
    this.score = new Float64Array(cap);
    const grow = (need: number): void => {
      if (need < cap) return;
      while (cap <= need) cap *= 2;
      const b = new Int32Array(cap); b.set(this.base); this.base = b;
      const k = new Int32Array(cap).fill(-1); k.set(this.check); this.check = k;
      const v = new Int32Array(cap).fill(-1); v.set(this.value); this.value = v;
      const sc = new Float64Array(cap); sc.set(this.score); this.score = sc;
    };
    this.check[0] = 0;
    this.value[0] = ids[0];
    // nextFree: union-find "smallest free slot >= i" with path compression.
    let nextFree = Int32Array.from({ length: cap + 1 }, (_, i) => i);
    const findFree = (i: number): number => {
      if (i >= nextFree.length) {
        const old = nextFree;
        nextFree = Int32Array.from({ length: Math.max(i + 1, 2 * old.length) }, (_, k) => (k < old.length ? old[k] : k));
      }
      let r = i;
      while (nextFree[r] !== r) {
        r = nextFree[r];
        if (r >= nextFree.length) return findFree(r);
      }
      while (nextFree[i] !== r) { const nx = nextFree[i]; nextFree[i] = r; i = nx; }
      return r;
    };
    const occupy = (t: number): void => { findFree(t + 1); nextFree[t] = t + 1; };
    occupy(0);
    // Place nodes breadth first; `slotOf` maps explicit-trie nodes to array slots.
    const slotOf = new Int32Array(ids.length);
    const queue = [0];
    for (let qi = 0; qi < queue.length; qi++) {
      const node = queue[qi];
      const slot = slotOf[node];
      const list = kids[node].sort((x, y) => x[0] - y[0]);
      if (list.length === 0) continue;
      const c0 = list[0][0];
      let b = -1;
      for (let f = findFree(c0 + 1); ; f = findFree(f + 1)) {
        b = f - c0;
        grow(b + list[list.length - 1][0]);
        let ok = true;
        for (let k = 1; k < list.length; k++) if (this.check[b + list[k][0]] !== -1) { ok = false; break; }
        if (ok) break;
      }
      this.base[slot] = b;
      for (const [c, child] of list) {
        const t = b + c;
        this.check[t] = slot;
        this.value[t] = ids[child];
        if (ids[child] >= 0) this.score[t] = scoreOfId.get(ids[child])!;
        occupy(t);
        slotOf[child] = t;
        queue.push(child);
      }
    }
  }
}

/** A SentencePiece unigram model (see the file header). Implements `Tokenizer`. */
export class SentencePieceTokenizer implements Tokenizer {
  readonly proto: ModelProto;
  readonly vocabSize: number;
  readonly unkId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly byteFallback: boolean;
  readonly normalizer: Normalizer;
  readonly unkSurface: string;
  private readonly pieces: string[];
  private readonly types: Uint8Array;
  private readonly scores: Float64Array;
  private readonly normalIds = new Map<string, number>();
  private readonly reservedIds = new Map<string, number>();
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly trie: PieceTrie;
  private readonly minScore: number;
  // Reused Viterbi buffers.
  private bestScore = new Float64Array(0);
  private startsAt = new Int32Array(0);
  private bestId = new Int32Array(0);

  /** Builds a tokenizer from a parsed `ModelProto`; `source` names it in error messages. */
  constructor(proto: ModelProto, source = 'model') {
    this.proto = proto;
    const ts = trainerSpecWithDefaults(proto.trainerSpec);
    if (ts.modelType !== 1) {
      throw new TokenizerError(`${source}: model_type is ${ts.modelType}, but only UNIGRAM (1) models are supported.`);
    }
    if (ts.treatWhitespaceAsSuffix) {
      throw new TokenizerError(`${source}: treat_whitespace_as_suffix=true is not supported; retrain with the default (false).`);
    }
    const n = proto.pieces.length;
    if (n === 0) throw new TokenizerError(`${source}: the model has no pieces.`);
    this.vocabSize = n;
    this.pieces = new Array<string>(n);
    this.types = new Uint8Array(n);
    this.scores = new Float64Array(n);
    this.byteFallback = ts.byteFallback;
    let unk = -1;
    let minScore = FLT_MAX;
    let maxScore = FLT_MIN;
    const userDefined: string[] = [];
    const segmentable: [string, number, number][] = [];
    for (let i = 0; i < n; i++) {
      const p = proto.pieces[i];
      const piece = p.piece ?? '';
      const type = p.type ?? PieceType.NORMAL;
      if (piece.length === 0) throw new TokenizerError(`${source}: piece ${i} is empty; pieces must not be empty.`);
      this.pieces[i] = piece;
      this.types[i] = type;
      this.scores[i] = Math.fround(p.score ?? 0);
      const normal = type === PieceType.NORMAL || type === PieceType.USER_DEFINED || type === PieceType.UNUSED;
      const map = normal ? this.normalIds : this.reservedIds;
      if (map.has(piece)) throw new TokenizerError(`${source}: piece ${JSON.stringify(piece)} is defined twice (ids ${map.get(piece)} and ${i}).`);
      map.set(piece, i);
      if (type === PieceType.UNKNOWN) {
        if (unk >= 0) throw new TokenizerError(`${source}: two unknown pieces (ids ${unk} and ${i}); a model has exactly one.`);
        unk = i;
      } else if (type === PieceType.USER_DEFINED) {
        userDefined.push(piece);
      } else if (type === PieceType.BYTE) {
        if (!ts.byteFallback) throw new TokenizerError(`${source}: byte piece ${piece} found although byte_fallback is false.`);
        const b = pieceToByte(piece);
        if (b < 0) throw new TokenizerError(`${source}: byte piece ${JSON.stringify(piece)} is not of the form <0xNN>.`);
        this.byteIds[b] = i;
      } else if (type === PieceType.NORMAL) {
        minScore = Math.min(minScore, this.scores[i]);
        maxScore = Math.max(maxScore, this.scores[i]);
      }
    }
    for (let i = 0; i < n; i++) {
      const t = this.types[i];
      // Unused pieces stay in the trie (longer pieces run through them) but are never produced.
      if (t === PieceType.NORMAL) segmentable.push([this.pieces[i], i, this.scores[i]]);
      else if (t === PieceType.USER_DEFINED) segmentable.push([this.pieces[i], i, Math.fround(utf8.encode(this.pieces[i]).length * maxScore) - 0.1]);
      else if (t === PieceType.UNUSED) segmentable.push([this.pieces[i], -1, 0]);
    }
    this.trie = new PieceTrie(segmentable);
    if (unk < 0) throw new TokenizerError(`${source}: no piece has type UNKNOWN; a model needs one <unk> piece.`);
    if (ts.byteFallback && this.byteIds.includes(-1)) {
      throw new TokenizerError(`${source}: byte_fallback is true but not all 256 byte pieces <0x00>..<0xFF> exist.`);
    }
    this.unkId = unk;
    this.minScore = minScore;
    const control = (piece: string): number => {
      const id = this.reservedIds.get(piece);
      return id !== undefined && this.types[id] === PieceType.CONTROL ? id : -1;
    };
    this.bosId = control(ts.bosPiece);
    this.eosId = control(ts.eosPiece);
    this.padId = control(ts.padPiece);
    this.unkSurface = ts.unkSurface;
    const ns = normalizerSpecWithDefaults(proto.normalizerSpec);
    checkCharsmap(ns.precompiledCharsmap, source);
    this.normalizer = new Normalizer({
      precompiledCharsmap: ns.precompiledCharsmap,
      addDummyPrefix: ns.addDummyPrefix,
      removeExtraWhitespaces: ns.removeExtraWhitespaces,
      escapeWhitespaces: ns.escapeWhitespaces,
      treatWhitespaceAsSuffix: false,
      userDefinedSymbols: userDefined,
    });
  }

  /** Parses `.model` bytes. */
  static fromBytes(bytes: Uint8Array, source = 'model bytes'): SentencePieceTokenizer {
    return new SentencePieceTokenizer(decodeModelProto(bytes, source), source);
  }

  /** Loads a `.model` file (for example T5's `spiece.model`). */
  static load(file: string): SentencePieceTokenizer {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new TokenizerError(`model file not found: ${file}. Train one with \`myriad tokenizer train\` or pass the path of a SentencePiece .model file.`);
      throw new TokenizerError(`cannot read model file ${file}: ${(e as Error).message}`);
    }
    return SentencePieceTokenizer.fromBytes(bytes, file);
  }

  /** The normalized form of `text` that segmentation sees (spaces as `▁`). */
  normalize(text: string): string {
    return this.normalizer.normalize(text);
  }

  /** Segments already-normalized text: `[start, end, id]` triples in code units (no unknown merging). */
  private viterbi(norm: string): Int32Array {
    const n = norm.length;
    if (this.bestScore.length < n + 1) {
      const cap = Math.max(n + 1, this.bestScore.length * 2, 256);
      this.bestScore = new Float64Array(cap);
      this.startsAt = new Int32Array(cap);
      this.bestId = new Int32Array(cap);
    }
    const best = this.bestScore, starts = this.startsAt, ids = this.bestId;
    starts.fill(-1, 0, n + 1);
    best[0] = 0;
    const tbase = this.trie.base, tcheck = this.trie.check, value = this.trie.value, tscore = this.trie.score;
    const tsize = tcheck.length;
    const unkScore = Math.fround(this.minScore - UNK_PENALTY);
    const unkId = this.unkId;
    for (let s = 0; s < n; ) {
      const c0 = norm.charCodeAt(s);
      let mblen = 1;
      if (c0 >= 0xd800 && c0 <= 0xdbff && s + 1 < n) {
        const d = norm.charCodeAt(s + 1);
        if (d >= 0xdc00 && d <= 0xdfff) mblen = 2;
      }
      const base = best[s];
      let hasSingle = false;
      let node = 0;
      for (let e = s + 1; e <= n; e++) {
        const t = tbase[node] + norm.charCodeAt(e - 1);
        if (t >= tsize || tcheck[t] !== node) break;
        node = t;
        const id = value[t];
        if (id >= 0) {
          // Scores are float32 values; the sum is compared unrounded and stored as float32 (as SentencePiece does).
          const cand = tscore[t] + base;
          if (starts[e] === -1 || cand > best[e]) {
            best[e] = Math.fround(cand);
            starts[e] = s;
            ids[e] = id;
          }
          if (e - s === mblen) hasSingle = true;
        }
      }
      if (!hasSingle) {
        const e2 = s + mblen;
        const cand = Math.fround(unkScore + base);
        if (starts[e2] === -1 || cand > best[e2]) {
          best[e2] = cand;
          starts[e2] = s;
          ids[e2] = unkId;
        }
      }
      s += mblen;
    }
    let count = 0;
    for (let e = n; e > 0; e = starts[e]) count++;
    const out = new Int32Array(count * 3);
    let k = count - 1;
    for (let e = n; e > 0; e = starts[e], k--) {
      out[3 * k] = starts[e];
      out[3 * k + 1] = e;
      out[3 * k + 2] = ids[e];
    }
    return out;
  }

  /** Encodes text into pieces with ids, exactly as `spm_encode` segments it. */
  encodeDetailed(text: string): EncodedPiece[] {
    const norm = this.normalizer.normalize(text);
    if (norm.length === 0) return [];
    const path = this.viterbi(norm);
    const out: EncodedPiece[] = [];
    let prevUnk = false;
    for (let k = 0; k < path.length; k += 3) {
      const id = path[k + 2];
      const w = norm.slice(path[k], path[k + 1]);
      const isUnk = id === this.unkId;
      if (isUnk && this.byteFallback) {
        for (const b of utf8.encode(w)) out.push({ id: this.byteIds[b], piece: byteToPiece(b) });
      } else if (isUnk && prevUnk) {
        out[out.length - 1].piece += w;
      } else {
        out.push({ id, piece: w });
      }
      prevUnk = isUnk;
    }
    return out;
  }

  /** Text to ids (no EOS appended). */
  encode(text: string): number[] {
    const norm = this.normalizer.normalize(text);
    if (norm.length === 0) return [];
    const path = this.viterbi(norm);
    const out: number[] = [];
    let prevUnk = false;
    for (let k = 0; k < path.length; k += 3) {
      const id = path[k + 2];
      const isUnk = id === this.unkId;
      if (isUnk && this.byteFallback) {
        for (const b of utf8.encode(norm.slice(path[k], path[k + 1]))) out.push(this.byteIds[b]);
      } else if (!(isUnk && prevUnk)) {
        out.push(id);
      }
      prevUnk = isUnk;
    }
    return out;
  }

  /** Text to pieces, as `spm_encode --output_format=piece` prints them. */
  encodeAsPieces(text: string): string[] {
    return this.encodeDetailed(text).map((p) => p.piece);
  }

  /** Ids to text. Throws `TokenizerError` for an id outside the vocabulary. */
  decode(ids: readonly number[]): string {
    const pieces: string[] = [];
    for (const id of ids) pieces.push(this.idToPiece(id));
    return this.decodeIdsOfPieces(ids, pieces);
  }

  /** Pieces to text (unknown pieces decode as themselves, as in SentencePiece). */
  decodePieces(pieces: readonly string[]): string {
    return this.decodeIdsOfPieces(pieces.map((p) => this.pieceToId(p)), pieces);
  }

  private decodeIdsOfPieces(ids: readonly number[], pieces: readonly string[]): string {
    let text = '';
    let isBosWs = true;
    let bosWsSeen = false;
    const bytes: number[] = [];
    const removeExtra = this.normalizer.config.removeExtraWhitespaces;
    const stripLeading = this.normalizer.config.addDummyPrefix || removeExtra;
    const flushBytes = (): void => {
      if (bytes.length > 0) { text += decodeUtf8Lenient(bytes); bytes.length = 0; }
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const type = this.types[id];
      if (type === PieceType.BYTE) {
        bytes.push(pieceToByte(pieces[i]));
        continue;
      }
      flushBytes();
      if (bosWsSeen || text.length > 0) isBosWs = false;
      let piece = pieces[i];
      let surface: string;
      bosWsSeen = false;
      if (type === PieceType.CONTROL) {
        surface = '';
      } else if (type === PieceType.UNKNOWN) {
        surface = piece === this.pieces[id] ? this.unkSurface : piece;
      } else {
        if (isBosWs && stripLeading && piece.startsWith(SPACE_SYMBOL)) {
          piece = piece.slice(1);
          bosWsSeen = !removeExtra;
        }
        surface = piece.replaceAll(SPACE_SYMBOL, ' ');
      }
      text += surface;
    }
    flushBytes();
    return text;
  }

  /** The id of a piece (control, unknown and byte pieces first), or `unkId`. */
  pieceToId(piece: string): number {
    return this.reservedIds.get(piece) ?? this.normalIds.get(piece) ?? this.unkId;
  }

  /** The piece of an id. */
  idToPiece(id: number): string {
    this.checkId(id);
    return this.pieces[id];
  }

  /** The score (log probability) of an id. */
  getScore(id: number): number {
    this.checkId(id);
    return this.scores[id];
  }

  /** The `PieceType` of an id. */
  pieceType(id: number): PieceType {
    this.checkId(id);
    return this.types[id] as PieceType;
  }

  isControl(id: number): boolean { return this.pieceType(id) === PieceType.CONTROL; }
  isUnknown(id: number): boolean { return this.pieceType(id) === PieceType.UNKNOWN; }
  isByte(id: number): boolean { return this.pieceType(id) === PieceType.BYTE; }
  isUnused(id: number): boolean { return this.pieceType(id) === PieceType.UNUSED; }
  isUserDefined(id: number): boolean { return this.pieceType(id) === PieceType.USER_DEFINED; }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError(`invalid id ${id}: ids must be integers in [0, ${this.vocabSize}).`);
    }
  }

  /** The `.model` bytes of this model. */
  serialize(): Uint8Array {
    return encodeModelProto(this.proto);
  }

  /** Writes the `.model` file atomically (temporary file, fsync, rename). */
  save(file: string): void {
    writeFileAtomic(file, this.serialize());
  }

  /** The `.vocab` text spm_train writes next to a model: `piece<TAB>score` per line. */
  vocabText(): string {
    let s = '';
    for (let i = 0; i < this.vocabSize; i++) s += `${this.pieces[i]}\t${formatScore(this.scores[i])}\n`;
    return s;
  }
}

/** `%g`-like formatting of a float32 score, as the `.vocab` files of spm_train show it. */
function formatScore(x: number): string {
  if (x === 0) return '0';
  return String(Number(x.toPrecision(6)));
}

/**
 * UTF-8 to text the way SentencePiece decodes byte pieces: each maximal valid character is kept and
 * each byte that does not start a valid character becomes U+FFFD on its own.
 */
export function decodeUtf8Lenient(bytes: readonly number[]): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    let cp = -1;
    let len = 1;
    if (b < 0x80) {
      cp = b;
    } else if (b >= 0xc2 && b <= 0xdf) {
      len = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      len = 3;
    } else if (b >= 0xf0 && b <= 0xf4) {
      len = 4;
    }
    if (len > 1 && i + len <= bytes.length) {
      let v = len === 2 ? b & 0x1f : len === 3 ? b & 0x0f : b & 0x07;
      let ok = true;
      for (let k = 1; k < len; k++) {
        const c = bytes[i + k];
        if ((c & 0xc0) !== 0x80) { ok = false; break; }
        v = (v << 6) | (c & 0x3f);
      }
      const min = len === 2 ? 0x80 : len === 3 ? 0x800 : 0x10000;
      if (ok && v >= min && v <= 0x10ffff && !(v >= 0xd800 && v <= 0xdfff)) cp = v;
    }
    if (cp < 0) { out += '\ufffd'; i += 1; } else { out += String.fromCodePoint(cp); i += len; }
  }
  return out;
}

/** Writes `data` to `file` via a temporary file, fsync and rename; creates the directory. */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const dir = path.dirname(path.resolve(file));
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, data);
    const fd = openSync(tmp, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
    renameSync(tmp, file);
  } catch (e) {
    throw new TokenizerError(`cannot write ${file}: ${(e as Error).message}`);
  }
}
