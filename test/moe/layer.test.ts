/**
 * The MoE layer: params and logical axes, the dense, index and grouped dispatch paths agreeing
 * (values and gradients), the grouped row layout, gradients reaching the router only through the combine weights and the losses,
 * gradient checks against finite differences, jit on the ONNX backend equal to eager,
 * determinism under a seed, grouping with padding, expert dropout, task routing through the
 * layer and the expert-slicing helpers.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Array, checkGrads, defaultBackend, grad, jit, lax, makeGraph, np, random, tree } from '../../src/index.js';
import { nn } from '../../src/nn/index.js';
import { moe, type MoeLayerConfig, type MoeLayerModule, type MoeParams, type RouterSpec } from '../../src/nn/moe/index.js';
import { assertClose, maxAbsDiff } from './helpers.js';

const D = 6;

function layers(cfg: Omit<MoeLayerConfig, 'dispatch'>) {
  return { dense: moe.MoeLayer({ ...cfg, dispatch: 'dense' }), index: moe.MoeLayer({ ...cfg, dispatch: 'index' }), grouped: moe.MoeLayer({ ...cfg, dispatch: 'grouped', groupedMinRowsPerExpert: 0 }) };
}

test('params: batched experts with a leading expert axis; axes match', () => {
  const l = moe.MoeLayer({ numExperts: 4, mlpDim: 8, activation: 'gated-gelu' });
  const p = l.init(random.key(0), D);
  assert.deepEqual(p.router.kernel.shape, [D, 4]);
  assert.deepEqual(p.experts.wi_0!.kernel.shape, [4, D, 8]);
  assert.deepEqual(p.experts.wi_1!.kernel.shape, [4, D, 8]);
  assert.deepEqual(p.experts.wo.kernel.shape, [4, 8, D]);
  nn.checkAxes(p, l.axes());
  const table = nn.paramAxesTable(p, l.axes());
  assert.deepEqual(table.get('router.kernel')!.axes, ['embed', 'unmodeled']);
  assert.deepEqual(table.get('experts.wi_0.kernel')!.axes, ['expert', 'embed', 'mlp']);
  assert.deepEqual(table.get('experts.wo.kernel')!.axes, ['expert', 'mlp', 'embed']);
  const shapes = nn.evalShape((k: Array) => l.init(k, D), random.key(0));
  assert.equal(nn.paramCount(shapes), D * 4 + 3 * 4 * D * 8);
  assert.throws(() => moe.MoeLayer({ numExperts: 4, mlpDim: 8, dispatch: 'sparse' as never }), /dispatch must be 'dense', 'index' or 'grouped'/);
});

test('dense, index and grouped dispatch agree: values, losses and gradients (token and expert choice)', () => {
  const specs: RouterSpec[] = [
    { kind: 'token_choice', k: 2, evalCapacityFactor: 0.75, minCapacity: 1 },
    { kind: 'token_choice', k: 1, batchPrioritized: true, renormalize: true },
    { kind: 'expert_choice', capacityFactor: 1.5 },
    { kind: 'token_choice', k: 2, dropless: true },
  ];
  const x = random.normal(random.key(1), [2, 8, D]);
  for (const router of specs) {
    const { dense, index, grouped } = layers({ numExperts: 4, mlpDim: 5, activation: 'gated-gelu', router });
    const p = dense.init(random.key(2), D);
    const a = dense.apply(p, x);
    for (const other of [index, grouped]) {
      const b = other.apply(p, x);
      assert.ok(maxAbsDiff(a.output, b.output) < 1e-5, `${router.kind}/${other.config.dispatch}: outputs differ by ${maxAbsDiff(a.output, b.output)}`);
      assert.equal(a.auxLoss.item(), b.auxLoss.item());
      assert.equal(a.zLoss.item(), b.zLoss.item());
    }
    const ct = random.normal(random.key(3), [2, 8, D]);
    const loss = (l: MoeLayerModule) => (pp: MoeParams, xx: Array) => {
      const o = l.apply(pp, xx);
      return np.add(np.sum(np.multiply(o.output, ct)), np.add(np.multiply(o.auxLoss, 0.1), np.multiply(o.zLoss, 0.01)));
    };
    const ga = grad(loss(dense), { argnums: [0, 1] })(p, x) as [MoeParams, Array];
    const la = tree.leaves(ga) as Array[];
    for (const other of [index, grouped]) {
      const lb = tree.leaves(grad(loss(other), { argnums: [0, 1] })(p, x)) as Array[];
      assert.equal(la.length, lb.length);
      la.forEach((g, i) => assert.ok(maxAbsDiff(g, lb[i]) < 1e-4, `${router.kind}/${other.config.dispatch}: gradient leaf ${i} differs by ${maxAbsDiff(g, lb[i])}`));
    }
    assert.ok((np.max(np.abs(ga[0].router.kernel)).item() as number) > 0, 'the router gets a gradient');
  }
});

test('gradients reach the router only through the combine weights and the losses', () => {
  const l = moe.MoeLayer({ numExperts: 3, mlpDim: 4, router: { kind: 'token_choice', k: 2, minCapacity: 2, evalCapacityFactor: 0.7 } });
  const p = l.init(random.key(4), D);
  const x = random.normal(random.key(5), [1, 6, D]);
  const ct = random.normal(random.key(6), [1, 6, D]);
  const E = 3;
  /** The layer's output rebuilt from the router's decision, optionally with stopped combine weights. */
  const rebuilt = (kernel: Array, path: 'dense' | 'index', stopCombine: boolean, lossCoef: number) => {
    const r = l.router.apply({ kernel }, x, { train: false });
    const xe = path === 'dense'
      ? np.einsum('gsec,gsd->egcd', r.dispatch, x)
      : np.transpose(lax.gather(x, r.expertIndex, 1, 1), [1, 0, 2, 3]);
    const h = np.relu(lax.dotGeneral(xe, p.experts.wi!.kernel, { lhsContracting: [3], rhsContracting: [1], lhsBatch: [0], rhsBatch: [0] }));
    const out = lax.dotGeneral(h, p.experts.wo.kernel, { lhsContracting: [3], rhsContracting: [1], lhsBatch: [0], rhsBatch: [0] });
    let y: Array;
    if (path === 'dense') {
      const combine = stopCombine ? lax.stopGradient(r.combine) : r.combine;
      y = np.einsum('gsec,egcd->gsd', combine, out);
    } else {
      const w = stopCombine ? lax.stopGradient(r.combineWeights) : r.combineWeights;
      y = lax.scatterAdd(np.zeros([1, 6, D]), r.expertIndex, np.multiply(np.transpose(out, [1, 0, 2, 3]), np.expandDims(w, -1)), 1, 1);
    }
    return np.add(np.sum(np.multiply(y, ct)), np.multiply(np.add(r.auxLoss, r.zLoss), lossCoef));
  };
  const viaLayer = grad((k: Array) => np.sum(np.multiply(l.apply({ ...p, router: { kernel: k } }, x).output, ct)))(p.router.kernel);
  assert.ok((np.max(np.abs(viaLayer)).item() as number) > 1e-4);
  for (const path of ['dense', 'index'] as const) {
    // same gradient as the layer when the combine weights are live …
    assert.ok(maxAbsDiff(grad((k: Array) => rebuilt(k, path, false, 0))(p.router.kernel), viaLayer) < 1e-5);
    // … and exactly zero when they are stopped: the dispatch (one-hot / indices) carries none
    const g0 = grad((k: Array) => rebuilt(k, path, true, 0))(p.router.kernel);
    assert.deepEqual([...g0.dataSync()], new globalThis.Array(D * E).fill(0), `${path}: dispatch leaked a gradient`);
    // with stopped combine weights the only gradient left is the losses'
    const gl = grad((k: Array) => rebuilt(k, path, true, 1))(p.router.kernel);
    const gLoss = grad((k: Array) => {
      const r = l.router.apply({ kernel: k }, x, { train: false });
      return np.add(r.auxLoss, r.zLoss);
    })(p.router.kernel);
    assert.ok(maxAbsDiff(gl, gLoss) < 1e-7);
    assert.ok((np.max(np.abs(gLoss)).item() as number) > 0);
  }
});

