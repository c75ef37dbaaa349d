/**
 * Property tests of the SPMD partitioner: for EVERY primitive (the list is read from the
 * primitive table, so a primitive without a case fails), seeded random shapes × meshes (1, 2, 4
 * and 8 devices; 1-D and 2-D: {x:1}, {x:2}, {x:4}, {x:8}, {x:2,y:2}, {x:2,y:4}) × random input
 * shardings (uneven dims included) and random sharding constraints on operands and results
 * (pending sums included, so every resharding path runs): the partitioned program on the SPMD
 * reference interpreter, gathered, equals the unpartitioned reference result. Integers and bools
 * must match exactly; float32 results within |Δ| ≤ 1e-4·(1 + |ref|): partitioning reassociates
 * sums (per-device partial sums are rounded to float32 before the cross-device sum), everything
 * else computes the same elements with the same kernels.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, checkpoint, customVjp, evalGraphReference, lax, makeGraph, np } from '../../src/index.js';
import type { DType } from '../../src/core/dtype.js';
import { shapeRules, type Primitive } from '../../src/core/primitives.js';
import { withShardingConstraint } from '../../src/distributed/constraint.js';
import { makeMeshShape, makeSharding, propagate, replicated, shardingToString, type MeshShape, type Sharding } from '../../src/distributed/sharding/index.js';
import { PartitionError, countCollectives, evalSpmdReference, partition } from '../../src/distributed/spmd/index.js';
import type { PropagationResult } from '../../src/distributed/sharding/index.js';
import { ShardedArray, devicePut } from '../../src/runtime/sharded_array.js';
import { Rng, rand } from './fixtures/helpers.js';

const MESHES: MeshShape[] = [
  makeMeshShape({ x: 1 }), makeMeshShape({ x: 2 }), makeMeshShape({ x: 4 }), makeMeshShape({ x: 8 }),
  makeMeshShape({ x: 2, y: 2 }), makeMeshShape({ x: 2, y: 4 }),
];

type Fn = (...args: Array[]) => Array | Array[];
interface Case {
  fn: Fn;
  args: Array[];
}

const rshape = (r: Rng, minRank: number, maxRank: number, maxDim = 7): number[] => globalThis.Array.from({ length: r.int(minRank, maxRank + 1) }, () => r.int(1, maxDim + 1));
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[r.int(0, xs.length)];
const shuffle = <T>(r: Rng, xs: T[]): T[] => {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = r.int(0, i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
};
const ints = (r: Rng, shape: number[], lo: number, hi: number, dtype: DType = 'int32'): Array =>
  np.array(globalThis.Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.int(lo, hi)), { dtype }).reshape(shape);
const positive = (r: Rng, shape: number[]) => lax.add(lax.abs(rand(r, shape)), lax.full(0.1, 'float32', shape));
const scalarI = (v: number) => Array.scalar(v, 'int32');

function unaryCase(op: Parameters<typeof lax.unary>[0]): (r: Rng) => Case {
  return (r) => {
    const shape = rshape(r, 0, 3);
    let x: Array;
    if (op === 'not') x = r.next() < 0.5 ? ints(r, shape, -50, 50) : rand(r, shape, 'bool');
    else if (op === 'log' || op === 'sqrt' || op === 'rsqrt') x = positive(r, shape);
    else if (op === 'log1p') x = lax.abs(rand(r, shape));
    else x = rand(r, shape);
    return { fn: (a) => lax.unary(op, a), args: [x] };
  };
}

function binaryCase(op: Parameters<typeof lax.binary>[0]): (r: Rng) => Case {
  return (r) => {
    const shape = rshape(r, 0, 3);
    let a: Array, b: Array;
    switch (op) {
      case 'and': case 'or': case 'xor': {
        const dt: DType = r.next() < 0.5 ? 'bool' : 'int32';
        [a, b] = dt === 'bool' ? [rand(r, shape, 'bool'), rand(r, shape, 'bool')] : [ints(r, shape, -50, 50), ints(r, shape, -50, 50)];
        break;
      }
      case 'shift_left': case 'shift_right_logical': case 'shift_right_arithmetic': {
        const dt: DType = r.next() < 0.5 ? 'uint32' : 'int32';
        [a, b] = [ints(r, shape, dt === 'uint32' ? 0 : -1000, 1000, dt), ints(r, shape, 0, 40, dt)];
        break;
      }
      case 'pow':
        [a, b] = [positive(r, shape), rand(r, shape)];
        break;
      case 'div':
        [a, b] = [rand(r, shape), positive(r, shape)];
        break;
      case 'atan2':
        [a, b] = [rand(r, shape), rand(r, shape)];
        break;
      default:
        [a, b] = r.next() < 0.5 ? [rand(r, shape), rand(r, shape)] : [ints(r, shape, -20, 20), ints(r, shape, 1, 20)];
    }
    return { fn: (x, y) => lax.binary(op, x, y), args: [a, b] };
  };
}

function compareCase(op: Parameters<typeof lax.compare>[0]): (r: Rng) => Case {
  return (r) => {
    const shape = rshape(r, 0, 3);
    const [a, b] = r.next() < 0.5 ? [rand(r, shape), rand(r, shape)] : [ints(r, shape, -3, 3), ints(r, shape, -3, 3)];
    return { fn: (x, y) => lax.compare(op, x, y), args: [a, b] };
  };
}

/** Factors of n (with multiplicity), smallest first. */
function factors(n: number): number[] {
  const out: number[] = [];
  for (let p = 2; n > 1; p++) {
    while (n % p === 0) {
      out.push(p);
      n /= p;
    }
  }
  return out;
}

