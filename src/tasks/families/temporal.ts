/**
 * Cluster `temporal`: generated calendar and clock problems — date arithmetic, day of the week,
 * BIG-Bench-Hard-style date understanding relative to holidays, days between two dates, leap years
 * and clock arithmetic — with worked rationales. Calendar math uses the proleptic Gregorian
 * day-number functions in `util.ts` (tests check them against `Date`).
 */

import type { Problem, TaskFamily } from '../family.js';
import { flanTemplates, generatedFamilyBuilder, invertedTemplate } from '../family_builder.js';
import type { Rng } from '../rng.js';
import {
  MONTH_NAMES, WEEKDAY_NAMES, civilFromDays, dateWalk, daysFromCivil, daysInMonth, formatISO, formatLong, formatMDY,
  isLeapYear, mod, optionsFrom, randomDate, weekdayOfDays, type CivilDate,
} from './util.js';

/** Every temporal family has answer options and a worked rationale. */
const temporalFamily = generatedFamilyBuilder({ cluster: 'temporal', hasOptions: true, hasCot: true });

function formatAny(d: CivilDate, rng: Rng): string {
  const f = rng.int(0, 2);
  return f === 0 ? formatMDY(d) : f === 1 ? formatISO(d) : formatLong(d);
}

function shiftDays(d: CivilDate, k: number): CivilDate {
  return civilFromDays(daysFromCivil(d) + k);
}

function dateOptions(answer: CivilDate, rng: Rng): string[] {
  const a = formatMDY(answer);
  return optionsFrom(a, 3, rng, () => {
    const kind = rng.int(0, 3);
    if (kind === 0) return formatMDY(shiftDays(answer, rng.pick([1, -1, 2, -2])));
    if (kind === 1) return formatMDY(shiftDays(answer, rng.pick([7, -7, 30, -30])));
    if (kind === 2) return formatMDY({ ...answer, year: answer.year + rng.pick([1, -1]), day: Math.min(answer.day, 28) });
    const m = answer.month === 12 ? 1 : answer.month + 1;
    return formatMDY({ year: answer.year, month: m, day: Math.min(answer.day, daysInMonth(answer.year, m)) });
  });
}

// ----------------------------------------------------------------------------------------------
// date_arithmetic

const dateArithmetic = temporalFamily({
  name: 'date_arithmetic',
  description: 'Add or subtract days or weeks from a date; answer in MM/DD/YYYY.',
  templates: flanTemplates(
    'What is the date {amount} {direction} {date}? Answer in MM/DD/YYYY.',
    'Start from {date}. Move {amount} {direction_word}. What date is it? (MM/DD/YYYY)',
    'If today is {date}, what will the date be {amount} {direction_later}? Give it as MM/DD/YYYY.',
    'Date arithmetic: {date} {sign} {amount} = ? (format MM/DD/YYYY)',
    'Q: Which date is {amount} {direction} {date}, in MM/DD/YYYY format?\nA:',
    invertedTemplate('Which date is {amount} {opposite} {answer}? Answer in MM/DD/YYYY.', '{date_mdy}'),
  ),
  make(rng): Problem {
    const start = randomDate(rng, 1900, 2100);
    const weeks = rng.bool(0.3);
    const n = weeks ? rng.int(1, 12) : rng.int(1, 120);
    const days = weeks ? 7 * n : n;
    const forward = rng.bool();
    const end = shiftDays(start, forward ? days : -days);
    const amount = `${n} ${weeks ? 'week' : 'day'}${n === 1 ? '' : 's'}`;
    const walk = dateWalk(start, forward ? days : -days);
    const date = formatAny(start, rng);
    return {
      key: `${formatISO(start)}|${forward ? '+' : '-'}${amount}`,
      fields: {
        date,
        date_mdy: formatMDY(start),
        amount,
        direction: forward ? 'after' : 'before',
        opposite: forward ? 'before' : 'after',
        direction_word: forward ? 'forward' : 'backward',
        direction_later: forward ? 'later' : 'earlier',
        sign: forward ? '+' : '-',
      },
      answer: formatMDY(end),
      options: dateOptions(end, rng),
      rationale: `${weeks ? `${amount} is ${n} * 7 = ${days} days. ` : ''}${walk.text} In MM/DD/YYYY, that is ${formatMDY(end)}.`,
    };
  },
});

