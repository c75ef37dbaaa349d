/**
 * The `Trainer`: trains any model with `init(key)` and `loss(params, batch, {train, key})` using an
 * optax-shaped optimizer and a resumable stream of batches. It compiles ONE jitted train step —
 * forward, backward (`valueAndGrad`, optionally accumulated over microbatches), optimizer update,
 * metrics (loss, the model's metrics such as token accuracy, gradient global norm, learning rate) —
 * with params and optimizer state donated, and a jitted eval step for the held-out loss,
 * perplexity and token accuracy. Around it: per-step timing (tokens/s, step time, data time, an
 * MFU estimate, see flops.ts), a progress bar or JSON lines (progress.ts) plus `<outDir>/log.jsonl`,
 * the loss curve `<outDir>/loss.svg` and `loss.png` (plot.ts), and atomic checkpoints every N
 * steps with keep-last-N (src/checkpoint) holding params, optimizer state, step, data position,
 * RNG key and caller-supplied JSON (e.g. the config). With `sharding: { mesh, rules? }` the same
 * step is compiled with `jitSharded` for a device mesh instead (sharded.ts): params laid out by
 * the model's logical axes, the batch split over `data`, optimizer state like its params;
 * checkpoints hold the gathered global arrays, so they restore onto any mesh shape.
 *
 * Determinism: everything random derives from one key, `random.key(seed)`. Params are initialized
 * from `foldIn(key, 0)`; step `s` (0-based) uses `foldIn(foldIn(key, 1), s)` (computed inside the
 * jitted step from the step number), so a run is a pure function of the seed, the data stream and
 * the config. Resuming loads params, optimizer state, step, key and data position from the newest
 * intact checkpoint and continues with the same compiled step, so the losses after resuming equal
 * those of the uninterrupted run bit for bit (test/train/trainer.test.ts checks it). Ctrl-C
 * (SIGINT) between steps saves a checkpoint before stopping.
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Array } from '../core/array.js';
import { valueAndGrad } from '../core/autodiff.js';
import { jit, type Jitted } from '../core/jit.js';
import { flatten } from '../core/pytree.js';
import { np } from '../np/index.js';
import { random } from '../random/index.js';
import { optim, type GradientTransformation, type Schedule } from '../optim/index.js';
import { leafPaths } from '../optim/tree_utils.js';
import { listCheckpoints, loadCheckpoint, saveCheckpoint, type JsonValue } from '../checkpoint/index.js';
import { evalShape } from '../nn/module.js';
import { TrainError } from './errors.js';
import { ShardedTrainStep, gatherTree, type ShardingOptions } from './sharded.js';
import { matmulParamCount, measurePeakFlops, trainFlopsPerToken } from './flops.js';
import { writeLossPlots, type CurvePoint } from './plot.js';
import { writeMoeLoadHeatmap } from '../models/moe_common.js';
import { ProgressReporter, readLogRecords, formatDuration, formatRate, type Json, type LogRecord, type OutputStream, type ProgressMode } from './progress.js';

/** A model batch: feature name → Array (int32 [batch, length] for the LM families). */
export type Batch = Record<string, Array>;

/** What the trainer needs from a model. */
export interface TrainableModel<P = any> {
  /** Fresh parameters from a PRNG key. */
  init(key: Array): P;
  /** The scalar training loss and scalar metrics (e.g. accuracy, num_tokens, cross_entropy). */
  loss(params: P, batch: Batch, opts: { train: boolean; key?: Array; [option: string]: unknown }): { loss: Array; metrics: Record<string, Array> };
}

/** An open stream of batches that can say where it is. */
export interface BatchStream {
  next(): IteratorResult<Batch, unknown>;
  /** Plain-JSON position: `source.open(position)` continues right after the last batch returned. */
  readonly position: JsonValue;
}

/** A resumable source of training batches. */
export interface BatchSource {
  /** Opens the stream at its start, or at a position read from an earlier stream. */
  open(position?: JsonValue): BatchStream;
}