/** A random reshape target: regroup the in-shape's ordered factors (compatible), or shuffle them. */
function reshapeTarget(r: Rng, shape: number[]): number[] {
  let fs = shape.flatMap(factors);
  if (r.next() < 0.25) fs = shuffle(r, fs);
  const out: number[] = [];
  let cur = 1;
  for (const f of fs) {
    cur *= f;
    if (r.next() < 0.5) {
      out.push(cur);
      cur = 1;
    }
  }
  if (cur > 1 || out.length === 0) out.push(cur);
  if (r.next() < 0.3) out.splice(r.int(0, out.length + 1), 0, 1);
  return out;
}

const CASES: Record<Primitive, (r: Rng) => Case> = {
  neg: unaryCase('neg'), abs: unaryCase('abs'), sign: unaryCase('sign'), floor: unaryCase('floor'), ceil: unaryCase('ceil'),
  round: unaryCase('round'), is_finite: unaryCase('is_finite'), exp: unaryCase('exp'), log: unaryCase('log'), log1p: unaryCase('log1p'),
  expm1: unaryCase('expm1'), tanh: unaryCase('tanh'), logistic: unaryCase('logistic'), sin: unaryCase('sin'), cos: unaryCase('cos'),
  sqrt: unaryCase('sqrt'), rsqrt: unaryCase('rsqrt'), erf: unaryCase('erf'), not: unaryCase('not'),
  add: binaryCase('add'), sub: binaryCase('sub'), mul: binaryCase('mul'), div: binaryCase('div'), rem: binaryCase('rem'),
  pow: binaryCase('pow'), max: binaryCase('max'), min: binaryCase('min'), atan2: binaryCase('atan2'),
  and: binaryCase('and'), or: binaryCase('or'), xor: binaryCase('xor'), shift_left: binaryCase('shift_left'),
  shift_right_logical: binaryCase('shift_right_logical'), shift_right_arithmetic: binaryCase('shift_right_arithmetic'),
  eq: compareCase('eq'), ne: compareCase('ne'), lt: compareCase('lt'), le: compareCase('le'), gt: compareCase('gt'), ge: compareCase('ge'),
  select: (r) => {
    const shape = rshape(r, 0, 3);
    return { fn: (p, a, b) => lax.select(p, a, b), args: [rand(r, shape, 'bool'), rand(r, shape), rand(r, shape)] };
  },
  convert_element_type: (r) => {
    const shape = rshape(r, 0, 3);
    const [from, to] = pick(r, [['float32', 'int32'], ['int32', 'float32'], ['float32', 'bool'], ['int32', 'uint32'], ['bool', 'float32']] as [DType, DType][]);
    const x = from === 'float32' ? lax.mul(rand(r, shape), lax.full(20, 'float32', shape)) : from === 'bool' ? rand(r, shape, 'bool') : ints(r, shape, -50, 50);
    return { fn: (a) => lax.convert(a, to), args: [x] };
  },
  stop_gradient: (r) => ({ fn: (a) => lax.stopGradient(a), args: [rand(r, rshape(r, 0, 3))] }),
  broadcast_in_dim: (r) => {
    const op = rshape(r, 0, 2, 5).map((d) => (r.next() < 0.3 ? 1 : d));
    const outRank = op.length + r.int(0, 3);
    const bd = shuffle(r, globalThis.Array.from({ length: outRank }, (_, i) => i)).slice(0, op.length).sort((a, b) => a - b);
    const out = globalThis.Array.from({ length: outRank }, () => r.int(1, 6));
    bd.forEach((j, i) => (out[j] = op[i] === 1 && r.next() < 0.6 ? out[j] : op[i]));
    return { fn: (a) => lax.broadcastInDim(a, out, bd), args: [rand(r, op)] };
  },
  reshape: (r) => {
    const shape = rshape(r, 1, 3, 8);
    const out = reshapeTarget(r, shape);
    return { fn: (a) => lax.reshape(a, out), args: [r.next() < 0.5 ? rand(r, shape) : ints(r, shape, -9, 9)] };
  },
  transpose: (r) => {
    const shape = rshape(r, 1, 3);
    const perm = shuffle(r, shape.map((_, i) => i));
    return { fn: (a) => lax.transpose(a, perm), args: [rand(r, shape)] };
  },
  slice: (r) => {
    const shape = rshape(r, 1, 3);
    const start: number[] = [], limit: number[] = [], strides: number[] = [];
    for (const d of shape) {
      const whole = r.next() < 0.4;
      const s = whole ? 0 : r.int(0, d);
      start.push(s);
      limit.push(whole ? d : r.int(s, d + 1));
      strides.push(whole ? 1 : r.int(1, 3));
    }
    return { fn: (a) => lax.slice(a, start, limit, r.next() < 0.5 ? null : strides.map(() => 1)), args: [rand(r, shape)] };
  },
  pad: (r) => {
    const shape = rshape(r, 1, 3);
    const lo = shape.map(() => (r.next() < 0.4 ? 0 : r.int(-1, 3)));
    const hi = shape.map(() => (r.next() < 0.4 ? 0 : r.int(-1, 3)));
    const interior = shape.map(() => (r.next() < 0.7 ? 0 : 1));
    shape.forEach((d, i) => {
      if (lo[i] + hi[i] + d + (d - 1) * interior[i] < 0) lo[i] = hi[i] = 0;
    });
    const pv = r.next() < 0.5 ? 0 : 1.5;
    return { fn: (a) => lax.pad(a, pv, lo, hi, interior), args: [rand(r, shape)] };
  },
  concatenate: (r) => {
    const shape = rshape(r, 1, 3);
    const dim = r.int(0, shape.length);
    const parts = globalThis.Array.from({ length: r.int(2, 4) }, () => rand(r, shape.map((d, i) => (i === dim ? r.int(1, 5) : d))));
    return { fn: (...xs) => lax.concatenate(xs, dim), args: parts };
  },
  dynamic_slice: (r) => {
    const shape = rshape(r, 1, 3);
    const sizes = shape.map((d) => (r.next() < 0.4 ? d : r.int(0, d + 1)));
    const st = shape.map((d) => scalarI(r.int(-2, d + 2)));
    return { fn: (a, ...s) => lax.dynamicSlice(a, s, sizes), args: [rand(r, shape), ...st] };
  },
  dynamic_update_slice: (r) => {
    const shape = rshape(r, 1, 3);
    const ushape = shape.map((d) => (r.next() < 0.4 ? d : r.int(1, d + 1)));
    const st = shape.map((d) => scalarI(r.int(-2, d + 2)));
    return { fn: (a, u, ...s) => lax.dynamicUpdateSlice(a, u, s), args: [rand(r, shape), rand(r, ushape), ...st] };
  },
  reduce_sum: reduceCase('sum'),
  reduce_max: reduceCase('max'),
  reduce_min: reduceCase('min'),
  argmax: (r) => {
    const shape = rshape(r, 1, 3);
    const axis = r.int(0, shape.length);
    const x = r.next() < 0.5 ? ints(r, shape, -2, 3) : rand(r, shape);
    return { fn: (a) => lax.argmax(a, axis), args: [x] };
  },
  cumsum: (r) => {
    const shape = rshape(r, 1, 3);
    const axis = r.int(0, shape.length);
    const reverse = r.next() < 0.5;
    return { fn: (a) => lax.cumsum(a, axis, reverse), args: [r.next() < 0.5 ? rand(r, shape) : ints(r, shape, -9, 9)] };
  },
  dot_general: (r) => {
    const nb = r.int(0, 2), nc = r.int(0, 3), nl = r.int(0, 3), nr = r.int(0, 2);
    const b = globalThis.Array.from({ length: nb }, () => r.int(1, 6));
    const c = globalThis.Array.from({ length: nc }, () => r.int(1, 7));
    const lf = globalThis.Array.from({ length: nl }, () => r.int(1, 6));
    const rf = globalThis.Array.from({ length: nr }, () => r.int(1, 6));
    // lhs dims: batch, free, contracting — in a random order; same for rhs
    const lKinds = shuffle(r, [...b.map((d, i) => ['b', i, d]), ...lf.map((d, i) => ['f', i, d]), ...c.map((d, i) => ['c', i, d])] as [string, number, number][]);
    const rKinds = shuffle(r, [...b.map((d, i) => ['b', i, d]), ...rf.map((d, i) => ['f', i, d]), ...c.map((d, i) => ['c', i, d])] as [string, number, number][]);
    const pos = (ks: [string, number, number][], kind: string, i: number) => ks.findIndex(([k, j]) => k === kind && j === i);
    const dims = {
      lhsContracting: c.map((_, i) => pos(lKinds, 'c', i)), rhsContracting: c.map((_, i) => pos(rKinds, 'c', i)),
      lhsBatch: b.map((_, i) => pos(lKinds, 'b', i)), rhsBatch: b.map((_, i) => pos(rKinds, 'b', i)),
    };
    const int = r.next() < 0.3;
    const mk = (s: number[]) => (int ? ints(r, s, -5, 5) : rand(r, s));
    return { fn: (x, y) => lax.dotGeneral(x, y, dims), args: [mk(lKinds.map((k) => k[2])), mk(rKinds.map((k) => k[2]))] };
  },
  gather: (r) => {
    const { x, idx, axis, bd } = gatherShapes(r);
    return { fn: (a, i) => lax.gather(a, i, axis, bd), args: [x, idx] };
  },
  ragged_dot: (r) => {
    const M = r.int(1, 9), K = r.int(1, 6), N = r.int(1, 6), G = r.int(1, 4);
    const gs = Array.fromData(Int32Array.from({ length: G }, () => r.int(0, M)), [G], 'int32');
    const transposeRhs = r.next() < 0.5;
    const rhs = rand(r, transposeRhs ? [G, N, K] : [G, K, N]);
    if (r.next() < 0.5) {
      const B = r.int(1, 6);
      const bgs = Array.fromData(Int32Array.from({ length: B * G }, () => r.int(0, M)), [B, G], 'int32');
      return { fn: (a, b, g) => lax.raggedDot(a, b, g, { transposeRhs }), args: [rand(r, [B, M, K]), rhs, bgs] };
    }
    return { fn: (a, b, g) => lax.raggedDot(a, b, g, { transposeRhs }), args: [rand(r, [M, K]), rhs, gs] };
  },
  ragged_contract: (r) => {
    const M = r.int(1, 9), K = r.int(1, 6), N = r.int(1, 6), G = r.int(1, 4);
    if (r.next() < 0.5) {
      // batched: the batch dim may be split (a pending sum over it)
      const B = r.int(1, 6);
      const gs = Array.fromData(Int32Array.from({ length: B * G }, () => r.int(0, M)), [B, G], 'int32');
      return { fn: (a, b, g) => lax.raggedContract(a, b, g), args: [rand(r, [B, M, K]), rand(r, [B, M, N]), gs] };
    }
    const gs = Array.fromData(Int32Array.from({ length: G }, () => r.int(0, M)), [G], 'int32');
    return { fn: (a, b, g) => lax.raggedContract(a, b, g), args: [rand(r, [M, K]), rand(r, [M, N]), gs] };
  },
  scatter_add: (r) => {
    const { x, idx, axis, bd } = gatherShapes(r);
    const outShape = [...x.shape.slice(0, axis), ...idx.shape.slice(bd), ...x.shape.slice(axis + 1)];
    const upd = x.dtype === 'int32' ? ints(r, outShape, -9, 9) : rand(r, outShape);
    return { fn: (a, i, u) => lax.scatterAdd(a, i, u, axis, bd), args: [x, idx, upd] };
  },
  top_k: (r) => {
    const shape = rshape(r, 1, 3);
    const k = r.int(1, shape[shape.length - 1] + 1);
    const x = r.next() < 0.5 ? ints(r, shape, -2, 3) : rand(r, shape);
    return { fn: (a) => lax.topK(a, k), args: [x] };
  },
  iota: (r) => {
    const shape = rshape(r, 1, 3);
    const dim = r.int(0, shape.length);
    const dtype = pick(r, ['int32', 'float32', 'uint32'] as DType[]);
    return { fn: () => lax.iota(dtype, shape, dim), args: [] };
  },
  remat: (r) => {
    const shape = rshape(r, 1, 3);
    const block = (x: Array, w: Array) => lax.reduceSum(lax.mul(lax.sin(x), w), [shape.length - 1]);
    return { fn: (x, w) => checkpoint(block)(x, w), args: [rand(r, shape), rand(r, shape)] };
  },
  custom_vjp_call: (r) => {
    const shape = rshape(r, 1, 3);
    const f = customVjp(
      (x: Array) => lax.cumsum(lax.tanh(x), 0),
      (x: Array) => [lax.cumsum(lax.tanh(x), 0), x],
      (x: Array, ct: Array) => [lax.mul(ct, x)],
    );
    return { fn: (x) => f(x), args: [rand(r, shape)] };
  },
  sharding_constraint: (r) => {
    const shape = rshape(r, 0, 3);
    return { fn: (x) => lax.mul(x, x), args: [rand(r, shape)] }; // the harness adds the constraints
  },
  all_reduce: collectiveCase, all_gather: collectiveCase, reduce_scatter: collectiveCase, all_to_all: collectiveCase,
  collective_permute: collectiveCase, axis_index: collectiveCase,
};

