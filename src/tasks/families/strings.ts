/**
 * Cluster `string_manipulation`: generated character-level operations on English words drawn
 * from WordNet (common lemmas, see `commonWords`): reversal, case conversion, Caesar cipher,
 * acronyms, palindrome detection, letter counting and vowel removal.
 */

import type { Problem, TaskFamily } from '../family.js';
import { flanTemplates, generatedFamilyBuilder, invertedTemplate } from '../family_builder.js';
import type { Rng } from '../rng.js';
import { commonWords } from '../data/wordnet.js';
import { numericOptions } from './util.js';

/** The families of this cluster; each says itself whether it has answer options and rationales. */
const stringFamily = generatedFamilyBuilder({ cluster: 'string_manipulation' });

function phrase(rng: Rng, min: number, max: number): string {
  return rng.sample(commonWords(), rng.int(min, max)).join(' ');
}

function showChar(c: string): string {
  return c === ' ' ? '(space)' : c;
}

// ----------------------------------------------------------------------------------------------

const reverseString = stringFamily({
  name: 'reverse_string',
  description: 'Reverse the characters of a word or two-word phrase.',
  hasCot: true,
  templates: flanTemplates(
    'Reverse the string "{text}".',
    'Write "{text}" backwards.',
    'What do you get if you reverse the order of the characters in "{text}"?',
    'Input: {text}\nOutput the input reversed, character by character.',
    'Spell "{text}" from the last character to the first, with no separators.',
    invertedTemplate('Which string, when reversed, gives "{answer}"?', '{text}'),
  ),
  make(rng): Problem {
    const text = phrase(rng, 1, rng.bool(0.7) ? 1 : 2);
    const chars = [...text];
    const answer = chars.slice().reverse().join('');
    return {
      key: text,
      fields: { text },
      answer,
      rationale: `The characters of "${text}" are ${chars.map(showChar).join(', ')}. In reverse order they are ${chars.slice().reverse().map(showChar).join(', ')}. Joined together: "${answer}".`,
    };
  },
});

// ----------------------------------------------------------------------------------------------

const CASE_OPS = ['upper case', 'lower case', 'title case', 'swapped case'] as const;

function randomCasing(s: string, rng: Rng): string {
  const mode = rng.int(0, 3);
  if (mode === 0) return s;
  if (mode === 1) return s.toUpperCase();
  if (mode === 2) return s.replace(/\b[a-z]/g, (c) => c.toUpperCase());
  return [...s].map((c) => (rng.bool(0.3) ? c.toUpperCase() : c)).join('');
}

function applyCase(s: string, op: (typeof CASE_OPS)[number]): string {
  switch (op) {
    case 'upper case': return s.toUpperCase();
    case 'lower case': return s.toLowerCase();
    case 'title case': return s.split(' ').map((w) => (w.length ? w[0].toUpperCase() + w.slice(1).toLowerCase() : w)).join(' ');
    case 'swapped case': return [...s].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
  }
}

const changeCase = stringFamily({
  name: 'change_case',
  description: 'Convert a phrase to upper, lower, title or swapped case.',
  templates: flanTemplates(
    'Convert "{text}" to {operation}.',
    'Rewrite the following text in {operation}: {text}',
    'Text: {text}\nThe same text in {operation}:',
    'Change the capitalization of "{text}" to {operation}.',
    'Apply {operation} to this string: {text}',
    invertedTemplate('Give a phrase that becomes "{answer}" when converted to {operation}.', '{text}'),
  ),
  make(rng): Problem {
    const text = randomCasing(phrase(rng, 2, 4), rng);
    const operation = rng.pick(CASE_OPS);
    return { key: `${text}|${operation}`, fields: { text, operation }, answer: applyCase(text, operation) };
  },
});

// ----------------------------------------------------------------------------------------------

function caesar(s: string, k: number): string {
  return [...s].map((c) => (c >= 'a' && c <= 'z' ? String.fromCharCode(97 + ((c.charCodeAt(0) - 97 + k) % 26 + 26) % 26) : c)).join('');
}

const caesarCipher = stringFamily({
  name: 'caesar_cipher',
  description: 'Encrypt lower-case text with a Caesar shift (letters only; spaces kept).',
  hasCot: true,
  templates: flanTemplates(
    'Encrypt "{text}" with a Caesar cipher, shifting each letter {shift} places forward in the alphabet.',
    'Apply a Caesar shift of {shift} to: {text}',
    'Caesar cipher, key {shift}. Plaintext: {text}\nCiphertext:',
    'Shift every letter of "{text}" by {shift} (z wraps around to a).',
    'Encode the message "{text}" using ROT{shift}.',
    invertedTemplate('Decrypt "{answer}", which was encrypted with a Caesar shift of {shift}.', '{text}'),
  ),
  make(rng): Problem {
    const text = phrase(rng, 1, 3);
    const shift = rng.int(1, 25);
    const answer = caesar(text, shift);
    const letters = [...new Set([...text].filter((c) => c !== ' '))];
    return {
      key: `${text}|${shift}`,
      fields: { text, shift: String(shift) },
      answer,
      rationale: `Shifting each letter ${shift} places forward: ${letters.map((c) => `${c} → ${caesar(c, shift)}`).join(', ')}. Applying this to "${text}" gives "${answer}".`,
    };
  },
});

// ----------------------------------------------------------------------------------------------

