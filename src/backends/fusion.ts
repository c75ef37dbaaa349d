/**
 * Host epilogue fusion: the memory-bound elementwise tail of a jitted Graph (an optimizer update:
 * AdamW with global-norm clipping is ~18 full-size Mul/Add/Div/Sqrt passes in ONNX Runtime, whose
 * CPU provider fuses no elementwise ops) is cut off and run as one generated WebAssembly SIMD
 * kernel per group of connected large values, which reads every input element once and writes
 * every output element once — into the buffers of donated inputs where it can, so new parameters
 * and optimizer state overwrite the old ones in place. `splitEpilogue` finds the tail (a backward
 * closure from the outputs over exactly rounded elementwise primitives with large outputs) and
 * returns the remaining "head" Graph, which the 'onnx' backend compiles as before, plus a
 * plain-data `Epilogue` (equations, reads, writes, a readable listing and the kernel bytes);
 * `createFusedExecutable` runs the head, then the kernels. `epiloguePlan` turns a split into
 * structured-cloneable data (no Graph objects) and `runLoops` runs the kernels of a plan given
 * their operands and a buffer policy: the single-device executable and the Mesh's device workers
 * (src/runtime/worker.ts, for the segment after a program's last collective) both run through
 * it, so this file alone knows the kernels' ABI. WebAssembly rather than a JS loop:
 * JS computes in float64, so float32 semantics need a `Math.fround` after every operation, and
 * those conversions make a bit-exact JS loop slower than ONNX Runtime on this 2-core machine
 * (AdamW over 1M float32: JS 17.7 ms, ONNX Runtime 13.5 ms), while f32x4 arithmetic rounds each
 * operation to float32 in hardware, like ONNX Runtime's kernels (2.8 ms, bit-identical). Typed
 * arrays cannot be lent to WebAssembly, so each kernel streams its arrays through its own linear
 * memory in cache-sized chunks.
 */

import { Array } from '../core/array.js';
import { allocate, castScalar, dtypeOfTypedArray, type DType, type TypedArray } from '../core/dtype.js';
import { MyriadError } from '../core/errors.js';
import { Graph, Literal, fmtAval, type AbstractValue, type Atom, type Eqn, type Var } from '../core/ir.js';
import { dce } from '../core/passes.js';
import type { Primitive } from '../core/primitives.js';
import { sizeOf } from '../core/shape.js';
import type { Executable } from '../core/jit.js';

/** Errors of host epilogue fusion (bad options, inputs that do not match the compiled graph). */
export class FusionError extends MyriadError {}

/**
 * Default smallest element count of a value computed in an epilogue kernel. Measured on this
 * 2-core machine: an AdamW update breaks even at ~1k elements and is 2.5× faster at 16k; a
 * two-op tail is even with ONNX Runtime up to ~32k and 1.3–1.4× faster from 256k.
 */
export const DEFAULT_MIN_ELEMENTS = 1 << 14;

/** Default smallest number of computing (non-identity) equations a kernel must have (one op never pays). */
export const DEFAULT_MIN_OPS = 2;

/** Elements per chunk streamed through a kernel's memory (2k–16k measured equal; 16 KiB of float32 per array). */
export const CHUNK_ELEMENTS = 4096;

/** Options of `splitEpilogue`. */
export interface SplitOptions {
  /** Smallest element count of an epilogue value (default `DEFAULT_MIN_ELEMENTS`, at least 2). */
  minElements?: number;
  /** Smallest number of computing equations per kernel (default `DEFAULT_MIN_OPS`, at least 1). */
  minOps?: number;
}

/** Where an epilogue kernel reads a value from. */
export type EpilogueSource =
  /** The compiled graph's flat input `index`. */
  | { kind: 'input'; index: number }
  /** The graph's captured constant `index` (in `graph.consts`). */
  | { kind: 'const'; index: number }
  /** Output `index` of the head Graph. */
  | { kind: 'head'; index: number };

/** One value a kernel reads: per element (`arrays`) or once (`scalars`, broadcast into the loop). */
export interface EpilogueRead {
  readonly source: EpilogueSource;
  readonly aval: AbstractValue;
}

/** One graph output a kernel writes. */
export interface EpilogueWrite {
  /** Position in the compiled graph's outputs. */
  readonly position: number;
  readonly aval: AbstractValue;
  /**
   * Buffers this output may overwrite, nearest first: indices into the kernel's `arrays` of
   * values it depends on (donated inputs and head temporaries qualify at run time).
   */
  readonly inPlace: readonly number[];
}

/**
 * What running one kernel needs, as plain data (no Graph objects, so it can be posted to a worker
 * thread): a loop over a group of connected values of the same element count and float type.
 */
export interface LoopPlan {
  /** Element count of every value in the loop. */
  readonly size: number;
  /** The float type of the loop's values (bools are lane masks of this width). */
  readonly dtype: 'float32' | 'float64';
  /** Values read at every index i. */
  readonly arrays: readonly EpilogueRead[];
  /** Values read once. */
  readonly scalars: readonly EpilogueRead[];
  /** Graph outputs written. */
  readonly writes: readonly EpilogueWrite[];
  /** A readable listing of the per-element program. */
  readonly listing: string;
  /** The kernel: a WebAssembly module (memory imported as m.mem, function `k`). */
  readonly wasm: Uint8Array;
  /** Byte offsets in the kernel's memory of each array's and each write's chunk. */
  readonly layout: { readonly arrays: readonly number[]; readonly writes: readonly number[]; readonly bytes: number };
}

/** One kernel as `splitEpilogue` makes it: its plan plus the equations it computes. */
export interface EpilogueLoop extends LoopPlan {
  /** A representative shape of the loop's values (for printing). */
  readonly shape: readonly number[];
  /** The equations the loop computes, in graph order. */
  readonly eqns: readonly Eqn[];
}

/** Where each output of the compiled graph comes from. */
export type OutputRoute = { readonly from: 'head'; readonly index: number } | { readonly from: 'loop'; readonly loop: number; readonly write: number };

/** Computing equations (identities, reshapes and broadcasts do not count). */
function computing(eqns: readonly Eqn[]): number {
  return eqns.filter((e) => !IDENTITY_PRIMS.has(e.prim)).length;
}

function fmtSource(s: EpilogueSource): string {
  return `${s.kind} ${s.index}`;
}

/** The part of a graph that runs as generated kernels after the head (plain data). */
export class Epilogue {
  constructor(
    /** The kernels, in the order they run. */
    readonly loops: readonly EpilogueLoop[],
    /** One route per output of the original graph. */
    readonly routes: readonly OutputRoute[],
    /** Original input indices the head takes, in the head's input order. */
    readonly headInputs: readonly number[],
    /** Number of equations left in the head. */
    readonly headEqns: number,
    /** Head outputs that are not outputs of the original graph (read by the kernels only). */
    readonly headTemps: readonly number[],
    /** The `minElements` the split used. */
    readonly minElements: number,
  ) {}

