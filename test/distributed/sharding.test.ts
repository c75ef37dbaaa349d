// Tests of the sharding representation (meshes, partition specs, shardings, shard shapes,
// device slices, tile assignments, printing) and of the T5X-style logical axis rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tree } from '../../src/index.js';
import { T5 } from '../../src/models/t5.js';
import { LogicalAxes } from '../../src/nn/module.js';
import {
  NamedSharding,
  P,
  ShardingError,
  checkMeshShape,
  deviceSlice,
  isReplicated,
  logicalToMesh,
  makeMeshShape,
  makeSharding,
  meshCoords,
  meshSize,
  replicated,
  shardShape,
  shardingEqual,
  shardingFromJSON,
  shardingToJSON,
  shardingToString,
  shardingsFromAxes,
  specOf,
  tileAssignment,
  type LogicalAxisRules,
  type Sharding,
} from '../../src/distributed/index.js';

const mesh = makeMeshShape({ data: 2, model: 2 });

test('makeMeshShape: axis order, sizes, device numbering', () => {
  assert.deepEqual(mesh.axisNames, ['data', 'model']);
  assert.deepEqual(mesh.shape, [2, 2]);
  assert.equal(meshSize(mesh), 4);
  // row-major: device 1 is data=0, model=1
  assert.deepEqual(meshCoords(mesh, 1), [0, 1]);
  assert.deepEqual(meshCoords(mesh, 2), [1, 0]);
  assert.throws(() => meshCoords(mesh, 4), /device id 4 is out of range .* 0\.\.3/);
  assert.throws(() => makeMeshShape({ data: 0 }), /'data' has size 0; sizes must be positive integers/);
  assert.throws(() => makeMeshShape({ data: 1.5 }), ShardingError);
  assert.throws(() => makeMeshShape({ 'a-b': 2 }), /not an identifier/);
  assert.throws(() => checkMeshShape({ axisNames: ['x', 'x'], shape: [2, 2] }), /repeat a name/);
  assert.throws(() => checkMeshShape({ axisNames: ['x'], shape: [2, 2] }), /1 axis names .* but 2 sizes/);
  assert.equal(meshSize(makeMeshShape({})), 1);
});

test('P and NamedSharding: dims, padding to the rank, validation errors', () => {
  assert.deepEqual(P('data', null, ['x', 'y'], undefined), ['data', null, ['x', 'y'], null]);
  assert.deepEqual(P([]), [null]);
  assert.throws(() => P(''), /entry 0 is an empty string; use null/);
  assert.throws(() => P(3 as never), /entry 0 is 3; each entry is a mesh axis name/);

  const s = NamedSharding(mesh, P('data', null));
  assert.deepEqual(s.dims, [['data'], []]);
  assert.deepEqual(s.partial, []);
  assert.deepEqual(NamedSharding(mesh, P('model'), 3).dims, [['model'], [], []]);
  assert.deepEqual(NamedSharding(mesh, P(['data', 'model'])).dims, [['data', 'model']]);
  assert.deepEqual(specOf(NamedSharding(mesh, P(['data', 'model'], null))), [['data', 'model'], null]);
  assert.deepEqual(specOf(NamedSharding(mesh, P(['model'], 'data'))), ['model', 'data']);

  assert.throws(() => NamedSharding(mesh, P('modle')), /unknown mesh axis 'modle' in dimension 0; the mesh has axes \{data=2, model=2\}/);
  assert.throws(() => NamedSharding(mesh, P('data', 'data')), /mesh axis 'data' is used twice \(in dimension 0 and in dimension 1\)/);
  assert.throws(() => NamedSharding(mesh, P('data', null, 'model'), 2), /has 3 entries but the array has rank 2; give at most one entry per dimension/);
  assert.throws(() => makeSharding(mesh, [['data']], ['data']), /'data' is used twice \(in dimension 0 and in partial\)/);
  assert.throws(() => NamedSharding(mesh, 'data' as never), /must be a partition spec/);

  const r = replicated(mesh, 3);
  assert.deepEqual(r.dims, [[], [], []]);
  assert.ok(isReplicated(r));
  assert.ok(!isReplicated(s));
  // partial axes are kept in mesh order
  assert.deepEqual(makeSharding(makeMeshShape({ a: 2, b: 2, c: 2 }), [[]], ['c', 'a']).partial, ['a', 'c']);
});

