/**
 * Shared helpers of the MoE tests: routers whose logits are exactly the input (identity router
 * kernel, d_model = E), so tests choose the router probabilities by hand, and small numeric
 * comparisons.
 */

import assert from 'node:assert/strict';
import { Array, np } from '../../src/index.js';

/** Router params whose logits equal x (kernel = identity, d = E). */
export function identityRouter(E: number, dtype: 'float32' | 'float64' = 'float32'): { kernel: Array } {
  return { kernel: np.eye(E, E, 0, dtype) };
}

/** Logits log(p) + c for probability rows p (so softmax gives p and logsumexp gives c). */
export function logitsFor(probs: number[][][], shift?: number[][], dtype: 'float32' | 'float64' = 'float32'): Array {
  const rows = probs.map((g, gi) => g.map((p, si) => p.map((v) => Math.log(v) + (shift ? shift[gi][si] : 0))));
  return np.array(rows, { dtype });
}

/** Asserts |a − b| ≤ tol elementwise (numbers or nested lists). */
export function assertClose(a: unknown, b: unknown, tol = 1e-6, path = ''): void {
  if (typeof a === 'number' && typeof b === 'number') {
    assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${path || 'value'}: ${a} vs ${b} (tol ${tol})`);
    return;
  }
  assert.ok(globalThis.Array.isArray(a) && globalThis.Array.isArray(b), `${path}: expected lists, got ${JSON.stringify(a)} and ${JSON.stringify(b)}`);
  assert.equal(a.length, b.length, `${path}: lengths differ`);
  a.forEach((v, i) => assertClose(v, b[i], tol, `${path}[${i}]`));
}

/** Max |a − b| over two Arrays of the same shape. */
export function maxAbsDiff(a: Array, b: Array): number {
  assert.deepEqual(a.shape, b.shape);
  return Number(np.max(np.abs(np.subtract(a, b))).item());
}
