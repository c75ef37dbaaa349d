/**
 * `lax`: one thin typed function per primitive (like jax.lax). No broadcasting or promotion
 * happens here — operands must already agree, exactly as the primitives require. The `np`
 * library, the autodiff rules and the PRNG are written on top of these.
 */

import { Array } from './array.js';
import type { DType } from './dtype.js';
import type { Graph } from './ir.js';
import type { BinaryOp, CompareOp, UnaryOp, PrimitiveParams, Sharding } from './primitives.js';
import { bind, bind1 } from './trace.js';

const none = {} as Record<string, never>;

export function unary(op: UnaryOp, x: Array): Array {
  return bind1(op, [x], none);
}
export function binary(op: BinaryOp, a: Array, b: Array): Array {
  return bind1(op, [a, b], none);
}
export function compare(op: CompareOp, a: Array, b: Array): Array {
  return bind1(op, [a, b], none);
}

export const neg = (x: Array) => unary('neg', x);
export const abs = (x: Array) => unary('abs', x);
export const sign = (x: Array) => unary('sign', x);
export const floor = (x: Array) => unary('floor', x);
export const ceil = (x: Array) => unary('ceil', x);
export const round = (x: Array) => unary('round', x);
export const isFinite = (x: Array) => unary('is_finite', x);
export const exp = (x: Array) => unary('exp', x);
export const log = (x: Array) => unary('log', x);
export const log1p = (x: Array) => unary('log1p', x);
export const expm1 = (x: Array) => unary('expm1', x);
export const tanh = (x: Array) => unary('tanh', x);
export const logistic = (x: Array) => unary('logistic', x);
export const sin = (x: Array) => unary('sin', x);
export const cos = (x: Array) => unary('cos', x);
export const sqrt = (x: Array) => unary('sqrt', x);
export const rsqrt = (x: Array) => unary('rsqrt', x);
export const erf = (x: Array) => unary('erf', x);
export const not = (x: Array) => unary('not', x);

export const add = (a: Array, b: Array) => binary('add', a, b);
export const sub = (a: Array, b: Array) => binary('sub', a, b);
export const mul = (a: Array, b: Array) => binary('mul', a, b);
export const div = (a: Array, b: Array) => binary('div', a, b);
export const rem = (a: Array, b: Array) => binary('rem', a, b);
export const pow = (a: Array, b: Array) => binary('pow', a, b);
export const max = (a: Array, b: Array) => binary('max', a, b);
export const min = (a: Array, b: Array) => binary('min', a, b);
export const atan2 = (a: Array, b: Array) => binary('atan2', a, b);
export const and = (a: Array, b: Array) => binary('and', a, b);
export const or = (a: Array, b: Array) => binary('or', a, b);
export const xor = (a: Array, b: Array) => binary('xor', a, b);
export const shiftLeft = (a: Array, b: Array) => binary('shift_left', a, b);
export const shiftRightLogical = (a: Array, b: Array) => binary('shift_right_logical', a, b);
export const shiftRightArithmetic = (a: Array, b: Array) => binary('shift_right_arithmetic', a, b);

export const eq = (a: Array, b: Array) => compare('eq', a, b);
export const ne = (a: Array, b: Array) => compare('ne', a, b);
export const lt = (a: Array, b: Array) => compare('lt', a, b);
export const le = (a: Array, b: Array) => compare('le', a, b);
export const gt = (a: Array, b: Array) => compare('gt', a, b);
export const ge = (a: Array, b: Array) => compare('ge', a, b);

/** `pred ? onTrue : onFalse`, elementwise; all three the same shape. */
export const select = (pred: Array, onTrue: Array, onFalse: Array) => bind1('select', [pred, onTrue, onFalse], none);

/** Converts element type (floats to ints truncate toward zero; to bool is `x != 0`). */
export function convert(x: Array, newDtype: DType): Array {
  if (x.dtype === newDtype) return x;
  return bind1('convert_element_type', [x], { newDtype });
}

/** Identity whose derivative is zero. */
export const stopGradient = (x: Array) => bind1('stop_gradient', [x], none);

