/**
 * Mixture-of-experts routers behind one interface: given grouped tokens x [G, S, d] (G groups of
 * S tokens), a router decides which tokens each expert processes and with what weight, and
 * returns that decision in two equivalent forms derived from one computation:
 * - the index form (fast path): `expertIndex` int32 [G, E, C], the group position of the token in
 *   each of the C capacity slots of each expert, or S (out of range) for an empty slot, and
 *   `combineWeights` [G, E, C], the weight of that token's expert output (0 for empty slots);
 * - the dense form (reference path): `dispatch` [G, S, E, C] with a 1 where token s sits in slot
 *   c of expert e (one_hot of `expertIndex` over s), and `combine` = dispatch · combineWeights.
 * Because the dense form is built from the index form, the two agree exactly. The dense form is
 * computed lazily (on first access), so the index path never materializes [G, S, E, C].
 *
 * Routers (semantics checked against flaxformer's `architectures/moe/routing.py` and the papers;
 * details and the capacity conventions in docs/moe.md):
 * - {@link TokenChoiceRouter}: softmax over experts, each token picks its top-k experts (k = 1
 *   Switch, k = 2 GShard/GLaM); slots are given in priority order by a cumulative count over the
 *   group — first every token's top-1 choice, then every top-2 choice — and choices beyond the
 *   capacity C are dropped. Batch-prioritized routing (V-MoE) orders tokens by their top-1
 *   probability instead of their position. Multiplicative jitter on the router input in
 *   training. Combine weights are the raw router probabilities (or the renormalized top-k).
 * - {@link ExpertChoiceRouter} (Zhou et al. 2022): each expert takes the C tokens of the group
 *   with the highest router probability for it; no load-balancing loss. Refuses causal use.
 * - {@link TaskRouter} (Task-MoE, Kudugunta et al. 2021): the experts come from the example's task
 *   id (a learned task → logits embedding, top-k, or a fixed task → experts table), so every
 *   token of an example goes to its task's experts.
 * Token choice and learned task routing accept a per-expert `selectionBias` (auxiliary-loss-free
 * balancing): it is added to the logits for choosing experts only, never to the combine
 * weights, and is updated outside the gradient with {@link updateBias}.
 *
 * The router computes in float32 (ST-MoE's selective precision), or float64 when x is float64
 * (for gradient checks). Padding tokens (paddingMask 0) take no capacity, get no expert and are
 * excluded from the losses and metrics.
 */

import { Array } from '../../core/array.js';
import type { DType } from '../../core/dtype.js';
import * as lax from '../../core/lax.js';
import { np } from '../../np/index.js';
import { random } from '../../random/index.js';
import { cast } from '../layers.js';
import { initializers, LogicalAxes, positiveInt, type AxesTree, type Initializer } from '../module.js';
import { MoeError } from './errors.js';
import { loadBalancingLoss, routerZLoss } from './losses.js';
import { routingMetrics, type RouterMetrics } from './metrics.js';

/**
 * Default logical axes of a router kernel [embed, expert]: replicated under the usual rules, as in
 * GShard and flaxformer (see {@link TokenChoiceConfig.axes}).
 */
const ROUTER_KERNEL_AXES: [string, string] = ['embed', 'unmodeled'];

// ---------------------------------------------------------------- configs

/** How token-choice capacity scales with k: `times_k` C = cf·S·k/E (GShard), `per_choice` C = cf·S/E (flaxformer). */
export type CapacityMode = 'times_k' | 'per_choice';

/** Config of {@link TokenChoiceRouter}. */
export interface TokenChoiceConfig {
  kind: 'token_choice';
  numExperts: number;
  /** Experts per token (1 = Switch, 2 = GShard/GLaM; default 2). */
  k?: number;
  /** Capacity factor in training (default 1.25). */
  capacityFactor?: number;
  /** Capacity factor in evaluation (default 2.0). */
  evalCapacityFactor?: number;
  /** Lower bound of the capacity (default 4). */
  minCapacity?: number;
  /** Whether the capacity includes the factor k (default 'times_k'; see {@link CapacityMode}). */
  capacityMode?: CapacityMode;
  /** Capacity C = S, so no choice is ever dropped (default false). */
  dropless?: boolean;
  /** Batch-prioritized routing (V-MoE): tokens with higher top-1 probability get slots first (default false). */
  batchPrioritized?: boolean;
  /** Combine with the top-k probabilities renormalized to sum to 1 (default false: raw probabilities). */
  renormalize?: boolean;
  /** Multiplicative jitter ε: training inputs are scaled by U[1−ε, 1+ε] (default 0 = off, as flaxformer's `jitter_noise`; e.g. 1e-2 turns it on). */
  jitterEps?: number;
  /** Router kernel dtype (default float32). */
  dtype?: DType;
  /** Router kernel initializer (default normal, stddev 2e-2). */
  kernelInit?: Initializer;
  /**
   * Logical axes of the router kernel (default ['embed', 'unmodeled']: replicated under the usual
   * rules, as in GShard and flaxformer — a router split over experts would split the router
   * logits' expert dim over the devices that also split the tokens, and every routing op would
   * reshard).
   */
  axes?: [string, string];
}

