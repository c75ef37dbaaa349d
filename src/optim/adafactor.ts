/**
 * Adafactor (Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost",
 * ICML 2018, arXiv:1804.04235), T5's optimizer, as a chain of pure transformations.
 *
 * Per parameter with gradient G (t = 1-based step):
 *   β̂₂ₜ = 1 − t^(−0.8)                                   (paper §7.1 / Alg. 4–5, decay_rate 0.8)
 *   G² ← G⊙G + ε₁,  ε₁ = 1e−30
 *   rank ≥ 2, factored over two dims (rows n, columns m):
 *     R ← β̂₂ₜR + (1−β̂₂ₜ)·mean_cols(G²),   C ← β̂₂ₜC + (1−β̂₂ₜ)·mean_rows(G²)
 *     V̂ = R·Cᵀ / mean(R)                    (the rank-1 estimate of paper §3, with means)
 *   otherwise V̂ ← β̂₂ₜV̂ + (1−β̂₂ₜ)·G²
 *   U = G / √V̂
 *   Û = U / max(1, RMS(U)/d),  d = 1.0       (update clipping, §6)
 *   ρₜ = min(1e−2, 1/√t)                      (relative step size, §8 / Alg. 4)
 *   αₜ = max(ε₂, RMS(Xₜ₋₁)) · ρₜ,  ε₂ = 1e−3   (multiply_by_parameter_scale)
 *   Xₜ = Xₜ₋₁ − αₜÛ                            (no momentum by default: β₁ absent)
 * These are also the defaults of T5's Mesh-TensorFlow `AdafactorOptimizer` and of T5X's
 * `t5x/adafactor.py` (decay_rate 0.8, clipping_threshold 1.0, epsilon1 1e−30, epsilon2 1e−3,
 * multiply_by_parameter_scale True, beta1 None; weight decay `p ← (1−w)·p − step`, not scaled
 * by the learning rate). When a `learningRate` (number or schedule, e.g. T5's
 * `rsqrtDecaySchedule()`) is given it replaces ρₜ, as in T5X where the schedule supplies it.
 *
 * Which dims are factored: by default the last two (the paper's matrix case, tensor2tensor's
 * and Hugging Face's rule; leading dims are treated as a batch of matrices), for every
 * parameter of rank ≥ 2. `factorDims: 'two_largest'` with `minDimSizeToFactor: 128` gives
 * T5X/optax's heuristic instead (factor the two largest dims, and only when the smaller of them
 * has ≥ 128 entries).
 */

import { Array } from '../core/array.js';
import { ValueError } from '../core/errors.js';
import { flatten, unflatten } from '../core/pytree.js';
import { np } from '../np/index.js';
import { asArrayLeaf, leavesUpTo, type MaskSpec } from './tree_utils.js';
import {
  addDecayedWeights, chain, checkNumber, clipByGlobalNorm, ema, safeIncrement, scale, scaleByLearningRate, scaleBySchedule,
  stepAsFloat, zeroCount, type GradientTransformation, type Schedule, type ScalarOrSchedule,
} from './transform.js';

/** Which two dims of a rank ≥ 2 parameter carry the factored statistics. */
export type FactorDims = 'last_two' | 'two_largest';

/** Options of {@link scaleByFactoredRms}. */
export interface FactoredRmsOptions {
  /** Factor the second moment of rank ≥ 2 params (default true). */
  factored?: boolean;
  /** Exponent c of the decay β̂₂ₜ = 1 − t^(−c) (default 0.8). */
  decayRate?: number;
  /** Steps to subtract from the count before computing the decay (fine-tuning restarts; default 0). */
  stepOffset?: number;
  /** Factor only if both factored dims have at least this many entries (default 1: always). */
  minDimSizeToFactor?: number;
  /** ε₁, added to the squared gradient (default 1e-30). */
  epsilon1?: number;
  /** Which dims to factor over (default 'last_two'). */
  factorDims?: FactorDims;
}

/** Second-moment statistics of one parameter: factored (`vRow`, `vCol`) or full (`v`). */
export type FactoredStats = { vRow: Array; vCol: Array } | { v: Array };

/** State of {@link scaleByFactoredRms}. */
export interface FactoredRmsState {
  /** Updates done so far (int32). */
  count: Array;
  /** One {@link FactoredStats} per parameter leaf, in the params' structure. */
  stats: unknown;
}

/**
 * The (reduced-for-rows, reduced-for-columns) dims of a factored parameter, or null if it is not
 * factored. `d0` is averaged out of the row statistics, `d1` out of the column statistics.
 */
