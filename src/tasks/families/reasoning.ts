/**
 * Cluster `symbolic_reasoning`: generated problems in the style of BIG-Bench Hard (Suzgun et al.
 * 2022) — boolean expressions, Dyck languages, navigation, web of lies, logical deduction,
 * tracking shuffled objects, word sorting and object counting — each with a worked rationale
 * (except word sorting). Problem texts follow the BBH phrasing so the families can stand in for
 * BBH as held-out evaluation tasks.
 */

import type { Problem, TaskFamily } from '../family.js';
import { flanTemplates, generatedFamilyBuilder, invertedTemplate } from '../family_builder.js';
import type { Rng } from '../rng.js';
import { commonWords } from '../data/wordnet.js';
import { article, joinAnd, numberWord, ordinalWord } from './util.js';

/** The families of this cluster; each says itself whether it has answer options and rationales. */
const reasoningFamily = generatedFamilyBuilder({ cluster: 'symbolic_reasoning' });

// ----------------------------------------------------------------------------------------------
// boolean_expressions

type BoolExpr = { k: 'lit'; v: boolean } | { k: 'not'; x: BoolExpr } | { k: 'and' | 'or'; l: BoolExpr; r: BoolExpr };

const PREC = { or: 1, and: 2, not: 3, lit: 4 } as const;

function randomBool(rng: Rng, ops: number): BoolExpr {
  if (ops === 0) return { k: 'lit', v: rng.bool() };
  if (rng.bool(0.3)) return { k: 'not', x: randomBool(rng, ops - 1) };
  const left = rng.int(0, ops - 1);
  return { k: rng.bool() ? 'and' : 'or', l: randomBool(rng, left), r: randomBool(rng, ops - 1 - left) };
}

function showBool(e: BoolExpr, rng: Rng): string {
  const wrap = (x: BoolExpr, need: boolean): string => {
    const s = showBool(x, rng);
    return need || (x.k !== 'lit' && rng.bool(0.25)) || (x.k === 'lit' && rng.bool(0.08)) ? `( ${s} )` : s;
  };
  switch (e.k) {
    case 'lit': return e.v ? 'True' : 'False';
    case 'not': return `not ${wrap(e.x, PREC[e.x.k] < PREC.not)}`;
    default: return `${wrap(e.l, PREC[e.l.k] < PREC[e.k])} ${e.k} ${wrap(e.r, PREC[e.r.k] < PREC[e.k])}`;
  }
}

function evalBool(e: BoolExpr, steps: string[]): boolean {
  const name = (b: boolean): string => (b ? 'True' : 'False');
  switch (e.k) {
    case 'lit': return e.v;
    case 'not': {
      const x = evalBool(e.x, steps);
      steps.push(`not ${name(x)} = ${name(!x)}.`);
      return !x;
    }
    default: {
      const l = evalBool(e.l, steps);
      const r = evalBool(e.r, steps);
      const v = e.k === 'and' ? l && r : l || r;
      steps.push(`${name(l)} ${e.k} ${name(r)} = ${name(v)}.`);
      return v;
    }
  }
}

const booleanExpressions = reasoningFamily({
  name: 'boolean_expressions',
  description: 'Evaluate Python-style boolean expressions over True, False, not, and, or (BBH boolean_expressions).',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    '{expression} is',
    'Evaluate the boolean expression: {expression}',
    'What is the value of the following expression?\n{expression}',
    'Is the expression "{expression}" True or False?',
    'Determine whether {expression} evaluates to True or False.',
    invertedTemplate('Write a boolean expression using True, False, not, and, or that evaluates to {answer}.', '{expression}'),
  ),
  make(rng): Problem {
    const e = randomBool(rng, rng.int(2, 5));
    const expression = showBool(e, rng);
    const steps: string[] = [];
    const v = evalBool(e, steps);
    const answer = v ? 'True' : 'False';
    return {
      key: expression,
      fields: { expression },
      answer,
      options: ['True', 'False'],
      rationale: `Evaluate inner parts first; not binds tighter than and, and and binds tighter than or. ${steps.join(' ')}`,
    };
  },
});

// ----------------------------------------------------------------------------------------------
// dyck_languages

