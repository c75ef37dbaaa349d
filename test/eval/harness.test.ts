/**
 * Tests of the evaluation harness with a deterministic table-lookup model (a test double that answers
 * from a table it is given, right on some examples and wrong on others by a rule the test knows):
 * zero-shot generation, rank classification over options, few-shot prompts (exemplars from the train
 * split, Flan separators, deterministic), chain-of-thought answer extraction, per-task and per-cluster
 * numbers, the printed table, the JSON file, and contract errors.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Task, Mixture, ByteVocabulary, type Example, type Split } from '../../src/data/seqio/index.js';
import { evaluate, evaluateTask, formatReport, writeReport, extractCotAnswer, buildPrompt, DEFAULT_PROMPT_FORMAT, EvalError, type LanguageModel, type EvalReport } from '../../src/eval/index.js';

const vocab = new ByteVocabulary();
const features = { inputs: { vocabulary: vocab, addEos: true }, targets: { vocabulary: vocab, addEos: true } };
const SPLIT_OFFSET: Record<Split, number> = { train: 1000, validation: 0, test: 2000 };
const N = 24;

function numbers(split: Split): number[] {
  return Array.from({ length: N }, (_, i) => SPLIT_OFFSET[split] + 3 * i + 1);
}

const arith = new Task({
  name: 'h_double',
  source: (split) => numbers(split).map((n) => ({ n })),
  preprocessors: [(ex) => ({ n: ex.n, inputs: `Double ${ex.n}.`, targets: String(2 * (ex.n as number)) })],
  outputFeatures: features,
  meta: { cluster: 'math', family: 'doubling' },
});
const parity = new Task({
  name: 'h_parity',
  source: (split) => numbers(split).map((n) => ({ n })),
  preprocessors: [(ex) => ({ n: ex.n, inputs: `Is ${ex.n} even?`, options: ['yes', 'no'], targets: (ex.n as number) % 2 === 0 ? 'yes' : 'no' })],
  outputFeatures: features,
  meta: { cluster: 'classification', family: 'parity' },
});
const cot = new Task({
  name: 'h_cot',
  source: (split) => numbers(split).map((n) => ({ n })),
  preprocessors: [(ex) => ({
    n: ex.n,
    inputs: `What is ${ex.n} plus 5?`,
    targets: `${ex.n} plus 5 is ${(ex.n as number) + 5}. So the answer is ${(ex.n as number) + 5}.`,
    answer: String((ex.n as number) + 5),
  })],
  outputFeatures: features,
  meta: { cluster: 'math', family: 'addition-cot' },
});

/** The rules the lookup model follows (and the test recomputes independently). */
const doublesRight = (n: number) => n % 4 !== 3;
const parityRight = (n: number) => n % 5 !== 0;
const cotRight = (n: number) => n % 7 !== 0;

/** A deterministic table-lookup model: its table maps each query line to an answer or option scores. */
function lookupModel(): LanguageModel & { prompts: string[] } {
  const table = new Map<string, string>();
  const scores = new Map<string, Record<string, number>>();
  for (const split of ['train', 'validation', 'test'] as Split[]) {
    for (const n of numbers(split)) {
      table.set(`Double ${n}.`, doublesRight(n) ? String(2 * n) : String(2 * n + 1));
      const right = n % 2 === 0 ? 'yes' : 'no';
      const wrong = right === 'yes' ? 'no' : 'yes';
      scores.set(`Is ${n} even?`, parityRight(n) ? { [right]: -0.5, [wrong]: -2 } : { [right]: -3, [wrong]: -0.1 });
      table.set(`What is ${n} plus 5?\nLet's think step by step.`, `We add 5 to ${n}. So the answer is ${cotRight(n) ? n + 5 : n + 6}.`);
    }
  }
  const query = (p: string) => p.split(DEFAULT_PROMPT_FORMAT.exampleSeparator).pop() as string;
  const prompts: string[] = [];
  return {
    name: 'lookup',
    prompts,
    async generate(ps) {
      prompts.push(...ps);
      return ps.map((p) => table.get(query(p)) ?? '');
    },
    async score(ps, targets) {
      return ps.map((p, i) => {
        const s = scores.get(query(p));
        if (!s) throw new Error(`no scores for ${query(p)}`);
        return s[targets[i]];
      });
    },
  };
}

function pct(xs: number[], ok: (n: number) => boolean): number {
  return (100 * xs.filter(ok).length) / xs.length;
}