/** Config of {@link ExpertChoiceRouter}. */
export interface ExpertChoiceConfig {
  kind: 'expert_choice';
  numExperts: number;
  /** c: each expert takes C = round(c·S/E) tokens (default 2). */
  capacityFactor?: number;
  /** c in evaluation (default: capacityFactor). */
  evalCapacityFactor?: number;
  /** Must be false: expert choice sees the whole group, i.e. future tokens (see {@link ExpertChoiceRouter}). */
  causal?: boolean;
  jitterEps?: number;
  dtype?: DType;
  kernelInit?: Initializer;
  axes?: [string, string];
}

/** Config of {@link TaskRouter}. */
export interface TaskRoutingConfig {
  kind: 'task';
  numExperts: number;
  /** Number of task ids (ids are 0..numTasks−1). */
  numTasks: number;
  /** Experts per task (default 2; with a table: the table's row length). */
  k?: number;
  /**
   * A fixed task → experts table (numTasks rows of k distinct expert ids); the combine weight of
   * each is 1/k. Without a table the router learns a task embedding [task, expert] of logits.
   */
  table?: number[][];
  /** Learned mode: renormalize the top-k probabilities (default false). */
  renormalize?: boolean;
  /** Capacity C = S (default true: all tokens of a task go to the same experts, so a capacity would drop most). */
  dropless?: boolean;
  capacityFactor?: number;
  evalCapacityFactor?: number;
  minCapacity?: number;
  capacityMode?: CapacityMode;
  dtype?: DType;
  /** Task-embedding initializer (default normal, stddev 2e-2). */
  embeddingInit?: Initializer;
  /** Logical axes of the task embedding (default ['task', 'unmodeled']: replicated, like the router kernel). */
  axes?: [string, string];
}

/** Any router config. */
export type RouterConfig = TokenChoiceConfig | ExpertChoiceConfig | TaskRoutingConfig;

/** Options of a router's apply. */
export interface RouterOptions {
  /** Training (jitter on, training capacity factor) or evaluation. Required. */
  train: boolean;
  /** PRNG key for the jitter (needed in training when jitterEps > 0). */
  key?: Array;
  /** Task ids per token, int32 [G, S] (task routing). */
  taskId?: Array;
  /** Real-token mask [G, S] (bool or numbers; nonzero = real, 0 = padding). */
  paddingMask?: Array;
  /** Per-expert selection bias [E] (auxiliary-loss-free balancing; selection only). */
  selectionBias?: Array;
  /** The caller is a causal decoder (expert choice refuses this). */
  causal?: boolean;
}

/** What a router returns (see the file header for the two forms). */
export interface RouterOutput {
  /** [G, S, E, C] 0/1 in the router dtype (computed on first access). */
  readonly dispatch: Array;
  /** [G, S, E, C] combine weights (computed on first access). */
  readonly combine: Array;
  /** int32 [G, E, C]: token position per slot; S marks an empty slot. */
  expertIndex: Array;
  /** [G, E, C]: combine weight per slot (0 for empty slots). */
  combineWeights: Array;
  /** Load-balancing loss (0 for expert choice and table routing). */
  auxLoss: Array;
  /** Router z-loss (0 for table routing). */
  zLoss: Array;
  metrics: RouterMetrics;
  /** Router probabilities [G, S, E] (for analyses). */
  probs: Array;
  /** Expert capacity C. */
  capacity: number;
}

/** Params of the token- and expert-choice routers. */
export interface RouterParams {
  kernel: Array;
}

/** Params of the task router: the learned task embedding, or nothing with a fixed table. */
export interface TaskRouterParams {
  task_embedding?: Array;
}

/** The router interface (functional module, see nn/module.ts). */
export interface Router<P = any> {
  readonly kind: RouterConfig['kind'];
  readonly config: Readonly<RouterConfig>;
  readonly numExperts: number;
  /** Nominal experts per token (k; the capacity factor c for expert choice). */
  readonly expertsPerToken: number;
  init(key: Array, embedDim: number): P;
  axes(): AxesTree;
  /** The capacity C for groups of `groupSize` tokens. */
  capacity(groupSize: number, train: boolean): number;
  /** Routes x [G, S, d]. */
  apply(params: P, x: Array, opts: RouterOptions): RouterOutput;
}

// ---------------------------------------------------------------- capacity

