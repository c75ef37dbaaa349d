import '../../src/backends/reference/index.js';
import * as lax from '../../src/core/lax.js';
import { makeGraph } from '../../src/core/trace.js';
import { OnnxExecutable } from '../../src/backends/onnx/session.js';
import { arrayOf } from './helpers.js';
const x = arrayOf('float32', [6], [Infinity, -Infinity, 3e9, -3e9, 2147483648, NaN]);
const g = makeGraph((a) => lax.convert(a, 'int32'))(x);
for (const opt of ['disabled', 'basic', 'all'] as const) {
  const e = OnnxExecutable.createSync(g, { optimization: opt });
  console.log(opt, e.runSync([x])[0].toString());
}
import onnxProto from 'onnx-proto';
import { lowerGraph } from '../../src/backends/onnx/lower.js';
const m = onnxProto.onnx.ModelProto.decode(lowerGraph(g).model);
for (const n of m.graph!.node!) console.log(n.opType, n.input, n.output, JSON.stringify(n.attribute));
for (const t of m.graph!.initializer!) console.log(t.name, t.dataType, t.dims, Buffer.from(t.rawData!).toString('hex'));
