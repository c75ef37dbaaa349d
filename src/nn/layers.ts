/**
 * Basic layers: Dense, DenseGeneral (contracting several input dims into several output dims),
 * Embed (lookup plus `attend` for tied output logits), RMSNorm (T5's: no bias, no mean
 * subtraction, eps 1e-6), LayerNorm, and the MLP block (ReLU, GELU, gated GELU/GeGLU, SwiGLU),
 * following the conventions of `module.ts` (init/axes/apply, logical axis names, explicit keys).
 *
 * Parameter names follow T5X/Flax (`kernel`, `bias`, `embedding`, `scale`, `wi`/`wi_0`/`wi_1`/`wo`)
 * so checkpoints map one-to-one to T5X and, with transposes, to Hugging Face (see models/hf.ts).
 */

import { Array } from '../core/array.js';
import type { DType } from '../core/dtype.js';
import * as lax from '../core/lax.js';
import { np } from '../np/index.js';
import {
  splitKey,
  checkInput,
  dropout,
  initializers,
  LogicalAxes,
  ModelError,
  positiveInt,
  rateIn01,
  subKey,
  type ApplyOptions,
  type Initializer,
  type Layer,
} from './module.js';

/** Casts `a` to `dtype` unless it already has it. */
export function cast(a: Array, dtype: DType): Array {
  return a.dtype === dtype ? a : np.astype(a, dtype);
}

function normAxis(a: number, rank: number, where: string): number {
  const r = a < 0 ? a + rank : a;
  if (!(r >= 0 && r < rank)) throw new ModelError(`${where}: axis ${a} is out of range for an input of rank ${rank}`);
  return r;
}

// ---------------------------------------------------------------- DenseGeneral

/** Config of {@link DenseGeneral}. */
export interface DenseGeneralConfig {
  /** Output feature dims (a number for one dim). */
  features: number | number[];
  /** Input dims contracted with the kernel (default -1, the last). */
  axis?: number | number[];
  /** Logical names of the kernel dims: one per contracted input dim, then one per feature dim. */
  axes: string[];
  /** Add a bias (default false, as in T5). */
  useBias?: boolean;
  /** Parameter dtype (default float32). */
  dtype?: DType;
  /** Kernel initializer (default variance scaling 1.0, fan-in over the contracted dims, truncated normal). */
  kernelInit?: Initializer;
  /** Bias initializer (default zeros). */
  biasInit?: Initializer;
}

/** Params of a dense layer. */
export interface DenseParams {
  kernel: Array;
  bias?: Array;
}

/** A DenseGeneral layer: `init(key, inShape)` takes the sizes of the contracted input dims. */
export type DenseGeneralLayer = Layer<[inShape: number[]], Array, Array, DenseParams> & { readonly config: Readonly<DenseGeneralConfig> };

/**
 * A linear map contracting `axis` dims of the input with the leading dims of a kernel
 * [...inDims, ...features]; the output is [...other input dims, ...features] (+ bias). E.g. the
 * attention query projection: x [B, L, embed] → [B, L, heads, kv] with kernel [embed, heads, kv].
 */
