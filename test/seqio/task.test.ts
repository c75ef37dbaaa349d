/**
 * Tests of `Task`: preprocessing and drops, tokenization into `<feature>_ids` with EOS, determinism
 * given (split, seed), resume from a JSON-round-tripped position, `start`, sharding (disjoint shards
 * whose union is the stream), epochs with derived seeds, and clear errors on bad input.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Task, DataError, TaskRegistry, type Example } from '../../src/data/seqio/index.js';
import { arithmeticTask, roundTrip, vocab } from './fixtures.js';

test('examples are preprocessed, dropped and tokenized with EOS', () => {
  const t = arithmeticTask('arith_basic', 50, { dropEvery: 5 });
  const xs = [...t.getDataset('train', { seed: 1 })];
  assert.ok(xs.length > 30 && xs.length < 50, `expected some drops, got ${xs.length}`);
  for (const ex of xs) {
    const [a, b] = /what is (\d+) \+ (\d+)/.exec(ex.inputs as string)!.slice(1).map(Number);
    assert.notEqual((a + b) % 5, 0);
    assert.equal(ex.targets, String(a + b));
    const ids = ex.targets_ids as number[];
    assert.equal(ids[ids.length - 1], vocab.eosId);
    assert.equal(vocab.decode(ids), ex.targets);
    assert.deepEqual(ex.inputs_ids, [...vocab.encode(ex.inputs as string), vocab.eosId]);
  }
  // Source indices are the preprocessor's ctx.index and strictly increase.
  const idx = xs.map((e) => e.index as number);
  assert.deepEqual(idx, [...idx].sort((p, q) => p - q));
});

test('deterministic given (split, seed); different seeds and splits differ', () => {
  const t = arithmeticTask('arith_det', 40);
  const a = [...t.getDataset('train', { seed: 7 })].map((e) => e.inputs);
  const b = [...t.getDataset('train', { seed: 7 })].map((e) => e.inputs);
  const c = [...t.getDataset('train', { seed: 8 })].map((e) => e.inputs);
  const d = [...t.getDataset('validation', { seed: 7 })].map((e) => e.inputs);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.notDeepEqual(a, d);
});

test('resume from a JSON position continues exactly, across epochs', () => {
  const t = arithmeticTask('arith_resume', 13, { dropEvery: 4 });
  const ds = t.getDataset('train', { seed: 3, repeat: true });
  const full: Example[] = [];
  const it = ds[Symbol.iterator]();
  for (let i = 0; i < 60; i++) full.push(it.next().value as Example);
  for (const cut of [0, 1, 5, 9, 10, 11, 27, 44]) {
    const it1 = ds[Symbol.iterator]();
    for (let i = 0; i < cut; i++) it1.next();
    const pos = roundTrip(it1.position);
    const it2 = ds.resume(pos);
    const rest: Example[] = [];
    for (let i = cut; i < 60; i++) rest.push(it2.next().value as Example);
    assert.deepEqual(rest, full.slice(cut), `resume at ${cut}`);
  }
  // Later epochs read the source with a derived seed: same size, different order of problems.
  const perEpoch = [...t.getDataset('train', { seed: 3 })].length;
  assert.notDeepEqual(full.slice(0, perEpoch).map((e) => e.inputs), full.slice(perEpoch, 2 * perEpoch).map((e) => e.inputs));
});

test('start skips examples; the position option resumes', () => {
  const t = arithmeticTask('arith_start', 30);
  const all = [...t.getDataset('train')];
  assert.deepEqual([...t.getDataset('train', { start: 12 })], all.slice(12));
  const it = t.getDataset('train')[Symbol.iterator]();
  for (let i = 0; i < 7; i++) it.next();
  assert.deepEqual([...t.getDataset('train', { position: roundTrip(it.position) })], all.slice(7));
});

test('shards are disjoint and their union is the whole stream', () => {
  const t = arithmeticTask('arith_shard', 101, { dropEvery: 6 });
  const whole = [...t.getDataset('train', { seed: 2 })].map((e) => e.id as string);
  for (const count of [1, 2, 3, 8]) {
    const shards = Array.from({ length: count }, (_, index) => [...t.getDataset('train', { seed: 2, shard: { index, count } })]);
    const ids = shards.flat().map((e) => e.id as string);
    assert.equal(new Set(ids).size, ids.length, `disjoint for count=${count}`);
    assert.deepEqual([...ids].sort(), [...whole].sort(), `union for count=${count}`);
    shards.forEach((s, r) => s.forEach((e) => assert.equal((e.index as number) % count, r)));
  }
  // A sharded stream resumes too.
  const ds = t.getDataset('train', { seed: 2, shard: { index: 1, count: 3 }, repeat: true });
  const it = ds[Symbol.iterator]();
  const ref = Array.from({ length: 50 }, () => it.next().value);
  const it2 = ds[Symbol.iterator]();
  for (let i = 0; i < 20; i++) it2.next();
  const it3 = ds.resume(roundTrip(it2.position));
  assert.deepEqual(Array.from({ length: 30 }, () => it3.next().value), ref.slice(20));
});

test('bad input gets clear errors', () => {
  const t = arithmeticTask('arith_err', 5);
  assert.throws(() => t.getDataset('dev' as never), /unknown split "dev"/);
  assert.throws(() => t.getDataset('train', { shard: { index: 3, count: 3 } }), /0 <= index < count/);
  assert.throws(() => t.getDataset('train', { seed: -1 }), /non-negative integer/);
  const it = t.getDataset('train', { seed: 1 })[Symbol.iterator]();
  it.next();
  assert.throws(() => t.getDataset('train', { seed: 2 }).resume(it.position), /seed 1/);
  assert.throws(() => arithmeticTask('other', 5).getDataset('train', { seed: 1 }).resume(it.position), /task 'arith_err'/);
  assert.throws(() => new Task({ name: 'bad name', source: () => [], outputFeatures: {} }), DataError);
  const missing = new Task({ name: 'missing_feat', source: () => [{ x: 1 }], outputFeatures: { inputs: { vocabulary: vocab, addEos: false } } });
  assert.throws(() => [...missing.getDataset('train')], /lacks required feature 'inputs'/);
  const notObj = new Task({ name: 'not_obj', source: () => [{ x: 1 }], preprocessors: [() => 'x' as never], outputFeatures: {} });
  assert.throws(() => [...notObj.getDataset('train')], /preprocessor #0 returned string/);
  const empty = new Task({ name: 'empty_rep', source: () => [], outputFeatures: {} });
  assert.throws(() => empty.getDataset('train', { repeat: true })[Symbol.iterator]().next(), /produced no examples/);
});

test('numExamples counts the source when not declared; registry lookups', () => {
  const t = arithmeticTask('arith_count', 17, { declareSize: false });
  assert.equal(t.numExamples('train'), 17);
  TaskRegistry.add(t);
  assert.equal(TaskRegistry.get('arith_count'), t);
  assert.throws(() => TaskRegistry.add(arithmeticTask('arith_count', 3)), /already registered/);
  assert.throws(() => TaskRegistry.get('arith_cuont'), /did you mean 'arith_count'/);
  assert.ok(TaskRegistry.names().includes('arith_count'));
  TaskRegistry.remove('arith_count');
});
