/**
 * The closed set of primitives, their typed parameters, and the shape/dtype rule table.
 *
 * Like XLA HLO (not NumPy): elementwise ops require equal shapes and dtypes (the `np` library
 * broadcasts and promotes before binding), structural ops are explicit (broadcast_in_dim,
 * reshape, transpose, …). `PrimitiveParams` maps each primitive name to its parameter type, so
 * every rule table keyed by `Primitive` is checked for exhaustiveness by the compiler.
 *
 * Semantics that every interpretation must follow:
 * - gather {axis, batchDims} (tf.gather semantics): operand [B…, M…, N, R…] with B the first
 *   `batchDims` dims and N at `axis`; indices [B…, I…] (int32) → out [B…, M…, I…, R…].
 *   Out-of-range indices (< 0 or ≥ N) read 0.
 * - scatter_add {axis, batchDims}: (operand, indices, updates) with updates shaped like the
 *   matching gather's output; returns operand with updates added at the indexed positions.
 *   Out-of-range indices are dropped. scatter_add is exactly the transpose of gather.
 * - ragged_dot {transposeRhs} (lhs [M, K], rhs [G, K, N] — [G, N, K] when transposeRhs —,
 *   groupSizes int32 [G]) → [M, N]: the rows of lhs form G consecutive groups (group g is rows
 *   [o_g, o_g + n_g) with o the exclusive prefix sum of the sizes n, negative sizes counting as 0,
 *   clipped to M); row m of group g is lhs[m] · rhs[g] (lhs[m] · rhs[g]ᵀ when transposeRhs).
 *   Rows past the last group are 0. (MegaBlocks' grouped GEMM; JAX's lax.ragged_dot.) Batched:
 *   lhs [B, M, K] with groupSizes [B, G] → [B, M, N], each batch row its own grouping, the same rhs.
 * - ragged_contract (lhs [M, K], rhs [M, N], groupSizes int32 [G]) → [G, K, N]: per group, the
 *   contraction over its rows, out[g] = Σ_{m ∈ group g} lhs[m]ᵀ · rhs[m] (0 for an empty group).
 *   It is the weight gradient of ragged_dot; the two are closed under transposition. Batched:
 *   lhs [B, M, K], rhs [B, M, N], groupSizes [B, G] → [G, K, N], summed over the batch too.
 * - top_k {k}: along the last axis; returns [values, int32 indices], largest first, ties to the
 *   lower index.
 * - argmax {axis, indexDtype}: first maximal index. cumsum {axis, reverse}: inclusive.
 * - dot_general: output dims are batch dims, then lhs free dims, then rhs free dims (as in XLA).
 * - shifts by ≥ 32 bits give 0 (logical) or the sign fill (arithmetic), as in XLA.
 * - integer arithmetic wraps mod 2^32; integer div truncates toward zero, x / 0 gives all ones
 *   (-1 for int32), x % 0 gives x (XLA's rules); rem has the dividend's sign (C fmod).
 * - float → int conversion truncates toward zero and saturates (NaN → 0); int32 ↔ uint32
 *   reinterprets bits; to bool is x ≠ 0. round is half away from zero.
 * - float32 results are rounded to float32 after every primitive.
 * - remat {graph} and custom_vjp_call {graph, …} call a sub-Graph; autodiff treats them specially.
 * - sharding_constraint {sharding}: identity on values; it pins the value's sharding for the
 *   GSPMD propagation (src/distributed/sharding) and partitioner.
 * - collectives (all_reduce, all_gather, reduce_scatter, all_to_all, collective_permute,
 *   axis_index) appear only in per-device programs. Each acts within a *group*: the devices that
 *   differ only in the mesh axes `axes`; the group rank is the linear index over those axes'
 *   coordinates, `axes[0]` major. `axisSizes` repeats the mesh sizes of `axes` (so shape rules
 *   stay local); the group size k is their product. all_reduce sums (or takes max/min) the
 *   group's values in rank order; all_gather concatenates the pieces along `dimension` in rank
 *   order (out dim = k × in dim); reduce_scatter sums, then rank r keeps the r-th 1/k slice
 *   along `dimension`; all_to_all splits `splitDimension` into k pieces, sends piece j to rank j
 *   and concatenates the received pieces along `concatDimension` in source-rank order;
 *   collective_permute sends rank s's value to rank t for each pair [s, t] (ranks receiving
 *   nothing get zeros); axis_index is the device's rank (int32 scalar). They have no eager
 *   meaning: run per-device programs with evalSpmdReference or the runtime's Mesh.
 */

import type { DType } from './dtype.js';
import { isFloat, isInteger } from './dtype.js';
import { ShapeError, DTypeError } from './errors.js';
import { fmtAval, type AbstractValue, type Graph } from './ir.js';
import type { Sharding } from '../distributed/sharding/index.js';
import { fmtShape, shapeEqual, sizeOf, type Shape } from './shape.js';

