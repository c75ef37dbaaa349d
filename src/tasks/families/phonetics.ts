/**
 * Cluster `phonetics`: families built from the CMU Pronouncing Dictionary
 * (`cmu-pronouncing-dictionary`) — ARPAbet transcription, syllable counting, rhymes, lexical
 * stress and homophones. Words are CMUdict entries that WordNet also spells in lower case (so
 * they are real English words rather than names or abbreviations). Families that ask about "the"
 * pronunciation use only words with exactly one pronunciation.
 *
 * All families share the split group `cmudict`, keyed by the word.
 */

import type { TaskFamily } from '../family.js';
import { dataFamilyBuilder, flanTemplates, invertedTemplate } from '../family_builder.js';
import type { Rng } from '../rng.js';
import { loadCmuDict, rhymingPart, stressPattern, syllableCount } from '../data/cmudict.js';
import { lowercaseWordSet } from '../data/wordnet.js';
import { optionsFrom, ordinalWord } from './util.js';

interface WordPron { word: string; phones: readonly string[]; prons: number }

let words: WordPron[] | undefined;

/** CMUdict words (2+ lower-case letters) that WordNet spells in lower case, with their primary pronunciation. */
function cmuWords(): WordPron[] {
  if (words) return words;
  const dict = loadCmuDict();
  const lemmas = lowercaseWordSet();
  const out: WordPron[] = [];
  for (const [w, prons] of dict) {
    if (/^[a-z]{2,}$/.test(w) && lemmas.has(w)) out.push({ word: w, phones: prons[0], prons: prons.length });
  }
  out.sort((a, b) => (a.word < b.word ? -1 : 1));
  words = out;
  return out;
}

let unique: WordPron[] | undefined;
function uniqueWords(): WordPron[] {
  unique ??= cmuWords().filter((w) => w.prons === 1);
  return unique;
}

const pron = (w: WordPron): string => w.phones.join(' ');

/** Every CMUdict family keeps a word in one split across families (split group `cmudict`). */
const cmudictFamily = dataFamilyBuilder({
  cluster: 'phonetics', source: 'cmudict', splitGroup: 'cmudict', keyOf: (w: WordPron) => w.word,
});

function otherWordDraw(rng: Rng, pool: readonly WordPron[], reject: (w: WordPron) => boolean): () => string {
  return () => {
    for (let i = 0; i < 1000; i++) {
      const w = rng.pick(pool);
      if (!reject(w)) return w.word;
    }
    throw new Error('phonetics: no distractor found');
  };
}

// ----------------------------------------------------------------------------------------------

const pronunciationFamily = cmudictFamily({
  name: 'cmu_pronunciation',
  description: 'Transcribe a word into ARPAbet with stress digits, as the CMU Pronouncing Dictionary does.',
  templates: flanTemplates(
    'How is "{word}" pronounced? Give the ARPAbet transcription with stress digits.',
    'Word: {word}\nARPAbet:',
    'Write the CMU Pronouncing Dictionary entry for "{word}".',
    'Transcribe "{word}" into ARPAbet phonemes.',
    'What phonemes make up the word "{word}"? Use ARPAbet, marking vowels 0, 1 or 2 for stress.',
    invertedTemplate('Which English word is pronounced {answer} in ARPAbet?', '{word}'),
  ),
  items: uniqueWords,
  make: (w) => ({ fields: { word: w.word }, answer: pron(w) }),
});

// ----------------------------------------------------------------------------------------------

const syllableFamily = cmudictFamily({
  name: 'cmu_syllable_count',
  description: 'Count the syllables of a word (its vowel sounds in the CMU dictionary).',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    'How many syllables does the word "{word}" have?',
    'Count the syllables in "{word}".',
    'Word: {word}\nNumber of syllables:',
    'If you say "{word}" out loud, how many syllables do you pronounce?',
    'Q: Syllable count of "{word}"?\nA:',
    invertedTemplate('Give an English word with exactly {answer} syllable(s).', '{word}'),
  ),
  items: uniqueWords,
  make(w, rng) {
    const n = syllableCount(w.phones);
    const vowels = w.phones.filter((p) => /\d$/.test(p));
    const lo = Math.max(1, n - rng.int(0, 2));
    return {
      fields: { word: w.word },
      answer: String(n),
      options: [0, 1, 2, 3].map((i) => String(lo + i)),
      rationale: `In ARPAbet, "${w.word}" is ${pron(w)}. Its vowel sounds are ${vowels.join(', ')}, one per syllable, so it has ${n} syllable${n === 1 ? '' : 's'}.`,
    };
  },
});

// ----------------------------------------------------------------------------------------------

let rhymeClasses: Map<string, WordPron[]> | undefined;
function rhymeClassesOf(): Map<string, WordPron[]> {
  if (rhymeClasses) return rhymeClasses;
  const m = new Map<string, WordPron[]>();
  for (const w of uniqueWords()) {
    const r = rhymingPart(w.phones);
    const l = m.get(r);
    if (l) l.push(w); else m.set(r, [w]);
  }
  rhymeClasses = m;
  return m;
}

