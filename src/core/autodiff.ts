/**
 * Reverse-mode autodiff by Graph replay. `vjp(f, …)` traces `f` to a Graph, replays it forward
 * in the current context (eagerly, or into an enclosing trace), remembering every intermediate
 * value, and returns a pullback that walks the equations backwards applying each primitive's VJP
 * rule (`vjpRules`, one exhaustive table). Because the rules are themselves written with
 * primitives, the backward pass is recorded like any other computation: `makeGraph(grad(f))` is a
 * Graph, and `grad(grad(f))` works. `checkpoint` wraps a function as a `remat` call whose forward
 * is recomputed in the backward pass; `customVjp` calls user-defined forward/backward rules.
 */

import { Array } from './array.js';
import { isFloat } from './dtype.js';
import { GradError, PytreeError, ValueError } from './errors.js';
import { Graph, Literal, Var, fmtAval, type Atom } from './ir.js';
import * as lax from './lax.js';
import type { Primitive, PrimitiveParams } from './primitives.js';
import { flatten, numLeaves, treedefEqual, treedefToString, unflatten, type TreeDef } from './pytree.js';
import { shapeEqual } from './shape.js';
import { asArrayLeaf, bind, closureConvert, currentTrace, evalGraph, leafAval, traceFlat, withSource } from './trace.js';
import { vjpRules } from './vjp_rules.js';

/** A cotangent, or null for a (symbolic) zero. */
export type Ct = Array | null;

/**
 * A VJP rule: given output cotangents (null = zero), the primal inputs and outputs, the params,
 * and which inputs need a cotangent, returns one cotangent per input (null = zero/not needed).
 */
export type VjpRule<P extends Primitive> = (cts: Ct[], primals: Array[], outs: Array[], params: PrimitiveParams[P], needs: boolean[]) => Ct[];

/** Primitives whose outputs never carry a derivative (zero or undefined derivative). */
const NON_DIFFERENTIABLE = new Set<Primitive>(['stop_gradient', 'sign', 'floor', 'ceil', 'round', 'argmax', 'iota', 'is_finite']);

interface Record_ {
  eqn: Graph['eqns'][number];
  ins: Array[];
  outs: Array[];
  needs: boolean[];
  residuals?: unknown;
}

/**
 * Replays `graph` forward on `primals` in the current context and returns its outputs plus a
 * pullback from output cotangents to input cotangents. Only inputs with `diffMask[i]` (and a
 * float dtype) are differentiated.
 */
