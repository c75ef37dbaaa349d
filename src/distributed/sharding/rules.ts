/**
 * Per-primitive dimension (factor) rules for sharding propagation, in one exhaustive table keyed
 * by primitive (the compiler checks that every primitive has a rule).
 *
 * A rule describes an equation as a set of *factors* — the independent index spaces of the
 * computation — and says which factors make up each dimension of each operand and result
 * (major → minor). A dimension usually is one factor; a reshape can split one dimension into
 * several factors or merge several into one. Two tensors that share a factor can exchange
 * their sharding of it. Factor kinds:
 * - `pass`: an index space that operands and results share (elementwise dims, dot batch and free
 *   dims, kept dims of a reduction, …), or that only one tensor has (then nothing flows).
 * - `sum`: appears only in operands and is summed over (dot_general contracting dims, reduce_sum
 *   axes, the gathered axis of gather, the index dims of scatter_add). When it is sharded over
 *   mesh axes, every device computes a partial result, so the results become pending sums
 *   (`partial`) over those axes.
 * - `reduce`: appears only in operands and is reduced by a non-sum operation (reduce_max/min,
 *   argmax, top_k's last dim). The results are replicated over its axes: the partitioner reduces
 *   locally and then across devices (all_reduce max/min, or a gather and a second top_k). Our
 *   `partial` only ever means a pending SUM.
 * - `opaque`: never sharded by this equation (top_k's k dimension).
 * `linear` lists groups of operands the results are jointly linear in (add: [[0, 1]]; mul:
 * [[0], [1]]), so that pending sums can flow through them without being reduced first.
 * `remat` and `custom_vjp_call` return a `call` rule: propagation recurses into the sub-graph,
 * linking call operands to sub-graph inputs and sub-graph outputs to call results.
 * Collectives appear only in per-device programs, after partitioning; their rule throws.
 */

import { isFloat } from '../../core/dtype.js';
import type { AbstractValue, Graph } from '../../core/ir.js';
import type { Primitive, PrimitiveParams } from '../../core/primitives.js';
import { sizeOf } from '../../core/shape.js';
import { ShardingError } from './sharding.js';

/** How a factor relates operands to results (see the file header). */
export type FactorKind = 'pass' | 'sum' | 'reduce' | 'opaque';

/** One index space of an equation. */
export interface Factor {
  size: number;
  kind: FactorKind;
}

/** The factor structure of one equation. */
export interface FactorRule {
  kind: 'factors';
  factors: Factor[];
  /** Per operand, per dimension: the factor ids that make up the dimension, major → minor. */
  operands: number[][][];
  /** Per result, per dimension: the factor ids, major → minor. */
  results: number[][][];
  /** Groups of operand indices the results are jointly linear in (for pending sums). */
  linear: number[][];
}

/** A call of a sub-graph (remat, custom_vjp_call): operand i feeds `graph.inputs[i]`. */
export interface CallRule {
  kind: 'call';
  graph: Graph;
}

export type OpShardingRule = FactorRule | CallRule;

/** What a rule sees of an equation: operand and result avals and the params. */
export interface RuleInput<P extends Primitive> {
  inputs: readonly AbstractValue[];
  outputs: readonly AbstractValue[];
  params: PrimitiveParams[P];
}

/** A primitive's sharding rule. */
export type ShardingRule<P extends Primitive> = (eqn: RuleInput<P>) => OpShardingRule;

/** Builds the factor lists of one rule. */
class Builder {
  readonly factors: Factor[] = [];
  /** A new factor; returns its id. */
  f(size: number, kind: FactorKind = 'pass'): number {
    this.factors.push({ size, kind });
    return this.factors.length - 1;
  }
  /** One new private factor per dimension of `shape`. */
  own(shape: readonly number[], kind: FactorKind = 'pass'): number[][] {
    return shape.map((d) => [this.f(d, kind)]);
  }
  rule(operands: number[][][], results: number[][][], linear: number[][] = []): FactorRule {
    return { kind: 'factors', factors: this.factors, operands, results, linear };
  }
}

