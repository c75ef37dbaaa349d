/**
 * Cluster `arithmetic`: generated math problems with worked chain-of-thought rationales —
 * BIG-Bench-Hard-style multi-step arithmetic, GSM-style word problems, modular arithmetic, decimal
 * comparison, GCD/LCM with Euclid's algorithm, base conversion, fraction reduction and primality.
 */

import type { Problem, TaskFamily } from '../family.js';
import { flanTemplates, generatedFamilyBuilder, invertedTemplate } from '../family_builder.js';
import type { Rng } from '../rng.js';
import { gcd, mod, numericOptions, optionsFrom } from './util.js';

/** Every arithmetic family has answer options and a worked rationale. */
const arithmeticFamily = generatedFamilyBuilder({ cluster: 'arithmetic', hasOptions: true, hasCot: true });

// ----------------------------------------------------------------------------------------------
// multistep_arithmetic

type Expr = { kind: 'num'; value: number } | { kind: 'bin'; op: '+' | '-' | '*'; left: Expr; right: Expr };

function randomExpr(rng: Rng, depth: number): Expr {
  if (depth === 0) return { kind: 'num', value: rng.int(-9, 9) };
  const op = rng.pick(['+', '-', '*'] as const);
  return { kind: 'bin', op, left: randomExpr(rng, depth - 1), right: randomExpr(rng, depth - 1) };
}

function showExpr(e: Expr): string {
  if (e.kind === 'num') return String(e.value);
  return `(${showExpr(e.left)} ${e.op} ${showExpr(e.right)})`;
}

function evalExpr(e: Expr, steps: string[]): number {
  if (e.kind === 'num') return e.value;
  const a = evalExpr(e.left, steps);
  const b = evalExpr(e.right, steps);
  const v = e.op === '+' ? a + b : e.op === '-' ? a - b : a * b;
  steps.push(`${a} ${e.op} ${b} = ${v}.`);
  return v;
}

function numbersOf(e: Expr): number[] {
  return e.kind === 'num' ? [e.value] : [...numbersOf(e.left), ...numbersOf(e.right)];
}

const multistepArithmetic = arithmeticFamily({
  name: 'multistep_arithmetic',
  description: 'Evaluate nested integer expressions with +, - and * (BIG-Bench Hard multistep_arithmetic_two style).',
  templates: flanTemplates(
    '{expression} =',
    'Evaluate the expression {expression}.',
    'What is the value of {expression}?',
    'Compute the following. Give only the resulting integer.\n{expression}',
    'Solve this arithmetic problem: {expression}',
    invertedTemplate('Write an arithmetic expression with +, - and * that uses the numbers {numbers} in this order and equals {answer}.', '{expression}'),
  ),
  make(rng): Problem {
    const depth = rng.bool(0.75) ? 2 : 3;
    const e = randomExpr(rng, depth);
    const steps: string[] = [];
    const v = evalExpr(e, steps);
    const expression = showExpr(e);
    return {
      key: expression,
      fields: { expression, numbers: numbersOf(e).join(', ') },
      answer: String(v),
      options: numericOptions(v, rng, 3, 6),
      rationale: `Evaluate the innermost parentheses first. ${steps.join(' ')}`,
      meta: { depth },
    };
  },
});

// ----------------------------------------------------------------------------------------------
// arithmetic_word_problems