  /** Number of equations moved into kernels. */
  get numEqns(): number {
    return this.loops.reduce((s, l) => s + l.eqns.length, 0);
  }

  /** Readable summary: per kernel its shape class, equations, reads and writes (and listing). */
  toString(opts: { listing?: boolean } = {}): string {
    const lines = [
      `host epilogue: ${this.loops.length} kernel(s), ${this.numEqns} equation(s) (${this.loops.reduce((s, l) => s + computing(l.eqns), 0)} computing, min ${this.minElements} elements); head keeps ${this.headEqns} equation(s), takes ${this.headInputs.length} input(s), hands ${this.headTemps.length} temporary value(s) to the kernels`,
    ];
    this.loops.forEach((l, k) => {
      const counts = new Map<string, number>();
      for (const e of l.eqns) counts.set(e.prim, (counts.get(e.prim) ?? 0) + 1);
      const prims = [...counts].map(([p, c]) => (c > 1 ? `${p}×${c}` : p)).join(' ');
      lines.push(`  kernel ${k}: ${l.dtype} ${l.size} elements [${l.shape.join(',')}], ${l.eqns.length} equation(s): ${prims}`);
      lines.push(`    per element: ${l.arrays.map((r) => `${fmtSource(r.source)} ${fmtAval(r.aval)}`).join(', ') || '(none)'}`);
      lines.push(`    scalars: ${l.scalars.map((r) => `${fmtSource(r.source)} ${fmtAval(r.aval)}`).join(', ') || '(none)'}`);
      lines.push(`    writes: ${l.writes.map((w) => `output ${w.position} ${fmtAval(w.aval)}${w.inPlace.length ? ` (in place of ${w.inPlace.map((j) => fmtSource(l.arrays[j].source)).join(' | ')})` : ''}`).join(', ')}`);
      if (opts.listing) lines.push(l.listing.replace(/^/gm, '      '));
    });
    return lines.join('\n');
  }
}

/** The result of `splitEpilogue`: the head Graph (compiled by ONNX Runtime) and the kernels. */
export interface EpilogueSplit {
  head: Graph;
  epilogue: Epilogue;
}

// ---------------------------------------------------------------------------------------------
// which equations may run in a kernel

const LOOP_DTYPES: ReadonlySet<DType> = new Set<DType>(['float32', 'float64', 'bool']);
const FLOAT_BINARY: ReadonlySet<Primitive> = new Set<Primitive>(['add', 'sub', 'mul', 'div', 'max', 'min']);
const FLOAT_UNARY: ReadonlySet<Primitive> = new Set<Primitive>(['neg', 'abs', 'sign', 'floor', 'ceil', 'round', 'sqrt']);
const BOOL_OPS: ReadonlySet<Primitive> = new Set<Primitive>(['not', 'and', 'or', 'xor']);
const COMPARES: ReadonlySet<Primitive> = new Set<Primitive>(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
const IDENTITY_PRIMS: ReadonlySet<Primitive> = new Set<Primitive>(['stop_gradient', 'sharding_constraint', 'reshape', 'broadcast_in_dim']);

const isFloatDt = (d: DType): d is 'float32' | 'float64' => d === 'float32' || d === 'float64';

/** Whether `e` can be computed elementwise in a kernel (dtypes and shapes only, not size). */
function loopable(e: Eqn): boolean {
  if (e.outputs.length !== 1) return false;
  const out = e.outputs[0].aval;
  const n = sizeOf(out.shape);
  const ins = e.inputs.map((a) => a.aval);
  if (!LOOP_DTYPES.has(out.dtype) || ins.some((a) => !LOOP_DTYPES.has(a.dtype))) return false;
  // every operand is in the loop's index space, except a broadcast scalar
  if (e.prim === 'broadcast_in_dim') return ins[0].dtype === out.dtype && (sizeOf(ins[0].shape) === n || sizeOf(ins[0].shape) === 1);
  if (ins.some((a) => sizeOf(a.shape) !== n)) return false;
  const p = e.prim;
  if (FLOAT_BINARY.has(p) || FLOAT_UNARY.has(p)) return isFloatDt(out.dtype) && ins.every((a) => a.dtype === out.dtype);
  if (BOOL_OPS.has(p)) return out.dtype === 'bool';
  if (COMPARES.has(p)) return out.dtype === 'bool' && ins[0].dtype === ins[1].dtype;
  if (p === 'is_finite') return isFloatDt(ins[0].dtype);
  if (p === 'select') return ins[0].dtype === 'bool' && ins[1].dtype === out.dtype && ins[2].dtype === out.dtype;
  // bool ↔ float and same-type conversions (float32 ↔ float64 would need two lane widths)
  if (p === 'convert_element_type') return ins[0].dtype === out.dtype || ins[0].dtype === 'bool' || out.dtype === 'bool';
  if (IDENTITY_PRIMS.has(p)) return ins[0].dtype === out.dtype;
  return false;
}

/** The parts of the WebAssembly JS API the kernels use (this project's TypeScript libs omit it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (d: { initial: number; maximum?: number }) => { buffer: ArrayBuffer };
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let simdSupported: boolean | null = null;
/** Whether this runtime validates WebAssembly SIMD (Node ≥ 16.4 does). */
export function wasmSimdSupported(): boolean {
  if (simdSupported === null) {
    // (module (func (result v128) v128.const i64x2 0 0))
    const probe = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, ...new globalThis.Array<number>(16).fill(0), 11]);
    simdSupported = wasmApi !== undefined && wasmApi.validate(probe);
  }
  return simdSupported;
}

// ---------------------------------------------------------------------------------------------
// the split

/**
 * Splits `graph` into a head Graph and an elementwise epilogue, or returns null when no
 * kernel would pay (fewer than `minOps` computing equations per group, no value of at least
 * `minElements` elements in the tail) or WebAssembly SIMD is unavailable. An equation joins the
 * epilogue when it is loopable (see the file header), its output has at least `minElements`
 * elements and every consumer of its output is an epilogue equation or a graph output (bool
 * values must stay inside the kernels). Groups of connected equations (sharing values or
 * per-element reads) become one kernel each; a group mixing float32 and float64 stays in the
 * head. The head's outputs are the original outputs not computed by kernels, followed by every
 * head value the kernels read.
 */