const PAIRS: Record<string, string> = { '(': ')', '[': ']', '{': '}', '<': '>' };
const OPENERS = Object.keys(PAIRS);

const dyckLanguages = reasoningFamily({
  name: 'dyck_languages',
  description: 'Close the open brackets of a sequence over (), [], {}, <> (BBH dyck_languages).',
  hasCot: true,
  templates: flanTemplates(
    'Complete the rest of the sequence, making sure that the parentheses are closed properly. Input: {sequence}',
    'Close all the open brackets in this sequence: {sequence}',
    'Input: {sequence}\nWhich closing brackets, in order, balance this sequence?',
    'Here is an unfinished bracket sequence: {sequence}\nFinish it with the closing brackets it needs.',
    'Balance the brackets. Output only the missing closing brackets, separated by spaces.\n{sequence}',
    invertedTemplate('Write a bracket sequence that is balanced by appending exactly "{answer}".', '{sequence}'),
  ),
  make(rng): Problem {
    const len = rng.int(4, 18);
    const seq: string[] = [];
    const stack: string[] = [];
    for (let i = 0; i < len; i++) {
      const remaining = len - i;
      const canClose = stack.length > 0 && !(remaining === 1 && stack.length === 1);
      if (!canClose || rng.bool(0.55)) {
        const o = rng.pick(OPENERS);
        seq.push(o);
        stack.push(o);
      } else {
        seq.push(PAIRS[stack.pop() as string]);
      }
    }
    const closing = stack.slice().reverse().map((o) => PAIRS[o]);
    const sequence = seq.join(' ');
    return {
      key: sequence,
      fields: { sequence },
      answer: closing.join(' '),
      rationale: `Reading left to right and matching each closing bracket with the latest open one, the brackets still open are, from first to last: ${stack.join(' ')}. They must be closed in reverse order: ${closing.join(' ')}.`,
    };
  },
});

// ----------------------------------------------------------------------------------------------
// navigate

const navigate = reasoningFamily({
  name: 'navigate',
  description: 'Decide whether a sequence of steps and turns returns to the starting point (BBH navigate).',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    'If you follow these instructions, do you return to the starting point? {instructions}',
    'Instructions: {instructions}\nAfter following them, are you back where you started? Answer Yes or No.',
    '{instructions}\nDo these instructions bring you back to the starting point?',
    'Someone follows these directions: {instructions} Do they end up at the place they started?',
    'Q: Starting from a point, you do the following. {instructions} Are you at the starting point again?\nA:',
  ),
  make(rng): Problem {
    const faceForward = rng.bool();
    const wantReturn = rng.bool();
    const steps = (n: number): string => `${n} step${n === 1 ? '' : 's'}`;
    const lines: string[] = [];
    const trace: string[] = [];
    let x = 0, y = 0;
    if (faceForward) {
      const dirs = { forward: [0, 1], backward: [0, -1], left: [-1, 0], right: [1, 0] } as const;
      type D = keyof typeof dirs;
      const moves: Array<[number, D]> = [];
      const n = rng.int(2, 6);
      for (let i = 0; i < n; i++) moves.push([rng.int(1, 10), rng.pick(['forward', 'backward', 'left', 'right'] as const)]);
      if (wantReturn) {
        let dx = 0, dy = 0;
        for (const [k, d] of moves) { dx += k * dirs[d][0]; dy += k * dirs[d][1]; }
        if (dx !== 0) moves.push([Math.abs(dx), dx > 0 ? 'left' : 'right']);
        if (dy !== 0) moves.push([Math.abs(dy), dy > 0 ? 'backward' : 'forward']);
        if (moves.length < 3) moves.push([rng.int(1, 5), 'forward']);
      }
      const order = wantReturn ? rng.shuffle(moves) : moves;
      lines.push('Always face forward.');
      trace.push('Start at (0, 0), always facing forward (+y); right is +x.');
      for (const [k, d] of order) {
        x += k * dirs[d][0];
        y += k * dirs[d][1];
        lines.push(`Take ${steps(k)} ${d}.`);
        trace.push(`Take ${steps(k)} ${d}: (${x}, ${y}).`);
      }
    } else {
      // Headings: 0 north (+y), 1 east (+x), 2 south, 3 west.
      const DX = [0, 1, 0, -1], DY = [1, 0, -1, 0];
      const HEAD = ['north', 'east', 'south', 'west'];
      let h = 0;
      const take = (k: number): void => {
        x += k * DX[h]; y += k * DY[h];
        lines.push(`Take ${steps(k)}.`);
        trace.push(`Take ${steps(k)}: (${x}, ${y}), facing ${HEAD[h]}.`);
      };
      const turn = (t: 'left' | 'right' | 'around'): void => {
        h = (h + (t === 'right' ? 1 : t === 'left' ? 3 : 2)) % 4;
        lines.push(`Turn ${t}.`);
        trace.push(`Turn ${t}: now facing ${HEAD[h]}.`);
      };
      const face = (target: number): void => {
        const d = (target - h + 4) % 4;
        if (d === 1) turn('right'); else if (d === 2) turn('around'); else if (d === 3) turn('left');
      };
      trace.push('Start at (0, 0), facing north (+y); east is +x.');
      const n = rng.int(2, 5);
      for (let i = 0; i < n; i++) {
        if (rng.bool(0.5)) turn(rng.pick(['left', 'right', 'around'] as const));
        take(rng.int(1, 10));
      }
      if (wantReturn) {
        if (x !== 0) { face(x > 0 ? 3 : 1); take(Math.abs(x)); }
        if (y !== 0) { face(y > 0 ? 2 : 0); take(Math.abs(y)); }
      }
    }
    const back = x === 0 && y === 0;
    const instructions = lines.join(' ');
    return {
      key: instructions,
      fields: { instructions },
      answer: back ? 'Yes' : 'No',
      options: ['Yes', 'No'],
      rationale: `${trace.join(' ')} The final position is (${x}, ${y}), which is ${back ? '' : 'not '}the starting point.`,
      meta: { faceForward },
    };
  },
});