/** All operands and results share one factor per dimension (shapes are equal). */
function elementwise(linear: (e: RuleInput<any>) => number[][] = () => []): ShardingRule<any> {
  return (e) => {
    const b = new Builder();
    const shape = e.outputs[0].shape;
    const fs = shape.map((d) => [b.f(d)]);
    const same = (a: AbstractValue) => (a.shape.length === shape.length ? fs : b.own(a.shape));
    return b.rule(e.inputs.map(same), e.outputs.map(same), linear(e));
  };
}

const unary = elementwise();
const binary = elementwise();
const linearAll = elementwise((e) => [e.inputs.map((_, i) => i)]);
const linearEach = elementwise((e) => e.inputs.map((_, i) => [i]));

/** reduce_sum / reduce_max / reduce_min: kept dims shared, reduced dims `sum` or `reduce`. */
function reduction(kind: 'sum' | 'reduce'): ShardingRule<'reduce_sum' | 'reduce_max' | 'reduce_min'> {
  return (e) => {
    const b = new Builder();
    const x = e.inputs[0].shape;
    const opDims: number[][] = [];
    const outDims: number[][] = [];
    x.forEach((d, i) => {
      if (e.params.axes.includes(i)) opDims.push([b.f(d, kind)]);
      else {
        const f = b.f(d);
        opDims.push([f]);
        outDims.push([f]);
      }
    });
    return b.rule([opDims], [outDims], kind === 'sum' ? [[0]] : []);
  };
}

/**
 * The factors of a reshape. Dimensions are grouped into the smallest runs with equal products
 * on both sides; inside a group the two factorizations are refined into common factors when
 * the prefix products of both sides form a divisibility chain (e.g. [6,4] → [2,3,4] gives
 * factors 2, 3, 4; [4,6] → [2,12] gives 2, 2, 6). Otherwise (e.g. [2,3] → [3,2]) each
 * dimension of the group gets its own factor and nothing flows across the group.
 */
export function reshapeFactors(inShape: readonly number[], outShape: readonly number[]): { factors: number[]; inDims: number[][]; outDims: number[][]; shared: boolean[] } {
  const factors: number[] = [];
  const shared: boolean[] = [];
  const inDims: number[][] = inShape.map(() => []);
  const outDims: number[][] = outShape.map(() => []);
  const fresh = (size: number, isShared: boolean) => {
    factors.push(size);
    shared.push(isShared);
    return factors.length - 1;
  };
  if (sizeOf(inShape) === 0 || sizeOf(outShape) === 0) {
    inShape.forEach((d, i) => inDims[i].push(fresh(d, false)));
    outShape.forEach((d, j) => outDims[j].push(fresh(d, false)));
    return { factors, inDims, outDims, shared };
  }
  let i = 0, j = 0;
  while (i < inShape.length || j < outShape.length) {
    if (i < inShape.length && inShape[i] === 1) {
      inDims[i].push(fresh(1, false));
      i++;
      continue;
    }
    if (j < outShape.length && outShape[j] === 1) {
      outDims[j].push(fresh(1, false));
      j++;
      continue;
    }
    // A group: grow the smaller side until the products match.
    const gi = [i], gj = [j];
    let pi = inShape[i], pj = outShape[j];
    while (pi !== pj) {
      if (pi < pj) {
        i++;
        gi.push(i);
        pi *= inShape[i];
      } else {
        j++;
        gj.push(j);
        pj *= outShape[j];
      }
    }
    i++;
    j++;
    const prefix = (g: number[], shape: readonly number[]) => {
      const out: number[] = [];
      let p = 1;
      for (const k of g) out.push((p *= shape[k]));
      return out;
    };
    const bi = prefix(gi, inShape), bj = prefix(gj, outShape);
    const cuts = [...new Set([1, ...bi, ...bj])].sort((a, c) => a - c);
    const chain = cuts.every((c, k) => k === 0 || c % cuts[k - 1] === 0);
    if (!chain) {
      gi.forEach((k) => inDims[k].push(fresh(inShape[k], false)));
      gj.forEach((k) => outDims[k].push(fresh(outShape[k], false)));
      continue;
    }
    const ids = cuts.slice(1).map((c, k) => fresh(c / cuts[k], true));
    const assign = (g: number[], bounds: number[], dims: number[][]) => {
      let lo = 1;
      g.forEach((k, n) => {
        const hi = bounds[n];
        cuts.slice(1).forEach((c, m) => {
          if (cuts[m] >= lo && c <= hi) dims[k].push(ids[m]);
        });
        lo = hi;
      });
    };
    assign(gi, bi, inDims);
    assign(gj, bj, outDims);
    // size-1 dims inside a group get no factor from the cuts; give them a private one
    gi.forEach((k) => inDims[k].length === 0 && inDims[k].push(fresh(1, false)));
    gj.forEach((k) => outDims[k].length === 0 && outDims[k].push(fresh(1, false)));
  }
  return { factors, inDims, outDims, shared };
}

