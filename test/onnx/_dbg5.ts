import * as ort from 'onnxruntime-node';
import { OnnxModelBuilder, A, type OnnxDType } from '../../src/backends/onnx/builder.js';
const big: Record<string, number[]> = {
  int64: [2147483648, 2147483647, 4294967295, 0, -1, 3000000000, 5, 4294967296],
  uint32: [2147483648, 2147483647, 4294967295, 0, 1, 3000000000, 5, 7],
  int32: [2147483647, -2147483648, -1, 0, 1, 1000000000, 5, -7],
};
const mk = (dt: string, v: number[]) => dt === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [v.length]) : new ort.Tensor(dt as any, (dt === 'int32' ? Int32Array : Uint32Array).from(v), [v.length]);
async function run(dt: OnnxDType, build: (b: OnnxModelBuilder) => [string, OnnxDType], ref: (v: number[]) => number[] | number) {
  const b = new OnnxModelBuilder();
  b.addInput('x', dt, [8]);
  const [o, odt] = build(b);
  b.addOutput(o, odt, []);
  const s = await ort.InferenceSession.create(b.toBytes(), { graphOptimizationLevel: 'disabled' });
  const r = Object.values(await s.run({ x: mk(dt, big[dt]) }))[0];
  const got = Array.from(r.data as any, (v: any) => Number(v));
  const want = ([] as number[]).concat(ref(big[dt]));
  return got.join(',') === want.join(',') ? 'ok' : `WRONG got ${got} want ${want}`;
}
const rev = (v: number[]) => [...v].reverse();
for (const dt of ['int64', 'uint32', 'int32'] as OnnxDType[]) {
  const out: Record<string, string> = {};
  out.Min = await run(dt, (b) => [b.op('Min', ['x', b.op('Reverse' === 'x' ? '' : 'Identity', ['x'])]), dt], (v) => v);
  const revb = (b: OnnxModelBuilder) => b.op('Slice', ['x', b.int64s([7]), b.int64s([-9]), b.int64s([0]), b.int64s([-1])]);
  out.MinRev = await run(dt, (b) => [b.op('Min', ['x', revb(b)]), dt], (v) => v.map((x, i) => Math.min(x, rev(v)[i])));
  out.MaxRev = await run(dt, (b) => [b.op('Max', ['x', revb(b)]), dt], (v) => v.map((x, i) => Math.max(x, rev(v)[i])));
  out.LessRev = await run(dt, (b) => [b.op('Less', ['x', revb(b)]), 'bool'], (v) => v.map((x, i) => +(x < rev(v)[i])));
  out.GreaterRev = await run(dt, (b) => [b.op('Greater', ['x', revb(b)]), 'bool'], (v) => v.map((x, i) => +(x > rev(v)[i])));
  out.GeRev = await run(dt, (b) => [b.op('GreaterOrEqual', ['x', revb(b)]), 'bool'], (v) => v.map((x, i) => +(x >= rev(v)[i])));
  out.EqRev = await run(dt, (b) => [b.op('Equal', ['x', revb(b)]), 'bool'], (v) => v.map((x, i) => +(x === rev(v)[i])));
  out.ReduceMax = await run(dt, (b) => [b.op('ReduceMax', ['x', b.int64s([0])], { keepdims: A.int(0) }), dt], (v) => Math.max(...v));
  out.ReduceMin = await run(dt, (b) => [b.op('ReduceMin', ['x', b.int64s([0])], { keepdims: A.int(0) }), dt], (v) => Math.min(...v));
  out.ArgMax = await run(dt, (b) => [b.op('ArgMax', ['x'], { axis: A.int(0), keepdims: A.int(0) }), 'int64'], (v) => v.indexOf(Math.max(...v)));
  out.ReduceSum = await run(dt, (b) => [b.op('ReduceSum', ['x', b.int64s([0])], { keepdims: A.int(0) }), dt], (v) => { const s = v.reduce((a, c) => a + c, 0); return dt === 'int32' ? s | 0 : dt === 'uint32' ? s >>> 0 : s; });
  out.CumSum = await run(dt, (b) => [b.op('CumSum', ['x', b.scalar('int64', 0)]), dt], (v) => { let s = 0; return v.map((x) => { s += x; return dt === 'int32' ? s | 0 : dt === 'uint32' ? s >>> 0 : s; }); });
  out.TopK = await run(dt, (b) => [b.node('TopK', ['x', b.int64s([8])], {}, 2)[0], dt], (v) => [...v].sort((a, c) => c - a));
  out.Where = await run(dt, (b) => [b.op('Where', [b.op('Less', ['x', b.scalar(dt, 3)]), 'x', revb(b)]), dt], (v) => v.map((x, i) => (x < 3 ? x : rev(v)[i])));
  out.Clip = await run(dt, (b) => [b.op('Clip', ['x', b.scalar(dt, 1), b.scalar(dt, 2147483647)]), dt], (v) => v.map((x) => Math.min(Math.max(x, 1), 2147483647)));
  out.AbsNeg = dt === 'uint32' ? 'n/a' : await run(dt, (b) => [b.op('Abs', ['x']), dt], (v) => v.map((x) => (dt === 'int32' ? Math.abs(x) | 0 : Math.abs(x))));
  out.Sign = await run(dt, (b) => [b.op('Sign', ['x']), dt], (v) => v.map((x) => (dt === 'uint32' ? +(x > 0) : Math.sign(x))));
  out.Mul = await run(dt, (b) => [b.op('Mul', ['x', revb(b)]), dt], (v) => v.map((x, i) => dt === 'int64' ? Number(BigInt.asIntN(64, BigInt(x) * BigInt(rev(v)[i]))) : dt === 'int32' ? Math.imul(x, rev(v)[i]) : Math.imul(x, rev(v)[i]) >>> 0));
  out.Add = await run(dt, (b) => [b.op('Add', ['x', revb(b)]), dt], (v) => v.map((x, i) => dt === 'int64' ? x + rev(v)[i] : dt === 'int32' ? (x + rev(v)[i]) | 0 : (x + rev(v)[i]) >>> 0));
  out.Sub = await run(dt, (b) => [b.op('Sub', ['x', revb(b)]), dt], (v) => v.map((x, i) => dt === 'int64' ? x - rev(v)[i] : dt === 'int32' ? (x - rev(v)[i]) | 0 : (x - rev(v)[i]) >>> 0));
  out.Div = await run(dt, (b) => [b.op('Div', ['x', b.scalar(dt, 7)]), dt], (v) => v.map((x) => Math.trunc(x / 7)));
  out.Mod = await run(dt, (b) => [b.op('Mod', ['x', b.scalar(dt, 7)], { fmod: A.int(1) }), dt], (v) => v.map((x) => x % 7));
  out.Mod0 = await run(dt, (b) => [b.op('Mod', ['x', b.scalar(dt, -7 >>> 0 === 0 ? 7 : dt === 'uint32' ? 7 : -7)], { fmod: A.int(0) }), dt], (v) => v.map((x) => { const m = dt === 'uint32' ? 7 : -7; const r = x % m; return r !== 0 && (r < 0) !== (m < 0) ? r + m : r; }));
  console.log(dt, JSON.stringify(out, null, 1));
}
