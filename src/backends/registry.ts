/**
 * Registers the backends that ship with Myriad in `jit`'s backend table and installs the eager
 * evaluator. 'reference' runs a Graph in the plain-TypeScript interpreter (the oracle every other
 * path is tested against); 'onnx' lowers it to one ONNX model and runs it synchronously in ONNX
 * Runtime (the default for `jit`). Eager ops go through the dispatch policy in `eager.ts`. On
 * 'onnx', a large elementwise tail of the graph (an optimizer update) is split off and run as
 * fused WebAssembly SIMD kernels after the ONNX model (`fusion.ts`; opt out with
 * `hostFusion: false` or MYRIAD_HOST_FUSION=0).
 */
import type { Array } from '../core/array.js';
import { allocate, dtypeOfTypedArray, type TypedArray } from '../core/dtype.js';
import { sizeOf } from '../core/shape.js';
import type { Graph } from '../core/ir.js';
import { registerBackend, setDefaultBackend, type CompileOptions, type Executable } from '../core/jit.js';
import { setEagerEvaluator } from '../core/trace.js';
import { eagerDispatch } from './eager.js';
import { createFusedExecutable, hostFusionEnabled, splitEpilogue } from './fusion.js';
import { OnnxExecutable } from './onnx/index.js';
import { evalGraphReference } from './reference/index.js';

registerBackend({
  name: 'reference',
  compile(graph: Graph): Executable {
    return {
      run: (inputs: Array[]) => evalGraphReference(graph, inputs),
      close: () => {},
    };
  },
});

registerBackend({
  name: 'onnx',
  compile(graph: Graph, opts: CompileOptions): Executable {
    const threads = opts.intraOpNumThreads ?? 1;
    const donate = opts.donate ?? [];
    const split = hostFusionEnabled(opts.hostFusion) ? splitEpilogue(graph) : null;
    if (split) {
      return createFusedExecutable(graph, split, (head) => {
        const exe = OnnxExecutable.createSync(head, { intraOpNumThreads: threads });
        return { run: (inputs, outputs) => exe.runSync(inputs, outputs ? { outputs } : {}), close: () => exe.close() };
      }, { donate });
    }
    const exe = OnnxExecutable.createSync(graph, { intraOpNumThreads: threads });
    // Buffers of inputs donated on the previous call, recycled as this call's output buffers
    // (never the current call's inputs, which ONNX Runtime may still be reading).
    let pool: TypedArray[] = [];
    const outAvals = graph.outputs.map((o) => o.aval);
    return {
      run: (inputs: Array[]) => {
        let outputs: TypedArray[] | undefined;
        if (pool.length) {
          const free = [...pool];
          const picked = outAvals.map((a) => {
            const n = sizeOf(a.shape);
            const j = free.findIndex((b) => b.length === n && dtypeOfTypedArray(b) === (a.dtype === 'bool' ? 'bool' : a.dtype));
            return j >= 0 ? free.splice(j, 1)[0] : allocate(a.dtype, n);
          });
          outputs = picked;
        }
        const outs = exe.runSync(inputs, outputs ? { outputs } : {});
        // (shared-memory buffers are never recycled: ONNX Runtime cannot write into them)
        pool = donate.map((i) => inputs[i]._data).filter((d): d is TypedArray => d !== null && !(d.buffer instanceof SharedArrayBuffer) && !outs.some((o) => o._data === d));
        return outs;
      },
      close: () => exe.close(),
    };
  },
});

setDefaultBackend(process.env.MYRIAD_BACKEND ?? 'onnx');
setEagerEvaluator(eagerDispatch);