test('checkGrads of the layer (float64, tiny): token choice, expert choice, task routing', () => {
  const opts = { atol: 1e-6, rtol: 1e-5, maxElements: 16, directions: 2 };
  const x = random.normal(random.key(7), [2, 4, 3], { dtype: 'float64' });
  const cases: [RouterSpec, MoeLayerConfig['dispatch'], string][] = [
    [{ kind: 'token_choice', k: 2, minCapacity: 1, evalCapacityFactor: 1 }, 'index', 'gated-gelu'],
    [{ kind: 'token_choice', k: 1 }, 'dense', 'relu'],
    [{ kind: 'expert_choice' }, 'index', 'gelu'],
    [{ kind: 'token_choice', k: 2, minCapacity: 1, evalCapacityFactor: 0.8 }, 'grouped', 'gated-gelu'],
  ];
  for (const [router, dispatch, activation] of cases) {
    const l = moe.MoeLayer({ numExperts: 3, mlpDim: 4, router, dispatch, groupedMinRowsPerExpert: 0, activation: activation as 'relu', dtype: 'float64' });
    const p = l.init(random.key(8), 3);
    checkGrads((pp: MoeParams, xx: Array) => {
      const o = l.apply(pp, xx);
      return [o.output, o.auxLoss, o.zLoss];
    }, [p, x], opts);
  }
  const t = moe.MoeLayer({ numExperts: 3, mlpDim: 4, router: { kind: 'task', numTasks: 2, k: 2 }, dtype: 'float64' });
  const taskId = np.array([0, 1], { dtype: 'int32' });
  checkGrads((pp: MoeParams, xx: Array) => {
    const o = t.apply(pp, xx, { taskId });
    return [o.output, o.auxLoss, o.zLoss];
  }, [t.init(random.key(9), 3), x], opts);
});

