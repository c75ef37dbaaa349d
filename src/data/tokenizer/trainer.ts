/**
 * Training a SentencePiece unigram model (Kudo 2018), following SentencePiece's trainer
 * (algorithm facts from its public source):
 *   1. normalize each sentence (the model's own rules, spaces → `▁`), blank out meta pieces
 *      (user-defined and control symbols, byte pieces) so they are not learned as text;
 *   2. keep the most frequent characters covering `characterCoverage` of the corpus (the rest
 *      become unknown);
 *   3. seed the vocabulary with every kept character and the most frequent substrings
 *      (occurring ≥ 2 times, right-branching, i.e. suffix-tree nodes, scored frequency × length,
 *      at most `seedSentencepieceSize`), restricted to valid pieces: ≤ `maxSentencepieceLength`
 *      characters, `▁` only at the start, one Unicode script, digit rules;
 *   4. split sentences into words at `▁` and alternate EM sub-iterations (forward–backward
 *      expected counts; M-step with the digamma-based sparse prior, dropping pieces expected
 *      fewer than 0.5 times) with pruning: each piece's loss is the likelihood drop when its
 *      occurrences are re-segmented by its second-best segmentation; keep the best
 *      max(1.1 × vocab, 0.75 × current) pieces, until ≤ 1.1 × vocab remain;
 *   5. keep the required characters plus the highest-scoring pieces up to the vocabulary size,
 *      and place the meta pieces (pad/eos/unk/bos, control, user-defined, 256 byte pieces) at
 *      their ids.
 * Myriad defaults to T5's special ids: pad=0, eos=1, unk=2, no bos. Substrings are counted per
 * distinct word with a hash map instead of an enhanced suffix array, which gives the same seed
 * set for the default `splitByWhitespace` and costs memory proportional to the number of distinct
 * substrings (fine up to corpora of tens of MB). Arithmetic is float64 (SentencePiece mixes
 * float32), so vocabularies are close to, not identical with, spm_train's; scores are stored as
 * float32.
 */

import { readFileSync } from 'node:fs';
import { precompiledCharsmapFor, type NormalizationName, NORMALIZATION_NAMES } from './charsmap.js';
import { SentencePieceTokenizer } from './model.js';
import { Normalizer, PrefixMatcher } from './normalizer.js';
import { decodeModelProto, encodeModelProto, type ModelProto, type ProtoPiece, type TrainerSpec } from './proto.js';
import { PieceType, TokenizerError, byteToPiece } from './types.js';
import { SCRIPT_COMMON, SCRIPT_INHERITED, SCRIPT_UNKNOWN, scriptOf } from './unicode_script.js';

/** Options of `trainUnigram`; names follow spm_train's flags in camel case. */
export interface UnigramTrainerOptions {
  /** Total number of pieces, meta pieces included. */
  vocabSize: number;
  /** Fraction of character occurrences the kept alphabet must cover, in [0.98, 1] (default 0.9995). */
  characterCoverage?: number;
  /** Add the 256 byte pieces `<0x00>`…`<0xFF>` and encode unknown characters as their UTF-8 bytes. */
  byteFallback?: boolean;
  /** Symbols that are always one piece and never split (e.g. `<extra_id_0>`). */
  userDefinedSymbols?: readonly string[];
  /** Symbols that get ids but never come out of `encode` (e.g. language tags `<2fr>`). */
  controlSymbols?: readonly string[];
  /** Characters always kept in the alphabet regardless of coverage. */
  requiredChars?: string;
  /** Special ids (T5 defaults: pad 0, eos 1, unk 2, bos −1 = none). */
  padId?: number;
  eosId?: number;
  unkId?: number;
  bosId?: number;
  padPiece?: string;
  eosPiece?: string;
  unkPiece?: string;
  bosPiece?: string;
  /** What an unknown id decodes to (default " ⁇ "). */
  unkSurface?: string;
  /** Normalization rules (default `nmt_nfkc`, SentencePiece's default). */
  normalization?: NormalizationName;
  addDummyPrefix?: boolean;
  removeExtraWhitespaces?: boolean;
  maxSentencepieceLength?: number;
  /** Sentences longer than this many UTF-8 bytes are skipped (default 4192). */
  maxSentenceLength?: number;
  splitByUnicodeScript?: boolean;
  splitByNumber?: boolean;
  splitByWhitespace?: boolean;
  splitDigits?: boolean;
  allowWhitespaceOnlyPieces?: boolean;
  seedSentencepieceSize?: number;
  shrinkingFactor?: number;
  numSubIterations?: number;
  /** When false, a corpus too small for `vocabSize` yields a smaller vocabulary instead of an error. */
  hardVocabLimit?: boolean;
  /** Use only the first N sentences (0 = all). */
  inputSentenceSize?: number;
  /** Recorded in the model's TrainerSpec. */
  modelPrefix?: string;
  input?: readonly string[];
  /** Called with progress lines (loading, seeding, each EM iteration, pruning). */
  onProgress?: (p: TrainProgress) => void;
}

