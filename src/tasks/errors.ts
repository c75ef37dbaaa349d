/**
 * Errors raised by the task collection (templates, families, the seqio adapter and the CLI), and
 * the "did you mean" helper used when a task, family, cluster or mixture name is unknown.
 */

import { MyriadError } from '../core/errors.js';

/** Bad input to the task collection: an unknown name, a template that does not fit its example, a split too small. */
export class TaskError extends MyriadError {}

/** Levenshtein edit distance between two strings (insert, delete, substitute each cost 1). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, prev[j] + 1, cur[j - 1] + 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/**
 * Up to `k` candidates closest to `name` by edit distance (case-insensitive), among those within
 * a third of the longer length or containing (or contained in) `name`.
 */
export function closeMatches(name: string, candidates: Iterable<string>, k = 5): string[] {
  const q = name.toLowerCase();
  const scored: Array<[number, string]> = [];
  for (const c of new Set(candidates)) {
    const l = c.toLowerCase();
    const d = editDistance(q, l);
    const near = d <= Math.max(2, Math.ceil(Math.max(q.length, l.length) / 3));
    if (near || (q.length > 0 && (l.includes(q) || q.includes(l)))) scored.push([d, c]);
  }
  scored.sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
  return scored.slice(0, k).map(([, c]) => c);
}

/** An error for an unknown `kind` name that lists the close matches and how to see every name. */
export function unknownNameError(kind: string, name: string, candidates: Iterable<string>, hint: string): TaskError {
  const close = closeMatches(name, candidates);
  const did = close.length > 0 ? ` Did you mean: ${close.join(', ')}?` : '';
  return new TaskError(`Unknown ${kind} '${name}'.${did} ${hint}`);
}
