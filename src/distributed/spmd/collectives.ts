/**
 * The data-moving kernels of the collective primitives, on plain typed arrays: one
 * implementation shared by the SPMD reference interpreter (`evalSpmdReference`, all devices in
 * one thread) and the runtime's worker threads (inputs read from a SharedArrayBuffer). Because
 * both call the same functions with the group members' values in the same (group-rank) order,
 * the runtime is bit-identical to the reference by construction.
 *
 * Numerics: sums run in group-rank order, accumulating in float64 and rounding once to the
 * output dtype (float32 stores round to nearest even; int32/uint32 wrap mod 2^32, as the
 * reference's reduce_sum does); max/min propagate NaN. Each element's result depends only on
 * that element's inputs, so computing a reduction in chunks (as the runtime's all_reduce does,
 * one chunk per group member) gives the same bits as computing it whole.
 */

import { allocate, type DType, type TypedArray } from '../../core/dtype.js';
import { ValueError } from '../../core/errors.js';
import type { CollectivePrimitive, PrimitiveParams } from '../../core/primitives.js';
import { sizeOf, stridesOf } from '../../core/shape.js';

/** A reduction of the collectives. */
export type ReduceOp = 'sum' | 'max' | 'min';

/**
 * `out[outOffset + i] = op_r inputs[r][inOffset + i]` for i in [0, len), r ascending (the
 * fixed order). Accumulates in float64.
 */
export function reduceRange(op: ReduceOp, inputs: readonly TypedArray[], inOffset: number, out: TypedArray, outOffset: number, len: number): void {
  if (len <= 0) return;
  const k = inputs.length;
  if (k === 0) throw new ValueError('internal: a reduction over an empty group');
  // element by element, members in group order, accumulating in a float64 local: the same
  // arithmetic as a float64 accumulator array, in one pass and without allocating one
  const x0 = inputs[0];
  if (k === 2 && op === 'sum') {
    const x1 = inputs[1];
    for (let i = 0; i < len; i++) out[outOffset + i] = x0[inOffset + i] + x1[inOffset + i];
    return;
  }
  for (let i = 0; i < len; i++) {
    const j = inOffset + i;
    let acc = x0[j];
    for (let r = 1; r < k; r++) {
      const v = inputs[r][j];
      if (op === 'sum') acc += v;
      else if (op === 'max') {
        if (v > acc || v !== v) acc = v;
      } else if (v < acc || v !== v) acc = v;
    }
    // typed-array stores round (float32) or wrap (int32/uint32); bool stays 0/1 for max/min
    out[outOffset + i] = acc;
  }
}

/** The element range [lo, hi) that group member `c` of `k` reduces in a chunked all_reduce. */
export function chunkRange(n: number, k: number, c: number): [number, number] {
  return [Math.floor((c * n) / k), Math.floor(((c + 1) * n) / k)];
}

/** Splits `shape` around `axis` into [outer, n, inner] sizes. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis], sizeOf(shape.slice(axis + 1))];
}

/**
 * Copies the box `block` (a shape) starting at `srcStart` in `src` (row-major, shape
 * `srcShape`) to `dstStart` in `dst` (shape `dstShape`).
 */
export function copyBox(src: TypedArray, srcShape: readonly number[], srcStart: readonly number[], dst: TypedArray, dstShape: readonly number[], dstStart: readonly number[], block: readonly number[]): void {
  const n = block.length;
  if (sizeOf(block) === 0) return;
  if (n === 0) {
    dst[0] = src[0];
    return;
  }
  const ss = stridesOf(srcShape);
  const ds = stridesOf(dstShape);
  let so = 0;
  let dO = 0;
  for (let d = 0; d < n; d++) {
    so += srcStart[d] * ss[d];
    dO += dstStart[d] * ds[d];
  }
  const last = block[n - 1];
  const idx = new Int32Array(n);
  const rows = sizeOf(block) / last;
  for (let r = 0; r < rows; r++) {
    dst.set(src.subarray(so, so + last), dO);
    for (let d = n - 2; d >= 0; d--) {
      idx[d]++;
      so += ss[d];
      dO += ds[d];
      if (idx[d] < block[d]) break;
      so -= ss[d] * block[d];
      dO -= ds[d] * block[d];
      idx[d] = 0;
    }
  }
}

