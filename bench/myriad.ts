/**
 * Myriad runners of the engine benchmark. Both benchmarks go through the public API exactly as a
 * user would write them: the matmul is `jit((a, b) => np.matmul(a, b), { backend })`, and the
 * MLP training step is one jitted function `step(params, x, y) → [newParams, loss]` built from
 * `valueAndGrad` and an SGD update, so forward, backward and update form a single compiled graph
 * (one ONNX model on the 'onnx' backend). Parameters are donated to the step (`donateArgnums: 0`),
 * as in a JAX training loop. Executables run synchronously and return host arrays, so a call
 * returning means the work is done. `intraOpNumThreads` is passed through to `jit` (Myriad's
 * default is one intra-op thread per executable).
 */

import { jit, np, tree, valueAndGrad, type Array } from '../src/index.js';
import { BenchCheckError, MLP, type MatmulCase, type MlpCase, type MlpData, type Runner } from './common.js';

/** Options of a Myriad runner. */
export interface MyriadRunnerOptions {
  /** jit backend ('onnx' for the real benchmark; 'reference' is the slow oracle). */
  backend: string;
  /** Intra-op threads per executable (undefined: Myriad's default). */
  intraOpNumThreads?: number;
  /** JSON column prefix. */
  key: string;
}

type Params = { w1: Array; b1: Array; w2: Array; b2: Array };

/** Softmax cross-entropy of the 784-512-10 ReLU MLP, mean over the batch (y is one-hot). */
export function mlpLoss(p: Params, x: Array, y: Array): Array {
  const h = np.relu(np.matmul(x, p.w1).add(p.b1));
  const logits = np.matmul(h, p.w2).add(p.b2);
  return np.mean(np.sum(y.mul(np.log_softmax(logits, -1)), -1)).neg();
}

/** A Myriad runner on the given backend and thread setting. */
export function myriadRunner(opts: MyriadRunnerOptions): Runner {
  const threads = opts.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: opts.intraOpNumThreads };
  const label = `Myriad jit (${opts.backend}${opts.intraOpNumThreads === undefined ? '' : `, ${opts.intraOpNumThreads} threads`})`;
  return {
    key: opts.key,
    label,

    async matmul(n: number, a: Float32Array, b: Float32Array): Promise<MatmulCase> {
      const ma = np.array(a, { shape: [n, n] });
      const mb = np.array(b, { shape: [n, n] });
      const f = jit((p: Array, q: Array) => np.matmul(p, q), { backend: opts.backend, ...threads });
      let last: Array | null = null;
      return {
        run() {
          last = f(ma, mb);
        },
        read() {
          if (!last) throw new BenchCheckError('Myriad matmul: read() before any run()');
          return last.dataSync() as Float32Array;
        },
        dispose() {
          f.close();
        },
      };
    },

    async mlp(data: MlpData): Promise<MlpCase> {
      const { batch, inDim, hidden, classes, lr } = MLP;
      let params: Params = {
        w1: np.array(data.params.w1, { shape: [inDim, hidden] }),
        b1: np.array(data.params.b1),
        w2: np.array(data.params.w2, { shape: [hidden, classes] }),
        b2: np.array(data.params.b2),
      };
      const x = np.array(data.x, { shape: [batch, inDim] });
      const y = np.array(data.y, { shape: [batch, classes] });
      const step = jit(
        function mlpStep(p: Params, xb: Array, yb: Array): [Params, Array] {
          const [loss, g] = valueAndGrad(mlpLoss)(p, xb, yb);
          return [tree.map((w: Array, gw: Array) => w.sub(gw.mul(lr)), p, g), loss];
        },
        { backend: opts.backend, donateArgnums: 0, ...threads },
      );
      return {
        step() {
          const [next, loss] = step(params, x, y);
          params = next;
          const v = Number(loss.item());
          if (!Number.isFinite(v)) throw new BenchCheckError(`Myriad MLP step produced a non-finite loss (${v})`);
          return v;
        },
        dispose() {
          if (step.stats.traces !== 1) throw new BenchCheckError(`Myriad MLP step was traced ${step.stats.traces} times; expected exactly 1 (accidental retracing)`);
          step.close();
        },
      };
    },
  };
}