export function splitEpilogue(graph: Graph, opts: SplitOptions = {}): EpilogueSplit | null {
  const minElements = opts.minElements ?? DEFAULT_MIN_ELEMENTS;
  const minOps = opts.minOps ?? DEFAULT_MIN_OPS;
  if (!Number.isInteger(minElements) || minElements < 2) throw new FusionError(`splitEpilogue: minElements must be an integer ≥ 2 (scalars are read once, not looped over), got ${minElements}`);
  if (!Number.isInteger(minOps) || minOps < 1) throw new FusionError(`splitEpilogue: minOps must be a positive integer, got ${minOps}`);
  if (!wasmSimdSupported()) return null;

  const outputVars = new Set<Var>();
  for (const o of graph.outputs) if (!(o instanceof Literal)) outputVars.add(o);
  const consumers = new Map<Var, Eqn[]>();
  for (const e of graph.eqns) {
    for (const a of e.inputs) {
      if (a instanceof Literal) continue;
      let l = consumers.get(a);
      if (!l) consumers.set(a, (l = []));
      l.push(e);
    }
  }

  // backward closure from the outputs
  let epi = new Set<Eqn>();
  for (let i = graph.eqns.length - 1; i >= 0; i--) {
    const e = graph.eqns[i];
    if (!loopable(e)) continue;
    const v = e.outputs[0];
    if (sizeOf(v.aval.shape) < minElements) continue;
    if (outputVars.has(v) && v.aval.dtype === 'bool') continue;
    if ((consumers.get(v) ?? []).every((c) => epi.has(c))) epi.add(e);
  }
  if (epi.size === 0) return null;

  // connected groups (shared values or shared per-element reads), in graph order
  const producer = new Map<Var, Eqn>();
  for (const e of graph.eqns) for (const o of e.outputs) producer.set(o, e);
  const parent = new Map<Eqn, Eqn>();
  const find = (e: Eqn): Eqn => {
    let r = e;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(e, r);
    return r;
  };
  const union = (a: Eqn, b: Eqn) => parent.set(find(a), find(b));
  const readers = new Map<Var, Eqn>(); // first epilogue reader of each external per-element value
  const epiEqns = graph.eqns.filter((e) => epi.has(e));
  for (const e of epiEqns) parent.set(e, e);
  for (const e of epiEqns) {
    for (const a of e.inputs) {
      if (a instanceof Literal || isScalarRead(e, a)) continue;
      const p = producer.get(a);
      if (p && epi.has(p)) union(e, p);
      else {
        const r = readers.get(a);
        if (r) union(e, r);
        else readers.set(a, e);
      }
    }
  }
  const groups = new Map<Eqn, Eqn[]>();
  for (const e of epiEqns) {
    const r = find(e);
    let g = groups.get(r);
    if (!g) groups.set(r, (g = []));
    g.push(e);
  }
  const floatTypes = (g: Eqn[]) => new Set(g.flatMap((e) => [...e.inputs, ...e.outputs].map((a) => a.aval.dtype)).filter(isFloatDt));
  const kept = [...groups.values()].filter((g) => computing(g) >= minOps && floatTypes(g).size === 1);
  if (kept.length === 0) return null;
  epi = new Set(kept.flat());

  // head values the kernels read; head outputs = original outputs not in kernels + those values
  const inputIndex = new Map<Var, number>(graph.inputs.map((v, i) => [v, i]));
  const constIndex = new Map<Var, number>(graph.consts.map((v, i) => [v, i]));
  const epiVars = new Set<Var>();
  for (const e of epi) for (const o of e.outputs) epiVars.add(o);
  const headOutputs: Atom[] = [];
  const routes: OutputRoute[] = [];
  const headIndexOf = new Map<Var, number>();
  const loopOfVar = new Map<Var, number>();
  kept.forEach((g, k) => g.forEach((e) => loopOfVar.set(e.outputs[0], k)));
  const writesPerLoop: { position: number; v: Var }[][] = kept.map(() => []);
  graph.outputs.forEach((o, pos) => {
    if (!(o instanceof Literal) && epiVars.has(o)) {
      const k = loopOfVar.get(o)!;
      routes.push({ from: 'loop', loop: k, write: writesPerLoop[k].length });
      writesPerLoop[k].push({ position: pos, v: o });
    } else {
      if (!(o instanceof Literal) && !headIndexOf.has(o)) headIndexOf.set(o, headOutputs.length);
      routes.push({ from: 'head', index: headOutputs.length });
      headOutputs.push(o);
    }
  });
  const headTemps: number[] = [];
  const sourceOf = (v: Var): EpilogueSource => {
    const i = inputIndex.get(v);
    if (i !== undefined) return { kind: 'input', index: i };
    const c = constIndex.get(v);
    if (c !== undefined) return { kind: 'const', index: c };
    let h = headIndexOf.get(v);
    if (h === undefined) {
      h = headOutputs.length;
      headIndexOf.set(v, h);
      headTemps.push(h);
      headOutputs.push(v);
    }
    return { kind: 'head', index: h };
  };

  const loops = kept.map((g, k) => buildLoop(g, writesPerLoop[k], epiVars, sourceOf, [...floatTypes(g)][0]));

  let head = dce(new Graph(graph.inputs, graph.consts, graph.constValues, graph.eqns.filter((e) => !epi.has(e)), headOutputs));
  // the head takes only the inputs it uses
  const used = new Set<Var>();
  for (const e of head.eqns) for (const a of e.inputs) if (!(a instanceof Literal)) used.add(a);
  for (const o of head.outputs) if (!(o instanceof Literal)) used.add(o);
  const headInputs = graph.inputs.map((v, i) => (used.has(v) ? i : -1)).filter((i) => i >= 0);
  head = new Graph(headInputs.map((i) => graph.inputs[i]), head.consts, head.constValues, head.eqns, head.outputs);
  return { head, epilogue: new Epilogue(loops, routes, headInputs, head.eqns.length, headTemps, minElements) };
}

/** Whether operand `a` of epilogue equation `e` is read once (a scalar broadcast into the loop). */
function isScalarRead(e: Eqn, a: Atom): boolean {
  return e.prim === 'broadcast_in_dim' && sizeOf(a.aval.shape) !== sizeOf(e.outputs[0].aval.shape);
}

// ---------------------------------------------------------------------------------------------
// WebAssembly encoding (the few pieces a kernel needs)

