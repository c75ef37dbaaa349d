/**
 * `Array`: the one array type users see. An Array is either *concrete* (a typed array in
 * row-major order plus shape and dtype, garbage-collected like any JS object — no dispose) or a
 * *tracer* standing for a value inside a trace (makeGraph, grad, jit), known only by its shape
 * and dtype. Methods (`x.add(y)`, `x.sum()`, …) forward to the `np` library, which installs
 * itself here at load time; this keeps the class free of import cycles.
 */

import { allocate, castScalar, defaultScalarDtype, dtypeOfTypedArray, type DType, type TypedArray } from './dtype.js';
import { TracerError, ValueError } from './errors.js';
import { fmtAval, type AbstractValue, type Var } from './ir.js';
import { checkShape, sizeOf, stridesOf, type Shape } from './shape.js';
import * as lax from './lax.js';

/** The trace a tracer belongs to (implemented in trace.ts; only identity matters here). */
export interface TraceLike {
  readonly active: boolean;
  readonly description: string;
}

/** Values accepted wherever an array is expected: arrays, JS numbers and booleans. */
export type ArrayLike = Array | number | boolean;

/** The array methods' implementations, installed by the np library. */
export interface ArrayMethods {
  [name: string]: (...args: any[]) => any;
}
let methods: ArrayMethods | null = null;

/** Called once by the np library to provide the operations behind Array methods. */
export function installArrayMethods(m: ArrayMethods): void {
  methods = m;
}

function m(name: string): (...args: any[]) => any {
  const f = methods?.[name];
  if (!f) throw new Error(`internal: Array method ${name} is not installed (import 'myriad' rather than core modules)`);
  return f;
}

/** Abstract array (shape + dtype), usable as an argument to makeGraph/jit without data. */
export class ShapeDtypeStruct implements AbstractValue {
  readonly shape: number[];
  constructor(shape: Shape, readonly dtype: DType = 'float32') {
    this.shape = checkShape(shape, 'ShapeDtypeStruct');
  }
  toString(): string {
    return `ShapeDtypeStruct(${fmtAval(this)})`;
  }
}

/** An n-dimensional array (concrete or traced). */
export class Array implements AbstractValue {
  readonly shape: number[];
  readonly dtype: DType;
  /** @internal concrete storage, or null for a tracer. */
  readonly _data: TypedArray | null;
  /** @internal the trace this tracer belongs to. */
  readonly _trace: TraceLike | null;
  /** @internal the variable this tracer stands for. */
  readonly _var: Var | null;
  /** @internal set when the array was donated to a jitted call (its buffer may be reused). */
  _donated = false;

  private constructor(shape: number[], dtype: DType, data: TypedArray | null, trace: TraceLike | null, v: Var | null) {
    this.shape = shape;
    this.dtype = dtype;
    this._data = data;
    this._trace = trace;
    this._var = v;
  }

  /** @internal Wraps storage (not copied) as a concrete array. */
  static fromData(data: TypedArray, shape: Shape, dtype?: DType): Array {
    const d = dtype ?? dtypeOfTypedArray(data);
    if (data.length !== sizeOf(shape)) throw new ValueError(`array data has ${data.length} elements but shape [${shape.join(',')}] needs ${sizeOf(shape)}`);
    return new Array([...shape], d, data, null, null);
  }

  /** @internal A tracer for variable `v` of `trace`. */
  static tracer(trace: TraceLike, v: Var): Array {
    return new Array([...v.aval.shape], v.aval.dtype, null, trace, v);
  }

