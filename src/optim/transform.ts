/**
 * Optax-shaped gradient transformations: the `GradientTransformation` interface (`init(params)
 * → state`, `update(updates, state, params?) → [updates, state]`), `applyUpdates`, `chain`, and
 * the small building blocks the optimizers are made of (scaling by a number or a schedule,
 * momentum `trace`, exponential moving averages, decoupled weight decay, masking, global-norm
 * and element-wise clipping).
 *
 * Every transformation is pure: its state is a pytree of Arrays (step counters are int32
 * scalars), and `update` uses only np ops on Arrays — it never reads values on the JS side — so
 * an optimizer step traces into a `jit`ted train step on any backend and its state can be
 * checkpointed. Hyperparameters that decide the program's shape (masks, which leaves are
 * factored) are JS values fixed at construction; everything that changes per step is an Array.
 */

import { Array } from '../core/array.js';
import { isFloat } from '../core/dtype.js';
import { ValueError } from '../core/errors.js';
import { flatten, map as treeMap, unflatten, type TreeDef } from '../core/pytree.js';
import { np } from '../np/index.js';
import { asArrayLeaf, globalNorm, resolveMask, zerosLikeTree, type MaskSpec } from './tree_utils.js';

/** A pytree of Arrays with the structure of the params (gradients, updates, moments). */
export type Updates = any;
/** A pytree of Arrays: a transformation's state. */
export type OptState = any;
/** A function of the step (a JS number, or an int32/float32 scalar Array when traced) → float32 scalar. */
export type Schedule = (step: Array | number) => Array;
/** A constant or a schedule. */
export type ScalarOrSchedule = number | Schedule;

/**
 * A pure gradient transformation (optax's `GradientTransformation`).
 * @typeParam S the state's type (a pytree of Arrays).
 */
export interface GradientTransformation<S = OptState> {
  /** The initial state for these params (zeros, counters at 0). */
  init(params: any): S;
  /** Transforms `updates` (gradients, at the head of a chain) and returns the new state. */
  update(updates: Updates, state: S, params?: any): [Updates, S];
}

const INT32_MAX = 2147483647;

/** A fresh int32 step counter at 0. */
export function zeroCount(): Array {
  return np.zeros([], 'int32');
}

/** `count + 1` in int32, saturating at 2^31−1 instead of wrapping (as optax's safe_int32_increment). */
export function safeIncrement(count: Array): Array {
  return np.where(np.less(count, INT32_MAX), np.add(count, 1), count);
}

/** The float32 value of a step given as a number or an Array. */
export function stepAsFloat(step: Array | number): Array {
  if (step instanceof Array) return step.dtype === 'float32' ? step : step.astype('float32');
  if (typeof step !== 'number' || !Number.isFinite(step)) throw new ValueError(`a schedule step must be a finite number or a scalar Array, got ${String(step)}`);
  return np.array(step, { dtype: 'float32' });
}

/** A schedule from a number or schedule. */
export function asSchedule(v: ScalarOrSchedule, what: string): Schedule {
  if (typeof v === 'function') return v;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValueError(`${what} must be a finite number or a schedule function (step) => Array, got ${String(v)}`);
  return () => np.array(v, { dtype: 'float32' });
}

/** Multiplies an update leaf by a scalar Array, keeping the leaf's dtype. */
function scaleLeaf(u: Array, s: Array): Array {
  const f = isFloat(u.dtype) && s.dtype !== u.dtype ? s.astype(u.dtype) : s;
  return np.multiply(u, f);
}

/** Validates a numeric hyperparameter (finite, optionally bounded), naming it in the error. */
export function checkNumber(v: unknown, what: string, { min, max, minOpen }: { min?: number; max?: number; minOpen?: boolean } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValueError(`${what} must be a finite number, got ${String(v)}`);
  if (min !== undefined && (minOpen ? v <= min : v < min)) throw new ValueError(`${what} must be ${minOpen ? '>' : '≥'} ${min}, got ${v}`);
  if (max !== undefined && v > max) throw new ValueError(`${what} must be ≤ ${max}, got ${v}`);
  return v;
}

function needParams(params: unknown, who: string): void {
  if (params === undefined) throw new ValueError(`${who} needs the current params: call opt.update(grads, state, params)`);
}

/** Maps `f` over the Array leaves of `updates` (and the same leaves of `others`). */
function mapLeaves(f: (u: Array, ...rest: Array[]) => Array, updates: Updates, ...others: unknown[]): Updates {
  return treeMap((u: unknown, ...rest: unknown[]) => f(asArrayLeaf(u, 'update leaf'), ...rest.map((r) => asArrayLeaf(r, 'leaf'))), updates, ...others);
}