test('shardShape pads uneven dims: per-device size is ceil(d / k)', () => {
  assert.deepEqual(shardShape([8, 4], NamedSharding(mesh, P('data', null))), [4, 4]);
  assert.deepEqual(shardShape([8, 4], NamedSharding(mesh, P(['data', 'model'], null))), [2, 4]);
  assert.deepEqual(shardShape([8, 6], NamedSharding(mesh, P(null))), [8, 6]);
  const m = makeMeshShape({ data: 4, model: 2 });
  assert.deepEqual(shardShape([10, 3], NamedSharding(m, P('data', 'model'))), [3, 2]);
  assert.deepEqual(shardShape([5], NamedSharding(m, P('data'))), [2]);
  assert.throws(() => shardShape([5], NamedSharding(m, P('data', 'model'))), /has 2 entries but the array has rank 1/);
});

test('deviceSlice: even, uneven (last devices hold fewer or no valid rows) and multi-axis dims', () => {
  const m = makeMeshShape({ data: 4, model: 2 });
  const s = NamedSharding(m, P('data'));
  // d = 10 over 4: per-device 3 → [0,3) [3,6) [6,9) [9,10)
  const rows = [0, 2, 4, 6].map((dev) => deviceSlice([10], s, dev));
  assert.deepEqual(rows.map((r) => [r.start[0], r.limit[0], r.valid[0], r.index[0]]), [[0, 3, 3, 0], [3, 6, 3, 1], [6, 9, 3, 2], [9, 10, 1, 3]]);
  // devices differing only in the replicated axis hold the same slice
  assert.deepEqual(deviceSlice([10], s, 1), rows[0]);
  // d = 5 over 4: per-device 2 → valid 2, 2, 1, 0
  assert.deepEqual([0, 2, 4, 6].map((dev) => deviceSlice([5], s, dev).valid[0]), [2, 2, 1, 0]);
  assert.deepEqual(deviceSlice([5], s, 6), { index: [3], start: [5], limit: [5], valid: [0] });
  // two mesh axes on one dim: data major, model minor → shard index = data * 2 + model
  const s2 = NamedSharding(m, P(null, ['data', 'model']));
  const dev = 5; // data=2, model=1
  assert.deepEqual(deviceSlice([3, 16], s2, dev), { index: [0, 5], start: [0, 10], limit: [3, 12], valid: [3, 2] });
  // minor-first order reverses the roles
  const s3 = NamedSharding(m, P(null, ['model', 'data']));
  assert.deepEqual(deviceSlice([3, 16], s3, dev).index, [0, 1 * 4 + 2]);
});

test('deviceSlice tiles every dim exactly once per replica group (random shardings)', () => {
  const m = makeMeshShape({ a: 2, b: 3, c: 2 });
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let trial = 0; trial < 40; trial++) {
    const shape = [1 + rnd(9), 1 + rnd(9)];
    const axes = ['a', 'b', 'c'].filter(() => rnd(2) === 1);
    const dims: string[][] = [[], []];
    for (const a of axes) dims[rnd(2)].push(a);
    const s = makeSharding(m, dims);
    for (let d = 0; d < 2; d++) {
      const covered = new Array<number>(shape[d]).fill(0);
      const seen = new Set<number>();
      for (let dev = 0; dev < meshSize(m); dev++) {
        const sl = deviceSlice(shape, s, dev);
        if (seen.has(sl.index[d])) continue;
        seen.add(sl.index[d]);
        assert.equal(sl.limit[d] - sl.start[d], sl.valid[d]);
        assert.ok(sl.valid[d] <= shardShape(shape, s)[d]);
        for (let i = sl.start[d]; i < sl.limit[d]; i++) covered[i]++;
      }
      assert.deepEqual(covered, new Array<number>(shape[d]).fill(1), `dim ${d} of ${JSON.stringify(shape)} under ${shardingToString(s)}`);
    }
  }
});