/** Options of {@link tokenChoiceCapacity}. */
export interface CapacityOptions {
  capacityFactor: number;
  minCapacity: number;
  mode: CapacityMode;
  dropless: boolean;
}

/**
 * Token-choice capacity per group: `C = min(S, max(round(cf · S · k / E), minCapacity))` in
 * 'times_k' mode, without the factor k in 'per_choice' mode; `S` when dropless (an expert can
 * receive at most one choice per token, so S slots never overflow). `round` is Math.round
 * (halves up). Capping at S changes nothing but the wasted slots.
 */
export function tokenChoiceCapacity(groupSize: number, numExperts: number, k: number, o: CapacityOptions): number {
  if (o.dropless) return groupSize;
  const raw = o.mode === 'times_k' ? (o.capacityFactor * groupSize * k) / numExperts : (o.capacityFactor * groupSize) / numExperts;
  return Math.min(groupSize, Math.max(Math.round(raw), o.minCapacity));
}

/** Expert-choice capacity per group: `C = clamp(round(c · S / E), 1, S)`. */
export function expertChoiceCapacity(groupSize: number, numExperts: number, c: number): number {
  return Math.min(groupSize, Math.max(1, Math.round((c * groupSize) / numExperts)));
}

// ---------------------------------------------------------------- validation helpers

function positiveNumber(v: unknown, field: string, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new MoeError(`${where}: ${field} must be a finite number > 0, got ${JSON.stringify(v)}`);
  return v;
}

function jitterOf(v: unknown, where: string): number {
  const e = v ?? 0; // off by default (flaxformer: jitter_noise = 0); sampling the noise costs ~30% of a layer step
  if (typeof e !== 'number' || !(e >= 0 && e < 1)) throw new MoeError(`${where}: jitterEps must be a number in [0, 1), got ${JSON.stringify(v)}`);
  return e;
}

function modeOf(v: unknown, where: string): CapacityMode {
  const m = v ?? 'times_k';
  if (m !== 'times_k' && m !== 'per_choice') throw new MoeError(`${where}: capacityMode must be 'times_k' or 'per_choice', got ${JSON.stringify(v)}`);
  return m;
}

function checkOpts(opts: RouterOptions | undefined, where: string): RouterOptions {
  if (!opts || typeof opts.train !== 'boolean') {
    throw new MoeError(`${where}: pass { train: true } or { train: false } (training uses jitter and the training capacity factor)`);
  }
  return opts;
}

function checkX(x: unknown, where: string, embedDim: number | null): Array {
  if (!(x instanceof Array)) throw new MoeError(`${where}: x must be an Array [groups, groupSize, dModel], got ${typeof x}`);
  if (x.ndim !== 3) throw new MoeError(`${where}: x must be grouped tokens [groups, groupSize, dModel], got shape [${x.shape.join(', ')}]; MoeLayer does the grouping`);
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new MoeError(`${where}: x must be float32 or float64, got ${x.dtype}`);
  if (embedDim !== null && x.shape[2] !== embedDim) throw new MoeError(`${where}: x has dModel ${x.shape[2]} but the router kernel expects ${embedDim}`);
  return x;
}

type FloatDt = 'float32' | 'float64';

function computeDtype(x: Array): FloatDt {
  return x.dtype === 'float64' ? 'float64' : 'float32';
}

/** The real-token mask as floats [G, S]. */
function validOf(mask: Array | undefined, G: number, S: number, dt: FloatDt, where: string): Array {
  if (mask === undefined) return np.ones([G, S], dt);
  if (!(mask instanceof Array) || mask.ndim !== 2 || mask.shape[0] !== G || mask.shape[1] !== S) {
    throw new MoeError(`${where}: paddingMask must be an Array of shape [${G}, ${S}] (groups × group size; nonzero = real token), got ${mask instanceof Array ? `[${mask.shape.join(', ')}]` : typeof mask}`);
  }
  return np.astype(mask.dtype === 'bool' ? mask : np.notEqual(mask, 0), dt);
}

function checkBias(bias: Array | undefined, E: number, where: string): void {
  if (bias === undefined) return;
  if (!(bias instanceof Array) || bias.ndim !== 1 || bias.shape[0] !== E) {
    throw new MoeError(`${where}: selectionBias must be an Array of shape [${E}] (one bias per expert), got ${bias instanceof Array ? `[${bias.shape.join(', ')}]` : typeof bias}`);
  }
}

/** Router logits [G, S, E] in `dt`, with multiplicative input jitter in training. */
function routerLogits(kernel: Array, x: Array, dt: FloatDt, eps: number, opts: RouterOptions, where: string): Array {
  let xf = cast(x, dt);
  if (opts.train && eps > 0) {
    if (opts.key === undefined) {
      throw new MoeError(`${where}: training applies router jitter and needs a PRNG key; pass { key } (or set jitterEps: 0)`);
    }
    const noise = random.uniform(opts.key, [...x.shape], { minval: 1 - eps, maxval: 1 + eps });
    xf = np.multiply(xf, cast(noise, dt));
  }
  return lax.dotGeneral(xf, cast(kernel, dt), { lhsContracting: [2], rhsContracting: [0] });
}