// ----------------------------------------------------------------------------------------------
// web_of_lies

const PEOPLE = ['Alexis', 'Amberly', 'Andree', 'Bernita', 'Christie', 'Conception', 'Crista', 'Delbert', 'Delfina', 'Elanor', 'Fidel', 'Gwenn', 'Helene', 'Inga', 'Jaymie', 'Jerry', 'Jim', 'Kandi', 'Kristian', 'Leda', 'Lorine', 'Maybelle', 'Millicent', 'Ka', 'Osvaldo', 'Phoebe', 'Raymond', 'Rashida', 'Sal', 'Shalonda', 'Sherrie', 'Shaunda', 'Tamika', 'Teressa', 'Ryan', 'Vernell', 'Vina', 'Willian', 'Yoland', 'Antwan'];

const webOfLies = reasoningFamily({
  name: 'web_of_lies',
  description: 'Follow a chain of people who say whether the previous one lies (BBH web_of_lies).',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    'Question: {question}',
    '{question} Answer Yes or No.',
    'Some people always tell the truth and some always lie. {question}',
    'Evaluate a chain of statements. {question}',
    'Q: {question}\nA:',
  ),
  make(rng): Problem {
    const n = rng.int(3, 5);
    const names = rng.sample(PEOPLE, n);
    let truthful = rng.bool();
    const sents = [`${names[0]} ${truthful ? 'tells the truth' : 'lies'}.`];
    const why = [`${names[0]} ${truthful ? 'tells the truth' : 'lies'}.`];
    for (let i = 1; i < n; i++) {
      const claimTruth = rng.bool();
      sents.push(`${names[i]} says ${names[i - 1]} ${claimTruth ? 'tells the truth' : 'lies'}.`);
      const next = claimTruth === truthful;
      why.push(`${names[i]} says ${names[i - 1]} ${claimTruth ? 'tells the truth' : 'lies'}; since ${names[i - 1]} ${truthful ? 'tells the truth' : 'lies'}, ${names[i]} ${next ? 'tells the truth' : 'lies'}.`);
      truthful = next;
    }
    const question = `${sents.join(' ')} Does ${names[n - 1]} tell the truth?`;
    return { key: question, fields: { question }, answer: truthful ? 'Yes' : 'No', options: ['Yes', 'No'], rationale: why.join(' ') };
  },
});

// ----------------------------------------------------------------------------------------------
// logical_deduction