/** A progress report from the trainer. */
export interface TrainProgress {
  stage: 'load' | 'seed' | 'em' | 'prune' | 'done';
  message: string;
  pieces?: number;
  objective?: number;
  tokens?: number;
  elapsedMs: number;
}

const UNK_CHAR = 0x2585; // ▅, stands for characters outside the alphabet
const WS = 0x2581; // ▁
const TAB = 0x09; // stands for meta pieces in the corpus
const ANY_SCRIPT = -2;

function isDecimal(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0xff10 && c <= 0xff19);
}

/** Digamma function ψ(x) (asymptotic series after shifting x ≥ 7). */
function digamma(x: number): number {
  let result = 0;
  for (; x < 7; ++x) result -= 1 / x;
  x -= 0.5;
  const xx = 1 / x;
  const xx2 = xx * xx;
  const xx4 = xx2 * xx2;
  return result + Math.log(x) + xx2 / 24 - (7 / 960) * xx4 + (31 / 8064) * xx4 * xx2 - (127 / 30720) * xx4 * xx4;
}

function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** Sort by value descending, then key ascending (SentencePiece's `Sorted`). */
function byScoreDesc<K extends string | number>(a: [K, number], b: [K, number]): number {
  if (a[1] !== b[1]) return b[1] - a[1];
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) out.push(ch.codePointAt(0)!);
  return out;
}

/** Splits a normalized sentence into words, each starting at a `▁` (or at the sentence start). */
function splitIntoWords(cps: readonly number[], allowWsOnly: boolean): number[][] {
  const words: number[][] = [];
  let inWs = false;
  for (let i = 0; i < cps.length; i++) {
    const isWs = cps[i] === WS;
    if (i === 0 || (isWs && (!inWs || !allowWsOnly))) {
      words.push([]);
      inWs = true;
    }
    if (inWs && !isWs) inWs = false;
    words[words.length - 1].push(cps[i]);
  }
  return words;
}

/** Pieces of the model being trained, with a trie over code points for lattice construction. */
class TrainerModel {
  readonly pieces: string[];
  readonly scores: Float64Array;
  readonly minScore: number;
  private readonly children = new Map<number, number>();
  private value: Int32Array;

  constructor(entries: readonly [string, number][]) {
    if (entries.length === 0) throw new TokenizerError('training produced no pieces; the corpus is too small');
    this.pieces = entries.map((e) => e[0]);
    this.scores = Float64Array.from(entries, (e) => e[1]);
    let min = Infinity;
    for (const s of this.scores) {
      if (Number.isNaN(s)) throw new TokenizerError('internal: NaN piece score during training');
      min = Math.min(min, s);
    }
    this.minScore = min;
    const value: number[] = [-1];
    for (let id = 0; id < this.pieces.length; id++) {
      let node = 0;
      for (const ch of this.pieces[id]) {
        const key = node * 0x110000 + ch.codePointAt(0)!;
        let child = this.children.get(key);
        if (child === undefined) {
          child = value.length;
          value.push(-1);
          this.children.set(key, child);
        }
        node = child;
      }
      value[node] = id;
    }
    this.value = Int32Array.from(value);
  }

  get size(): number { return this.pieces.length; }

  /**
   * Lattice of a word: parallel arrays of nodes in order of begin position. Characters without a
   * one-character piece get an unknown node (id −1, score minScore − 10).
   */
  lattice(cps: ArrayLike<number>, out: Lattice): void {
    out.reset();
    const n = cps.length;
    const unkScore = this.minScore - 10;
    for (let b = 0; b < n; b++) {
      let node = 0;
      let hasSingle = false;
      for (let e = b + 1; e <= n; e++) {
        const child = this.children.get(node * 0x110000 + cps[e - 1]);
        if (child === undefined) break;
        node = child;
        const id = this.value[node];
        if (id >= 0) {
          out.push(b, e, id, this.scores[id]);
          if (e === b + 1) hasSingle = true;
        }
      }
      if (!hasSingle) out.push(b, b + 1, -1, unkScore);
    }
  }
}

/** Growable node arrays of one lattice. */
class Lattice {
  begin = new Int32Array(256);
  end = new Int32Array(256);
  id = new Int32Array(256);
  score = new Float64Array(256);
  size = 0;

  reset(): void { this.size = 0; }

