/**
 * Model-FLOPs utilization (MFU) support. MFU = achieved model FLOP/s ÷ peak FLOP/s, where the
 * model FLOPs of a training step are estimated as 6·N·T (Kaplan et al. 2020: about 2·N FLOPs per
 * token for the forward pass and 4·N for the backward pass, N = parameters that take part in
 * matrix multiplies, T = tokens processed, padding included) and the attention-score FLOPs are
 * left out, as the 6·N·T convention does. The peak is measured once per process and thread count:
 * the best of several runs of a jitted 1024×1024 · 1024×1024 float32 matmul (2·1024³ FLOPs) in
 * ONNX Runtime with the same intra-op thread count as the train step. So MFU here answers "how
 * close does the train step get to this machine's own dense-matmul speed", not a datasheet number.
 */

import { Array } from '../core/array.js';
import { jit } from '../core/jit.js';
import { flatten } from '../core/pytree.js';
import { np } from '../np/index.js';
import { leafPaths } from '../optim/tree_utils.js';

/** A measured peak. */
export interface PeakFlops {
  /** FLOP/s of the best run. */
  flopsPerSecond: number;
  /** Seconds of the best run. */
  seconds: number;
  /** Matrix size (1024). */
  n: number;
  backend: string;
  threads: number;
}

const peaks = new Map<string, PeakFlops>();

/**
 * Measures (once per backend and thread count, then cached) the FLOP/s of a jitted n×n matmul
 * (default n = 1024): one warm-up call, then the best of `repeats` timed calls.
 */
export function measurePeakFlops({ backend = 'onnx', threads = 1, n = 1024, repeats = 5 }: { backend?: string; threads?: number; n?: number; repeats?: number } = {}): PeakFlops {
  const key = `${backend}|${threads}|${n}`;
  const hit = peaks.get(key);
  if (hit) return hit;
  const a = Array.fromData(new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5), [n, n], 'float32');
  const b = Array.fromData(new Float32Array(n * n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5), [n, n], 'float32');
  const mm = jit((x: Array, y: Array) => np.matmul(x, y), { backend, intraOpNumThreads: threads });
  try {
    mm(a, b).dataSync();
    let best = Infinity;
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      mm(a, b).dataSync();
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    const res: PeakFlops = { flopsPerSecond: (2 * n * n * n) / best, seconds: best, n, backend, threads };
    peaks.set(key, res);
    return res;
  } finally {
    mm.close();
  }
}

/**
 * Parameters that take part in matrix multiplies (leaves may be Arrays or ShapeDtypeStructs from
 * `evalShape`): all leaves except lookup-only tables
 * (leaves whose dotted path matches one of `exclude`, e.g. learned position embeddings, relative
 * position biases, or an untied input embedding).
 */
export function matmulParamCount(params: unknown, exclude: readonly RegExp[] = [], scale?: (path: string) => number): number {
  const [leaves, def] = flatten(params);
  const paths = leafPaths(def);
  let n = 0;
  leaves.forEach((l, i) => {
    const shape = (l as { shape?: unknown }).shape;
    if (!globalThis.Array.isArray(shape)) return;
    if (exclude.some((re) => re.test(paths[i]))) return;
    n += shape.reduce((a: number, d: number) => a * d, 1) * (scale ? scale(paths[i]) : 1);
  });
  return n;
}

/** What {@link activeParamScale} reads of a sparse model: its MoE layers' routers, by block. */
interface SparseModelLike {
  moeLayerNames?: readonly string[];
  blocks?: readonly { moe: { router: { numExperts: number; expertsPerToken: number } } | null }[];
  encoderBlocks?: readonly { moe: { router: { numExperts: number; expertsPerToken: number } } | null }[];
  decoderBlocks?: readonly { moe: { router: { numExperts: number; expertsPerToken: number } } | null }[];
}

/**
 * For a sparse (MoE) model, the fraction of each parameter a token activates, by dotted param
 * path: an MoE layer's expert weights (`…layers_i.moe.experts.…`) count k/E (k = the router's
 * experts per token — top-k's k, expert choice's capacity factor, task routing's experts per
 * task), everything else 1; so 6·N·T counts the activated parameters, as the MoE papers' FLOP
 * figures do. Returns null for a model without MoE layers.
 */
export function activeParamScale(model: unknown): ((path: string) => number) | null {
  const m = model as SparseModelLike;
  if (!m || !globalThis.Array.isArray(m.moeLayerNames) || m.moeLayerNames.length === 0) return null;
  const frac = new Map<string, number>();
  const add = (prefix: string, blocks: SparseModelLike['blocks']) => {
    blocks?.forEach((b, i) => {
      if (b.moe) frac.set(`${prefix}layers_${i}.moe.experts.`, Math.min(1, b.moe.router.expertsPerToken / b.moe.router.numExperts));
    });
  };
  add('', m.blocks);
  add('encoder.', m.encoderBlocks);
  add('decoder.', m.decoderBlocks);
  if (frac.size === 0) return null;
  return (path: string) => {
    for (const [prefix, f] of frac) if (path.startsWith(prefix)) return f;
    return 1;
  };
}

/** Training FLOPs per token under the 6·N convention. */
export function trainFlopsPerToken(matmulParams: number): number {
  return 6 * matmulParams;
}
