/**
 * Python-compatible string helpers for metrics that must match Python reference implementations
 * (sacreBLEU, the SQuAD evaluation script): `str.split()` with Python's exact whitespace set,
 * `str.rstrip()`, code-point indexing (Python strings index code points, JavaScript strings UTF-16
 * units), `string.punctuation`, and Python-style fixed-point formatting.
 */

/** Characters Python's `str.split()` (no argument) treats as whitespace. */
const PY_WS = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_WS_RUN = new RegExp(`[${PY_WS}]+`, 'g');
const PY_WS_TRAIL = new RegExp(`[${PY_WS}]+$`);
const PY_WS_LEAD = new RegExp(`^[${PY_WS}]+`);

/** Python's `s.split()`: runs of whitespace separate, no empty strings. */
export function pySplit(s: string): string[] {
  const out = s.split(PY_WS_RUN);
  if (out.length > 0 && out[0] === '') out.shift();
  if (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/** Python's `s.rstrip()`. */
export function pyRstrip(s: string): string {
  return s.replace(PY_WS_TRAIL, '');
}

/** Python's `s.strip()`. */
export function pyStrip(s: string): string {
  return s.replace(PY_WS_LEAD, '').replace(PY_WS_TRAIL, '');
}

/** Python's `''.join(s.split())`: all whitespace removed. */
export function removeWhitespace(s: string): string {
  return s.replace(PY_WS_RUN, '');
}

/** The code points of `s` (what Python indexes). */
export function codePoints(s: string): string[] {
  return Array.from(s);
}

/** Python's `string.punctuation`. */
export const PY_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const PUNCT_SET = new Set(PY_PUNCTUATION);

/** Whether `ch` is one of Python's `string.punctuation`. */
export function isPyPunct(ch: string): boolean {
  return PUNCT_SET.has(ch);
}

/** Python's `f'{x:.{digits}f}'` for finite numbers (JavaScript's toFixed; ties can differ in the last digit). */
export function pyFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : x < 0 ? '-inf' : 'nan';
  return x.toFixed(digits);
}
