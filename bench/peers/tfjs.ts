/**
 * TensorFlow.js runner of the engine benchmark, on the WebAssembly backend
 * (`@tensorflow/tfjs-backend-wasm`, XNNPACK kernels). In Node, tfjs-backend-wasm enables SIMD
 * but hard-codes multithreading off (its `WASM_HAS_MULTITHREAD_SUPPORT` flag returns false when
 * `IS_NODE`; forcing the flag on makes the threaded build fail to initialise), so it runs on
 * one thread; `tfjsInfo()` reports what the backend actually loaded. The matmul reads its result
 * back with `dataSync()` every run so the work is really done. The MLP step exists in two
 * idiomatic forms (see `tfjsMlp`): `optimizer.minimize` and hand-written gradients; the runner
 * uses the faster (hand-written) one and the harness also reports the other.
 */

import * as tf from '@tensorflow/tfjs';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { BenchCheckError, MLP, type MatmulCase, type MlpCase, type MlpData, type Runner } from '../common.js';

let ready: Promise<void> | null = null;

/** Selects and initialises the wasm backend once; fails loudly if tfjs ends up elsewhere. */
export function initTfjs(): Promise<void> {
  ready ??= (async () => {
    // tfjs prints a hint about tfjs-node on first use in Node; it is not relevant here.
    const ok = await tf.setBackend('wasm');
    await tf.ready();
    if (!ok || tf.getBackend() !== 'wasm') throw new BenchCheckError(`TensorFlow.js did not switch to the wasm backend (current: ${tf.getBackend()})`);
  })();
  return ready;
}

/** What the tfjs wasm backend runs with (after `initTfjs`). */
export async function tfjsInfo(): Promise<{ backend: string; simd: boolean; threads_supported: boolean; threads: number }> {
  await initTfjs();
  return {
    backend: tf.getBackend(),
    simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
    threads_supported: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
    threads: tfwasm.getThreadsCount(),
  };
}

/** The TensorFlow.js (wasm) runner. */
export const tfjsRunner: Runner = {
  key: 'tfjs',
  label: 'TensorFlow.js (wasm)',

  async matmul(n: number, a: Float32Array, b: Float32Array): Promise<MatmulCase> {
    await initTfjs();
    const ta = tf.tensor2d(a, [n, n], 'float32');
    const tb = tf.tensor2d(b, [n, n], 'float32');
    let last: Float32Array | null = null;
    return {
      run() {
        const c = tf.matMul(ta, tb);
        last = c.dataSync() as Float32Array;
        c.dispose();
      },
      read() {
        if (!last) throw new BenchCheckError('tfjs matmul: read() before any run()');
        return last;
      },
      dispose() {
        ta.dispose();
        tb.dispose();
      },
    };
  },

  async mlp(data: MlpData): Promise<MlpCase> {
    return tfjsMlp(data, 'manual');
  },
};

/**
 * The MLP step in TensorFlow.js, in one of two idiomatic forms:
 * - 'autodiff': `tf.train.sgd(lr).minimize(loss, true, vars)` with the fused
 *   `tf.losses.softmaxCrossEntropy` — the textbook way. Its backward pass calls `matMul` with
 *   `transposeA`/`transposeB`, which tfjs-backend-wasm 4.22 runs on a slow non-XNNPACK path
 *   (measured here: ~200 ms for a 784×256·256×512 product vs ~17 ms untransposed).
 * - 'manual': the same gradients written out (softmax − one-hot, explicit `tf.transpose` before
 *   each `matMul`) and applied with `variable.assign`, which keeps every product on the fast
 *   kernel. The harness reports this, the faster form, as `tfjs_ms`, and the autodiff form
 *   separately, and checks both against the other libraries.
 */
export async function tfjsMlp(data: MlpData, mode: 'autodiff' | 'manual'): Promise<MlpCase> {
  await initTfjs();
  const { batch, inDim, hidden, classes, lr } = MLP;
  const w1 = tf.variable(tf.tensor2d(data.params.w1, [inDim, hidden]), true, `w1_${mode}`);
  const b1 = tf.variable(tf.tensor1d(data.params.b1), true, `b1_${mode}`);
  const w2 = tf.variable(tf.tensor2d(data.params.w2, [hidden, classes]), true, `w2_${mode}`);
  const b2 = tf.variable(tf.tensor1d(data.params.b2), true, `b2_${mode}`);
  const x = tf.tensor2d(data.x, [batch, inDim]);
  const y = tf.tensor2d(data.y, [batch, classes]);
  const vars = [w1, b1, w2, b2];
  const dispose = () => {
    for (const t of [...vars, x, y]) t.dispose();
  };
  const read = (loss: tf.Scalar): number => {
    const v = loss.dataSync()[0];
    loss.dispose();
    if (!Number.isFinite(v)) throw new BenchCheckError(`tfjs (${mode}) MLP step produced a non-finite loss (${v})`);
    return v;
  };

  if (mode === 'autodiff') {
    const opt = tf.train.sgd(lr);
    const lossFn = (): tf.Scalar => {
      const h = tf.relu(tf.add(tf.matMul(x, w1), b1));
      const logits = tf.add(tf.matMul(h, w2), b2);
      return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
    };
    return {
      step() {
        const loss = opt.minimize(lossFn, true, vars);
        if (!loss) throw new BenchCheckError('tfjs: optimizer.minimize returned no loss');
        return read(loss);
      },
      dispose() {
        dispose();
        opt.dispose();
      },
    };
  }

  return {
    step() {
      const loss = tf.tidy(() => {
        const z1 = tf.add(tf.matMul(x, w1), b1);
        const h = tf.relu(z1);
        const logits = tf.add(tf.matMul(h, w2), b2);
        const logp = tf.logSoftmax(logits);
        const lossValue = tf.neg(tf.mean(tf.sum(tf.mul(y, logp), -1)));
        // d loss / d logits = (softmax − y) / batch
        const dLogits = tf.div(tf.sub(tf.exp(logp), y), batch);
        const dW2 = tf.matMul(tf.transpose(h), dLogits);
        const dB2 = tf.sum(dLogits, 0);
        const dZ1 = tf.mul(tf.matMul(dLogits, tf.transpose(w2)), tf.step(z1));
        const dW1 = tf.matMul(tf.transpose(x), dZ1);
        const dB1 = tf.sum(dZ1, 0);
        w1.assign(tf.sub(w1, tf.mul(dW1, lr)));
        b1.assign(tf.sub(b1, tf.mul(dB1, lr)));
        w2.assign(tf.sub(w2, tf.mul(dW2, lr)));
        b2.assign(tf.sub(b2, tf.mul(dB2, lr)));
        return lossValue as tf.Scalar;
      });
      return read(loss);
    },
    dispose,
  };
}
