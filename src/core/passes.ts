/**
 * Graph-to-Graph passes that every backend benefits from. `dce` removes equations whose
 * outputs nothing uses (e.g. the primal loss left in a gradient graph, or recomputed values a
 * rematerialized backward pass does not need) and constants no equation reads. Primitives have
 * no side effects, so this is always safe.
 */

import { Graph, Literal, type Eqn, type Var } from './ir.js';

/** Dead-code elimination: keeps only equations that (transitively) feed the outputs. */
export function dce(g: Graph): Graph {
  const live = new Set<Var>();
  for (const o of g.outputs) if (!(o instanceof Literal)) live.add(o);
  const kept: Eqn[] = [];
  for (let i = g.eqns.length - 1; i >= 0; i--) {
    const e = g.eqns[i];
    if (!e.outputs.some((v) => live.has(v))) continue;
    kept.push(e);
    for (const a of e.inputs) if (!(a instanceof Literal)) live.add(a);
  }
  kept.reverse();
  if (kept.length === g.eqns.length) return g;
  const consts: Var[] = [];
  const values: Graph['constValues'][number][] = [];
  g.consts.forEach((v, i) => {
    if (live.has(v)) {
      consts.push(v);
      values.push(g.constValues[i]);
    }
  });
  return new Graph(g.inputs, consts, values, kept, g.outputs, g.inTree, g.outTree);
}