function reduceCase(op: 'sum' | 'max' | 'min'): (r: Rng) => Case {
  return (r) => {
    const shape = rshape(r, 1, 3);
    const axes = shuffle(r, shape.map((_, i) => i)).slice(0, r.int(1, shape.length + 1));
    const x = r.next() < 0.5 ? rand(r, shape) : ints(r, shape, -20, 20);
    const f = op === 'sum' ? lax.reduceSum : op === 'max' ? lax.reduceMax : lax.reduceMin;
    return { fn: (a) => f(a, axes), args: [x] };
  };
}

function gatherShapes(r: Rng): { x: Array; idx: Array; axis: number; bd: number } {
  const shape = rshape(r, 1, 3, 6);
  const axis = r.int(0, shape.length);
  const bd = r.int(0, axis + 1);
  const ishape = [...shape.slice(0, bd), ...rshape(r, 0, 2, 5)];
  const idx = ints(r, ishape, -1, shape[axis] + 1);
  const x = r.next() < 0.3 ? ints(r, shape, -9, 9) : rand(r, shape);
  return { x, idx, axis, bd };
}

/** Placeholder: collectives are checked separately (they must be refused). */
function collectiveCase(): Case {
  throw new Error('collectives have no global-program case');
}

/** A random sharding of `shape` on `mesh`: each axis splits a random dim, stays replicated, or (if allowed) is a pending sum. */
function randomSharding(r: Rng, mesh: MeshShape, shape: readonly number[], allowPartial: boolean): Sharding {
  const dims: string[][] = shape.map(() => []);
  const partial: string[] = [];
  for (const a of shuffle(r, [...mesh.axisNames])) {
    const u = r.next();
    if (u < 0.6 && shape.length) dims[r.int(0, shape.length)].push(a);
    else if (allowPartial && u < 0.75) partial.push(a);
  }
  return makeSharding(mesh, dims, partial, shape.length);
}

