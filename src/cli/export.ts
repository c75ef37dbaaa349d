/**
 * `myriad export`: writes a model as a standalone ONNX file that any ONNX runtime runs without
 * Myriad (logits for token ids; see src/export/onnx_model.ts). The model comes from a checkpoint
 * (`--checkpoint <dir>`: written by `myriad train` or `saveModelCheckpoint`) or is a freshly
 * initialized preset (`--preset glam:tiny --seed 0`; a bare name means GLaM). With `--task <id or
 * name>` the model must route by task and the file holds only that task's sub-network (Task-MoE
 * extraction, src/export/task_moe.ts); a preset is then built task-routed (`--num-tasks`,
 * default: one task per cluster of the Flan collection, named by cluster; `--experts-per-task`,
 * default 2). A JSON description is written next to the file (`<out>.json`).
 *
 * `registerExportCommands(program)` adds the command; `runExport(options)` does the work and
 * returns a report (used by the tests).
 */

import type { Command } from 'commander';
import { MyriadError } from '../core/errors.js';
import { random } from '../random/index.js';
import { createModel, type ModelSpec } from '../models/index.js';
import type { Model } from '../models/common.js';
import { GLAM_PRESETS, glamSpec, type GlamModel } from '../models/moe_decoder.js';
import { ST_MOE_PRESETS, stMoeSpec, type StMoeModel } from '../models/moe_encdec.js';
import { loadModelCheckpoint } from '../export/model_checkpoint.js';
import { writeModelOnnx } from '../export/onnx_model.js';
import { extractTaskSubnetwork, resolveTaskId, taskNames, type SparseModel, type TaskLayerExperts } from '../export/task_moe.js';
import { CLUSTERS } from '../tasks/collection.js';
import type { TaskIdScheme } from '../models/moe_common.js';

/** Bad command-line input for `myriad export`. */
export class ExportCliError extends MyriadError {}

/** Options of {@link runExport} (the command's flags). */
export interface ExportOptions {
  out: string;
  checkpoint?: string;
  step?: number;
  /** A preset: 'glam:<name>', 'st-moe:<name>', or a bare GLaM preset name. */
  preset?: string;
  seed?: number;
  task?: string;
  numTasks?: number;
  expertsPerTask?: number;
  batch?: number;
  length?: number;
  inputsLength?: number;
  /** Export a task the checkpoint's training data never contained (its routing is untrained). */
  allowUntrainedTask?: boolean;
}

/** What {@link runExport} did. */
export interface ExportReport {
  file: string;
  descriptionFile: string;
  bytes: number;
  inputs: { name: string; dtype: string; shape: number[] }[];
  outputs: { name: string; dtype: string; shape: number[] }[];
  source: string;
  task?: { id: number; name?: string; layers: TaskLayerExperts[] };
  paramCount: { full: number; exported: number };
}

function isSparse(m: Model): m is SparseModel {
  const arch = (m as { arch?: string }).arch;
  return arch === 'glam' || arch === 'st-moe';
}

/** The spec of a preset, task-routed when a task will be extracted. */
function presetSpec(preset: string, task: boolean, numTasks: number | undefined, k: number | undefined): Exclude<ModelSpec, string> {
  const [fam, name] = preset.includes(':') ? (preset.split(':', 2) as [string, string]) : ['glam', preset];
  const presets = fam === 'glam' ? GLAM_PRESETS : fam === 'st-moe' ? ST_MOE_PRESETS : null;
  if (!presets) throw new ExportCliError(`--preset ${preset}: the family must be glam or st-moe (e.g. glam:tiny, st-moe:tiny)`);
  const base = presets[name];
  if (!base) throw new ExportCliError(`--preset ${preset}: unknown ${fam} preset ${JSON.stringify(name)}; presets: ${Object.keys(presets).join(', ')}`);
  if (!task) {
    if (numTasks !== undefined || k !== undefined) throw new ExportCliError('--num-tasks and --experts-per-task only apply with --task (a task-routed preset)');
    return { family: fam, ...base } as Exclude<ModelSpec, string>;
  }
  const n = numTasks ?? CLUSTERS.length;
  const router = { kind: 'task' as const, numTasks: n, k: k ?? 2 };
  const taskIds: TaskIdScheme | undefined = numTasks === undefined ? 'cluster' : undefined;
  return { family: fam, ...base, router, ...(taskIds ? { taskIds } : {}) } as Exclude<ModelSpec, string>;
}

