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
 * Then, at each such point, all_reduces of the same reduction, mesh axes and dtype are combined
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
  // ready computations are taken in original order (a min-heap would be overkill: the ready set is small)
  const readyCompute: number[] = [];
  const readyColl: number[] = [];
  const push = (i: number) => (isMoving(eqns[i]) ? readyColl : readyCompute).push(i);
  eqns.forEach((_, i) => pending[i] === 0 && push(i));
  const order: number[][] = []; // runs of equations; a run of collectives is one sync point
  const done = (i: number) => {
    for (const r of readers[i]) if (--pending[r] === 0) push(r);
  };
  while (readyCompute.length || readyColl.length) {
    if (readyCompute.length) {
      const run: number[] = [];
      while (readyCompute.length) {
        readyCompute.sort((a, b) => a - b);
        const i = readyCompute.shift()!;
        run.push(i);
        done(i);
      }
      order.push(run);
    } else {
      const run = readyColl.splice(0).sort((a, b) => a - b);
      order.push(run);
      run.forEach(done);
    }
  }
  if (order.flat().length !== eqns.length) throw new Error('internal: scheduleCollectives found a cycle in the program');

  const out: Eqn[] = [];
  let before = 0;
  let after = 0;
  let syncPoints = 0;
  for (const run of order) {
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
    for (const list of groups.values()) {
      // buckets of at most maxBytes
      let bucket: Eqn[] = [];
      let bytes = 0;
      const flush = () => {
        if (bucket.length === 1) out.push(bucket[0]);
        else if (bucket.length > 1) out.push(...combined(bucket));
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
    out.push(...rest);
    after += rest.length;
  }
  const scheduled = new Graph(g.inputs, g.consts, g.constValues, out, g.outputs, g.inTree, g.outTree);
  return { graph: scheduled, stats: { collectivesBefore: before, collectivesAfter: after, syncPoints } };
}

/** One all_reduce over the concatenation of several operands, and the slices back (same params). */
function combined(list: Eqn[]): Eqn[] {
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
  let off = 0;
  list.forEach((e, i) => {
    const o = e.outputs[0];
    const n = sizes[i];
    const flatOut = o.aval.shape.length === 1 ? o : new Var({ shape: [n], dtype });
    eqns.push({ prim: 'slice', params: { startIndices: [off], limitIndices: [off + n], strides: null }, inputs: [red], outputs: [flatOut], source: e.source });
    if (flatOut !== o) eqns.push({ prim: 'reshape', params: { newSizes: [...o.aval.shape] }, inputs: [flatOut], outputs: [o], source: e.source });
    off += n;
  });
  return eqns;
}