export function vjpGraph(graph: Graph, primals: Array[], diffMask: boolean[]): { outs: Array[]; pullback: (cts: Ct[]) => Ct[] } {
  const env = new Map<Var, Array>();
  const live = new Set<Var>();
  graph.inputs.forEach((v, i) => {
    env.set(v, primals[i]);
    if (diffMask[i] && isFloat(v.aval.dtype)) live.add(v);
  });
  graph.consts.forEach((v, i) => env.set(v, graph.constValues[i]));
  const read = (a: Atom): Array => (a instanceof Literal ? Array.scalar(a.value, a.aval.dtype) : env.get(a)!);
  const records: Record_[] = [];
  for (const e of graph.eqns) {
    const ins = e.inputs.map(read);
    const needs = e.inputs.map((a) => !(a instanceof Literal) && live.has(a));
    const anyNeed = needs.some((n) => n);
    let outs: Array[];
    let residuals: unknown;
    if (e.prim === 'custom_vjp_call' && anyNeed) {
      const p = e.params as PrimitiveParams['custom_vjp_call'];
      const nCap = p._numCaptured;
      if (needs.slice(0, nCap).some((n) => n)) {
        throw new GradError(
          `customVjp: the function closes over a traced value that is being differentiated (made at ${e.source ?? 'unknown location'}); pass it as an explicit argument so its cotangent can come from bwd`,
        );
      }
      const fo = withSource(e.source, () => evalGraph(p._fwdGraph, ins));
      outs = fo.slice(0, e.outputs.length);
      residuals = { captured: ins.slice(0, nCap), res: fo.slice(e.outputs.length) } satisfies CustomResiduals;
    } else {
      outs = withSource(e.source, () => bind(e.prim, ins, e.params as never));
    }
    e.outputs.forEach((v, i) => env.set(v, outs[i]));
    if (anyNeed) {
      if (!NON_DIFFERENTIABLE.has(e.prim)) e.outputs.forEach((v) => isFloat(v.aval.dtype) && live.add(v));
      records.push({ eqn: e, ins, outs, needs, residuals });
    }
  }
  const outs = graph.outputs.map(read);

  const pullback = (cts: Ct[]): Ct[] => {
    const ctEnv = new Map<Var, Array>();
    const accum = (v: Var, ct: Array, src: string | undefined) => {
      if (!shapeEqual(ct.shape, v.aval.shape) || ct.dtype !== v.aval.dtype) {
        throw new Error(`internal: cotangent ${fmtAval(ct)} does not match value ${fmtAval(v.aval)} (from ${src})`);
      }
      const prev = ctEnv.get(v);
      ctEnv.set(v, prev ? lax.add(prev, ct) : ct);
    };
    graph.outputs.forEach((o, i) => {
      const ct = cts[i];
      if (ct && !(o instanceof Literal) && live.has(o)) accum(o, ct, 'output');
    });
    for (let r = records.length - 1; r >= 0; r--) {
      const { eqn, ins, outs: eouts, needs, residuals } = records[r];
      const outCts = eqn.outputs.map((v) => ctEnv.get(v) ?? null);
      if (outCts.every((c) => c === null)) continue;
      const inCts = withSource(eqn.source, () => {
        if (eqn.prim === 'custom_vjp_call') return customVjpBackward(eqn.params as PrimitiveParams['custom_vjp_call'], residuals, outCts, eouts);
        const rule = vjpRules[eqn.prim] as VjpRule<Primitive>;
        return rule(outCts, ins, eouts, eqn.params, needs);
      });
      eqn.inputs.forEach((a, i) => {
        const ct = inCts[i];
        if (ct && needs[i] && !(a instanceof Literal)) accum(a, ct, `${eqn.prim} at ${eqn.source}`);
      });
    }
    return graph.inputs.map((v) => ctEnv.get(v) ?? null);
  };
  return { outs, pullback };
}

/** What the forward replay of a custom_vjp_call keeps for its backward pass. */
interface CustomResiduals {
  captured: Array[];
  res: Array[];
}

function customVjpBackward(p: PrimitiveParams['custom_vjp_call'], residuals: unknown, outCts: Ct[], outs: Array[]): Ct[] {
  const { captured, res } = residuals as CustomResiduals;
  const ctLeaves = outCts.map((c, i) => c ?? lax.zerosLike(outs[i]));
  const got = evalGraph(p._bwdGraph, [...captured, ...res, ...ctLeaves]);
  const cts: Ct[] = new globalThis.Array<Ct>(p._numCaptured).fill(null);
  let k = 0;
  for (const has of p._bwdHasCt) cts.push(has ? got[k++] : null);
  return cts;
}

function onesLike(x: Array): Array {
  return lax.fullLike(x, 1);
}

/** Normalizes argnums for a call with `n` arguments. */
function normArgnums(argnums: number | number[], n: number): number[] {
  const list = typeof argnums === 'number' ? [argnums] : argnums;
  for (const a of list) {
    if (!Number.isInteger(a) || a < -n || a >= n) throw new GradError(`argnums ${JSON.stringify(argnums)} is out of range for a call with ${n} positional argument(s)`);
  }
  return list.map((a) => (a < 0 ? a + n : a));
}

/**
 * Traces `f` at `args`, replays it, and returns outputs plus a pullback to the leaves of `args`.
 * `diffArgs` selects which positional arguments are differentiated.
 */
function linearizeCall(f: (...a: any[]) => unknown, args: unknown[], diffArgs: number[] | null, what: string) {
  const perArg = args.map((a) => flatten(a));
  const [allLeaves, inTree] = flatten(args);
  const arrays = allLeaves.map((l, i) => asArrayLeaf(l, `${what} argument leaf ${i}`));
  const mask: boolean[] = [];
  perArg.forEach(([ls], ai) => ls.forEach(() => mask.push(diffArgs === null || diffArgs.includes(ai))));
  const graph = traceFlat(f, arrays.map((x) => leafAval(x, what)), inTree, `${what}(${f.name || 'fn'})`);
  const { outs, pullback } = vjpGraph(graph, arrays, mask);
  return { graph, outs, pullback, arrays, perArg, mask, inTree };
}