test('zero-shot: generation and rank classification, per task and per cluster', async () => {
  const model = lookupModel();
  const report = await evaluate(model, new Mixture('h_mix', [arith, parity]), { batchSize: 5 });
  const val = numbers('validation');
  const [d, p] = report.tasks;
  assert.equal(d.task, 'h_double');
  assert.equal(d.method, 'generate');
  assert.equal(d.n, N);
  assert.equal(d.metrics.exact_match, pct(val, doublesRight));
  assert.equal(p.method, 'rank');
  assert.equal(p.metrics.accuracy, pct(val, parityRight));
  assert.deepEqual(report.clusters.map((c) => [c.cluster, c.tasks, c.metrics.primary]), [
    ['classification', 1, pct(val, parityRight)],
    ['math', 1, pct(val, doublesRight)],
  ]);
  assert.equal(report.overall.primary, (pct(val, doublesRight) + pct(val, parityRight)) / 2);
  assert.equal(d.samples[0].prompt, `Double ${val[0]}.`);
  assert.equal(d.samples.length, 5);
});

test('few-shot prompts: exemplars from train, Flan separators, deterministic', async () => {
  const model = lookupModel();
  const r1 = await evaluateTask(model, arith, { mode: 'few-shot', shots: 3, seed: 4 });
  const r2 = await evaluateTask(lookupModel(), arith, { mode: 'few-shot', shots: 3, seed: 4 });
  assert.deepEqual(r1.samples.map((s) => s.prompt), r2.samples.map((s) => s.prompt));
  assert.equal(r1.metrics.exact_match, pct(numbers('validation'), doublesRight));
  const train = new Set(numbers('train'));
  for (const prompt of model.prompts) {
    const parts = prompt.split('\n\n\n');
    assert.equal(parts.length, 4);
    const shown = parts.slice(0, 3).map((x) => {
      const [q, a] = x.split('\n\n');
      const n = Number(/Double (\d+)\./.exec(q)![1]);
      assert.equal(a, String(2 * n), 'exemplars show their targets');
      return n;
    });
    for (const n of shown) assert.ok(train.has(n), 'exemplars come from the train split');
    assert.equal(new Set(shown).size, 3, 'distinct exemplars');
  }
  const r3 = await evaluateTask(lookupModel(), arith, { mode: 'few-shot', shots: 3, seed: 5 });
  assert.notDeepEqual(r3.samples.map((s) => s.prompt), r1.samples.map((s) => s.prompt));
  assert.equal(buildPrompt({ inputs: 'Q' }, [{ inputs: 'a', targets: 'b' }], 'few-shot', DEFAULT_PROMPT_FORMAT), 'a\n\nb\n\n\nQ');
});

test('chain-of-thought: trigger appended, answer extracted and compared with ex.answer', async () => {
  const report = await evaluate(lookupModel(), [cot, arith], { mode: 'cot' });
  const c = report.tasks.find((t) => t.task === 'h_cot')!;
  assert.equal(c.metrics.exact_match, pct(numbers('validation'), cotRight));
  assert.ok(c.samples[0].prompt.endsWith("\nLet's think step by step."));
  assert.equal(c.samples[0].prediction, String(numbers('validation')[0] + 5));
  assert.equal(extractCotAnswer('x. So the answer is 42.'), '42');
  assert.equal(extractCotAnswer('So the answer is 1. Wait, the answer is (B).\nDone'), '(B)');
  assert.equal(extractCotAnswer('no conclusion'), '');
  // Few-shot CoT shows exemplar rationales (their targets) before the query.
  const m = lookupModel();
  await evaluateTask(m, cot, { mode: 'cot', shots: 2, maxExamples: 3 });
  assert.match(m.prompts[0], /So the answer is \d+\.\n\n\n.*So the answer is \d+\.\n\n\nWhat is \d+ plus 5\?\nLet's think step by step\.$/s);
});

test('report table and JSON file', async () => {
  const report = await evaluate(lookupModel(), [arith, parity, cot], { maxExamples: 10 });
  const table = formatReport(report);
  assert.match(table, /h_double\s+math\s+generate\s+10\s+exact_match\s+\d+\.\d\d/);
  assert.match(table, /h_parity\s+classification\s+rank\s+10\s+accuracy/);
  assert.match(table, /overall mean primary: \d+\.\d\d over 3 tasks/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-eval-'));
  try {
    const file = path.join(dir, 'sub', 'report.json');
    writeReport(report, file);
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')) as EvalReport, JSON.parse(JSON.stringify(report)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('contract errors are clear', async () => {
  const bad: LanguageModel = { async generate(ps) { return ps.slice(1); }, async score(ps) { return ps.map(() => 0); } };
  await assert.rejects(evaluateTask(bad, arith, { maxExamples: 3 }), /returned 2 results for 3 inputs/);
  await assert.rejects(evaluate({} as LanguageModel, arith), EvalError);
  await assert.rejects(evaluateTask(lookupModel(), arith, { mode: 'few-shot', shots: 30 }), /fewer than shots=30/);
  await assert.rejects(evaluateTask(lookupModel(), arith, { rankClassification: true }), /has no options/);
  const noInputs = new Task({ name: 'h_noinputs', source: () => [{ q: 'x' } as Example], outputFeatures: {} });
  await assert.rejects(evaluateTask(lookupModel(), noInputs), /lacks a string 'inputs'/);
});