interface Scene { intro: (n: string, list: string) => string; noun: string; things: string[]; label: (t: string) => string }
const SCENES: Scene[] = [
  { intro: (n, list) => `On a shelf, there are ${n} books: ${list}.`, noun: 'book', things: ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'brown', 'gray', 'black', 'white'], label: (t) => `${t} book` },
  { intro: (n, list) => `On a branch, there are ${n} birds: ${list}.`, noun: 'bird', things: ['robin', 'crow', 'hawk', 'owl', 'quail', 'cardinal', 'blue jay', 'falcon', 'hummingbird', 'raven'], label: (t) => t },
  { intro: (n, list) => `In a parking row, there are ${n} vehicles: ${list}.`, noun: 'vehicle', things: ['bus', 'truck', 'sedan', 'convertible', 'tractor', 'minivan', 'motorcycle', 'limousine', 'station wagon', 'hatchback'], label: (t) => t },
];

type Clue = { kind: 'rel'; a: number; b: number; left: boolean } | { kind: 'pos'; a: number; pos: number; fromLeft: boolean };

function positionPhrase(pos: number, n: number, fromLeft: boolean): string {
  // pos is 0-based from the left.
  if (fromLeft && pos === 0) return 'the leftmost';
  if (!fromLeft && pos === n - 1) return 'the rightmost';
  return fromLeft ? `the ${ordinalWord(pos + 1)} from the left` : `the ${ordinalWord(n - pos)} from the right`;
}

function clueHolds(c: Clue, place: number[]): boolean {
  return c.kind === 'rel' ? (c.left ? place[c.a] < place[c.b] : place[c.a] > place[c.b]) : place[c.a] === c.pos;
}

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (const p of permutations(n - 1)) for (let i = 0; i <= p.length; i++) out.push([...p.slice(0, i), n - 1, ...p.slice(i)]);
  return out;
}

const logicalDeduction = reasoningFamily({
  name: 'logical_deduction',
  description: 'Deduce a linear order of three to five objects from left/right clues and name the object at a position (BBH logical_deduction).',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    'The following paragraph describes a set of objects arranged in a fixed order. The statements are logically consistent. {paragraph}\n{question}',
    '{paragraph} {question}',
    'Read the description and answer the question.\nDescription: {paragraph}\nQuestion: {question}',
    'Logic puzzle: {paragraph}\n{question}',
    'Use the clues to work out the order. {paragraph}\nQ: {question}\nA:',
  ),
  make(rng): Problem {
    const scene = rng.pick(SCENES);
    const n = rng.int(3, 5);
    const things = rng.sample(scene.things, n);
    const labels = things.map(scene.label);
    const place = rng.shuffle(Array.from({ length: n }, (_, i) => i)); // place[obj] = position from left
    const pool: Clue[] = [];
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) if (a !== b && place[a] < place[b]) pool.push({ kind: 'rel', a, b, left: rng.bool() });
      pool.push({ kind: 'pos', a, pos: place[a], fromLeft: rng.bool() });
    }
    // Relational clues need their orientation fixed to the truth.
    const clues0 = rng.shuffle(pool).map((c): Clue => (c.kind === 'rel' && !c.left ? { kind: 'rel', a: c.b, b: c.a, left: false } : c));
    const perms = permutations(n);
    const chosen: Clue[] = [];
    let alive = perms;
    for (const c of clues0) {
      if (alive.length === 1) break;
      const next = alive.filter((p) => clueHolds(c, p));
      if (next.length < alive.length) { chosen.push(c); alive = next; }
    }
    const the = (i: number): string => `the ${labels[i]}`;
    const sentence = (c: Clue): string => (c.kind === 'rel'
      ? `The ${labels[c.a]} is to the ${c.left ? 'left' : 'right'} of ${the(c.b)}.`
      : `The ${labels[c.a]} is ${positionPhrase(c.pos, n, c.fromLeft)}.`);
    const list = joinAnd(labels.map((l) => `${article(l)} ${l}`));
    const paragraph = `${scene.intro(numberWord(n), list)} ${chosen.map(sentence).join(' ')}`;
    const askPos = rng.int(0, n - 1);
    const fromLeft = rng.bool();
    const question = `Which ${scene.noun} is ${positionPhrase(askPos, n, fromLeft)}?`;
    const objAt = place.indexOf(askPos);
    const order = Array.from({ length: n }, (_, p) => the(place.indexOf(p)));
    return {
      key: `${paragraph}|${question}`,
      fields: { paragraph, question },
      answer: the(objAt),
      options: labels.map((l) => `the ${l}`),
      rationale: `Combining the clues, the only consistent order from left to right is: ${order.join(', ')}. ${positionPhrase(askPos, n, fromLeft)[0].toUpperCase()}${positionPhrase(askPos, n, fromLeft).slice(1)} is ${the(objAt)}.`,
    };
  },
});

