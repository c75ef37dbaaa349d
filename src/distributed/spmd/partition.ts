/**
 * The SPMD partitioner (GSPMD's second half): a global program plus the sharding of every value
 * (from `propagate`) becomes ONE per-device program with collectives that every device of the
 * mesh runs. Device-dependent behaviour (which shard a device slices, padding masks, shard
 * offsets of iota/gather/argmax) comes from `axis_index`, so the program — and the time to build
 * it — does not depend on the number of devices.
 *
 * `partition(graph, propagation, mesh)` walks the global equations in order and applies each
 * primitive's rule from the exhaustive table in `./partition_rules.ts`, which reshards operands
 * (`./reshard.ts`: nothing, a local slice, a collective permute, an all-to-all, an all-gather;
 * pending sums by all-reduce or reduce-scatter) and emits the per-device computation by tracing
 * `lax` calls into a new Graph. Reshards are lazy (done where a value is consumed in another
 * layout) and cached per value and layout. remat and custom_vjp_call sub-graphs are inlined.
 * Program outputs are resharded to their propagated shardings; pending sums on outputs are
 * reduced unless the sharding was the user's (or `keepPartialOutputs`). See docs/partitioner.md.
 */

import { Array } from '../../core/array.js';
import { Graph, Literal, Var, type Atom, type Eqn } from '../../core/ir.js';
import { dce } from '../../core/passes.js';
import type { Primitive } from '../../core/primitives.js';
import { GraphBuilder, withSource, withTrace } from '../../core/trace.js';
import { toMeshShape, type MeshLike } from '../constraint.js';
import { checkMeshShape, fmtMesh, meshEqual, shardShape, shardingToString, type MeshShape, type Sharding } from '../sharding/sharding.js';
import type { PropagationResult } from '../sharding/propagation.js';
import { partitionRules, type PartitionContext, type PartitionRule } from './partition_rules.js';
import { MeshInfo, PartitionError, SpmdEmitter, type CollectiveCounts, type PValue } from './reshard.js';

/** Options of {@link partition}. */
export interface PartitionOptions {
  /** Keep pending sums (partial axes) on program outputs instead of reducing them (default false). */
  keepPartialOutputs?: boolean;
}

/** The result of {@link partition}. */
export interface PartitionResult {
  /** The per-device program: same inputs/outputs as the global one, per-device shapes. */
  graph: Graph;
  /** The layout of each (flat) input: per-device input i is the device's shard of input i. */
  inShardings: Sharding[];
  /** The layout of each (flat) output. */
  outShardings: Sharding[];
  /** Collectives in the per-device program, by primitive. */
  collectives: CollectiveCounts;
}

/** Counts the collectives of a per-device program (recursing into sub-graphs). */
export function countCollectives(g: Graph): CollectiveCounts & { axis_index: number } {
  const c = { all_reduce: 0, all_gather: 0, reduce_scatter: 0, all_to_all: 0, collective_permute: 0, axis_index: 0 };
  const walk = (h: Graph) => {
    for (const e of h.eqns) {
      if (e.prim in c) c[e.prim as keyof typeof c]++;
      const sub = (e.params as { graph?: unknown }).graph;
      if (sub instanceof Graph) walk(sub);
    }
  };
  walk(g);
  return c;
}

class Partitioner implements PartitionContext {
  readonly info: MeshInfo;
  readonly em: SpmdEmitter;
  private env = new Map<Var, PValue>();

  constructor(readonly mesh: MeshShape, private readonly prop: PropagationResult) {
    this.em = new SpmdEmitter(mesh);
    this.info = this.em.info;
  }

  /** The propagated sharding of a variable, normalized to its rank (replicated when unknown). */
  sharding(v: Var): Sharding {
    const s = this.prop.shardings.get(v);
    const rank = v.aval.shape.length;
    if (!s) return this.info.sharding(v.aval.shape.map(() => []));
    if (s.dims.length === rank && s.partial.every((a, i) => i === 0 || this.mesh.axisNames.indexOf(s.partial[i - 1]) < this.mesh.axisNames.indexOf(a))) return s;
    return this.info.sharding(v.aval.shape.map((_, i) => s.dims[i] ?? []), s.partial);
  }

  val(a: Atom): PValue {
    if (a instanceof Literal) {
      const x = Array.scalar(a.value, a.aval.dtype);
      return { x, shape: [], s: this.info.sharding([]), padZero: true, zero: a.value === 0 };
    }
    const pv = this.env.get(a);
    if (!pv) throw new PartitionError('internal: the partitioner read a variable before its definition');
    return pv;
  }

  out(e: Eqn, i: number): Sharding {
    return this.sharding(e.outputs[i]);
  }

