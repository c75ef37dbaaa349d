/**
 * Learning-rate schedules: pure functions of the step, built from np ops so that a traced int32
 * (or float32) step Array inside a jitted train step works as well as a JS number. Each returns a
 * float32 scalar Array. The formulas follow optax (`linear_schedule`, `cosine_decay_schedule`,
 * `warmup_cosine_decay_schedule`, `join_schedules`) and T5/T5X
 * (`create_learning_rate_scheduler` factors `constant`, `linear_warmup`, `rsqrt_decay`:
 * `rsqrt_decay(step) = 1/√max(step, warmup_steps)`, T5's pre-training schedule with 10 000
 * warm-up steps, i.e. 0.01 for the first 10k steps and then 1/√step).
 */

import { Array } from '../core/array.js';
import { ValueError } from '../core/errors.js';
import { np } from '../np/index.js';
import { checkNumber, stepAsFloat, type Schedule } from './transform.js';

const f32 = (v: number): Array => np.array(v, { dtype: 'float32' });

/** A constant learning rate. */
export function constantSchedule(value: number): Schedule {
  checkNumber(value, 'constantSchedule value');
  return () => f32(value);
}

/** Options of {@link linearSchedule}. */
export interface LinearScheduleOptions {
  /** Value before and at `transitionBegin`. */
  initValue: number;
  /** Value from `transitionBegin + transitionSteps` on. */
  endValue: number;
  /** Number of steps of the linear ramp (> 0). */
  transitionSteps: number;
  /** Step at which the ramp starts (default 0). */
  transitionBegin?: number;
}

/**
 * Linear interpolation from `initValue` to `endValue` over `transitionSteps` steps starting at
 * `transitionBegin`, constant outside (optax `linear_schedule`):
 * `v(s) = init + (end − init) · clip(s − begin, 0, steps) / steps`.
 */
export function linearSchedule({ initValue, endValue, transitionSteps, transitionBegin = 0 }: LinearScheduleOptions): Schedule {
  checkNumber(initValue, 'linearSchedule initValue');
  checkNumber(endValue, 'linearSchedule endValue');
  checkNumber(transitionSteps, 'linearSchedule transitionSteps', { min: 0, minOpen: true });
  checkNumber(transitionBegin, 'linearSchedule transitionBegin', { min: 0 });
  return (step) => {
    const s = np.clip(np.subtract(stepAsFloat(step), transitionBegin), 0, transitionSteps);
    const frac = np.divide(s, transitionSteps);
    return np.add(initValue, np.multiply(frac, endValue - initValue));
  };
}

/** Options of {@link cosineDecaySchedule}. */
export interface CosineDecayOptions {
  /** Value at step 0. */
  initValue: number;
  /** Steps over which to decay (> 0); constant afterwards. */
  decaySteps: number;
  /** Final value as a fraction of `initValue` (default 0). */
  alpha?: number;
  /** Exponent applied to the cosine factor (default 1). */
  exponent?: number;
}

/**
 * Cosine decay (Loshchilov & Hutter 2017; optax `cosine_decay_schedule`):
 * `v(s) = init · ((1 − α)·(½(1 + cos(π·min(s, T)/T)))^p + α)`.
 */
export function cosineDecaySchedule({ initValue, decaySteps, alpha = 0, exponent = 1 }: CosineDecayOptions): Schedule {
  checkNumber(initValue, 'cosineDecaySchedule initValue');
  checkNumber(decaySteps, 'cosineDecaySchedule decaySteps', { min: 0, minOpen: true });
  checkNumber(alpha, 'cosineDecaySchedule alpha');
  checkNumber(exponent, 'cosineDecaySchedule exponent');
  return (step) => {
    const s = np.minimum(stepAsFloat(step), decaySteps);
    let c = np.multiply(np.add(np.cos(np.multiply(s, Math.PI / decaySteps)), 1), 0.5);
    if (exponent !== 1) c = np.power(c, exponent);
    return np.multiply(np.add(np.multiply(c, 1 - alpha), alpha), initValue);
  };
}

/** Options of {@link warmupCosineDecaySchedule}. */
export interface WarmupCosineDecayOptions {
  /** Value at step 0 (default 0). */
  initValue?: number;
  /** Value reached at the end of the warm-up. */
  peakValue: number;
  /** Steps of linear warm-up (≥ 0). */
  warmupSteps: number;
  /** Total steps including the warm-up; the cosine part lasts `decaySteps − warmupSteps`. */
  decaySteps: number;
  /** Value at the end (default 0). */
  endValue?: number;
  /** Exponent of the cosine factor (default 1). */
  exponent?: number;
}

/**
 * Linear warm-up from `initValue` to `peakValue`, then cosine decay to `endValue` (optax
 * `warmup_cosine_decay_schedule`; `decaySteps` counts the warm-up too).
 */
