// Independent checks of the arithmetic families: every answer is recomputed from the problem
// text with different code (JavaScript's evaluator, BigInt, brute force, parseInt).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getFamily } from '../../src/tasks/collection.js';
import type { TaskExample } from '../../src/tasks/family.js';

function sample(name: string, n = 200): TaskExample[] {
  const f = getFamily(name);
  return [...f.generate('train', n, 7), ...f.generate('test', Math.ceil(n / 4), 7)];
}

test('multistep_arithmetic: answers match JavaScript evaluation of the expression', () => {
  for (const ex of sample('multistep_arithmetic')) {
    const expr = ex.fields.expression;
    assert.match(expr, /^[-\d ()+*]+$/);
    const v = new Function(`return ${expr};`)() as number;
    assert.equal(String(v), ex.answer, expr);
    assert.ok(ex.options?.includes(ex.answer));
    // The inverted template's numbers field lists the literals in order.
    assert.equal(ex.fields.numbers, (expr.match(/-?\d+/g) ?? []).join(', '));
  }
});

test('arithmetic_word_problems: answers recomputed by parsing each story shape', () => {
  const shapes: Array<[RegExp, (m: number[]) => number]> = [
    [/^\w+ has (\d+) (\w+)\. \w+ buys (\d+) packs of (\d+) \w+ each and then gives (\d+) \w+ to \w+\. How many \w+ does \w+ have now\?$/, ([a, , b, c, d]) => a + b * c - d],
    [/^A shop sells \w+ at (\d+) dollars each\. \w+ buys (\d+) of them and pays with a (\d+)-dollar bill\. How many dollars of change does \w+ get\?$/, ([p, q, bill]) => bill - p * q],
    [/^\w+ reads (\d+) pages every day for (\d+) days, and then reads (\d+) more pages\. How many pages has \w+ read in total\?$/, ([r, d, x]) => r * d + x],
    [/^There are (\d+) groups of (\d+) students\. (\d+) students leave\. The remaining students are split evenly into (\d+) teams\. How many students are in each team\?$/, ([g, k, m, t]) => {
      assert.equal((g * k - m) % t, 0, 'teams must divide evenly');
      return (g * k - m) / t;
    }],
  ];
  const seen = new Set<number>();
  for (const ex of sample('arithmetic_word_problems')) {
    const q = ex.fields.question;
    const hit = shapes.findIndex(([re]) => re.test(q));
    assert.ok(hit >= 0, `unrecognized story: ${q}`);
    seen.add(hit);
    const nums = (shapes[hit][0].exec(q) as RegExpExecArray).slice(1).map((s) => Number(s));
    const v = shapes[hit][1](nums);
    assert.ok(v >= 0, q);
    assert.equal(ex.answer, String(v), q);
  }
  assert.equal(seen.size, 4);
});

test('modular_arithmetic: answers match BigInt arithmetic', () => {
  for (const ex of sample('modular_arithmetic')) {
    const e = ex.fields.expression;
    let m: RegExpExecArray | null;
    let v: bigint, mod: bigint;
    if ((m = /^\((\d+) \* (\d+) \+ (\d+)\) mod (\d+)$/.exec(e))) { v = BigInt(m[1]) * BigInt(m[2]) + BigInt(m[3]); mod = BigInt(m[4]); }
    else if ((m = /^(\d+)\^(\d+) mod (\d+)$/.exec(e))) { v = BigInt(m[1]) ** BigInt(m[2]); mod = BigInt(m[3]); }
    else if ((m = /^\((\d+) - (\d+)\) mod (\d+)$/.exec(e))) { v = BigInt(m[1]) - BigInt(m[2]); mod = BigInt(m[3]); }
    else throw new Error(`unrecognized expression ${e}`);
    let r = v % mod;
    if (r < 0n) r += mod;
    assert.equal(ex.answer, r.toString(), e);
  }
});

test('number_comparison: answers match parseFloat comparison', () => {
  let sameWhole = 0;
  for (const ex of sample('number_comparison')) {
    const a = parseFloat(ex.fields.a), b = parseFloat(ex.fields.b);
    assert.notEqual(a, b);
    const want = ex.fields.relation === 'larger' ? Math.max(a, b) : Math.min(a, b);
    assert.equal(parseFloat(ex.answer), want, `${ex.fields.a} vs ${ex.fields.b} (${ex.fields.relation})`);
    if (Math.trunc(a) === Math.trunc(b)) sameWhole++;
  }
  assert.ok(sameWhole > 50, 'tricky same-whole-part cases should be common');
});

test('gcd_lcm: answers match brute-force divisor and multiple search', () => {
  for (const ex of sample('gcd_lcm')) {
    const a = Number(ex.fields.a), b = Number(ex.fields.b);
    let g = 1;
    for (let d = 1; d <= Math.min(a, b); d++) if (a % d === 0 && b % d === 0) g = d;
    let l = Math.max(a, b);
    while (l % a !== 0 || l % b !== 0) l++;
    assert.equal(ex.answer, String(ex.fields.kind === 'greatest common divisor' ? g : l), `${ex.fields.kind} of ${a}, ${b}`);
  }
});

test('base_conversion: answers parse back to the same value', () => {
  for (const ex of sample('base_conversion')) {
    const from = Number(ex.fields.from_base), to = Number(ex.fields.to_base);
    const value = parseInt(ex.fields.number, from);
    assert.equal(parseInt(ex.answer, to), value);
    assert.equal(ex.answer, value.toString(to).toUpperCase());
  }
});

test('fraction_simplify: answers are equal fractions in lowest terms', () => {
  for (const ex of sample('fraction_simplify')) {
    const [n, d] = ex.fields.fraction.split('/').map(Number);
    const [p, q] = ex.answer.split('/').map(Number);
    assert.equal(n * q, d * p, `${ex.fields.fraction} vs ${ex.answer}`);
    for (let k = 2; k <= Math.min(p, q); k++) assert.ok(p % k !== 0 || q % k !== 0, `${ex.answer} is not reduced`);
  }
});

test('prime_check: answers match a sieve of Eratosthenes', () => {
  const N = 2000;
  const composite = new Uint8Array(N + 1);
  composite[0] = composite[1] = 1;
  for (let i = 2; i * i <= N; i++) if (!composite[i]) for (let j = i * i; j <= N; j += i) composite[j] = 1;
  let yes = 0;
  for (const ex of sample('prime_check')) {
    const n = Number(ex.fields.n);
    assert.equal(ex.answer, composite[n] ? 'no' : 'yes', String(n));
    if (ex.answer === 'yes') yes++;
  }
  assert.ok(yes > 60 && yes < 190, `primes should be about half: ${yes}`);
});
