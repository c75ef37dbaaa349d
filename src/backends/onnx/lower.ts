/**
 * Lowering of a Myriad Graph to an ONNX model (opset 18, IR version 8) that ONNX Runtime's CPU
 * provider runs with the exact semantics of `src/core/primitives.ts` and the reference
 * interpreter. One exhaustive typed rule table, `onnxRules`, maps each primitive to ONNX nodes;
 * where ONNX lacks an op or its semantics differ, the rule builds a composite (documented at the
 * rule). Where ONNX Runtime 1.30's CPU provider has no kernel for an element type, the rule
 * computes in a wider "carrier" type and casts back (measured gaps, see below).
 *
 * Kernel-type gaps and bugs of onnxruntime-node 1.30 (CPU) that the rules work around, measured
 * on single-node models (test/onnx/kernels.test.ts re-checks them):
 * | op                                    | gap                         | workaround                          |
 * |---------------------------------------|-----------------------------|-------------------------------------|
 * | Where                                 | no uint32, bool kernel      | select in int32 / uint8, cast back  |
 * | ReduceSum, CumSum                     | no uint32 kernel            | sum in int64, cast back (wraps)     |
 * | ReduceMax/Min, ArgMax, TopK           | no uint32 kernel            | compute on exact float64 copies     |
 * | Atan, Erf                             | no float64 kernel           | atan2/erf on float64 are refused    |
 * | Min, Max, Clip, Sign on int64         | compare the low 32 bits     | never used on int64 (clamps of      |
 * |                                       | only (wrong results)        | indices in float64)                 |
 * | TopK                                  | NaN misordered              | float64 keys (see top_k)            |
 * | Neg                                   | uint32, bool: not in schema | 0 − x (wraps); bool: identity       |
 * | BitShift                              | unsigned types only         | shift the int32 bit pattern as u32  |
 * | Add/Sub/Mul/Div/Max/Min/Less/…, Sum   | bool: not in schema         | logical ops or uint8 carriers       |
 * Semantic differences handled by composites: integer Div/Mod by 0 fail the run ("Integer
 * division by zero") and INT_MIN / −1 kills the process (SIGFPE), so divisors are made safe and
 * XLA's results selected; Cast float → int is
 * undefined out of range, so values are clamped (NaN → 0); Round is half-to-even (we need half
 * away from zero); BitShift by ≥ 32 is undefined in the ONNX spec (ONNX Runtime gives 0, but
 * exported models may run elsewhere, so counts are clamped and masked); Gather wraps negative
 * indices (we need 0 for every out-of-range index); ArgMax/ReduceMax/TopK ignore or misplace
 * NaN (we treat NaN as the maximum); no Log1p/Expm1/Atan2 ops exist.
 *
 * Graph constants become initializers; literals become shared scalar initializers. Equations
 * whose outputs are all empty become empty constants, so ONNX Runtime never computes an empty op.
 */

import type { Array as MArray } from '../../core/array.js';
import { Literal, fmtAval, type AbstractValue, type Atom, type Eqn, type Graph, type Var } from '../../core/ir.js';
import type { Primitive, PrimitiveParams } from '../../core/primitives.js';
import { broadcastShapes, sizeOf } from '../../core/shape.js';
import { A, ONNX_OPSET, ONNX_TYPE_CODE, OnnxError, OnnxModelBuilder, onnxDtype, type Attr, type OnnxDType } from './builder.js';

/** A value inside the ONNX graph being built: its name, element type and static shape. */
export interface Val {
  readonly name: string;
  readonly dtype: OnnxDType;
  readonly shape: readonly number[];
}

/** Thrown for a primitive/dtype combination that ONNX Runtime cannot run (use the reference backend). */
export class OnnxUnsupportedError extends OnnxError {}

/** Lowers one primitive: input values and params → output values (matching `outAvals`). */
export type OnnxRule<P extends Primitive> = (cx: LowerContext, inputs: Val[], params: PrimitiveParams[P], outAvals: AbstractValue[]) => Val[];

const INT32_MIN = -2147483648;

const isFloat = (d: OnnxDType): boolean => d === 'float32' || d === 'float64';
const isInteger = (d: OnnxDType): boolean => d === 'int32' || d === 'uint32';

/** Builder helpers used by the rules; tracks each value's dtype and shape. */
export class LowerContext {
  /** Description of the equation being lowered (for error messages). */
  site = '';
  /** Set while lowering a broadcast_in_dim whose consumers all broadcast natively. */
  lazyBroadcast = false;
  private readonly memos = new Map<string, unknown>();
  /**
   * Set by lowerInto before a ragged op: per operand, its per-group parts when it is a row-grouped
   * value under the op's grouping (see RaggedParts), else null.
   */
  raggedIn: (RaggedParts | null)[] = [];
  /** Set by a ragged_dot rule that returns its result as per-group parts (lowerInto defers the Concat). */
  raggedOut: RaggedParts | null = null;
  /** Set by a ragged_contract rule that returns its [G, K, N] result as G matrices (lowerInto defers the stacking). */
  stackedOut: Val[] | null = null;
  /**
   * Set by lowerGraph with `splitStacked`: graph outputs computed as stacked matrices are returned
   * as their G matrices (`outputPieces`) instead of one stacked tensor.
   */
  collectStacked = false;
  outputPieces: (Val[] | null)[] = [];
  /** Something built once per key within the graph (e.g. the slices of a weight shared by several ops). */
  memo<T>(key: string, build: () => T): T {
    if (!this.memos.has(key)) this.memos.set(key, build());
    return this.memos.get(key) as T;
  }
  constructor(readonly b: OnnxModelBuilder) {}

  /** A node with one output of the given dtype and shape. Null inputs are omitted optionals. */
  op(opType: string, inputs: readonly (Val | null)[], dtype: OnnxDType, shape: readonly number[], attrs: Record<string, Attr> = {}): Val {
    const name = this.b.op(opType, inputs.map((v) => (v ? v.name : '')), attrs);
    return { name, dtype, shape: [...shape] };
  }

  /** A node with several outputs. */
  ops(opType: string, inputs: readonly (Val | null)[], outs: readonly AbstractValueLike[], attrs: Record<string, Attr> = {}): Val[] {
    const names = this.b.node(opType, inputs.map((v) => (v ? v.name : '')), attrs, outs.length);
    return names.map((name, i) => ({ name, dtype: outs[i].dtype, shape: [...outs[i].shape] }));
  }

  /** A scalar constant. */
  scalar(dtype: OnnxDType, value: number): Val {
    return { name: this.b.scalar(dtype, value), dtype, shape: [] };
  }

  /** A 1-D int64 constant. */
  i64(values: readonly number[]): Val {
    return { name: this.b.int64s(values), dtype: 'int64', shape: [values.length] };
  }

  /** A constant tensor of `values` (row-major). */
  tensor(dtype: OnnxDType, shape: readonly number[], values: ArrayLike<number>, hint = 'const'): Val {
    return { name: this.b.initializer(dtype, shape, values, hint), dtype, shape: [...shape] };
  }

  /** `value` broadcast to `shape`. */
  full(dtype: OnnxDType, shape: readonly number[], value: number): Val {
    const s = this.scalar(dtype, value);
    if (shape.length === 0) return s;
    if (sizeOf(shape) <= 16) return { name: this.b.constant(dtype, shape, new globalThis.Array<number>(sizeOf(shape)).fill(value)), dtype, shape: [...shape] };
    return this.op('Expand', [s, this.i64(shape)], dtype, shape);
  }

  cast(x: Val, dtype: OnnxDType): Val {
    if (x.dtype === dtype) return x;
    return this.op('Cast', [x], dtype, x.shape, { to: A.int(ONNX_TYPE_CODE[dtype]) });
  }

  /** Elementwise unary op keeping shape (and dtype unless given). */
  un(opType: string, x: Val, dtype: OnnxDType = x.dtype, attrs: Record<string, Attr> = {}): Val {
    return this.op(opType, [x], dtype, x.shape, attrs);
  }

  /** Elementwise binary op with NumPy broadcasting (scalar constants broadcast). */
  bin(opType: string, a: Val, b: Val, dtype: OnnxDType = a.dtype, attrs: Record<string, Attr> = {}): Val {
    return this.op(opType, [a, b], dtype, broadcastShapes(a.shape, b.shape), attrs);
  }

  /** Comparison (bool result). */
  cmp(opType: 'Equal' | 'Less' | 'LessOrEqual' | 'Greater' | 'GreaterOrEqual', a: Val, b: Val): Val {
    return this.bin(opType, a, b, 'bool');
  }

  add(a: Val, b: Val): Val { return this.bin('Add', a, b); }
  sub(a: Val, b: Val): Val { return this.bin('Sub', a, b); }
  mul(a: Val, b: Val): Val { return this.bin('Mul', a, b); }
  div(a: Val, b: Val): Val { return this.bin('Div', a, b); }
  and(a: Val, b: Val): Val { return this.bin('And', a, b, 'bool'); }
  or(a: Val, b: Val): Val { return this.bin('Or', a, b, 'bool'); }
  not(a: Val): Val { return this.un('Not', a, 'bool'); }
  isNan(a: Val): Val { return this.un('IsNaN', a, 'bool'); }

  /**
   * `cond ? t : f` elementwise with broadcasting. ONNX Runtime has no Where kernel for uint32 or
   * bool, so those select through int32 (the cast keeps the 32-bit pattern) or uint8.
   */
  where(cond: Val, t: Val, f: Val): Val {
    const dt = t.dtype;
    if (f.dtype !== dt) throw new OnnxError(`internal: where branches differ in dtype (${dt} vs ${f.dtype}) in ${this.site}`);
    const shape = broadcastShapes(cond.shape, t.shape, f.shape);
    const carrier: OnnxDType | null = dt === 'uint32' ? 'int32' : dt === 'bool' ? 'uint8' : null;
    if (!carrier) return this.op('Where', [cond, t, f], dt, shape);
    const r = this.op('Where', [cond, this.cast(t, carrier), this.cast(f, carrier)], carrier, shape);
    return this.cast(r, dt);
  }

  reshape(x: Val, shape: readonly number[]): Val {
    if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
    return this.op('Reshape', [x, this.i64(shape)], x.dtype, shape, { allowzero: A.int(1) });
  }