const canSum = (d: DType) => d !== 'bool';

function close(got: Array, want: Array, what: string): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  assert.equal(got.dtype, want.dtype, `${what}: dtype`);
  const g = got.dataSync(), w = want.dataSync();
  const float = want.dtype === 'float32' || want.dtype === 'float64';
  for (let i = 0; i < w.length; i++) {
    const a = g[i], b = w[i];
    if (a === b || (Number.isNaN(a) && Number.isNaN(b))) continue;
    if (float && Math.abs(a - b) <= 1e-4 * (1 + Math.abs(b))) continue;
    assert.fail(`${what}: element ${i} is ${a}, expected ${b}`);
  }
}

/** One trial: random shardings and constraints around a primitive's case; partitioned == reference. */
function trial(prim: Primitive, seed: number, mesh: MeshShape): void {
  const r = new Rng(seed);
  const c = CASES[prim](r);
  const constrainIn = c.args.map((a) => (r.next() < 0.35 ? randomSharding(r, mesh, a.shape, canSum(a.dtype)) : null));
  const outFlags: number[] = [];
  const constrained: boolean[] = [];
  const fn = (...xs: Array[]) => {
    const ins = xs.map((x, i) => (constrainIn[i] ? withShardingConstraint(x, constrainIn[i]!) : x));
    const out = c.fn(...ins);
    const list = globalThis.Array.isArray(out) ? out : [out];
    return list.map((o, j) => {
      outFlags[j] ??= r.next();
      constrained[j] = outFlags[j] < 0.4 || prim === 'sharding_constraint' || prim === 'iota';
      return constrained[j] ? withShardingConstraint(o, randomSharding(r, mesh, o.shape, canSum(o.dtype) && outFlags[j] < 0.2)) : o;
    });
  };
  const g = makeGraph(fn)(...c.args);
  const want = evalGraphReference(g, c.args);
  const inS = c.args.map((a) => (r.next() < 0.8 ? randomSharding(r, mesh, a.shape, false) : null));
  // outputs already pinned (an input, or a constraint's result) keep their sharding
  const pinned = new Set<unknown>([...g.inputs, ...g.eqns.filter((e) => e.prim === 'sharding_constraint').map((e) => e.outputs[0])]);
  const outS = g.outAvals.map((a, j) => (!constrained[j] && !pinned.has(g.outputs[j]) && r.next() < 0.3 ? randomSharding(r, mesh, a.shape, false) : null));
  const where = () => `${prim} seed ${seed} mesh ${JSON.stringify(mesh.axisNames)}=${JSON.stringify(mesh.shape)} inputs ${inS.map((s) => (s ? shardingToString(s) : '-')).join(' ')}\n${g.toString()}`;
  let prop: PropagationResult;
  try {
    prop = propagate(g, { inputs: inS, outputs: outS, mesh });
  } catch (e) {
    throw new Error(`propagate failed: ${(e as Error).message}\n${where()}`);
  }
  const pr = partition(g, prop);
  for (const [k, v] of Object.entries(countCollectives(pr.graph))) seen.set(k, (seen.get(k) ?? 0) + v);
  const n = mesh.shape.reduce((a, b) => a * b, 1);
  const shards = c.args.map((a, i) => devicePut(a, pr.inShardings[i]).shards);
  const outs = evalSpmdReference(pr.graph, mesh, globalThis.Array.from({ length: n }, (_, d) => shards.map((s) => s[d])));
  want.forEach((w, j) => {
    const got = new ShardedArray(w.shape, pr.outShardings[j], outs.map((o) => o[j])).gather();
    try {
      close(got, w, `output ${j}`);
    } catch (e) {
      (e as Error).message += `\n${where()}\n--- per-device program ---\n${pr.graph.toString()}`;
      throw e;
    }
  });
}

