/**
 * The auxiliary losses of sparse mixture-of-experts layers: the load-balancing loss of Switch /
 * GShard / GLaM and the router z-loss of ST-MoE, each computed per MoE layer from the router's
 * outputs, plus helpers that average them over the MoE layers of a model and scale them by their
 * coefficients (defaults 1e-2 and 1e-3, as in Switch and ST-MoE).
 *
 * Conventions (see docs/moe.md):
 * - load balancing, per group g: `E · Σ_e f_{g,e} · P_{g,e}` (= `E² · mean_e(f·P)`), where
 *   `f_{g,e}` is the fraction of the group's real (non-padding) tokens whose top-k choice mask,
 *   taken BEFORE capacity is applied, contains expert e (a k-hot mask, so Σ_e f = k), and
 *   `P_{g,e}` the mean router probability of e over those tokens. The layer's loss is the mean
 *   over groups that contain at least one real token. With perfectly balanced routing
 *   (f = k/E, P = 1/E) the loss is exactly k; gradients flow through P only (f comes from an
 *   argmax-like selection).
 * - router z-loss: `mean over real tokens of logsumexp(logits)²`.
 * Padding tokens (mask 0) are excluded from both.
 */

import type { Array } from '../../core/array.js';
import * as lax from '../../core/lax.js';
import { np } from '../../np/index.js';
import { MoeError } from './errors.js';

/** Default coefficient of the load-balancing loss (Switch Transformer, ST-MoE: 1e-2). */
export const DEFAULT_AUX_LOSS_COEF = 1e-2;
/** Default coefficient of the router z-loss (ST-MoE: 1e-3). */
export const DEFAULT_Z_LOSS_COEF = 1e-3;

function checkRank(a: Array, rank: number, what: string, where: string): void {
  if (a.ndim !== rank) throw new MoeError(`${where}: ${what} must have rank ${rank}, got shape [${a.shape.join(', ')}]`);
}

/** The validity mask as floats of `dtype` [G, S] (all ones when absent). */
function validFloat(valid: Array | undefined, G: number, S: number, dtype: 'float32' | 'float64', where: string): Array {
  if (valid === undefined) return np.ones([G, S], dtype);
  if (valid.ndim !== 2 || valid.shape[0] !== G || valid.shape[1] !== S) {
    throw new MoeError(`${where}: the padding mask must have shape [${G}, ${S}] (groups × group size), got [${valid.shape.join(', ')}]`);
  }
  return valid.dtype === 'bool' ? np.astype(valid, dtype) : np.astype(np.notEqual(valid, 0), dtype);
}

function floatOf(a: Array): 'float32' | 'float64' {
  return a.dtype === 'float64' ? 'float64' : 'float32';
}

/**
 * The load-balancing loss of one MoE layer: `E · mean_g Σ_e f_{g,e} · P_{g,e}` (see the file
 * header). `probs` [G, S, E] are the router probabilities, `expertMask` [G, S, E] the k-hot
 * pre-capacity choice mask (any numeric dtype; treated as constant), `valid` [G, S] (optional)
 * marks real tokens (nonzero) versus padding. Equals k for perfectly uniform routing.
 */
export function loadBalancingLoss(probs: Array, expertMask: Array, valid?: Array): Array {
  const where = 'loadBalancingLoss';
  checkRank(probs, 3, 'probs', where);
  checkRank(expertMask, 3, 'expertMask', where);
  const [G, S, E] = probs.shape;
  if (expertMask.shape.some((d, i) => d !== probs.shape[i])) {
    throw new MoeError(`${where}: expertMask [${expertMask.shape.join(', ')}] must have the shape of probs [${probs.shape.join(', ')}]`);
  }
  const dt = floatOf(probs);
  const v = validFloat(valid, G, S, dt, where);
  const mask = lax.stopGradient(np.astype(expertMask, dt));
  const n = np.sum(v, 1); // [G] real tokens per group
  const nSafe = np.maximum(n, 1);
  const vE = np.expandDims(v, -1);
  const f = np.divide(np.sum(np.multiply(mask, vE), 1), np.expandDims(nSafe, -1)); // [G, E]
  const P = np.divide(np.sum(np.multiply(np.astype(probs, dt), vE), 1), np.expandDims(nSafe, -1)); // [G, E]
  const perGroup = np.multiply(np.sum(np.multiply(f, P), 1), E); // [G]
  const nonEmpty = np.astype(np.greater(n, 0), dt);
  return np.divide(np.sum(np.multiply(perGroup, nonEmpty)), np.maximum(np.sum(nonEmpty), 1));
}

/**
 * The router z-loss of one MoE layer (ST-MoE): the mean over real tokens of
 * `logsumexp(logits)²`, logits [G, S, E], `valid` [G, S] optional (nonzero = real token).
 */
export function routerZLoss(logits: Array, valid?: Array): Array {
  const where = 'routerZLoss';
  checkRank(logits, 3, 'logits', where);
  const [G, S] = logits.shape;
  const dt = floatOf(logits);
  const v = validFloat(valid, G, S, dt, where);
  const lse = np.logsumexp(np.astype(logits, dt), -1);
  return np.divide(np.sum(np.multiply(np.square(lse), v)), np.maximum(np.sum(v), 1));
}

/** The two auxiliary losses of one MoE layer (scalars). */
export interface MoeLosses {
  auxLoss: Array;
  zLoss: Array;
}

/** The mean of each loss over the MoE layers of a model (an empty list is an error). */
export function averageMoeLosses(layers: readonly MoeLosses[]): MoeLosses {
  if (!globalThis.Array.isArray(layers) || layers.length === 0) {
    throw new MoeError('averageMoeLosses: expected a non-empty list of {auxLoss, zLoss} (one per MoE layer); a model without MoE layers has no router losses');
  }
  const mean = (xs: Array[]) => np.divide(xs.reduce((a, b) => np.add(a, b)), xs.length);
  return { auxLoss: mean(layers.map((l) => l.auxLoss)), zLoss: mean(layers.map((l) => l.zLoss)) };
}

/** Coefficients of the auxiliary losses. */
export interface MoeLossCoefficients {
  /** Load-balancing loss coefficient (default 1e-2). */
  auxLossCoef?: number;
  /** Router z-loss coefficient (default 1e-3). */
  zLossCoef?: number;
}

/**
 * The term to add to the task loss: `auxLossCoef · mean_layers(aux) + zLossCoef · mean_layers(z)`,
 * with the averaged losses returned alongside for logging.
 */
export function moeAuxiliaryLoss(layers: readonly MoeLosses[], coefs: MoeLossCoefficients = {}): MoeLosses & { total: Array } {
  const a = coefs.auxLossCoef ?? DEFAULT_AUX_LOSS_COEF;
  const z = coefs.zLossCoef ?? DEFAULT_Z_LOSS_COEF;
  for (const [name, v] of [['auxLossCoef', a], ['zLossCoef', z]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new MoeError(`moeAuxiliaryLoss: ${name} must be a finite number ≥ 0, got ${JSON.stringify(v)}`);
  }
  const m = averageMoeLosses(layers);
  return { ...m, total: np.add(np.multiply(m.auxLoss, a), np.multiply(m.zLoss, z)) };
}
