// Gradient accumulation equals one big batch for a mean loss (accumulateGrads and multiSteps),
// and every optimizer traces under makeGraph and runs under jit with the same results as eager,
// without retracing as the step counter advances.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Array, ShapeDtypeStruct, evalGraph, jit, makeGraph, np, random, tree, valueAndGrad } from '../../src/index.js';
import { optim } from '../../src/optim/index.js';
import type { GradientTransformation } from '../../src/optim/index.js';
import { close, treeClose } from './helpers.js';

type Params = { w: Array; b: Array };
type Batch = { x: Array; y: Array };

/** Mean squared error of a linear model: mean((x·w + b − y)²). */
const loss = (p: Params, batch: Batch): Array => np.mean(np.square(np.subtract(np.add(np.matmul(batch.x, p.w), p.b), batch.y)));

function data(): { params: Params; batch: Batch } {
  const [k1, k2, k3, k4] = random.split(random.key(42), 4);
  return {
    params: { w: random.normal(k1, [3, 2]), b: random.normal(k2, [2]) },
    batch: { x: random.normal(k3, [8, 3]), y: random.normal(k4, [8, 2]) },
  };
}

test('accumulateGrads over 4 microbatches equals the gradient of the whole batch', () => {
  const { params, batch } = data();
  const [bigLoss, bigGrads] = valueAndGrad(loss)(params, batch);
  const micro = optim.splitMicrobatches(batch, 4);
  assert.equal(micro.length, 4);
  assert.deepEqual(micro[0].x.shape, [2, 3]);
  const [accLoss, accGrads] = optim.accumulateGrads(loss, params, micro);
  close(accLoss, bigLoss.item() as number, { rtol: 1e-6 });
  treeClose(accGrads, bigGrads, { rtol: 1e-5, atol: 1e-7 });
  const [sumLoss, sumGrads] = optim.accumulateGrads(loss, params, micro, { reduce: 'sum' });
  close(sumLoss, 4 * (bigLoss.item() as number), { rtol: 1e-6 });
  close(sumGrads.b, (np.multiply(bigGrads.b, 4).toArray() as number[]), { rtol: 1e-5, atol: 1e-7 });
  // hasAux: the aux values come back per microbatch.
  const [[l2, aux]] = optim.accumulateGrads((p: Params, b: Batch) => [loss(p, b), b.x.shape[0]], params, micro, { hasAux: true });
  close(l2, bigLoss.item() as number, { rtol: 1e-6 });
  assert.deepEqual((aux as Array[]).map((a) => a.item()), [2, 2, 2, 2]);
  assert.throws(() => optim.splitMicrobatches(batch, 3), /leading size 8, not divisible into 3 microbatches/);
});

test('accumulateGrads runs inside jit and matches eager', () => {
  const { params, batch } = data();
  const f = jit((p: Params, b: Batch) => optim.accumulateGrads(loss, p, optim.splitMicrobatches(b, 2)));
  const [l, g] = f(params, batch);
  const [le, ge] = optim.accumulateGrads(loss, params, optim.splitMicrobatches(batch, 2));
  close(l, le.item() as number, { rtol: 1e-6 });
  treeClose(g, ge, { rtol: 1e-5, atol: 1e-7 });
});

