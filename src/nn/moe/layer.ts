/**
 * `MoeLayer`: a sparse mixture-of-experts feed-forward layer (a drop-in for the MLP block of a
 * Transformer layer), following the `nn` module conventions (init/axes/apply, logical axes,
 * explicit keys).
 *
 * apply(params, x [..., L, d]) flattens the tokens, splits them into groups of `groupSize`
 * (default: the sequence length L, i.e. one group per example; the token count is padded with
 * masked tokens to a multiple of the group size), routes each group with the configured router
 * (src/nn/moe/routing.ts), runs the experts and combines their outputs. Tokens no expert takes
 * get 0 here (the block's residual connection carries them).
 *
 * Experts are ONE batched weight per projection with a leading `expert` logical axis —
 * `experts.wi.kernel` [expert, embed, mlp] (gated activations: `wi_0`, `wi_1`) and
 * `experts.wo.kernel` [expert, mlp, embed] — so sharding the `expert` axis later gives expert
 * parallelism (the partitioner inserts the all-to-all) without changing this code. Three
 * interchangeable dispatch/combine implementations, selected by `dispatch`:
 * - 'dense' (reference): one-hot einsums, `gsec,gsd->egcd` in and `gsec,egcd->gsd` out;
 * - 'index' (fast, default): a per-group gather of the tokens at `expertIndex` [G, E, C] (the
 *   group as a batch dim) in and a per-group scatter-add of the weighted expert outputs out, with
 *   one transpose to and from the expert-major layout — with the experts sharded those two
 *   transposes are the only communication (one all-to-all each way).
 * - 'grouped' (dropless compute): the filled capacity slots sorted by expert into rows (see
 *   `groupedDispatch`), one gather in, grouped matmuls (`lax.raggedDot`, MegaBlocks-style) over
 *   only those rows, one scatter-add out — the experts do no work on empty capacity slots. A row
 *   block is one run-time grouping, so the partitioner keeps it whole; `groupedPartitions` P
 *   sorts P blocks of routing groups separately (batched grouped matmuls), and a batch split over
 *   a `data` axis then splits the blocks: with P a multiple of the data-axis size each device
 *   sorts and computes its own rows. Under expert parallelism use 'index'. With fewer than
 *   GROUPED_DISPATCH_MIN_ROWS rows per expert (decoding) it runs the 'index' path.
 * All use the same routing decision and agree to rounding (test/moe/layer.test.ts).
 * Expert dropout (Switch) is dropout on the experts' hidden activations with its own rate.
 */

import { Array } from '../../core/array.js';
import type { DType } from '../../core/dtype.js';
import * as lax from '../../core/lax.js';
import { np } from '../../np/index.js';
import { activate, cast, isGated, MLP_ACTIVATIONS, type MlpActivation, type MlpParams } from '../layers.js';
import { dropout, initializers, LogicalAxes, positiveInt, rateIn01, splitKey, subKey, type ApplyOptions, type AxesTree, type Initializer } from '../module.js';
import { MoeError } from './errors.js';
import type { RouterMetrics } from './metrics.js';
import {
  EXPERT_CHOICE_CAUSAL_MESSAGE,
  makeRouter,
  type ExpertChoiceConfig,
  type Router,
  type RouterConfig,
  type RouterOutput,
  type TaskRoutingConfig,
  type TokenChoiceConfig,
} from './routing.js';

type WithoutExperts<T> = T extends unknown ? Omit<T, 'numExperts'> : never;

/** A router config without `numExperts` (the layer supplies it). */
export type RouterSpec = WithoutExperts<TokenChoiceConfig> | WithoutExperts<ExpertChoiceConfig> | WithoutExperts<TaskRoutingConfig>;

