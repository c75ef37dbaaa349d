/**
 * Task-MoE sub-network extraction (Kudugunta et al. 2021): a task-routed model sends every token
 * of an example to the experts of the example's task, so for one task each MoE layer is a fixed
 * mixture `y = Σ_j w_j · FFN_{e_j}(x)` of the k experts that task uses (e_j the top-k of the task's
 * router logits, w_j their raw — or renormalized — router probabilities; a fixed table gives
 * weights 1/k). The router is then dead weight and so are the other E − k experts.
 *
 * `extractTaskSubnetwork(model, params, taskId)` builds the smaller model: it slices the expert
 * axis to the task's k experts and lays them side by side as ONE dense MLP of width k·f — the
 * input kernels concatenated along the hidden axis, the output kernels scaled by w_j and stacked —
 * which computes exactly that mixture (the hidden units of different experts never interact, so
 * `[act(x·Wi_1) | act(x·Wi_2)] · [w_1·Wo_1 ; w_2·Wo_2] = Σ_j w_j · FFN_j(x)`); with k = 1 it is
 * simply the chosen expert as a dense MLP with its weight folded in. The router is removed. The
 * result is the same family (GLaM or ST-MoE) with no MoE layers and per-layer MLP widths, so it
 * is an ordinary dense model: it trains, decodes, saves and exports like any other. Its outputs
 * equal the full model's on that task's inputs up to float rounding (test/moe/extract.test.ts),
 * provided the task routing is dropless (the default; with a finite capacity the full model may
 * drop tokens that the extracted one processes, so extraction refuses it).
 *
 * Task names: a model config may record how task names map to ids (`taskIds: 'cluster'` —
 * the index in the Flan collection's `CLUSTERS` — or `'family'`, the index in `ALL_FAMILIES`);
 * `resolveTaskId` turns a name or a number into an id.
 */

import { Array } from '../core/array.js';
import * as lax from '../core/lax.js';
import { np } from '../np/index.js';
import { ModelError, paramCount } from '../nn/module.js';
import type { MoeParams } from '../nn/moe/layer.js';
import type { TaskRoutingConfig } from '../nn/moe/routing.js';
import { GLaM, glamSpec, type GlamConfig, type GlamModel, type GlamParams } from '../models/moe_decoder.js';
import { STMoE, stMoeSpec, type StMoeConfig, type StMoeModel, type StMoeParams } from '../models/moe_encdec.js';
import type { SparseBlockParams, TaskIdScheme } from '../models/moe_common.js';
import { ALL_FAMILIES, CLUSTERS } from '../tasks/collection.js';

/** Thrown for a model or task that cannot be extracted. */
export class ExtractionError extends ModelError {}

/** A sparse model that may be task-routed. */
export type SparseModel = GlamModel | StMoeModel;

/** The experts one MoE layer uses for a task, with their combine weights. */
export interface TaskLayerExperts {
  /** The layer's parameter path (`layers_1`, `encoder/layers_3`, …). */
  layer: string;
  experts: number[];
  weights: number[];
}

/** A model spec `createModel` accepts for an extracted model. */
export type ExtractedSpec = ({ family: 'glam' } & GlamConfig) | ({ family: 'st-moe' } & StMoeConfig);

/** What {@link extractTaskSubnetwork} returns. */
export interface ExtractedTaskModel {
  /** The dense model (same family, no MoE layers). */
  model: SparseModel;
  params: GlamParams | StMoeParams;
  /** Its `createModel` spec (to save or rebuild it). */
  spec: ExtractedSpec;
  taskId: number;
  /** Experts and weights per former MoE layer. */
  layers: TaskLayerExperts[];
  /** Parameter counts of the full and the extracted model. */
  paramCount: { full: number; extracted: number };
}

/** Names of the tasks of a scheme (cluster or family names, in id order). */
export function taskNames(scheme: TaskIdScheme): string[] {
  return scheme === 'cluster' ? [...CLUSTERS] : ALL_FAMILIES.map((f) => f.name);
}

/** The task id of `task` (a number, a numeric string or — with a scheme — a cluster/family name). */
export function resolveTaskId(task: string | number, numTasks: number, scheme: TaskIdScheme | null): number {
  const where = 'resolveTaskId';
  let id: number;
  if (typeof task === 'number' || /^\d+$/.test(String(task).trim())) id = Number(task);
  else {
    if (!scheme) throw new ExtractionError(`${where}: the task ${JSON.stringify(task)} is a name, but the model does not record how task names map to ids (config taskIds: 'cluster' | 'family'); pass a numeric task id in 0..${numTasks - 1}`);
    const names = taskNames(scheme);
    id = names.indexOf(String(task));
    if (id < 0) throw new ExtractionError(`${where}: unknown ${scheme} ${JSON.stringify(task)}; the model's task ids are ${scheme}s: ${names.map((n, i) => `${i}=${n}`).join(', ')}`);
  }
  if (!Number.isInteger(id) || id < 0 || id >= numTasks) throw new ExtractionError(`${where}: task id ${id} is outside 0..${numTasks - 1} (the model routes ${numTasks} tasks)`);
  return id;
}