  transpose(x: Val, perm: readonly number[]): Val {
    if (perm.every((p, i) => p === i)) return x;
    return this.op('Transpose', [x], x.dtype, perm.map((p) => x.shape[p]), { perm: A.ints(perm) });
  }

  expand(x: Val, shape: readonly number[]): Val {
    if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
    return this.op('Expand', [x, this.i64(shape)], x.dtype, shape);
  }

  /** Static slice over all dims (steps ≥ 1). */
  slice(x: Val, starts: readonly number[], ends: readonly number[], steps?: readonly number[]): Val {
    const st = steps ?? starts.map(() => 1);
    const shape = x.shape.map((_, i) => Math.max(0, Math.ceil((ends[i] - starts[i]) / st[i])));
    if (starts.every((s, i) => s === 0 && ends[i] === x.shape[i] && st[i] === 1)) return x;
    const axes = x.shape.map((_, i) => i);
    return this.op('Slice', [x, this.i64(starts), this.i64(ends), this.i64(axes), this.i64(st)], x.dtype, shape);
  }

  concat(xs: readonly Val[], axis: number): Val {
    if (xs.length === 1) return xs[0];
    const shape = [...xs[0].shape];
    shape[axis] = xs.reduce((n, x) => n + x.shape[axis], 0);
    return this.op('Concat', xs, xs[0].dtype, shape, { axis: A.int(axis) });
  }

  /**
   * Applies `f` in `carrier` when `x.dtype` is one of `gaps` (ONNX Runtime lacks a kernel):
   * casts the inputs in and the result (of the original dtype) back out.
   */
  viaCarrier(xs: readonly Val[], gaps: Partial<Record<OnnxDType, OnnxDType>>, f: (ys: Val[]) => Val, outDtype: OnnxDType = xs[0].dtype): Val {
    const carrier = gaps[xs[0].dtype];
    if (!carrier) return f([...xs]);
    const r = f(xs.map((x) => this.cast(x, carrier)));
    return r.dtype === outDtype ? r : this.cast(r, outDtype);
  }

  /** Refuses a dtype ONNX Runtime cannot compute this op in. */
  unsupported(what: string): never {
    throw new OnnxUnsupportedError(`${this.site}: ${what}; run this function with the reference backend (jit(f, { backend: 'reference' })) or convert to float32`);
  }
}

interface AbstractValueLike {
  readonly dtype: OnnxDType;
  readonly shape: readonly number[];
}

function dtypeOf(a: AbstractValue, where: string): OnnxDType {
  return onnxDtype(a.dtype, where);
}

// ------------------------------------------------------------------------------------------
// elementwise helpers

/** Float constant of the same dtype as `x`. */
function fc(cx: LowerContext, x: Val, v: number): Val {
  return cx.scalar(x.dtype, v);
}

/**
 * Runs a float composite in float64 for float32 operands (ONNX Runtime has float64 kernels for
 * Exp/Log), so the result rounds to float32 once, as in the reference.
 */
function inFloat64(cx: LowerContext, xs: Val[], f: (ys: Val[]) => Val): Val {
  const dt = xs[0].dtype;
  const r = f(xs.map((x) => cx.cast(x, 'float64')));
  return cx.cast(r, dt);
}

/** Round half away from zero: sign(x)·(⌊|x|⌋ + [|x| − ⌊|x|⌋ ≥ ½]); every step is exact. */
function roundHalfAway(cx: LowerContext, x: Val): Val {
  const a = cx.un('Abs', x);
  const fl = cx.un('Floor', a);
  const up = cx.cmp('GreaterOrEqual', cx.sub(a, fl), fc(cx, x, 0.5));
  const m = cx.add(fl, cx.cast(up, x.dtype));
  return signKeep(cx, x, m);
}

/** `m` (≥ 0 or NaN) with the sign of `x`, keeping ±0 and NaN of x: where(x < 0 or x is −0, −m, m). */
function signKeep(cx: LowerContext, x: Val, m: Val): Val {
  // x is −0 exactly when x == 0 and 1/x < 0
  const negZero = cx.and(cx.cmp('Equal', x, fc(cx, x, 0)), cx.cmp('Less', cx.div(fc(cx, x, 1), x), fc(cx, x, 0)));
  const neg = cx.or(cx.cmp('Less', x, fc(cx, x, 0)), negZero);
  return cx.where(neg, cx.un('Neg', m), m);
}

/** log1p by Goldberg's trick: u = 1 + x; x if u = 1, else log(u)·x/(u − 1); +inf stays +inf. */
function log1p(cx: LowerContext, x: Val): Val {
  const u = cx.add(fc(cx, x, 1), x);
  const d = cx.sub(u, fc(cx, x, 1));
  const r = cx.where(cx.cmp('Equal', d, fc(cx, x, 0)), x, cx.mul(cx.un('Log', u), cx.div(x, d)));
  return cx.where(cx.cmp('Equal', x, fc(cx, x, Infinity)), x, r);
}

/** expm1 by Kahan's trick: u = eˣ; x if u = 1, −1 if u − 1 = −1, u if u = ∞, else (u − 1)·x/log u. */
function expm1(cx: LowerContext, x: Val): Val {
  const u = cx.un('Exp', x);
  const um1 = cx.sub(u, fc(cx, x, 1));
  let r = cx.mul(um1, cx.div(x, cx.un('Log', u)));
  r = cx.where(cx.cmp('Equal', um1, fc(cx, x, 0)), x, r);
  r = cx.where(cx.cmp('Equal', um1, fc(cx, x, -1)), fc(cx, x, -1), r);
  return cx.where(cx.cmp('Equal', u, fc(cx, x, Infinity)), u, r);
}

/** The sign bit of a float (true for −0 and negative numbers; false for NaN with either sign). */
function signBit(cx: LowerContext, x: Val): Val {
  const zero = fc(cx, x, 0);
  return cx.or(cx.cmp('Less', x, zero), cx.and(cx.cmp('Equal', x, zero), cx.cmp('Less', cx.div(fc(cx, x, 1), x), zero)));
}

/**
 * atan2(y, x) = atan(y/x), + π·sign(y) when x has its sign bit set; fixed up for 0/0 (±0 or ±π
 * by the signs of the zeros) and ∞/∞ (±π/4 or ±3π/4), as C's atan2.
 */
function atan2(cx: LowerContext, y: Val, x: Val): Val {
  const base = cx.un('Atan', cx.div(y, x));
  const xneg = signBit(cx, x);
  const yneg = signBit(cx, y);
  const piS = cx.where(yneg, fc(cx, x, -Math.PI), fc(cx, x, Math.PI));
  let r = cx.where(xneg, cx.add(base, piS), base);
  const zero = fc(cx, x, 0);
  const bothZero = cx.and(cx.cmp('Equal', x, zero), cx.cmp('Equal', y, zero));
  r = cx.where(bothZero, cx.where(xneg, piS, y), r);
  const inf = fc(cx, x, Infinity);
  const isInf = (v: Val) => cx.cmp('Equal', cx.un('Abs', v), inf);
  const bothInf = cx.and(isInf(x), isInf(y));
  const q = cx.where(xneg, fc(cx, x, (3 * Math.PI) / 4), fc(cx, x, Math.PI / 4));
  return cx.where(bothInf, cx.where(yneg, cx.un('Neg', q), q), r);
}

function unaryRule(kind: 'neg' | 'abs' | 'sign' | 'floor' | 'ceil' | 'round' | 'is_finite' | 'exp' | 'log' | 'log1p' | 'expm1' | 'tanh' | 'logistic' | 'sin' | 'cos' | 'sqrt' | 'rsqrt' | 'erf' | 'not'): OnnxRule<any> {
  return (cx, [x]) => {
    const dt = x.dtype;
    switch (kind) {
      // −x; uint32 has no Neg (0 − x wraps), bool negation is the identity (as in the reference)
      case 'neg':
        if (dt === 'bool') return [x];
        if (dt === 'uint32') return [cx.sub(cx.scalar('uint32', 0), x)];
        return [cx.un('Neg', x)];
      case 'abs':
        return [dt === 'bool' ? x : cx.un('Abs', x)];
      // Sign keeps NaN and ±0 for floats (checked by the conformance test)
      case 'sign':
        return [dt === 'bool' ? x : cx.un('Sign', x)];
      case 'floor': return [cx.un('Floor', x)];
      case 'ceil': return [cx.un('Ceil', x)];
      // ONNX Round is half-to-even; XLA's round is half away from zero
      case 'round': return [roundHalfAway(cx, x)];
      // |x| < ∞ is false for ±∞ and NaN
      case 'is_finite': return [cx.cmp('Less', cx.un('Abs', x), fc(cx, x, Infinity))];
      case 'exp': return [cx.un('Exp', x)];
      case 'log': return [cx.un('Log', x)];
      // no Log1p/Expm1 in ONNX: Goldberg's/Kahan's tricks, in float64 for float32 operands
      case 'log1p': return [dt === 'float32' ? inFloat64(cx, [x], ([y]) => log1p(cx, y)) : log1p(cx, x)];
      case 'expm1': return [dt === 'float32' ? inFloat64(cx, [x], ([y]) => expm1(cx, y)) : expm1(cx, x)];
      case 'tanh': return [cx.un('Tanh', x)];
      case 'logistic': return [cx.un('Sigmoid', x)];
      case 'sin': return [cx.un('Sin', x)];
      case 'cos': return [cx.un('Cos', x)];
      case 'sqrt': return [cx.un('Sqrt', x)];
      case 'rsqrt': return [cx.un('Reciprocal', cx.un('Sqrt', x))];
      case 'erf':
        if (dt === 'float64') cx.unsupported('erf on float64 has no ONNX Runtime CPU kernel');
        return [cx.un('Erf', x)];
      case 'not': return [dt === 'bool' ? cx.not(x) : cx.un('BitwiseNot', x)];
    }
  };
}

// ------------------------------------------------------------------------------------------
// binary