  push(b: number, e: number, id: number, score: number): void {
    if (this.size === this.begin.length) {
      const cap = this.size * 2;
      const nb = new Int32Array(cap); nb.set(this.begin); this.begin = nb;
      const ne = new Int32Array(cap); ne.set(this.end); this.end = ne;
      const ni = new Int32Array(cap); ni.set(this.id); this.id = ni;
      const ns = new Float64Array(cap); ns.set(this.score); this.score = ns;
    }
    const k = this.size++;
    this.begin[k] = b; this.end[k] = e; this.id[k] = id; this.score[k] = score;
  }

  /**
   * Best path over positions 0..n; `skip` excludes one node index. Returns the node indices of
   * the path, or null when no path exists.
   */
  viterbi(n: number, skip = -1): number[] | null {
    const best = new Float64Array(n + 1).fill(-Infinity);
    const back = new Int32Array(n + 1).fill(-1);
    best[0] = 0;
    for (let k = 0; k < this.size; k++) {
      if (k === skip) continue;
      const b = this.begin[k];
      if (best[b] === -Infinity) continue;
      const s = best[b] + this.score[k];
      const e = this.end[k];
      if (back[e] === -1 || s > best[e]) { best[e] = s; back[e] = k; }
    }
    if (back[n] === -1) return null;
    const path: number[] = [];
    for (let e = n; e > 0; e = this.begin[back[e]]) path.push(back[e]);
    return path.reverse();
  }
}

interface Word { cps: Int32Array; freq: number }

interface MetaPiece { piece: string; type: PieceType }

/** Validates options and fills defaults. */
function resolveOptions(o: UnigramTrainerOptions) {
  const r = {
    vocabSize: o.vocabSize,
    characterCoverage: o.characterCoverage ?? 0.9995,
    byteFallback: o.byteFallback ?? false,
    userDefinedSymbols: [...(o.userDefinedSymbols ?? [])],
    controlSymbols: [...(o.controlSymbols ?? [])],
    requiredChars: o.requiredChars ?? '',
    padId: o.padId ?? 0,
    eosId: o.eosId ?? 1,
    unkId: o.unkId ?? 2,
    bosId: o.bosId ?? -1,
    padPiece: o.padPiece ?? '<pad>',
    eosPiece: o.eosPiece ?? '</s>',
    unkPiece: o.unkPiece ?? '<unk>',
    bosPiece: o.bosPiece ?? '<s>',
    unkSurface: o.unkSurface ?? ' \u2047 ',
    normalization: o.normalization ?? 'nmt_nfkc',
    addDummyPrefix: o.addDummyPrefix ?? true,
    removeExtraWhitespaces: o.removeExtraWhitespaces ?? true,
    maxSentencepieceLength: o.maxSentencepieceLength ?? 16,
    maxSentenceLength: o.maxSentenceLength ?? 4192,
    splitByUnicodeScript: o.splitByUnicodeScript ?? true,
    splitByNumber: o.splitByNumber ?? true,
    splitByWhitespace: o.splitByWhitespace ?? true,
    splitDigits: o.splitDigits ?? false,
    allowWhitespaceOnlyPieces: o.allowWhitespaceOnlyPieces ?? false,
    seedSentencepieceSize: o.seedSentencepieceSize ?? 1000000,
    shrinkingFactor: o.shrinkingFactor ?? 0.75,
    numSubIterations: o.numSubIterations ?? 2,
    hardVocabLimit: o.hardVocabLimit ?? true,
    inputSentenceSize: o.inputSentenceSize ?? 0,
  };
  const int = (name: string, v: number, lo: number, hi: number): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new TokenizerError(`${name} must be an integer in [${lo}, ${hi}], got ${v}`);
    }
  };
  int('vocabSize', r.vocabSize, 1, 2 ** 31 - 1);
  if (!(r.characterCoverage >= 0.98 && r.characterCoverage <= 1)) {
    throw new TokenizerError(`characterCoverage must be in [0.98, 1] (as in spm_train), got ${r.characterCoverage}`);
  }
  if (!(r.shrinkingFactor >= 0.5 && r.shrinkingFactor <= 0.95)) {
    throw new TokenizerError(`shrinkingFactor must be in [0.5, 0.95], got ${r.shrinkingFactor}`);
  }
  int('numSubIterations', r.numSubIterations, 1, 10);
  int('maxSentencepieceLength', r.maxSentencepieceLength, 1, 512);
  int('maxSentenceLength', r.maxSentenceLength, 10, 2 ** 30);
  int('seedSentencepieceSize', r.seedSentencepieceSize, 1, 2 ** 31 - 1);
  int('inputSentenceSize', r.inputSentenceSize, 0, 2 ** 31 - 1);
  if (!NORMALIZATION_NAMES.includes(r.normalization)) {
    throw new TokenizerError(`normalization must be one of ${NORMALIZATION_NAMES.join(', ')}, got ${JSON.stringify(r.normalization)}`);
  }
  for (const s of [...r.userDefinedSymbols, ...r.controlSymbols]) {
    if (s.length === 0) throw new TokenizerError('user-defined and control symbols must not be empty');
  }
  return r;
}

