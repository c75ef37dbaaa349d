/**
 * chrF and chrF++ compatible with sacreBLEU 2.x (`CHRF(char_order=6, word_order=0|2, beta=2)`):
 * character n-grams of orders 1..6 over the segment with whitespace removed (unless `whitespace`),
 * word n-grams of orders 1..word_order over words with leading/trailing punctuation split off
 * (chrF++), statistics `[hyp, ref, match]` per order summed over the corpus (per segment, the reference
 * with the best sentence-level F wins), then F-beta of the precision and recall averaged over the
 * orders that have both hypothesis and reference n-grams (sacreBLEU's default "effective order"), or
 * with `epsSmoothing` the chrF++.py/NLTK average of per-order F scores. Also sacreBLEU's signature
 * (`nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.4.0`).
 */

import { EvalError } from './errors.js';
import { SACREBLEU_COMPAT_VERSION, segmentReferences } from './bleu.js';
import { codePoints, isPyPunct, pyFixed, pySplit, removeWhitespace } from './text.js';

/** Options of `corpusChrf` (sacreBLEU's `CHRF(...)` arguments). */
export interface ChrfOptions {
  charOrder?: number;
  /** 0 = chrF, 2 = chrF++. */
  wordOrder?: number;
  beta?: number;
  lowercase?: boolean;
  /** Keep whitespace in character n-grams. */
  whitespace?: boolean;
  epsSmoothing?: boolean;
  version?: string;
}

/** A chrF result. */
export interface ChrfScore {
  /** `chrF2`, `chrF2++`, ... */
  name: string;
  score: number;
  charOrder: number;
  wordOrder: number;
  beta: number;
  /** Corpus statistics, `[hyp, ref, match]` per order (char orders first). */
  stats: number[];
  signature: string;
  format(withSignature?: boolean): string;
}

type Counter = Map<string, number>;