/** Options of {@link Trainer}. */
export interface TrainerOptions<P = any> {
  model: TrainableModel<P>;
  optimizer: GradientTransformation;
  /** Training batches (resumable). */
  data: BatchSource;
  /** Held-out batches, iterated from the start at each evaluation. */
  evalData?: () => Iterable<Batch>;
  /** Total optimizer steps. */
  steps: number;
  /** Run directory: log.jsonl, loss.svg/png, checkpoints/. */
  outDir: string;
  /** Seed of `random.key` (default 0). */
  seed?: number;
  /** Evaluate every N steps (0 = only at the end; default 0). */
  evalEvery?: number;
  /** Checkpoint every N steps (0 = only at the end and when interrupted; default 0). */
  checkpointEvery?: number;
  /** Keep the newest N checkpoints (default 3). */
  keepCheckpoints?: number;
  /** Continue from the newest intact checkpoint in `outDir/checkpoints` if there is one. */
  resume?: boolean;
  /** Start over in an `outDir` that holds an earlier run (its checkpoints and log are deleted). */
  overwrite?: boolean;
  /** Console progress (default 'auto': a bar on a TTY, JSON lines otherwise). */
  progress?: ProgressMode;
  /** Console stream (default process.stdout). */
  output?: OutputStream;
  /** JSON mode prints every N-th step (default 10). */
  logEvery?: number;
  /** Split each batch into this many microbatches and accumulate gradients (default 1). */
  microbatches?: number;
  /** Extra options for `model.loss` (e.g. zLoss, labelSmoothing). */
  lossOptions?: Record<string, unknown>;
  /** The optimizer's learning rate, logged per step as `lr` (evaluated at the step inside the jitted step). */
  learningRate?: Schedule | number;
  /** Model FLOPs of one training step for a batch (default 6·N·tokens, N = params minus `flopsExclude`). */
  flopsPerStep?: (batch: Batch) => number;
  /** Param paths (regexps on dotted paths) not counted in N: lookup-only tables. */
  flopsExclude?: RegExp[];
  /** Tokens of a batch for tokens/s (default: elements of `decoder_target_tokens`, else of the first feature). */
  tokensPerBatch?: (batch: Batch) => number;
  /**
   * Peak FLOP/s for MFU: a number (of the whole setup), 'measure' (default: a 1024² matmul, see
   * flops.ts, times the mesh devices that have a core each) or null (no MFU).
   */
  peakFlops?: number | 'measure' | null;
  /** jit backend (default: the global default, 'onnx'). */
  backend?: string;
  /** ONNX Runtime intra-op threads of the compiled steps (default 1). */
  threads?: number;
  /** JSON stored in every checkpoint's `extra.run` (e.g. the config needed to rebuild the model). */
  checkpointExtra?: JsonValue;
  /** Write loss.svg / loss.png (default true; PNG can be turned off with 'svg'). */
  plots?: boolean | 'svg';
  /** Save a checkpoint and stop cleanly on SIGINT (default true). */
  handleSignals?: boolean;
  /**
   * Train on a device mesh (GSPMD, see sharded.ts): `{ mesh: { data: 2, model: 2 }, rules? }`.
   * The model needs `axes()`. Without it, the step is jitted for one device.
   */
  sharding?: ShardingOptions;
}

/** Metrics of one training step. */
export interface StepMetrics {
  step: number;
  loss: number;
  /** The model's scalar metrics (accuracy, cross_entropy, z_loss, num_tokens, …). */
  metrics: Record<string, number>;
  gradNorm: number;
  lr?: number;
  stepTimeS: number;
  dataTimeS: number;
  tokens: number;
  tokensPerS: number;
  mfu?: number;
}

/** Result of an evaluation. */
export interface EvalResult {
  step: number;
  /** Mean cross-entropy per target token (the model's `cross_entropy` metric when present, else its loss). */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  /** Token accuracy (when the model reports `accuracy`). */
  accuracy?: number;
  /** Target tokens (or batches, when the model reports no `num_tokens`). */
  tokens: number;
  batches: number;
  timeS: number;
}

/** Result of {@link Trainer.run}. */
export interface TrainResult {
  /** The step reached. */
  step: number;
  /** 'completed' (reached `steps`), 'stopped' (`stopAtStep`) or 'interrupted' (SIGINT). */
  status: 'completed' | 'stopped' | 'interrupted';
  /** Step this process started from (0, or the resumed checkpoint's step). */
  startStep: number;
  /** Per-step metrics of the steps run by this call. */
  history: StepMetrics[];
  /** Training losses of the whole run (including steps before a resume, from the log). */
  trainCurve: CurvePoint[];
  /** Evaluations of the whole run. */
  evals: EvalResult[];
  lastEval?: EvalResult;
  /** The newest checkpoint directory written. */
  checkpoint?: string;
  /** Median step time (s) and mean tokens/s over this call's steps, excluding the first (compilation). */
  stepTimeS: number;
  tokensPerS: number;
  /** Mean MFU over the same steps (when a peak is known). */
  mfu?: number;
  peakFlops?: number;
  /** Seconds of the first step (tracing and compilation included). */
  firstStepS: number;
  paramCount: number;
  logPath: string;
  svgPath?: string;
  pngPath?: string;
  wallS: number;
}

interface StepOut {
  params: any;
  optState: any;
  loss: Array;
  metrics: Record<string, Array>;
  gradNorm: Array;
  lr: Array;
}

function posInt(v: number | undefined, dflt: number, what: string, min = 1): number {
  const x = v ?? dflt;
  if (!Number.isInteger(x) || x < min) throw new TrainError(`${what} must be an integer ≥ ${min}, got ${String(v)}`);
  return x;
}

