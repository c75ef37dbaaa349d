/**
 * Evaluation harness for any model exposing `generate(prompts, opts)` and `score(prompts, targets)`
 * (log-likelihood of each target given its prompt). Evaluates a task, a mixture (each leaf task) or a
 * list of them, zero-shot, few-shot (exemplars drawn deterministically from the train split and
 * formatted Flan-style: input and target joined by a blank line, exemplars separated by two) or with
 * chain-of-thought (the answer is extracted from "… So the answer is X."), by free generation or, for
 * examples with `options`, by rank classification (the option with the highest log-likelihood wins).
 * Produces per-task and per-cluster reports (clusters from `task.meta.cluster`) as JSON and a table.
 *
 * Example fields read: `inputs` (prompt text), `targets` (target text; exemplars show it), `answer`
 * (what metrics compare predictions against; defaults to `targets`), `options` (string[], enables rank
 * classification). Predictions are `task.postprocess(output, ex)` — in 'cot' mode the answer extractor
 * (option `extractAnswer`, else the task's postprocessor, else `extractCotAnswer`) instead.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Example, Metric, Split } from '../data/seqio/types.js';
import { Task } from '../data/seqio/task.js';
import { Mixture } from '../data/seqio/mixture.js';
import { CounterRng, deriveSeed } from '../data/seqio/rng.js';
import { checkSplit } from '../data/seqio/stream.js';
import { EvalError } from './errors.js';
import { accuracy, exactMatch } from './metrics.js';

/** Decoding options passed through to `generate`. */
export interface GenerateOptions {
  maxTokens?: number;
  temperature?: number;
  stop?: string[];
  seed?: number;
}

/** What the harness needs from a model. */
export interface LanguageModel {
  /** One completion per prompt. */
  generate(prompts: string[], opts: GenerateOptions): Promise<string[]>;
  /** Log-likelihood of `targets[i]` as the continuation of `prompts[i]`. */
  score(prompts: string[], targets: string[]): Promise<number[]>;
  /** Optional name shown in reports. */
  name?: string;
}

export type EvalMode = 'zero-shot' | 'few-shot' | 'cot';

/** How prompts are assembled. */
export interface PromptFormat {
  /** Between an exemplar's input and its target (default '\n\n', a blank line). */
  inputTargetSeparator: string;
  /** Between exemplars, and before the query (default '\n\n\n', two blank lines). */
  exampleSeparator: string;
  /** Appended (after a newline) to chain-of-thought queries unless already present; null to never add. */
  cotTrigger: string | null;
}

export const DEFAULT_PROMPT_FORMAT: PromptFormat = {
  inputTargetSeparator: '\n\n',
  exampleSeparator: '\n\n\n',
  cotTrigger: "Let's think step by step.",
};

/** Options of `evaluate`. */
export interface EvaluateOptions {
  /** Split evaluated (default 'validation'). */
  split?: Split;
  mode?: EvalMode;
  /** Exemplars per prompt (default 0 for zero-shot, 3 for few-shot; cot: 0 = zero-shot CoT). */
  shots?: number;
  /** Per-task cap on evaluated examples (default: all). */
  maxExamples?: number;
  /** Prompts per model call (default 16). */
  batchSize?: number;
  seed?: number;
  /** 'auto' (default): rank-classify examples that carry `options`; true: require options; false: always generate. */
  rankClassification?: 'auto' | boolean;
  /** Divide option log-likelihoods by the option's character length (default false: raw sums, as seqio). */
  lengthNormalize?: boolean;
  /** Where exemplars come from (default 'train'). */
  exemplarSplit?: Split;
  /** Exemplars are drawn from the first this-many examples of the exemplar split (default 64). */
  exemplarPool?: number;
  prompt?: Partial<PromptFormat>;
  /** Chain-of-thought answer extraction (default: the task's postprocessor, else `extractCotAnswer`). */
  extractAnswer?: (output: string, ex: Example) => unknown;
  generateOptions?: GenerateOptions;
  /** Sample predictions kept per task in the report (default 5). */
  keepSamples?: number;
  /** Called after each task. */
  onTask?: (report: TaskReport) => void;
}

/** One kept sample. */
export interface SampleRecord {
  prompt: string;
  output: string;
  prediction: unknown;
  target: unknown;
}

/** Per-task results. */
export interface TaskReport {
  task: string;
  cluster: string;
  family: string | null;
  method: 'generate' | 'rank' | 'mixed';
  n: number;
  metrics: Record<string, number>;
  /** Name of the first metric value (used for averages across tasks). */
  primary: string;
  samples: SampleRecord[];
  seconds: number;
}

