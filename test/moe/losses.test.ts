/**
 * The auxiliary losses: hand-computed load-balancing and z-losses, the "equals k when balanced"
 * property, padding exclusion, averaging over layers and the default coefficients.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { np } from '../../src/index.js';
import { moe } from '../../src/nn/moe/index.js';
import { assertClose, identityRouter, logitsFor } from './helpers.js';

const probs4 = [[[0.7, 0.3], [0.6, 0.4], [0.2, 0.8], [0.9, 0.1]]];

test('load-balancing loss and z-loss by hand (k = 1, E = 2)', () => {
  // top-1 choices: e0, e0, e1, e0 → f = [3/4, 1/4]; P = [(0.7+0.6+0.2+0.9)/4, …] = [0.6, 0.4]
  // aux = E · Σ f·P = 2 · (0.75·0.6 + 0.25·0.4) = 1.1
  // logits = log p + c with c = [1, 2, 0, −1] → logsumexp = c → z = (1 + 4 + 0 + 1)/4 = 1.5
  const x = logitsFor(probs4, [[1, 2, 0, -1]], 'float64');
  const r = moe.TokenChoiceRouter({ numExperts: 2, k: 1, minCapacity: 1 });
  const out = r.apply(identityRouter(2, 'float64'), x, { train: false });
  assertClose(out.auxLoss.item() as number, 1.1, 1e-12);
  assertClose(out.zLoss.item() as number, 1.5, 1e-12);
  // the standalone functions give the same numbers
  const mask = np.array([[[1, 0], [1, 0], [0, 1], [1, 0]]], { dtype: 'float64' });
  assertClose(moe.loadBalancingLoss(np.array(probs4, { dtype: 'float64' }), mask).item() as number, 1.1, 1e-12);
  assertClose(moe.routerZLoss(x).item() as number, 1.5, 1e-12);
});

test('load-balancing loss equals k exactly under balanced routing, more when unbalanced', () => {
  for (const k of [1, 2]) {
    // uniform probabilities: P = 1/E, any k-hot f → E · Σ_e f_e/E = Σ f = k
    const E = 4;
    const r = moe.TokenChoiceRouter({ numExperts: E, k });
    const x = np.zeros([2, 8, E], 'float32');
    const out = r.apply(identityRouter(E), x, { train: false });
    assert.equal(out.auxLoss.item(), k, `uniform routing with k=${k}`);
  }
  // balanced but confident: tokens alternate between the experts → f = P = [1/2, 1/2] → 1
  const bal = logitsFor([[[0.7, 0.3], [0.3, 0.7], [0.7, 0.3], [0.3, 0.7]]], undefined, 'float64');
  const r1 = moe.TokenChoiceRouter({ numExperts: 2, k: 1 });
  assertClose(r1.apply(identityRouter(2, 'float64'), bal, { train: false }).auxLoss.item() as number, 1, 1e-12);
  // everything on expert 0: f = [1, 0], P = [0.9, 0.1] → 2 · 0.9 = 1.8
  const unb = logitsFor([[[0.9, 0.1], [0.9, 0.1]]], undefined, 'float64');
  assertClose(r1.apply(identityRouter(2, 'float64'), unb, { train: false }).auxLoss.item() as number, 1.8, 1e-12);
});

test('padding tokens are excluded from both losses', () => {
  const real = probs4[0];
  const padded = [[...real, [0.999, 0.001], [0.001, 0.999]]];
  const shift = [[1, 2, 0, -1, 7, -9]];
  const x = logitsFor(padded, shift, 'float64');
  const mask = np.array([[1, 1, 1, 1, 0, 0]], { dtype: 'int32' });
  const r = moe.TokenChoiceRouter({ numExperts: 2, k: 1, minCapacity: 1 });
  const out = r.apply(identityRouter(2, 'float64'), x, { train: false, paddingMask: mask });
  assertClose(out.auxLoss.item() as number, 1.1, 1e-12);
  assertClose(out.zLoss.item() as number, 1.5, 1e-12);
  // without the mask the padding would count
  const noMask = r.apply(identityRouter(2, 'float64'), x, { train: false });
  assert.ok(Math.abs((noMask.zLoss.item() as number) - 1.5) > 1);
  // a group made only of padding does not pull the per-group mean down
  const two = logitsFor([real, real], [[0, 0, 0, 0], [0, 0, 0, 0]], 'float64');
  const m2 = np.array([[1, 1, 1, 1], [0, 0, 0, 0]], { dtype: 'int32' });
  assertClose(r.apply(identityRouter(2, 'float64'), two, { train: false, paddingMask: m2 }).auxLoss.item() as number, 1.1, 1e-12);
});

test('averaging over MoE layers and the default coefficients', () => {
  const l1 = { auxLoss: np.array(2, { dtype: 'float32' }), zLoss: np.array(10, { dtype: 'float32' }) };
  const l2 = { auxLoss: np.array(4, { dtype: 'float32' }), zLoss: np.array(20, { dtype: 'float32' }) };
  const avg = moe.averageMoeLosses([l1, l2]);
  assert.equal(avg.auxLoss.item(), 3);
  assert.equal(avg.zLoss.item(), 15);
  assert.equal(moe.DEFAULT_AUX_LOSS_COEF, 1e-2);
  assert.equal(moe.DEFAULT_Z_LOSS_COEF, 1e-3);
  const t = moe.moeAuxiliaryLoss([l1, l2]);
  assertClose(t.total.item() as number, 3e-2 + 15e-3, 1e-6);
  const t2 = moe.moeAuxiliaryLoss([l1, l2], { auxLossCoef: 1, zLossCoef: 0 });
  assert.equal(t2.total.item(), 3);
  assert.throws(() => moe.averageMoeLosses([]), /non-empty/);
  assert.throws(() => moe.moeAuxiliaryLoss([l1], { zLossCoef: -1 }), /zLossCoef/);
  assert.throws(() => moe.loadBalancingLoss(np.zeros([2, 3]), np.zeros([2, 3])), /rank 3/);
});
