/**
 * `optim`: Myriad's pure, optax-shaped optimizers. An optimizer is a `GradientTransformation`
 * (`init(params) → state`, `update(grads, state, params?) → [updates, state]`); updates are
 * applied with `applyUpdates(params, updates)`. States are pytrees of Arrays with int32 step
 * counters, and `update` is made of np ops only, so the whole step traces into `jit` and the
 * state can be checkpointed.
 *
 * ```ts
 * const opt = optim.chain(optim.clipByGlobalNorm(1), optim.adamw(optim.warmupCosineDecaySchedule({peakValue: 1e-3, warmupSteps: 100, decaySteps: 1000})));
 * let state = opt.init(params);
 * const step = jit((params, state, batch) => {
 *   const [loss, grads] = valueAndGrad(lossFn)(params, batch);
 *   const [updates, newState] = opt.update(grads, state, params);
 *   return [optim.applyUpdates(params, updates), newState, loss];
 * });
 * ```
 */

export * from './transform.js';
export * from './schedules.js';
export * from './optimizers.js';
export * from './adafactor.js';
export * from './accumulate.js';
export { flattenWithPaths, globalNorm, leafPaths, leavesUpTo, maskByPath, unflattenPaths, zerosLikeTree, type MaskSpec, type MaskTree } from './tree_utils.js';

import * as transform from './transform.js';
import * as schedules from './schedules.js';
import * as optimizers from './optimizers.js';
import * as adafactorMod from './adafactor.js';
import * as accumulate from './accumulate.js';
import { flattenWithPaths, globalNorm, leafPaths, leavesUpTo, maskByPath, unflattenPaths, zerosLikeTree } from './tree_utils.js';

/** The optimizer namespace (`import { optim } from 'myriad'`). */
export const optim = {
  ...transform,
  ...schedules,
  ...optimizers,
  ...adafactorMod,
  ...accumulate,
  flattenWithPaths,
  globalNorm,
  leafPaths,
  leavesUpTo,
  maskByPath,
  unflattenPaths,
  zerosLikeTree,
};