type NoParams = Record<string, never>;

export type { Sharding };


/**
 * Parameters of a custom_vjp_call: the primal graph plus the user's forward and backward rules.
 * All three are traced when the call is made (so closures over values of enclosing traces become
 * explicit leading inputs, shared by the three graphs); autodiff evaluates `_fwdGraph` and
 * `_bwdGraph`, every other interpretation evaluates `graph`.
 */
export interface CustomVjpParams {
  /** The primal function: [captured…, argument leaves…] → output leaves. */
  graph: Graph;
  /** The user's forward rule, (…primal args as pytrees) → [output pytree, residuals] (for printing). */
  fwd: (...args: any[]) => [any, any];
  /** The user's backward rule, (residuals, output cotangent pytree) → argument cotangents (for printing). */
  bwd: (res: any, ct: any) => any[];
  /** Number of leading inputs that are values captured from enclosing traces (no cotangent). */
  _numCaptured: number;
  /** `fwd` traced: [captured…, argument leaves…] → [output leaves…, residual leaves…]. */
  _fwdGraph: Graph;
  /** `bwd` traced: [captured…, residual leaves…, output-cotangent leaves…] → the non-null argument-cotangent leaves. */
  _bwdGraph: Graph;
  /** One entry per argument leaf: whether `_bwdGraph` returns a cotangent for it (in order). */
  _bwdHasCt: boolean[];
}

/** Each primitive's parameter type. Adding a primitive here forces a rule in every table. */
export interface PrimitiveParams {
  // unary elementwise
  neg: NoParams; abs: NoParams; sign: NoParams; floor: NoParams; ceil: NoParams; round: NoParams;
  is_finite: NoParams; exp: NoParams; log: NoParams; log1p: NoParams; expm1: NoParams;
  tanh: NoParams; logistic: NoParams; sin: NoParams; cos: NoParams; sqrt: NoParams;
  rsqrt: NoParams; erf: NoParams; not: NoParams;
  // binary elementwise (equal shapes and dtypes)
  add: NoParams; sub: NoParams; mul: NoParams; div: NoParams; rem: NoParams; pow: NoParams;
  max: NoParams; min: NoParams; atan2: NoParams;
  and: NoParams; or: NoParams; xor: NoParams;
  shift_left: NoParams; shift_right_logical: NoParams; shift_right_arithmetic: NoParams;
  eq: NoParams; ne: NoParams; lt: NoParams; le: NoParams; gt: NoParams; ge: NoParams;
  // other elementwise
  select: NoParams; // (pred: bool, onTrue, onFalse)
  convert_element_type: { newDtype: DType };
  stop_gradient: NoParams;
  // structural
  broadcast_in_dim: { shape: number[]; broadcastDimensions: number[] };
  reshape: { newSizes: number[] };
  transpose: { permutation: number[] };
  slice: { startIndices: number[]; limitIndices: number[]; strides: number[] | null };
  pad: { lo: number[]; hi: number[]; interior: number[]; padValue: number };
  concatenate: { dimension: number };
  dynamic_slice: { sliceSizes: number[] }; // (operand, ...int32 scalar starts), starts clamped
  dynamic_update_slice: NoParams; // (operand, update, ...int32 scalar starts), starts clamped
  // reductions and scans
  reduce_sum: { axes: number[] };
  reduce_max: { axes: number[] };
  reduce_min: { axes: number[] };
  argmax: { axis: number; indexDtype: DType };
  cumsum: { axis: number; reverse: boolean };
  // contraction, indexing
  dot_general: { lhsContracting: number[]; rhsContracting: number[]; lhsBatch: number[]; rhsBatch: number[]; preferredElementType: DType | null };
  gather: { axis: number; batchDims: number };
  ragged_dot: { transposeRhs: boolean }; // (lhs [M, K], rhs [G, K, N] or [G, N, K], groupSizes [G]) → [M, N]
  ragged_contract: NoParams; // (lhs [M, K], rhs [M, N], groupSizes [G]) → [G, K, N]
  scatter_add: { axis: number; batchDims: number };
  top_k: { k: number };
  iota: { dtype: DType; shape: number[]; dimension: number };
  // higher-order
  remat: { graph: Graph };
  custom_vjp_call: CustomVjpParams;
  // sharding annotation (identity on values)
  sharding_constraint: { sharding: Sharding };
  // collectives (per-device programs only; see the header)
  all_reduce: CollectiveGroup & { op: 'sum' | 'max' | 'min' };
  all_gather: CollectiveGroup & { dimension: number };
  reduce_scatter: CollectiveGroup & { dimension: number; op: 'sum' };
  all_to_all: CollectiveGroup & { splitDimension: number; concatDimension: number };
  collective_permute: CollectiveGroup & { pairs: [number, number][] };
  axis_index: CollectiveGroup;
}

