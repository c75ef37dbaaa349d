/**
 * TensorFlow.js (wasm backend) side of the Transformer training-step benchmark: the model of
 * bench/transformer.ts written with tfjs ops, trained by `optimizer.minimize` with an AdamW
 * optimizer written as a `tf.Optimizer` subclass (tfjs 4.22 ships Adam but no AdamW; this one
 * follows optax's `adamw`, see `TfjsAdamW`). Two forms, both through `minimize`:
 * - 'minimize': the textbook model, every dense layer a plain `tf.matMul`. tfjs's gradient of
 *   `matMul` calls it with `transposeA`/`transposeB`, which tfjs-backend-wasm 4.22 runs on its
 *   slow non-XNNPACK loop (measured here ≈ 2 GFLOP/s against ≈ 27 GFLOP/s untransposed).
 * - 'fast': the same model, but each dense product goes through `tf.customGrad` whose gradient
 *   materialises the transposes with `tf.transpose` and multiplies untransposed, keeping every
 *   2-D product on XNNPACK. This is the faster correct form and is reported as `tfjs_ms`.
 * In both, the attention products are batched `matMul`s over [B, H, L, ·], which tfjs-backend-wasm
 * always runs on the slow loop (transposed or not; measured ≈ 2 GFLOP/s), and the token embedding
 * is a one-hot matmul: the gradient of `tf.gather` needs `UnsortedSegmentSum`, which the wasm
 * backend does not implement (one-hot rows times the table give the same values exactly).
 */

import * as tf from '@tensorflow/tfjs';
import { BenchCheckError } from '../common.js';
import { TX, causalBias, type TransformerCase, type TxData } from '../transformer.js';
import { initTfjs } from './tfjs.js';

/** AdamW as optax `adamw` (decoupled decay, bias-corrected moments, eps outside the root), as a tfjs optimizer. */
export class TfjsAdamW extends tf.Optimizer {
  static get className(): string {
    return 'MyriadBenchAdamW';
  }

  private readonly moments = new Map<string, { m: tf.Variable; v: tf.Variable }>();

  constructor(
    private readonly lr: number,
    private readonly b1: number,
    private readonly b2: number,
    private readonly eps: number,
    private readonly weightDecay: number,
  ) {
    super();
  }

  applyGradients(variableGradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const named = globalThis.Array.isArray(variableGradients) ? variableGradients : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    this.incrementIterations();
    const t = this.iterations;
    const bc1 = 1 - this.b1 ** t;
    const bc2 = 1 - this.b2 ** t;
    for (const { name, tensor: g } of named) {
      const p = tf.engine().registeredVariables[name];
      if (!p) throw new BenchCheckError(`TfjsAdamW: no variable named ${name}`);
      let st = this.moments.get(name);
      if (!st) {
        const zeros = tf.zerosLike(p);
        st = { m: tf.variable(zeros, false, `${name}__m`), v: tf.variable(zeros, false, `${name}__v`) };
        zeros.dispose();
        this.moments.set(name, st);
      }
      const { m, v } = st;
      tf.tidy(() => {
        const m1 = tf.add(tf.mul(m, this.b1), tf.mul(g, 1 - this.b1));
        const v1 = tf.add(tf.mul(v, this.b2), tf.mul(tf.square(g), 1 - this.b2));
        m.assign(m1);
        v.assign(v1);
        const dir = tf.div(tf.div(m1, bc1), tf.add(tf.sqrt(tf.div(v1, bc2)), this.eps));
        const u = tf.mul(tf.add(dir, tf.mul(p, this.weightDecay)), -this.lr);
        p.assign(tf.add(p, u));
      });
    }
  }

  override dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
    super.dispose();
  }

  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.lr, beta1: this.b1, beta2: this.b2, epsilon: this.eps, weightDecay: this.weightDecay };
  }
}

/** [M, K]·[K, N] whose gradient multiplies explicitly transposed operands (no transpose flags). */
const matMulUntransposedGrad = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.matMul(dy as tf.Tensor2D, tf.transpose(saved[1]) as tf.Tensor2D), tf.matMul(tf.transpose(saved[0]) as tf.Tensor2D, dy as tf.Tensor2D)],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;