/**
 * `params + updates`, leaf by leaf, cast back to each parameter's dtype (optax's
 * `apply_updates`). Both trees must have the same structure.
 */
export function applyUpdates<T>(params: T, updates: Updates): T {
  return treeMap((p: unknown, u: unknown) => {
    const pa = asArrayLeaf(p, 'applyUpdates: param leaf');
    const ua = asArrayLeaf(u, 'applyUpdates: update leaf');
    const s = np.add(pa, ua);
    return s.dtype === pa.dtype ? s : s.astype(pa.dtype);
  }, params, updates) as T;
}

/** The transformation that returns updates unchanged (stateless). */
export function identity(): GradientTransformation<Record<string, never>> {
  return { init: () => ({}), update: (u, s) => [u, s] };
}

/** Multiplies updates by a constant. */
export function scale(factor: number): GradientTransformation<Record<string, never>> {
  checkNumber(factor, 'scale factor');
  return { init: () => ({}), update: (u, s) => [mapLeaves((x) => np.multiply(x, factor), u), s] };
}

/** State of {@link scaleBySchedule}. */
export interface ScheduleState {
  /** Number of updates done (int32). */
  count: Array;
}

/** Multiplies updates by `schedule(count)`, where `count` is the number of updates done so far. */
export function scaleBySchedule(schedule: Schedule): GradientTransformation<ScheduleState> {
  if (typeof schedule !== 'function') throw new ValueError('scaleBySchedule needs a schedule function (step) => Array');
  return {
    init: () => ({ count: zeroCount() }),
    update: (u, state) => {
      const s = np.asarray(schedule(state.count));
      return [mapLeaves((x) => scaleLeaf(x, s), u), { count: safeIncrement(state.count) }];
    },
  };
}

/**
 * Scales updates by the learning rate (a number or schedule), by default with a flipped sign so
 * that `applyUpdates` descends: `u ← −lr·u`.
 */
export function scaleByLearningRate(lr: ScalarOrSchedule, { flipSign = true } = {}): GradientTransformation {
  const m = flipSign ? -1 : 1;
  if (typeof lr === 'number') return scale(m * checkNumber(lr, 'learning rate'));
  const sched = asSchedule(lr, 'learning rate');
  return scaleBySchedule((step) => np.multiply(sched(step), m));
}

/** State of {@link trace}. */
export interface TraceState {
  /** The momentum buffer (params' structure). */
  trace: Updates;
}

/**
 * Momentum (optax's `trace`): `t ← g + decay·t`; the output is `t`, or with Nesterov
 * `g + decay·t` (the look-ahead form).
 */
export function trace({ decay, nesterov = false }: { decay: number; nesterov?: boolean }): GradientTransformation<TraceState> {
  checkNumber(decay, 'momentum decay', { min: 0 });
  return {
    init: (params) => ({ trace: zerosLikeTree(params) }),
    update: (u, state) => {
      const newTrace = mapLeaves((g, t) => np.add(g, np.multiply(t, decay)), u, state.trace);
      const out = nesterov ? mapLeaves((g, t) => np.add(g, np.multiply(t, decay)), u, newTrace) : newTrace;
      return [out, { trace: newTrace }];
    },
  };
}

/** State of {@link ema}. */
export interface EmaState {
  /** Number of updates done (int32). */
  count: Array;
  /** The moving average (params' structure). */
  ema: Updates;
}

/**
 * Exponential moving average of the updates: `m ← decay·m + (1−decay)·u`; with `debias` the
 * output is divided by `1 − decay^t` (Adam's bias correction), otherwise it is `m`.
 */
export function ema(decay: number, { debias = false } = {}): GradientTransformation<EmaState> {
  checkNumber(decay, 'ema decay', { min: 0, max: 1 });
  return {
    init: (params) => ({ count: zeroCount(), ema: zerosLikeTree(params) }),
    update: (u, state) => {
      const m = mapLeaves((x, e) => np.add(np.multiply(e, decay), np.multiply(x, 1 - decay)), u, state.ema);
      const count = safeIncrement(state.count);
      const out = debias ? biasCorrection(m, decay, count) : m;
      return [out, { count, ema: m }];
    },
  };
}

/**
 * `moment / (1 − decay^count)` leaf-wise (count an int32 Array ≥ 1). The factor is computed as
 * `−expm1(count·ln(decay))` with `ln(decay)` in double precision: `1 − 0.999^t` in float32 loses
 * about 5 of its 24 bits to cancellation (an error of ~7e-6 relative at t = 1).
 */