/** Integer division with XLA's results: trunc(a/b); a/0 = all ones; INT_MIN/−1 = INT_MIN. */
function intDiv(cx: LowerContext, a: Val, b: Val): Val {
  const dt = a.dtype;
  const zero = cx.scalar(dt, 0);
  const isZero = cx.cmp('Equal', b, zero);
  if (dt === 'uint32') {
    const safe = cx.where(isZero, cx.scalar(dt, 1), b);
    return cx.where(isZero, cx.scalar(dt, 0xffffffff), cx.div(a, safe));
  }
  // int32: a/−1 traps for INT_MIN, so −1 divides by 1 and negates (Neg wraps INT_MIN to itself)
  const isM1 = cx.cmp('Equal', b, cx.scalar(dt, -1));
  const safe = cx.where(cx.or(isZero, isM1), cx.scalar(dt, 1), b);
  const q = cx.div(a, safe);
  return cx.where(isZero, cx.scalar(dt, -1), cx.where(isM1, cx.un('Neg', a), q));
}

/** Integer remainder with the dividend's sign; a % 0 = a; a % −1 = 0. */
function intRem(cx: LowerContext, a: Val, b: Val): Val {
  const dt = a.dtype;
  const isZero = cx.cmp('Equal', b, cx.scalar(dt, 0));
  const bad = dt === 'int32' ? cx.or(isZero, cx.cmp('Equal', b, cx.scalar(dt, -1))) : isZero;
  const safe = cx.where(bad, cx.scalar(dt, 1), b);
  return cx.where(isZero, a, cx.bin('Mod', a, safe, dt, { fmod: A.int(1) }));
}

/** `a & ¬b` and `a | ¬b` on bools (bool rem and div in the reference's 0/1 arithmetic). */
const andNot = (cx: LowerContext, a: Val, b: Val) => cx.and(a, cx.not(b));
const orNot = (cx: LowerContext, a: Val, b: Val) => cx.or(a, cx.not(b));

function arithRule(kind: 'add' | 'sub' | 'mul' | 'div' | 'rem' | 'pow' | 'max' | 'min' | 'atan2'): OnnxRule<any> {
  return (cx, [a, b]) => {
    const dt = a.dtype;
    if (dt === 'bool') {
      // bool arithmetic on 0/1 stores result ≠ 0: + is or, − is xor, · is and, max/min are or/and
      switch (kind) {
        case 'add': case 'max': return [cx.or(a, b)];
        case 'sub': return [cx.bin('Xor', a, b, 'bool')];
        case 'mul': case 'min': return [cx.and(a, b)];
        case 'div': return [orNot(cx, a, b)]; // a / 0 is all ones (true), a / 1 = a
        case 'rem': return [andNot(cx, a, b)]; // a % 0 = a, a % 1 = 0
        default: throw new OnnxError(`internal: ${kind} on bool in ${cx.site}`);
      }
    }
    const int = isInteger(dt);
    switch (kind) {
      case 'add': return [cx.add(a, b)];
      case 'sub': return [cx.sub(a, b)];
      case 'mul': return [cx.mul(a, b)];
      case 'div': return [int ? intDiv(cx, a, b) : cx.div(a, b)];
      // floats: C fmod (ONNX Mod needs fmod=1 for floats)
      case 'rem': return [int ? intRem(cx, a, b) : cx.bin('Mod', a, b, dt, { fmod: A.int(1) })];
      case 'pow': return [cx.bin('Pow', a, b)];
      case 'max': return [cx.bin('Max', a, b)];
      case 'min': return [cx.bin('Min', a, b)];
      case 'atan2':
        if (dt === 'float64') cx.unsupported('atan2 on float64 needs Atan, which has no float64 ONNX Runtime CPU kernel');
        return [atan2(cx, a, b)];
    }
  };
}

function bitwiseRule(kind: 'and' | 'or' | 'xor'): OnnxRule<any> {
  const logical = { and: 'And', or: 'Or', xor: 'Xor' }[kind];
  const bitwise = { and: 'BitwiseAnd', or: 'BitwiseOr', xor: 'BitwiseXor' }[kind];
  return (cx, [a, b]) => [a.dtype === 'bool' ? cx.bin(logical, a, b, 'bool') : cx.bin(bitwise, a, b)];
}

/**
 * Shifts on the 32-bit pattern with an unsigned count (BitShift exists only for unsigned types
 * and is undefined for counts ≥ 32): int32 operands are reinterpreted as uint32 (Cast keeps the
 * bits); counts ≥ 32 give 0 via a multiply by [s < 32]; the arithmetic shift is
 * s ⊕ ((x ⊕ s) >> min(n, 31)) with s the sign fill.
 */
function shiftRule(kind: 'shift_left' | 'shift_right_logical' | 'shift_right_arithmetic'): OnnxRule<any> {
  return (cx, [a, b]) => {
    const dt = a.dtype;
    const x = cx.cast(a, 'uint32');
    const n = cx.cast(b, 'uint32');
    const n31 = cx.bin('Min', n, cx.scalar('uint32', 31));
    let r: Val;
    if (kind === 'shift_right_arithmetic') {
      const fill = cx.sub(cx.scalar('uint32', 0), cx.bin('BitShift', x, cx.scalar('uint32', 31), 'uint32', { direction: A.str('RIGHT') }));
      r = cx.bin('BitwiseXor', cx.bin('BitShift', cx.bin('BitwiseXor', x, fill), n31, 'uint32', { direction: A.str('RIGHT') }), fill);
    } else {
      const shifted = cx.bin('BitShift', x, n31, 'uint32', { direction: A.str(kind === 'shift_left' ? 'LEFT' : 'RIGHT') });
      r = cx.mul(shifted, cx.cast(cx.cmp('Less', n, cx.scalar('uint32', 32)), 'uint32'));
    }
    return [cx.cast(r, dt)];
  };
}

function compareRule(kind: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'): OnnxRule<any> {
  const op = { eq: 'Equal', ne: 'Equal', lt: 'Less', le: 'LessOrEqual', gt: 'Greater', ge: 'GreaterOrEqual' }[kind] as 'Equal';
  return (cx, [a, b]) => {
    // bool has only Equal: order comparisons go through uint8
    const [x, y] = a.dtype === 'bool' && kind !== 'eq' && kind !== 'ne' ? [cx.cast(a, 'uint8'), cx.cast(b, 'uint8')] : [a, b];
    const r = cx.cmp(op, x, y);
    return [kind === 'ne' ? cx.not(r) : r];
  };
}

// ------------------------------------------------------------------------------------------
// convert

/** Largest value of float type `dt` that is ≤ `v` (v = 2^31 − 1 or 2^32 − 1 here). */
function floatBelow(dt: OnnxDType, v: number): number {
  return dt === 'float32' ? Math.fround(v) > v ? Math.fround(v) - 2 ** (Math.floor(Math.log2(v)) - 23) : Math.fround(v) : v;
}

/**
 * convert_element_type with the reference's rules: float → int truncates toward zero and
 * saturates (NaN → 0). ONNX Cast is undefined out of range, so NaN is replaced by 0, the value is
 * clipped (in its float type) to the largest float below the integer maximum, cast, and values at
 * or above 2^31 (2^32) select the maximum. (Clipping in int64 is not an option: ONNX Runtime
 * 1.30's int64 Min/Max/Clip compare only the low 32 bits.) int32 ↔ uint32 Cast keeps the bit
 * pattern; → bool is x ≠ 0 (NaN → true); float64 → float32 rounds to nearest even.
 */
function convert(cx: LowerContext, x: Val, to: OnnxDType): Val {
  const from = x.dtype;
  if (from === to) return x;
  if (to === 'bool') return cx.not(cx.cmp('Equal', x, cx.scalar(from, 0)));
  if (isFloat(from) && (to === 'int32' || to === 'uint32')) {
    const lo = to === 'int32' ? INT32_MIN : 0;
    const top = to === 'int32' ? 2 ** 31 : 2 ** 32;
    const noNan = cx.where(cx.isNan(x), cx.scalar(from, 0), x);
    const clipped = cx.op('Clip', [noNan, cx.scalar(from, lo), cx.scalar(from, floatBelow(from, top - 1))], from, x.shape);
    const r = cx.cast(clipped, to);
    return cx.where(cx.cmp('GreaterOrEqual', noNan, cx.scalar(from, top)), cx.scalar(to, top - 1), r);
  }
  return cx.cast(x, to);
}

// ------------------------------------------------------------------------------------------
// structural

function padRule(): OnnxRule<'pad'> {
  return (cx, [x], p, [out]) => {
    const dt = x.dtype;
    const pv = dt === 'bool' ? (p.padValue ? 1 : 0) : p.padValue;
    if (sizeOf(x.shape) === 0) return [cx.full(dt, out.shape, pv)];
    let v = x;
    // interior padding, per axis: [.., d, ..] → [.., d, 1, ..] → pad to [.., d, 1+k, ..] → merge → drop the last k
    p.interior.forEach((k, axis) => {
      if (k === 0 || v.shape[axis] <= 1) return;
      const d = v.shape[axis];
      const s1 = [...v.shape.slice(0, axis + 1), 1, ...v.shape.slice(axis + 1)];
      const r = v.shape.length + 1;
      const pads = new globalThis.Array<number>(2 * r).fill(0);
      pads[r + axis + 1] = k;
      const s2 = [...s1];
      s2[axis + 1] = 1 + k;
      const padded = cx.op('Pad', [cx.reshape(v, s1), cx.i64(pads), cx.scalar(dt, pv)], dt, s2, { mode: A.str('constant') });
      const merged = [...v.shape];
      merged[axis] = d * (1 + k);
      const flat = cx.reshape(padded, merged);
      const ends = [...merged];
      ends[axis] = d + (d - 1) * k;
      v = cx.slice(flat, merged.map(() => 0), ends);
    });
    // positive edge padding with Pad, negative edge padding with Slice
    const lo = p.lo.map((l) => Math.max(0, l));
    const hi = p.hi.map((h) => Math.max(0, h));
    if (lo.some((l) => l > 0) || hi.some((h) => h > 0)) {
      const shape = v.shape.map((d, i) => d + lo[i] + hi[i]);
      v = cx.op('Pad', [v, cx.i64([...lo, ...hi]), cx.scalar(dt, pv)], dt, shape, { mode: A.str('constant') });
    }
    const starts = p.lo.map((l) => Math.max(0, -l));
    const ends = v.shape.map((d, i) => d - Math.max(0, -p.hi[i]));
    return [cx.slice(v, starts, ends)];
  };
}

