/**
 * The SPMD reference interpreter: runs a per-device program (a Graph that may contain
 * collectives) on all N virtual devices of a mesh in one thread, equation by equation. Ordinary
 * equations run per device with the reference interpreter's rules; collectives combine the
 * group members' values with the shared kernels of `collectives.ts` in group-rank order, so
 * results are bit-reproducible. `axis_index` gives each device its rank in the group; sub-graph
 * calls (remat, custom_vjp_call) are interpreted recursively, so collectives may appear inside
 * them. This is the oracle that the partitioner and the worker runtime are tested against.
 */

import { Array } from '../../core/array.js';
import type { TypedArray } from '../../core/dtype.js';
import { MyriadError, ShapeError, ValueError } from '../../core/errors.js';
import { Literal, fmtAval, type Atom, type Graph, type Var } from '../../core/ir.js';
import { isCollective, type CollectiveGroup, type PrimitiveParams } from '../../core/primitives.js';
import { shapeEqual } from '../../core/shape.js';
import { referenceEval } from '../../backends/reference/interpreter.js';
import { collectiveResult, type DataCollective } from './collectives.js';
import { checkGroupOnMesh, checkMesh, collectiveGroups, groupOf, meshSize, type MeshShapeLike } from './groups.js';

/**
 * Runs the per-device program `graph` on every device of `mesh` (virtual devices, one thread).
 * `perDeviceArgs[d]` are device d's inputs (the graph's flat inputs); returns each device's
 * flat outputs. Collectives reduce in group-rank order: the same inputs always give the same
 * bits.
 */
export function evalSpmdReference(graph: Graph, mesh: MeshShapeLike, perDeviceArgs: Array[][]): Array[][] {
  checkMesh(mesh, 'evalSpmdReference');
  const n = meshSize(mesh);
  if (!globalThis.Array.isArray(perDeviceArgs) || perDeviceArgs.length !== n) {
    throw new ValueError(`evalSpmdReference: the mesh ${fmtMesh(mesh)} has ${n} devices but perDeviceArgs has ${globalThis.Array.isArray(perDeviceArgs) ? perDeviceArgs.length : 'no'} entries; give one argument list per device`);
  }
  perDeviceArgs.forEach((args, d) => checkArgs(graph, args, `evalSpmdReference: device ${d}`));
  return runSpmd(graph, mesh, perDeviceArgs);
}

/** Checks one device's arguments against the graph's inputs. */
export function checkArgs(graph: Graph, args: readonly Array[], where: string): void {
  if (!globalThis.Array.isArray(args) || args.length !== graph.inputs.length) {
    throw new ValueError(`${where}: the program takes ${graph.inputs.length} inputs (${graph.inAvals.map(fmtAval).join(', ')}), got ${globalThis.Array.isArray(args) ? args.length : 'no list'}`);
  }
  args.forEach((a, i) => {
    const want = graph.inputs[i].aval;
    if (!(a instanceof Array) || a.isTracer) throw new ValueError(`${where}: input ${i} must be a concrete Array ${fmtAval(want)}, got ${a instanceof Array ? 'a tracer' : typeof a}`);
    if (a.dtype !== want.dtype || !shapeEqual(a.shape, want.shape)) throw new ShapeError(`${where}: input ${i} is ${fmtAval(a)} but the program expects ${fmtAval(want)}`);
  });
}

function fmtMesh(mesh: MeshShapeLike): string {
  return `{${mesh.axisNames.map((a, i) => `${a}: ${mesh.shape[i]}`).join(', ')}}`;
}

function annotate(err: unknown, what: string): never {
  if (err instanceof MyriadError && !(err as { _spmd?: boolean })._spmd) {
    err.message = `${what}: ${err.message}`;
    (err as { _spmd?: boolean })._spmd = true;
  }
  throw err;
}

function runSpmd(graph: Graph, mesh: MeshShapeLike, perDeviceArgs: readonly (readonly Array[])[]): Array[][] {
  const n = perDeviceArgs.length;
  const envs = perDeviceArgs.map((args) => {
    const env = new Map<Var, Array>();
    graph.inputs.forEach((v, i) => env.set(v, args[i]));
    graph.consts.forEach((v, i) => env.set(v, graph.constValues[i]));
    return env;
  });
  const read = (d: number, a: Atom): Array => {
    if (a instanceof Literal) return Array.scalar(a.value, a.aval.dtype);
    const v = envs[d].get(a);
    if (!v) throw new Error('internal: evalSpmdReference read an undefined variable');
    return v;
  };
  for (const e of graph.eqns) {
    const site = `${e.prim}${e.source ? ` (made at ${e.source})` : ''}`;
    let outs: Array[][]; // [device][output]
    if (isCollective(e.prim)) {
      try {
        outs = runCollective(e.prim, e.params as PrimitiveParams[typeof e.prim], mesh, n, (d) => (e.inputs.length ? read(d, e.inputs[0]) : null), e.outputs[0].aval.shape);
      } catch (err) {
        annotate(err, site);
      }
    } else if (e.prim === 'remat' || e.prim === 'custom_vjp_call') {
      const sub = (e.params as { graph: Graph }).graph;
      outs = runSpmd(sub, mesh, envs.map((_, d) => e.inputs.map((a) => read(d, a))));
    } else {
      const avals = e.outputs.map((o) => o.aval);
      outs = envs.map((_, d) => {
        try {
          const data = referenceEval(e.prim, e.inputs.map((a) => read(d, a)), e.params as never, avals);
          return data.map((x, i) => Array.fromData(x, avals[i].shape, avals[i].dtype));
        } catch (err) {
          annotate(err, `device ${d}: ${site}`);
        }
      });
    }
    e.outputs.forEach((v, i) => envs.forEach((env, d) => env.set(v, outs[d][i])));
  }
  return envs.map((_, d) => graph.outputs.map((o) => read(d, o)));
}

function runCollective(prim: DataCollective | 'axis_index', params: CollectiveGroup, mesh: MeshShapeLike, n: number, input: (d: number) => Array | null, outShape: readonly number[]): Array[][] {
  checkGroupOnMesh(mesh, params, prim);
  const outs = new globalThis.Array<Array[]>(n);
  if (prim === 'axis_index') {
    for (let d = 0; d < n; d++) outs[d] = [Array.scalar(groupOf(mesh, params.axes, d).rank, 'int32')];
    return outs;
  }
  for (const members of collectiveGroups(mesh, params.axes)) {
    const xs = members.map((m) => input(m)!);
    const dtype = xs[0].dtype;
    const inShape = xs[0].shape;
    const data: TypedArray[] = xs.map((x) => x.concrete('run a collective on'));
    if (prim === 'all_reduce') {
      // one result shared by the whole group (arrays are immutable)
      const r = Array.fromData(collectiveResult(prim, params as PrimitiveParams['all_reduce'], dtype, inShape, outShape, data, 0), outShape, dtype);
      for (const m of members) outs[m] = [r];
    } else {
      members.forEach((m, rank) => {
        const r = collectiveResult(prim, params as never, dtype, inShape, outShape, data, rank);
        outs[m] = [Array.fromData(r, outShape, dtype)];
      });
    }
  }
  return outs;
}