/** Builds the tfjs training loop in the given form (see the file header). */
export async function tfjsTransformer(data: TxData, mode: 'minimize' | 'fast'): Promise<TransformerCase> {
  await initTfjs();
  const { vocab: V, dModel: E, heads: H, headDim: D, mlpDim: F, seq: L, batch: B, normEps } = TX;
  const N = B * L;
  const tag = `${mode}_${Math.random().toString(36).slice(2, 8)}`;
  const vars: tf.Variable[] = [];
  const v = (x: Float32Array, shape: number[], name: string): tf.Variable => {
    const init = tf.tensor(x, shape, 'float32');
    const t = tf.variable(init, true, `${name}_${tag}`);
    init.dispose();
    vars.push(t);
    return t;
  };
  const p = data.params;
  const tokEmb = v(p.tokEmb, [V, E], 'tok_emb');
  const posEmb = v(p.posEmb, [L, E], 'pos_emb');
  const layers = p.layers.map((l, i) => ({
    ln1: v(l.ln1, [E], `l${i}_ln1`),
    wq: v(l.wq, [E, H * D], `l${i}_wq`),
    wk: v(l.wk, [E, H * D], `l${i}_wk`),
    wv: v(l.wv, [E, H * D], `l${i}_wv`),
    wo: v(l.wo, [H * D, E], `l${i}_wo`),
    ln2: v(l.ln2, [E], `l${i}_ln2`),
    wIn: v(l.wIn, [E, F], `l${i}_win`),
    wOut: v(l.wOut, [F, E], `l${i}_wout`),
  }));
  const lnf = v(p.lnf, [E], 'lnf');
  const wHead = v(p.wHead, [E, V], 'w_head');
  const inputOneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(data.inputs, 'int32'), V).asType('float32') as tf.Tensor2D);
  const targetOneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(data.targets, 'int32'), V).asType('float32') as tf.Tensor2D);
  const bias = tf.tensor2d(causalBias(L), [L, L]);

  const dense = mode === 'fast' ? matMulUntransposedGrad : (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
  const rms = (x: tf.Tensor, scale: tf.Tensor) => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), normEps))), scale);
  const gelu = (x: tf.Tensor) => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  };
  const heads = (x: tf.Tensor) => tf.transpose(tf.reshape(x, [B, L, H, D]), [0, 2, 1, 3]); // [B, H, L, D]
  const lossFn = (): tf.Scalar => {
    // One-hot rows select table rows exactly; the product is dense, so the fast form applies.
    let x: tf.Tensor = tf.reshape(tf.add(tf.reshape(dense(inputOneHot, tokEmb), [B, L, E]), posEmb), [N, E]);
    for (const l of layers) {
      const h = rms(x, l.ln1);
      const q = tf.mul(heads(dense(h, l.wq)), 1 / Math.sqrt(D));
      const k = heads(dense(h, l.wk));
      const val = heads(dense(h, l.wv));
      const logits = tf.add(tf.matMul(q, k, false, true), bias); // [B, H, L, L]
      const w = tf.softmax(logits, -1);
      const o = tf.reshape(tf.transpose(tf.matMul(w, val), [0, 2, 1, 3]), [N, H * D]);
      x = tf.add(x, dense(o, l.wo));
      const u = dense(gelu(dense(rms(x, l.ln2), l.wIn)), l.wOut);
      x = tf.add(x, u);
    }
    const logits = dense(rms(x, lnf), wHead);
    return tf.losses.softmaxCrossEntropy(targetOneHot, logits) as tf.Scalar;
  };

  const { lr, b1, b2, eps, weightDecay } = TX.adamw;
  const opt = new TfjsAdamW(lr, b1, b2, eps, weightDecay);
  return {
    step() {
      const loss = opt.minimize(lossFn, true, vars);
      if (!loss) throw new BenchCheckError('tfjs: optimizer.minimize returned no loss');
      const value = loss.dataSync()[0];
      loss.dispose();
      if (!Number.isFinite(value)) throw new BenchCheckError(`tfjs (${mode}) transformer step produced a non-finite loss (${value})`);
      return value;
    },
    dispose() {
      opt.dispose();
      for (const t of [...vars, inputOneHot, targetOneHot, bias]) t.dispose();
    },
  };
}
