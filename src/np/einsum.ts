/**
 * `np.einsum`: Einstein summation over any number of operands, built on `dot_general`.
 *
 * Supported: explicit (`'ij,jk->ik'`) and implicit (`'ij,jk'`: indices seen once, sorted) output;
 * batch indices (present in the output and several operands); contractions; `...` ellipsis
 * (broadcast across operands); size-1 dims broadcasting against other operands; repeated indices
 * within one operand, which take the diagonal (`'ii->i'`, `'ii->'` is the trace). Indices that
 * are not in the output are summed (with an explicit output lacking '...', so are the ellipsis
 * dims). Bool operands give a bool result (or of ands). Operands are contracted pairwise left to right, summing an
 * index away as soon as no later operand and not the output needs it. A malformed spec is an
 * EinsumError that says what is wrong and how to fix it.
 */

import { Array, type ArrayLike } from '../core/array.js';
import { EinsumError } from '../core/errors.js';
import * as lax from '../core/lax.js';
import { fmtShape } from '../core/shape.js';
import { checkOperand, diagOfSquare, promote, range } from './util.js';

const ELLIPSIS = '...';

/** One operand's subscripts: letters, with the ellipsis (if any) as the token '...'. */
type Term = string[];

function tokenize(term: string, where: string, spec: string): Term {
  const out: Term = [];
  let i = 0;
  while (i < term.length) {
    if (term.startsWith(ELLIPSIS, i)) {
      if (out.includes(ELLIPSIS)) throw new EinsumError(`'${spec}': ${where} '${term}' has more than one '...'; use at most one ellipsis per operand`);
      out.push(ELLIPSIS);
      i += 3;
      continue;
    }
    const c = term[i];
    if (!/[a-zA-Z]/.test(c)) {
      const hint = c === '.' ? "an ellipsis is exactly three dots '...'" : 'use letters a-z, A-Z, commas between operands and one optional ->';
      throw new EinsumError(`'${spec}': invalid character '${c}' in ${where} '${term}'; ${hint}`);
    }
    out.push(c);
    i += 1;
  }
  return out;
}

interface Operand {
  x: Array;
  labels: string[];
}

/** Label names for ellipsis dims; chosen so they cannot clash with letters. */
function ellLabel(i: number): string {
  return `…${i}`;
}

function showLabel(l: string): string {
  return l.startsWith('…') ? `ellipsis dim ${l.slice(1)}` : `index '${l}'`;
}

/** Takes diagonals for every index repeated within one operand. */
function diagonals(op: Operand, k: number, spec: string): Operand {
  let { x, labels } = op;
  for (;;) {
    const dup = labels.find((l, i) => labels.indexOf(l) !== i);
    if (dup === undefined) return { x, labels };
    const i = labels.indexOf(dup);
    const j = labels.indexOf(dup, i + 1);
    if (x.shape[i] !== x.shape[j]) {
      throw new EinsumError(`'${spec}': operand ${k} (shape ${fmtShape(op.x.shape)}) repeats ${showLabel(dup)} on dims of sizes ${x.shape[i]} and ${x.shape[j]}; a repeated index takes the diagonal, which needs equal sizes`);
    }
    const rest = range(x.ndim).filter((d) => d !== i && d !== j);
    x = diagOfSquare(lax.transpose(x, [...rest, i, j]));
    labels = [...rest.map((d) => labels[d]), dup];
  }
}

function sumOut(op: Operand, drop: (l: string) => boolean): Operand {
  const axes = op.labels.map((l, i) => (drop(l) ? i : -1)).filter((i) => i >= 0);
  if (axes.length === 0) return op;
  return { x: lax.reduceSum(op.x, axes), labels: op.labels.filter((_, i) => !axes.includes(i)) };
}

/**
 * Einstein summation. `spec` names each operand's dims with letters (comma-separated), an
 * optional `->` and the output's letters; `...` stands for broadcast leading dims. Indices not
 * in the output are summed; an index repeated inside one operand takes its diagonal.
 * @example np.einsum('bqd,bkd->bqk', q, k)   // batched q·kᵀ
 * @example np.einsum('ij,jk,kl->il', a, b, c) // chain product
 * @example np.einsum('ii->', m)               // trace
 */
