/**
 * The SPMD partitioner's per-primitive rules, in one exhaustive table keyed by primitive (the
 * compiler checks every primitive has one). A rule receives one equation of the global program
 * and the partitioning context, reshards its operands to the layouts it needs (usually derived
 * from the propagated sharding of its result), emits the per-device computation with `lax`
 * (plus collectives where the operation itself needs them: max/min/argmax/top_k/cumsum along a
 * split dimension), and returns each result's per-device value with the layout it actually has.
 * Consumers reshard lazily, so a rule may return a layout other than the propagated one.
 *
 * Every per-device computation is the same program on every device: device-dependent behaviour
 * (shard offsets, padding masks) comes from `axis_index`. See docs/partitioner.md for the rules
 * in prose, the pending-sum (partial) conventions and the cost model.
 */

import { Array } from '../../core/array.js';
import type { DType } from '../../core/dtype.js';
import { Literal, type Atom, type Eqn, type Graph } from '../../core/ir.js';
import * as lax from '../../core/lax.js';
import type { Primitive } from '../../core/primitives.js';
import { bind } from '../../core/trace.js';
import { ruleFor } from '../sharding/rules.js';
import { shardingToString, type MeshShape, type Sharding } from '../sharding/sharding.js';
import { PartitionError, reductionIdentity, reshardCost, type MeshInfo, type PValue, type SpmdEmitter } from './reshard.js';

/** What a rule sees of the partitioning in progress. */
export interface PartitionContext {
  readonly mesh: MeshShape;
  readonly info: MeshInfo;
  readonly em: SpmdEmitter;
  /** The per-device value of an operand (literals are replicated scalars). */
  val(a: Atom): PValue;
  /** The propagated sharding of output `i` of `e` (dims padded to the rank). */
  out(e: Eqn, i: number): Sharding;
  /** Partitions a sub-graph inline on the given per-device arguments. */
  call(g: Graph, args: PValue[], where: string): PValue[];
}

/** A primitive's partitioning rule: one global equation → its per-device results. */
export type PartitionRule<P extends Primitive> = (e: Eqn<P>, ctx: PartitionContext) => PValue[];

// ---------------------------------------------------------------------------------------------
// helpers

const NONE: string[] = [];

/** The axes of `axes` up to (not including) the first one in `taken`. */
function prefixFree(axes: readonly string[], taken: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const a of axes) {
    if (taken.has(a)) break;
    out.push(a);
  }
  return out;
}

/** Reshards an operand and returns its per-device value. */
function want(ctx: PartitionContext, pv: PValue, dims: readonly (readonly string[])[], partial: Iterable<string> = NONE): PValue {
  return ctx.em.reshard(pv, ctx.info.sharding(dims, partial));
}

/** Unsplit, non-partial. */
function replicatedLike(ctx: PartitionContext, pv: PValue): PValue {
  return want(ctx, pv, pv.shape.map(() => NONE));
}

/** Elementwise ops that map zeros (in every operand) to zero: padding stays zero. */
const ZERO_PRESERVING = new Set<string>([
  'neg', 'abs', 'sign', 'floor', 'ceil', 'round', 'tanh', 'sin', 'sqrt', 'erf', 'expm1', 'log1p',
  'add', 'sub', 'mul', 'max', 'min', 'and', 'or', 'xor', 'shift_left', 'shift_right_logical', 'shift_right_arithmetic',
  'select', 'convert_element_type', 'stop_gradient', 'sharding_constraint',
]);

/**
 * Elementwise rule: every operand resharded to the result's tiling. Pending sums (partial axes of
 * the propagated result) are kept through the op's linear operand groups (add/sub: both
 * operands; mul: one; div: the numerator; select: both branches; neg, float converts,
 * stop_gradient: the operand): for each such axis the group whose operands already carry it is
 * chosen; operands of that group keep it (an operand without it is made a pending sum by keeping
 * it on group rank 0), every other operand is reduced first. Non-linear ops reduce all pending
 * sums before computing.
 */
function elementwise<P extends Primitive>(): PartitionRule<P> {
  return (e, ctx) => {
    const R = ctx.out(e, 0);
    const ins = e.inputs.map((a) => ctx.val(a));
    const shape = e.outputs[0].aval.shape;
    let groups: number[][] = [];
    if (R.partial.length) {
      const rule = ruleFor(e.prim, e.inputs.map((a) => a.aval), e.outputs.map((o) => o.aval), e.params as never);
      groups = rule.kind === 'factors' ? rule.linear : [];
    }
    const partials: string[][] = ins.map(() => []);
    const kept: string[] = [];
    for (const p of R.partial) {
      const carries = (i: number) => ins[i].zero || ins[i].s.partial.includes(p);
      const g = groups.find((gr) => gr.every(carries)) ?? groups.find((gr) => gr.some(carries));
      if (!g) continue;
      kept.push(p);
      for (const i of g) partials[i].push(p);
    }
    const locals = ins.map((pv, i) => (pv.shape.length === shape.length ? want(ctx, pv, R.dims, partials[i]) : replicatedLike(ctx, pv)));
    const y = bind(e.prim, locals.map((l) => l.x), e.params)[0];
    const preserving = ZERO_PRESERVING.has(e.prim);
    const padZero = preserving && locals.every((l) => l.padZero);
    const zero = preserving && e.prim !== 'select' && locals.every((l) => l.zero);
    return [ctx.em.value(y, shape, ctx.info.sharding(R.dims, kept), padZero, zero)];
  };
}

