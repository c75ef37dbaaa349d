import * as ort from 'onnxruntime-node';
import { OnnxModelBuilder } from '../../src/backends/onnx/builder.js';
for (const dt of ['int64', 'int32', 'uint32', 'float32'] as const) {
  const b = new OnnxModelBuilder();
  b.addInput('x', dt, [4]); b.addInput('y', dt, [4]);
  const m1 = b.op('Min', ['x', b.scalar(dt, 10)]);
  const m2 = b.op('Min', ['x', 'y']);
  const m3 = b.op('Max', ['x', b.scalar(dt, 10)]);
  const m4 = b.op('Min', [b.scalar(dt, 10), 'x']);
  b.addOutput(m1, dt, [4]); b.addOutput(m2, dt, [4]); b.addOutput(m3, dt, [4]); b.addOutput(m4, dt, [4]);
  const s = await ort.InferenceSession.create(b.toBytes(), { graphOptimizationLevel: 'disabled' });
  const mk = (v: number[]) => dt === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [4]) : new ort.Tensor(dt, (dt === 'int32' ? Int32Array : dt === 'uint32' ? Uint32Array : Float32Array).from(v), [4]);
  const r = await s.run({ x: mk([20, 5, 10, 11]), y: mk([10, 10, 10, 10]) });
  console.log(dt, Object.values(r).map((v) => Array.from(v.data as any).join(',')).join(' | '));
}
