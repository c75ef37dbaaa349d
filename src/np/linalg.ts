/**
 * Products of the `np` library on top of `dot_general`: matmul (NumPy semantics: 1-D operands
 * are vectors, leading dims are broadcast batch dims), dot, inner, vdot, outer and tensordot.
 * Operands are promoted to a common dtype first; bool operands are refused (dot_general has no
 * bool form).
 */

import { Array, type ArrayLike } from '../core/array.js';
import { DTypeError, ShapeError, ValueError } from '../core/errors.js';
import * as lax from '../core/lax.js';
import { fmtShape } from '../core/shape.js';
import { bcast, checkOperand, describe, normAxis, promote, promoteAndBroadcast, range } from './util.js';

function pair(a: ArrayLike, b: ArrayLike, name: string): [Array, Array] {
  checkOperand(a, 'first operand');
  checkOperand(b, 'second operand');
  const [x, y] = promote([a, b]);
  if (x.dtype === 'bool') throw new DTypeError(`${name} of bool arrays is not supported; convert with astype('int32') or astype('float32')`);
  return [x, y];
}

function batchShape(xb: readonly number[], yb: readonly number[], xs: readonly number[], ys: readonly number[]): number[] {
  const n = Math.max(xb.length, yb.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = xb[xb.length - n + i] ?? 1;
    const q = yb[yb.length - n + i] ?? 1;
    if (p !== q && p !== 1 && q !== 1) {
      throw new ShapeError(`batch dimensions ${fmtShape(xb)} of ${fmtShape(xs)} and ${fmtShape(yb)} of ${fmtShape(ys)} cannot be broadcast together (sizes ${p} and ${q})`);
    }
    out.push(p === 1 ? q : p);
  }
  return out;
}

/**
 * Matrix product with NumPy semantics: [..., M, K] @ [..., K, N] → [..., M, N] with the leading
 * (batch) dims broadcast; a 1-D first operand is a row vector and a 1-D second operand a column
 * vector (their unit dim is removed from the result). Scalars are refused (use multiply).
 * @example np.matmul(x, w) // x [B, T, D], w [D, F] → [B, T, F]
 */
export function matmul(a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = pair(a, b, 'matmul');
  if (x.ndim === 0 || y.ndim === 0) throw new ValueError(`matmul does not accept scalars (shapes ${fmtShape(x.shape)} and ${fmtShape(y.shape)}); use np.multiply`);
  const xv = x.ndim === 1, yv = y.ndim === 1;
  const X = xv ? lax.reshape(x, [1, x.shape[0]]) : x;
  const Y = yv ? lax.reshape(y, [y.shape[0], 1]) : y;
  const K = X.shape[X.ndim - 1];
  if (Y.shape[Y.ndim - 2] !== K) {
    throw new ShapeError(`contracting dimensions differ: ${fmtShape(x.shape)} has ${K} columns (last dim) but ${fmtShape(y.shape)} has ${Y.shape[Y.ndim - 2]} rows (${yv ? 'its only dim' : 'dim -2'})`);
  }
  const xb = X.shape.slice(0, -2), yb = Y.shape.slice(0, -2);
  let out: Array;
  if (yb.length === 0) {
    // [..., M, K] x [K, N]: no batch dims needed, output is already [..., M, N]
    out = lax.dotGeneral(X, Y, { lhsContracting: [X.ndim - 1], rhsContracting: [0] });
  } else if (xb.length === 0) {
    // [M, K] x [..., K, N] → [M, ..., N] → move M next to N
    const o = lax.dotGeneral(X, Y, { lhsContracting: [1], rhsContracting: [Y.ndim - 2] });
    const nb = yb.length;
    out = lax.transpose(o, [...range(nb).map((i) => i + 1), 0, nb + 1]);
  } else {
    const batch = batchShape(xb, yb, x.shape, y.shape);
    const nb = batch.length;
    const Xb = bcast(X, [...batch, ...X.shape.slice(-2)]);
    const Yb = bcast(Y, [...batch, ...Y.shape.slice(-2)]);
    out = lax.dotGeneral(Xb, Yb, { lhsContracting: [nb + 1], rhsContracting: [nb], lhsBatch: range(nb), rhsBatch: range(nb) });
  }
  if (xv || yv) {
    const s = [...out.shape];
    if (yv) s.splice(s.length - 1, 1);
    if (xv) s.splice(s.length - (yv ? 1 : 2), 1);
    out = lax.reshape(out, s);
  }
  return out;
}

/**
 * NumPy `dot`: scalars multiply; 1-D·1-D is the inner product; otherwise it contracts the last
 * axis of `a` with the second-to-last axis of `b` (the last, if `b` is 1-D), giving
 * a.shape[:-1] + b.shape[:-2] + b.shape[-1:].
 */
