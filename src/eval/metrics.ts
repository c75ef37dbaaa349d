/**
 * Metrics in the `Metric` shape `(targets, predictions) => Record<string, number>` used by tasks and
 * the evaluation harness, all on a 0–100 scale like T5's: `exactMatch` and `squad` (SQuAD v1.1
 * normalization — lowercase, drop `string.punctuation`, drop the articles a/an/the, collapse
 * whitespace — exact match and token F1, max over multiple references), `accuracy`, `bleu` and `chrf`
 * / `chrfpp` (sacreBLEU-compatible corpus scores), and `wer` (word edit distance over reference
 * words, corpus-level). A target may be a single value or an array of acceptable references.
 */

import type { Metric } from '../data/seqio/types.js';
import { EvalError } from './errors.js';
import { corpusBleu, type BleuOptions } from './bleu.js';
import { corpusChrf, type ChrfOptions } from './chrf.js';
import { isPyPunct, pySplit } from './text.js';

function checkParallel(targets: unknown[], predictions: unknown[], metric: string): void {
  if (!Array.isArray(targets) || !Array.isArray(predictions)) throw new EvalError(`${metric}: targets and predictions must be arrays`);
  if (targets.length !== predictions.length) {
    throw new EvalError(`${metric}: ${targets.length} targets but ${predictions.length} predictions; they must be parallel`);
  }
}

function refsOf(t: unknown): unknown[] {
  return Array.isArray(t) ? t : [t];
}

function asText(x: unknown, metric: string, what: string): string {
  if (typeof x === 'string') return x;
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  throw new EvalError(`${metric}: ${what} must be a string (or number), got ${x === null ? 'null' : typeof x}`);
}

const ARTICLES = /(?<![\p{L}\p{N}_])(a|an|the)(?![\p{L}\p{N}_])/gu;

/** SQuAD v1.1's `normalize_answer`: lowercase, remove punctuation, remove articles, collapse whitespace. */
export function normalizeSquad(s: string): string {
  let t = s.toLowerCase();
  t = Array.from(t).filter((ch) => !isPyPunct(ch)).join('');
  t = t.replace(ARTICLES, ' ');
  return pySplit(t).join(' ');
}