// ----------------------------------------------------------------------------------------------
// day_of_week

const ANCHOR = { year: 2000, month: 1, day: 1 }; // a Saturday

const dayOfWeek = temporalFamily({
  name: 'day_of_week',
  description: 'Name the weekday of a date between 1600 and 2200, counting from a known anchor date.',
  templates: flanTemplates(
    'What day of the week was {date}?',
    'On which weekday does {date} fall?',
    'Give the day of the week for the date {date}.',
    'Q: {date} was a ...?\nA:',
    'Determine the weekday (Monday to Sunday) of {date}.',
    invertedTemplate('Name a date in {month_name} {year} that falls on a {answer}.', '{date_long}'),
  ),
  make(rng): Problem {
    const d = randomDate(rng, 1600, 2200);
    const z = daysFromCivil(d);
    const w = weekdayOfDays(z);
    const diff = z - daysFromCivil(ANCHOR);
    const r = mod(diff, 7);
    const rationale = `January 1, 2000 was a Saturday. ${formatLong(d)} is ${Math.abs(diff)} day${Math.abs(diff) === 1 ? '' : 's'} ${diff >= 0 ? 'after' : 'before'} it, a signed difference of ${diff} days. ${diff} mod 7 = ${r}, and ${r} day${r === 1 ? '' : 's'} after Saturday is ${WEEKDAY_NAMES[w]}.`;
    return {
      key: formatISO(d),
      fields: { date: formatAny(d, rng), date_long: formatLong(d), month_name: MONTH_NAMES[d.month - 1], year: String(d.year) },
      answer: WEEKDAY_NAMES[w],
      options: rng.shuffle(WEEKDAY_NAMES),
      rationale,
    };
  },
});

// ----------------------------------------------------------------------------------------------
// date_understanding

/** Fixed-date holidays used as anchors: [month, day, name]. */
export const HOLIDAYS: ReadonlyArray<readonly [number, number, string]> = [
  [1, 1, "New Year's Day"], [2, 2, 'Groundhog Day'], [2, 14, "Valentine's Day"], [3, 17, "St. Patrick's Day"],
  [7, 4, 'Independence Day'], [10, 31, 'Halloween'], [11, 11, "Veterans Day"], [12, 24, 'Christmas Eve'], [12, 25, 'Christmas Day'], [12, 31, "New Year's Eve"],
];

/** Relative-date phrases: [phrase, kind, amount]; kind 'd' days, 'm' months, 'y' years. */
export const RELATIVE_PHRASES: ReadonlyArray<readonly [string, 'd' | 'm' | 'y', number]> = [
  ['today', 'd', 0], ['yesterday', 'd', -1], ['tomorrow', 'd', 1], ['24 hours later', 'd', 1], ['one week ago', 'd', -7],
  ['one week from today', 'd', 7], ['10 days ago', 'd', -10], ['a month ago', 'm', -1], ['one year ago', 'y', -1], ['one year from today', 'y', 1],
];

