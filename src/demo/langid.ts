/**
 * The v0 main job (`myriad demo`): language identification on the Universal Declaration of Human
 * Rights, trained with Myriad's engine end to end. Each paragraph becomes a bag of hashed
 * character trigrams; a softmax-regression classifier is trained with `valueAndGrad` and SGD
 * (eagerly, on the reference interpreter), with articles 1–24 for training and the preamble plus
 * articles 25–30 held out. It prints progress (step, loss, accuracy, examples/s, ETA), the
 * held-out accuracy, and the gradient Graph of the loss. Later issues replace this with LM and
 * MoE training on ONNX Runtime.
 */

import { valueAndGrad } from '../core/autodiff.js';
import { Array } from '../core/array.js';
import { makeGraph } from '../core/trace.js';
import { readDeclaration } from '../data/udhr.js';
import { np } from '../np/index.js';
import { random } from '../random/index.js';

export interface LangIdDemoOptions {
  languages?: string[];
  features?: number;
  steps?: number;
  learningRate?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface LangIdDemoResult {
  trainAccuracy: number;
  heldOutAccuracy: number;
  finalLoss: number;
  losses: number[];
  languages: string[];
  seconds: number;
}

const DEFAULT_LANGS = ['eng', 'fra', 'deu_1996', 'spa', 'ita', 'nld', 'por_PT', 'swe', 'pol', 'fin'];

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Hashed, L2-normalized character-trigram counts of each text. */
export function trigramFeatures(texts: string[], dim: number): Array {
  const data = new Float32Array(texts.length * dim);
  texts.forEach((t, r) => {
    const s = ` ${t.toLowerCase()} `;
    for (let i = 0; i + 3 <= s.length; i++) data[r * dim + (fnv1a(s.slice(i, i + 3)) % dim)] += 1;
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += data[r * dim + j] ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let j = 0; j < dim; j++) data[r * dim + j] /= norm;
  });
  return Array.fromData(data, [texts.length, dim]);
}

/** Runs the demo; returns its measurements. */
export function runLangIdDemo(opts: LangIdDemoOptions = {}): LangIdDemoResult {
  const langs = opts.languages ?? DEFAULT_LANGS;
  const dim = opts.features ?? 1024;
  const steps = opts.steps ?? 150;
  const lr = opts.learningRate ?? 2.0;
  const log = opts.log ?? ((l: string) => console.log(l));
  const t0 = performance.now();

  const split = { train: { x: [] as string[], y: [] as number[] }, test: { x: [] as string[], y: [] as number[] } };
  langs.forEach((code, li) => {
    for (const p of readDeclaration(code)) {
      const s = p.article >= 1 && p.article <= 24 ? split.train : split.test;
      s.x.push(p.text);
      s.y.push(li);
    }
  });
  log(`UDHR language ID: ${langs.length} languages, ${split.train.x.length} training and ${split.test.x.length} held-out paragraphs, ${dim} hashed trigram features`);
  const xTrain = trigramFeatures(split.train.x, dim);
  const yTrain = np.array(split.train.y, { dtype: 'int32' });
  const xTest = trigramFeatures(split.test.x, dim);
  const yTest = np.array(split.test.y, { dtype: 'int32' });

  const key = random.key(opts.seed ?? 0);
  let params = { w: np.multiply(random.normal(key, [dim, langs.length]), 0.01), b: np.zeros([langs.length]) };
  const loss = (p: { w: Array; b: Array }, x: Array, y: Array) => {
    const logits = np.add(np.matmul(x, p.w), p.b);
    const logp = np.log_softmax(logits, -1);
    return np.negative(np.mean(np.sum(np.multiply(np.one_hot(y, langs.length), logp), -1)));
  };
  const accuracy = (p: { w: Array; b: Array }, x: Array, y: Array) =>
    Number(np.mean(np.astype(np.equal(np.argmax(np.add(np.matmul(x, p.w), p.b), -1), y), 'float32')).item());

  log('gradient graph of the loss (first lines):');
  const g = makeGraph((p: { w: Array; b: Array }) => valueAndGrad(loss)(p, xTrain, yTrain))(params).toString().split('\n');
  for (const line of g.slice(0, 6)) log('  ' + line);
  log(`  … ${g.length} lines in all`);

  const step = valueAndGrad(loss);
  const losses: number[] = [];
  for (let i = 1; i <= steps; i++) {
    const [l, grads] = step(params, xTrain, yTrain);
    params = { w: np.subtract(params.w, np.multiply(grads.w, lr)), b: np.subtract(params.b, np.multiply(grads.b, lr)) };
    losses.push(Number(l.item()));
    if (i % 10 === 0 || i === 1 || i === steps) {
      const el = (performance.now() - t0) / 1000;
      const eta = (el / i) * (steps - i);
      const rate = (i * split.train.x.length) / el;
      log(`step ${String(i).padStart(3)}/${steps}  loss ${losses[i - 1].toFixed(4)}  train acc ${accuracy(params, xTrain, yTrain).toFixed(3)}  ${rate.toFixed(0)} ex/s  ETA ${eta.toFixed(1)}s`);
    }
  }
  const res: LangIdDemoResult = {
    trainAccuracy: accuracy(params, xTrain, yTrain),
    heldOutAccuracy: accuracy(params, xTest, yTest),
    finalLoss: losses[losses.length - 1],
    losses,
    languages: langs,
    seconds: (performance.now() - t0) / 1000,
  };
  log(`held-out accuracy ${res.heldOutAccuracy.toFixed(3)} on ${split.test.x.length} paragraphs (chance ${(1 / langs.length).toFixed(3)}); ${res.seconds.toFixed(1)} s`);
  return res;
}
