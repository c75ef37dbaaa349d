/**
 * The CMU Pronouncing Dictionary as shipped by the `cmu-pronouncing-dictionary` package: an ESM
 * module whose single export maps each word to an ARPAbet transcription (vowels carry a stress
 * digit: 0 unstressed, 1 primary, 2 secondary), with alternative pronunciations keyed `word(2)`,
 * `word(3)`, …
 *
 * The module is 4.7 MB; importing it at load time would make every import of the task collection
 * slow, and task sources must be synchronous, so this reader parses the module's text itself
 * (one `"word": "PHONES",` entry per line) on first use and caches the result.
 */

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { TaskError } from '../errors.js';
import { packageDir } from './paths.js';

/** The 39 ARPAbet phonemes CMUdict uses (vowels without their stress digit). */
export const ARPABET_VOWELS: ReadonlySet<string> = new Set(['AA', 'AE', 'AH', 'AO', 'AW', 'AY', 'EH', 'ER', 'EY', 'IH', 'IY', 'OW', 'OY', 'UH', 'UW']);

/** Word → pronunciations (primary first), each a list of phones such as `['K', 'AE1', 'T']`. */
export type CmuDict = ReadonlyMap<string, ReadonlyArray<readonly string[]>>;

let cached: Map<string, string[][]> | undefined;

/** Parses (once) and returns the dictionary. */
export function loadCmuDict(): CmuDict {
  if (cached) return cached;
  const file = path.join(packageDir('cmu-pronouncing-dictionary', 'the pronunciation task families'), 'index.js');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TaskError(`Could not read ${file} (${(e as Error).message}); reinstall 'cmu-pronouncing-dictionary'.`);
  }
  const out = new Map<string, string[][]>();
  // Entries look like `"word": "W ER1 D",`; a few carry a comment after the phones (`"… # place, dutch"`).
  const re = /^\s*"((?:[^"\\]|\\.)+)": "([A-Z0-9 ]+?)(?: #[^"]*)?",?$/gm;
  const alt: Array<[string, number, string[]]> = [];
  let matched = 0;
  for (const m of text.matchAll(re)) {
    matched++;
    const key = m[1].replace(/\\(.)/g, '$1');
    const phones = m[2].trim().split(/\s+/);
    const am = /^(.*)\((\d+)\)$/.exec(key);
    if (am) alt.push([am[1], Number(am[2]), phones]);
    else out.set(key, [phones]);
  }
  alt.sort((a, b) => a[1] - b[1]);
  for (const [w, , phones] of alt) {
    const prons = out.get(w);
    if (prons) prons.push(phones);
    else out.set(w, [phones]);
  }
  const candidates = (text.match(/^\s*"/gm) ?? []).length;
  if (matched !== candidates) {
    throw new TaskError(`${file}: parsed ${matched} of ${candidates} dictionary entries; the package's format may have changed (expected lines like "word": "W ER1 D",).`);
  }
  if (out.size < 100000) throw new TaskError(`Parsed only ${out.size} entries from ${file}; the package's format may have changed (expected lines like "word": "W ER1 D",).`);
  cached = out;
  return out;
}

/** True if the phone is a vowel (carries a stress digit). */
export function isVowel(phone: string): boolean {
  return /\d$/.test(phone);
}

/** Number of syllables: the number of vowel phones. */
export function syllableCount(phones: readonly string[]): number {
  return phones.filter(isVowel).length;
}

/** The stress digits of the vowels in order, e.g. `['0', '1', '0']`. */
export function stressPattern(phones: readonly string[]): string[] {
  return phones.filter(isVowel).map((p) => p[p.length - 1]);
}

/**
 * The rhyming part: phones from the last vowel with primary or secondary stress (or the last
 * vowel, for words with no stressed vowel) to the end, stress digits removed. Two words rhyme
 * when their rhyming parts are equal.
 */
export function rhymingPart(phones: readonly string[]): string {
  let at = -1;
  for (let i = phones.length - 1; i >= 0; i--) {
    if (/[12]$/.test(phones[i])) { at = i; break; }
  }
  if (at < 0) {
    for (let i = phones.length - 1; i >= 0; i--) if (isVowel(phones[i])) { at = i; break; }
  }
  if (at < 0) return '';
  return phones.slice(at).map((p) => p.replace(/\d$/, '')).join(' ');
}