/** Config of {@link MoeLayer}. */
export interface MoeLayerConfig {
  /** Number of experts E. */
  numExperts: number;
  /** Hidden size of each expert's feed-forward block. */
  mlpDim: number;
  /** Expert activation (default 'relu'; GLaM uses 'gated-gelu'). */
  activation?: MlpActivation;
  /** The router (default: token choice, top-2, capacity factor 1.25/2.0). */
  router?: RouterSpec;
  /**
   * Tokens per routing group (default: the sequence length, one group per example). When there
   * are more tokens, their count is padded (with masked tokens) to a multiple of it; when there
   * are fewer (e.g. decoding one token), they form a single group of that smaller size.
   */
  groupSize?: number;
  /**
   * Dispatch/combine implementation (default 'index'): 'dense' one-hot einsums (reference),
   * 'index' per-group gather/scatter into capacity slots [E, G·C, d], 'grouped' rows sorted by
   * expert and grouped matmuls (ragged_dot) over only the slots that hold a token — no work on
   * empty capacity slots (MegaBlocks-style). Under data parallelism give 'grouped' a
   * `groupedPartitions` that the data axis divides; under expert parallelism use 'index'.
   */
  dispatch?: 'dense' | 'index' | 'grouped';
  /**
   * 'grouped' dispatch only: fewest rows per expert on average for which rows are sorted and
   * grouped; below it the layer runs the 'index' path (default GROUPED_DISPATCH_MIN_ROWS).
   */
  groupedMinRowsPerExpert?: number;
  /**
   * 'grouped' dispatch only: split the routing groups into this many partitions, each with its own
   * expert-sorted rows (batched grouped matmuls). The partitions are the unit the partitioner can
   * split: with the tokens (routing groups) split over a `data` mesh axis of size D, set it to a
   * multiple of D and each device sorts and computes only its own rows — data parallelism with
   * grouped dispatch (default 1). Must divide the number of routing groups.
   */
  groupedPartitions?: number;
  /** Dropout rate on the experts' hidden activations (expert dropout; default 0). */
  expertDropoutRate?: number;
  /** This layer sits in a causal decoder: expert-choice routing is refused (default false). */
  causal?: boolean;
  /** Parameter dtype (default float32). */
  dtype?: DType;
  /** Expert kernel initializer (default: variance scaling 1.0, fan-in of each expert, truncated normal). */
  kernelInit?: Initializer;
}

/** Params of the batched experts: each kernel has a leading expert axis. */
export interface ExpertParams {
  wi?: { kernel: Array };
  wi_0?: { kernel: Array };
  wi_1?: { kernel: Array };
  wo: { kernel: Array };
}

/** Params of {@link MoeLayer}. */
export interface MoeParams {
  router: any;
  experts: ExpertParams;
}

/** Options of {@link MoeLayer}'s apply. */
export interface MoeApplyOptions extends ApplyOptions {
  /** Training mode (jitter, training capacity factor, expert dropout). Default: `deterministic === false`. */
  train?: boolean;
  /** Real-token mask shaped like x without its last dim (nonzero = real). */
  paddingMask?: Array;
  /** Task ids (task routing): int32 [B] per example, or shaped like x without its last dim. */
  taskId?: Array;
  /** Per-expert selection bias [E] (auxiliary-loss-free balancing). */
  selectionBias?: Array;
}

/** What {@link MoeLayer}'s apply returns. */
export interface MoeLayerOutput {
  /** The layer output, shaped like x. */
  output: Array;
  /** Load-balancing loss of this layer (scalar). */
  auxLoss: Array;
  /** Router z-loss of this layer (scalar). */
  zLoss: Array;
  metrics: RouterMetrics;
  /** The routing decision (grouped; see routing.ts). */
  routing: RouterOutput;
  /** Expert capacity C, number of groups G and group size S used. */
  capacity: number;
  numGroups: number;
  groupSize: number;
}

/** The MoE layer: `init(key, embedDim)`, `axes()`, `apply(params, x, opts)`. */
export interface MoeLayerModule {
  readonly config: Readonly<MoeLayerConfig>;
  readonly router: Router;
  init(key: Array, embedDim: number): MoeParams;
  axes(): AxesTree;
  apply(params: MoeParams, x: Array, opts?: MoeApplyOptions): MoeLayerOutput;
}

