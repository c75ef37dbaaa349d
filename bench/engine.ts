/**
 * The engine benchmark (issue 3): Myriad's `jit` against TensorFlow.js (wasm backend) and jax-js
 * (wasm device, `jit`), in one process on one machine with the same seeded data. It measures
 * (1) float32 matmul GFLOP/s (2n³ flops per product) for n = 256, 512, 1024, and (2) the time of
 * one training step (forward + backward + SGD update) of a 784-512-10 ReLU MLP with softmax
 * cross-entropy on a batch of 256, plus the first call of that step (trace + compile + run) as
 * its compile time. Every figure is a median over timed runs after warm-up; the libraries' timed
 * runs are interleaved in blocks (see `timeInterleaved`) so background load on a small shared
 * machine hits all of them alike, and the load average is recorded. Myriad is measured
 * with its default (1 intra-op thread per executable) and with `intraOpNumThreads: 2`. Before a
 * figure is reported the three libraries' results are compared (matmul products within 1e-3
 * relative, MLP losses after the same number of steps within 1e-3); any disagreement fails the
 * run with exit code 1 after printing and writing what was measured.
 *
 * Usage: `npm run bench:engine -- [--json out.json] [--reps 30] [--warmup 3] [--block 5]
 * [--sizes 256,512,1024] [--myriad-backend onnx|reference] [--quick]`
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
import { jaxjsInfo, jaxjsRunner } from './peers/jaxjs.js';
import { tfjsInfo, tfjsMlp, tfjsRunner } from './peers/tfjs.js';

/** Relative tolerance of the cross-library agreement checks. */
const TOL = 1e-3;

interface Config {
  json: string | null;
  reps: number;
  warmup: number;
  sizes: number[];
  myriadBackend: string;
  block: number;
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ValueError(`${flag} must be a positive integer, got ${JSON.stringify(v)}`);
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
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      'npm run bench:engine -- [--json FILE] [--reps N≥20] [--warmup N] [--block N] [--sizes 256,512,1024] [--myriad-backend onnx|reference] [--quick]\n' +
        '  --block N: timed runs are taken round-robin across libraries, N consecutive runs each (default 5).\n' +
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
  return { json: values.json ?? null, reps, warmup: positiveInt(values.warmup, '--warmup'), sizes, myriadBackend: backend, block: positiveInt(values.block, '--block') };
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

async function main(): Promise<void> {
  const cfg = parseConfig(process.argv.slice(2));
  const onnx = cfg.myriadBackend === 'onnx';
  const runners: Runner[] = [
    myriadRunner({ backend: cfg.myriadBackend, key: 'myriad' }),
    ...(onnx ? [myriadRunner({ backend: cfg.myriadBackend, key: 'myriad2', intraOpNumThreads: 2 })] : []),
    tfjsRunner,
    jaxjsRunner,
  ];
  const keys = ['myriad', 'myriad2', 'tfjs', 'jaxjs'];
  const mlpKeys = [...keys, 'tfjs_autodiff'];
  const tf = await tfjsInfo();
  const loadBefore = loadAverage();
  if (loadBefore > 0.5) console.error(`warning: 1-minute load average is ${loadBefore} on ${machineInfo().cores} cores; other processes are competing for the CPU and the figures will be noisy`);

  console.error(`engine benchmark: Myriad backend ${cfg.myriadBackend}, ${cfg.reps} timed runs after ${cfg.warmup} warm-up`);
  const mlpEntries: MlpEntry[] = [
    ...runners.map((r) => ({ key: r.key, label: r.key === 'tfjs' ? `${r.label}, hand-written gradients` : r.label, make: (d: MlpData) => r.mlp(d) })),
    { key: 'tfjs_autodiff', label: 'TensorFlow.js (wasm, optimizer.minimize)', make: (d: MlpData) => tfjsMlp(d, 'autodiff') },
  ];
  const mlp = await benchMlp(mlpEntries, cfg);
  const mm = await benchMatmul(runners, cfg);
  const jx = jaxjsInfo();

  const mlpBy = new Map(mlp.results.map((r) => [r.key, r]));
  const out = {
    matmul: mm.results.map((r) => {
      const row: Record<string, number | null> = { n: r.n };
      for (const k of keys) row[`${k}_gflops`] = r.gflops[k] ?? null;
      return row;
    }),
    mlp: Object.fromEntries([
      ...mlpKeys.map((k) => [`${k}_ms`, mlpBy.get(k)?.stepMs ?? null]),
      ...mlpKeys.map((k) => [`${k}_compile_ms`, mlpBy.get(k)?.compileMs ?? null]),
    ]),
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
        matmul: Object.fromEntries(mm.results.map((r) => [String(r.n), r.reps])),
        mlp: Object.fromEntries(mlp.results.map((r) => [r.key, r.reps])),
      },
    },
    checks: [...mm.checks, ...mlp.checks],
  };

  const present = keys.filter((k) => runners.some((r) => r.key === k));
  const labels: Record<string, string> = { myriad: 'Myriad', myriad2: 'Myriad 2T', tfjs: 'tfjs', jaxjs: 'jax-js', tfjs_autodiff: 'tfjs minimize' };
  const mlpPresent = mlpKeys.filter((k) => mlpBy.has(k));
  console.log(`\nmatmul float32, GFLOP/s (median; higher is better)`);
  console.log(table(['n', ...present.map((k) => labels[k])], mm.results.map((r) => [String(r.n), ...present.map((k) => fmt(r.gflops[k]))])));
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
  const bestPeer = Math.min(...['tfjs', 'tfjs_autodiff', 'jaxjs'].map((k) => mlpBy.get(k)!.stepMs));
  const bestMyriad = Math.min(...['myriad', 'myriad2'].flatMap((k) => (mlpBy.has(k) ? [mlpBy.get(k)!.stepMs] : [])));
  console.log(`\nMLP step: Myriad is ${(bestPeer / bestMyriad).toFixed(2)}× the faster peer (target ≥ 4×)`);
  const big = mm.results.find((r) => r.n === 1024);
  if (big) console.log(`matmul 1024: Myriad ${fmt(Math.max(big.gflops.myriad ?? 0, big.gflops.myriad2 ?? 0))} GFLOP/s (target ≥ 100)`);
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