function count(items: string[]): Counter {
  const m: Counter = new Map();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

function charNgrams(line: string, order: number, whitespace: boolean): Counter[] {
  const cps = codePoints(whitespace ? line : removeWhitespace(line));
  const out: Counter[] = [];
  for (let n = 1; n <= order; n++) {
    const grams: string[] = [];
    for (let i = 0; i + n <= cps.length; i++) grams.push(cps.slice(i, i + n).join(''));
    out.push(count(grams));
  }
  return out;
}

/** sacreBLEU's chrF word splitter: one trailing (else one leading) punctuation mark becomes its own word. */
export function chrfWords(sent: string): string[] {
  const out: string[] = [];
  for (const w of pySplit(sent)) {
    const cps = codePoints(w);
    if (cps.length === 1) out.push(w);
    else if (isPyPunct(cps[cps.length - 1])) out.push(cps.slice(0, -1).join(''), cps[cps.length - 1]);
    else if (isPyPunct(cps[0])) out.push(cps[0], cps.slice(1).join(''));
    else out.push(w);
  }
  return out;
}

function wordNgrams(words: string[], n: number): Counter {
  const grams: string[] = [];
  for (let i = 0; i + n <= words.length; i++) grams.push(words.slice(i, i + n).join(' '));
  return count(grams);
}

function allNgrams(sent: string, o: Required<Pick<ChrfOptions, 'charOrder' | 'wordOrder' | 'whitespace'>>): Counter[] {
  const grams = charNgrams(sent, o.charOrder, o.whitespace);
  if (o.wordOrder > 0) {
    const words = chrfWords(sent);
    for (let n = 1; n <= o.wordOrder; n++) grams.push(wordNgrams(words, n));
  }
  return grams;
}

function matchStats(hyp: Counter, ref: Counter): [number, number, number] {
  let match = 0;
  let hypCount = 0;
  for (const [g, c] of hyp) {
    hypCount += c;
    const r = ref.get(g);
    if (r !== undefined) match += Math.min(c, r);
  }
  let refCount = 0;
  for (const c of ref.values()) refCount += c;
  // sacreBLEU: hypothesis n-grams are not counted for an order the reference has none of.
  return [ref.size > 0 ? hypCount : 0, refCount, match];
}

/** sacreBLEU's `CHRF._compute_f_score` over flattened `[hyp, ref, match]` statistics. */
export function chrfFromStats(stats: readonly number[], beta: number, epsSmoothing: boolean): number {
  const order = stats.length / 3;
  const eps = 1e-16;
  const factor = beta * beta;
  let score = 0;
  let effective = 0;
  let avgPrec = 0;
  let avgRec = 0;
  for (let i = 0; i < order; i++) {
    const nHyp = stats[3 * i];
    const nRef = stats[3 * i + 1];
    const nMatch = stats[3 * i + 2];
    const prec = nHyp > 0 ? nMatch / nHyp : eps;
    const rec = nRef > 0 ? nMatch / nRef : eps;
    const denom = factor * prec + rec;
    score += denom > 0 ? ((1 + factor) * prec * rec) / denom : eps;
    if (nHyp > 0 && nRef > 0) {
      avgPrec += prec;
      avgRec += rec;
      effective++;
    }
  }
  if (epsSmoothing) return (100 * score) / order;
  if (effective === 0) return 0;
  avgPrec /= effective;
  avgRec /= effective;
  if (avgPrec + avgRec === 0) return 0;
  return (100 * ((1 + factor) * avgPrec * avgRec)) / (factor * avgPrec + avgRec);
}

/** sacreBLEU's chrF signature for these options. */
export function chrfSignature(nrefs: string, opts: ChrfOptions = {}): string {
  return [
    `nrefs:${nrefs}`,
    `case:${opts.lowercase ? 'lc' : 'mixed'}`,
    `eff:${opts.epsSmoothing ? 'no' : 'yes'}`,
    `nc:${opts.charOrder ?? 6}`,
    `nw:${opts.wordOrder ?? 0}`,
    `space:${opts.whitespace ? 'yes' : 'no'}`,
    `version:${opts.version ?? SACREBLEU_COMPAT_VERSION}`,
  ].join('|');
}

/**
 * Corpus-level chrF / chrF++ as sacreBLEU 2.x computes it.
 * @param references reference streams, `references[k][i]` (sacreBLEU's layout).
 */
export function corpusChrf(hypotheses: readonly string[], references: readonly (readonly string[])[], opts: ChrfOptions = {}): ChrfScore {
  const charOrder = opts.charOrder ?? 6;
  const wordOrder = opts.wordOrder ?? 0;
  const beta = opts.beta ?? 2;
  const eps = opts.epsSmoothing ?? false;
  const whitespace = opts.whitespace ?? false;
  if (!Number.isInteger(charOrder) || charOrder < 1) throw new EvalError(`chrF: charOrder must be a positive integer, got ${charOrder}`);
  if (!Number.isInteger(wordOrder) || wordOrder < 0) throw new EvalError(`chrF: wordOrder must be a non-negative integer, got ${wordOrder}`);
  if (!(beta > 0)) throw new EvalError(`chrF: beta must be positive, got ${beta}`);
  const o = { charOrder, wordOrder, whitespace };
  const prep = (s: string) => (opts.lowercase ? s.toLowerCase() : s);
  const { perSegment, nrefs } = segmentReferences(hypotheses, references, 'chrF');
  const nStats = 3 * (charOrder + wordOrder);
  const total = new Array<number>(nStats).fill(0);
  hypotheses.forEach((hyp, i) => {
    const hg = allNgrams(prep(hyp), o);
    let best: number[] = [];
    let bestF = -1;
    for (const ref of perSegment[i]) {
      const rg = allNgrams(prep(ref), o);
      const stats: number[] = [];
      for (let k = 0; k < hg.length; k++) stats.push(...matchStats(hg[k], rg[k]));
      const f = chrfFromStats(stats, beta, eps);
      if (f > bestF) {
        bestF = f;
        best = stats;
      }
    }
    for (let k = 0; k < nStats; k++) total[k] += best[k];
  });
  const score = chrfFromStats(total, beta, eps);
  const name = `chrF${beta}${'+'.repeat(wordOrder)}`;
  const signature = chrfSignature(nrefs, opts);
  return {
    name,
    score,
    charOrder,
    wordOrder,
    beta,
    stats: total,
    signature,
    format(withSignature = false) {
      return `${withSignature ? `${name}|${signature}` : name} = ${pyFixed(score, 2)}`;
    },
  };
}

/** Sentence chrF (sacreBLEU's `sentence_chrf`). */
export function sentenceChrf(hypothesis: string, references: readonly string[], opts: ChrfOptions = {}): ChrfScore {
  return corpusChrf([hypothesis], references.map((r) => [r]), opts);
}