export function factoredDims(shape: readonly number[], { factored = true, minDimSizeToFactor = 1, factorDims = 'last_two' }: FactoredRmsOptions = {}): { d0: number; d1: number } | null {
  if (!factored || shape.length < 2) return null;
  let d0: number, d1: number;
  if (factorDims === 'last_two') {
    d0 = shape.length - 1;
    d1 = shape.length - 2;
  } else if (factorDims === 'two_largest') {
    // Stable sort of the dims by size: d0 the largest, d1 the second largest (T5X `_factored_dims`).
    const order = shape.map((_, i) => i).sort((a, b) => shape[a] - shape[b] || a - b);
    d0 = order[order.length - 1];
    d1 = order[order.length - 2];
  } else {
    throw new ValueError(`adafactor factorDims must be 'last_two' or 'two_largest', got ${JSON.stringify(factorDims)}`);
  }
  if (shape[d0] < minDimSizeToFactor || shape[d1] < minDimSizeToFactor) return null;
  return { d0, d1 };
}

const without = (shape: readonly number[], d: number): number[] => shape.filter((_, i) => i !== d);

/** Root mean square of all elements (a scalar; callers skip empty arrays). */
function rms(x: Array): Array {
  return np.sqrt(np.mean(np.square(x)));
}

/**
 * Divides `G` by the square root of its (factored) second-moment estimate, with the
 * increasing decay `1 − t^(−decayRate)` (optax `scale_by_factored_rms`, T5X Adafactor).
 */
export function scaleByFactoredRms(opts: FactoredRmsOptions = {}): GradientTransformation<FactoredRmsState> {
  const { decayRate = 0.8, stepOffset = 0, epsilon1 = 1e-30 } = opts;
  checkNumber(decayRate, 'adafactor decayRate', { min: 0 });
  checkNumber(stepOffset, 'adafactor stepOffset', { min: 0 });
  checkNumber(epsilon1, 'adafactor epsilon1', { min: 0 });
  checkNumber(opts.minDimSizeToFactor ?? 1, 'adafactor minDimSizeToFactor', { min: 0 });
  factoredDims([1, 1], opts); // validates factorDims early
  return {
    init: (params) => {
      const [leaves, def] = flatten(params);
      const stats = leaves.map((l, i): FactoredStats => {
        const p = asArrayLeaf(l, `adafactor init: param leaf ${i}`);
        const dims = factoredDims(p.shape, opts);
        if (!dims) return { v: np.zeros(p.shape, 'float32') };
        return { vRow: np.zeros(without(p.shape, dims.d0), 'float32'), vCol: np.zeros(without(p.shape, dims.d1), 'float32') };
      });
      return { count: zeroCount(), stats: unflatten(def, stats) };
    },
    update: (u, state) => {
      const [grads, def] = flatten(u);
      const stats = leavesUpTo(def, state.stats, 'adafactor state.stats') as FactoredStats[];
      // t = count − offset + 1 (1-based); β̂₂ₜ = 1 − t^(−c), so the first step uses G² alone.
      const t = np.add(np.maximum(np.subtract(stepAsFloat(state.count), stepOffset), 0), 1);
      const decay = np.subtract(1, np.power(t, -decayRate));
      const mix = np.subtract(1, decay);
      const outs: Array[] = [];
      const newStats = grads.map((gl, i): FactoredStats => {
        const g0 = asArrayLeaf(gl, `adafactor: gradient leaf ${i}`);
        const g = g0.dtype === 'float32' ? g0 : g0.astype('float32');
        const st = stats[i];
        const gsq = np.add(np.square(g), epsilon1);
        const dims = factoredDims(g.shape, opts);
        let y: Array, next: FactoredStats;
        if (dims) {
          if (!('vRow' in st)) throw new ValueError(`adafactor: the state of gradient leaf ${i} ${JSON.stringify(g.shape)} is not factored, but the options say it should be; was the state built by a differently configured adafactor?`);
          const { d0, d1 } = dims;
          const vRow = np.add(np.multiply(st.vRow, decay), np.multiply(np.mean(gsq, d0), mix));
          const vCol = np.add(np.multiply(st.vCol, decay), np.multiply(np.mean(gsq, d1), mix));
          const reducedD1 = d1 > d0 ? d1 - 1 : d1;
          const rowColMean = np.mean(vRow, reducedD1, { keepdims: true });
          const rowFactor = np.rsqrt(np.divide(vRow, rowColMean));
          const colFactor = np.rsqrt(vCol);
          y = np.multiply(np.multiply(g, np.expand_dims(rowFactor, d0)), np.expand_dims(colFactor, d1));
          next = { vRow, vCol };
        } else {
          if (!('v' in st)) throw new ValueError(`adafactor: the state of gradient leaf ${i} ${JSON.stringify(g.shape)} is factored, but the options say it should not be; was the state built by a differently configured adafactor?`);
          const v = np.add(np.multiply(st.v, decay), np.multiply(gsq, mix));
          y = np.multiply(g, np.rsqrt(v));
          next = { v };
        }
        outs.push(y.dtype === g0.dtype ? y : y.astype(g0.dtype));
        return next;
      });
      return [unflatten(def, outs), { count: safeIncrement(state.count), stats: unflatten(def, newStats) }];
    },
  };
}

