import * as ort from 'onnxruntime-node';
import { OnnxModelBuilder, A, type OnnxDType, type Attr } from '../../src/backends/onnx/builder.js';

const TYPES: OnnxDType[] = ['float32', 'float64', 'int32', 'uint32', 'int64', 'uint8', 'bool'];
const ortType: Record<OnnxDType, string> = { float32: 'float32', float64: 'float64', int32: 'int32', uint32: 'uint32', int64: 'int64', uint8: 'uint8', bool: 'bool' };
function data(dt: OnnxDType, n: number): any {
  const vals = Array.from({ length: n }, (_, i) => (i % 3) + 1);
  switch (dt) {
    case 'float32': return Float32Array.from(vals);
    case 'float64': return Float64Array.from(vals);
    case 'int32': return Int32Array.from(vals);
    case 'uint32': return Uint32Array.from(vals);
    case 'int64': return BigInt64Array.from(vals.map(BigInt));
    case 'uint8': return Uint8Array.from(vals);
    case 'bool': return Uint8Array.from(vals.map((v) => v & 1));
  }
}
interface Case { op: string; nIn: number; attrs?: Record<string, Attr>; outType?: (t: OnnxDType) => OnnxDType; extra?: (b: OnnxModelBuilder, t: OnnxDType) => string[]; nOut?: number; inType?: (i: number, t: OnnxDType) => OnnxDType }
async function tryCase(c: Case, t: OnnxDType): Promise<string> {
  const b = new OnnxModelBuilder();
  const shape = [2, 3];
  const ins: string[] = [];
  for (let i = 0; i < c.nIn; i++) { const it = c.inType ? c.inType(i, t) : t; b.addInput(`x${i}`, it, shape); ins.push(`x${i}`); }
  const extra = c.extra ? c.extra(b, t) : [];
  const outs = b.node(c.op, [...ins, ...extra], c.attrs ?? {}, c.nOut ?? 1);
  outs.forEach((o, i) => b.addOutput(o, i === 1 && c.op === 'TopK' ? 'int64' : c.outType ? c.outType(t) : t, []));
  try {
    const s = await ort.InferenceSession.create(b.toBytes(), { graphOptimizationLevel: 'all', logSeverityLevel: 4 });
    const feeds: Record<string, ort.Tensor> = {};
    for (let i = 0; i < c.nIn; i++) { const it = c.inType ? c.inType(i, t) : t; feeds[`x${i}`] = new ort.Tensor(ortType[it] as any, data(it, 6), shape); }
    await s.run(feeds);
    await s.release();
    return 'ok';
  } catch (e) {
    const m = String((e as Error).message);
    return /NOT_IMPLEMENTED|Could not find an implementation/.test(m) ? 'NO' : /Type Error/.test(m) ? 'spec' : 'ERR:' + m.slice(0, 300);
  }
}
const bool = () => 'bool' as OnnxDType;
const cases: Case[] = [
  ...['Neg', 'Abs', 'Sign', 'Floor', 'Ceil', 'Round', 'Exp', 'Log', 'Tanh', 'Sigmoid', 'Sin', 'Cos', 'Atan', 'Sqrt', 'Reciprocal', 'Erf', 'Not', 'BitwiseNot', 'Identity'].map((op) => ({ op, nIn: 1 })),
  { op: 'IsInf', nIn: 1, outType: bool }, { op: 'IsNaN', nIn: 1, outType: bool },
  ...['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'And', 'Or', 'Xor', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor'].map((op) => ({ op, nIn: 2 })),
  { op: 'Mod', nIn: 2, attrs: { fmod: A.int(1) } }, { op: 'Mod', nIn: 2, attrs: { fmod: A.int(0) } },
  { op: 'BitShift', nIn: 2, attrs: { direction: A.str('LEFT') } },
  ...['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual'].map((op) => ({ op, nIn: 2, outType: bool })),
  { op: 'Where', nIn: 3, inType: (i: number, t: OnnxDType) => (i === 0 ? 'bool' : t) as OnnxDType },
  { op: 'Transpose', nIn: 1, attrs: { perm: A.ints([1, 0]) } },
  { op: 'Reshape', nIn: 1, extra: (b) => [b.int64s([3, 2])] },
  { op: 'Expand', nIn: 1, extra: (b) => [b.int64s([2, 2, 3])] },
  { op: 'Slice', nIn: 1, extra: (b) => [b.int64s([0]), b.int64s([2]), b.int64s([1]), b.int64s([2])] },
  { op: 'Pad', nIn: 1, extra: (b, t) => [b.int64s([1, 0, 0, 1]), b.scalar(t, 0)] },
  { op: 'Concat', nIn: 2, attrs: { axis: A.int(0) } },
  { op: 'ReduceSum', nIn: 1, extra: (b) => [b.int64s([1])], attrs: { keepdims: A.int(0) } },
  { op: 'ReduceMax', nIn: 1, extra: (b) => [b.int64s([1])], attrs: { keepdims: A.int(0) } },
  { op: 'ReduceMin', nIn: 1, extra: (b) => [b.int64s([1])], attrs: { keepdims: A.int(0) } },
  { op: 'ArgMax', nIn: 1, attrs: { axis: A.int(1), keepdims: A.int(0) }, outType: () => 'int64' },
  { op: 'CumSum', nIn: 1, extra: (b) => [b.scalar('int64', 1)] },
  { op: 'MatMul', nIn: 2, inType: (i, t) => t, extra: undefined },
  { op: 'Gather', nIn: 1, extra: (b) => [b.int64s([1, 0])], attrs: { axis: A.int(1) } },
  { op: 'GatherND', nIn: 1, extra: (b) => [b.constant('int64', [2, 1], [1, 0])], attrs: { batch_dims: A.int(1) } },
  { op: 'ScatterND', nIn: 1, extra: (b, t) => [b.constant('int64', [2, 1], [1, 1]), b.initializer(t, [2, 3], [1, 1, 1, 1, 1, 1])], attrs: { reduction: A.str('add') } },
  { op: 'ScatterND', nIn: 1, extra: (b, t) => [b.constant('int64', [2, 1], [1, 0]), b.initializer(t, [2, 3], [1, 1, 1, 1, 1, 1])] },
  { op: 'TopK', nIn: 1, extra: (b) => [b.int64s([2])], nOut: 2 },
  { op: 'Clip', nIn: 1, extra: (b, t) => [b.scalar(t, 0), b.scalar(t, 1)] },
];
// MatMul needs [2,3]x[3,2]; patch by using Transpose-free: shape [2,3] @ [2,3] fails; special-case
const res: Record<string, Record<string, string>> = {};
for (const c of cases) {
  const key = c.op + (c.attrs?.fmod ? `(fmod=${(c.attrs.fmod as any).value})` : c.attrs?.reduction ? '(add)' : '');
  res[key] = {};
  for (const t of TYPES) {
    if (c.op === 'MatMul') {
      res[key][t] = await tryMatMul(t);
      continue;
    }
    res[key][t] = await tryCase(c, t);
  }
}
async function tryMatMul(t: OnnxDType): Promise<string> {
  const b = new OnnxModelBuilder();
  b.addInput('a', t, [2, 3]); b.addInput('c', t, [3, 2]);
  const o = b.op('MatMul', ['a', 'c']); b.addOutput(o, t, []);
  try {
    const s = await ort.InferenceSession.create(b.toBytes(), { graphOptimizationLevel: 'all', logSeverityLevel: 4 });
    await s.run({ a: new ort.Tensor(ortType[t] as any, data(t, 6), [2, 3]), c: new ort.Tensor(ortType[t] as any, data(t, 6), [3, 2]) });
    return 'ok';
  } catch (e) { const m = String((e as Error).message); return /NOT_IMPLEMENTED|Could not find an implementation/.test(m) ? 'NO' : /Type Error/.test(m) ? 'spec' : 'ERR:' + m.slice(0, 300); }
}
// Cast matrix
const castRes: Record<string, Record<string, string>> = {};
for (const from of TYPES) {
  castRes[from] = {};
  for (const to of TYPES) castRes[from][to] = await tryCase({ op: 'Cast', nIn: 1, attrs: { to: A.int({ float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float64: 11, uint32: 12 }[to]) }, outType: () => to }, from);
}
console.log('op'.padEnd(18) + TYPES.map((t) => t.padEnd(8)).join(''));
for (const [k, r] of Object.entries(res)) console.log(k.padEnd(18) + TYPES.map((t) => (r[t].startsWith('ERR') ? 'ERR' : r[t]).padEnd(8)).join(''));
for (const [k, r] of Object.entries(res)) for (const t of TYPES) if (r[t].startsWith('ERR')) console.log(k, t, r[t]);
console.log('Cast from\\to ' + TYPES.join(' '));
for (const [k, r] of Object.entries(castRes)) console.log(k.padEnd(10), TYPES.map((t) => r[t]).join(' '));