/** The task-router config of a model (both stacks must agree for ST-MoE). */
function taskRouterOf(model: SparseModel): TaskRoutingConfig {
  const specs = model.arch === 'glam' ? [model.config.router] : [model.config.encoderRouter, model.config.decoderRouter];
  const where = 'extractTaskSubnetwork';
  if (!model.taskRouted || model.moeLayerNames.length === 0) {
    throw new ExtractionError(`${where}: the model does not route by task (its MoE layers use ${specs.map((s) => s.kind).join(' / ')} routing); only a task-routed model (router: { kind: 'task', numTasks, k }) has a per-task sub-network`);
  }
  const r = (model.arch === 'glam' ? model.config.router : model.config.encoderMoeLayers.length ? model.config.encoderRouter : model.config.decoderRouter) as TaskRoutingConfig;
  for (const s of specs) {
    if (s.kind !== 'task') throw new ExtractionError(`${where}: every MoE layer must route by task, but one stack uses ${s.kind}`);
    if (s.dropless === false) {
      throw new ExtractionError(`${where}: the task routing has a finite capacity (dropless: false), so the full model may drop tokens that a sub-network would process; extraction is exact only for dropless task routing (the default)`);
    }
  }
  return r;
}

/** The experts (and weights) each MoE layer of a task-routed model uses for `taskId`. */
export function taskExperts(model: SparseModel, params: GlamParams | StMoeParams, taskId: number): TaskLayerExperts[] {
  const where = 'taskExperts';
  taskRouterOf(model);
  const out: TaskLayerExperts[] = [];
  const dt = model.config.dtype;
  for (const name of model.moeLayerNames) {
    const block = layerParams(model, params, name);
    const spec = (model.arch === 'glam' ? model.config.router : name.startsWith('encoder/') ? model.config.encoderRouter : model.config.decoderRouter) as TaskRoutingConfig;
    const numTasks = spec.numTasks;
    if (!Number.isInteger(taskId) || taskId < 0 || taskId >= numTasks) throw new ExtractionError(`${where}: task id ${JSON.stringify(taskId)} is outside 0..${numTasks - 1}`);
    if (!block.moe) throw new ExtractionError(`${where}: ${name} has no moe params`);
    if (spec.table) {
      const k = spec.table[taskId].length;
      out.push({ layer: name, experts: [...spec.table[taskId]], weights: spec.table[taskId].map(() => 1 / k) });
      continue;
    }
    const emb = (block.moe.router as { task_embedding?: Array }).task_embedding;
    const E = model.config.moe.numExperts;
    if (!(emb instanceof Array) || emb.ndim !== 2 || emb.shape[0] !== numTasks || emb.shape[1] !== E) {
      throw new ExtractionError(`${where}: ${name}.moe.router.task_embedding must be [${numTasks}, ${E}], got ${emb instanceof Array ? `[${emb.shape.join(', ')}]` : typeof emb}`);
    }
    // The same operations as the router (TaskRouter.apply), on this task's row: logits in the
    // compute dtype, softmax probabilities, top-k by logit, raw (or renormalized) probabilities.
    const k = spec.k ?? 2;
    const row = lax.reshape(lax.slice(emb.dtype === dt ? emb : np.astype(emb, dt), [taskId, 0], [taskId + 1, E]), [1, 1, E]);
    const probs = np.softmax(row, -1);
    const idx = np.topK(lax.stopGradient(row), k)[1];
    let w = np.takeAlongAxis(probs, idx, -1);
    if (spec.renormalize) w = np.divide(w, np.sum(w, -1, { keepdims: true }));
    out.push({ layer: name, experts: globalThis.Array.from(idx.dataSync(), Number), weights: globalThis.Array.from(w.dataSync(), Number) });
  }
  return out;
}

function layerParams(model: SparseModel, params: GlamParams | StMoeParams, name: string): SparseBlockParams {
  if (model.arch === 'glam') return (params as GlamParams)[name as `layers_${number}`];
  const [stack, layer] = name.split('/');
  return (params as StMoeParams)[stack as 'encoder' | 'decoder'][layer] as SparseBlockParams;
}

/**
 * The k experts of an MoE layer as one dense MLP of width k·f computing `Σ_j w_j · FFN_{e_j}(x)`
 * (input kernels side by side, output kernels scaled by w_j and stacked).
 */
