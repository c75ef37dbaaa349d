/**
 * SentencePiece's text normalizer, applied before segmentation (and to the training corpus):
 * greedy longest-match rewriting with the model's compiled chars map (`precompiled_charsmap`),
 * user-defined symbols passed through untouched, then whitespace handling — drop leading,
 * trailing and repeated spaces (`remove_extra_whitespaces`), add one space in front
 * (`add_dummy_prefix`), and write spaces as `▁` U+2581 (`escape_whitespaces`).
 *
 * The behaviour follows SentencePiece's `Normalizer::Normalize` (facts from its public source),
 * working on JavaScript strings: the trie is walked with the UTF-8 bytes of each code point, so
 * the compiled rules of any SentencePiece model apply unchanged. A string with lone surrogates is
 * first made well formed (each lone surrogate becomes U+FFFD), which is what encoding it to UTF-8
 * does before SentencePiece sees it.
 */

import { parseCharsMap, targetAt, type CompiledCharsMap } from './charsmap.js';
import { SPACE_SYMBOL, TokenizerError } from './types.js';

/** Settings of a normalizer (the fields of `NormalizerSpec` plus the trainer's suffix flag). */
export interface NormalizerConfig {
  /** `precompiled_charsmap` bytes; empty or undefined means no rewriting rules (identity). */
  precompiledCharsmap?: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
  treatWhitespaceAsSuffix?: boolean;
  /** Pieces copied verbatim, never rewritten (user-defined symbols). */
  userDefinedSymbols?: readonly string[];
}

/** Longest-prefix matching over a fixed set of strings (by UTF-16 code units). */
export class PrefixMatcher {
  private readonly children = new Map<number, number>();
  private readonly terminal: boolean[] = [false];
  readonly size: number;

  constructor(words: Iterable<string>) {
    let count = 0;
    for (const w of words) {
      if (w.length === 0) continue;
      count++;
      let node = 0;
      for (let i = 0; i < w.length; i++) {
        const key = node * 65536 + w.charCodeAt(i);
        let child = this.children.get(key);
        if (child === undefined) {
          child = this.terminal.length;
          this.terminal.push(false);
          this.children.set(key, child);
        }
        node = child;
      }
      this.terminal[node] = true;
    }
    this.size = count;
  }

  /** Whether some word starts with code unit `c`. */
  startsWith(c: number): boolean {
    return this.children.has(c);
  }

  /** Length (in code units) of the longest word starting at `s[i]`, or 0. */
  match(s: string, i: number): number {
    if (this.size === 0) return 0;
    let node = 0;
    let best = 0;
    for (let j = i; j < s.length; j++) {
      const child = this.children.get(node * 65536 + s.charCodeAt(j));
      if (child === undefined) break;
      node = child;
      if (this.terminal[node]) best = j - i + 1;
    }
    return best;
  }

  /** Replaces every (longest, leftmost) occurrence of a word with `replacement`. */
  replaceAll(s: string, replacement: string): string {
    if (this.size === 0) return s;
    let out = '';
    for (let i = 0; i < s.length; ) {
      const m = this.match(s, i);
      if (m > 0) { out += replacement; i += m; continue; }
      const n = codePointLength(s, i);
      out += s.slice(i, i + n);
      i += n;
    }
    return out;
  }
}

/** 2 if `s[i]` starts a surrogate pair, else 1. */
export function codePointLength(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

/** `s` with every lone surrogate replaced by U+FFFD. */
export function toWellFormed(s: string): string {
  let out: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; }
    }
    if (out === undefined) out = s;
    out = out.slice(0, i) + '\ufffd' + out.slice(i + 1);
  }
  return out ?? s;
}

/** Applies a SentencePiece normalizer to text. */
export class Normalizer {
  private readonly cm: CompiledCharsMap | undefined;
  private readonly targets = new Map<number, string>();
  private readonly matcher: PrefixMatcher;
  /** Per BMP code unit: 0 = not yet known, 1 = copied as is (no rule or symbol starts with it), 2 = slow path. */
  private readonly plain = new Uint8Array(65536);
  readonly config: Readonly<NormalizerConfig>;