function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Compares a loaded params tree against the shapes the model would create; names the first difference. */
export function checkParamsMatch(loaded: unknown, expected: unknown, where: string): void {
  const [la, ld] = flatten(loaded);
  const [ea, ed] = flatten(expected);
  const lp = leafPaths(ld);
  const ep = leafPaths(ed);
  const lset = new Map(lp.map((p, i) => [p, la[i] as Array]));
  for (let i = 0; i < ep.length; i++) {
    const got = lset.get(ep[i]);
    const want = ea[i] as { shape: number[]; dtype: string };
    if (!got) throw new TrainError(`${where}: the checkpoint has no parameter ${ep[i]}; it was written for a different model config`);
    if (got.shape.join(',') !== want.shape.join(',') || got.dtype !== want.dtype) {
      throw new TrainError(`${where}: parameter ${ep[i]} is ${got.dtype}[${got.shape.join(', ')}] in the checkpoint but the model expects ${want.dtype}[${want.shape.join(', ')}]; it was written for a different model config`);
    }
  }
  if (lp.length !== ep.length) {
    const extra = lp.filter((p) => !ep.includes(p));
    throw new TrainError(`${where}: the checkpoint has parameters the model does not (${extra.slice(0, 3).join(', ')}); it was written for a different model config`);
  }
}

/** A batch source over a fixed list of batches, cycled forever (position: the next index). */
export function arrayBatchSource(batches: readonly Batch[]): BatchSource {
  if (!batches.length) throw new TrainError('arrayBatchSource needs at least one batch');
  return {
    open(position?: JsonValue): BatchStream {
      let i = 0;
      if (position !== undefined) {
        const p = position as { kind?: unknown; index?: unknown };
        if (!p || p.kind !== 'array' || typeof p.index !== 'number' || !Number.isInteger(p.index) || p.index < 0) {
          throw new TrainError(`arrayBatchSource: cannot resume from position ${JSON.stringify(position)}; expected {kind: 'array', index}`);
        }
        i = p.index;
      }
      return {
        next: () => ({ done: false, value: batches[i++ % batches.length] }),
        get position(): JsonValue {
          return { kind: 'array', index: i };
        },
      };
    },
  };
}

/** Trains a model; see the module comment. */
export class Trainer<P = any> {
  readonly opts: TrainerOptions<P>;
  readonly outDir: string;
  readonly checkpointDir: string;
  readonly logPath: string;
  private readonly steps: number;
  private readonly evalEvery: number;
  private readonly checkpointEvery: number;
  private readonly keep: number;
  private readonly microbatches: number;
  private readonly threads: number;
  private rng!: Array;
  private _params: any;
  private optState: any;
  private _step = 0;
  private stream!: BatchStream;
  private initialized = false;
  private startStep = 0;
  private trainCurve: CurvePoint[] = [];
  private evals: EvalResult[] = [];
  private stepFn: Jitted<(params: any, optState: any, batch: Batch, rng: Array, step: Array) => StepOut> | null = null;
  private shardedStep: ShardedTrainStep | null = null;
  /** The latest step's metrics of a sparse model (per-layer expert loads), for the heatmap. */
  private lastMoeMetrics: Record<string, number> | null = null;
  private evalFn: Jitted<(params: any, batch: Batch) => { loss: Array; metrics: Record<string, Array> }> | null = null;
  private flopsPerStep: ((b: Batch) => number) | null = null;
  private nParams = 0;
  private lastCheckpoint: { step: number; path: string } | null = null;
  private reporter: ProgressReporter | null = null;
  private pendingMessages: string[] = [];
  private peakValue: number | null | undefined;

  constructor(opts: TrainerOptions<P>) {
    if (!opts || typeof opts !== 'object') throw new TrainError('Trainer needs an options object {model, optimizer, data, steps, outDir}');
    if (!opts.model || typeof opts.model.init !== 'function' || typeof opts.model.loss !== 'function') throw new TrainError('Trainer: model must have init(key) and loss(params, batch, {train, key})');
    if (!opts.optimizer || typeof opts.optimizer.init !== 'function' || typeof opts.optimizer.update !== 'function') throw new TrainError('Trainer: optimizer must be a GradientTransformation {init, update} (see optim)');
    if (!opts.data || typeof opts.data.open !== 'function') throw new TrainError('Trainer: data must be a BatchSource {open(position?)}');
    if (typeof opts.outDir !== 'string' || !opts.outDir) throw new TrainError('Trainer: outDir must be a directory path');
    this.opts = opts;
    this.steps = posInt(opts.steps, NaN, 'steps');
    this.evalEvery = posInt(opts.evalEvery, 0, 'evalEvery', 0);
    this.checkpointEvery = posInt(opts.checkpointEvery, 0, 'checkpointEvery', 0);
    this.keep = posInt(opts.keepCheckpoints, 3, 'keepCheckpoints');
    this.microbatches = posInt(opts.microbatches, 1, 'microbatches');
    this.threads = posInt(opts.threads, 1, 'threads');
    posInt(opts.seed, 0, 'seed', 0);
    this.outDir = path.resolve(opts.outDir);
    this.checkpointDir = path.join(this.outDir, 'checkpoints');
    this.logPath = path.join(this.outDir, 'log.jsonl');
  }

