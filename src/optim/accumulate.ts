/**
 * Gradient accumulation over microbatches, two ways:
 *
 * - `multiSteps(opt, k)` (optax's `MultiSteps`): a pure transformation whose state holds the
 *   running gradient sum; k−1 of every k calls return zero updates and leave the inner optimizer
 *   untouched, the k-th applies the inner optimizer to the mean gradient. Everything is selected
 *   with `np.where` on a traced "is this the k-th step" flag, so one jitted train step serves all
 *   calls (no retracing, no reading values in JS).
 * - `accumulateGrads(lossFn, params, microbatches)`: inside one step, differentiates the loss
 *   on each microbatch and averages (or sums) losses and gradients; for a mean loss over equal
 *   microbatches this equals the gradient of the whole batch. `splitMicrobatches` cuts a batch
 *   pytree into equal parts along its leading axis.
 */

import { Array } from '../core/array.js';
import { ValueError } from '../core/errors.js';
import { valueAndGrad } from '../core/autodiff.js';
import { flatten, map as treeMap, treedefEqual, treedefToString, unflatten } from '../core/pytree.js';
import { np } from '../np/index.js';
import { asArrayLeaf, zerosLikeTree } from './tree_utils.js';
import { safeIncrement, zeroCount, type GradientTransformation, type OptState, type Updates } from './transform.js';

/** State of {@link multiSteps}. */
export interface MultiStepsState {
  /** Microbatches accumulated since the last real update, 0..k−1 (int32). */
  miniStep: Array;
  /** Real (inner) updates done so far (int32). */
  gradientStep: Array;
  /** The inner optimizer's state. */
  innerState: OptState;
  /** Sum of the gradients since the last real update (params' structure). */
  accGrads: Updates;
}

/** A {@link multiSteps} transformation, with a helper to read its state. */
export interface MultiSteps extends GradientTransformation<MultiStepsState> {
  /** Number of microbatches per real update. */
  readonly everyK: number;
  /** Whether the last `update` applied the inner optimizer (a bool scalar Array). */
  hasUpdated(state: MultiStepsState): Array;
}

/**
 * Wraps `opt` so that it updates once every `everyK` calls with the mean of the accumulated
 * gradients (optax `MultiSteps` with `use_grad_mean=True`); the other calls return zeros.
 */
export function multiSteps(opt: GradientTransformation, everyK: number): MultiSteps {
  if (!Number.isInteger(everyK) || everyK < 1) throw new ValueError(`multiSteps: everyK must be a positive integer (microbatches per update), got ${String(everyK)}`);
  const init = (params: any): MultiStepsState => ({
    miniStep: zeroCount(),
    gradientStep: zeroCount(),
    innerState: opt.init(params),
    accGrads: zerosLikeTree(params),
  });
  const update = (grads: Updates, state: MultiStepsState, params?: any): [Updates, MultiStepsState] => {
    const acc = treeMap((a: unknown, g: unknown) => np.add(asArrayLeaf(a, 'multiSteps accGrads'), asArrayLeaf(g, 'gradient')), state.accGrads, grads);
    const emit = np.equal(state.miniStep, everyK - 1);
    const mean = everyK === 1 ? acc : treeMap((a: Array) => np.divide(a, everyK), acc);
    // The inner optimizer always runs (a traced program has no branches); where() keeps its
    // results only on the k-th call.
    const [innerUpdates, innerNew] = opt.update(mean, state.innerState, params);
    const updates = treeMap((u: unknown) => {
      const x = asArrayLeaf(u, 'inner update');
      return np.where(emit, x, np.zeros_like(x));
    }, innerUpdates);
    const [oldLeaves, stateDef] = flatten(state.innerState);
    const [newLeaves, newDef] = flatten(innerNew);
    if (!treedefEqual(stateDef, newDef)) throw new ValueError(`multiSteps: the inner optimizer changed its state structure from ${treedefToString(stateDef)} to ${treedefToString(newDef)}`);
    const innerState = unflatten(stateDef, newLeaves.map((n, i) => np.where(emit, asArrayLeaf(n, 'inner state'), asArrayLeaf(oldLeaves[i], 'inner state'))));
    const accGrads = treeMap((a: Array) => np.where(emit, np.zeros_like(a), a), acc);
    return [updates, {
      miniStep: np.where(emit, np.zeros_like(state.miniStep), np.add(state.miniStep, 1)),
      gradientStep: np.where(emit, safeIncrement(state.gradientStep), state.gradientStep),
      innerState,
      accGrads,
    }];
  };
  return {
    everyK,
    init,
    update,
    hasUpdated: (state) => np.logical_and(np.equal(state.miniStep, 0), np.greater(state.gradientStep, 0)),
  };
}

