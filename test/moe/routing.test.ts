/**
 * Routers: capacity conventions, priority placement (top-1 before top-2, overflow dropped),
 * batch-prioritized routing, jitter and keys, renormalization, selection bias, dense/index forms
 * agreeing exactly, padding, expert choice (fills every expert, aux 0, causal refused) and task
 * routing (table and learned).
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Array, np, random } from '../../src/index.js';
import { moe, type TokenChoiceConfig } from '../../src/nn/moe/index.js';
import { assertClose, identityRouter, logitsFor } from './helpers.js';

const evalOpts = { train: false } as const;

/** Token positions per expert slot as lists (the sentinel S removed). */
function slots(ei: Array, S: number): number[][][] {
  return (ei.toArray() as number[][][]).map((g) => g.map((e) => e.filter((s) => s !== S)));
}

test('capacity: ×k vs per-choice, train/eval factors, minimum, dropless', () => {
  const tc = (o: Partial<TokenChoiceConfig>) => moe.TokenChoiceRouter({ numExperts: 4, ...o });
  // times_k (default): round(cf · S · k / E), capped at S
  assert.equal(tc({ k: 2 }).capacity(16, true), 10); // 1.25·16·2/4
  assert.equal(tc({ k: 2 }).capacity(16, false), 16); // 2·16·2/4 = 16
  assert.equal(tc({ k: 2 }).capacity(64, false), 64);
  assert.equal(tc({ k: 2 }).capacity(64, true), 40);
  // per_choice: round(cf · S / E)
  assert.equal(tc({ k: 2, capacityMode: 'per_choice' }).capacity(64, true), 20);
  assert.equal(tc({ k: 2, capacityMode: 'per_choice' }).capacity(64, false), 32);
  // minimum capacity 4 by default
  assert.equal(moe.TokenChoiceRouter({ numExperts: 8, k: 1 }).capacity(8, true), 4);
  assert.equal(moe.TokenChoiceRouter({ numExperts: 8, k: 1, minCapacity: 1 }).capacity(8, true), 1);
  // dropless: S
  assert.equal(tc({ k: 1, dropless: true }).capacity(40, true), 40);
  // expert choice: round(c · S / E)
  assert.equal(moe.ExpertChoiceRouter({ numExperts: 4 }).capacity(16, true), 8);
  assert.equal(moe.ExpertChoiceRouter({ numExperts: 4, capacityFactor: 1 }).capacity(10, true), 3); // round(2.5) = 3
  assert.throws(() => tc({ capacityMode: 'x' as never }), /capacityMode/);
  assert.throws(() => tc({ k: 5 }), /k=5/);
});

test('top-1 choices get slots before top-2 choices; overflow is dropped', () => {
  // E = 2, k = 2: tokens 0, 1 prefer e0, tokens 2, 3 prefer e1; C = 2
  const x = logitsFor([[[0.8, 0.2], [0.7, 0.3], [0.3, 0.7], [0.1, 0.9]]]);
  const r = moe.TokenChoiceRouter({ numExperts: 2, k: 2, evalCapacityFactor: 1, minCapacity: 1, capacityMode: 'per_choice' });
  const out = r.apply(identityRouter(2), x, evalOpts);
  assert.equal(out.capacity, 2);
  // e1 takes the top-1 choices of tokens 2, 3 (not the earlier top-2 choices of tokens 0, 1)
  assert.deepEqual(slots(out.expertIndex, 4), [[[0, 1], [2, 3]]]);
  const m = moe.metricsToNumbers(out.metrics);
  assert.equal(m.droppedFraction, 0); // every token got its top-1
  assert.equal(m.assignmentDropFraction, 0.5); // every top-2 choice was dropped
  assertClose(m.expertsPerTokenHistogram, [0, 1, 0]);
  assertClose(m.expertDemand, [1, 1]);
});