/** Local shape of a global shape under dims. */
function localShape(ctx: PartitionContext, shape: readonly number[], dims: readonly (readonly string[])[]): number[] {
  return ctx.info.localShape(shape, dims);
}

/** Adds a broadcast scalar offset (int32 scalar, converted) to `x`. */
function addOffset(x: Array, off: Array): Array {
  const o = off.dtype === x.dtype ? off : lax.convert(off, x.dtype);
  return lax.add(x, lax.broadcastInDim(o, [...x.shape], []));
}

/** Inserts a size-1 dim at the front. */
function lead1(x: Array): Array {
  return lax.reshape(x, [1, ...x.shape]);
}

// ---------------------------------------------------------------------------------------------
// structural

/** The groups of a reshape: runs of dims (size-1 dims excluded) with equal products on both sides. */
function reshapeGroups(inS: readonly number[], outS: readonly number[]): { ins: number[]; outs: number[] }[] {
  const groups: { ins: number[]; outs: number[] }[] = [];
  let i = 0, j = 0;
  const skip = () => {
    while (i < inS.length && inS[i] === 1) i++;
    while (j < outS.length && outS[j] === 1) j++;
  };
  skip();
  while (i < inS.length && j < outS.length) {
    const g = { ins: [i], outs: [j] };
    let pi = inS[i], pj = outS[j];
    while (pi !== pj) {
      if (pi < pj) {
        i++;
        while (inS[i] === 1) i++;
        g.ins.push(i);
        pi *= inS[i];
      } else {
        j++;
        while (outS[j] === 1) j++;
        g.outs.push(j);
        pj *= outS[j];
      }
    }
    i++;
    j++;
    groups.push(g);
    skip();
  }
  return groups;
}

/**
 * Distributes mesh axes (major → minor) over consecutive dims of the given sizes so that the
 * tiles are contiguous in the flattened group: a dim takes axes while their product divides
 * what is left of it, and the next dim starts only when the current one is fully split.
 * Returns the per-dim axes and how many axes were placed.
 */
function assignContiguous(ctx: PartitionContext, sizes: readonly number[], axes: readonly string[]): { dims: string[][]; used: number } {
  const dims: string[][] = sizes.map(() => []);
  let t = 0;
  let rem = sizes[0];
  let used = 0;
  for (const a of axes) {
    while (rem === 1 && t < sizes.length - 1) rem = sizes[++t];
    const k = ctx.info.size(a);
    if (rem % k !== 0) break;
    dims[t].push(a);
    rem /= k;
    used++;
  }
  return { dims, used };
}

const reshapeRule: PartitionRule<'reshape'> = (e, ctx) => {
  const x = ctx.val(e.inputs[0]);
  const R = ctx.out(e, 0);
  const inS = x.shape, outS = e.params.newSizes;
  const inDims: string[][] = inS.map(() => []);
  const outDims: string[][] = outS.map(() => []);
  if (inS.every((d) => d > 0) && outS.every((d) => d > 0)) {
    for (const g of reshapeGroups(inS, outS)) {
      if (g.ins.length === 1 && g.outs.length === 1) {
        inDims[g.ins[0]] = [...R.dims[g.outs[0]]];
        outDims[g.outs[0]] = [...R.dims[g.outs[0]]];
        continue;
      }
      const axes = g.outs.flatMap((j) => R.dims[j]);
      const oSizes = g.outs.map((j) => outS[j]), iSizes = g.ins.map((k) => inS[k]);
      const n = Math.min(assignContiguous(ctx, oSizes, axes).used, assignContiguous(ctx, iSizes, axes).used);
      const keep = axes.slice(0, n);
      assignContiguous(ctx, oSizes, keep).dims.forEach((d, k) => (outDims[g.outs[k]] = d));
      assignContiguous(ctx, iSizes, keep).dims.forEach((d, k) => (inDims[g.ins[k]] = d));
    }
  }
  const xt = want(ctx, x, inDims, R.partial);
  const y = lax.reshape(xt.x, localShape(ctx, outS, outDims));
  return [ctx.em.value(y, outS, ctx.info.sharding(outDims, R.partial), xt.padZero, xt.zero)];
};

const transposeRule: PartitionRule<'transpose'> = (e, ctx) => {
  const x = ctx.val(e.inputs[0]);
  const R = ctx.out(e, 0);
  const perm = e.params.permutation;
  const inDims: string[][] = x.shape.map(() => []);
  perm.forEach((p, i) => (inDims[p] = [...R.dims[i]]));
  const xt = want(ctx, x, inDims, R.partial);
  const y = lax.transpose(xt.x, perm);
  return [ctx.em.value(y, e.outputs[0].aval.shape, ctx.info.sharding(R.dims, R.partial), xt.padZero, xt.zero)];
};