/** Divides each leaf by `max(1, RMS(leaf)/threshold)` (Adafactor's update clipping; optax `clip_by_block_rms`). */
export function clipByBlockRms(threshold: number): GradientTransformation<Record<string, never>> {
  checkNumber(threshold, 'clipByBlockRms threshold', { min: 0, minOpen: true });
  return {
    init: () => ({}),
    update: (u, s) => {
      const [leaves, def] = flatten(u);
      const out = leaves.map((l, i) => {
        const x = asArrayLeaf(l, `clipByBlockRms: leaf ${i}`);
        if (x.size === 0) return x;
        const denom = np.maximum(np.divide(rms(x), threshold), 1);
        return np.divide(x, denom.dtype === x.dtype ? denom : denom.astype(x.dtype));
      });
      return [unflatten(def, out), s];
    },
  };
}

/** Multiplies each leaf's update by `max(epsilon2, RMS(param))` (optax `scale_by_param_block_rms`). */
export function scaleByParamBlockRms(epsilon2 = 1e-3): GradientTransformation<Record<string, never>> {
  checkNumber(epsilon2, 'scaleByParamBlockRms epsilon2', { min: 0 });
  return {
    init: () => ({}),
    update: (u, s, params) => {
      if (params === undefined) throw new ValueError('adafactor (multiplyByParameterScale) needs the current params: call opt.update(grads, state, params)');
      const [leaves, def] = flatten(u);
      const ps = flatten(params)[0];
      if (ps.length !== leaves.length) throw new ValueError(`scaleByParamBlockRms: ${leaves.length} update leaves but ${ps.length} param leaves`);
      const out = leaves.map((l, i) => {
        const x = asArrayLeaf(l, `update leaf ${i}`);
        const p = asArrayLeaf(ps[i], `param leaf ${i}`);
        if (p.size === 0) return x;
        const sc = np.maximum(rms(p), epsilon2);
        return np.multiply(x, sc.dtype === x.dtype ? sc : sc.astype(x.dtype));
      });
      return [unflatten(def, out), s];
    },
  };
}

/** Adafactor's relative step size ρ(step) = min(maxStep, 1/√(step+1)) for a 0-based step (paper §8). */
export function adafactorRelativeStep(maxStep = 1e-2): Schedule {
  checkNumber(maxStep, 'adafactor relative step maximum', { min: 0, minOpen: true });
  return (step) => np.minimum(np.rsqrt(np.add(stepAsFloat(step), 1)), maxStep);
}

/** Options of {@link adafactor}. */
export interface AdafactorOptions extends FactoredRmsOptions {
  /** Learning rate or schedule; default the relative step min(1e-2, 1/√t). */
  learningRate?: ScalarOrSchedule;
  /** Scale steps by max(epsilon2, RMS(param)) (default true). */
  multiplyByParameterScale?: boolean;
  /** Update-clipping threshold d (default 1.0; null disables). */
  clippingThreshold?: number | null;
  /** β₁ of an optional (non-debiased) momentum on the scaled update; none by default. */
  momentum?: number;
  /** Weight decay w: `p ← (1−w)·p − step` (not scaled by the learning rate, as T5X); none by default. */
  weightDecayRate?: number;
  /** Which leaves weight decay applies to (default all). */
  weightDecayMask?: MaskSpec;
  /** ε₂, the floor of the parameter scale (default 1e-3). */
  epsilon2?: number;
  /** Clip the gradients to this global norm before anything else (T5X `global_norm_clip_threshold`); none by default. */
  globalNormClipThreshold?: number;
}

/**
 * Adafactor with T5's defaults (see the module comment for the formulas and sources):
 * factored second moments, update clipping at 1.0, relative step `min(1e-2, 1/√t)` scaled by
 * `max(1e-3, RMS(param))`, decay `1 − t^(−0.8)`, ε₁ 1e−30, no momentum.
 */
export function adafactor(opts: AdafactorOptions = {}): GradientTransformation {
  const {
    learningRate, multiplyByParameterScale = true, clippingThreshold = 1.0, momentum, weightDecayRate, weightDecayMask,
    epsilon2 = 1e-3, globalNormClipThreshold, ...rmsOpts
  } = opts;
  if (momentum !== undefined) checkNumber(momentum, 'adafactor momentum', { min: 0, max: 1 });
  const parts: GradientTransformation[] = [];
  if (globalNormClipThreshold !== undefined) parts.push(clipByGlobalNorm(globalNormClipThreshold));
  parts.push(scaleByFactoredRms(rmsOpts));
  if (clippingThreshold !== null) parts.push(clipByBlockRms(clippingThreshold));
  parts.push(learningRate === undefined ? scaleBySchedule(adafactorRelativeStep()) : scaleByLearningRate(learningRate, { flipSign: false }));
  if (multiplyByParameterScale) parts.push(scaleByParamBlockRms(epsilon2));
  if (momentum !== undefined) parts.push(ema(momentum, { debias: false }));
  if (weightDecayRate !== undefined) parts.push(addDecayedWeights(weightDecayRate, weightDecayMask));
  parts.push(scale(-1));
  return chain(...parts);
}