test('capacity overflow drops the lowest-priority tokens; batch-prioritized routing changes which', () => {
  // every token prefers e0; top-1 probabilities differ; C = 2
  const p = [0.6, 0.9, 0.55, 0.95, 0.7, 0.8];
  const x = logitsFor([p.map((v) => [v, 1 - v])]);
  const cfg = { numExperts: 2, k: 1, evalCapacityFactor: 2 / 3, minCapacity: 1 };
  const plain = moe.TokenChoiceRouter(cfg).apply(identityRouter(2), x, evalOpts);
  assert.equal(plain.capacity, 2);
  // position order: tokens 0 and 1 keep their slots, 2..5 are dropped
  assert.deepEqual(slots(plain.expertIndex, 6), [[[0, 1], []]]);
  const bpr = moe.TokenChoiceRouter({ ...cfg, batchPrioritized: true }).apply(identityRouter(2), x, evalOpts);
  // by top-1 probability: token 3 (0.95) then token 1 (0.9)
  assert.deepEqual(slots(bpr.expertIndex, 6), [[[3, 1], []]]);
  for (const o of [plain, bpr]) {
    const m = moe.metricsToNumbers(o.metrics);
    assertClose(m.droppedFraction as number, 4 / 6);
    assertClose(m.expertLoad, [1, 0]);
    assertClose(m.loadMaxOverMean as number, 2);
    assertClose(m.expertUsage as number, 0.5);
  }
  // combine weights are the router probabilities of the kept tokens
  assertClose((bpr.combineWeights.toArray() as number[][][])[0][0], [0.95, 0.9], 1e-6);
  // dropless keeps everyone
  const dl = moe.TokenChoiceRouter({ ...cfg, dropless: true }).apply(identityRouter(2), x, evalOpts);
  assert.deepEqual(slots(dl.expertIndex, 6), [[[0, 1, 2, 3, 4, 5], []]]);
  assert.equal(moe.metricsToNumbers(dl.metrics).droppedFraction, 0);
});

test('dense and index forms agree exactly; combine weights raw or renormalized', () => {
  const x = random.normal(random.key(3), [3, 7, 5]);
  for (const renormalize of [false, true]) {
    const r = moe.TokenChoiceRouter({ numExperts: 5, k: 2, renormalize, minCapacity: 1, evalCapacityFactor: 0.8 });
    const params = r.init(random.key(1), 5);
    const out = r.apply(params, x, evalOpts);
    const ei = out.expertIndex.toArray() as number[][][];
    const cw = out.combineWeights.toArray() as number[][][];
    const dispatch = out.dispatch.toArray() as number[][][][];
    const combine = out.combine.toArray() as number[][][][];
    const probs = out.probs.toArray() as number[][][];
    const [G, S, E, C] = out.dispatch.shape;
    for (let g = 0; g < G; g++) {
      for (let s = 0; s < S; s++) {
        const order = [...probs[g][s].keys()].sort((a, b) => probs[g][s][b] - probs[g][s][a]);
        const top = order.slice(0, 2);
        const norm = renormalize ? probs[g][s][top[0]] + probs[g][s][top[1]] : 1;
        for (let e = 0; e < E; e++) {
          for (let c = 0; c < C; c++) {
            const inSlot = ei[g][e][c] === s;
            assert.equal(dispatch[g][s][e][c], inSlot ? 1 : 0);
            assert.equal(combine[g][s][e][c], inSlot ? cw[g][e][c] : 0);
            if (inSlot) {
              assert.ok(top.includes(e), 'a token only sits in the slots of its top-k experts');
              assertClose(cw[g][e][c], probs[g][s][e] / norm, 1e-6);
            }
          }
        }
      }
    }
    // each expert's slots are filled in order (no gaps before the first empty slot)
    for (const g of ei) for (const e of g) {
      const firstEmpty = e.indexOf(S);
      if (firstEmpty >= 0) assert.ok(e.slice(firstEmpty).every((v) => v === S));
    }
    if (renormalize) {
      const sums = np.sum(out.combine, [2, 3]).toArray() as number[][];
      const ok = sums.flat().filter((v) => v > 0);
      assert.ok(ok.some((v) => Math.abs(v - 1) < 1e-6), 'a token keeping both choices has weights summing to 1');
    }
  }
});