function uleb(n: number, out: number[]): void {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

function sleb(n: number, out: number[]): void {
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

const T_I32 = 0x7f;
const T_F32 = 0x7d;
const T_F64 = 0x7c;
const T_V128 = 0x7b;

/** SIMD opcodes (after the 0xfd prefix) shared by both float widths. */
const V = {
  load: 0x00, load16Splat: 0x08, store: 0x0b, const: 0x0c,
  i32x4Splat: 0x11, i64x2Splat: 0x12,
  i8x16Ne: 0x24,
  not: 0x4d, and: 0x4e, andnot: 0x4f, or: 0x50, xor: 0x51, bitselect: 0x52,
  load32Zero: 0x5c,
  i16x8ExtendLowI8x16S: 0x87, i32x4ExtendLowI16x8S: 0xa7, i64x2ExtendLowI32x4S: 0xc7,
} as const;

/** Per-width float SIMD opcodes. */
interface FloatOps {
  eq: number; ne: number; lt: number; gt: number; le: number; ge: number;
  ceil: number; floor: number; abs: number; neg: number; sqrt: number;
  add: number; sub: number; mul: number; div: number; min: number; max: number; splat: number;
}
const F32X4: FloatOps = { eq: 0x41, ne: 0x42, lt: 0x43, gt: 0x44, le: 0x45, ge: 0x46, ceil: 0x67, floor: 0x68, abs: 0xe0, neg: 0xe1, sqrt: 0xe3, add: 0xe4, sub: 0xe5, mul: 0xe6, div: 0xe7, min: 0xe8, max: 0xe9, splat: 0x13 };
const F64X2: FloatOps = { eq: 0x47, ne: 0x48, lt: 0x49, gt: 0x4a, le: 0x4b, ge: 0x4c, ceil: 0x74, floor: 0x75, abs: 0xec, neg: 0xed, sqrt: 0xef, add: 0xf0, sub: 0xf1, mul: 0xf2, div: 0xf3, min: 0xf4, max: 0xf5, splat: 0x14 };

/** A function body being emitted. */
class Code {
  readonly b: number[] = [];
  op(...bytes: number[]): this {
    this.b.push(...bytes);
    return this;
  }
  simd(op: number): this {
    this.b.push(0xfd);
    uleb(op, this.b);
    return this;
  }
  /** A SIMD memory instruction with its memarg (log2 alignment, constant offset). */
  mem(op: number, align: number, offset: number): this {
    this.simd(op);
    uleb(align, this.b);
    uleb(offset, this.b);
    return this;
  }
  get(local: number): this {
    this.b.push(0x20);
    uleb(local, this.b);
    return this;
  }
  set(local: number): this {
    this.b.push(0x21);
    uleb(local, this.b);
    return this;
  }
  i32(v: number): this {
    this.b.push(0x41);
    sleb(v, this.b);
    return this;
  }
  v128(bytes: readonly number[]): this {
    this.simd(V.const);
    this.b.push(...bytes);
    return this;
  }
}

function section(id: number, body: number[], out: number[]): void {
  out.push(id);
  uleb(body.length, out);
  out.push(...body);
}

function name(s: string, out: number[]): void {
  uleb(s.length, out);
  for (const c of s) out.push(c.charCodeAt(0));
}

/** A module importing memory `m.mem` (at least `pages` pages) and exporting function `k`. */
function wasmModule(params: number[], locals: [number, number][], body: number[], pages: number): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const type: number[] = [1, 0x60];
  uleb(params.length, type);
  type.push(...params, 0);
  section(1, type, out);
  const imp: number[] = [1];
  name('m', imp);
  name('mem', imp);
  imp.push(0x02, 0x00);
  uleb(pages, imp);
  section(2, imp, out);
  section(3, [1, 0], out);
  const exp: number[] = [1];
  name('k', exp);
  exp.push(0x00, 0x00);
  section(7, exp, out);
  const fn: number[] = [];
  uleb(locals.length, fn);
  for (const [count, t] of locals) {
    uleb(count, fn);
    fn.push(t);
  }
  fn.push(...body, 0x0b);
  const code: number[] = [1];
  uleb(fn.length, code);
  code.push(...fn);
  section(10, code, out);
  return new Uint8Array(out);
}

// ---------------------------------------------------------------------------------------------
// code generation

/** A JS number as printed in listings (−0 and NaN visible). */
function fmtNum(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

/** An operand of a kernel instruction: a v128 local or a constant vector. */
type Operand = { local: number; text: string } | { bytes: readonly number[]; text: string };

/**
 * Builds one kernel. Numerics: add/sub/mul/div/sqrt are IEEE operations in WebAssembly and in
 * ONNX Runtime, so results are bit-identical. neg, abs, floor, ceil, sign (NaN and ±0 kept),
 * round (half away from zero, the same exact steps as the ONNX lowering), is_finite, compares,
 * bool not/and/or/xor, bool ↔ float conversion, and the identities stop_gradient,
 * sharding_constraint, reshape and count-preserving broadcast_in_dim are exact. Two ±0 details,
 * where ONNX Runtime and the reference interpreter already disagree: max/min are IEEE 754-2019
 * maximum/minimum (NaN propagates, max(+0, −0) = +0), as Math.max in the reference — ONNX
 * Runtime's Max/Min return either zero depending on the element's position (vectorized body or
 * scalar tail), so no rule could match them; a float select returns +0 where its true branch is
 * −0, as ONNX Runtime's Where always does (measured: it equals c ? t + 0 : f for float32 and
 * float64), so select stays bit-identical with fusion on or off (the reference keeps the −0).
 * Transcendental primitives (exp, log, tanh, …: compute-bound, and not rounded like ONNX
 * Runtime's) and float32 ↔ float64 conversion (two lane widths) stay in the head.
 */
function buildLoop(eqns: Eqn[], writes: { position: number; v: Var }[], epiVars: Set<Var>, sourceOf: (v: Var) => EpilogueSource, dtype: 'float32' | 'float64'): EpilogueLoop {
  const size = sizeOf(eqns[0].outputs[0].aval.shape);
  const eb = dtype === 'float32' ? 4 : 8;
  const F = dtype === 'float32' ? F32X4 : F64X2;
  const splatBytes = (v: number): number[] => {
    const a = dtype === 'float32' ? new Float32Array(4).fill(v) : new Float64Array(2).fill(v);
    return [...new Uint8Array(a.buffer)];
  };
  const maskBytes = (on: boolean) => new globalThis.Array<number>(16).fill(on ? 0xff : 0);

  // pass 1: what the loop reads (per element or once), in order of first use
  const arrays: EpilogueRead[] = [];
  const scalars: EpilogueRead[] = [];
  const arrayIdx = new Map<Var, number>();
  const scalarIdx = new Map<Var, number>();
  const arrayVars: Var[] = [];
  const scalarVars: Var[] = [];
  const produced = new Set<Var>(eqns.map((e) => e.outputs[0]));
  for (const e of eqns) {
    for (const a of e.inputs) {
      if (a instanceof Literal || produced.has(a)) continue;
      if (epiVars.has(a)) throw new FusionError(`internal: a kernel reads a value of another kernel (${fmtAval(a.aval)})`);
      if (isScalarRead(e, a)) {
        if (!scalarIdx.has(a)) {
          scalarIdx.set(a, scalars.length);
          scalarVars.push(a);
          scalars.push({ source: sourceOf(a), aval: a.aval });
        }
      } else if (!arrayIdx.has(a)) {
        arrayIdx.set(a, arrays.length);
        arrayVars.push(a);
        arrays.push({ source: sourceOf(a), aval: a.aval });
      }
    }
  }
  // memory layout of one chunk: each array's and each write's region
  const region = (d: DType) => (d === 'bool' ? Math.ceil(CHUNK_ELEMENTS / 16) * 16 : CHUNK_ELEMENTS * eb);
  let at = 0;
  const arrayOff = arrays.map((r) => ((at += region(r.aval.dtype)), at - region(r.aval.dtype)));
  const writeOff = writes.map(() => ((at += region(dtype)), at - region(dtype)));
  const bytes = at;
  const pages = Math.ceil(bytes / 65536);

  // pass 2: the kernel k(nbytes, ...scalars)
  const params = [T_I32, ...scalars.map((s) => (s.aval.dtype === 'bool' ? T_I32 : dtype === 'float32' ? T_F32 : T_F64))];
  const iLocal = params.length;
  const bpLocal = iLocal + 1;
  let nextLocal = iLocal + 2;
  const newLocal = () => nextLocal++;
  const c = new Code();
  const ops = new Map<Var, Operand>();
  const listing: string[] = [`for each vector of ${16 / eb} ${dtype} lanes (${size} elements, chunks of ${CHUNK_ELEMENTS}):`];
  /** Pushes operands, in order. */
  const P = (...os: Operand[]): Code => {
    for (const o of os) {
      if ('local' in o) c.get(o.local);
      else c.v128(o.bytes);
    }
    return c;
  };
  const lit = (l: Literal): Operand => (l.aval.dtype === 'bool' ? { bytes: maskBytes(l.value !== 0), text: l.value ? 'true' : 'false' } : { bytes: splatBytes(l.value), text: fmtNum(dtype === 'float32' ? Math.fround(l.value) : l.value) });
  const opOf = (a: Atom): Operand => {
    if (a instanceof Literal) return lit(a);
    const o = ops.get(a);
    if (!o) throw new FusionError('internal: a kernel operand was not computed before its use');
    return o;
  };
  const K = (v: number): Operand => ({ bytes: splatBytes(v), text: fmtNum(v) });
  const ZERO = K(0);
  const ONE = K(1);

  // scalars: splat once before the loop
  scalars.forEach((s, k) => {
    const l = newLocal();
    if (s.aval.dtype === 'bool') {
      c.i32(0).get(1 + k).op(0x6b); // 0 − b: all ones for true
      if (dtype === 'float32') c.simd(V.i32x4Splat);
      else c.op(0xac).simd(V.i64x2Splat); // i64.extend_i32_s
    } else c.get(1 + k).simd(F.splat);
    c.set(l);
    ops.set(scalarVars[k], { local: l, text: `s${k}` });
  });
  const hasBool = arrays.some((r) => r.aval.dtype === 'bool');
  c.i32(0).set(iLocal);
  c.op(0x02, 0x40, 0x03, 0x40); // block, loop
  c.get(iLocal).get(0).op(0x4f, 0x0d, 0x01); // i32.ge_u, br_if 1
  if (hasBool) c.get(iLocal).i32(dtype === 'float32' ? 2 : 3).op(0x76).set(bpLocal); // bool byte index = i >> log2(eb)
  arrays.forEach((r, k) => {
    const l = newLocal();
    if (r.aval.dtype === 'bool') {
      // 0/1 bytes → lane masks of the loop's width
      c.get(bpLocal);
      if (dtype === 'float32') c.mem(V.load32Zero, 2, arrayOff[k]);
      else c.mem(V.load16Splat, 1, arrayOff[k]);
      c.v128(maskBytes(false)).simd(V.i8x16Ne).simd(V.i16x8ExtendLowI8x16S).simd(V.i32x4ExtendLowI16x8S);
      if (dtype === 'float64') c.simd(V.i64x2ExtendLowI32x4S);
    } else c.get(iLocal).mem(V.load, 4, arrayOff[k]);
    c.set(l);
    ops.set(arrayVars[k], { local: l, text: `x${k}` });
    listing.push(`  x${k} = ${fmtSource(r.source)} [i]`);
  });

  for (const e of eqns) {
    const out = e.outputs[0];
    const p = e.prim;
    const ins = e.inputs.map(opOf);
    const [a, b, d] = ins;
    if (IDENTITY_PRIMS.has(p) || (p === 'convert_element_type' && e.inputs[0].aval.dtype === out.aval.dtype)) {
      ops.set(out, a);
      continue;
    }
    const boolIn = e.inputs[0].aval.dtype === 'bool';
    switch (p) {
      // max/min: IEEE 754-2019 maximum/minimum (NaN propagates, +0 > −0), as Math.max in the reference
      case 'add': case 'sub': case 'mul': case 'div': case 'max': case 'min':
        P(a, b).simd(F[p]);
        break;
      case 'neg': case 'abs': case 'sqrt': case 'floor': case 'ceil':
        P(a).simd(F[p]);
        break;
      case 'sign':
        // a < 0 ? −1 : a > 0 ? 1 : a (keeps NaN and ±0)
        P(K(-1), ONE, a, a, ZERO).simd(F.gt).simd(V.bitselect);
        P(a, ZERO).simd(F.lt).simd(V.bitselect);
        break;
      case 'round': {
        // m = ⌊|a|⌋ + (|a| − ⌊|a|⌋ ≥ ½), with a's sign bit: every step exact, as in the lowering
        const t1 = newLocal();
        const t2 = newLocal();
        P(a).simd(F.abs).set(t1);
        c.get(t1).simd(F.floor).set(t2);
        c.get(t2).get(t1).get(t2).simd(F.sub);
        P(K(0.5)).simd(F.ge);
        P(ONE).simd(V.and).simd(F.add);
        P(a, K(-0)).simd(V.and).simd(V.or);
        break;
      }
      case 'is_finite':
        P(a).simd(F.abs);
        P(K(Infinity)).simd(F.lt);
        break;
      case 'not':
        P(a).simd(V.not);
        break;
      case 'and': case 'or': case 'xor':
        P(a, b).simd(V[p]);
        break;
      case 'eq': case 'ne': case 'lt': case 'le': case 'gt': case 'ge':
        if (!boolIn) {
          P(a, b).simd(F[p]);
          break;
        }
        // on masks: a < b is ¬a ∧ b, a > b is a ∧ ¬b (andnot(x, y) = x ∧ ¬y)
        if (p === 'eq' || p === 'ne') P(a, b).simd(V.xor);
        else if (p === 'lt' || p === 'ge') P(b, a).simd(V.andnot);
        else P(a, b).simd(V.andnot);
        if (p === 'eq' || p === 'le' || p === 'ge') c.simd(V.not);
        break;
      case 'select':
        // float: the chosen true branch + 0, as ONNX Runtime's Where (−0 → +0)
        if (out.aval.dtype === 'bool') P(b);
        else P(b, ZERO).simd(F.add);
        P(d, a).simd(V.bitselect);
        break;
      case 'convert_element_type':
        if (boolIn) P(a, ONE).simd(V.and); // bool → 0.0 / 1.0
        else P(a, ZERO).simd(F.ne); // float → bool: x ≠ 0 (NaN → true)
        break;
      default:
        throw new FusionError(`internal: no kernel code for ${p}`);
    }
    const l = newLocal();
    c.set(l);
    const text = `v${out.id}`;
    ops.set(out, { local: l, text });
    listing.push(`  ${text} = ${p}${p === 'convert_element_type' ? `[${out.aval.dtype}]` : ''} ${ins.map((o) => o.text).join(' ')}`);
  }
  writes.forEach((w, k) => {
    const o = opOf(w.v);
    c.get(iLocal);
    P(o).mem(V.store, 4, writeOff[k]);
    listing.push(`  output ${w.position} [i] = ${o.text}`);
  });
  c.get(iLocal).i32(16).op(0x6a).set(iLocal); // i += 16
  c.op(0x0c, 0x00, 0x0b, 0x0b); // br 0, end loop, end block
  const wasm = wasmModule(params, [[2, T_I32], [nextLocal - iLocal - 2, T_V128]], c.b, pages);

  // in-place candidates of each write: arrays it depends on, nearest first (BFS over the eqns)
  const producer = new Map<Var, Eqn>();
  for (const e of eqns) producer.set(e.outputs[0], e);
  const writesOut: EpilogueWrite[] = writes.map((w) => {
    const order: number[] = [];
    const seen = new Set<Var>([w.v]);
    let frontier: Var[] = [w.v];
    while (frontier.length) {
      const next: Var[] = [];
      for (const v of frontier) {
        const k = arrayIdx.get(v);
        if (k !== undefined && arrays[k].aval.dtype === w.v.aval.dtype && arrays[k].source.kind !== 'const') order.push(k);
        const e = producer.get(v);
        if (!e || (e.prim === 'broadcast_in_dim' && isScalarRead(e, e.inputs[0]))) continue;
        for (const a of e.inputs) {
          if (a instanceof Literal || seen.has(a)) continue;
          seen.add(a);
          next.push(a);
        }
      }
      frontier = next;
    }
    return { position: w.position, aval: w.v.aval, inPlace: order };
  });

  const shape = eqns[eqns.length - 1].outputs[0].aval.shape;
  return { size, shape: [...shape], dtype, eqns, arrays, scalars, writes: writesOut, listing: listing.join('\n'), wasm, layout: { arrays: arrayOff, writes: writeOff, bytes } };
}

/** A compiled kernel: streams a loop's arrays through its memory chunk by chunk. */
export interface LoopKernel {
  /** Runs over all elements: `A` per-element arrays, `S` scalar values, `O` output buffers. */
  run(A: readonly TypedArray[], S: readonly number[], O: readonly TypedArray[]): void;
}

/** Instantiates a loop's kernel with its own memory. */
export function compileLoop(loop: LoopPlan): LoopKernel {
  const pages = Math.ceil(loop.layout.bytes / 65536);
  if (!wasmApi) throw new FusionError('host fusion needs WebAssembly, which this runtime lacks; compile with hostFusion: false');
  const memory = new wasmApi.Memory({ initial: pages, maximum: pages });
  let instance: InstanceType<WasmApi['Instance']>;
  try {
    instance = new wasmApi.Instance(new wasmApi.Module(loop.wasm), { m: { mem: memory } });
  } catch (e) {
    throw new FusionError(`internal: the generated kernel for ${loop.size} elements did not compile: ${(e as Error).message}\n${loop.listing}`);
  }
  const k = instance.exports.k as (...args: number[]) => void;
  const eb = loop.dtype === 'float32' ? 4 : 8;
  const fview = loop.dtype === 'float32' ? new Float32Array(memory.buffer) : new Float64Array(memory.buffer);
  const u8 = new Uint8Array(memory.buffer);
  const views = loop.arrays.map((r) => (r.aval.dtype === 'bool' ? u8 : fview));
  const inOff = loop.layout.arrays.map((off, j) => (loop.arrays[j].aval.dtype === 'bool' ? off : off / eb));
  const outOff = loop.layout.writes.map((off) => off / eb);
  const n = loop.size;
  return {
    run(A, S, O) {
      const args = [0, ...S];
      for (let c = 0; c < n; c += CHUNK_ELEMENTS) {
        const m = Math.min(CHUNK_ELEMENTS, n - c);
        for (let j = 0; j < A.length; j++) views[j].set(A[j].subarray(c, c + m), inOff[j]);
        args[0] = Math.ceil((m * eb) / 16) * 16;
        k(...args);
        for (let j = 0; j < O.length; j++) O[j].set(fview.subarray(outOff[j], outOff[j] + m), c);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// running

/** Where a head output comes from when the head computes nothing (and so is not run). */
export type HeadlessValue =
  | { readonly kind: 'input'; readonly index: number }
  | { readonly kind: 'const'; readonly index: number }
  | { readonly kind: 'literal'; readonly value: number; readonly dtype: DType };

/**
 * An epilogue as plain, structured-cloneable data: everything a runner needs besides the head's
 * compiled form. The single-device executable runs from it, and a Mesh posts it to its device
 * workers next to the head's ONNX model.
 */
export interface EpiloguePlan {
  /** The kernels, in the order they run. */
  readonly loops: readonly LoopPlan[];
  /** One route per output of the original graph. */
  readonly routes: readonly OutputRoute[];
  /** Original input indices the head takes, in the head's input order. */
  readonly headInputs: readonly number[];
  /** Head outputs that are not outputs of the original graph (read by the kernels only). */
  readonly headTemps: readonly number[];
  /** When the head has no equations: where each of its outputs comes from; null when it runs. */
  readonly headless: readonly HeadlessValue[] | null;
  /** Data of the captured constants the kernels or a headless head read (`graph.constValues[index]`). */
  readonly consts: readonly { readonly index: number; readonly data: TypedArray }[];
}

const plainAval = (a: AbstractValue): AbstractValue => ({ shape: [...a.shape], dtype: a.dtype });

/** The plain-data form of `split` (a split of `graph`): loops without their equations, routes, head wiring and the constants the kernels read. */
export function epiloguePlan(graph: Graph, split: EpilogueSplit): EpiloguePlan {
  const { head, epilogue } = split;
  const constIdx = new Set<number>();
  const read = (r: EpilogueRead): EpilogueRead => {
    if (r.source.kind === 'const') constIdx.add(r.source.index);
    return { source: { ...r.source }, aval: plainAval(r.aval) };
  };
  const loops: LoopPlan[] = epilogue.loops.map((l) => ({
    size: l.size,
    dtype: l.dtype,
    arrays: l.arrays.map(read),
    scalars: l.scalars.map(read),
    writes: l.writes.map((w) => ({ position: w.position, aval: plainAval(w.aval), inPlace: [...w.inPlace] })),
    listing: l.listing,
    wasm: l.wasm,
    layout: { arrays: [...l.layout.arrays], writes: [...l.layout.writes], bytes: l.layout.bytes },
  }));
  let headless: HeadlessValue[] | null = null;
  if (head.eqns.length === 0) {
    headless = head.outputs.map((o): HeadlessValue => {
      if (o instanceof Literal) return { kind: 'literal', value: o.value, dtype: o.aval.dtype };
      const i = graph.inputs.indexOf(o);
      if (i >= 0) return { kind: 'input', index: i };
      const c = graph.consts.indexOf(o);
      if (c >= 0) {
        constIdx.add(c);
        return { kind: 'const', index: c };
      }
      throw new FusionError('internal: a head without equations returns a value it does not have');
    });
  }
  const consts = [...constIdx].sort((a, b) => a - b).map((index) => {
    const d = graph.constValues[index].concrete('capture as a constant of an epilogue kernel');
    return { index, data: d.byteOffset === 0 && d.byteLength === d.buffer.byteLength ? d : d.slice() };
  });
  return { loops, routes: epilogue.routes.map((r) => ({ ...r })), headInputs: [...epilogue.headInputs], headTemps: [...epilogue.headTemps], headless, consts };
}

/** The head's outputs as data when it has no equations (`plan.headless`), given the graph's input data. */
export function headlessData(plan: EpiloguePlan, input: (index: number) => TypedArray): TypedArray[] {
  if (!plan.headless) throw new FusionError('internal: headlessData on an epilogue whose head has equations; run the head');
  return plan.headless.map((h) => {
    if (h.kind === 'input') return input(h.index);
    if (h.kind === 'const') return constData(plan, h.index);
    const d = allocate(h.dtype, 1);
    d[0] = castScalar(h.value, h.dtype);
    return d;
  });
}

/** The data of captured constant `index` as the plan carries it. */
export function constData(plan: EpiloguePlan, index: number): TypedArray {
  const c = plan.consts.find((x) => x.index === index);
  if (!c) throw new FusionError(`internal: the epilogue plan does not carry constant ${index}`);
  return c.data;
}

/** How `runLoops` gets its operands and the buffers its outputs go to. */
export interface LoopIO {
  /** The data of a value the kernels read (a graph input, a captured constant or a head output). */
  read(source: EpilogueSource): TypedArray;
  /**
   * Whether an output may overwrite `data`, the buffer read from `source`, when the output
   * depends on it: only its own loop reads it (`splitEpilogue` guarantees this for per-element
   * reads), and the caller owns it and reads it no more (a donated or private input, a head
   * temporary).
   */
  overwritable(source: EpilogueSource, data: TypedArray): boolean;
  /** The caller's buffer for graph output `position`, tried before any in-place one (e.g. shared memory), or undefined. */
  destination?(position: number, aval: AbstractValue): TypedArray | undefined;
  /** A buffer for an output with no destination and no overwritable operand; `written` holds the buffers this call has written so far. */
  spare(aval: AbstractValue, written: ReadonlySet<TypedArray>): TypedArray;
}

/**
 * Runs an epilogue's kernels in order (`kernels[k]` compiled from `loops[k]` by `compileLoop`)
 * and returns each loop's output buffers (one per write). Each output goes to, in order: the
 * caller's `destination`, else the nearest operand it depends on that `io.overwritable` allows
 * and no earlier output took, else `io.spare`. Operands are checked against the plan's sizes.
 */
export function runLoops(loops: readonly LoopPlan[], kernels: readonly LoopKernel[], io: LoopIO): TypedArray[][] {
  if (kernels.length !== loops.length) throw new FusionError(`internal: ${kernels.length} compiled kernels for ${loops.length} loops`);
  const written = new Set<TypedArray>();
  return loops.map((l, k) => {
    const A = l.arrays.map((r) => {
      const d = io.read(r.source);
      if (d.length !== l.size) throw new FusionError(`epilogue kernel ${k} reads ${fmtSource(r.source)} as ${fmtAval(r.aval)} (${l.size} elements) but got ${d.length} elements`);
      return d;
    });
    const S = l.scalars.map((r) => {
      const d = io.read(r.source);
      if (d.length !== 1) throw new FusionError(`epilogue kernel ${k} reads ${fmtSource(r.source)} as a scalar but got ${d.length} elements`);
      return d[0];
    });
    const O = l.writes.map((w) => {
      let b = io.destination?.(w.position, w.aval);
      if (!b) {
        for (const j of w.inPlace) {
          if (!written.has(A[j]) && io.overwritable(l.arrays[j].source, A[j])) {
            b = A[j];
            break;
          }
        }
      }
      b ??= io.spare(w.aval, written);
      if (b.length !== l.size || dtypeOfTypedArray(b) !== w.aval.dtype) throw new FusionError(`internal: epilogue kernel ${k} was given a ${dtypeOfTypedArray(b)} buffer of ${b.length} elements for output ${w.position} (${fmtAval(w.aval)})`);
      written.add(b);
      return b;
    });
    kernels[k].run(A, S, O);
    return O;
  });
}

/** What `createFusedExecutable` needs from the head's compiled form. */
export interface HeadRunner {
  /** Runs the head on its inputs, writing into `outputs` when given. */
  run(inputs: Array[], outputs?: TypedArray[]): Array[];
  close(): void;
}

/** Options of `createFusedExecutable`. */
export interface FusedOptions {
  /** Flat input indices whose buffers the call may overwrite or recycle. */
  donate?: readonly number[];
}

function overlaps(a: TypedArray, b: TypedArray): boolean {
  if (a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** Typed arrays indexed by their ArrayBuffer, to ask "does this buffer overlap another one?" fast. */
class BufferIndex {
  private readonly byBuffer = new Map<ArrayBufferLike, TypedArray[]>();
  add(b: TypedArray): void {
    const l = this.byBuffer.get(b.buffer);
    if (l) l.push(b);
    else this.byBuffer.set(b.buffer, [b]);
  }
  /** Whether `b` overlaps an indexed array other than `self` (by identity). */
  overlaps(b: TypedArray, self?: TypedArray): boolean {
    const l = this.byBuffer.get(b.buffer);
    return !!l && l.some((x) => x !== self && overlaps(x, b));
  }
  /** How many indexed arrays overlap `b`. */
  count(b: TypedArray): number {
    return this.byBuffer.get(b.buffer)?.filter((x) => overlaps(x, b)).length ?? 0;
  }
}

/**
 * An Executable that runs `split.head` (through `makeHead`, e.g. ONNX Runtime; skipped when the
 * head computes nothing) and then the kernels (`runLoops`). Buffers: a chunk's inputs are copied
 * in before its outputs are copied out, so an output may overwrite an input it reads. Each
 * output takes, nearest first along the equations, a donated input or a head temporary that its
 * own kernel reads, else a donated input nothing else reads, else a buffer donated on the
 * previous call, else a fresh one; a non-donated input is never written, nor a buffer that
 * overlaps another input or a captured constant, nor an input returned as an output. Buffers of
 * donated inputs that did not become outputs, and head temporaries, are recycled for the next
 * call's outputs (the head's outputs too, except shared-memory buffers, which ONNX Runtime
 * cannot write into).
 */
export function createFusedExecutable(graph: Graph, split: EpilogueSplit, makeHead: (g: Graph) => HeadRunner, opts: FusedOptions = {}): Executable {
  const { head } = split;
  const plan = epiloguePlan(graph, split);
  const donate = [...new Set(opts.donate ?? [])];
  for (const i of donate) if (!(Number.isInteger(i) && i >= 0 && i < graph.inputs.length)) throw new FusionError(`donate: input index ${i} is out of range for a graph with ${graph.inputs.length} inputs`);
  const donateSet = new Set(donate);
  const kernels = plan.loops.map(compileLoop);
  const headExe = plan.headless ? null : makeHead(head);
  const headAvals = head.outputs.map((o) => o.aval);
  const tempSet = new Set(plan.headTemps);
  // inputs returned as outputs are never written or recycled
  const passthrough = new Set<number>();
  for (const o of graph.outputs) {
    const i = graph.inputs.indexOf(o as Var);
    if (i >= 0) passthrough.add(i);
  }
  const constData = graph.constValues.map((c) => c._data).filter((d): d is TypedArray => d !== null);
  // donated inputs no loop reads are free once the head has run
  const readByLoops = new Set<number>();
  for (const l of plan.loops) for (const r of l.arrays) if (r.source.kind === 'input') readByLoops.add(r.source.index);
  const freeAfterHead = donate.filter((i) => !readByLoops.has(i) && !passthrough.has(i));
  let pool: TypedArray[] = [];
  let closed = false;

  return {
    run(inputs: Array[]): Array[] {
      if (closed) throw new FusionError('this fused executable was closed; compile the function again');
      if (inputs.length !== graph.inputs.length) throw new FusionError(`the compiled graph takes ${graph.inputs.length} inputs (${graph.inAvals.map(fmtAval).join(', ')}), got ${inputs.length}`);
      const inData = inputs.map((x, i) => {
        const want = graph.inputs[i].aval;
        if (x.dtype !== want.dtype || x.shape.length !== want.shape.length || x.shape.some((d, j) => d !== want.shape[j])) {
          throw new FusionError(`input ${i} is ${fmtAval(x)} but the compiled graph expects ${fmtAval(want)}`);
        }
        return x.concrete(`pass as input ${i} to a compiled function`);
      });
      // every buffer this call must not clobber: the inputs and the captured constants
      const held = new BufferIndex();
      for (const d of inData) held.add(d);
      for (const d of constData) held.add(d);
      /** A donated input that may be overwritten: not returned as is, overlapping nothing else. */
      const donatedOk = (i: number) => donateSet.has(i) && !passthrough.has(i) && held.count(inData[i]) === 1;
      const free = pool;
      pool = [];
      const take = (dt: DType, n: number, ortWrites: boolean): TypedArray | undefined => {
        const j = free.findIndex((b) => b.length === n && dtypeOfTypedArray(b) === dt && !(ortWrites && b.buffer instanceof SharedArrayBuffer) && !held.overlaps(b));
        return j >= 0 ? free.splice(j, 1)[0] : undefined;
      };

      // 1. the head
      let headOuts: Array[];
      if (headExe) {
        const headIns = plan.headInputs.map((i) => inputs[i]);
        const bufs = free.length ? headAvals.map((a) => take(a.dtype, sizeOf(a.shape), true) ?? allocate(a.dtype, sizeOf(a.shape))) : undefined;
        headOuts = headExe.run(headIns, bufs);
      } else {
        headOuts = plan.headless!.map((h) => (h.kind === 'input' ? inputs[h.index] : h.kind === 'const' ? graph.constValues[h.index] : Array.scalar(h.value, h.dtype)));
      }

      // 2. the loops
      const loopOuts = runLoops(plan.loops, kernels, {
        read: (s) => (s.kind === 'input' ? inData[s.index] : (s.kind === 'const' ? graph.constValues[s.index] : headOuts[s.index]).concrete('read an epilogue operand of')),
        overwritable: (s) => (s.kind === 'input' && donatedOk(s.index)) || (s.kind === 'head' && tempSet.has(s.index)),
        spare: (aval, written) => {
          const n = sizeOf(aval.shape);
          const i = freeAfterHead.find((i) => !written.has(inData[i]) && inData[i].length === n && dtypeOfTypedArray(inData[i]) === aval.dtype && donatedOk(i));
          return i === undefined ? (take(aval.dtype, n, false) ?? allocate(aval.dtype, n)) : inData[i];
        },
      });
      const used = new Set<TypedArray>(loopOuts.flat()); // buffers written by a loop

      const outs = plan.routes.map((r, pos) => {
        if (r.from === 'head') return headOuts[r.index];
        const aval = graph.outputs[pos].aval;
        return Array.fromData(loopOuts[r.loop][r.write], aval.shape, aval.dtype);
      });

      // 3. recycle donated inputs and head temporaries that did not become outputs
      const returned = new BufferIndex();
      for (const o of outs) if (o._data) returned.add(o._data);
      for (const i of donate) {
        const d = inData[i];
        if (!used.has(d) && !passthrough.has(i) && held.count(d) === 1 && !returned.overlaps(d)) pool.push(d);
      }
      for (const h of plan.headTemps) {
        const d = headOuts[h]._data;
        if (d && !used.has(d) && !held.overlaps(d) && !returned.overlaps(d)) pool.push(d);
      }
      return outs;
    },
    close(): void {
      if (closed) return;
      closed = true;
      headExe?.close();
    },
  };
}

/**
 * Whether host fusion is on for a compile: the explicit option wins; otherwise the environment
 * variable MYRIAD_HOST_FUSION ('0' off, '1' on; default on).
 */
export function hostFusionEnabled(option: boolean | undefined): boolean {
  if (option !== undefined) return option;
  const env = process.env.MYRIAD_HOST_FUSION;
  if (env === undefined || env === '' || env === '1') return true;
  if (env === '0') return false;
  throw new FusionError(`MYRIAD_HOST_FUSION must be 0 (off) or 1 (on), got ${JSON.stringify(env)}`);
}
