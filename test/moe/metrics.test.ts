/**
 * Routing metrics computed by hand for fixed routing decisions, and the expert-load heatmap
 * writer (SVG structure, PNG encoding checked by decoding it, JSON next to the picture).
 */

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { np } from '../../src/index.js';
import { moe } from '../../src/nn/moe/index.js';
import { assertClose, identityRouter, logitsFor } from './helpers.js';

test('metrics by hand: token choice with overflow', () => {
  // E = 3, k = 1, C = 1; tokens 0, 1 prefer e0, token 2 prefers e1, token 3 prefers e2, token 4 is padding
  const p = [[0.5, 0.3, 0.2], [0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.25, 0.25, 0.5], [0.9, 0.05, 0.05]];
  const x = logitsFor([p], undefined, 'float64');
  const r = moe.TokenChoiceRouter({ numExperts: 3, k: 1, minCapacity: 1, evalCapacityFactor: 0.6 });
  const mask = np.array([[1, 1, 1, 1, 0]], { dtype: 'int32' });
  const out = r.apply(identityRouter(3, 'float64'), x, { train: false, paddingMask: mask });
  assert.equal(out.capacity, 1);
  const m = moe.metricsToNumbers(out.metrics);
  const real = p.slice(0, 4);
  assertClose(m.droppedFraction as number, 1 / 4, 1e-12); // token 1 lost its only choice
  assertClose(m.assignmentDropFraction as number, 1 / 4, 1e-12);
  assertClose(m.expertLoad, [1 / 3, 1 / 3, 1 / 3], 1e-12);
  assertClose(m.loadMaxOverMean as number, 1, 1e-12);
  assertClose(m.expertDemand, [0.5, 0.25, 0.25], 1e-12);
  assertClose(m.expertUsage as number, 1, 1e-12); // 3 slots, 3 filled
  assertClose(m.routerConfidence as number, (0.5 + 0.6 + 0.8 + 0.5) / 4, 1e-12);
  const ent = real.map((row) => -row.reduce((a, v) => a + v * Math.log(v), 0));
  assertClose(m.routerEntropy as number, ent.reduce((a, b) => a + b, 0) / 4, 1e-12);
  assertClose(m.expertsPerTokenHistogram, [0.25, 0.75, 0, 0], 1e-12);
  assertClose(m.auxLoss as number, out.auxLoss.item() as number, 0);
  // f = [1/2, 1/4, 1/4], P = column means of the real rows
  const P = [0, 1, 2].map((e) => real.reduce((a, row) => a + row[e], 0) / 4);
  assertClose(m.auxLoss as number, 3 * (0.5 * P[0] + 0.25 * P[1] + 0.25 * P[2]), 1e-12);
});

test('metrics by hand: expert choice histogram of experts per token', () => {
  // E = 2, S = 4, c = 1 → C = 2; e0 takes tokens 0, 1; e1 takes tokens 1, 3 → counts [1, 2, 0, 1]
  const p = [[0.9, 0.1], [0.4, 0.6], [0.2, 0.3], [0.1, 0.9]];
  // probabilities per token must sum to 1: renormalize rows 2 (0.2, 0.3) → (0.4, 0.6)
  const rows = p.map(([a, b]) => [a / (a + b), b / (a + b)]);
  const r = moe.ExpertChoiceRouter({ numExperts: 2, capacityFactor: 1 });
  const out = r.apply(identityRouter(2, 'float64'), logitsFor([rows], undefined, 'float64'), { train: false });
  // e0 column: 0.9, 0.4, 0.4, 0.1 → tokens 0, then 1 (tie with 2 goes to the earlier token)
  // e1 column: 0.1, 0.6, 0.6, 0.9 → tokens 3, 1
  assert.deepEqual(out.expertIndex.toArray(), [[[0, 1], [3, 1]]]);
  const m = moe.metricsToNumbers(out.metrics);
  assertClose(m.expertsPerTokenHistogram, [0.25, 0.5, 0.25], 1e-12);
  assertClose(m.droppedFraction as number, 0.25, 1e-12);
  assert.equal(m.assignmentDropFraction, undefined);
  assert.equal(m.expertDemand, undefined);
  assert.equal(m.auxLoss, 0);
});

test('writeExpertLoadHeatmap: SVG with labels and colours, JSON next to it', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'moe-heatmap-'));
  try {
    const loads = [[0.5, 0.25, 0.25, 0], [0.25, 0.25, 0.25, 0.25]];
    const files = moe.writeExpertLoadHeatmap(path.join(dir, 'sub', 'load.svg'), loads, { title: 'expert load <test>' });
    assert.equal(files.json, path.join(dir, 'sub', 'load.json'));
    const svg = readFileSync(files.picture, 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /expert load &lt;test&gt;/);
    assert.match(svg, /layer 1, expert 3: 0\.2500/);
    // max → the top of viridis (#fde725), min → the bottom (#440154)
    assert.match(svg, /fill="#fde725"><title>layer 0, expert 0: 0\.5000/);
    assert.match(svg, /fill="#440154"><title>layer 0, expert 3: 0\.000/);
    assert.equal((svg.match(/<title>/g) ?? []).length, 8);
    const doc = JSON.parse(readFileSync(files.json, 'utf8'));
    assert.deepEqual(doc.loads, loads);
    assert.deepEqual(doc.layers, ['layer 0', 'layer 1']);
    assert.equal(doc.vmin, 0);
    assert.equal(doc.vmax, 0.5);
    assert.throws(() => moe.writeExpertLoadHeatmap(path.join(dir, 'x.jpg'), loads), /\.svg or \.png/);
    assert.throws(() => moe.writeExpertLoadHeatmap(path.join(dir, 'x.svg'), [[1, 2], [3]]), /row 1 has 1 experts/);
    assert.throws(() => moe.writeExpertLoadHeatmap(path.join(dir, 'x.svg'), [[1, NaN]]), /finite number/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeExpertLoadHeatmap: PNG decodes to the expected pixels', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'moe-heatmap-'));
  try {
    const loads = [[1, 0], [0.5, 0.5]];
    const cell = 4;
    const files = moe.writeExpertLoadHeatmap(path.join(dir, 'load.png'), loads, { cellSize: cell });
    const buf = readFileSync(files.picture);
    assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // walk the chunks
    let off = 8;
    let width = 0, height = 0;
    const idat: Buffer[] = [];
    for (;;) {
      const len = buf.readUInt32BE(off);
      const type = buf.toString('ascii', off + 4, off + 8);
      const data = buf.subarray(off + 8, off + 8 + len);
      if (type === 'IHDR') {
        width = data.readUInt32BE(0);
        height = data.readUInt32BE(4);
        assert.equal(data[8], 8);
        assert.equal(data[9], 2);
      }
      if (type === 'IDAT') idat.push(data);
      off += 12 + len;
      if (type === 'IEND') break;
    }
    assert.equal(off, buf.length);
    const raw = inflateSync(Buffer.concat(idat));
    assert.equal(raw.length, (width * 3 + 1) * height);
    const pixel = (x: number, y: number) => [...raw.subarray(y * (width * 3 + 1) + 1 + x * 3, y * (width * 3 + 1) + 4 + x * 3)];
    const pad = 8;
    assert.deepEqual(pixel(pad, pad), moe.viridis(1)); // loads[0][0] = 1 = max
    assert.deepEqual(pixel(pad + cell, pad), moe.viridis(0)); // loads[0][1] = 0 = min
    assert.deepEqual(pixel(pad + cell + 1, pad + cell + 1), moe.viridis(0.5));
    assert.deepEqual(pixel(0, 0), [255, 255, 255]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
