/**
 * Cluster `list_manipulation`: generated operations on comma-separated lists of integers or
 * English words — sorting, deduplication, extrema, counting, reversal, sums and indexing.
 * Lists are written `a, b, c` in inputs and targets alike.
 */

import type { Problem, TaskFamily } from '../family.js';
import { flanTemplates, generatedFamilyBuilder, invertedTemplate } from '../family_builder.js';
import type { Rng } from '../rng.js';
import { commonWords } from '../data/wordnet.js';
import { numericOptions, ordinalWord } from './util.js';

/** The families of this cluster; each says itself whether it has answer options and rationales. */
const listFamily = generatedFamilyBuilder({ cluster: 'list_manipulation' });

function ints(rng: Rng, n: number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => rng.int(lo, hi));
}

const show = (xs: ReadonlyArray<string | number>): string => xs.join(', ');

// ----------------------------------------------------------------------------------------------

const sortNumbers = listFamily({
  name: 'sort_numbers',
  description: 'Sort a list of integers in ascending or descending order.',
  templates: flanTemplates(
    'Sort the following numbers in {order} order: {list}',
    'List: {list}\nSorted ({order}):',
    'Arrange these integers from {from_word} to {to_word}: {list}',
    'Put the numbers {list} in {order} order, separated by commas.',
    'Q: What is {list} sorted in {order} order?\nA:',
    invertedTemplate('Give a list of numbers that, sorted in {order} order, is {answer}.', '{list}'),
  ),
  make(rng): Problem {
    const xs = ints(rng, rng.int(4, 10), -99, 99);
    const asc = rng.bool();
    const sorted = xs.slice().sort((a, b) => (asc ? a - b : b - a));
    return {
      key: `${show(xs)}|${asc}`,
      fields: { list: show(xs), order: asc ? 'ascending' : 'descending', from_word: asc ? 'smallest' : 'largest', to_word: asc ? 'largest' : 'smallest' },
      answer: show(sorted),
    };
  },
});

// ----------------------------------------------------------------------------------------------

const dedupeList = listFamily({
  name: 'dedupe_list',
  description: 'Remove repeated items from a list of words, keeping first occurrences in order.',
  hasCot: true,
  templates: flanTemplates(
    'Remove duplicates from the list, keeping the first occurrence of each item: {list}',
    'List: {list}\nThe list without repeated items (original order):',
    'Deduplicate "{list}" while preserving order.',
    'Keep each word of {list} only the first time it appears.',
    'Q: What are the distinct items of {list}, in order of first appearance?\nA:',
  ),
  make(rng): Problem {
    const vocab = rng.sample(commonWords(), rng.int(3, 6));
    const xs = Array.from({ length: rng.int(5, 12) }, () => rng.pick(vocab));
    const seen: string[] = [];
    const notes: string[] = [];
    for (const x of xs) {
      if (seen.includes(x)) notes.push(`${x} (repeat, skip)`);
      else { seen.push(x); notes.push(`${x} (new)`); }
    }
    return { key: show(xs), fields: { list: show(xs) }, answer: show(seen), rationale: `Going through the list: ${notes.join(', ')}. The kept items are ${show(seen)}.` };
  },
});

// ----------------------------------------------------------------------------------------------

const listExtremum = listFamily({
  name: 'list_extremum',
  description: 'Find the largest or smallest integer in a list.',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    'What is the {which} number in the list {list}?',
    'Find the {which} value: {list}',
    'List: {list}\n{Which} element:',
    'Which of {list} is the {which}?',
    'Q: {which} of {list}?\nA:',
    invertedTemplate('Write a list of integers whose {which} element is {answer}.', '{list}'),
  ),
  make(rng): Problem {
    const xs = ints(rng, rng.int(3, 10), -999, 999);
    const max = rng.bool();
    let best = xs[0];
    const steps = [`Start with ${xs[0]}.`];
    for (const x of xs.slice(1)) {
      const better = max ? x > best : x < best;
      if (better) best = x;
      steps.push(`${x}: ${better ? `new ${max ? 'largest' : 'smallest'} is ${x}` : `keep ${best}`}.`);
    }
    const distinct = [...new Set(xs)];
    const others = rng.shuffle(distinct.filter((x) => x !== best)).slice(0, 3);
    const options = others.length >= 1 ? rng.shuffle([best, ...others].map(String)) : [String(best), String(best + 1)];
    const which = max ? 'largest' : 'smallest';
    return {
      key: `${show(xs)}|${which}`,
      fields: { list: show(xs), which, Which: max ? 'Largest' : 'Smallest' },
      answer: String(best),
      options,
      rationale: `${steps.join(' ')} The ${which} number is ${best}.`,
    };
  },
});

