/**
 * The conventions every `nn` layer and model follows, plus the small helpers they share.
 *
 * A layer is a plain object made from a config (`nn.Dense({ features: 64, axes: ['embed', 'mlp'] })`)
 * with three pure functions:
 * - `init(key, …shapes) → params`: a pytree (nested plain objects) of float Arrays, float32 unless
 *   the config's `dtype` says otherwise;
 * - `axes(…shapes) → AxesTree`: a pytree of the SAME structure whose leaves are {@link LogicalAxes},
 *   one logical axis name per parameter dimension (`embed`, `mlp`, `heads`, `kv`, `vocab`,
 *   `joined_kv`, `relpos_buckets`, `layers`, …). A rules table (the partitioner's) later maps these
 *   names to mesh axes, as T5X does, so a model is sharded without touching its code;
 * - `apply(params, x, opts?) → y`, pure: randomness (dropout) only from an explicit key in
 *   {@link ApplyOptions}, never from hidden state.
 * Computation happens in the dtype of the params and inputs (float32 by default); no layer
 * hard-codes float32, so the same code runs in float64 for gradient checks.
 *
 * Helpers: {@link checkAxes} validates that a params tree and an axes tree match (one name per
 * dimension), {@link evalShape} computes the shapes of `init` without allocating anything (it
 * traces with `makeGraph`), {@link paramCount}, {@link dropout}, {@link subKey}, and the weight
 * {@link initializers} (T5X's defaults: variance scaling with fan-in and a truncated normal for
 * kernels, a unit normal for embeddings).
 */

import { Array, ShapeDtypeStruct } from '../core/array.js';
import type { DType } from '../core/dtype.js';
import { MyriadError, ShapeError, ValueError } from '../core/errors.js';
import type { AbstractValue } from '../core/ir.js';
import { flatten, treedefEqual, treedefToString, unflatten, type TreeDef } from '../core/pytree.js';
import { makeGraph } from '../core/trace.js';
import { np } from '../np/index.js';
import { random } from '../random/index.js';

/** Thrown for bad layer/model configs, mismatched params and other misuse of `nn` and `models`. */
export class ModelError extends MyriadError {}

/**
 * The logical axis names of one parameter, one per dimension (e.g. a Dense kernel
 * `new LogicalAxes('embed', 'mlp')`). A class (not a JS array) so that it is a single pytree leaf.
 */
export class LogicalAxes {
  readonly names: readonly string[];
  constructor(...names: string[]) {
    for (const n of names) {
      if (typeof n !== 'string' || n.length === 0) throw new ModelError(`LogicalAxes: every axis name must be a non-empty string, got ${JSON.stringify(names)}`);
    }
    this.names = Object.freeze([...names]);
  }
  /** Number of dimensions named. */
  get rank(): number {
    return this.names.length;
  }
  /** A new LogicalAxes with `name` prepended (e.g. 'layers' for stacked per-layer params). */
  prepend(name: string): LogicalAxes {
    return new LogicalAxes(name, ...this.names);
  }
  toString(): string {
    return `(${this.names.join(', ')})`;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `LogicalAxes${this.toString()}`;
  }
}

/** Shorthand for `new LogicalAxes(...names)`. */
export function logical(...names: string[]): LogicalAxes {
  return new LogicalAxes(...names);
}

/** A params pytree: nested plain objects (or JS arrays) of Arrays. */
export type Params = { [name: string]: Params | Array } | Params[];
/** An axes pytree: the same structure as a Params tree, with LogicalAxes leaves. */
export type AxesTree = { [name: string]: AxesTree | LogicalAxes } | AxesTree[];

/** Options of `apply` shared by every layer and model. */
export interface ApplyOptions {
  /** When true (default), dropout is off and no key is needed. Models take `train` instead. */
  deterministic?: boolean;
  /** PRNG key for dropout; required when `deterministic` is false and a dropout rate is > 0. */
  key?: Array;
}

/**
 * The interface every layer implements. `S` is what `init`/`axes` need to know about the input
 * (usually the input's feature size or shape); `I`/`O` are the apply input and output.
 */
export interface Layer<S extends unknown[], I, O, P = any, Opt extends ApplyOptions = ApplyOptions> {
  /** Creates the parameters from a key (see the file header). */
  init(key: Array, ...inputInfo: S): P;
  /** Logical axis names of every parameter (a pytree shaped like `init`'s result). */
  axes(...inputInfo: S): AxesTree;
  /** Runs the layer. */
  apply(params: P, x: I, opts?: Opt): O;
}

/**
 * Derives the i-th sub-key of `opts.key` (`random.foldIn(key, i)`), or undefined when there is no
 * key. Layers use it to give each dropout site its own stream.
 */
