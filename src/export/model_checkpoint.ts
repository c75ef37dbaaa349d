/**
 * Models in checkpoints, for export: `saveModelCheckpoint(dir, spec, params)` writes a checkpoint
 * (src/checkpoint) whose `extra.model` is the `createModel` spec, and `loadModelCheckpoint(dir)`
 * rebuilds the model from either that record or the run record `myriad train` writes
 * (`extra.run.model`), checking that the stored parameters have exactly the shapes the model
 * expects. `dir` may be a run directory (holding `checkpoints/`), a checkpoints directory
 * (holding `step_<N>/`) or one `step_<N>` directory.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { listCheckpoints, loadCheckpoint, saveCheckpoint, type JsonValue, type SaveResult } from '../checkpoint/index.js';
import { flatten } from '../core/pytree.js';
import { Array } from '../core/array.js';
import { random } from '../random/index.js';
import { createModel, type ModelSpec } from '../models/index.js';
import type { Model } from '../models/common.js';
import { evalShape, leafPaths, ModelError } from '../nn/module.js';

/** Thrown when a checkpoint cannot be turned into a model. */
export class ModelCheckpointError extends ModelError {}

/** A model loaded from a checkpoint. */
export interface LoadedModel {
  model: Model;
  params: unknown;
  /** The `createModel` spec it was rebuilt from. */
  spec: Exclude<ModelSpec, string>;
  step: number;
  /** The `step_<N>` directory. */
  path: string;
  extra: JsonValue | undefined;
}

function locate(dir: string): { ckptDir: string; step?: number } {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) throw new ModelCheckpointError(`no such checkpoint directory: ${abs}`);
  const m = /^step_(\d+)$/.exec(path.basename(abs));
  if (m && fs.existsSync(path.join(abs, 'manifest.json'))) return { ckptDir: path.dirname(abs), step: Number(m[1]) };
  if (listCheckpoints(abs).length) return { ckptDir: abs };
  const sub = path.join(abs, 'checkpoints');
  if (fs.existsSync(sub) && listCheckpoints(sub).length) return { ckptDir: sub };
  throw new ModelCheckpointError(`no checkpoint found in ${abs}; pass a run directory (with checkpoints/), a checkpoints directory (with step_<N>/) or a step_<N> directory`);
}

/** Writes `params` with the model spec in `extra.model` (plus `extra`) as checkpoint `step` under `dir`. */
export function saveModelCheckpoint(dir: string, spec: Exclude<ModelSpec, string>, params: unknown, o: { step?: number; extra?: Record<string, JsonValue>; keep?: number; overwrite?: boolean } = {}): SaveResult {
  createModel(spec); // validates the spec before anything is written
  return saveCheckpoint(dir, { params, step: o.step ?? 0, extra: { ...(o.extra ?? {}), model: spec as unknown as JsonValue } }, { keep: o.keep, overwrite: o.overwrite });
}

/** Compares loaded params with the shapes the model creates; names the first difference. */
function checkShapes(loaded: unknown, expected: unknown, where: string): void {
  const [la, ld] = flatten(loaded);
  const [ea, ed] = flatten(expected);
  const lp = leafPaths(ld);
  const ep = leafPaths(ed);
  const got = new Map(lp.map((p, i) => [p, la[i] as Array]));
  ep.forEach((p, i) => {
    const g = got.get(p);
    const w = ea[i] as { shape: number[]; dtype: string };
    if (!g) throw new ModelCheckpointError(`${where}: the checkpoint has no parameter ${p}; it was written for a different model`);
    if (!(g instanceof Array) || g.shape.join(',') !== w.shape.join(',') || g.dtype !== w.dtype) {
      throw new ModelCheckpointError(`${where}: parameter ${p} is ${g instanceof Array ? `${g.dtype}[${g.shape.join(', ')}]` : typeof g} in the checkpoint but the model expects ${w.dtype}[${w.shape.join(', ')}]`);
    }
  });
  if (lp.length !== ep.length) throw new ModelCheckpointError(`${where}: the checkpoint has parameters the model does not (${lp.filter((p) => !ep.includes(p)).slice(0, 3).join(', ')})`);
}

/** Loads a model and its params from a checkpoint (see the file header). */
export function loadModelCheckpoint(dir: string, { step }: { step?: number } = {}): LoadedModel {
  const loc = locate(dir);
  const ck = loadCheckpoint(loc.ckptDir, { step: step ?? loc.step });
  const extra = ck.extra as { model?: unknown; run?: { model?: unknown } } | undefined;
  const spec = (extra?.model ?? extra?.run?.model) as Exclude<ModelSpec, string> | undefined;
  if (!spec || typeof spec !== 'object' || typeof (spec as { family?: unknown }).family !== 'string') {
    throw new ModelCheckpointError(`checkpoint ${ck.path} does not record its model (no extra.model or extra.run.model spec); save it with saveModelCheckpoint or train it with 'myriad train'`);
  }
  let model: Model;
  try {
    model = createModel(spec);
  } catch (e) {
    throw new ModelCheckpointError(`checkpoint ${ck.path}: its model spec is invalid: ${(e as Error).message}`);
  }
  checkShapes(ck.params, evalShape((k: Array) => model.init(k), random.key(0)), `loading ${ck.path}`);
  return { model, params: ck.params, spec, step: ck.step, path: ck.path, extra: ck.extra };
}