/**
 * Clamped start indices as a 1-D int64 tensor: clamp(s_i, 0, limit_i), computed in float64
 * (exact for 32-bit values; ONNX Runtime's int64 Min/Max compare only the low 32 bits).
 */
function clampedStarts(cx: LowerContext, starts: Val[], limits: number[]): Val {
  const parts = starts.map((s, i) => {
    const c = cx.op('Clip', [cx.cast(s, 'float64'), cx.scalar('float64', 0), cx.scalar('float64', limits[i])], 'float64', []);
    return cx.reshape(cx.cast(c, 'int64'), [1]);
  });
  return cx.concat(parts, 0);
}

// ------------------------------------------------------------------------------------------
// reductions

function reduceRule(kind: 'reduce_sum' | 'reduce_max' | 'reduce_min'): (cx: LowerContext, inputs: Val[], params: { axes: number[] }, outAvals: AbstractValue[]) => Val[] {
  const op = { reduce_sum: 'ReduceSum', reduce_max: 'ReduceMax', reduce_min: 'ReduceMin' }[kind];
  return (cx, [x], p, [out]) => {
    if (p.axes.length === 0) return [x];
    const dt = x.dtype;
    if (p.axes.some((a) => x.shape[a] === 0)) return [cx.full(dt, out.shape, 0)]; // empty sum
    const axes = [...p.axes].sort((a, b) => a - b);
    const reduce = (v: Val, o: string) => cx.op(o, [v, cx.i64(axes)], v.dtype, out.shape, { keepdims: A.int(0) });
    if (dt === 'bool') {
      // any (sum ≠ 0, max) / all (min), computed on uint8
      const r = reduce(cx.cast(x, 'uint8'), kind === 'reduce_min' ? 'ReduceMin' : 'ReduceMax');
      return [cx.cast(r, 'bool')];
    }
    // uint32: sums wrap through int64 (cast back keeps the low 32 bits); max/min in float64
    const r = cx.viaCarrier([x], { uint32: kind === 'reduce_sum' ? 'int64' : 'float64' }, ([v]) => reduce(v, op));
    if (kind === 'reduce_sum' || !isFloat(dt)) return [r];
    // NaN is the maximum (and poisons the minimum): ReduceMax/Min skip NaN, so put it back
    const anyNan = cx.cast(cx.op('ReduceMax', [cx.cast(cx.isNan(x), 'uint8'), cx.i64(axes)], 'uint8', out.shape, { keepdims: A.int(0) }), 'bool');
    return [cx.where(anyNan, cx.scalar(dt, NaN), r)];
  };
}

function argmaxRule(): OnnxRule<'argmax'> {
  return (cx, [x], p, [out]) => {
    const dt = x.dtype;
    const attrs = { axis: A.int(p.axis), keepdims: A.int(0), select_last_index: A.int(0) };
    const argmax = (v: Val) => cx.op('ArgMax', [v], 'int64', out.shape, attrs);
    let r = argmax(dt === 'bool' ? cx.cast(x, 'uint8') : dt === 'uint32' ? cx.cast(x, 'float64') : x);
    if (isFloat(dt)) {
      // NaN is the maximum and the first NaN wins: argmax of the NaN mask where there is one
      const nanMask = cx.cast(cx.isNan(x), 'uint8');
      const anyNan = cx.cast(cx.op('ReduceMax', [nanMask, cx.i64([p.axis])], 'uint8', out.shape, { keepdims: A.int(0) }), 'bool');
      r = cx.where(anyNan, argmax(nanMask), r);
    }
    return [convert(cx, r, dtypeOf(out, cx.site))];
  };
}

function cumsumRule(): OnnxRule<'cumsum'> {
  return (cx, [x], p) => {
    const dt = x.dtype;
    const scan = (v: Val) => cx.op('CumSum', [v, cx.scalar('int64', p.axis)], v.dtype, v.shape, { reverse: A.int(p.reverse ? 1 : 0), exclusive: A.int(0) });
    if (dt === 'bool') return [convert(cx, scan(cx.cast(x, 'int32')), 'bool')]; // running "or"
    return [cx.viaCarrier([x], { uint32: 'int64' }, ([v]) => scan(v))];
  };
}

// ------------------------------------------------------------------------------------------
// dot_general

function dotGeneralRule(): OnnxRule<'dot_general'> {
  return (cx, [a, b], p, [out]) => {
    const outDt = dtypeOf(out, cx.site);
    const { lhsContracting: lc, rhsContracting: rc, lhsBatch: lb, rhsBatch: rb } = p;
    const lf = a.shape.map((_, i) => i).filter((i) => !lc.includes(i) && !lb.includes(i));
    const rf = b.shape.map((_, i) => i).filter((i) => !rc.includes(i) && !rb.includes(i));
    const prod = (s: readonly number[], dims: number[]) => sizeOf(dims.map((d) => s[d]));
    const Bn = prod(a.shape, lb), M = prod(a.shape, lf), K = prod(a.shape, lc), N = prod(b.shape, rf);
    if (K === 0) return [cx.full(outDt, out.shape, 0)];
    // compute type: the operands' type, widened to the preferred float type (float64 when
    // integers meet a float result, so the sums are exact as in the reference)
    const inDt = a.dtype;
    let ct: OnnxDType = inDt;
    if (isFloat(outDt) && outDt !== inDt) ct = isFloat(inDt) ? (outDt === 'float64' || inDt === 'float64' ? 'float64' : 'float32') : 'float64';
    const A_ = cx.cast(a, ct);
    const B_ = cx.cast(b, ct);
    const batched = lb.length > 0;
    // Each operand becomes a [Bn,] rows × cols matrix. When its dims are already laid out as
    // [batch, cols, rows] (e.g. a weight gradient contracting the leading batch and sequence dims),
    // reshape first (free) and swap only the last two axes: ONNX Runtime folds that transpose into
    // the MatMul, where a general N-d transpose would copy the whole operand.
    const isIdentity = (perm: number[]) => perm.every((d, i) => d === i);
    const matrix = (x: Val, batchDims: number[], rowDims: number[], colDims: number[], rows: number, cols: number): Val => {
      const rowsFirst = [...batchDims, ...rowDims, ...colDims];
      if (!isIdentity(rowsFirst) && isIdentity([...batchDims, ...colDims, ...rowDims]) && rows > 1 && cols > 1) {
        const swapped = cx.reshape(x, batched ? [Bn, cols, rows] : [cols, rows]);
        return cx.transpose(swapped, batched ? [0, 2, 1] : [1, 0]);
      }
      return cx.reshape(cx.transpose(x, rowsFirst), batched ? [Bn, rows, cols] : [rows, cols]);
    };
    const lhs = matrix(A_, lb, lf, lc, M, K);
    const rhs = matrix(B_, rb, rc, rf, K, N);
    const mm = cx.op('MatMul', [lhs, rhs], ct, batched ? [Bn, M, N] : [M, N]);
    const r = cx.reshape(mm, out.shape);
    return [convert(cx, r, outDt)];
  };
}

// ------------------------------------------------------------------------------------------
// gather / scatter_add / top_k

interface GatherLayout {
  Bs: number[]; Ms: number[]; N: number; Rs: number[]; Is: number[];
  Bf: number; Mf: number; Rf: number; If: number;
}

function gatherLayout(x: readonly number[], idx: readonly number[], axis: number, bd: number): GatherLayout {
  const Bs = x.slice(0, bd), Ms = x.slice(bd, axis), Rs = x.slice(axis + 1), Is = idx.slice(bd);
  return { Bs, Ms, N: x[axis], Rs, Is, Bf: sizeOf(Bs), Mf: sizeOf(Ms), Rf: sizeOf(Rs), If: sizeOf(Is) };
}

/** In-range mask of int32 indices and the indices with out-of-range ones replaced by `fill` (default 0). */
function safeIndices(cx: LowerContext, idx: Val, n: number, fill = 0): { valid: Val; safe: Val } {
  const valid = inRange(cx, idx, n);
  return { valid, safe: cx.where(valid, idx, cx.scalar('int32', fill)) };
}

/** `0 ≤ idx < n` (bool, shaped like idx). */
function inRange(cx: LowerContext, idx: Val, n: number): Val {
  return cx.and(cx.cmp('GreaterOrEqual', idx, cx.scalar('int32', 0)), cx.cmp('Less', idx, cx.scalar('int32', n)));
}

/** The index mask [B…, I…] reshaped to broadcast against [B…, M…, I…, R…]. */
function maskFor(cx: LowerContext, valid: Val, L: GatherLayout): Val {
  return cx.reshape(valid, [...L.Bs, ...L.Ms.map(() => 1), ...L.Is, ...L.Rs.map(() => 1)]);
}

/**
 * Transpose that only moves size-1 dims (the relative order of the others unchanged) is a
 * reshape: no data moves, so no Transpose node (which ONNX Runtime would run as a copy).
 */
function permute(cx: LowerContext, x: Val, perm: readonly number[]): Val {
  const moved = perm.filter((d) => x.shape[d] !== 1);
  if (moved.every((d, i) => i === 0 || moved[i - 1] < d)) return cx.reshape(x, perm.map((d) => x.shape[d]));
  return cx.transpose(x, perm);
}

/**
 * Indices into the batch-flattened operand [B·N, …]: `b·N + idx` where `valid`, else `oob`,
 * shaped [B, I], in `dtype` (Gather takes int32, ScatterND needs int64).
 */
function flatBatchIndices(cx: LowerContext, idx: Val, valid: Val, L: GatherLayout, oob: number, dtype: 'int32' | 'int64'): Val {
  const i = cx.reshape(cx.cast(idx, dtype), [L.Bf, L.If]);
  const base = cx.tensor(dtype, [L.Bf, 1], globalThis.Array.from({ length: L.Bf }, (_, b) => b * L.N), 'batch_offsets');
  return cx.where(cx.reshape(valid, [L.Bf, L.If]), cx.add(i, base), cx.scalar(dtype, oob));
}

