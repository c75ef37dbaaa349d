/**
 * Ready-made optimizers as chains of transformations, with optax's definitions and defaults:
 * SGD (optionally with heavy-ball or Nesterov momentum), Adam and AdamW (Loshchilov & Hutter,
 * "Decoupled Weight Decay Regularization": the decay `λ·p` is added to the Adam direction
 * before the learning-rate scaling, not to the gradient). Adafactor lives in adafactor.ts.
 */

import { Array } from '../core/array.js';
import { ValueError } from '../core/errors.js';
import { map as treeMap } from '../core/pytree.js';
import { np } from '../np/index.js';
import { asArrayLeaf, zerosLikeTree, type MaskSpec } from './tree_utils.js';
import {
  addDecayedWeights, biasCorrection, chain, checkNumber, identity, safeIncrement, scaleByLearningRate, trace, zeroCount,
  type GradientTransformation, type ScalarOrSchedule, type Updates,
} from './transform.js';

/** Options of {@link sgd}. */
export interface SgdOptions {
  /** Momentum decay (e.g. 0.9); none by default. */
  momentum?: number;
  /** Use Nesterov's look-ahead momentum (needs `momentum`). */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent (optax `sgd`): `u = −lr·g`, or with momentum
 * `t ← g + μ·t; u = −lr·t` (Nesterov: `u = −lr·(g + μ·t)` with the new `t`).
 */
export function sgd(learningRate: ScalarOrSchedule, { momentum, nesterov = false }: SgdOptions = {}): GradientTransformation {
  if (nesterov && momentum === undefined) throw new ValueError('sgd: nesterov needs a momentum value, e.g. sgd(0.1, {momentum: 0.9, nesterov: true})');
  return chain(momentum === undefined ? identity() : trace({ decay: momentum, nesterov }), scaleByLearningRate(learningRate));
}

/** Options of {@link scaleByAdam}, {@link adam} and {@link adamw}. */
export interface AdamOptions {
  /** Decay of the first moment (default 0.9). */
  b1?: number;
  /** Decay of the second moment (default 0.999). */
  b2?: number;
  /** Added to the denominator outside the square root (default 1e-8). */
  eps?: number;
  /** Added inside the square root (default 0). */
  epsRoot?: number;
}

/** State of {@link scaleByAdam}. */
export interface AdamState {
  /** Updates done so far (int32). */
  count: Array;
  /** First moment (params' structure). */
  mu: Updates;
  /** Second moment (params' structure). */
  nu: Updates;
}

/**
 * Adam's direction (Kingma & Ba 2015; optax `scale_by_adam`): `m ← b1·m + (1−b1)·g`,
 * `v ← b2·v + (1−b2)·g²`, `u = m̂ / (√(v̂ + epsRoot) + eps)` with the bias-corrected
 * `m̂ = m/(1−b1^t)`, `v̂ = v/(1−b2^t)` and `t` the 1-based step.
 */
export function scaleByAdam({ b1 = 0.9, b2 = 0.999, eps = 1e-8, epsRoot = 0 }: AdamOptions = {}): GradientTransformation<AdamState> {
  checkNumber(b1, 'adam b1', { min: 0, max: 1 });
  checkNumber(b2, 'adam b2', { min: 0, max: 1 });
  checkNumber(eps, 'adam eps', { min: 0 });
  checkNumber(epsRoot, 'adam epsRoot', { min: 0 });
  return {
    init: (params) => ({ count: zeroCount(), mu: zerosLikeTree(params), nu: zerosLikeTree(params) }),
    update: (u, state) => {
      const mu = treeMap((g: unknown, m: unknown) => np.add(np.multiply(asArrayLeaf(m, 'adam mu'), b1), np.multiply(asArrayLeaf(g, 'gradient'), 1 - b1)), u, state.mu);
      const nu = treeMap((g: unknown, v: unknown) => np.add(np.multiply(asArrayLeaf(v, 'adam nu'), b2), np.multiply(np.square(asArrayLeaf(g, 'gradient')), 1 - b2)), u, state.nu);
      const count = safeIncrement(state.count);
      const muHat = biasCorrection(mu, b1, count);
      const nuHat = biasCorrection(nu, b2, count);
      const out = treeMap((m: Array, v: Array) => np.divide(m, np.add(np.sqrt(epsRoot === 0 ? v : np.add(v, epsRoot)), eps)), muHat, nuHat);
      return [out, { count, mu, nu }];
    },
  };
}

/** Adam (optax `adam`): `scaleByAdam` then `−lr` scaling. */
export function adam(learningRate: ScalarOrSchedule, opts: AdamOptions = {}): GradientTransformation {
  return chain(scaleByAdam(opts), scaleByLearningRate(learningRate));
}

/** Options of {@link adamw}. */
export interface AdamWOptions extends AdamOptions {
  /** Decoupled weight-decay rate λ (default 1e-4, as optax). */
  weightDecay?: number;
  /** Which leaves to decay: booleans with the params' structure, or a function of the params (see `maskByPath`). Default: all. */
  mask?: MaskSpec;
}

/**
 * AdamW (optax `adamw`): `u = −lr·(m̂/(√v̂ + eps) + λ·p)` — the decay is decoupled from the
 * adaptive scaling and multiplied by the (scheduled) learning rate.
 */
export function adamw(learningRate: ScalarOrSchedule, { weightDecay = 1e-4, mask, ...adamOpts }: AdamWOptions = {}): GradientTransformation {
  return chain(scaleByAdam(adamOpts), addDecayedWeights(weightDecay, mask), scaleByLearningRate(learningRate));
}