export function broadcastInDim(x: Array, shape: number[], broadcastDimensions: number[]): Array {
  return bind1('broadcast_in_dim', [x], { shape: [...shape], broadcastDimensions: [...broadcastDimensions] });
}
export function reshape(x: Array, newSizes: number[]): Array {
  if (newSizes.length === x.ndim && newSizes.every((d, i) => d === x.shape[i])) return x;
  return bind1('reshape', [x], { newSizes: [...newSizes] });
}
export function transpose(x: Array, permutation: number[]): Array {
  if (permutation.every((p, i) => p === i)) return x;
  return bind1('transpose', [x], { permutation: [...permutation] });
}
export function slice(x: Array, startIndices: number[], limitIndices: number[], strides: number[] | null = null): Array {
  return bind1('slice', [x], { startIndices: [...startIndices], limitIndices: [...limitIndices], strides: strides && [...strides] });
}
export function pad(x: Array, padValue: number, lo: number[], hi: number[], interior?: number[]): Array {
  return bind1('pad', [x], { lo: [...lo], hi: [...hi], interior: interior ? [...interior] : lo.map(() => 0), padValue });
}
export function concatenate(xs: Array[], dimension: number): Array {
  if (xs.length === 1) return xs[0];
  return bind1('concatenate', xs, { dimension });
}
/** Slice of static size at dynamic (int32 scalar) start indices, clamped to stay in bounds. */
export function dynamicSlice(x: Array, starts: Array[], sliceSizes: number[]): Array {
  return bind1('dynamic_slice', [x, ...starts], { sliceSizes: [...sliceSizes] });
}
/** Writes `update` into `x` at dynamic (int32 scalar) start indices, clamped to stay in bounds. */
export function dynamicUpdateSlice(x: Array, update: Array, starts: Array[]): Array {
  return bind1('dynamic_update_slice', [x, update, ...starts], none);
}
export function reduceSum(x: Array, axes: number[]): Array {
  if (axes.length === 0) return x;
  return bind1('reduce_sum', [x], { axes: [...axes] });
}
export function reduceMax(x: Array, axes: number[]): Array {
  if (axes.length === 0) return x;
  return bind1('reduce_max', [x], { axes: [...axes] });
}
export function reduceMin(x: Array, axes: number[]): Array {
  if (axes.length === 0) return x;
  return bind1('reduce_min', [x], { axes: [...axes] });
}
export function argmax(x: Array, axis: number, indexDtype: DType = 'int32'): Array {
  return bind1('argmax', [x], { axis, indexDtype });
}
export function cumsum(x: Array, axis: number, reverse = false): Array {
  return bind1('cumsum', [x], { axis, reverse });
}
export function dotGeneral(
  a: Array,
  b: Array,
  dims: { lhsContracting: number[]; rhsContracting: number[]; lhsBatch?: number[]; rhsBatch?: number[] },
  preferredElementType: DType | null = null,
): Array {
  return bind1('dot_general', [a, b], {
    lhsContracting: [...dims.lhsContracting],
    rhsContracting: [...dims.rhsContracting],
    lhsBatch: [...(dims.lhsBatch ?? [])],
    rhsBatch: [...(dims.rhsBatch ?? [])],
    preferredElementType,
  });
}
/** tf.gather semantics; out-of-range indices read 0. See primitives.ts. */
export function gather(x: Array, indices: Array, axis: number, batchDims = 0): Array {
  return bind1('gather', [x, indices], { axis, batchDims });
}
/**
 * Grouped matmul: lhs [M, K] rows in consecutive groups of `groupSizes` (int32 [G]) rows, group g
 * multiplied by rhs[g] (rhs [G, K, N]; with `transposeRhs`, rhs [G, N, K] and rhs[g]ᵀ) → [M, N];
 * rows past the last group are 0. See primitives.ts.
 */
