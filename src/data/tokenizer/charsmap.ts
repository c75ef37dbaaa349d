/**
 * Normalization rules ("chars maps") and their compiled form, SentencePiece's
 * `precompiled_charsmap`: `<uint32 LE size of the trie><darts-clone double array over UTF-8 keys>
 * <NUL-terminated UTF-8 targets>`, where each key's value is the byte offset of its target.
 *
 * Myriad generates the rule sets SentencePiece names `nfkc` and `nmt_nfkc` with the same
 * construction SentencePiece's builder uses (facts from its public source), but with
 * `String.prototype.normalize` (Node's ICU) in place of SentencePiece's bundled ICU tables:
 *   - every code point whose NFKC form differs maps to that form;
 *   - every other spelling of a multi-character NFKD sequence (combining sequences, Hangul jamo,
 *     compatibility variants of each part) maps to the NFC of that sequence, so decomposed input
 *     composes, as far as the greedy longest-match application below can reach;
 *   - rules derivable from shorter rules are dropped;
 *   - `nmt_nfkc` adds: TAB, LF, FF, CR, U+1680, U+200B, U+200C, U+200E, U+200F, U+2028, U+2029,
 *     U+2581, U+FEFF and U+FFFD become a space; ASCII controls U+0001–U+0008, U+000B,
 *     U+000E–U+001F and U+007F, U+008F, U+009F are deleted; FULLWIDTH TILDE is left alone.
 * Differences from true NFKC (the same as SentencePiece's own): rules apply greedily left to right
 * with the longest match, with no canonical reordering of combining marks and no composition
 * beyond the enumerated sequences. Differences from SentencePiece's shipped `nmt_nfkc` tables:
 * Node's ICU implements a newer Unicode version, so code points assigned since then (and any
 * mapping Unicode changed) differ. Models keep their compiled rules, so a model trained here
 * normalizes identically in Myriad and in `spm_encode`.
 */

import { buildDoubleArray, DoubleArray } from './darts.js';
import { TokenizerError } from './types.js';

/** Source sequence → replacement (the replacement may be empty: deletion). */
export type CharsMap = Map<string, string>;

/** Normalization rule sets Myriad can generate. */
export type NormalizationName = 'nmt_nfkc' | 'nfkc' | 'identity';

/** Names accepted by `precompiledCharsmapFor`. */
export const NORMALIZATION_NAMES: readonly NormalizationName[] = ['nmt_nfkc', 'nfkc', 'identity'];

/** A code point that is a Unicode scalar value and not a noncharacter (ICU's U_IS_UNICODE_CHAR). */
function isUnicodeChar(cp: number): boolean {
  if (cp >= 0xd800 && cp <= 0xdfff) return false;
  if (cp >= 0xfdd0 && cp <= 0xfdef) return false;
  if ((cp & 0xfffe) === 0xfffe) return false;
  return cp <= 0x10ffff;
}

/** Code-unit offsets of the code points of `s` (length = code points + 1). */
function cpOffsets(s: string): number[] {
  const offs = [0];
  for (let i = 0; i < s.length; ) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
    offs.push(i);
  }
  return offs;
}

/** Greedy longest-match application of `map` to `src` (keys at most `maxLen` code points). */
function applyRules(map: CharsMap, src: string, offs: readonly number[], maxLen: number): string {
  let out = '';
  const n = offs.length - 1;
  for (let i = 0; i < n; ) {
    let matched = 0;
    let target = '';
    for (let len = Math.min(maxLen, n - i); len >= 1; len--) {
      const t = map.get(src.slice(offs[i], offs[i + len]));
      if (t !== undefined) { matched = len; target = t; break; }
    }
    if (matched === 0) { out += src.slice(offs[i], offs[i + 1]); i++; } else { out += target; i += matched; }
  }
  return out;
}