// ---------------------------------------------------------------- shared routing pieces

/** Builds the output, with the dense form derived lazily from the index form. */
function makeOutput(parts: Omit<RouterOutput, 'dispatch' | 'combine'>, S: number, dt: FloatDt): RouterOutput {
  let dispatch: Array | undefined;
  let combine: Array | undefined;
  const out = { ...parts } as RouterOutput;
  Object.defineProperty(out, 'dispatch', {
    enumerable: true,
    get(): Array {
      dispatch ??= np.oneHot(parts.expertIndex, S, { dtype: dt, axis: 1 });
      return dispatch;
    },
  });
  Object.defineProperty(out, 'combine', {
    enumerable: true,
    get(): Array {
      combine ??= np.multiply(out.dispatch, np.expandDims(parts.combineWeights, 1));
      return combine;
    },
  });
  return out;
}

/** Combine weight per slot: gates [G, S, E] read at (expertIndex[g, e, c], e); 0 for empty slots. */
function slotWeights(gates: Array, expertIndex: Array): Array {
  return lax.gather(np.transpose(gates, [0, 2, 1]), expertIndex, 2, 2);
}

/**
 * Places token choices into expert slots. `topIdx` int32 [G, S, K] are the chosen experts (best
 * first), `valid` [G, S] the real-token mask, `priorityKey` [G, S] (optional) a per-token key
 * (higher = earlier; batch-prioritized routing) — otherwise tokens go in position order. Slots
 * are assigned by a cumulative count over the group of the one-hot choice masks, all top-1
 * choices first, then all top-2 choices, …; choices at position ≥ C are dropped. Returns the
 * token position per slot, int32 [G, E, C] with S for empty slots.
 */
export function placeTokenChoices(topIdx: Array, valid: Array, numExperts: number, capacity: number, priorityKey?: Array): Array {
  const [G, S, K] = topIdx.shape;
  const E = numExperts, C = capacity;
  let experts = topIdx; // [G, S, K]
  let ids = lax.iota('int32', [G, S], 1); // group position of each (possibly reordered) token
  let v = np.astype(np.notEqual(valid, 0), 'int32');
  if (priorityKey !== undefined) {
    const order = np.argsort(lax.stopGradient(priorityKey), 1, { descending: true }); // stable
    experts = np.takeAlongAxis(topIdx, np.expandDims(order, -1), 1);
    v = np.takeAlongAxis(v, order, 1);
    ids = order;
  }
  // one-hot choices [G, S, K, E], padded tokens choose nothing; then choice-major order [G, K·S, E]
  const oh = np.multiply(np.oneHot(experts, E, { dtype: 'int32' }), np.reshape(v, [G, S, 1, 1]));
  const flat = np.reshape(np.transpose(oh, [0, 2, 1, 3]), [G, K * S, E]);
  const pos = np.subtract(np.sum(np.multiply(np.cumsum(flat, 1), flat), -1), 1); // [G, K·S], −1 = no choice
  const expFlat = np.reshape(np.transpose(experts, [0, 2, 1]), [G, K * S]);
  const idsFlat = np.reshape(np.broadcastTo(np.expandDims(ids, 1), [G, K, S]), [G, K * S]);
  const keep = np.logicalAnd(np.greaterEqual(pos, 0), np.less(pos, C));
  const slot = np.where(keep, np.add(np.multiply(expFlat, C), pos), E * C);
  // every slot starts at S (empty); a kept choice adds (token − S) to its own slot
  const base = np.full([G, E * C], S, 'int32');
  const ei = lax.scatterAdd(base, np.astype(slot, 'int32'), np.subtract(idsFlat, S), 1, 1);
  return np.reshape(ei, [G, E, C]);
}

/** k-hot mask [G, S, E] of the chosen experts (0/1 in `dt`; a constant for the losses and metrics). */
function choiceMask(topIdx: Array, E: number, dt: FloatDt): Array {
  return np.sum(np.oneHot(topIdx, E, { dtype: dt }), 2);
}

// ---------------------------------------------------------------- token choice

/**
 * Token-choice top-k routing (Switch k=1, GShard/GLaM k=2). See the file header and docs/moe.md
 * for the placement, capacity and combine-weight conventions.
 */
