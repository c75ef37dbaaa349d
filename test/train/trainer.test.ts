// The Trainer: loss drops on a fixed batch, resuming gives bit-identical losses, progress JSON
// lines and log.jsonl have the documented format, and loss.svg / loss.png are well-formed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import { Array, optim } from '../../src/index.js';
import { DecoderLM } from '../../src/models/index.js';
import { Trainer, arrayBatchSource, type Batch } from '../../src/train/trainer.js';
import { TrainError } from '../../src/train/errors.js';
import { readLogRecords, type OutputStream } from '../../src/train/progress.js';
import { lossCurveSvg, niceTicks } from '../../src/train/plot.js';

const B = 4;
const L = 16;

/** A packed-looking LM batch of byte-like ids: inputs are the targets shifted right (start id 0). */
function lmBatch(offset: number): Batch {
  const t = new Int32Array(B * L).map((_, i) => 3 + ((i * 5 + offset * 11 + ((i * i) % 7)) % 60));
  const inp = new Int32Array(B * L);
  for (let i = 0; i < B * L; i++) inp[i] = i % L === 0 ? 0 : t[i - 1];
  return { decoder_target_tokens: Array.fromData(t, [B, L], 'int32'), decoder_input_tokens: Array.fromData(inp, [B, L], 'int32') };
}

const model = DecoderLM({ vocabSize: 64, dModel: 16, numHeads: 2, headDim: 8, mlpDim: 32, numLayers: 2, dropoutRate: 0.1 });

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-trainer-'));
}

function sink(): OutputStream & { text: string } {
  const s = { text: '', isTTY: false, write(c: string) { s.text += c; return true; } };
  return s;
}

