/**
 * Shared pieces of the engine benchmark (`bench/engine.ts`): the seeded data every library
 * receives (matmul operands, the MLP's initial parameters and batch), the MLP's fixed
 * hyper-parameters, the interfaces each library's runner implements (Myriad, TensorFlow.js,
 * jax-js), timing helpers (warm-up, then a median over timed runs), the cross-library agreement
 * checks, environment probing (CPU, cores, Node, package versions) and the table printer. Nothing
 * here depends on any of the three libraries, so every runner sees byte-identical inputs.
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { MyriadError } from '../src/core/errors.js';

/** Raised when the libraries disagree on a result, or a runner produced something unusable. */
export class BenchCheckError extends MyriadError {}

// ---------------------------------------------------------------------------------------------
// Seeded data
// ---------------------------------------------------------------------------------------------

/** A small seeded PRNG (mulberry32): returns floats in [0, 1). Deterministic across runs. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` float32 values uniform in [lo, hi). */
export function uniform(r: () => number, n: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** `n` float32 values from N(0, std²) (Box–Muller). */
export function normal(r: () => number, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - r();
    const u2 = r();
    const rad = Math.sqrt(-2 * Math.log(u1));
    out[i] = std * rad * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = std * rad * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** The two n×n float32 operands of the matmul benchmark (row-major), uniform in [-1, 1). */
export function matmulData(n: number, seed = 1234 + n): { a: Float32Array; b: Float32Array } {
  const r = rng(seed);
  return { a: uniform(r, n * n, -1, 1), b: uniform(r, n * n, -1, 1) };
}

/** Fixed shape and optimizer of the MLP benchmark: 784-512-10, batch 256, SGD lr 0.1. */
export const MLP = { batch: 256, inDim: 784, hidden: 512, classes: 10, lr: 0.1 } as const;

/** Row-major float32 initial parameters of the MLP (`w1` is [784,512], `w2` is [512,10]). */
export interface MlpParams {
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

/** Initial parameters plus one batch: `x` [256,784] in [0,1), `y` one-hot [256,10]. */
export interface MlpData {
  params: MlpParams;
  x: Float32Array;
  y: Float32Array;
  labels: Int32Array;
}

/**
 * The MLP benchmark's data. Weights use He-uniform initialisation (bound √(6/fan_in)), biases
 * start at zero, pixels are uniform in [0,1), and labels come from a random linear "teacher"
 * (label = argmax of x·T) so the loss really decreases over the timed steps and the
 * cross-library loss check compares a meaningful trajectory, not noise around log(10).
 */
export function mlpData(seed = 20220101): MlpData {
  const r = rng(seed);
  const { batch, inDim, hidden, classes } = MLP;
  const b1Bound = Math.sqrt(6 / inDim);
  const b2Bound = Math.sqrt(6 / hidden);
  const params: MlpParams = {
    w1: uniform(r, inDim * hidden, -b1Bound, b1Bound),
    b1: new Float32Array(hidden),
    w2: uniform(r, hidden * classes, -b2Bound, b2Bound),
    b2: new Float32Array(classes),
  };
  const x = uniform(r, batch * inDim, 0, 1);
  const teacher = normal(r, inDim * classes, 1);
  const labels = new Int32Array(batch);
  const y = new Float32Array(batch * classes);
  const scores = new Float64Array(classes);
  for (let i = 0; i < batch; i++) {
    scores.fill(0);
    for (let k = 0; k < inDim; k++) {
      const xv = x[i * inDim + k] - 0.5;
      for (let c = 0; c < classes; c++) scores[c] += xv * teacher[k * classes + c];
    }
    let best = 0;
    for (let c = 1; c < classes; c++) if (scores[c] > scores[best]) best = c;
    labels[i] = best;
    y[i * classes + best] = 1;
  }
  return { params, x, y, labels };
}

// ---------------------------------------------------------------------------------------------
// Runner interfaces
// ---------------------------------------------------------------------------------------------

/** One prepared matmul of a given size in one library. */
export interface MatmulCase {
  /** Computes A·B with the result materialised on the host (awaitable for async libraries). */
  run(): void | Promise<void>;
  /** The last result, row-major, as a host copy (called once, after timing). */
  read(): Float32Array | Promise<Float32Array>;
  /** Frees library-side memory. */
  dispose(): void;
}

/** One prepared MLP training loop in one library (parameters live inside the case). */
export interface MlpCase {
  /** One SGD step on the batch; returns the loss of the parameters before the update. */
  step(): number | Promise<number>;
  /** Frees library-side memory. */
  dispose(): void;
}

/** A library under test. */
export interface Runner {
  /** Column prefix in the JSON (`myriad`, `myriad2`, `tfjs`, `jaxjs`). */
  key: string;
  /** Human-readable label for the table. */
  label: string;
  /** Prepares an n×n matmul on the given row-major operands. */
  matmul(n: number, a: Float32Array, b: Float32Array): Promise<MatmulCase>;
  /** Prepares the MLP training step from the shared initial parameters and batch. */
  mlp(data: MlpData): Promise<MlpCase>;
}

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new BenchCheckError('median of an empty list (no timed runs?)');
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Wall-clock milliseconds of one (possibly async) call. */
export async function timeOnce(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** One timed workload of `timeInterleaved`. */
export interface Timed {
  fn: () => unknown;
  warmup: number;
  reps: number;
}

/**
 * Times several workloads fairly on a machine whose load may change while the benchmark runs:
 * each is warmed up, then the timed runs are taken round-robin in blocks of `block` consecutive
 * runs per workload (so caches stay warm within a block, and a burst of background load hits
 * every library rather than whichever happened to be running). Returns per-run milliseconds.
 */
export async function timeInterleaved(work: Timed[], block: number): Promise<number[][]> {
  for (const w of work) for (let i = 0; i < w.warmup; i++) await w.fn();
  const times = work.map((): number[] => []);
  while (work.some((w, i) => times[i].length < w.reps)) {
    for (let i = 0; i < work.length; i++) {
      for (let j = 0; j < block && times[i].length < work[i].reps; j++) times[i].push(await timeOnce(work[i].fn));
    }
  }
  return times;
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/** Normwise relative difference max|x−r| / max|r| (∞-norm), NaN-aware (NaN ⇒ Infinity). */
export function relDiff(x: ArrayLike<number>, r: ArrayLike<number>): number {
  if (x.length !== r.length) throw new BenchCheckError(`result lengths differ: ${x.length} vs ${r.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < r.length; i++) {
    const d = Math.abs(x[i] - r[i]);
    if (Number.isNaN(d)) num = Infinity;
    else if (d > num) num = d;
    den = Math.max(den, Math.abs(r[i]));
  }
  return den === 0 ? num : num / den;
}

/** One pairwise comparison performed by the harness. */
export interface CheckResult {
  what: string;
  a: string;
  b: string;
  relDiff: number;
  tol: number;
  ok: boolean;
}

/** Compares every runner's result with the first one's; returns the comparisons made. */
export function compareAll(what: string, results: { key: string; value: ArrayLike<number> }[], tol: number): CheckResult[] {
  const out: CheckResult[] = [];
  const [ref, ...rest] = results;
  for (const r of rest) {
    const d = relDiff(r.value, ref.value);
    out.push({ what, a: r.key, b: ref.key, relDiff: d, tol, ok: d <= tol });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Environment and output
// ---------------------------------------------------------------------------------------------

const requireHere = createRequire(import.meta.url);

/** The installed version of an npm package (read from its package.json), or 'not installed'. */
export function packageVersion(name: string): string {
  try {
    const main = requireHere.resolve(name);
    let dir = path.dirname(main);
    for (let i = 0; i < 6; i++) {
      try {
        const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name && pkg.version) return pkg.version;
      } catch {
        /* keep walking up */
      }
      dir = path.dirname(dir);
    }
  } catch {
    /* not resolvable */
  }
  return 'not installed';
}

/** CPU model, core count, OS and Node version of this machine. */
export function machineInfo(): { cpu: string; cores: number; os: string; node: string } {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

/** The 1-minute load average (runnable processes), to tell a quiet machine from a busy one. */
export function loadAverage(): number {
  return Number(os.loadavg()[0].toFixed(2));
}

/** Formats a number for the table (3 significant digits, '—' for missing). */
export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (v >= 100) return v.toFixed(0);
  return v.toPrecision(digits);
}

/** A plain-text table with right-aligned columns after the first. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