const broadcastRule: PartitionRule<'broadcast_in_dim'> = (e, ctx) => {
  const x = ctx.val(e.inputs[0]);
  const R = ctx.out(e, 0);
  const { shape, broadcastDimensions: bd } = e.params;
  const inDims = x.shape.map((d, i) => (d === shape[bd[i]] ? [...R.dims[bd[i]]] : []));
  const xt = want(ctx, x, inDims, R.partial);
  const outDims = R.dims.map((d, j) => {
    const i = bd.indexOf(j);
    return i >= 0 && x.shape[i] === shape[j] ? inDims[i] : [...d];
  });
  const y = lax.broadcastInDim(xt.x, localShape(ctx, shape, outDims), bd);
  const isZeroLit = e.inputs[0] instanceof Literal && e.inputs[0].value === 0;
  const newPadded = outDims.some((_, j) => !(bd.includes(j) && x.shape[bd.indexOf(j)] === shape[j]) && ctx.info.padded(shape, outDims, j));
  return [ctx.em.value(y, shape, ctx.info.sharding(outDims, R.partial), isZeroLit || (xt.padZero && !newPadded), isZeroLit || xt.zero)];
};

/**
 * Ops that change some dims (slice, pad, dynamic_slice, concatenate): dims they leave whole keep
 * the result's tiling; the dims they change are unsplit first (an all-gather when they were
 * split — correct for any offsets and strides; the result is resharded afterwards if needed).
 */
function wholeDims(R: Sharding, whole: (i: number) => boolean): string[][] {
  return R.dims.map((d, i) => (whole(i) ? [...d] : []));
}

const sliceRule: PartitionRule<'slice'> = (e, ctx) => {
  const x = ctx.val(e.inputs[0]);
  const R = ctx.out(e, 0);
  const { startIndices: s, limitIndices: l, strides } = e.params;
  const whole = (i: number) => s[i] === 0 && l[i] === x.shape[i] && (strides === null || strides[i] === 1);
  const dims = wholeDims(R, whole);
  const xt = want(ctx, x, dims, R.partial);
  const loc = xt.x.shape;
  const y = lax.slice(xt.x, loc.map((_, i) => (whole(i) ? 0 : s[i])), loc.map((d, i) => (whole(i) ? d : l[i])), strides && strides.map((st, i) => (whole(i) ? 1 : st)));
  return [ctx.em.value(y, e.outputs[0].aval.shape, ctx.info.sharding(dims, R.partial), xt.padZero, xt.zero)];
};

const padRule: PartitionRule<'pad'> = (e, ctx) => {
  const x = ctx.val(e.inputs[0]);
  const R = ctx.out(e, 0);
  const { lo, hi, interior, padValue } = e.params;
  const whole = (i: number) => lo[i] === 0 && hi[i] === 0 && interior[i] === 0;
  const dims = wholeDims(R, whole);
  const partial = padValue === 0 ? R.partial : NONE;
  const xt = want(ctx, x, dims, partial);
  const y = lax.pad(xt.x, padValue, lo, hi, interior);
  return [ctx.em.value(y, e.outputs[0].aval.shape, ctx.info.sharding(dims, partial), xt.padZero && padValue === 0, xt.zero && padValue === 0)];
};

const concatenateRule: PartitionRule<'concatenate'> = (e, ctx) => {
  const R = ctx.out(e, 0);
  const dim = e.params.dimension;
  const dims = wholeDims(R, (i) => i !== dim);
  const xs = e.inputs.map((a) => want(ctx, ctx.val(a), dims, R.partial));
  const y = lax.concatenate(xs.map((v) => v.x), dim);
  return [ctx.em.value(y, e.outputs[0].aval.shape, ctx.info.sharding(dims, R.partial), xs.every((v) => v.padZero), xs.every((v) => v.zero))];
};

/** Start indices as replicated scalars, with literal 0 for the dims in `zeroed`. */
function starts(ctx: PartitionContext, atoms: readonly Atom[], zeroed: (i: number) => boolean): Array[] {
  return atoms.map((a, i) => (zeroed(i) ? Array.scalar(0, a.aval.dtype) : replicatedLike(ctx, ctx.val(a)).x));
}

const dynamicSliceRule: PartitionRule<'dynamic_slice'> = (e, ctx) => {
  const x = ctx.val(e.inputs[0]);
  const R = ctx.out(e, 0);
  const sizes = e.params.sliceSizes;
  // a slice as large as the dim always starts at 0 (starts are clamped)
  const whole = (i: number) => sizes[i] === x.shape[i];
  const dims = wholeDims(R, whole);
  const xt = want(ctx, x, dims, R.partial);
  const st = starts(ctx, e.inputs.slice(1), whole);
  const y = lax.dynamicSlice(xt.x, st, xt.x.shape.map((d, i) => (whole(i) ? d : sizes[i])));
  return [ctx.em.value(y, e.outputs[0].aval.shape, ctx.info.sharding(dims, R.partial), xt.padZero, xt.zero)];
};

const dynamicUpdateSliceRule: PartitionRule<'dynamic_update_slice'> = (e, ctx) => {
  const x = ctx.val(e.inputs[0]);
  const u = ctx.val(e.inputs[1]);
  const R = ctx.out(e, 0);
  const whole = (i: number) => u.shape[i] === x.shape[i];
  const dims = wholeDims(R, whole);
  const xt = want(ctx, x, dims, R.partial);
  const ut = want(ctx, u, dims, R.partial);
  const st = starts(ctx, e.inputs.slice(2), whole);
  const y = lax.dynamicUpdateSlice(xt.x, ut.x, st);
  return [ctx.em.value(y, x.shape, ctx.info.sharding(dims, R.partial), xt.padZero && ut.padZero, xt.zero && ut.zero)];
};

