// Adafactor against hand-computed first steps (factored and unfactored), update clipping,
// the relative step, and against a plain-JS double-precision transcription of the paper's
// algorithm over several steps (including a rank-3 parameter as a batch of matrices).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, np } from '../../src/index.js';
import { optim } from '../../src/optim/index.js';
import { close, f32, flat } from './helpers.js';

test('first step, factored 2×2: V̂ = R·C/mean(R), U = G/√V̂, relative step 0.01 × RMS(param)', () => {
  // G = [[1,2],[3,4]]: G² = [[1,4],[9,16]], row means R = [2.5, 12.5], column means C = [5, 10],
  // mean(R) = 7.5, V̂ = [[5/3, 10/3], [25/3, 50/3]], U = G/√V̂ with U² = [[0.6, 1.2], [1.08, 0.96]],
  // RMS(U) = √0.96 < 1 (no clipping). RMS(param) = √((0.25+0.25+1+1)/4) = √0.625.
  const p = { w: f32([[0.5, -0.5], [1, -1]]) };
  const g = { w: f32([[1, 2], [3, 4]]) };
  const opt = optim.adafactor();
  const s0 = opt.init(p);
  const stats = s0[0].stats.w;
  assert.deepEqual(Object.keys(stats).sort(), ['vCol', 'vRow']);
  assert.deepEqual(stats.vRow.shape, [2]);
  assert.deepEqual(stats.vCol.shape, [2]);
  const [u, s1] = opt.update(g, s0, p);
  const scale = -0.01 * Math.sqrt(0.625);
  const U = [[Math.sqrt(0.6), Math.sqrt(1.2)], [Math.sqrt(1.08), Math.sqrt(0.96)]];
  close(u.w, U.map((r) => r.map((x) => scale * x)), { rtol: 1e-5 });
  close(s1[0].stats.w.vRow, [2.5, 12.5], { rtol: 1e-6 });
  close(s1[0].stats.w.vCol, [5, 10], { rtol: 1e-6 });
  assert.equal(s1[0].count.item(), 1);
});

test('first step, unfactored (factored: false, and rank-1 params): U = G/|G| = sign(G)', () => {
  const p = { w: f32([[0.5, -0.5], [1, -1]]), b: f32([3, 4]) };
  const g = { w: f32([[1, 2], [3, 4]]), b: f32([0.5, -2]) };
  const opt = optim.adafactor({ factored: false });
  const s0 = opt.init(p);
  assert.deepEqual(Object.keys(s0[0].stats.w), ['v']);
  const [u] = opt.update(g, s0, p);
  close(u.w, [[1, 1], [1, 1]].map((r) => r.map((x) => -0.01 * Math.sqrt(0.625) * x)), { rtol: 1e-5 });
  // b: RMS([3,4]) = √12.5
  close(u.b, [-0.01 * Math.sqrt(12.5), 0.01 * Math.sqrt(12.5)], { rtol: 1e-5 });
});

test('update clipping divides U by RMS(U)/1 when that exceeds 1 (hand-computed second step)', () => {
  // One weight p = 2. Step 1: g = 0.001, v = g² (β̂ = 0), U = 1, p ← 2 − 0.01·2·1 = 1.98.
  // Step 2: β̂ = 1 − 2^−0.8, v = β̂·1e-6 + (1−β̂)·1, U = 1/√v ≈ 1.3195 > 1 → clipped to 1,
  // so u = −0.01·1.98·1 = −0.0198 (and −0.0198·1.3195 without clipping).
  const beta = 1 - 2 ** -0.8;
  const U2 = 1 / Math.sqrt(beta * 1e-6 + (1 - beta));
  for (const [threshold, want] of [[1.0, -0.0198], [null, -0.0198 * U2]] as const) {
    const opt = optim.adafactor({ clippingThreshold: threshold });
    let p = { w: f32([2]) };
    let s = opt.init(p);
    let u;
    [u, s] = opt.update({ w: f32([0.001]) }, s, p);
    close(u.w, [-0.02], { rtol: 1e-5 });
    p = optim.applyUpdates(p, u);
    [u, s] = opt.update({ w: f32([1]) }, s, p);
    close(u.w, [want], { rtol: 1e-5, what: `threshold ${threshold}` });
  }
  // Factored G = I₂: R = C = [0.5, 0.5], V̂ = R·C/mean(R) = 0.5, U = √2·I, RMS(U) = 1 (not clipped).
  const p = { w: f32([[1, 0], [0, 1]]) };
  const [u] = optim.adafactor().update(p, optim.adafactor().init(p), p);
  close(u.w, [[-0.01 * Math.sqrt(0.5) * Math.SQRT2, 0], [0, -0.01]], { rtol: 1e-5, atol: 1e-12 });
});