  /** The current params (after `init()`). */
  get params(): P {
    if (!this.initialized) throw new TrainError('Trainer: call init() or run() first');
    return gatherTree(this._params);
  }

  /** The compiled mesh step of a sharded trainer (its shardings), once the first step ran; else null. */
  get sharded(): ShardedTrainStep | null {
    return this.shardedStep;
  }

  /** Steps done so far. */
  get step(): number {
    return this._step;
  }

  /**
   * Creates params and optimizer state (or, with `resume`, loads the newest intact checkpoint)
   * and opens the data stream. Called by `run`; idempotent.
   */
  init(): void {
    if (this.initialized) return;
    const o = this.opts;
    const ckpts = fs.existsSync(this.checkpointDir) ? listCheckpoints(this.checkpointDir) : [];
    if (ckpts.length && !o.resume && !o.overwrite) {
      throw new TrainError(`${this.outDir} already holds a training run (checkpoints at steps ${ckpts.map((c) => c.step).join(', ')}); resume it (resume: true / --resume), start over (overwrite: true / --overwrite), or choose another output directory`);
    }
    if (!o.resume || !ckpts.length) {
      // A fresh start: drop an earlier run's checkpoints (overwrite) and any log or plots left by a run that never checkpointed.
      if (o.resume) this.pendingMessages.push(`no checkpoint in ${this.checkpointDir} to resume from; starting at step 0`);
      fs.rmSync(this.checkpointDir, { recursive: true, force: true });
      for (const f of ['log.jsonl', 'loss.svg', 'loss.png']) fs.rmSync(path.join(this.outDir, f), { force: true });
    }
    const base = random.key(o.seed ?? 0);
    const expected = evalShape((k: Array) => this.opts.model.init(k), random.foldIn(base, 0));
    if (o.resume && ckpts.length) {
      const warnings: string[] = [];
      const ck = loadCheckpoint(this.checkpointDir, { skipCorrupt: true, onWarning: (m) => warnings.push(m) });
      checkParamsMatch(ck.params, expected, `resuming from ${ck.path}`);
      if (ck.optState === undefined) throw new TrainError(`resuming from ${ck.path}: the checkpoint has no optimizer state`);
      if (!(ck.rng instanceof Array)) throw new TrainError(`resuming from ${ck.path}: the checkpoint has no RNG key`);
      if (ck.dataPosition === undefined) throw new TrainError(`resuming from ${ck.path}: the checkpoint has no data position`);
      const fresh = flatten(evalShape((p: unknown) => this.opts.optimizer.init(p), expected))[1];
      const got = flatten(ck.optState)[1];
      if (leafPaths(fresh).join('|') !== leafPaths(got).join('|')) {
        throw new TrainError(`resuming from ${ck.path}: the optimizer state does not match the configured optimizer (was the optimizer changed?)`);
      }
      this._params = ck.params;
      this.optState = ck.optState;
      this.rng = ck.rng;
      this._step = ck.step;
      this.stream = o.data.open(ck.dataPosition);
      this.lastCheckpoint = { step: ck.step, path: ck.path };
      this.restoreHistory(ck.step);
      this.pendingMessages.push(...warnings, `resumed from ${ck.path} (step ${ck.step})`);
    } else {
      this.rng = base;
      this._params = o.model.init(random.foldIn(base, 0));
      this.optState = o.optimizer.init(this._params);
      this._step = 0;
      this.stream = o.data.open();
    }
    this.startStep = this._step;
    const exclude = o.flopsExclude ?? [];
    this.nParams = flatten(this._params)[0].reduce((n: number, l) => n + (l instanceof Array ? l.size : 0), 0);
    const nMatmul = matmulParamCount(this._params, exclude);
    const tokensOf = this.tokensOf;
    this.flopsPerStep = o.flopsPerStep ?? ((b: Batch) => trainFlopsPerToken(nMatmul) * tokensOf(b));
    this.initialized = true;
  }


  private readonly tokensOf = (b: Batch): number => {
    if (this.opts.tokensPerBatch) return this.opts.tokensPerBatch(b);
    const t = b.decoder_target_tokens ?? Object.values(b)[0];
    return t ? t.size : 0;
  };

  /** Rebuilds the loss curve and evals up to `step` from the log (the last record per step wins). */
  private restoreHistory(step: number): void {
    const train = new Map<number, number>();
    const evals = new Map<number, EvalResult>();
    for (const r of readLogRecords(this.logPath)) {
      const s = typeof r.step === 'number' ? r.step : NaN;
      if (!(s <= step)) continue;
      if (r.event === 'step' && typeof r.loss === 'number') train.set(s, r.loss);
      if (r.event === 'eval' && typeof r.loss === 'number') {
        evals.set(s, { step: s, loss: r.loss, perplexity: Number(r.perplexity), accuracy: typeof r.accuracy === 'number' ? r.accuracy : undefined, tokens: Number(r.tokens), batches: Number(r.batches), timeS: Number(r.time_s) });
      }
    }
    this.trainCurve = [...train.entries()].sort((a, b) => a[0] - b[0]).map(([s, v]) => ({ step: s, value: v }));
    this.evals = [...evals.values()].sort((a, b) => a.step - b.step);
  }