/** The device group of a collective: mesh axes (major → minor) and their sizes. */
export interface CollectiveGroup {
  /** Mesh axis names; devices differing only in these form a group; axes[0] is the major one. */
  axes: string[];
  /** Sizes of those mesh axes, in the same order (the group size is their product). */
  axisSizes: number[];
}

/** Primitives that communicate between devices (or, for axis_index, depend on the device). */
export const COLLECTIVE_PRIMITIVES = ['all_reduce', 'all_gather', 'reduce_scatter', 'all_to_all', 'collective_permute', 'axis_index'] as const;
export type CollectivePrimitive = (typeof COLLECTIVE_PRIMITIVES)[number];

/** Whether `p` is one of the collective primitives. */
export function isCollective(p: Primitive): p is CollectivePrimitive {
  return (COLLECTIVE_PRIMITIVES as readonly string[]).includes(p);
}

export type Primitive = keyof PrimitiveParams;

export const UNARY_OPS = ['neg', 'abs', 'sign', 'floor', 'ceil', 'round', 'is_finite', 'exp', 'log', 'log1p', 'expm1', 'tanh', 'logistic', 'sin', 'cos', 'sqrt', 'rsqrt', 'erf', 'not'] as const;
export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'rem', 'pow', 'max', 'min', 'atan2', 'and', 'or', 'xor', 'shift_left', 'shift_right_logical', 'shift_right_arithmetic'] as const;
export const COMPARE_OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];
export type BinaryOp = (typeof BINARY_OPS)[number];
export type CompareOp = (typeof COMPARE_OPS)[number];

/** Unary ops that need a float operand. */
const FLOAT_UNARY = new Set<string>(['floor', 'ceil', 'round', 'is_finite', 'exp', 'log', 'log1p', 'expm1', 'tanh', 'logistic', 'sin', 'cos', 'sqrt', 'rsqrt', 'erf']);
const FLOAT_BINARY = new Set<string>(['pow', 'atan2']);
const INT_BINARY = new Set<string>(['and', 'or', 'xor', 'shift_left', 'shift_right_logical', 'shift_right_arithmetic']);

/** A shape rule: input avals and params → output avals; throws a message on bad input. */
export type ShapeRule<P extends Primitive> = (inputs: AbstractValue[], params: PrimitiveParams[P]) => AbstractValue[];

function fail(msg: string): never {
  throw new ShapeError(msg);
}

function nInputs(inputs: AbstractValue[], n: number, what: string): void {
  if (inputs.length !== n) fail(`${what} takes ${n} operand(s), got ${inputs.length}`);
}

function unary(name: string) {
  return (inputs: AbstractValue[]): AbstractValue[] => {
    nInputs(inputs, 1, name);
    const [x] = inputs;
    if (FLOAT_UNARY.has(name) && !isFloat(x.dtype)) throw new DTypeError(`${name} needs a float operand, got ${fmtAval(x)}; convert with astype('float32')`);
    if (name === 'not' && isFloat(x.dtype)) throw new DTypeError(`not needs a bool or integer operand, got ${fmtAval(x)}`);
    if (name === 'is_finite') return [{ shape: x.shape, dtype: 'bool' }];
    return [x];
  };
}

function sameShapeAndDtype(name: string, a: AbstractValue, b: AbstractValue): void {
  if (!shapeEqual(a.shape, b.shape)) fail(`${name} needs operands of equal shape, got ${fmtAval(a)} and ${fmtAval(b)}; broadcast first (np.* functions do)`);
  if (a.dtype !== b.dtype) throw new DTypeError(`${name} needs operands of equal dtype, got ${fmtAval(a)} and ${fmtAval(b)}; convert one with astype`);
}

function binary(name: string) {
  return (inputs: AbstractValue[]): AbstractValue[] => {
    nInputs(inputs, 2, name);
    const [a, b] = inputs;
    sameShapeAndDtype(name, a, b);
    if (FLOAT_BINARY.has(name) && !isFloat(a.dtype)) throw new DTypeError(`${name} needs float operands, got ${fmtAval(a)}`);
    if (INT_BINARY.has(name) && isFloat(a.dtype)) throw new DTypeError(`${name} needs bool or integer operands, got ${fmtAval(a)}`);
    if (name.startsWith('shift') && !isInteger(a.dtype)) throw new DTypeError(`${name} needs integer operands, got ${fmtAval(a)}`);
    return [a];
  };
}

function compare(name: string) {
  return (inputs: AbstractValue[]): AbstractValue[] => {
    nInputs(inputs, 2, name);
    sameShapeAndDtype(name, inputs[0], inputs[1]);
    return [{ shape: inputs[0].shape, dtype: 'bool' }];
  };
}

