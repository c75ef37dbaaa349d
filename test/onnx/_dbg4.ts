import * as ort from 'onnxruntime-node';
import { OnnxModelBuilder } from '../../src/backends/onnx/builder.js';
for (const op of ['Min', 'Max', 'Less', 'Clip']) for (const dt of ['int64', 'int32', 'uint32'] as const) {
  const b = new OnnxModelBuilder();
  b.addInput('x', dt, [4]); b.addInput('y', dt, [4]);
  const m2 = op === 'Clip' ? b.op('Clip', ['x', b.scalar(dt, 0), b.scalar(dt, 2147483647)]) : b.op(op, ['x', 'y']);
  b.addOutput(m2, op === 'Less' ? 'bool' : dt, [4]);
  const s = await ort.InferenceSession.create(b.toBytes(), { graphOptimizationLevel: 'disabled' });
  const xs = dt === 'int32' ? [2147483647, -2147483648, 16777217, 5] : [2147483648, 2 ** 33 + 1, 16777217, 4294967295];
  const ys = dt === 'int32' ? [2147483646, -2147483647, 16777216, 5] : [2147483647, 2 ** 33, 16777216, 4294967294];
  const mk = (v: number[]) => dt === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [4]) : new ort.Tensor(dt, (dt === 'int32' ? Int32Array : Uint32Array).from(v), [4]);
  try {
  const r = await s.run({ x: mk(xs), y: mk(ys) });
  console.log(op, dt, 'x', xs.join(','), 'y', ys.join(','), '→', Object.values(r).map((v) => Array.from(v.data as any).join(',')).join(' | '));
  } catch (e) { console.log(op, dt, String(e).slice(0, 100)); }
}
