/**
 * Small helpers shared by the task families: English number words and ordinals, list joining,
 * numeric distractors for answer options, integer math, and proleptic-Gregorian calendar
 * arithmetic on day numbers (days since 1970-01-01), implemented from the civil-calendar rules
 * (not via `Date`, so the temporal families' tests can check them against `Date`).
 */

import type { Rng } from '../rng.js';

const ORDINALS = ['zeroth', 'first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth', 'tenth', 'eleventh', 'twelfth'];
const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];

/** `first`, `second`, … `twelfth`. */
export function ordinalWord(n: number): string {
  const w = ORDINALS[n];
  if (w === undefined) throw new RangeError(`ordinalWord: ${n} is outside 0..12`);
  return w;
}

/** `zero` … `twelve`. */
export function numberWord(n: number): string {
  const w = NUMBER_WORDS[n];
  if (w === undefined) throw new RangeError(`numberWord: ${n} is outside 0..12`);
  return w;
}

/** `a`, `a and b`, `a, b, and c` (serial comma). */
export function joinAnd(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  if (items.length === 2) return `${items[0]} and ${items[1]}`;
  return `${items.slice(0, -1).join(', ')}, and ${items[items.length - 1]}`;
}

/** First letter upper-cased. */
export function capitalize(s: string): string {
  return s.length === 0 ? s : s[0].toUpperCase() + s.slice(1);
}

/** `a` or `an` before a word (by its first letter). */
export function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

/** Greatest common divisor of two non-negative integers (Euclid). */
export function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Mathematical modulo (result in [0, m)). */
export function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

/**
 * `k` distinct integers near `answer` (offsets drawn from ±1..±spread and a few "slips" such as
 * ±10), none equal to the answer; returned as strings together with the answer, shuffled.
 */
export function numericOptions(answer: number, rng: Rng, k = 3, spread = 5, min = -Infinity): string[] {
  const out = new Set<number>([answer]);
  const candidates = [1, -1, 2, -2, 10, -10, spread, -spread, answer !== 0 ? -answer : 3];
  let guard = 0;
  while (out.size < k + 1) {
    const d = guard < 20 ? rng.pick(candidates) * (guard < 10 ? 1 : rng.int(1, 3)) : rng.int(-spread * 4, spread * 4);
    const v = answer + d;
    if (v >= min && d !== 0) out.add(v);
    if (++guard > 1000) throw new Error(`numericOptions: could not find ${k} distractors for ${answer}`);
  }
  return rng.shuffle([...out].map(String));
}

/** Options: the answer plus `k` distinct distractors drawn by `draw` (which may repeat), shuffled. */
export function optionsFrom(answer: string, k: number, rng: Rng, draw: () => string): string[] {
  const out = new Set<string>([answer]);
  let guard = 0;
  while (out.size < k + 1) {
    out.add(draw());
    if (++guard > 10000) throw new Error(`optionsFrom: could not find ${k} distinct distractors for ${JSON.stringify(answer)}`);
  }
  return rng.shuffle([...out]);
}

// ----------------------------------------------------------------------------------------------
// Calendar (proleptic Gregorian)

/** English month names, January first. */
export const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** English weekday names, Sunday first (the order of `Date.prototype.getUTCDay`). */
export const WEEKDAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** A calendar date; `month` is 1–12. */
export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

/** Gregorian leap-year rule: divisible by 4, except centuries not divisible by 400. */
export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** Days in a month of a year. */
export function daysInMonth(y: number, m: number): number {
  return [31, isLeapYear(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
}

/** Days since 1970-01-01 of a civil date (eras of 400 years, March-based years). */
export function daysFromCivil({ year, month, day }: CivilDate): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The civil date of a day number (inverse of {@link daysFromCivil}). */
export function civilFromDays(z: number): CivilDate {
  const zz = z + 719468;
  const era = Math.floor(zz / 146097);
  const doe = zz - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: era * 400 + yoe + (month <= 2 ? 1 : 0), month, day };
}

/** Weekday index (0 = Sunday) of a day number; 1970-01-01 was a Thursday. */
export function weekdayOfDays(z: number): number {
  return mod(z + 4, 7);
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** `MM/DD/YYYY` (BIG-Bench's date format). */
export function formatMDY(d: CivilDate): string {
  return `${pad2(d.month)}/${pad2(d.day)}/${String(d.year).padStart(4, '0')}`;
}

/** `YYYY-MM-DD`. */
export function formatISO(d: CivilDate): string {
  return `${String(d.year).padStart(4, '0')}-${pad2(d.month)}-${pad2(d.day)}`;
}

/** `March 14, 2021`. */
export function formatLong(d: CivilDate): string {
  return `${MONTH_NAMES[d.month - 1]} ${d.day}, ${d.year}`;
}

/** A uniformly random date between two years (inclusive). */
export function randomDate(rng: Rng, fromYear: number, toYear: number): CivilDate {
  const lo = daysFromCivil({ year: fromYear, month: 1, day: 1 });
  const hi = daysFromCivil({ year: toYear, month: 12, day: 31 });
  return civilFromDays(rng.int(lo, hi));
}

/**
 * A month-by-month account of moving `delta` days from `start` (the rationale of date problems),
 * e.g. "From March 14, 2021, 17 days bring us to March 31, 2021. 6 more days bring us to April 6, 2021."
 */
export function dateWalk(start: CivilDate, delta: number): { text: string; counts: number[] } {
  const steps: string[] = [];
  const counts: number[] = [];
  let cur = daysFromCivil(start);
  let left = Math.abs(delta);
  const sign = delta >= 0 ? 1 : -1;
  let first = true;
  while (left > 0) {
    const c = civilFromDays(cur);
    // Distance to the end (forward) or start (backward) of the current month, or to the next month's edge.
    let step: number;
    if (sign > 0) step = c.day < daysInMonth(c.year, c.month) ? daysInMonth(c.year, c.month) - c.day : daysInMonth(...nextMonth(c.year, c.month));
    else step = c.day > 1 ? c.day - 1 : daysInMonth(...prevMonth(c.year, c.month));
    step = Math.min(step, left);
    counts.push(step);
    cur += sign * step;
    left -= step;
    const word = sign > 0 ? 'later' : 'earlier';
    steps.push(`${first ? `From ${formatLong(c)}, ` : ''}${step} day${step === 1 ? '' : 's'} ${word} is ${formatLong(civilFromDays(cur))}.`);
    first = false;
  }
  return { text: steps.join(' '), counts };
}

function nextMonth(y: number, m: number): [number, number] {
  return m === 12 ? [y + 1, 1] : [y, m + 1];
}

function prevMonth(y: number, m: number): [number, number] {
  return m === 1 ? [y - 1, 12] : [y, m - 1];
}