export function raggedDot(lhs: Array, rhs: Array, groupSizes: Array, { transposeRhs = false }: { transposeRhs?: boolean } = {}): Array {
  return bind1('ragged_dot', [lhs, rhs, groupSizes], { transposeRhs });
}
/** Per-group contraction over rows: out[g] = Σ_{m ∈ group g} lhs[m]ᵀ rhs[m] → [G, K, N]. See primitives.ts. */
export function raggedContract(lhs: Array, rhs: Array, groupSizes: Array): Array {
  return bind1('ragged_contract', [lhs, rhs, groupSizes], {});
}
/** Adds `updates` into `x` at `indices` (transpose of gather); out-of-range indices dropped. */
export function scatterAdd(x: Array, indices: Array, updates: Array, axis: number, batchDims = 0): Array {
  return bind1('scatter_add', [x, indices, updates], { axis, batchDims });
}
/** Top-k along the last axis: [values, int32 indices]. */
export function topK(x: Array, k: number): [Array, Array] {
  const [v, i] = bind('top_k', [x], { k });
  return [v, i];
}
export function iota(dtype: DType, shape: number[], dimension = 0): Array {
  return bind1('iota', [], { dtype, shape: [...shape], dimension });
}
/** Calls a sub-graph as a rematerialization unit (see autodiff.checkpoint). */
export function remat(graph: Graph, args: Array[]): Array[] {
  return bind('remat', args, { graph });
}
/** Calls a sub-graph with user-defined forward/backward rules (see autodiff.customVjp). */
export function customVjpCall(args: Array[], params: PrimitiveParams['custom_vjp_call']): Array[] {
  return bind('custom_vjp_call', args, params);
}

/**
 * Pins `x`'s sharding (identity on values). Users call `withShardingConstraint` from
 * src/distributed, which accepts a PartitionSpec too.
 */
export function shardingConstraint(x: Array, sharding: Sharding): Array {
  return bind1('sharding_constraint', [x], { sharding });
}

// Collectives: per-device programs only (run them with evalSpmdReference or the runtime's Mesh).
// `axes` are mesh axis names (major → minor, defining the rank in the group) and `axisSizes`
// their mesh sizes; see the primitives.ts header for the exact semantics.

/** Sum (or max/min) over the group, in group-rank order; every member gets the result. */
export function allReduce(x: Array, p: { axes: string[]; axisSizes: number[]; op?: 'sum' | 'max' | 'min' }): Array {
  return bind1('all_reduce', [x], { axes: [...p.axes], axisSizes: [...p.axisSizes], op: p.op ?? 'sum' });
}
/** Concatenates the group members' pieces along `dimension` in group-rank order. */
export function allGather(x: Array, p: { axes: string[]; axisSizes: number[]; dimension: number }): Array {
  return bind1('all_gather', [x], { axes: [...p.axes], axisSizes: [...p.axisSizes], dimension: p.dimension });
}
/** Sums over the group, then group rank r keeps the r-th 1/k slice along `dimension`. */
export function reduceScatter(x: Array, p: { axes: string[]; axisSizes: number[]; dimension: number }): Array {
  return bind1('reduce_scatter', [x], { axes: [...p.axes], axisSizes: [...p.axisSizes], dimension: p.dimension, op: 'sum' });
}
/** Splits `splitDimension` into k pieces, piece j to rank j; received pieces concatenated along `concatDimension`. */
export function allToAll(x: Array, p: { axes: string[]; axisSizes: number[]; splitDimension: number; concatDimension: number }): Array {
  return bind1('all_to_all', [x], { axes: [...p.axes], axisSizes: [...p.axisSizes], splitDimension: p.splitDimension, concatDimension: p.concatDimension });
}
/** Sends rank s's value to rank t for each [s, t]; ranks receiving nothing get zeros. */
export function collectivePermute(x: Array, p: { axes: string[]; axisSizes: number[]; pairs: [number, number][] }): Array {
  return bind1('collective_permute', [x], { axes: [...p.axes], axisSizes: [...p.axisSizes], pairs: p.pairs.map(([s, t]) => [s, t] as [number, number]) });
}
/** This device's rank within the group over `axes` (int32 scalar). */
export function axisIndex(p: { axes: string[]; axisSizes: number[] }): Array {
  return bind1('axis_index', [], { axes: [...p.axes], axisSizes: [...p.axisSizes] });
}

/** A concrete scalar of the given dtype (for building constants in rules). */
export function full(value: number, dtype: DType, shape: number[] = []): Array {
  const s = Array.scalar(value, dtype);
  return shape.length ? broadcastInDim(s, shape, []) : s;
}
/** A scalar shaped like nothing, dtype of `like`. */
export function scalarLike(like: { dtype: DType }, value: number): Array {
  return Array.scalar(value, like.dtype);
}
/** Zeros shaped and typed like `like`. */
export function zerosLike(like: { shape: readonly number[]; dtype: DType }): Array {
  return full(0, like.dtype, [...like.shape]);
}
/** `value` broadcast to the shape and dtype of `like`. */
export function fullLike(like: { shape: readonly number[]; dtype: DType }, value: number): Array {
  return full(value, like.dtype, [...like.shape]);
}
