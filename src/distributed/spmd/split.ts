/**
 * Splitting a per-device program at its collectives, for the runtime: ONNX Runtime runs the
 * pieces between collectives (segments), and the runtime's workers run the collectives
 * themselves through shared memory. `splitAtCollectives(graph)` first inlines sub-graph calls
 * (remat, custom_vjp_call; they may contain collectives) and removes dead equations, then cuts
 * the equation list before every data-moving collective. The result is plain data: every value
 * gets a numeric id; each segment is a Graph whose inputs and outputs are listed by id, followed
 * by at most one collective (input id → output id); `axis_index` values are not computed by
 * segments at all but supplied per device (they depend only on the device's mesh position), so
 * every device runs the same segment models. Constants and literals read outside a segment (by
 * a collective or as program outputs) are listed as constants.
 */

import type { Array } from '../../core/array.js';
import { Graph, Literal, Var, type AbstractValue, type Atom, type Eqn } from '../../core/ir.js';
import { dce } from '../../core/passes.js';
import { isCollective, type CollectiveGroup, type PrimitiveParams } from '../../core/primitives.js';
import type { DataCollective } from './collectives.js';

/** A collective step between segments: reads value `inputId`, defines value `outputId`. */
export interface CollectiveStep<P extends DataCollective = DataCollective> {
  prim: P;
  params: PrimitiveParams[P];
  inputId: number;
  outputId: number;
  /** The user's source line of the collective, when known. */
  source?: string;
}

/** One segment: a collective-free Graph, the values it reads and defines, and what follows it. */
export interface Segment {
  /** Inputs are the values `inputIds`, outputs the values `outputIds` (no collectives inside). */
  graph: Graph;
  inputIds: number[];
  outputIds: number[];
  /** The collective run after this segment, or null (last segment). */
  collective: CollectiveStep | null;
  /** Value ids no longer needed once this segment and its collective have run. */
  release: number[];
}

/** A per-device program split at its collectives. */
export interface SplitProgram {
  /** Shape and dtype of every value, indexed by value id. */
  avals: AbstractValue[];
  /** Ids of the program inputs (in order). */
  inputIds: number[];
  /** Ids of the program outputs (in order; an id may repeat). */
  outputIds: number[];
  /** Values known before the program runs (constants and literals read outside segments). */
  constants: { id: number; value: Array | number }[];
  /** Values each device computes from its mesh position (the results of axis_index). */
  axisIndex: { id: number; params: CollectiveGroup }[];
  /** Segments in execution order. */
  segments: Segment[];
  /** Number of collectives. */
  numCollectives: number;
}

const isCall = (e: Eqn): boolean => e.prim === 'remat' || e.prim === 'custom_vjp_call';

/** Inlines remat/custom_vjp_call sub-graphs (recursively) with fresh variables. */
export function inlineCalls(g: Graph): Graph {
  if (!g.eqns.some(isCall)) return g;
  const consts: Var[] = [...g.consts];
  const values: Array[] = [...g.constValues];
  const eqns: Eqn[] = [];
  const subst = new Map<Var, Atom>();
  const sub = (a: Atom): Atom => (a instanceof Literal ? a : (subst.get(a) ?? a));
  for (const e of g.eqns) {
    const ins = e.inputs.map(sub);
    if (!isCall(e)) {
      eqns.push(ins.every((a, i) => a === e.inputs[i]) ? e : { ...e, inputs: ins });
      continue;
    }
    const body = inlineCalls((e.params as { graph: Graph }).graph);
    const m = new Map<Var, Atom>();
    body.inputs.forEach((v, i) => m.set(v, ins[i]));
    body.consts.forEach((v, i) => {
      const nv = new Var(v.aval);
      consts.push(nv);
      values.push(body.constValues[i]);
      m.set(v, nv);
    });
    const r = (a: Atom): Atom => {
      if (a instanceof Literal) return a;
      const got = m.get(a);
      if (!got) throw new Error('internal: inlineCalls found a variable the sub-graph does not define');
      return got;
    };
    for (const be of body.eqns) {
      const inputs = be.inputs.map(r);
      const outputs = be.outputs.map((o) => {
        const nv = new Var(o.aval);
        m.set(o, nv);
        return nv;
      });
      eqns.push({ ...be, inputs, outputs, source: be.source ?? e.source });
    }
    e.outputs.forEach((o, i) => subst.set(o, r(body.outputs[i])));
  }
  return new Graph(g.inputs, consts, values, eqns, g.outputs.map(sub), g.inTree, g.outTree);
}

/**
 * Splits a per-device program into segments at its collectives (after inlining sub-graph calls
 * and dead-code elimination). See the file header for the form of the result.
 */
