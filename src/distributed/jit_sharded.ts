/**
 * `jitSharded(f, { mesh, inShardings, outShardings, rules })`: GSPMD end to end. The function is
 * traced once per input signature into a global program; the argument (and optional result)
 * shardings pin the layout of its inputs and outputs; propagation decides every other value;
 * the partitioner rewrites it into one per-device program with collectives; and the runtime
 * Mesh compiles that program for its worker devices (`mesh.compile`). Calls take global Arrays
 * (split with `devicePut`) or ShardedArrays (used as they are), run one step on all devices and
 * resolve to ShardedArrays (or gathered Arrays with `{ gather: true }`).
 *
 * `backend: 'spmd-reference'` runs the same per-device program with `evalSpmdReference` on
 * virtual devices in this thread (no workers; the oracle the property tests use).
 *
 * Shardings are given per positional argument as a *prefix* of the argument's pytree: a leaf of
 * the spec tree — a Sharding, a PartitionSpec (`P('data', null)`), a `LogicalAxes` (mapped with
 * `rules`), or null (let propagation decide; a ShardedArray argument keeps its own layout) —
 * applies to every array leaf below it. `outShardings` is a prefix of the result's pytree.
 */

import { Array, ShapeDtypeStruct } from '../core/array.js';
import { fmtAval, type AbstractValue, type Graph } from '../core/ir.js';
import { ValueError } from '../core/errors.js';
import { dce } from '../core/passes.js';
import { flatten, treedefToString, unflatten, type TreeDef } from '../core/pytree.js';
import { leafAval, traceFlat } from '../core/trace.js';
import { Mesh, type CompiledProgram } from '../runtime/mesh.js';
import { ShardedArray, devicePut } from '../runtime/sharded_array.js';
import { logicalToMesh, type LogicalAxisRules } from './sharding/logical.js';
import { propagate, type PropagationResult } from './sharding/propagation.js';
import {
  NamedSharding, checkMeshShape, isSharding, meshEqual, meshSize, shardingEqual, shardingForRank, shardingToString,
  type MeshShape, type PartitionSpec, type Sharding,
} from './sharding/sharding.js';
import { evalSpmdReference } from './spmd/interpreter.js';
import { partition, type PartitionResult } from './spmd/partition.js';

/** A leaf of a sharding spec tree: a Sharding, a PartitionSpec, logical axis names, or null. */
export type ShardingSpecLeaf = Sharding | PartitionSpec | { readonly names: readonly (string | null)[] } | null | undefined;

/** Options of {@link jitSharded}. */
export interface JitShardedOptions {
  /** The device mesh: a runtime `Mesh` (`makeMesh({data: 2})`), or a MeshShape with `backend: 'spmd-reference'`. */
  mesh: Mesh | MeshShape;
  /** One spec tree per positional argument (a prefix of its pytree); missing entries are null. */
  inShardings?: unknown[];
  /** A spec tree for the result (a prefix of its pytree); null leaves let propagation decide. */
  outShardings?: unknown;
  /** Logical axis rules for `LogicalAxes` leaves (e.g. `[['batch', 'data'], ['mlp', 'model']]`). */
  rules?: LogicalAxisRules;
  /** 'runtime' (worker devices, default) or 'spmd-reference' (virtual devices in this thread). */
  backend?: 'runtime' | 'spmd-reference';
  /** Return gathered global Arrays instead of ShardedArrays (default false). */
  gather?: boolean;
  /** Positional arguments that are compile-time constants (part of the cache key). */
  staticArgnums?: number | number[];
  /**
   * Host epilogue fusion on the 'runtime' backend: the elementwise tail after the last collective
   * (the optimizer update) runs as WebAssembly SIMD kernels on the devices (default: the Mesh's
   * `hostFusion` option, then MYRIAD_HOST_FUSION; see `Mesh.compile`).
   */
  hostFusion?: boolean;
}

/** What one signature compiled to (for inspection and tests). */
export interface ShardedLowering {
  /** The traced global program (after dead-code elimination). */
  global: Graph;
  /** The sharding of every value. */
  propagation: PropagationResult;
  /** The per-device program and its input/output layouts. */
  partitioned: PartitionResult;
}

/** Trace/compile counters of a sharded function. */
export interface JitShardedStats {
  traces: number;
  hits: number;
  signatures: string[];
}