export function DenseGeneral(config: DenseGeneralConfig): DenseGeneralLayer {
  const where = 'DenseGeneral';
  const features = typeof config.features === 'number' ? [config.features] : [...config.features];
  features.forEach((f, i) => positiveInt(f, `features[${i}]`, where));
  const axisList = config.axis === undefined ? [-1] : typeof config.axis === 'number' ? [config.axis] : [...config.axis];
  if (!globalThis.Array.isArray(config.axes) || config.axes.length !== axisList.length + features.length) {
    throw new ModelError(`${where}: axes must name ${axisList.length} input dim(s) and ${features.length} feature dim(s) (${axisList.length + features.length} names), got ${JSON.stringify(config.axes)}`);
  }
  const dtype = config.dtype ?? 'float32';
  const nIn = axisList.length;
  const kernelInit =
    config.kernelInit ??
    initializers.lecunTruncated({ inAxes: axisList.map((_, i) => i), outAxes: features.map((_, i) => nIn + i) });
  const biasInit = config.biasInit ?? initializers.zeros;
  const checkIn = (inShape: number[]) => {
    if (!globalThis.Array.isArray(inShape) || inShape.length !== nIn) throw new ModelError(`${where}.init: expected the sizes of ${nIn} contracted input dim(s), got ${JSON.stringify(inShape)}`);
    inShape.forEach((d, i) => positiveInt(d, `inShape[${i}]`, where));
  };
  return {
    config,
    init(key: Array, inShape: number[]): DenseParams {
      checkIn(inShape);
      const [kk, kb] = splitKey(key);
      const p: DenseParams = { kernel: kernelInit(kk, [...inShape, ...features], dtype) };
      if (config.useBias) p.bias = biasInit(kb, features, dtype);
      return p;
    },
    axes(): any {
      const a: Record<string, LogicalAxes> = { kernel: new LogicalAxes(...config.axes) };
      if (config.useBias) a.bias = new LogicalAxes(...config.axes.slice(nIn));
      return a;
    },
    apply(params: DenseParams, x: Array): Array {
      checkInput(x, where, { minRank: nIn });
      const contract = axisList.map((a) => normAxis(a, x.ndim, where));
      const k = params.kernel;
      contract.forEach((d, i) => {
        if (x.shape[d] !== k.shape[i]) throw new ModelError(`${where}: input dim ${d} has size ${x.shape[d]} but the kernel [${k.shape.join(', ')}] expects ${k.shape[i]}`);
      });
      // Computation in x's dtype; dot_general puts x's free dims (in order) before the features.
      const dt = x.dtype;
      let y = lax.dotGeneral(x, cast(k, dt), { lhsContracting: contract, rhsContracting: contract.map((_, i) => i) });
      if (params.bias) y = np.add(y, cast(params.bias, dt));
      return y;
    },
  };
}

/** Config of {@link Dense}. */
export interface DenseConfig {
  features: number;
  /** Logical names of the kernel [in, out] (default ['embed', 'mlp']). */
  axes?: [string, string];
  useBias?: boolean;
  dtype?: DType;
  kernelInit?: Initializer;
  biasInit?: Initializer;
}

/** A Dense layer: `init(key, inFeatures)`. */
export type DenseLayer = Layer<[inFeatures: number], Array, Array, DenseParams> & { readonly config: Readonly<DenseConfig> };

/** A linear map over the last dim: x [..., in] → [..., features] with kernel [in, features]. */
export function Dense(config: DenseConfig): DenseLayer {
  const g = DenseGeneral({ ...config, axes: config.axes ?? ['embed', 'mlp'], axis: -1 });
  return {
    config,
    init: (key: Array, inFeatures: number) => g.init(key, [inFeatures]),
    axes: () => g.axes([0]),
    apply: (params: DenseParams, x: Array) => g.apply(params, x),
  };
}

// ---------------------------------------------------------------- Embed

/** Config of {@link Embed}. */
export interface EmbedConfig {
  /** Number of rows (vocabulary size). */
  numEmbeddings: number;
  /** Row size. */
  features: number;
  /** Logical names (default ['vocab', 'embed']). */
  axes?: [string, string];
  dtype?: DType;
  /** Default: normal with stddev 1 (T5X). */
  embeddingInit?: Initializer;
}

/** Params of {@link Embed}. */
export interface EmbedParams {
  embedding: Array;
}

/** An embedding table with lookup and `attend` (x · tableᵀ, for tied output logits). */
export interface EmbedLayer extends Layer<[], Array, Array, EmbedParams> {
  readonly config: Readonly<EmbedConfig>;
  /** Logits over the vocabulary from features: [..., features] → [..., numEmbeddings]. */
  attend(params: EmbedParams, x: Array): Array;
}

/** Embedding lookup: int32 ids [...] → [..., features]. Ids outside [0, numEmbeddings) read zeros. */
export function Embed(config: EmbedConfig): EmbedLayer {
  const where = 'Embed';
  const n = positiveInt(config.numEmbeddings, 'numEmbeddings', where);
  const f = positiveInt(config.features, 'features', where);
  const dtype = config.dtype ?? 'float32';
  const init = config.embeddingInit ?? initializers.normal(1);
  const names = config.axes ?? ['vocab', 'embed'];
  return {
    config,
    init: (key: Array) => ({ embedding: init(key, [n, f], dtype) }),
    axes: () => ({ embedding: new LogicalAxes(...names) }),
    apply(params: EmbedParams, ids: Array): Array {
      if (!(ids instanceof Array) || (ids.dtype !== 'int32' && ids.dtype !== 'uint32')) throw new ModelError(`${where}: ids must be an int32 Array, got ${ids instanceof Array ? ids.dtype : typeof ids}`);
      return lax.gather(params.embedding, cast(ids, 'int32'), 0, 0);
    },
    attend(params: EmbedParams, x: Array): Array {
      checkInput(x, `${where}.attend`, { minRank: 1, last: f });
      return lax.dotGeneral(x, cast(params.embedding, x.dtype), { lhsContracting: [x.ndim - 1], rhsContracting: [1] });
    },
  };
}

