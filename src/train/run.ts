/**
 * A training run from a validated train config: builds the tokenizer and data (data.ts), the
 * model (`createModel` from the config's family, preset and dimensions), the optimizer and its
 * learning-rate schedule, and a `Trainer`; writes `<outDir>/config.json`; trains; and returns
 * the trainer's result with the model and final params. Every checkpoint stores, in
 * `extra.run`, the config, the resolved model spec and the tokenizer, which is all `generate`
 * (generate.ts) needs to rebuild the model. A resumed run must use the same config except for
 * the fields that only steer the run (steps, cadences, logging, output).
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { optim, type GradientTransformation, type Schedule } from '../optim/index.js';
import { createModel, type Model } from '../models/index.js';
import { ModelError, evalShape } from '../nn/module.js';
import { Array } from '../core/array.js';
import { random } from '../random/index.js';
import { writeFileAtomic, type JsonValue } from '../checkpoint/index.js';
import { usedTaskIds } from '../data/seqio/index.js';
import { activeParamScale, matmulParamCount } from './flops.js';
import { parseTrainConfig, resolveModelSpec, type ModelFamily, type OptimizerConfig, type ScheduleConfig, type TrainConfig } from './config.js';
import { structuralFamily } from '../models/moe_schema.js';
import { buildData, checkVocab, type TokenizerSpec } from './data.js';
import { ConfigError, TrainError } from './errors.js';
import { Trainer, type Batch, type TrainResult } from './trainer.js';
import type { OutputStream, ProgressMode } from './progress.js';
import type { Tokenizer } from '../data/tokenizer/types.js';

/** Format tag of the run record stored in checkpoints' `extra.run`. */
export const RUN_FORMAT = 'myriad-train-run';

/** What checkpoints store in `extra.run`. */
export interface RunRecord {
  format: typeof RUN_FORMAT;
  version: 1;
  config: TrainConfig;
  /** The model spec given to `createModel` (family + full config). */
  model: Record<string, unknown> & { family: ModelFamily };
  tokenizer: TokenizerSpec;
  /**
   * For a task-routed model: the task ids its training data used (`ids`, each with its name in
   * `names`), so that exporting a task the model never trained on can be refused.
   */
  taskIds?: { describe: string; names: string[]; ids: number[] };
}

/** Builds a learning-rate schedule (or constant) from its config; `steps` is the default decay length. */
export function buildSchedule(lr: number | ScheduleConfig, steps: number): number | Schedule {
  if (typeof lr === 'number') return lr;
  switch (lr.kind) {
    case 'constant':
      return lr.value;
    case 'warmup-cosine': {
      const decaySteps = lr.decaySteps ?? steps;
      if (decaySteps <= lr.warmupSteps) throw new ConfigError(`invalid train config:\n  - optimizer.learningRate.warmupSteps: ${lr.warmupSteps} must be smaller than decaySteps (${decaySteps}${lr.decaySteps === undefined ? ', the run\'s steps' : ''})`, [{ path: 'optimizer.learningRate.warmupSteps', message: 'not smaller than decaySteps' }]);
      return optim.warmupCosineDecaySchedule({ initValue: lr.init, peakValue: lr.peak, warmupSteps: lr.warmupSteps, decaySteps, endValue: lr.end });
    }
    case 'warmup-rsqrt':
      return optim.warmupRsqrtSchedule({ peakValue: lr.peak, warmupSteps: lr.warmupSteps });
    case 'cosine':
      return optim.cosineDecaySchedule({ initValue: lr.init, decaySteps: lr.decaySteps ?? steps, alpha: lr.alpha });
  }
}

