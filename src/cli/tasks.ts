/**
 * The `myriad tasks …` and `myriad mixture stats` commands: list the built-in task collection,
 * show a family or task (description, templates, variants, split sizes), print rendered samples
 * (any template, few-shot, chain of thought, answer options), and report a mixture's rates, sizes
 * and token counts (bytes when no SentencePiece model is given).
 *
 * Each command is also available as a function returning its text (used by the tests).
 */

import type { Command } from 'commander';
import type { Split, Tokenizer } from '../data/seqio/index.js';
import { SentencePieceTokenizer } from '../data/tokenizer/model.js';
import { ALL_FAMILIES, CLUSTERS, HELD_OUT_CLUSTERS, familiesInCluster } from '../tasks/collection.js';
import { TaskError, unknownNameError } from '../tasks/errors.js';
import type { ClusterName, TaskFamily } from '../tasks/family.js';
import { SPLITS } from '../tasks/rng.js';
import { COT_TEMPLATES, type OptionsMode } from '../tasks/templates.js';
import {
  flanRegistration, flanTaskName, getFlanMixture, getFlanTask, renderFamilyExample, resolveTaskOrFamily,
  taskSize, variantsOf, type Variant,
} from '../tasks/registry.js';

// ----------------------------------------------------------------------------------------------
// helpers