const dateUnderstanding = temporalFamily({
  name: 'date_understanding',
  description: 'Infer a date relative to a described day such as "Yesterday was Christmas Eve of 1937" (BBH date_understanding).',
  templates: flanTemplates(
    '{context} What is the date {phrase} in MM/DD/YYYY?',
    '{context}\nQuestion: what was or will be the date {phrase}? Use MM/DD/YYYY.',
    'Context: {context}\nGive the date {phrase} (MM/DD/YYYY).',
    '{context} Find the date {phrase}. Answer with MM/DD/YYYY.',
    'Q: {context} What is the date {phrase}? Format: MM/DD/YYYY.\nA:',
  ),
  make(rng): Problem {
    const year = rng.int(1900, 2030);
    const form = rng.int(0, 3);
    let today: CivilDate;
    let context: string;
    let known: string;
    if (form === 3) {
      today = { year, month: rng.int(1, 12), day: rng.int(1, 28) };
      context = `Today is ${formatMDY(today)}.`;
      known = `Today is ${formatMDY(today)}.`;
    } else {
      const [m, d, name] = rng.pick(HOLIDAYS);
      const h = { year, month: m, day: d };
      const shift = form === 0 ? 0 : form === 1 ? 1 : -1;
      today = shiftDays(h, shift);
      context = form === 0 ? `Today is ${name} of ${year}.` : form === 1 ? `Yesterday was ${name} of ${year}.` : `Tomorrow is ${name} of ${year}.`;
      known = `${name} of ${year} is ${formatMDY(h)}, so today is ${formatMDY(today)}.`;
    }
    const candidates = RELATIVE_PHRASES.filter(([, kind]) => kind === 'd' || today.day <= 28);
    const [phrase, kind, amount] = rng.pick(candidates);
    let target: CivilDate;
    if (kind === 'd') target = shiftDays(today, amount);
    else if (kind === 'y') target = { ...today, year: today.year + amount };
    else {
      const mm = today.month + amount;
      target = mm < 1 ? { year: today.year - 1, month: mm + 12, day: today.day } : mm > 12 ? { year: today.year + 1, month: mm - 12, day: today.day } : { ...today, month: mm };
    }
    return {
      key: `${context}|${phrase}`,
      fields: { context, phrase },
      answer: formatMDY(target),
      options: dateOptions(target, rng),
      rationale: `${known} The date ${phrase} is ${formatMDY(target)}.`,
    };
  },
});

// ----------------------------------------------------------------------------------------------
// days_between

const daysBetween = temporalFamily({
  name: 'days_between',
  description: 'Count the days from one date to a later one (up to about seven months apart).',
  templates: flanTemplates(
    'How many days are there from {start} to {end}?',
    'Count the number of days between {start} and {end}.',
    'If it is {start} today, in how many days will it be {end}?',
    'What is the difference in days between {end} and {start}?',
    'Q: Days from {start} until {end}?\nA:',
    invertedTemplate('Which date is {answer} days after {start}? Answer in the same format.', '{end}'),
  ),
  make(rng): Problem {
    const a = randomDate(rng, 1950, 2050);
    const n = rng.int(1, 220);
    const b = shiftDays(a, n);
    const fmt = rng.int(0, 2);
    const f = (d: CivilDate): string => (fmt === 0 ? formatMDY(d) : fmt === 1 ? formatISO(d) : formatLong(d));
    const walk = dateWalk(a, n);
    return {
      key: `${formatISO(a)}|${formatISO(b)}`,
      fields: { start: f(a), end: f(b) },
      answer: String(n),
      options: optionsFrom(String(n), 3, rng, () => String(Math.max(1, n + rng.pick([1, -1, 2, -2, 30, -30, 31, -31])))),
      rationale: `${walk.text} In total: ${walk.counts.join(' + ')} = ${n} days.`,
    };
  },
});

// ----------------------------------------------------------------------------------------------
// leap_year

const leapYear = temporalFamily({
  name: 'leap_year',
  description: 'Decide whether a year is a Gregorian leap year.',
  templates: flanTemplates(
    'Is {year} a leap year?',
    'Question: Was (or will) {year} be a leap year? Answer yes or no.',
    'Does February have 29 days in {year}?',
    'In the Gregorian calendar, is the year {year} a leap year?',
    'Year: {year}\nLeap year?',
  ),
  make(rng): Problem {
    const century = rng.bool(0.25);
    const y = century ? 100 * rng.int(15, 24) : rng.int(1500, 2400);
    const leap = isLeapYear(y);
    let rationale: string;
    if (y % 4 !== 0) rationale = `${y} is not divisible by 4, so it is not a leap year.`;
    else if (y % 100 !== 0) rationale = `${y} is divisible by 4 and not by 100, so it is a leap year.`;
    else if (y % 400 !== 0) rationale = `${y} is divisible by 100 but not by 400, so it is not a leap year.`;
    else rationale = `${y} is divisible by 400, so it is a leap year.`;
    return { key: String(y), fields: { year: String(y) }, answer: leap ? 'yes' : 'no', options: ['yes', 'no'], rationale };
  },
});