type Resolved = ReturnType<typeof resolveOptions>;

/** Assigns ids to the meta pieces as SentencePiece does. */
function metaPieces(r: Resolved): Map<number, MetaPiece> {
  const meta = new Map<number, MetaPiece>();
  let hasUnk = false;
  const special: [number, string, string][] = [
    [r.unkId, r.unkPiece, 'unkId'], [r.bosId, r.bosPiece, 'bosId'], [r.eosId, r.eosPiece, 'eosId'], [r.padId, r.padPiece, 'padId'],
  ];
  for (const [id, piece, name] of special) {
    if (id < 0) continue;
    if (!Number.isInteger(id) || id >= r.vocabSize) throw new TokenizerError(`${name}=${id} is outside the vocabulary [0, ${r.vocabSize}); pass an id below vocabSize or -1 to disable it`);
    if (meta.has(id)) throw new TokenizerError(`${name}=${id} is already used by ${meta.get(id)!.piece}; special ids must be distinct`);
    if (piece === r.unkPiece && hasUnk) throw new TokenizerError(`${name} uses the unknown piece ${piece}`);
    if (piece === r.unkPiece) hasUnk = true;
    meta.set(id, { piece, type: piece === r.unkPiece ? PieceType.UNKNOWN : PieceType.CONTROL });
  }
  if (!hasUnk) throw new TokenizerError('unkId must be defined (>= 0): every model needs an unknown piece');
  const seen = new Set<string>();
  let next = 0;
  const add = (w: string, type: PieceType): void => {
    if (seen.has(w)) throw new TokenizerError(`${w} is defined twice among control/user-defined symbols`);
    seen.add(w);
    if (w === r.unkPiece) throw new TokenizerError(`${r.unkPiece} must not be listed as a control or user-defined symbol`);
    const specialId = w === r.bosPiece && r.bosId >= 0 ? r.bosId : w === r.eosPiece && r.eosId >= 0 ? r.eosId : w === r.padPiece && r.padId >= 0 ? r.padId : -1;
    if (specialId >= 0) { meta.get(specialId)!.type = type; return; }
    while (meta.has(next)) next++;
    meta.set(next, { piece: w, type });
  };
  for (const w of r.controlSymbols) add(w, PieceType.CONTROL);
  for (const w of r.userDefinedSymbols) add(w, PieceType.USER_DEFINED);
  if (r.byteFallback) for (let b = 0; b < 256; b++) add(byteToPiece(b), PieceType.BYTE);
  return meta;
}

/**
 * Trains a unigram model on sentences (one per item, as lines of a corpus file) and returns it.
 * Throws `TokenizerError` on bad options or when the corpus cannot support `vocabSize` (unless
 * `hardVocabLimit` is false).
 */