/** Per-token FLOPs of an MoE layer (multiply-adds count 2). */
export interface MoeFlops {
  /** Router: 2·d·E. */
  router: number;
  /** One expert's FFN on one token: 2·d·f·(2, or 3 when gated). */
  perExpert: number;
  /** Expert FLOPs a token activates: k·perExpert (token choice / task), c·perExpert (expert choice). */
  activated: number;
  /** Expert FLOPs actually computed per token including empty capacity slots: (E·C/S)·perExpert. */
  withCapacity: number;
}

/**
 * Creates an MoE layer. Throws a MoeError for a bad config, including expert-choice routing in
 * a layer marked `causal`.
 */
export function MoeLayer(config: MoeLayerConfig): MoeLayerModule {
  const where = 'MoeLayer';
  const E = positiveInt(config.numExperts, 'numExperts', where);
  const f = positiveInt(config.mlpDim, 'mlpDim', where);
  const act = config.activation ?? 'relu';
  if (!MLP_ACTIVATIONS.includes(act)) throw new MoeError(`${where}: unknown activation ${JSON.stringify(act)}; choose one of ${MLP_ACTIVATIONS.join(', ')}`);
  const gated = isGated(act);
  const dispatchKind = config.dispatch ?? 'index';
  if (dispatchKind !== 'dense' && dispatchKind !== 'index' && dispatchKind !== 'grouped') {
    throw new MoeError(`${where}: dispatch must be 'dense', 'index' or 'grouped', got ${JSON.stringify(config.dispatch)}`);
  }
  const rate = rateIn01(config.expertDropoutRate ?? 0, 'expertDropoutRate', where);
  const groupedMinRows = config.groupedMinRowsPerExpert ?? GROUPED_DISPATCH_MIN_ROWS;
  const partitions = positiveInt(config.groupedPartitions ?? 1, 'groupedPartitions', where);
  if (!(Number.isInteger(groupedMinRows) && groupedMinRows >= 0)) throw new MoeError(`${where}: groupedMinRowsPerExpert must be an integer ≥ 0, got ${JSON.stringify(config.groupedMinRowsPerExpert)}`);
  const groupSize = config.groupSize === undefined ? undefined : positiveInt(config.groupSize, 'groupSize', where);
  const dtype = config.dtype ?? 'float32';
  const spec: RouterSpec = config.router ?? { kind: 'token_choice', k: 2 };
  if (config.causal && spec.kind === 'expert_choice') {
    throw new MoeError(`${where}: this layer is causal (a decoder layer) but its router is expert choice; ${EXPERT_CHOICE_CAUSAL_MESSAGE}`);
  }
  const router = makeRouter({ ...spec, numExperts: E, dtype: spec.dtype ?? dtype } as RouterConfig);
  const kernelInit = config.kernelInit ?? initializers.lecunTruncated({ inAxes: [1], outAxes: [2] });
  const wiAxes = new LogicalAxes('expert', 'embed', 'mlp');
  const woAxes = new LogicalAxes('expert', 'mlp', 'embed');

  /**
   * The experts' FFN with `mm(a, w)` as the expert matmul: batched, xe [E, G·C, d] → [E, G·C, d]
   * (three-dimensional, so every expert matmul is an ONNX MatMul on its operands as they are, with
   * no reshapes around it, which ONNX Runtime may run as copies), or grouped (ragged_dot over rows
   * sorted by expert, [M, d] → [M, d]).
   */
  const expertFfn = (p: ExpertParams, xe: Array, train: boolean, key: Array | undefined, mm: (a: Array, w: Array) => Array): Array => {
    let h: Array;
    if (gated) {
      if (!p.wi_0 || !p.wi_1) throw new MoeError(`${where}: activation ${act} needs params experts.wi_0 and experts.wi_1`);
      h = np.multiply(activate(act, mm(xe, p.wi_0.kernel)), mm(xe, p.wi_1.kernel));
    } else {
      if (!p.wi) throw new MoeError(`${where}: activation ${act} needs params experts.wi`);
      h = activate(act, mm(xe, p.wi.kernel));
    }
    h = dropout(h, { rate, deterministic: !train, key });
    return mm(h, p.wo.kernel);
  };
  const runExperts = (p: ExpertParams, xe: Array, train: boolean, key: Array | undefined): Array =>
    expertFfn(p, xe, train, key, (a, w) => lax.dotGeneral(a, cast(w, a.dtype), { lhsContracting: [2], rhsContracting: [1], lhsBatch: [0], rhsBatch: [0] }));

  const checkParams = (p: MoeParams, d: number) => {
    if (!p || typeof p !== 'object' || !p.experts || !p.experts.wo) throw new MoeError(`${where}: params must be { router, experts: { wi | wi_0, wi_1, wo } } (from init)`);
    const check = (name: string, w: Array | undefined, want: number[]) => {
      if (w === undefined) return;
      if (!(w instanceof Array) || w.ndim !== 3 || w.shape.some((s, i) => s !== want[i])) {
        throw new MoeError(`${where}: experts.${name}.kernel must be [${want.join(', ')}], got ${w instanceof Array ? `[${w.shape.join(', ')}]` : typeof w}`);
      }
    };
    check('wi', p.experts.wi?.kernel, [E, d, f]);
    check('wi_0', p.experts.wi_0?.kernel, [E, d, f]);
    check('wi_1', p.experts.wi_1?.kernel, [E, d, f]);
    check('wo', p.experts.wo.kernel, [E, f, d]);
  };

  return {
    config,
    router,
    init(key: Array, embedDim: number): MoeParams {
      const d = positiveInt(embedDim, 'embedDim', where);
      const [kr, k0, k1, k2] = splitKey(key, 4);
      const experts: ExpertParams = gated
        ? { wi_0: { kernel: kernelInit(k0, [E, d, f], dtype) }, wi_1: { kernel: kernelInit(k1, [E, d, f], dtype) }, wo: { kernel: kernelInit(k2, [E, f, d], dtype) } }
        : { wi: { kernel: kernelInit(k0, [E, d, f], dtype) }, wo: { kernel: kernelInit(k2, [E, f, d], dtype) } };
      return { router: router.init(kr, d), experts };
    },
    axes(): AxesTree {
      const experts: AxesTree = gated
        ? { wi_0: { kernel: wiAxes }, wi_1: { kernel: wiAxes }, wo: { kernel: woAxes } }
        : { wi: { kernel: wiAxes }, wo: { kernel: woAxes } };
      return { router: router.axes(), experts };
    },
    apply(params: MoeParams, x: Array, opts: MoeApplyOptions = {}): MoeLayerOutput {
      if (!(x instanceof Array) || x.ndim < 2) throw new MoeError(`${where}: x must be an Array [..., length, dModel] of rank ≥ 2, got ${x instanceof Array ? `[${x.shape.join(', ')}]` : typeof x}`);
      if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new MoeError(`${where}: x must be float32 or float64, got ${x.dtype}`);
      const d = x.shape[x.ndim - 1];
      checkParams(params, d);
      const train = resolveTrain(opts, where);
      const lead = x.shape.slice(0, -1);
      const T = lead.reduce((a, b) => a * b, 1);
      // groupSize is a maximum: fewer tokens than that form one smaller group (e.g. decoding one token)
      const S = Math.min(groupSize ?? lead[lead.length - 1], T);
      const G = Math.max(1, Math.ceil(T / S));
      const pad = G * S - T;
      /** [lead…, tail…] → [G, S, tail…], padded with `fill` (padding is masked out below). */
      const groupTokens = (a: Array, fill: number, tail: number[]) => {
        const flat = np.reshape(a, [T, ...tail]);
        const padded = pad > 0 ? np.concatenate([flat, np.full([pad, ...tail], fill, a.dtype)], 0) : flat;
        return np.reshape(padded, [G, S, ...tail]);
      };
      const xg = groupTokens(x, 0, [d]);

      let valid: Array | undefined;
      if (opts.paddingMask !== undefined) {
        const m = opts.paddingMask;
        if (!(m instanceof Array) || m.shape.length !== lead.length || m.shape.some((s, i) => s !== lead[i])) {
          throw new MoeError(`${where}: paddingMask must have shape [${lead.join(', ')}] (x without its last dim), got ${m instanceof Array ? `[${m.shape.join(', ')}]` : typeof m}`);
        }
        valid = groupTokens(np.astype(np.notEqual(m, 0), 'int32'), 0, []);
      } else if (pad > 0) {
        valid = groupTokens(np.ones(lead, 'int32'), 0, []);
      }

      let taskId: Array | undefined;
      let taskPerExample = false;
      if (opts.taskId !== undefined) {
        const t = opts.taskId;
        if (!(t instanceof Array) || t.dtype !== 'int32') throw new MoeError(`${where}: taskId must be an int32 Array, got ${t instanceof Array ? t.dtype : typeof t}`);
        let full: Array;
        if (t.ndim === 1 && lead.length >= 2 && t.shape[0] === lead[0]) {
          full = np.broadcastTo(np.reshape(t, [lead[0], ...lead.slice(1).map(() => 1)]), lead);
          taskPerExample = true;
        } else if (t.shape.length === lead.length && t.shape.every((s, i) => s === lead[i])) {
          full = t;
        } else {
          throw new MoeError(`${where}: taskId must be [${lead[0]}] (one id per example) or [${lead.join(', ')}] (per token), got [${t.shape.join(', ')}]`);
        }
        taskId = groupTokens(full, 0, []);
      } else if (router.kind === 'task') {
        throw new MoeError(`${where}: this layer routes by task; pass { taskId } (int32, one id per example)`);
      }

      const kMax = router.kind === 'expert_choice' ? E : router.expertsPerToken;
      // rows per partition of the grouped path
      const groupedRows = (C: number) => (G / partitions) * Math.min(E * C, S * kMax);
      const routing = router.apply(params.router, xg, {
        train,
        key: subKey(opts.key, 0),
        paddingMask: valid,
        taskId,
        selectionBias: opts.selectionBias,
        causal: config.causal,
      });
      const dt = x.dtype;
      let y: Array;
      if (dispatchKind === 'dense') {
        const C = routing.capacity;
        const expertIn = np.reshape(np.einsum('gsec,gsd->egcd', cast(routing.dispatch, dt), xg), [E, G * C, d]);
        const out = np.reshape(runExperts(params.experts, expertIn, train, subKey(opts.key, 1)), [E, G, C, d]);
        y = np.einsum('gsec,egcd->gsd', cast(routing.combine, dt), out);
      } else if (
        router.kind === 'task' && taskPerExample && lead[lead.length - 1] % S === 0 && routing.capacity === S && S >= TASK_GROUP_DISPATCH_MIN && (!train || rate === 0)
      ) {
        // Task routing with one task per example, groups inside examples, dropless: every token of
        // a group goes to the same k experts with the same weights, so instead of computing all E
        // experts on S slots each (E·S slots, of which k·S are used) gather the group's k experts'
        // weights and run exactly the activated work. Same values (and gradients) as the slot
        // path; used only without expert dropout, whose random masks are drawn per slot.
        y = taskGroupExperts(params.experts, xg, routing, valid, router.expertsPerToken, act);
      } else if (dispatchKind === 'grouped' && groupedRows(routing.capacity) >= groupedMinRows * E) {
        // Rows sorted by expert, no capacity padding: the experts compute only the slots that hold
        // a token (see groupedDispatch); with partitions, one sorted row block per partition.
        if (G % partitions !== 0) throw new MoeError(`${where}: groupedPartitions ${partitions} must divide the number of routing groups ${G} (${T} tokens in groups of ${S})`);
        const P = partitions;
        const Tp = (G / P) * S;
        const gd = groupedDispatch(routing, G, S, kMax, P);
        const lead = P === 1 ? [] : [P]; // rows [M, d], or [P, M, d] with one grouping per partition
        const xs = lax.gather(np.reshape(xg, [...lead, Tp, d]), gd.rowToken, lead.length, lead.length);
        const ys = expertFfn(params.experts, xs, train, subKey(opts.key, 1), (a, w) => lax.raggedDot(a, cast(w, a.dtype), gd.groupSizes));
        const w = np.expandDims(cast(gd.rowWeight, dt), -1);
        y = np.reshape(lax.scatterAdd(np.zeros([...lead, Tp, d], dt), gd.rowToken, np.multiply(ys, w), lead.length, lead.length), [G, S, d]);
      } else {
        // Per group: gather each slot's token from its own group (batch dim G: the partitioner
        // keeps it local to the devices holding the group), move to the expert-major layout
        // [E, G, C, d] (with experts sharded, this transpose is the dispatch all-to-all), run
        // the experts, move back (the combine all-to-all) and scatter-add the weighted outputs
        // into their group's tokens. Empty slots hold S (out of range): they read 0 and their
        // updates are dropped.
        const ei = routing.expertIndex; // [G, E, C]
        const C = routing.capacity;
        const expertIn = np.reshape(np.transpose(lax.gather(xg, ei, 1, 1), [1, 0, 2, 3]), [E, G * C, d]);
        const expertOut = runExperts(params.experts, expertIn, train, subKey(opts.key, 1)); // [E, G·C, d]
        const out = np.transpose(np.reshape(expertOut, [E, G, C, d]), [1, 0, 2, 3]); // [G, E, C, d]
        const w = np.expandDims(cast(routing.combineWeights, dt), -1); // [G, E, C, 1]
        y = lax.scatterAdd(np.zeros([G, S, d], dt), ei, np.multiply(out, w), 1, 1);
      }
      let flat = np.reshape(y, [G * S, d]);
      if (pad > 0) flat = lax.slice(flat, [0, 0], [T, d]);
      return {
        output: np.reshape(flat, x.shape),
        auxLoss: routing.auxLoss,
        zLoss: routing.zLoss,
        metrics: routing.metrics,
        routing,
        capacity: routing.capacity,
        numGroups: G,
        groupSize: S,
      };
    },
  };
}