test('tileAssignment: tile shape (shards per dim, partial, replicated) and the device array', () => {
  assert.deepEqual(tileAssignment(NamedSharding(mesh, P('data', null))), { tileShape: [2, 1, 1, 2], devices: [0, 1, 2, 3] });
  // model tiles dim 0, data tiles dim 1: tile (t0, t1) is held by the device with model=t0, data=t1
  assert.deepEqual(tileAssignment(NamedSharding(mesh, P('model', 'data'))), { tileShape: [2, 2, 1, 1], devices: [0, 2, 1, 3] });
  assert.deepEqual(tileAssignment(replicated(mesh, 2)), { tileShape: [1, 1, 1, 4], devices: [0, 1, 2, 3] });
  assert.deepEqual(tileAssignment(makeSharding(mesh, [['model']], ['data'])), { tileShape: [2, 2, 1], devices: [0, 2, 1, 3] });
  // rank larger than the spec: trailing dims unsplit
  assert.deepEqual(tileAssignment(NamedSharding(mesh, P('data')), 3).tileShape, [2, 1, 1, 1, 2]);
  // consistency with deviceSlice: the device at tile t holds shard index t
  const m = makeMeshShape({ x: 2, y: 3, z: 2 });
  const s = makeSharding(m, [['z', 'x'], []], ['y']);
  const { tileShape, devices } = tileAssignment(s);
  assert.deepEqual(tileShape, [4, 1, 3, 1]);
  devices.forEach((dev, flat) => {
    const t0 = Math.floor(flat / 3);
    assert.equal(deviceSlice([8, 5], s, dev).index[0], t0);
  });
  assert.deepEqual([...devices].sort((a, b) => a - b), [...Array(12).keys()]);
});

test('shardingEqual, printing and JSON round trips', () => {
  const a = NamedSharding(mesh, P('data', null));
  assert.ok(shardingEqual(a, NamedSharding(mesh, P('data'))));
  assert.ok(shardingEqual(a, { mesh: { axisNames: ['data', 'model'], shape: [2, 2] }, dims: [['data']], partial: [] }));
  assert.ok(!shardingEqual(a, NamedSharding(mesh, P(null, 'data'))));
  assert.ok(!shardingEqual(a, NamedSharding(makeMeshShape({ data: 2, model: 4 }), P('data'))));
  assert.ok(!shardingEqual(a, makeSharding(mesh, [['data']], ['model'])));
  assert.ok(shardingEqual(makeSharding(makeMeshShape({ a: 2, b: 2, c: 2 }), [], ['a', 'c']), { mesh: makeMeshShape({ a: 2, b: 2, c: 2 }), dims: [], partial: ['c', 'a'] }));

  assert.equal(shardingToString(a), "P('data', None)");
  assert.equal(String(a), "P('data', None)");
  assert.equal(shardingToString(NamedSharding(mesh, P(['data', 'model'], null))), "P(('data', 'model'), None)");
  const p = makeSharding(mesh, [['data'], []], ['model']);
  assert.equal(shardingToString(p), "P('data', None) partial('model')");
  assert.equal(shardingToString(p, { compact: true }), "P('data',None)+partial('model')");
  assert.equal(shardingToString(a, { style: 'tile' }), '{devices=[2,1] data, R: model}');
  assert.equal(shardingToString(p, { style: 'tile' }), '{devices=[2,1] data, partial: model}');
  assert.equal(shardingToString(replicated(mesh, 0)), 'P()');

  for (const s of [a, p, replicated(mesh, 2)] as Sharding[]) {
    const back = shardingFromJSON(JSON.parse(JSON.stringify(s)));
    assert.ok(shardingEqual(back, s));
    assert.deepEqual(shardingToJSON(back), shardingToJSON(s));
  }
  assert.throws(() => shardingFromJSON({ dims: [] }), /expected \{mesh: \{axisNames, shape\}, dims, partial\}/);
  assert.throws(() => shardingFromJSON({ mesh: { axisNames: ['data'], shape: [2] }, dims: [['model']], partial: [] }), /unknown mesh axis 'model'/);
  // shardings are frozen values
  assert.throws(() => (a.dims as string[][]).push(['x']), TypeError);
  // and single pytree leaves
  assert.equal(tree.leaves({ w: a, b: [p] }).length, 2);
});

// T5X's rules for a data × model mesh (t5x/partitioning.py standard_logical_axis_rules, 1-D model).
const T5X_RULES: LogicalAxisRules = [
  ['batch', 'data'],
  ['mlp', 'model'],
  ['heads', 'model'],
  ['vocab', 'model'],
  ['embed', null],
];