export function TokenChoiceRouter(config: Omit<TokenChoiceConfig, 'kind'> & { kind?: 'token_choice' }): Router<RouterParams> {
  const where = 'TokenChoiceRouter';
  const cfg: TokenChoiceConfig = { ...config, kind: 'token_choice' };
  const E = positiveInt(cfg.numExperts, 'numExperts', where);
  const k = positiveInt(cfg.k ?? 2, 'k', where);
  if (k > E) throw new MoeError(`${where}: k=${k} experts per token but only ${E} experts; use k ≤ numExperts`);
  const cfTrain = positiveNumber(cfg.capacityFactor ?? 1.25, 'capacityFactor', where);
  const cfEval = positiveNumber(cfg.evalCapacityFactor ?? 2.0, 'evalCapacityFactor', where);
  const minCap = positiveInt(cfg.minCapacity ?? 4, 'minCapacity', where);
  const mode = modeOf(cfg.capacityMode, where);
  const eps = jitterOf(cfg.jitterEps, where);
  const dropless = cfg.dropless ?? false;
  const bpr = cfg.batchPrioritized ?? false;
  const renorm = cfg.renormalize ?? false;
  const dtype = cfg.dtype ?? 'float32';
  const kernelInit = cfg.kernelInit ?? initializers.normal(2e-2);
  const axesNames = cfg.axes ?? ROUTER_KERNEL_AXES;
  const capacity = (S: number, train: boolean) =>
    tokenChoiceCapacity(positiveInt(S, 'groupSize', where), E, k, { capacityFactor: train ? cfTrain : cfEval, minCapacity: minCap, mode, dropless });
  return {
    kind: 'token_choice',
    config: cfg,
    numExperts: E,
    expertsPerToken: k,
    init: (key: Array, embedDim: number) => ({ kernel: kernelInit(key, [positiveInt(embedDim, 'embedDim', where), E], dtype) }),
    axes: () => ({ kernel: new LogicalAxes(...axesNames) }),
    capacity,
    apply(params: RouterParams, xIn: Array, optsIn: RouterOptions): RouterOutput {
      const opts = checkOpts(optsIn, where);
      const x = checkX(xIn, where, params.kernel.shape[0]);
      checkKernel(params.kernel, E, where);
      checkBias(opts.selectionBias, E, where);
      const [G, S] = x.shape;
      const dt = computeDtype(x);
      const C = capacity(S, opts.train);
      const valid = validOf(opts.paddingMask, G, S, dt, where);
      const logits = routerLogits(params.kernel, x, dt, eps, opts, where);
      const probs = np.softmax(logits, -1);
      return routeTopK({ logits, probs, valid, E, k, C, dt, renorm, bpr, bias: opts.selectionBias, zLoss: true });
    },
  };
}

function checkKernel(kernel: Array, E: number, where: string): void {
  if (!(kernel instanceof Array) || kernel.ndim !== 2 || kernel.shape[1] !== E) {
    throw new MoeError(`${where}: params.kernel must be [embed, ${E}], got ${kernel instanceof Array ? `[${kernel.shape.join(', ')}]` : typeof kernel}`);
  }
}

interface TopKArgs {
  logits: Array | null;
  probs: Array;
  valid: Array;
  E: number;
  k: number;
  C: number;
  dt: FloatDt;
  renorm: boolean;
  bpr: boolean;
  bias?: Array;
  zLoss: boolean;
  /** Fixed choices (table routing) instead of top-k of the scores. */
  fixed?: { topIdx: Array; topW: Array };
}

/** The shared top-k path of token-choice and task routing. */
function routeTopK(a: TopKArgs): RouterOutput {
  const { probs, valid, E, k, C, dt } = a;
  const [G, S] = probs.shape;
  let topIdx: Array, topW: Array;
  if (a.fixed) {
    ({ topIdx, topW } = a.fixed);
  } else {
    const scores = a.bias !== undefined ? np.add(a.logits!, cast(a.bias, dt)) : (a.logits ?? probs);
    topIdx = np.topK(lax.stopGradient(scores), k)[1]; // [G, S, K]
    topW = np.takeAlongAxis(probs, topIdx, -1); // raw probabilities of the chosen experts
  }
  const top1 = lax.reshape(lax.slice(topW, [0, 0, 0], [G, S, 1]), [G, S]);
  const key = a.bpr ? np.where(np.greater(valid, 0), top1, -1) : undefined;
  const expertIndex = placeTokenChoices(topIdx, valid, E, C, key);
  const mask = choiceMask(topIdx, E, dt);
  // The weight of token s's choice e is its probability p[g, s, e] (topW holds exactly those
  // values), divided by Σ_k topW when renormalizing; a slot only ever holds a token that chose
  // its expert, so the slot weights read these gates at (token, expert) directly — no one-hot
  // einsum over [G, S, K, E] (same values bit for bit, same gradients).
  const gates = a.renorm ? np.divide(probs, np.sum(topW, -1, { keepdims: true })) : probs;
  const combineWeights = slotWeights(gates, expertIndex);
  const zero = np.zeros([], dt);
  const auxLoss = a.fixed ? zero : loadBalancingLoss(probs, mask, valid);
  const zLoss = a.zLoss && a.logits ? routerZLoss(a.logits, valid) : zero;
  const metrics = routingMetrics({ probs, valid, expertIndex, auxLoss, zLoss, demand: { mask, k } });
  return makeOutput({ expertIndex, combineWeights, auxLoss, zLoss, metrics, probs, capacity: C }, S, dt);
}