test('jit on the default (ONNX) backend equals eager', () => {
  assert.equal(defaultBackend(), 'onnx');
  const x = random.normal(random.key(10), [2, 8, D]);
  for (const dispatch of ['dense', 'index', 'grouped'] as const) {
    for (const router of [{ kind: 'token_choice', k: 2, batchPrioritized: true }, { kind: 'expert_choice' }] as RouterSpec[]) {
      const l = moe.MoeLayer({ numExperts: 4, mlpDim: 8, activation: 'gated-gelu', router, dispatch, groupedMinRowsPerExpert: 0, expertDropoutRate: 0.2 });
      const p = l.init(random.key(11), D);
      const key = random.key(12);
      const step = (pp: MoeParams, xx: Array, kk: Array) => {
        const o = l.apply(pp, xx, { train: true, key: kk });
        return { y: o.output, aux: o.auxLoss, z: o.zLoss, ei: o.routing.expertIndex, load: o.metrics.expertLoad, hist: o.metrics.expertsPerTokenHistogram };
      };
      const eager = step(p, x, key);
      const jitted = jit(step)(p, x, key);
      assert.ok(maxAbsDiff(eager.y, jitted.y) < 1e-5, `${dispatch}/${router.kind}: outputs differ by ${maxAbsDiff(eager.y, jitted.y)}`);
      assert.deepEqual(jitted.ei.toArray(), eager.ei.toArray());
      assertClose(jitted.aux.item() as number, eager.aux.item() as number, 1e-5);
      assertClose(jitted.z.item() as number, eager.z.item() as number, 1e-5);
      assertClose(jitted.load.toArray(), eager.load.toArray(), 1e-6);
      assertClose(jitted.hist.toArray(), eager.hist.toArray(), 1e-6);
    }
  }
});

test('grouped dispatch: rows sorted by expert, one row per filled slot, dropped tokens and padding get none', () => {
  const E = 4, S = 8, G = 3;
  const l = moe.MoeLayer({ numExperts: E, mlpDim: 5, dispatch: 'grouped', groupedMinRowsPerExpert: 0, groupSize: S, router: { kind: 'token_choice', k: 2, evalCapacityFactor: 0.5, minCapacity: 1 } });
  const p = l.init(random.key(30), D);
  const x = random.normal(random.key(31), [G, S, D]);
  const mask = np.array([[1, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0, 0]], { dtype: 'int32' });
  const o = l.apply(p, x, { paddingMask: mask });
  const C = o.capacity;
  const gd = moe.groupedDispatch(o.routing, G, S, 2);
  assert.equal(gd.rows, G * Math.min(E * C, S * 2));
  const ei = o.routing.expertIndex.toArray() as number[][][];
  const w = o.routing.combineWeights.toArray() as number[][][];
  // expected rows: expert-major, then group, then slot — the filled slots only
  const want: [number, number][] = [];
  const sizes = new globalThis.Array<number>(E).fill(0);
  for (let e = 0; e < E; e++) for (let g = 0; g < G; g++) for (let c = 0; c < C; c++) if (ei[g][e][c] < S) { want.push([g * S + ei[g][e][c], w[g][e][c]]); sizes[e]++; }
  assert.ok(want.length < G * S * 2, 'capacity 0.5 drops some assignments');
  assert.deepEqual(gd.groupSizes.toArray(), sizes);
  const tok = gd.rowToken.toArray() as number[], rw = gd.rowWeight.toArray() as number[];
  want.forEach(([t, wt], i) => {
    assert.equal(tok[i], t, `row ${i}`);
    assertClose(rw[i], wt, 1e-7);
  });
  for (let i = want.length; i < gd.rows; i++) assert.equal(tok[i], -1, `unused row ${i}`);
  const padded = (mask.toArray() as number[][]).flatMap((r, g) => r.flatMap((v, s) => (v ? [] : [g * S + s])));
  assert.ok(padded.every((t) => !tok.includes(t)), 'padding tokens get no row');
  // the layer output equals the index path's (same routing)
  const idx = moe.MoeLayer({ ...l.config, dispatch: 'index' }).apply(p, x, { paddingMask: mask });
  assert.ok(maxAbsDiff(o.output, idx.output) < 1e-5);
});