test('jitter: training only, needs a key, deterministic under a seed', () => {
  const r = moe.TokenChoiceRouter({ numExperts: 4, k: 2, jitterEps: 0.1 });
  const params = r.init(random.key(0), 6);
  const x = random.normal(random.key(1), [2, 8, 6]);
  assert.throws(() => r.apply(params, x, { train: true }), (e: Error) => e instanceof moe.MoeError && /PRNG key/.test(e.message));
  assert.throws(() => r.apply(params, x, {} as never), /train: true/);
  const a = r.apply(params, x, { train: true, key: random.key(7) });
  const b = r.apply(params, x, { train: true, key: random.key(7) });
  const c = r.apply(params, x, { train: true, key: random.key(8) });
  assert.deepEqual(a.probs.toArray(), b.probs.toArray());
  assert.deepEqual(a.expertIndex.toArray(), b.expertIndex.toArray());
  assert.notDeepEqual(a.probs.toArray(), c.probs.toArray());
  // eval ignores the key: no jitter
  const e1 = r.apply(params, x, { train: false, key: random.key(7) });
  const e2 = r.apply(params, x, { train: false });
  assert.deepEqual(e1.probs.toArray(), e2.probs.toArray());
  // the jitter is multiplicative in [1 − ε, 1 + ε] on the inputs: logits move by at most ε·|x|·|W|
  const lin = (p: Array) => np.log(p);
  const dmax = np.max(np.abs(np.subtract(lin(a.probs), lin(e1.probs)))).item() as number;
  assert.ok(dmax > 0 && dmax < 0.5, `jitter moved log-probabilities by ${dmax}`);
});

test('padding tokens take no slots and make no choices', () => {
  const x = random.normal(random.key(5), [1, 6, 3]);
  const r = moe.TokenChoiceRouter({ numExperts: 3, k: 2, minCapacity: 1 });
  const params = r.init(random.key(2), 3);
  const mask = np.array([[1, 0, 1, 1, 0, 1]], { dtype: 'bool' });
  const out = r.apply(params, x, { train: false, paddingMask: mask });
  const used = new Set((out.expertIndex.toArray() as number[][][]).flat(2));
  assert.ok(!used.has(1) && !used.has(4), 'padding positions never appear in a slot');
  const m = moe.metricsToNumbers(out.metrics);
  assertClose((m.expertDemand as number[]).reduce((a, b) => a + b, 0), 2); // Σ f = k over real tokens
  assertClose((m.expertsPerTokenHistogram as number[]).reduce((a, b) => a + b, 0), 1);
  assert.throws(() => r.apply(params, x, { train: false, paddingMask: np.ones([1, 5]) }), /paddingMask must be an Array of shape \[1, 6\]/);
});

test('selection bias changes the choice but not the combine weights; updateBias', () => {
  const x = logitsFor([[[0.5, 0.3, 0.2], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3]]]);
  const r = moe.TokenChoiceRouter({ numExperts: 3, k: 1, minCapacity: 3 });
  const bias = np.array([0, 0, 5], { dtype: 'float32' });
  const out = r.apply(identityRouter(3), x, { train: false, selectionBias: bias });
  assert.deepEqual(slots(out.expertIndex, 3), [[[], [], [0, 1, 2]]]);
  // weights are the unbiased probabilities of expert 2
  assertClose((out.combineWeights.toArray() as number[][][])[0][2], [0.2, 0.1, 0.3], 1e-6);
  assertClose(moe.metricsToNumbers(out.metrics).expertDemand, [0, 0, 1]);
  // the update lowers overloaded experts and raises the others: load [0,0,1], mean 1/3
  const nb = moe.updateBias(bias, out.metrics.expertDemand!, 0.5);
  assertClose(nb.toArray(), [0.5, 0.5, 4.5]);
  assert.throws(() => r.apply(identityRouter(3), x, { train: false, selectionBias: np.zeros([2]) }), /selectionBias must be an Array of shape \[3\]/);
  assert.throws(() => moe.updateBias(bias, np.zeros([2]), 0.1), /same length/);
});