// ----------------------------------------------------------------------------------------------
// tracking_shuffled_objects

const PLAYERS = ['Alice', 'Bob', 'Claire', 'Dave', 'Eve'];
const COLORS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'white', 'black', 'brown'];

const trackingShuffledObjects = reasoningFamily({
  name: 'tracking_shuffled_objects',
  description: 'Track who holds which object after a sequence of pairwise swaps (BBH tracking_shuffled_objects).',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    '{question}',
    'Complete the sentence.\n{question}',
    'Keep track of the swaps and finish the last sentence: {question}',
    '{question} ___\nFill in the blank.',
    'Story: {question}\nWhat completes the story?',
  ),
  make(rng): Problem {
    const n = rng.pick([3, 5]);
    const players = PLAYERS.slice(0, n);
    const kind = rng.pick(['ball', 'present'] as const);
    const colors = rng.sample(COLORS, n);
    const holds = colors.map((c) => `${c} ${kind}`);
    const intro = kind === 'ball'
      ? `${joinAnd(players)} are playing a game. At the start of the game, they are each holding a ball: ${joinAnd(players.map((p, i) => `${p} has a ${holds[i]}`))}.\nAs the game progresses, pairs of players trade balls.`
      : `${joinAnd(players)} are holding a white elephant gift exchange. At the start of the event, they are each holding a present of a different color: ${joinAnd(players.map((p, i) => `${p} has a ${holds[i]}`))}.\nAs the event progresses, pairs of people swap gifts.`;
    const state = holds.slice();
    const swaps: string[] = [];
    const trace: string[] = [`At the start: ${players.map((p, i) => `${p}: ${state[i]}`).join(', ')}.`];
    for (let s = 0; s < n; s++) {
      const [i, j] = rng.sample(players.map((_, k) => k), 2);
      [state[i], state[j]] = [state[j], state[i]];
      const lead = s === 0 ? 'First' : s === n - 1 ? 'Finally' : 'Then';
      swaps.push(`${lead}, ${players[i]} and ${players[j]} swap ${kind === 'ball' ? 'balls' : 'their gifts'}.`);
      trace.push(`(${s + 1}) ${players[i]} and ${players[j]} swap: ${players.map((p, k) => `${p}: ${state[k]}`).join(', ')}.`);
    }
    const who = rng.int(0, n - 1);
    const question = `${intro} ${swaps.join(' ')} At the end of the ${kind === 'ball' ? 'game' : 'event'}, ${players[who]} has the`;
    return {
      key: question,
      fields: { question },
      answer: state[who],
      options: holds.slice(),
      rationale: `${trace.join(' ')} At the end, ${players[who]} has the ${state[who]}.`,
    };
  },
});

// ----------------------------------------------------------------------------------------------
// word_sorting

const wordSorting = reasoningFamily({
  name: 'word_sorting',
  description: 'Sort a list of English words (from WordNet) alphabetically (BBH word_sorting).',
  templates: flanTemplates(
    'Sort the following words alphabetically: List: {words}',
    'Put these words in alphabetical order: {words}',
    'Words: {words}\nWrite them sorted from A to Z, separated by spaces.',
    'Alphabetize the list "{words}".',
    'Arrange in dictionary order: {words}',
  ),
  make(rng): Problem {
    const words = rng.sample(commonWords(), rng.int(3, 12));
    const sorted = words.slice().sort();
    return { key: words.join(' '), fields: { words: words.join(' ') }, answer: sorted.join(' ') };
  },
});

// ----------------------------------------------------------------------------------------------
// object_counting