  constructor(config: NormalizerConfig) {
    this.config = config;
    const blob = config.precompiledCharsmap;
    this.cm = blob && blob.length > 0 ? parseCharsMap(blob) : undefined;
    this.matcher = new PrefixMatcher(config.userDefinedSymbols ?? []);
  }

  /**
   * The rewrite at `s[i]`: `[replacement, consumed code units]`. User-defined symbols come out
   * unchanged; otherwise the longest chars-map rule applies; otherwise one code point is copied.
   */
  normalizePrefix(s: string, i: number): [string, number] {
    const m = this.matcher.match(s, i);
    if (m > 0) return [s.slice(i, i + m), m];
    const len = this.ruleAt(s, i);
    if (len > 0) return [this.ruleTarget, len];
    const n = codePointLength(s, i);
    return [s.slice(i, i + n), n];
  }

  /** Target of the rule last matched by `ruleAt`. */
  private ruleTarget = '';

  /**
   * Length in code units of the longest chars-map rule matching at `s[i]` (its target is left in
   * `ruleTarget`), or 0 when no rule matches.
   */
  private ruleAt(s: string, i: number): number {
    const cm = this.cm;
    if (cm === undefined) return 0;
    const trie = cm.trie;
    let id = 0;
    let bestLen = 0;
    let bestValue = -1;
    let j = i;
    walk: while (j < s.length) {
      let cp = s.charCodeAt(j);
      let w = 1;
      if (cp >= 0xd800 && cp <= 0xdbff && j + 1 < s.length) {
        const d = s.charCodeAt(j + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { cp = 0x10000 + ((cp - 0xd800) << 10) + (d - 0xdc00); w = 2; }
      }
      // Walk the UTF-8 bytes of this code point.
      if (cp < 0x80) {
        if ((id = trie.step(id, cp)) < 0) break walk;
      } else if (cp < 0x800) {
        if ((id = trie.step(id, 0xc0 | (cp >> 6))) < 0) break walk;
        if ((id = trie.step(id, 0x80 | (cp & 63))) < 0) break walk;
      } else if (cp < 0x10000) {
        if ((id = trie.step(id, 0xe0 | (cp >> 12))) < 0) break walk;
        if ((id = trie.step(id, 0x80 | ((cp >> 6) & 63))) < 0) break walk;
        if ((id = trie.step(id, 0x80 | (cp & 63))) < 0) break walk;
      } else {
        if ((id = trie.step(id, 0xf0 | (cp >> 18))) < 0) break walk;
        if ((id = trie.step(id, 0x80 | ((cp >> 12) & 63))) < 0) break walk;
        if ((id = trie.step(id, 0x80 | ((cp >> 6) & 63))) < 0) break walk;
        if ((id = trie.step(id, 0x80 | (cp & 63))) < 0) break walk;
      }
      j += w;
      const v = trie.valueAt(id);
      if (v >= 0) { bestLen = j - i; bestValue = v; }
    }
    if (bestLen === 0) return 0;
    let t = this.targets.get(bestValue);
    if (t === undefined) {
      t = targetAt(cm, bestValue);
      this.targets.set(bestValue, t);
    }
    this.ruleTarget = t;
    return bestLen;
  }

  private spacePlain: boolean | undefined;

  /** Whether a space is never rewritten (no rule and no user-defined symbol starts with it). */
  private isSpacePlain(): boolean {
    if (this.spacePlain === undefined) {
      this.spacePlain = !this.matcher.startsWith(0x20) && (this.cm === undefined || this.cm.trie.step(0, 0x20) < 0);
    }
    return this.spacePlain;
  }

  /** Whether code unit `c` (not a surrogate, not a space) is always copied unchanged. */
  private isPlain(c: number): boolean {
    let v = this.plain[c];
    if (v === 0) {
      const ch = String.fromCharCode(c);
      let plainChar = c !== 0x20 && !(c >= 0xd800 && c <= 0xdfff) && !this.matcher.startsWith(c);
      if (plainChar && this.cm !== undefined) {
        // No rule starts with this character if the trie walk fails inside its UTF-8 bytes.
        const bytes = new TextEncoder().encode(ch);
        let id = 0;
        let complete = true;
        for (const b of bytes) {
          id = this.cm.trie.step(id, b);
          if (id < 0) { complete = false; break; }
        }
        if (complete) plainChar = false;
      }
      v = plainChar ? 1 : 2;
      this.plain[c] = v;
    }
    return v === 1;
  }

  /** Normalizes `text` as SentencePiece does before segmentation. */
  normalize(text: string): string {
    const c = this.config;
    const input = toWellFormed(text);
    let i = 0;
    if (c.removeExtraWhitespaces) {
      while (i < input.length) {
        const [sp, n] = this.normalizePrefix(input, i);
        if (sp !== ' ') break;
        i += n;
      }
    }
    if (i >= input.length) return '';
    const space = c.escapeWhitespaces ? SPACE_SYMBOL : ' ';
    let out = '';
    const suffix = c.treatWhitespaceAsSuffix ?? false;
    if (!suffix && c.addDummyPrefix) out += space;
    let isPrevSpace = c.removeExtraWhitespaces;
    const spaceIsPlain = this.isSpacePlain();
    // Characters copied unchanged are collected as a run [runStart, i) and appended in one slice.
    let runStart = -1;
    const n = input.length;
    while (i < n) {
      const ch = input.charCodeAt(i);
      if (ch === 0x20) {
        if (spaceIsPlain) {
          if (runStart >= 0) { out += input.slice(runStart, i); runStart = -1; }
          if (!isPrevSpace) { out += space; isPrevSpace = true; }
          if (!c.removeExtraWhitespaces) isPrevSpace = false;
          i++;
          continue;
        }
      } else {
        let m = 0;
        if (this.isPlain(ch)) {
          m = 1;
        } else {
          const sym = this.matcher.match(input, i);
          if (sym > 0) {
            if (input.slice(i, i + sym).indexOf(' ') < 0) m = sym;
          } else if (this.ruleAt(input, i) === 0) {
            m = codePointLength(input, i);
          }
        }
        if (m > 0) {
          if (runStart < 0) runStart = i;
          i += m;
          isPrevSpace = false;
          continue;
        }
      }
      if (runStart >= 0) { out += input.slice(runStart, i); runStart = -1; }
      const [first, len] = this.normalizePrefix(input, i);
      let sp = first;
      if (isPrevSpace) {
        let k = 0;
        while (k < sp.length && sp.charCodeAt(k) === 32) k++;
        if (k > 0) sp = sp.slice(k);
      }
      if (sp.length > 0) {
        out += c.escapeWhitespaces && sp.includes(' ') ? sp.replaceAll(' ', SPACE_SYMBOL) : sp;
        isPrevSpace = sp.charCodeAt(sp.length - 1) === 32;
      }
      i += len;
      if (!c.removeExtraWhitespaces) isPrevSpace = false;
    }
    if (runStart >= 0) out += input.slice(runStart, n);
    if (c.removeExtraWhitespaces) {
      let end = out.length;
      while (end > 0 && out.charCodeAt(end - 1) === space.charCodeAt(0)) end--;
      out = out.slice(0, end);
    }
    if (suffix && c.addDummyPrefix) out += space;
    return out;
  }
}

/** Throws unless `blob` parses as a compiled chars map (used to reject broken models early). */
export function checkCharsmap(blob: Uint8Array | undefined, source: string): void {
  if (!blob || blob.length === 0) return;
  try {
    parseCharsMap(blob);
  } catch (e) {
    throw new TokenizerError(`${source}: ${(e as Error).message}`);
  }
}