export function mergeExperts(moe: MoeParams, experts: number[], weights: number[]): { mlp: Record<string, { kernel: Array }>; width: number } {
  const p = moe.experts;
  const E = p.wo.kernel.shape[0];
  if (experts.length === 0 || experts.length !== weights.length || experts.some((e) => !Number.isInteger(e) || e < 0 || e >= E)) {
    throw new ExtractionError(`mergeExperts: experts must be ids in 0..${E - 1} with one weight each, got ${JSON.stringify(experts)} / ${JSON.stringify(weights)}`);
  }
  const row = (w: Array, e: number) => lax.reshape(lax.slice(w, [e, 0, 0], [e + 1, w.shape[1], w.shape[2]]), [w.shape[1], w.shape[2]]);
  const side = (w: Array) => (experts.length === 1 ? row(w, experts[0]) : np.concatenate(experts.map((e) => row(w, e)), 1));
  const dt = p.wo.kernel.dtype;
  const wo = np.concatenate(experts.map((e, j) => np.multiply(row(p.wo.kernel, e), np.array(weights[j], { dtype: dt }))), 0);
  const mlp: Record<string, { kernel: Array }> = { wo: { kernel: wo } };
  if (p.wi) mlp.wi = { kernel: side(p.wi.kernel) };
  if (p.wi_0) mlp.wi_0 = { kernel: side(p.wi_0.kernel) };
  if (p.wi_1) mlp.wi_1 = { kernel: side(p.wi_1.kernel) };
  return { mlp, width: experts.length * p.wo.kernel.shape[1] };
}

/**
 * The sub-network a task-routed model uses for `taskId` (see the file header): the same family
 * with every MoE layer replaced by the task's k experts merged into a dense MLP, the routers
 * removed. Throws an {@link ExtractionError} for models that do not route by task.
 */
export function extractTaskSubnetwork(model: SparseModel, params: GlamParams | StMoeParams, taskId: number): ExtractedTaskModel {
  const layers = taskExperts(model, params, taskId);
  const merged = new Map(layers.map((l) => [l.layer, mergeExperts(layerParams(model, params, l.layer).moe!, l.experts, l.weights)]));
  const replace = (block: SparseBlockParams, name: string): SparseBlockParams => {
    const m = merged.get(name);
    if (!m) return block;
    const { moe: _drop, ...rest } = block;
    void _drop;
    return { ...rest, mlp: m.mlp as never };
  };
  let spec: ExtractedSpec;
  let newParams: GlamParams | StMoeParams;
  if (model.arch === 'glam') {
    const c = model.config;
    const dims = c.layerMlpDims.map((d, i) => merged.get(`layers_${i}`)?.width ?? d);
    const { router: _r, ...base } = glamSpec(c);
    void _r;
    spec = { family: 'glam', ...base, moeLayers: [], layerMlpDims: dims };
    const p = { ...(params as GlamParams) } as Record<string, unknown>;
    for (let i = 0; i < c.numLayers; i++) p[`layers_${i}`] = replace((params as GlamParams)[`layers_${i}`], `layers_${i}`);
    newParams = p as unknown as GlamParams;
  } else {
    const c = model.config;
    const encDims = c.encoderLayerMlpDims.map((d, i) => merged.get(`encoder/layers_${i}`)?.width ?? d);
    const decDims = c.decoderLayerMlpDims.map((d, i) => merged.get(`decoder/layers_${i}`)?.width ?? d);
    const { router: _r, encoderRouter: _e, decoderRouter: _d, ...base } = stMoeSpec(c);
    void _r; void _e; void _d;
    spec = { family: 'st-moe', ...base, encoderMoeLayers: [], decoderMoeLayers: [], encoderLayerMlpDims: encDims, decoderLayerMlpDims: decDims };
    const sp = params as StMoeParams;
    const enc: Record<string, unknown> = { ...sp.encoder };
    for (let i = 0; i < c.numEncoderLayers; i++) enc[`layers_${i}`] = replace(sp.encoder[`layers_${i}`] as SparseBlockParams, `encoder/layers_${i}`);
    const dec: Record<string, unknown> = { ...sp.decoder };
    for (let i = 0; i < c.numDecoderLayers; i++) dec[`layers_${i}`] = replace(sp.decoder[`layers_${i}`] as SparseBlockParams, `decoder/layers_${i}`);
    newParams = { token_embedder: sp.token_embedder, encoder: enc, decoder: dec } as unknown as StMoeParams;
  }
  const { family: _f, ...cfg } = spec;
  void _f;
  const sub = spec.family === 'glam' ? GLaM(cfg as GlamConfig) : STMoE(cfg as StMoeConfig);
  return { model: sub, params: newParams, spec, taskId, layers, paramCount: { full: paramCount(params), extracted: paramCount(newParams) } };
}