// ---------------------------------------------------------------------------------------------
// reductions and scans

/**
 * The layout an operand is reduced in: kept dims take the result's tiling; each reduced dim keeps
 * its current axes (up to the first one the result tiles with), so no data moves for it.
 */
function reduceLayout(R: Sharding, x: PValue, reduced: readonly number[]): { dims: string[][]; reducedAxes: string[] } {
  const taken = new Set<string>(R.dims.flat());
  const dims: string[][] = [];
  const reducedAxes: string[] = [];
  let k = 0;
  x.shape.forEach((_, i) => {
    if (reduced.includes(i)) {
      const ax = prefixFree(x.s.dims[i], taken);
      ax.forEach((a) => taken.add(a));
      reducedAxes.push(...ax);
      dims.push(ax);
    } else dims.push([...R.dims[k++]]);
  });
  return { dims, reducedAxes };
}

/** reduce_sum: local sum (padding masked with 0), the result is a pending sum over the reduced dims' axes. */
const reduceSumRule: PartitionRule<'reduce_sum'> = (e, ctx) => {
  const x = ctx.val(e.inputs[0]);
  const R = ctx.out(e, 0);
  const { dims, reducedAxes } = reduceLayout(R, x, e.params.axes);
  const partial = R.partial.filter((a) => !reducedAxes.includes(a));
  const xt = ctx.em.maskPadding(want(ctx, x, dims, partial), e.params.axes, 0);
  const y = lax.reduceSum(xt.x, e.params.axes);
  return [ctx.em.value(y, e.outputs[0].aval.shape, ctx.info.sharding(R.dims, [...partial, ...reducedAxes]), xt.padZero, xt.zero)];
};

/** reduce_max/min: local reduction (padding masked with the identity), then all_reduce(max/min) over the reduced dims' axes. */
function reduceMaxMin(op: 'max' | 'min'): PartitionRule<'reduce_max' | 'reduce_min'> {
  return (e, ctx) => {
    const x = ctx.val(e.inputs[0]);
    const R = ctx.out(e, 0);
    const { dims, reducedAxes } = reduceLayout(R, x, e.params.axes);
    const xt = ctx.em.maskPadding(want(ctx, x, dims), e.params.axes, reductionIdentity(op, x.x.dtype));
    let y = op === 'max' ? lax.reduceMax(xt.x, e.params.axes) : lax.reduceMin(xt.x, e.params.axes);
    if (!ctx.em.trivial(reducedAxes)) y = lax.allReduce(y, { ...ctx.em.group(reducedAxes), op });
    return [ctx.em.value(y, e.outputs[0].aval.shape, ctx.info.sharding(R.dims), false)];
  };
}

/**
 * argmax along a split dim: local max and argmax (padding masked with the max identity; the
 * index offset by the shard start), then every device gathers the group's (max, index) pairs and
 * takes the index of the first maximal value — the lowest rank wins ties, which is the lowest
 * global index, as the primitive requires.
 */
const argmaxRule: PartitionRule<'argmax'> = (e, ctx) => {
  const x = ctx.val(e.inputs[0]);
  const R = ctx.out(e, 0);
  const { axis, indexDtype } = e.params;
  const { dims, reducedAxes } = reduceLayout(R, x, [axis]);
  const outShape = e.outputs[0].aval.shape;
  if (ctx.em.trivial(reducedAxes)) {
    const xt = want(ctx, x, dims);
    return [ctx.em.value(lax.argmax(xt.x, axis, indexDtype), outShape, ctx.info.sharding(R.dims), false)];
  }
  const xt = ctx.em.maskPadding(want(ctx, x, dims), [axis], reductionIdentity('max', x.x.dtype));
  const c = xt.x.shape[axis];
  const v = lax.reduceMax(xt.x, [axis]);
  const i = addOffset(lax.argmax(xt.x, axis, indexDtype), ctx.em.offset(reducedAxes, c));
  const g = ctx.em.group(reducedAxes);
  const vAll = lax.allGather(lead1(v), { ...g, dimension: 0 });
  const iAll = lax.allGather(lead1(i), { ...g, dimension: 0 });
  const best = lax.argmax(vAll, 0, 'int32');
  const sel = lax.eq(lax.iota('int32', [...iAll.shape], 0), lax.broadcastInDim(best, [...iAll.shape], best.shape.map((_, k) => k + 1)));
  const y = lax.reduceSum(lax.select(sel, iAll, lax.full(0, indexDtype, [...iAll.shape])), [0]);
  return [ctx.em.value(y, outShape, ctx.info.sharding(R.dims), false)];
};

/**
 * cumsum along a split dim: local cumsum, plus the sum of the totals of the shards before this
 * one (after it, for reverse), from an all_gather of the per-shard totals. Linear: pending sums
 * pass through.
 */
