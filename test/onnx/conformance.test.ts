/**
 * Conformance of the ONNX lowering: for every primitive (the list comes from the shape-rule
 * table, so a new primitive without cases fails here), seeded random cases — random shapes with
 * size-1 and size-0 dims, every dtype the primitive accepts, special float and integer values —
 * are traced with makeGraph, run in ONNX Runtime and compared with the reference interpreter.
 * Integers and bools must match exactly; floats within DEFAULT_TOL (rtol 1e-5, atol 1e-6),
 * relative to the magnitude Σ|terms| for accumulating primitives (reduce_sum, cumsum,
 * dot_general, the ragged matmuls, scatter_add). The VJP graph (forward + pullback, traced as one Graph) of every
 * differentiable primitive is compared the same way, with the tolerance relative to the largest
 * |value| of each output. Set MYRIAD_ONNX_REPORT=1 to print the largest float errors seen.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array } from '../../src/core/array.js';
import type { DType } from '../../src/core/dtype.js';
import { Graph } from '../../src/core/ir.js';
import { shapeRules, type Primitive } from '../../src/core/primitives.js';
import * as lax from '../../src/core/lax.js';
import { bind, makeGraph } from '../../src/core/trace.js';
import { checkpoint, customVjp, vjp } from '../../src/core/autodiff.js';
import { evalGraphReference } from '../../src/backends/reference/index.js';
import { NamedSharding, P, makeMeshShape } from '../../src/distributed/sharding/index.js';
import { OnnxExecutable, OnnxUnsupportedError, lowerGraph, onnxRules } from '../../src/backends/onnx/index.js';
import { DEFAULT_TOL, FLOAT_SPECIALS, INT32_SPECIALS, Rng, UINT32_SPECIALS, arrayOf, compareArrays, i32, maxErrors, randArray, randShape, type Tol } from './helpers.js';

/** One test case: bind `prim` with `params` on `args` (or call `fn`). */
interface Case {
  args: Array[];
  params?: unknown;
  fn?: (...xs: Array[]) => Array[];
  tol?: Tol;
  /** Compare relative to the same computation on |inputs| (accumulating primitives). */
  magnitude?: boolean;
  /** Excluded from the VJP test (special values, integer outputs, …). */
  noVjp?: boolean;
  /** The lowering must refuse this case with OnnxUnsupportedError. */
  unsupported?: boolean;
}
type Gen = (r: Rng) => Case[];

const NUM: DType[] = ['float32', 'int32', 'uint32'];
const ALL: DType[] = ['float32', 'int32', 'uint32', 'bool'];

/** Values spread over a 1-D array, in the order given. */
const specials = (dt: DType, values: readonly number[]) => arrayOf(dt, [values.length], values);
const floatSpecials = (dt: DType = 'float32') => specials(dt, FLOAT_SPECIALS);
const intSpecials = (dt: DType) => specials(dt, dt === 'int32' ? INT32_SPECIALS : dt === 'uint32' ? UINT32_SPECIALS : [0, 1]);

/** Every pair (a, b) of `values`, as two flat arrays (for binary ops on special values). */
function pairs(dt: DType, values: readonly number[]): [Array, Array] {
  const a: number[] = [];
  const b: number[] = [];
  for (const x of values) {
    for (const y of values) {
      a.push(x);
      b.push(y);
    }
  }
  return [arrayOf(dt, [a.length], a), arrayOf(dt, [b.length], b)];
}

function unaryFloat(opts: { lo?: number; hi?: number; f64?: boolean; unsupportedF64?: boolean; specialValues?: readonly number[] } = {}): Gen {
  return (r) => {
    const cases: Case[] = [];
    for (let k = 0; k < 3; k++) cases.push({ args: [randArray(r, 'float32', randShape(r), { lo: opts.lo, hi: opts.hi })] });
    cases.push({ args: [specials('float32', opts.specialValues ?? FLOAT_SPECIALS)], noVjp: true });
    if (opts.f64) cases.push({ args: [randArray(r, 'float64', randShape(r, 1), { lo: opts.lo, hi: opts.hi })] });
    if (opts.unsupportedF64) cases.push({ args: [randArray(r, 'float64', [3])], unsupported: true, noVjp: true });
    return cases;
  };
}

function unaryAny(dtypes: DType[]): Gen {
  return (r) => dtypes.flatMap((dt) => [
    { args: [randArray(r, dt, randShape(r), { special: 0.2 })], noVjp: dt !== 'float32' },
    { args: [dt === 'float32' ? floatSpecials() : intSpecials(dt)], noVjp: true },
  ]);
}