// ---------------------------------------------------------------- expert choice

/** The message of the causal refusal (exported for tests and docs). */
export const EXPERT_CHOICE_CAUSAL_MESSAGE =
  'expert-choice routing cannot be used in a causal (autoregressive) decoder: each expert picks its top-C tokens ' +
  'among ALL tokens of the group, so whether (and with what weight) token t is processed depends on the router ' +
  'scores of later tokens t′ > t. The model can learn to read the future through these routing decisions, and at ' +
  "inference, decoding one token at a time, the later tokens do not exist. Use token-choice routing ({ kind: 'token_choice', k: 1 or 2 }) " +
  'in decoders; expert choice is for encoders (as in ST-MoE and the Expert Choice paper).';

/**
 * Expert-choice routing (Zhou et al. 2022): router probabilities are a softmax over experts per
 * token; each expert takes the C = round(c·S/E) tokens of the group with the highest probability
 * for it (ties to the earlier token), so every expert is filled exactly to capacity (padding
 * tokens are never taken; their slots stay empty). A token may get 0, 1 or several experts. The
 * combine weight is the token's probability for that expert. No load-balancing loss (0); the
 * z-loss is computed. Throws a {@link MoeError} if configured or applied with `causal: true`.
 */
export function ExpertChoiceRouter(config: Omit<ExpertChoiceConfig, 'kind'> & { kind?: 'expert_choice' }): Router<RouterParams> {
  const where = 'ExpertChoiceRouter';
  const cfg: ExpertChoiceConfig = { ...config, kind: 'expert_choice' };
  if (cfg.causal) throw new MoeError(`${where}: ${EXPERT_CHOICE_CAUSAL_MESSAGE}`);
  const E = positiveInt(cfg.numExperts, 'numExperts', where);
  const cTrain = positiveNumber(cfg.capacityFactor ?? 2, 'capacityFactor', where);
  const cEval = positiveNumber(cfg.evalCapacityFactor ?? cTrain, 'evalCapacityFactor', where);
  const eps = jitterOf(cfg.jitterEps, where);
  const dtype = cfg.dtype ?? 'float32';
  const kernelInit = cfg.kernelInit ?? initializers.normal(2e-2);
  const axesNames = cfg.axes ?? ROUTER_KERNEL_AXES;
  const capacity = (S: number, train: boolean) => expertChoiceCapacity(positiveInt(S, 'groupSize', where), E, train ? cTrain : cEval);
  return {
    kind: 'expert_choice',
    config: cfg,
    numExperts: E,
    expertsPerToken: cTrain,
    init: (key: Array, embedDim: number) => ({ kernel: kernelInit(key, [positiveInt(embedDim, 'embedDim', where), E], dtype) }),
    axes: () => ({ kernel: new LogicalAxes(...axesNames) }),
    capacity,
    apply(params: RouterParams, xIn: Array, optsIn: RouterOptions): RouterOutput {
      const opts = checkOpts(optsIn, where);
      if (opts.causal) throw new MoeError(`${where}: ${EXPERT_CHOICE_CAUSAL_MESSAGE}`);
      if (opts.selectionBias !== undefined) {
        throw new MoeError(`${where}: selectionBias has no effect on expert choice (every expert already takes exactly C tokens); remove it`);
      }
      const x = checkX(xIn, where, params.kernel.shape[0]);
      checkKernel(params.kernel, E, where);
      const [G, S] = x.shape;
      const dt = computeDtype(x);
      const C = capacity(S, opts.train);
      const valid = validOf(opts.paddingMask, G, S, dt, where);
      const logits = routerLogits(params.kernel, x, dt, eps, opts, where);
      const probs = np.softmax(logits, -1);
      // padding scores −1 (below every probability), so real tokens are always taken first
      const scores = np.where(np.expandDims(np.greater(valid, 0), -1), lax.stopGradient(probs), -1);
      const idx = np.topK(np.transpose(scores, [0, 2, 1]), C)[1]; // [G, E, C]
      const takenValid = lax.gather(valid, idx, 1, 1); // [G, E, C]
      const expertIndex = np.where(np.greater(takenValid, 0), idx, S);
      const combineWeights = slotWeights(probs, expertIndex);
      const auxLoss = np.zeros([], dt);
      const zLoss = routerZLoss(logits, valid);
      const metrics = routingMetrics({ probs, valid, expertIndex, auxLoss, zLoss });
      return makeOutput({ expertIndex, combineWeights, auxLoss, zLoss, metrics, probs, capacity: C }, S, dt);
    },
  };
}

