/**
 * Sharding propagation: given a global Graph and the user's shardings (of some inputs and
 * outputs, and every `sharding_constraint` in the program), decide a sharding for every value.
 *
 * It is a forward/backward fixpoint over the per-primitive factor rules of ./rules.ts (see
 * docs/sharding.md). For one equation, each operand's and result's current sharding is
 * projected onto the equation's factors (a dimension made of several factors gives its mesh
 * axes to the major factor first, moving to the next only once a factor is fully split); the
 * candidates for each factor are merged; mesh axes claimed by two factors go to the stronger
 * one; and the merged factor shardings are projected back onto every operand and result that
 * the user did not fix. Pending sums (`partial`) arise on the results of equations whose `sum`
 * factors are sharded, and flow through linear operations that do not grow the tensor.
 *
 * Priorities and tie-breaks (deterministic):
 * - A user sharding (an input or output given in the options, or a sharding_constraint result)
 *   is never changed. Its candidates rank above propagated ones.
 * - Per factor, candidates are ordered by priority (user first), then by how many devices they
 *   split over (more first), then by mesh-axis order (axes earlier in the mesh first), then by
 *   position (operands in order, then results). The merge starts from the first and takes every
 *   later candidate that extends it (the current axes are a prefix of the candidate's): the most
 *   sharded compatible sharding. Incompatible candidates lose.
 * - A mesh axis claimed by two factors goes to the factor whose best candidate has the higher
 *   priority, then the one more tensors agree on, then the factor listed first.
 * - A value's sharding only ever gets refined (axes appended to a dim, partial axes added); a
 *   projection that contradicts what the value already has is ignored for that value (the
 *   partitioner reshards there). So the fixpoint terminates, and the first decision wins.
 * - A value no rule gives any information stays replicated and is reported as 'default'.
 */

import { Graph, Literal, Var, type Atom } from '../../core/ir.js';
import { sizeOf } from '../../core/shape.js';
import { ruleFor, type FactorRule } from './rules.js';
import {
  ShardingError,
  checkMeshShape,
  fmtMesh,
  makeSharding,
  meshEqual,
  shardingForRank,
  shardingToString,
  trustedSharding,
  type MeshShape,
  type Sharding,
} from './sharding.js';

/** How a value's sharding was decided. */
export type Decision = 'user' | 'propagated' | 'default';

/** Options of {@link propagate}. */
export interface PropagateOptions {
  /** One entry per graph input: its sharding, or null to let propagation decide. */
  inputs?: readonly (Sharding | null | undefined)[];
  /** One entry per graph output: its required sharding, or null. */
  outputs?: readonly (Sharding | null | undefined)[];
  /** The mesh; needed only when no sharding is given at all (else taken from the shardings). */
  mesh?: MeshShape;
}

/** The result of {@link propagate}. */
export interface PropagationResult {
  /** The sharding of every variable of the graph (inputs, constants, equation outputs, sub-graphs). */
  shardings: Map<Var, Sharding>;
  /** How each variable's sharding was decided. */
  decided: Map<Var, Decision>;
  graph: Graph;
  mesh: MeshShape;
  /** Number of forward+backward sweeps until nothing changed. */
  sweeps: number;
}

interface VarState {
  readonly v: Var;
  readonly dims: string[][];
  readonly partial: string[];
  readonly known: boolean[];
  anyKnown: boolean;
  fixed: boolean;
  /** A broadcast literal zero: a valid pending sum over any mesh axes (0 + … + 0 = 0). */
  zero: boolean;
  /** Bumped on every change (units skip work when none of their variables changed). */
  version: number;
}

/** One propagation step: an equation's factor rule over its operand and result variables. */
interface Unit {
  rule: FactorRule;
  operands: (VarState | null)[];
  results: VarState[];
  /** Global element counts of the operands (for the "linear ops that do not grow" test). */
  operandSizes: number[];
  resultSize: number;
  /** Sum of the variables' versions when the unit last ran (-1: never). */
  seen: number;
}

interface Candidate {
  axes: string[];
  prio: number;
  devices: number;
  pos: number;
}

/** Identity rule over a value of the given shape (links across sub-graph boundaries). */
function identityRule(shape: readonly number[]): FactorRule {
  const factors = shape.map((d) => ({ size: d, kind: 'pass' as const }));
  const dims = shape.map((_, i) => [i]);
  return { kind: 'factors', factors, operands: [dims], results: [dims], linear: [[0]] };
}

const NO_AXES: string[] = Object.freeze([]) as unknown as string[];