/**
 * gather. Out-of-range indices must read 0: when the result is larger than the operand (MoE
 * dispatch: every token read by several slots), the operand gets one zero row appended and those
 * indices read it; otherwise (embedding lookups: a large table, few rows read) the result is
 * masked. Batch dims with no dims between them and the gathered axis (M = 1, the common case)
 * use a plain Gather on the operand flattened to [B·N, R] with indices b·N + i, which ONNX
 * Runtime runs faster than GatherND; other batched layouts go through GatherND.
 */
function gatherRule(): OnnxRule<'gather'> {
  return (cx, [x, idx], p, [out]) => {
    const dt = x.dtype;
    const L = gatherLayout(x.shape, idx.shape, p.axis, p.batchDims);
    if (L.N === 0) return [cx.full(dt, out.shape, 0)]; // every index is out of range
    const padRow = L.N + 1 < L.If; // operand (+1 row) smaller than the result
    if (p.batchDims === 0) {
      if (padRow) {
        const xr = cx.reshape(x, [L.Mf, L.N, L.Rf]);
        const padded = cx.concat([xr, cx.full(dt, [L.Mf, 1, L.Rf], 0)], 1);
        const { safe } = safeIndices(cx, idx, L.N, L.N);
        return [cx.reshape(cx.op('Gather', [padded, safe], dt, [L.Mf, ...L.Is, L.Rf], { axis: A.int(1) }), out.shape)];
      }
      const { valid, safe } = safeIndices(cx, idx, L.N);
      const g = cx.op('Gather', [x, safe], dt, out.shape, { axis: A.int(p.axis) });
      return [cx.where(maskFor(cx, valid, L), g, cx.scalar(dt, 0))];
    }
    if (L.Mf === 1) {
      const BN = L.Bf * L.N;
      const flat = cx.reshape(x, [BN, L.Rf]);
      const operand = padRow ? cx.concat([flat, cx.full(dt, [1, L.Rf], 0)], 0) : flat;
      const valid = inRange(cx, idx, L.N);
      const ind = flatBatchIndices(cx, idx, valid, L, padRow ? BN : 0, 'int32');
      const g = cx.reshape(cx.op('Gather', [operand, ind], dt, [L.Bf, L.If, L.Rf], { axis: A.int(0) }), out.shape);
      return [padRow ? g : cx.where(maskFor(cx, valid, L), g, cx.scalar(dt, 0))];
    }
    // [B, M, N, R] → [B, N, M, R]; GatherND over (b, idx) → [B, I, M, R] → [B, M, I, R]
    const { valid, safe } = safeIndices(cx, idx, L.N);
    const xt = permute(cx, cx.reshape(x, [L.Bf, L.Mf, L.N, L.Rf]), [0, 2, 1, 3]);
    const ind = cx.reshape(cx.cast(safe, 'int64'), [L.Bf, L.If, 1]);
    const gn = cx.op('GatherND', [xt, ind], dt, [L.Bf, L.If, L.Mf, L.Rf], { batch_dims: A.int(1) });
    const g = cx.reshape(permute(cx, gn, [0, 2, 1, 3]), out.shape);
    return [cx.where(maskFor(cx, valid, L), g, cx.scalar(dt, 0))];
  };
}

/**
 * scatter_add through ScatterND(reduction='add'), with out-of-range indices sent to 0 and their
 * updates zeroed (adding 0 changes nothing). The operand is laid out as [N, M, R] without batch
 * dims, as [B·N, R] with batch dims and M = 1 (indices b·N + i, no batch index tensor), and as
 * [B, N, M, R] otherwise; transposes that only move size-1 dims are reshapes.
 */
function scatterAddRule(): OnnxRule<'scatter_add'> {
  return (cx, [x, idx, upd], p) => {
    const dt = x.dtype;
    const L = gatherLayout(x.shape, idx.shape, p.axis, p.batchDims);
    if (L.N === 0 || sizeOf(upd.shape) === 0) return [x];
    const valid = inRange(cx, idx, L.N);
    const u = cx.where(maskFor(cx, valid, L), upd, cx.scalar(dt, 0));
    if (p.batchDims > 0 && L.Mf === 1) {
      const data = cx.reshape(x, [L.Bf * L.N, L.Rf]);
      const ind = cx.reshape(flatBatchIndices(cx, idx, valid, L, 0, 'int64'), [L.Bf * L.If, 1]);
      const s = cx.op('ScatterND', [data, ind, cx.reshape(u, [L.Bf * L.If, L.Rf])], dt, data.shape, { reduction: A.str('add') });
      return [cx.reshape(s, x.shape)];
    }
    const xt = permute(cx, cx.reshape(x, [L.Bf, L.Mf, L.N, L.Rf]), [0, 2, 1, 3]); // [B, N, M, R]
    const ut = permute(cx, cx.reshape(u, [L.Bf, L.Mf, L.If, L.Rf]), [0, 2, 1, 3]); // [B, I, M, R]
    const safe64 = cx.reshape(cx.cast(cx.where(valid, idx, cx.scalar('int32', 0)), 'int64'), [L.Bf, L.If, 1]);
    let data: Val, ind: Val, updates: Val;
    if (p.batchDims === 0) {
      data = cx.reshape(xt, [L.N, L.Mf, L.Rf]);
      ind = cx.reshape(safe64, [L.If, 1]);
      updates = cx.reshape(ut, [L.If, L.Mf, L.Rf]);
    } else {
      const bIdx = cx.expand(cx.tensor('int64', [L.Bf, 1, 1], globalThis.Array.from({ length: L.Bf }, (_, i) => i), 'batch_iota'), [L.Bf, L.If, 1]);
      data = xt;
      ind = cx.concat([bIdx, safe64], 2);
      updates = ut;
    }
    const s = cx.op('ScatterND', [data, ind, updates], dt, data.shape, { reduction: A.str('add') });
    const back = permute(cx, cx.reshape(s, [L.Bf, L.N, L.Mf, L.Rf]), [0, 2, 1, 3]);
    return [cx.reshape(back, x.shape)];
  };
}

/**
 * A row-grouped [M, N] value kept as its pieces: one per group (run-time row counts) plus the rows
 * past the last group, in row order; their Concat is the value. ragged_dot produces its result
 * this way, elementwise ops apply piecewise, and the next ragged op reads its group's rows
 * straight from the piece instead of slicing a concatenated tensor (see lowerInto).
 */
interface RaggedParts {
  /** The grouping: the group-sizes value and M. */
  key: string;
  parts: Val[];
}

const raggedKey = (gs: Val, M: number): string => `${gs.name}:${M}`;

/**
 * Row bounds of the groups of ragged_dot / ragged_contract as int64 [1] tensors (Slice starts and
 * ends): ends = cumsum(max(n, 0)) clipped to M, computed in float64 (exact below 2^53; ONNX
 * Runtime's int64 Min/Max kernels are avoided). Also returns the end of the last group.
 */
function raggedBoundsOnnx(cx: LowerContext, gs: Val, M: number): { starts: Val[]; ends: Val[]; last: Val } {
  return cx.memo(`bounds:${gs.name}:${M}`, () => {
    const G = gs.shape[0];
    const n = cx.bin('Max', cx.cast(gs, 'float64'), cx.scalar('float64', 0));
    const endsF = cx.op('CumSum', [n, cx.scalar('int64', 0)], 'float64', [G], { reverse: A.int(0), exclusive: A.int(0) });
    const Mf = cx.scalar('float64', M);
    const ends = cx.cast(cx.bin('Min', endsF, Mf), 'int64');
    const starts = cx.cast(cx.bin('Min', cx.sub(endsF, n), Mf), 'int64');
    const at = (v: Val) => [...globalThis.Array(G).keys()].map((g) => cx.slice(v, [g], [g + 1]));
    const e = at(ends);
    return { starts: at(starts), ends: e, last: e[G - 1] };
  });
}

/**
 * Rows [start, end) of a 2-D value (dynamic bounds; the Val's shape is the static upper bound),
 * one Slice per (value, bounds) within the graph: the forward and backward ops of one expert
 * layer read the same rows of the same values.
 */
function rowSlice(cx: LowerContext, x: Val, start: Val, end: Val): Val {
  return cx.memo(`rows:${x.name}:${start.name}:${end.name}`, () => cx.op('Slice', [x, start, end, cx.i64([0])], x.dtype, x.shape));
}

/**
 * ragged_dot: per group g (G is static), the group's rows sliced at run-time bounds times rhs[g]
 * (one Gemm each, transB for a transposed rhs: the work is the rows the groups hold, not M·G),
 * concatenated together with the zero rows past the last group. The slices rhs[g] are shared by
 * every ragged op of the graph on the same rhs (forward and backward read the same weights).
 */
function raggedDotRule(): OnnxRule<'ragged_dot'> {
  return (cx, [a, b, gs], p, [out]) => {
    const [M, K] = a.shape.slice(-2);
    const [G] = b.shape;
    const N = out.shape[out.shape.length - 1];
    if (sizeOf(out.shape) === 0 || K === 0 || G === 0) return [cx.full(a.dtype, out.shape, 0)];
    if (a.shape.length === 3) {
      // batched: each batch row with its own grouping, stacked (no pieces kept)
      const rows = batchRows(cx, a, gs).map(({ x, sizes }) => cx.reshape(cx.op('Concat', raggedDotPieces(cx, x, null, b, sizes, N, p.transposeRhs), a.dtype, [M, N], { axis: A.int(0) }), [1, M, N]));
      return [cx.concat(rows, 0)];
    }
    cx.raggedOut = { key: raggedKey(gs, M), parts: raggedDotPieces(cx, a, cx.raggedIn[0]?.parts ?? null, b, gs, N, p.transposeRhs) };
    return [{ name: '', dtype: a.dtype, shape: [M, N] }]; // stands for the Concat, emitted on first use
  };
}

/**
 * One grouping of ragged_dot: a Gemm per group on its rows of x [M, K] (or on the given pieces)
 * with rhs[g], then the zero rows past the last group — in row order, the pieces of [M, N].
 */
