// Template filling, options, few-shot and chain-of-thought rendering (exact-string goldens for
// fixed seeds), and Flan-style chain-of-thought answer extraction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COT_TEMPLATES, FLAN_FEW_SHOT, MARKER_STYLES, extractCotAnswer, fillTemplate, formatLetteredOptions, formatOptions,
  letterTarget, normalizeCotTarget, optionMarker, renderExample, renderFewShot, splitAnswerCue, templateFields,
} from '../../src/tasks/templates.js';
import { Rng } from '../../src/tasks/rng.js';
import { TaskError } from '../../src/tasks/errors.js';
import { getFamily } from '../../src/tasks/collection.js';
import { renderFamilyExample } from '../../src/tasks/registry.js';

test('fillTemplate substitutes fields verbatim, honours {{ }} escapes and names missing fields', () => {
  assert.equal(fillTemplate('Q: {q} {{literal}} A: {a}', { q: 'x {y}', a: '}' }), 'Q: x {y} {literal} A: }');
  assert.deepEqual(templateFields('{a} and {b} and {a} {{c}}'), ['a', 'b']);
  assert.throws(() => fillTemplate('{q} {missing}', { q: '1' }), (e: Error) => e instanceof TaskError && /no field 'missing'/.test(e.message) && /fields: q/.test(e.message));
  assert.throws(() => fillTemplate('open {q', { q: '1' }), /unclosed '\{'/);
  assert.throws(() => fillTemplate('stray } here', {}), /stray '\}'/);
  assert.throws(() => fillTemplate('{not a name}', {}), /not a field name/);
});

test('options blocks: Flan plain list and lettered markers', () => {
  assert.equal(formatOptions(['yes', 'no']), 'OPTIONS:\n- yes\n- no');
  assert.equal(formatLetteredOptions(['x', 'y', 'z'], 'paren'), 'OPTIONS:\n(A) x\n(B) y\n(C) z');
  assert.deepEqual(MARKER_STYLES.map((s) => optionMarker(1, s)), ['(B)', 'B.', 'B)', '[B]']);
  assert.deepEqual(MARKER_STYLES.map((s) => letterTarget(1, s)), ['(B)', 'B', 'B', 'B']);
  assert.throws(() => optionMarker(26, 'paren'), /at most 26/);
  assert.throws(() => formatOptions([]), TaskError);
});

test('answer cues: options go before a trailing "A:"-style line', () => {
  assert.deepEqual(splitAnswerCue('Q: hi\nA:'), ['Q: hi', 'A:']);
  assert.deepEqual(splitAnswerCue('Text: abc\nLanguage:'), ['Text: abc', 'Language:']);
  assert.deepEqual(splitAnswerCue('single line:'), ['single line:', null]);
  assert.deepEqual(splitAnswerCue('Q: hi\nthis last line is much too long to be a cue, really:'), ['Q: hi\nthis last line is much too long to be a cue, really:', null]);
  const t = { inputs: 'Q: {q}\nA:', targets: '{answer}' };
  const plain = renderExample({ template: t, fields: { q: 'What is 2+2?', answer: '4' }, answer: '4', options: ['3', '4', '5'], optionsMode: 'plain' });
  assert.equal(plain.inputs, 'Q: What is 2+2?\n\nOPTIONS:\n- 3\n- 4\n- 5\nA:');
  assert.equal(plain.targets, '4');
});

test('golden: lettered options with randomized order and markers (fixed seeds)', () => {
  const t = { inputs: 'Q: {q}\nA:', targets: '{answer}' };
  const req = { template: t, fields: { q: 'What is 2+2?', answer: '4' }, answer: '4', options: ['3', '4', '5'], optionsMode: 'letters' as const };
  assert.deepEqual(renderExample({ ...req, rng: new Rng('golden') }), {
    inputs: 'Q: What is 2+2?\n\nOPTIONS:\nA. 3\nB. 5\nC. 4\nA:', targets: 'C', answer: 'C', options: ['3', '5', '4'], optionTargets: ['A', 'B', 'C'],
  });
  assert.deepEqual(renderExample({ ...req, rng: new Rng('golden-2') }), {
    inputs: 'Q: What is 2+2?\n\nOPTIONS:\nA) 4\nB) 5\nC) 3\nA:', targets: 'A', answer: 'A', options: ['4', '5', '3'], optionTargets: ['A', 'B', 'C'],
  });
  // With the paren style the target is the marker itself, as in Flan.
  let paren: ReturnType<typeof renderExample> | undefined;
  for (let s = 0; !paren; s++) {
    const r = renderExample({ ...req, rng: new Rng(`p${s}`) });
    if (r.inputs.includes('(A)')) paren = r;
  }
  assert.match(paren.targets, /^\([ABC]\)$/);
  assert.equal(paren.options?.[paren.targets.charCodeAt(1) - 65], '4');
});