function checkPerm(perm: number[], n: number, what: string): void {
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== n || sorted.some((v, i) => v !== i)) fail(`${what}: ${JSON.stringify(perm)} is not a permutation of 0..${n - 1}`);
}

function checkAxes(axes: number[], n: number, what: string): void {
  if (axes.some((a) => !Number.isInteger(a) || a < 0 || a >= n) || new Set(axes).size !== axes.length) {
    fail(`${what}: axes ${JSON.stringify(axes)} must be distinct and in 0..${n - 1}`);
  }
}

function reduce(name: string) {
  return (inputs: AbstractValue[], p: { axes: number[] }): AbstractValue[] => {
    nInputs(inputs, 1, name);
    const [x] = inputs;
    checkAxes(p.axes, x.shape.length, name);
    if (name !== 'reduce_sum' && x.shape.length && p.axes.some((a) => x.shape[a] === 0)) {
      fail(`${name} over an empty dimension has no identity here (operand ${fmtAval(x)}); use a non-empty array`);
    }
    return [{ shape: x.shape.filter((_, i) => !p.axes.includes(i)), dtype: x.dtype }];
  };
}

function callOutputs(p: { graph: Graph }): AbstractValue[] {
  return p.graph.outputs.map((o) => o.aval);
}

function scalarIndex(a: AbstractValue, what: string): void {
  if (a.shape.length !== 0 || (a.dtype !== 'int32' && a.dtype !== 'uint32')) fail(`${what}: start indices must be int32 scalars, got ${fmtAval(a)}`);
}

/** Common checks of ragged_dot / ragged_contract: lhs [M, K] float, rhs of its dtype, int32 [G] sizes. */
function raggedCheck(what: string, a: AbstractValue, b: AbstractValue, gs: AbstractValue): void {
  if (a.shape.length !== 2 && a.shape.length !== 3) fail(`${what}: lhs must be [M, K] (rows × features) or [B, M, K] (batched), got ${fmtAval(a)}`);
  const batched = a.shape.length === 3;
  if (gs.dtype !== 'int32' || gs.shape.length !== (batched ? 2 : 1) || (batched && gs.shape[0] !== a.shape[0])) {
    fail(`${what}: group sizes must be int32 ${batched ? `[B, groups] with B = ${a.shape[0]}` : '[groups]'} for lhs ${fmtAval(a)}, got ${fmtAval(gs)}`);
  }
  if (!isFloat(a.dtype)) throw new DTypeError(`${what} needs float operands, got ${fmtAval(a)}`);
  if (a.dtype !== b.dtype) throw new DTypeError(`${what} needs equal dtypes, got ${fmtAval(a)} and ${fmtAval(b)}`);
}

function gatherOutShape(x: AbstractValue, idx: AbstractValue, p: { axis: number; batchDims: number }, what: string): number[] {
  const { axis, batchDims } = p;
  if (!Number.isInteger(axis) || axis < batchDims || axis >= x.shape.length) fail(`${what}: axis ${axis} must satisfy batchDims (${batchDims}) ≤ axis < rank ${x.shape.length} of ${fmtAval(x)}`);
  if (idx.dtype !== 'int32') throw new DTypeError(`${what}: indices must be int32, got ${fmtAval(idx)}; convert with astype('int32')`);
  if (idx.shape.length < batchDims) fail(`${what}: indices ${fmtAval(idx)} have fewer than batchDims=${batchDims} dims`);
  for (let i = 0; i < batchDims; i++) {
    if (idx.shape[i] !== x.shape[i]) fail(`${what}: batch dim ${i} differs: operand ${fmtAval(x)} vs indices ${fmtAval(idx)}`);
  }
  return [...x.shape.slice(0, axis), ...idx.shape.slice(batchDims), ...x.shape.slice(axis + 1)];
}

