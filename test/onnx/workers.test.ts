/**
 * Stress test kept in the suite on purpose (DESIGN.md: older onnxruntime-node versions crashed
 * here): ≥ 4 worker_threads each create an ONNX Runtime session from the same model bytes and
 * run it concurrently, through plain onnxruntime-node and through Myriad's synchronous
 * OnnxExecutable. Every run in every worker must give bit-identical results, equal to a
 * main-thread run and close to the reference interpreter.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Array } from '../../src/core/array.js';
import * as lax from '../../src/core/lax.js';
import { makeGraph } from '../../src/core/trace.js';
import { evalGraphReference } from '../../src/backends/reference/index.js';
import { OnnxExecutable, lowerGraph } from '../../src/backends/onnx/index.js';
import { DEFAULT_TOL, Rng, compareArrays, randArray } from './helpers.js';

/** A small 2-layer network: tanh(x·W1)·W2, summed with a softmax-free log-sum-exp. */
function net(x: Array, w1: Array, w2: Array): Array {
  const h = lax.tanh(lax.dotGeneral(x, w1, { lhsContracting: [1], rhsContracting: [0] }));
  return lax.dotGeneral(h, w2, { lhsContracting: [1], rhsContracting: [0] });
}

// The Myriad worker is TypeScript: a tiny bootstrap registers tsx in the worker thread (the main
// thread's loader hooks do not reach workers) and then imports it. The plain worker is .mjs.
const TSX_API = import.meta.resolve('tsx/esm/api');
const MYRIAD_WORKER = new URL('./fixtures/myriad_worker.ts', import.meta.url).href;
const MYRIAD_BOOTSTRAP = `import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(${JSON.stringify(MYRIAD_WORKER)}); });`;
const ORT_WORKER = new URL('./fixtures/ort_worker.mjs', import.meta.url);

function runWorker(mode: 'ort' | 'myriad', data: object): Promise<Float32Array[]> {
  return new Promise((resolve, reject) => {
    const w = mode === 'ort' ? new Worker(ORT_WORKER, { workerData: data }) : new Worker(MYRIAD_BOOTSTRAP, { eval: true, workerData: data });
    w.once('message', (m: { ok: boolean; results?: Float32Array[]; error?: string }) => {
      if (m.ok) resolve(m.results!);
      else reject(new Error(`worker failed: ${m.error}`));
    });
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with code ${code}`));
    });
  });
}

for (const [mode, nWorkers] of [['ort', 6], ['myriad', 4]] as const) {
  test(`${nWorkers} workers create and run sessions concurrently (${mode === 'ort' ? 'plain onnxruntime-node' : 'OnnxExecutable.runSync'})`, async () => {
    const r = new Rng(42);
    const x = randArray(r, 'float32', [64, 32]);
    const w1 = randArray(r, 'float32', [32, 48], { lo: -0.3, hi: 0.3 });
    const w2 = randArray(r, 'float32', [48, 1], { lo: -0.3, hi: 0.3 });
    const graph = makeGraph(net)(x, w1, w2);
    const lowered = lowerGraph(graph);
    const want = evalGraphReference(graph, [x, w1, w2])[0];
    const exe = OnnxExecutable.createSync(graph);
    const main = exe.runSync([x, w1, w2])[0];
    exe.close();
    assert.equal(compareArrays(main, want, DEFAULT_TOL, null, 'main thread'), null);
    const inputs = [x, w1, w2].map((a, i) => ({ name: lowered.inputNames[i], data: a._data as Float32Array, dims: a.shape }));
    const runs = 20;
    const all = await Promise.all(globalThis.Array.from({ length: nWorkers }, () => runWorker(mode, { lowered, model: lowered.model, inputs, runs })));
    assert.equal(all.length, nWorkers);
    for (const [wi, results] of all.entries()) {
      assert.equal(results.length, runs);
      for (const [ri, res] of results.entries()) {
        assert.deepEqual(globalThis.Array.from(res), globalThis.Array.from(main._data as Float32Array), `worker ${wi} run ${ri} differs from the main thread`);
      }
    }
  });
}
