// Independent checks of the BIG-Bench-Hard-like families: each problem text is parsed back and
// solved by a separate solver (JavaScript's boolean evaluator, a bracket stack, a position
// simulator, brute force over all orderings, …).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getFamily } from '../../src/tasks/collection.js';
import type { TaskExample } from '../../src/tasks/family.js';
import { OBJECT_LEXICON } from '../../src/tasks/families/reasoning.js';

function sample(name: string, n = 200): TaskExample[] {
  const f = getFamily(name);
  return [...f.generate('train', n, 3), ...f.generate('validation', Math.ceil(n / 4), 3)];
}

test('boolean_expressions: answers match JavaScript evaluation (not→!, and→&&, or→||)', () => {
  let t = 0;
  for (const ex of sample('boolean_expressions')) {
    const expr = ex.fields.expression;
    assert.match(expr, /^(True|False|not|and|or|\(|\)| )+$/);
    const js = expr.replace(/\bnot\b/g, '!').replace(/\band\b/g, '&&').replace(/\bor\b/g, '||').replace(/\bTrue\b/g, 'true').replace(/\bFalse\b/g, 'false');
    const v = new Function(`return ${js};`)() as boolean;
    assert.equal(ex.answer, v ? 'True' : 'False', expr);
    if (v) t++;
  }
  assert.ok(t > 40 && t < 210, `answers should be mixed: ${t} True`);
});

test('dyck_languages: the answer closes every open bracket, checked with a stack', () => {
  const close: Record<string, string> = { '(': ')', '[': ']', '{': '}', '<': '>' };
  for (const ex of sample('dyck_languages')) {
    const stack: string[] = [];
    const tokens = [...ex.fields.sequence.split(' '), ...ex.answer.split(' ')];
    for (const tok of tokens) {
      if (tok in close) stack.push(tok);
      else assert.equal(close[stack.pop() as string], tok, `mismatch in ${ex.fields.sequence} + ${ex.answer}`);
    }
    assert.equal(stack.length, 0);
    assert.ok(ex.answer.length > 0);
  }
});

test('navigate: answers match a simulation of the parsed instructions', () => {
  let yes = 0;
  for (const ex of sample('navigate')) {
    const steps = ex.fields.instructions.match(/[^.]+\./g) ?? [];
    let x = 0, y = 0, dir = 0; // 0 north, 1 east, 2 south, 3 west
    const dv = [[0, 1], [1, 0], [0, -1], [-1, 0]];
    let forwardOnly = false;
    for (const raw of steps) {
      const s = raw.trim();
      let m: RegExpExecArray | null;
      if (s === 'Always face forward.') forwardOnly = true;
      else if ((m = /^Take (\d+) steps? (forward|backward|left|right)\.$/.exec(s))) {
        assert.ok(forwardOnly);
        const k = Number(m[1]);
        const [dx, dy] = { forward: [0, 1], backward: [0, -1], left: [-1, 0], right: [1, 0] }[m[2] as 'forward'];
        x += k * dx; y += k * dy;
      } else if ((m = /^Take (\d+) steps?\.$/.exec(s))) {
        x += Number(m[1]) * dv[dir][0]; y += Number(m[1]) * dv[dir][1];
      } else if ((m = /^Turn (left|right|around)\.$/.exec(s))) {
        dir = (dir + { right: 1, around: 2, left: 3 }[m[1] as 'left']) % 4;
      } else throw new Error(`unparsed instruction '${s}'`);
    }
    const back = x === 0 && y === 0;
    assert.equal(ex.answer, back ? 'Yes' : 'No', ex.fields.instructions);
    if (back) yes++;
  }
  assert.ok(yes > 60 && yes < 190, `Yes should be about half: ${yes}`);
});

test('web_of_lies: answers match propagating truth through the parsed statements', () => {
  for (const ex of sample('web_of_lies')) {
    const sents = ex.fields.question.match(/[^.?]+[.?]/g)?.map((s) => s.trim()) ?? [];
    const truth = new Map<string, boolean>();
    const first = /^(\w+) (lies|tells the truth)\.$/.exec(sents[0]) as RegExpExecArray;
    truth.set(first[1], first[2] === 'tells the truth');
    for (const s of sents.slice(1, -1)) {
      const m = /^(\w+) says (\w+) (lies|tells the truth)\.$/.exec(s);
      assert.ok(m, s);
      const claim = m[3] === 'tells the truth';
      truth.set(m[1], claim === truth.get(m[2]));
    }
    const q = /^Does (\w+) tell the truth\?$/.exec(sents[sents.length - 1]) as RegExpExecArray;
    assert.equal(ex.answer, truth.get(q[1]) ? 'Yes' : 'No', ex.fields.question);
  }
});