/**
 * The row layout of the 'grouped' dispatch (see {@link groupedDispatch}); with P > 1 partitions
 * every field has a leading [P] dim and tokens index the partition's (G/P)·S tokens.
 */
export interface GroupedDispatch {
  /** int32 [M]: the token (index into the G·S flattened tokens) of each row; -1 for unused rows. */
  rowToken: Array;
  /** [M]: the combine weight of each row (0 for unused rows). */
  rowWeight: Array;
  /** int32 [E]: rows per expert (the rows of expert e follow those of experts < e). */
  groupSizes: Array;
  /** Rows per partition M = (G/P) · min(E·C, S·kMax): every filled slot fits. */
  rows: number;
}

/**
 * Sorts the filled capacity slots of a routing decision by expert: slot (g, e, c) holding a token
 * goes to row off_e + (its rank among expert e's filled slots in (group, slot) order), where off_e
 * is the number of filled slots of experts < e. The routing (who goes where, who is dropped) is
 * exactly the router's; only empty slots disappear. `kMax` bounds the slots one token can fill
 * (k for token choice and task routing, E for expert choice). With `partitions` P > 1 the G
 * groups are split into P consecutive blocks, each sorted on its own (leading [P] dims).
 */
export function groupedDispatch(routing: RouterOutput, G: number, S: number, kMax: number, partitions = 1): GroupedDispatch {
  const ei = routing.expertIndex; // [G, E, C], S marks an empty slot
  const [, E, C] = ei.shape;
  const P = partitions;
  if (!Number.isInteger(P) || P < 1 || G % P !== 0) throw new MoeError(`groupedDispatch: partitions must be a positive integer dividing the ${G} routing groups, got ${P}`);
  const Gp = G / P;
  const M = Gp * Math.min(E * C, S * kMax);
  const slots = Gp * C;
  /** [G, E, C] → [P, E, (G/P)·C]: per partition, expert-major, then group, then slot. */
  const expertMajor = (a: Array) => np.reshape(np.transpose(np.reshape(a, [P, Gp, E, C]), [0, 2, 1, 3]), [P, E, slots]);
  const filled = expertMajor(np.astype(np.less(ei, S), 'int32')); // [P, E, slots]
  const sizes = np.sum(filled, 2); // [P, E]
  const offset = np.subtract(lax.cumsum(sizes, 1), sizes); // exclusive prefix sum over experts
  const rank = np.subtract(lax.cumsum(filled, 2), filled);
  const dest = np.reshape(np.where(np.greater(filled, 0), np.add(rank, np.expandDims(offset, 2)), M), [P, E * slots]);
  // the token's index within its partition: (g mod G/P)·S + s
  const token = expertMajor(np.add(ei, np.reshape(np.multiply(lax.iota('int32', [P, Gp], 1), S), [G, 1, 1])));
  // rowToken + 1 by a scatter of (token + 1) into zeros: unused rows stay 0, i.e. -1 after the shift
  const plus1 = lax.scatterAdd(np.zeros([P, M], 'int32'), dest, np.reshape(np.multiply(np.add(token, 1), filled), [P, E * slots]), 1, 1);
  const rowWeight = lax.scatterAdd(np.zeros([P, M], routing.combineWeights.dtype), dest, np.reshape(expertMajor(routing.combineWeights), [P, E * slots]), 1, 1);
  const out = { rowToken: np.subtract(plus1, 1), rowWeight, groupSizes: sizes, rows: M };
  if (P > 1) return out;
  return { rowToken: np.reshape(out.rowToken, [M]), rowWeight: np.reshape(rowWeight, [M]), groupSizes: np.reshape(sizes, [E]), rows: M };
}