/** Category → [singular, plural] nouns, the lexicon of object_counting. */
export const OBJECT_LEXICON: Readonly<Record<string, ReadonlyArray<readonly [string, string]>>> = {
  vegetables: [['carrot', 'carrots'], ['potato', 'potatoes'], ['onion', 'onions'], ['cabbage', 'cabbages'], ['head of broccoli', 'heads of broccoli'], ['stalk of celery', 'stalks of celery'], ['yam', 'yams'], ['cauliflower', 'cauliflowers'], ['garlic', 'garlics'], ['lettuce head', 'lettuce heads']],
  fruits: [['apple', 'apples'], ['banana', 'bananas'], ['orange', 'oranges'], ['peach', 'peaches'], ['plum', 'plums'], ['grape', 'grapes'], ['strawberry', 'strawberries'], ['raspberry', 'raspberries'], ['blackberry', 'blackberries'], ['nectarine', 'nectarines']],
  animals: [['dog', 'dogs'], ['cat', 'cats'], ['rabbit', 'rabbits'], ['goat', 'goats'], ['cow', 'cows'], ['pig', 'pigs'], ['chicken', 'chickens'], ['duck', 'ducks'], ['donkey', 'donkeys'], ['frog', 'frogs'], ['mouse', 'mice'], ['snake', 'snakes'], ['snail', 'snails'], ['bear', 'bears']],
  'musical instruments': [['piano', 'pianos'], ['flute', 'flutes'], ['trombone', 'trombones'], ['violin', 'violins'], ['drum', 'drums'], ['clarinet', 'clarinets'], ['accordion', 'accordions'], ['trumpet', 'trumpets']],
  objects: [['chair', 'chairs'], ['table', 'tables'], ['bed', 'beds'], ['couch', 'couches'], ['lamp', 'lamps'], ['oven', 'ovens'], ['microwave', 'microwaves'], ['stove', 'stoves'], ['toaster', 'toasters'], ['fridge', 'fridges'], ['car', 'cars']],
};

const objectCounting = reasoningFamily({
  name: 'object_counting',
  description: 'Count the items of one category in a list of possessions (BBH object_counting).',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    '{question}',
    'Q: {question}\nA:',
    'Count carefully. {question}',
    '{question} Give the answer as a number.',
    'Answer the counting question: {question}',
  ),
  make(rng): Problem {
    const cats = Object.keys(OBJECT_LEXICON);
    const target = rng.pick(cats);
    const nItems = rng.int(3, 8);
    const picks: Array<{ cat: string; sing: string; plur: string; q: number }> = [];
    const used = new Set<string>();
    for (let i = 0; picks.length < nItems && i < 100; i++) {
      const cat = picks.length === 0 ? target : rng.bool(0.45) ? target : rng.pick(cats);
      const [sing, plur] = rng.pick(OBJECT_LEXICON[cat]);
      if (used.has(sing)) continue;
      used.add(sing);
      picks.push({ cat, sing, plur, q: rng.bool(0.55) ? 1 : rng.int(2, 4) });
    }
    const phrase = (p: { sing: string; plur: string; q: number }): string => (p.q === 1 ? `${article(p.sing)} ${p.sing}` : `${numberWord(p.q)} ${p.plur}`);
    const question = `I have ${joinAnd(picks.map(phrase))}. How many ${target} do I have?`;
    const hits = picks.filter((p) => p.cat === target);
    const total = hits.reduce((s, p) => s + p.q, 0);
    const rationale = `The ${target} are: ${hits.map((p) => `${phrase(p)} (${p.q})`).join(', ')}. ${hits.map((p) => p.q).join(' + ')} = ${total}.`;
    const opts = new Set<string>([String(total)]);
    for (const d of [1, -1, 2, -2, 3]) if (opts.size < 4 && total + d >= 1) opts.add(String(total + d));
    return { key: question, fields: { question }, answer: String(total), options: rng.shuffle([...opts]), rationale, meta: { category: target } };
  },
});

/** The symbolic-reasoning (BBH-like) cluster. */
export const REASONING_FAMILIES: readonly TaskFamily[] = [
  booleanExpressions,
  dyckLanguages,
  navigate,
  webOfLies,
  logicalDeduction,
  trackingShuffledObjects,
  wordSorting,
  objectCounting,
];
