/**
 * Reverse-mode rules: one vector-Jacobian product per primitive, in one exhaustive table keyed by
 * `Primitive` (the compiler refuses a primitive without a rule). Each rule maps the cotangents of
 * an equation's outputs to cotangents of its inputs, written only with `lax` (so the backward
 * pass is itself a computation that can be traced, printed and differentiated again). Rules
 * return `null` for inputs that need no cotangent (`needs[i]` false) and for inputs that have no
 * derivative (indices, predicates, integer operands). Conventions follow JAX: ties of max/min and
 * of reduce_max/reduce_min share the cotangent equally; pow's derivatives are finite at x = 0.
 */

import type { Array } from './array.js';
import { isFloat } from './dtype.js';
import type { Ct, VjpRule } from './autodiff.js';
import { vjpGraph } from './autodiff.js';
import * as lax from './lax.js';
import type { Primitive } from './primitives.js';

type Rules = { [P in Primitive]: VjpRule<P> };

// ---------- small helpers (all built from lax primitives) ----------

/** `c` broadcast to the shape and dtype of `like`. */
const cst = (like: Array, c: number): Array => lax.fullLike(like, c);
/** Zero cotangents for every input. */
const nulls = (n: number): Ct[] => new globalThis.Array<Ct>(n).fill(null);
/** No derivative with respect to any input. */
const noGrad = (_cts: Ct[], primals: Array[]): Ct[] => nulls(primals.length);

/**
 * A rule for a single-input, single-output primitive from `(ct, x, out) → ct_x`; skipped when the
 * input needs no cotangent or the output cotangent is zero.
 */
function unaryRule(f: (ct: Array, x: Array, out: Array) => Array) {
  return (cts: Ct[], primals: Array[], outs: Array[], _p: unknown, needs: boolean[]): Ct[] => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    return [f(ct, primals[0], outs[0])];
  };
}

/**
 * A rule for a two-input elementwise primitive from one function per operand
 * (`(ct, a, b, out) → ct_operand`); each is evaluated only when that operand needs a cotangent.
 */
function binaryRule(fa: (ct: Array, a: Array, b: Array, out: Array) => Array, fb: (ct: Array, a: Array, b: Array, out: Array) => Array) {
  return (cts: Ct[], primals: Array[], outs: Array[], _p: unknown, needs: boolean[]): Ct[] => {
    const ct = cts[0];
    if (!ct) return [null, null];
    const [a, b] = primals;
    return [needs[0] ? fa(ct, a, b, outs[0]) : null, needs[1] ? fb(ct, a, b, outs[0]) : null];
  };
}

/** `x == ref` as a 0/1 array of x's dtype. */
const indicator = (x: Array, ref: Array): Array => lax.convert(lax.eq(x, ref), x.dtype);

/**
 * JAX's balanced tie rule for max/min: the share of the cotangent that operand `x` receives when
 * the result is `out` — 1 if x alone attains it, ½ if both operands do, 0 otherwise.
 */
function balancedShare(x: Array, y: Array, out: Array): Array {
  const xIs = indicator(x, out);
  const yIs = indicator(y, out);
  // xIs · (1 − ½·yIs)
  return lax.mul(xIs, lax.sub(cst(x, 1), lax.mul(cst(y, 0.5), yIs)));
}

/** Truncation toward zero: sign(q)·floor(|q|). */
const trunc = (q: Array): Array => lax.mul(lax.sign(q), lax.floor(lax.abs(q)));