// ----------------------------------------------------------------------------------------------

const countOccurrences = listFamily({
  name: 'count_occurrences',
  description: 'Count how often a value occurs in a list of digits.',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    'How many times does {target} appear in the list {list}?',
    'Count the occurrences of {target} in: {list}',
    'List: {list}\nNumber of {target}s:',
    'In the sequence {list}, how often is {target} found?',
    'Q: Count {target} in [{list}].\nA:',
  ),
  make(rng): Problem {
    const xs = ints(rng, rng.int(6, 15), 0, 9);
    const target = rng.bool(0.85) ? rng.pick(xs) : rng.int(0, 9);
    const positions = xs.map((x, i) => (x === target ? i + 1 : -1)).filter((i) => i > 0);
    const count = positions.length;
    return {
      key: `${show(xs)}|${target}`,
      fields: { list: show(xs), target: String(target) },
      answer: String(count),
      options: numericOptions(count, rng, 3, 2, 0),
      rationale: count === 0 ? `No element of the list equals ${target}.` : `${target} appears at position${count === 1 ? '' : 's'} ${positions.join(', ')}, which is ${count} time${count === 1 ? '' : 's'}.`,
    };
  },
});

// ----------------------------------------------------------------------------------------------

const reverseList = listFamily({
  name: 'reverse_list',
  description: 'Reverse the order of the items in a list of words.',
  templates: flanTemplates(
    'Reverse the order of this list: {list}',
    'List: {list}\nThe same list backwards:',
    'Write the items {list} from last to first.',
    'What is the list {list} in reverse order?',
    'Q: reverse([{list}])\nA:',
    invertedTemplate('Which list, reversed, gives {answer}?', '{list}'),
  ),
  make(rng): Problem {
    const xs = rng.sample(commonWords(), rng.int(3, 8));
    return { key: show(xs), fields: { list: show(xs) }, answer: show(xs.slice().reverse()) };
  },
});

// ----------------------------------------------------------------------------------------------

const listSum = listFamily({
  name: 'list_sum',
  description: 'Add up a list of integers, keeping a running total.',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    'What is the sum of the numbers {list}?',
    'Add up: {list}',
    'List: {list}\nTotal:',
    'Compute the total of the list {list}.',
    'Q: sum([{list}]) = ?\nA:',
    invertedTemplate('Write a list of integers that adds up to {answer}.', '{list}'),
  ),
  make(rng): Problem {
    const xs = ints(rng, rng.int(3, 8), -50, 50);
    let total = 0;
    const steps: string[] = [];
    for (const x of xs) {
      const next = total + x;
      steps.push(`${total} + ${x < 0 ? `(${x})` : x} = ${next}.`);
      total = next;
    }
    return { key: show(xs), fields: { list: show(xs) }, answer: String(total), options: numericOptions(total, rng, 3, 10), rationale: `Running total: ${steps.join(' ')}` };
  },
});

// ----------------------------------------------------------------------------------------------

const nthElement = listFamily({
  name: 'nth_element',
  description: 'Return the item at a given position of a list, counted from the start or the end.',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    'What is the {ordinal} item {side} of the list {list}?',
    'List: {list}\nItem number {k} counting {side}:',
    'Counting {side}, which element of "{list}" is in position {k}?',
    'Give the {ordinal} element, counting {side}, in: {list}',
    'Q: In the list {list}, what is the {ordinal} entry counting {side}?\nA:',
  ),
  make(rng): Problem {
    const xs = rng.sample(commonWords(), rng.int(4, 9));
    const k = rng.int(1, xs.length);
    const fromEnd = rng.bool(0.3);
    const idx = fromEnd ? xs.length - k : k - 1;
    const answer = xs[idx];
    const order = fromEnd ? xs.slice().reverse() : xs;
    const side = fromEnd ? 'from the end' : 'from the start';
    return {
      key: `${show(xs)}|${k}|${fromEnd}`,
      fields: { list: show(xs), k: String(k), ordinal: ordinalWord(k), side },
      answer,
      options: rng.shuffle([answer, ...rng.shuffle(xs.filter((x) => x !== answer)).slice(0, 3)]),
      rationale: `Counting ${side}: ${order.slice(0, k).map((x, i) => `${i + 1}: ${x}`).join(', ')}. The ${ordinalWord(k)} item is ${answer}.`,
    };
  },
});

/** The list-manipulation cluster. */
export const LIST_FAMILIES: readonly TaskFamily[] = [sortNumbers, dedupeList, listExtremum, countOccurrences, reverseList, listSum, nthElement];