  /** @internal A concrete scalar. */
  static scalar(value: number | boolean, dtype: DType = defaultScalarDtype(value)): Array {
    const data = allocate(dtype, 1);
    data[0] = castScalar(Number(value), dtype);
    return new Array([], dtype, data, null, null);
  }

  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return sizeOf(this.shape);
  }
  get aval(): AbstractValue {
    return { shape: this.shape, dtype: this.dtype };
  }
  /** Whether this array is a tracer (a value inside makeGraph/grad/jit) rather than data. */
  get isTracer(): boolean {
    return this._data === null;
  }

  /** @internal The storage of a concrete array; a clear error for tracers. */
  concrete(what = 'read the values of'): TypedArray {
    if (this._donated) {
      throw new ValueError(`cannot ${what} an array ${fmtAval(this)} that was donated to a jitted function (donateArgnums): its buffer now belongs to that function's outputs. Use the function's result instead, or do not donate this argument.`);
    }
    if (this._data === null) {
      throw new TracerError(
        `cannot ${what} a traced array ${fmtAval(this)} inside ${this._trace?.description ?? 'a trace'}: its value is not known while tracing. ` +
          `Use np.where / np.select instead of JS if-statements on array values, or pass the value as a static argument.`,
      );
    }
    return this._data;
  }

  /** A copy of the values as a typed array (Uint8Array for bool). */
  async data(): Promise<TypedArray> {
    return this.dataSync();
  }
  /** A copy of the values as a typed array, synchronously. */
  dataSync(): TypedArray {
    return this.concrete().slice();
  }
  /** The values as nested JS arrays (numbers, or booleans for bool). */
  toArray(): any {
    const data = this.concrete();
    const conv = this.dtype === 'bool' ? (v: number) => v !== 0 : (v: number) => v;
    if (this.ndim === 0) return conv(data[0]);
    const strides = stridesOf(this.shape);
    const build = (dim: number, off: number): any[] => {
      const out: any[] = [];
      for (let i = 0; i < this.shape[dim]; i++) {
        out.push(dim === this.ndim - 1 ? conv(data[off + i]) : build(dim + 1, off + i * strides[dim]));
      }
      return out;
    };
    return build(0, 0);
  }
  /** The single value of a size-1 array. */
  item(): number | boolean {
    const data = this.concrete();
    if (data.length !== 1) throw new ValueError(`item() needs an array with one element, got ${fmtAval(this)}`);
    return this.dtype === 'bool' ? data[0] !== 0 : data[0];
  }

  toString(): string {
    if (this._data === null) return `Traced<${fmtAval(this)}>`;
    return `Array(${formatValues(this)}, dtype=${this.dtype})`;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /** Iterates over the first axis (as NumPy/JAX arrays do): `const [k1, k2] = random.split(k)`. */
  *[Symbol.iterator](): Iterator<Array> {
    if (this.ndim === 0) throw new ValueError(`cannot iterate over a 0-d array ${fmtAval(this)}`);
    const rest = this.shape.slice(1);
    for (let i = 0; i < this.shape[0]; i++) {
      const start = [i, ...rest.map(() => 0)];
      yield lax.reshape(lax.slice(this, start, [i + 1, ...rest]), rest);
    }
  }

  // ---- arithmetic (NumPy broadcasting and promotion, see np) ----
  add(y: ArrayLike): Array { return m('add')(this, y); }
  sub(y: ArrayLike): Array { return m('subtract')(this, y); }
  mul(y: ArrayLike): Array { return m('multiply')(this, y); }
  div(y: ArrayLike): Array { return m('divide')(this, y); }
  pow(y: ArrayLike): Array { return m('power')(this, y); }
  mod(y: ArrayLike): Array { return m('remainder')(this, y); }
  maximum(y: ArrayLike): Array { return m('maximum')(this, y); }
  minimum(y: ArrayLike): Array { return m('minimum')(this, y); }
  neg(): Array { return m('negative')(this); }
  abs(): Array { return m('abs')(this); }
  exp(): Array { return m('exp')(this); }
  log(): Array { return m('log')(this); }
  sqrt(): Array { return m('sqrt')(this); }
  tanh(): Array { return m('tanh')(this); }
  square(): Array { return m('square')(this); }
  // ---- comparison ----
  equal(y: ArrayLike): Array { return m('equal')(this, y); }
  notEqual(y: ArrayLike): Array { return m('not_equal')(this, y); }
  less(y: ArrayLike): Array { return m('less')(this, y); }
  lessEqual(y: ArrayLike): Array { return m('less_equal')(this, y); }
  greater(y: ArrayLike): Array { return m('greater')(this, y); }
  greaterEqual(y: ArrayLike): Array { return m('greater_equal')(this, y); }
  // ---- linear algebra, shape ----
  matmul(y: Array): Array { return m('matmul')(this, y); }
  dot(y: Array): Array { return m('dot')(this, y); }
  reshape(shape: number[]): Array { return m('reshape')(this, shape); }
  transpose(axes?: number[]): Array { return m('transpose')(this, axes); }
  get T(): Array { return m('transpose')(this); }
  flatten(): Array { return m('reshape')(this, [-1]); }
  squeeze(axis?: number | number[]): Array { return m('squeeze')(this, axis); }
  expandDims(axis: number | number[]): Array { return m('expand_dims')(this, axis); }
  broadcastTo(shape: number[]): Array { return m('broadcast_to')(this, shape); }
  astype(dtype: DType): Array { return m('astype')(this, dtype); }
  slice(...ranges: any[]): Array { return m('slice')(this, ...ranges); }
  // ---- reductions ----
  sum(axis?: number | number[] | null, opts?: { keepdims?: boolean }): Array { return m('sum')(this, axis, opts); }
  mean(axis?: number | number[] | null, opts?: { keepdims?: boolean }): Array { return m('mean')(this, axis, opts); }
  max(axis?: number | number[] | null, opts?: { keepdims?: boolean }): Array { return m('max')(this, axis, opts); }
  min(axis?: number | number[] | null, opts?: { keepdims?: boolean }): Array { return m('min')(this, axis, opts); }
  argmax(axis?: number | null, opts?: { keepdims?: boolean }): Array { return m('argmax')(this, axis, opts); }
  var(axis?: number | number[] | null, opts?: { keepdims?: boolean }): Array { return m('var')(this, axis, opts); }
}

function formatValues(a: Array): string {
  const v = a.toArray();
  const s = JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
  return s.length > 400 ? s.slice(0, 400) + '…' : s;
}