// ---------------------------------------------------------------- task routing

/**
 * Task-level routing (Task-MoE): every token is routed by its example's task id. Learned mode:
 * a task embedding [numTasks, E] gives router logits per task; softmax, top-k, combine weights
 * as in token choice (raw or renormalized), load-balancing and z-loss computed on these
 * task-level probabilities. Table mode: fixed experts per task with weights 1/k, no losses.
 * Placement and capacity follow token choice (priority by position); dropless by default.
 * Also exposes `taskExperts(params, taskId)` — the experts (and weights) a task uses — for
 * extracting a task's sub-network.
 */
export function TaskRouter(config: Omit<TaskRoutingConfig, 'kind'> & { kind?: 'task' }): Router<TaskRouterParams> & {
  taskExperts(params: TaskRouterParams, taskId: number): { experts: number[]; weights: number[] };
} {
  const where = 'TaskRouter';
  const cfg: TaskRoutingConfig = { ...config, kind: 'task' };
  const E = positiveInt(cfg.numExperts, 'numExperts', where);
  const T = positiveInt(cfg.numTasks, 'numTasks', where);
  const table = cfg.table;
  let k: number;
  if (table !== undefined) {
    if (!globalThis.Array.isArray(table) || table.length !== T) throw new MoeError(`${where}: table must have one row per task (${T} rows), got ${globalThis.Array.isArray(table) ? table.length : typeof table}`);
    k = globalThis.Array.isArray(table[0]) ? table[0].length : 0;
    if (cfg.k !== undefined && cfg.k !== k) throw new MoeError(`${where}: k=${cfg.k} but the table rows have ${k} experts`);
    table.forEach((row, t) => {
      if (!globalThis.Array.isArray(row) || row.length !== k || k === 0) throw new MoeError(`${where}: table row ${t} must list ${k || 'at least one'} expert id(s), got ${JSON.stringify(row)}`);
      if (row.some((e) => !Number.isInteger(e) || e < 0 || e >= E)) throw new MoeError(`${where}: table row ${t} ${JSON.stringify(row)} has an expert id outside 0..${E - 1}`);
      if (new Set(row).size !== row.length) throw new MoeError(`${where}: table row ${t} ${JSON.stringify(row)} repeats an expert`);
    });
  } else {
    k = positiveInt(cfg.k ?? 2, 'k', where);
  }
  if (k > E) throw new MoeError(`${where}: k=${k} experts per task but only ${E} experts`);
  const cfTrain = positiveNumber(cfg.capacityFactor ?? 1.25, 'capacityFactor', where);
  const cfEval = positiveNumber(cfg.evalCapacityFactor ?? 2.0, 'evalCapacityFactor', where);
  const minCap = positiveInt(cfg.minCapacity ?? 4, 'minCapacity', where);
  const mode = modeOf(cfg.capacityMode, where);
  const dropless = cfg.dropless ?? true;
  const renorm = cfg.renormalize ?? false;
  const dtype = cfg.dtype ?? 'float32';
  const embInit = cfg.embeddingInit ?? initializers.normal(2e-2);
  const axesNames = cfg.axes ?? ['task', 'unmodeled'];
  const capacity = (S: number, train: boolean) =>
    tokenChoiceCapacity(positiveInt(S, 'groupSize', where), E, k, { capacityFactor: train ? cfTrain : cfEval, minCapacity: minCap, mode, dropless });
  const tableArr = table ? np.array(table, { dtype: 'int32' }) : null;

  const checkEmb = (p: TaskRouterParams): Array => {
    const emb = p.task_embedding;
    if (!(emb instanceof Array) || emb.ndim !== 2 || emb.shape[0] !== T || emb.shape[1] !== E) {
      throw new MoeError(`${where}: params.task_embedding must be [${T}, ${E}], got ${emb instanceof Array ? `[${emb.shape.join(', ')}]` : typeof emb}`);
    }
    return emb;
  };

  return {
    kind: 'task',
    config: cfg,
    numExperts: E,
    expertsPerToken: k,
    init: (key: Array) => (table ? {} : { task_embedding: embInit(key, [T, E], dtype) }),
    axes: (): AxesTree => (table ? {} : { task_embedding: new LogicalAxes(...axesNames) }),
    capacity,
    apply(params: TaskRouterParams, xIn: Array, optsIn: RouterOptions): RouterOutput {
      const opts = checkOpts(optsIn, where);
      const x = checkX(xIn, where, null);
      const [G, S] = x.shape;
      const tid = opts.taskId;
      if (!(tid instanceof Array) || tid.ndim !== 2 || tid.shape[0] !== G || tid.shape[1] !== S || tid.dtype !== 'int32') {
        throw new MoeError(`${where}: task routing needs { taskId }: an int32 Array [${G}, ${S}] with each token's task id (MoeLayer broadcasts per-example ids), got ${tid instanceof Array ? `${tid.dtype} [${tid.shape.join(', ')}]` : typeof tid}`);
      }
      if (!tid.isTracer) {
        const bad = tid.dataSync().find((t) => t < 0 || t >= T);
        if (bad !== undefined) throw new MoeError(`${where}: task id ${bad} is outside 0..${T - 1}`);
      }
      const dt = computeDtype(x);
      const C = capacity(S, opts.train);
      const valid = validOf(opts.paddingMask, G, S, dt, where);
      if (tableArr) {
        if (opts.selectionBias !== undefined) throw new MoeError(`${where}: selectionBias has no effect with a fixed task table; remove it`);
        const topIdx = lax.gather(tableArr, tid, 0, 0); // [G, S, K]
        const topW = np.full([G, S, k], 1 / k, dt);
        const probs = np.sum(np.multiply(np.oneHot(topIdx, E, { dtype: dt }), np.expandDims(topW, -1)), 2);
        return routeTopK({ logits: null, probs, valid, E, k, C, dt, renorm: false, bpr: false, zLoss: false, fixed: { topIdx, topW } });
      }
      checkBias(opts.selectionBias, E, where);
      const logits = lax.gather(cast(checkEmb(params), dt), tid, 0, 0); // [G, S, E]
      const probs = np.softmax(logits, -1);
      return routeTopK({ logits, probs, valid, E, k, C, dt, renorm, bpr: false, bias: opts.selectionBias, zLoss: true });
    },
    taskExperts(params: TaskRouterParams, taskId: number): { experts: number[]; weights: number[] } {
      if (!Number.isInteger(taskId) || taskId < 0 || taskId >= T) throw new MoeError(`${where}.taskExperts: task id must be an integer in 0..${T - 1}, got ${JSON.stringify(taskId)}`);
      if (table) return { experts: [...table[taskId]], weights: table[taskId].map(() => 1 / k) };
      const row = lax.reshape(lax.slice(cast(checkEmb(params), 'float64'), [taskId, 0], [taskId + 1, E]), [E]);
      const p = np.softmax(row, -1);
      const [vals, idx] = np.topK(row, k);
      void vals;
      const experts = globalThis.Array.from(idx.dataSync(), Number);
      let weights = experts.map((e) => Number(p.dataSync()[e]));
      if (renorm) {
        const s = weights.reduce((a, b) => a + b, 0);
        weights = weights.map((w) => w / s);
      }
      return { experts, weights };
    },
  };
}

