/**
 * Shared helpers for the tokenizer tests: a seeded PRNG, random Unicode strings, UDHR corpora,
 * and detection/running of the real SentencePiece command-line tools (Debian `sentencepiece`).
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { udhrParagraphs } from '../../src/data/tokenizer/index.js';

/** mulberry32: a small deterministic PRNG returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Code point ranges random strings draw from: ASCII, Latin, Greek, Cyrillic, CJK, Hangul, emoji, math, and anything. */
const RANGES: [number, number][] = [
  [0x20, 0x7e], [0x20, 0x20], [0xa0, 0x24f], [0x300, 0x36f], [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x6ff],
  [0x900, 0x97f], [0x1100, 0x11ff], [0x3000, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xff00, 0xffef],
  [0x1d400, 0x1d7ff], [0x1f300, 0x1faff], [0x1, 0x10ffff],
];

/**
 * A random string of Unicode scalar values (no surrogates) of up to `maxLen` code points.
 * `exclude` lists code points never produced.
 */
export function randomUnicode(next: () => number, maxLen: number, exclude: ReadonlySet<number> = new Set()): string {
  const n = Math.floor(next() * (maxLen + 1));
  let s = '';
  while ([...s].length < n) {
    const [lo, hi] = RANGES[Math.floor(next() * RANGES.length)];
    const cp = lo + Math.floor(next() * (hi - lo + 1));
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    if (exclude.has(cp)) continue;
    s += String.fromCodePoint(cp);
  }
  return s;
}

/** Lines of the given UDHR declarations, concatenated. */
export function udhrLines(codes: readonly string[]): string[] {
  return codes.flatMap((c) => udhrParagraphs(c));
}

/** True if `cmd` can be executed (found on PATH). */
export function hasCommand(cmd: string): boolean {
  const r = spawnSync(cmd, ['--help'], { encoding: 'utf8' });
  return !(r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT');
}

/** Runs a command and returns stdout; throws with stderr when it fails. */
export function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with status ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'myriad-tok-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Output lines of a line-based tool (trailing newline removed). */
export function outputLines(out: string): string[] {
  const lines = out.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