test('grouped dispatch with row partitions equals the index path (values and gradients); each partition holds only its own tokens', () => {
  const x = random.normal(random.key(60), [4, 16, D]); // 4 routing groups of 16
  const ct = random.normal(random.key(61), [4, 16, D]);
  const cfg = { numExperts: 4, mlpDim: 6, activation: 'gated-gelu' as const, groupedMinRowsPerExpert: 0, router: { kind: 'token_choice' as const, k: 2, evalCapacityFactor: 0.75, minCapacity: 1 } };
  const index = moe.MoeLayer({ ...cfg, dispatch: 'index' });
  const p = index.init(random.key(62), D);
  const loss = (l: MoeLayerModule) => (pp: MoeParams) => np.sum(np.multiply(l.apply(pp, x).output, ct));
  const want = tree.leaves(grad(loss(index))(p)) as Array[];
  for (const P of [2, 4]) {
    const l = moe.MoeLayer({ ...cfg, dispatch: 'grouped', groupedPartitions: P });
    assert.ok(maxAbsDiff(l.apply(p, x).output, index.apply(p, x).output) < 1e-5, `P=${P}: outputs`);
    const got = tree.leaves(grad(loss(l))(p)) as Array[];
    got.forEach((g, i) => assert.ok(maxAbsDiff(g, want[i]) < 1e-4, `P=${P}: gradient leaf ${i} differs by ${maxAbsDiff(g, want[i])}`));
    const o = l.apply(p, x);
    const gd = moe.groupedDispatch(o.routing, 4, 16, 2, P);
    assert.deepEqual(gd.rowToken.shape, [P, gd.rows]);
    assert.deepEqual(gd.groupSizes.shape, [P, 4]);
    // partition q's rows hold tokens of its groups only (indices within the partition), sorted by expert
    const tok = gd.rowToken.toArray() as number[][];
    const sizes = gd.groupSizes.toArray() as number[][];
    const ei = o.routing.expertIndex.toArray() as number[][][];
    for (let q = 0; q < P; q++) {
      const Gp = 4 / P;
      const want: number[] = [];
      for (let e = 0; e < 4; e++) for (let g = q * Gp; g < (q + 1) * Gp; g++) for (const s of ei[g][e]) if (s < 16) want.push((g - q * Gp) * 16 + s);
      assert.deepEqual(tok[q].slice(0, want.length), want);
      assert.ok(tok[q].slice(want.length).every((t) => t === -1));
      assert.equal(sizes[q].reduce((a, b) => a + b, 0), want.length);
    }
  }
  assert.throws(() => moe.MoeLayer({ ...cfg, dispatch: 'grouped', groupedPartitions: 3 }).apply(p, x), /groupedPartitions 3 must divide the number of routing groups 4/);
});