const cumsumRule: PartitionRule<'cumsum'> = (e, ctx) => {
  const x = ctx.val(e.inputs[0]);
  const R = ctx.out(e, 0);
  const { axis, reverse } = e.params;
  const xt0 = want(ctx, x, R.dims, R.partial);
  const axes = R.dims[axis];
  if (ctx.em.trivial(axes)) return [ctx.em.value(lax.cumsum(xt0.x, axis, reverse), x.shape, xt0.s, xt0.padZero, xt0.zero)];
  const xt = ctx.em.maskPadding(xt0, [axis], 0);
  const local = lax.cumsum(xt.x, axis, reverse);
  const tot = lax.reduceSum(xt.x, [axis]);
  const all = lax.allGather(lead1(tot), { ...ctx.em.group(axes), dimension: 0 });
  const rank = lax.broadcastInDim(ctx.em.axisIndex(axes), [...all.shape], []);
  const before = (reverse ? lax.gt : lax.lt)(lax.iota('int32', [...all.shape], 0), rank);
  const off = lax.reduceSum(lax.select(before, all, lax.full(0, all.dtype, [...all.shape])), [0]);
  const keptDims = local.shape.map((_, k) => k).filter((k) => k !== axis);
  const y = lax.add(local, lax.broadcastInDim(off, [...local.shape], keptDims));
  return [ctx.em.value(y, x.shape, xt.s, false)];
};

// ---------------------------------------------------------------------------------------------
// dot_general

/**
 * dot_general, cost-based. Candidate result tilings: the propagated one and the ones the lhs or
 * the rhs imply; candidate contraction splits per contracting pair: the lhs's axes, the rhs's
 * axes, or none. Each combination fixes the operand layouts (batch and free dims from the result
 * tiling, contracting dims from the choice) and the result (pending sum over the contraction
 * axes); its cost is the bytes moved to reshard both operands plus the result to its propagated
 * sharding (so a pending sum the consumer wants tiled is priced as a reduce-scatter, one it
 * wants replicated as an all-reduce, and a non-contracting conflict as an all-gather of one
 * operand). The cheapest wins; ties go to the propagated tiling and to splitting the
 * contraction like the lhs. Padded contracting dims are masked with 0 on both operands.
 */
const dotGeneralRule: PartitionRule<'dot_general'> = (e, ctx) => {
  const lhs = ctx.val(e.inputs[0]);
  const rhs = ctx.val(e.inputs[1]);
  const R = ctx.out(e, 0);
  const { lhsContracting: lc, rhsContracting: rc, lhsBatch: lb, rhsBatch: rb } = e.params;
  const lFree = lhs.shape.map((_, i) => i).filter((i) => !lc.includes(i) && !lb.includes(i));
  const rFree = rhs.shape.map((_, i) => i).filter((i) => !rc.includes(i) && !rb.includes(i));
  const nb = lb.length;
  const outShape = e.outputs[0].aval.shape;
  const outDtype = e.outputs[0].aval.dtype;
  const info = ctx.info;

  /** Per output dim: where its tiling comes from in each operand. */
  const lhsDimOf = (o: number) => (o < nb ? lb[o] : o < nb + lFree.length ? lFree[o - nb] : -1);
  const rhsDimOf = (o: number) => (o < nb ? rb[o] : o >= nb + lFree.length ? rFree[o - nb - lFree.length] : -1);
  const implied = (first: 'l' | 'r'): string[][] => {
    const order = outShape.map((_, o) => o);
    if (first === 'r') order.sort((a, b) => Number(rhsDimOf(b) >= 0) - Number(rhsDimOf(a) >= 0));
    const taken = new Set<string>();
    const T: string[][] = outShape.map(() => []);
    for (const o of order) {
      const li = lhsDimOf(o), ri = rhsDimOf(o);
      const src = first === 'l' ? (li >= 0 ? lhs.s.dims[li] : rhs.s.dims[ri]) : ri >= 0 ? rhs.s.dims[ri] : lhs.s.dims[li];
      T[o] = prefixFree(src, taken);
      T[o].forEach((a) => taken.add(a));
    }
    return T;
  };
  const key = (T: string[][]) => T.map((d) => d.join('+')).join(',');
  const tilings: string[][][] = [];
  for (const T of [R.dims.map((d) => [...d]), implied('l'), implied('r')]) if (!tilings.some((t) => key(t) === key(T))) tilings.push(T);

  const cOptions = lc.map((d, m) => {
    const opts: string[][] = [];
    const add = (a: string[]) => !opts.some((o) => o.join() === a.join()) && opts.push(a);
    add([...lhs.s.dims[d]]);
    if (lc.length <= 3) add([...rhs.s.dims[rc[m]]]);
    add([]);
    return opts;
  });
  const combos: string[][][] = [[]];
  for (const opts of cOptions) {
    const next: string[][][] = [];
    for (const c of combos) for (const o of opts) next.push([...c, o]);
    combos.splice(0, combos.length, ...next);
  }

  interface Plan { L: Sharding; Rr: Sharding; res: Sharding; cost: number }
  let best: Plan | null = null;
  for (const T of tilings) {
    for (const C of combos) {
      const all = [...T.flat(), ...C.flat()];
      if (new Set(all).size !== all.length) continue;
      const used = new Set(all);
      const lp = lhs.s.partial.filter((a) => !used.has(a));
      lp.forEach((a) => used.add(a));
      const rp = rhs.s.partial.filter((a) => !used.has(a));
      const lDims: string[][] = lhs.shape.map(() => []);
      const rDims: string[][] = rhs.shape.map(() => []);
      T.forEach((axes, o) => {
        const li = lhsDimOf(o), ri = rhsDimOf(o);
        if (li >= 0) lDims[li] = axes;
        if (ri >= 0) rDims[ri] = axes;
      });
      C.forEach((axes, m) => {
        lDims[lc[m]] = axes;
        rDims[rc[m]] = axes;
      });
      const L = info.sharding(lDims, lp), Rr = info.sharding(rDims, rp);
      const res = info.sharding(T, [...C.flat(), ...lp, ...rp]);
      const cost = reshardCost(info, lhs.shape, lhs.x.dtype, lhs.s, L) + reshardCost(info, rhs.shape, rhs.x.dtype, rhs.s, Rr) + reshardCost(info, outShape, outDtype, res, R);
      if (!best || cost < best.cost) best = { L, Rr, res, cost };
    }
  }
  if (!best) throw new PartitionError(`internal: no layout for dot_general ${shardingToString(lhs.s)} × ${shardingToString(rhs.s)} → ${shardingToString(R)}`);
  const lt = ctx.em.maskPadding(ctx.em.reshard(lhs, best.L), lc, 0);
  const rt = ctx.em.maskPadding(ctx.em.reshard(rhs, best.Rr), rc, 0);
  const y = bind('dot_general', [lt.x, rt.x], e.params)[0];
  return [ctx.em.value(y, outShape, best.res, false)];
};