export function dot(a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = pair(a, b, 'dot');
  if (x.ndim === 0 || y.ndim === 0) {
    const [p, q] = promoteAndBroadcast([x, y]);
    return lax.mul(p, q);
  }
  const yc = y.ndim === 1 ? 0 : y.ndim - 2;
  const K = x.shape[x.ndim - 1];
  if (y.shape[yc] !== K) {
    throw new ShapeError(`shapes ${fmtShape(x.shape)} and ${fmtShape(y.shape)} are not aligned: last dim of the first (${K}) must equal ${y.ndim === 1 ? 'the length' : 'dim -2'} of the second (${y.shape[yc]})`);
  }
  return lax.dotGeneral(x, y, { lhsContracting: [x.ndim - 1], rhsContracting: [yc] });
}

/** Inner product over the last axes: a.shape[:-1] + b.shape[:-1] (scalars multiply). */
export function inner(a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = pair(a, b, 'inner');
  if (x.ndim === 0 || y.ndim === 0) {
    const [p, q] = promoteAndBroadcast([x, y]);
    return lax.mul(p, q);
  }
  if (x.shape[x.ndim - 1] !== y.shape[y.ndim - 1]) throw new ShapeError(`last dims of ${fmtShape(x.shape)} and ${fmtShape(y.shape)} differ`);
  return lax.dotGeneral(x, y, { lhsContracting: [x.ndim - 1], rhsContracting: [y.ndim - 1] });
}

/** Dot product of the flattened arrays (a scalar). */
export function vdot(a: ArrayLike, b: ArrayLike): Array {
  const [x, y] = pair(a, b, 'vdot');
  if (x.size !== y.size) throw new ShapeError(`vdot needs the same number of elements, got ${fmtShape(x.shape)} and ${fmtShape(y.shape)}`);
  return lax.dotGeneral(lax.reshape(x, [x.size]), lax.reshape(y, [y.size]), { lhsContracting: [0], rhsContracting: [0] });
}

/** Outer product of the flattened arrays: out[i, j] = a[i]·b[j]. */
export function outer(a: ArrayLike, b: ArrayLike): Array {
  checkOperand(a, 'first operand');
  checkOperand(b, 'second operand');
  const [x, y] = promote([a, b]);
  const n = x.size, m = y.size;
  const p = lax.broadcastInDim(lax.reshape(x, [n]), [n, m], [0]);
  const q = lax.broadcastInDim(lax.reshape(y, [m]), [n, m], [1]);
  return x.dtype === 'bool' ? lax.and(p, q) : lax.mul(p, q);
}

/**
 * Sums products over the given axes: `axes = n` contracts the last n axes of `a` with the first
 * n of `b`; `axes = [aAxes, bAxes]` pairs them explicitly. Result: free axes of `a`, then of `b`.
 */
export function tensordot(a: ArrayLike, b: ArrayLike, axes: number | readonly [number | readonly number[], number | readonly number[]] = 2): Array {
  const [x, y] = pair(a, b, 'tensordot');
  let ax: number[], bx: number[];
  if (typeof axes === 'number') {
    if (!Number.isInteger(axes) || axes < 0 || axes > x.ndim || axes > y.ndim) {
      throw new ValueError(`axes=${axes} must be an integer in 0..${Math.min(x.ndim, y.ndim)} for shapes ${fmtShape(x.shape)} and ${fmtShape(y.shape)}`);
    }
    ax = range(axes).map((i) => x.ndim - axes + i);
    bx = range(axes);
  } else if (globalThis.Array.isArray(axes) && axes.length === 2) {
    const list = (v: number | readonly number[]) => (typeof v === 'number' ? [v] : [...v]);
    ax = list(axes[0]).map((i) => normAxis(i, x.ndim, 'first operand axis'));
    bx = list(axes[1]).map((i) => normAxis(i, y.ndim, 'second operand axis'));
    if (ax.length !== bx.length) throw new ValueError(`tensordot needs as many axes for a as for b, got ${JSON.stringify(axes)}`);
  } else {
    throw new ValueError(`axes must be an integer or [aAxes, bAxes], got ${describe(axes)}`);
  }
  ax.forEach((i, k) => {
    if (x.shape[i] !== y.shape[bx[k]]) throw new ShapeError(`axis ${i} of ${fmtShape(x.shape)} (size ${x.shape[i]}) does not match axis ${bx[k]} of ${fmtShape(y.shape)} (size ${y.shape[bx[k]]})`);
  });
  return lax.dotGeneral(x, y, { lhsContracting: ax, rhsContracting: bx });
}
