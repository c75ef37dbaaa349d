/**
 * Registers the backends that ship with Myriad in `jit`'s backend table and installs the eager
 * evaluator. 'reference' runs a Graph in the plain-TypeScript interpreter (the oracle every other
 * path is tested against); 'onnx' lowers it to one ONNX model and runs it synchronously in ONNX
 * Runtime (the default for `jit`). Eager ops go through the dispatch policy in `eager.ts`.
 */
import type { Array } from '../core/array.js';
import type { Graph } from '../core/ir.js';
import { registerBackend, setDefaultBackend, type CompileOptions, type Executable } from '../core/jit.js';
import { setEagerEvaluator } from '../core/trace.js';
import { eagerDispatch } from './eager.js';
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
    const exe = OnnxExecutable.createSync(graph, { intraOpNumThreads: opts.intraOpNumThreads ?? 1 });
    return {
      run: (inputs: Array[]) => exe.runSync(inputs),
      close: () => exe.close(),
    };
  },
});

setDefaultBackend(process.env.MYRIAD_BACKEND ?? 'onnx');
setEagerEvaluator(eagerDispatch);
