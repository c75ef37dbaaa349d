/**
 * Eager dispatch measurement: time per eager op in the reference interpreter vs ONNX Runtime
 * (synchronous binding, cached single-op session) across sizes, to set the thresholds in
 * src/backends/eager.ts. Prints a table; `--json <file>` writes the rows.
 * Run: npm run bench:eager -- --json out.json
 */
import { writeFileSync } from 'node:fs';
import { Array, eagerPolicy } from '../src/index.js';
import { Graph, Var, type AbstractValue } from '../src/core/ir.js';
import { shapeRules, type Primitive } from '../src/core/primitives.js';
import { OnnxExecutable } from '../src/backends/onnx/index.js';
import { referenceEval } from '../src/backends/reference/index.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
function time(fn: () => void, minMs = 150): number {
  fn();
  const samples: number[] = [];
  const t0 = performance.now();
  while (performance.now() - t0 < minMs || samples.length < 5) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  return median(samples);
}
function rand(shape: number[]): Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = Math.sin(i * 12.9898) * 0.5;
  return Array.fromData(d, shape);
}

eagerPolicy.enabled = false;
const rows: Record<string, unknown>[] = [];
const cases: { op: string; size: string; work: number; make: () => { prim: any; inputs: Array[]; params: any } }[] = [];
for (const n of [256, 4096, 16384, 65536, 262144, 1048576]) {
  cases.push({ op: 'add', size: `${n}`, work: n, make: () => ({ prim: 'add', inputs: [rand([n]), rand([n])], params: {} }) });
  cases.push({ op: 'exp', size: `${n}`, work: n, make: () => ({ prim: 'exp', inputs: [rand([n])], params: {} }) });
  cases.push({ op: 'reduce_sum', size: `${n}`, work: n, make: () => ({ prim: 'reduce_sum', inputs: [rand([n / 64, 64])], params: { axes: [1] } }) });
}
for (const n of [8, 16, 32, 64, 128, 256, 512]) {
  cases.push({ op: 'matmul', size: `${n}³`, work: n ** 3, make: () => ({ prim: 'dot_general', inputs: [rand([n, n]), rand([n, n])], params: { lhsContracting: [1], rhsContracting: [0], lhsBatch: [], rhsBatch: [], preferredElementType: null } }) });
}
console.log('op          size       work(elem|MACs)   reference ms   onnx ms   first-call onnx ms   faster');
for (const c of cases) {
  const { prim, inputs, params } = c.make();
  // A graph with the single equation, as the eager dispatcher builds it.
  const ins = inputs.map((x) => new Var(x.aval));
  const outAvals = shapeOut(prim, inputs, params);
  const ref = () => referenceEval(prim, inputs, params, outAvals);
  const outs = outAvals.map((a) => new Var(a));
  const graph = new Graph(ins, [], [], [{ prim, params, inputs: ins, outputs: outs }], outs);
  const t0 = performance.now();
  const exe = OnnxExecutable.createSync(graph, { intraOpNumThreads: 1 });
  exe.runSync(inputs);
  const first = performance.now() - t0;
  const refMs = time(ref);
  const onnxMs = time(() => exe.runSync(inputs));
  exe.close();
  const row = { op: c.op, size: c.size, work: c.work, reference_ms: refMs, onnx_ms: onnxMs, onnx_first_call_ms: first, faster: onnxMs < refMs ? 'onnx' : 'reference' };
  rows.push(row);
  console.log(`${c.op.padEnd(12)}${c.size.padEnd(11)}${String(c.work).padEnd(18)}${refMs.toFixed(4).padStart(12)}${onnxMs.toFixed(4).padStart(10)}${first.toFixed(2).padStart(20)}   ${row.faster}`);
}
function shapeOut(prim: Primitive, inputs: Array[], params: any): AbstractValue[] {
  return (shapeRules[prim] as (a: AbstractValue[], p: unknown) => AbstractValue[])(inputs.map((x) => x.aval), params);
}
const i = process.argv.indexOf('--json');
if (i > 0) writeFileSync(process.argv[i + 1], JSON.stringify({ rows, policy: { ...eagerPolicy } }, null, 2));