export function warmupCosineDecaySchedule({ initValue = 0, peakValue, warmupSteps, decaySteps, endValue = 0, exponent = 1 }: WarmupCosineDecayOptions): Schedule {
  checkNumber(peakValue, 'warmupCosineDecaySchedule peakValue');
  checkNumber(warmupSteps, 'warmupCosineDecaySchedule warmupSteps', { min: 0 });
  checkNumber(decaySteps, 'warmupCosineDecaySchedule decaySteps');
  if (decaySteps <= warmupSteps) throw new ValueError(`warmupCosineDecaySchedule: decaySteps (${decaySteps}) counts the warm-up and must be larger than warmupSteps (${warmupSteps})`);
  if (peakValue === 0 && endValue !== 0) throw new ValueError('warmupCosineDecaySchedule: peakValue 0 with a non-zero endValue cannot be expressed as a fraction of the peak');
  const cosine = cosineDecaySchedule({ initValue: peakValue, decaySteps: decaySteps - warmupSteps, alpha: peakValue === 0 ? 0 : endValue / peakValue, exponent });
  if (warmupSteps === 0) return cosine;
  return joinSchedules([linearSchedule({ initValue, endValue: peakValue, transitionSteps: warmupSteps }), cosine], [warmupSteps]);
}

/** Options of {@link rsqrtDecaySchedule}. */
export interface RsqrtDecayOptions {
  /** Multiplier (T5X's `base_learning_rate`, the `constant` factor; default 1). */
  scale?: number;
  /** Steps during which the rate is held at (or, with `linearWarmup`, ramps to) `scale/√warmupSteps` (default 10 000, as in T5). */
  warmupSteps?: number;
  /** Multiply by `min(1, step/warmupSteps)` (T5X's `linear_warmup` factor; default false as in T5). */
  linearWarmup?: boolean;
}

/**
 * T5's inverse-square-root schedule (T5X `rsqrt_decay`): `scale / √max(step, warmupSteps)`,
 * optionally times a linear warm-up `min(1, step/warmupSteps)`. With the defaults it is T5's
 * pre-training rate: 0.01 for 10k steps, then 1/√step.
 */
export function rsqrtDecaySchedule({ scale = 1, warmupSteps = 10_000, linearWarmup = false }: RsqrtDecayOptions = {}): Schedule {
  checkNumber(scale, 'rsqrtDecaySchedule scale');
  checkNumber(warmupSteps, 'rsqrtDecaySchedule warmupSteps', { min: 0, minOpen: true });
  return (step) => {
    const s = stepAsFloat(step);
    let v = np.multiply(np.rsqrt(np.maximum(s, warmupSteps)), scale);
    if (linearWarmup) v = np.multiply(v, np.minimum(np.divide(s, warmupSteps), 1));
    return v;
  };
}

/** Options of {@link warmupRsqrtSchedule}. */
export interface WarmupRsqrtOptions {
  /** Value at the end of the warm-up. */
  peakValue: number;
  /** Steps of linear warm-up (> 0, default 10 000). */
  warmupSteps?: number;
  /** Value at step 0 (default 0). */
  initValue?: number;
}

/**
 * Linear warm-up from `initValue` to `peakValue` over `warmupSteps`, then inverse-square-root
 * decay `peakValue · √(warmupSteps / step)` (continuous at the boundary).
 */
export function warmupRsqrtSchedule({ peakValue, warmupSteps = 10_000, initValue = 0 }: WarmupRsqrtOptions): Schedule {
  checkNumber(peakValue, 'warmupRsqrtSchedule peakValue');
  checkNumber(warmupSteps, 'warmupRsqrtSchedule warmupSteps', { min: 0, minOpen: true });
  checkNumber(initValue, 'warmupRsqrtSchedule initValue');
  const warm = linearSchedule({ initValue, endValue: peakValue, transitionSteps: warmupSteps });
  return (step) => {
    const s = stepAsFloat(step);
    const decay = np.multiply(np.rsqrt(np.divide(np.maximum(s, warmupSteps), warmupSteps)), peakValue);
    return np.where(np.less(s, warmupSteps), warm(s), decay);
  };
}

/**
 * Runs `schedules[i]` between `boundaries[i−1]` and `boundaries[i]`, each seeing the step
 * relative to its start (optax `join_schedules`).
 */
export function joinSchedules(schedules: Schedule[], boundaries: number[]): Schedule {
  if (schedules.length !== boundaries.length + 1) throw new ValueError(`joinSchedules: ${schedules.length} schedules need ${schedules.length - 1} boundaries, got ${boundaries.length}`);
  boundaries.forEach((b, i) => {
    checkNumber(b, `joinSchedules boundary ${i}`, { min: 0 });
    if (i > 0 && b < boundaries[i - 1]) throw new ValueError(`joinSchedules: boundaries must be non-decreasing, got ${boundaries.join(', ')}`);
  });
  return (step) => {
    const s = stepAsFloat(step);
    let out = np.asarray(schedules[0](s));
    boundaries.forEach((b, i) => {
      out = np.where(np.less(s, b), out, schedules[i + 1](np.subtract(s, b)));
    });
    return out;
  };
}