function binary(dtypes: DType[], o: { lo?: number; hi?: number; loB?: number; hiB?: number; special?: number } = {}): Gen {
  return (r) => dtypes.flatMap((dt) => {
    const shape = randShape(r);
    const cs: Case[] = [
      { args: [randArray(r, dt, shape, { lo: o.lo, hi: o.hi }), randArray(r, dt, shape, { lo: o.loB ?? o.lo, hi: o.hiB ?? o.hi })], noVjp: dt !== 'float32' },
      { args: [randArray(r, dt, [3, 4], { special: o.special ?? 0.3, lo: o.lo, hi: o.hi }), randArray(r, dt, [3, 4], { special: o.special ?? 0.3, lo: o.loB ?? o.lo, hi: o.hiB ?? o.hi })], noVjp: true },
    ];
    const sp = dt === 'float32' || dt === 'float64' ? FLOAT_SPECIALS.slice(0, 16) : dt === 'int32' ? INT32_SPECIALS : dt === 'uint32' ? UINT32_SPECIALS : [0, 1];
    cs.push({ args: pairs(dt, sp), noVjp: true });
    return cs;
  });
}

function compare(): Gen {
  return (r) => ALL.flatMap((dt) => {
    const shape = randShape(r);
    const a = randArray(r, dt, shape, { lo: -3, hi: 3, special: 0.2 });
    const b = randArray(r, dt, shape, { lo: -3, hi: 3, special: 0.2 });
    const sp = dt === 'float32' ? [NaN, Infinity, -Infinity, 0, -0, 1, -1] : dt === 'int32' ? INT32_SPECIALS.slice(0, 12) : dt === 'uint32' ? UINT32_SPECIALS : [0, 1];
    return [{ args: [a, b], noVjp: true }, { args: pairs(dt, sp), noVjp: true }];
  });
}

const shift: Gen = (r) => (['int32', 'uint32'] as DType[]).flatMap((dt) => {
  const shape = randShape(r, 1);
  const x = randArray(r, dt, shape, { special: 0.5, lo: dt === 'int32' ? -1000 : 0, hi: 1000 });
  const n = randArray(r, dt, shape, { lo: dt === 'int32' ? -3 : 0, hi: 40 });
  const sp = dt === 'int32' ? [0, 1, -1, 2147483647, -2147483648, 31, 32, 33, -5, 12345] : [0, 1, 31, 32, 33, 0x80000000, 0xffffffff, 12345];
  return [{ args: [x, n], noVjp: true }, { args: pairs(dt, sp), noVjp: true }];
});

const same = (dts: DType[], n: number, o: { special?: number } = {}): Gen => (r) => dts.map((dt) => {
  const shape = randShape(r);
  return { args: globalThis.Array.from({ length: n }, () => randArray(r, dt, shape, { special: o.special })), noVjp: dt !== 'float32' };
});

const convertCases: Gen = (r) => {
  const dts: DType[] = ['float32', 'float64', 'int32', 'uint32', 'bool'];
  const cases: Case[] = [];
  for (const from of dts) {
    for (const to of dts) {
      if (from === to) continue;
      const src = from === 'float32' || from === 'float64' ? floatSpecials(from) : intSpecials(from);
      const noVjp = !((from === 'float32' || from === 'float64') && (to === 'float32' || to === 'float64'));
      cases.push({ args: [src], params: { newDtype: to }, noVjp: true });
      cases.push({ args: [randArray(r, from, randShape(r), { lo: -1e4, hi: 1e4, special: 0.1 })], params: { newDtype: to }, noVjp });
    }
  }
  return cases;
};

function nonzeroShape(r: Rng, minRank: number, maxRank = 3): number[] {
  return randShape(r, minRank, maxRank, false);
}

const broadcastCases: Gen = (r) => ALL.map((dt) => {
  const target = randShape(r, 0, 4);
  const bd = target.map((_, i) => i).filter(() => r.bool(0.6));
  const shape = bd.map((d) => (r.bool(0.3) ? 1 : target[d]));
  return { args: [randArray(r, dt, shape)], params: { shape: target, broadcastDimensions: bd }, noVjp: dt !== 'float32' };
});

const reshapeCases: Gen = (r) => [
  ...ALL.map((dt) => {
    const shape = randShape(r, 0, 3);
    const n = shape.reduce((a, b) => a * b, 1);
    const newSizes = r.bool() ? [n] : [1, ...[...shape].reverse(), 1];
    return { args: [randArray(r, dt, shape)], params: { newSizes }, noVjp: dt !== 'float32' };
  }),
  { args: [randArray(r, 'float32', [0, 3])], params: { newSizes: [3, 0, 2] } },
  { args: [randArray(r, 'float32', [2, 3, 4])], params: { newSizes: [4, 6] } },
];

const transposeCases: Gen = (r) => ALL.map((dt) => {
  const shape = randShape(r, 1, 4);
  return { args: [randArray(r, dt, shape)], params: { permutation: r.perm(shape.length) }, noVjp: dt !== 'float32' };
});

