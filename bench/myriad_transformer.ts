/**
 * Myriad's side of the Transformer training-step benchmark: the model is `models.DecoderLM`
 * itself (not a re-implementation), configured to the benchmark's spec — RMSNorm, learned
 * positions with a table of exactly `seq` rows, GELU (tanh) MLP, untied output layer, logits
 * scaled by 1/√headDim — and trained with `optim.adamw`. The loss is DecoderLM's own
 * `loss` with z-loss off and explicit all-ones loss weights, i.e. the mean token cross-entropy.
 * One `jit`ted function does forward, backward and the AdamW update, with parameters and
 * optimizer state donated (`donateArgnums: [0, 1]`), as a JAX training loop would.
 *
 * DecoderLM's math equals the peers' (see bench/transformer.ts): its causal mask is
 * `decoderMask(targets > 0)` turned into a −1e10 additive bias (the batch has no 0 targets, so
 * it is the plain causal mask), queries are multiplied by 1/√D = 1/8 before q·kᵀ (exact in
 * float32, so the same as scaling the logits), and the learned positions are gathered at
 * 0…L−1, i.e. the whole table. Before the step is built, the loaded parameter tree is checked
 * against `model.init`'s structure and shapes.
 */

import { jit, models, nn, np, optim, random, valueAndGrad, type Array, type GradientTransformation } from '../src/index.js';
import type { DecoderLMConfig, DecoderLMModel, DecoderLMParams } from '../src/models/decoder_lm.js';
import { BenchCheckError } from './common.js';
import { TX, type TransformerCase, type TxData } from './transformer.js';

/** The DecoderLM config that matches the benchmark's model. */
export const MYRIAD_TX_CONFIG: DecoderLMConfig = {
  vocabSize: TX.vocab,
  dModel: TX.dModel,
  numHeads: TX.heads,
  headDim: TX.headDim,
  mlpDim: TX.mlpDim,
  numLayers: TX.layers,
  activation: 'gelu',
  positional: 'learned',
  maxLen: TX.seq,
  tieEmbeddings: false,
  dropoutRate: 0,
  norm: 'rms',
  normEps: TX.normEps,
  scaleLogits: true,
};

/** Loads the shared parameters into DecoderLM's tree (T5X names and layouts). */
export function myriadTxParams(data: TxData): DecoderLMParams {
  const { vocab: V, dModel: E, heads: H, headDim: D, mlpDim: F, seq: L } = TX;
  const p = data.params;
  const a = (x: Float32Array, shape: number[]) => np.array(x, { shape, dtype: 'float32' });
  const out: Record<string, unknown> = {
    token_embedder: { embedding: a(p.tokEmb, [V, E]) },
    pos_embedder: { embedding: a(p.posEmb, [L, E]) },
    decoder_norm: { scale: a(p.lnf, [E]) },
    logits_dense: { kernel: a(p.wHead, [E, V]) },
  };
  p.layers.forEach((l, i) => {
    out[`layers_${i}`] = {
      pre_self_attention_layer_norm: { scale: a(l.ln1, [E]) },
      self_attention: {
        query: { kernel: a(l.wq, [E, H, D]) },
        key: { kernel: a(l.wk, [E, H, D]) },
        value: { kernel: a(l.wv, [E, H, D]) },
        out: { kernel: a(l.wo, [H, D, E]) },
      },
      pre_mlp_layer_norm: { scale: a(l.ln2, [E]) },
      mlp: { wi: { kernel: a(l.wIn, [E, F]) }, wo: { kernel: a(l.wOut, [F, E]) } },
    };
  });
  return out as unknown as DecoderLMParams;
}

/** Fails unless `params` has exactly the paths and shapes `model.init` produces. */
function checkAgainstInit(model: DecoderLMModel, params: DecoderLMParams): void {
  const want = nn.evalShape((k: Array) => model.init(k), random.key(0)) as unknown;
  const flat = (t: unknown) => new Map(optim.flattenWithPaths(t).entries.map(([path, leaf]) => [path, (leaf as { shape: number[] }).shape.join('x')]));
  const w = flat(want);
  const g = flat(params);
  const diffs: string[] = [];
  for (const [k, s] of w) if (g.get(k) !== s) diffs.push(`${k}: want [${s}], have ${g.has(k) ? `[${g.get(k)}]` : 'nothing'}`);
  for (const k of g.keys()) if (!w.has(k)) diffs.push(`${k}: not a DecoderLM parameter`);
  if (diffs.length) throw new BenchCheckError(`Myriad transformer: the loaded parameters do not match DecoderLM's tree: ${diffs.join('; ')}`);
}

type OptState = ReturnType<GradientTransformation['init']>;

/** Builds the Myriad training loop on `backend` with the given intra-op threads (undefined: Myriad's default of 1). */
export async function myriadTransformer(data: TxData, opts: { backend: string; intraOpNumThreads?: number }): Promise<TransformerCase> {
  const { batch: B, seq: L } = TX;
  const model = models.DecoderLM(MYRIAD_TX_CONFIG);
  let params = myriadTxParams(data);
  checkAgainstInit(model, params);
  const batch = {
    decoder_input_tokens: np.array(data.inputs, { shape: [B, L], dtype: 'int32' }),
    decoder_target_tokens: np.array(data.targets, { shape: [B, L], dtype: 'int32' }),
    decoder_loss_weights: np.ones([B, L], 'float32'),
  };
  const { lr, b1, b2, eps, weightDecay } = TX.adamw;
  const opt = optim.adamw(lr, { b1, b2, eps, weightDecay });
  let state: OptState = opt.init(params);
  const threads = opts.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: opts.intraOpNumThreads };
  const lossFn = (p: DecoderLMParams, b: Record<string, Array>): Array => model.loss(p, b, { zLoss: 0 }).loss;
  const step = jit(
    function transformerStep(p: DecoderLMParams, s: OptState, b: Record<string, Array>): [DecoderLMParams, OptState, Array] {
      const [loss, grads] = valueAndGrad(lossFn)(p, b);
      const [updates, next] = opt.update(grads, s, p);
      return [optim.applyUpdates(p, updates) as DecoderLMParams, next, loss];
    },
    { backend: opts.backend, donateArgnums: [0, 1], ...threads },
  );
  return {
    step() {
      const [p, s, loss] = step(params, state, batch);
      params = p;
      state = s;
      const v = Number(loss.item());
      if (!Number.isFinite(v)) throw new BenchCheckError(`Myriad transformer step produced a non-finite loss (${v})`);
      return v;
    },
    dispose() {
      if (step.stats.traces !== 1) throw new BenchCheckError(`Myriad transformer step was traced ${step.stats.traces} times; expected exactly 1 (accidental retracing)`);
      step.close();
    },
  };
}
