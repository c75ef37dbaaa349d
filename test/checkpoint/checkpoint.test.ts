// Checkpoints: round trip (all dtypes, nested pytrees, empty arrays, scalars, optimizer state,
// RNG key, JSON data position), params readable by an independent safetensors reader, the
// manifest's sizes and checksums, keep-last-N, crash safety (an exception mid-save, and a child
// process killed mid-save), and detection of damaged checkpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Array, np, random } from '../../src/index.js';
import { optim } from '../../src/optim/index.js';
import { CheckpointError, listCheckpoints, loadCheckpoint, saveCheckpoint, type CheckpointManifest } from '../../src/checkpoint/index.js';
import { miniRead } from './minimal_reader.js';
import { treeClose } from '../optim/helpers.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-ckpt-'));
}

function withDir(fn: (dir: string) => void): void {
  const dir = tmpDir();
  try {
    fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function modelParams(seed = 0) {
  const k = [...random.split(random.key(seed), 3)];
  return {
    encoder: {
      block: [
        { mlp: { wi_0: { kernel: random.normal(k[0], [4, 8]) }, wo: { kernel: random.normal(k[1], [8, 4]) } }, layer_norm: { scale: np.ones([4]) } },
        { mlp: { wi_0: { kernel: random.normal(k[2], [4, 8]) }, wo: { kernel: np.zeros([8, 4]) } }, layer_norm: { scale: np.ones([4]) } },
      ],
    },
    token_embedder: { embedding: np.arange(12).astype('float32').reshape([3, 4]) },
  };
}

function contents(step: number, seed = 0) {
  const params = modelParams(seed);
  const opt = optim.adafactor();
  return { params, optState: opt.init(params), step, rng: random.key(seed + 1), dataPosition: { epoch: 1, index: step * 8, shards: [0, 1] }, extra: { note: 'test' } };
}

test('round trip: params, optimizer state, rng, data position, extra; all dtypes, empty and 0-d arrays, lists and nulls', () => {
  withDir((dir) => {
    const params = {
      f32: np.array([[1.5, -2]], { dtype: 'float32' }),
      nested: { f64: np.array([Math.PI], { dtype: 'float64' }), list: [np.array(3, { dtype: 'int32' }), np.array([1, 2], { dtype: 'uint32' }), null], flag: np.array([true, false], { dtype: 'bool' }) },
      empty: np.zeros([0, 3], 'float32'),
      scalar: np.array(2.5, { dtype: 'float32' }),
      label: 'kept as JSON',
      n: 4,
    };
    const opt = optim.chain(optim.clipByGlobalNorm(1), optim.adamw(1e-3));
    const optState = opt.init({ f32: params.f32, empty: params.empty });
    const rng = random.split(random.key(7), 2);
    const r = saveCheckpoint(dir, { params, optState, step: 12, rng, dataPosition: { cursor: [3, 'a'], done: false, x: null }, extra: { cfg: { d: 4 } } });
    assert.equal(r.path, path.join(dir, 'step_12'));
    assert.deepEqual(fs.readdirSync(r.path).sort(), ['manifest.json', 'opt_state.safetensors', 'params.safetensors', 'rng.safetensors', 'state.json']);
    const ld = loadCheckpoint(dir);
    assert.equal(ld.step, 12);
    treeClose(ld.params.f32, params.f32);
    assert.equal(ld.params.nested.f64.dtype, 'float64');
    assert.equal(ld.params.nested.f64.item(), Math.PI);
    assert.equal(ld.params.nested.list[0].dtype, 'int32');
    assert.deepEqual(ld.params.nested.list[0].shape, []);
    assert.equal(ld.params.nested.list[0].item(), 3);
    assert.deepEqual(ld.params.nested.list[1].toArray(), [1, 2]);
    assert.equal(ld.params.nested.list[1].dtype, 'uint32');
    assert.equal(ld.params.nested.list[2], null);
    assert.deepEqual(ld.params.nested.flag.toArray(), [true, false]);
    assert.deepEqual(ld.params.empty.shape, [0, 3]);
    assert.equal(ld.params.scalar.item(), 2.5);
    assert.equal(ld.params.label, 'kept as JSON');
    assert.equal(ld.params.n, 4);
    treeClose(ld.optState, optState);
    assert.equal(ld.optState[1][0].count.dtype, 'int32');
    assert.deepEqual(ld.rng.toArray(), rng.toArray());
    assert.equal(ld.rng.dtype, 'uint32');
    assert.deepEqual(ld.dataPosition, { cursor: [3, 'a'], done: false, x: null });
    assert.deepEqual(ld.extra, { cfg: { d: 4 } });
  });
});

test('params.safetensors uses dotted pytree paths and is readable by an independent reader; the manifest records sizes and SHA-256', () => {
  withDir((dir) => {
    const c = contents(5);
    const r = saveCheckpoint(dir, c);
    const bytes = fs.readFileSync(path.join(r.path, 'params.safetensors'));
    const mini = miniRead(bytes);
    assert.deepEqual(Object.keys(mini.tensors).sort(), [
      'encoder.block.0.layer_norm.scale', 'encoder.block.0.mlp.wi_0.kernel', 'encoder.block.0.mlp.wo.kernel',
      'encoder.block.1.layer_norm.scale', 'encoder.block.1.mlp.wi_0.kernel', 'encoder.block.1.mlp.wo.kernel',
      'token_embedder.embedding',
    ]);
    assert.deepEqual(mini.tensors['encoder.block.0.mlp.wi_0.kernel'].values, [...c.params.encoder.block[0].mlp.wi_0.kernel.dataSync()]);
    assert.deepEqual(mini.tensors['token_embedder.embedding'].shape, [3, 4]);
    assert.equal(mini.metadata?.step, '5');
    const opt = miniRead(fs.readFileSync(path.join(r.path, 'opt_state.safetensors')));
    assert.ok('0.stats.encoder.block.0.mlp.wi_0.kernel.vRow' in opt.tensors, Object.keys(opt.tensors).join(', '));
    const manifest = JSON.parse(fs.readFileSync(path.join(r.path, 'manifest.json'), 'utf8')) as CheckpointManifest;
    assert.equal(manifest.format, 'myriad-checkpoint');
    assert.equal(manifest.version, 1);
    assert.equal(manifest.step, 5);
    for (const f of manifest.files) {
      const b = fs.readFileSync(path.join(r.path, f.name));
      assert.equal(f.bytes, b.length, f.name);
      assert.equal(f.sha256, createHash('sha256').update(b).digest('hex'), f.name);
    }
    assert.deepEqual(manifest.trees.params?.structure.kind, 'object');
  });
});

test('keep-last-N retains the newest N intact checkpoints and never the damaged ones in their place', () => {
  withDir((dir) => {
    for (const s of [1, 2, 3, 4, 5]) saveCheckpoint(dir, contents(s), { keep: 2 });
    assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [4, 5]);
    // Damage step 5; saving 6 and 7 with keep 2: damaged checkpoints do not count as kept.
    flipByte(path.join(dir, 'step_5', 'params.safetensors'));
    const r6 = saveCheckpoint(dir, contents(6), { keep: 2 });
    assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [4, 5, 6], 'step 4 is still one of the 2 newest intact');
    assert.deepEqual(r6.removedSteps, []);
    const r7 = saveCheckpoint(dir, contents(7), { keep: 2 });
    assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [6, 7]);
    assert.deepEqual(r7.removedSteps.sort(), [4, 5]);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['step_6', 'step_7'], 'no temp or trash directories remain');
    assert.throws(() => saveCheckpoint(dir, contents(8), { keep: 0 }), /keep must be a positive integer/);
  });
});