/** Dimensions a slice-like op leaves whole share a factor; the others get private factors. */
function keepWhole(b: Builder, x: readonly number[], out: readonly number[], whole: (i: number) => boolean): [number[][], number[][]] {
  const opDims: number[][] = [], outDims: number[][] = [];
  x.forEach((d, i) => {
    if (whole(i) && out[i] === d) {
      const f = b.f(d);
      opDims.push([f]);
      outDims.push([f]);
    } else {
      opDims.push([b.f(d)]);
      outDims.push([b.f(out[i])]);
    }
  });
  return [opDims, outDims];
}

function collective(name: string): ShardingRule<any> {
  return () => {
    throw new ShardingError(`${name} is a collective: it only appears in per-device programs made by the partitioner, not in the global programs that sharding propagation reads; propagate the sharding of the program before partitioning it`);
  };
}

/** The sharding rule of every primitive. */
export const shardingRules: { [P in Primitive]: ShardingRule<P> } = {
  neg: elementwise(() => [[0]]), abs: unary, sign: unary, floor: unary, ceil: unary, round: unary, is_finite: unary,
  exp: unary, log: unary, log1p: unary, expm1: unary, tanh: unary, logistic: unary, sin: unary, cos: unary,
  sqrt: unary, rsqrt: unary, erf: unary, not: unary,
  add: linearAll, sub: linearAll, mul: linearEach, div: elementwise(() => [[0]]), rem: binary, pow: binary,
  max: binary, min: binary, atan2: binary, and: binary, or: binary, xor: binary, shift_left: binary,
  shift_right_logical: binary, shift_right_arithmetic: binary,
  eq: binary, ne: binary, lt: binary, le: binary, gt: binary, ge: binary,
  select: elementwise(() => [[1, 2]]),
  convert_element_type: elementwise((e) => (isFloat(e.inputs[0].dtype) && isFloat(e.outputs[0].dtype) ? [[0]] : [])),
  stop_gradient: elementwise(() => [[0]]),
  // The constraint is an identity; its result's sharding is the user's and is pinned by propagate.
  sharding_constraint: elementwise(() => [[0]]),

  broadcast_in_dim: (e) => {
    const b = new Builder();
    const x = e.inputs[0].shape;
    const out = e.params.shape;
    const outDims: number[][] = out.map(() => []);
    const opDims = x.map((d, i) => {
      const j = e.params.broadcastDimensions[i];
      if (d === out[j]) {
        const f = b.f(d);
        outDims[j].push(f);
        return [f];
      }
      return [b.f(d)];
    });
    out.forEach((d, j) => outDims[j].length === 0 && outDims[j].push(b.f(d)));
    return b.rule([opDims], [outDims], [[0]]);
  },
  reshape: (e) => {
    const b = new Builder();
    const r = reshapeFactors(e.inputs[0].shape, e.params.newSizes);
    r.factors.forEach((s) => b.f(s));
    return b.rule([r.inDims], [r.outDims], [[0]]);
  },
  transpose: (e) => {
    const b = new Builder();
    const opDims = b.own(e.inputs[0].shape);
    return b.rule([opDims], [e.params.permutation.map((p) => opDims[p])], [[0]]);
  },
  slice: (e) => {
    const b = new Builder();
    const { startIndices: s, strides } = e.params;
    const [opDims, outDims] = keepWhole(b, e.inputs[0].shape, e.outputs[0].shape, (i) => s[i] === 0 && (strides === null || strides[i] === 1));
    return b.rule([opDims], [outDims], [[0]]);
  },
  pad: (e) => {
    const b = new Builder();
    const { lo, hi, interior } = e.params;
    const [opDims, outDims] = keepWhole(b, e.inputs[0].shape, e.outputs[0].shape, (i) => lo[i] === 0 && hi[i] === 0 && interior[i] === 0);
    return b.rule([opDims], [outDims], e.params.padValue === 0 ? [[0]] : []);
  },
  concatenate: (e) => {
    const b = new Builder();
    const out = e.outputs[0].shape;
    const dim = e.params.dimension;
    const fs = out.map((d, i) => (i === dim ? -1 : b.f(d)));
    const dimsOf = (a: AbstractValue) => a.shape.map((d, i) => [i === dim ? b.f(d) : fs[i]]);
    return b.rule(e.inputs.map(dimsOf), e.outputs.map(dimsOf), [e.inputs.map((_, i) => i)]);
  },
  dynamic_slice: (e) => {
    const b = new Builder();
    const x = e.inputs[0].shape;
    const [opDims, outDims] = keepWhole(b, x, e.outputs[0].shape, (i) => e.params.sliceSizes[i] === x[i]);
    return b.rule([opDims, ...e.inputs.slice(1).map(() => [])], [outDims], [[0]]);
  },
  dynamic_update_slice: (e) => {
    const b = new Builder();
    const x = e.inputs[0].shape;
    const u = e.inputs[1].shape;
    const opDims: number[][] = [], updDims: number[][] = [], outDims: number[][] = [];
    x.forEach((d, i) => {
      if (u[i] === d) {
        const f = b.f(d);
        opDims.push([f]);
        updDims.push([f]);
        outDims.push([f]);
      } else {
        opDims.push([b.f(d)]);
        updDims.push([b.f(u[i])]);
        outDims.push([b.f(d)]);
      }
    });
    return b.rule([opDims, updDims, ...e.inputs.slice(2).map(() => [])], [outDims], [[0, 1]]);
  },

  reduce_sum: reduction('sum'),
  reduce_max: reduction('reduce'),
  reduce_min: reduction('reduce'),
  argmax: (e) => {
    const b = new Builder();
    const opDims: number[][] = [], outDims: number[][] = [];
    e.inputs[0].shape.forEach((d, i) => {
      const f = b.f(d, i === e.params.axis ? 'reduce' : 'pass');
      opDims.push([f]);
      if (i !== e.params.axis) outDims.push([f]);
    });
    return b.rule([opDims], [outDims]);
  },
  cumsum: elementwise(() => [[0]]),

  dot_general: (e) => {
    const b = new Builder();
    const [ls, rs] = [e.inputs[0].shape, e.inputs[1].shape];
    const { lhsContracting: lc, rhsContracting: rc, lhsBatch: lb, rhsBatch: rb } = e.params;
    const lhs: number[][] = ls.map(() => []), rhs: number[][] = rs.map(() => []);
    const out: number[][] = [];
    lb.forEach((d, k) => {
      const f = b.f(ls[d]);
      lhs[d].push(f);
      rhs[rb[k]].push(f);
      out.push([f]);
    });
    ls.forEach((d, i) => {
      if (lc.includes(i) || lb.includes(i)) return;
      const f = b.f(d);
      lhs[i].push(f);
      out.push([f]);
    });
    rs.forEach((d, i) => {
      if (rc.includes(i) || rb.includes(i)) return;
      const f = b.f(d);
      rhs[i].push(f);
      out.push([f]);
    });
    lc.forEach((d, k) => {
      const f = b.f(ls[d], 'sum');
      lhs[d].push(f);
      rhs[rc[k]].push(f);
    });
    return b.rule([lhs, rhs], [out], [[0], [1]]);
  },
  gather: (e) => {
    // operand [B…, M…, N, R…], indices [B…, I…] → out [B…, M…, I…, R…]
    const b = new Builder();
    const { axis, batchDims } = e.params;
    const x = e.inputs[0].shape, idx = e.inputs[1].shape;
    const op: number[][] = [], ind: number[][] = [], out: number[][] = [];
    x.forEach((d, i) => {
      if (i < batchDims) {
        const f = b.f(d);
        op.push([f]);
        ind.push([f]);
        out.push([f]);
      } else if (i < axis) {
        const f = b.f(d);
        op.push([f]);
        out.push([f]);
      } else if (i === axis) {
        op.push([b.f(d, 'sum')]);
        idx.slice(batchDims).forEach((n) => {
          const f = b.f(n);
          ind.push([f]);
          out.push([f]);
        });
      } else {
        const f = b.f(d);
        op.push([f]);
        out.push([f]);
      }
    });
    return b.rule([op, ind], [out], [[0]]);
  },
  // ragged_dot: lhs [M, K], rhs [G, K, N], sizes [G] → [M, N]. The rows and the groups index one
  // run-time grouping, so they are never split (opaque); K is contracted, N passes through.
  // Batched (lhs [B, M, K], sizes [B, G]): B passes to the result (each batch row its own grouping).
  ragged_dot: (e) => {
    const b = new Builder();
    const batched = e.inputs[0].shape.length === 3;
    const [M, K] = e.inputs[0].shape.slice(-2);
    const G = e.inputs[1].shape[0];
    const N = e.outputs[0].shape[e.outputs[0].shape.length - 1];
    const bt = batched ? [[b.f(e.inputs[0].shape[0])]] : [];
    const m = b.f(M, 'opaque'), g = b.f(G, 'opaque'), k = b.f(K, 'sum'), n = b.f(N);
    const rhs = e.params.transposeRhs ? [[g], [n], [k]] : [[g], [k], [n]];
    return b.rule([[...bt, [m], [k]], rhs, [...bt, [g]]], [[...bt, [m], [n]]], [[0], [1]]);
  },
  // ragged_contract: lhs [M, K], rhs [M, N], sizes [G] → [G, K, N]; K and N pass through.
  // Batched: B is summed over (a split batch gives pending sums, e.g. the gradient all-reduce).
  ragged_contract: (e) => {
    const b = new Builder();
    const batched = e.inputs[0].shape.length === 3;
    const [M, K] = e.inputs[0].shape.slice(-2);
    const N = e.inputs[1].shape[e.inputs[1].shape.length - 1];
    const G = e.outputs[0].shape[0];
    const bt = batched ? [[b.f(e.inputs[0].shape[0], 'sum')]] : [];
    const m = b.f(M, 'opaque'), g = b.f(G, 'opaque'), k = b.f(K), n = b.f(N);
    return b.rule([[...bt, [m], [k]], [...bt, [m], [n]], [...bt, [g]]], [[[g], [k], [n]]], [[0], [1]]);
  },
  scatter_add: (e) => {
    // operand [B…, M…, N, R…], indices [B…, I…], updates [B…, M…, I…, R…] → like operand
    const b = new Builder();
    const { axis, batchDims } = e.params;
    const x = e.inputs[0].shape, idx = e.inputs[1].shape;
    const op: number[][] = [], ind: number[][] = [], upd: number[][] = [];
    x.forEach((d, i) => {
      if (i < batchDims) {
        const f = b.f(d);
        op.push([f]);
        ind.push([f]);
        upd.push([f]);
      } else if (i === axis) {
        op.push([b.f(d)]);
        idx.slice(batchDims).forEach((n) => {
          const f = b.f(n, 'sum');
          ind.push([f]);
          upd.push([f]);
        });
      } else {
        const f = b.f(d);
        op.push([f]);
        upd.push([f]);
      }
    });
    return b.rule([op, ind, upd], [op], [[0, 2]]);
  },
  top_k: (e) => {
    const b = new Builder();
    const x = e.inputs[0].shape;
    const lead = x.slice(0, -1).map((d) => [b.f(d)]);
    const last = b.f(x[x.length - 1], 'reduce');
    const k = b.f(e.params.k, 'opaque');
    const out = [...lead, [k]];
    return b.rule([[...lead, [last]]], [out, out]);
  },
  iota: (e) => {
    const b = new Builder();
    return b.rule([], [b.own(e.params.shape)]);
  },

  remat: (e) => ({ kind: 'call', graph: e.params.graph }),
  custom_vjp_call: (e) => ({ kind: 'call', graph: e.params.graph }),

  all_reduce: collective('all_reduce'),
  all_gather: collective('all_gather'),
  reduce_scatter: collective('reduce_scatter'),
  all_to_all: collective('all_to_all'),
  collective_permute: collective('collective_permute'),
  axis_index: collective('axis_index'),
};

/** The sharding rule of one equation. */
export function ruleFor<P extends Primitive>(prim: P, inputs: readonly AbstractValue[], outputs: readonly AbstractValue[], params: PrimitiveParams[P]): OpShardingRule {
  return (shardingRules[prim] as ShardingRule<P>)({ inputs, outputs, params });
}
