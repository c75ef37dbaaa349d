/**
 * Tests of `Mixture`: examples-proportional rates with a cap and temperature (checked against values
 * computed by hand), explicit rates, nested mixtures, empirical sampling frequencies, determinism,
 * resume from a JSON position, strided sharding (disjoint, union = the stream), non-repeating streams
 * that end when every task is exhausted, and the registry.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mixture, MixtureRegistry, DataError, type Example } from '../../src/data/seqio/index.js';
import { arithmeticTask, roundTrip } from './fixtures.js';

const small = arithmeticTask('mx_small', 10);
const medium = arithmeticTask('mx_medium', 1000);
const large = arithmeticTask('mx_large', 50000);

function close(a: number, b: number, tol = 1e-12): void {
  assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);
}

test('examples-proportional rates with a cap', () => {
  const m = new Mixture('mx_cap', [small, medium, large], { cap: 2000 });
  const r = m.rates();
  close(r.get('mx_small')!, 10 / 3010);
  close(r.get('mx_medium')!, 1000 / 3010);
  close(r.get('mx_large')!, 2000 / 3010);
  close([...r.values()].reduce((a, b) => a + b, 0), 1);
  assert.equal(m.size(), 3010);
  // Without a cap the large task dominates.
  close(new Mixture('mx_nocap', [small, medium, large]).rates().get('mx_large')!, 50000 / 51010);
});

test('temperature flattens the rates: rate^(1/T), normalized', () => {
  const m = new Mixture('mx_temp', [small, medium, large], { cap: 2000, temperature: 2 });
  const w = [Math.sqrt(10), Math.sqrt(1000), Math.sqrt(2000)];
  const z = w[0] + w[1] + w[2];
  const r = m.rates();
  close(r.get('mx_small')!, w[0] / z);
  close(r.get('mx_medium')!, w[1] / z);
  close(r.get('mx_large')!, w[2] / z);
  // T → large makes it nearly uniform.
  const flat = new Mixture('mx_flat', [small, medium, large], { temperature: 1e6 }).rates();
  for (const v of flat.values()) close(v, 1 / 3, 1e-4);
});

test('explicit rates and nested mixtures flatten to leaf probabilities', () => {
  const inner = new Mixture('mx_inner', [small, medium]); // weights 10, 1000
  const outer = new Mixture('mx_outer', [inner, large], { cap: 2000 }); // inner: min(1010, 2000), large: 2000
  const r = outer.rates();
  close(r.get('mx_small')!, (1010 / 3010) * (10 / 1010));
  close(r.get('mx_medium')!, (1010 / 3010) * (1000 / 1010));
  close(r.get('mx_large')!, 2000 / 3010);
  const explicit = new Mixture('mx_explicit', [[inner, 3], [large, 1]]);
  close(explicit.rates().get('mx_small')!, 0.75 * (10 / 1010));
  close(explicit.rates().get('mx_large')!, 0.25);
  assert.deepEqual(outer.tasks().map((t) => t.name), ['mx_small', 'mx_medium', 'mx_large']);
  assert.throws(() => new Mixture('mx_dup', [small, small]), /appears twice/);
  assert.throws(() => new Mixture('mx_zero', [[small, 0]]).rates(), /all member weights are zero/);
  assert.throws(() => new Mixture('mx_neg', [[small, -1]]), /finite number >= 0/);
  assert.throws(() => new Mixture('mx_t', [small], { temperature: 0 }), DataError);
});

test('empirical sampling frequencies match the rates', () => {
  const a = arithmeticTask('mx_fa', 200);
  const b = arithmeticTask('mx_fb', 300);
  const c = arithmeticTask('mx_fc', 500);
  const m = new Mixture('mx_freq', [a, b, c]);
  const n = 20000;
  const counts = new Map<string, number>();
  const it = m.getDataset('train', { seed: 11, tokenize: false })[Symbol.iterator]();
  for (let i = 0; i < n; i++) {
    const t = (it.next().value as Example)._task as string;
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  for (const [name, p] of m.rates()) {
    const f = (counts.get(name) ?? 0) / n;
    const sigma = Math.sqrt((p * (1 - p)) / n);
    assert.ok(Math.abs(f - p) < 4 * sigma, `${name}: frequency ${f} vs rate ${p} (4σ = ${4 * sigma})`);
  }
  // Each task's examples appear in the task's own order, cycling through epochs.
  const stream = m.getDataset('train', { seed: 11, tokenize: false }).take(3000).filter((e) => e._task === 'mx_fa');
  const epoch0 = stream.slice(0, 200).map((e) => e.index);
  assert.deepEqual(epoch0, Array.from({ length: 200 }, (_, i) => i));
});

test('deterministic, and resumes exactly from a JSON position', () => {
  const m = new Mixture('mx_resume', [arithmeticTask('mx_ra', 7, { dropEvery: 3 }), arithmeticTask('mx_rb', 11), arithmeticTask('mx_rc', 5)]);
  const ds = m.getDataset('train', { seed: 5 });
  const full = ds.take(200);
  assert.deepEqual(m.getDataset('train', { seed: 5 }).take(200), full);
  assert.notDeepEqual(m.getDataset('train', { seed: 6 }).take(200).map((e) => e._task), full.map((e) => e._task));
  for (const cut of [0, 1, 17, 99, 150]) {
    const it = ds[Symbol.iterator]();
    for (let i = 0; i < cut; i++) it.next();
    const it2 = ds.resume(roundTrip(it.position));
    const rest = Array.from({ length: 200 - cut }, () => it2.next().value);
    assert.deepEqual(rest, full.slice(cut), `resume at ${cut}`);
  }
  assert.deepEqual(m.getDataset('train', { seed: 5, start: 42 }).take(10), full.slice(42, 52));
});

test('sharding strides the slots: disjoint shards whose interleaving is the stream', () => {
  const m = new Mixture('mx_shard', [arithmeticTask('mx_sa', 9), arithmeticTask('mx_sb', 14, { dropEvery: 5 })]);
  const whole = m.getDataset('train', { seed: 9 }).take(120);
  const count = 3;
  const shards = Array.from({ length: count }, (_, index) => m.getDataset('train', { seed: 9, shard: { index, count } }).take(40));
  for (let j = 0; j < 120; j++) assert.deepEqual(shards[j % count][Math.floor(j / count)], whole[j]);
  // A shard resumes on its own.
  const ds = m.getDataset('train', { seed: 9, shard: { index: 2, count } });
  const it = ds[Symbol.iterator]();
  for (let i = 0; i < 13; i++) it.next();
  const it2 = ds.resume(roundTrip(it.position));
  assert.deepEqual(Array.from({ length: 27 }, () => it2.next().value), shards[2].slice(13));
  assert.throws(() => m.getDataset('train', { seed: 9, shard: { index: 0, count } }).resume(it.position), /shard 2\/3/);
});

test('without repeat, exhausted tasks drop out and the stream ends after every example once', () => {
  const a = arithmeticTask('mx_na', 8);
  const b = arithmeticTask('mx_nb', 30, { dropEvery: 4 });
  const m = new Mixture('mx_norepeat', [a, b]);
  const xs = [...m.getDataset('validation', { seed: 1, repeat: false })];
  const expectA = [...a.getDataset('validation', { seed: 1 })].length;
  assert.equal(xs.filter((e) => e._task === 'mx_na').length, expectA);
  const bOnly = xs.filter((e) => e._task === 'mx_nb').map(({ _task, ...rest }) => rest);
  assert.deepEqual(bOnly, [...b.getDataset('validation', { seed: 1 })]);
  // Resuming a finite stream mid-way gives the same tail.
  const ds = m.getDataset('validation', { seed: 1, repeat: false });
  const it = ds[Symbol.iterator]();
  for (let i = 0; i < 20; i++) it.next();
  assert.deepEqual([...ds.resume(roundTrip(it.position))], xs.slice(20));
});

test('mixture registry', () => {
  const m = MixtureRegistry.add(new Mixture('mx_registered', [small]));
  assert.equal(MixtureRegistry.get('mx_registered'), m);
  assert.throws(() => MixtureRegistry.get('nope'), /no mixture named 'nope'/);
  MixtureRegistry.remove('mx_registered');
});
