/**
 * Tracing: `bind` is the single entry point through which every primitive is applied. With no
 * trace active it evaluates eagerly on concrete arrays (reference interpreter, or a backend
 * installed with `setEagerEvaluator`); inside a trace it records an equation into the innermost
 * active GraphBuilder and returns tracers. Values from enclosing traces or concrete arrays used
 * inside a trace are captured as constants of the inner Graph (closure conversion), so nested
 * transformations (grad of grad, makeGraph of grad) compose by replaying Graphs with `evalGraph`.
 */

import { Array, ShapeDtypeStruct, type TraceLike } from './array.js';
import { defaultScalarDtype, type DType, type TypedArray } from './dtype.js';
import { MyriadError, PytreeError, TracerError, userSourceLocation } from './errors.js';
import { Graph, Literal, Var, fmtAval, type AbstractValue, type Atom, type Eqn } from './ir.js';
import { shapeRules, type Primitive, type PrimitiveParams } from './primitives.js';
import { flatten, unflatten, treedefToString, type TreeDef } from './pytree.js';

/** Evaluates one primitive on concrete arrays, returning output storage. */
export type EagerEvaluator = <P extends Primitive>(prim: P, inputs: Array[], params: PrimitiveParams[P], outAvals: AbstractValue[]) => TypedArray[];

let eagerEvaluator: EagerEvaluator | null = null;

/** Installs the evaluator used for eager (untraced) primitive applications. */
export function setEagerEvaluator(e: EagerEvaluator): void {
  eagerEvaluator = e;
}

/** Records equations for one trace level. */
export class GraphBuilder implements TraceLike {
  readonly inputs: Var[] = [];
  readonly eqns: Eqn[] = [];
  readonly consts: Var[] = [];
  readonly constValues: Array[] = [];
  private readonly captured = new Map<Array, Var>();
  active = true;
  constructor(readonly description: string) {}

  /** Adds a graph input and returns its tracer. */
  addInput(aval: AbstractValue): Array {
    const v = new Var({ shape: [...aval.shape], dtype: aval.dtype });
    this.inputs.push(v);
    return Array.tracer(this, v);
  }

  /** The atom standing for `x` in this trace, capturing outer values as constants. */
  atom(x: Array): Atom {
    if (x._trace === this) return x._var!;
    if (x._trace !== null && !x._trace.active) {
      throw new TracerError(
        `a traced value ${fmtAval(x)} from ${x._trace.description} escaped its trace (it was stored outside the traced function and used later). ` +
          'Return it from the function instead of saving it in an outer variable.',
      );
    }
    if (x._data !== null && x.ndim === 0) return new Literal(x._data[0], x.aval);
    let v = this.captured.get(x);
    if (!v) {
      v = new Var(x.aval);
      this.captured.set(x, v);
      this.consts.push(v);
      this.constValues.push(x);
    }
    return v;
  }

  /** Finishes the graph with the given output arrays (tracers or captured values). */
  finish(outputs: Array[], inTree?: TreeDef, outTree?: TreeDef): Graph {
    const outAtoms = outputs.map((o) => this.atom(o));
    return new Graph(this.inputs, this.consts, this.constValues, this.eqns, outAtoms, inTree, outTree);
  }
}

const traceStack: GraphBuilder[] = [];
let sourceOverride: string | undefined;

/** The innermost active trace, if any. */
export function currentTrace(): GraphBuilder | undefined {
  return traceStack[traceStack.length - 1];
}

/** Runs `fn` with `builder` as the innermost trace. */
export function withTrace<T>(builder: GraphBuilder, fn: () => T): T {
  traceStack.push(builder);
  try {
    return fn();
  } finally {
    traceStack.pop();
    builder.active = false;
  }
}

/** Runs `fn` attributing every equation it records to `source` (used when replaying graphs). */
export function withSource<T>(source: string | undefined, fn: () => T): T {
  if (source === undefined) return fn();
  const saved = sourceOverride;
  sourceOverride = source;
  try {
    return fn();
  } finally {
    sourceOverride = saved;
  }
}

function annotate(err: unknown, prim: Primitive, inputs: Array[], source: string | undefined): never {
  if (err instanceof MyriadError && !(err as { _annotated?: boolean })._annotated) {
    const where = source ?? sourceOverride ?? userSourceLocation();
    const operands = inputs.length ? ` (operands: ${inputs.map((x) => fmtAval(x)).join(', ')})` : '';
    err.message = `${err.message.startsWith(prim) ? '' : `${prim}: `}${err.message}${operands}${where ? `\n  at ${where}` : ''}`;
    (err as { _annotated?: boolean })._annotated = true;
  }
  throw err;
}

/**
 * Applies a primitive. Eager on concrete inputs when no trace is active; otherwise records an
 * equation in the innermost trace. Always returns the list of outputs.
 */
export function bind<P extends Primitive>(prim: P, inputs: Array[], params: PrimitiveParams[P]): Array[] {
  const top = traceStack[traceStack.length - 1];
  let outAvals: AbstractValue[];
  try {
    outAvals = (shapeRules[prim] as (i: AbstractValue[], p: PrimitiveParams[P]) => AbstractValue[])(inputs.map((x) => x.aval), params);
  } catch (e) {
    annotate(e, prim, inputs, undefined);
  }
  if (!top) {
    for (const x of inputs) {
      if (x._data === null) {
        throw new TracerError(
          `${prim}: a traced value ${fmtAval(x)} from ${x._trace?.description ?? 'a finished trace'} escaped its trace and was used outside it. ` +
            'Return it from the traced function instead of saving it in an outer variable.',
        );
      }
    }
    if (!eagerEvaluator) throw new Error('internal: no eager evaluator installed (import from myriad)');
    let outs: TypedArray[];
    try {
      outs = eagerEvaluator(prim, inputs, params, outAvals);
    } catch (e) {
      annotate(e, prim, inputs, undefined);
    }
    return outs.map((d, i) => Array.fromData(d, outAvals[i].shape, outAvals[i].dtype));
  }
  const source = sourceOverride ?? userSourceLocation();
  const atoms = inputs.map((x) => top.atom(x));
  const outVars = outAvals.map((a) => new Var(a));
  top.eqns.push({ prim, params, inputs: atoms, outputs: outVars, source });
  return outVars.map((v) => Array.tracer(top, v));
}