// ----------------------------------------------------------------------------------------------
// time_arithmetic

function hhmm(mins: number): string {
  const m = mod(mins, 24 * 60);
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

function twelveHour(mins: number): string {
  const h = Math.floor(mins / 60), m = mins % 60;
  const h12 = h % 12 === 0 ? 12 : h % 12;
  return `${h12}:${String(m).padStart(2, '0')} ${h < 12 ? 'AM' : 'PM'}`;
}

const timeArithmetic = temporalFamily({
  name: 'time_arithmetic',
  description: 'Add or subtract hours and minutes on a 24-hour clock.',
  templates: flanTemplates(
    'It is {time} now. What time will it be {duration} {later}? Answer in 24-hour HH:MM.',
    'A clock shows {time}. What does it show after moving {duration} {direction}? (24-hour HH:MM)',
    'What time is {duration} {relation} {time}? Give the answer as HH:MM on a 24-hour clock.',
    'Clock arithmetic: {time} {sign} {duration} = ? (HH:MM, 24-hour)',
    'Q: The meeting starts at {time}. What time is {duration} {relation} the start? Use HH:MM (24-hour).\nA:',
    invertedTemplate('What time is {duration} {opposite} {answer}? Answer in 24-hour HH:MM.', '{time24}'),
  ),
  make(rng): Problem {
    const start = rng.int(0, 24 * 60 - 1);
    const h = rng.int(0, 12);
    let m = rng.int(0, 59);
    if (h === 0 && m === 0) m = rng.int(1, 59);
    const forward = rng.bool();
    const delta = (forward ? 1 : -1) * (h * 60 + m);
    const end = start + delta;
    const parts = [h > 0 ? `${h} hour${h === 1 ? '' : 's'}` : '', m > 0 ? `${m} minute${m === 1 ? '' : 's'}` : ''].filter(Boolean);
    const duration = parts.join(' and ');
    const time = rng.bool(0.7) ? hhmm(start) : twelveHour(start);
    const mid = start + (forward ? 1 : -1) * h * 60;
    const steps: string[] = [`${time} is ${hhmm(start)} on a 24-hour clock.`];
    if (h > 0) steps.push(`${hhmm(start)} ${forward ? 'plus' : 'minus'} ${h} hour${h === 1 ? '' : 's'} is ${hhmm(mid)}${mid < 0 || mid >= 1440 ? ' (crossing midnight)' : ''}.`);
    if (m > 0) steps.push(`${hhmm(mid)} ${forward ? 'plus' : 'minus'} ${m} minute${m === 1 ? '' : 's'} is ${hhmm(end)}.`);
    return {
      key: `${hhmm(start)}|${delta}|${time.includes('M') ? '12h' : '24h'}`,
      fields: {
        time,
        time24: hhmm(start),
        duration,
        later: forward ? 'later' : 'earlier',
        direction: forward ? 'forward' : 'backward',
        relation: forward ? 'after' : 'before',
        opposite: forward ? 'before' : 'after',
        sign: forward ? '+' : '-',
      },
      answer: hhmm(end),
      options: optionsFrom(hhmm(end), 3, rng, () => hhmm(end + rng.pick([60, -60, 10, -10, 30, -30, 720, 2 * m || 15]))),
      rationale: steps.join(' '),
    };
  },
});

/** The temporal cluster. */
export const TEMPORAL_FAMILIES: readonly TaskFamily[] = [dateArithmetic, dayOfWeek, dateUnderstanding, daysBetween, leapYear, timeArithmetic];