export function subKey(key: Array | undefined, i: number): Array | undefined {
  return key === undefined ? undefined : random.foldIn(key, i);
}

/**
 * `n` independent keys from `key` (`random.split`), as a JS list. Used by every `init`. While
 * {@link evalShape} traces, returns `key` n times (the values do not matter there, and each split
 * would add ~150 traced equations).
 */
export function splitKey(key: Array, n = 2): Array[] {
  if (shapeOnlyDepth > 0) return globalThis.Array.from({ length: n }, () => key);
  return [...random.split(key, n)];
}

/** The key for component `i` of `key` (`random.foldIn`); `key` itself while {@link evalShape} traces. */
export function foldKey(key: Array, i: number): Array {
  return shapeOnlyDepth > 0 ? key : random.foldIn(key, i);
}

/** Options of {@link dropout}. */
export interface DropoutOptions {
  /** Probability of zeroing an element, in [0, 1). */
  rate: number;
  /** No-op when true. */
  deterministic?: boolean;
  /** PRNG key (required unless deterministic or rate is 0). */
  key?: Array;
  /** Dimensions along which the mask is shared (size-1 in the mask), e.g. [-2] to share over length. */
  broadcastDims?: number[];
}

/**
 * Inverted dropout: zeroes each element with probability `rate` and scales the others by
 * 1/(1 − rate), so the expectation is unchanged. Identity when deterministic or rate is 0.
 */
export function dropout(x: Array, opts: DropoutOptions): Array {
  const { rate } = opts;
  if (!(typeof rate === 'number' && rate >= 0 && rate < 1)) throw new ModelError(`dropout: rate must be a number in [0, 1), got ${String(rate)}`);
  if (opts.deterministic || rate === 0) return x;
  if (opts.key === undefined) {
    throw new ModelError('dropout: a PRNG key is needed when dropout is active; pass { key } (e.g. random.split(key)[0]) or deterministic: true');
  }
  const shape = [...x.shape];
  for (const d of opts.broadcastDims ?? []) shape[d < 0 ? d + shape.length : d] = 1;
  const keep = random.bernoulli(opts.key, 1 - rate, shape);
  const scaled = np.multiply(x, 1 / (1 - rate));
  return np.where(keep, scaled, np.zerosLike(x));
}

// ---------------------------------------------------------------- initializers

/** A weight initializer: (key, shape, dtype) → Array. */
export type Initializer = (key: Array, shape: number[], dtype: DType) => Array;

/** While > 0, the built-in initializers return zeros instead of sampling (see {@link evalShape}). */
let shapeOnlyDepth = 0;

/** Wraps an initializer so that, while {@link evalShape} traces, it emits one cheap broadcast instead of a sampler. */
function sampler(name: string, f: (key: Array, shape: number[], dtype: 'float32' | 'float64') => Array): Initializer {
  return (key, shape, dtype) => {
    const dt = floatDtype(dtype, name);
    if (shapeOnlyDepth > 0) return np.zeros(shape, dt);
    return f(key, shape, dt);
  };
}

function floatDtype(dtype: DType, where: string): 'float32' | 'float64' {
  if (dtype !== 'float32' && dtype !== 'float64') throw new ModelError(`${where}: parameters must be float32 or float64, got ${dtype}`);
  return dtype;
}

/** Options of {@link varianceScaling}. */
export interface VarianceScalingOptions {
  /** Which dims are inputs (fan-in) — default all but the last. */
  inAxes?: number[];
  /** Which dims are outputs (fan-out) — default the last. */
  outAxes?: number[];
}

/**
 * Weight initializers (the defaults of T5X/Flax): `normal(std)`, `truncatedNormal(std)`
 * (truncated at ±2σ), `varianceScaling(scale, mode, distribution)` (variance scale/fan), `zeros`,
 * `ones`, `constant(v)`.
 */