/**
 * `vjp(f, ...primals)` → `[out, pullback]` where `pullback(ct)` returns one cotangent per
 * primal argument (pytrees shaped like the primals; zeros where no dependence).
 */
export function vjp<Out = any>(f: (...args: any[]) => Out, ...primals: any[]): [Out, (ct: any) => any[]] {
  const { graph, outs, pullback, arrays, inTree } = linearizeCall(f, primals, null, 'vjp');
  const outTree = graph.outTree as TreeDef;
  const out = unflatten<Out>(outTree, outs);
  const pb = (ct: any): any[] => {
    const [ctLeaves, ctTree] = flatten(ct);
    if (!treedefEqual(ctTree, outTree)) {
      throw new PytreeError(`vjp: cotangent structure ${treedefToString(ctTree)} differs from the output structure ${treedefToString(outTree)}`);
    }
    const cts = ctLeaves.map((l, i) => {
      const c = asArrayLeaf(l, `vjp cotangent leaf ${i}`);
      const o = outs[i];
      if (!shapeEqual(c.shape, o.shape)) throw new ValueError(`vjp: cotangent leaf ${i} has shape ${fmtAval(c)} but the output is ${fmtAval(o)}`);
      return c.dtype === o.dtype ? c : lax.convert(c, o.dtype);
    });
    const res = pullback(cts).map((c, i) => c ?? lax.zerosLike(arrays[i]));
    return unflatten<any[]>(inTree, res);
  };
  return [out, pb];
}

/** Options of grad / valueAndGrad. */
export interface GradOptions {
  /** Which positional argument(s) to differentiate (default 0). An array gives a tuple of grads. */
  argnums?: number | number[];
  /** `f` returns `[value, aux]`; aux is passed through undifferentiated. */
  hasAux?: boolean;
}

function valueAndGradImpl(f: (...args: any[]) => unknown, opts: GradOptions, what: string) {
  const argnums = opts.argnums ?? 0;
  return (...args: any[]): [any, any] => {
    const nums = normArgnums(argnums, args.length);
    const { graph, outs, pullback, arrays, perArg } = linearizeCall(f, args, nums, what);
    const outTree = graph.outTree as TreeDef;
    let valueIdx = 0;
    let result: any;
    if (opts.hasAux) {
      if (outTree.kind !== 'array' || outTree.children.length !== 2) {
        throw new GradError(`${what} with hasAux: the function must return [value, aux], got structure ${treedefToString(outTree)}`);
      }
      const full = unflatten<any[]>(outTree, outs);
      result = full;
      if (outTree.children[0].kind !== 'leaf') throw new GradError(`${what}: the value (first element of [value, aux]) must be a scalar array`);
    } else {
      if (outTree.kind !== 'leaf') throw new GradError(`${what}: the function must return a scalar array, got a pytree ${treedefToString(outTree)}; use vjp for non-scalar outputs or hasAux to return extra values`);
      result = outs[0];
      valueIdx = 0;
    }
    const value = outs[valueIdx];
    if (value.ndim !== 0) throw new GradError(`${what} needs a scalar output, got ${fmtAval(value)}; reduce it (e.g. np.sum or np.mean) or use vjp`);
    if (!isFloat(value.dtype)) throw new GradError(`${what} needs a float output, got ${fmtAval(value)}; gradients of integer or bool functions are zero or undefined`);
    // Check differentiated inputs are floats.
    let offset = 0;
    perArg.forEach(([ls], ai) => {
      if (nums.includes(ai)) {
        ls.forEach((_, j) => {
          const x = arrays[offset + j];
          if (!isFloat(x.dtype)) throw new GradError(`${what}: argument ${ai} leaf ${j} is ${fmtAval(x)}; gradients are defined for float inputs only — convert it with astype('float32') or leave it out of argnums`);
        });
      }
      offset += ls.length;
    });
    const cts: Ct[] = outs.map((_, i) => (i === valueIdx ? onesLike(value) : null));
    const inCts = pullback(cts);
    const grads: any[] = [];
    offset = 0;
    perArg.forEach(([ls, def], ai) => {
      if (nums.includes(ai)) {
        grads[ai] = unflatten(def, ls.map((_, j) => inCts[offset + j] ?? lax.zerosLike(arrays[offset + j])));
      }
      offset += ls.length;
    });
    const g = typeof argnums === 'number' ? grads[nums[0]] : nums.map((n) => grads[n]);
    return [result, g];
  };
}

