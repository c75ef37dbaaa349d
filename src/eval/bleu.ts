/**
 * Corpus BLEU compatible with sacreBLEU 2.x: the `13a` tokenizer (mteval-v13a's, the WMT default),
 * also `intl`, `char` and `none`; n-gram counts clipped by the maximum count over references; the
 * closest reference length (ties → shorter) summed over the corpus; brevity penalty; smoothing `exp`
 * (default, mteval's NIST-style halving), `floor`, `add-k` and `none`; optional effective order; and
 * sacreBLEU's signature string (`nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.4.0`).
 * References use sacreBLEU's layout: a list of reference *streams*, each parallel to the hypotheses;
 * an empty string marks a missing reference for that segment (variable reference counts → `nrefs:var`).
 */

import { EvalError } from './errors.js';
import { pyFixed, pyRstrip, pySplit } from './text.js';

/** The sacreBLEU version whose behaviour this module reproduces (shown in signatures). */
export const SACREBLEU_COMPAT_VERSION = '2.4.0';

export type BleuTokenizer = '13a' | 'intl' | 'char' | 'none';
export type BleuSmoothing = 'exp' | 'floor' | 'add-k' | 'none';

const SMOOTH_DEFAULTS: Record<BleuSmoothing, number | undefined> = { none: undefined, floor: 0.1, 'add-k': 1, exp: undefined };

/** Options of `corpusBleu` (sacreBLEU's `BLEU(...)` arguments). */
export interface BleuOptions {
  lowercase?: boolean;
  tokenize?: BleuTokenizer;
  smoothMethod?: BleuSmoothing;
  /** For floor (default 0.1) and add-k (default 1). */
  smoothValue?: number;
  maxNgramOrder?: number;
  effectiveOrder?: boolean;
  /** Version shown in the signature. */
  version?: string;
}

/** A BLEU result with sacreBLEU's fields. */
export interface BleuScore {
  name: 'BLEU';
  score: number;
  counts: number[];
  totals: number[];
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
  ratio: number;
  signature: string;
  /** `BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)` */
  format(withSignature?: boolean): string;
}

