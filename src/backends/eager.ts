/**
 * The eager dispatch policy: which untraced primitive applications run in the reference
 * interpreter and which in ONNX Runtime. A call into ONNX Runtime costs ≈ 8 µs through the
 * synchronous binding, plus ≈ 1.5 ms once per distinct (primitive, params, shapes) to lower and
 * create a session, which is cached. Ops big enough to repay that at once go to ONNX Runtime on
 * their first call; smaller ones (from ≈ 4k elements, where ONNX Runtime is faster per call) once
 * their signature repeats, as it does in eager training loops. The reference interpreter is exact and has no start-up
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
  /**
   * Work (elements of the largest operand/output, or multiply-adds for dot_general and the ragged matmuls) from which an
   * op goes to ONNX Runtime on its first call: the ≈ 1.5 ms compile pays for itself at once.
   */
  firstCallWork: 1 << 18,
  /**
   * Work from which an op goes to ONNX Runtime once the same signature has been seen
   * `repeatCalls` times (steady state: ONNX Runtime is faster from ≈ 4k elements).
   */
  repeatWork: 1 << 12,
  repeatCalls: 2,
  /** Compiled single-op executables kept (least recently used are closed first). */
  cacheSize: 256,
};

const NEVER: ReadonlySet<Primitive> = new Set<Primitive>([
  'remat', 'custom_vjp_call', 'iota', 'stop_gradient', 'reshape', 'sharding_constraint',
  // Collectives have no eager meaning; the reference rule gives the clear error.
  'all_reduce', 'all_gather', 'reduce_scatter', 'all_to_all', 'collective_permute', 'axis_index',
]);

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

const seen = new Map<string, number>();

/** The cache key of the op if it should run in ONNX Runtime, else null. */
function onnxKey(prim: Primitive, inputs: Array[], params: unknown, outAvals: AbstractValue[]): string | null {
  if (!eagerPolicy.enabled || NEVER.has(prim)) return null;
  if (inputs.some((x) => x.dtype === 'float64') || outAvals.some((a) => a.dtype === 'float64')) return null;
  let work = 0;
  if (prim === 'dot_general') work = dotMacs(inputs, params as PrimitiveParams['dot_general'], outAvals[0]);
  else if (prim === 'ragged_dot' || prim === 'ragged_contract') work = inputs[0].size * sizeOf(outAvals[0].shape.slice(-1)); // M·K·N at most
  else {
    for (const x of inputs) work = Math.max(work, x.size);
    for (const a of outAvals) work = Math.max(work, sizeOf(a.shape));
  }
  if (work < eagerPolicy.repeatWork) return null;
  const key = keyOf(prim, inputs, params);
  if (work >= eagerPolicy.firstCallWork || cache.has(key)) return key;
  const n = (seen.get(key) ?? 0) + 1;
  if (n >= eagerPolicy.repeatCalls) {
    seen.delete(key);
    return key;
  }
  if (seen.size > 4096) seen.clear();
  seen.set(key, n);
  return null;
}

function keyOf(prim: Primitive, inputs: Array[], params: unknown): string {
  return `${prim}|${JSON.stringify(params)}|${inputs.map((x) => `${x.dtype}[${x.shape.join(',')}]`).join(';')}`;
}

function executable(key: string, prim: Primitive, inputs: Array[], params: unknown, outAvals: AbstractValue[]): OnnxExecutable {
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
  const key = onnxKey(prim, inputs, params, outAvals);
  if (key === null) {
    stats.reference++;
    return referenceEval(prim, inputs, params, outAvals);
  }
  stats.onnx++;
  return executable(key, prim, inputs, params, outAvals).runSync(inputs).map((a) => a.concrete());
};