const sliceCases: Gen = (r) => [...ALL, 'float32' as DType].map((dt) => {
  const shape = randShape(r, 1, 3);
  const startIndices = shape.map((d) => r.int(0, d));
  const limitIndices = shape.map((d, i) => r.int(startIndices[i], d));
  const strides = r.bool(0.6) ? shape.map(() => r.int(1, 3)) : null;
  return { args: [randArray(r, dt, shape)], params: { startIndices, limitIndices, strides }, noVjp: dt !== 'float32' };
});

const padCases: Gen = (r) => {
  const cases: Case[] = [];
  for (const dt of [...ALL, 'float32', 'float32'] as DType[]) {
    for (let tries = 0; tries < 50; tries++) {
      const shape = randShape(r, 1, 3);
      const lo = shape.map(() => r.int(-2, 3));
      const hi = shape.map(() => r.int(-2, 3));
      const interior = shape.map(() => r.int(0, 2));
      try {
        shapeRules.pad([{ shape, dtype: dt }], { lo, hi, interior, padValue: 0 });
      } catch {
        continue;
      }
      const padValue = dt === 'bool' ? 1 : dt === 'uint32' ? 7 : r.pick([0, -1.5, 3]);
      cases.push({ args: [randArray(r, dt, shape)], params: { lo, hi, interior, padValue: dt === 'int32' ? Math.trunc(padValue) : padValue }, noVjp: dt !== 'float32' });
      break;
    }
  }
  cases.push({ args: [randArray(r, 'float32', [0, 2])], params: { lo: [1, 0], hi: [1, 1], interior: [2, 1], padValue: 5 } });
  return cases;
};

const concatCases: Gen = (r) => ALL.map((dt) => {
  const shape = nonzeroShape(r, 1);
  const dim = r.int(0, shape.length - 1);
  const n = r.int(1, 3);
  const args = globalThis.Array.from({ length: n }, () => {
    const s = [...shape];
    s[dim] = r.int(0, 3);
    return randArray(r, dt, s);
  });
  return { args, params: { dimension: dim }, noVjp: dt !== 'float32' };
});

const u32 = (v: number) => arrayOf('uint32', [], [v]);

const dynSliceCases: Gen = (r) => [
  ...ALL.map((dt) => {
    const shape = randShape(r, 1, 3);
    const sliceSizes = shape.map((d) => r.int(0, d));
    const starts = shape.map((d) => i32(r.int(-3, d + 3)));
    return { args: [randArray(r, dt, shape), ...starts], params: { sliceSizes }, noVjp: dt !== 'float32' };
  }),
  // uint32 starts, including ones ≥ 2^31 (clamped to the last valid start)
  { args: [randArray(r, 'float32', [5, 6]), u32(3000000000), u32(1)], params: { sliceSizes: [2, 3] }, noVjp: true },
  { args: [randArray(r, 'float32', [5, 6]), i32(-2147483648), i32(2147483647)], params: { sliceSizes: [2, 3] }, noVjp: true },
];

const dynUpdateCases: Gen = (r) => [
  ...ALL.map((dt) => {
    const shape = randShape(r, 1, 3);
    const ushape = shape.map((d) => r.int(0, d));
    const starts = shape.map((d) => i32(r.int(-3, d + 3)));
    return { args: [randArray(r, dt, shape), randArray(r, dt, ushape), ...starts], noVjp: dt !== 'float32' };
  }),
  { args: [randArray(r, 'float32', [5, 6]), randArray(r, 'float32', [2, 3]), u32(0xffffffff), u32(2)], noVjp: true },
  // whole trailing blocks (the ScatterND lowering): a KV-cache write in every dtype, partial
  // leading dims with clamped starts, and an update that covers the operand
  ...ALL.map((dt) => ({ args: [randArray(r, dt, [3, 10, 2, 4]), randArray(r, dt, [3, 1, 2, 4]), i32(0), i32(r.int(0, 10)), i32(0), i32(0)], noVjp: dt !== 'float32' })),
  { args: [randArray(r, 'float32', [4, 6, 8]), randArray(r, 'float32', [2, 3, 8]), i32(3), i32(-2), i32(5)] },
  { args: [randArray(r, 'float32', [4, 6, 8]), randArray(r, 'float32', [2, 3, 8]), i32(1), i32(9), i32(0)] },
  { args: [randArray(r, 'int32', [2, 3]), randArray(r, 'int32', [2, 3]), i32(1), i32(1)], noVjp: true },
];