export function einsum(spec: string, ...operands: ArrayLike[]): Array {
  if (typeof spec !== 'string') throw new EinsumError(`the first argument must be the subscripts string, e.g. 'ij,jk->ik', got ${typeof spec}`);
  operands.forEach((o, i) => checkOperand(o, `einsum operand ${i}`));
  const s = spec.replace(/\s+/g, '');
  const parts = s.split('->');
  if (parts.length > 2) throw new EinsumError(`'${spec}' has more than one '->'; the form is 'inputs->output'`);
  if (/[-<>]/.test(parts[0]) || (parts[1] !== undefined && /[-<>,]/.test(parts[1]))) {
    throw new EinsumError(`'${spec}': stray '-', '>' or ',' — the form is 'ab,bc->ac' with commas only between inputs and a single '->'`);
  }
  const inTerms = parts[0].split(',');
  if (operands.length === 0) throw new EinsumError(`'${spec}': no operands given; pass one array per comma-separated input term`);
  if (inTerms.length !== operands.length) {
    throw new EinsumError(`'${spec}' names ${inTerms.length} operand${inTerms.length === 1 ? '' : 's'} but ${operands.length} ${operands.length === 1 ? 'was' : 'were'} given; write one comma-separated term per operand`);
  }
  // bools are computed as int32 (sum of products) and tested against 0 at the end
  const promoted = promote(operands);
  const isBool = promoted[0].dtype === 'bool';
  const arrays = isBool ? promoted.map((a) => lax.convert(a, 'int32')) : promoted;
  const toks = inTerms.map((t, i) => tokenize(t, `operand ${i} term`, spec));

  // expand ellipses into right-aligned internal labels
  const ellRanks = toks.map((t, k) => {
    const named = t.filter((c) => c !== ELLIPSIS).length;
    const nd = arrays[k].ndim;
    if (!t.includes(ELLIPSIS)) {
      if (named !== nd) {
        throw new EinsumError(`'${spec}': operand ${k} has shape ${fmtShape(arrays[k].shape)} (rank ${nd}) but its subscripts '${inTerms[k]}' name ${named} dim${named === 1 ? '' : 's'}; give one letter per dim, or use '...' for the leading dims`);
      }
      return 0;
    }
    if (named > nd) throw new EinsumError(`'${spec}': operand ${k} has shape ${fmtShape(arrays[k].shape)} (rank ${nd}) but its subscripts '${inTerms[k]}' name ${named} dims besides '...'`);
    return nd - named;
  });
  const E = Math.max(0, ...ellRanks);
  const ellAll = range(E).map(ellLabel);
  let ops: Operand[] = toks.map((t, k) => {
    const labels: string[] = [];
    for (const c of t) {
      if (c === ELLIPSIS) for (let i = E - ellRanks[k]; i < E; i++) labels.push(ellLabel(i));
      else labels.push(c);
    }
    return { x: arrays[k], labels };
  });

  // output labels
  let output: string[];
  if (parts.length === 2) {
    const outToks = tokenize(parts[1], 'output', spec);
    output = [];
    for (const c of outToks) {
      if (c === ELLIPSIS) output.push(...ellAll);
      else {
        if (!toks.some((t) => t.includes(c))) throw new EinsumError(`'${spec}': output index '${c}' does not appear in any input; every output index must come from an operand`);
        if (output.includes(c)) throw new EinsumError(`'${spec}': output index '${c}' appears more than once; list each output index once (use an input repeat like 'ii->i' for a diagonal)`);
        output.push(c);
      }
    }
  } else {
    const counts = new Map<string, number>();
    for (const t of toks) for (const c of t) if (c !== ELLIPSIS) counts.set(c, (counts.get(c) ?? 0) + 1);
    output = [...ellAll, ...[...counts.keys()].filter((c) => counts.get(c) === 1).sort()];
  }

  ops = ops.map((op, k) => diagonals(op, k, spec));

  // sizes: equal, or 1 (broadcast)
  const sizes = new Map<string, number>();
  const from = new Map<string, number>();
  ops.forEach((op, k) => {
    op.labels.forEach((l, d) => {
      const n = op.x.shape[d];
      const prev = sizes.get(l);
      if (prev === undefined || prev === 1) {
        if (prev === undefined || n !== 1) {
          sizes.set(l, n);
          from.set(l, k);
        }
      } else if (n !== 1 && n !== prev) {
        const k0 = from.get(l)!;
        throw new EinsumError(`'${spec}': ${showLabel(l)} has size ${prev} in operand ${k0} (shape ${fmtShape(arrays[k0].shape)}) but ${n} in operand ${k} (shape ${fmtShape(arrays[k].shape)}); sizes of one index must agree (or be 1)`);
      }
    });
  });

  // broadcast size-1 dims that meet a larger size elsewhere
  ops = ops.map((op) => {
    const target = op.labels.map((l) => sizes.get(l)!);
    if (target.every((n, d) => n === op.x.shape[d])) return op;
    return { x: lax.broadcastInDim(op.x, target, range(op.x.ndim)), labels: op.labels };
  });

  const outSet = new Set(output);
  const usedBy = (from: number): Set<string> => {
    const set = new Set(outSet);
    for (let k = from; k < ops.length; k++) for (const l of ops[k].labels) set.add(l);
    return set;
  };
  // sum indices that only one operand has and the output lacks
  ops = ops.map((op, k) => sumOut(op, (l) => !outSet.has(l) && !ops.some((o, j) => j !== k && o.labels.includes(l))));

  let cur = ops[0];
  for (let k = 1; k < ops.length; k++) {
    let next = ops[k];
    const later = usedBy(k + 1);
    cur = sumOut(cur, (l) => !later.has(l) && !next.labels.includes(l));
    next = sumOut(next, (l) => !later.has(l) && !cur.labels.includes(l));
    const shared = cur.labels.filter((l) => next.labels.includes(l));
    const batch = shared.filter((l) => later.has(l));
    const contract = shared.filter((l) => !later.has(l));
    const x = lax.dotGeneral(cur.x, next.x, {
      lhsContracting: contract.map((l) => cur.labels.indexOf(l)),
      rhsContracting: contract.map((l) => next.labels.indexOf(l)),
      lhsBatch: batch.map((l) => cur.labels.indexOf(l)),
      rhsBatch: batch.map((l) => next.labels.indexOf(l)),
    });
    const labels = [...batch, ...cur.labels.filter((l) => !shared.includes(l)), ...next.labels.filter((l) => !shared.includes(l))];
    cur = { x, labels };
  }
  cur = sumOut(cur, (l) => !outSet.has(l));
  const out = lax.transpose(cur.x, output.map((l) => cur.labels.indexOf(l)));
  return isBool ? lax.ne(out, lax.zerosLike(out)) : out;
}