export function biasCorrection(moment: Updates, decay: number, count: Array): Updates {
  const corr = np.negative(np.expm1(np.multiply(count.astype('float32'), Math.log(decay))));
  return mapLeaves((x) => np.divide(x, corr.dtype === x.dtype ? corr : corr.astype(x.dtype)), moment);
}

/** State of {@link masked}. */
export interface MaskedState {
  /** The inner transformation's state, built on the masked params (null where the mask is false). */
  inner: OptState;
}

/**
 * Applies `inner` only to the leaves where `mask` is true; the other updates pass through
 * unchanged. The mask is a pytree of JS booleans with the params' structure, or a function of the
 * params returning one (see `maskByPath`). The inner state holds `null` at unmasked leaves.
 */
export function masked(inner: GradientTransformation, mask: MaskSpec): GradientTransformation<MaskedState> {
  const select = (tree: unknown, bools: boolean[]): unknown => {
    const [leaves, def] = flatten(tree);
    return unflatten(def, leaves.map((l, i) => (bools[i] ? l : null)));
  };
  return {
    init: (params) => ({ inner: inner.init(select(params, resolveMask(mask, params, 'masked'))) }),
    update: (u, state, params) => {
      const bools = resolveMask(mask, params ?? u, 'masked');
      const [uLeaves, uDef] = flatten(u);
      if (uLeaves.length !== bools.length) throw new ValueError(`masked: the mask has ${bools.length} entries but the updates have ${uLeaves.length} leaves`);
      const [innerOut, innerState] = inner.update(select(u, bools), state.inner, params === undefined ? undefined : select(params, bools));
      const [outLeaves] = flatten(innerOut);
      let j = 0;
      const merged = uLeaves.map((l, i) => (bools[i] ? outLeaves[j++] : l));
      return [unflatten(uDef as TreeDef, merged), { inner: innerState }];
    },
  };
}

/**
 * Decoupled weight decay (optax's `add_decayed_weights`): `u ← u + rate·p`. Placed before the
 * learning-rate scaling (as in AdamW) the decay is multiplied by the learning rate. `mask`
 * restricts it to some leaves (e.g. not biases and norm scales).
 */
export function addDecayedWeights(rate: number, mask?: MaskSpec): GradientTransformation {
  checkNumber(rate, 'weight decay rate', { min: 0 });
  const base: GradientTransformation<Record<string, never>> = {
    init: () => ({}),
    update: (u, s, params) => {
      needParams(params, 'addDecayedWeights (weight decay)');
      return [mapLeaves((x, p) => np.add(x, np.multiply(p, rate)), u, params), s];
    },
  };
  return mask === undefined ? base : masked(base, mask);
}

/**
 * Scales all updates by `min(1, maxNorm / ‖u‖)` where ‖u‖ is the global L2 norm over every
 * leaf (optax's `clip_by_global_norm`; Pascanu et al. 2013).
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation<Record<string, never>> {
  checkNumber(maxNorm, 'clipByGlobalNorm maxNorm', { min: 0, minOpen: true });
  return {
    init: () => ({}),
    update: (u, s) => {
      const norm = globalNorm(u);
      // where() selects, so the division by a zero norm never reaches the output.
      const factor = np.where(np.less(norm, maxNorm), np.ones_like(norm), np.divide(maxNorm, norm));
      return [mapLeaves((x) => scaleLeaf(x, factor), u), s];
    },
  };
}

/** Clips every update element to [−maxDelta, maxDelta]. */
export function clip(maxDelta: number): GradientTransformation<Record<string, never>> {
  checkNumber(maxDelta, 'clip maxDelta', { min: 0 });
  return { init: () => ({}), update: (u, s) => [mapLeaves((x) => np.clip(x, -maxDelta, maxDelta), u), s] };
}

/**
 * Composes transformations left to right (optax's `chain`): the updates flow through each in
 * turn; the state is the list of the inner states.
 */
export function chain(...transforms: GradientTransformation[]): GradientTransformation<OptState[]> {
  transforms.forEach((t, i) => {
    if (!t || typeof t.init !== 'function' || typeof t.update !== 'function') throw new ValueError(`chain: argument ${i} is not a gradient transformation (an object with init and update)`);
  });
  return {
    init: (params) => transforms.map((t) => t.init(params)),
    update: (u, state, params) => {
      if (!globalThis.Array.isArray(state) || state.length !== transforms.length) {
        throw new ValueError(`chain: the state should be a list of ${transforms.length} inner states (from this chain's init), got ${globalThis.Array.isArray(state) ? `a list of ${state.length}` : typeof state}`);
      }
      const out: OptState[] = [];
      let cur = u;
      transforms.forEach((t, i) => {
        const [next, s] = t.update(cur, state[i], params);
        cur = next;
        out.push(s);
      });
      return [cur, out];
    },
  };
}
