/**
 * `checkGrads`: a JAX-style gradient checker. It compares reverse-mode derivatives (from `vjp`,
 * with random cotangents so non-scalar outputs are covered) against central finite differences
 * of the same scalar projection, computed in float64 (float arguments are converted to float64
 * first, so every primitive in `f` must preserve float64). `order: 2` additionally checks the
 * derivative of a random scalar projection of the VJP itself, i.e. grad of grad. A mismatch
 * throws an Error naming the argument leaf, the worst element and the absolute/relative errors.
 * Directions and cotangents come from a small seeded PRNG (mulberry32) private to this file, so
 * checks are deterministic and independent of `random`.
 */

import { Array } from '../core/array.js';
import { isFloat } from '../core/dtype.js';
import { ValueError } from '../core/errors.js';
import { fmtAval } from '../core/ir.js';
import * as lax from '../core/lax.js';
import { vjp } from '../core/autodiff.js';
import { flatten, unflatten, type TreeDef } from '../core/pytree.js';
import { unravel } from '../core/shape.js';

/** Options of {@link checkGrads}. */
export interface CheckGradsOptions {
  /** 1: check first derivatives; 2: also check the derivative of the VJP (grad of grad). Default 1. */
  order?: 1 | 2;
  /** Finite-difference step (central differences, float64). Default 1e-6. */
  eps?: number;
  /** Absolute tolerance: |reverse − numeric| ≤ atol + rtol·|numeric|. Default 1e-5. */
  atol?: number;
  /** Relative tolerance (see atol). Default 1e-5. */
  rtol?: number;
  /** Seed of the cotangents and test directions. Default 0. */
  seed?: number;
  /**
   * Leaves with at most this many elements are checked element by element; larger leaves along
   * `directions` random directions (cheaper: two evaluations per direction). Default 64.
   */
  maxElements?: number;
  /** Number of random directions per large leaf. Default 3. */
  directions?: number;
}

/** mulberry32: a tiny 32-bit PRNG; returns uniform floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller) from a uniform source. */
function normals(u: () => number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const th = 2 * Math.PI * u();
    out[i] = r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = r * Math.sin(th);
  }
  return out;
}

interface Leaf {
  /** Position among all flattened argument leaves. */
  flat: number;
  arg: number;
  leaf: number;
  value: Array;
}

interface Resolved {
  eps: number;
  atol: number;
  rtol: number;
  maxElements: number;
  directions: number;
}

type Fn = (...args: any[]) => unknown;

function concreteF64(x: Array, what: string): Float64Array {
  if (x.isTracer) throw new ValueError(`checkGrads: ${what} is a traced value ${fmtAval(x)}; call checkGrads on concrete arrays, outside any trace`);
  const d = x.concrete();
  return d instanceof Float64Array ? d : Float64Array.from(d as ArrayLike<number>);
}

/** Converts float array leaves (and JS numbers) to float64; leaves everything else as is. */
function toFloat64Args(args: readonly unknown[]): unknown[] {
  const [leaves, def] = flatten([...args]);
  const conv = leaves.map((l, i) => {
    if (typeof l === 'number') return Array.fromData(Float64Array.of(l), [], 'float64');
    if (l instanceof Array && isFloat(l.dtype)) return Array.fromData(Float64Array.from(concreteF64(l, `argument leaf ${i}`)), l.shape, 'float64');
    if (l instanceof Array) concreteF64(l, `argument leaf ${i}`);
    return l;
  });
  return unflatten<unknown[]>(def, conv);
}

/** The float leaves of the arguments, with their argument/leaf positions. */
function floatLeaves(args: readonly unknown[]): Leaf[] {
  const out: Leaf[] = [];
  let flat = 0;
  args.forEach((a, ai) => {
    const [ls] = flatten(a);
    ls.forEach((l, li) => {
      if (l instanceof Array && isFloat(l.dtype)) out.push({ flat, arg: ai, leaf: li, value: l });
      flat++;
    });
  });
  return out;
}

/** Evaluates `f` eagerly and returns its flat output leaves (as Arrays) and structure. */
function evalOut(f: Fn, args: readonly unknown[], what: string): [Array[], TreeDef] {
  const [ls, def] = flatten(f(...args));
  const arrays = ls.map((l, i) => {
    if (l instanceof Array) return l;
    if (typeof l === 'number') return Array.fromData(Float64Array.of(l), [], 'float64');
    throw new ValueError(`checkGrads: ${what}: output leaf ${i} is ${typeof l}; the function must return arrays`);
  });
  arrays.forEach((o, i) => {
    if (isFloat(o.dtype) && o.dtype !== 'float64') {
      throw new ValueError(
        `checkGrads: ${what}: output leaf ${i} is ${fmtAval(o)} although the float arguments were converted to float64; ` +
          'every operation in the checked function must preserve float64 (avoid hard-coded float32 constants or astype(float32))',
      );
    }
  });
  return [arrays, def];
}

