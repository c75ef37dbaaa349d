/**
 * The sparse mixture-of-experts library: routers (token choice top-k, expert choice, task
 * routing) behind one interface, the auxiliary losses, the MoE layer with batched experts and
 * two dispatch paths, routing metrics and the expert-load heatmap. See docs/moe.md.
 *
 * ```ts
 * const layer = moe.MoeLayer({ numExperts: 8, mlpDim: 256, router: { kind: 'token_choice', k: 2 } });
 * const params = layer.init(random.key(0), 64);
 * const { output, auxLoss, zLoss, metrics } = layer.apply(params, x, { train: true, key });
 * ```
 */

import * as errors from './errors.js';
import * as layer from './layer.js';
import * as losses from './losses.js';
import * as metrics from './metrics.js';
import * as routing from './routing.js';

export * from './errors.js';
export * from './layer.js';
export * from './losses.js';
export * from './metrics.js';
export * from './routing.js';

/** The `moe` namespace. */
export const moe = {
  ...errors,
  ...routing,
  ...losses,
  ...layer,
  ...metrics,
} as const;
