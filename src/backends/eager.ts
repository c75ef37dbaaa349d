/**
 * The eager dispatch policy: which untraced primitive applications run in the reference
 * interpreter and which in ONNX Runtime. A call into ONNX Runtime costs ≈ 8 µs through the
 * synchronous binding, plus ≈ 0.5 ms once per distinct (primitive, params, shapes) to lower and
 * create a session, which is cached. The reference interpreter is exact and has no start-up
 * cost but is slow on large work (a 256³ matmul takes ≈ 30 ms there, ≈ 0.3 ms in ONNX Runtime).
 * Thresholds come from `npm run bench:eager` (see README "Eager dispatch"); float64 always stays
 * on the reference interpreter (it exists for gradient checks), and so do sub-graph calls.
 * `MYRIAD_EAGER=reference` turns dispatch to ONNX Runtime off.
 */

import type { Array } from '../core/array.js';
import { type TypedArray } from '../core/dtype.js';
import { Graph, Var, type AbstractValue } from '../core/ir.js';
import type { Primitive, PrimitiveParams } from '../core/primitives.js';
import { sizeOf } from '../core/shape.js';
import type { EagerEvaluator } from '../core/trace.js';
import { OnnxExecutable } from './onnx/index.js';
import { referenceEval } from './reference/index.js';

/** Tunable thresholds of the eager policy. */
export const eagerPolicy = {
  /** Send eager ops to ONNX Runtime at all. */
  enabled: process.env.MYRIAD_EAGER !== 'reference',
  /** dot_general with at least this many multiply-adds goes to ONNX Runtime. */
  minDotMacs: 1 << 15,
  /** Other ops whose largest operand/output has at least this many elements go to ONNX Runtime. */
  minElements: 1 << 16,
  /** Compiled single-op executables kept (least recently used are closed first). */
  cacheSize: 256,
};

const NEVER: ReadonlySet<Primitive> = new Set<Primitive>(['remat', 'custom_vjp_call', 'iota', 'stop_gradient', 'reshape']);

const cache = new Map<string, OnnxExecutable>();
let stats = { reference: 0, onnx: 0, compiled: 0 };

/** Counts of eager ops per path since start (or the last reset). */
export function eagerStats(reset = false): { reference: number; onnx: number; compiled: number } {
  const s = { ...stats };
  if (reset) stats = { reference: 0, onnx: 0, compiled: 0 };
  return s;
}

function dotMacs(inputs: Array[], params: PrimitiveParams['dot_general'], out: AbstractValue): number {
  let k = 1;
  for (const d of params.lhsContracting) k *= inputs[0].shape[d];
  return sizeOf(out.shape) * k;
}

function worthOnnx(prim: Primitive, inputs: Array[], params: unknown, outAvals: AbstractValue[]): boolean {
  if (!eagerPolicy.enabled || NEVER.has(prim)) return false;
  if (inputs.some((x) => x.dtype === 'float64') || outAvals.some((a) => a.dtype === 'float64')) return false;
  if (prim === 'dot_general') return dotMacs(inputs, params as PrimitiveParams['dot_general'], outAvals[0]) >= eagerPolicy.minDotMacs;
  let n = 0;
  for (const x of inputs) n = Math.max(n, x.size);
  for (const a of outAvals) n = Math.max(n, sizeOf(a.shape));
  return n >= eagerPolicy.minElements;
}

function keyOf(prim: Primitive, inputs: Array[], params: unknown): string {
  return `${prim}|${JSON.stringify(params)}|${inputs.map((x) => `${x.dtype}[${x.shape.join(',')}]`).join(';')}`;
}

function executable(prim: Primitive, inputs: Array[], params: unknown, outAvals: AbstractValue[]): OnnxExecutable {
  const key = keyOf(prim, inputs, params);
  let exe = cache.get(key);
  if (exe) {
    cache.delete(key);
    cache.set(key, exe);
    return exe;
  }
  const ins = inputs.map((x) => new Var(x.aval));
  const outs = outAvals.map((a) => new Var(a));
  const graph = new Graph(ins, [], [], [{ prim, params: params as never, inputs: ins, outputs: outs }], outs);
  exe = OnnxExecutable.createSync(graph, { intraOpNumThreads: 1 });
  stats.compiled++;
  cache.set(key, exe);
  while (cache.size > eagerPolicy.cacheSize) {
    const [oldKey, old] = cache.entries().next().value as [string, OnnxExecutable];
    cache.delete(oldKey);
    old.close();
  }
  return exe;
}

/** The eager evaluator Myriad installs: reference interpreter or ONNX Runtime per the policy. */
export const eagerDispatch: EagerEvaluator = <P extends Primitive>(prim: P, inputs: Array[], params: PrimitiveParams[P], outAvals: AbstractValue[]): TypedArray[] => {
  if (!worthOnnx(prim, inputs, params, outAvals)) {
    stats.reference++;
    return referenceEval(prim, inputs, params, outAvals);
  }
  stats.onnx++;
  return executable(prim, inputs, params, outAvals).runSync(inputs).map((a) => a.concrete());
};
