/**
 * The `nn` namespace: functional layers (config → {init, axes, apply}) with logical axis names on
 * every parameter dimension, plus the helpers of `module.ts`. See module.ts for the conventions.
 *
 * ```ts
 * const d = nn.Dense({ features: 64, axes: ['embed', 'mlp'] });
 * const p = d.init(random.key(0), 32);      // { kernel: f32[32,64] }
 * nn.checkAxes(p, d.axes(32));               // one logical name per dim
 * const y = d.apply(p, x);                   // x [..., 32] → [..., 64]
 * ```
 */

import * as attention from './attention.js';
import * as layers from './layers.js';
import * as module from './module.js';
import * as transformer from './transformer.js';
import { moe } from './moe/index.js';

export * from './module.js';
export * from './layers.js';
export * from './attention.js';
export * from './transformer.js';
export { moe } from './moe/index.js';

/** The `nn` namespace (layers, attention, blocks, conventions and helpers). */
export const nn = {
  ...module,
  ...layers,
  ...attention,
  ...transformer,
  /** Mixture-of-experts routers, losses, layer and metrics. */
  moe,
} as const;