test('the loss drops on a fixed batch', async () => {
  const dir = tmp();
  try {
    const batch = lmBatch(0);
    const tr = new Trainer({ model, optimizer: optim.adamw(1e-2), data: arrayBatchSource([batch]), steps: 40, outDir: dir, progress: 'none', peakFlops: null, plots: false });
    const r = await tr.run();
    tr.close();
    const first = r.history[0].loss;
    const last = r.history[r.history.length - 1].loss;
    assert.ok(last < first * 0.6, `loss should drop: ${first} → ${last}`);
    assert.ok(r.history[r.history.length - 1].metrics.accuracy > r.history[0].metrics.accuracy);
    assert.equal(r.status, 'completed');
    assert.equal(r.step, 40);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('resuming gives exactly the losses of the uninterrupted run', async () => {
  const dirA = tmp();
  const dirB = tmp();
  try {
    const batches = [lmBatch(0), lmBatch(1), lmBatch(2)];
    // Dropout (keys per step), a schedule (optimizer step counter) and clipping all have to resume exactly.
    const make = (outDir: string, resume = false) => new Trainer({
      model,
      optimizer: optim.chain(optim.clipByGlobalNorm(1), optim.adamw(optim.warmupCosineDecaySchedule({ peakValue: 1e-2, warmupSteps: 2, decaySteps: 6 }))),
      data: arrayBatchSource(batches),
      steps: 6,
      outDir,
      seed: 7,
      resume,
      progress: 'none',
      peakFlops: null,
      plots: false,
    });
    const a = make(dirA);
    const full = (await a.run()).history.map((h) => h.loss);
    a.close();
    const b1 = make(dirB);
    const part1 = await b1.run({ stopAtStep: 3 });
    b1.close();
    assert.equal(part1.status, 'stopped');
    assert.equal(part1.step, 3);
    const b2 = make(dirB, true);
    const part2 = await b2.run();
    b2.close();
    assert.equal(part2.startStep, 3);
    const resumed = [...part1.history, ...part2.history].map((h) => h.loss);
    assert.equal(resumed.length, 6);
    assert.deepEqual(resumed, full); // bit for bit
    assert.notEqual(full[3], full[4]);
    // The resumed run rebuilt the whole loss curve from the log.
    assert.deepEqual(part2.trainCurve.map((p) => p.value), full);
  } finally {
    fs.rmSync(dirA, { recursive: true, force: true });
    fs.rmSync(dirB, { recursive: true, force: true });
  }
});

test('progress JSON lines and log.jsonl have the documented records', async () => {
  const dir = tmp();
  try {
    const out = sink();
    const batches = [lmBatch(0), lmBatch(1)];
    const tr = new Trainer({
      model, optimizer: optim.adamw(optim.warmupCosineDecaySchedule({ peakValue: 1e-2, warmupSteps: 1, decaySteps: 5 })), learningRate: optim.warmupCosineDecaySchedule({ peakValue: 1e-2, warmupSteps: 1, decaySteps: 5 }),
      data: arrayBatchSource(batches), evalData: () => batches, steps: 5, evalEvery: 2, checkpointEvery: 2, keepCheckpoints: 2,
      outDir: dir, progress: 'auto', output: out, logEvery: 2, peakFlops: 1e11,
    });
    const r = await tr.run();
    tr.close();
    const lines = out.text.trim().split('\n').map((l) => JSON.parse(l));
    const events = lines.map((l) => l.event);
    assert.equal(events[0], 'start');
    assert.equal(events[events.length - 1], 'end');
    // JSON mode prints steps 1, every logEvery-th, and the last.
    assert.deepEqual(lines.filter((l) => l.event === 'step').map((l) => l.step), [1, 2, 4, 5]);
    for (const s of lines.filter((l) => l.event === 'step')) {
      for (const k of ['loss', 'accuracy', 'cross_entropy', 'num_tokens', 'grad_norm', 'lr', 'tokens', 'tokens_per_s', 'step_time_s', 'data_time_s', 'mfu', 'elapsed_s', 'eta_s']) {
        assert.equal(typeof s[k], 'number', `step record field ${k}: ${JSON.stringify(s)}`);
      }
      assert.equal(s.tokens, B * L);
      assert.ok(s.mfu > 0 && s.step_time_s > 0);
    }
    assert.deepEqual(lines.filter((l) => l.event === 'eval').map((l) => l.step), [2, 4, 5]);
    for (const e of lines.filter((l) => l.event === 'eval')) {
      assert.ok(Math.abs(e.perplexity - Math.exp(e.loss)) < 1e-9 * e.perplexity);
      assert.equal(e.tokens, 2 * B * L);
      assert.ok(e.accuracy >= 0 && e.accuracy <= 1);
    }
    assert.deepEqual(lines.filter((l) => l.event === 'checkpoint').map((l) => l.step), [2, 4, 5]);
    // The log file has every step, whatever the console shows.
    const log = readLogRecords(path.join(dir, 'log.jsonl'));
    assert.deepEqual(log.filter((l) => l.event === 'step').map((l) => l.step), [1, 2, 3, 4, 5]);
    // keep-last-2
    assert.deepEqual(fs.readdirSync(path.join(dir, 'checkpoints')).filter((n) => n.startsWith('step_')).sort(), ['step_4', 'step_5']);
    assert.equal(r.lastEval?.step, 5);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the progress bar redraws one line on a TTY', async () => {
  const dir = tmp();
  try {
    const out = sink();
    out.isTTY = true;
    (out as { columns?: number }).columns = 120;
    const tr = new Trainer({ model, optimizer: optim.sgd(0.1), data: arrayBatchSource([lmBatch(0)]), steps: 3, outDir: dir, progress: 'auto', output: out, peakFlops: null, plots: false });
    await tr.run();
    tr.close();
    assert.match(out.text, /\rstep 1\/3 [█░]+ +33% │ loss \d+\.\d{4} │ acc \d\.\d{3} │ [\d.]+k? tok\/s │ \d+ ms\/step │ ETA \d+:\d\d/);
    assert.match(out.text, /step 3\/3 █+ 100%/);
    assert.ok(!out.text.includes('{"event"'), 'no JSON on a TTY');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('loss.svg and loss.png are written and well-formed', async () => {
  const dir = tmp();
  try {
    const batches = [lmBatch(0), lmBatch(1)];
    const tr = new Trainer({ model, optimizer: optim.adamw(1e-2), data: arrayBatchSource(batches), evalData: () => batches, steps: 8, evalEvery: 4, outDir: dir, progress: 'none', peakFlops: null });
    const r = await tr.run();
    tr.close();
    assert.equal(r.svgPath, path.join(dir, 'loss.svg'));
    const svg = fs.readFileSync(r.svgPath!, 'utf8');
    assert.match(svg, /^<\?xml[^>]*\?>\s*<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    // Tags balance (every opened element is closed, in order).
    const stack: string[] = [];
    for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
      if (m[3] === '/') continue;
      if (m[1] === '/') assert.equal(stack.pop(), m[2]);
      else stack.push(m[2]);
    }
    assert.deepEqual(stack, []);
    const points = (series: string) => {
      const m = new RegExp(`<polyline data-series="${series}"[^>]* points="([^"]*)"`).exec(svg);
      assert.ok(m, `no ${series} polyline`);
      return m[1].trim().split(/\s+/).map((p) => p.split(',').map(Number));
    };
    assert.equal(points('train').length, 8);
    assert.equal(points('train-ema').length, 8);
    assert.equal(points('eval').length, 2);
    for (const [x, y] of points('train')) assert.ok(Number.isFinite(x) && Number.isFinite(y) && x >= 0 && x <= 760 && y >= 0 && y <= 440);
    // PNG: signature, IHDR size, CRCs and image data that inflates to the right size.
    const png = fs.readFileSync(r.pngPath!);
    assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
    assert.equal(png.toString('latin1', 12, 16), 'IHDR');
    const w = png.readUInt32BE(16);
    const h = png.readUInt32BE(20);
    assert.deepEqual([w, h], [1520, 880]);
    let off = 8;
    const idat: Buffer[] = [];
    while (off < png.length) {
      const len = png.readUInt32BE(off);
      const type = png.toString('latin1', off + 4, off + 8);
      if (type === 'IDAT') idat.push(png.subarray(off + 8, off + 8 + len));
      off += 12 + len;
    }
    assert.equal(off, png.length);
    assert.equal(inflateSync(Buffer.concat(idat)).length, h * (1 + w * 3));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('plot helpers: nice ticks and an SVG point per sample', () => {
  const t = niceTicks(0.37, 5.6, 5);
  assert.deepEqual(t.ticks, [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(niceTicks(0, 600, 6).ticks, [0, 100, 200, 300, 400, 500, 600]);
  const svg = lossCurveSvg({ train: [{ step: 1, value: 2 }, { step: 2, value: 1 }, { step: 3, value: 0.5 }], emaAlpha: 0 });
  assert.match(svg, /<polyline data-series="train"[^>]* points="[\d.]+,[\d.]+ [\d.]+,[\d.]+ [\d.]+,[\d.]+"/);
  assert.ok(!svg.includes('train-ema'));
});

test('a second run into the same directory must resume or overwrite', async () => {
  const dir = tmp();
  try {
    const opts = { model, optimizer: optim.sgd(0.1), data: arrayBatchSource([lmBatch(0)]), steps: 2, outDir: dir, progress: 'none' as const, peakFlops: null, plots: false as const };
    const a = new Trainer(opts);
    await a.run();
    a.close();
    await assert.rejects(new Trainer(opts).run(), (e: unknown) => e instanceof TrainError && /resume it .*start over/.test(e.message));
    const c = new Trainer({ ...opts, overwrite: true });
    const r = await c.run();
    c.close();
    assert.equal(r.startStep, 0);
    // A resumed run that is already complete trains no more steps.
    const d = new Trainer({ ...opts, resume: true });
    const rd = await d.run();
    d.close();
    assert.equal(rd.history.length, 0);
    assert.equal(rd.step, 2);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a diverging loss stops training with a clear error', async () => {
  const dir = tmp();
  try {
    const tr = new Trainer({ model, optimizer: optim.sgd(1e30), data: arrayBatchSource([lmBatch(0)]), steps: 5, outDir: dir, progress: 'none', peakFlops: null, plots: false });
    await assert.rejects(tr.run(), (e: unknown) => e instanceof TrainError && /loss became (NaN|Infinity|-Infinity) at step \d/.test(e.message));
    tr.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('microbatches accumulate to the same loss as the full batch', async () => {
  const dirs = [tmp(), tmp()];
  try {
    const det = DecoderLM({ vocabSize: 64, dModel: 16, numHeads: 2, headDim: 8, mlpDim: 32, numLayers: 1 });
    const run = async (outDir: string, microbatches: number) => {
      const tr = new Trainer({ model: det, optimizer: optim.sgd(0.5), data: arrayBatchSource([lmBatch(3)]), steps: 2, outDir, microbatches, progress: 'none', peakFlops: null, plots: false });
      const r = await tr.run();
      tr.close();
      return r.history;
    };
    const [one, two] = [await run(dirs[0], 1), await run(dirs[1], 2)];
    // Every row has the same number of target tokens, so the mean of microbatch means is the full mean.
    for (let i = 0; i < 2; i++) {
      assert.ok(Math.abs(one[i].loss - two[i].loss) < 1e-5, `step ${i + 1}: ${one[i].loss} vs ${two[i].loss}`);
      assert.equal(two[i].metrics.num_tokens, B * L);
    }
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
});

test('SIGINT between steps saves a checkpoint and stops', async () => {
  const dir = tmp();
  try {
    const inner = arrayBatchSource([lmBatch(0)]);
    let calls = 0;
    // The data source raises SIGINT while step 3 is being prepared, as Ctrl-C would.
    const data = {
      open: (p?: Parameters<typeof inner.open>[0]) => {
        const s = inner.open(p);
        return { next: () => (++calls === 3 && process.emit('SIGINT'), s.next()), get position() { return s.position; } };
      },
    };
    const out = sink();
    const tr = new Trainer({ model, optimizer: optim.sgd(0.1), data, steps: 50, outDir: dir, progress: 'json', output: out, peakFlops: null, plots: false });
    const r = await tr.run();
    tr.close();
    assert.equal(r.status, 'interrupted');
    assert.equal(r.step, 3);
    assert.match(out.text, /interrupt received/);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'checkpoints')).filter((n) => n.startsWith('step_')), ['step_3']);
    assert.equal(process.listenerCount('SIGINT'), 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