/** An argument type with every Array leaf also accepting a ShardedArray (or a ShapeDtypeStruct for `lower`). */
export type MaybeSharded<T> = T extends Array ? Array | ShardedArray | ShapeDtypeStruct : T extends readonly unknown[] ? { [K in keyof T]: MaybeSharded<T[K]> } : T extends object ? { [K in keyof T]: MaybeSharded<T[K]> } : T;

/** A function compiled with {@link jitSharded}. */
export interface JitSharded<F extends (...args: any[]) => any> {
  (...args: MaybeSharded<Parameters<F>>): Promise<any>;
  /** Traces, propagates and partitions for these arguments (arrays or ShapeDtypeStructs) without running. */
  lower(...args: MaybeSharded<Parameters<F>>): ShardedLowering;
  readonly stats: JitShardedStats;
  /** Frees compiled programs on the mesh. */
  close(): void;
}

interface Entry {
  lowering: ShardedLowering;
  program: Promise<CompiledProgram> | null;
  leafAvals: AbstractValue[];
  outTree: TreeDef;
}

/**
 * Whether a spec-tree node is one PartitionSpec (entries: axis names, non-empty lists of axis
 * names, null) rather than a list of specs. `P(...)` never makes an empty-list entry (it writes
 * null), so a list with an empty-list element — `[[], []]` — is read as a list of specs (two
 * replicated arguments), not as one spec.
 */
function isPartitionSpec(x: unknown): x is PartitionSpec {
  return globalThis.Array.isArray(x) && x.every((e) => e === null || e === undefined || typeof e === 'string' || (globalThis.Array.isArray(e) && e.length > 0 && e.every((s) => typeof s === 'string')));
}

function isNames(x: unknown): x is { names: (string | null)[] } {
  if (x === null || typeof x !== 'object' || globalThis.Array.isArray(x)) return false;
  const n = (x as { names?: unknown }).names;
  return globalThis.Array.isArray(n) && n.every((e) => e === null || typeof e === 'string');
}

function isSpecLeaf(x: unknown): boolean {
  return x === null || x === undefined || isSharding(x) || isPartitionSpec(x) || isNames(x);
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const p = Object.getPrototypeOf(x);
  return p === Object.prototype || p === null;
}

/** Resolves one spec leaf for an array of the given rank. */
function resolveLeaf(spec: unknown, rank: number, mesh: MeshShape, rules: LogicalAxisRules | undefined, where: string): Sharding | null {
  if (spec === null || spec === undefined) return null;
  if (isSharding(spec)) {
    const s = shardingForRank(spec, rank, where);
    if (!meshEqual(s.mesh, mesh)) throw new ValueError(`${where}: the sharding's mesh differs from jitSharded's mesh; build it with NamedSharding(mesh.shape, P(...))`);
    return s;
  }
  if (isPartitionSpec(spec)) return NamedSharding(mesh, spec, rank);
  if (isNames(spec)) {
    if (!rules) throw new ValueError(`${where}: logical axes (${spec.names.map((n) => n ?? 'null').join(', ')}) need logical axis rules; pass jitSharded(f, { rules: [['batch', 'data'], …] })`);
    if (spec.names.length !== rank) throw new ValueError(`${where}: logical axes (${spec.names.join(', ')}) name ${spec.names.length} dims but the array has rank ${rank}`);
    return NamedSharding(mesh, logicalToMesh(spec.names, rules, mesh), rank);
  }
  throw new ValueError(`${where}: expected a Sharding, a PartitionSpec such as P('data', null), LogicalAxes or null, got ${typeof spec}`);
}

/**
 * Matches a spec tree against a value tree (the spec is a prefix): returns one entry per value
 * leaf, in flatten order.
 */
function matchSpec(spec: unknown, value: unknown, leafRank: (leaf: unknown) => number, mesh: MeshShape, rules: LogicalAxisRules | undefined, where: string): (Sharding | null)[] {
  if (isSpecLeaf(spec)) return flatten(value)[0].map((l, i) => resolveLeaf(spec, leafRank(l), mesh, rules, `${where}${flatten(value)[0].length > 1 ? ` leaf ${i}` : ''}`));
  if (globalThis.Array.isArray(spec)) {
    if (!globalThis.Array.isArray(value) || value.length !== spec.length) throw new ValueError(`${where}: the sharding spec is a list of ${spec.length} but the value is ${globalThis.Array.isArray(value) ? `a list of ${value.length}` : typeof value}; give a spec tree that is a prefix of the value's structure`);
    return spec.flatMap((s, i) => matchSpec(s, value[i], leafRank, mesh, rules, `${where}[${i}]`));
  }
  if (isPlainObject(spec)) {
    if (!isPlainObject(value)) throw new ValueError(`${where}: the sharding spec is an object but the value is not`);
    const keys = Object.keys(value).sort();
    const extra = Object.keys(spec).filter((k) => !keys.includes(k));
    if (extra.length) throw new ValueError(`${where}: the sharding spec has keys ${extra.join(', ')} that the value lacks`);
    return keys.flatMap((k) => {
      if (!(k in spec)) throw new ValueError(`${where}: the sharding spec lacks key '${k}'; give null to let propagation decide`);
      return matchSpec(spec[k], value[k], leafRank, mesh, rules, `${where}.${k}`);
    });
  }
  throw new ValueError(`${where}: a sharding spec must be a Sharding, a PartitionSpec, LogicalAxes, null, or a list/object of those, got ${typeof spec}`);
}