export const initializers = {
  zeros: ((_key, shape, dtype) => np.zeros(shape, floatDtype(dtype, 'zeros'))) as Initializer,
  ones: ((_key, shape, dtype) => np.ones(shape, floatDtype(dtype, 'ones'))) as Initializer,
  constant(value: number): Initializer {
    return (_key, shape, dtype) => np.full(shape, value, floatDtype(dtype, 'constant'));
  },
  normal(stddev = 1): Initializer {
    return sampler('normal', (key, shape, dtype) => np.multiply(random.normal(key, shape, { dtype }), stddev));
  },
  truncatedNormal(stddev = 1): Initializer {
    return sampler('truncatedNormal', (key, shape, dtype) => np.multiply(random.truncatedNormal(key, -2, 2, shape, { dtype }), stddev));
  },
  /**
   * Variance scaling: variance `scale / n` with n the fan-in, fan-out or their average; the
   * truncated normal is rescaled (÷ 0.8796…) so the truncated distribution has that variance.
   */
  varianceScaling(scale: number, mode: 'fan_in' | 'fan_out' | 'fan_avg', distribution: 'truncated_normal' | 'normal' | 'uniform', o: VarianceScalingOptions = {}): Initializer {
    return sampler('varianceScaling', (key, shape, dt) => {
      const n = shape.length;
      const norm = (a: number) => (a < 0 ? a + n : a);
      const inAxes = (o.inAxes ?? shape.map((_, i) => i).slice(0, Math.max(0, n - 1))).map(norm);
      const outAxes = (o.outAxes ?? (n ? [n - 1] : [])).map(norm);
      const fanIn = inAxes.reduce((p, a) => p * shape[a], 1);
      const fanOut = outAxes.reduce((p, a) => p * shape[a], 1);
      const fan = mode === 'fan_in' ? fanIn : mode === 'fan_out' ? fanOut : (fanIn + fanOut) / 2;
      const variance = scale / Math.max(1, fan);
      if (distribution === 'truncated_normal') {
        const std = Math.sqrt(variance) / 0.87962566103423978;
        return np.multiply(random.truncatedNormal(key, -2, 2, shape, { dtype: dt }), std);
      }
      if (distribution === 'normal') return np.multiply(random.normal(key, shape, { dtype: dt }), Math.sqrt(variance));
      const lim = Math.sqrt(3 * variance);
      return random.uniform(key, shape, { dtype: dt, minval: -lim, maxval: lim });
    });
  },
  /** T5X's default kernel init: variance scaling 1.0, fan-in, truncated normal. */
  lecunTruncated(o: VarianceScalingOptions = {}): Initializer {
    return initializers.varianceScaling(1, 'fan_in', 'truncated_normal', o);
  },
};

// ---------------------------------------------------------------- checks and shapes

function leafShape(leaf: unknown): number[] | null {
  if (leaf instanceof Array || leaf instanceof ShapeDtypeStruct) return leaf.shape;
  if (leaf && typeof leaf === 'object' && 'shape' in leaf && globalThis.Array.isArray((leaf as AbstractValue).shape)) return [...(leaf as AbstractValue).shape];
  return null;
}

/** Pytree path strings of every leaf of a structure, like `decoder.layers_0.mlp.wi.kernel`. */
export function leafPaths(def: TreeDef, prefix = ''): string[] {
  const join = (p: string, k: string) => (p ? `${p}.${k}` : k);
  switch (def.kind) {
    case 'leaf': return [prefix];
    case 'none': return [];
    case 'array': return def.children.flatMap((c, i) => leafPaths(c, join(prefix, String(i))));
    case 'object': return def.children.flatMap((c, i) => leafPaths(c, join(prefix, def.keys[i])));
  }
}

/** Every leaf of a pytree with its dotted path, in flatten order. */
export function namedLeaves<T = unknown>(tree: unknown): { path: string; leaf: T }[] {
  const [ls, def] = flatten(tree);
  const paths = leafPaths(def);
  return ls.map((leaf, i) => ({ path: paths[i], leaf: leaf as T }));
}

/**
 * Validates that `axes` has the same structure as `params` and that every leaf names one logical
 * axis per dimension. Params leaves may be Arrays or ShapeDtypeStructs (from {@link evalShape}).
 * Throws a ModelError naming the first offending path.
 */
export function checkAxes(params: unknown, axes: unknown, where = 'checkAxes'): void {
  const [pl, pdef] = flatten(params);
  const [al, adef] = flatten(axes);
  if (!treedefEqual(pdef, adef)) {
    const pp = new Set(leafPaths(pdef));
    const ap = new Set(leafPaths(adef));
    const missing = [...pp].filter((p) => !ap.has(p));
    const extra = [...ap].filter((p) => !pp.has(p));
    throw new ModelError(
      `${where}: the axes tree does not match the params tree` +
        (missing.length ? `; params without axes: ${missing.slice(0, 5).join(', ')}` : '') +
        (extra.length ? `; axes without params: ${extra.slice(0, 5).join(', ')}` : '') +
        (!missing.length && !extra.length ? `; structures: ${treedefToString(pdef).slice(0, 200)} vs ${treedefToString(adef).slice(0, 200)}` : ''),
    );
  }
  const paths = leafPaths(pdef);
  pl.forEach((p, i) => {
    const shape = leafShape(p);
    if (shape === null) throw new ModelError(`${where}: params leaf ${paths[i]} is not an array`);
    const a = al[i];
    if (!(a instanceof LogicalAxes)) throw new ModelError(`${where}: axes leaf ${paths[i]} is not a LogicalAxes`);
    if (a.rank !== shape.length) throw new ModelError(`${where}: ${paths[i]} has shape [${shape.join(', ')}] but ${a.rank} axis names ${a.toString()}; give one logical axis name per dimension`);
  });
}