export function trainUnigram(sentences: Iterable<string>, options: UnigramTrainerOptions): SentencePieceTokenizer {
  const t0 = Date.now();
  const r = resolveOptions(options);
  const progress = (p: Omit<TrainProgress, 'elapsedMs'>): void => options.onProgress?.({ ...p, elapsedMs: Date.now() - t0 });
  const meta = metaPieces(r);
  const charsmap = precompiledCharsmapFor(r.normalization);
  const normalizer = new Normalizer({
    precompiledCharsmap: charsmap,
    addDummyPrefix: r.addDummyPrefix,
    removeExtraWhitespaces: r.removeExtraWhitespaces,
    escapeWhitespaces: true,
  });
  const metaMatcher = new PrefixMatcher([...meta.values()].map((m) => m.piece));

  // 1. Load and normalize; identical sentences are merged with their count.
  const sentenceFreq = new Map<string, number>();
  let loaded = 0, tooLong = 0;
  for (const raw of sentences) {
    if (r.inputSentenceSize > 0 && loaded >= r.inputSentenceSize) break;
    if (raw.length === 0) continue;
    if (Buffer.byteLength(raw, 'utf8') > r.maxSentenceLength) { tooLong++; continue; }
    if (raw.includes('\u2585')) continue;
    loaded++;
    const s = metaMatcher.replaceAll(normalizer.normalize(raw), '\t');
    if (s.length === 0) continue;
    sentenceFreq.set(s, (sentenceFreq.get(s) ?? 0) + 1);
  }
  if (sentenceFreq.size === 0) throw new TokenizerError('the training corpus has no usable sentences (all empty, too long, or containing U+2585)');
  progress({ stage: 'load', message: `loaded ${loaded} sentences (${sentenceFreq.size} distinct${tooLong ? `, ${tooLong} longer than ${r.maxSentenceLength} bytes skipped` : ''})` });

  // 2. Alphabet by character coverage.
  const charCount = new Map<number, number>();
  const required = new Set<number>();
  for (const ch of r.requiredChars) required.add(ch.codePointAt(0)!);
  let allChars = 0;
  const sentList: [number[], number][] = [];
  for (const [s, f] of sentenceFreq) {
    const cps = codePoints(s);
    sentList.push([cps, f]);
    for (const c of cps) {
      if (c === 0 || c === 0x20) continue;
      charCount.set(c, (charCount.get(c) ?? 0) + f);
      allChars += f;
    }
  }
  for (const c of required) if (!charCount.has(c)) charCount.set(c, 0);
  const charOrder = [...charCount.entries()].sort((a, b) => {
    const ra = required.has(a[0]) ? 1 : 0, rb = required.has(b[0]) ? 1 : 0;
    if (ra !== rb) return rb - ra;
    if (a[1] !== b[1]) return b[1] - a[1];
    return a[0] - b[0];
  });
  const alphabet = new Map<number, number>();
  let accumulated = 0;
  for (const [c, n] of charOrder) {
    if (accumulated / allChars >= r.characterCoverage) break;
    accumulated += n;
    if (c === TAB) continue;
    alphabet.set(c, n);
  }
  if (alphabet.has(UNK_CHAR)) throw new TokenizerError('internal: U+2585 in the alphabet');
  if (alphabet.size + meta.size > r.vocabSize) {
    throw new TokenizerError(
      `vocabSize ${r.vocabSize} is smaller than the alphabet plus meta pieces (${alphabet.size} + ${meta.size}); ` +
        'increase vocabSize or lower characterCoverage.',
    );
  }
  for (const entry of sentList) entry[0] = entry[0].map((c) => (alphabet.has(c) ? c : UNK_CHAR));

  // 3. Seed pieces.
  const seeds = makeSeeds(sentList, alphabet, r);
  progress({ stage: 'seed', message: `alphabet ${alphabet.size} characters (coverage ${(accumulated / allChars).toFixed(5)}), ${seeds.length} seed pieces`, pieces: seeds.length });

  // 4. Words and EM.
  const wordFreq = new Map<string, number>();
  for (const [cps, f] of sentList) {
    const words = r.splitByWhitespace ? splitIntoWords(cps, r.allowWhitespaceOnlyPieces) : [cps];
    for (const w of words) {
      const key = String.fromCodePoint(...w);
      wordFreq.set(key, (wordFreq.get(key) ?? 0) + f);
    }
  }
  const words: Word[] = [...wordFreq.entries()]
    .sort(byScoreDesc)
    .map(([w, f]) => ({ cps: Int32Array.from(codePoints(w)), freq: f }));
  let model = new TrainerModel(seeds);
  const desired = Math.floor(r.vocabSize * 1.1);
  const lattice = new Lattice();
  for (;;) {
    for (let iter = 0; iter < r.numSubIterations; iter++) {
      const { expected, objective, tokens } = eStep(model, words, lattice);
      model = new TrainerModel(mStep(model, expected));
      progress({ stage: 'em', message: `EM sub_iter=${iter} size=${model.size} obj=${objective.toFixed(4)} num_tokens=${tokens}`, pieces: model.size, objective, tokens });
    }
    if (model.size <= desired) break;
    model = new TrainerModel(prune(model, words, lattice, desired, r.shrinkingFactor));
    progress({ stage: 'prune', message: `pruned to ${model.size} pieces`, pieces: model.size });
  }

  // 5. Final vocabulary.
  const finalPieces = finalize(model, alphabet, r.vocabSize - meta.size);
  // Round-trip through the wire format so the in-memory model is exactly what a reload gives
  // (float32 fields, absent empty lists).
  const proto = decodeModelProto(encodeModelProto(buildProto(r, options, meta, finalPieces, charsmap)));
  const tok = new SentencePieceTokenizer(proto, 'trained model');
  progress({ stage: 'done', message: `trained ${tok.vocabSize} pieces in ${((Date.now() - t0) / 1000).toFixed(2)} s`, pieces: tok.vocabSize });
  return tok;
}

/** Reads sentences (lines) from text files and trains on them. */
export function trainUnigramFromFiles(files: readonly string[], options: UnigramTrainerOptions): SentencePieceTokenizer {
  if (files.length === 0) throw new TokenizerError('no input files given; pass at least one text file (one sentence per line)');
  const lines: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new TokenizerError(code === 'ENOENT' ? `input file not found: ${f}` : `cannot read input file ${f}: ${(e as Error).message}`);
    }
    for (const line of text.split('\n')) lines.push(line);
  }
  return trainUnigram(lines, { ...options, input: options.input ?? files });
}

