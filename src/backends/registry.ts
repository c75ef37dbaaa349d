/**
 * Registers the backends that ship with Myriad in `jit`'s backend table. 'reference' runs a
 * Graph in the plain-TypeScript interpreter (the oracle every other path is tested against).
 */
import type { Array } from '../core/array.js';
import type { Graph } from '../core/ir.js';
import { registerBackend, type Executable } from '../core/jit.js';
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