function reduceCases(kind: 'sum' | 'max' | 'min'): Gen {
  return (r) => {
    const cases: Case[] = [];
    for (const dt of [...ALL, 'float32'] as DType[]) {
      const shape = kind === 'sum' ? randShape(r, 0, 3) : nonzeroShape(r, 0, 3);
      const axes = shape.map((_, i) => i).filter(() => r.bool());
      const sp = dt === 'int32' || dt === 'uint32' ? 0.4 : 0;
      cases.push({ args: [randArray(r, dt, shape, { lo: -3, hi: 3, special: sp })], params: { axes }, magnitude: kind === 'sum', noVjp: dt !== 'float32' });
    }
    if (kind === 'sum') cases.push({ args: [randArray(r, 'float32', [2, 0, 3])], params: { axes: [1] } });
    cases.push({ args: [arrayOf('float32', [2, 3], [1, NaN, 3, -Infinity, -Infinity, 0])], params: { axes: [1] }, noVjp: true });
    cases.push({ args: [randArray(r, 'float32', [4, 5], { special: 0.3 })], params: { axes: [1] }, noVjp: true });
    cases.push({ args: [arrayOf('uint32', [2, 4], [3000000000, 5, 0x80000000, 0x7fffffff, 0xffffffff, 0xfffffffe, 1, 0])], params: { axes: [1] }, noVjp: true });
    cases.push({ args: [randArray(r, 'float32', [6, 50], { lo: -1, hi: 1 })], params: { axes: [0, 1] }, magnitude: kind === 'sum' });
    cases.push({ args: [randArray(r, 'float64', [3, 4])], params: { axes: [0] }, magnitude: kind === 'sum' });
    return cases;
  };
}

const argmaxCases: Gen = (r) => {
  const cases: Case[] = ALL.map((dt) => {
    const shape = nonzeroShape(r, 1, 3);
    return { args: [randArray(r, dt, shape, { lo: -2, hi: 2, special: 0.3 })], params: { axis: r.int(0, shape.length - 1), indexDtype: 'int32' }, noVjp: true };
  });
  const ties = arrayOf('float32', [3, 4], [1, 3, 3, 2, NaN, 5, NaN, 1, -Infinity, -Infinity, -Infinity, -Infinity]);
  cases.push({ args: [ties], params: { axis: 1, indexDtype: 'int32' }, noVjp: true });
  cases.push({ args: [arrayOf('int32', [2, 3], [4, 4, 1, -1, 5, 5])], params: { axis: 1, indexDtype: 'uint32' }, noVjp: true });
  return cases;
};

const cumsumCases: Gen = (r) => [...ALL, 'float32' as DType].map((dt) => {
  const shape = randShape(r, 1, 3);
  return { args: [randArray(r, dt, shape, { special: dt === 'float32' ? 0 : 0.3 })], params: { axis: r.int(0, shape.length - 1), reverse: r.bool() }, magnitude: true, noVjp: dt !== 'float32' };
});

const dotCases: Gen = (r) => {
  const d = () => r.int(1, 5);
  const cases: Case[] = [];
  const dims = (lc: number[], rc: number[], lb: number[] = [], rb: number[] = [], preferredElementType: DType | null = null) => ({ lhsContracting: lc, rhsContracting: rc, lhsBatch: lb, rhsBatch: rb, preferredElementType });
  for (const dt of NUM) {
    const o = dt === 'float32' ? {} : { special: 0.3 };
    const [m, k, n, b] = [d(), d(), d(), d()];
    cases.push({ args: [randArray(r, dt, [m, k], o), randArray(r, dt, [k, n], o)], params: dims([1], [0]), magnitude: true, noVjp: dt !== 'float32' });
    cases.push({ args: [randArray(r, dt, [b, m, k], o), randArray(r, dt, [b, k, n], o)], params: dims([2], [1], [0], [0]), magnitude: true, noVjp: dt !== 'float32' });
  }
  const [k1, k2, b, m, n] = [d(), d(), d(), d(), d()];
  // contracting and batch dims in unusual positions
  cases.push({ args: [randArray(r, 'float32', [k1, b, m, k2]), randArray(r, 'float32', [k2, n, b, k1])], params: dims([0, 3], [3, 0], [1], [2]), magnitude: true });
  cases.push({ args: [randArray(r, 'float32', [m, k1]), randArray(r, 'float32', [n, k1])], params: dims([1], [1]), magnitude: true });
  cases.push({ args: [randArray(r, 'float32', [m]), randArray(r, 'float32', [m])], params: dims([0], [0]), magnitude: true });
  cases.push({ args: [randArray(r, 'float32', [m, 0]), randArray(r, 'float32', [0, n])], params: dims([1], [0]), magnitude: true });
  cases.push({ args: [randArray(r, 'float32', [64, 96]), randArray(r, 'float32', [96, 48])], params: dims([1], [0]), magnitude: true });
  cases.push({ args: [randArray(r, 'int32', [m, k1]), randArray(r, 'int32', [k1, n])], params: dims([1], [0], [], [], 'float32'), magnitude: true, noVjp: true });
  cases.push({ args: [randArray(r, 'float32', [m, k1]), randArray(r, 'float32', [k1, n])], params: dims([1], [0], [], [], 'float64'), magnitude: true, noVjp: true });
  cases.push({ args: [randArray(r, 'float64', [m, k1]), randArray(r, 'float64', [k1, n])], params: dims([1], [0]), magnitude: true });
  return cases;
};

