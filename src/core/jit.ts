/**
 * `jit`: trace once per input signature, compile the Graph with a backend, cache the executable,
 * and afterwards only run it. The signature is the pytree structure of the arguments, each
 * leaf's shape and dtype, and the values of static arguments. Backends register themselves in a
 * small table (`registerBackend`); 'reference' (the plain-TypeScript oracle) and 'onnx' (ONNX
 * Runtime) ship with Myriad. A jitted function called inside another trace (grad, makeGraph,
 * another jit) is inlined into that trace, so transformations compose: `jit(valueAndGrad(f))`
 * and `grad(jit(f))` both work. Executables run synchronously.
 */

import { Array, ShapeDtypeStruct } from './array.js';
import { fmtAval, type AbstractValue, type Graph } from './ir.js';
import { MyriadError, PytreeError, ValueError } from './errors.js';
import { flatten, treedefToString, unflatten, type TreeDef } from './pytree.js';
import { dce } from './passes.js';
import { asArrayLeaf, currentTrace, evalGraph, leafAval, traceFlat } from './trace.js';

/** A compiled Graph. */
export interface Executable {
  /** Runs on concrete inputs (the graph's flat inputs), returning the flat outputs. */
  run(inputs: Array[]): Array[];
  /** Releases native resources. */
  close(): void;
}

/** Options a backend receives when compiling. */
export interface CompileOptions {
  /** Threads each executable may use inside one op (ONNX Runtime's intra-op threads). */
  intraOpNumThreads?: number;
  /** Flat input indices whose buffers may be reused for outputs. */
  donate?: number[];
  /** 'onnx': run the large elementwise tail as fused WebAssembly kernels (default on; env MYRIAD_HOST_FUSION=0 turns the default off). */
  hostFusion?: boolean;
}

/** A compilation target. */
export interface Backend {
  readonly name: string;
  compile(graph: Graph, opts: CompileOptions): Executable;
}

const backends = new Map<string, Backend>();
let defaultBackendName = 'reference';

/** Registers a backend under its name (used by `jit(f, {backend})`). */
export function registerBackend(b: Backend): void {
  backends.set(b.name, b);
}

/** Sets the backend `jit` uses when none is given. */
export function setDefaultBackend(name: string): void {
  getBackend(name);
  defaultBackendName = name;
}

/** The default backend's name. */
export function defaultBackend(): string {
  return defaultBackendName;
}

/** Looks up a registered backend, with a clear error listing the known ones. */
export function getBackend(name: string): Backend {
  const b = backends.get(name);
  if (!b) throw new ValueError(`unknown backend ${JSON.stringify(name)}; registered backends: ${[...backends.keys()].join(', ')}`);
  return b;
}

/** Options of `jit`. */
export interface JitOptions {
  /** Positional arguments treated as compile-time constants (part of the cache key). */
  staticArgnums?: number | number[];
  /** Positional arguments whose buffers the call may reuse for outputs (do not use them after). */
  donateArgnums?: number | number[];
  /** 'onnx' or 'reference' (default: the global default, see setDefaultBackend). */
  backend?: string;
  /** Intra-op threads for the executable (default 1 per executable). */
  intraOpNumThreads?: number;
  /** Host epilogue fusion on the 'onnx' backend (see CompileOptions.hostFusion). */
  hostFusion?: boolean;
}

/** Statistics of a jitted function, to find accidental retracing. */
export interface JitStats {
  /** Number of times the function was traced and compiled. */
  traces: number;
  /** Number of calls served from the cache. */
  hits: number;
  /** Signatures in the cache. */
  signatures: string[];
}

/** A jitted function. */
export interface Jitted<F extends (...args: any[]) => any> {
  (...args: Parameters<F>): ReturnType<F>;
  /** Trace/compile counters. */
  readonly stats: JitStats;
  /** The Graph compiled for these arguments (traces if needed, without running). */
  lower(...args: Parameters<F>): Graph;
  /** Closes all cached executables. */
  close(): void;
}

interface Entry {
  graph: Graph;
  donate: number[];
  exe: Executable;
  outTree: TreeDef;
  leafAvals: AbstractValue[];
}

const staticIds = new WeakMap<object, number>();
let nextStaticId = 0;