test('parameter scale is floored at epsilon2 = 1e-3 (zero-initialised params still move)', () => {
  const p = { b: f32([0, 0]) };
  const [u] = optim.adafactor().update({ b: f32([1, -1]) }, optim.adafactor().init(p), p);
  close(u.b, [-0.01 * 1e-3, 0.01 * 1e-3], { rtol: 1e-5 });
});

test('relative step min(1e-2, 1/√t) and decay 1 − t^(−0.8)', () => {
  const rel = optim.adafactorRelativeStep();
  close(rel(0), 0.01);
  close(rel(9999), 0.01);
  close(rel(19999), 1 / Math.sqrt(20000), { rtol: 1e-6 });
  close(rel(np.array(39999, { dtype: 'int32' })), 0.005, { rtol: 1e-6 });
});

/** Plain-JS float64 Adafactor for 2-D (or batched 2-D) params, transcribed from the paper. */
function refAdafactor(shape: number[], params: number[], grads: number[][], { factored = true, lr }: { factored?: boolean; lr?: (t: number) => number } = {}): { x: number[]; clipped: number } {
  const n = shape[shape.length - 2], m = shape[shape.length - 1];
  const batch = params.length / (n * m);
  let x = [...params];
  let clipped = 0;
  const R = new Float64Array(batch * n), C = new Float64Array(batch * m), V = new Float64Array(params.length);
  grads.forEach((g, step) => {
    const t = step + 1;
    const beta = 1 - t ** -0.8;
    const u = new Float64Array(g.length);
    for (let b = 0; b < batch; b++) {
      const at = (i: number, j: number) => b * n * m + i * m + j;
      if (factored) {
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < m; j++) s += g[at(i, j)] ** 2 + 1e-30;
          R[b * n + i] = beta * R[b * n + i] + (1 - beta) * (s / m);
        }
        for (let j = 0; j < m; j++) {
          let s = 0;
          for (let i = 0; i < n; i++) s += g[at(i, j)] ** 2 + 1e-30;
          C[b * m + j] = beta * C[b * m + j] + (1 - beta) * (s / n);
        }
        let meanR = 0;
        for (let i = 0; i < n; i++) meanR += R[b * n + i] / n;
        for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) u[at(i, j)] = g[at(i, j)] / Math.sqrt((R[b * n + i] * C[b * m + j]) / meanR);
      } else {
        for (let k = b * n * m; k < (b + 1) * n * m; k++) {
          V[k] = beta * V[k] + (1 - beta) * (g[k] ** 2 + 1e-30);
          u[k] = g[k] / Math.sqrt(V[k]);
        }
      }
    }
    const rmsU = Math.sqrt(u.reduce((a, v) => a + v * v, 0) / u.length);
    const rmsX = Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length);
    const rho = lr ? lr(step) : Math.min(1e-2, 1 / Math.sqrt(t));
    const alpha = Math.max(1e-3, rmsX) * rho;
    const denom = Math.max(1, rmsU);
    if (rmsU > 1) clipped++;
    x = x.map((v, k) => v - (alpha * u[k]) / denom);
  });
  return { x, clipped };
}

function pseudoRandom(n: number, seed: number): number[] {
  let s = seed;
  return globalThis.Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 2 - 1;
  });
}

for (const factored of [true, false]) {
  test(`five steps match a float64 transcription of the paper (${factored ? 'factored' : 'unfactored'}, 3×4 and 2×3×4)`, () => {
    for (const shape of [[3, 4], [2, 3, 4]]) {
      const size = shape.reduce((a, b) => a * b, 1);
      const x0 = pseudoRandom(size, 7);
      const grads = [1, 2, 3, 4, 5].map((k) => pseudoRandom(size, 100 + k).map((v) => v * k));
      const opt = optim.adafactor({ factored });
      let p = { w: np.reshape(f32(x0), shape) };
      let s = opt.init(p);
      for (const g of grads) {
        const [u, s2] = opt.update({ w: np.reshape(f32(g), shape) }, s, p);
        p = optim.applyUpdates(p, u);
        s = s2;
      }
      if (factored) assert.deepEqual(s[0].stats.w.vRow.shape, shape.slice(0, -1));
      const { x: want, clipped } = refAdafactor(shape, x0, grads, { factored });
      assert.ok(clipped > 0, 'the gradients are chosen so that update clipping happens');
      close(np.reshape(p.w, [-1]), want, { rtol: 2e-5, atol: 1e-7, what: `params ${JSON.stringify(shape)}` });
    }
  });
}