test('logical_deduction: the clues have exactly one solution (brute force) and the answer is right', () => {
  const ORD: Record<string, number> = { first: 1, second: 2, third: 3, fourth: 4, fifth: 5 };
  const perms = (xs: number[]): number[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p])));
  for (const ex of sample('logical_deduction', 120)) {
    const p = ex.fields.paragraph;
    const intro = /^[^:]+: (.+?)\. (The .*)$/.exec(p) as RegExpExecArray;
    const objects = intro[1].split(/, and |, | and /).map((s) => s.replace(/^(a|an) /, ''));
    const n = objects.length;
    const idx = (name: string): number => {
      const i = objects.indexOf(name);
      assert.ok(i >= 0, `unknown object '${name}' in ${p}`);
      return i;
    };
    const clues: Array<(pos: number[]) => boolean> = [];
    for (const s of intro[2].match(/The [^.]+\./g) ?? []) {
      let m: RegExpExecArray | null;
      if ((m = /^The (.+) is to the (left|right) of the (.+)\.$/.exec(s))) {
        const a = idx(m[1]), b = idx(m[3]), left = m[2] === 'left';
        clues.push((pos) => (left ? pos[a] < pos[b] : pos[a] > pos[b]));
      } else if ((m = /^The (.+) is the (leftmost|rightmost)\.$/.exec(s))) {
        const a = idx(m[1]), at = m[2] === 'leftmost' ? 0 : n - 1;
        clues.push((pos) => pos[a] === at);
      } else if ((m = /^The (.+) is the (\w+) from the (left|right)\.$/.exec(s))) {
        const a = idx(m[1]), k = ORD[m[2]], at = m[3] === 'left' ? k - 1 : n - k;
        clues.push((pos) => pos[a] === at);
      } else throw new Error(`unparsed clue '${s}'`);
    }
    // pos[object] = place from the left; brute force over all assignments.
    const sols = perms(Array.from({ length: n }, (_, i) => i)).filter((pos) => clues.every((c) => c(pos)));
    assert.equal(sols.length, 1, `clues must determine the order: ${p}`);
    const q = /^Which \w+ is the (?:(leftmost|rightmost)|(\w+) from the (left|right))\?$/.exec(ex.fields.question) as RegExpExecArray;
    const at = q[1] ? (q[1] === 'leftmost' ? 0 : n - 1) : q[3] === 'left' ? ORD[q[2]] - 1 : n - ORD[q[2]];
    assert.equal(ex.answer, `the ${objects[sols[0].indexOf(at)]}`, `${p} ${ex.fields.question}`);
  }
});

test('tracking_shuffled_objects: answers match replaying the parsed swaps', () => {
  for (const ex of sample('tracking_shuffled_objects')) {
    const q = ex.fields.question;
    const holds = new Map<string, string>();
    for (const m of q.matchAll(/(\w+) has a (\w+ (?:ball|present))/g)) holds.set(m[1], m[2]);
    assert.ok(holds.size === 3 || holds.size === 5, q);
    const swaps = [...q.matchAll(/(?:First|Then|Finally), (\w+) and (\w+) swap/g)];
    assert.equal(swaps.length, holds.size);
    for (const [, a, b] of swaps) {
      const t = holds.get(a) as string;
      holds.set(a, holds.get(b) as string);
      holds.set(b, t);
    }
    const who = (/, (\w+) has the$/.exec(q) as RegExpExecArray)[1];
    assert.equal(ex.answer, holds.get(who), q);
  }
});

test('word_sorting: answers match locale-aware sorting of the word list', () => {
  for (const ex of sample('word_sorting')) {
    const words = ex.fields.words.split(' ');
    const sorted = words.slice().sort((a, b) => a.localeCompare(b, 'en'));
    assert.equal(ex.answer, sorted.join(' '));
  }
});

test('object_counting: answers match recounting the parsed possessions by category', () => {
  const NUM: Record<string, number> = { a: 1, an: 1, one: 1, two: 2, three: 3, four: 4 };
  for (const ex of sample('object_counting')) {
    const m = /^I have (.+)\. How many (.+) do I have\?$/.exec(ex.fields.question) as RegExpExecArray;
    const cat = m[2];
    const members = new Set((OBJECT_LEXICON[cat] ?? []).flatMap(([s, p]) => [s, p]));
    assert.ok(members.size > 0, `unknown category ${cat}`);
    let total = 0;
    for (const item of m[1].split(/, and |, | and /)) {
      const im = /^(a|an|one|two|three|four) (.+)$/.exec(item) as RegExpExecArray;
      assert.ok(im, `unparsed item '${item}'`);
      if (members.has(im[2])) total += NUM[im[1]];
    }
    assert.equal(ex.answer, String(total), ex.fields.question);
    assert.ok(total >= 1);
  }
});
