/**
 * Shape arithmetic shared by every stage: sizes, row-major strides, axis normalization,
 * NumPy broadcasting, and index/offset conversion. Pure functions on `number[]`.
 */

import { AxisError, ShapeError } from './errors.js';

export type Shape = readonly number[];

/** Number of elements of a shape (1 for a scalar). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides in elements. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function shapeEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Normalizes a possibly negative axis for an array of rank `ndim`, with a clear error. */
export function normAxis(axis: number, ndim: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= Math.max(ndim, 1) || (ndim === 0 && axis !== 0 && axis !== -1)) {
    throw new AxisError(`${what} ${axis} is out of range for an array of rank ${ndim} (valid: ${-ndim}..${ndim - 1})`);
  }
  return axis < 0 ? axis + ndim : axis;
}

/** Normalizes a list of axes (or all axes when undefined/null), rejecting duplicates. */
export function normAxes(axes: number | readonly number[] | null | undefined, ndim: number): number[] {
  if (axes === undefined || axes === null) return [...Array(ndim).keys()];
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = list.map((a) => normAxis(a, ndim));
  if (new Set(out).size !== out.length) throw new AxisError(`repeated axis in ${JSON.stringify(list)}`);
  return out.sort((a, b) => a - b);
}

/** NumPy broadcast of two or more shapes, or a ShapeError naming them. */
export function broadcastShapes(...shapes: Shape[]): number[] {
  const n = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(n).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = n - s.length + i;
      const d = s[i];
      if (out[j] === 1) out[j] = d;
      else if (d !== 1 && d !== out[j]) {
        throw new ShapeError(`shapes ${shapes.map(fmtShape).join(' and ')} cannot be broadcast together (dimension ${j - n} has sizes ${out[j]} and ${d}); reshape or expand_dims one operand so the trailing dimensions match or are 1`);
      }
    }
  }
  return out;
}

export function fmtShape(s: Shape): string {
  return `[${s.join(',')}]`;
}

/** Checks that every entry is a non-negative integer. */
export function checkShape(shape: Shape, where: string): number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError(`${where}: invalid shape ${JSON.stringify(shape)}; a shape is an array of non-negative integers`);
  }
  return [...shape];
}

/** Unravels a flat row-major index into a multi-index (written into `out`). */
export function unravel(flat: number, shape: Shape, out: number[]): void {
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i];
    out[i] = d === 0 ? 0 : flat % d;
    flat = d === 0 ? 0 : Math.floor(flat / d);
  }
}