/** Runs `myriad export` (see the file header). */
export function runExport(o: ExportOptions): ExportReport {
  if (!o.out || !/\.onnx$/i.test(o.out)) throw new ExportCliError(`--out must name an .onnx file, got ${JSON.stringify(o.out)}`);
  if ((o.checkpoint === undefined) === (o.preset === undefined)) throw new ExportCliError('give exactly one of --checkpoint <dir> (a trained model) or --preset <name> (a freshly initialized one, with --seed)');
  if (o.checkpoint !== undefined && o.seed !== undefined) throw new ExportCliError('--seed applies to --preset only (a checkpoint has its own parameters)');
  if (o.checkpoint !== undefined && (o.numTasks !== undefined || o.expertsPerTask !== undefined)) throw new ExportCliError('--num-tasks and --experts-per-task apply to --preset only (a checkpoint records its router)');
  let model: Model;
  let params: unknown;
  let source: string;
  let trainedIds: { names: string[]; ids: number[] } | undefined;
  if (o.checkpoint !== undefined) {
    const l = loadModelCheckpoint(o.checkpoint, { step: o.step });
    model = l.model;
    params = l.params;
    source = `checkpoint ${l.path} (step ${l.step})`;
    // a run record (src/train/run.ts) lists the task ids its data used
    type Ids = { names: string[]; ids: number[] };
    const extra = l.extra as { taskIds?: Ids; run?: { taskIds?: Ids } } | undefined;
    trainedIds = extra?.taskIds ?? extra?.run?.taskIds;
  } else {
    const spec = presetSpec(o.preset!, o.task !== undefined, o.numTasks, o.expertsPerTask);
    model = createModel(spec);
    params = model.init(random.key(o.seed ?? 0));
    source = `preset ${o.preset} (seed ${o.seed ?? 0}${o.task !== undefined ? ', task-routed' : ''})`;
  }
  const shape = { batch: o.batch, length: o.length, inputsLength: o.inputsLength };
  if (model.family !== 'encdec' && o.inputsLength !== undefined) throw new ExportCliError('--inputs-length applies to encoder-decoder models only');
  let report: ExportReport;
  if (o.task !== undefined) {
    if (!isSparse(model)) throw new ExportCliError(`--task needs a task-routed sparse model (GLaM or ST-MoE with router kind 'task'); this checkpoint holds a ${model.family} model`);
    const sm = model as GlamModel | StMoeModel;
    const spec = sm.arch === 'glam' ? sm.config.router : sm.config.encoderMoeLayers.length ? sm.config.encoderRouter : sm.config.decoderRouter;
    const numTasks = spec.kind === 'task' ? spec.numTasks : 0;
    if (spec.kind !== 'task') throw new ExportCliError(`--task needs a task-routed model, but this model's MoE layers use ${spec.kind} routing`);
    const scheme = sm.config.moe.taskIds;
    // names without a naming scheme (e.g. UDHR languages) resolve through the run record
    const byRecord = !scheme && trainedIds !== undefined && !/^\d+$/.test(o.task.trim());
    const recorded = byRecord ? trainedIds!.names.indexOf(o.task) : -1;
    if (byRecord && recorded < 0) {
      throw new ExportCliError(`--task ${o.task}: not a task of this checkpoint's training data (${trainedIds!.ids.map((i) => `${trainedIds!.names[i]}=${i}`).join(', ')}); give one of those names or a numeric id`);
    }
    const id = byRecord ? recorded : resolveTaskId(o.task, numTasks, scheme);
    if (trainedIds && !trainedIds.ids.includes(id) && !o.allowUntrainedTask) {
      const nameOf = (i: number) => `${trainedIds!.names[i] ?? '?'} (${i})`;
      throw new ExportCliError(`--task ${o.task}: task id ${id} never occurred in this checkpoint's training data (it trained on ${trainedIds.ids.map(nameOf).join(', ')}), so its routing is untrained and its sub-network arbitrary; export one of those, or pass --allow-untrained-task to export it anyway`);
    }
    const ex = extractTaskSubnetwork(sm, params as never, id);
    const name = scheme ? taskNames(scheme)[id] : trainedIds?.names[id];
    const taskInfo = { id, ...(name ? { name } : {}), layers: ex.layers };
    const w = writeModelOnnx(o.out, ex.model, ex.params, shape, { source, task: taskInfo, model: ex.spec, fullParamCount: ex.paramCount.full });
    report = { file: w.file, descriptionFile: w.descriptionFile, bytes: w.bytesWritten, inputs: w.inputs, outputs: w.outputs, source, task: taskInfo, paramCount: { full: ex.paramCount.full, exported: ex.paramCount.extracted } };
  } else {
    const specOut = specOf(model);
    const w = writeModelOnnx(o.out, model, params, shape, { source, model: specOut });
    report = { file: w.file, descriptionFile: w.descriptionFile, bytes: w.bytesWritten, inputs: w.inputs, outputs: w.outputs, source, paramCount: { full: w.paramCount, exported: w.paramCount } };
  }
  return report;
}