function raggedDotPieces(cx: LowerContext, x: Val, xParts: Val[] | null, b: Val, sizes: Val, N: number, transposeRhs: boolean): Val[] {
  const M = x.shape[0];
  const { starts, ends, last } = raggedBoundsOnnx(cx, sizes, M);
  const parts = starts.map((s, g) => cx.op('Gemm', [xParts ? xParts[g] : rowSlice(cx, x, s, ends[g]), leadingSlice(cx, b, g)], x.dtype, [M, N], { transB: A.int(transposeRhs ? 1 : 0) }));
  // rows past the last group: zeros of run-time shape [M − last, N]
  const tail = cx.op('Expand', [cx.scalar(x.dtype, 0), cx.concat([cx.sub(cx.i64([M]), last), cx.i64([N])], 0)], x.dtype, [M, N]);
  return [...parts, tail];
}

/** One grouping of ragged_contract: per group, Gemm(rowsᵀ of x [M, K], rows of y [M, N]) → [K, N]. */
function raggedContractGemms(cx: LowerContext, x: Val, xParts: Val[] | null, y: Val, yParts: Val[] | null, sizes: Val, K: number, N: number): Val[] {
  const { starts, ends } = raggedBoundsOnnx(cx, sizes, x.shape[0]);
  return starts.map((s, g) => cx.op('Gemm', [xParts ? xParts[g] : rowSlice(cx, x, s, ends[g]), yParts ? yParts[g] : rowSlice(cx, y, s, ends[g])], x.dtype, [K, N], { transA: A.int(1) }));
}

/** The batch rows of a batched ragged op's operand [B, M, K] and their group sizes, as matrices. */
function batchRows(cx: LowerContext, x: Val, gs: Val): { x: Val; sizes: Val }[] {
  const [B, M, K] = x.shape;
  const G = gs.shape[1];
  return globalThis.Array.from({ length: B }, (_, bi) => ({
    x: cx.memo(`batch:${x.name}:${bi}`, () => cx.reshape(cx.slice(x, [bi, 0, 0], [bi + 1, M, K]), [M, K])),
    sizes: cx.memo(`batch:${gs.name}:${bi}`, () => cx.reshape(cx.slice(gs, [bi, 0], [bi + 1, G]), [G])),
  }));
}

/** x[g] of a 3-D value as a matrix, memoized per (value, g) within the graph. */
function leadingSlice(cx: LowerContext, x: Val, g: number): Val {
  return cx.memo(`lead:${x.name}:${g}`, () => cx.reshape(cx.slice(x, [g, 0, 0], [g + 1, x.shape[1], x.shape[2]]), [x.shape[1], x.shape[2]]));
}

/** ragged_contract: per group, Gemm(rowsᵀ of lhs, rows of rhs) → [K, N], stacked to [G, K, N]. */
function raggedContractRule(): OnnxRule<'ragged_contract'> {
  return (cx, [a, b, gs], _p, [out]) => {
    const [M, K] = a.shape.slice(-2);
    const G = out.shape[0];
    const N = b.shape[b.shape.length - 1];
    if (M === 0 || K === 0 || N === 0 || G === 0 || sizeOf(a.shape) === 0) return [cx.full(a.dtype, out.shape, 0)];
    if (a.shape.length === 3) {
      // batched: per batch row and group a Gemm; the batch rows' products summed per group
      const rb = batchRows(cx, b, gs);
      const perRow = batchRows(cx, a, gs).map(({ x, sizes }, bi) => raggedContractGemms(cx, x, null, rb[bi].x, null, sizes, K, N));
      cx.stackedOut = globalThis.Array.from({ length: G }, (_, g) => (perRow.length === 1 ? perRow[0][g] : cx.op('Sum', perRow.map((r) => r[g]), a.dtype, [K, N])));
      return [{ name: '', dtype: a.dtype, shape: [G, K, N] }];
    }
    const [inA, inB] = cx.raggedIn;
    cx.stackedOut = raggedContractGemms(cx, a, inA?.parts ?? null, b, inB?.parts ?? null, gs, K, N);
    return [{ name: '', dtype: a.dtype, shape: [G, K, N] }]; // stands for the stacked tensor, built on first use
  };
}

/**
 * top_k: ONNX TopK (largest, sorted) breaks ties by the lower index, as we need, but misorders
 * NaN, which must rank above +∞ (first NaN first). float32 operands sort on exact float64 keys
 * (NaN → +∞, +∞ → 1e300, above every float32) and read their values back with GatherElements.
 * float64 operands sort on keys with NaN → +∞, then a second TopK over the sorted row moves the
 * NaNs ahead of the +∞s that tied with them (keys n·isNaN − position are distinct).
 */
function topKRule(): OnnxRule<'top_k'> {
  return (cx, [x], p) => {
    const dt = x.dtype;
    const n = x.shape[x.shape.length - 1];
    const attrs = { axis: A.int(-1), largest: A.int(1), sorted: A.int(1) };
    const topk = (v: Val, k: number) => {
      const s = [...x.shape.slice(0, -1), k];
      return cx.ops('TopK', [v, cx.i64([k])], [{ dtype: v.dtype, shape: s }, { dtype: 'int64', shape: s }], attrs);
    };
    const gatherLast = (v: Val, idx: Val) => cx.op('GatherElements', [v, idx], v.dtype, idx.shape, { axis: A.int(-1) });
    if (!isFloat(dt)) {
      // uint32 and bool have no TopK kernel: sort exact float64 / uint8 copies
      const carrier: OnnxDType = dt === 'bool' ? 'uint8' : dt === 'uint32' ? 'float64' : dt;
      const [v, i] = topk(cx.cast(x, carrier), p.k);
      return [cx.cast(v, dt), cx.cast(i, 'int32')];
    }
    const nan = cx.isNan(x);
    let idx: Val;
    if (dt === 'float32') {
      const x64 = cx.cast(x, 'float64');
      const inf = cx.scalar('float64', Infinity);
      const key = cx.where(nan, inf, cx.where(cx.cmp('Equal', x64, inf), cx.scalar('float64', 1e300), x64));
      idx = topk(key, p.k)[1];
    } else {
      const [, i1] = topk(cx.where(nan, cx.scalar(dt, Infinity), x), n);
      const nanSorted = cx.cast(gatherLast(cx.cast(nan, 'int32'), i1), 'int64');
      const pos = cx.tensor('int64', [n], globalThis.Array.from({ length: n }, (_, j) => j), 'positions');
      const key2 = cx.sub(cx.mul(nanSorted, cx.scalar('int64', n)), pos);
      idx = gatherLast(i1, topk(key2, p.k)[1]);
    }
    return [gatherLast(x, idx), cx.cast(idx, 'int32')];
  };
}

function iotaRule(): OnnxRule<'iota'> {
  return (cx, _ins, p) => {
    const dt = onnxDtype(p.dtype, cx.site);
    const n = p.shape[p.dimension];
    const vals = globalThis.Array.from({ length: n }, (_, k) => (dt === 'bool' ? (k !== 0 ? 1 : 0) : k));
    const line = cx.tensor(dt, [n], vals, 'iota');
    return [cx.expand(cx.reshape(line, p.shape.map((d, i) => (i === p.dimension ? d : 1))), p.shape)];
  };
}

// ------------------------------------------------------------------------------------------
// the rule table

