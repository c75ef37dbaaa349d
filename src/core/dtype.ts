/**
 * Element types (dtypes) of Myriad arrays, their typed-array storage, and the promotion rules
 * that binary operations use.
 *
 * Supported: float32 (the default float), float64 (reference interpreter only: gradient checks),
 * int32 (default integer), uint32 (PRNG bits), bool. float16/bfloat16 are named so the IR has
 * room for them, but no backend computes with them yet.
 *
 * Promotion (documented in README "dtype promotion"): the lattice is
 *   bool < {int32, uint32} < float32 < float64
 * and int32 with uint32 is refused (convert one explicitly). JS numbers and booleans are *weakly
 * typed* (as Python scalars are in JAX): they take the dtype of the array they meet, except that a
 * non-integer number meeting an integer array promotes to float32.
 */

import { DTypeError } from './errors.js';

/** All dtype names the IR knows about. */
export type DType = 'float32' | 'float64' | 'int32' | 'uint32' | 'bool' | 'float16' | 'bfloat16';

/** Typed array backing each computable dtype (bool is stored as 0/1 bytes). */
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;

/** The dtype names, as a runtime list (for validation and `dtypes` exports). */
export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'uint32', 'bool', 'float16', 'bfloat16'];

/** Short names used by the Graph printer, like jaxpr's `f32[2,3]`. */
export const SHORT_NAME: Record<DType, string> = {
  float32: 'f32', float64: 'f64', int32: 'i32', uint32: 'u32', bool: 'bool', float16: 'f16', bfloat16: 'bf16',
};

export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}
export function isInteger(d: DType): boolean {
  return d === 'int32' || d === 'uint32';
}
export function isUnsigned(d: DType): boolean {
  return d === 'uint32' || d === 'bool';
}

/** Allocates zeroed storage for `size` elements of dtype `d`. */
export function allocate(d: DType, size: number): TypedArray {
  switch (d) {
    case 'float32': return new Float32Array(size);
    case 'float64': return new Float64Array(size);
    case 'int32': return new Int32Array(size);
    case 'uint32': return new Uint32Array(size);
    case 'bool': return new Uint8Array(size);
    default:
      throw new DTypeError(`dtype ${d} has no storage yet: only float32, float64, int32, uint32 and bool are computable; convert with astype('float32')`);
  }
}

/** The dtype whose storage class matches `a` (Uint8Array is read as bool). */
export function dtypeOfTypedArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof Uint8Array) return 'bool';
  throw new DTypeError('unsupported typed array: use Float32Array, Float64Array, Int32Array, Uint32Array or Uint8Array (bool)');
}

/** Casts a JS number to the value dtype `d` stores (wrapping for integers, as C casts do). */
export function castScalar(v: number, d: DType): number {
  switch (d) {
    case 'float32': return Math.fround(v);
    case 'int32': return Number.isFinite(v) ? Math.trunc(v) | 0 : 0;
    case 'uint32': return Number.isFinite(v) ? Math.trunc(v) >>> 0 : 0;
    case 'bool': return v ? 1 : 0;
    default: return v;
  }
}

const RANK: Record<string, number> = { bool: 0, int32: 1, uint32: 1, float32: 2, float64: 3 };

/** Result dtype of a binary op on two (strongly typed) dtypes. */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if (!(a in RANK) || !(b in RANK)) {
    throw new DTypeError(`cannot promote ${a} with ${b}: ${a === 'float16' || a === 'bfloat16' || b === 'float16' || b === 'bfloat16' ? 'half-precision types are not computable yet' : 'unknown dtype'}`);
  }
  if (isInteger(a) && isInteger(b)) {
    throw new DTypeError(`mixing int32 and uint32 is ambiguous (there is no int64 here); convert one side explicitly, e.g. x.astype('int32')`);
  }
  return RANK[a] >= RANK[b] ? a : b;
}

/** Dtype a weakly typed JS scalar takes when combined with an array of dtype `d`. */
export function weakScalarDtype(v: number | boolean, d: DType): DType {
  if (typeof v === 'boolean') return d;
  if (d === 'bool') return Number.isInteger(v) ? 'int32' : 'float32';
  if (isInteger(d) && !Number.isInteger(v)) return 'float32';
  return d;
}

/** Default dtype of a JS scalar standing alone: bool, int32 for integers, else float32. */
export function defaultScalarDtype(v: number | boolean): DType {
  if (typeof v === 'boolean') return 'bool';
  return Number.isInteger(v) && Math.abs(v) <= 0x7fffffff ? 'int32' : 'float32';
}

/** Validates a user-given dtype name. */
export function checkDtype(d: unknown, where: string): DType {
  if (typeof d === 'string' && (DTYPES as readonly string[]).includes(d)) return d as DType;
  throw new DTypeError(`${where}: unknown dtype ${JSON.stringify(d)}; expected one of ${DTYPES.join(', ')}`);
}

/** Finfo-style facts for float dtypes. */
export function finfo(d: DType): { eps: number; max: number; min: number; tiny: number } {
  if (d === 'float64') return { eps: 2 ** -52, max: Number.MAX_VALUE, min: -Number.MAX_VALUE, tiny: 2 ** -1022 };
  if (d === 'float32') return { eps: 2 ** -23, max: 3.4028234663852886e38, min: -3.4028234663852886e38, tiny: 2 ** -126 };
  throw new DTypeError(`finfo: ${d} is not a computable float dtype`);
}
