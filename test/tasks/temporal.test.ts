// Independent checks of the temporal families with JavaScript's Date (UTC), which the families
// themselves never use (they have their own civil-calendar arithmetic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getFamily } from '../../src/tasks/collection.js';
import type { TaskExample } from '../../src/tasks/family.js';
import { HOLIDAYS } from '../../src/tasks/families/temporal.js';

const DAY = 86400000;
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function sample(name: string, n = 200): TaskExample[] {
  const f = getFamily(name);
  return [...f.generate('train', n, 11), ...f.generate('test', Math.ceil(n / 4), 11)];
}

/** Parses MM/DD/YYYY, YYYY-MM-DD or "Month D, YYYY" into a UTC Date. */
function parseDate(s: string): Date {
  let m: RegExpExecArray | null;
  let d: Date;
  if ((m = /^(\d\d)\/(\d\d)\/(\d{4})$/.exec(s))) d = new Date(Date.UTC(+m[3], +m[1] - 1, +m[2]));
  else if ((m = /^(\d{4})-(\d\d)-(\d\d)$/.exec(s))) d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  else if ((m = /^(\w+) (\d+), (\d{4})$/.exec(s))) d = new Date(Date.UTC(+m[3], MONTHS.indexOf(m[1]), +m[2]));
  else throw new Error(`unparsed date '${s}'`);
  return d;
}

function mdy(d: Date): string {
  return `${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCDate()).padStart(2, '0')}/${d.getUTCFullYear()}`;
}

test('date_arithmetic: answers match Date arithmetic', () => {
  for (const ex of sample('date_arithmetic')) {
    const start = parseDate(ex.fields.date);
    const m = /^(\d+) (day|week)s?$/.exec(ex.fields.amount) as RegExpExecArray;
    const days = Number(m[1]) * (m[2] === 'week' ? 7 : 1) * (ex.fields.direction === 'after' ? 1 : -1);
    assert.equal(ex.answer, mdy(new Date(start.getTime() + days * DAY)), `${ex.fields.amount} ${ex.fields.direction} ${ex.fields.date}`);
    assert.equal(ex.fields.date_mdy, mdy(start));
  }
});

test('day_of_week: answers match Date.getUTCDay', () => {
  const names = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  for (const ex of sample('day_of_week')) {
    assert.equal(ex.answer, names[parseDate(ex.fields.date).getUTCDay()], ex.fields.date);
  }
});

test('date_understanding: answers match Date arithmetic on the parsed context and phrase', () => {
  const byName = new Map(HOLIDAYS.map(([m, d, name]) => [name, [m, d] as const]));
  for (const ex of sample('date_understanding')) {
    const c = ex.fields.context;
    let today: Date;
    let m: RegExpExecArray | null;
    if ((m = /^Today is (\d\d\/\d\d\/\d{4})\.$/.exec(c))) today = parseDate(m[1]);
    else if ((m = /^(Today is|Yesterday was|Tomorrow is) (.+) of (\d{4})\.$/.exec(c))) {
      const md = byName.get(m[2]);
      assert.ok(md, `unknown holiday ${m[2]}`);
      const h = Date.UTC(+m[3], md[0] - 1, md[1]);
      today = new Date(h + (m[1] === 'Yesterday was' ? DAY : m[1] === 'Tomorrow is' ? -DAY : 0));
    } else throw new Error(`unparsed context '${c}'`);
    const t = new Date(today.getTime());
    const dayShift: Record<string, number> = { today: 0, yesterday: -1, tomorrow: 1, '24 hours later': 1, 'one week ago': -7, 'one week from today': 7, '10 days ago': -10 };
    const p = ex.fields.phrase;
    if (p in dayShift) t.setTime(t.getTime() + dayShift[p] * DAY);
    else if (p === 'a month ago') t.setUTCMonth(t.getUTCMonth() - 1);
    else if (p === 'one year ago') t.setUTCFullYear(t.getUTCFullYear() - 1);
    else if (p === 'one year from today') t.setUTCFullYear(t.getUTCFullYear() + 1);
    else throw new Error(`unknown phrase '${p}'`);
    if (p === 'a month ago' || p.startsWith('one year')) assert.equal(t.getUTCDate(), today.getUTCDate(), 'month/year moves must keep the day');
    assert.equal(ex.answer, mdy(t), `${c} ${p}`);
    assert.ok(ex.options?.includes(ex.answer));
  }
});

test('days_between: answers match the Date difference', () => {
  for (const ex of sample('days_between')) {
    const diff = (parseDate(ex.fields.end).getTime() - parseDate(ex.fields.start).getTime()) / DAY;
    assert.equal(ex.answer, String(diff), `${ex.fields.start} → ${ex.fields.end}`);
  }
});

test('leap_year: answers match whether February 29 exists in Date', () => {
  for (const ex of sample('leap_year')) {
    const y = Number(ex.fields.year);
    const d = new Date(Date.UTC(y, 1, 29));
    assert.equal(ex.answer, d.getUTCMonth() === 1 ? 'yes' : 'no', String(y));
  }
});

test('time_arithmetic: answers match Date arithmetic on a 24-hour clock', () => {
  for (const ex of sample('time_arithmetic')) {
    let m = /^(\d\d):(\d\d)$/.exec(ex.fields.time);
    let h: number, min: number;
    if (m) { h = +m[1]; min = +m[2]; } else {
      m = /^(\d+):(\d\d) (AM|PM)$/.exec(ex.fields.time) as RegExpExecArray;
      h = (+m[1] % 12) + (m[3] === 'PM' ? 12 : 0); min = +m[2];
    }
    const dh = /(\d+) hours?/.exec(ex.fields.duration), dm = /(\d+) minutes?/.exec(ex.fields.duration);
    const delta = ((dh ? +dh[1] : 0) * 60 + (dm ? +dm[1] : 0)) * 60000 * (ex.fields.later === 'later' ? 1 : -1);
    const t = new Date(Date.UTC(2001, 0, 10, h, min) + delta);
    const want = `${String(t.getUTCHours()).padStart(2, '0')}:${String(t.getUTCMinutes()).padStart(2, '0')}`;
    assert.equal(ex.answer, want, `${ex.fields.time} ${ex.fields.later} by ${ex.fields.duration}`);
  }
});
