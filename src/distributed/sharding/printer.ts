/**
 * Prints a Graph with each value's sharding after its type, e.g.
 * `c:f32[8,4]{P('data',None)}` or `d:f32[4,4]{P(None,None)+partial('data')}`. User-fixed values
 * are marked `(user)`; values no propagation rule decided are marked
 * `(replicated: no rule decided)`. The first line names the mesh.
 */

import type { Graph, Var } from '../../core/ir.js';
import type { Decision, PropagationResult } from './propagation.js';
import { fmtMesh, shardingToString, type Sharding } from './sharding.js';

/**
 * The graph text with shardings. Pass a propagation result, or a map of shardings (and
 * optionally how each was decided).
 */
export function printShardedGraph(graph: Graph, shardings: PropagationResult | Map<Var, Sharding>, decided?: Map<Var, Decision>): string {
  const map = shardings instanceof Map ? shardings : shardings.shardings;
  const how = decided ?? (shardings instanceof Map ? undefined : shardings.decided);
  let mesh: Sharding['mesh'] | undefined;
  const annotate = (v: Var): string | undefined => {
    const s = map.get(v);
    if (!s) return '{?}';
    mesh ??= s.mesh;
    const d = how?.get(v);
    const mark = d === 'user' ? '(user)' : d === 'default' ? '(replicated: no rule decided)' : '';
    return `{${shardingToString(s, { compact: true })}}${mark}`;
  };
  const body = graph.toString({ annotate });
  return mesh ? `# mesh ${fmtMesh(mesh)}\n${body}` : body;
}