function isPrefix(a: readonly string[], b: readonly string[]): boolean {
  if (a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

class Propagator {
  readonly states = new Map<Var, VarState>();
  readonly units: Unit[] = [];
  private readonly axisIndex: Map<string, number>;
  private readonly axisSizes: Map<string, number>;

  /** How many equations read each variable (program outputs count too). */
  readonly useCount = new Map<Var, number>();

  constructor(readonly mesh: MeshShape) {
    this.axisIndex = new Map(mesh.axisNames.map((a, i) => [a, i]));
    this.axisSizes = new Map(mesh.axisNames.map((a, i) => [a, mesh.shape[i]]));
  }

  state(v: Var): VarState {
    let s = this.states.get(v);
    if (!s) {
      const r = v.aval.shape.length;
      s = { v, dims: Array.from({ length: r }, () => []), partial: [], known: new Array<boolean>(r).fill(false), anyKnown: false, fixed: false, zero: false, version: 0 };
      this.states.set(v, s);
    }
    return s;
  }

  private atomState(a: Atom): VarState | null {
    return a instanceof Var ? this.state(a) : null;
  }

  /** Pins a variable to a user sharding; a second, different user sharding is an error. */
  fix(v: Var, s: Sharding, where: string): void {
    const norm = shardingForRank(s, v.aval.shape.length, where);
    if (!meshEqual(norm.mesh, this.mesh)) {
      throw new ShardingError(`${where}: its mesh ${fmtMesh(norm.mesh)} differs from the mesh ${fmtMesh(this.mesh)} of the other shardings; all shardings of one program must use the same mesh`);
    }
    const st = this.state(v);
    if (st.fixed) {
      const prev = makeSharding(this.mesh, st.dims, st.partial);
      if (prev.partial.join() !== norm.partial.join() || st.dims.some((d, i) => d.join() !== norm.dims[i].join())) {
        throw new ShardingError(
          `${where}: the value already has the user sharding ${shardingToString(prev)}, which differs from ${shardingToString(norm)}; ` +
            'one value has one sharding — make the two annotations agree, or apply withShardingConstraint to a copy',
        );
      }
      return;
    }
    st.fixed = true;
    st.anyKnown = true;
    norm.dims.forEach((d, i) => {
      st.dims[i].push(...d);
      st.known[i] = true;
    });
    st.partial.push(...norm.partial);
  }

  /** Flattens a graph (recursing into remat / custom_vjp_call sub-graphs) into units. */
  addGraph(g: Graph, depth = 0): void {
    if (depth > 64) throw new ShardingError('propagate: sub-graphs nested more than 64 levels deep');
    g.inputs.forEach((v) => this.state(v));
    g.consts.forEach((v) => this.state(v));
    for (const e of g.eqns) {
      const rule = ruleFor(e.prim, e.inputs.map((a) => a.aval), e.outputs.map((o) => o.aval), e.params as never);
      e.outputs.forEach((o) => this.state(o));
      if (e.prim === 'broadcast_in_dim' && e.inputs[0] instanceof Literal && e.inputs[0].value === 0) this.state(e.outputs[0]).zero = true;
      if (rule.kind === 'call') {
        const sub = rule.graph;
        if (sub.inputs.length !== e.inputs.length || sub.outputs.length !== e.outputs.length) {
          throw new ShardingError(`propagate: ${e.prim} calls a graph with ${sub.inputs.length} inputs and ${sub.outputs.length} outputs, but the equation has ${e.inputs.length} and ${e.outputs.length}${e.source ? ` (at ${e.source})` : ''}`);
        }
        e.inputs.forEach((a, i) => a instanceof Var && this.link(a, sub.inputs[i]));
        this.addGraph(sub, depth + 1);
        sub.outputs.forEach((o, i) => o instanceof Var && this.link(o, e.outputs[i]));
        continue;
      }
      for (const a of e.inputs) if (a instanceof Var) this.useCount.set(a, (this.useCount.get(a) ?? 0) + 1);
      this.units.push({
        rule,
        operands: e.inputs.map((a) => this.atomState(a)),
        results: e.outputs.map((o) => this.state(o)),
        operandSizes: e.inputs.map((a) => sizeOf(a.aval.shape)),
        resultSize: Math.max(0, ...e.outputs.map((o) => sizeOf(o.aval.shape))),
        seen: -1,
      });
    }
  }

  private link(from: Var, to: Var): void {
    const n = sizeOf(from.aval.shape);
    this.units.push({ rule: identityRule(from.aval.shape), operands: [this.state(from)], results: [this.state(to)], operandSizes: [n], resultSize: n, seen: -1 });
  }

  private devices(axes: readonly string[]): number {
    let n = 1;
    for (const a of axes) n *= this.axisSizes.get(a)!;
    return n;
  }

  /**
   * Splits the mesh axes of a dimension over its factors (major → minor): a factor takes axes
   * while their product divides what is left of it; the next factor starts only once the
   * current one is fully split. A dimension that is a single factor takes all its axes (uneven
   * splits are padded).
   */
  private splitDim(axes: readonly string[], fs: readonly number[], rule: FactorRule): string[][] {
    const out: string[][] = fs.map(() => []);
    const live = fs.map((f, k) => [f, k] as const).filter(([f]) => rule.factors[f].size !== 1);
    if (live.length <= 1) {
      const k = live.length === 1 ? live[0][1] : fs.length === 1 ? 0 : -1;
      if (k >= 0) out[k].push(...axes);
      return out;
    }
    let li = 0;
    let rem = rule.factors[live[0][0]].size;
    for (const a of axes) {
      while (li < live.length && rem === 1) {
        li++;
        if (li < live.length) rem = rule.factors[live[li][0]].size;
      }
      if (li >= live.length) break;
      const s = this.axisSizes.get(a)!;
      if (rem % s !== 0) break;
      out[live[li][1]].push(a);
      rem /= s;
    }
    return out;
  }

  /**
   * The mesh axes of a dimension made of factors `fs`, given each factor's axes: the major
   * factor's axes, then the next factor's only if the major one is fully split (otherwise the
   * tiles would not be contiguous), and so on.
   */
  private composeDim(fs: readonly number[], assign: readonly string[][], rule: FactorRule): string[] {
    const live = fs.filter((f) => rule.factors[f].size !== 1);
    if (live.length === 0) return fs.length === 1 ? [...assign[fs[0]]] : [];
    if (live.length === 1) return [...assign[live[0]]];
    const out: string[] = [];
    for (const f of live) {
      const axes = assign[f];
      const n = this.devices(axes);
      const size = rule.factors[f].size;
      if (size % n !== 0) break;
      out.push(...axes);
      if (n !== size) break;
    }
    return out;
  }

  /** Applies one unit; returns whether any variable changed. */
  step(u: Unit): boolean {
    const stamp = unitStamp(u);
    if (stamp === u.seen) return false;
    const changed = this.apply(u);
    u.seen = changed ? unitStamp(u) : stamp;
    return changed;
  }

  private apply(u: Unit): boolean {
    const { rule } = u;
    const nf = rule.factors.length;
    const cands: (Candidate[] | undefined)[] = new Array(nf);
    const factorKnown: boolean[] = new Array(nf).fill(false);
    let pos = 0;
    let anyAxes = false;
    const collect = (st: VarState | null, dimsF: number[][]) => {
      const p = pos++;
      if (!st) return;
      const prio = st.fixed ? 2 : 1;
      for (let d = 0; d < dimsF.length; d++) {
        const fs = dimsF[d];
        if (st.known[d]) for (const f of fs) factorKnown[f] = true;
        const axes = st.dims[d];
        if (axes.length === 0) continue;
        const split = fs.length === 1 ? null : this.splitDim(axes, fs, rule);
        for (let k = 0; k < fs.length; k++) {
          const f = fs[k];
          const ax = split ? split[k] : axes;
          if (ax.length === 0 || rule.factors[f].kind === 'opaque') continue;
          (cands[f] ??= []).push({ axes: ax, prio, devices: this.devices(ax), pos: p });
          anyAxes = true;
        }
      }
    };
    for (let i = 0; i < u.operands.length; i++) collect(u.operands[i], rule.operands[i]);
    for (let i = 0; i < u.results.length; i++) collect(u.results[i], rule.results[i]);

    // Merge each factor's candidates: most sharded compatible, deterministic tie-breaks.
    const assign: string[][] = new Array(nf);
    let nonEmpty = 0;
    const bestPrio: number[] = new Array(nf).fill(0);
    const support: number[] = new Array(nf).fill(0);
    for (let f = 0; f < nf; f++) {
      const cs = cands[f];
      if (!cs) {
        assign[f] = NO_AXES;
        continue;
      }
      if (cs.length > 1) cs.sort(this.compare);
      let merged = cs[0].axes;
      let n = 1;
      for (let k = 1; k < cs.length; k++) {
        const c = cs[k].axes;
        if (isPrefix(merged, c)) {
          merged = c;
          n++;
        } else if (isPrefix(c, merged)) n++;
      }
      assign[f] = merged;
      bestPrio[f] = cs[0].prio;
      support[f] = n;
      nonEmpty++;
    }
    // A mesh axis may split only one factor.
    if (nonEmpty > 1) {
      const order: number[] = [];
      for (let f = 0; f < nf; f++) if (assign[f].length > 0) order.push(f);
      order.sort((a, b) => bestPrio[b] - bestPrio[a] || support[b] - support[a] || a - b);
      const used: string[] = [];
      for (const f of order) {
        const axes = assign[f];
        let k = 0;
        while (k < axes.length && !used.includes(axes[k])) k++;
        if (k < axes.length) assign[f] = axes.slice(0, k);
        for (const a of assign[f]) used.push(a);
      }
    }

    // Pending sums of the results: sharded `sum` factors, plus partial operands of linear groups.
    let partial: string[] = NO_AXES;
    if (anyAxes) {
      for (let f = 0; f < nf; f++) {
        if (rule.factors[f].kind === 'sum' && assign[f].length) partial = [...partial, ...assign[f]];
      }
    }
    for (const group of rule.linear) {
      for (const i of group) {
        const sti = u.operands[i];
        if (!sti) continue;
        // a pending sum read by several equations is reduced once where it is made (the
        // partitioner caches that reshard) rather than carried into each reader, which would
        // make every reader's result a new pending sum needing its own reduction
        if ((this.useCount.get(sti.v) ?? 0) > 1) continue;
        for (const a of sti.partial) {
          if (partial.includes(a)) continue;
          const inGroup = group.every((j) => {
            const st = u.operands[j];
            return st !== null && (st.zero || (st.partial.includes(a) && u.operandSizes[j] >= u.resultSize));
          });
          const outside = u.operands.every((st, j) => st === null || !st.partial.includes(a) || group.includes(j));
          if (inGroup && outside) partial = [...partial, a];
        }
      }
    }
    let operandKnown = false;
    for (const st of u.operands) if (st && st.anyKnown) operandKnown = true;

    let changed = false;
    for (let i = 0; i < u.operands.length; i++) {
      const st = u.operands[i];
      if (st && !st.fixed && this.refine(st, rule.operands[i], assign, factorKnown, rule, null, false)) changed = true;
    }
    for (let i = 0; i < u.results.length; i++) {
      const st = u.results[i];
      if (!st.fixed && this.refine(st, rule.results[i], assign, factorKnown, rule, partial, operandKnown)) changed = true;
    }
    return changed;
  }

  /** Refines a variable toward the projected sharding; never removes or reorders anything. */
  private refine(st: VarState, dimsF: number[][], assign: string[][], factorKnown: boolean[], rule: FactorRule, partial: string[] | null, operandKnown: boolean): boolean {
    let changed = false;
    const inDims: string[] = [];
    for (let d = 0; d < dimsF.length; d++) {
      const fs = dimsF[d];
      if (!st.known[d] && fs.some((f) => factorKnown[f])) {
        st.known[d] = true;
        changed = true;
      }
      const nw = fs.length === 1 ? assign[fs[0]] : this.composeDim(fs, assign, rule);
      if (nw.length === 0) continue;
      if (partial) inDims.push(...nw);
      const old = st.dims[d];
      if (nw.length > old.length && isPrefix(old, nw)) {
        for (let k = old.length; k < nw.length; k++) {
          const a = nw[k];
          if (this.uses(st, a)) break;
          old.push(a);
          changed = true;
        }
      }
    }
    if (partial && partial.length) {
      const add = partial.filter((a) => !inDims.includes(a) && !this.uses(st, a));
      if (add.length) {
        st.partial.push(...add);
        st.partial.sort((a, b) => this.axisIndex.get(a)! - this.axisIndex.get(b)!);
        changed = true;
      }
    }
    if (!st.anyKnown && (st.known.some((k) => k) || st.partial.length > 0 || (partial !== null && st.dims.length === 0 && operandKnown))) {
      st.anyKnown = true;
      changed = true;
    }
    if (changed) st.version++;
    return changed;
  }

  /** Whether a variable already uses mesh axis `a` (in a dim or as partial). */
  private uses(st: VarState, a: string): boolean {
    if (st.partial.includes(a)) return true;
    for (const d of st.dims) if (d.includes(a)) return true;
    return false;
  }

  /** Candidate order: priority, then devices, then mesh-axis order, then position. */
  private readonly compare = (a: Candidate, b: Candidate): number => {
    if (a.prio !== b.prio) return b.prio - a.prio;
    if (a.devices !== b.devices) return b.devices - a.devices;
    const n = Math.min(a.axes.length, b.axes.length);
    for (let i = 0; i < n; i++) {
      if (a.axes[i] !== b.axes[i]) return this.axisIndex.get(a.axes[i])! - this.axisIndex.get(b.axes[i])!;
    }
    if (a.axes.length !== b.axes.length) return a.axes.length - b.axes.length;
    return a.pos - b.pos;
  };

  run(maxSweeps: number): number {
    for (let sweep = 1; sweep <= maxSweeps; sweep++) {
      let changed = false;
      for (let i = 0; i < this.units.length; i++) changed = this.step(this.units[i]) || changed;
      for (let i = this.units.length - 1; i >= 0; i--) changed = this.step(this.units[i]) || changed;
      if (!changed) return sweep;
    }
    throw new ShardingError(`propagate: no fixpoint after ${maxSweeps} sweeps (internal error; please report with the program)`);
  }
}

function unitStamp(u: Unit): number {
  let n = 0;
  for (const st of u.operands) if (st) n += st.version;
  for (const st of u.results) n += st.version;
  return n;
}


function findMesh(graph: Graph, opts: PropagateOptions): MeshShape {
  if (opts.mesh) return checkMeshShape(opts.mesh, 'propagate: mesh');
  for (const s of [...(opts.inputs ?? []), ...(opts.outputs ?? [])]) if (s) return checkMeshShape(s.mesh, 'propagate');
  const visit = (g: Graph): MeshShape | undefined => {
    for (const e of g.eqns) {
      if (e.prim === 'sharding_constraint') return checkMeshShape((e.params as { sharding: Sharding }).sharding.mesh, 'sharding_constraint');
      const sub = (e.params as { graph?: unknown }).graph;
      if (sub instanceof Graph) {
        const m = visit(sub);
        if (m) return m;
      }
    }
    return undefined;
  };
  const m = visit(graph);
  if (!m) throw new ShardingError('propagate: no sharding was given (no input/output shardings and no sharding_constraint); pass {mesh} to get an all-replicated result, or annotate some values');
  return m;
}

function fixConstraints(p: Propagator, g: Graph): void {
  for (const e of g.eqns) {
    if (e.prim === 'sharding_constraint') {
      const s = (e.params as { sharding: Sharding }).sharding;
      p.fix(e.outputs[0], s, `sharding_constraint${e.source ? ` at ${e.source}` : ''}`);
    }
    const sub = (e.params as { graph?: unknown }).graph;
    if (sub instanceof Graph) fixConstraints(p, sub);
  }
}

/**
 * Decides the sharding of every value of `graph`. User shardings come from `opts.inputs`,
 * `opts.outputs` and the program's `sharding_constraint`s; they are never changed. See the file
 * header for the rules and priorities, and docs/sharding.md.
 */
export function propagate(graph: Graph, opts: PropagateOptions = {}): PropagationResult {
  if (!(graph instanceof Graph)) throw new ShardingError('propagate: expected a Graph (from makeGraph(fn)(...args))');
  if (opts.inputs !== undefined && opts.inputs.length !== graph.inputs.length) {
    throw new ShardingError(`propagate: got ${opts.inputs.length} input shardings for a graph with ${graph.inputs.length} inputs; give one entry (or null) per flattened input`);
  }
  if (opts.outputs !== undefined && opts.outputs.length !== graph.outputs.length) {
    throw new ShardingError(`propagate: got ${opts.outputs.length} output shardings for a graph with ${graph.outputs.length} outputs; give one entry (or null) per flattened output`);
  }
  const mesh = findMesh(graph, opts);
  const p = new Propagator(mesh);
  p.addGraph(graph);
  for (const o of graph.outputs) if (o instanceof Var) p.useCount.set(o, (p.useCount.get(o) ?? 0) + 1);
  opts.inputs?.forEach((s, i) => s && p.fix(graph.inputs[i], s, `input sharding ${i}`));
  if (opts.outputs !== undefined) {
    opts.outputs.forEach((s, i) => {
      if (!s) return;
      const o = graph.outputs[i];
      if (o instanceof Literal) {
        if (s.partial.length || s.dims.some((d) => d.length)) throw new ShardingError(`output sharding ${i}: output ${i} is the constant ${o.value}, which is replicated; it cannot be given the sharding ${shardingToString(s)}`);
        return;
      }
      p.fix(o, s, `output sharding ${i}`);
    });
  }
  fixConstraints(p, graph);
  const maxSweeps = 4 * p.states.size + 8;
  const sweeps = p.run(maxSweeps);
  const shardings = new Map<Var, Sharding>();
  const decided = new Map<Var, Decision>();
  for (const [v, st] of p.states) {
    shardings.set(v, trustedSharding(mesh, st.dims, st.partial));
    decided.set(v, st.fixed ? 'user' : st.anyKnown ? 'propagated' : 'default');
  }
  return { shardings, decided, graph, mesh, sweeps };
}