/** Builds the optimizer of a config (optionally preceded by global-norm clipping). */
export function buildOptimizer(o: OptimizerConfig, steps: number): { optimizer: GradientTransformation; learningRate?: number | Schedule } {
  const withClip = (t: GradientTransformation) => (o.clipGlobalNorm !== undefined ? optim.chain(optim.clipByGlobalNorm(o.clipGlobalNorm), t) : t);
  switch (o.name) {
    case 'adamw': {
      const lr = buildSchedule(o.learningRate, steps);
      return { optimizer: withClip(optim.adamw(lr, { b1: o.b1, b2: o.b2, eps: o.eps, weightDecay: o.weightDecay })), learningRate: lr };
    }
    case 'adam': {
      const lr = buildSchedule(o.learningRate, steps);
      return { optimizer: withClip(optim.adam(lr, { b1: o.b1, b2: o.b2, eps: o.eps })), learningRate: lr };
    }
    case 'sgd': {
      const lr = buildSchedule(o.learningRate, steps);
      return { optimizer: withClip(optim.sgd(lr, { momentum: o.momentum, nesterov: o.nesterov })), learningRate: lr };
    }
    case 'adafactor': {
      const lr = o.learningRate === undefined ? undefined : buildSchedule(o.learningRate, steps);
      const opt = optim.adafactor({ learningRate: lr, clippingThreshold: o.clippingThreshold, momentum: o.momentum, weightDecayRate: o.weightDecay, globalNormClipThreshold: o.clipGlobalNorm });
      return { optimizer: opt, learningRate: lr ?? optim.adafactorRelativeStep() };
    }
  }
}

/** Builds the model of a config spec, turning model validation errors into config errors. */
export function buildModel(spec: Record<string, unknown> & { family: ModelFamily }): Model {
  try {
    return createModel(spec as unknown as Parameters<typeof createModel>[0]);
  } catch (e) {
    if (e instanceof ModelError) throw new ConfigError(`invalid train config:\n  - model: ${e.message}`, [{ path: 'model', message: e.message }]);
    throw e;
  }
}

/** Fields a resumed run may change. */
const RUN_ONLY_FIELDS = new Set(['steps', 'evalEvery', 'checkpointEvery', 'keepCheckpoints', 'logEvery', 'progress', 'outDir', 'description', 'threads', 'mesh', 'shardingRules', 'zeroShardOptimizer']);

function diffFields(a: unknown, b: unknown, prefix = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (a && b && typeof a === 'object' && typeof b === 'object' && !globalThis.Array.isArray(a) && !globalThis.Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => diffFields((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k));
  }
  return [prefix || '(top level)'];
}

/** Options of {@link runTraining}. */
export interface RunOptions {
  /** Console stream (default process.stdout). */
  output?: OutputStream;
  /** Overrides the config's progress mode. */
  progress?: ProgressMode;
  /** Continue from the newest checkpoint in outDir. */
  resume?: boolean;
  /** Start over in an outDir that holds an earlier run. */
  overwrite?: boolean;
  /** Stop (with a checkpoint) after this step, as if interrupted. */
  stopAtStep?: number;
  /** Directory that relative paths of the config (tokenizer, text files) are resolved against. */
  baseDir?: string;
  /** Peak FLOP/s for MFU (default: measured); null disables MFU. */
  peakFlops?: number | 'measure' | null;
}

/**
 * The row partitions a 'grouped'-dispatch MoE model gets on a mesh with a `data` axis of size D > 1
 * when its config leaves `groupedPartitions` unset: D, if the routing groups of a microbatch
 * (one per example with the default group size) split evenly; otherwise null (the config is kept,
 * and the note below says what it costs).
 */
function groupedPartitionsForMesh(cfg: TrainConfig, spec: RunRecord['model']): number | null {
  const m = spec as { dispatch?: string; groupedPartitions?: number; groupSize?: number };
  const D = cfg.mesh?.data ?? 1;
  if (D <= 1 || m.dispatch !== 'grouped' || m.groupedPartitions !== undefined || m.groupSize !== undefined) return null;
  const rows = cfg.data.batchSize / cfg.microbatches;
  return rows % D === 0 ? D : null;
}