/** Options of {@link accumulateGrads}. */
export interface AccumulateOptions {
  /** 'mean' (default) averages losses and gradients over microbatches; 'sum' adds them. */
  reduce?: 'mean' | 'sum';
  /** `lossFn` returns `[loss, aux]`; the result's aux is the list of per-microbatch aux values. */
  hasAux?: boolean;
}

/**
 * Loss and gradient (w.r.t. `params`) accumulated over `microbatches`: calls
 * `valueAndGrad(lossFn)(params, mb)` for each and averages (or sums). Returns
 * `[loss, grads]`, or `[[loss, auxList], grads]` with `hasAux`. Works eagerly and inside jit
 * (the microbatch loop is unrolled into the trace).
 */
export function accumulateGrads(
  lossFn: (params: any, batch: any) => unknown,
  params: any,
  microbatches: readonly unknown[],
  { reduce = 'mean', hasAux = false }: AccumulateOptions = {},
): [any, any] {
  if (!globalThis.Array.isArray(microbatches) || microbatches.length === 0) throw new ValueError('accumulateGrads needs a non-empty list of microbatches (see splitMicrobatches)');
  if (reduce !== 'mean' && reduce !== 'sum') throw new ValueError(`accumulateGrads: reduce must be 'mean' or 'sum', got ${JSON.stringify(reduce)}`);
  const vg = valueAndGrad(lossFn, { hasAux });
  let lossSum: Array | null = null;
  let gradSum: any = null;
  const auxes: unknown[] = [];
  for (const mb of microbatches) {
    const [value, g] = vg(params, mb);
    const loss = asArrayLeaf(hasAux ? (value as unknown[])[0] : value, 'accumulateGrads: the loss');
    if (hasAux) auxes.push((value as unknown[])[1]);
    lossSum = lossSum === null ? loss : np.add(lossSum, loss);
    gradSum = gradSum === null ? g : treeMap((a: Array, b: Array) => np.add(a, b), gradSum, g);
  }
  const n = microbatches.length;
  const loss = reduce === 'mean' ? np.divide(lossSum as Array, n) : (lossSum as Array);
  const grads = reduce === 'mean' ? treeMap((a: Array) => np.divide(a, n), gradSum) : gradSum;
  return [hasAux ? [loss, auxes] : loss, grads];
}

/**
 * Cuts every leaf of a batch pytree into `k` equal parts along axis 0 and returns the `k`
 * microbatch pytrees. The leading dim of every leaf must be divisible by `k`.
 */
export function splitMicrobatches<T>(batch: T, k: number): T[] {
  if (!Number.isInteger(k) || k < 1) throw new ValueError(`splitMicrobatches: k must be a positive integer, got ${String(k)}`);
  const [leaves, def] = flatten(batch);
  const parts = leaves.map((l, i) => {
    const x = asArrayLeaf(l, `splitMicrobatches: batch leaf ${i}`);
    if (x.ndim === 0) throw new ValueError(`splitMicrobatches: batch leaf ${i} is a scalar; every leaf needs a leading batch axis`);
    if (x.shape[0] % k !== 0) throw new ValueError(`splitMicrobatches: batch leaf ${i} has leading size ${x.shape[0]}, not divisible into ${k} microbatches`);
    return np.split(x, k, 0);
  });
  return globalThis.Array.from({ length: k }, (_, j) => unflatten<T>(def, parts.map((p) => p[j])));
}