/** Σ over float output leaves of ⟨ct, out⟩, in float64. */
function project(outs: readonly Array[], cts: readonly (Float64Array | null)[]): number {
  let s = 0;
  outs.forEach((o, i) => {
    const c = cts[i];
    if (!c) return;
    const d = concreteF64(o, `output leaf ${i}`);
    for (let j = 0; j < d.length; j++) s += c[j] * d[j];
  });
  return s;
}

function fmtIndex(flat: number, shape: readonly number[]): string {
  const idx = new globalThis.Array<number>(shape.length);
  unravel(flat, shape, idx);
  return `[${idx.join(',')}]`;
}

function fmtNum(v: number): string {
  return Number.isFinite(v) ? v.toPrecision(6) : String(v);
}

/** Checks first derivatives of `f` at `args` (already float64); returns failure lines. */
function checkOrder1(f: Fn, args: unknown[], u: () => number, o: Resolved, label: string): string[] {
  const failures: string[] = [];
  const [outs, outDef] = evalOut(f, args, label);
  const floatOuts = outs.filter((x) => isFloat(x.dtype));
  if (floatOuts.length === 0) {
    throw new ValueError(`checkGrads: ${label}: the function has no float outputs (got ${outs.map((x) => fmtAval(x)).join(', ') || 'none'}); there is nothing to differentiate`);
  }
  const leaves = floatLeaves(args);
  if (leaves.length === 0) throw new ValueError(`checkGrads: ${label}: no float array arguments to differentiate; pass float arrays (they are converted to float64)`);

  // Random cotangents for the float outputs, zeros for the others.
  const ctData = outs.map((x) => (isFloat(x.dtype) ? normals(u, x.size) : null));
  const ctArrays = outs.map((x, i) => {
    const c = ctData[i];
    return c ? Array.fromData(c, x.shape, 'float64') : lax.zerosLike(x);
  });

  // Reverse mode.
  const [vOut, pullback] = vjp(f as (...a: any[]) => unknown, ...args);
  const [vOuts] = flatten(vOut);
  vOuts.forEach((v, i) => {
    if (!(v instanceof Array) || !isFloat(v.dtype)) return;
    const a = concreteF64(v, `vjp output leaf ${i}`);
    const b = concreteF64(outs[i], `output leaf ${i}`);
    let worst = 0;
    for (let j = 0; j < a.length; j++) {
      const e = Math.abs(a[j] - b[j]);
      if (e > o.atol + o.rtol * Math.abs(b[j]) || Number.isNaN(e)) worst = Math.max(worst, Number.isNaN(e) ? Infinity : e);
    }
    if (worst > 0) failures.push(`  ${label}: output leaf ${i}: vjp's primal output differs from calling the function directly (max abs error ${fmtNum(worst)})`);
  });
  const [gradLeaves] = flatten(pullback(unflatten(outDef, ctArrays)));

  const allLeaves = flatten(args)[0];
  const evalProj = (flat: number, perturbed: Array): number => {
    const ls = allLeaves.slice();
    ls[flat] = perturbed;
    const a = unflatten<unknown[]>(flatten(args)[1], ls);
    return project(evalOut(f, a, label)[0], ctData);
  };

  for (const lf of leaves) {
    const g = gradLeaves[lf.flat];
    const where = `argument ${lf.arg} leaf ${lf.leaf} (${fmtAval(lf.value)})`;
    if (!(g instanceof Array) || g.dtype !== lf.value.dtype || g.size !== lf.value.size) {
      failures.push(`  ${label}: ${where}: reverse-mode cotangent is ${g instanceof Array ? fmtAval(g) : String(g)}, expected ${fmtAval(lf.value)}`);
      continue;
    }
    const gd = concreteF64(g, `gradient of ${where}`);
    const x = concreteF64(lf.value, where);
    const n = x.length;
    const perDir = n > o.maxElements;
    const count = perDir ? o.directions : n;
    let bad = 0;
    let worstAbs = -1, worstRel = 0, worstAt = '', worstAna = 0, worstNum = 0;
    for (let k = 0; k < count; k++) {
      const dir = perDir ? normals(u, n) : null;
      const plus = Float64Array.from(x);
      const minus = Float64Array.from(x);
      let ana: number;
      if (dir) {
        ana = 0;
        for (let j = 0; j < n; j++) {
          plus[j] += o.eps * dir[j];
          minus[j] -= o.eps * dir[j];
          ana += gd[j] * dir[j];
        }
      } else {
        plus[k] += o.eps;
        minus[k] -= o.eps;
        ana = gd[k];
      }
      const fp = evalProj(lf.flat, Array.fromData(plus, lf.value.shape, 'float64'));
      const fm = evalProj(lf.flat, Array.fromData(minus, lf.value.shape, 'float64'));
      const num = (fp - fm) / (2 * o.eps);
      const abs = Math.abs(ana - num);
      const ok = abs <= o.atol + o.rtol * Math.abs(num);
      if (!ok || Number.isNaN(abs)) {
        bad++;
        const a = Number.isNaN(abs) ? Infinity : abs;
        if (a > worstAbs) {
          worstAbs = a;
          worstAt = dir ? `random direction ${k}` : `index ${fmtIndex(k, lf.value.shape)}`;
          worstAna = ana;
          worstNum = num;
        }
        worstRel = Math.max(worstRel, a / Math.max(Math.abs(num), 1e-300));
      }
    }
    if (bad > 0) {
      failures.push(
        `  ${label}: ${where}: ${bad} of ${count} ${perDir ? 'directions' : 'elements'} differ; ` +
          `max abs error ${fmtNum(worstAbs)} at ${worstAt} (reverse-mode ${fmtNum(worstAna)}, numeric ${fmtNum(worstNum)}); max rel error ${fmtNum(worstRel)}`,
      );
    }
  }
  return failures;
}