/** `grad(f, opts)(...args)`: gradient of a scalar function w.r.t. `argnums` (default 0). */
export function grad(f: (...args: any[]) => unknown, opts: GradOptions = {}): (...args: any[]) => any {
  const vg = valueAndGradImpl(f, opts, 'grad');
  return (...args: any[]) => {
    const [v, g] = vg(...args);
    return opts.hasAux ? [g, v[1]] : g;
  };
}

/** `valueAndGrad(f, opts)(...args)` → `[value, grads]` (with hasAux: `[[value, aux], grads]`). */
export function valueAndGrad(f: (...args: any[]) => unknown, opts: GradOptions = {}): (...args: any[]) => [any, any] {
  return valueAndGradImpl(f, opts, 'valueAndGrad');
}

/** Stops gradients through every array leaf of a pytree. */
export function stopGradient<T>(x: T): T {
  const [ls, def] = flatten(x);
  return unflatten<T>(def, ls.map((l) => (l instanceof Array ? lax.stopGradient(l) : l)));
}

/** Traces `f` for use as a sub-graph, closure-converting captured tracers into leading inputs. */
function traceSub(f: (...args: any[]) => unknown, args: unknown[], what: string) {
  const [leaves, inTree] = flatten(args);
  const arrays = leaves.map((l, i) => asArrayLeaf(l, `${what} argument leaf ${i}`));
  const graph = traceFlat(f, arrays.map((x) => leafAval(x, what)), inTree, `${what}(${f.name || 'fn'})`);
  const { graph: converted, captured } = closureConvert(graph);
  return { graph: converted, captured, arrays, inTree, outTree: graph.outTree as TreeDef };
}

/**
 * `checkpoint(f)` (rematerialization): the returned function computes `f`, but under autodiff
 * its intermediate values are not kept; the backward pass recomputes them from the inputs.
 */
export function checkpoint<F extends (...args: any[]) => any>(f: F): F {
  const wrapped = (...args: any[]) => {
    const { graph, captured, arrays, outTree } = traceSub(f, args, 'checkpoint');
    const outs = lax.remat(graph, [...captured, ...arrays]);
    return unflatten(outTree, outs);
  };
  return wrapped as F;
}

/**
 * Closure-converts several graphs traced in the same context together: every tracer any of them
 * captured becomes a leading input of all of them (in one shared order); concrete captured
 * values stay constants.
 */
function closureConvertJointly(graphs: Graph[]): { graphs: Graph[]; captured: Array[] } {
  const captured: Array[] = [];
  const index = new Map<Array, number>();
  for (const g of graphs) {
    for (const x of g.constValues) {
      if (x._data === null && !index.has(x)) {
        index.set(x, captured.length);
        captured.push(x);
      }
    }
  }
  const converted = graphs.map((g) => {
    const capVars = captured.map((c) => new Var(c.aval));
    const consts: Var[] = [];
    const values: Array[] = [];
    g.consts.forEach((v, i) => {
      const x = g.constValues[i];
      if (x._data === null) capVars[index.get(x)!] = v;
      else {
        consts.push(v);
        values.push(x);
      }
    });
    return new Graph([...capVars, ...g.inputs], consts, values, g.eqns, g.outputs, g.inTree, g.outTree);
  });
  return { graphs: converted, captured };
}

/**
 * `customVjp(f, fwd, bwd)`: `f` with a user-defined VJP. `fwd(...args)` returns
 * `[out, residuals]` (residuals: a pytree of arrays); `bwd(residuals, ctOut)` returns an array
 * with one cotangent pytree per argument (null for none). Inside a trace, `f`, `fwd` and `bwd`
 * are all traced at the call, so they may close over values of the enclosing computation (as
 * long as those are not being differentiated — pass such values as arguments instead).
 */