/** Collectives seen in the partitioned programs of all trials (every kind must show up). */
const seen = new Map<string, number>();

const PRIMS = Object.keys(shapeRules) as Primitive[];
const COLLECTIVES = new Set(['all_reduce', 'all_gather', 'reduce_scatter', 'all_to_all', 'collective_permute', 'axis_index']);
const TRIALS = Number(process.env.PARTITION_TRIALS ?? 8);

describe('partitioned == unpartitioned, every primitive', () => {
  test('every primitive has a case', () => {
    for (const p of PRIMS) assert.ok(typeof CASES[p] === 'function', `no property case for primitive ${p}`);
  });
  for (const prim of PRIMS) {
    if (COLLECTIVES.has(prim)) continue;
    test(prim, () => {
      for (let t = 0; t < TRIALS; t++) {
        const seed = 1000 * (PRIMS.indexOf(prim) + 1) + t;
        trial(prim, seed, MESHES[t % MESHES.length]);
      }
    });
  }
  test('the trials exercised every collective the partitioner emits', (t) => {
    for (const k of ['all_reduce', 'all_gather', 'reduce_scatter', 'all_to_all', 'collective_permute', 'axis_index']) assert.ok((seen.get(k) ?? 0) > 0, `no trial produced ${k}: ${JSON.stringify([...seen])}`);
    t.diagnostic(`collectives in the partitioned trial programs: ${JSON.stringify(Object.fromEntries(seen))}`);
  });
  test('collectives in a global program are refused', () => {
    const mesh = MESHES[1];
    for (const prim of PRIMS.filter((p) => COLLECTIVES.has(p))) {
      const grp = { axes: ['x'], axisSizes: [2] };
      const g = prim === 'axis_index'
        ? makeGraph(() => lax.axisIndex(grp))()
        : makeGraph((x: Array) => {
          const p: Record<string, object> = {
            all_reduce: { ...grp, op: 'sum' }, all_gather: { ...grp, dimension: 0 }, reduce_scatter: { ...grp, dimension: 0 },
            all_to_all: { ...grp, splitDimension: 0, concatDimension: 0 }, collective_permute: { ...grp, pairs: [[0, 1], [1, 0]] },
          };
          return (lax as any)[prim.replace(/_([a-z])/g, (_: string, ch: string) => ch.toUpperCase())](x, p[prim]);
        })(np.zeros([4], 'float32'));
      assert.throws(() => propagate(g, { mesh }), /collective/);
      // a hand-made all-replicated propagation reaches the partitioner's rule
      const shardings = new Map();
      for (const v of [...g.inputs, ...g.eqns.flatMap((e) => e.outputs)]) shardings.set(v, replicated(mesh, v.aval.shape.length));
      const fake = { shardings, decided: new Map(), graph: g, mesh, sweeps: 0 } as PropagationResult;
      assert.throws(() => partition(g, fake), (e: unknown) => e instanceof PartitionError && /not allowed in the global program/.test((e as Error).message), prim);
    }
  });
});
