/**
 * Scheduling and combining collectives in a per-device program, for the runtime (the step
 * between partitioning and splitting at collectives). The runtime cannot overlap communication
 * with computation — a device runs its ONNX segments and its collectives one after another, and
 * every collective is a synchronization point of all devices — so what costs is the NUMBER of
 * collectives and the computation stuck behind them. `scheduleCollectives(graph)` reorders the
 * equations by list scheduling: it runs every computation whose inputs are ready before any
 * collective, and only when nothing else can run issues all the collectives that are ready, so
 * collectives gather at as few points as possible (a data-parallel step's loss all-reduce
 * moves from between the forward and backward passes to the end, next to the gradients').
 * Every value live at such a point leaves ONNX Runtime and comes back, so two refinements keep
 * the cuts cheap: a collective that computation waits on and whose inputs take little work (a
 * loss normalizer summed over the global batch) is issued first, before the work that would
 * otherwise be live across it; and computations whose results are read only after a cut move
 * past it when that carries fewer elements (`sinkComputations`). Then, at each point, all_reduces of the same reduction, mesh axes and dtype are combined
 * into one (XLA's all-reduce combiner): flatten each operand, concatenate, all-reduce once,
 * slice the pieces back out. Elementwise reductions are unchanged by concatenation, so the
 * result has the same bits as separate all_reduces (the runtime reduces each element in the same
 * fixed group order). A combined operand is at most `maxCombinedBytes` (default 32 MiB), which
 * bounds the shared-memory slots a collective needs. Plain data in, plain data out: the result
 * is an equivalent Graph.
 */

import { Graph, Literal, Var, type Atom, type Eqn } from '../../core/ir.js';
import { dce } from '../../core/passes.js';
import { isCollective, type PrimitiveParams } from '../../core/primitives.js';
import { sizeOf } from '../../core/shape.js';
import { inlineCalls } from './split.js';

/** Options of {@link scheduleCollectives}. */
export interface ScheduleOptions {
  /** Combine all_reduces that run at the same point (default true). */
  combine?: boolean;
  /** Largest combined all_reduce operand in bytes (default 32 MiB). */
  maxCombinedBytes?: number;
  /**
   * A collective that computation waits on is issued as early as possible when the computation
   * it waits for costs at most this fraction of the program (by elements written; default 0.01).
   */
  earlyFraction?: number;
}

/** What scheduling did (for tests and logs). */
export interface ScheduleStats {
  /** Data-moving collectives before and after. */
  collectivesBefore: number;
  collectivesAfter: number;
  /** Points at which collectives run (runtime synchronization points) after scheduling. */
  syncPoints: number;
}

const BYTES: Record<string, number> = { float32: 4, float64: 8, int32: 4, uint32: 4, bool: 1 };

const isMoving = (e: Eqn): boolean => isCollective(e.prim) && e.prim !== 'axis_index';

/**
 * Reorders `graph` so that collectives run at as few points as possible, and combines the
 * all_reduces that run at the same point (see the file header). Returns the new Graph and
 * what changed.
 */