function gatherParams(r: Rng, dt: DType): Case {
  const bd = r.int(0, 2);
  const xShape = randShape(r, bd + 1, bd + 3);
  const axis = r.int(bd, xShape.length - 1);
  const idxShape = [...xShape.slice(0, bd), ...randShape(r, 0, 2)];
  const N = xShape[axis];
  const idx = randArray(r, 'int32', idxShape, { lo: -2, hi: N + 1 });
  return { args: [randArray(r, dt, xShape, { special: dt === 'float32' ? 0 : 0.4 }), idx], params: { axis, batchDims: bd }, noVjp: dt !== 'float32' };
}

const gatherCases: Gen = (r) => [...ALL, 'float32', 'float32', 'float32', 'uint32'].map((dt) => gatherParams(r, dt as DType));

const scatterCases: Gen = (r) => [...ALL, 'float32', 'float32', 'float32'].map((dt) => {
  const g = gatherParams(r, dt as DType);
  const [x, idx] = g.args;
  const p = g.params as { axis: number; batchDims: number };
  const out = shapeRules.gather([x.aval, idx.aval], p)[0];
  return { ...g, args: [x, idx, randArray(r, dt as DType, out.shape, { special: dt === 'float32' ? 0 : 0.4 })], magnitude: true };
});

/** ragged_dot / ragged_contract: random group sizes (some 0, some negative, sums short of and past M). */
function raggedCases(contract: boolean): Gen {
  return (r) => {
    const cases: Case[] = [];
    const sizesCase = (M: number, G: number, sizes: number[] | null, dt: DType) => {
      const K = r.int(1, 6), N = r.int(1, 5);
      const gs = sizes ?? globalThis.Array.from({ length: G }, () => r.int(-1, Math.max(1, Math.ceil((2 * M) / G))));
      const a = randArray(r, dt, [M, K]);
      const transposeRhs = !contract && r.int(0, 1) === 1;
      const b = contract ? randArray(r, dt, [M, N]) : randArray(r, dt, transposeRhs ? [gs.length, N, K] : [gs.length, K, N]);
      cases.push({ args: [a, b, arrayOf('int32', [gs.length], gs)], params: contract ? {} : { transposeRhs }, magnitude: true, noVjp: dt !== 'float32' });
    };
    for (let t = 0; t < 4; t++) sizesCase(r.int(1, 12), r.int(1, 5), null, 'float32');
    sizesCase(7, 3, [2, 0, 5], 'float32'); // exactly M
    sizesCase(7, 3, [1, 2, 1], 'float32'); // short of M: trailing rows 0
    sizesCase(7, 3, [4, 9, 3], 'float32'); // past M: clipped
    sizesCase(6, 2, [3, 3], 'float64');
    sizesCase(0, 2, [0, 0], 'float32');
    // batched: lhs [B, M, K], sizes [B, G] (each batch row its own grouping)
    for (const [B, M, G] of [[2, 5, 3], [3, 4, 2], [1, 6, 2]]) {
      const K = r.int(1, 5), N = r.int(1, 4);
      const gs = globalThis.Array.from({ length: B * G }, () => r.int(-1, M));
      const transposeRhs = !contract && r.int(0, 1) === 1;
      const b = contract ? randArray(r, 'float32', [B, M, N]) : randArray(r, 'float32', transposeRhs ? [G, N, K] : [G, K, N]);
      cases.push({ args: [randArray(r, 'float32', [B, M, K]), b, arrayOf('int32', [B, G], gs)], params: contract ? {} : { transposeRhs }, magnitude: true });
    }
    return cases;
  };
}

const topKCases: Gen = (r) => {
  const cases: Case[] = ALL.map((dt) => {
    const shape = randShape(r, 1, 3);
    const n = shape[shape.length - 1];
    return { args: [randArray(r, dt, shape, { lo: -2, hi: 2 })], params: { k: r.int(0, n) }, noVjp: dt !== 'float32' };
  });
  for (const dt of ['float32', 'float64', 'int32', 'uint32'] as DType[]) {
    cases.push({ args: [randArray(r, dt, [3, 9], { lo: -2, hi: 2, special: 0.4 })], params: { k: r.int(1, 9) }, noVjp: true });
  }
  cases.push({ args: [arrayOf('float64', [1, 8], [Infinity, NaN, 1.7976931348623157e308, NaN, -Infinity, Infinity, 0, NaN])], params: { k: 8 }, noVjp: true });
  const ties = arrayOf('float32', [2, 8], [1, 3, 3, NaN, 2, 3, NaN, -Infinity, 0, -0, 0, 5, 5, -1, 5, 0]);
  cases.push({ args: [ties], params: { k: 8 }, noVjp: true });
  cases.push({ args: [ties], params: { k: 3 }, noVjp: true });
  cases.push({ args: [randArray(r, 'float32', [3, 40], { lo: -1, hi: 1 })], params: { k: 7 } });
  cases.push({ args: [arrayOf('uint32', [1, 6], [5, 0xffffffff, 5, 0, 0x80000000, 0xffffffff])], params: { k: 4 }, noVjp: true });
  return cases;
};