function staticKey(v: unknown, ids: WeakMap<object, number>, next: { n: number }): string {
  if (v === null || ['number', 'string', 'boolean', 'undefined'].includes(typeof v)) return JSON.stringify(v) ?? 'undefined';
  if (v instanceof Array || v instanceof ShardedArray) throw new ValueError('jitSharded: a static argument cannot be an array; pass it as a regular argument');
  let id = ids.get(v as object);
  if (id === undefined) ids.set(v as object, (id = next.n++));
  return `obj#${id}`;
}

/**
 * Compiles `f` for a device mesh with GSPMD: see the file header. Returns an async function;
 * `await g(...args)` gives the result pytree with ShardedArray leaves (gathered Arrays with
 * `gather: true`). `g.lower(...args)` returns the global program, the propagated shardings and
 * the per-device program.
 */
export function jitSharded<F extends (...args: any[]) => any>(f: F, opts: JitShardedOptions): JitSharded<F> {
  const name = f.name || 'fn';
  if (!opts || typeof opts !== 'object') throw new ValueError(`jitSharded(${name}): pass options { mesh, inShardings?, outShardings? }`);
  const backend = opts.backend ?? 'runtime';
  if (backend !== 'runtime' && backend !== 'spmd-reference') throw new ValueError(`jitSharded(${name}): backend must be 'runtime' or 'spmd-reference', got ${JSON.stringify(backend)}`);
  const runtimeMesh = opts.mesh instanceof Mesh ? opts.mesh : null;
  if (backend === 'runtime' && !runtimeMesh) throw new ValueError(`jitSharded(${name}): the 'runtime' backend needs a runtime Mesh (makeMesh({ data: 2 })); for virtual devices in this thread pass backend: 'spmd-reference'`);
  const mesh = checkMeshShape(runtimeMesh ? runtimeMesh.shape : (opts.mesh as MeshShape), `jitSharded(${name}) mesh`);
  const statics = opts.staticArgnums === undefined ? [] : typeof opts.staticArgnums === 'number' ? [opts.staticArgnums] : opts.staticArgnums;
  const cache = new Map<string, Entry>();
  const stats: JitShardedStats = { traces: 0, hits: 0, signatures: [] };
  const ids = new WeakMap<object, number>();
  const nextId = { n: 0 };
  const n = meshSize(mesh);

  const analyze = (args: any[]) => {
    const norm = (a: number) => (a < 0 ? a + args.length : a);
    const staticSet = new Set(statics.map(norm));
    const dynIdx: number[] = [];
    const dynArgs: unknown[] = [];
    const keyParts: string[] = [];
    args.forEach((a, i) => {
      if (staticSet.has(i)) keyParts.push(`s${i}=${staticKey(a, ids, nextId)}`);
      else {
        dynIdx.push(i);
        dynArgs.push(a);
      }
    });
    const [leaves, def] = flatten(dynArgs);
    const avals = leaves.map((l, i) => (l instanceof ShardedArray ? { shape: l.shape, dtype: l.dtype } : leafAval(l, `jitSharded(${name}) argument leaf ${i}`)));
    // fixed input shardings: the user's spec, else a ShardedArray's own layout
    const specs = opts.inShardings ?? [];
    const given: (Sharding | null)[] = [];
    dynIdx.forEach((i) => {
      const rank = (l: unknown) => (l instanceof ShardedArray || l instanceof Array || l instanceof ShapeDtypeStruct ? l.shape.length : 0);
      given.push(...matchSpec(specs[i] ?? null, args[i], rank, mesh, opts.rules, `jitSharded(${name}) inShardings[${i}]`));
    });
    const inShardings = leaves.map((l, i) => {
      const g = given[i];
      if (l instanceof ShardedArray) {
        if (!meshEqual(l.sharding.mesh, mesh)) throw new ValueError(`jitSharded(${name}): argument leaf ${i} is a ShardedArray on mesh ${JSON.stringify(l.sharding.mesh)}, not on this function's mesh`);
        if (g && !shardingEqual(g, l.sharding)) {
          throw new ValueError(`jitSharded(${name}): argument leaf ${i} is a ShardedArray laid out as ${shardingToString(l.sharding)} but inShardings asks for ${shardingToString(g)}; gather it (x.gather()) or make the shardings agree`);
        }
        return l.sharding;
      }
      return g;
    });
    keyParts.push(`${treedefToString(def)}|${avals.map((a, i) => `${fmtAval(a)}${inShardings[i] ? `@${shardingToString(inShardings[i]!, { compact: true })}` : ''}`).join(';')}`);
    return { key: keyParts.join('|'), dynIdx, def, leaves, avals, inShardings };
  };

  const lowerFor = (args: any[], a: ReturnType<typeof analyze>): Entry => {
    const place = (dyn: any[]) => {
      const out = [...args];
      a.dynIdx.forEach((i, j) => (out[i] = dyn[j]));
      return out;
    };
    const global = dce(traceFlat((...dyn: any[]) => f(...place(dyn)), a.avals, a.def, `jitSharded(${name})`));
    const outTree = global.outTree as TreeDef;
    let outputs: (Sharding | null)[] | undefined;
    if (opts.outShardings !== undefined) {
      const shapeTree = unflatten(outTree, global.outAvals.map((av) => new ShapeDtypeStruct(av.shape, av.dtype)));
      outputs = matchSpec(opts.outShardings, shapeTree, (l) => (l as ShapeDtypeStruct).shape.length, mesh, opts.rules, `jitSharded(${name}) outShardings`);
    }
    const propagation = propagate(global, { inputs: a.inShardings, outputs, mesh });
    const partitioned = partition(global, propagation, mesh);
    return { lowering: { global, propagation, partitioned }, program: null, leafAvals: a.avals, outTree };
  };

  const getEntry = (args: any[]) => {
    const a = analyze(args);
    let e = cache.get(a.key);
    if (e) stats.hits++;
    else {
      e = lowerFor(args, a);
      cache.set(a.key, e);
      stats.traces++;
      stats.signatures.push(a.key);
    }
    return { e, a };
  };

  const call = async (...args: any[]) => {
    const { e, a } = getEntry(args);
    const { partitioned, global } = e.lowering;
    // per-device arguments
    const shards: Array[][] = a.leaves.map((l, i) => {
      const s = partitioned.inShardings[i];
      if (l instanceof ShardedArray) return l.shards;
      if (l instanceof ShapeDtypeStruct) throw new ValueError(`jitSharded(${name}): argument leaf ${i} is a ShapeDtypeStruct; call .lower(...) to trace and partition without data`);
      const want = e.leafAvals[i];
      const x = l instanceof Array ? l : Array.scalar(l as number | boolean, want.dtype);
      if (s.partial.length) throw new ValueError(`jitSharded(${name}): input leaf ${i} has the pending-sum sharding ${shardingToString(s)}; pass a ShardedArray laid out that way`);
      return devicePut(x, s).shards;
    });
    const perDevice = globalThis.Array.from({ length: n }, (_, d) => shards.map((s) => s[d]));
    let outs: Array[][];
    if (backend === 'spmd-reference') outs = evalSpmdReference(partitioned.graph, mesh, perDevice);
    else {
      if (!e.program) {
        e.program = runtimeMesh!.compile(partitioned.graph, { hostFusion: opts.hostFusion });
        e.program.catch(() => (e.program = null));
      }
      outs = await (await e.program).run(perDevice);
    }
    const results = global.outAvals.map((av, j) => {
      const sa = new ShardedArray(av.shape, partitioned.outShardings[j], outs.map((o) => o[j]));
      return opts.gather ? sa.gather() : sa;
    });
    return unflatten(e.outTree, results);
  };

  const jitted = call as unknown as JitSharded<F>;
  Object.defineProperty(jitted, 'stats', { get: () => stats });
  (jitted as { lower: unknown }).lower = (...args: any[]) => getEntry(args).e.lowering;
  (jitted as { close: unknown }).close = () => {
    for (const e of cache.values()) void e.program?.then((p) => p.close(), () => undefined);
    cache.clear();
  };
  return jitted;
}