// ---------------------------------------------------------------- norms

/** Config of {@link RMSNorm} and {@link LayerNorm}. */
export interface NormConfig {
  /** Epsilon added to the variance (default 1e-6, as T5). */
  eps?: number;
  /** Logical name of the normalized dim (default 'embed'). */
  axis?: string;
  dtype?: DType;
  /** LayerNorm only: learn a bias (default true). */
  useBias?: boolean;
  /** LayerNorm only: learn a scale (default true). */
  useScale?: boolean;
}

/** Params of a norm layer. */
export interface NormParams {
  scale?: Array;
  bias?: Array;
}

/** A norm layer: `init(key, features)`. */
export type NormLayer = Layer<[features: number], Array, Array, NormParams> & { readonly config: Readonly<NormConfig> };

/**
 * T5's layer norm (RMSNorm): y = x · rsqrt(mean(x²) + eps) · scale over the last dim — no mean
 * subtraction and no bias. The scale starts at 1.
 */
export function RMSNorm(config: NormConfig = {}): NormLayer {
  const eps = config.eps ?? 1e-6;
  const dtype = config.dtype ?? 'float32';
  const name = config.axis ?? 'embed';
  return {
    config,
    init: (_key: Array, features: number) => ({ scale: np.ones([positiveInt(features, 'features', 'RMSNorm')], dtype) }),
    axes: () => ({ scale: new LogicalAxes(name) }),
    apply(params: NormParams, x: Array): Array {
      checkInput(x, 'RMSNorm', { minRank: 1, last: params.scale!.shape[0], float: true });
      const v = np.mean(np.square(x), -1, { keepdims: true });
      return np.multiply(np.multiply(x, np.rsqrt(np.add(v, eps))), cast(params.scale!, x.dtype));
    },
  };
}

/** Layer normalization: (x − mean) · rsqrt(var + eps) · scale + bias over the last dim. */
export function LayerNorm(config: NormConfig = {}): NormLayer {
  const eps = config.eps ?? 1e-6;
  const dtype = config.dtype ?? 'float32';
  const name = config.axis ?? 'embed';
  const useBias = config.useBias ?? true;
  const useScale = config.useScale ?? true;
  return {
    config,
    init(_key: Array, features: number): NormParams {
      positiveInt(features, 'features', 'LayerNorm');
      const p: NormParams = {};
      if (useScale) p.scale = np.ones([features], dtype);
      if (useBias) p.bias = np.zeros([features], dtype);
      return p;
    },
    axes(): any {
      const a: Record<string, LogicalAxes> = {};
      if (useScale) a.scale = new LogicalAxes(name);
      if (useBias) a.bias = new LogicalAxes(name);
      return a;
    },
    apply(params: NormParams, x: Array): Array {
      checkInput(x, 'LayerNorm', { minRank: 1, float: true });
      const mu = np.mean(x, -1, { keepdims: true });
      const xc = np.subtract(x, mu);
      const v = np.mean(np.square(xc), -1, { keepdims: true });
      let y = np.multiply(xc, np.rsqrt(np.add(v, eps)));
      if (params.scale) y = np.multiply(y, cast(params.scale, x.dtype));
      if (params.bias) y = np.add(y, cast(params.bias, x.dtype));
      return y;
    },
  };
}

// ---------------------------------------------------------------- MLP

/** Activation of an MLP. Gated kinds have two input projections (`wi_0` activated, `wi_1` linear). */
export type MlpActivation = 'relu' | 'gelu' | 'gelu-exact' | 'silu' | 'gated-gelu' | 'geglu' | 'swiglu' | 'reglu';

/** The MLP activations, as a runtime list (for config validation). */
export const MLP_ACTIVATIONS: readonly MlpActivation[] = ['relu', 'gelu', 'gelu-exact', 'silu', 'gated-gelu', 'geglu', 'swiglu', 'reglu'];