test('logicalToMesh: T5X examples, first free rule wins, unknown names replicated', () => {
  assert.deepEqual(logicalToMesh(['batch', 'embed'], T5X_RULES, mesh), ['data', null]);
  assert.deepEqual(logicalToMesh(['embed', 'mlp'], T5X_RULES, mesh), [null, 'model']);
  assert.deepEqual(logicalToMesh(['mlp', 'embed'], T5X_RULES, mesh), ['model', null]);
  assert.deepEqual(logicalToMesh(['vocab', 'embed'], T5X_RULES, mesh), ['model', null]);
  assert.deepEqual(logicalToMesh(['batch', 'length', 'heads', 'kv'], T5X_RULES, mesh), ['data', null, 'model', null]);
  assert.deepEqual(logicalToMesh(new LogicalAxes('embed', 'heads', 'kv'), T5X_RULES, mesh), [null, 'model', null]);
  // 'mlp' and 'heads' both want 'model': the earlier rule (mlp) wins, heads stays unsplit
  assert.deepEqual(logicalToMesh(['heads', 'mlp'], T5X_RULES, mesh), [null, 'model']);
  // later rules are fallbacks when the first choice's mesh axes are taken
  const fallback: LogicalAxisRules = [['embed', 'model'], ['mlp', 'model'], ['mlp', 'data']];
  assert.deepEqual(logicalToMesh(['embed', 'mlp'], fallback, mesh), ['model', 'data']);
  assert.deepEqual(logicalToMesh(['mlp'], fallback, mesh), ['model']);
  // a null rule assigns "unsplit" and blocks later rules for that name
  assert.deepEqual(logicalToMesh(['embed'], [['embed', null], ['embed', 'model']], mesh), [null]);
  // multi-axis rules, unnamed dims
  assert.deepEqual(logicalToMesh(['batch', null], [['batch', ['data', 'model']]], mesh), [['data', 'model'], null]);
  assert.deepEqual(logicalToMesh({ names: ['expert', 'embed'] }, [['expert', 'data']]), ['data', null]);

  assert.throws(() => logicalToMesh(['mlp'], [['mlp', 'modle']], mesh), /rule 0 maps logical axis 'mlp' to unknown mesh axis 'modle'/);
  assert.throws(() => logicalToMesh(['embed', 'embed'], T5X_RULES, mesh), /logical axis 'embed' names more than one dimension/);
  assert.throws(() => logicalToMesh(['mlp'], [['mlp'] as never], mesh), /rule 0 is \["mlp"\]; each rule is \[logicalName, meshAxis/);
  assert.throws(() => logicalToMesh(['mlp'], [['mlp', 3] as never], mesh), /maps 'mlp' to 3/);
  assert.throws(() => logicalToMesh(3 as never, T5X_RULES, mesh), /expected logical axis names/);
});

test('shardingsFromAxes: a real model (T5 test preset) gets a sharding per parameter', () => {
  const model = T5('test');
  const axes = model.axes();
  const rules: LogicalAxisRules = [...T5X_RULES, ['kv', null], ['joined_kv', 'model'], ['relpos_buckets', null]];
  const sh = shardingsFromAxes<any>(axes, rules, mesh);
  assert.ok(tree.structureEqual(sh, axes));
  const [axLeaves] = tree.flatten(axes);
  const [shLeaves] = tree.flatten(sh);
  assert.ok(axLeaves.length > 20);
  shLeaves.forEach((s, i) => {
    const names = (axLeaves[i] as LogicalAxes).names;
    assert.equal((s as Sharding).dims.length, names.length);
    assert.deepEqual(specOf(s as Sharding), logicalToMesh(names, rules, mesh));
  });
  const mlp = sh.decoder.layers_0.mlp;
  assert.equal(shardingToString(mlp.wi_0.kernel), "P(None, 'model')");
  assert.equal(shardingToString(mlp.wo.kernel), "P('model', None)");
  assert.equal(shardingToString(sh.token_embedder.embedding), "P('model', None)");
  assert.equal(shardingToString(sh.encoder.layers_0.attention.query.kernel), "P(None, 'model', None)");
  assert.equal(shardingToString(sh.encoder.encoder_norm.scale), 'P(None)');

  assert.deepEqual(shardingsFromAxes({ a: null, b: [new LogicalAxes('batch')] }, rules, mesh).b[0].dims, [['data']]);
  assert.throws(() => shardingsFromAxes({ enc: { w: 'embed' } }, rules, mesh), /the leaf at enc\.w is "embed"; leaves must be LogicalAxes/);
  assert.throws(() => shardingsFromAxes({ w: new LogicalAxes('mlp', 'mlp') }, rules, mesh), /shardingsFromAxes at w: .*'mlp' names more than one dimension/);
  assert.throws(() => shardingsFromAxes({}, [['mlp', 'tensor']], mesh), /unknown mesh axis 'tensor'/);
});
