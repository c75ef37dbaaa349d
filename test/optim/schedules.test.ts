// Learning-rate schedules at chosen steps (values worked out by hand from each formula), with JS
// number steps, int32 Array steps, and traced steps inside jit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, jit, np } from '../../src/index.js';
import { optim, type Schedule } from '../../src/optim/index.js';
import { close } from './helpers.js';

function at(s: Schedule, steps: number[]): number[] {
  return steps.map((k) => {
    const v = s(k);
    assert.equal(v.dtype, 'float32');
    assert.deepEqual(v.shape, []);
    return v.item() as number;
  });
}

function expectValues(s: Schedule, table: [number, number][], rtol = 1e-6): void {
  const got = at(s, table.map(([k]) => k));
  table.forEach(([k, want], i) => assert.ok(Math.abs(got[i] - want) <= 1e-9 + rtol * Math.abs(want), `step ${k}: got ${got[i]}, expected ${want}`));
}

test('constant', () => {
  expectValues(optim.constantSchedule(0.3), [[0, 0.3], [1e6, 0.3]]);
});

test('linear: flat before the ramp, linear over it, flat after', () => {
  const s = optim.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10, transitionBegin: 5 });
  expectValues(s, [[0, 1], [5, 1], [10, 0.5], [12, 0.3], [15, 0], [100, 0]]);
});

test('cosine decay with alpha', () => {
  // v = (1−α)·½(1+cos(πs/T)) + α, T = 100, α = 0.1: s=50 → 0.9·0.5 + 0.1 = 0.55; s=25 → 0.9·(1+√½)/2 + 0.1
  const s = optim.cosineDecaySchedule({ initValue: 2, decaySteps: 100, alpha: 0.1 });
  expectValues(s, [[0, 2], [25, 2 * (0.9 * (1 + Math.SQRT1_2) / 2 + 0.1)], [50, 1.1], [100, 0.2], [250, 0.2]]);
});

test('warm-up then cosine decay', () => {
  const s = optim.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 110, endValue: 0.1 });
  // cosine part over 100 steps from 1 to 0.1: at warm-up end + 50 → 0.55
  expectValues(s, [[0, 0], [5, 0.5], [10, 1], [60, 0.55], [110, 0.1], [1000, 0.1]]);
  assert.throws(() => optim.warmupCosineDecaySchedule({ peakValue: 1, warmupSteps: 10, decaySteps: 10 }), /decaySteps \(10\) counts the warm-up/);
});

test("T5's rsqrt decay: 1/√max(step, 10⁴) — 0.01 for 10k steps, then 1/√step", () => {
  const s = optim.rsqrtDecaySchedule();
  expectValues(s, [[0, 0.01], [9999, 0.01], [10000, 0.01], [40000, 0.005], [1e6, 0.001]]);
  const lin = optim.rsqrtDecaySchedule({ linearWarmup: true });
  expectValues(lin, [[0, 0], [2500, 0.0025], [5000, 0.005], [10000, 0.01], [40000, 0.005]]);
  const scaled = optim.rsqrtDecaySchedule({ scale: 2, warmupSteps: 100 });
  expectValues(scaled, [[0, 0.2], [400, 0.1]]);
});

test('linear warm-up then inverse square root', () => {
  const s = optim.warmupRsqrtSchedule({ peakValue: 1e-3, warmupSteps: 100 });
  expectValues(s, [[0, 0], [50, 5e-4], [100, 1e-3], [400, 5e-4], [10000, 1e-4]]);
  // Default warm-up is 10k steps.
  expectValues(optim.warmupRsqrtSchedule({ peakValue: 1 }), [[5000, 0.5], [40000, 0.5]]);
});

test('joinSchedules shifts the step for each later schedule', () => {
  const s = optim.joinSchedules([optim.constantSchedule(1), optim.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 4 })], [10]);
  expectValues(s, [[0, 1], [9, 1], [10, 1], [12, 0.5], [14, 0]]);
  assert.throws(() => optim.joinSchedules([optim.constantSchedule(1)], [3]), /1 schedules need 0 boundaries/);
});

test('schedules take int32 Array steps and trace inside jit (one trace for all steps)', () => {
  const s = optim.warmupCosineDecaySchedule({ peakValue: 1, warmupSteps: 10, decaySteps: 110 });
  const f = jit((step: Array) => s(step));
  const steps = [0, 5, 10, 60, 110];
  const eager = at(s, steps);
  const traced = steps.map((k) => f(np.array(k, { dtype: 'int32' })).item() as number);
  close(np.array(traced, { dtype: 'float32' }), eager, { rtol: 1e-6 });
  assert.equal(f.stats.traces, 1);
});

test('bad hyperparameters are named', () => {
  assert.throws(() => optim.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 0 }), /linearSchedule transitionSteps must be > 0/);
  assert.throws(() => optim.rsqrtDecaySchedule({ warmupSteps: -1 }), /rsqrtDecaySchedule warmupSteps must be > 0/);
  assert.throws(() => optim.constantSchedule(NaN), /constantSchedule value must be a finite number/);
});