// ---------------------------------------------------------------------------------------------
// gather / scatter_add / top_k / iota

/**
 * gather (operand [B…, M…, N, R…], indices [B…, I…] → [B…, M…, I…, R…]). Batch, M, R and index
 * dims take the result's tiling. When the gathered axis N is split (an embedding table split on
 * vocab), each device gathers with indices shifted by its shard start: indices outside its shard
 * read 0 (the primitive's out-of-range rule; padding rows masked to 0), so the result is a
 * pending sum over N's axes.
 */
const gatherRule: PartitionRule<'gather'> = (e, ctx) => {
  const x = ctx.val(e.inputs[0]);
  const idx = ctx.val(e.inputs[1]);
  const R = ctx.out(e, 0);
  const { axis, batchDims: bd } = e.params;
  const nI = idx.shape.length - bd;
  const outShape = e.outputs[0].aval.shape;
  const layout = (T: readonly (readonly string[])[]) => {
    const xDims: string[][] = x.shape.map(() => []);
    const iDims: string[][] = idx.shape.map(() => []);
    T.forEach((axes, o) => {
      if (o < bd) {
        xDims[o] = [...axes];
        iDims[o] = [...axes];
      } else if (o < axis) xDims[o] = [...axes];
      else if (o < axis + nI) iDims[bd + o - axis] = [...axes];
      else xDims[o - nI + 1] = [...axes];
    });
    const nAxes = prefixFree(x.s.dims[axis], new Set(T.flat()));
    xDims[axis] = nAxes;
    const partial = R.partial.filter((a) => !nAxes.includes(a));
    const X = ctx.info.sharding(xDims, partial), I = ctx.info.sharding(iDims);
    const res = ctx.info.sharding(T, [...partial, ...nAxes]);
    const cost = reshardCost(ctx.info, x.shape, x.x.dtype, x.s, X) + reshardCost(ctx.info, idx.shape, 'int32', idx.s, I) + reshardCost(ctx.info, outShape, x.x.dtype, res, R);
    return { X, I, res, nAxes, cost };
  };
  // the result's tiling, or the same without the axes that split the table's gathered dim (keep
  // the table where it is and pay a reduce-scatter of the result instead of moving the table)
  const tableAxes = new Set(x.s.dims[axis]);
  const a = layout(R.dims);
  const b = layout(R.dims.map((d) => prefixFree(d, tableAxes)));
  const best = b.cost < a.cost ? b : a;
  const xt = ctx.em.maskPadding(ctx.em.reshard(x, best.X), [axis], 0);
  const it = ctx.em.reshard(idx, best.I);
  let ix = it.x;
  if (!ctx.em.trivial(best.nAxes)) ix = lax.sub(ix, lax.broadcastInDim(ctx.em.offset(best.nAxes, xt.x.shape[axis]), [...ix.shape], []));
  const y = lax.gather(xt.x, ix, axis, bd);
  return [ctx.em.value(y, outShape, best.res, false)];
};

/**
 * scatter_add (operand [B…, M…, N, R…], indices [B…, I…], updates [B…, M…, I…, R…]). The result
 * takes its propagated tiling (a split N gets indices shifted by the shard start; updates outside
 * the shard are dropped by the primitive); the index dims I keep the updates' current split, and
 * then every device scatters only its updates: the result is a pending sum over those axes, with
 * the operand counted once (kept on group rank 0).
 */
