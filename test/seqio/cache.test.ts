/**
 * Tests of the on-disk cache: a cached stream equals the uncached one (also sharded and resumed), a
 * second open is a hit, and every kind of staleness — changed source data, changed preprocessor code,
 * a changed captured variable the code text cannot show, a changed vocabulary, an edited or truncated
 * file — is detected and rebuilt, never used.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Task, ByteVocabulary, openTaskCache, cachePath, type Example, type Split } from '../../src/data/seqio/index.js';
import { arithmeticTask, roundTrip, vocab } from './fixtures.js';

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-seqio-cache-'));
}

test('cached stream equals the uncached stream; second open is a hit', () => {
  const dir = tmpdir();
  try {
    const t = arithmeticTask('cache_eq', 60, { dropEvery: 7 });
    const plain = [...t.getDataset('train', { seed: 4 })];
    const cached = [...t.getDataset('train', { seed: 4, cacheDir: dir })];
    assert.deepEqual(cached, plain);
    const h = openTaskCache(t, 'train', 4, dir);
    assert.equal(h.status, 'hit');
    assert.equal(h.manifest.numRecords, plain.length);
    assert.equal(h.manifest.numSource, 60);
    assert.match(h.manifest.contentHash, /^[0-9a-f]{64}$/);
    // Sharded and resumed reads from the cache match the uncached ones.
    const shard = { index: 1, count: 4 };
    assert.deepEqual([...t.getDataset('train', { seed: 4, shard, cacheDir: dir })], [...t.getDataset('train', { seed: 4, shard })]);
    const ds = t.getDataset('train', { seed: 4, cacheDir: dir, repeat: true });
    const ref = t.getDataset('train', { seed: 4, repeat: true }).take(150);
    const it = ds[Symbol.iterator]();
    for (let i = 0; i < 70; i++) it.next();
    const it2 = ds.resume(roundTrip(it.position));
    assert.deepEqual(Array.from({ length: 80 }, () => it2.next().value), ref.slice(70));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function taskWith(source: (split: Split) => Example[], suffix: string, vocabulary = vocab): Task {
  return new Task({
    name: 'cache_stale',
    source: (split) => source(split),
    preprocessors: [(ex) => ({ inputs: `q${ex.x}`, targets: `${suffix}${ex.x}` })],
    outputFeatures: { inputs: { vocabulary, addEos: true }, targets: { vocabulary, addEos: false } },
  });
}

test('stale caches are detected and rebuilt, never used', () => {
  const dir = tmpdir();
  try {
    let data = [{ x: 1 }, { x: 2 }, { x: 3 }];
    const src = () => data;
    let suffix = 'a';
    const mk = () => taskWith(src, suffix);
    assert.equal(openTaskCache(mk(), 'train', 0, dir).status, 'built');
    assert.equal(openTaskCache(mk(), 'train', 0, dir).status, 'hit');

    // 1. Source data changed.
    data = [{ x: 1 }, { x: 2 }, { x: 4 }];
    let h = openTaskCache(mk(), 'train', 0, dir);
    assert.equal(h.status, 'rebuilt');
    assert.match(h.reason!, /content hash changed/);
    assert.deepEqual([...mk().getDataset('train', { cacheDir: dir })].map((e) => e.targets), ['a1', 'a2', 'a4']);

    // 2. A captured variable changed (same code text): caught by the recomputed sample.
    suffix = 'b';
    h = openTaskCache(mk(), 'train', 0, dir);
    assert.equal(h.status, 'rebuilt');
    assert.match(h.reason!, /differs from a fresh computation/);
    assert.deepEqual([...mk().getDataset('train', { cacheDir: dir })].map((e) => e.targets), ['b1', 'b2', 'b4']);

    // 3. Vocabulary changed.
    h = openTaskCache(taskWith(src, suffix, new ByteVocabulary(10)), 'train', 0, dir);
    assert.equal(h.status, 'rebuilt');
    assert.match(h.reason!, /content hash changed/);

    // 4. The examples file was edited or truncated.
    openTaskCache(mk(), 'train', 0, dir);
    const file = path.join(cachePath(dir, 'cache_stale', 'train', 0), 'examples.jsonl');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('b4', 'b5'));
    h = openTaskCache(mk(), 'train', 0, dir);
    assert.equal(h.status, 'rebuilt');
    assert.match(h.reason!, /does not match the hash/);
    assert.deepEqual([...mk().getDataset('train', { cacheDir: dir })].map((e) => e.targets), ['b1', 'b2', 'b4']);

    // 5. A corrupt manifest.
    fs.writeFileSync(path.join(cachePath(dir, 'cache_stale', 'train', 0), 'manifest.json'), '{not json');
    h = openTaskCache(mk(), 'train', 0, dir);
    assert.equal(h.status, 'rebuilt');
    assert.match(h.reason!, /unreadable manifest/);
    assert.equal(openTaskCache(mk(), 'train', 0, dir).status, 'hit');
    // No temporary directories are left behind.
    const leftovers = fs.readdirSync(path.dirname(cachePath(dir, 'cache_stale', 'train', 0))).filter((f) => f.includes('.tmp-'));
    assert.deepEqual(leftovers, []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('preprocessor code changes invalidate the cache', () => {
  const dir = tmpdir();
  try {
    const mk = (upper: boolean) => new Task({
      name: 'cache_code',
      source: () => [{ w: 'ab' }, { w: 'cd' }],
      preprocessors: upper ? [(ex) => ({ inputs: (ex.w as string).toUpperCase() })] : [(ex) => ({ inputs: ex.w })],
      outputFeatures: { inputs: { vocabulary: vocab, addEos: false } },
    });
    assert.deepEqual([...mk(false).getDataset('train', { cacheDir: dir })].map((e) => e.inputs), ['ab', 'cd']);
    const h = openTaskCache(mk(true), 'train', 0, dir, { verifySample: 0 });
    assert.equal(h.status, 'rebuilt');
    assert.deepEqual([...mk(true).getDataset('train', { cacheDir: dir })].map((e) => e.inputs), ['AB', 'CD']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