/**
 * Fewest rows per expert (on average) for which 'grouped' dispatch sorts rows; below it (e.g.
 * decoding a few tokens) the layer runs the 'index' path — the same routing and values — because
 * the grouped matmuls read each expert's weights as a separate slice, a cost that does not shrink
 * with the token count.
 */
export const GROUPED_DISPATCH_MIN_ROWS = 32;

/**
 * Smallest group size for which task-routed layers use the per-group expert path (below it, e.g.
 * decoding one token per row, reading k experts' weights per group costs more than computing the
 * E capacity-1 slots of the slot path).
 */
export const TASK_GROUP_DISPATCH_MIN = 8;

/**
 * The per-group expert computation of task routing (see the dispatch in `apply`): the group's
 * experts are the k nonzero entries of its slot-0 combine weights (the first real token's gates,
 * which every token of the group shares), their kernels are gathered per group — [G, k, d, f] —
 * and `y[g, s] = Σ_j w[g, j] · FFN_{e[g, j]}(x[g, s])`, zero on padding tokens.
 */
function taskGroupExperts(p: ExpertParams, xg: Array, routing: RouterOutput, valid: Array | undefined, k: number, act: MlpActivation): Array {
  const G = xg.shape[0];
  const E = routing.combineWeights.shape[1];
  const dt = xg.dtype;
  const w0 = lax.reshape(lax.slice(routing.combineWeights, [0, 0, 0], [G, E, 1]), [G, E]);
  const idx = np.topK(lax.stopGradient(w0), k)[1]; // [G, k]
  const w = cast(np.takeAlongAxis(w0, idx, -1), dt); // [G, k]: the gradient reaches the combine weights
  const take = (kernel: Array) => cast(lax.gather(kernel, idx, 0, 0), dt); // [G, k, …]
  // x [G, S, d] · W [G, k, d, f] → [G, S, k, f]
  const up = (kernel: Array) => lax.dotGeneral(xg, take(kernel), { lhsContracting: [2], rhsContracting: [2], lhsBatch: [0], rhsBatch: [0] });
  let h: Array;
  if (isGated(act)) h = np.multiply(activate(act, up(p.wi_0!.kernel)), up(p.wi_1!.kernel));
  else h = activate(act, up(p.wi!.kernel));
  h = np.multiply(h, np.reshape(w, [G, 1, k, 1]));
  // h [G, S, k, f] · Wo [G, k, f, d] contracted over (k, f) → [G, S, d]
  let y = lax.dotGeneral(h, take(p.wo.kernel), { lhsContracting: [2, 3], rhsContracting: [1, 2], lhsBatch: [0], rhsBatch: [0] });
  if (valid !== undefined) y = np.multiply(y, np.expandDims(cast(valid, dt), -1));
  return y;
}

