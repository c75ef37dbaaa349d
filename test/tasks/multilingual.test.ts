// Independent checks of the UDHR translation and language-identification families: every text,
// language name and ISO code is looked up again in the raw declaration HTML files with a separate
// (string-slicing) reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { getFamily } from '../../src/tasks/collection.js';
import type { TaskExample } from '../../src/tasks/family.js';
import { splitOf } from '../../src/tasks/rng.js';

const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('udhr')), 'declaration');
const files = new Map<string, string>();
function html(code: string): string {
  let s = files.get(code);
  if (s === undefined) { s = readFileSync(path.join(dir, `${code}.html`), 'utf8'); files.set(code, s); }
  return s;
}

function clean(s: string): string {
  return s.replace(/<[^>]*>/g, '').replace(/&#x26;/g, '&').replace(/&#x3C;/g, '<').replace(/\s+/g, ' ').trim();
}

/** Paragraphs of article n, by slicing the raw file between markers. */
function article(code: string, n: number): string[] {
  const s = html(code);
  const start = s.indexOf(`<article data-number="${n}">`);
  assert.ok(start >= 0, `${code} lacks article ${n}`);
  const body = s.slice(start, s.indexOf('</article>', start));
  return body.split('<p>').slice(1).map((chunk) => clean(chunk.slice(0, chunk.indexOf('</p>')))).filter((x) => x.length > 0);
}

/** All paragraphs of a declaration. */
function allParagraphs(code: string): Set<string> {
  return new Set(html(code).split('<p>').slice(1).map((c) => clean(c.slice(0, c.indexOf('</p>')))));
}

/** The <title> turned into a display name: "(2)" suffix dropped, "A, B (C)" → "B A (C)". */
function displayName(code: string): string {
  const title = (/<title>([^<]*)<\/title>/.exec(html(code)) as RegExpExecArray)[1].replace(/ \(\d+\)$/, '');
  const comma = title.indexOf(', ');
  if (comma < 0 || title.indexOf('(') >= 0 && title.indexOf('(') < comma) return title;
  const paren = title.indexOf(' (', comma);
  const second = paren < 0 ? title.slice(comma + 2) : title.slice(comma + 2, paren);
  return `${second} ${title.slice(0, comma)}${paren < 0 ? '' : title.slice(paren)}`;
}

function iso(code: string): string {
  return (/data-iso6393="([^"]+)"/.exec(html(code)) as RegExpExecArray)[1];
}

function sample(name: string, n = 60): TaskExample[] {
  const f = getFamily(name);
  return [...f.generate('train', n, 2), ...f.generate('test', Math.ceil(n / 3), 2)];
}

for (const name of ['udhr_translate_to_english', 'udhr_translate_from_english', 'udhr_translate_pairs']) {
  test(`${name}: source and target are the same article in the raw declarations`, () => {
    for (const ex of sample(name)) {
      const { src, tgt, article: n } = ex.meta as { src: string; tgt: string; article: number };
      assert.equal(ex.fields.source_text, article(src, n).join('\n'));
      assert.equal(ex.answer, article(tgt, n).join('\n'));
      assert.equal(ex.fields.source_language, displayName(src));
      assert.equal(ex.fields.target_language, displayName(tgt));
      if (name === 'udhr_translate_to_english') assert.equal(tgt, 'eng');
      if (name === 'udhr_translate_from_english') assert.equal(src, 'eng');
    }
  });
}

test('translation families keep both directions of a language pair and article in one split', () => {
  const to = getFamily('udhr_translate_to_english');
  const from = getFamily('udhr_translate_from_english');
  for (const split of ['train', 'test'] as const) {
    for (const ex of to.generate(split, 40, 1)) {
      const { src, article: n } = ex.meta as { src: string; article: number };
      assert.equal(splitOf(`udhr_parallel\u0000${['eng', src].sort().join('+')}|${n}`), split);
    }
    // The reverse direction of a held-out pair is held out too: every from-English test item's
    // pair+article is absent from the to-English training pool.
    if (split === 'test') {
      const trainPairs = new Set(to.generate('train', to.capacity('train') as number, 0).map((e) => `${(e.meta as { src: string }).src}|${(e.meta as { article: number }).article}`));
      for (const ex of from.generate('test', 200, 0)) {
        const m = ex.meta as { tgt: string; article: number };
        assert.ok(!trainPairs.has(`${m.tgt}|${m.article}`));
      }
    }
  }
});

test('udhr_language_id: the text is a paragraph of the answer language\'s declaration', () => {
  for (const ex of sample('udhr_language_id', 150)) {
    const code = (ex.meta as { code: string }).code;
    assert.ok(allParagraphs(code).has(ex.fields.text), `${code}: ${ex.fields.text}`);
    assert.equal(ex.answer, displayName(code));
    // Distractors are languages with other ISO codes, so exactly one option fits.
    assert.equal(ex.options?.length, 4);
  }
});

test('udhr_iso_code: the answer is the declaration\'s data-iso6393 attribute', () => {
  for (const ex of sample('udhr_iso_code', 150)) {
    const code = (ex.meta as { code: string }).code;
    assert.ok(allParagraphs(code).has(ex.fields.text));
    assert.equal(ex.answer, iso(code));
    assert.match(ex.answer, /^[a-z]{3}$/);
  }
});

test('udhr_same_language: the answer matches comparing the two files\' ISO codes', () => {
  let yes = 0;
  for (const ex of sample('udhr_same_language', 150)) {
    const [a, b] = (ex.meta as { codes: [string, string] }).codes;
    assert.ok(allParagraphs(a).has(ex.fields.text_a));
    assert.ok(allParagraphs(b).has(ex.fields.text_b));
    assert.equal(ex.answer, iso(a) === iso(b) ? 'yes' : 'no');
    if (ex.answer === 'yes') yes++;
  }
  assert.ok(yes > 40 && yes < 160, `yes should be about half: ${yes}`);
});