test('expert choice fills every expert exactly to capacity with the top-C tokens; aux loss 0', () => {
  const G = 2, S = 8, E = 4;
  const r = moe.ExpertChoiceRouter({ numExperts: E });
  const params = r.init(random.key(4), 6);
  const x = random.normal(random.key(6), [G, S, 6]);
  const out = r.apply(params, x, evalOpts);
  const C = out.capacity;
  assert.equal(C, 4); // round(2 · 8 / 4)
  assert.equal(out.auxLoss.item(), 0);
  assert.ok((out.zLoss.item() as number) > 0);
  const ei = out.expertIndex.toArray() as number[][][];
  const probs = out.probs.toArray() as number[][][];
  const cw = out.combineWeights.toArray() as number[][][];
  for (let g = 0; g < G; g++) {
    for (let e = 0; e < E; e++) {
      assert.ok(ei[g][e].every((s) => s >= 0 && s < S), 'no empty slot');
      assert.equal(new Set(ei[g][e]).size, C, 'C distinct tokens');
      const want = [...globalThis.Array(S).keys()].sort((a, b) => probs[g][b][e] - probs[g][a][e] || a - b).slice(0, C);
      assert.deepEqual(ei[g][e], want, 'the top-C tokens by probability, best first');
      ei[g][e].forEach((s, c) => assertClose(cw[g][e][c], probs[g][s][e], 1e-7));
    }
  }
  const m = moe.metricsToNumbers(out.metrics);
  assertClose(m.expertUsage as number, 1);
  assertClose(m.expertLoad, [0.25, 0.25, 0.25, 0.25]);
  const h = m.expertsPerTokenHistogram as number[];
  assert.equal(h.length, E + 1);
  assertClose(h.reduce((a, b) => a + b, 0), 1);
  assertClose(h.reduce((a, b, i) => a + b * i, 0), (E * C) / S); // mean experts per token = c
  assertClose(m.droppedFraction as number, h[0]);
  // padding: never taken, its slots stay empty
  const mask = np.array([[1, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0]], { dtype: 'int32' });
  const pm = r.apply(params, x, { train: false, paddingMask: mask });
  const eim = pm.expertIndex.toArray() as number[][][];
  eim[0].forEach((e) => assert.deepEqual(e.filter((s) => s < S).sort(), e.filter((s) => s < 6).sort()));
  eim[1].forEach((e) => assert.equal(e.filter((s) => s < S).length, 3)); // only 3 real tokens
});

test('expert choice refuses causal use with a clear error', () => {
  const check = (e: unknown) => {
    assert.ok(e instanceof moe.MoeError);
    assert.match(e.message, /expert-choice routing cannot be used in a causal \(autoregressive\) decoder/);
    assert.match(e.message, /later tokens/);
    assert.match(e.message, /token_choice/);
    return true;
  };
  assert.throws(() => moe.ExpertChoiceRouter({ numExperts: 4, causal: true }), check);
  const r = moe.ExpertChoiceRouter({ numExperts: 4 });
  const p = r.init(random.key(0), 3);
  assert.throws(() => r.apply(p, np.zeros([1, 4, 3]), { train: false, causal: true }), check);
  assert.throws(() => moe.MoeLayer({ numExperts: 4, mlpDim: 4, causal: true, router: { kind: 'expert_choice' } }), check);
  assert.throws(() => r.apply(p, np.zeros([1, 4, 3]), { train: false, selectionBias: np.zeros([4]) }), /no effect on expert choice/);
});