function staticKey(v: unknown, where: string): string {
  if (v instanceof Array) throw new ValueError(`${where}: a static argument cannot be an array (its values are not hashable); pass it as a regular argument`);
  if (v === null || ['number', 'string', 'boolean', 'undefined'].includes(typeof v)) return JSON.stringify(v) ?? 'undefined';
  if (typeof v === 'function' || typeof v === 'object') {
    let id = staticIds.get(v as object);
    if (id === undefined) {
      id = nextStaticId++;
      staticIds.set(v as object, id);
    }
    // Plain data is keyed by value so equal configs share a cache entry; other objects by identity.
    try {
      if (typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || globalThis.Array.isArray(v))) return `json:${JSON.stringify(v)}`;
    } catch {
      /* cyclic: fall back to identity */
    }
    return `obj#${id}`;
  }
  return String(v);
}

function toList(x: number | number[] | undefined): number[] {
  return x === undefined ? [] : typeof x === 'number' ? [x] : x;
}

/** Describes the leaf paths of one argument for error messages. */
function leafPaths(def: TreeDef, prefix: string): string[] {
  switch (def.kind) {
    case 'leaf': return [prefix];
    case 'none': return [];
    case 'array': return def.children.flatMap((c, i) => leafPaths(c, `${prefix}[${i}]`));
    case 'object': return def.children.flatMap((c, i) => leafPaths(c, `${prefix}.${def.keys[i]}`));
  }
}

/**
 * `jit(f, opts)`: compiles `f` per input signature and caches it. Set `MYRIAD_LOG_COMPILES=1`
 * to log every (re)trace with its signature; `jitted.stats` counts traces and cache hits.
 */