test('grouped dispatch uses grouped matmuls from GROUPED_DISPATCH_MIN_ROWS rows per expert, the index path below (same values)', () => {
  const E = 4;
  const uses = (l: MoeLayerModule, p: MoeParams, x: Array) => makeGraph((pp: MoeParams, xx: Array) => l.apply(pp, xx).output)(p, x).eqns.some((e) => e.prim === 'ragged_dot');
  const big = moe.MoeLayer({ numExperts: E, mlpDim: 8, dispatch: 'grouped' });
  const p = big.init(random.key(40), D);
  const many = random.normal(random.key(41), [4, 64, D]); // 256 tokens · k 2 = 512 rows ≥ 32 · 4
  const few = random.normal(random.key(42), [2, 1, D]); // decoding: 2 tokens
  assert.equal(uses(big, p, many), true);
  assert.equal(uses(big, p, few), false);
  const index = moe.MoeLayer({ numExperts: E, mlpDim: 8, dispatch: 'index' });
  assert.ok(maxAbsDiff(big.apply(p, few).output, index.apply(p, few).output) === 0);
  assert.ok(maxAbsDiff(big.apply(p, many).output, index.apply(p, many).output) < 1e-5);
  assert.throws(() => moe.MoeLayer({ numExperts: E, mlpDim: 8, dispatch: 'grouped', groupedMinRowsPerExpert: -1 }), /groupedMinRowsPerExpert must be an integer ≥ 0/);
});

test('the per-group gather / scatter-add of index dispatch: ONNX lowering equals eager, out-of-range indices read 0 and drop', () => {
  // Both lowering regimes of gather: result larger than the operand (MoE dispatch: a zero row is
  // appended and out-of-range indices read it) and smaller (the result is masked); with the group
  // as a batch dim and without. Indices include −1 and values ≥ N.
  const x = random.normal(random.key(20), [3, 5, 4]); // [G, S, d]
  const idx = (n: number, lo: number, hi: number, shape: number[]) =>
    np.array(globalThis.Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => lo + ((i * 7 + 3) % (hi - lo))), { dtype: 'int32' }).reshape(shape);
  const cases: [string, Array, number, number][] = [
    ['batched, result > operand', idx(5, -1, 7, [3, 4, 3]), 1, 1],
    ['batched, result < operand', idx(5, -1, 7, [3, 2]), 1, 1],
    ['unbatched, result > operand', idx(5, -1, 7, [9, 2]), 1, 0],
    ['unbatched, result < operand', idx(3, -1, 4, [2]), 0, 0],
  ];
  for (const [name, ii, axis, bd] of cases) {
    const f = (xx: Array) => {
      const g = lax.gather(xx, ii, axis, bd);
      const s = lax.scatterAdd(np.zeros(xx.shape, 'float32'), ii, np.multiply(g, 2), axis, bd);
      return { g, s, dx: grad((z: Array) => np.sum(np.square(lax.gather(z, ii, axis, bd))))(xx) };
    };
    const eager = f(x);
    const jitted = jit(f)(x);
    for (const k of ['g', 's', 'dx'] as const) assert.ok(maxAbsDiff(eager[k], jitted[k]) < 1e-6, `${name}: ${k} differs by ${maxAbsDiff(eager[k], jitted[k])}`);
    const n = x.shape[axis];
    const bad = globalThis.Array.from(ii.dataSync(), (v) => v < 0 || v >= n);
    assert.ok(bad.some(Boolean) && !bad.every(Boolean), `${name}: the case must mix valid and out-of-range indices`);
    // out-of-range indices read exactly 0 (the eager reference's rule, which the lowering matches)
    if (bd === 1 && axis === 1) {
      const gv = jitted.g.dataSync(), d = x.shape[2], iv = ii.dataSync();
      iv.forEach((v, j) => {
        if (v < 0 || v >= n) for (let c = 0; c < d; c++) assert.equal(gv[j * d + c], 0);
      });
    }
  }
});

test('determinism under a seed: same key, same result; train needs a key; eval needs none', () => {
  const l = moe.MoeLayer({ numExperts: 4, mlpDim: 8, expertDropoutRate: 0.3, router: { kind: 'token_choice', k: 2, jitterEps: 1e-2 } });
  const p = l.init(random.key(13), D);
  const p2 = l.init(random.key(13), D);
  tree.leaves(p).forEach((a, i) => assert.deepEqual((a as Array).toArray(), (tree.leaves(p2)[i] as Array).toArray()));
  const x = random.normal(random.key(14), [2, 8, D]);
  const a = l.apply(p, x, { train: true, key: random.key(1) }).output;
  const b = l.apply(p, x, { train: true, key: random.key(1) }).output;
  const c = l.apply(p, x, { train: true, key: random.key(2) }).output;
  assert.deepEqual(a.toArray(), b.toArray());
  assert.ok(maxAbsDiff(a, c) > 1e-4);
  assert.throws(() => l.apply(p, x, { train: true }), moe.MoeError);
  assert.deepEqual(l.apply(p, x).output.toArray(), l.apply(p, x, { deterministic: true }).output.toArray());
  assert.throws(() => l.apply(p, x, { train: true, deterministic: true }), /contradicts/);
});