/** The createModel spec of a model (recorded in the export's description). */
function specOf(model: Model): Record<string, unknown> {
  const arch = (model as { arch?: string }).arch;
  if (arch === 'glam') return { family: 'glam', ...glamSpec((model as GlamModel).config) };
  if (arch === 'st-moe') return { family: 'st-moe', ...stMoeSpec((model as StMoeModel).config) };
  return { family: model.family, ...(model.config as object) };
}

function intOpt(name: string, min: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new ExportCliError(`${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}

/** Describes a report in a few lines. */
export function formatExportReport(r: ExportReport): string {
  const io = (xs: ExportReport['inputs']) => xs.map((x) => `${x.name} ${x.dtype}[${x.shape.join(', ')}]`).join(', ');
  const lines = [
    `wrote ${r.file} (${(r.bytes / 1e6).toFixed(2)} MB) from ${r.source}`,
    `  inputs: ${io(r.inputs)}`,
    `  outputs: ${io(r.outputs)}`,
  ];
  if (r.task) {
    lines.push(`  task ${r.task.id}${r.task.name ? ` (${r.task.name})` : ''}: ${r.task.layers.map((l) => `${l.layer} → experts ${l.experts.join(', ')} (weights ${l.weights.map((w) => w.toFixed(4)).join(', ')})`).join('; ')}`);
    lines.push(`  parameters: ${r.paramCount.exported.toLocaleString('en-US')} of the full model's ${r.paramCount.full.toLocaleString('en-US')} (${((100 * r.paramCount.exported) / r.paramCount.full).toFixed(1)}%)`);
  } else lines.push(`  parameters: ${r.paramCount.exported.toLocaleString('en-US')}`);
  lines.push(`  description: ${r.descriptionFile}`);
  return lines.join('\n');
}

/** Adds `export` to `program`. */
export function registerExportCommands(program: Command, io: { stdout?: { write(s: string): unknown } } = {}): void {
  program
    .command('export')
    .description('Write a model as a standalone ONNX file (logits for token ids); with --task, only that task\'s Task-MoE sub-network')
    .requiredOption('--out <file.onnx>', 'output ONNX file (a description goes to <file>.json)')
    .option('--checkpoint <dir>', 'run directory, its checkpoints/ directory, or one step_<N> directory')
    .option('--step <n>', 'checkpoint step (default: the newest)', intOpt('--step', 0))
    .option('--preset <name>', 'export a freshly initialized preset instead: glam:<name>, st-moe:<name> (a bare name means glam)')
    .option('--seed <n>', 'seed of the preset\'s initialization (default 0)', intOpt('--seed', 0))
    .option('--task <id>', 'extract this task\'s sub-network (a task id, or a name: a cluster/family when the model records its task ids, or a task of the run\'s data such as a UDHR language)')
    .option('--num-tasks <n>', 'presets with --task: number of tasks (default: the Flan collection\'s clusters, named)', intOpt('--num-tasks', 1))
    .option('--experts-per-task <k>', 'presets with --task: experts per task (default 2)', intOpt('--experts-per-task', 1))
    .option('--batch <n>', 'rows per call (default 1)', intOpt('--batch', 1))
    .option('--length <n>', 'decoder length (default 64)', intOpt('--length', 1))
    .option('--inputs-length <n>', 'encoder length of encoder-decoders (default 64)', intOpt('--inputs-length', 1))
    .option('--allow-untrained-task', 'with --task on a checkpoint: export a task its training data never contained')
    .action((o: ExportOptions) => {
      const r = runExport(o);
      (io.stdout ?? process.stdout).write(formatExportReport(r) + '\n');
    });
}