export function scheduleCollectives(graph: Graph, opts: ScheduleOptions = {}): { graph: Graph; stats: ScheduleStats } {
  const combine = opts.combine ?? true;
  const maxBytes = opts.maxCombinedBytes ?? 32 * 1024 * 1024;
  const earlyFraction = opts.earlyFraction ?? 0.01;
  const g = dce(inlineCalls(graph));
  const eqns = g.eqns;
  // dependencies: for each eqn, how many of its inputs are not yet defined; who reads each var
  const producer = new Map<Var, number>();
  eqns.forEach((e, i) => e.outputs.forEach((v) => producer.set(v, i)));
  const pending = eqns.map(() => 0);
  const readers: number[][] = eqns.map(() => []);
  eqns.forEach((e, i) => {
    const seen = new Set<number>();
    for (const a of e.inputs) {
      if (a instanceof Literal) continue;
      const p = producer.get(a);
      if (p === undefined || seen.has(p)) continue;
      seen.add(p);
      pending[i]++;
      readers[p].push(i);
    }
  });
  // Early collectives: a collective whose inputs take little computation (its ancestor cone
  // costs at most `earlyFraction` of the program, by elements written) and that computation
  // waits on. Deferring it would cut the program where every value live at that point (e.g. all
  // of a forward pass's activations, waiting for a loss normalizer) must leave ONNX Runtime and
  // come back; running its cone first puts that cut at the start, where almost nothing is live.
  const cost = eqns.map((e) => e.outputs.reduce((n, v) => n + sizeOf(v.aval.shape), 0));
  const total = cost.reduce((a, b) => a + b, 0);
  const earlyCone = new Set<number>();
  const early = new Set<number>();
  eqns.forEach((e, c) => {
    if (!isMoving(e) || !readers[c].some((r) => !isMoving(eqns[r]))) return;
    const cone = new Set<number>();
    const stack = [c];
    let coneCost = 0;
    let ok = true;
    while (stack.length && ok) {
      const k = stack.pop()!;
      for (const a of eqns[k].inputs) {
        if (a instanceof Literal) continue;
        const p = producer.get(a);
        if (p === undefined || cone.has(p) || earlyCone.has(p)) continue;
        if (isMoving(eqns[p]) && !early.has(p)) ok = false;
        cone.add(p);
        coneCost += cost[p];
        if (coneCost > earlyFraction * total) ok = false;
        stack.push(p);
      }
    }
    if (!ok) return;
    early.add(c);
    for (const k of cone) earlyCone.add(k);
  });

  // ready computations are taken in original order (a min-heap would be overkill: the ready set
  // is small), the cones of early collectives first
  const readyCompute: number[] = [];
  const readyColl: number[] = [];
  const push = (i: number) => (isMoving(eqns[i]) ? readyColl : readyCompute).push(i);
  eqns.forEach((_, i) => pending[i] === 0 && push(i));
  const order: number[][] = []; // runs of equations; a run of collectives is one sync point
  const done = (i: number) => {
    for (const r of readers[i]) if (--pending[r] === 0) push(r);
  };
  const rank = (i: number) => (earlyCone.has(i) ? i - eqns.length : i);
  while (readyCompute.length || readyColl.length) {
    const earlyWork = readyCompute.some((i) => earlyCone.has(i));
    const earlyReady = !earlyWork && readyColl.some((i) => early.has(i));
    if (readyCompute.length && !earlyReady) {
      const run: number[] = [];
      while (readyCompute.length) {
        readyCompute.sort((a, b) => rank(a) - rank(b));
        // an early collective that just became ready is issued before any other computation
        if (!earlyCone.has(readyCompute[0]) && readyColl.some((k) => early.has(k))) break;
        const i = readyCompute.shift()!;
        run.push(i);
        done(i);
      }
      if (run.length) order.push(run);
    } else {
      const run = readyColl.splice(0).sort((a, b) => a - b);
      order.push(run);
      run.forEach(done);
    }
  }
  if (order.flat().length !== eqns.length) throw new Error('internal: scheduleCollectives found a cycle in the program');
  const segmented = sinkComputations(eqns, order, producer, readers, new Set(g.outputs.filter((o): o is Var => o instanceof Var)));

  const out: Eqn[] = [];
  let before = 0;
  let after = 0;
  let syncPoints = 0;
  for (const run of segmented) {
    const es = run.map((i) => eqns[i]);
    if (!isMoving(es[0])) {
      out.push(...es);
      continue;
    }
    syncPoints++;
    before += es.length;
    // group combinable all_reduces by (op, axes, dtype), keeping first-appearance order
    const groups = new Map<string, Eqn[]>();
    const rest: Eqn[] = [];
    for (const e of es) {
      if (!combine || e.prim !== 'all_reduce' || BYTES[e.inputs[0].aval.dtype] === undefined) {
        rest.push(e);
        continue;
      }
      const p = e.params as PrimitiveParams['all_reduce'];
      const key = `${p.op}|${p.axes.join(',')}|${p.axisSizes.join(',')}|${e.inputs[0].aval.dtype}`;
      const list = groups.get(key) ?? [];
      list.push(e);
      groups.set(key, list);
    }
    // the slices that take a combined result apart run after all of this point's collectives,
    // so they do not cut the run of collectives into two synchronization points
    const post: Eqn[] = [];
    for (const list of groups.values()) {
      // buckets of at most maxBytes
      let bucket: Eqn[] = [];
      let bytes = 0;
      const flush = () => {
        if (bucket.length === 1) out.push(bucket[0]);
        else if (bucket.length > 1) {
          const c = combined(bucket);
          out.push(...c.before);
          post.push(...c.after);
        }
        after += bucket.length ? 1 : 0;
        bucket = [];
        bytes = 0;
      };
      for (const e of list) {
        const a = e.inputs[0].aval;
        const b = sizeOf(a.shape) * BYTES[a.dtype];
        if (bucket.length && bytes + b > maxBytes) flush();
        bucket.push(e);
        bytes += b;
      }
      flush();
    }
    out.push(...rest, ...post);
    after += rest.length;
  }
  const scheduled = new Graph(g.inputs, g.consts, g.constValues, out, g.outputs, g.inTree, g.outTree);
  return { graph: scheduled, stats: { collectivesBefore: before, collectivesAfter: after, syncPoints } };
}

/**
 * Moves computations to the latest segment they can run in when that carries fewer values
 * across synchronization points: compute-first scheduling puts every ready computation before
 * the next collective, including some whose results are read only after it (e.g. an
 * optimizer's `b1·m` before the gradients' all-reduce), and each such result must leave ONNX
 * Runtime at the cut and come back. A computation moves to the earliest segment among its
 * readers when that carries fewer elements across the cuts: its results stop crossing, and its
 * inputs start to unless they already cross (a program input or constant, a collective's
 * result, a value already live into that segment, or one computed in it). Repeated until nothing moves; each segment's computations then run in
 * program order. Takes and returns runs as `scheduleCollectives` builds them.
 */