const acronym = stringFamily({
  name: 'acronym',
  description: 'Form the upper-case acronym of a phrase from the first letter of each word.',
  hasCot: true,
  templates: flanTemplates(
    'Form an acronym from: {text}',
    'What is the acronym of "{text}"? Use the first letter of each word, in upper case.',
    'Phrase: {text}\nAcronym:',
    'Take the first letter of every word in "{text}" and write them together in capitals.',
    'Abbreviate "{text}" to its initials.',
    invertedTemplate('Give a phrase whose acronym is {answer}.', '{text}'),
  ),
  make(rng): Problem {
    const text = phrase(rng, 2, 5);
    const words = text.split(' ');
    const answer = words.map((w) => w[0].toUpperCase()).join('');
    return {
      key: text,
      fields: { text },
      answer,
      rationale: `The words are ${words.map((w) => `"${w}"`).join(', ')}. Their first letters are ${words.map((w) => w[0]).join(', ')}. In capitals: ${answer}.`,
    };
  },
});

// ----------------------------------------------------------------------------------------------

function isPalindrome(s: string): boolean {
  for (let i = 0, j = s.length - 1; i < j; i++, j--) if (s[i] !== s[j]) return false;
  return true;
}

let palindromicWords: string[] | undefined;

const palindromeCheck = stringFamily({
  name: 'palindrome_check',
  description: 'Decide whether a string reads the same backwards (real palindromic words, constructed palindromes and near misses).',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    'Is "{text}" a palindrome?',
    'Does the string "{text}" read the same forwards and backwards? Answer yes or no.',
    'Question: is {text} a palindrome?\nAnswer:',
    'Check whether "{text}" is unchanged when reversed.',
    'String: {text}\nPalindrome (yes/no)?',
  ),
  make(rng): Problem {
    const words = commonWords();
    const kind = rng.int(0, 3);
    let text: string;
    if (kind === 0) {
      palindromicWords ??= words.filter(isPalindrome);
      text = rng.pick(palindromicWords);
    } else if (kind === 1) {
      const w = rng.pick(words);
      text = w + [...w].reverse().join('').slice(rng.bool() ? 1 : 0);
    } else if (kind === 2) {
      // a near miss: a constructed palindrome with one character changed
      const w = rng.pick(words);
      const p = [...(w + [...w].reverse().join('').slice(1))];
      const i = rng.int(0, Math.floor(p.length / 2) - 1);
      p[i] = p[i] === 'x' ? 'q' : 'x';
      text = p.join('');
    } else {
      text = rng.pick(words);
    }
    const rev = [...text].reverse().join('');
    const yes = rev === text;
    return {
      key: text,
      fields: { text },
      answer: yes ? 'yes' : 'no',
      options: ['yes', 'no'],
      rationale: `Reversed, "${text}" reads "${rev}", which is ${yes ? 'the same' : 'different'}.`,
    };
  },
});

// ----------------------------------------------------------------------------------------------

const letterCounting = stringFamily({
  name: 'letter_counting',
  description: 'Count how many times a letter occurs in a word or short phrase.',
  hasOptions: true,
  hasCot: true,
  templates: flanTemplates(
    'How many times does the letter "{letter}" appear in "{text}"?',
    'Count the occurrences of "{letter}" in the text "{text}".',
    'In "{text}", how many {letter}\'s are there?',
    'Text: {text}\nLetter: {letter}\nCount:',
    'Q: Number of "{letter}" characters in "{text}"?\nA:',
  ),
  make(rng): Problem {
    const text = phrase(rng, 1, 2);
    const present = [...new Set([...text].filter((c) => c !== ' '))];
    const letter = rng.bool(0.85) ? rng.pick(present) : rng.pick([...'abcdefghijklmnopqrstuvwxyz'].filter((c) => !present.includes(c)));
    let count = 0;
    const marks: string[] = [];
    for (const c of text) {
      if (c === letter) { count++; marks.push(`${c} (${count})`); } else marks.push(showChar(c));
    }
    return {
      key: `${text}|${letter}`,
      fields: { text, letter },
      answer: String(count),
      options: numericOptions(count, rng, 3, 2, 0),
      rationale: `Going through the characters: ${marks.join(', ')}. The letter "${letter}" appears ${count} time${count === 1 ? '' : 's'}.`,
    };
  },
});

// ----------------------------------------------------------------------------------------------

const removeVowels = stringFamily({
  name: 'remove_vowels',
  description: 'Delete the vowels a, e, i, o, u from a word or phrase.',
  templates: flanTemplates(
    'Remove all vowels (a, e, i, o, u) from "{text}".',
    'Delete every a, e, i, o and u in: {text}',
    'Text: {text}\nThe text without vowels:',
    'Write "{text}" with its vowels taken out (keep spaces and other letters).',
    'Strip the vowels from the string "{text}".',
    invertedTemplate('Which word or phrase becomes "{answer}" after removing its vowels?', '{text}'),
  ),
  make(rng): Problem {
    let text = phrase(rng, 1, 3);
    while (!/[^aeiou ]/.test(text)) text = phrase(rng, 1, 3);
    return { key: text, fields: { text }, answer: [...text].filter((c) => !'aeiou'.includes(c)).join('') };
  },
});

/** The string-manipulation cluster. */
export const STRING_FAMILIES: readonly TaskFamily[] = [reverseString, changeCase, caesarCipher, acronym, palindromeCheck, letterCounting, removeVowels];