const scatterAddRule: PartitionRule<'scatter_add'> = (e, ctx) => {
  const x = ctx.val(e.inputs[0]);
  const idx = ctx.val(e.inputs[1]);
  const upd = ctx.val(e.inputs[2]);
  const R = ctx.out(e, 0);
  const { axis, batchDims: bd } = e.params;
  const nI = idx.shape.length - bd;
  const taken = new Set<string>(R.dims.flat());
  // the index dims' split, from the updates
  const uAxes: string[][] = [];
  for (let k = 0; k < nI; k++) {
    const ax = prefixFree(upd.s.dims[axis + k], taken);
    ax.forEach((a) => taken.add(a));
    uAxes.push(ax);
  }
  const U = uAxes.flat();
  const joint = R.partial.filter((a) => !U.includes(a));
  const xDims = R.dims.map((d) => [...d]);
  const uDims: string[][] = upd.shape.map(() => []);
  const iDims: string[][] = idx.shape.map(() => []);
  upd.shape.forEach((_, u) => {
    if (u < bd) {
      uDims[u] = [...R.dims[u]];
      iDims[u] = [...R.dims[u]];
    } else if (u < axis) uDims[u] = [...R.dims[u]];
    else if (u < axis + nI) {
      uDims[u] = uAxes[u - axis];
      iDims[bd + u - axis] = uAxes[u - axis];
    } else uDims[u] = [...R.dims[u - nI + 1]];
  });
  const xt = want(ctx, x, xDims, [...joint, ...U]);
  const ut = want(ctx, upd, uDims, joint);
  const it = want(ctx, idx, iDims);
  let ix = it.x;
  const nAxes = R.dims[axis];
  if (!ctx.em.trivial(nAxes)) ix = lax.sub(ix, lax.broadcastInDim(ctx.em.offset(nAxes, xt.x.shape[axis]), [...ix.shape], []));
  const y = lax.scatterAdd(xt.x, ix, ut.x, axis, bd);
  return [ctx.em.value(y, x.shape, ctx.info.sharding(R.dims, [...joint, ...U]), xt.padZero && !ctx.info.padded(x.shape, R.dims, axis))];
};

/**
 * ragged_dot / ragged_contract: the row grouping is a run-time value shared by all rows of a batch
 * row, so rows and groups stay whole on every device; the free feature dims (N of ragged_dot; K
 * and N of ragged_contract) take the result's tiling (no communication), the rest is replicated.
 * Batched (lhs [B, M, K], sizes [B, G]), the batch dim keeps its tiling: ragged_dot is local per
 * batch row; ragged_contract sums over the batch, so a split batch gives a pending sum (padded
 * batch rows get group sizes 0, i.e. no rows).
 */
const raggedDotRule: PartitionRule<'ragged_dot'> = (e, ctx) => {
  const R = ctx.out(e, 0);
  const batched = e.inputs[0].aval.shape.length === 3;
  const bt = batched ? [[...R.dims[0]]] : [];
  const n = prefixFree(R.dims[R.dims.length - 1], new Set(bt.flat()));
  const a = want(ctx, ctx.val(e.inputs[0]), [...bt, [], []]);
  const b = want(ctx, ctx.val(e.inputs[1]), e.params.transposeRhs ? [[], n, []] : [[], [], n]);
  const gs = want(ctx, ctx.val(e.inputs[2]), [...bt, []]);
  return [ctx.em.value(lax.raggedDot(a.x, b.x, gs.x, e.params), e.outputs[0].aval.shape, ctx.info.sharding([...bt, [], n]), false)];
};
const raggedContractRule: PartitionRule<'ragged_contract'> = (e, ctx) => {
  const R = ctx.out(e, 0);
  const batched = e.inputs[0].aval.shape.length === 3;
  const bAxes = batched ? prefixFree(ctx.val(e.inputs[0]).s.dims[0], new Set([...R.dims[1], ...R.dims[2]])) : [];
  const bt = batched ? [bAxes] : [];
  const taken = new Set(bAxes);
  const k = prefixFree(R.dims[1], taken);
  k.forEach((x) => taken.add(x));
  const n = prefixFree(R.dims[2], taken);
  const a = want(ctx, ctx.val(e.inputs[0]), [...bt, [], k]);
  const b = want(ctx, ctx.val(e.inputs[1]), [...bt, [], n]);
  let gs = want(ctx, ctx.val(e.inputs[2]), [...bt, []]);
  if (batched && !ctx.em.trivial(bAxes)) gs = ctx.em.maskPadding(gs, [0], 0);
  return [ctx.em.value(lax.raggedContract(a.x, b.x, gs.x), e.outputs[0].aval.shape, ctx.info.sharding([[], k, n], ctx.em.trivial(bAxes) ? [] : bAxes), false)];
};

/**
 * top_k along a split last dim: local top-k (k' = min(k, shard size), padding masked with the
 * max identity, indices offset to global), all_gather of the group's candidates (rank order =
 * global index order among equal values), then a second top_k and a gather of the indices.
 */