/** Per-cluster averages (unweighted over tasks). */
export interface ClusterReport {
  cluster: string;
  tasks: number;
  n: number;
  /** Mean of each metric over the cluster's tasks that report it, plus `primary` (mean of each task's primary metric). */
  metrics: Record<string, number>;
}

/** The whole report. */
export interface EvalReport {
  model: string | null;
  mode: EvalMode;
  split: Split;
  shots: number;
  seed: number;
  createdAt: string;
  tasks: TaskReport[];
  clusters: ClusterReport[];
  /** Mean over all tasks of each metric, and `primary`. */
  overall: Record<string, number>;
}

/**
 * Extracts the final answer from a chain-of-thought output: the text after the last "the answer is"
 * (case-insensitive) up to the end of that line, without a trailing period. '' when absent (scored wrong).
 */
export function extractCotAnswer(output: string): string {
  const re = /the answer is/gi;
  let end = -1;
  for (let m = re.exec(output); m !== null; m = re.exec(output)) end = m.index + m[0].length;
  if (end < 0) return '';
  const line = output.slice(end).split('\n')[0];
  return line.replace(/^\s*:?\s*/, '').trim().replace(/\.+$/, '').trim();
}

function leafTasks(target: Task | Mixture | Array<Task | Mixture>): Task[] {
  const items = Array.isArray(target) ? target : [target];
  const out: Task[] = [];
  const seen = new Set<string>();
  for (const it of items) {
    const tasks = it instanceof Mixture ? it.tasks() : it instanceof Task ? [it] : null;
    if (tasks === null) throw new EvalError('evaluate: target must be a Task, a Mixture or an array of them');
    for (const t of tasks) {
      if (!seen.has(t.name)) {
        seen.add(t.name);
        out.push(t);
      }
    }
  }
  return out;
}

function str(ex: Example, field: string, task: string): string {
  const v = ex[field];
  if (typeof v !== 'string') throw new EvalError(`evaluate: task '${task}' example lacks a string '${field}' (has ${Object.keys(ex).join(', ')})`);
  return v;
}

/** Builds the prompt for one query example given its exemplars. */
export function buildPrompt(query: Example, exemplars: Example[], mode: EvalMode, fmt: PromptFormat, task = '?'): string {
  const parts = exemplars.map((e) => `${str(e, 'inputs', task)}${fmt.inputTargetSeparator}${str(e, 'targets', task)}`);
  let q = str(query, 'inputs', task);
  if (mode === 'cot' && fmt.cotTrigger !== null && !q.includes(fmt.cotTrigger)) q = `${q}\n${fmt.cotTrigger}`;
  parts.push(q);
  return parts.join(fmt.exampleSeparator);
}

async function inBatches<T, R>(items: T[], size: number, fn: (batch: T[]) => Promise<R[]>, what: string): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    const batch = items.slice(i, i + size);
    const res = await fn(batch);
    if (!Array.isArray(res) || res.length !== batch.length) {
      throw new EvalError(`evaluate: model.${what} returned ${Array.isArray(res) ? res.length : typeof res} results for ${batch.length} inputs; it must return one per input`);
    }
    out.push(...res);
  }
  return out;
}

