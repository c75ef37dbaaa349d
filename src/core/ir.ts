/**
 * The intermediate representation: a Graph is typed SSA over a closed set of primitives, like a
 * jaxpr. Input variables, captured constants, equations (primitive, typed params, input atoms,
 * output variables, the user's source line) and outputs. Graphs are plain data: every later stage
 * (autodiff replay, sharding, partitioning, lowering) reads them, and `toString()` prints them
 * readably, one equation per line with shapes and dtypes.
 */

import { SHORT_NAME, type DType } from './dtype.js';
import type { Shape } from './shape.js';
import type { Primitive, PrimitiveParams } from './primitives.js';
import type { Array as MArray } from './array.js';
import type { TreeDef } from './pytree.js';

/** Shape and dtype of a value, without data. */
export interface AbstractValue {
  readonly shape: Shape;
  readonly dtype: DType;
}

export function fmtAval(a: AbstractValue): string {
  return `${SHORT_NAME[a.dtype]}[${a.shape.join(',')}]`;
}

let nextVarId = 0;

/** An SSA variable: defined once (graph input, constant, or equation output). */
export class Var {
  readonly id = nextVarId++;
  constructor(readonly aval: AbstractValue) {}
}

/** A scalar constant written inline in an equation. */
export class Literal {
  constructor(readonly value: number, readonly aval: AbstractValue) {}
}

export type Atom = Var | Literal;

/** One equation: `outputs = prim[params](inputs)`. */
export interface Eqn<P extends Primitive = Primitive> {
  readonly prim: P;
  readonly params: PrimitiveParams[P];
  readonly inputs: readonly Atom[];
  readonly outputs: readonly Var[];
  /** The user's `file:line:col` that made this equation, when known. */
  readonly source?: string;
}

/** Options for printing a Graph. */
export interface PrintOptions {
  /** Append each equation's user source location as a comment. */
  source?: boolean;
  /** Text appended to each variable's declaration (e.g. its sharding); undefined appends nothing. */
  annotate?: (v: Var) => string | undefined;
}

/** A traced program. */
export class Graph {
  constructor(
    /** Positional inputs (the flattened leaves of the traced function's arguments). */
    readonly inputs: readonly Var[],
    /** Variables bound to captured values (constants or values of an enclosing trace). */
    readonly consts: readonly Var[],
    /** The captured values, in the order of `consts`. */
    readonly constValues: readonly MArray[],
    readonly eqns: readonly Eqn[],
    readonly outputs: readonly Atom[],
    /** Pytree structure of the arguments (when traced from a function of pytrees). */
    readonly inTree?: TreeDef,
    /** Pytree structure of the result. */
    readonly outTree?: TreeDef,
  ) {}

  get inAvals(): AbstractValue[] {
    return this.inputs.map((v) => v.aval);
  }
  get outAvals(): AbstractValue[] {
    return this.outputs.map((v) => v.aval);
  }

  /** Readable text, jaxpr-like: `{ lambda consts ; inputs . let eqns in (outputs) }`. */
  toString(opts: PrintOptions = {}): string {
    return printGraph(this, opts, '');
  }
}

/** Names variables a, b, …, z, ba, bb, … in order of first appearance. */
class Namer {
  private names = new Map<Var, string>();
  name(v: Var): string {
    let n = this.names.get(v);
    if (n === undefined) {
      n = varName(this.names.size);
      this.names.set(v, n);
    }
    return n;
  }
}

function varName(i: number): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  let s = '';
  do {
    s = letters[i % 26] + s;
    i = Math.floor(i / 26);
  } while (i > 0);
  return s;
}

function fmtLiteral(l: Literal): string {
  const v = l.aval.dtype === 'bool' ? (l.value ? 'true' : 'false') : Number.isInteger(l.value) && (l.aval.dtype === 'float32' || l.aval.dtype === 'float64') ? l.value.toFixed(1) : String(l.value);
  return `${v}:${SHORT_NAME[l.aval.dtype]}`;
}

function fmtParam(v: unknown): string {
  if (Array.isArray(v)) return `(${v.map(fmtParam).join(',')}${v.length === 1 ? ',' : ''})`;
  if (v instanceof Graph) return '{graph}';
  if (typeof v === 'function') return v.name || 'fn';
  if (v === null) return 'None';
  if (typeof v === 'object' && (v as object).toString !== Object.prototype.toString) return String(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

function printGraph(g: Graph, opts: PrintOptions, indent: string): string {
  const namer = new Namer();
  const atom = (a: Atom) => (a instanceof Literal ? fmtLiteral(a) : namer.name(a));
  const decl = (v: Var) => `${namer.name(v)}:${fmtAval(v.aval)}${opts.annotate?.(v) ?? ''}`;
  const head = `${indent}{ lambda ${g.consts.map(decl).join(' ')}${g.consts.length ? ' ' : ''}; ${g.inputs.map(decl).join(' ')}. let`;
  const lines = [head];
  for (const e of g.eqns) {
    const params = Object.entries(e.params as object)
      .filter(([k]) => !k.startsWith('_'))
      .map(([k, v]) => `${snake(k)}=${fmtParam(v)}`);
    const outs = e.outputs.map(decl).join(' ');
    let line = `${indent}    ${outs} = ${e.prim}${params.length ? `[${params.join(' ')}]` : ''} ${e.inputs.map(atom).join(' ')}`.trimEnd();
    const sub = (e.params as { graph?: unknown }).graph;
    if (sub instanceof Graph) line += '\n' + printGraph(sub, opts, indent + '      ');
    if (opts.source && e.source) line += `  # ${e.source}`;
    lines.push(line);
  }
  lines.push(`${indent}  in (${g.outputs.map(atom).join(', ')}${g.outputs.length === 1 ? ',' : ''}) }`);
  return lines.join('\n');
}
