/**
 * jax-js runner of the engine benchmark (`@jax-js/jax`, device "wasm", everything under `jit`).
 * jax-js arrays are reference-counted and every op consumes its arguments, so inputs that are
 * reused across runs are passed as `x.ref`, and each result is consumed by `data()` (which
 * realises pending kernels, copies to the host and disposes the array). jax-js runs its wasm
 * kernels on a pool of Web Workers only when both `SharedArrayBuffer` and a global `Worker`
 * exist; Node has no global `Worker`, so in Node it runs on one thread (`jaxjsInfo()` reports
 * it). The MLP step is `jit(step)` with `valueAndGrad` and an SGD update inside, i.e. one jitted
 * program per step, exactly like the Myriad step.
 */

import { blockUntilReady, defaultDevice, init, jit, nn, numpy as np, tree, valueAndGrad, type Array as JArray } from '@jax-js/jax';
import { BenchCheckError, MLP, type MatmulCase, type MlpCase, type MlpData, type Runner } from '../common.js';

let ready: Promise<void> | null = null;

/** Initialises jax-js's wasm device once and makes it the default; fails loudly otherwise. */
export function initJaxjs(): Promise<void> {
  ready ??= (async () => {
    const devs = await init('wasm');
    if (!devs.includes('wasm')) throw new BenchCheckError(`jax-js could not start its wasm device (available: ${devs.join(', ')})`);
    defaultDevice('wasm');
  })();
  return ready;
}

/** Whether jax-js's wasm device can use its worker pool here (its own test), and how many. */
export function jaxjsInfo(): { device: string; threads: number; note: string } {
  const pool = typeof SharedArrayBuffer !== 'undefined' && typeof (globalThis as { Worker?: unknown }).Worker !== 'undefined';
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return {
    device: defaultDevice(),
    threads: pool ? Math.max(1, nav?.hardwareConcurrency || 4) : 1,
    note: pool ? 'worker pool available' : 'no global Web Worker in Node: wasm kernels run on the main thread',
  };
}

type Params = { w1: JArray; b1: JArray; w2: JArray; b2: JArray };

/** The jax-js (wasm, jit) runner. */
export const jaxjsRunner: Runner = {
  key: 'jaxjs',
  label: 'jax-js (wasm, jit)',

  async matmul(n: number, a: Float32Array, b: Float32Array): Promise<MatmulCase> {
    await initJaxjs();
    const ja = np.array(a).reshape([n, n]);
    const jb = np.array(b).reshape([n, n]);
    const f = jit((p: JArray, q: JArray) => np.matmul(p, q));
    let last: Float32Array | null = null;
    return {
      async run() {
        last = (await f(ja.ref, jb.ref).data()) as Float32Array;
      },
      read() {
        if (!last) throw new BenchCheckError('jax-js matmul: read() before any run()');
        return last;
      },
      dispose() {
        ja.dispose();
        jb.dispose();
        f.dispose();
      },
    };
  },

  async mlp(data: MlpData): Promise<MlpCase> {
    await initJaxjs();
    const { batch, inDim, hidden, classes, lr } = MLP;
    let params: Params = {
      w1: np.array(data.params.w1).reshape([inDim, hidden]),
      b1: np.array(data.params.b1),
      w2: np.array(data.params.w2).reshape([hidden, classes]),
      b2: np.array(data.params.b2),
    };
    const x = np.array(data.x).reshape([batch, inDim]);
    const y = np.array(data.y).reshape([batch, classes]);
    const lossFn = (p: Params, xb: JArray, yb: JArray): JArray => {
      const h = nn.relu(np.matmul(xb, p.w1).add(p.b1));
      const logits = np.matmul(h, p.w2).add(p.b2);
      return np.mean(np.sum(yb.mul(nn.logSoftmax(logits, -1)), -1)).neg();
    };
    const step = jit((p: Params, xb: JArray, yb: JArray): [Params, JArray] => {
      const [loss, g] = valueAndGrad(lossFn)(tree.ref(p), xb, yb);
      const next = tree.map((w: JArray, gw: JArray) => w.sub(gw.mul(lr)), p, g) as Params;
      return [next, loss];
    });
    return {
      async step() {
        const [next, loss] = step(params, x.ref, y.ref);
        params = next;
        await blockUntilReady(params);
        const v = (await loss.data())[0];
        if (!Number.isFinite(v)) throw new BenchCheckError(`jax-js MLP step produced a non-finite loss (${v})`);
        return v;
      },
      dispose() {
        for (const w of Object.values(params)) w.dispose();
        x.dispose();
        y.dispose();
        step.dispose();
      },
    };
  },
};