  private buildStepFn(): NonNullable<Trainer['stepFn']> {
    return jit(this.stepFunction(), { donateArgnums: [0, 1], backend: this.opts.backend, intraOpNumThreads: this.threads });
  }

  /** The pure train step (traced by jit, or by jitSharded on a mesh). */
  private stepFunction(): (params: any, optState: any, batch: Batch, rng: Array, step: Array) => StepOut {
    const { model, optimizer } = this.opts;
    const lossOpts = this.opts.lossOptions ?? {};
    const k = this.microbatches;
    const lr = this.opts.learningRate;
    const trainStep = (params: any, optState: any, batch: Batch, rng: Array, step: Array): StepOut => {
      const key = random.foldIn(random.foldIn(rng, 1), step);
      const lossFn = (p: any, b: Batch, kk: Array) => {
        const out = model.loss(p, b, { ...lossOpts, train: true, key: kk });
        return [out.loss, out.metrics];
      };
      let loss: Array;
      let metrics: Record<string, Array>;
      let grads: any;
      if (k === 1) {
        const [[l, m], g] = valueAndGrad((p: any) => lossFn(p, batch, key), { hasAux: true })(params);
        [loss, metrics, grads] = [l, m, g];
      } else {
        const mbs = optim.splitMicrobatches(batch, k);
        const [[l, ms], g] = optim.accumulateGrads((p: any, mb: { b: Batch; i: number }) => lossFn(p, mb.b, random.foldIn(key, mb.i)), params, mbs.map((b, i) => ({ b, i })), { hasAux: true });
        loss = l;
        grads = g;
        const list = ms as Record<string, Array>[];
        metrics = {};
        for (const name of Object.keys(list[0])) {
          // Token counts add up; the per-token means are weighted by each microbatch's tokens when known.
          if (name === 'num_tokens') metrics[name] = list.map((m) => m[name]).reduce((a, b) => np.add(a, b));
          else if (list[0].num_tokens) {
            const tot = np.maximum(list.map((m) => m.num_tokens).reduce((a, b) => np.add(a, b)), 1e-8);
            metrics[name] = np.divide(list.map((m) => np.multiply(m[name], m.num_tokens)).reduce((a, b) => np.add(a, b)), tot);
          } else metrics[name] = np.divide(list.map((m) => m[name]).reduce((a, b) => np.add(a, b)), list.length);
        }
      }
      const [updates, newOpt] = optimizer.update(grads, optState, params);
      const newParams = optim.applyUpdates(params, updates);
      const lrVal = lr === undefined ? np.array(NaN, { dtype: 'float32' }) : typeof lr === 'number' ? np.array(lr, { dtype: 'float32' }) : np.asarray(lr(step));
      return { params: newParams, optState: newOpt, loss, metrics, gradNorm: optim.globalNorm(grads), lr: lrVal };
    };
    return trainStep;
  }

  /** Takes one training step on the next batch; returns its metrics. (On a mesh use {@link trainStepAsync}.) */
  trainStep(): StepMetrics {
    this.init();
    if (this.opts.sharding) throw new TrainError('Trainer.trainStep: a sharded trainer runs its steps on worker devices; call await trainStepAsync() (run() does)');
    if (!this.stepFn) this.stepFn = this.buildStepFn();
    const t0 = performance.now();
    const batch = this.nextBatch();
    const t1 = performance.now();
    const out = this.stepFn(this._params, this.optState, batch, this.rng, Array.scalar(this._step, 'int32'));
    return this.finishStep(out, batch, t0, t1);
  }

  /** Takes one training step (on the mesh when `sharding` is set, else as {@link trainStep}). */
  async trainStepAsync(): Promise<StepMetrics> {
    if (!this.opts.sharding) return this.trainStep();
    this.init();
    if (!this.shardedStep) this.shardedStep = new ShardedTrainStep(this.stepFunction(), this.opts.model as { axes?: () => unknown }, this._params, this.optState, this.opts.sharding);
    const t0 = performance.now();
    const batch = this.nextBatch();
    const t1 = performance.now();
    const out = await this.shardedStep.run(this._params, this.optState, batch, this.rng, Array.scalar(this._step, 'int32'));
    return this.finishStep(out, batch, t0, t1);
  }

  private nextBatch(): Batch {
    const r = this.stream.next();
    if (r.done) throw new TrainError(`the training data ran out after ${this._step} steps; make the data stream repeat (seqio getDataset({repeat: true})) or train for fewer steps`);
    return r.value;
  }

