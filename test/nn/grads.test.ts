/**
 * Gradient checks (reverse mode vs central finite differences in float64, via checkGrads) of every
 * layer on tiny sizes, with respect to both the parameters and the inputs.
 */

import { test } from 'node:test';
import { Array, checkGrads, np, random } from '../../src/index.js';
import { nn } from '../../src/nn/index.js';
import { crossEntropyLoss } from '../../src/models/common.js';

const key = random.key(0);
const opts = { atol: 1e-6, rtol: 1e-5, maxElements: 24, directions: 2 };
const x64 = (k: number, shape: number[]) => random.normal(random.key(k), shape, { dtype: 'float64' });

test('grads: Dense, DenseGeneral (multi-axis), Embed lookup and attend', () => {
  const d = nn.Dense({ features: 3, useBias: true, dtype: 'float64' });
  checkGrads((p, x) => d.apply(p, x), [d.init(key, 4), x64(1, [2, 4])], opts);
  const g = nn.DenseGeneral({ features: 2, axis: [-2, -1], axes: ['heads', 'kv', 'embed'], dtype: 'float64' });
  checkGrads((p, x) => g.apply(p, x), [g.init(key, [2, 3]), x64(2, [2, 2, 3])], opts);
  const e = nn.Embed({ numEmbeddings: 5, features: 3, dtype: 'float64' });
  const ids = np.array([[0, 3, 3], [4, 1, 0]], { dtype: 'int32' });
  checkGrads((p) => e.apply(p, ids), [e.init(key)], opts);
  checkGrads((p, x) => e.attend(p, x), [e.init(key), x64(3, [2, 3])], opts);
});

test('grads: RMSNorm and LayerNorm', () => {
  const r = nn.RMSNorm({ dtype: 'float64' });
  checkGrads((p, x) => r.apply(p, x), [{ scale: x64(4, [4]) }, x64(5, [3, 4])], opts);
  const l = nn.LayerNorm({ dtype: 'float64' });
  checkGrads((p, x) => l.apply(p, x), [{ scale: x64(6, [4]), bias: x64(7, [4]) }, x64(8, [3, 4])], opts);
});

test('grads: MLP with relu, gelu, gated-gelu and swiglu', () => {
  for (const activation of ['relu', 'gelu', 'gated-gelu', 'swiglu'] as const) {
    const m = nn.MLP({ mlpDim: 5, activation, dtype: 'float64' });
    checkGrads((p, x) => m.apply(p, x), [m.init(key, 3), x64(9, [2, 3])], opts);
  }
});

test('grads: multi-head attention (causal mask + relative bias), cross-attention, rotary', () => {
  const mha = nn.MultiHeadAttention({ numHeads: 2, headDim: 2, scaleLogits: false, dtype: 'float64' });
  const rp = nn.RelativePositionBias({ numHeads: 2, numBuckets: 4, maxDistance: 8, bidirectional: false, dtype: 'float64' });
  const mask = nn.causalMask(3);
  checkGrads(
    (p, r, x) => mha.apply(p, x, { mask, bias: rp.apply(r, 3) }),
    [mha.init(key, 3), rp.init(random.key(1)), x64(10, [1, 3, 3])],
    opts,
  );
  const cross = nn.MultiHeadAttention({ numHeads: 1, headDim: 2, dtype: 'float64' });
  checkGrads((p, x, m) => cross.apply(p, x, { kv: m }), [cross.init(key, 3, 2), x64(11, [1, 2, 3]), x64(12, [1, 4, 2])], opts);
  const pos = np.array([[0, 1, 2]], { dtype: 'int32' });
  checkGrads((x) => nn.applyRotary(x, pos), [x64(13, [1, 3, 1, 4])], opts);
});

test('grads: encoder block and decoder block with cross-attention', () => {
  const cfg = { numHeads: 2, headDim: 2, mlpDim: 4, activation: 'gated-gelu' as const, scaleLogits: false, dtype: 'float64' as const };
  const enc = nn.EncoderBlock(cfg);
  const bias = nn.maskToBias(nn.causalMask(3), 'float64');
  checkGrads((p, x) => enc.apply(p, x, { bias }), [enc.init(key, 3), x64(14, [1, 3, 3])], opts);
  const dec = nn.DecoderBlock({ ...cfg, crossAttention: true });
  checkGrads((p, x, m) => dec.apply(p, x, { bias, encoded: m }), [dec.init(key, 3), x64(15, [1, 3, 3]), x64(16, [1, 2, 3])], opts);
});

test('grads: cross-entropy loss with z-loss and label smoothing', () => {
  const targets = np.array([[1, 3, 0]], { dtype: 'int32' });
  const w = np.array([[1, 1, 0]], { dtype: 'float64' });
  checkGrads((l: Array) => crossEntropyLoss(l, targets, w, { zLoss: 1e-2, labelSmoothing: 0.1 }).loss, [x64(17, [1, 3, 5])], opts);
});
