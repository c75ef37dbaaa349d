/**
 * Per-token task ids (for task-routed Task-MoE models): the converters write each token's own
 * example's task id — hand-checked packed and unpacked decoder-only rows and packed encoder-decoder
 * rows, 0 on padding —; on a real mixture stream every packed segment's id matches the task its
 * text came from; task-id maps by task index and by metadata, their errors, `checkPackedBatch`
 * catching corrupted ids, and resuming a stream that carries task ids.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DecoderOnlyConverter,
  EncDecConverter,
  Mixture,
  DataError,
  batchRow,
  checkPackedBatch,
  taskIdsByMeta,
  taskIdsByTask,
  usedTaskIds,
  type Batch,
  type Example,
  type TaskIdMap,
} from '../../src/data/seqio/index.js';
import { arithmeticTask, roundTrip, vocab } from './fixtures.js';

const rowOf = (b: Batch, f: string, r = 0) => Array.from(batchRow(b, f, r));
const ex = (task: string, inputs: number[], targets: number[]): Example => ({ _task: task, inputs_ids: inputs, targets_ids: targets });

const alpha = arithmeticTask('alpha', 40, { meta: { cluster: 'c2' } });
const beta = arithmeticTask('beta', 40, { meta: { cluster: 'c0' } });
const gamma = arithmeticTask('gamma', 40, { meta: { cluster: 'c2' } });
const mix = new Mixture('abg', [alpha, beta, gamma]);

test('packed decoder-only rows: every token holds its own example\'s task id, padding 0', () => {
  const ids = taskIdsByTask(mix); // alpha 0, beta 1, gamma 2
  const conv = new DecoderOnlyConverter({ length: 12, mode: 'concat', taskIds: ids });
  // beta (4 tokens) + gamma (3) + alpha (3) fill 10 of 12 slots; the last beta (3) goes to row 1.
  const [b] = [...conv.batches([ex('beta', [5, 6], [7, 1]), ex('gamma', [8], [9, 1]), ex('alpha', [4, 4], [1]), ex('beta', [3, 3], [1])], 2)];
  assert.deepEqual(rowOf(b, 'decoder_target_tokens', 0), [5, 6, 7, 1, 8, 9, 1, 4, 4, 1, 0, 0]);
  assert.deepEqual(rowOf(b, 'decoder_segment_ids', 0), [1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 0, 0]);
  assert.deepEqual(rowOf(b, 'decoder_task_ids', 0), [1, 1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 0]);
  assert.deepEqual(rowOf(b, 'decoder_segment_ids', 1), [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(rowOf(b, 'decoder_task_ids', 1), [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(b.decoder_task_ids.shape, [2, 12]);
  assert.match(conv.describe(), /taskIds=task-index/);
  checkPackedBatch(b);
});

test('unpacked decoder-only rows and packed encoder-decoder rows carry task ids too', () => {
  const ids = taskIdsByTask(mix);
  const un = new DecoderOnlyConverter({ length: 6, mode: 'lm', pack: false, taskIds: ids });
  const [u] = [...un.batches([ex('gamma', [], [3, 1]), ex('alpha', [], [4, 4, 1]), ex('beta', [], [2, 1])], 4)];
  assert.deepEqual(rowOf(u, 'decoder_task_ids', 0), [2, 2, 0, 0, 0, 0]);
  assert.deepEqual(rowOf(u, 'decoder_task_ids', 1), [0, 0, 0, 0, 0, 0]); // alpha is id 0: indistinguishable from padding but masked by segment ids
  assert.deepEqual(rowOf(u, 'decoder_segment_ids', 1), [1, 1, 1, 0, 0, 0]);
  assert.deepEqual(rowOf(u, 'decoder_task_ids', 2), [1, 1, 0, 0, 0, 0]);
  assert.deepEqual(rowOf(u, 'decoder_task_ids', 3), [0, 0, 0, 0, 0, 0]); // an empty row of the last batch
  checkPackedBatch(u, { packed: false });

  const ed = new EncDecConverter({ inputsLength: 7, targetsLength: 5, taskIds: ids });
  const [b] = [...ed.batches([ex('gamma', [8, 9, 1], [3, 1]), ex('beta', [7, 7, 1], [2, 1]), ex('alpha', [5, 1], [6, 1])], 2)];
  assert.deepEqual(rowOf(b, 'encoder_task_ids', 0), [2, 2, 2, 1, 1, 1, 0]);
  assert.deepEqual(rowOf(b, 'decoder_task_ids', 0), [2, 2, 1, 1, 0]);
  assert.deepEqual(rowOf(b, 'encoder_segment_ids', 1), [1, 1, 0, 0, 0, 0, 0]);
  assert.deepEqual(rowOf(b, 'encoder_task_ids', 1), [0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Object.keys(ed.featureLengths).filter((k) => k.endsWith('task_ids')), ['encoder_task_ids', 'decoder_task_ids']);
  checkPackedBatch(b);
  // Without a map, no task id features.
  assert.equal(new EncDecConverter({ inputsLength: 7, targetsLength: 5 }).featureLengths.decoder_task_ids, undefined);
});

test('a real mixture stream: every packed segment holds the id of the task its text came from, rows mix tasks', () => {
  const ids = taskIdsByTask(mix);
  const conv = new DecoderOnlyConverter({ length: 96, mode: 'concat', taskIds: ids });
  const ds = mix.getDataset('train', { seed: 3 });
  let mixedRows = 0;
  let segments = 0;
  let n = 0;
  for (const b of conv.batches(ds, 4)) {
    checkPackedBatch(b);
    for (let r = 0; r < 4; r++) {
      const seg = batchRow(b, 'decoder_segment_ids', r);
      const tid = batchRow(b, 'decoder_task_ids', r);
      const tgt = batchRow(b, 'decoder_target_tokens', r);
      const seen = new Set<number>();
      for (let s = 1; s <= Math.max(...seg); s++) {
        const idx = [...seg.keys()].filter((i) => seg[i] === s);
        const text = vocab.decode(idx.map((i) => tgt[i]));
        const name = /^(\w+): what is/.exec(text)?.[1];
        assert.ok(name, `segment text ${JSON.stringify(text)}`);
        for (const i of idx) assert.equal(tid[i], ids.taskToId.get(name), `row ${r} segment ${s} (${name})`);
        seen.add(tid[idx[0]]);
        segments++;
      }
      if (seen.size > 1) mixedRows++;
    }
    if (++n >= 5) break;
  }
  assert.ok(segments > 40, `${segments} segments checked`);
  assert.ok(mixedRows > 0, 'some packed rows mix tasks');
});

test('task ids by metadata: shared ids, stable names, and clear errors', () => {
  const byCluster = taskIdsByMeta(mix, 'cluster', ['c0', 'c1', 'c2']);
  assert.equal(byCluster.numTasks, 3);
  assert.deepEqual([...byCluster.taskToId], [['alpha', 2], ['beta', 0], ['gamma', 2]]);
  assert.deepEqual(usedTaskIds(byCluster), [0, 2]);
  assert.equal(byCluster.idOf({ _task: 'gamma' }), 2);
  // A lone task's examples need no `_task`.
  assert.equal(taskIdsByTask(beta).idOf({ inputs_ids: [1] }), 0);
  assert.throws(() => byCluster.idOf({ inputs_ids: [1] }), (e: unknown) => e instanceof DataError && /does not name its task/.test(String(e)));
  assert.throws(() => byCluster.idOf({ _task: 'delta' }), /task 'delta' has no task id/);
  assert.throws(() => taskIdsByMeta(mix, 'cluster', ['c0', 'c1']), /task 'alpha' has cluster 'c2', which is not one of c0, c1/);
  assert.throws(() => taskIdsByMeta(mix, 'family', ['x']), /task 'alpha' has no string meta\.family/);
  assert.throws(() => taskIdsByMeta(mix, 'cluster', ['c0', 'c0']), /distinct/);
  // A map that returns an id outside its range is caught by the converter.
  const bad: TaskIdMap = { ...byCluster, describe: 'bad', idOf: () => 3 };
  const conv = new DecoderOnlyConverter({ length: 8, taskIds: bad });
  assert.throws(() => [...conv.batches([ex('alpha', [1], [1])], 1)], /task id 3 of an example is outside 0\.\.2/);
  assert.throws(() => new DecoderOnlyConverter({ length: 8, taskIds: {} as TaskIdMap }), /taskIds must be a TaskIdMap/);
});

test('checkPackedBatch rejects task ids that change inside a segment, sit on padding, or differ between encoder and decoder', () => {
  const ids = taskIdsByTask(mix);
  const fresh = () => [...new EncDecConverter({ inputsLength: 7, targetsLength: 5, taskIds: ids }).batches([ex('gamma', [8, 9, 1], [3, 1]), ex('beta', [7, 1], [2, 1])], 1)][0];
  let b = fresh();
  b.decoder_task_ids.data[1] = 1;
  assert.throws(() => checkPackedBatch(b), /segment 1 mixes task ids 2 and 1/);
  b = fresh();
  b.encoder_task_ids.data[6] = 2;
  assert.throws(() => checkPackedBatch(b), /padding position 6 has task id 2/);
  b = fresh();
  b.encoder_task_ids.data.set([0, 0, 0], 0);
  assert.throws(() => checkPackedBatch(b), /segment 1 has task id 0 in the encoder but 2 in the decoder/);
});

test('a batch stream with task ids resumes exactly, and positions record the task-id map', () => {
  const ids = taskIdsByTask(mix);
  const conv = () => new DecoderOnlyConverter({ length: 64, mode: 'concat', taskIds: ids });
  const ds = mix.getDataset('train', { seed: 1 });
  const it = conv().batches(ds, 2)[Symbol.iterator]();
  it.next();
  it.next();
  const pos = roundTrip(it.position);
  const want = [it.next().value!, it.next().value!];
  const again = conv().batches(ds, 2).resume(pos);
  for (const w of want) {
    const g = again.next().value!;
    assert.deepEqual(Array.from(g.decoder_task_ids.data), Array.from(w.decoder_task_ids.data));
    assert.deepEqual(Array.from(g.decoder_target_tokens.data), Array.from(w.decoder_target_tokens.data));
  }
  // A converter without the map refuses the position.
  assert.throws(() => new DecoderOnlyConverter({ length: 64, mode: 'concat' }).batches(ds, 2).resume(pos).next(), /position was written by/);
});