test('options and chain of thought refuse inverted templates and answer-less options', () => {
  const inv = { inputs: 'Which question has answer {answer}?', targets: '{q}', inverted: true };
  assert.throws(() => renderExample({ template: inv, fields: { q: 'x', answer: '1' }, answer: '1', options: ['1', '2'], optionsMode: 'plain' }), /inverted/);
  const t = { inputs: '{q}', targets: '{answer}' };
  assert.throws(() => renderExample({ template: t, fields: { q: 'x', answer: '1' }, answer: '1', options: ['2', '3'], optionsMode: 'plain' }), /not among the options/);
  assert.throws(() => renderExample({ template: t, fields: { q: 'x', answer: '1' }, answer: '1', options: ['1', '2'], optionsMode: 'letters' }), /need an Rng/);
});

test('golden: Flan few-shot format (blank line between x and y, two between exemplars)', () => {
  assert.deepEqual(FLAN_FEW_SHOT, { xyDelimiter: '\n\n', exampleSeparator: '\n\n\n' });
  const out = renderFewShot(
    [{ inputs: 'Q1', targets: 'A1' }, { inputs: 'Q2  ', targets: 'A2' }],
    { inputs: 'Q3', targets: 'A3', answer: 'A3' },
  );
  assert.equal(out.inputs, 'Q1\n\nA1\n\n\nQ2  \n\nA2\n\n\nQ3\n\n');
  assert.equal(out.targets, 'A3');
  assert.equal(renderFewShot([], { inputs: 'Q', targets: 'A', answer: 'A' }).inputs, 'Q');
  assert.equal(renderFewShot([{ inputs: 'a', targets: 'b' }], { inputs: 'q ', targets: 'A', answer: 'A' }, { xyDelimiter: ' ', exampleSeparator: '\n' }).inputs, 'a b\nq');
});

test('golden: a family example rendered 2-shot with template 0 (seed 0)', () => {
  const f = getFamily('multistep_arithmetic');
  const ex = f.generate('train', 1, 0)[0];
  const r = renderFamilyExample(f, ex, { template: 0, fewShot: 2, seed: 0 });
  assert.equal(r.inputs, '((7 * 9) - (9 - -3)) =\n\n51\n\n\n((-2 * -5) - (6 + 4)) =\n\n0\n\n\n((5 * 0) + (-6 + 5)) =\n\n');
  assert.equal(r.targets, '-1');
  assert.equal(r.exemplarIds.length, 2);
  assert.ok(!r.exemplarIds.includes(ex.id));
});

test('golden: chain-of-thought, inverted and options renderings of family examples', () => {
  const b = getFamily('boolean_expressions');
  const bx = b.generate('test', 1, 0)[0];
  const cot = renderFamilyExample(b, bx, { template: 1, cot: true, cotTemplate: 0, seed: 0 });
  assert.equal(cot.inputs, "Evaluate the boolean expression: True and not False Let's think step by step.");
  assert.equal(cot.targets, 'Evaluate inner parts first; not binds tighter than and, and and binds tighter than or. not False = True. True and True = True. So the answer is True.');
  assert.equal(extractCotAnswer(cot.targets), 'True');
  const inv = renderFamilyExample(b, bx, { template: 5, seed: 0 });
  assert.equal(inv.inputs, 'Write a boolean expression using True, False, not, and, or that evaluates to True.');
  assert.equal(inv.targets, 'True and not False');
  const n = getFamily('nth_element');
  const nx = n.generate('test', 1, 0)[0];
  const opt = renderFamilyExample(n, nx, { template: 1, options: 'plain', seed: 0 });
  assert.equal(opt.inputs, 'List: admissible, octahedron, surprising, unwind, violent, scourge, rose, flocculate, declared\n\nOPTIONS:\n- declared\n- scourge\n- unwind\n- surprising\nItem number 6 counting from the end:');
  assert.equal(opt.targets, 'unwind');
});

test('chain-of-thought templates: at least five, all "step by step"-style with a final answer', () => {
  assert.ok(COT_TEMPLATES.length >= 5);
  assert.ok(COT_TEMPLATES.some((t) => t.inputs.includes("Let's think step by step.")));
  for (const t of COT_TEMPLATES) {
    assert.deepEqual(templateFields(t.inputs), ['question']);
    assert.deepEqual(templateFields(t.targets), ['rationale', 'answer']);
    const r = fillTemplate(t.targets, { rationale: '2 + 2 = 4.', answer: '(B)' });
    assert.equal(extractCotAnswer(r), 'B', t.targets);
  }
});

test('extractCotAnswer follows Flan\'s take_cot_answer', () => {
  const cases: Array<[string, string]> = [
    ['2 + 3 = 5. So the answer is 5.', '5'],
    ['So the answer is (B).', 'B'],
    ['  The answer is yes.\n', 'yes'],
    ['Step-by-step reasoning: 4 * 2 = 8.\nThe final answer: 8.', '8'],
    ['Reasoning... Answer: False', 'False'],
    ['The answer is 12/25/1937.', '12/25/1937'],
    ['first the answer is 3, no wait, the answer is 4.', '4'],
    ['no marker at all', 'no marker at all'],
    ['So the answer is ] ) ) >.', '] ) ) >'],
    ['', ''],
  ];
  for (const [text, want] of cases) assert.equal(extractCotAnswer(text), want, JSON.stringify(text));
  assert.equal(normalizeCotTarget('(B)'), 'B');
  assert.equal(normalizeCotTarget('True.'), 'True');
  assert.equal(normalizeCotTarget(' 42 '), '42');
});