test('task routing: a fixed table sends every token of an example to its task experts', () => {
  const r = moe.TaskRouter({ numExperts: 4, numTasks: 3, table: [[0, 1], [2, 3], [3, 0]] });
  const x = random.normal(random.key(1), [2, 5, 3]);
  const taskId = np.array([[0, 0, 0, 0, 0], [2, 2, 2, 2, 2]], { dtype: 'int32' });
  const out = r.apply({}, x, { train: true, taskId });
  const s = slots(out.expertIndex, 5);
  assert.equal(out.capacity, 5); // dropless by default
  assert.deepEqual(s[0], [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [], []]);
  assert.deepEqual(s[1], [[0, 1, 2, 3, 4], [], [], [0, 1, 2, 3, 4]]);
  assertClose((out.combineWeights.toArray() as number[][][])[0][0], [0.5, 0.5, 0.5, 0.5, 0.5]);
  assert.equal(out.auxLoss.item(), 0);
  assert.equal(out.zLoss.item(), 0);
  assert.deepEqual(r.taskExperts({}, 1), { experts: [2, 3], weights: [0.5, 0.5] });
  assert.throws(() => r.apply({}, x, { train: true }), /needs \{ taskId \}/);
  assert.throws(() => r.apply({}, x, { train: true, taskId: np.full([2, 5], 3, 'int32') }), /task id 3 is outside 0..2/);
  assert.throws(() => moe.TaskRouter({ numExperts: 4, numTasks: 2, table: [[0, 0], [1, 2]] }), /repeats an expert/);
  assert.throws(() => moe.TaskRouter({ numExperts: 4, numTasks: 2, table: [[0, 1]] }), /one row per task/);
});

test('task routing: a learned task embedding, the same experts for all tokens of a task', () => {
  const r = moe.TaskRouter({ numExperts: 6, numTasks: 4, k: 2 });
  const params = r.init(random.key(9), 3);
  assert.deepEqual(params.task_embedding!.shape, [4, 6]);
  const x = random.normal(random.key(2), [3, 4, 3]);
  const taskId = np.array([[1, 1, 1, 1], [3, 3, 3, 3], [1, 1, 0, 0]], { dtype: 'int32' });
  const out = r.apply(params, x, { train: false, taskId });
  const s = slots(out.expertIndex, 4);
  const expertsOf = (g: number, tok: number) => s[g].map((e, i) => (e.includes(tok) ? i : -1)).filter((i) => i >= 0);
  for (const [g, tok, task] of [[0, 0, 1], [0, 3, 1], [1, 2, 3], [2, 1, 1], [2, 2, 0]]) {
    assert.deepEqual(expertsOf(g, tok), [...r.taskExperts(params, task).experts].sort((a, b) => a - b));
  }
  // combine weights are the task's router probabilities
  const te = r.taskExperts(params, 3);
  const cw = out.combineWeights.toArray() as number[][][];
  te.experts.forEach((e, i) => assertClose(cw[1][e][0], te.weights[i], 1e-6));
  assert.ok((out.auxLoss.item() as number) > 0 && (out.zLoss.item() as number) > 0);
});

test('makeRouter dispatches on kind and rejects unknown kinds', () => {
  assert.equal(moe.makeRouter({ kind: 'token_choice', numExperts: 2 }).kind, 'token_choice');
  assert.equal(moe.makeRouter({ kind: 'expert_choice', numExperts: 2 }).kind, 'expert_choice');
  assert.equal(moe.makeRouter({ kind: 'task', numExperts: 2, numTasks: 2, k: 1 }).kind, 'task');
  assert.throws(() => moe.makeRouter({ kind: 'hash', numExperts: 2 } as never), /unknown router kind "hash"/);
  const r = moe.TokenChoiceRouter({ numExperts: 2 });
  assert.throws(() => r.apply(r.init(random.key(0), 3), np.zeros([4, 3]), evalOpts), /grouped tokens/);
  assert.throws(() => r.apply(r.init(random.key(0), 3), np.zeros([1, 4, 2]), evalOpts), /dModel 2/);
});