test('crash safety: an error in the middle of a save leaves the previous checkpoint loadable and nothing partial', () => {
  withDir((dir) => {
    saveCheckpoint(dir, contents(10));
    const written: string[] = [];
    assert.throws(
      () => saveCheckpoint(dir, contents(20, 1), {
        onProgress: (e) => {
          if (e.kind === 'file') written.push(e.file);
          if (e.kind === 'file' && written.length === 2) throw new Error('simulated failure after 2 files');
        },
      }),
      /simulated failure after 2 files/,
    );
    assert.equal(written.length, 2, 'the save was interrupted half-way');
    assert.deepEqual(fs.readdirSync(dir), ['step_10']);
    const ld = loadCheckpoint(dir);
    assert.equal(ld.step, 10);
    treeClose(ld.params, contents(10).params);
  });
});

test('crash safety: a process killed mid-save (SIGKILL) leaves the previous checkpoint intact; the partial one is ignored and cleaned', () => {
  withDir((dir) => {
    saveCheckpoint(dir, contents(100));
    const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(HERE, 'crash_writer.ts'), dir, '200'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.signal, 'SIGKILL', `the writer should have been killed mid-save: status ${child.status}, stderr ${child.stderr}`);
    const leftovers = fs.readdirSync(dir).filter((n) => n.startsWith('.tmp-step_200-'));
    assert.equal(leftovers.length, 1, 'the killed writer left its temp directory');
    assert.ok(fs.existsSync(path.join(dir, leftovers[0], 'params.safetensors')));
    assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [100], 'the partial checkpoint is not listed');
    const ld = loadCheckpoint(dir);
    assert.equal(ld.step, 100);
    assert.deepEqual(ld.dataPosition, contents(100).dataPosition);
    // The next save removes the dead writer's temp directory.
    saveCheckpoint(dir, contents(200));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['step_100', 'step_200']);
    assert.equal(loadCheckpoint(dir).step, 200);
  });
});