/** Drops multi-character rules that the shorter rules already reproduce (as SentencePiece does). */
function removeRedundant(map: CharsMap): CharsMap {
  const byLen: [string, string, number[]][][] = [];
  for (const [k, v] of map) {
    const offs = cpOffsets(k);
    const len = offs.length - 1;
    while (byLen.length <= len) byLen.push([]);
    byLen[len].push([k, v, offs]);
  }
  const out: CharsMap = new Map();
  for (const [k, v] of byLen[1] ?? []) out.set(k, v);
  for (let len = 2; len < byLen.length; len++) {
    for (const [k, v, offs] of byLen[len]) {
      if (applyRules(out, k, offs, len - 1) !== v) out.set(k, v);
    }
  }
  return out;
}

let nfkcCache: CharsMap | undefined;
let nmtCache: CharsMap | undefined;

/** The `nfkc` rule set, generated from Node's ICU (cached; about 0.5 s the first time). */
export function nfkcRules(): CharsMap {
  if (nfkcCache) return nfkcCache;
  const map: CharsMap = new Map();
  // Characters whose NFKD is one *other* character, grouped by that character. Every character
  // that occurs in an NFKD form is NFKD-stable, so it is also its own spelling.
  const variants = new Map<string, string[]>();
  const decomposed = new Set<string>();
  for (let cp = 1; cp <= 0x10ffff; cp++) {
    if (!isUnicodeChar(cp)) continue;
    const s = String.fromCodePoint(cp);
    const nfkd = s.normalize('NFKD');
    if (nfkd === s) continue; // then NFKC(s) === s as well
    const nfkc = s.normalize('NFKC');
    if (nfkc !== s) map.set(s, nfkc);
    const first = nfkd.codePointAt(0)!;
    if (nfkd.length === (first > 0xffff ? 2 : 1)) {
      let list = variants.get(nfkd);
      if (!list) variants.set(nfkd, (list = []));
      list.push(s);
    } else {
      decomposed.add(nfkd);
    }
  }
  for (const nfkd of [...decomposed].sort()) {
    const nfc = nfkd.normalize('NFC');
    if (nfc === nfkd) continue;
    // Every spelling whose characters each decompose to the corresponding character of `nfkd`.
    let results: string[] = [''];
    for (const ch of nfkd) {
      const origs = [ch, ...(variants.get(ch) ?? [])];
      const nextResults: string[] = [];
      for (const r of results) for (const o of origs) nextResults.push(r + o);
      results = nextResults;
    }
    for (const orig of results) if (orig !== nfc) map.set(orig, nfc);
  }
  nfkcCache = removeRedundant(map);
  return nfkcCache;
}

/** The `nmt_nfkc` rule set (SentencePiece's default): NFKC plus whitespace and control-character rules. */
export function nmtNfkcRules(): CharsMap {
  if (nmtCache) return nmtCache;
  const map: CharsMap = new Map(nfkcRules());
  for (const cp of [0x09, 0x0a, 0x0c, 0x0d, 0x1680, 0x200b, 0x200e, 0x200f, 0x2028, 0x2029, 0x2581, 0xfeff, 0xfffd, 0x200c]) {
    map.set(String.fromCodePoint(cp), ' ');
  }
  const deleted = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0b, 0x7f, 0x8f, 0x9f];
  for (let cp = 0x0e; cp <= 0x1f; cp++) deleted.push(cp);
  for (const cp of deleted) map.set(String.fromCodePoint(cp), '');
  map.delete('\uff5e');
  nmtCache = removeRedundant(map);
  return nmtCache;
}

/** The rules for a normalization name (`identity` has none). */
export function rulesFor(name: NormalizationName): CharsMap {
  switch (name) {
    case 'nmt_nfkc': return nmtNfkcRules();
    case 'nfkc': return nfkcRules();
    case 'identity': return new Map();
    default:
      throw new TokenizerError(`unknown normalization rule name ${JSON.stringify(name)}; choose one of ${NORMALIZATION_NAMES.join(', ')}`);
  }
}