  private finishStep(out: StepOut, batch: Batch, t0: number, t1: number): StepMetrics {
    const loss = Number(out.loss.item());
    const metrics: Record<string, number> = {};
    for (const [k, v] of Object.entries(out.metrics)) metrics[k] = Number(v.item());
    const gradNorm = Number(out.gradNorm.item());
    const lr = Number(out.lr.item());
    const t2 = performance.now();
    if (!Number.isFinite(loss)) {
      throw new TrainError(`the training loss became ${loss} at step ${this._step + 1} (gradient norm ${gradNorm}); lower the learning rate, add gradient clipping, or check the data. The last checkpoint${this.lastCheckpoint ? ` (step ${this.lastCheckpoint.step}, ${this.lastCheckpoint.path})` : ''} is intact`);
    }
    this._params = out.params;
    this.optState = out.optState;
    this._step++;
    const stepTimeS = (t2 - t1) / 1000;
    const tokens = this.tokensOf(batch);
    const m: StepMetrics = { step: this._step, loss, metrics, gradNorm, stepTimeS, dataTimeS: (t1 - t0) / 1000, tokens, tokensPerS: tokens / stepTimeS };
    if (Number.isFinite(lr)) m.lr = lr;
    const peak = this.peak();
    if (peak && this.flopsPerStep) m.mfu = this.flopsPerStep(batch) / stepTimeS / peak;
    this.trainCurve.push({ step: this._step, value: loss });
    if (Object.keys(metrics).some((k) => k.includes('/expert_load/'))) this.lastMoeMetrics = metrics;
    return m;
  }

  private peak(): number | null {
    if (this.peakValue !== undefined) return this.peakValue;
    const p = this.opts.peakFlops === undefined ? 'measure' : this.opts.peakFlops;
    if (p === null) this.peakValue = null;
    else if (p === 'measure') {
      // a mesh runs one single-threaded device per worker: its peak is one device's times the
      // devices that get a core of their own (virtual devices beyond the cores share them)
      const devices = this.opts.sharding ? Object.values(this.opts.sharding.mesh).reduce((a, b) => a * b, 1) : 1;
      this.peakValue = measurePeakFlops({ backend: this.opts.backend ?? 'onnx', threads: this.threads }).flopsPerSecond * Math.min(devices, os.availableParallelism());
    }
    else if (typeof p === 'number' && p > 0) this.peakValue = p;
    else throw new TrainError(`peakFlops must be a positive number, 'measure' or null, got ${JSON.stringify(p)}`);
    return this.peakValue;
  }

  /** Evaluates the current params on `evalData` (held-out loss, perplexity, token accuracy). */
  evaluate(): EvalResult {
    this.init();
    if (!this.opts.evalData) throw new TrainError('Trainer.evaluate: no evalData was given');
    if (!this.evalFn) {
      const { model } = this.opts;
      const lossOpts = this.opts.lossOptions ?? {};
      this.evalFn = jit((params: any, batch: Batch) => model.loss(params, batch, { ...lossOpts, train: false }), { backend: this.opts.backend, intraOpNumThreads: this.threads });
    }
    const t0 = performance.now();
    let lossSum = 0;
    let accSum = 0;
    let weight = 0;
    let batches = 0;
    let hasAcc = false;
    const params = gatherTree(this._params);
    for (const b of this.opts.evalData()) {
      const out = this.evalFn(params, b);
      const ce = Number((out.metrics.cross_entropy ?? out.loss).item());
      const n = out.metrics.num_tokens ? Number(out.metrics.num_tokens.item()) : 1;
      if (n === 0) continue;
      lossSum += ce * n;
      if (out.metrics.accuracy) {
        hasAcc = true;
        accSum += Number(out.metrics.accuracy.item()) * n;
      }
      weight += n;
      batches++;
    }
    if (weight === 0) throw new TrainError('Trainer.evaluate: the held-out data has no target tokens (is the eval split empty?)');
    const loss = lossSum / weight;
    const res: EvalResult = { step: this._step, loss, perplexity: Math.exp(loss), tokens: weight, batches, timeS: (performance.now() - t0) / 1000 };
    if (hasAcc) res.accuracy = accSum / weight;
    this.evals = this.evals.filter((e) => e.step !== res.step);
    this.evals.push(res);
    return res;
  }

  /** Saves a checkpoint of the current state (params, optimizer state, step, data position, RNG, extra). */
  saveCheckpoint(): { path: string; bytes: number; timeS: number } {
    this.init();
    const t0 = performance.now();
    const extra: Record<string, JsonValue> = { trainer: { steps: this.steps, seed: this.opts.seed ?? 0 } };
    if (this.opts.checkpointExtra !== undefined) extra.run = this.opts.checkpointExtra;
    const last = this.trainCurve[this.trainCurve.length - 1];
    if (last && last.step === this._step) extra.loss = last.value;
    const r = saveCheckpoint(this.checkpointDir, {
      params: gatherTree(this._params),
      optState: gatherTree(this.optState),
      step: this._step,
      dataPosition: this.stream.position,
      rng: this.rng,
      extra,
    }, { keep: this.keep, overwrite: true });
    this.lastCheckpoint = { step: r.step, path: r.path };
    return { path: r.path, bytes: r.bytes, timeS: (performance.now() - t0) / 1000 };
  }