/** Seed pieces: the alphabet plus frequent right-branching substrings, as log probabilities. */
function makeSeeds(sentList: readonly [number[], number][], alphabet: Map<number, number>, r: Resolved): [string, number][] {
  // Units whose substrings are counted: distinct (word, following character) pairs, or whole sentences.
  const units = new Map<string, number>();
  for (const [cps, f] of sentList) {
    if (r.splitByWhitespace) {
      const words = splitIntoWords(cps, r.allowWhitespaceOnlyPieces);
      for (let i = 0; i < words.length; i++) {
        const follow = i + 1 < words.length ? words[i + 1][0] : 0;
        const key = String.fromCodePoint(...words[i]) + '\u0000' + follow;
        units.set(key, (units.get(key) ?? 0) + f);
      }
    } else {
      const key = String.fromCodePoint(...cps) + '\u0000' + 0;
      units.set(key, (units.get(key) ?? 0) + f);
    }
  }
  const count = new Map<string, number>();
  const nextChar = new Map<string, number>(); // -1 once two different next characters were seen
  const maxLen = r.maxSentencepieceLength;
  for (const [key, f] of units) {
    const sep = key.lastIndexOf('\u0000');
    const text = key.slice(0, sep);
    const follow = Number(key.slice(sep + 1));
    const cps = codePoints(text);
    const offs: number[] = [0];
    for (const c of cps) offs.push(offs[offs.length - 1] + (c > 0xffff ? 2 : 1));
    const n = cps.length;
    for (let i = 0; i < n; i++) {
      let prevScript = ANY_SCRIPT;
      let allWs = true;
      let innerWs = false;
      let hasDigit = false;
      for (let j = i + 1; j <= n && j - i <= maxLen; j++) {
        const c = cps[j - 1];
        const pos = j - 1 - i;
        if (c === UNK_CHAR || c === 0 || c === TAB || c === 0x20) break;
        let lastIsWs = false;
        if (c === WS) {
          lastIsWs = true;
          if (pos > 0) innerWs = true;
          if (r.splitByWhitespace && innerWs && !(r.allowWhitespaceOnlyPieces && allWs)) break;
        } else {
          allWs = false;
          if (r.splitByWhitespace && innerWs) break;
          let s = scriptOf(c);
          if (s === SCRIPT_UNKNOWN) s = SCRIPT_COMMON;
          if (s === SCRIPT_INHERITED) s = prevScript;
          if (isDecimal(c)) {
            hasDigit = true;
            if (!r.splitByNumber) s = ANY_SCRIPT;
          }
          if (r.splitByUnicodeScript && s !== ANY_SCRIPT && prevScript !== ANY_SCRIPT && prevScript !== s) break;
          prevScript = s;
        }
        const len = pos + 1;
        if (r.splitDigits && hasDigit && len > 1) break;
        if (len < 2) continue;
        if (!r.splitByWhitespace && lastIsWs && !(r.allowWhitespaceOnlyPieces && allWs)) continue;
        if (r.splitByWhitespace && innerWs && !(r.allowWhitespaceOnlyPieces && allWs)) continue;
        const sub = text.slice(offs[i], offs[j]);
        const nc = j < n ? cps[j] : follow;
        count.set(sub, (count.get(sub) ?? 0) + f);
        const prev = nextChar.get(sub);
        if (prev === undefined) nextChar.set(sub, nc);
        else if (prev !== nc) nextChar.set(sub, -1);
      }
    }
  }
  const subs: [string, number][] = [];
  for (const [sub, c] of count) {
    if (c < 2 || nextChar.get(sub) !== -1) continue;
    subs.push([sub, c * [...sub].length]);
  }
  count.clear();
  nextChar.clear();
  subs.sort(byScoreDesc);
  if (subs.length > r.seedSentencepieceSize) subs.length = r.seedSentencepieceSize;
  const chars: [string, number][] = [...alphabet.entries()]
    .filter(([, n]) => n > 0)
    .map(([c, n]): [string, number] => [String.fromCodePoint(c), n])
    .sort(byScoreDesc);
  const seeds = [...chars, ...subs];
  let sum = 0;
  for (const [, s] of seeds) sum += s;
  const logSum = Math.log(sum);
  return seeds.map(([p, s]) => [p, Math.log(s) - logSum]);
}