// 13a regexes (mteval-v13a.pl, as sacreBLEU's TokenizerRegexp applies them, in order).
const RE_13A: Array<[RegExp, string]> = [
  [/([{-~[-` -&(-+:-@/])/g, ' $1 '],
  [/([^0-9])([.,])/g, '$1 $2 '],
  [/([.,])([^0-9])/g, ' $1 $2'],
  [/([0-9])(-)/g, '$1 $2 '],
];

/** sacreBLEU's `13a` tokenizer. */
export function tokenize13a(line: string): string {
  let s = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (s.includes('&')) s = s.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  s = ` ${s} `;
  for (const [re, rep] of RE_13A) s = s.replace(re, rep);
  return pySplit(s).join(' ');
}

const RE_INTL: Array<[RegExp, string]> = [
  [/(\P{N})(\p{P})/gu, '$1 $2 '],
  [/(\p{P})(\P{N})/gu, ' $1 $2'],
  [/(\p{S})/gu, ' $1 '],
];

/** sacreBLEU's `intl` tokenizer (mteval-v14 international: Unicode punctuation and symbols). */
export function tokenizeIntl(line: string): string {
  let s = line;
  for (const [re, rep] of RE_INTL) s = s.replace(re, rep);
  return pySplit(s).join(' ');
}

/** sacreBLEU's `char` tokenizer: every character a token. */
export function tokenizeChar(line: string): string {
  return pySplit(Array.from(line).join(' ')).join(' ');
}

function tokenizerFn(name: BleuTokenizer): (s: string) => string {
  switch (name) {
    case '13a': return tokenize13a;
    case 'intl': return tokenizeIntl;
    case 'char': return tokenizeChar;
    case 'none': return (s) => s;
    default: throw new EvalError(`BLEU: unknown tokenizer ${JSON.stringify(name)}; use '13a', 'intl', 'char' or 'none'`);
  }
}

function myLog(x: number): number {
  return x === 0 ? -9999999999 : Math.log(x);
}

/** sacreBLEU's `BLEU.compute_bleu` from sufficient statistics. */
export function computeBleu(
  correctIn: number[],
  totalIn: number[],
  sysLen: number,
  refLen: number,
  opts: { smoothMethod?: BleuSmoothing; smoothValue?: number; effectiveOrder?: boolean; maxNgramOrder?: number } = {},
): { score: number; counts: number[]; totals: number[]; precisions: number[]; bp: number } {
  const method = opts.smoothMethod ?? 'none';
  if (!(method in SMOOTH_DEFAULTS)) throw new EvalError(`BLEU: unknown smoothMethod ${JSON.stringify(method)}; use 'exp', 'floor', 'add-k' or 'none'`);
  const smoothValue = opts.smoothValue ?? SMOOTH_DEFAULTS[method] ?? 0;
  const order = opts.maxNgramOrder ?? 4;
  const correct = correctIn.slice();
  const total = totalIn.slice();
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const precisions = new Array<number>(order).fill(0);
  if (!correct.some((c) => c !== 0)) return { score: 0, counts: correct, totals: total, precisions, bp };
  let smoothMteval = 1;
  let effOrder = order;
  for (let n = 1; n <= order; n++) {
    if (method === 'add-k' && n > 1) {
      correct[n - 1] += smoothValue;
      total[n - 1] += smoothValue;
    }
    if (total[n - 1] === 0) break;
    if (opts.effectiveOrder) effOrder = n;
    if (correct[n - 1] === 0) {
      if (method === 'exp') {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * total[n - 1]);
      } else if (method === 'floor') {
        precisions[n - 1] = (100 * smoothValue) / total[n - 1];
      }
    } else {
      precisions[n - 1] = (100 * correct[n - 1]) / total[n - 1];
    }
  }
  let logSum = 0;
  for (let k = 0; k < effOrder; k++) logSum += myLog(precisions[k]);
  return { score: bp * Math.exp(logSum / effOrder), counts: correct, totals: total, precisions, bp };
}

function ngramCounts(tokens: string[], maxOrder: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = `${n}\u0000${tokens.slice(i, i + n).join(' ')}`;
      m.set(key, (m.get(key) ?? 0) + 1);
    }
  }
  return m;
}

/** Checks sacreBLEU's reference layout and returns per-segment reference lists (missing ones removed) and the nrefs label. */
export function segmentReferences(hypotheses: readonly string[], references: readonly (readonly string[])[], metric: string): { perSegment: string[][]; nrefs: string } {
  if (!Array.isArray(hypotheses)) throw new EvalError(`${metric}: hypotheses must be an array of strings`);
  if (!Array.isArray(references) || references.length === 0 || !references.every((r) => Array.isArray(r))) {
    throw new EvalError(`${metric}: references must be a non-empty array of reference streams (string[][], each parallel to the hypotheses), as in sacreBLEU`);
  }
  references.forEach((stream, k) => {
    if (stream.length !== hypotheses.length) {
      throw new EvalError(`${metric}: reference stream ${k} has ${stream.length} segments but there are ${hypotheses.length} hypotheses`);
    }
  });
  const counts = new Set<number>();
  const perSegment = hypotheses.map((h, i) => {
    if (typeof h !== 'string') throw new EvalError(`${metric}: hypothesis ${i} is ${typeof h}, not a string`);
    const refs: string[] = [];
    for (const stream of references) {
      const r = stream[i];
      if (r === null || r === undefined || r === '') continue;
      if (typeof r !== 'string') throw new EvalError(`${metric}: reference for segment ${i} is ${typeof r}, not a string`);
      refs.push(r);
    }
    if (refs.length === 0) throw new EvalError(`${metric}: segment ${i} has no non-empty reference`);
    counts.add(refs.length);
    return refs;
  });
  const nrefs = counts.size <= 1 ? String(counts.size === 0 ? references.length : [...counts][0]) : 'var';
  return { perSegment, nrefs };
}

/** sacreBLEU's BLEU signature for these options. */
export function bleuSignature(nrefs: string, opts: BleuOptions = {}): string {
  const method = opts.smoothMethod ?? 'exp';
  let smooth: string = method;
  const def = SMOOTH_DEFAULTS[method];
  if (def !== undefined) smooth += `[${pyFixed(opts.smoothValue ?? def, 2)}]`;
  return [
    `nrefs:${nrefs}`,
    `case:${opts.lowercase ? 'lc' : 'mixed'}`,
    `eff:${opts.effectiveOrder ? 'yes' : 'no'}`,
    `tok:${opts.tokenize ?? '13a'}`,
    `smooth:${smooth}`,
    `version:${opts.version ?? SACREBLEU_COMPAT_VERSION}`,
  ].join('|');
}

/**
 * Corpus-level BLEU exactly as sacreBLEU 2.x computes it (`BLEU(**opts).corpus_score(hyps, refs)`).
 * @param references reference streams: `references[k][i]` is the k-th reference of segment i.
 */
export function corpusBleu(hypotheses: readonly string[], references: readonly (readonly string[])[], opts: BleuOptions = {}): BleuScore {
  const order = opts.maxNgramOrder ?? 4;
  if (!Number.isInteger(order) || order < 1) throw new EvalError(`BLEU: maxNgramOrder must be a positive integer, got ${order}`);
  const method = opts.smoothMethod ?? 'exp';
  if (!(method in SMOOTH_DEFAULTS)) throw new EvalError(`BLEU: unknown smoothMethod ${JSON.stringify(method)}; use 'exp', 'floor', 'add-k' or 'none'`);
  const tok = tokenizerFn(opts.tokenize ?? '13a');
  const prep = (s: string) => tok(pyRstrip(opts.lowercase ? s.toLowerCase() : s));
  const { perSegment, nrefs } = segmentReferences(hypotheses, references, 'BLEU');
  const correct = new Array<number>(order).fill(0);
  const total = new Array<number>(order).fill(0);
  let sysLen = 0;
  let refLen = 0;
  hypotheses.forEach((hyp, i) => {
    const refNgrams = new Map<string, number>();
    const refLens: number[] = [];
    for (const ref of perSegment[i]) {
      const toks = pySplit(prep(ref));
      refLens.push(toks.length);
      for (const [k, c] of ngramCounts(toks, order)) refNgrams.set(k, Math.max(refNgrams.get(k) ?? 0, c));
    }
    const htoks = pySplit(prep(hyp));
    const hlen = htoks.length;
    let closestDiff = -1;
    let closestLen = -1;
    for (const rl of refLens) {
      const d = Math.abs(hlen - rl);
      if (closestDiff === -1 || d < closestDiff) {
        closestDiff = d;
        closestLen = rl;
      } else if (d === closestDiff && rl < closestLen) closestLen = rl;
    }
    sysLen += hlen;
    refLen += closestLen;
    for (const [k, c] of ngramCounts(htoks, order)) {
      const n = Number(k.slice(0, k.indexOf('\u0000')));
      total[n - 1] += c;
      const r = refNgrams.get(k);
      if (r !== undefined) correct[n - 1] += Math.min(c, r);
    }
  });
  const r = computeBleu(correct, total, sysLen, refLen, { smoothMethod: method, smoothValue: opts.smoothValue, effectiveOrder: opts.effectiveOrder, maxNgramOrder: order });
  const signature = bleuSignature(nrefs, opts);
  const ratio = refLen ? sysLen / refLen : 0;
  return {
    name: 'BLEU',
    score: r.score,
    counts: r.counts,
    totals: r.totals,
    precisions: r.precisions,
    bp: r.bp,
    sysLen,
    refLen,
    ratio,
    signature,
    format(withSignature = false) {
      const prec = r.precisions.map((p) => pyFixed(p, 1)).join('/');
      const head = withSignature ? `BLEU|${signature}` : 'BLEU';
      return `${head} = ${pyFixed(r.score, 2)} ${prec} (BP = ${pyFixed(r.bp, 3)} ratio = ${pyFixed(ratio, 3)} hyp_len = ${sysLen} ref_len = ${refLen})`;
    },
  };
}

/** Sentence BLEU (sacreBLEU's `sentence_bleu`: effective order on by default). */
export function sentenceBleu(hypothesis: string, references: readonly string[], opts: BleuOptions = {}): BleuScore {
  return corpusBleu([hypothesis], references.map((r) => [r]), { effectiveOrder: true, ...opts });
}
