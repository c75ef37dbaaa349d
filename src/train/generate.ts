/**
 * Sampling from a trained checkpoint (`myriad generate`). `loadTrainedModel` accepts a run
 * directory (holding `checkpoints/`), a checkpoints directory (holding `step_<N>/`) or one
 * `step_<N>` directory, loads the newest intact checkpoint there (or that step), and rebuilds the
 * model and tokenizer from the run record the trainer stored in the checkpoint (`extra.run`: the
 * config, the resolved model spec, the tokenizer). `generateText` then decodes continuations of
 * text prompts with the KV cache — greedy, or temperature / top-k / top-p sampling — through one
 * jitted step function.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { listCheckpoints, loadCheckpoint } from '../checkpoint/index.js';
import { generateTokens, type Model } from '../models/index.js';
import { evalShape } from '../nn/module.js';
import { Array } from '../core/array.js';
import { random } from '../random/index.js';
import type { Tokenizer } from '../data/tokenizer/types.js';
import { buildTokenizer } from './data.js';
import { TrainError } from './errors.js';
import { RUN_FORMAT, buildModel, type RunRecord } from './run.js';
import { checkParamsMatch } from './trainer.js';

/** A model restored from a checkpoint. */
export interface LoadedRun {
  model: Model;
  params: unknown;
  tokenizer: Tokenizer;
  /** The run record (config, model spec, tokenizer). */
  record: RunRecord;
  step: number;
  /** The `step_<N>` directory loaded. */
  checkpointPath: string;
  /** The run directory (parent of `checkpoints/`). */
  runDir: string;
}

function locate(dir: string): { ckptDir: string; step?: number } {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) throw new TrainError(`no such checkpoint directory: ${abs}`);
  const m = /^step_(\d+)$/.exec(path.basename(abs));
  if (m && fs.existsSync(path.join(abs, 'manifest.json'))) return { ckptDir: path.dirname(abs), step: Number(m[1]) };
  if (listCheckpoints(abs).length) return { ckptDir: abs };
  const sub = path.join(abs, 'checkpoints');
  if (fs.existsSync(sub) && listCheckpoints(sub).length) return { ckptDir: sub };
  throw new TrainError(`no checkpoint found in ${abs}; pass a run directory (with checkpoints/), a checkpoints directory (with step_<N>/) or a step_<N> directory`);
}

/** Loads a trained model from a run, checkpoints or step directory (see the module comment). */
export function loadTrainedModel(dir: string, { step }: { step?: number } = {}): LoadedRun {
  const loc = locate(dir);
  const warnings: string[] = [];
  const ck = loadCheckpoint(loc.ckptDir, { step: step ?? loc.step, skipCorrupt: step === undefined && loc.step === undefined, onWarning: (w) => warnings.push(w) });
  for (const w of warnings) process.emitWarning(w, 'MyriadCheckpointWarning');
  const extra = ck.extra as { run?: Partial<RunRecord> } | undefined;
  const rec = extra?.run;
  if (!rec || rec.format !== RUN_FORMAT || !rec.model || !rec.tokenizer || !rec.config) {
    throw new TrainError(`checkpoint ${ck.path} does not record how to rebuild its model (no extra.run of format ${RUN_FORMAT}); it was not written by 'myriad train' / 'myriad demo'`);
  }
  const record = rec as RunRecord;
  const runDir = path.dirname(loc.ckptDir);
  let tokenizer: Tokenizer;
  if (record.tokenizer.kind === 'sentencepiece') {
    const file = path.resolve(runDir, record.tokenizer.model);
    if (!fs.existsSync(file)) throw new TrainError(`the run's tokenizer ${file} is missing; copy the SentencePiece model used for training there`);
    const sha = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    if (record.tokenizer.sha256 && sha !== record.tokenizer.sha256) throw new TrainError(`the tokenizer ${file} differs from the one the model was trained with (SHA-256 ${sha} ≠ ${record.tokenizer.sha256})`);
    tokenizer = buildTokenizer(record.tokenizer, runDir);
  } else tokenizer = buildTokenizer(record.tokenizer);
  const model = buildModel(record.model);
  checkParamsMatch(ck.params, evalShape((k: Array) => model.init(k), random.key(0)), `loading ${ck.path}`);
  return { model, params: ck.params, tokenizer, record, step: ck.step, checkpointPath: ck.path, runDir };
}

/** Options of {@link generateText}. */
export interface GenerateOptions {
  /** Most new tokens per prompt (default 200). */
  maxTokens?: number;
  /** 0 (default): greedy. */
  temperature?: number;
  /** Keep the k most likely tokens (0 = off). */
  topK?: number;
  /** Nucleus sampling threshold (1 = off). */
  topP?: number;
  /** Sampling seed (default 0). */
  seed?: number;
}

/** One generated continuation. */
export interface Generation {
  prompt: string;
  /** The continuation (without the prompt). */
  text: string;
  tokens: number[];
  /** Whether it ended with EOS (else it hit maxTokens). */
  finished: boolean;
  /** log p of the generated tokens under the model. */
  logprob: number;
}

/** Generates continuations of `prompts` (decoder-only: the prompt is the prefix; encoder-decoder: the encoder input). */
export function generateText(run: Pick<LoadedRun, 'model' | 'params' | 'tokenizer'>, prompts: readonly string[], opts: GenerateOptions = {}): Generation[] {
  const { model, params, tokenizer } = run;
  if (!prompts.length) throw new TrainError('generateText needs at least one prompt');
  const maxNewTokens = opts.maxTokens ?? 200;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new TrainError(`maxTokens must be a positive integer, got ${opts.maxTokens}`);
  const encoded = prompts.map((p) => tokenizer.encode(p));
  const inputs = model.family === 'encdec' ? { encoderInputs: encoded.map((ids) => [...ids, tokenizer.eosId]) } : { prompts: encoded };
  const r = generateTokens(model, params, inputs, {
    maxNewTokens,
    temperature: opts.temperature ?? 0,
    topK: opts.topK ?? 0,
    topP: opts.topP ?? 1,
    seed: opts.seed ?? 0,
    eosId: tokenizer.eosId,
    jit: true,
  });
  return prompts.map((prompt, i) => ({ prompt, text: tokenizer.decode(r.tokens[i]), tokens: r.tokens[i], finished: r.finished[i], logprob: r.logprob[i] }));
}