/** The shape/dtype rule of every primitive. */
export const shapeRules: { [P in Primitive]: ShapeRule<P> } = {
  neg: unary('neg'), abs: unary('abs'), sign: unary('sign'), floor: unary('floor'), ceil: unary('ceil'),
  round: unary('round'), is_finite: unary('is_finite'), exp: unary('exp'), log: unary('log'),
  log1p: unary('log1p'), expm1: unary('expm1'), tanh: unary('tanh'), logistic: unary('logistic'),
  sin: unary('sin'), cos: unary('cos'), sqrt: unary('sqrt'), rsqrt: unary('rsqrt'), erf: unary('erf'),
  not: unary('not'),
  add: binary('add'), sub: binary('sub'), mul: binary('mul'), div: binary('div'), rem: binary('rem'),
  pow: binary('pow'), max: binary('max'), min: binary('min'), atan2: binary('atan2'),
  and: binary('and'), or: binary('or'), xor: binary('xor'), shift_left: binary('shift_left'),
  shift_right_logical: binary('shift_right_logical'), shift_right_arithmetic: binary('shift_right_arithmetic'),
  eq: compare('eq'), ne: compare('ne'), lt: compare('lt'), le: compare('le'), gt: compare('gt'), ge: compare('ge'),

  select: (inputs) => {
    nInputs(inputs, 3, 'select');
    const [pred, t, f] = inputs;
    if (pred.dtype !== 'bool') throw new DTypeError(`select needs a bool predicate, got ${fmtAval(pred)}`);
    sameShapeAndDtype('select', t, f);
    if (!shapeEqual(pred.shape, t.shape)) fail(`select: predicate ${fmtAval(pred)} and branches ${fmtAval(t)} differ in shape`);
    return [t];
  },
  convert_element_type: (inputs, p) => {
    nInputs(inputs, 1, 'convert_element_type');
    return [{ shape: inputs[0].shape, dtype: p.newDtype }];
  },
  stop_gradient: (inputs) => {
    nInputs(inputs, 1, 'stop_gradient');
    return [inputs[0]];
  },

  broadcast_in_dim: (inputs, p) => {
    nInputs(inputs, 1, 'broadcast_in_dim');
    const [x] = inputs;
    const { shape, broadcastDimensions: bd } = p;
    if (bd.length !== x.shape.length) fail(`broadcast_in_dim: broadcastDimensions ${JSON.stringify(bd)} must have one entry per operand dim of ${fmtAval(x)}`);
    for (let i = 0; i < bd.length; i++) {
      if (!(bd[i] >= 0 && bd[i] < shape.length) || (i > 0 && bd[i] <= bd[i - 1])) fail(`broadcast_in_dim: broadcastDimensions ${JSON.stringify(bd)} must be strictly increasing and < ${shape.length}`);
      if (x.shape[i] !== 1 && x.shape[i] !== shape[bd[i]]) fail(`broadcast_in_dim: operand dim ${i} of ${fmtAval(x)} (size ${x.shape[i]}) cannot broadcast to size ${shape[bd[i]]} of ${fmtShape(shape)}`);
    }
    return [{ shape: [...shape], dtype: x.dtype }];
  },
  reshape: (inputs, p) => {
    nInputs(inputs, 1, 'reshape');
    const [x] = inputs;
    if (p.newSizes.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(p.newSizes) !== sizeOf(x.shape)) {
      fail(`reshape: cannot reshape ${fmtAval(x)} (${sizeOf(x.shape)} elements) to ${fmtShape(p.newSizes)} (${sizeOf(p.newSizes)} elements)`);
    }
    return [{ shape: [...p.newSizes], dtype: x.dtype }];
  },
  transpose: (inputs, p) => {
    nInputs(inputs, 1, 'transpose');
    const [x] = inputs;
    checkPerm(p.permutation, x.shape.length, 'transpose');
    return [{ shape: p.permutation.map((i) => x.shape[i]), dtype: x.dtype }];
  },
  slice: (inputs, p) => {
    nInputs(inputs, 1, 'slice');
    const [x] = inputs;
    const n = x.shape.length;
    const strides = p.strides ?? new Array<number>(n).fill(1);
    if (p.startIndices.length !== n || p.limitIndices.length !== n || strides.length !== n) fail(`slice: need ${n} start/limit/stride entries for ${fmtAval(x)}`);
    const shape = x.shape.map((d, i) => {
      const s = p.startIndices[i], l = p.limitIndices[i], st = strides[i];
      if (!(0 <= s && s <= l && l <= d) || !(st >= 1)) fail(`slice: bounds [${s}:${l}:${st}] out of range for dim ${i} (size ${d}) of ${fmtAval(x)}`);
      return Math.max(0, Math.ceil((l - s) / st));
    });
    return [{ shape, dtype: x.dtype }];
  },
  pad: (inputs, p) => {
    nInputs(inputs, 1, 'pad');
    const [x] = inputs;
    const n = x.shape.length;
    if (p.lo.length !== n || p.hi.length !== n || p.interior.length !== n) fail(`pad: need ${n} lo/hi/interior entries for ${fmtAval(x)}`);
    const shape = x.shape.map((d, i) => {
      if (p.interior[i] < 0) fail('pad: interior padding must be ≥ 0');
      const out = p.lo[i] + p.hi[i] + d + Math.max(0, d - 1) * p.interior[i];
      if (out < 0) fail(`pad: negative padding removes more than dim ${i} of ${fmtAval(x)} has`);
      return out;
    });
    return [{ shape, dtype: x.dtype }];
  },
  concatenate: (inputs, p) => {
    if (inputs.length === 0) fail('concatenate needs at least one operand');
    const [x0] = inputs;
    const n = x0.shape.length;
    if (!(p.dimension >= 0 && p.dimension < n)) fail(`concatenate: dimension ${p.dimension} out of range for rank ${n}`);
    let total = 0;
    for (const x of inputs) {
      if (x.dtype !== x0.dtype) throw new DTypeError(`concatenate needs equal dtypes, got ${inputs.map(fmtAval).join(', ')}`);
      if (x.shape.length !== n || x.shape.some((d, i) => i !== p.dimension && d !== x0.shape[i])) fail(`concatenate: shapes ${inputs.map(fmtAval).join(', ')} differ outside dimension ${p.dimension}`);
      total += x.shape[p.dimension];
    }
    const shape = [...x0.shape];
    shape[p.dimension] = total;
    return [{ shape, dtype: x0.dtype }];
  },
  dynamic_slice: (inputs, p) => {
    const [x, ...starts] = inputs;
    if (!x || starts.length !== x.shape.length) fail(`dynamic_slice needs an operand and one start index per dim, got ${inputs.length} operands`);
    starts.forEach((s) => scalarIndex(s, 'dynamic_slice'));
    if (p.sliceSizes.length !== x.shape.length || p.sliceSizes.some((s, i) => !(s >= 0 && s <= x.shape[i]))) fail(`dynamic_slice: sliceSizes ${JSON.stringify(p.sliceSizes)} must fit in ${fmtAval(x)}`);
    return [{ shape: [...p.sliceSizes], dtype: x.dtype }];
  },
  dynamic_update_slice: (inputs) => {
    const [x, u, ...starts] = inputs;
    if (!x || !u || starts.length !== x.shape.length) fail('dynamic_update_slice needs (operand, update, one start index per dim)');
    starts.forEach((s) => scalarIndex(s, 'dynamic_update_slice'));
    if (u.dtype !== x.dtype) throw new DTypeError(`dynamic_update_slice: update ${fmtAval(u)} and operand ${fmtAval(x)} differ in dtype`);
    if (u.shape.length !== x.shape.length || u.shape.some((d, i) => d > x.shape[i])) fail(`dynamic_update_slice: update ${fmtAval(u)} does not fit in operand ${fmtAval(x)}`);
    return [x];
  },

  reduce_sum: reduce('reduce_sum'), reduce_max: reduce('reduce_max'), reduce_min: reduce('reduce_min'),
  argmax: (inputs, p) => {
    nInputs(inputs, 1, 'argmax');
    const [x] = inputs;
    if (!(p.axis >= 0 && p.axis < x.shape.length)) fail(`argmax: axis ${p.axis} out of range for ${fmtAval(x)}`);
    if (x.shape[p.axis] === 0) fail(`argmax over an empty dimension of ${fmtAval(x)}`);
    return [{ shape: x.shape.filter((_, i) => i !== p.axis), dtype: p.indexDtype }];
  },
  cumsum: (inputs, p) => {
    nInputs(inputs, 1, 'cumsum');
    const [x] = inputs;
    if (!(p.axis >= 0 && p.axis < x.shape.length)) fail(`cumsum: axis ${p.axis} out of range for ${fmtAval(x)}`);
    return [x];
  },

  dot_general: (inputs, p) => {
    nInputs(inputs, 2, 'dot_general');
    const [a, b] = inputs;
    const { lhsContracting: lc, rhsContracting: rc, lhsBatch: lb, rhsBatch: rb } = p;
    checkAxes([...lc, ...lb], a.shape.length, 'dot_general lhs');
    checkAxes([...rc, ...rb], b.shape.length, 'dot_general rhs');
    if (lc.length !== rc.length || lb.length !== rb.length) fail('dot_general: lhs and rhs need the same number of contracting and of batch dims');
    lc.forEach((d, i) => {
      if (a.shape[d] !== b.shape[rc[i]]) fail(`dot_general: contracting dims differ: lhs ${fmtAval(a)} dim ${d} (${a.shape[d]}) vs rhs ${fmtAval(b)} dim ${rc[i]} (${b.shape[rc[i]]})`);
    });
    lb.forEach((d, i) => {
      if (a.shape[d] !== b.shape[rb[i]]) fail(`dot_general: batch dims differ: lhs ${fmtAval(a)} dim ${d} vs rhs ${fmtAval(b)} dim ${rb[i]}`);
    });
    if (a.dtype !== b.dtype) throw new DTypeError(`dot_general needs equal dtypes, got ${fmtAval(a)} and ${fmtAval(b)}`);
    if (a.dtype === 'bool') throw new DTypeError('dot_general on bool operands: convert to a numeric dtype first');
    const free = (s: Shape, skip: number[]) => s.filter((_, i) => !skip.includes(i));
    const shape = [...lb.map((d) => a.shape[d]), ...free(a.shape, [...lc, ...lb]), ...free(b.shape, [...rc, ...rb])];
    return [{ shape, dtype: p.preferredElementType ?? a.dtype }];
  },
  gather: (inputs, p) => {
    nInputs(inputs, 2, 'gather');
    const [x, idx] = inputs;
    return [{ shape: gatherOutShape(x, idx, p, 'gather'), dtype: x.dtype }];
  },
  scatter_add: (inputs, p) => {
    nInputs(inputs, 3, 'scatter_add');
    const [x, idx, upd] = inputs;
    const want = gatherOutShape(x, idx, p, 'scatter_add');
    if (!shapeEqual(want, upd.shape)) fail(`scatter_add: updates ${fmtAval(upd)} must have shape ${fmtShape(want)} (the gather output shape for operand ${fmtAval(x)} and indices ${fmtAval(idx)})`);
    if (upd.dtype !== x.dtype) throw new DTypeError(`scatter_add: updates ${fmtAval(upd)} and operand ${fmtAval(x)} differ in dtype`);
    return [x];
  },
  ragged_dot: (inputs, p) => {
    nInputs(inputs, 3, 'ragged_dot');
    const [a, b, gs] = inputs;
    raggedCheck('ragged_dot', a, b, gs);
    const [kDim, nDim] = p.transposeRhs ? [2, 1] : [1, 2];
    const G = gs.shape[gs.shape.length - 1], K = a.shape[a.shape.length - 1];
    if (b.shape.length !== 3 || b.shape[0] !== G || b.shape[kDim] !== K) {
      const want = p.transposeRhs ? `[groups, N, K] = [${G}, N, ${K}]` : `[groups, K, N] = [${G}, ${K}, N]`;
      fail(`ragged_dot: rhs ${fmtAval(b)} must be ${want} for lhs ${fmtAval(a)} and group sizes ${fmtAval(gs)}`);
    }
    return [{ shape: [...a.shape.slice(0, -1), b.shape[nDim]], dtype: a.dtype }];
  },
  ragged_contract: (inputs) => {
    nInputs(inputs, 3, 'ragged_contract');
    const [a, b, gs] = inputs;
    raggedCheck('ragged_contract', a, b, gs);
    const r = a.shape.length;
    if (b.shape.length !== r || a.shape.slice(0, -1).some((d, i) => d !== b.shape[i])) fail(`ragged_contract: rhs ${fmtAval(b)} must be [${a.shape.slice(0, -1).join(', ')}, N] (the rows of lhs ${fmtAval(a)})`);
    return [{ shape: [gs.shape[gs.shape.length - 1], a.shape[r - 1], b.shape[r - 1]], dtype: a.dtype }];
  },
  top_k: (inputs, p) => {
    nInputs(inputs, 1, 'top_k');
    const [x] = inputs;
    const n = x.shape.length;
    if (n === 0) fail('top_k needs an operand of rank ≥ 1');
    if (!Number.isInteger(p.k) || p.k < 0 || p.k > x.shape[n - 1]) fail(`top_k: k=${p.k} must be in 0..${x.shape[n - 1]} (the last dim of ${fmtAval(x)})`);
    const shape = [...x.shape.slice(0, -1), p.k];
    return [{ shape, dtype: x.dtype }, { shape, dtype: 'int32' }];
  },
  iota: (inputs, p) => {
    nInputs(inputs, 0, 'iota');
    if (!(p.dimension >= 0 && p.dimension < p.shape.length)) fail(`iota: dimension ${p.dimension} out of range for shape ${fmtShape(p.shape)}`);
    return [{ shape: [...p.shape], dtype: p.dtype }];
  },
  remat: (_inputs, p) => callOutputs(p),
  custom_vjp_call: (_inputs, p) => callOutputs(p),

  sharding_constraint: (inputs, p) => {
    nInputs(inputs, 1, 'sharding_constraint');
    const [x] = inputs;
    const dims = p.sharding?.dims;
    if (!globalThis.Array.isArray(dims) || dims.length > x.shape.length) {
      fail(`sharding_constraint: the sharding has ${globalThis.Array.isArray(dims) ? dims.length : 'no'} dim entries but the operand ${fmtAval(x)} has rank ${x.shape.length}; give at most one PartitionSpec entry per dimension`);
    }
    return [x];
  },
  all_reduce: (inputs, p) => {
    nInputs(inputs, 1, 'all_reduce');
    groupSize(p, 'all_reduce');
    const [x] = inputs;
    if (p.op !== 'sum' && p.op !== 'max' && p.op !== 'min') fail(`all_reduce: op must be 'sum', 'max' or 'min', got ${JSON.stringify(p.op)}`);
    if (x.dtype === 'bool' && p.op === 'sum') throw new DTypeError(`all_reduce: op 'sum' needs a numeric operand, got ${fmtAval(x)}; use op 'max' (logical or) or convert with astype('int32')`);
    return [x];
  },
  all_gather: (inputs, p) => {
    nInputs(inputs, 1, 'all_gather');
    const k = groupSize(p, 'all_gather');
    const [x] = inputs;
    checkDim(p.dimension, x, 'all_gather', 'dimension');
    const shape = [...x.shape];
    shape[p.dimension] *= k;
    return [{ shape, dtype: x.dtype }];
  },
  reduce_scatter: (inputs, p) => {
    nInputs(inputs, 1, 'reduce_scatter');
    const k = groupSize(p, 'reduce_scatter');
    const [x] = inputs;
    if (p.op !== 'sum') fail(`reduce_scatter: op must be 'sum', got ${JSON.stringify(p.op)}`);
    if (x.dtype === 'bool') throw new DTypeError(`reduce_scatter needs a numeric operand, got ${fmtAval(x)}; convert with astype('int32')`);
    checkDim(p.dimension, x, 'reduce_scatter', 'dimension');
    if (x.shape[p.dimension] % k !== 0) fail(`reduce_scatter: dimension ${p.dimension} of ${fmtAval(x)} (size ${x.shape[p.dimension]}) is not divisible by the group size ${k} (axes ${JSON.stringify(p.axes)}); pad it to a multiple of ${k}`);
    const shape = [...x.shape];
    shape[p.dimension] /= k;
    return [{ shape, dtype: x.dtype }];
  },
  all_to_all: (inputs, p) => {
    nInputs(inputs, 1, 'all_to_all');
    const k = groupSize(p, 'all_to_all');
    const [x] = inputs;
    checkDim(p.splitDimension, x, 'all_to_all', 'splitDimension');
    checkDim(p.concatDimension, x, 'all_to_all', 'concatDimension');
    if (x.shape[p.splitDimension] % k !== 0) fail(`all_to_all: split dimension ${p.splitDimension} of ${fmtAval(x)} (size ${x.shape[p.splitDimension]}) is not divisible by the group size ${k} (axes ${JSON.stringify(p.axes)}); pad it to a multiple of ${k}`);
    const shape = [...x.shape];
    shape[p.splitDimension] /= k;
    shape[p.concatDimension] *= k;
    return [{ shape, dtype: x.dtype }];
  },
  collective_permute: (inputs, p) => {
    nInputs(inputs, 1, 'collective_permute');
    const k = groupSize(p, 'collective_permute');
    if (!globalThis.Array.isArray(p.pairs)) fail('collective_permute: pairs must be a list of [source, target] group ranks');
    const srcs = new Set<number>();
    const dsts = new Set<number>();
    for (const pr of p.pairs) {
      const ok = globalThis.Array.isArray(pr) && pr.length === 2 && pr.every((r) => Number.isInteger(r) && r >= 0 && r < k);
      if (!ok) fail(`collective_permute: pair ${JSON.stringify(pr)} must be [source, target] with group ranks in 0..${k - 1}`);
      if (srcs.has(pr[0]) || dsts.has(pr[1])) fail(`collective_permute: pairs ${JSON.stringify(p.pairs)} repeat a source or a target; each rank sends at most once and receives at most once`);
      srcs.add(pr[0]);
      dsts.add(pr[1]);
    }
    return [inputs[0]];
  },
  axis_index: (inputs, p) => {
    nInputs(inputs, 0, 'axis_index');
    groupSize(p, 'axis_index');
    return [{ shape: [], dtype: 'int32' }];
  },
};

/** Validates a collective's group and returns its size (the product of `axisSizes`). */
export function groupSize(p: CollectiveGroup, what: string): number {
  const { axes, axisSizes } = p;
  if (!globalThis.Array.isArray(axes) || !globalThis.Array.isArray(axisSizes) || axes.length !== axisSizes.length) {
    fail(`${what}: needs \`axes\` (mesh axis names) and \`axisSizes\` (their sizes) of equal length, got axes=${JSON.stringify(axes)} axisSizes=${JSON.stringify(axisSizes)}`);
  }
  if (axes.some((a) => typeof a !== 'string' || a === '') || new Set(axes).size !== axes.length) fail(`${what}: axes ${JSON.stringify(axes)} must be distinct mesh axis names`);
  if (axisSizes.some((s) => !Number.isInteger(s) || s < 1)) fail(`${what}: axisSizes ${JSON.stringify(axisSizes)} must be positive integers`);
  return axisSizes.reduce((a, b) => a * b, 1);
}

function checkDim(d: number, x: AbstractValue, what: string, name: string): void {
  if (!Number.isInteger(d) || d < 0 || d >= x.shape.length) fail(`${what}: ${name} ${d} out of range for ${fmtAval(x)} (rank ${x.shape.length})`);
}