test('multiSteps(adamw, 4): three zero updates, then one AdamW step on the mean gradient', () => {
  const { params, batch } = data();
  const inner = optim.adamw(0.01, { weightDecay: 0.1 });
  const ms = optim.multiSteps(inner, 4);
  let p = params;
  let s = ms.init(p);
  const micro = optim.splitMicrobatches(batch, 4);
  for (let i = 0; i < 4; i++) {
    const g = valueAndGrad(loss)(params, micro[i])[1]; // grads at the same params, as in accumulation
    const [u, s2] = ms.update(g, s, p);
    s = s2;
    if (i < 3) {
      treeClose(u, tree.map((x: Array) => np.zeros_like(x), u));
      assert.equal(ms.hasUpdated(s).item(), false);
      assert.equal(s.innerState[0].count.item(), 0, 'the inner optimizer is untouched until the k-th microbatch');
      assert.equal(s.miniStep.item(), i + 1);
    } else {
      assert.equal(ms.hasUpdated(s).item(), true);
      assert.equal(s.gradientStep.item(), 1);
      assert.equal(s.miniStep.item(), 0);
      treeClose(s.accGrads, tree.map((x: Array) => np.zeros_like(x), s.accGrads));
    }
    p = optim.applyUpdates(p, u);
  }
  const bigGrads = valueAndGrad(loss)(params, batch)[1];
  const [uBig] = inner.update(bigGrads, inner.init(params), params);
  treeClose(p, optim.applyUpdates(params, uBig), { rtol: 1e-5, atol: 1e-6 });
  assert.throws(() => optim.multiSteps(inner, 0), /everyK must be a positive integer/);
});

/** A train step: loss, grads, optimizer update, new params. */
function trainStep(opt: GradientTransformation) {
  return (p: Params, s: unknown, b: Batch): [Params, unknown, Array] => {
    const [l, g] = valueAndGrad(loss)(p, b);
    const [u, s2] = opt.update(g, s, p);
    return [optim.applyUpdates(p, u), s2, l];
  };
}

const optimizers: [string, () => GradientTransformation][] = [
  ['sgd+nesterov', () => optim.sgd(0.05, { momentum: 0.9, nesterov: true })],
  ['adamw+clip+cosine', () => optim.chain(optim.clipByGlobalNorm(1), optim.adamw(optim.warmupCosineDecaySchedule({ peakValue: 0.01, warmupSteps: 2, decaySteps: 10 }), { mask: optim.maskByPath((path) => path === 'w') }))],
  ['adafactor', () => optim.adafactor()],
  ['adafactor+momentum+rsqrt', () => optim.adafactor({ momentum: 0.9, learningRate: optim.rsqrtDecaySchedule({ warmupSteps: 2 }), weightDecayRate: 1e-3 })],
  ['multiSteps(adafactor, 2)', () => optim.multiSteps(optim.adafactor(), 2)],
];

for (const [name, make] of optimizers) {
  test(`${name}: jit equals eager over 4 steps, with a single trace`, () => {
    const { params, batch } = data();
    const opt = make();
    const step = trainStep(opt);
    const jstep = jit(step);
    let pe: Params = params, se: unknown = opt.init(params);
    let pj: Params = params, sj: unknown = opt.init(params);
    for (let i = 0; i < 4; i++) {
      let le: Array, lj: Array;
      [pe, se, le] = step(pe, se, batch);
      [pj, sj, lj] = jstep(pj, sj, batch);
      close(lj, le.item() as number, { rtol: 1e-5, what: `${name} loss at step ${i}` });
    }
    treeClose(pj, pe, { rtol: 1e-5, atol: 1e-6 });
    treeClose(sj, se, { rtol: 1e-5, atol: 1e-6 });
    assert.equal(jstep.stats.traces, 1, 'the step counter is data, so the step is traced once');
    // makeGraph with abstract inputs: update reads no values on the JS side.
    const abstract = (t: unknown) => tree.map((x: Array) => new ShapeDtypeStruct(x.shape, x.dtype), t);
    const g = makeGraph((p: Params, s: unknown, b: Batch) => step(p, s, b))(abstract(params), abstract(opt.init(params)), abstract(batch));
    const flatIn = [...tree.leaves(params), ...tree.leaves(opt.init(params)), ...tree.leaves(batch)] as Array[];
    const outs = evalGraph(g, flatIn);
    const [p1] = step(params, opt.init(params), batch);
    treeClose(tree.unflatten(tree.structure(p1), outs.slice(0, tree.leaves(p1).length)), p1, { rtol: 1e-5, atol: 1e-6 });
  });
}