/** E-step: expected piece counts by forward–backward over every word's lattice. */
function eStep(model: TrainerModel, words: readonly Word[], lat: Lattice): { expected: Float64Array; objective: number; tokens: number } {
  const expected = new Float64Array(model.size);
  let allFreq = 0;
  for (const w of words) allFreq += w.freq;
  let objective = 0;
  let tokens = 0;
  let alpha = new Float64Array(64), beta = new Float64Array(64);
  let vbest = new Float64Array(64), vcount = new Int32Array(64);
  for (const w of words) {
    const n = w.cps.length;
    model.lattice(w.cps, lat);
    if (alpha.length < n + 1) {
      alpha = new Float64Array(2 * n + 2); beta = new Float64Array(2 * n + 2);
      vbest = new Float64Array(2 * n + 2); vcount = new Int32Array(2 * n + 2);
    }
    alpha.fill(-Infinity, 0, n + 1); beta.fill(-Infinity, 0, n + 1); vbest.fill(-Infinity, 0, n + 1);
    alpha[0] = 0; beta[n] = 0; vbest[0] = 0; vcount[0] = 0;
    const { begin, end, score, id } = lat;
    for (let k = 0; k < lat.size; k++) {
      const b = begin[k], e = end[k], sc = score[k];
      alpha[e] = logAddExp(alpha[e], alpha[b] + sc);
      const v = vbest[b] + sc;
      if (v > vbest[e]) { vbest[e] = v; vcount[e] = vcount[b] + 1; }
    }
    for (let k = lat.size - 1; k >= 0; k--) {
      const b = begin[k], e = end[k];
      beta[b] = logAddExp(beta[b], score[k] + beta[e]);
    }
    const z = alpha[n];
    for (let k = 0; k < lat.size; k++) {
      const i = id[k];
      if (i < 0) continue;
      expected[i] += w.freq * Math.exp(alpha[begin[k]] + score[k] + beta[end[k]] - z);
    }
    if (Number.isNaN(z)) throw new TokenizerError('likelihood is NaN during training; input sentences may be too long');
    objective -= (w.freq * z) / allFreq;
    tokens += vcount[n];
  }
  return { expected, objective, tokens };
}

/** M-step: drop pieces expected fewer than 0.5 times; scores ψ(count) − ψ(total). */
function mStep(model: TrainerModel, expected: Float64Array): [string, number][] {
  const kept: [string, number][] = [];
  let sum = 0;
  for (let i = 0; i < model.size; i++) {
    if (expected[i] < 0.5) continue;
    kept.push([model.pieces[i], expected[i]]);
    sum += expected[i];
  }
  const logSum = digamma(sum);
  return kept.map(([p, f]) => [p, digamma(f) - logSum]);
}

/** Pruning step: keep the pieces whose removal would cost the most likelihood. */
function prune(model: TrainerModel, words: readonly Word[], lat: Lattice, desired: number, shrinking: number): [string, number][] {
  const size = model.size;
  const alwaysKeep = new Uint8Array(size).fill(1);
  const alternatives: (number[] | null)[] = new Array(size).fill(null);
  for (let i = 0; i < size; i++) {
    const cps = codePoints(model.pieces[i]);
    model.lattice(cps, lat);
    const best = lat.viterbi(cps.length);
    if (!best) continue;
    if (best.length >= 2) { alwaysKeep[i] = 0; continue; }
    // The best path is the piece itself; its alternative is the best path without it.
    let self = -1;
    for (let k = 0; k < lat.size; k++) if (lat.begin[k] === 0 && lat.end[k] === cps.length && lat.id[k] === i) self = k;
    const second = lat.viterbi(cps.length, self);
    if (second) alternatives[i] = second.map((k) => lat.id[k]);
  }
  const freq = new Float64Array(size);
  const inverted: number[][] = Array.from({ length: size }, () => []);
  let vsum = 0;
  for (let wi = 0; wi < words.length; wi++) {
    const w = words[wi];
    model.lattice(w.cps, lat);
    vsum += w.freq;
    const path = lat.viterbi(w.cps.length)!;
    for (const k of path) {
      const id = lat.id[k];
      if (id < 0) continue;
      freq[id] += w.freq;
      inverted[id].push(wi);
    }
  }
  let sum = 0;
  for (let i = 0; i < size; i++) sum += freq[i];
  const logSum = Math.log(sum);
  const kept: [string, number][] = [];
  const candidates: [number, number][] = [];
  for (let i = 0; i < size; i++) {
    if (freq[i] === 0 || !alwaysKeep[i]) continue;
    const alt = alternatives[i];
    if (alt === null) { kept.push([model.pieces[i], model.scores[i]]); continue; }
    let f = 0;
    for (const wi of inverted[i]) f += words[wi].freq;
    f /= vsum;
    const logProbSp = Math.log(freq[i]) - logSum;
    const logSumAlt = Math.log(sum + freq[i] * (alt.length - 1));
    let logProbAlt = 0;
    let unknownInAlt = false;
    for (const n of alt) {
      if (n < 0) { unknownInAlt = true; break; }
      logProbAlt += Math.log(freq[n] + freq[i]) - logSumAlt;
    }
    candidates.push([i, unknownInAlt ? Infinity : f * (logProbSp - logProbAlt)]);
  }
  const prunedSize = Math.max(desired, Math.floor(shrinking * size));
  candidates.sort(byScoreDesc);
  for (const [i] of candidates) {
    if (kept.length >= prunedSize) break;
    kept.push([model.pieces[i], model.scores[i]]);
  }
  return kept;
}