/** Whether an activation is gated (two input projections). */
export function isGated(a: MlpActivation): boolean {
  return a === 'gated-gelu' || a === 'geglu' || a === 'swiglu' || a === 'reglu';
}

/** Applies the (first-branch) nonlinearity of an activation kind. GELU is the tanh form, as in T5X/HF `gelu_new`. */
export function activate(kind: MlpActivation, x: Array): Array {
  switch (kind) {
    case 'relu':
    case 'reglu':
      return np.relu(x);
    case 'gelu':
    case 'gated-gelu':
    case 'geglu':
      return np.gelu(x, { approximate: true });
    case 'gelu-exact':
      return np.gelu(x, { approximate: false });
    case 'silu':
    case 'swiglu':
      return np.silu(x);
  }
}

/** Config of {@link MLP}. */
export interface MlpConfig {
  /** Hidden size. */
  mlpDim: number;
  /** Default 'relu'. 'gated-gelu' and 'geglu' are the same (T5.1.1 / Flan-T5). */
  activation?: MlpActivation;
  /** Dropout on the hidden activations (T5X's intermediate dropout, default 0). */
  dropoutRate?: number;
  dtype?: DType;
  useBias?: boolean;
  kernelInit?: Initializer;
}

/** Params of an MLP: `wi` (or `wi_0`, `wi_1` when gated) [embed, mlp] and `wo` [mlp, embed]. */
export interface MlpParams {
  wi?: DenseParams;
  wi_0?: DenseParams;
  wi_1?: DenseParams;
  wo: DenseParams;
}

/** An MLP layer: `init(key, embedDim)`. */
export type MlpLayer = Layer<[embedDim: number], Array, Array, MlpParams> & { readonly config: Readonly<MlpConfig> };

/**
 * The Transformer feed-forward block: y = wo(act(wi(x))) or, gated, wo(act(wi_0(x)) ⊙ wi_1(x))
 * with `wi_0` the activated branch and `wi_1` linear (T5.1.1's gated-GELU; SwiGLU with SiLU).
 */
export function MLP(config: MlpConfig): MlpLayer {
  const where = 'MLP';
  const mlpDim = positiveInt(config.mlpDim, 'mlpDim', where);
  const act = config.activation ?? 'relu';
  if (!MLP_ACTIVATIONS.includes(act)) throw new ModelError(`${where}: unknown activation ${JSON.stringify(act)}; choose one of ${MLP_ACTIVATIONS.join(', ')}`);
  const rate = rateIn01(config.dropoutRate ?? 0, 'dropoutRate', where);
  const gated = isGated(act);
  const base = { dtype: config.dtype, useBias: config.useBias, kernelInit: config.kernelInit };
  const wi = Dense({ ...base, features: mlpDim, axes: ['embed', 'mlp'] });
  const woFor = (embed: number) => Dense({ ...base, features: embed, axes: ['mlp', 'embed'] });
  return {
    config,
    init(key: Array, embedDim: number): MlpParams {
      positiveInt(embedDim, 'embedDim', where);
      const [k0, k1, k2] = splitKey(key, 3);
      const wo = woFor(embedDim).init(k2, mlpDim);
      return gated ? { wi_0: wi.init(k0, embedDim), wi_1: wi.init(k1, embedDim), wo } : { wi: wi.init(k0, embedDim), wo };
    },
    axes(): any {
      const wo = woFor(1).axes(mlpDim);
      return gated ? { wi_0: wi.axes(0), wi_1: wi.axes(0), wo } : { wi: wi.axes(0), wo };
    },
    apply(params: MlpParams, x: Array, opts: ApplyOptions = {}): Array {
      checkInput(x, where, { minRank: 1 });
      let h: Array;
      if (gated) {
        if (!params.wi_0 || !params.wi_1) throw new ModelError(`${where}: activation ${act} needs params wi_0 and wi_1`);
        h = np.multiply(activate(act, wi.apply(params.wi_0, x)), wi.apply(params.wi_1, x));
      } else {
        if (!params.wi) throw new ModelError(`${where}: activation ${act} needs params wi`);
        h = activate(act, wi.apply(params.wi, x));
      }
      h = dropout(h, { rate, deterministic: opts.deterministic ?? true, key: subKey(opts.key, 0) });
      return woFor(x.shape[x.ndim - 1]).apply(params.wo, h);
    },
  };
}
