/**
 * ONNX export: a function of pytrees is exported with `exportOnnx` / `exportOnnxToFile`, the
 * model is run by plain onnxruntime-node (no Myriad code in the run: feeds and outputs by name),
 * and the result matches the reference interpreter. Also checks the model's opset/IR version,
 * the input/output names derived from pytree paths, and the atomic file write.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { Array } from '../../src/core/array.js';
import * as lax from '../../src/core/lax.js';
import { ShapeDtypeStruct } from '../../src/core/array.js';
import { ONNX_OPSET, OnnxError, exportOnnx, exportOnnxToFile, exportOnnxWith } from '../../src/backends/onnx/index.js';
import { DEFAULT_TOL, Rng, compareArrays, randArray } from './helpers.js';

interface Params {
  w1: Array;
  b1: Array;
  w2: Array;
}

/** A 2-layer classifier returning {logits, best}: relu(x·W1 + b1)·W2 and the argmax class. */
function classifier(params: Params, x: Array): { logits: Array; best: Array } {
  const h0 = lax.dotGeneral(x, params.w1, { lhsContracting: [1], rhsContracting: [0] });
  const h = lax.max(lax.add(h0, lax.broadcastInDim(params.b1, h0.shape, [1])), lax.zerosLike(h0));
  const logits = lax.dotGeneral(h, params.w2, { lhsContracting: [1], rhsContracting: [0] });
  return { logits, best: lax.argmax(logits, 1) };
}

function example(r: Rng): [Params, Array] {
  return [
    { w1: randArray(r, 'float32', [12, 16], { lo: -0.5, hi: 0.5 }), b1: randArray(r, 'float32', [16]), w2: randArray(r, 'float32', [16, 5], { lo: -0.5, hi: 0.5 }) },
    randArray(r, 'float32', [7, 12]),
  ];
}

/** Runs the model with plain onnxruntime-node, feeding the leaves by input name. */
async function runPlain(source: Uint8Array | string, feedsByName: Record<string, Array>): Promise<Record<string, ort.Tensor>> {
  const session = typeof source === 'string' ? await ort.InferenceSession.create(source) : await ort.InferenceSession.create(source);
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) {
    const a = feedsByName[name];
    assert.ok(a, `the exported model has an unexpected input ${name}`);
    feeds[name] = new ort.Tensor(a.dtype as 'float32', a._data as Float32Array, a.shape);
  }
  const out = await session.run(feeds);
  await session.release();
  return out;
}

function checkOutputs(out: Record<string, ort.Tensor>, want: { logits: Array; best: Array }): void {
  assert.deepEqual(Object.keys(out).sort(), ['output.best', 'output.logits']);
  const logits = Array.fromData(out['output.logits'].data as Float32Array, out['output.logits'].dims as number[], 'float32');
  assert.equal(compareArrays(logits, want.logits, DEFAULT_TOL, null, 'logits'), null);
  assert.equal(out['output.best'].type, 'int32');
  assert.deepEqual(globalThis.Array.from(out['output.best'].data as Int32Array), globalThis.Array.from(want.best._data as Int32Array));
}

test('exportOnnx: a pytree function runs in plain onnxruntime-node and matches the reference', async () => {
  const r = new Rng(7);
  const [params, x] = example(r);
  const bytes = exportOnnx(classifier, params, x);
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  assert.equal(Number(model.irVersion), 8);
  assert.equal(model.opsetImport.length, 1);
  assert.equal(Number(model.opsetImport[0].version), ONNX_OPSET);
  assert.deepEqual((model.graph?.input ?? []).map((i) => i.name), ['arg0.b1', 'arg0.w1', 'arg0.w2', 'arg1']);
  const want = classifier(params, x); // eager: the reference interpreter
  const out = await runPlain(bytes, { 'arg0.b1': params.b1, 'arg0.w1': params.w1, 'arg0.w2': params.w2, arg1: x });
  checkOutputs(out, want);
});

test('exportOnnx traces on ShapeDtypeStructs, and the model generalizes to other values', async () => {
  const r = new Rng(8);
  const [params, x] = example(r);
  const abstract = [{ w1: new ShapeDtypeStruct([12, 16]), b1: new ShapeDtypeStruct([16]), w2: new ShapeDtypeStruct([16, 5]) }, new ShapeDtypeStruct([7, 12])];
  const { model, inputNames } = exportOnnxWith(classifier, abstract, { argNames: ['params', 'x'] });
  assert.deepEqual(inputNames, ['params.b1', 'params.w1', 'params.w2', 'x']);
  const out = await runPlain(model, { 'params.b1': params.b1, 'params.w1': params.w1, 'params.w2': params.w2, x });
  checkOutputs(out, classifier(params, x));
});

test('exportOnnxToFile writes atomically and the file runs in plain onnxruntime-node', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'myriad-onnx-'));
  try {
    const r = new Rng(9);
    const [params, x] = example(r);
    const file = path.join(dir, 'classifier.onnx');
    const n = exportOnnxToFile(file, classifier, params, x);
    assert.deepEqual(readdirSync(dir), ['classifier.onnx'], 'no temporary file may be left behind');
    assert.equal(readFileSync(file).length, n);
    // overwrite in place: still exactly one file, new content
    const n2 = exportOnnxToFile(file, (p: Params, y: Array) => classifier(p, y), params, x);
    assert.deepEqual(readdirSync(dir), ['classifier.onnx']);
    assert.equal(readFileSync(file).length, n2);
    const out = await runPlain(file, { 'arg0.b1': params.b1, 'arg0.w1': params.w1, 'arg0.w2': params.w2, arg1: x });
    checkOutputs(out, classifier(params, x));
    assert.throws(() => exportOnnxToFile(path.join(dir, 'missing', 'm.onnx'), classifier, params, x), (e: unknown) => e instanceof OnnxError && /could not write .*missing/.test((e as Error).message));
    assert.deepEqual(readdirSync(dir), ['classifier.onnx']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