const iotaCases: Gen = (r) => ALL.map((dt) => {
  const shape = randShape(r, 1, 3);
  return { args: [], params: { dtype: dt, shape, dimension: r.int(0, shape.length - 1) }, noVjp: true };
});

const rematCases: Gen = (r) => {
  const f = checkpoint((x: Array, y: Array) => [lax.mul(lax.sin(x), y), lax.exp(lax.neg(x))]);
  const shape = randShape(r, 1, 2);
  return [{ args: [randArray(r, 'float32', shape), randArray(r, 'float32', shape)], fn: (x, y) => f(x, y) }];
};

const customVjpCases: Gen = (r) => {
  const f = customVjp(
    (x: Array) => lax.tanh(x),
    (x: Array) => {
      const y = lax.tanh(x);
      return [y, y];
    },
    (y: Array, ct: Array) => [lax.mul(ct, lax.sub(lax.fullLike(y, 1), lax.mul(y, y)))],
  );
  return [{ args: [randArray(r, 'float32', randShape(r, 1, 2))], fn: (x) => [f(x)] }];
};

/** Collectives have no ONNX lowering (the runtime runs them): each case must be refused. */
const collectiveCases = (params: object): Gen => (r) => [{ args: [randArray(r, 'float32', [4, 2])], params: { axes: ['x'], axisSizes: [2], ...params }, unsupported: true, noVjp: true }];

/** Cases for every primitive: the compiler refuses a primitive without an entry. */
const generators: { [P in Primitive]: Gen } = {
  neg: unaryAny(['float32', 'int32', 'uint32', 'bool']),
  abs: unaryAny(['float32', 'int32', 'uint32', 'bool']),
  sign: unaryAny(['float32', 'int32', 'uint32', 'bool']),
  floor: unaryFloat({ f64: true }),
  ceil: unaryFloat({ f64: true }),
  round: unaryFloat({ lo: -6, hi: 6, f64: true }),
  is_finite: unaryFloat({ f64: true }),
  exp: unaryFloat({ f64: true }),
  log: unaryFloat({ lo: 0, hi: 20, f64: true }),
  log1p: unaryFloat({ lo: -0.9, hi: 5, f64: true, specialValues: [...FLOAT_SPECIALS, 1e-10, -1e-10, 3e-5, -0.999] }),
  expm1: unaryFloat({ lo: -5, hi: 5, f64: true, specialValues: [...FLOAT_SPECIALS, 1e-10, -1e-10, 3e-5, -60, 80] }),
  tanh: unaryFloat({ f64: true }),
  logistic: unaryFloat({ lo: -10, hi: 10, f64: true }),
  sin: unaryFloat({ lo: -10, hi: 10, f64: true, specialValues: FLOAT_SPECIALS.filter((v) => !(Math.abs(v) > 1e4)) }),
  cos: unaryFloat({ lo: -10, hi: 10, f64: true, specialValues: FLOAT_SPECIALS.filter((v) => !(Math.abs(v) > 1e4)) }),
  sqrt: unaryFloat({ lo: 0, hi: 20, f64: true }),
  rsqrt: unaryFloat({ lo: 0.1, hi: 20, f64: true }),
  erf: unaryFloat({ lo: -4, hi: 4, unsupportedF64: true }),
  not: unaryAny(['bool', 'int32', 'uint32']),

  add: binary([...ALL, 'float64']),
  sub: binary([...ALL, 'float64']),
  mul: binary([...ALL, 'float64']),
  div: binary([...ALL, 'float64'], { loB: -5, hiB: 5 }),
  rem: binary([...ALL, 'float64'], { loB: -5, hiB: 5 }),
  pow: (r) => [
    ...binary(['float32'], { lo: 0.1, hi: 3, loB: -3, hiB: 3, special: 0.15 })(r),
    { args: [randArray(r, 'float32', [3, 3], { lo: -3, hi: 3 }), arrayOf('float32', [3, 3], globalThis.Array.from({ length: 9 }, () => r.int(-3, 3)))], noVjp: true },
  ],
  max: binary([...ALL, 'float64']),
  min: binary([...ALL, 'float64']),
  atan2: (r) => [...binary(['float32'])(r), { args: [randArray(r, 'float64', [3]), randArray(r, 'float64', [3])], unsupported: true, noVjp: true }],
  and: binary(['bool', 'int32', 'uint32']),
  or: binary(['bool', 'int32', 'uint32']),
  xor: binary(['bool', 'int32', 'uint32']),
  shift_left: shift,
  shift_right_logical: shift,
  shift_right_arithmetic: shift,
  eq: compare(), ne: compare(), lt: compare(), le: compare(), gt: compare(), ge: compare(),

  select: (r) => ALL.map((dt) => {
    const shape = randShape(r);
    const o = { special: dt === 'float32' ? 0 : 0.4 };
    return { args: [randArray(r, 'bool', shape), randArray(r, dt, shape, o), randArray(r, dt, shape, o)], noVjp: dt !== 'float32' };
  }),
  convert_element_type: convertCases,
  stop_gradient: same(ALL, 1),
  broadcast_in_dim: broadcastCases,
  reshape: reshapeCases,
  transpose: transposeCases,
  slice: sliceCases,
  pad: padCases,
  concatenate: concatCases,
  dynamic_slice: dynSliceCases,
  dynamic_update_slice: dynUpdateCases,
  reduce_sum: reduceCases('sum'),
  reduce_max: reduceCases('max'),
  reduce_min: reduceCases('min'),
  argmax: argmaxCases,
  cumsum: cumsumCases,
  dot_general: dotCases,
  gather: gatherCases,
  ragged_dot: raggedCases(false),
  ragged_contract: raggedCases(true),
  scatter_add: scatterCases,
  top_k: topKCases,
  iota: iotaCases,
  remat: rematCases,
  custom_vjp_call: customVjpCases,
  sharding_constraint: (r) => [{ args: [randArray(r, 'float32', [4, 2])], params: { sharding: NamedSharding(makeMeshShape({ x: 2 }), P('x')) } }],
  all_reduce: collectiveCases({ op: 'sum' }),
  all_gather: collectiveCases({ dimension: 0 }),
  reduce_scatter: collectiveCases({ dimension: 0, op: 'sum' }),
  all_to_all: collectiveCases({ splitDimension: 0, concatDimension: 1 }),
  collective_permute: collectiveCases({ pairs: [[0, 1]] }),
  axis_index: () => [{ args: [], params: { axes: ['x'], axisSizes: [2] }, unsupported: true, noVjp: true }],
};