/** Rhyme partners: same rhyming part, and not a word that merely contains the other at its end. */
function rhymePartners(w: WordPron): WordPron[] {
  const cls = rhymeClassesOf().get(rhymingPart(w.phones)) ?? [];
  return cls.filter((x) => x.word !== w.word && !x.word.endsWith(w.word) && !w.word.endsWith(x.word));
}

const rhymeFamily = cmudictFamily({
  name: 'cmu_rhymes',
  description: 'Find a word that rhymes with a given word (same sounds from the last stressed vowel on).',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    'Which word rhymes with "{word}"?',
    'Give a word that rhymes with "{word}".',
    'Find a rhyme for "{word}".',
    'Word: {word}\nRhyme:',
    'Name a word whose ending sounds like the ending of "{word}".',
    invertedTemplate('Give a word that rhymes with "{answer}".', '{word}'),
  ),
  items: () => uniqueWords().filter((w) => rhymingPart(w.phones) !== '' && rhymePartners(w).length > 0),
  make(w, rng) {
    const r = rhymingPart(w.phones);
    const partner = rng.pick(rhymePartners(w));
    const draw = otherWordDraw(rng, uniqueWords(), (x) => rhymingPart(x.phones) === r || x.word === w.word);
    return {
      fields: { word: w.word },
      answer: partner.word,
      options: optionsFrom(partner.word, 3, rng, draw),
      rationale: `"${w.word}" is pronounced ${pron(w)}; from its last stressed vowel on it sounds ${r}. "${partner.word}" is pronounced ${pron(partner)}, which also ends in ${r}.`,
    };
  },
});

// ----------------------------------------------------------------------------------------------

const stressFamily = cmudictFamily({
  name: 'cmu_stress',
  description: 'Say which syllable of a two- to five-syllable word carries the primary stress.',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    'Which syllable of "{word}" carries the primary stress?',
    'Where is the main stress in "{word}"? Answer first, second, third, and so on.',
    'Word: {word}\nStressed syllable:',
    '"{word}" has {syllables} syllables. Which one is stressed?',
    'On which syllable does the accent fall in the word "{word}"?',
    invertedTemplate('Give a {syllables}-syllable word stressed on the {answer} syllable.', '{word}'),
  ),
  items: () => uniqueWords().filter((w) => {
    const s = stressPattern(w.phones);
    return s.length >= 2 && s.length <= 5 && s.filter((d) => d === '1').length === 1;
  }),
  make(w) {
    const s = stressPattern(w.phones);
    const at = s.indexOf('1') + 1;
    const vowels = w.phones.filter((p) => /\d$/.test(p));
    return {
      fields: { word: w.word, syllables: String(s.length) },
      answer: ordinalWord(at),
      options: s.map((_, i) => ordinalWord(i + 1)),
      rationale: `In ARPAbet, "${w.word}" is ${pron(w)}. Its vowels in order are ${vowels.join(', ')}; the one marked 1 (primary stress) is vowel number ${at}.`,
    };
  },
});

// ----------------------------------------------------------------------------------------------

let homophoneGroups: Map<string, WordPron[]> | undefined;
function homophonesOf(w: WordPron): WordPron[] {
  if (!homophoneGroups) {
    homophoneGroups = new Map();
    for (const x of cmuWords()) {
      const k = pron(x);
      const l = homophoneGroups.get(k);
      if (l) l.push(x); else homophoneGroups.set(k, [x]);
    }
  }
  return (homophoneGroups.get(pron(w)) ?? []).filter((x) => x.word !== w.word);
}

const homophoneFamily = cmudictFamily({
  name: 'cmu_homophones',
  description: 'Name a word with exactly the same (primary) pronunciation but a different spelling.',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    'Which word sounds the same as "{word}" but is spelled differently?',
    'Give a homophone of "{word}".',
    'Word: {word}\nHomophone:',
    'Name a word pronounced exactly like "{word}".',
    'Besides "{word}", which word is pronounced {pron} in ARPAbet?',
    invertedTemplate('Give a homophone of "{answer}".', '{word}'),
  ),
  items: () => cmuWords().filter((w) => homophonesOf(w).length > 0),
  make(w, rng) {
    const partner = rng.pick(homophonesOf(w));
    const dict = loadCmuDict();
    const sounds = pron(w);
    const draw = otherWordDraw(rng, cmuWords(), (x) => x.word === w.word || (dict.get(x.word) ?? []).some((p) => p.join(' ') === sounds));
    return {
      fields: { word: w.word, pron: pron(w) },
      answer: partner.word,
      options: optionsFrom(partner.word, 3, rng, draw),
      rationale: `"${w.word}" is pronounced ${pron(w)}. "${partner.word}" is also pronounced ${pron(partner)}, but it is spelled differently.`,
    };
  },
});

/** The phonetics cluster. */
export const PHONETICS_FAMILIES: readonly TaskFamily[] = [pronunciationFamily, syllableFamily, rhymeFamily, stressFamily, homophoneFamily];