/** all_gather: the pieces (rank order, each of `pieceShape`) concatenated along `dimension`. */
export function gatherInto(pieces: readonly TypedArray[], pieceShape: readonly number[], dimension: number, out: TypedArray): void {
  const k = pieces.length;
  const [outer, d, inner] = around(pieceShape, dimension);
  const block = d * inner;
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < k; r++) out.set(pieces[r].subarray(o * block, (o + 1) * block), (o * k + r) * block);
  }
}

/** reduce_scatter: the sum of `inputs` (rank order, each of `shape`), slice `rank` of k along `dimension`. */
export function reduceScatterInto(inputs: readonly TypedArray[], shape: readonly number[], dimension: number, rank: number, out: TypedArray): void {
  const k = inputs.length;
  const [outer, d, inner] = around(shape, dimension);
  const s = (d / k) * inner;
  for (let o = 0; o < outer; o++) reduceRange('sum', inputs, o * d * inner + rank * s, out, o * s, s);
}

/**
 * all_to_all as received by group member `rank`: piece `rank` (of k along `splitDimension`) of
 * every member's input, concatenated along `concatDimension` in source-rank order.
 */
export function allToAllInto(inputs: readonly TypedArray[], shape: readonly number[], splitDimension: number, concatDimension: number, rank: number, out: TypedArray): void {
  const k = inputs.length;
  const piece = [...shape];
  piece[splitDimension] /= k;
  const outShape = [...piece];
  outShape[concatDimension] *= k;
  const srcStart = shape.map((_, i) => (i === splitDimension ? rank * piece[i] : 0));
  for (let s = 0; s < k; s++) {
    const dstStart = shape.map((_, i) => (i === concatDimension ? s * piece[i] : 0));
    copyBox(inputs[s], shape, srcStart, out, outShape, dstStart, piece);
  }
}

/** collective_permute as received by `rank`: the value of the source paired with it, else zeros. */
export function permuteInto(inputs: readonly TypedArray[], pairs: readonly (readonly [number, number])[], rank: number, out: TypedArray): void {
  const pr = pairs.find(([, t]) => t === rank);
  if (pr) out.set(inputs[pr[0]]);
  else out.fill(0);
}

/** Data-moving collectives (all but axis_index). */
export type DataCollective = Exclude<CollectivePrimitive, 'axis_index'>;

/**
 * The output of a data-moving collective for the group member of rank `rank`, given every
 * member's input (rank order, each of shape `inShape` and dtype `dtype`) and the output shape.
 */
export function collectiveResult<P extends DataCollective>(prim: P, params: PrimitiveParams[P], dtype: DType, inShape: readonly number[], outShape: readonly number[], inputs: readonly TypedArray[], rank: number): TypedArray {
  const out = allocate(dtype, sizeOf(outShape));
  switch (prim) {
    case 'all_reduce': {
      const p = params as PrimitiveParams['all_reduce'];
      reduceRange(p.op, inputs, 0, out, 0, out.length);
      break;
    }
    case 'all_gather':
      gatherInto(inputs, inShape, (params as PrimitiveParams['all_gather']).dimension, out);
      break;
    case 'reduce_scatter':
      reduceScatterInto(inputs, inShape, (params as PrimitiveParams['reduce_scatter']).dimension, rank, out);
      break;
    case 'all_to_all': {
      const p = params as PrimitiveParams['all_to_all'];
      allToAllInto(inputs, inShape, p.splitDimension, p.concatDimension, rank, out);
      break;
    }
    case 'collective_permute':
      permuteInto(inputs, (params as PrimitiveParams['collective_permute']).pairs, rank, out);
      break;
    default:
      throw new ValueError(`internal: ${String(prim)} is not a data-moving collective`);
  }
  return out;
}