test('grouping: the token count is padded to a multiple of the group size; padding is masked', () => {
  const l = moe.MoeLayer({ numExperts: 3, mlpDim: 4, groupSize: 4, router: { kind: 'token_choice', k: 1, minCapacity: 1 } });
  const p = l.init(random.key(15), D);
  const x = random.normal(random.key(16), [1, 5, D]);
  const o = l.apply(p, x);
  assert.equal(o.numGroups, 2);
  assert.equal(o.groupSize, 4);
  assert.deepEqual(o.output.shape, [1, 5, D]);
  // the same as 8 tokens with the last 3 marked as padding
  const x8 = np.concatenate([x, np.full([1, 3, D], 5)], 1);
  const mask = np.array([[1, 1, 1, 1, 1, 0, 0, 0]], { dtype: 'int32' });
  const o8 = l.apply(p, x8, { paddingMask: mask });
  assert.ok(maxAbsDiff(o.output, lax.slice(o8.output, [0, 0, 0], [1, 5, D])) < 1e-6);
  assert.equal(o.auxLoss.item(), o8.auxLoss.item());
  assertClose(o.zLoss.item() as number, o8.zLoss.item() as number, 1e-6);
  // padded tokens output 0 (no expert)
  assert.deepEqual(lax.slice(o8.output, [0, 5, 0], [1, 8, D]).toArray(), np.zeros([1, 3, D]).toArray());
  // rank-2 input [tokens, d]: one group of all tokens
  const o2 = l.apply(p, np.reshape(x, [5, D]));
  assert.deepEqual(o2.output.shape, [5, D]);
  assert.throws(() => l.apply(p, x, { paddingMask: np.ones([5]) }), /paddingMask must have shape \[1, 5\]/);
  // fewer tokens than the group size (decoding one token): one small group, no padding
  const one = l.apply(p, lax.slice(x, [0, 2, 0], [1, 3, D]));
  assert.equal(one.numGroups, 1);
  assert.equal(one.groupSize, 1);
  assert.equal(one.metrics.droppedFraction.item(), 0);
});

test('an expert equals a dense MLP on the tokens routed to it; sliceExperts keeps the chosen experts', () => {
  const l = moe.MoeLayer({ numExperts: 4, mlpDim: 6, activation: 'gated-gelu', router: { kind: 'task', numTasks: 4, table: [[0], [1], [2], [3]] } });
  const p = l.init(random.key(17), D);
  const x = random.normal(random.key(18), [2, 3, D]);
  const taskId = np.array([2, 0], { dtype: 'int32' });
  const o = l.apply(p, x, { taskId });
  const mlp = nn.MLP({ mlpDim: 6, activation: 'gated-gelu' });
  const y2 = mlp.apply(moe.expertAsMlp(p.experts, 2), lax.slice(x, [0, 0, 0], [1, 3, D]));
  const y0 = mlp.apply(moe.expertAsMlp(p.experts, 0), lax.slice(x, [1, 0, 0], [2, 3, D]));
  assert.ok(maxAbsDiff(o.output, np.concatenate([y2, y0], 0)) < 1e-5);
  const s = moe.sliceExperts(p.experts, [3, 1]);
  assert.deepEqual(s.wo.kernel.shape, [2, 6, D]);
  assert.deepEqual(s.wi_0!.kernel.toArray(), np.take(p.experts.wi_0!.kernel, np.array([3, 1], { dtype: 'int32' }), { axis: 0 }).toArray());
  assert.throws(() => moe.sliceExperts(p.experts, [4]), /0..3/);
  assert.throws(() => l.apply(p, x), /pass \{ taskId \}/);
  const fl = moe.moeFlopsPerToken(moe.MoeLayer({ numExperts: 8, mlpDim: 16, router: { kind: 'token_choice', k: 2 } }), 4, 16, true);
  assert.deepEqual(fl, { router: 64, perExpert: 256, activated: 512, withCapacity: ((8 * 5) / 16) * 256 });
});
