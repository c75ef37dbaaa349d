// Independent checks of the string- and list-manipulation families: answers are recomputed from
// the problem fields with different code (built-in string/array methods, regular expressions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getFamily } from '../../src/tasks/collection.js';
import type { TaskExample } from '../../src/tasks/family.js';

function sample(name: string, n = 200): TaskExample[] {
  const f = getFamily(name);
  return [...f.generate('train', n, 5), ...f.generate('test', Math.ceil(n / 4), 5)];
}

const list = (s: string): string[] => s.split(', ');

test('reverse_string: answers match Array.reverse on code points', () => {
  for (const ex of sample('reverse_string')) assert.equal(ex.answer, Array.from(ex.fields.text).reverse().join(''));
});

test('change_case: answers match the named conversion', () => {
  for (const ex of sample('change_case')) {
    const t = ex.fields.text;
    const want = {
      'upper case': () => t.toUpperCase(),
      'lower case': () => t.toLowerCase(),
      'title case': () => t.toLowerCase().replace(/(^| )([a-z])/g, (_, sp: string, c: string) => sp + c.toUpperCase()),
      'swapped case': () => t.replace(/[a-zA-Z]/g, (c) => (/[a-z]/.test(c) ? c.toUpperCase() : c.toLowerCase())),
    }[ex.fields.operation as 'upper case']();
    assert.equal(ex.answer, want, `${ex.fields.operation}: ${t}`);
  }
});

test('caesar_cipher: decrypting the answer with the inverse shift gives the text back', () => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz';
  for (const ex of sample('caesar_cipher')) {
    const k = Number(ex.fields.shift);
    const decrypted = ex.answer.replace(/[a-z]/g, (c) => alphabet[(alphabet.indexOf(c) + 26 - k) % 26]);
    assert.equal(decrypted, ex.fields.text);
    assert.equal(ex.answer.length, ex.fields.text.length);
    if (k % 26 !== 0) assert.notEqual(ex.answer, ex.fields.text);
  }
});

test('acronym: answers are the capitalized initials', () => {
  for (const ex of sample('acronym')) {
    assert.equal(ex.answer, (ex.fields.text.match(/\b[a-z]/g) ?? []).join('').toUpperCase());
  }
});

test('palindrome_check: answers match comparing the string with its reverse; both answers occur', () => {
  const seen = new Set<string>();
  for (const ex of sample('palindrome_check')) {
    const t = ex.fields.text;
    assert.equal(ex.answer, t === Array.from(t).reverse().join('') ? 'yes' : 'no', t);
    seen.add(ex.answer);
  }
  assert.deepEqual([...seen].sort(), ['no', 'yes']);
});

test('letter_counting: answers match split-based counting', () => {
  for (const ex of sample('letter_counting')) {
    assert.equal(ex.answer, String(ex.fields.text.split(ex.fields.letter).length - 1), `${ex.fields.letter} in ${ex.fields.text}`);
  }
});

test('remove_vowels: answers match a regular-expression replacement', () => {
  for (const ex of sample('remove_vowels')) {
    assert.equal(ex.answer, ex.fields.text.replace(/[aeiou]/g, ''));
    assert.match(ex.answer, /[^ ]/);
  }
});

test('sort_numbers: answers match a numeric sort', () => {
  for (const ex of sample('sort_numbers')) {
    const xs = list(ex.fields.list).map(Number);
    const asc = ex.fields.order === 'ascending';
    xs.sort((a, b) => (asc ? a - b : b - a));
    assert.equal(ex.answer, xs.join(', '));
  }
});

test('dedupe_list: answers match a Set (which keeps insertion order)', () => {
  for (const ex of sample('dedupe_list')) assert.equal(ex.answer, [...new Set(list(ex.fields.list))].join(', '));
});

test('list_extremum: answers match Math.max / Math.min', () => {
  for (const ex of sample('list_extremum')) {
    const xs = list(ex.fields.list).map(Number);
    assert.equal(ex.answer, String(ex.fields.which === 'largest' ? Math.max(...xs) : Math.min(...xs)));
  }
});

test('count_occurrences: answers match filter().length', () => {
  for (const ex of sample('count_occurrences')) {
    assert.equal(ex.answer, String(list(ex.fields.list).filter((x) => x === ex.fields.target).length));
  }
});

test('reverse_list: answers match Array.reverse', () => {
  for (const ex of sample('reverse_list')) assert.equal(ex.answer, list(ex.fields.list).reverse().join(', '));
});

test('list_sum: answers match reduce', () => {
  for (const ex of sample('list_sum')) assert.equal(ex.answer, String(list(ex.fields.list).map(Number).reduce((a, b) => a + b, 0)));
});

test('nth_element: answers match indexing from the start or the end', () => {
  for (const ex of sample('nth_element')) {
    const xs = list(ex.fields.list);
    const k = Number(ex.fields.k);
    assert.equal(ex.answer, ex.fields.side === 'from the end' ? xs.at(-k) : xs[k - 1]);
  }
});