/** What {@link runTraining} returns. */
export interface RunResult extends TrainResult {
  config: TrainConfig;
  model: Model;
  modelSpec: RunRecord['model'];
  params: unknown;
  tokenizer: Tokenizer;
  dataDescription: string;
}

/**
 * Trains the model a config describes (see the module comment). `config` may be a validated
 * config or raw JSON (validated here).
 */
export async function runTraining(config: TrainConfig | unknown, opts: RunOptions = {}): Promise<RunResult> {
  const cfg = parseTrainConfig(config);
  const baseDir = opts.baseDir ?? process.cwd();
  const outDir = path.resolve(baseDir, cfg.outDir);
  fs.mkdirSync(outDir, { recursive: true });
  const cfgPath = path.join(outDir, 'config.json');
  if (opts.resume && fs.existsSync(cfgPath)) {
    let prev: unknown;
    try {
      prev = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
    } catch (e) {
      throw new TrainError(`cannot resume: ${cfgPath} is not valid JSON (${(e as Error).message})`);
    }
    const changed = diffFields(prev, cfg).filter((f) => !RUN_ONLY_FIELDS.has(f.split('.')[0]));
    if (changed.length) throw new TrainError(`cannot resume the run in ${outDir} with a different config: ${changed.join(', ')} changed (only ${[...RUN_ONLY_FIELDS].join(', ')} may change); use the original config or another output directory`);
  }

  const family = structuralFamily(cfg.model.family);
  const data = await buildData(cfg, family, { baseDir });
  const spec = resolveModelSpec(cfg.model, data.tokenizer.vocabSize);
  const autoPartitions = groupedPartitionsForMesh(cfg, spec);
  if (autoPartitions) (spec as { groupedPartitions?: number }).groupedPartitions = autoPartitions;
  const model = buildModel(spec);
  checkVocab(data.tokenizer, model.vocabSize);
  const { optimizer, learningRate } = buildOptimizer(cfg.optimizer, cfg.steps);

  let tokSpec: TokenizerSpec = { kind: 'byte' };
  let tokCopy: { src: string; bytes: Uint8Array } | null = null;
  if (cfg.data.tokenizer.kind === 'sentencepiece') {
    const src = path.resolve(baseDir, cfg.data.tokenizer.model);
    const bytes = fs.readFileSync(src);
    tokCopy = { src, bytes };
    tokSpec = { kind: 'sentencepiece', model: 'tokenizer.model', sha256: createHash('sha256').update(bytes).digest('hex') };
  }
  const record: RunRecord = { format: RUN_FORMAT, version: 1, config: cfg, model: spec, tokenizer: tokSpec };
  if (data.taskIds) record.taskIds = { describe: data.taskIds.describe, names: [...data.taskIds.names], ids: usedTaskIds(data.taskIds) };

  // FLOPs: lookup-only tables are excluded from N; encoder-decoders count each stack on its own tokens.
  const tied = spec.tieEmbeddings ?? (family === 'decoder');
  const exclude = [/(^|\.)pos_embedder\./, /(^|\.)relpos_bias\./, ...(tied ? [] : [/^token_embedder\./])];
  let flopsPerStep: ((b: Batch) => number) | undefined;
  let tokensPerBatch: ((b: Batch) => number) | undefined;
  // sparse models count each expert weight at the fraction of tokens that activate it (k/E)
  const scale = activeParamScale(model) ?? undefined;
  if (family === 'encdec') {
    const p = evalShape((k: Array) => model.init(k), random.key(0)) as Record<string, unknown>;
    const nEnc = matmulParamCount({ encoder: p.encoder }, exclude, scale);
    const nDec = matmulParamCount({ decoder: p.decoder, ...(tied ? { token_embedder: p.token_embedder } : {}) }, exclude, scale);
    tokensPerBatch = (b) => b.decoder_target_tokens.size + (b.encoder_input_tokens?.size ?? 0);
    flopsPerStep = (b) => 6 * (nEnc * (b.encoder_input_tokens?.size ?? 0) + nDec * b.decoder_target_tokens.size);
  } else if (scale) {
    const n = matmulParamCount(evalShape((k: Array) => model.init(k), random.key(0)), exclude, scale);
    flopsPerStep = (b) => 6 * n * b.decoder_target_tokens.size;
  }
  const trainer = new Trainer({
    model: model as never,
    optimizer,
    data: data.train,
    evalData: data.eval,
    steps: cfg.steps,
    outDir,
    seed: cfg.seed,
    evalEvery: cfg.evalEvery,
    checkpointEvery: cfg.checkpointEvery,
    keepCheckpoints: cfg.keepCheckpoints,
    resume: opts.resume,
    overwrite: opts.overwrite,
    progress: opts.progress ?? cfg.progress,
    output: opts.output,
    logEvery: cfg.logEvery,
    microbatches: cfg.microbatches,
    lossOptions: { zLoss: cfg.loss.zLoss, labelSmoothing: cfg.loss.labelSmoothing },
    learningRate,
    flopsExclude: exclude,
    flopsPerStep,
    tokensPerBatch,
    peakFlops: opts.peakFlops,
    backend: cfg.backend,
    threads: cfg.threads,
    checkpointExtra: record as unknown as JsonValue,
    sharding: cfg.mesh ? { mesh: cfg.mesh, rules: cfg.shardingRules, zero: cfg.zeroShardOptimizer } : undefined,
  });
  // init() refuses an occupied directory (or loads the checkpoint) before config.json is replaced.
  trainer.init();
  writeFileAtomic(cfgPath, JSON.stringify(cfg, null, 2) + '\n');
  if (tokCopy && tokCopy.src !== path.join(outDir, 'tokenizer.model')) writeFileAtomic(path.join(outDir, 'tokenizer.model'), tokCopy.bytes);
  const progressOut = opts.output ?? process.stdout;
  if ((opts.progress ?? cfg.progress) !== 'none') {
    const line = `data: ${data.describe}; model: ${family === 'decoder' ? 'decoder-only LM' : 'encoder-decoder'} ${JSON.stringify(spec)}`;
    const isJson = (opts.progress ?? cfg.progress) === 'json' || ((opts.progress ?? cfg.progress) === 'auto' && !progressOut.isTTY);
    const say = (text: string) => progressOut.write(isJson ? JSON.stringify({ event: 'message', text }) + '\n' : text + '\n');
    say(line);
    if (autoPartitions) say(`model.groupedPartitions set to ${autoPartitions} (the data axis of the mesh): each device sorts and computes its own MoE rows`);
    // grouped MoE dispatch splits over the batch only through its row partitions
    const moeSpec = spec as { dispatch?: string; groupedPartitions?: number };
    const dataDevices = cfg.mesh?.data ?? 1;
    if (dataDevices > 1 && moeSpec.dispatch === 'grouped' && (moeSpec.groupedPartitions ?? 1) % dataDevices !== 0) {
      say(
        `note: model.dispatch 'grouped' with groupedPartitions ${moeSpec.groupedPartitions ?? 1} keeps the MoE layers' expert rows whole across the ${dataDevices} data-parallel devices, so each computes every row ` +
          `(GLaM tiny on data=2 measured 366 ms/step, against 189 with groupedPartitions 2 and 196 with 'index'); set model.groupedPartitions to a multiple of ${dataDevices}, or model.dispatch to 'index' for expert parallelism`,
      );
    }
  }
  try {
    const res = await trainer.run({ stopAtStep: opts.stopAtStep });
    return { ...res, config: cfg, model, modelSpec: spec, params: trainer.params, tokenizer: data.tokenizer, dataDescription: data.describe };
  } finally {
    await trainer.close();
  }
}