function flipByte(file: string, at = -1): void {
  const b = fs.readFileSync(file);
  const i = at < 0 ? b.length + at : at;
  b[i] ^= 0x40;
  fs.writeFileSync(file, b);
}

function expectRefused(dir: string, opts: Parameters<typeof loadCheckpoint>[1], file: string, what: RegExp, prev: number | null): void {
  assert.throws(() => loadCheckpoint(dir, opts), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, String(e));
    assert.match(e.message, new RegExp(file.replace('.', '\\.')));
    assert.match(e.message, what);
    if (prev === null) assert.match(e.message, /No earlier intact checkpoint exists/);
    else assert.match(e.message, new RegExp(`previous checkpoint at step ${prev} is intact`));
    assert.equal(e.details.file, file);
    assert.equal(e.details.previousValidStep, prev);
    return true;
  });
}

test('damaged checkpoints are detected and refused, naming the file, the problem and the intact previous step', () => {
  withDir((dir) => {
    saveCheckpoint(dir, contents(1));
    saveCheckpoint(dir, contents(2));
    saveCheckpoint(dir, contents(3));
    const f = (s: number, n: string) => path.join(dir, `step_${s}`, n);

    // A flipped byte: sizes match, the SHA-256 does not.
    flipByte(f(3, 'params.safetensors'), 200);
    expectRefused(dir, {}, 'params.safetensors', /fails its SHA-256 check/, 2);
    expectRefused(dir, { step: 3 }, 'params.safetensors', /fails its SHA-256 check/, 2);
    // skipCorrupt falls back to the newest intact checkpoint, with a warning.
    const warnings: string[] = [];
    const ld = loadCheckpoint(dir, { skipCorrupt: true, onWarning: (m) => warnings.push(m) });
    assert.equal(ld.step, 2);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /step_3 \(params\.safetensors fails its SHA-256 check.*loading the newest intact one, step 2/);
    // An explicit step is never replaced by another one.
    assert.throws(() => loadCheckpoint(dir, { step: 3, skipCorrupt: true }), CheckpointError);
    assert.equal(loadCheckpoint(dir, { step: 1 }).step, 1);

    // Truncation.
    const opt2 = f(2, 'opt_state.safetensors');
    fs.truncateSync(opt2, fs.statSync(opt2).size - 10);
    expectRefused(dir, { step: 2 }, 'opt_state.safetensors', /has \d+ bytes but the manifest records \d+ \(truncated\)/, 1);
    // A missing file.
    fs.rmSync(f(1, 'state.json'));
    expectRefused(dir, { step: 1 }, 'state.json', /state\.json is missing/, null);
    expectRefused(dir, {}, 'params.safetensors', /SHA-256/, null);
    assert.throws(() => loadCheckpoint(dir, { skipCorrupt: true, onWarning: () => {} }), /no intact checkpoint in .*step_3.*step_2.*step_1/);
  });
});