export function jit<F extends (...args: any[]) => any>(f: F, opts: JitOptions = {}): Jitted<F> {
  const statics = toList(opts.staticArgnums);
  const donate = toList(opts.donateArgnums);
  const cache = new Map<string, Entry>();
  const stats: JitStats = { traces: 0, hits: 0, signatures: [] };
  const name = f.name || 'fn';
  let lastSig: { key: string; args: string[][] } | null = null;

  const analyze = (args: any[]) => {
    const n = args.length;
    const norm = (a: number) => (a < 0 ? a + n : a);
    for (const s of statics) if (norm(s) < 0 || norm(s) >= n) throw new ValueError(`jit(${name}): staticArgnums ${s} is out of range for a call with ${n} argument(s)`);
    const staticSet = new Set(statics.map(norm));
    const dynArgs: unknown[] = [];
    const dynIdx: number[] = [];
    const keyParts: string[] = [];
    const perArg: string[][] = [];
    args.forEach((a, i) => {
      if (staticSet.has(i)) {
        keyParts.push(`s${i}=${staticKey(a, `jit(${name}) static argument ${i}`)}`);
        perArg.push([`static ${staticKey(a, '')}`]);
      } else {
        dynArgs.push(a);
        dynIdx.push(i);
        const [ls, def] = flatten(a);
        const paths = leafPaths(def, `argument ${i}`);
        const avals = ls.map((l, j) => leafAval(l, `jit(${name}) ${paths[j]}`));
        const desc = avals.map((av, j) => `${paths[j]}: ${fmtAval(av)}`);
        perArg.push(desc);
        keyParts.push(`d${i}=${treedefToString(def)}|${avals.map(fmtAval).join(',')}`);
      }
    });
    return { key: keyParts.join(';'), dynArgs, dynIdx, perArg };
  };

  /** The full argument list with the dynamic arguments replaced by `dyn` (e.g. tracers). */
  const place = (args: any[], dynIdx: number[], dyn: any[]) => {
    const out = [...args];
    dynIdx.forEach((i, j) => (out[i] = dyn[j]));
    return out;
  };

  const traceEntry = (args: any[], key: string, dynArgs: unknown[], dynIdx: number[], perArg: string[][]): Entry => {
    const [dynLeaves, dynDef] = flatten(dynArgs);
    const leafAvals = dynLeaves.map((l, i) => leafAval(l, `jit(${name}) argument leaf ${i}`));
    let graph: Graph;
    try {
      graph = traceFlat((...dyn: any[]) => f(...place(args, dynIdx, dyn)), leafAvals, dynDef, `jit(${name})`);
    } catch (e) {
      if (e instanceof Error && lastSig) {
        const diffs: string[] = [];
        perArg.forEach((desc, i) => {
          const prev = lastSig!.args[i];
          if (!prev) diffs.push(`argument ${i} is new (the previous call had ${lastSig!.args.length} arguments)`);
          else if (prev.join('\n') !== desc.join('\n')) diffs.push(`argument ${i} was {${prev.join('; ')}} and is now {${desc.join('; ')}}`);
        });
        if (diffs.length) e.message += `\n  (jit(${name}) retraced because its inputs changed: ${diffs.join('; ')})`;
      }
      throw e;
    }
    const backend = getBackend(opts.backend ?? defaultBackendName);
    const donateFlat: number[] = [];
    if (donate.length) {
      let off = 0;
      dynArgs.forEach((a, j) => {
        const cnt = flatten(a)[0].length;
        if (donate.includes(dynIdx[j])) for (let k = 0; k < cnt; k++) donateFlat.push(off + k);
        off += cnt;
      });
    }
    graph = dce(graph);
    const exe = backend.compile(graph, { intraOpNumThreads: opts.intraOpNumThreads, donate: donateFlat, hostFusion: opts.hostFusion });
    stats.traces++;
    stats.signatures.push(key);
    if (process.env.MYRIAD_LOG_COMPILES) {
      console.error(`[myriad] jit(${name}) trace #${stats.traces} on ${backend.name}: ${perArg.map((d) => d.join(', ')).join(' | ')}`);
    }
    return { graph, donate: donateFlat, exe, outTree: graph.outTree as TreeDef, leafAvals };
  };

  const call = (...args: any[]) => {
    // Under another trace (grad/makeGraph/jit) or with tracer arguments: inline.
    const [allLeaves] = flatten(args);
    if (currentTrace() || allLeaves.some((l) => l instanceof Array && l.isTracer)) {
      const { dynArgs, dynIdx } = analyze(args);
      const [dynLeaves, dynDef] = flatten(dynArgs);
      const g = traceFlat((...dyn: any[]) => f(...place(args, dynIdx, dyn)), dynLeaves.map((l, i) => leafAval(l, `jit(${name}) argument leaf ${i}`)), dynDef, `jit(${name})`);
      const outs = evalGraph(g, dynLeaves.map((l, i) => asArrayLeaf(l, `jit(${name}) argument leaf ${i}`)));
      return unflatten(g.outTree as TreeDef, outs);
    }
    const { key, dynArgs, dynIdx, perArg } = analyze(args);
    let entry = cache.get(key);
    if (entry) stats.hits++;
    else {
      entry = traceEntry(args, key, dynArgs, dynIdx, perArg);
      cache.set(key, entry);
    }
    lastSig = { key, args: perArg };
    const [dynLeaves] = flatten(dynArgs);
    const inputs = dynLeaves.map((l, i) => {
      if (l instanceof ShapeDtypeStruct) throw new PytreeError(`jit(${name}): argument leaf ${i} is a ShapeDtypeStruct; call .lower(...) to trace without data`);
      const x = asArrayLeaf(l, `jit(${name}) argument leaf ${i}`);
      const want = entry!.leafAvals[i];
      // Weakly typed JS numbers are cast to the traced scalar dtype.
      return typeof l === 'number' && x.dtype !== want.dtype ? Array.scalar(l, want.dtype) : x;
    });
    let outs: Array[];
    try {
      outs = entry.exe.run(inputs);
      // Donated inputs are consumed: reading them later is an error, and backends may recycle
      // their buffers for later outputs.
      for (const i of entry.donate) if (!outs.includes(inputs[i])) inputs[i]._donated = true;
    } catch (e) {
      if (e instanceof MyriadError) throw e;
      throw new MyriadError(`jit(${name}) failed while running on backend ${opts.backend ?? defaultBackendName}: ${(e as Error).message}`);
    }
    return unflatten(entry.outTree, outs);
  };

  const jitted = call as unknown as Jitted<F>;
  Object.defineProperty(jitted, 'stats', { get: () => stats });
  (jitted as { lower: unknown }).lower = (...args: any[]) => {
    const { dynArgs, dynIdx } = analyze(args);
    const [dynLeaves, dynDef] = flatten(dynArgs);
    return traceFlat((...dyn: any[]) => f(...place(args, dynIdx, dyn)), dynLeaves.map((l, i) => leafAval(l, `jit(${name}) argument leaf ${i}`)), dynDef, `jit(${name})`);
  };
  (jitted as { close: unknown }).close = () => {
    for (const e of cache.values()) e.exe.close();
    cache.clear();
  };
  return jitted;
}