export function splitAtCollectives(graph: Graph): SplitProgram {
  const g = dce(inlineCalls(graph));
  const ids = new Map<Var, number>();
  const avals: AbstractValue[] = [];
  const idOf = (v: Var): number => {
    let id = ids.get(v);
    if (id === undefined) {
      id = avals.length;
      avals.push(v.aval);
      ids.set(v, id);
    }
    return id;
  };
  const constIndex = new Map<Var, number>();
  g.consts.forEach((v, i) => constIndex.set(v, i));
  const constants: SplitProgram['constants'] = [];
  const constIds = new Map<Var, number>();
  /** Id of an atom read outside segments (constants and literals get constant ids). */
  const outsideId = (a: Atom): number => {
    if (a instanceof Literal) {
      const id = avals.length;
      avals.push(a.aval);
      constants.push({ id, value: a.value });
      return id;
    }
    const ci = constIndex.get(a);
    if (ci !== undefined) {
      let id = constIds.get(a);
      if (id === undefined) {
        id = idOf(new Var(a.aval));
        constIds.set(a, id);
        constants.push({ id, value: g.constValues[ci] });
      }
      return id;
    }
    return idOf(a);
  };
  const inputIds = g.inputs.map(idOf);

  // group equations: segment bodies separated by collectives; axis_index handled per device
  interface Raw { eqns: Eqn[]; collective: Eqn | null }
  const raws: Raw[] = [{ eqns: [], collective: null }];
  const axisIndex: SplitProgram['axisIndex'] = [];
  for (const e of g.eqns) {
    if (e.prim === 'axis_index') {
      const p = e.params as PrimitiveParams['axis_index'];
      axisIndex.push({ id: idOf(e.outputs[0]), params: { axes: [...p.axes], axisSizes: [...p.axisSizes] } });
    } else if (isCollective(e.prim)) {
      raws[raws.length - 1].collective = e;
      raws.push({ eqns: [], collective: null });
    } else {
      raws[raws.length - 1].eqns.push(e);
    }
  }
  if (raws.length > 1 && raws[raws.length - 1].eqns.length === 0) raws.pop();

  // where each variable is read: segment index (its eqns or its collective), or Infinity for outputs
  const lastRead = new Map<Var, number>();
  const readAt = (a: Atom, s: number) => {
    if (a instanceof Literal || constIndex.has(a)) return;
    lastRead.set(a, Math.max(lastRead.get(a) ?? -1, s));
  };
  raws.forEach((r, s) => {
    for (const e of r.eqns) e.inputs.forEach((a) => readAt(a, s));
    if (r.collective) readAt(r.collective.inputs[0], s);
  });
  const outputIds = g.outputs.map((o) => {
    if (!(o instanceof Literal) && !constIndex.has(o)) lastRead.set(o, Infinity);
    return outsideId(o);
  });

  const segments: Segment[] = raws.map((r, s) => {
    const defined = new Set<Var>();
    for (const e of r.eqns) e.outputs.forEach((v) => defined.add(v));
    const inVars: Var[] = [];
    const usedConsts: Var[] = [];
    const seen = new Set<Var>();
    for (const e of r.eqns) {
      for (const a of e.inputs) {
        if (a instanceof Literal || defined.has(a) || seen.has(a)) continue;
        seen.add(a);
        if (constIndex.has(a)) usedConsts.push(a);
        else inVars.push(a);
      }
    }
    // outputs: values defined here and read by a later segment, by this segment's collective, or by the program outputs
    const outVars: Var[] = [];
    for (const e of r.eqns) {
      for (const v of e.outputs) {
        const lr = lastRead.get(v);
        const readByOwnCollective = r.collective !== null && r.collective.inputs[0] === v;
        if ((lr !== undefined && lr > s) || readByOwnCollective) outVars.push(v);
      }
    }
    const segGraph = new Graph(inVars, usedConsts, usedConsts.map((v) => g.constValues[constIndex.get(v)!]), r.eqns, outVars);
    let collective: CollectiveStep | null = null;
    if (r.collective) {
      const c = r.collective;
      collective = { prim: c.prim as DataCollective, params: c.params as never, inputId: outsideId(c.inputs[0]), outputId: idOf(c.outputs[0]), source: c.source };
    }
    return { graph: segGraph, inputIds: inVars.map(idOf), outputIds: outVars.map(idOf), collective, release: [] };
  });
  // release each value after the last segment that reads it (program outputs are kept)
  for (const [v, s] of lastRead) {
    if (s !== Infinity && s >= 0) segments[s].release.push(idOf(v));
  }
  // constants read by collectives are released after that collective's segment
  segments.forEach((seg) => {
    if (seg.collective && constants.some((c) => c.id === seg.collective!.inputId) && !outputIds.includes(seg.collective.inputId)) seg.release.push(seg.collective.inputId);
  });
  return { avals, inputIds, outputIds, constants, axisIndex, segments, numCollectives: segments.filter((s) => s.collective).length };
}

/** A readable summary of a split program (one line per segment and collective). */
export function formatSplit(p: SplitProgram): string {
  const lines = [`inputs ${JSON.stringify(p.inputIds)} → outputs ${JSON.stringify(p.outputIds)}`];
  if (p.axisIndex.length) lines.push(`axis_index: ${p.axisIndex.map((a) => `v${a.id}=rank(${a.params.axes.join(',')})`).join(' ')}`);
  if (p.constants.length) lines.push(`constants: ${p.constants.map((c) => `v${c.id}`).join(' ')}`);
  p.segments.forEach((s, i) => {
    lines.push(`segment ${i}: ${s.graph.eqns.length} eqns, reads ${JSON.stringify(s.inputIds)}, defines ${JSON.stringify(s.outputIds)}`);
    if (s.collective) lines.push(`  then ${s.collective.prim} v${s.collective.inputId} → v${s.collective.outputId}`);
  });
  return lines.join('\n');
}
