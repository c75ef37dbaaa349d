/**
 * The ONNX Runtime 1.30 CPU kernel gaps and bugs that the lowering (src/backends/onnx/lower.ts)
 * works around, measured directly on single-node models. If onnxruntime-node is upgraded and a
 * gap closes (or a new one opens), this test says which workaround to revisit.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { A, OnnxModelBuilder, type Attr, type OnnxDType } from '../../src/backends/onnx/index.js';

const TYPED: Record<string, (n: number[]) => ort.Tensor> = {
  float32: (v) => new ort.Tensor('float32', Float32Array.from(v), [v.length]),
  float64: (v) => new ort.Tensor('float64', Float64Array.from(v), [v.length]),
  int32: (v) => new ort.Tensor('int32', Int32Array.from(v), [v.length]),
  uint32: (v) => new ort.Tensor('uint32', Uint32Array.from(v), [v.length]),
  int64: (v) => new ort.Tensor('int64', BigInt64Array.from(v.map((x) => BigInt(x))), [v.length]),
  bool: (v) => new ort.Tensor('bool', Uint8Array.from(v), [v.length]),
};

/**
 * Builds `op(x, y?; attrs)` on 1-D inputs of dtype `dt`, runs it and returns the output values,
 * or 'no kernel' when the session cannot be created for lack of a kernel.
 */
async function probe(op: string, dt: OnnxDType, inputs: number[][], attrs: Record<string, Attr> = {}, outDt: OnnxDType = dt, extra: (b: OnnxModelBuilder) => string[] = () => []): Promise<number[] | 'no kernel'> {
  const b = new OnnxModelBuilder();
  const n = inputs[0].length;
  const names = inputs.map((_, i) => {
    const name = `x${i}`;
    b.addInput(name, i === 0 && op === 'Where' ? 'bool' : dt, [n]);
    return name;
  });
  const out = b.node(op, [...names, ...extra(b)], attrs, op === 'TopK' ? 2 : 1)[0];
  b.addOutput(out, outDt, []);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(b.toBytes(), { graphOptimizationLevel: 'all', logSeverityLevel: 4 });
  } catch (e) {
    if (/Could not find an implementation/.test((e as Error).message)) return 'no kernel';
    throw e;
  }
  const feeds: Record<string, ort.Tensor> = {};
  inputs.forEach((v, i) => (feeds[names[i]] = TYPED[i === 0 && op === 'Where' ? 'bool' : dt](v)));
  const r = await session.run(feeds);
  await session.release();
  return globalThis.Array.from(Object.values(r)[0].data as ArrayLike<number | bigint>, (v) => Number(v));
}

test('ONNX Runtime CPU has no uint32 kernels for Where, reductions, ArgMax, CumSum, TopK (lowered via int32/int64/float64)', async () => {
  const axes = (b: OnnxModelBuilder) => [b.int64s([0])];
  assert.equal(await probe('Where', 'uint32', [[1, 0], [1, 2], [3, 4]]), 'no kernel');
  assert.equal(await probe('Where', 'bool', [[1, 0], [1, 0], [0, 1]]), 'no kernel');
  assert.equal(await probe('ReduceSum', 'uint32', [[1, 2]], { keepdims: A.int(0) }, 'uint32', axes), 'no kernel');
  assert.equal(await probe('ReduceMax', 'uint32', [[1, 2]], { keepdims: A.int(0) }, 'uint32', axes), 'no kernel');
  assert.equal(await probe('ReduceMin', 'uint32', [[1, 2]], { keepdims: A.int(0) }, 'uint32', axes), 'no kernel');
  assert.equal(await probe('ArgMax', 'uint32', [[1, 2]], { axis: A.int(0), keepdims: A.int(0) }, 'int64'), 'no kernel');
  assert.equal(await probe('CumSum', 'uint32', [[1, 2]], {}, 'uint32', (b) => [b.scalar('int64', 0)]), 'no kernel');
  // the workarounds' building blocks exist
  assert.deepEqual(await probe('Where', 'int32', [[1, 0], [1, 2], [3, 4]]), [1, 4]);
  assert.deepEqual(await probe('ReduceSum', 'int64', [[1, 2]], { keepdims: A.int(0) }, 'int64', axes), [3]);
});

test('ONNX Runtime CPU has no float64 Atan or Erf kernel (atan2/erf on float64 are refused)', async () => {
  assert.equal(await probe('Atan', 'float64', [[0.5]]), 'no kernel');
  assert.equal(await probe('Erf', 'float64', [[0.5]]), 'no kernel');
  assert.notEqual(await probe('Atan', 'float32', [[0.5]]), 'no kernel');
});

test('ONNX Runtime 1.30 int64 Min/Max/Clip/Sign look only at the low 32 bits (avoided by the lowering)', async () => {
  // correct answers would be [2147483647, 5] and [2147483648, 3000000000]
  assert.deepEqual(await probe('Min', 'int64', [[2147483648, 3000000000], [2147483647, 5]]), [2147483648, 3000000000]);
  assert.deepEqual(await probe('Max', 'int64', [[2147483648, 3000000000], [2147483647, 5]]), [2147483647, 5]);
  assert.deepEqual(await probe('Clip', 'int64', [[2147483648, 4294967295]], {}, 'int64', (b) => [b.scalar('int64', 0), b.scalar('int64', 2147483647)]), [0, 0]);
  assert.deepEqual(await probe('Sign', 'int64', [[2147483648, 3000000000]]), [-1, -1]);
  // uint32 Min/Max (used by the shift lowering) are correct
  assert.deepEqual(await probe('Min', 'uint32', [[2147483648, 3000000000], [2147483647, 5]]), [2147483647, 5]);
});

test('ONNX Runtime TopK misorders NaN but breaks ties by the lower index', async () => {
  const k = (b: OnnxModelBuilder) => [b.int64s([4])];
  const vals = await probe('TopK', 'float32', [[1, 3, 3, NaN, 2, 3]], { largest: A.int(1), sorted: A.int(1) }, 'float32', k);
  assert.ok(Array.isArray(vals) && !Number.isNaN(vals[0]), `TopK now puts NaN first (${vals}); the float64-key composite in lower.ts may be simplified`);
  const ties = await probe('TopK', 'float32', [[1, 3, 3, 0, 2, 3]], { largest: A.int(1), sorted: A.int(1) }, 'float32', k);
  assert.deepEqual(ties, [3, 3, 3, 2]);
});

test('ONNX Round is half-to-even (round lowers to a half-away-from-zero composite)', async () => {
  assert.deepEqual(await probe('Round', 'float32', [[0.5, 1.5, 2.5, -2.5]]), [0, 2, 2, -2]);
});