/**
 * Checks the gradients of `f` at `args` (a list of positional arguments, each a pytree of arrays)
 * against central finite differences in float64, like `jax.test_util.check_grads` in reverse
 * mode. Float array leaves (and JS numbers) are converted to float64; integer and bool leaves
 * (indices, masks) are passed through and not differentiated. Non-scalar and pytree outputs are
 * projected onto random cotangents. With `order: 2` the gradient of a random projection of the
 * VJP is checked too (grad of grad).
 *
 * Throws an Error listing every mismatching argument leaf with its worst element, the
 * reverse-mode and numeric values and the max absolute/relative errors.
 */
export function checkGrads(f: Fn, args: readonly unknown[], opts: CheckGradsOptions = {}): void {
  if (!globalThis.Array.isArray(args)) throw new ValueError('checkGrads(f, args): args must be an array of positional arguments, e.g. checkGrads(f, [x, y])');
  const order = opts.order ?? 1;
  if (order !== 1 && order !== 2) throw new ValueError(`checkGrads: order must be 1 or 2, got ${String(order)}`);
  const o: Resolved = {
    eps: opts.eps ?? 1e-6,
    atol: opts.atol ?? 1e-5,
    rtol: opts.rtol ?? 1e-5,
    maxElements: opts.maxElements ?? 64,
    directions: opts.directions ?? 3,
  };
  const u = mulberry32(opts.seed ?? 0);
  const args64 = toFloat64Args(args);
  const failures = checkOrder1(f, args64, u, o, 'order 1');

  if (order === 2) {
    // h(args) = Σ_leaves ⟨w, vjp(f)(args)(ct)⟩ for fixed random ct and w; its gradient is a
    // second derivative of f.
    const [outs, outDef] = evalOut(f, args64, 'order 2');
    const cts = outs.map((x) => (isFloat(x.dtype) ? Array.fromData(normals(u, x.size), x.shape, 'float64') : lax.zerosLike(x)));
    const ctTree = unflatten(outDef, cts);
    const leaves = floatLeaves(args64);
    const ws = new Map(leaves.map((l) => [l.flat, Array.fromData(normals(u, l.value.size), l.value.shape, 'float64')]));
    const h = (...a: unknown[]): Array => {
      const [, pb] = vjp(f as (...x: any[]) => unknown, ...a);
      const [gs] = flatten(pb(ctTree));
      let acc: Array | null = null;
      for (const [flat, w] of ws) {
        const g = gs[flat] as Array;
        const term = lax.reduceSum(lax.mul(w, g), w.shape.map((_, i) => i));
        acc = acc ? lax.add(acc, term) : term;
      }
      return acc!;
    };
    failures.push(...checkOrder1(h, args64, u, o, 'order 2 (gradient of a projection of the VJP)'));
  }

  if (failures.length) {
    throw new Error(
      `checkGrads: reverse-mode gradients of ${f.name || 'the function'} do not match central finite differences ` +
        `(eps=${o.eps}, atol=${o.atol}, rtol=${o.rtol}, seed=${opts.seed ?? 0}):\n${failures.join('\n')}`,
    );
  }
}