/** Required characters plus the best-scoring pieces, `count` in all, by score descending. */
function finalize(model: TrainerModel, alphabet: Map<number, number>, count: number): [string, number][] {
  if (count <= 0) throw new TokenizerError('vocabSize leaves no room for pieces after the meta pieces');
  const scoreOf = new Map<string, number>();
  for (let i = 0; i < model.size; i++) scoreOf.set(model.pieces[i], model.scores[i]);
  const final = new Map<string, number>();
  let penalty = 0;
  const chars = [...alphabet.entries()].sort(byScoreDesc);
  for (const [c] of chars) {
    const s = String.fromCodePoint(c);
    const known = scoreOf.get(s);
    if (known !== undefined) {
      final.set(s, known);
    } else {
      final.set(s, model.minScore + penalty);
      penalty += 0.0001;
    }
  }
  const byScore = [...scoreOf.entries()].sort(byScoreDesc);
  for (const [p, s] of byScore) {
    if (final.has(p)) continue;
    if (final.size >= count) break;
    final.set(p, s);
  }
  return [...final.entries()].sort(byScoreDesc);
}

function buildProto(r: Resolved, o: UnigramTrainerOptions, meta: Map<number, MetaPiece>, finalPieces: [string, number][], charsmap: Uint8Array): ModelProto {
  const pieces: ProtoPiece[] = [];
  let fid = 0;
  for (let id = 0; id < r.vocabSize; id++) {
    const m = meta.get(id);
    if (m) {
      pieces.push({ piece: m.piece, score: 0, type: m.type });
    } else if (fid < finalPieces.length) {
      const [p, s] = finalPieces[fid++];
      pieces.push({ piece: p, score: Math.fround(s) });
    }
  }
  const seen = new Set<string>();
  for (const p of pieces) {
    if (seen.has(p.piece!)) throw new TokenizerError(`piece ${JSON.stringify(p.piece)} would be defined twice; a user-defined or control symbol equals a learned piece`);
    seen.add(p.piece!);
  }
  if (pieces.length < r.vocabSize && r.hardVocabLimit) {
    throw new TokenizerError(
      `Vocabulary size too high (${r.vocabSize}): the corpus supports at most ${pieces.length} pieces. ` +
        `Pass vocabSize <= ${pieces.length}, add text, or set hardVocabLimit=false.`,
    );
  }
  const trainerSpec: TrainerSpec = {
    input: [...(o.input ?? [])],
    modelPrefix: o.modelPrefix ?? '',
    modelType: 1,
    vocabSize: pieces.length,
    selfTestSampleSize: 0,
    characterCoverage: r.characterCoverage,
    inputSentenceSize: r.inputSentenceSize,
    shuffleInputSentence: false,
    seedSentencepieceSize: r.seedSentencepieceSize,
    shrinkingFactor: r.shrinkingFactor,
    maxSentenceLength: r.maxSentenceLength,
    numThreads: 1,
    numSubIterations: r.numSubIterations,
    maxSentencepieceLength: r.maxSentencepieceLength,
    splitByUnicodeScript: r.splitByUnicodeScript,
    splitByNumber: r.splitByNumber,
    splitByWhitespace: r.splitByWhitespace,
    treatWhitespaceAsSuffix: false,
    allowWhitespaceOnlyPieces: r.allowWhitespaceOnlyPieces,
    splitDigits: r.splitDigits,
    controlSymbols: r.controlSymbols,
    userDefinedSymbols: r.userDefinedSymbols,
    requiredChars: r.requiredChars,
    byteFallback: r.byteFallback,
    vocabularyOutputPieceScore: true,
    hardVocabLimit: r.hardVocabLimit,
    useAllVocab: false,
    unkId: r.unkId,
    bosId: r.bosId,
    eosId: r.eosId,
    padId: r.padId,
    unkPiece: r.unkPiece,
    bosPiece: r.bosPiece,
    eosPiece: r.eosPiece,
    padPiece: r.padPiece,
    unkSurface: r.unkSurface,
  };
  return {
    pieces,
    trainerSpec,
    normalizerSpec: {
      name: r.normalization,
      precompiledCharsmap: charsmap,
      addDummyPrefix: r.addDummyPrefix,
      removeExtraWhitespaces: r.removeExtraWhitespaces,
      escapeWhitespaces: true,
    },
  };
}