function resolveTrain(opts: MoeApplyOptions, where: string): boolean {
  if (opts.train !== undefined && typeof opts.train !== 'boolean') throw new MoeError(`${where}: train must be a boolean, got ${JSON.stringify(opts.train)}`);
  if (opts.train !== undefined && opts.deterministic !== undefined && opts.train === opts.deterministic) {
    throw new MoeError(`${where}: train=${opts.train} contradicts deterministic=${opts.deterministic}; pass one of them`);
  }
  return opts.train ?? opts.deterministic === false;
}

/** FLOPs per token of an MoE layer with `config` on inputs of width `embedDim` and groups of `groupSize` tokens. */
export function moeFlopsPerToken(layer: MoeLayerModule, embedDim: number, groupSize: number, train = true): MoeFlops {
  const E = layer.router.numExperts;
  const d = positiveInt(embedDim, 'embedDim', 'moeFlopsPerToken');
  const f = layer.config.mlpDim;
  const perExpert = 2 * d * f * (isGated(layer.config.activation ?? 'relu') ? 3 : 2);
  const C = layer.router.capacity(groupSize, train);
  return { router: 2 * d * E, perExpert, activated: layer.router.expertsPerToken * perExpert, withCapacity: ((E * C) / groupSize) * perExpert };
}