/** Primitives with a derivative (the VJP graph of each is checked too). */
const differentiable: { [P in Primitive]: boolean } = {
  neg: true, abs: true, sign: false, floor: false, ceil: false, round: false, is_finite: false, exp: true,
  log: true, log1p: true, expm1: true, tanh: true, logistic: true, sin: true, cos: true, sqrt: true,
  rsqrt: true, erf: true, not: false,
  add: true, sub: true, mul: true, div: true, rem: true, pow: true, max: true, min: true, atan2: true,
  and: false, or: false, xor: false, shift_left: false, shift_right_logical: false, shift_right_arithmetic: false,
  eq: false, ne: false, lt: false, le: false, gt: false, ge: false,
  select: true, convert_element_type: true, stop_gradient: false, broadcast_in_dim: true, reshape: true,
  transpose: true, slice: true, pad: true, concatenate: true, dynamic_slice: true, dynamic_update_slice: true,
  reduce_sum: true, reduce_max: true, reduce_min: true, argmax: false, cumsum: true, dot_general: true,
  gather: true, ragged_dot: true, ragged_contract: true, scatter_add: true, top_k: true, iota: false, remat: true, custom_vjp_call: true,
  sharding_constraint: true, all_reduce: false, all_gather: false, reduce_scatter: false, all_to_all: false,
  collective_permute: false, axis_index: false,
};

// ------------------------------------------------------------------------------------------

function caseFn(prim: Primitive, c: Case): (...xs: Array[]) => Array[] {
  return c.fn ?? ((...xs: Array[]) => bind(prim, xs, (c.params ?? {}) as never));
}

function usesPrim(g: Graph, prim: Primitive): boolean {
  return g.eqns.some((e) => e.prim === prim || ((e.params as { graph?: unknown }).graph instanceof Graph && usesPrim((e.params as { graph: Graph }).graph, prim)));
}

function absInputs(xs: Array[]): Array[] {
  return xs.map((x) => {
    if (x.dtype !== 'float32' && x.dtype !== 'float64') return x;
    const d = (x._data as Float32Array).map((v) => Math.abs(v));
    return Array.fromData(d, x.shape, x.dtype);
  });
}

function describeArgs(xs: Array[]): string {
  return xs.map((x) => `${x.dtype}[${x.shape.join(',')}]`).join(', ');
}

