import '../../src/backends/reference/index.js';
import { Array } from '../../src/core/array.js';
import * as lax from '../../src/core/lax.js';
import { makeGraph } from '../../src/core/trace.js';
import { evalGraphReference } from '../../src/backends/reference/index.js';
import { OnnxExecutable } from '../../src/backends/onnx/session.js';

const x = Array.fromData(Float32Array.from([1, -2.5, 0.5, 3, NaN, -0]), [2, 3]);
const w = Array.fromData(Float32Array.from([1, 2, 3, 4, 5, 6]), [3, 2]);
const f = (a: Array, b: Array) => [lax.dotGeneral(a, b, { lhsContracting: [1], rhsContracting: [0] }), lax.round(a), lax.exp(a), lax.reduceMax(a, [1])];
const g = makeGraph(f)(x, w);
console.log(g.toString());
const ref = evalGraphReference(g, [x, w]);
const ex = OnnxExecutable.createSync(g);
const got = ex.runSync([x, w]);
for (let i = 0; i < ref.length; i++) console.log(ref[i].toString(), '|', got[i].toString());
const ex2 = await OnnxExecutable.create(g);
console.log((await ex2.run([x, w]))[1].toString());