/** A map from each param path to its shape and logical axis names (for printing and rules tables). */
export function paramAxesTable(params: unknown, axes: unknown): Map<string, { shape: number[]; axes: readonly string[] }> {
  checkAxes(params, axes, 'paramAxesTable');
  const out = new Map<string, { shape: number[]; axes: readonly string[] }>();
  const ps = namedLeaves(params);
  const as = flatten(axes)[0] as LogicalAxes[];
  ps.forEach(({ path, leaf }, i) => out.set(path, { shape: leafShape(leaf)!, axes: as[i].names }));
  return out;
}

/**
 * The shapes and dtypes `fn(...args)` would return, as a pytree of ShapeDtypeStructs, computed by
 * tracing (nothing is allocated or computed): e.g. `evalShape((k) => model.init(k), random.key(0))`
 * gives a big preset's parameter shapes in milliseconds. Arguments may be ShapeDtypeStructs. While
 * it traces, the built-in {@link initializers} emit zeros instead of random samplers (shapes and
 * dtypes are the same; tracing thousands of sampler equations per parameter would take seconds).
 */
export function evalShape<T = any>(fn: (...args: any[]) => unknown, ...args: unknown[]): T {
  // Tracing a sampler costs a few hundred equations per parameter; shapes do not depend on it.
  shapeOnlyDepth++;
  let g;
  try {
    g = makeGraph(fn)(...args);
  } finally {
    shapeOnlyDepth--;
  }
  return unflatten<T>(g.outTree as TreeDef, g.outputs.map((v) => new ShapeDtypeStruct([...v.aval.shape], v.aval.dtype)));
}

/**
 * The logical axes of a model or layer with `init(key)` and `axes()`, validated against the
 * shapes `init` would produce (computed with {@link evalShape}, so nothing is allocated):
 * path → {shape, axes}. Throws a ModelError naming any parameter without one name per dimension.
 */
export function paramAxes(model: { init(key: Array): unknown; axes(): unknown }, key?: Array): Map<string, { shape: number[]; axes: readonly string[] }> {
  const shapes = evalShape((k: Array) => model.init(k), key ?? new ShapeDtypeStruct([2], 'uint32'));
  return paramAxesTable(shapes, model.axes());
}

/** Total number of parameter elements in a params tree (Arrays or ShapeDtypeStructs). */
export function paramCount(params: unknown): number {
  return flatten(params)[0].reduce<number>((n, l) => {
    const s = leafShape(l);
    if (s === null) throw new ModelError('paramCount: a params leaf is not an array');
    return n + s.reduce((p, d) => p * d, 1);
  }, 0);
}

/** Checks that a config value is a positive integer; throws a ModelError naming the field. */
export function positiveInt(v: unknown, field: string, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ModelError(`${where}: ${field} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/** Checks a rate in [0, 1); throws a ModelError naming the field. */
export function rateIn01(v: unknown, field: string, where: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new ModelError(`${where}: ${field} must be a number in [0, 1), got ${JSON.stringify(v)}`);
  return v;
}

/** Checks that `x` has rank ≥ `min` and that its last dim is `last` (if given). */
export function checkInput(x: unknown, where: string, o: { minRank?: number; last?: number; rank?: number; float?: boolean } = {}): Array {
  if (!(x instanceof Array)) throw new ValueError(`${where}: expected an Array input, got ${x === null ? 'null' : typeof x}`);
  if (o.float && x.dtype !== 'float32' && x.dtype !== 'float64') throw new ValueError(`${where}: expected a float input, got ${x.dtype}; convert with astype('float32')`);
  if (o.rank !== undefined && x.ndim !== o.rank) throw new ShapeError(`${where}: expected an input of rank ${o.rank}, got shape [${x.shape.join(', ')}]`);
  if (o.minRank !== undefined && x.ndim < o.minRank) throw new ShapeError(`${where}: expected an input of rank ≥ ${o.minRank}, got shape [${x.shape.join(', ')}]`);
  if (o.last !== undefined && x.shape[x.ndim - 1] !== o.last) throw new ShapeError(`${where}: expected the last dimension to be ${o.last}, got shape [${x.shape.join(', ')}]`);
  return x;
}