const NAMES = ['Alice', 'Bob', 'Carmen', 'Dmitri', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jamal', 'Keiko', 'Liam', 'Maya', 'Nikolai', 'Olga', 'Priya', 'Quentin', 'Rosa', 'Sanjay', 'Tomas', 'Uma', 'Victor', 'Wen', 'Yusuf', 'Zoe'];
const ITEMS = ['apples', 'marbles', 'stickers', 'pencils', 'cookies', 'stamps', 'shells', 'cards', 'balloons', 'books'];

const wordProblems = arithmeticFamily({
  name: 'arithmetic_word_problems',
  description: 'Grade-school word problems with two to three operations and a worked solution.',
  templates: flanTemplates(
    '{question}',
    'Solve this math word problem: {question}',
    'Q: {question}\nA:',
    'Answer the following question with a number.\n\n{question}',
    'Read the problem and give the final numeric answer.\nProblem: {question}',
    invertedTemplate('Write a math word problem whose answer is {answer}.', '{question}'),
  ),
  make(rng): Problem {
    const name = rng.pick(NAMES);
    const shape = rng.int(0, 3);
    let question: string;
    let answer: number;
    let rationale: string;
    if (shape === 0) {
      const item = rng.pick(ITEMS);
      const friend = rng.pick(NAMES.filter((n) => n !== name));
      const a = rng.int(3, 40), b = rng.int(2, 9), c = rng.int(2, 12);
      const d = rng.int(1, a + b * c - 1);
      answer = a + b * c - d;
      question = `${name} has ${a} ${item}. ${name} buys ${b} packs of ${c} ${item} each and then gives ${d} ${item} to ${friend}. How many ${item} does ${name} have now?`;
      rationale = `${name} starts with ${a} ${item}. ${b} packs of ${c} ${item} are ${b} * ${c} = ${b * c} ${item}. After buying them, ${name} has ${a} + ${b * c} = ${a + b * c}. After giving away ${d}, ${name} has ${a + b * c} - ${d} = ${answer}.`;
    } else if (shape === 1) {
      const item = rng.pick(ITEMS);
      const p = rng.int(1, 12), q = rng.int(2, 8);
      const bill = [20, 50, 100].find((x) => x >= p * q) ?? 100;
      answer = bill - p * q;
      question = `A shop sells ${item} at ${p} dollars each. ${name} buys ${q} of them and pays with a ${bill}-dollar bill. How many dollars of change does ${name} get?`;
      rationale = `${q} ${item} at ${p} dollars each cost ${q} * ${p} = ${p * q} dollars. The change from ${bill} dollars is ${bill} - ${p * q} = ${answer} dollars.`;
    } else if (shape === 2) {
      const r = rng.int(5, 60), days = rng.int(2, 14), x = rng.int(1, 40);
      answer = r * days + x;
      question = `${name} reads ${r} pages every day for ${days} days, and then reads ${x} more pages. How many pages has ${name} read in total?`;
      rationale = `In ${days} days ${name} reads ${r} * ${days} = ${r * days} pages. Adding ${x} more pages gives ${r * days} + ${x} = ${answer}.`;
    } else {
      const t = rng.int(2, 8);
      const perTeam = rng.int(2, 12);
      const g = rng.int(2, 9);
      // choose k and m so that g*k - m = t*perTeam with 0 <= m < g*k
      const total = t * perTeam;
      const k = Math.max(2, Math.ceil((total + 1) / g));
      const m = g * k - total;
      answer = perTeam;
      question = `There are ${g} groups of ${k} students. ${m} students leave. The remaining students are split evenly into ${t} teams. How many students are in each team?`;
      rationale = `There are ${g} * ${k} = ${g * k} students. After ${m} leave, ${g * k} - ${m} = ${total} remain. Split into ${t} teams, each team has ${total} / ${t} = ${answer} students.`;
    }
    return { key: question, fields: { question }, answer: String(answer), options: numericOptions(answer, rng, 3, 5, 0), rationale, meta: { shape } };
  },
});

// ----------------------------------------------------------------------------------------------
// modular_arithmetic

const modularArithmetic = arithmeticFamily({
  name: 'modular_arithmetic',
  description: 'Compute (a * b + c) mod m, a^e mod m and (a - b) mod m with a worked reduction.',
  templates: flanTemplates(
    'What is {expression}?',
    'Compute {expression}.',
    'Find the value of {expression}. The result should be between 0 and {m_minus_1}.',
    'In modular arithmetic, {expression} equals what?',
    'Calculate the remainder: {expression}',
  ),
  make(rng): Problem {
    const m = rng.int(2, 19);
    const form = rng.int(0, 2);
    let expression: string, value: number, steps: string;
    if (form === 0) {
      const a = rng.int(2, 60), b = rng.int(2, 60), c = rng.int(0, 50);
      value = a * b + c;
      expression = `(${a} * ${b} + ${c}) mod ${m}`;
      steps = `${a} * ${b} = ${a * b}. ${a * b} + ${c} = ${value}.`;
    } else if (form === 1) {
      const a = rng.int(2, 12), e = rng.int(2, 5);
      value = a ** e;
      expression = `${a}^${e} mod ${m}`;
      steps = `${a}^${e} = ${value}.`;
    } else {
      const a = rng.int(0, 99), b = rng.int(0, 99);
      value = a - b;
      expression = `(${a} - ${b}) mod ${m}`;
      steps = `${a} - ${b} = ${value}.`;
    }
    const r = mod(value, m);
    const q = (value - r) / m;
    const rationale = `${steps} ${value} = ${m} * ${q} + ${r}, so ${expression} = ${r}.`;
    return {
      key: expression,
      fields: { expression, m_minus_1: String(m - 1) },
      answer: String(r),
      options: optionsFrom(String(r), Math.min(3, m - 1), rng, () => String(rng.int(0, m - 1))),
      rationale,
      meta: { form, m },
    };
  },
});

// ----------------------------------------------------------------------------------------------
// number_comparison

function randomDecimal(rng: Rng, intPart: number): string {
  const places = rng.int(1, 3);
  let frac = '';
  for (let i = 0; i < places; i++) frac += String(rng.int(0, 9));
  if (frac.endsWith('0')) frac = frac.slice(0, -1) + String(rng.int(1, 9));
  return `${intPart}.${frac}`;
}

/** Digit-by-digit comparison of two non-negative decimals, as a rationale; returns the larger. */
function compareDecimals(a: string, b: string): { larger: string; rationale: string } {
  const [ai, af = ''] = a.split('.');
  const [bi, bf = ''] = b.split('.');
  if (Number(ai) !== Number(bi)) {
    const larger = Number(ai) > Number(bi) ? a : b;
    return { larger, rationale: `Compare the whole-number parts: ${ai} and ${bi}. ${Math.max(Number(ai), Number(bi))} is larger, so ${larger} is the larger number.` };
  }
  const n = Math.max(af.length, bf.length);
  const ap = af.padEnd(n, '0'), bp = bf.padEnd(n, '0');
  const names = ['tenths', 'hundredths', 'thousandths'];
  const parts = [`The whole-number parts are both ${ai}.`];
  for (let i = 0; i < n; i++) {
    if (ap[i] === bp[i]) { parts.push(`The ${names[i]} digits are both ${ap[i]}.`); continue; }
    const larger = ap[i] > bp[i] ? a : b;
    parts.push(`The ${names[i]} digits are ${ap[i]} and ${bp[i]}; ${ap[i] > bp[i] ? ap[i] : bp[i]} is larger, so ${larger} is the larger number.`);
    return { larger, rationale: parts.join(' ') };
  }
  throw new Error(`compareDecimals: ${a} and ${b} are equal`);
}

const numberComparison = arithmeticFamily({
  name: 'number_comparison',
  description: 'Decide which of two decimal numbers is larger or smaller (including traps like 9.11 vs 9.9).',
  templates: flanTemplates(
    'Which number is {relation}: {a} or {b}?',
    'Of {a} and {b}, which is {relation}?',
    'Compare {a} and {b}. Which one is {relation}?',
    'Question: Is {a} or {b} the {relation} value?\nAnswer:',
    'Here are two numbers: {a}, {b}. Give the {relation} one.',
    'Between {a} and {b}, pick the {relation} number.',
  ),
  make(rng): Problem {
    const sameInt = rng.bool(0.6);
    const ia = rng.int(0, 99);
    const ib = sameInt ? ia : rng.int(0, 99);
    const a = randomDecimal(rng, ia);
    let b = randomDecimal(rng, ib);
    let guard = 0;
    while (Number(a) === Number(b) && guard++ < 20) b = randomDecimal(rng, ib);
    if (Number(a) === Number(b)) b = `${ib}.${String(rng.int(1, 9))}${a.endsWith('5') ? '7' : '5'}`;
    const relation = rng.bool() ? 'larger' : 'smaller';
    const cmp = compareDecimals(a, b);
    const answer = relation === 'larger' ? cmp.larger : cmp.larger === a ? b : a;
    const other = answer === a ? b : a;
    const rationale = relation === 'larger' ? cmp.rationale : `${cmp.rationale} The other number, ${answer}, is therefore the smaller one.`;
    return { key: `${a}|${b}|${relation}`, fields: { a, b, relation, other }, answer, options: [a, b], rationale };
  },
});

// ----------------------------------------------------------------------------------------------
// gcd_lcm

const gcdLcm = arithmeticFamily({
  name: 'gcd_lcm',
  description: 'Greatest common divisor (by Euclid\'s algorithm) and least common multiple of two integers.',
  templates: flanTemplates(
    'What is the {kind} of {a} and {b}?',
    'Find the {kind} of {a} and {b}.',
    'Compute the {kind} of the numbers {a} and {b}.',
    'Q: {kind} of {a} and {b}?\nA:',
    'Two numbers are {a} and {b}. What is their {kind}?',
    invertedTemplate('Give two numbers whose {kind} is {answer}.', '{a} and {b}'),
  ),
  make(rng): Problem {
    const g = rng.int(1, 20);
    const x = rng.int(1, 15);
    let y = rng.int(1, 15);
    if (y === x) y = x + 1;
    const a = g * x, b = g * y;
    const kind = rng.bool() ? 'greatest common divisor' : 'least common multiple';
    // Euclid's algorithm on (max, min).
    let p = Math.max(a, b), q = Math.min(a, b);
    const steps: string[] = [];
    while (q !== 0) {
      steps.push(`${p} = ${Math.floor(p / q)} * ${q} + ${p % q}.`);
      [p, q] = [q, p % q];
    }
    const d = p;
    let answer: number;
    let rationale = `By Euclid's algorithm: ${steps.join(' ')} The last nonzero remainder is ${d}, so the greatest common divisor is ${d}.`;
    if (kind === 'greatest common divisor') answer = d;
    else {
      answer = (a / d) * b;
      rationale += ` The least common multiple is ${a} * ${b} / ${d} = ${answer}.`;
    }
    return { key: `${kind}|${a}|${b}`, fields: { kind, a: String(a), b: String(b) }, answer: String(answer), options: numericOptions(answer, rng, 3, Math.max(2, Math.floor(answer / 4)), 1), rationale };
  },
});

// ----------------------------------------------------------------------------------------------
// base_conversion

const BASE_NAMES: Record<number, string> = { 2: 'binary', 8: 'octal', 10: 'decimal', 16: 'hexadecimal' };
const DIGITS = '0123456789ABCDEF';

function toBase(n: number, base: number): string {
  if (n === 0) return '0';
  let s = '';
  while (n > 0) { s = DIGITS[n % base] + s; n = Math.floor(n / base); }
  return s;
}

const baseConversion = arithmeticFamily({
  name: 'base_conversion',
  description: 'Convert integers between decimal and binary, octal or hexadecimal, with the division or expansion worked out.',
  templates: flanTemplates(
    'Convert the {from_name} number {number} to {to_name}.',
    'What is {number} (base {from_base}) in base {to_base}?',
    'Write the {from_name} number {number} in {to_name}.',
    'Change {number} from base {from_base} to base {to_base}. Use upper-case letters for digits above 9.',
    '{number} in {from_name} is what in {to_name}?',
    invertedTemplate('Convert the {to_name} number {answer} to {from_name}.', '{number}'),
  ),
  make(rng): Problem {
    const other = rng.pick([2, 8, 16]);
    const n = rng.int(2, other === 2 ? 255 : 4095);
    const toDecimal = rng.bool();
    const fromBase = toDecimal ? other : 10;
    const toBaseN = toDecimal ? 10 : other;
    const number = toBase(n, fromBase);
    const answer = toBase(n, toBaseN);
    let rationale: string;
    if (toDecimal) {
      const terms = [...number].map((ch, i) => `${DIGITS.indexOf(ch)} * ${fromBase}^${number.length - 1 - i}`);
      rationale = `Expand by place value: ${terms.join(' + ')} = ${n}.`;
    } else {
      const steps: string[] = [];
      let x = n;
      while (x > 0) { steps.push(`${x} / ${toBaseN} = ${Math.floor(x / toBaseN)} remainder ${x % toBaseN}.`); x = Math.floor(x / toBaseN); }
      rationale = `Divide repeatedly by ${toBaseN}: ${steps.join(' ')} Reading the remainders from last to first (as ${toBaseN === 16 ? 'hexadecimal digits' : 'digits'}) gives ${answer}.`;
    }
    const options = optionsFrom(answer, 3, rng, () => toBase(Math.max(1, n + rng.pick([1, -1, 2, -2, fromBase, -fromBase, toBaseN, -toBaseN])), toBaseN));
    return {
      key: `${number}|${fromBase}|${toBaseN}`,
      fields: { number, from_base: String(fromBase), to_base: String(toBaseN), from_name: BASE_NAMES[fromBase], to_name: BASE_NAMES[toBaseN] },
      answer,
      options,
      rationale,
      meta: { value: n },
    };
  },
});

// ----------------------------------------------------------------------------------------------
// fraction_simplify

const fractionSimplify = arithmeticFamily({
  name: 'fraction_simplify',
  description: 'Reduce a fraction to lowest terms by dividing by the greatest common divisor.',
  templates: flanTemplates(
    'Simplify the fraction {fraction}.',
    'Reduce {fraction} to lowest terms.',
    'What is {fraction} in simplest form?',
    'Write {fraction} as a fraction in lowest terms (numerator/denominator).',
    'Q: Simplify: {fraction}\nA:',
    invertedTemplate('Give a fraction equal to {answer} whose denominator is {denominator}.', '{fraction}'),
  ),
  make(rng): Problem {
    let p = rng.int(1, 12), q = rng.int(2, 15);
    const g0 = gcd(p, q);
    p /= g0; q /= g0;
    if (q === 1) q = p + 1;
    const k = rng.int(2, 12);
    const num = p * k, den = q * k;
    const g = gcd(num, den);
    const answer = `${num / g}/${den / g}`;
    const fraction = `${num}/${den}`;
    const rationale = `The greatest common divisor of ${num} and ${den} is ${g}. ${num} / ${g} = ${num / g} and ${den} / ${g} = ${den / g}.`;
    const options = optionsFrom(answer, 3, rng, () => {
      const a = Math.max(1, num / g + rng.pick([1, -1, 0]));
      const b = Math.max(2, den / g + rng.pick([1, -1, 2]));
      return rng.bool(0.3) ? `${num / k}/${den / g}` : `${a}/${b}`;
    });
    return { key: fraction, fields: { fraction, denominator: String(den) }, answer, options, rationale };
  },
});

// ----------------------------------------------------------------------------------------------
// prime_check

function smallestFactor(n: number): number {
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return d;
  return n;
}

const primeCheck = arithmeticFamily({
  name: 'prime_check',
  description: 'Decide whether an integer below 2000 is prime, by trial division up to its square root.',
  templates: flanTemplates(
    'Is {n} a prime number?',
    'Question: Is {n} prime? Answer yes or no.',
    'Determine whether {n} is prime.',
    '{n}: prime or not? Reply with yes or no.',
    'Is the number {n} divisible only by 1 and itself?',
  ),
  make(rng): Problem {
    const wantPrime = rng.bool();
    let n = rng.int(2, 1999);
    for (let guard = 0; (smallestFactor(n) === n) !== wantPrime && guard < 500; guard++) n = rng.int(2, 1999);
    const f = smallestFactor(n);
    const prime = f === n;
    const limit = Math.floor(Math.sqrt(n));
    const rationale = prime
      ? (limit < 2 ? `${n} has no divisors other than 1 and itself.` : `Check divisors from 2 up to the square root of ${n}, which is about ${Math.sqrt(n).toFixed(1)}: none of 2..${limit} divides ${n}. So ${n} is prime.`)
      : `${n} = ${f} * ${n / f}, so ${n} has a divisor other than 1 and itself and is not prime.`;
    return { key: String(n), fields: { n: String(n) }, answer: prime ? 'yes' : 'no', options: ['yes', 'no'], rationale };
  },
});

/** The arithmetic cluster. */
export const ARITHMETIC_FAMILIES: readonly TaskFamily[] = [
  multistepArithmetic,
  wordProblems,
  modularArithmetic,
  numberComparison,
  gcdLcm,
  baseConversion,
  fractionSimplify,
  primeCheck,
];