  call(g: Graph, args: PValue[], where: string): PValue[] {
    if (g.inputs.length !== args.length) throw new PartitionError(`${where}: the sub-graph takes ${g.inputs.length} inputs but the call passes ${args.length}`);
    const saved = this.env;
    this.env = new Map();
    try {
      g.inputs.forEach((v, i) => this.env.set(v, args[i]));
      this.bindConsts(g);
      this.run(g.eqns);
      return g.outputs.map((o) => this.val(o));
    } finally {
      this.env = saved;
    }
  }

  bindConsts(g: Graph): void {
    g.consts.forEach((v, i) => {
      const x = g.constValues[i];
      this.env.set(v, { x, shape: [...x.shape], s: this.info.sharding(x.shape.map(() => [])), padZero: true, zero: false });
    });
  }

  run(eqns: readonly Eqn[]): void {
    for (const e of eqns) {
      const rule = partitionRules[e.prim] as PartitionRule<Primitive>;
      let outs: PValue[];
      try {
        outs = withSource(e.source ?? '', () => rule(e, this));
      } catch (err) {
        if (err instanceof PartitionError || !(err instanceof Error)) throw err;
        const ins = e.inputs.map((a) => (a instanceof Literal ? 'literal' : shardingToString(this.env.get(a)?.s ?? this.info.sharding([]))));
        throw new PartitionError(`partitioning ${e.prim}${e.source ? ` (at ${e.source})` : ''} with operands ${ins.join(', ')} → ${e.outputs.map((o) => shardingToString(this.sharding(o))).join(', ')} failed: ${err.message}`);
      }
      if (outs.length !== e.outputs.length) throw new PartitionError(`internal: the ${e.prim} rule returned ${outs.length} results, expected ${e.outputs.length}`);
      e.outputs.forEach((v, i) => this.env.set(v, outs[i]));
    }
  }

  input(v: Var, x: Array): void {
    this.env.set(v, this.em.value(x, v.aval.shape, this.sharding(v), false));
  }
}

/**
 * Partitions a global program into one per-device program for `mesh` (default: the
 * propagation's mesh), given the shardings of all its values from `propagate(graph, …)`.
 * Per-device input i is the device's shard (`shardShape`/`deviceSlice`, zero-padded) of global
 * input i under `inShardings[i]`; per-device output j is its shard of output j under
 * `outShardings[j]`. Throws a PartitionError on collectives in the global program.
 */
export function partition(graph: Graph, propagation: PropagationResult, mesh?: MeshLike, opts: PartitionOptions = {}): PartitionResult {
  if (!(graph instanceof Graph)) throw new PartitionError('partition: expected a Graph (from makeGraph(fn)(...args))');
  if (!propagation || !(propagation.shardings instanceof Map)) throw new PartitionError('partition: expected the result of propagate(graph, {...}) as the second argument');
  if (propagation.graph !== graph) throw new PartitionError('partition: the propagation result belongs to another graph; call propagate(graph, …) on this graph');
  const m = mesh === undefined ? propagation.mesh : checkMeshShape(toMeshShape(mesh, 'partition'), 'partition');
  if (!meshEqual(m, propagation.mesh)) throw new PartitionError(`partition: the mesh ${fmtMesh(m)} differs from the mesh ${fmtMesh(propagation.mesh)} of the shardings`);
  const p = new Partitioner(m, propagation);
  const inShardings = graph.inputs.map((v) => p.sharding(v));
  const outShardings: Sharding[] = graph.outputs.map((o) => {
    if (o instanceof Literal) return p.info.sharding([]);
    const s = p.sharding(o);
    const keep = opts.keepPartialOutputs || propagation.decided.get(o) === 'user';
    return keep ? s : p.info.sharding(s.dims);
  });
  const builder = new GraphBuilder('partition');
  const perDevice = withTrace(builder, () => {
    const xs = graph.inputs.map((v, i) => builder.addInput({ shape: shardShape(v.aval.shape, inShardings[i]), dtype: v.aval.dtype }));
    graph.inputs.forEach((v, i) => p.input(v, xs[i]));
    p.bindConsts(graph);
    p.run(graph.eqns);
    const outs = graph.outputs.map((o, j) => withSource('', () => p.em.reshard(p.val(o), outShardings[j]).x));
    return builder.finish(outs, graph.inTree, graph.outTree);
  });
  const g = dce(perDevice);
  const c = countCollectives(g);
  return {
    graph: g,
    inShardings,
    outShardings,
    collectives: { all_reduce: c.all_reduce, all_gather: c.all_gather, reduce_scatter: c.reduce_scatter, all_to_all: c.all_to_all, collective_permute: c.collective_permute },
  };
}

export { PartitionError, partitionRules };
export type { PartitionRule, PartitionContext, PValue };