/**
 * The experts `experts` (in that order) of an MoE layer's expert params, as a smaller batched
 * expert tree (e.g. to build a Task-MoE sub-network from the experts a task uses).
 */
export function sliceExperts(p: ExpertParams, experts: number[]): ExpertParams {
  const E = p.wo.kernel.shape[0];
  if (!globalThis.Array.isArray(experts) || experts.length === 0 || experts.some((e) => !Number.isInteger(e) || e < 0 || e >= E)) {
    throw new MoeError(`sliceExperts: experts must be a non-empty list of expert ids in 0..${E - 1}, got ${JSON.stringify(experts)}`);
  }
  const idx = np.array(experts, { dtype: 'int32' });
  const take = (w: { kernel: Array } | undefined) => (w ? { kernel: np.take(w.kernel, idx, { axis: 0 }) } : undefined);
  const out: ExpertParams = { wo: take(p.wo)! };
  if (p.wi) out.wi = take(p.wi);
  if (p.wi_0) out.wi_0 = take(p.wi_0);
  if (p.wi_1) out.wi_1 = take(p.wi_1);
  return out;
}

/** Expert `e` as the params of a dense `nn.MLP` with the same activation (kernels [embed, mlp], [mlp, embed]). */
export function expertAsMlp(p: ExpertParams, e: number): MlpParams {
  const E = p.wo.kernel.shape[0];
  if (!Number.isInteger(e) || e < 0 || e >= E) throw new MoeError(`expertAsMlp: expert id must be an integer in 0..${E - 1}, got ${JSON.stringify(e)}`);
  const row = (w: Array) => lax.reshape(lax.slice(w, [e, 0, 0], [e + 1, w.shape[1], w.shape[2]]), [w.shape[1], w.shape[2]]);
  const out: MlpParams = { wo: { kernel: row(p.wo.kernel) } };
  if (p.wi) out.wi = { kernel: row(p.wi.kernel) };
  if (p.wi_0) out.wi_0 = { kernel: row(p.wi_0.kernel) };
  if (p.wi_1) out.wi_1 = { kernel: row(p.wi_1.kernel) };
  return out;
}