export function customVjp<F extends (...args: any[]) => any>(
  f: F,
  fwd: (...args: Parameters<F>) => [ReturnType<F>, any],
  bwd: (residuals: any, ct: any) => any[],
): F {
  const name = f.name || 'fn';
  const wrapped = (...args: any[]) => {
    // Outside any trace nothing can differentiate this call: just compute f.
    if (!currentTrace()) return f(...args);
    const [leaves, inTree] = flatten(args);
    const arrays = leaves.map((l, i) => asArrayLeaf(l, `customVjp argument leaf ${i}`));
    const inAvals = arrays.map((x) => leafAval(x, 'customVjp'));
    const primal = traceFlat(f, inAvals, inTree, `customVjp(${name})`);
    const outTree = primal.outTree as TreeDef;
    const nOut = primal.outputs.length;

    const fwdGraph = traceFlat(
      (...a: any[]) => {
        const r = (fwd as (...x: any[]) => unknown)(...a);
        if (!globalThis.Array.isArray(r) || r.length !== 2) throw new GradError(`customVjp(${name}): fwd must return [output, residuals]`);
        const [outLeaves, d] = flatten(r[0]);
        if (!treedefEqual(d, outTree)) throw new PytreeError(`customVjp(${name}): fwd's output structure ${treedefToString(d)} differs from f's ${treedefToString(outTree)}`);
        outLeaves.forEach((o, i) => {
          const want = primal.outputs[i].aval;
          const got = asArrayLeaf(o, `customVjp(${name}) fwd output leaf ${i}`);
          if (!shapeEqual(got.shape, want.shape) || got.dtype !== want.dtype) {
            throw new GradError(`customVjp(${name}): fwd's output leaf ${i} is ${fmtAval(got)} but f's is ${fmtAval(want)}`);
          }
        });
        const [resLeaves] = flatten(r[1]);
        resLeaves.forEach((l, i) => {
          if (!(l instanceof Array) && typeof l !== 'number' && typeof l !== 'boolean') {
            throw new GradError(`customVjp(${name}): residual leaf ${i} is ${typeof l}; residuals must be a pytree of arrays (pass other values through the closure)`);
          }
        });
        return r;
      },
      inAvals,
      inTree,
      `customVjp fwd(${fwd.name || 'fwd'})`,
    );
    const resTree = (fwdGraph.outTree as Extract<TreeDef, { kind: 'array' }>).children[1];
    const resAvals = fwdGraph.outputs.slice(nOut).map((o) => o.aval);

    const hasCt: boolean[] = [];
    const bwdGraph = traceFlat(
      (res: unknown, ct: unknown) => {
        const cts = bwd(res, ct);
        if (!globalThis.Array.isArray(cts)) throw new GradError(`customVjp(${name}): bwd must return an array with one cotangent per primal argument`);
        if (cts.length !== args.length) throw new GradError(`customVjp(${name}): bwd returned ${cts.length} cotangents for ${args.length} arguments`);
        const out: Array[] = [];
        let leaf = 0;
        cts.forEach((c, i) => {
          const n = numLeaves(flatten(args[i])[1]);
          if (c === null || c === undefined) {
            for (let j = 0; j < n; j++) hasCt.push(false);
            leaf += n;
            return;
          }
          const [cl] = flatten(c);
          if (cl.length !== n) throw new GradError(`customVjp(${name}): bwd's cotangent for argument ${i} has ${cl.length} leaves, the argument has ${n}`);
          cl.forEach((l, j) => {
            const want = inAvals[leaf++];
            let x = asArrayLeaf(l, `customVjp(${name}) bwd cotangent for argument ${i} leaf ${j}`);
            if (!shapeEqual(x.shape, want.shape)) throw new GradError(`customVjp(${name}): bwd's cotangent for argument ${i} leaf ${j} is ${fmtAval(x)} but the argument is ${fmtAval(want)}`);
            if (x.dtype !== want.dtype && isFloat(x.dtype) && isFloat(want.dtype)) x = lax.convert(x, want.dtype);
            const usable = x.dtype === want.dtype && isFloat(want.dtype);
            hasCt.push(usable);
            if (usable) out.push(x);
          });
        });
        return out;
      },
      [...resAvals, ...primal.outputs.map((o) => o.aval)],
      { kind: 'array', children: [resTree, outTree] },
      `customVjp bwd(${bwd.name || 'bwd'})`,
    );

    const { graphs, captured } = closureConvertJointly([primal, fwdGraph, bwdGraph]);
    const outs = lax.customVjpCall([...captured, ...arrays], {
      graph: graphs[0],
      fwd,
      bwd,
      _numCaptured: captured.length,
      _fwdGraph: graphs[1],
      _bwdGraph: graphs[2],
      _bwdHasCt: hasCt,
    });
    return unflatten(outTree, outs);
  };
  return wrapped as F;
}