function table(rows: string[][], rightAlign: ReadonlySet<number> = new Set()): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, [...c].length); });
  return rows.map((r) => r.map((c, i) => (rightAlign.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

function parseIntOption(name: string, v: string, min = 0): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new TaskError(`${name} must be an integer >= ${min}, got '${v}'.`);
  return n;
}

function checkSplitName(s: string): Split {
  if (!SPLITS.includes(s as Split)) throw new TaskError(`Unknown split '${s}'; use one of ${SPLITS.join(', ')}.`);
  return s as Split;
}

function checkCluster(c: string): ClusterName {
  if (!CLUSTERS.includes(c as ClusterName)) throw unknownNameError('cluster', c, CLUSTERS, `Clusters: ${CLUSTERS.join(', ')}.`);
  return c as ClusterName;
}

const heldOut = (f: TaskFamily): boolean => HELD_OUT_CLUSTERS.includes(f.cluster);

// ----------------------------------------------------------------------------------------------
// tasks list

/** Options of `tasks list`. */
export interface ListOptions {
  /** List families instead of tasks. */
  families?: boolean;
  cluster?: string;
  /** Only held-out (true) or only training (false) clusters. */
  heldOut?: boolean;
}

/** The text of `myriad tasks list`. */
export function listTasksText(opts: ListOptions = {}): string {
  let fams = ALL_FAMILIES.slice();
  if (opts.cluster !== undefined) fams = familiesInCluster(checkCluster(opts.cluster));
  if (opts.heldOut !== undefined) fams = fams.filter((f) => heldOut(f) === opts.heldOut);
  if (opts.families) {
    const rows = [['family', 'cluster', 'source', 'held-out', 'variants', 'description']];
    for (const f of fams) rows.push([f.name, f.cluster, f.source, heldOut(f) ? 'yes' : 'no', variantsOf(f).join(','), f.description]);
    const clusters = new Set(fams.map((f) => f.cluster));
    return `${table(rows)}\n\n${fams.length} families in ${clusters.size} clusters; held-out clusters: ${HELD_OUT_CLUSTERS.join(', ')}.`;
  }
  const registered = new Set(flanRegistration().tasks);
  const rows = [['task', 'cluster', 'family', 'variant', 'held-out']];
  for (const f of fams) {
    for (const v of variantsOf(f)) {
      const name = flanTaskName(f.name, v);
      if (registered.has(name)) rows.push([name, f.cluster, f.name, v, heldOut(f) ? 'yes' : 'no']);
    }
  }
  return `${table(rows)}\n\n${rows.length - 1} tasks from ${fams.length} families; held-out clusters: ${HELD_OUT_CLUSTERS.join(', ')}.`;
}

// ----------------------------------------------------------------------------------------------
// tasks show

/** The text of `myriad tasks show <task>` (a family or a task name). Reads data to count split sizes. */
export function showTaskText(name: string): string {
  const { family: f, variant } = resolveTaskOrFamily(name);
  const lines: string[] = [];
  lines.push(`${variant ? `task ${name} (family ${f.name}, variant ${variant})` : `family ${f.name}`}`);
  lines.push(`  ${f.description}`);
  lines.push(`cluster:   ${f.cluster}${heldOut(f) ? ' (held out of flan_train)' : ''}`);
  lines.push(`source:    ${f.source}`);
  lines.push(`metric:    ${f.metric}`);
  lines.push(`variants:  ${variantsOf(f).map((v) => flanTaskName(f.name, v)).join(', ')}`);
  lines.push(`options:   ${f.options ? 'yes' : 'no'}    chain of thought: ${f.cot ? 'yes' : 'no'}`);
  const caps = SPLITS.map((s) => {
    const c = f.capacity(s);
    return `${s} ${c === undefined ? 'unbounded' : c} (task uses ${taskSize(f, s)})`;
  });
  lines.push(`split sizes: ${caps.join('; ')}`);
  lines.push(`templates (${f.templates.length}):`);
  f.templates.forEach((t, i) => {
    lines.push(`  #${i}${t.inverted ? ' [inverted]' : ''}`);
    lines.push(`    inputs:  ${JSON.stringify(t.inputs)}`);
    lines.push(`    targets: ${JSON.stringify(t.targets)}`);
  });
  if (f.cot) lines.push(`chain-of-thought templates: ${COT_TEMPLATES.length} (shared by all families)`);
  if (variant) {
    const task = getFlanTask(name);
    lines.push(`task meta: ${JSON.stringify(task.meta)}`);
  }
  return lines.join('\n');
}

// ----------------------------------------------------------------------------------------------
// tasks sample

/** Options of `tasks sample`. */
export interface SampleOptions {
  n?: number;
  template?: number;
  fewShot?: number;
  cot?: boolean;
  options?: OptionsMode;
  split?: string;
  seed?: number;
}

function variantDefaults(v: Variant | undefined): { fewShot: number; cot: boolean; options: OptionsMode } {
  if (!v) return { fewShot: 0, cot: false, options: 'none' };
  return { fewShot: v.startsWith('fs_') ? 3 : 0, cot: v.endsWith('_cot'), options: v.endsWith('_opt') ? 'letters' : 'none' };
}

/** The text of `myriad tasks sample <task>`: rendered examples with their settings. */
export function sampleTaskText(name: string, opts: SampleOptions = {}): string {
  const { family: f, variant } = resolveTaskOrFamily(name);
  const d = variantDefaults(variant);
  const split = checkSplitName(opts.split ?? 'train');
  const n = opts.n ?? 5;
  const seed = opts.seed ?? 0;
  const render = { template: opts.template, fewShot: opts.fewShot ?? d.fewShot, cot: opts.cot ?? d.cot, options: opts.options ?? d.options, seed };
  const out: string[] = [];
  f.generate(split, n, seed).forEach((ex, i) => {
    const r = renderFamilyExample(f, ex, render);
    const t = f.templates[r.templateIndex];
    const notes = [`template #${r.templateIndex}${t.inverted ? ' (inverted)' : ''}`];
    if (r.cotTemplateIndex !== undefined) notes.push(`cot template #${r.cotTemplateIndex}`);
    if (r.exemplarIds.length > 0) notes.push(`${r.exemplarIds.length}-shot`);
    if (render.options !== 'none') notes.push(`options: ${render.options}`);
    out.push(`=== ${f.name} ${split} #${i} — ${notes.join(', ')}`);
    out.push('--- inputs');
    out.push(r.inputs);
    out.push('--- targets');
    out.push(r.targets);
    out.push(`--- answer (scored): ${r.answer}`);
    out.push('');
  });
  return out.join('\n');
}

// ----------------------------------------------------------------------------------------------
// mixture stats

/** Options of `mixture stats`. */
export interface MixtureStatsOptions {
  split?: string;
  /** Examples sampled per task to estimate tokens per example (default 10). */
  sample?: number;
  /** A tokenizer to count with; default: UTF-8 bytes (+1 EOS on targets). */
  tokenizer?: Tokenizer;
  seed?: number;
}

/** Per-task statistics of a mixture. */
export interface MixtureTaskStats {
  task: string;
  rate: number;
  size: number;
  inputsPerExample: number;
  targetsPerExample: number;
  /** size × (inputs + targets) per example. */
  tokens: number;
}

/** The statistics behind `myriad mixture stats`. */
export interface MixtureStats {
  mixture: string;
  split: Split;
  unit: 'tokens' | 'bytes';
  cap: number | undefined;
  temperature: number;
  tasks: MixtureTaskStats[];
  totalSize: number;
  totalTokens: number;
  /** Expected tokens per sampled example (rate-weighted). */
  tokensPerExample: number;
}

const utf8 = new TextEncoder();

/** Computes rates, sizes and (sampled) token counts of a mixture. */
export function mixtureStats(name: string, opts: MixtureStatsOptions = {}): MixtureStats {
  const m = getFlanMixture(name);
  const split = checkSplitName(opts.split ?? 'train');
  const sample = opts.sample ?? 10;
  if (!Number.isInteger(sample) || sample < 1) throw new TaskError(`--sample must be a positive integer, got ${sample}.`);
  const tok = opts.tokenizer;
  const count = (s: string, eos: boolean): number => (tok ? tok.encode(s).length : utf8.encode(s).length) + (eos ? 1 : 0);
  const rates = m.rates(split);
  const tasks: MixtureTaskStats[] = [];
  for (const task of m.tasks()) {
    const size = task.numExamples(split);
    let ins = 0, tgt = 0, k = 0;
    if (size > 0) {
      const inEos = task.outputFeatures.inputs?.addEos ?? false;
      for (const ex of task.getDataset(split, { seed: opts.seed ?? 0, tokenize: false })) {
        ins += count(String(ex.inputs), inEos);
        tgt += count(String(ex.targets), true);
        if (++k >= Math.min(sample, size)) break;
      }
    }
    const inputsPerExample = k ? ins / k : 0;
    const targetsPerExample = k ? tgt / k : 0;
    tasks.push({ task: task.name, rate: rates.get(task.name) ?? 0, size, inputsPerExample, targetsPerExample, tokens: Math.round(size * (inputsPerExample + targetsPerExample)) });
  }
  const totalSize = tasks.reduce((s, t) => s + t.size, 0);
  const totalTokens = tasks.reduce((s, t) => s + t.tokens, 0);
  const tokensPerExample = tasks.reduce((s, t) => s + t.rate * (t.inputsPerExample + t.targetsPerExample), 0);
  return { mixture: m.name, split, unit: tok ? 'tokens' : 'bytes', cap: m.cap, temperature: m.temperature, tasks, totalSize, totalTokens, tokensPerExample };
}

/** The text of `myriad mixture stats <mixture>`. */
export function mixtureStatsText(name: string, opts: MixtureStatsOptions = {}): string {
  const s = mixtureStats(name, opts);
  const u = s.unit;
  const rows = [['task', 'rate', 'size', `inputs ${u}/ex`, `targets ${u}/ex`, `${u} (size x per-ex)`]];
  for (const t of s.tasks) {
    rows.push([t.task, (100 * t.rate).toFixed(3) + '%', String(t.size), t.inputsPerExample.toFixed(1), t.targetsPerExample.toFixed(1), String(t.tokens)]);
  }
  rows.push(['total', '100%', String(s.totalSize), '', '', String(s.totalTokens)]);
  const head = `mixture ${s.mixture}: ${s.tasks.length} tasks, split ${s.split}, cap ${s.cap ?? 'none'}, temperature ${s.temperature}; ` +
    `${u === 'bytes' ? 'counting UTF-8 bytes (+1 EOS on targets; pass --tokenizer <file.model> to count tokens)' : 'counting tokens'}, ` +
    `per-example averages from up to ${opts.sample ?? 10} examples per task.`;
  return `${head}\n${table(rows, new Set([1, 2, 3, 4, 5]))}\nexpected ${u} per sampled example: ${s.tokensPerExample.toFixed(1)}`;
}

// ----------------------------------------------------------------------------------------------
// commander wiring

/**
 * Adds `tasks list|show|sample` and `mixture stats` to the `myriad` program. `write` receives
 * each command's output (default: stdout).
 */
export function registerTaskCommands(program: Command, write: (text: string) => void = (t) => console.log(t)): void {
  const tasks = program.command('tasks').description('Browse the built-in Flan-style task collection');

  tasks
    .command('list')
    .description('List tasks (name, cluster, family, variant, held-out) or, with --families, the families')
    .option('--families', 'list families instead of tasks')
    .option('--cluster <cluster>', `only this cluster (${CLUSTERS.join(', ')})`)
    .option('--held-out', 'only held-out clusters')
    .option('--train', 'only training clusters')
    .action((o: { families?: boolean; cluster?: string; heldOut?: boolean; train?: boolean }) => {
      if (o.heldOut && o.train) throw new TaskError('Use at most one of --held-out and --train.');
      write(listTasksText({ families: o.families, cluster: o.cluster, heldOut: o.heldOut ? true : o.train ? false : undefined }));
    });

  tasks
    .command('show <task>')
    .description('Show a family or task: description, cluster, templates, variants, split sizes')
    .action((name: string) => write(showTaskText(name)));

  tasks
    .command('sample <task>')
    .description('Print rendered examples of a family or task')
    .option('--n <n>', 'number of examples', '5')
    .option('--template <k>', 'template index (default: drawn per example)')
    .option('--few-shot <k>', 'number of few-shot exemplars (default: from the task variant, else 0)')
    .option('--cot', 'chain-of-thought prompt and target')
    .option('--options <mode>', 'answer options: none, plain (OPTIONS: - a) or letters ((A) a)')
    .option('--split <split>', 'train, validation or test', 'train')
    .option('--seed <n>', 'seed', '0')
    .action((name: string, o: { n: string; template?: string; fewShot?: string; cot?: boolean; options?: string; split: string; seed: string }) => {
      if (o.options !== undefined && !['none', 'plain', 'letters'].includes(o.options)) {
        throw new TaskError(`--options must be none, plain or letters, got '${o.options}'.`);
      }
      write(sampleTaskText(name, {
        n: parseIntOption('--n', o.n, 1),
        template: o.template === undefined ? undefined : parseIntOption('--template', o.template),
        fewShot: o.fewShot === undefined ? undefined : parseIntOption('--few-shot', o.fewShot),
        cot: o.cot,
        options: o.options as OptionsMode | undefined,
        split: o.split,
        seed: parseIntOption('--seed', o.seed),
      }));
    });

  const mixture = program.command('mixture').description('Inspect seqio mixtures');
  mixture
    .command('stats <mixture>')
    .description('Rates, sizes and token counts of a mixture (bytes unless --tokenizer is given)')
    .option('--split <split>', 'train, validation or test', 'train')
    .option('--sample <n>', 'examples per task used to estimate tokens per example', '10')
    .option('--tokenizer <file>', 'a SentencePiece .model file to count tokens with')
    .option('--seed <n>', 'seed', '0')
    .option('--json', 'print JSON instead of a table')
    .action((name: string, o: { split: string; sample: string; tokenizer?: string; seed: string; json?: boolean }) => {
      const opts: MixtureStatsOptions = {
        split: o.split,
        sample: parseIntOption('--sample', o.sample, 1),
        seed: parseIntOption('--seed', o.seed),
        tokenizer: o.tokenizer ? SentencePieceTokenizer.load(o.tokenizer) : undefined,
      };
      write(o.json ? JSON.stringify(mixtureStats(name, opts), null, 2) : mixtureStatsText(name, opts));
    });
}