/** Runs `graph` on `args` in ONNX Runtime and in the reference; returns a failure message or null. */
function check(graph: Graph, args: Array[], label: string, tol: Tol, magnitude: boolean, normwise: boolean): string | null {
  const want = evalGraphReference(graph, args);
  const exe = OnnxExecutable.createSync(graph);
  let got: Array[];
  try {
    got = exe.runSync(args);
  } finally {
    exe.close();
  }
  const mag = magnitude ? evalGraphReference(graph, absInputs(args)) : null;
  for (let i = 0; i < want.length; i++) {
    let m: Array | null = mag ? mag[i] : null;
    if (normwise && (want[i].dtype === 'float32' || want[i].dtype === 'float64')) {
      const d = want[i]._data as Float32Array;
      let mx = 0;
      for (const v of d) if (Number.isFinite(v)) mx = Math.max(mx, Math.abs(v));
      m = Array.fromData(new Float64Array(d.length).fill(mx), want[i].shape, 'float64');
    }
    const bad = compareArrays(got[i], want[i], tol, m, label);
    if (bad) {
      const inputs = args.map((a) => a.toString()).join('\n    ');
      return `${label}: output ${i} (${want[i].dtype}[${want[i].shape.join(',')}]) differs at flat index ${bad.index}: onnx ${bad.got}, reference ${bad.want}\n  inputs:\n    ${inputs}\n  graph:\n${graph.toString()}`;
    }
  }
  return null;
}

const PRIMS = Object.keys(shapeRules) as Primitive[];

test('every primitive has an ONNX rule, conformance cases and a differentiability entry', () => {
  for (const p of PRIMS) {
    assert.ok(typeof onnxRules[p] === 'function', `no ONNX rule for ${p}`);
    assert.ok(typeof generators[p] === 'function', `no conformance cases for ${p}`);
    assert.ok(typeof differentiable[p] === 'boolean', `no differentiability entry for ${p}`);
  }
});

for (const prim of PRIMS) {
  test(`conformance: ${prim}`, () => {
    const r = new Rng(0x5eed + PRIMS.indexOf(prim) * 7919);
    const cases = generators[prim](r);
    assert.ok(cases.length > 0, `no cases for ${prim}`);
    for (const [ci, c] of cases.entries()) {
      const label = `${prim} case ${ci} (${describeArgs(c.args)}${c.params ? ` ${JSON.stringify(c.params)}` : ''})`;
      const graph = makeGraph(caseFn(prim, c))(...c.args);
      assert.ok(usesPrim(graph, prim), `${label}: the traced graph does not contain ${prim}:\n${graph}`);
      if (c.unsupported) {
        assert.throws(() => lowerGraph(graph), OnnxUnsupportedError, label);
        continue;
      }
      const msg = check(graph, c.args, label, c.tol ?? DEFAULT_TOL, c.magnitude ?? false, false);
      assert.equal(msg, null, msg ?? '');
    }
  });
}

for (const prim of PRIMS.filter((p) => differentiable[p])) {
  test(`conformance of the VJP graph: ${prim}`, () => {
    const r = new Rng(0xd1ff + PRIMS.indexOf(prim) * 104729);
    const cases = generators[prim](r).filter((c) => !c.noVjp && !c.unsupported);
    assert.ok(cases.length > 0, `no differentiable cases for ${prim}`);
    let checked = 0;
    for (const [ci, c] of cases.entries()) {
      const f = caseFn(prim, c);
      const outs = f(...c.args);
      if (!outs.some((o) => o.dtype === 'float32' || o.dtype === 'float64')) continue;
      const cts = outs.map((o) => (o.dtype === 'float32' || o.dtype === 'float64' ? randArray(r, o.dtype, o.shape) : lax.zerosLike(o)));
      const vjpFn = (args: Array[], ct: Array[]) => {
        const [out, pullback] = vjp((...xs: Array[]) => f(...xs), ...args);
        return [out, pullback(ct)];
      };
      const graph = makeGraph(vjpFn)(c.args, cts);
      const label = `vjp of ${prim} case ${ci} (${describeArgs(c.args)}${c.params ? ` ${JSON.stringify(c.params)}` : ''})`;
      const msg = check(graph, [...c.args, ...cts], label, c.tol ?? DEFAULT_TOL, false, true);
      assert.equal(msg, null, msg ?? '');
      checked++;
    }
    assert.ok(checked > 0, `no VJP graph was checked for ${prim}`);
  });
}

test('report of float errors (MYRIAD_ONNX_REPORT=1)', () => {
  if (process.env.MYRIAD_ONNX_REPORT !== '1') return;
  const rows = [...maxErrors.entries()].map(([k, v]) => [k.split(' (')[0].replace(/ case \d+$/, ''), v] as const);
  const worst = new Map<string, number>();
  for (const [k, v] of rows) worst.set(k, Math.max(worst.get(k) ?? 0, v));
  for (const [k, v] of [...worst.entries()].sort((a, b) => b[1] - a[1])) console.log(`${k.padEnd(40)} ${v.toExponential(2)}`);
});