const topKRule: PartitionRule<'top_k'> = (e, ctx) => {
  const x = ctx.val(e.inputs[0]);
  const R = ctx.out(e, 0);
  const n = x.shape.length;
  const k = e.params.k;
  const lead = R.dims.slice(0, n - 1).map((d) => [...d]);
  const lastAxes = prefixFree(x.s.dims[n - 1], new Set(lead.flat()));
  const outShape = e.outputs[0].aval.shape;
  const outS = ctx.info.sharding([...lead, []]);
  if (ctx.em.trivial(lastAxes)) {
    const xt = want(ctx, x, [...lead, lastAxes]);
    const [v, i] = lax.topK(xt.x, k);
    return [ctx.em.value(v, outShape, outS, false), ctx.em.value(i, outShape, outS, false)];
  }
  const xt = ctx.em.maskPadding(want(ctx, x, [...lead, lastAxes]), [n - 1], reductionIdentity('max', x.x.dtype));
  const c = xt.x.shape[n - 1];
  const [v, i] = lax.topK(xt.x, Math.min(k, c));
  const g = ctx.em.group(lastAxes);
  const vAll = lax.allGather(v, { ...g, dimension: n - 1 });
  const iAll = lax.allGather(addOffset(i, ctx.em.offset(lastAxes, c)), { ...g, dimension: n - 1 });
  const [v2, pos] = lax.topK(vAll, k);
  const i2 = lax.gather(iAll, pos, n - 1, n - 1);
  return [ctx.em.value(v2, outShape, outS, false), ctx.em.value(i2, outShape, outS, false)];
};

/** iota: the local iota plus the shard start along `dimension` when that dim is split. */
const iotaRule: PartitionRule<'iota'> = (e, ctx) => {
  const R = ctx.out(e, 0);
  const { dtype, shape, dimension } = e.params;
  const local = localShape(ctx, shape, R.dims);
  let y = lax.iota(dtype as DType, local, dimension);
  const axes = R.dims[dimension];
  if (!ctx.em.trivial(axes)) y = addOffset(y, ctx.em.offset(axes, local[dimension]));
  return [ctx.em.value(y, shape, ctx.info.sharding(R.dims), !ctx.info.hasPadding(shape, R.dims))];
};

// ---------------------------------------------------------------------------------------------
// calls, annotations, collectives

/** remat / custom_vjp_call: the sub-graph is partitioned inline (autodiff has already run). */
function callRule<P extends 'remat' | 'custom_vjp_call'>(): PartitionRule<P> {
  return (e, ctx) => ctx.call((e.params as { graph: Graph }).graph, e.inputs.map((a) => ctx.val(a)), e.prim);
}

const shardingConstraintRule: PartitionRule<'sharding_constraint'> = (e, ctx) => {
  const x = ctx.val(e.inputs[0]);
  const s = e.params.sharding;
  return [ctx.em.reshard(x, ctx.info.sharding(x.shape.map((_, i) => s.dims[i] ?? []), s.partial))];
};

function collectiveRule<P extends Primitive>(name: string): PartitionRule<P> {
  return (e) => {
    throw new PartitionError(
      `${name} is a collective; collectives are not allowed in the global program given to the partitioner (it inserts them itself)${e.source ? ` (at ${e.source})` : ''}. ` +
        'Write the program for one device, annotate shardings, and let jitSharded partition it; run hand-written per-device programs with evalSpmdReference or Mesh.run instead',
    );
  };
}

const ew = elementwise<any>();

/** The partitioning rule of every primitive. */
export const partitionRules: { [P in Primitive]: PartitionRule<P> } = {
  neg: ew, abs: ew, sign: ew, floor: ew, ceil: ew, round: ew, is_finite: ew, exp: ew, log: ew, log1p: ew,
  expm1: ew, tanh: ew, logistic: ew, sin: ew, cos: ew, sqrt: ew, rsqrt: ew, erf: ew, not: ew,
  add: ew, sub: ew, mul: ew, div: ew, rem: ew, pow: ew, max: ew, min: ew, atan2: ew,
  and: ew, or: ew, xor: ew, shift_left: ew, shift_right_logical: ew, shift_right_arithmetic: ew,
  eq: ew, ne: ew, lt: ew, le: ew, gt: ew, ge: ew,
  select: ew, convert_element_type: ew, stop_gradient: ew,
  broadcast_in_dim: broadcastRule,
  reshape: reshapeRule,
  transpose: transposeRule,
  slice: sliceRule,
  pad: padRule,
  concatenate: concatenateRule,
  dynamic_slice: dynamicSliceRule,
  dynamic_update_slice: dynamicUpdateSliceRule,
  reduce_sum: reduceSumRule,
  reduce_max: reduceMaxMin('max'),
  reduce_min: reduceMaxMin('min'),
  argmax: argmaxRule,
  cumsum: cumsumRule,
  dot_general: dotGeneralRule,
  gather: gatherRule,
  ragged_dot: raggedDotRule,
  ragged_contract: raggedContractRule,
  scatter_add: scatterAddRule,
  top_k: topKRule,
  iota: iotaRule,
  remat: callRule(),
  custom_vjp_call: callRule(),
  sharding_constraint: shardingConstraintRule,
  all_reduce: collectiveRule('all_reduce'),
  all_gather: collectiveRule('all_gather'),
  reduce_scatter: collectiveRule('reduce_scatter'),
  all_to_all: collectiveRule('all_to_all'),
  collective_permute: collectiveRule('collective_permute'),
  axis_index: collectiveRule('axis_index'),
};