const utf8 = new TextEncoder();

/** Compiles rules to SentencePiece's `precompiled_charsmap` bytes (empty rules → empty bytes). */
export function compileCharsMap(rules: CharsMap): Uint8Array {
  if (rules.size === 0) return new Uint8Array(0);
  const targets = [...new Set(rules.values())].sort();
  const pos = new Map<string, number>();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const t of targets) {
    pos.set(t, total);
    const b = utf8.encode(t);
    if (b.includes(0)) throw new TokenizerError(`normalization target ${JSON.stringify(t)} contains NUL`);
    chunks.push(b);
    total += b.length + 1;
  }
  const keys: Uint8Array[] = [];
  const values: number[] = [];
  for (const [k, v] of rules) {
    if (k.length === 0) throw new TokenizerError('normalization rule with an empty source');
    keys.push(utf8.encode(k));
    values.push(pos.get(v)!);
  }
  const units = buildDoubleArray(keys, values);
  const trieBytes = units.length * 4;
  const out = new Uint8Array(4 + trieBytes + total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, trieBytes, true);
  for (let i = 0; i < units.length; i++) dv.setUint32(4 + 4 * i, units[i], true);
  let p = 4 + trieBytes;
  for (const c of chunks) { out.set(c, p); p += c.length + 1; }
  return out;
}

/** A parsed `precompiled_charsmap`: the trie and the target blob. */
export interface CompiledCharsMap {
  trie: DoubleArray;
  /** NUL-terminated UTF-8 targets; a trie value is a byte offset into this. */
  normalized: Uint8Array;
}

/** Parses `precompiled_charsmap` bytes (throws `TokenizerError` when they are malformed). */
export function parseCharsMap(blob: Uint8Array): CompiledCharsMap {
  if (blob.length <= 4) throw new TokenizerError('precompiled_charsmap is broken: shorter than its 4-byte header');
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const trieSize = dv.getUint32(0, true);
  if (trieSize >= blob.length || trieSize % 4 !== 0 || trieSize === 0) {
    throw new TokenizerError(`precompiled_charsmap is broken: trie size ${trieSize} does not fit in ${blob.length} bytes`);
  }
  const units = new Uint32Array(trieSize / 4);
  for (let i = 0; i < units.length; i++) units[i] = dv.getUint32(4 + 4 * i, true);
  return { trie: new DoubleArray(units), normalized: blob.subarray(4 + trieSize) };
}

const utf8dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reads the NUL-terminated target at `offset` of a compiled chars map. */
export function targetAt(cm: CompiledCharsMap, offset: number): string {
  if (offset < 0 || offset > cm.normalized.length) throw new TokenizerError(`precompiled_charsmap is broken: target offset ${offset} out of range`);
  let end = offset;
  while (end < cm.normalized.length && cm.normalized[end] !== 0) end++;
  try {
    return utf8dec.decode(cm.normalized.subarray(offset, end));
  } catch {
    throw new TokenizerError(`precompiled_charsmap is broken: target at ${offset} is not UTF-8`);
  }
}

/** Recovers the rules of a compiled chars map (keys that are not valid UTF-8 are skipped). */
export function decompileCharsMap(blob: Uint8Array): CharsMap {
  const cm = parseCharsMap(blob);
  const out: CharsMap = new Map();
  for (const [key, value] of cm.trie.entries()) {
    let k: string;
    try { k = utf8dec.decode(key); } catch { continue; }
    out.set(k, targetAt(cm, value));
  }
  return out;
}

const compiledCache = new Map<NormalizationName, Uint8Array>();

/** Compiled `precompiled_charsmap` bytes for a rule-set name (cached per process). */
export function precompiledCharsmapFor(name: NormalizationName): Uint8Array {
  let c = compiledCache.get(name);
  if (!c) {
    c = compileCharsMap(rulesFor(name));
    compiledCache.set(name, c);
  }
  return c;
}