  /**
   * Writes loss.svg (and loss.png) from the run's curves so far, and for sparse models the
   * per-layer × per-expert load of the latest step as expert_load.svg/.png (+ .json).
   */
  writePlots(): { svg?: string; png?: string } {
    const p = this.opts.plots ?? true;
    if (p === false) return {};
    if (this.lastMoeMetrics) {
      const title = `expert load at step ${this._step} (share of dispatched tokens)`;
      writeMoeLoadHeatmap(path.join(this.outDir, 'expert_load.svg'), this.lastMoeMetrics, title);
      if (p === true) writeMoeLoadHeatmap(path.join(this.outDir, 'expert_load.png'), this.lastMoeMetrics, title);
    }
    return writeLossPlots(this.outDir, { train: this.trainCurve, eval: this.evals.map((e) => ({ step: e.step, value: e.loss })), title: 'training loss' }, { png: p === true });
  }

  /**
   * Trains until `steps` (or `stopAtStep`), evaluating, checkpointing, logging and plotting as
   * configured; finishes with an evaluation (when there is held-out data), a checkpoint and the
   * plots. Yields to the event loop between steps so that SIGINT can stop it cleanly.
   */
  async run({ stopAtStep }: { stopAtStep?: number } = {}): Promise<TrainResult> {
    const wall0 = performance.now();
    if (stopAtStep !== undefined && (!Number.isInteger(stopAtStep) || stopAtStep < 1)) throw new TrainError(`stopAtStep must be a positive integer, got ${stopAtStep}`);
    fs.mkdirSync(this.outDir, { recursive: true });
    this.init();
    const rep = (this.reporter = new ProgressReporter({ mode: this.opts.progress, stream: this.opts.output, logFile: this.logPath, logEvery: this.opts.logEvery, totalSteps: this.steps }));
    const target = Math.min(this.steps, stopAtStep ?? this.steps);
    const history: StepMetrics[] = [];
    let interrupted = false;
    const onSigint = () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      rep.info('interrupt received: saving a checkpoint after this step (press Ctrl-C again to quit without saving)');
    };
    const handle = this.opts.handleSignals ?? true;
    if (handle) process.on('SIGINT', onSigint);
    let status: TrainResult['status'] = 'completed';
    try {
      for (const m of this.pendingMessages) rep.info(m);
      this.pendingMessages = [];
      const peak = this.peak();
      rep.record({
        event: this.startStep > 0 ? 'resume' : 'start',
        time: new Date().toISOString(),
        step: this._step,
        steps: this.steps,
        params: this.nParams,
        peak_flops: peak,
        ...(this.opts.sharding ? { mesh: { ...this.opts.sharding.mesh } } : {}),
        text: `${this.startStep > 0 ? 'resuming' : 'training'} ${this.nParams.toLocaleString('en-US')} parameters for ${this.steps} steps${this.startStep > 0 ? ` from step ${this.startStep}` : ''}` +
          (this.opts.sharding ? ` on a mesh of ${Object.values(this.opts.sharding.mesh).reduce((a, b) => a * b, 1)} devices (${Object.entries(this.opts.sharding.mesh).map(([k, v]) => `${k}=${v}`).join(', ')})` : '') +
          (peak ? ` (peak ${(peak / 1e9).toFixed(1)} GFLOP/s measured on a 1024² matmul)` : ''),
      });
      let savedAt = this.lastCheckpoint?.step ?? -1;
      const save = () => {
        if (savedAt === this._step) return;
        const c = this.saveCheckpoint();
        savedAt = this._step;
        rep.record({ event: 'checkpoint', step: this._step, path: c.path, bytes: c.bytes, time_s: round(c.timeS, 4) });
      };
      const doEval = () => {
        const e = this.evaluate();
        const rec: LogRecord = { event: 'eval', step: e.step, loss: e.loss, perplexity: e.perplexity, tokens: e.tokens, batches: e.batches, time_s: round(e.timeS, 4) };
        if (e.accuracy !== undefined) rec.accuracy = e.accuracy;
        rep.record(rec);
      };
      const recent: number[] = [];
      while (this._step < target) {
        if (interrupted) {
          status = 'interrupted';
          break;
        }
        const m = this.opts.sharding ? await this.trainStepAsync() : this.trainStep();
        history.push(m);
        if (history.length > 1 || this.startStep > 0) recent.push(m.stepTimeS + m.dataTimeS);
        if (recent.length > 20) recent.shift();
        const per = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : m.stepTimeS;
        const rec: LogRecord = { event: 'step', step: m.step, loss: m.loss };
        for (const [k, v] of Object.entries(m.metrics)) rec[k] = v;
        Object.assign(rec, {
          grad_norm: m.gradNorm,
          ...(m.lr !== undefined ? { lr: m.lr } : {}),
          tokens: m.tokens,
          tokens_per_s: round(m.tokensPerS, 1),
          step_time_s: round(m.stepTimeS, 5),
          data_time_s: round(m.dataTimeS, 5),
          ...(m.mfu !== undefined ? { mfu: sig(m.mfu, 4) } : {}),
          elapsed_s: round((performance.now() - wall0) / 1000, 3),
          eta_s: round(per * (this.steps - m.step), 1),
        });
        rep.record(rec);
        const more = this._step < target;
        if (this.opts.evalData && this.evalEvery && this._step % this.evalEvery === 0 && more) {
          doEval();
          this.writePlots();
        }
        if (this.checkpointEvery && this._step % this.checkpointEvery === 0 && more) {
          save();
          this.writePlots();
        }
        if (more) await new Promise<void>((r) => setImmediate(r));
      }
      if (status === 'completed' && this._step < this.steps) status = 'stopped';
      if (status === 'completed' && this.opts.evalData && this.evals[this.evals.length - 1]?.step !== this._step) doEval();
      save();
      const plots = this.writePlots();
      const timed = history.slice(this.startStep > 0 ? 0 : 1);
      const stepTimeS = median(timed.map((h) => h.stepTimeS));
      const tokensPerS = timed.length ? timed.reduce((a, h) => a + h.tokens, 0) / timed.reduce((a, h) => a + h.stepTimeS, 0) : NaN;
      const mfus = timed.map((h) => h.mfu).filter((x): x is number => x !== undefined);
      const result: TrainResult = {
        step: this._step,
        status,
        startStep: this.startStep,
        history,
        trainCurve: [...this.trainCurve],
        evals: [...this.evals],
        lastEval: this.evals[this.evals.length - 1],
        checkpoint: this.lastCheckpoint?.path,
        stepTimeS,
        tokensPerS,
        mfu: mfus.length ? mfus.reduce((a, b) => a + b, 0) / mfus.length : undefined,
        peakFlops: peak ?? undefined,
        firstStepS: history.length ? history[0].stepTimeS : NaN,
        paramCount: this.nParams,
        logPath: this.logPath,
        svgPath: plots.svg,
        pngPath: plots.png,
        wallS: (performance.now() - wall0) / 1000,
      };
      const endRec: LogRecord = {
        event: 'end',
        status,
        step: this._step,
        step_time_s: round(stepTimeS, 5),
        tokens_per_s: round(tokensPerS, 1),
        ...(result.mfu !== undefined ? { mfu: sig(result.mfu, 4) } : {}),
        first_step_s: round(result.firstStepS, 3),
        wall_s: round(result.wallS, 2),
        checkpoint: result.checkpoint ?? null,
        text: `${status === 'completed' ? 'finished' : status} at step ${this._step}: ${formatRate(tokensPerS)} tokens/s, ${(stepTimeS * 1000).toFixed(0)} ms/step` +
          (result.mfu !== undefined ? `, MFU ${(result.mfu * 100).toFixed(1)}%` : '') + `, first step (compile) ${result.firstStepS.toFixed(2)} s, wall ${formatDuration(result.wallS)}`,
      };
      if (result.lastEval) {
        endRec.eval_loss = result.lastEval.loss;
        endRec.perplexity = result.lastEval.perplexity;
      }
      // on a mesh: where the last step's time went (the slowest device's share of each part)
      const prof = this.shardedStep?.lastStepProfile;
      if (prof) {
        const worst = (k: 'computeMs' | 'collectiveMs' | 'sendMs' | 'returnMs') => round(Math.max(...prof.devices.map((d) => d[k])), 2);
        endRec.mesh_step_ms = { compute: worst('computeMs'), collectives: worst('collectiveMs'), send: worst('sendMs'), return: worst('returnMs'), wall: round(prof.wallMs, 2) };
        endRec.text += `; last mesh step ${prof.wallMs.toFixed(0)} ms: compute (ONNX Runtime and fused kernels) ${worst('computeMs')} ms, collectives (incl. waiting) ${worst('collectiveMs')} ms on the slowest device`;
      }
      rep.record(endRec);
      return result;
    } finally {
      if (handle) process.off('SIGINT', onSigint);
      rep.close();
      this.reporter = null;
    }
  }

  /** Releases the compiled steps (and ends the mesh's workers of a sharded trainer: await it). */
  close(): Promise<void> {
    this.stepFn?.close();
    this.evalFn?.close();
    this.stepFn = null;
    this.evalFn = null;
    const sh = this.shardedStep;
    this.shardedStep = null;
    return sh ? sh.close() : Promise.resolve();
  }
}

function sig(v: number, digits: number): Json {
  return Number.isFinite(v) ? Number(v.toPrecision(digits)) : null;
}

function round(v: number, digits: number): Json {
  if (!Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