/** The ONNX lowering of every primitive (exhaustive over `Primitive`). */
export const onnxRules: { [P in Primitive]: OnnxRule<P> } = {
  neg: unaryRule('neg'), abs: unaryRule('abs'), sign: unaryRule('sign'), floor: unaryRule('floor'),
  ceil: unaryRule('ceil'), round: unaryRule('round'), is_finite: unaryRule('is_finite'), exp: unaryRule('exp'),
  log: unaryRule('log'), log1p: unaryRule('log1p'), expm1: unaryRule('expm1'), tanh: unaryRule('tanh'),
  logistic: unaryRule('logistic'), sin: unaryRule('sin'), cos: unaryRule('cos'), sqrt: unaryRule('sqrt'),
  rsqrt: unaryRule('rsqrt'), erf: unaryRule('erf'), not: unaryRule('not'),

  add: arithRule('add'), sub: arithRule('sub'), mul: arithRule('mul'), div: arithRule('div'),
  rem: arithRule('rem'), pow: arithRule('pow'), max: arithRule('max'), min: arithRule('min'),
  atan2: arithRule('atan2'),
  and: bitwiseRule('and'), or: bitwiseRule('or'), xor: bitwiseRule('xor'),
  shift_left: shiftRule('shift_left'), shift_right_logical: shiftRule('shift_right_logical'),
  shift_right_arithmetic: shiftRule('shift_right_arithmetic'),
  eq: compareRule('eq'), ne: compareRule('ne'), lt: compareRule('lt'), le: compareRule('le'),
  gt: compareRule('gt'), ge: compareRule('ge'),

  // pred ? t : f
  select: (cx, [pred, t, f]) => [cx.where(pred, t, f)],
  convert_element_type: (cx, [x], p) => [convert(cx, x, onnxDtype(p.newDtype, cx.site))],
  // identity: no node at all
  stop_gradient: (_cx, [x]) => [x],

  // Reshape to the target rank (size-1 dims where the operand has none), then Expand
  broadcast_in_dim: (cx, [x], p) => {
    const inter = p.shape.map(() => 1);
    p.broadcastDimensions.forEach((d, i) => (inter[d] = x.shape[i]));
    // Lazy broadcast (see lowerInto): when every consumer broadcasts natively, stop at the
    // rank-aligned Reshape and let ONNX's multidirectional broadcasting do the rest.
    if (cx.lazyBroadcast) return [cx.reshape(x, inter)];
    return [cx.expand(cx.reshape(x, inter), p.shape)];
  },
  // allowzero=1 so a 0 in the target shape means size 0, not "copy the input dim"
  reshape: (cx, [x], p) => [cx.reshape(x, p.newSizes)],
  transpose: (cx, [x], p) => [cx.transpose(x, p.permutation)],
  slice: (cx, [x], p) => [cx.slice(x, p.startIndices, p.limitIndices, p.strides ?? undefined)],
  pad: padRule(),
  // empty operands are dropped (the output is non-empty here)
  concatenate: (cx, xs, p) => [cx.concat(xs.filter((x) => x.shape[p.dimension] > 0), p.dimension)],
  // Slice with runtime starts clamped to [0, dim − size]
  dynamic_slice: (cx, [x, ...starts], p) => {
    const st = clampedStarts(cx, starts, x.shape.map((d, i) => d - p.sliceSizes[i]));
    const ends = cx.add(st, cx.i64(p.sliceSizes));
    const axes = cx.i64(x.shape.map((_, i) => i));
    return [cx.op('Slice', [x, st, ends, axes], x.dtype, p.sliceSizes)];
  },
  // Two lowerings, both with starts clamped to [0, dim − size]:
  // - ScatterND of whole trailing blocks: with a = the last dim the update does not span,
  //   indices[c0..ca] = (c0..ca) + starts[0..a] over the update's coordinates in dims 0..a, so
  //   x[starts + c, :] = u[c, :] — one copy of x plus the update (a KV-cache write);
  // - otherwise (many small blocks) pads = [starts, dim − size − starts]: Pad the update and a
  //   true mask, then select.
  dynamic_update_slice: (cx, [x, u, ...starts]) => {
    if (sizeOf(u.shape) === 0) return [x];
    const st = clampedStarts(cx, starts, x.shape.map((d, i) => d - u.shape[i]));
    let a = x.shape.length - 1;
    while (a >= 0 && u.shape[a] === x.shape[a]) a--;
    if (a < 0) return [u]; // the update covers x
    const lead = u.shape.slice(0, a + 1);
    const blocks = sizeOf(lead);
    if (blocks * (a + 1) <= 1 << 16 && blocks * 8 <= sizeOf(u.shape)) {
      // base coordinates of every block of the update: [u0, …, ua, a + 1]
      const base = new globalThis.Array<number>(blocks * (a + 1));
      for (let b = 0; b < blocks; b++) {
        let r = b;
        for (let j = a; j >= 0; j--) {
          base[b * (a + 1) + j] = r % lead[j];
          r = Math.floor(r / lead[j]);
        }
      }
      const offs = cx.reshape(cx.slice(st, [0], [a + 1]), [...lead.map(() => 1), a + 1]);
      const idx = cx.add(cx.tensor('int64', [...lead, a + 1], base, 'dus_index'), offs);
      return [cx.op('ScatterND', [x, idx, u], x.dtype, x.shape)];
    }
    const hi = cx.sub(cx.i64(x.shape.map((d, i) => d - u.shape[i])), st);
    const pads = cx.concat([st, hi], 0);
    const padded = cx.op('Pad', [u, pads, cx.scalar(u.dtype, 0)], u.dtype, x.shape, { mode: A.str('constant') });
    const mask = cx.op('Pad', [cx.full('bool', u.shape, 1), pads, cx.scalar('bool', 0)], 'bool', x.shape, { mode: A.str('constant') });
    return [cx.where(mask, padded, x)];
  },

  reduce_sum: reduceRule('reduce_sum'),
  reduce_max: reduceRule('reduce_max'),
  reduce_min: reduceRule('reduce_min'),
  argmax: argmaxRule(),
  cumsum: cumsumRule(),
  dot_general: dotGeneralRule(),
  gather: gatherRule(),
  ragged_dot: raggedDotRule(),
  ragged_contract: raggedContractRule(),
  scatter_add: scatterAddRule(),
  top_k: topKRule(),
  iota: iotaRule(),
  // sub-graphs are inlined
  remat: (cx, ins, p) => lowerInto(cx, p.graph, ins),
  custom_vjp_call: (cx, ins, p) => lowerInto(cx, p.graph, ins),
  // identity on values
  sharding_constraint: (cx, [x]) => [cx.un('Identity', x)],
  // collectives never reach ONNX: the runtime splits per-device programs at them and runs them itself
  all_reduce: collectiveRule('all_reduce'),
  all_gather: collectiveRule('all_gather'),
  reduce_scatter: collectiveRule('reduce_scatter'),
  all_to_all: collectiveRule('all_to_all'),
  collective_permute: collectiveRule('collective_permute'),
  axis_index: collectiveRule('axis_index'),
};

function collectiveRule(name: string): OnnxRule<Primitive> {
  return (cx) => {
    throw new OnnxUnsupportedError(
      `${cx.site}: collective ${name} has no ONNX lowering: the runtime (src/runtime Mesh) executes collectives itself between ONNX segments (splitAtCollectives), ` +
        'and evalSpmdReference interprets them on virtual devices; lower only the segments between collectives',
    );
  };
}

// ------------------------------------------------------------------------------------------
// driver

/** Literal or constant array → initializer value. */
function constVal(cx: LowerContext, x: MArray, where: string): Val {
  const data = x._data;
  if (data === null) throw new OnnxError(`${where}: a captured constant ${fmtAval(x)} is a tracer; lower the outermost graph (closure-converted)`);
  const dt = onnxDtype(x.dtype, where);
  if (data.length <= 16) return { name: cx.b.constant(dt, x.shape, globalThis.Array.from(data)), dtype: dt, shape: [...x.shape] };
  return cx.tensor(dt, x.shape, data, 'graph_const');
}

function describeEqn(e: Eqn): string {
  return `${e.prim}${e.source ? ` (made at ${e.source})` : ''}`;
}

/** Lowers the equations of `graph` with its inputs bound to `inputs`; returns its outputs. */
/** Elementwise primitives whose ONNX rules broadcast operands of smaller (rank-aligned) shape. */
const BROADCASTING: ReadonlySet<Primitive> = new Set<Primitive>(['add', 'sub', 'mul', 'max', 'min', 'select', 'eq', 'ne', 'lt', 'le', 'gt', 'ge']);

/** One-operand elementwise primitives lowerInto applies piece by piece to row-grouped values. */
const PIECEWISE_UNARY: ReadonlySet<Primitive> = new Set<Primitive>([
  'neg', 'abs', 'sign', 'floor', 'ceil', 'round', 'is_finite', 'exp', 'log', 'log1p', 'expm1', 'tanh', 'logistic',
  'sin', 'cos', 'sqrt', 'rsqrt', 'erf', 'not', 'convert_element_type', 'stop_gradient',
]);

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** broadcast_in_dim outputs whose every use is a broadcasting elementwise op (not a graph output). */
function lazyBroadcasts(graph: Graph): Set<Var> {
  const candidates = new Set<Var>();
  for (const e of graph.eqns) if (e.prim === 'broadcast_in_dim' && !(e.inputs[0].aval.dtype === 'bool' || e.inputs[0].aval.dtype === 'uint32')) candidates.add(e.outputs[0]);
  for (const o of graph.outputs) if (!(o instanceof Literal)) candidates.delete(o);
  for (const e of graph.eqns) {
    if (BROADCASTING.has(e.prim)) {
      const dt = e.prim === 'select' ? e.inputs[1].aval.dtype : e.inputs[0].aval.dtype;
      if (dt === 'float32' || dt === 'float64' || dt === 'int32') continue;
    }
    for (const a of e.inputs) if (!(a instanceof Literal)) candidates.delete(a);
  }
  return candidates;
}