// ---------------------------------------------------------------- factory, bias update

/** Creates the router a config describes. */
export function makeRouter(config: RouterConfig): Router {
  if (!config || typeof config !== 'object') throw new MoeError(`makeRouter: expected a router config object, got ${JSON.stringify(config)}`);
  switch (config.kind) {
    case 'token_choice': return TokenChoiceRouter(config);
    case 'expert_choice': return ExpertChoiceRouter(config);
    case 'task': return TaskRouter(config);
    default:
      throw new MoeError(`makeRouter: unknown router kind ${JSON.stringify((config as { kind?: unknown }).kind)}; use 'token_choice', 'expert_choice' or 'task'`);
  }
}

/**
 * One step of auxiliary-loss-free balancing (as in DeepSeek-V3): `bias − rate · sign(load −
 * mean(load))`, lowering the selection bias of overloaded experts and raising it for underloaded
 * ones. `load` [E] is typically `metrics.expertDemand` (pre-capacity choice fractions). Call it
 * outside the gradient (e.g. after each train step) and pass the result as `selectionBias`.
 */
export function updateBias(bias: Array, load: Array, rate: number): Array {
  if (!(bias instanceof Array) || !(load instanceof Array) || bias.ndim !== 1 || load.ndim !== 1 || bias.shape[0] !== load.shape[0]) {
    throw new MoeError(`updateBias: bias and load must be 1-D Arrays of the same length (one entry per expert), got ${bias instanceof Array ? `[${bias.shape.join(', ')}]` : typeof bias} and ${load instanceof Array ? `[${load.shape.join(', ')}]` : typeof load}`);
  }
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) throw new MoeError(`updateBias: rate must be a finite number ≥ 0, got ${JSON.stringify(rate)}`);
  const l = lax.stopGradient(cast(load, bias.dtype));
  return np.subtract(bias, np.multiply(np.sign(np.subtract(l, np.mean(l))), rate));
}
