/**
 * jax-js (wasm device) side of the Transformer training-step benchmark: the model of
 * bench/transformer.ts written with jax-js's `numpy`/`nn` ops, and one `jit`ted step of
 * `valueAndGrad` plus an AdamW update written with its ops (the `@jax-js/optax` package exists
 * but is not installed here; the update follows optax's `adamw`, see bench/transformer.ts).
 *
 * jax-js arrays are reference-counted and every op consumes its arguments, inside `jit` as well,
 * so each value used more than once is passed as `x.ref` on all but its last use; arguments
 * shared by all layers (the causal bias, the bias corrections) are `.ref`ed per use and
 * disposed at the end. The step consumes (moves) the parameters and moments and returns new
 * ones; the batch and bias are passed as `.ref` each call. The AdamW bias corrections 1 − b1ᵗ and
 * 1 − b2ᵗ are computed in JS and passed as float32 scalars, so one compiled program serves every
 * step. The token embedding is `np.take` (gather), whose gradient jax-js provides.
 */

import { blockUntilReady, jit, nn, numpy as np, tree, valueAndGrad, type Array as JArray } from '@jax-js/jax';
import { BenchCheckError } from '../common.js';
import { TX, causalBias, type TransformerCase, type TxData } from '../transformer.js';
import { initJaxjs } from './jaxjs.js';

type Layer = { ln1: JArray; wq: JArray; wk: JArray; wv: JArray; wo: JArray; ln2: JArray; wIn: JArray; wOut: JArray };
type Params = { tokEmb: JArray; posEmb: JArray; layers: Layer[]; lnf: JArray; wHead: JArray };

const { vocab: V, dModel: E, heads: H, headDim: D, mlpDim: F, seq: L, batch: B, normEps } = TX;
const N = B * L;

/** RMSNorm over the last dim; consumes x and scale. */
function rms(x: JArray, scale: JArray): JArray {
  const ms = np.mean(np.square(x.ref), -1, { keepdims: true });
  return x.mul(np.reciprocal(np.sqrt(ms.add(normEps)))).mul(scale);
}

/** [N, H·D] → [B, H, L, D]; consumes x. */
function heads(x: JArray): JArray {
  return np.transpose(x.reshape([B, L, H, D]), [0, 2, 1, 3]);
}

/** Mean next-byte cross-entropy; consumes everything. ids int32 [B, L], targets one-hot [N, V], bias [L, L]. */
function lossFn(p: Params, ids: JArray, targets: JArray, bias: JArray): JArray {
  let x = np.take(p.tokEmb, ids, 0).add(p.posEmb).reshape([N, E]); // [B, L, E] + [L, E]
  for (const l of p.layers) {
    const h = rms(x.ref, l.ln1);
    const q = heads(np.matmul(h.ref, l.wq)).mul(1 / Math.sqrt(D));
    const k = heads(np.matmul(h.ref, l.wk));
    const v = heads(np.matmul(h, l.wv));
    const logits = np.matmul(q, np.transpose(k, [0, 1, 3, 2])).add(bias.ref); // [B, H, L, L]
    const w = nn.softmax(logits, -1);
    const o = np.transpose(np.matmul(w, v), [0, 2, 1, 3]).reshape([N, H * D]);
    x = x.add(np.matmul(o, l.wo));
    const u = np.matmul(nn.gelu(np.matmul(rms(x.ref, l.ln2), l.wIn), { approximate: true }), l.wOut);
    x = x.add(u);
  }
  bias.dispose();
  const logits = np.matmul(rms(x, p.lnf), p.wHead); // [N, V]
  return np.mean(np.sum(targets.mul(nn.logSoftmax(logits, -1)), -1)).neg();
}

/** One step: [params, m, v, loss]; consumes params, moments and scalars, and the (ref'd) batch. */
function stepFn(p: Params, m: Params, v: Params, ids: JArray, targets: JArray, bias: JArray, bc1: JArray, bc2: JArray): [Params, Params, Params, JArray] {
  const { lr, b1, b2, eps, weightDecay } = TX.adamw;
  const [loss, g] = valueAndGrad(lossFn)(tree.ref(p), ids, targets, bias);
  const [pl, def] = tree.flatten(p);
  const [gl] = tree.flatten(g);
  const [ml] = tree.flatten(m);
  const [vl] = tree.flatten(v);
  const np_: JArray[] = [];
  const nm: JArray[] = [];
  const nv: JArray[] = [];
  for (let i = 0; i < pl.length; i++) {
    const gi = gl[i];
    const m1 = ml[i].mul(b1).add(gi.ref.mul(1 - b1));
    const v1 = vl[i].mul(b2).add(np.square(gi).mul(1 - b2));
    const dir = m1.ref.div(bc1.ref).div(np.sqrt(v1.ref.div(bc2.ref)).add(eps));
    const u = dir.add(pl[i].ref.mul(weightDecay)).mul(-lr);
    np_.push(pl[i].add(u));
    nm.push(m1);
    nv.push(v1);
  }
  bc1.dispose();
  bc2.dispose();
  return [tree.unflatten(def, np_) as Params, tree.unflatten(def, nm) as Params, tree.unflatten(def, nv) as Params, loss];
}

/** Builds the jax-js training loop (wasm device, one jitted step). */
export async function jaxjsTransformer(data: TxData): Promise<TransformerCase> {
  await initJaxjs();
  const a = (x: Float32Array, shape: number[]) => np.array(x).reshape(shape);
  const d = data.params;
  let params: Params = {
    tokEmb: a(d.tokEmb, [V, E]),
    posEmb: a(d.posEmb, [L, E]),
    layers: d.layers.map((l) => ({
      ln1: a(l.ln1, [E]),
      wq: a(l.wq, [E, H * D]),
      wk: a(l.wk, [E, H * D]),
      wv: a(l.wv, [E, H * D]),
      wo: a(l.wo, [H * D, E]),
      ln2: a(l.ln2, [E]),
      wIn: a(l.wIn, [E, F]),
      wOut: a(l.wOut, [F, E]),
    })),
    lnf: a(d.lnf, [E]),
    wHead: a(d.wHead, [E, V]),
  };
  const zeros = () => tree.map((w: JArray) => np.zerosLike(w), tree.ref(params)) as Params;
  let m = zeros();
  let v = zeros();
  const ids = np.array(data.inputs, { dtype: np.int32 }).reshape([B, L]);
  const oneHot = new Float32Array(N * V);
  for (let i = 0; i < N; i++) oneHot[i * V + data.targets[i]] = 1;
  const targets = np.array(oneHot).reshape([N, V]);
  const bias = np.array(causalBias(L)).reshape([L, L]);
  const step = jit(stepFn);
  const { b1, b2 } = TX.adamw;
  let t = 0;
  return {
    async step() {
      t++;
      const bc1 = np.array([1 - b1 ** t]).reshape([]);
      const bc2 = np.array([1 - b2 ** t]).reshape([]);
      const [p1, m1, v1, loss] = step(params, m, v, ids.ref, targets.ref, bias.ref, bc1, bc2);
      params = p1;
      m = m1;
      v = v1;
      await blockUntilReady([params, m, v]);
      const value = (await loss.data())[0];
      if (!Number.isFinite(value)) throw new BenchCheckError(`jax-js transformer step produced a non-finite loss (${value})`);
      return value;
    },
    dispose() {
      tree.dispose([params, m, v]);
      ids.dispose();
      targets.dispose();
      bias.dispose();
      step.dispose();
    },
  };
}
