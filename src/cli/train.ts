/**
 * The training commands of the `myriad` CLI: `myriad demo` (the main job: a small byte-level LM
 * on the UDHR, see src/demo/lm.ts), `myriad train --config <file.json>` (any model a train config
 * describes, see src/train/config.ts) and `myriad generate --checkpoint <dir> --prompt "…"`
 * (samples from a saved run). `registerTrainCommands(program)` adds them to a commander program;
 * bad input raises a `MyriadError` (ConfigError / TrainError) that the CLI prints.
 */

import type { Command } from 'commander';
import { runLmDemo, DEMO_STEPS } from '../demo/lm.js';
import { loadTrainConfig } from '../train/config.js';
import { ConfigError } from '../train/errors.js';
import { generateText, loadTrainedModel } from '../train/generate.js';
import { formatRate, type OutputStream, type ProgressMode } from '../train/progress.js';
import { runTraining } from '../train/run.js';
import { parseMeshSpec } from '../train/sharded.js';

/** Where the commands write (default process.stdout); tests pass their own stream. */
export interface TrainCommandIO {
  stdout?: OutputStream;
}

function intOpt(name: string, min: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new ConfigError(`${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}

function numOpt(name: string, check: (n: number) => boolean, what: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || !check(n)) throw new ConfigError(`${name} must be ${what}, got '${v}'`);
    return n;
  };
}

const PROGRESS_MODES = ['auto', 'bar', 'json', 'none'];
function progressOpt(v: string): ProgressMode {
  if (!PROGRESS_MODES.includes(v)) throw new ConfigError(`--progress must be one of ${PROGRESS_MODES.join(', ')}, got '${v}'`);
  return v as ProgressMode;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** Adds `demo`, `train` and `generate` to `program`. */
export function registerTrainCommands(program: Command, io: TrainCommandIO = {}): void {
  const out = () => io.stdout ?? process.stdout;
  const say = (s: string) => out().write(s + '\n');

  program
    .command('demo')
    .description('Run the main job: train a small byte-level sparse (GLaM-style MoE) causal LM on the UDHR (24 languages) for ~2–3 minutes, report held-out perplexity, save a checkpoint, a loss curve and an expert-load map, print samples')
    .option('--out <dir>', 'output directory', 'myriad-demo')
    .option('--steps <n>', `training steps (default ${DEMO_STEPS})`, intOpt('--steps', 1))
    .option('--seed <n>', 'random seed', intOpt('--seed', 0), 0)
    .option('--resume', 'continue the run in --out from its newest checkpoint instead of starting over')
    .option('--progress <mode>', 'auto (bar on a terminal, JSON lines otherwise), bar, json or none', progressOpt)
    .option('--dense', 'train the dense tiny DecoderLM instead of the sparse GLaM-style model')
    .action(async (o: { out: string; steps?: number; seed: number; resume?: boolean; progress?: ProgressMode; dense?: boolean }) => {
      await runLmDemo({ outDir: o.out, steps: o.steps, seed: o.seed, resume: o.resume, progress: o.progress, dense: o.dense, output: out() });
    });

  program
    .command('train')
    .description('Train the model a JSON train config describes (see docs/training.md)')
    .requiredOption('--config <file>', 'train config (JSON)')
    .option('--out <dir>', "override the config's outDir")
    .option('--steps <n>', "override the config's steps", intOpt('--steps', 1))
    .option('--resume', 'continue from the newest checkpoint in the output directory')
    .option('--overwrite', 'start over in an output directory that holds an earlier run (deletes its checkpoints and log)')
    .option('--progress <mode>', 'auto, bar, json or none (overrides the config)', progressOpt)
    .option('--mesh <axes>', "train on a device mesh (GSPMD), e.g. data=2, data=2,model=2 or data=2,expert=2; 'none' for one device (overrides the config's mesh)")
    .action(async (o: { config: string; out?: string; steps?: number; resume?: boolean; overwrite?: boolean; progress?: ProgressMode; mesh?: string }) => {
      if (o.resume && o.overwrite) throw new ConfigError('--resume and --overwrite exclude each other');
      const overrides: Record<string, unknown> = {};
      if (o.mesh !== undefined) {
        const none = o.mesh.trim() === 'none';
        overrides.mesh = none ? undefined : parseMeshSpec(o.mesh);
        if (none) overrides.shardingRules = undefined;
      }
      if (o.out !== undefined) overrides.outDir = o.out;
      if (o.steps !== undefined) overrides.steps = o.steps;
      const cfg = loadTrainConfig(o.config, overrides);
      const r = await runTraining(cfg, { output: out(), progress: o.progress, resume: o.resume, overwrite: o.overwrite });
      const ev = r.lastEval;
      say(`${r.status} at step ${r.step}: ${formatRate(r.tokensPerS)} tokens/s, ${(r.stepTimeS * 1000).toFixed(1)} ms/step` +
        (ev ? `; held-out loss ${ev.loss.toFixed(4)}, perplexity ${ev.perplexity.toFixed(3)}${ev.accuracy !== undefined ? `, token accuracy ${ev.accuracy.toFixed(3)}` : ''}` : '') +
        `; checkpoint ${r.checkpoint}; loss curve ${r.svgPath ?? '(off)'}`);
    });

  program
    .command('generate')
    .description('Sample continuations from a checkpoint written by `myriad train` or `myriad demo`')
    .requiredOption('--checkpoint <dir>', 'run directory, its checkpoints/ directory, or one step_<N> directory')
    .requiredOption('--prompt <text>', 'prompt (repeat for several)', collect)
    .option('--max-tokens <n>', 'most new tokens per sample', intOpt('--max-tokens', 1), 200)
    .option('--temperature <t>', '0 = greedy; > 0 samples', numOpt('--temperature', (n) => n >= 0, 'a number ≥ 0'), 0)
    .option('--top-k <k>', 'sample among the k most likely tokens (0 = off)', intOpt('--top-k', 0), 0)
    .option('--top-p <p>', 'nucleus sampling threshold in (0, 1] (1 = off)', numOpt('--top-p', (n) => n > 0 && n <= 1, 'in (0, 1]'), 1)
    .option('--seed <n>', 'sampling seed', intOpt('--seed', 0), 0)
    .option('--num-samples <n>', 'samples per prompt', intOpt('--num-samples', 1), 1)
    .option('--step <n>', 'load this step instead of the newest', intOpt('--step', 0))
    .option('--json', 'print one JSON object per sample')
    .action((o: { checkpoint: string; prompt: string[]; maxTokens: number; temperature: number; topK: number; topP: number; seed: number; numSamples: number; step?: number; json?: boolean }) => {
      if (o.numSamples > 1 && o.temperature === 0) throw new ConfigError('--num-samples > 1 needs --temperature > 0 (greedy decoding gives the same text every time)');
      const run = loadTrainedModel(o.checkpoint, { step: o.step });
      const prompts = o.prompt.flatMap((p) => globalThis.Array.from({ length: o.numSamples }, () => p));
      const gens = generateText(run, prompts, { maxTokens: o.maxTokens, temperature: o.temperature, topK: o.topK, topP: o.topP, seed: o.seed });
      if (!o.json) say(`# ${run.checkpointPath} (step ${run.step})`);
      for (const g of gens) {
        if (o.json) say(JSON.stringify({ prompt: g.prompt, text: g.text, finished: g.finished, logprob: g.logprob, tokens: g.tokens.length, step: run.step }));
        else say(run.model.family === 'encdec' ? `${g.prompt} → ${g.text}${g.finished ? '' : ' …'}` : `${g.prompt}${g.text}${g.finished ? '' : ' …'}`);
      }
    });
}