function lowerInto(cx: LowerContext, graph: Graph, inputs: readonly Val[]): Val[] {
  const env = new Map<Var, Val>();
  graph.inputs.forEach((v, i) => env.set(v, inputs[i]));
  graph.consts.forEach((v, i) => env.set(v, constVal(cx, graph.constValues[i], 'graph constant')));
  // Row-grouped values kept in pieces (RaggedParts): ragged_dot results and elementwise functions
  // of them. The pieces are concatenated only when an equation that cannot use them reads the
  // value, so an expert FFN (ragged_dot → activation → ragged_dot, and its backward pass) runs
  // group by group without a Concat and a Slice between its matmuls.
  const ragged = new Map<Var, RaggedParts>();
  // [G, K, N] ragged_contract results kept as their G matrices, stacked on first use (or, at the
  // top level with splitStacked, handed out as separate graph outputs)
  const stacked = new Map<Var, Val[]>();
  const collectStacked = cx.collectStacked;
  cx.collectStacked = false; // not inside remat / custom_vjp sub-graphs
  const read = (a: Atom): Val => {
    if (a instanceof Literal) return cx.scalar(onnxDtype(a.aval.dtype, 'literal'), a.value);
    let v = env.get(a);
    const r = v ? undefined : ragged.get(a);
    if (r) {
      v = cx.op('Concat', r.parts, onnxDtype(a.aval.dtype, 'ragged value'), a.aval.shape, { axis: A.int(0) });
      env.set(a, v);
    }
    const st = v ? undefined : stacked.get(a);
    if (st) {
      const [, K, N] = a.aval.shape;
      v = cx.concat(st.map((m) => cx.reshape(m, [1, K, N])), 0);
      env.set(a, v);
    }
    if (!v) throw new OnnxError('internal: lowering read an undefined variable');
    return v;
  };
  /** Lowers `e` piecewise when it is elementwise on row-grouped values of one grouping (and scalars). */
  const piecewise = (e: Eqn): boolean => {
    if (e.outputs.length !== 1 || e.outputs[0].aval.shape.length !== 2 || !(BROADCASTING.has(e.prim) || PIECEWISE_UNARY.has(e.prim))) return false;
    const ps = e.inputs.map((a) => (a instanceof Literal ? undefined : ragged.get(a)));
    const first = ps.find((p) => p !== undefined);
    if (!first) return false;
    const uniform = e.inputs.map((a, i) => (ps[i] ? null : read(a)));
    if (!ps.every((p, i) => (p ? p.key === first.key : sizeOf(uniform[i]!.shape) === 1))) return false;
    const rule = onnxRules[e.prim] as OnnxRule<Primitive>;
    const outAvals = e.outputs.map((o) => o.aval);
    const parts = first.parts.map((_, j) => {
      const [o] = rule(cx, e.inputs.map((_a, i) => ps[i]?.parts[j] ?? uniform[i]!), e.params, outAvals);
      if (o.dtype !== outAvals[0].dtype) throw new OnnxError(`internal: ONNX rule for ${cx.site} produced ${o.dtype} pieces but the equation says ${fmtAval(outAvals[0])}`);
      return o;
    });
    ragged.set(e.outputs[0], { key: first.key, parts });
    return true;
  };
  // Lazy broadcasting: a broadcast_in_dim whose every consumer is a natively broadcasting
  // elementwise op (and which is not a graph output) is lowered to a Reshape only, so the
  // broadcast tensor is never materialized (Expand writes the whole [B, N] array, the consumer
  // then reads it). Consumers whose ONNX result comes out smaller than the equation's shape (both
  // operands lazily broadcast) are expanded afterwards; every other consumer gets materialized
  // inputs. Measured on the MLP training step in bench/engine.ts.
  const lazy = process.env.MYRIAD_ONNX_EAGER_BROADCAST ? new Set<Var>() : lazyBroadcasts(graph);
  const materialize = (v: Val, a: AbstractValue): Val => (sameShape(v.shape, a.shape) ? v : cx.expand(v, a.shape));
  const saved = cx.site;
  for (const e of graph.eqns) {
    cx.site = describeEqn(e);
    const outAvals = e.outputs.map((o) => o.aval);
    if (piecewise(e)) continue;
    let outs: Val[];
    if (e.prim === 'ragged_dot' || e.prim === 'ragged_contract') {
      // operands kept in pieces under this op's grouping are read piece by piece (cx.raggedIn)
      const key = raggedKey(read(e.inputs[2]), e.inputs[0].aval.shape[0]);
      cx.raggedIn = e.inputs.map((a) => (a instanceof Literal ? null : ragged.get(a)?.key === key ? ragged.get(a)! : null));
      const ins = e.inputs.map((a, i) => (cx.raggedIn[i] ? { name: '', dtype: onnxDtype(a.aval.dtype, cx.site), shape: [...a.aval.shape] } : read(a)));
      try {
        outs = (onnxRules[e.prim] as OnnxRule<Primitive>)(cx, ins, e.params, outAvals);
      } finally {
        cx.raggedIn = [];
      }
      const out = cx.raggedOut, st = cx.stackedOut;
      cx.raggedOut = null;
      cx.stackedOut = null;
      if (out) {
        ragged.set(e.outputs[0], out);
        continue;
      }
      if (st) {
        stacked.set(e.outputs[0], st);
        continue;
      }
    } else if (outAvals.every((a) => sizeOf(a.shape) === 0)) {
      outs = outAvals.map((a) => cx.tensor(dtypeOf(a, cx.site), a.shape, [], 'empty'));
    } else {
      const rule = onnxRules[e.prim] as OnnxRule<Primitive>;
      let ins = e.inputs.map(read);
      if (!BROADCASTING.has(e.prim)) ins = ins.map((v, i) => materialize(v, e.inputs[i].aval));
      cx.lazyBroadcast = e.prim === 'broadcast_in_dim' && lazy.has(e.outputs[0]);
      try {
        outs = rule(cx, ins, e.params, outAvals);
      } finally {
        cx.lazyBroadcast = false;
      }
      cx.site = describeEqn(e);
      if (BROADCASTING.has(e.prim)) outs = outs.map((o, i) => materialize(o, outAvals[i]));
    }
    outs.forEach((o, i) => {
      const a = outAvals[i];
      const lazyOk = e.prim === 'broadcast_in_dim' && lazy.has(e.outputs[i]) && o.shape.length === a.shape.length;
      if (o.dtype !== a.dtype || o.shape.length !== a.shape.length || (!lazyOk && o.shape.some((d, j) => d !== a.shape[j]))) {
        throw new OnnxError(`internal: ONNX rule for ${cx.site} produced ${o.dtype}[${o.shape.join(',')}] but the equation says ${fmtAval(a)}`);
      }
      env.set(e.outputs[i], o);
    });
  }
  cx.site = saved;
  if (collectStacked) {
    // outputs kept as stacked matrices become separate graph outputs (the first occurrence of each)
    const seen = new Set<Var>();
    cx.outputPieces = graph.outputs.map((o) => {
      if (o instanceof Literal || seen.has(o) || env.has(o) || !stacked.has(o)) return null;
      seen.add(o);
      return stacked.get(o)!;
    });
    return graph.outputs.map((o, i) => (cx.outputPieces[i] ? { name: '', dtype: onnxDtype(o.aval.dtype, 'output'), shape: [...o.aval.shape] } : materialize(read(o), o.aval)));
  }
  return graph.outputs.map((o) => materialize(read(o), o.aval));
}

/** Options of `lowerGraph`. */
export interface LowerOptions {
  /** Name of the ONNX graph (default 'myriad'). */
  graphName?: string;
  /** Names of the graph inputs (default input_0, input_1, …). */
  inputNames?: string[];
  /** Names of the graph outputs (default output_0, output_1, …). */
  outputNames?: string[];
  /** Model doc string. */
  docString?: string;
  /**
   * Pass stacked expert matrices as separate ONNX inputs/outputs (see LoweredModel.inputPieces);
   * `OnnxExecutable` turns it on and feeds zero-copy views; off for standalone exports (default).
   */
  splitStacked?: boolean;
}

/** A lowered model and the names/avals of its inputs and outputs (in graph order). */
export interface LoweredModel {
  /** Serialized ModelProto. */
  model: Uint8Array;
  inputNames: string[];
  outputNames: string[];
  inputAvals: AbstractValue[];
  outputAvals: AbstractValue[];
  /** The ai.onnx opset the model imports. */
  opset: number;
  /**
   * With `splitStacked`: per graph input, null or the names of the ONNX inputs that take its
   * leading-axis matrices x[0], x[1], … (fed as views of the input's storage).
   */
  inputPieces?: (string[] | null)[];
  /** Likewise per graph output: the ONNX outputs that return its leading-axis matrices. */
  outputPieces?: (string[] | null)[];
}

/**
 * Lowers a Graph to a serialized ONNX model (opset 18). Inputs and outputs keep the graph's
 * order, dtypes and static shapes; constants become initializers.
 */
export function lowerGraph(graph: Graph, opts: LowerOptions = {}): LoweredModel {
  const b = new OnnxModelBuilder(opts.graphName ?? 'myriad');
  const cx = new LowerContext(b);
  const inputNames = graph.inputs.map((_, i) => opts.inputNames?.[i] ?? `input_${i}`);
  const outputNames = graph.outputs.map((_, i) => opts.outputNames?.[i] ?? `output_${i}`);
  if (new Set([...inputNames, ...outputNames]).size !== inputNames.length + outputNames.length) {
    throw new OnnxError(`lowerGraph: input and output names must be distinct, got ${JSON.stringify([...inputNames, ...outputNames])}`);
  }
  // inputs read only as the weights of grouped matmuls are fed as their G matrices
  const pieceInputs = opts.splitStacked ? stackedInputs(graph) : new Set<number>();
  const inputPieces: (string[] | null)[] = graph.inputs.map(() => null);
  const inputs = graph.inputs.map((v, i) => {
    const dt = onnxDtype(v.aval.dtype, `graph input ${i}`);
    const full: Val = { name: inputNames[i], dtype: dt, shape: [...v.aval.shape] };
    if (pieceInputs.has(i)) {
      const [G, K, N] = v.aval.shape;
      b.claim(inputNames[i]);
      inputPieces[i] = globalThis.Array.from({ length: G }, (_, g) => {
        const name = `${inputNames[i]}__${g}`;
        b.addInput(name, dt, [K, N]);
        cx.memo(`lead:${full.name}:${g}`, () => ({ name, dtype: dt, shape: [K, N] }));
        return name;
      });
    } else {
      b.addInput(inputNames[i], dt, v.aval.shape);
    }
    return full;
  });
  outputNames.forEach((n) => b.claim(n));
  cx.collectStacked = opts.splitStacked ?? false;
  const outs = lowerInto(cx, graph, inputs);
  const outputPieces: (string[] | null)[] = graph.outputs.map(() => null);
  // Each output takes over the name of the node output that computes it, so ONNX Runtime hands
  // that buffer out directly; an Identity (a copy) only where that is impossible: the value is a
  // graph input or constant, or an earlier output already took it.
  const renamed = new Set<string>();
  const output = (o: Val, name: string, shape: readonly number[]) => {
    if (!renamed.has(o.name) && b.renameNodeOutput(o.name, name)) renamed.add(o.name).add(name);
    else b.node('Identity', [o.name], {}, [name]);
    b.addOutput(name, o.dtype, shape);
  };
  outs.forEach((o, i) => {
    const pieces = cx.outputPieces[i];
    if (pieces) {
      outputPieces[i] = pieces.map((m, g) => {
        const name = b.claim(`${outputNames[i]}__${g}`);
        output(m, name, m.shape);
        return name;
      });
      return;
    }
    if (!renamed.has(o.name) && b.renameNodeOutput(o.name, outputNames[i])) {
      renamed.add(o.name).add(outputNames[i]);
      for (let j = i + 1; j < outs.length; j++) if (outs[j].name === o.name) outs[j] = { ...outs[j], name: outputNames[i] };
    } else {
      b.node('Identity', [o.name], {}, [outputNames[i]]);
    }
    b.addOutput(outputNames[i], o.dtype, o.shape);
  });
  return {
    model: b.toBytes(opts.docString ?? ''),
    inputNames,
    outputNames,
    inputAvals: graph.inAvals.map((a) => ({ shape: [...a.shape], dtype: a.dtype })),
    outputAvals: graph.outAvals.map((a) => ({ shape: [...a.shape], dtype: a.dtype })),
    opset: ONNX_OPSET,
    ...(inputPieces.some((p) => p) ? { inputPieces } : {}),
    ...(outputPieces.some((p) => p) ? { outputPieces } : {}),
  };
}

/**
 * Graph inputs that are read only as the weights (rhs) of ragged_dot — rank 3, not returned as an
 * output — so they can be fed as their leading-axis matrices.
 */
function stackedInputs(graph: Graph): Set<number> {
  const ok = new Map<Var, boolean>(graph.inputs.map((v) => [v, v.aval.shape.length === 3 && sizeOf(v.aval.shape) > 0]));
  for (const e of graph.eqns) {
    e.inputs.forEach((a, j) => {
      if (!(a instanceof Literal) && ok.has(a) && !(e.prim === 'ragged_dot' && j === 1)) ok.set(a, false);
    });
  }
  for (const o of graph.outputs) if (!(o instanceof Literal) && ok.has(o)) ok.set(o, false);
  return new Set(graph.inputs.map((v, i) => (ok.get(v) ? i : -1)).filter((i) => i >= 0));
}