/** `bind` for single-output primitives. */
export function bind1<P extends Primitive>(prim: P, inputs: Array[], params: PrimitiveParams[P]): Array {
  return bind(prim, inputs, params)[0];
}

/** Converts a pytree leaf given as a function argument into an abstract value. */
export function leafAval(leaf: unknown, where: string): AbstractValue {
  if (leaf instanceof Array || leaf instanceof ShapeDtypeStruct) return { shape: leaf.shape, dtype: leaf.dtype };
  if (typeof leaf === 'number' || typeof leaf === 'boolean') return { shape: [], dtype: defaultScalarDtype(leaf) };
  throw new PytreeError(`${where}: argument leaves must be arrays, numbers or booleans (or ShapeDtypeStruct), got ${describe(leaf)}; pass non-array values through a closure or as static arguments`);
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (typeof x === 'object') return (x as object).constructor?.name ?? 'object';
  return `${typeof x} ${JSON.stringify(x)}`;
}

/** Converts a leaf to an Array (numbers/booleans become scalars). */
export function asArrayLeaf(leaf: unknown, where: string): Array {
  if (leaf instanceof Array) return leaf;
  if (typeof leaf === 'number' || typeof leaf === 'boolean') return Array.scalar(leaf);
  throw new PytreeError(`${where}: expected an array, number or boolean, got ${describe(leaf)}`);
}

/**
 * Traces `fn` applied to pytree arguments with the given leaf avals. Returns the Graph, whose
 * inTree/outTree record the argument and result structures.
 */
export function traceFlat(fn: (...args: any[]) => unknown, inAvals: AbstractValue[], inTree: TreeDef, description: string): Graph {
  const builder = new GraphBuilder(description);
  return withTrace(builder, () => {
    const tracers = inAvals.map((a) => builder.addInput(a));
    const args = unflatten<any[]>(inTree, tracers);
    const out = fn(...args);
    const [outLeaves, outTree] = flatten(out);
    const outs = outLeaves.map((l, i) => {
      if (l instanceof Array) return l;
      if (typeof l === 'number' || typeof l === 'boolean') return Array.scalar(l);
      throw new PytreeError(`${description}: output leaf ${i} of structure ${treedefToString(outTree)} is ${describe(l)}; traced functions must return arrays, numbers or booleans`);
    });
    return builder.finish(outs, inTree, outTree);
  });
}

/**
 * `makeGraph(fn)(...args)` traces `fn` on arguments (pytrees of arrays, numbers, booleans or
 * ShapeDtypeStructs) and returns its Graph; `graph.toString()` prints it like a jaxpr.
 */
export function makeGraph(fn: (...args: any[]) => unknown): (...args: any[]) => Graph {
  return (...args: any[]) => {
    const [argLeaves, inTree] = flatten(args);
    const avals = argLeaves.map((l, i) => leafAval(l, `makeGraph argument leaf ${i}`));
    return traceFlat(fn, avals, inTree, `makeGraph(${fn.name || 'fn'})`);
  };
}

/**
 * Evaluates `graph` on `args` in the current context: eagerly when no trace is active, or by
 * re-recording its equations into the current trace. Returns the flat outputs.
 */
export function evalGraph(graph: Graph, args: Array[]): Array[] {
  if (args.length !== graph.inputs.length) throw new TracerError(`evalGraph: graph takes ${graph.inputs.length} inputs, got ${args.length}`);
  const env = new Map<Var, Array>();
  graph.inputs.forEach((v, i) => env.set(v, args[i]));
  graph.consts.forEach((v, i) => env.set(v, graph.constValues[i]));
  const read = (a: Atom): Array => (a instanceof Literal ? Array.scalar(a.value, a.aval.dtype) : env.get(a)!);
  for (const e of graph.eqns) {
    const outs = withSource(e.source, () => bind(e.prim, e.inputs.map(read), e.params as never));
    e.outputs.forEach((v, i) => env.set(v, outs[i]));
  }
  return graph.outputs.map(read);
}

/** Makes a concrete scalar of a given dtype. */
export function scalar(value: number | boolean, dtype?: DType): Array {
  return Array.scalar(value, dtype);
}

/**
 * Closure conversion for sub-graphs (remat, custom_vjp): captured values that are tracers of an
 * enclosing trace become leading explicit inputs, so the sub-graph can be replayed later in any
 * context. Concrete captured values stay constants.
 */
export function closureConvert(g: Graph): { graph: Graph; captured: Array[] } {
  const capVars: Var[] = [];
  const captured: Array[] = [];
  const consts: Var[] = [];
  const values: Array[] = [];
  g.consts.forEach((v, i) => {
    const x = g.constValues[i];
    if (x._data === null) {
      capVars.push(v);
      captured.push(x);
    } else {
      consts.push(v);
      values.push(x);
    }
  });
  return { graph: new Graph([...capVars, ...g.inputs], consts, values, g.eqns, g.outputs, g.inTree, g.outTree), captured };
}