function sinkComputations(eqns: readonly Eqn[], order: number[][], producer: Map<Var, number>, readers: number[][], outputs: Set<Var>): number[][] {
  const seg = new Int32Array(eqns.length);
  const syncRuns: number[][] = [];
  let k = 0;
  for (const run of order) {
    if (isMoving(eqns[run[0]])) {
      for (const i of run) seg[i] = k;
      syncRuns.push(run);
      k++;
    } else for (const i of run) seg[i] = k;
  }
  const last = k;
  // the equations that read v (`readers` is per producing equation, over all its outputs)
  const readersOf = (v: Var): number[] => {
    const p = producer.get(v);
    return p === undefined ? [] : readers[p].filter((r) => eqns[r].inputs.includes(v));
  };
  let moved = true;
  while (moved) {
    moved = false;
    for (let e = eqns.length - 1; e >= 0; e--) {
      if (isMoving(eqns[e])) continue;
      let t = last;
      for (const v of eqns[e].outputs) {
        if (outputs.has(v)) continue;
        // a reader in segment s, or a collective issued at the end of segment s, allows at most s
        for (const r of readersOf(v)) t = Math.min(t, seg[r]);
      }
      if (t <= seg[e]) continue;
      // e moves with the producers only it reads, in its segment (e.g. the broadcast of a
      // scalar it multiplies by); elements that would start crossing into segment t are the
      // group's inputs from outside that do not cross already; those that stop are e's results
      const group = new Set<number>([e]);
      const stack = [e];
      while (stack.length) {
        const k = stack.pop()!;
        for (const a of eqns[k].inputs) {
          if (a instanceof Literal) continue;
          const p = producer.get(a);
          if (p === undefined || group.has(p) || isMoving(eqns[p]) || seg[p] !== seg[e]) continue;
          if (eqns[p].outputs.some((v) => outputs.has(v) || readersOf(v).some((r) => !group.has(r)))) continue;
          group.add(p);
          stack.push(p);
        }
      }
      let added = 0;
      let blocked = false;
      const counted = new Set<Var>();
      for (const k of group) {
        for (const a of eqns[k].inputs) {
          if (a instanceof Literal || counted.has(a)) continue;
          const p = producer.get(a);
          if (p === undefined || group.has(p) || seg[p] === t) continue;
          if (isMoving(eqns[p])) {
            if (seg[p] >= t) blocked = true; // a collective issued at the end of segment t or later
            continue;
          }
          counted.add(a);
          if (outputs.has(a) || readersOf(a).some((r) => !group.has(r) && seg[r] >= t)) continue;
          added += sizeOf(a.aval.shape);
        }
      }
      const removed = eqns[e].outputs.reduce((n, v) => n + sizeOf(v.aval.shape), 0);
      if (blocked || added >= removed) continue;
      for (const k of group) seg[k] = t;
      moved = true;
    }
  }
  const compute: number[][] = globalThis.Array.from({ length: last + 1 }, () => []);
  eqns.forEach((e, i) => {
    if (!isMoving(e)) compute[seg[i]].push(i);
  });
  const runs: number[][] = [];
  for (let s = 0; s <= last; s++) {
    if (compute[s].length) runs.push(compute[s]); // ascending: program order
    if (s < last) runs.push(syncRuns[s]);
  }
  return runs;
}

/** One all_reduce over the concatenation of several operands (`before`, ending with it), and the slices back (`after`). */
function combined(list: Eqn[]): { before: Eqn[]; after: Eqn[] } {
  const p = list[0].params as PrimitiveParams['all_reduce'];
  const dtype = list[0].inputs[0].aval.dtype;
  const source = list[0].source;
  const eqns: Eqn[] = [];
  const flat: Atom[] = [];
  const sizes: number[] = [];
  for (const e of list) {
    const x = e.inputs[0];
    const n = sizeOf(x.aval.shape);
    sizes.push(n);
    if (x.aval.shape.length === 1) flat.push(x);
    else {
      const v = new Var({ shape: [n], dtype });
      eqns.push({ prim: 'reshape', params: { newSizes: [n] }, inputs: [x], outputs: [v], source: e.source });
      flat.push(v);
    }
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  const cat = new Var({ shape: [total], dtype });
  eqns.push({ prim: 'concatenate', params: { dimension: 0 }, inputs: flat, outputs: [cat], source });
  const red = new Var({ shape: [total], dtype });
  eqns.push({ prim: 'all_reduce', params: { axes: [...p.axes], axisSizes: [...p.axisSizes], op: p.op }, inputs: [cat], outputs: [red], source });
  const before = eqns.splice(0);
  let off = 0;
  list.forEach((e, i) => {
    const o = e.outputs[0];
    const n = sizes[i];
    const flatOut = o.aval.shape.length === 1 ? o : new Var({ shape: [n], dtype });
    eqns.push({ prim: 'slice', params: { startIndices: [off], limitIndices: [off + n], strides: null }, inputs: [red], outputs: [flatOut], source: e.source });
    if (flatOut !== o) eqns.push({ prim: 'reshape', params: { newSizes: [...o.aval.shape] }, inputs: [flatOut], outputs: [o], source: e.source });
    off += n;
  });
  return { before, after: eqns };
}