test('an explicit learning rate (T5 rsqrt schedule) replaces the relative step', () => {
  const shape = [2, 3];
  const x0 = pseudoRandom(6, 3);
  const grads = [pseudoRandom(6, 4), pseudoRandom(6, 5)];
  const sched = optim.rsqrtDecaySchedule({ warmupSteps: 1, scale: 0.5 });
  const opt = optim.adafactor({ learningRate: sched });
  let p = { w: np.reshape(f32(x0), shape) };
  let s = opt.init(p);
  for (const g of grads) {
    const [u, s2] = opt.update({ w: np.reshape(f32(g), shape) }, s, p);
    p = optim.applyUpdates(p, u);
    s = s2;
  }
  const { x: want } = refAdafactor(shape, x0, grads, { lr: (step) => 0.5 / Math.sqrt(Math.max(step, 1)) });
  close(np.reshape(p.w, [-1]), want, { rtol: 2e-5, atol: 1e-7 });
});

test('weight decay and momentum options', () => {
  const p = { w: f32([2, -2]) };
  const g = { w: f32([1, 1]) };
  const wd = optim.adafactor({ weightDecayRate: 0.1 });
  const [u] = wd.update(g, wd.init(p), p);
  // −(0.01·RMS(p)·sign(g) + 0.1·p), RMS(p) = 2
  close(u.w, [-(0.02 + 0.2), -(0.02 - 0.2)], { rtol: 1e-5 });
  const mom = optim.adafactor({ momentum: 0.9 });
  const [um] = mom.update(g, mom.init(p), p);
  close(um.w, [-0.1 * 0.02, -0.1 * 0.02], { rtol: 1e-5 });
});

test('factoring rules: last two dims by default; T5X heuristic on request', () => {
  assert.deepEqual(optim.factoredDims([4, 8]), { d0: 1, d1: 0 });
  assert.deepEqual(optim.factoredDims([2, 4, 8]), { d0: 2, d1: 1 });
  assert.equal(optim.factoredDims([8]), null);
  assert.equal(optim.factoredDims([4, 8], { factored: false }), null);
  const t5x = { factorDims: 'two_largest', minDimSizeToFactor: 128 } as const;
  assert.equal(optim.factoredDims([512, 64], t5x), null);
  assert.deepEqual(optim.factoredDims([512, 12, 256], t5x), { d0: 0, d1: 2 });
  // The two-largest rule gives the same statistics as the last-two rule on a matrix.
  const p = { w: f32([[0.5, -0.5, 1], [1, -1, 2]]) };
  const g = { w: f32([[1, 2, 3], [3, 4, -1]]) };
  const a = optim.adafactor();
  const b = optim.adafactor({ factorDims: 'two_largest' });
  close(a.update(g, a.init(p), p)[0].w, flat(b.update(g, b.init(p), p)[0].w.toArray()), { rtol: 1e-6 });
  assert.throws(() => optim.adafactor({ factorDims: 'rows' as never }), /factorDims must be 'last_two' or 'two_largest'/);
});

test('a state from a differently configured adafactor is refused clearly', () => {
  const p = { w: f32([[1, 2], [3, 4]]) };
  const s = optim.adafactor({ factored: false }).init(p);
  assert.throws(() => optim.adafactor().update(p, s, p), /not factored, but the options say it should be/);
});

test('empty and scalar params are handled', () => {
  const p = { e: np.zeros([0, 3]), s: f32(2) };
  const opt = optim.adafactor();
  const [u] = opt.update({ e: np.zeros([0, 3]), s: f32(1) }, opt.init(p), p);
  assert.deepEqual(u.e.shape, [0, 3]);
  close(u.s, -0.01 * 2, { rtol: 1e-5 });
  assert.ok(u.s instanceof Array);
});