test('a damaged or edited manifest is refused', () => {
  withDir((dir) => {
    saveCheckpoint(dir, contents(1));
    saveCheckpoint(dir, contents(2));
    const m = path.join(dir, 'step_2', 'manifest.json');
    const text = fs.readFileSync(m, 'utf8');
    fs.writeFileSync(m, text.slice(0, text.length / 2));
    expectRefused(dir, {}, 'manifest.json', /manifest\.json is not valid JSON/, 1);
    // Valid JSON, but edited: the manifest's own checksum catches it.
    fs.writeFileSync(m, text.replace('"createdAt": "', '"createdAt": "1'));
    expectRefused(dir, {}, 'manifest.json', /does not match its own checksum/, 1);
    fs.rmSync(m);
    expectRefused(dir, {}, 'manifest.json', /manifest\.json is missing/, 1);
    const listed = listCheckpoints(dir, { validate: true });
    assert.deepEqual(listed.map((c) => [c.step, c.valid]), [[1, true], [2, false]]);
    assert.match(listed[1].problem ?? '', /manifest\.json is missing/);
  });
});

test('existing and later steps are not overwritten unless asked', () => {
  withDir((dir) => {
    saveCheckpoint(dir, contents(5));
    saveCheckpoint(dir, contents(9));
    assert.throws(() => saveCheckpoint(dir, contents(9)), /a checkpoint for step 9 already exists .*pass \{overwrite: true\}/);
    assert.throws(() => saveCheckpoint(dir, contents(7)), /checkpoints of later steps exist .*\(9\)/);
    const r = saveCheckpoint(dir, contents(7, 3), { overwrite: true });
    assert.deepEqual(r.removedSteps, [9]);
    assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [5, 7]);
    const again = saveCheckpoint(dir, contents(7, 4), { overwrite: true });
    assert.deepEqual(again.removedSteps, [7]);
    treeClose(loadCheckpoint(dir).params, contents(7, 4).params);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['step_5', 'step_7']);
  });
});

test('bad inputs are refused before anything is written', () => {
  withDir((dir) => {
    const p = { w: np.zeros([2]) };
    assert.throws(() => saveCheckpoint(dir, { params: p, step: -1 }), /step must be a non-negative integer/);
    assert.throws(() => saveCheckpoint(dir, { params: p, step: 1.5 }), /step must be a non-negative integer/);
    assert.throws(() => saveCheckpoint(dir, { params: p, step: 1, dataPosition: { x: NaN } }), /dataPosition\.x is NaN/);
    assert.throws(() => saveCheckpoint(dir, { params: p, step: 1, extra: { a: np.zeros([1]) as never } }), /extra\.a is a Myriad Array/);
    assert.throws(() => saveCheckpoint(dir, { params: { w: new Date() }, step: 1 }), /params\.w is an instance of Date/);
    assert.throws(() => saveCheckpoint(dir, { params: { 'a.b': np.zeros([1]), a: { b: np.zeros([1]) } }, step: 1 }), /same dotted path "a\.b"/);
    assert.deepEqual(fs.readdirSync(dir), []);
    // A step given as an int32 Array is accepted.
    assert.equal(saveCheckpoint(dir, { params: p, step: np.array(3, { dtype: 'int32' }) as Array }).step, 3);
    assert.throws(() => loadCheckpoint(dir, { step: 4 }), /no checkpoint for step 4 .*available steps: 3/);
    assert.throws(() => loadCheckpoint(path.join(dir, 'none')), /no checkpoints in/);
  });
});

test('resume: training continued from a checkpoint equals uninterrupted training', () => {
  const opt = optim.adamw(0.05);
  const data = random.normal(random.key(3), [6, 4]);
  const lossGrad = (p: { w: Array }, i: number) => ({ w: np.multiply(np.subtract(p.w, data.slice(i)), 2) });
  const run = (p0: { w: Array }, s0: unknown, from: number, to: number) => {
    let p = p0, s = s0;
    for (let i = from; i < to; i++) {
      const [u, s2] = opt.update(lossGrad(p, i), s, p);
      p = optim.applyUpdates(p, u);
      s = s2;
    }
    return { p, s };
  };
  const p0 = { w: np.zeros([4]) };
  const full = run(p0, opt.init(p0), 0, 6);
  withDir((dir) => {
    const half = run(p0, opt.init(p0), 0, 3);
    saveCheckpoint(dir, { params: half.p, optState: half.s, step: 3, dataPosition: { next: 3 } });
    const ld = loadCheckpoint(dir);
    const rest = run(ld.params, ld.optState, (ld.dataPosition as { next: number }).next, 6);
    treeClose(rest.p, full.p, { rtol: 0, atol: 0 });
    treeClose(rest.s, full.s, { rtol: 0, atol: 0 });
  });
});