/** SQuAD token F1 between a prediction and one reference (both normalized first). */
export function squadF1(prediction: string, reference: string): number {
  const p = pySplit(normalizeSquad(prediction));
  const r = pySplit(normalizeSquad(reference));
  const counts = new Map<string, number>();
  for (const w of r) counts.set(w, (counts.get(w) ?? 0) + 1);
  let same = 0;
  for (const w of p) {
    const c = counts.get(w) ?? 0;
    if (c > 0) {
      same++;
      counts.set(w, c - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / p.length;
  const recall = same / r.length;
  return (2 * precision * recall) / (precision + recall);
}

/** Exact match after SQuAD normalization, max over references, in percent: `{exact_match}`. */
export const exactMatch: Metric = (targets, predictions) => {
  checkParallel(targets, predictions, 'exact_match');
  if (targets.length === 0) return { exact_match: 0 };
  let hits = 0;
  targets.forEach((t, i) => {
    const p = normalizeSquad(asText(predictions[i], 'exact_match', `prediction ${i}`));
    if (refsOf(t).some((r) => normalizeSquad(asText(r, 'exact_match', `target ${i}`)) === p)) hits++;
  });
  return { exact_match: (100 * hits) / targets.length };
};

/** SQuAD v1.1 scores in percent: `{em, f1}` (T5's `squad` metric). */
export const squad: Metric = (targets, predictions) => {
  checkParallel(targets, predictions, 'squad');
  if (targets.length === 0) return { em: 0, f1: 0 };
  let em = 0;
  let f1 = 0;
  targets.forEach((t, i) => {
    const pred = asText(predictions[i], 'squad', `prediction ${i}`);
    const refs = refsOf(t).map((r) => asText(r, 'squad', `target ${i}`));
    if (refs.length === 0) throw new EvalError(`squad: target ${i} is an empty list of references`);
    const np = normalizeSquad(pred);
    em += refs.some((r) => normalizeSquad(r) === np) ? 1 : 0;
    f1 += Math.max(...refs.map((r) => squadF1(pred, r)));
  });
  return { em: (100 * em) / targets.length, f1: (100 * f1) / targets.length };
};

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Fraction of predictions equal to their target (strict equality; arrays/objects by JSON), in percent: `{accuracy}`. */
export const accuracy: Metric = (targets, predictions) => {
  checkParallel(targets, predictions, 'accuracy');
  if (targets.length === 0) return { accuracy: 0 };
  let hits = 0;
  targets.forEach((t, i) => {
    if (sameValue(t, predictions[i])) hits++;
  });
  return { accuracy: (100 * hits) / targets.length };
};

/** Transposes per-example targets (string or string[]) into sacreBLEU's reference streams ('' = missing). */
export function toReferenceStreams(targets: unknown[], metric: string): string[][] {
  const per = targets.map((t, i) => refsOf(t).map((r) => asText(r, metric, `target ${i}`)));
  const k = per.reduce((m, r) => Math.max(m, r.length), 0);
  return Array.from({ length: k }, (_, j) => per.map((r) => r[j] ?? ''));
}

/** A BLEU metric with the given sacreBLEU options: `{bleu}`. */
export function bleuMetric(opts: BleuOptions = {}): Metric {
  return (targets, predictions) => {
    checkParallel(targets, predictions, 'bleu');
    const hyps = predictions.map((p, i) => asText(p, 'bleu', `prediction ${i}`));
    return { bleu: corpusBleu(hyps, toReferenceStreams(targets, 'bleu'), opts).score };
  };
}

/** A chrF metric with the given options (word order 2 = chrF++): `{chrf}` or `{chrfpp}`. */
export function chrfMetric(opts: ChrfOptions = {}): Metric {
  const key = (opts.wordOrder ?? 0) > 0 ? 'chrfpp' : 'chrf';
  return (targets, predictions) => {
    checkParallel(targets, predictions, key);
    const hyps = predictions.map((p, i) => asText(p, key, `prediction ${i}`));
    return { [key]: corpusChrf(hyps, toReferenceStreams(targets, key), opts).score };
  };
}

/** sacreBLEU-default BLEU (13a, exp smoothing). */
export const bleu: Metric = bleuMetric();
/** chrF (char order 6, word order 0, β = 2). */
export const chrf: Metric = chrfMetric();
/** chrF++ (char order 6, word order 2, β = 2). */
export const chrfpp: Metric = chrfMetric({ wordOrder: 2 });

/** Word-level alignment counts between a hypothesis and a reference. */
export interface WerCounts {
  hits: number;
  substitutions: number;
  deletions: number;
  insertions: number;
  referenceWords: number;
}

/** Minimum-edit alignment of two word sequences (Levenshtein; among equal costs, prefers substitutions). */
export function wordAlignment(reference: string[], hypothesis: string[]): WerCounts {
  const n = reference.length;
  const m = hypothesis.length;
  // cost[i][j] with back-pointers kept as counts of (S, D, I) along the chosen path.
  let prev = Array.from({ length: m + 1 }, (_, j) => ({ c: j, s: 0, d: 0, i: j }));
  for (let a = 1; a <= n; a++) {
    const cur = [{ c: a, s: 0, d: a, i: 0 }];
    for (let b = 1; b <= m; b++) {
      const same = reference[a - 1] === hypothesis[b - 1];
      const diag = prev[b - 1];
      const sub = { c: diag.c + (same ? 0 : 1), s: diag.s + (same ? 0 : 1), d: diag.d, i: diag.i };
      const del = { c: prev[b].c + 1, s: prev[b].s, d: prev[b].d + 1, i: prev[b].i };
      const ins = { c: cur[b - 1].c + 1, s: cur[b - 1].s, d: cur[b - 1].d, i: cur[b - 1].i + 1 };
      let best = sub;
      if (del.c < best.c) best = del;
      if (ins.c < best.c) best = ins;
      cur.push(best);
    }
    prev = cur;
  }
  const e = prev[m];
  return { hits: n - e.s - e.d, substitutions: e.s, deletions: e.d, insertions: e.i, referenceWords: n };
}

/**
 * Corpus WER in percent: total word edits (S + D + I) over total reference words, words split on
 * whitespace (apply any normalization before). Also returns the edit counts. Multiple references: the
 * one with the fewest edits per example.
 */
export function werDetails(targets: unknown[], predictions: unknown[]): WerCounts & { wer: number } {
  checkParallel(targets, predictions, 'wer');
  const tot: WerCounts = { hits: 0, substitutions: 0, deletions: 0, insertions: 0, referenceWords: 0 };
  targets.forEach((t, i) => {
    const hyp = pySplit(asText(predictions[i], 'wer', `prediction ${i}`));
    let best: WerCounts | null = null;
    for (const r of refsOf(t)) {
      const c = wordAlignment(pySplit(asText(r, 'wer', `target ${i}`)), hyp);
      const cost = c.substitutions + c.deletions + c.insertions;
      if (best === null || cost < best.substitutions + best.deletions + best.insertions) best = c;
    }
    if (best === null) throw new EvalError(`wer: target ${i} has no reference`);
    tot.hits += best.hits;
    tot.substitutions += best.substitutions;
    tot.deletions += best.deletions;
    tot.insertions += best.insertions;
    tot.referenceWords += best.referenceWords;
  });
  if (tot.referenceWords === 0) throw new EvalError('wer: the references contain no words, so WER is undefined');
  return { ...tot, wer: (100 * (tot.substitutions + tot.deletions + tot.insertions)) / tot.referenceWords };
}

/** Corpus word error rate in percent: `{wer}`. */
export const wer: Metric = (targets, predictions) => ({ wer: werDetails(targets, predictions).wer });

/** Metrics by name, for CLIs and configs. */
export const METRICS: Readonly<Record<string, Metric>> = { exact_match: exactMatch, squad, accuracy, bleu, chrf, chrfpp, wer };