/** Inverse of a permutation. */
function inversePerm(perm: readonly number[]): number[] {
  const inv = new globalThis.Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** Positions 0..n-1 not listed in `used`, ascending. */
function freeDims(n: number, used: readonly number[]): number[] {
  const out: number[] = [];
  for (let d = 0; d < n; d++) if (!used.includes(d)) out.push(d);
  return out;
}

/** Converts a cotangent to the dtype of the value it belongs to (float→float only). */
function toDtypeOf(ct: Array, like: Array): Array {
  return ct.dtype === like.dtype ? ct : lax.convert(ct, like.dtype);
}

/**
 * Cotangent of one dot_general operand. `ct` has dims [batch…, lhsFree…, rhsFree…]. We contract
 * ct's dims that belong to the *other* operand's free dims with those free dims, batching over
 * the batch dims. For the lhs (`side` 0) the product is ct·other, with dims
 * [batch…, lhsFree…, rhsContracting (ascending)…]; for the rhs it is other·ct, with dims
 * [batch…, lhsContracting (ascending)…, rhsFree…] — in both cases the operand's own layout for a
 * plain matmul, so no transpose is needed there; in general one transpose puts the dims back.
 */
function dotTransposeOperand(
  ct: Array,
  other: Array,
  self: Array,
  selfContracting: readonly number[],
  selfBatch: readonly number[],
  otherContracting: readonly number[],
  otherBatch: readonly number[],
  side: 0 | 1,
): Array {
  const nb = selfBatch.length;
  const selfFree = freeDims(self.ndim, [...selfContracting, ...selfBatch]);
  const otherFree = freeDims(other.ndim, [...otherContracting, ...otherBatch]);
  // Positions of the other operand's free dims inside ct (lhs free dims come first).
  const otherFreeOffset = nb + (side === 0 ? selfFree.length : 0);
  const ctOtherFree = otherFree.map((_, i) => otherFreeOffset + i);
  const ctBatch = selfBatch.map((_, i) => i);
  const sortedOtherC = [...otherContracting].sort((x, y) => x - y);
  const pos = new globalThis.Array<number>(self.ndim);
  selfBatch.forEach((d, i) => (pos[d] = i));
  let r: Array;
  if (side === 0) {
    r = lax.dotGeneral(ct, other, { lhsContracting: ctOtherFree, rhsContracting: otherFree, lhsBatch: ctBatch, rhsBatch: [...otherBatch] });
    selfFree.forEach((d, i) => (pos[d] = nb + i));
    selfContracting.forEach((d, i) => (pos[d] = nb + selfFree.length + sortedOtherC.indexOf(otherContracting[i])));
  } else {
    r = lax.dotGeneral(other, ct, { lhsContracting: otherFree, rhsContracting: ctOtherFree, lhsBatch: [...otherBatch], rhsBatch: ctBatch });
    selfContracting.forEach((d, i) => (pos[d] = nb + sortedOtherC.indexOf(otherContracting[i])));
    selfFree.forEach((d, i) => (pos[d] = nb + selfContracting.length + i));
  }
  return lax.transpose(r, pos);
}

// ---------- the table ----------

export const vjpRules: Rules = {
  // d(−x) = −dx
  neg: unaryRule((ct) => lax.neg(ct)),
  // d|x| = sign(x)·dx
  abs: unaryRule((ct, x) => lax.mul(ct, lax.sign(x))),
  // sign, floor, ceil, round: derivative zero almost everywhere
  sign: noGrad,
  floor: noGrad,
  ceil: noGrad,
  round: noGrad,
  // is_finite: bool output, no derivative
  is_finite: noGrad,
  // d(exp x) = exp(x)·dx
  exp: unaryRule((ct, _x, out) => lax.mul(ct, out)),
  // d(log x) = dx / x
  log: unaryRule((ct, x) => lax.div(ct, x)),
  // d(log1p x) = dx / (1 + x)
  log1p: unaryRule((ct, x) => lax.div(ct, lax.add(cst(x, 1), x))),
  // d(expm1 x) = (expm1(x) + 1)·dx
  expm1: unaryRule((ct, x, out) => lax.mul(ct, lax.add(out, cst(x, 1)))),
  // d(tanh x) = (1 − tanh²x)·dx
  tanh: unaryRule((ct, x, out) => lax.mul(ct, lax.sub(cst(x, 1), lax.mul(out, out)))),
  // d(σ(x)) = σ(x)·(1 − σ(x))·dx
  logistic: unaryRule((ct, x, out) => lax.mul(ct, lax.mul(out, lax.sub(cst(x, 1), out)))),
  // d(sin x) = cos(x)·dx
  sin: unaryRule((ct, x) => lax.mul(ct, lax.cos(x))),
  // d(cos x) = −sin(x)·dx
  cos: unaryRule((ct, x) => lax.neg(lax.mul(ct, lax.sin(x)))),
  // d(√x) = dx / (2√x)
  sqrt: unaryRule((ct, x, out) => lax.div(ct, lax.mul(cst(x, 2), out))),
  // d(x^−½) = −½·x^−½ / x · dx
  rsqrt: unaryRule((ct, x, out) => lax.mul(ct, lax.mul(cst(x, -0.5), lax.div(out, x)))),
  // d(erf x) = 2/√π · exp(−x²)·dx
  erf: unaryRule((ct, x) => lax.mul(ct, lax.mul(cst(x, 2 / Math.sqrt(Math.PI)), lax.exp(lax.neg(lax.mul(x, x)))))),
  // not: bool/integer, no derivative
  not: noGrad,

  // d(a + b) = da + db
  add: binaryRule((ct) => ct, (ct) => ct),
  // d(a − b) = da − db
  sub: binaryRule((ct) => ct, (ct) => lax.neg(ct)),
  // d(a·b) = b·da + a·db
  mul: binaryRule((ct, _a, b) => lax.mul(ct, b), (ct, a) => lax.mul(a, ct)),
  // d(a / b) = da / b − (a / b²)·db
  div: binaryRule((ct, _a, b) => lax.div(ct, b), (ct, _a, b, out) => lax.neg(lax.mul(ct, lax.div(out, b)))),
  // rem(a, b) = a − b·trunc(a / b): d = da − trunc(a / b)·db
  rem: binaryRule((ct) => ct, (ct, a, b) => lax.neg(lax.mul(ct, trunc(lax.div(a, b))))),
  // d(aᵇ) = b·aᵇ⁻¹·da + log(a)·aᵇ·db   (da-term 0 where b = 0, db-term uses log 1 = 0 where a = 0)
  pow: binaryRule(
    (ct, a, b) => {
      const zero = cst(b, 0);
      const term = lax.mul(b, lax.pow(a, lax.sub(b, cst(b, 1))));
      return lax.mul(ct, lax.select(lax.eq(b, zero), zero, term));
    },
    (ct, a, _b, out) => {
      const safeA = lax.select(lax.eq(a, cst(a, 0)), cst(a, 1), a);
      return lax.mul(ct, lax.mul(lax.log(safeA), out));
    },
  ),
  // d max(a, b) = [a wins]·da + [b wins]·db, ties split ½/½
  max: binaryRule((ct, a, b, out) => lax.mul(ct, balancedShare(a, b, out)), (ct, a, b, out) => lax.mul(ct, balancedShare(b, a, out))),
  // d min(a, b): as max
  min: binaryRule((ct, a, b, out) => lax.mul(ct, balancedShare(a, b, out)), (ct, a, b, out) => lax.mul(ct, balancedShare(b, a, out))),
  // d atan2(a, b) = (b·da − a·db) / (a² + b²)
  atan2: binaryRule(
    (ct, a, b) => lax.div(lax.mul(ct, b), lax.add(lax.mul(a, a), lax.mul(b, b))),
    (ct, a, b) => lax.neg(lax.div(lax.mul(ct, a), lax.add(lax.mul(a, a), lax.mul(b, b)))),
  ),
  // bitwise, shifts and comparisons: integer/bool values, no derivative
  and: noGrad,
  or: noGrad,
  xor: noGrad,
  shift_left: noGrad,
  shift_right_logical: noGrad,
  shift_right_arithmetic: noGrad,
  eq: noGrad,
  ne: noGrad,
  lt: noGrad,
  le: noGrad,
  gt: noGrad,
  ge: noGrad,

  // select(p, t, f): dt gets ct where p, df gets ct where ¬p; the predicate has no derivative
  select: (cts, [pred, t], _outs, _p, needs) => {
    const ct = cts[0];
    if (!ct) return [null, null, null];
    const zero = lax.zerosLike(t);
    return [null, needs[1] ? lax.select(pred, ct, zero) : null, needs[2] ? lax.select(pred, zero, ct) : null];
  },
  // float→float convert: the cotangent converts back; to or from integers/bool: no derivative
  convert_element_type: (cts, [x], _outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0] || !isFloat(x.dtype) || !isFloat(p.newDtype)) return [null];
    return [toDtypeOf(ct, x)];
  },
  // stop_gradient: derivative zero by definition
  stop_gradient: noGrad,

  // broadcast_in_dim: sum ct over the new dims and over size-1 dims that were expanded, then reshape
  broadcast_in_dim: (cts, [x], _outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    const kept = new Set(p.broadcastDimensions);
    const axes: number[] = [];
    for (let d = 0; d < p.shape.length; d++) if (!kept.has(d)) axes.push(d);
    p.broadcastDimensions.forEach((d, i) => {
      if (x.shape[i] === 1 && p.shape[d] !== 1) axes.push(d);
    });
    axes.sort((a, b) => a - b);
    return [lax.reshape(lax.reduceSum(ct, axes), [...x.shape])];
  },
  // reshape: reshape ct back
  reshape: unaryRule((ct, x) => lax.reshape(ct, [...x.shape])),
  // transpose(x, perm): transpose ct by the inverse permutation
  transpose: (cts, _primals, _outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    return [lax.transpose(ct, inversePerm(p.permutation))];
  },
  // slice: pad ct with zeros back to the operand's shape (interior padding undoes the strides)
  slice: (cts, [x], _outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    const strides = p.strides ?? x.shape.map(() => 1);
    const lo = [...p.startIndices];
    const interior = strides.map((s) => s - 1);
    const hi = x.shape.map((d, i) => {
      const n = ct.shape[i];
      return d - lo[i] - (n > 0 ? (n - 1) * strides[i] + 1 : 0);
    });
    if (ct.size === 0) return [lax.zerosLike(x)];
    return [lax.pad(ct, 0, lo, hi, interior)];
  },
  // pad: the operand's cotangent is the strided slice of ct at the operand's positions
  // (negative padding first re-grows ct with zeros where operand elements were cut away)
  pad: (cts, [x], _outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    if (x.size === 0) return [lax.zerosLike(x)];
    let t = ct;
    const negLo = p.lo.map((l) => Math.max(0, -l));
    const negHi = p.hi.map((h) => Math.max(0, -h));
    if (negLo.some((v) => v > 0) || negHi.some((v) => v > 0)) t = lax.pad(t, 0, negLo, negHi);
    const start = p.lo.map((l) => Math.max(0, l));
    const limit = x.shape.map((d, i) => start[i] + (d - 1) * (p.interior[i] + 1) + 1);
    const strides = p.interior.map((s) => s + 1);
    return [lax.slice(t, start, limit, strides.every((s) => s === 1) ? null : strides)];
  },
  // concatenate: each operand's cotangent is its slice of ct
  concatenate: (cts, primals, _outs, p, needs) => {
    const ct = cts[0];
    if (!ct) return nulls(primals.length);
    const dim = p.dimension;
    let off = 0;
    return primals.map((x, i) => {
      const start = off;
      off += x.shape[dim];
      if (!needs[i]) return null;
      const s = ct.shape.map((_, d) => (d === dim ? start : 0));
      const l = ct.shape.map((n, d) => (d === dim ? start + x.shape[dim] : n));
      return lax.slice(ct, s, l);
    });
  },
  // dynamic_slice: write ct into zeros at the same (clamped) starts; the starts have no derivative
  dynamic_slice: (cts, [x, ...starts], _outs, _p, needs) => {
    const ct = cts[0];
    const res = nulls(1 + starts.length);
    if (!ct || !needs[0]) return res;
    res[0] = lax.dynamicUpdateSlice(lax.zerosLike(x), ct, starts);
    return res;
  },
  // dynamic_update_slice: operand gets ct with the updated window zeroed; update gets ct's window
  dynamic_update_slice: (cts, [_x, u, ...starts], _outs, _p, needs) => {
    const ct = cts[0];
    const res = nulls(2 + starts.length);
    if (!ct) return res;
    if (needs[0]) res[0] = lax.dynamicUpdateSlice(ct, lax.zerosLike(u), starts);
    if (needs[1]) res[1] = lax.dynamicSlice(ct, starts, [...u.shape]);
    return res;
  },

  // reduce_sum: broadcast ct back over the reduced axes
  reduce_sum: (cts, [x], _outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    return [lax.broadcastInDim(ct, [...x.shape], freeDims(x.ndim, p.axes))];
  },
  // reduce_max: ct goes to the maximal elements, split equally among ties (JAX's chooser rule)
  reduce_max: (cts, [x], outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    return [chooserCt(ct, x, outs[0], p.axes)];
  },
  // reduce_min: as reduce_max
  reduce_min: (cts, [x], outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    return [chooserCt(ct, x, outs[0], p.axes)];
  },
  // argmax: integer output, no derivative
  argmax: noGrad,
  // cumsum: the transpose of an inclusive scan is the scan in the other direction
  cumsum: (cts, _primals, _outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    return [lax.cumsum(ct, p.axis, !p.reverse)];
  },

  // dot_general: d(A·B) = dA·B + A·dB; each operand's cotangent contracts ct with the other
  // operand over the other's free dims, batching over the batch dims, then transposes back
  dot_general: (cts, [a, b], _outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !isFloat(a.dtype)) return [null, null];
    const c = toDtypeOf(ct, a);
    return [
      needs[0] ? dotTransposeOperand(c, b, a, p.lhsContracting, p.lhsBatch, p.rhsContracting, p.rhsBatch, 0) : null,
      needs[1] ? dotTransposeOperand(c, a, b, p.rhsContracting, p.rhsBatch, p.lhsContracting, p.lhsBatch, 1) : null,
    ];
  },
  // gather: scatter-add ct into zeros at the same indices (out-of-range ones drop, as they read 0)
  gather: (cts, [x, idx], _outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null, null];
    return [lax.scatterAdd(lax.zerosLike(x), idx, ct, p.axis, p.batchDims), null];
  },
  // ragged_dot: out[m] = lhs[m]·W_g with W_g = rhs[g] (or rhs[g]ᵀ), so d lhs[m] = ct[m]·W_gᵀ (a
  // ragged_dot with the transpose flag flipped) and d W_g = Σ_{m∈g} lhs[m]ᵀ ct[m] (a
  // ragged_contract; its transpose, contract(ct, lhs), when rhs is stored transposed)
  ragged_dot: (cts, [a, b, gs], _outs, p, needs) => {
    const ct = cts[0];
    if (!ct) return [null, null, null];
    const c = toDtypeOf(ct, a);
    const dRhs = needs[1] ? (p.transposeRhs ? lax.raggedContract(c, a, gs) : lax.raggedContract(a, c, gs)) : null;
    return [needs[0] ? lax.raggedDot(c, b, gs, { transposeRhs: !p.transposeRhs }) : null, dRhs, null];
  },
  // ragged_contract: out[g] = Σ_{m∈g} lhs[m]ᵀ rhs[m], so d lhs[m] = rhs[m]·ct[g]ᵀ and d rhs[m] = lhs[m]·ct[g]
  ragged_contract: (cts, [a, b, gs], _outs, _p, needs) => {
    const ct = cts[0];
    if (!ct) return [null, null, null];
    const c = toDtypeOf(ct, a);
    return [needs[0] ? lax.raggedDot(b, c, gs, { transposeRhs: true }) : null, needs[1] ? lax.raggedDot(a, c, gs) : null, null];
  },
  // scatter_add: the operand passes ct through; the updates read ct at their indices
  scatter_add: (cts, [, idx], _outs, p, needs) => {
    const ct = cts[0];
    if (!ct) return [null, null, null];
    return [needs[0] ? ct : null, null, needs[2] ? lax.gather(ct, idx, p.axis, p.batchDims) : null];
  },
  // top_k: the values' cotangent is scattered back to the chosen positions along the last axis
  top_k: (cts, [x], outs, _p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    const r = x.ndim;
    return [lax.scatterAdd(lax.zerosLike(x), outs[1], ct, r - 1, r - 1)];
  },
  // iota: no inputs
  iota: () => [],

  // remat: re-run the sub-graph's forward inside the backward pass (rematerialization), then
  // pull the cotangents back through it
  remat: (cts, primals, _outs, p, needs) => {
    if (cts.every((c) => c === null) || !needs.some((n) => n)) return nulls(primals.length);
    const { pullback } = vjpGraph(p.graph, primals, needs);
    return pullback(cts).map((c, i) => (needs[i] ? c : null));
  },
  // custom_vjp_call: handled by vjpGraph itself (it calls the user's fwd/bwd)
  custom_vjp_call: () => {
    throw new Error('internal: custom_vjp_call has no table VJP rule; autodiff.vjpGraph must handle it');
  },

  // sharding_constraint: identity; the cotangent is constrained the same way
  sharding_constraint: (cts, _primals, _outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    return [lax.shardingConstraint(ct, p.sharding)];
  },

  // Collectives differentiate the per-device program as one function of all devices' inputs to
  // all devices' outputs (JAX's classic rules): the transpose of each linear collective.
  // all_reduce(sum): y_d = Σ_r x_r for every member d, so dx_r = Σ_d ct_d = all_reduce(sum)(ct)
  all_reduce: (cts, [x], outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    const grp = { axes: p.axes, axisSizes: p.axisSizes };
    const total = lax.allReduce(ct, { ...grp, op: 'sum' });
    if (p.op === 'sum') return [total];
    // max/min: the summed cotangent goes to the members whose value equals the result, split
    // equally among ties (as reduce_max does)
    const mask = indicator(x, outs[0]);
    return [lax.div(lax.mul(total, mask), lax.allReduce(mask, { ...grp, op: 'sum' }))];
  },
  // all_gather ↔ reduce_scatter(sum) on the same dimension
  all_gather: (cts, _primals, _outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    return [lax.reduceScatter(ct, { axes: p.axes, axisSizes: p.axisSizes, dimension: p.dimension })];
  },
  reduce_scatter: (cts, _primals, _outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    return [lax.allGather(ct, { axes: p.axes, axisSizes: p.axisSizes, dimension: p.dimension })];
  },
  // all_to_all: the inverse exchange, split and concat dimensions swapped
  all_to_all: (cts, _primals, _outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    return [lax.allToAll(ct, { axes: p.axes, axisSizes: p.axisSizes, splitDimension: p.concatDimension, concatDimension: p.splitDimension })];
  },
  // collective_permute: send cotangents back along the inverse pairs (non-senders get zeros)
  collective_permute: (cts, _primals, _outs, p, needs) => {
    const ct = cts[0];
    if (!ct || !needs[0]) return [null];
    return [lax.collectivePermute(ct, { axes: p.axes, axisSizes: p.axisSizes, pairs: p.pairs.map(([s, t]) => [t, s] as [number, number]) })];
  },
  // axis_index: no inputs
  axis_index: () => [],
};

/**
 * reduce_max/reduce_min cotangent: ct broadcast back, masked to the elements equal to the result
 * and divided by how many there are (an equal split among ties).
 */
function chooserCt(ct: Array, x: Array, out: Array, axes: readonly number[]): Array {
  const keep = freeDims(x.ndim, axes);
  const shape = [...x.shape];
  const outB = lax.broadcastInDim(out, shape, keep);
  const mask = indicator(x, outB);
  const counts = lax.broadcastInDim(lax.reduceSum(mask, [...axes]), shape, keep);
  return lax.div(lax.mul(lax.broadcastInDim(ct, shape, keep), mask), counts);
}