function mean(xs: number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Evaluates one task. */
export async function evaluateTask(model: LanguageModel, task: Task, opts: EvaluateOptions = {}): Promise<TaskReport> {
  const t0 = Date.now();
  const split = checkSplit(opts.split ?? 'validation', 'evaluate');
  const mode = opts.mode ?? 'zero-shot';
  if (!['zero-shot', 'few-shot', 'cot'].includes(mode)) throw new EvalError(`evaluate: mode must be 'zero-shot', 'few-shot' or 'cot', got ${JSON.stringify(mode)}`);
  const shots = opts.shots ?? (mode === 'few-shot' ? 3 : 0);
  if (!Number.isInteger(shots) || shots < 0) throw new EvalError(`evaluate: shots must be a non-negative integer, got ${shots}`);
  if (mode === 'zero-shot' && shots > 0) throw new EvalError(`evaluate: zero-shot mode with shots=${shots}; use mode 'few-shot'`);
  if (mode === 'few-shot' && shots === 0) throw new EvalError("evaluate: few-shot mode needs shots >= 1");
  const seed = opts.seed ?? 0;
  const batchSize = opts.batchSize ?? 16;
  const keep = opts.keepSamples ?? 5;
  const taskFmt = (task.meta.fewShot ?? {}) as Partial<PromptFormat>;
  const fmt: PromptFormat = { ...DEFAULT_PROMPT_FORMAT, ...taskFmt, ...(opts.prompt ?? {}) };

  const examples: Example[] = [];
  const max = opts.maxExamples ?? Infinity;
  if (max > 0) {
    for (const ex of task.getDataset(split, { seed, tokenize: false })) {
      examples.push(ex);
      if (examples.length >= max) break;
    }
  }
  if (examples.length === 0) throw new EvalError(`evaluate: task '${task.name}' has no '${split}' examples to evaluate`);

  let pool: Example[] = [];
  if (shots > 0) {
    const exSplit = checkSplit(opts.exemplarSplit ?? 'train', 'evaluate');
    pool = task.getDataset(exSplit, { seed, tokenize: false }).take(opts.exemplarPool ?? 64);
    if (pool.length < shots) {
      throw new EvalError(`evaluate: task '${task.name}' has ${pool.length} '${exSplit}' examples, fewer than shots=${shots}; lower shots or pick another exemplarSplit`);
    }
  }
  const prompts = examples.map((ex, i) => {
    const ids = shots > 0 ? new CounterRng(deriveSeed(seed, 'exemplars', task.name, i)).sample(pool.length, shots) : [];
    return buildPrompt(ex, ids.map((k) => pool[k]), mode, fmt, task.name);
  });

  const rc = opts.rankClassification ?? 'auto';
  const useRank = examples.map((ex, i) => {
    const has = Array.isArray(ex.options) && ex.options.length > 0;
    if (has && !(ex.options as unknown[]).every((o) => typeof o === 'string')) throw new EvalError(`evaluate: task '${task.name}' example ${i} has non-string options`);
    if (rc === true && !has) throw new EvalError(`evaluate: rankClassification is on but task '${task.name}' example ${i} has no options`);
    return rc !== false && has && mode !== 'cot';
  });

  const outputs: string[] = new Array(examples.length).fill('');
  const predictions: unknown[] = new Array(examples.length);

  // Rank classification: score every (prompt, option) pair.
  const pairs: Array<{ ex: number; opt: number }> = [];
  examples.forEach((ex, i) => {
    if (useRank[i]) (ex.options as string[]).forEach((_, k) => pairs.push({ ex: i, opt: k }));
  });
  if (pairs.length > 0) {
    const scores = await inBatches(pairs, batchSize, (b) => model.score(b.map((p) => prompts[p.ex]), b.map((p) => (examples[p.ex].options as string[])[p.opt])), 'score');
    const best = new Map<number, { k: number; s: number }>();
    pairs.forEach((p, j) => {
      let s = scores[j];
      if (typeof s !== 'number' || Number.isNaN(s)) throw new EvalError(`evaluate: model.score returned ${s} for task '${task.name}'; log-likelihoods must be numbers`);
      if (opts.lengthNormalize) s /= Math.max(1, (examples[p.ex].options as string[])[p.opt].length);
      const cur = best.get(p.ex);
      if (cur === undefined || s > cur.s) best.set(p.ex, { k: p.opt, s });
    });
    for (const [i, { k }] of best) {
      outputs[i] = (examples[i].options as string[])[k];
      predictions[i] = outputs[i];
    }
  }

  // Generation for the rest.
  const genIdx = examples.map((_, i) => i).filter((i) => !useRank[i]);
  if (genIdx.length > 0) {
    const gen = await inBatches(genIdx, batchSize, (b) => model.generate(b.map((i) => prompts[i]), { ...(opts.generateOptions ?? {}) }), 'generate');
    genIdx.forEach((i, j) => {
      const out = gen[j];
      if (typeof out !== 'string') throw new EvalError(`evaluate: model.generate returned ${typeof out} for task '${task.name}'; completions must be strings`);
      outputs[i] = out;
      const ex = examples[i];
      if (mode === 'cot') {
        const extract = opts.extractAnswer ?? task.spec.postprocessor ?? ((o: string) => extractCotAnswer(o));
        predictions[i] = extract(out, ex);
      } else {
        predictions[i] = task.postprocess(out, ex);
      }
    });
  }

  const targets = examples.map((ex) => (ex.answer !== undefined ? ex.answer : ex.targets));
  const metricFns: readonly Metric[] = task.metrics.length > 0 ? task.metrics : [genIdx.length === 0 ? accuracy : exactMatch];
  const metrics: Record<string, number> = {};
  for (const m of metricFns) {
    const r = m(targets, predictions);
    for (const [k, v] of Object.entries(r)) {
      if (typeof v !== 'number') throw new EvalError(`evaluate: metric of task '${task.name}' returned non-number '${k}'`);
      metrics[k] = v;
    }
  }
  const primary = Object.keys(metrics)[0];
  if (primary === undefined) throw new EvalError(`evaluate: task '${task.name}' metrics returned no values`);
  const method = genIdx.length === 0 ? 'rank' : pairs.length === 0 ? 'generate' : 'mixed';
  const report: TaskReport = {
    task: task.name,
    cluster: typeof task.meta.cluster === 'string' ? task.meta.cluster : 'unclustered',
    family: typeof task.meta.family === 'string' ? task.meta.family : null,
    method,
    n: examples.length,
    metrics,
    primary,
    samples: examples.slice(0, keep).map((_, i) => ({ prompt: prompts[i], output: outputs[i], prediction: predictions[i], target: targets[i] })),
    seconds: (Date.now() - t0) / 1000,
  };
  return report;
}

/** Per-cluster and overall averages of task reports. */
export function aggregate(tasks: TaskReport[]): { clusters: ClusterReport[]; overall: Record<string, number> } {
  const avg = (list: TaskReport[]): Record<string, number> => {
    const keys = new Set<string>();
    for (const t of list) for (const k of Object.keys(t.metrics)) keys.add(k);
    const out: Record<string, number> = {};
    for (const k of [...keys].sort()) out[k] = mean(list.filter((t) => k in t.metrics).map((t) => t.metrics[k]));
    out.primary = mean(list.map((t) => t.metrics[t.primary]));
    return out;
  };
  const byCluster = new Map<string, TaskReport[]>();
  for (const t of tasks) {
    const l = byCluster.get(t.cluster) ?? [];
    l.push(t);
    byCluster.set(t.cluster, l);
  }
  const clusters = [...byCluster.keys()].sort().map((c) => {
    const list = byCluster.get(c) as TaskReport[];
    return { cluster: c, tasks: list.length, n: list.reduce((a, t) => a + t.n, 0), metrics: avg(list) };
  });
  return { clusters, overall: avg(tasks) };
}

/** Evaluates a task, a mixture (its leaf tasks) or a list of them; returns the full report. */
export async function evaluate(model: LanguageModel, target: Task | Mixture | Array<Task | Mixture>, opts: EvaluateOptions = {}): Promise<EvalReport> {
  if (!model || typeof model.generate !== 'function' || typeof model.score !== 'function') {
    throw new EvalError('evaluate: model must have generate(prompts, opts) and score(prompts, targets) methods');
  }
  const tasks = leafTasks(target);
  const reports: TaskReport[] = [];
  for (const t of tasks) {
    const r = await evaluateTask(model, t, opts);
    reports.push(r);
    opts.onTask?.(r);
  }
  const { clusters, overall } = aggregate(reports);
  const mode = opts.mode ?? 'zero-shot';
  return {
    model: model.name ?? null,
    mode,
    split: opts.split ?? 'validation',
    shots: opts.shots ?? (mode === 'few-shot' ? 3 : 0),
    seed: opts.seed ?? 0,
    createdAt: new Date().toISOString(),
    tasks: reports,
    clusters,
    overall,
  };
}

function fmtNum(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : '-';
}

function table(header: string[], rows: string[][]): string {
  const w = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (cells: string[]) => cells.map((c, j) => (j === 0 ? c.padEnd(w[j]) : c.padStart(w[j]))).join('  ');
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

/** A plain-text report: one table of tasks, one of clusters, and the overall line. */
export function formatReport(report: EvalReport): string {
  const taskRows = report.tasks.map((t) => [t.task, t.cluster, t.method, String(t.n), t.primary, fmtNum(t.metrics[t.primary]), Object.entries(t.metrics).filter(([k]) => k !== t.primary).map(([k, v]) => `${k}=${fmtNum(v)}`).join(' ')]);
  const clusterRows = report.clusters.map((c) => [c.cluster, String(c.tasks), String(c.n), fmtNum(c.metrics.primary)]);
  return [
    `Evaluation: ${report.model ?? 'model'} · ${report.mode}${report.shots ? ` (${report.shots}-shot)` : ''} · split ${report.split} · seed ${report.seed}`,
    '',
    table(['task', 'cluster', 'method', 'n', 'metric', 'score', 'other'], taskRows),
    '',
    table(['cluster', 'tasks', 'n', 'mean primary'], clusterRows),
    '',
    `overall mean primary: ${fmtNum(report.overall.primary)} over ${report.tasks.length} tasks`,
  ].join('\n');
}

/** Writes the report as JSON (temp file, fsync, rename). */
export function writeReport(report: EvalReport, file: string): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, JSON.stringify(report, null, 2) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
