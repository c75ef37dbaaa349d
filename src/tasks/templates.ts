/**
 * Flan-style instruction templates: filling `{field}` patterns, zero-shot and few-shot rendering,
 * answer options (an `OPTIONS:` list or randomized letter markers with letter targets), chain-of-
 * thought templates, and the answer extraction used to score chain-of-thought outputs.
 *
 * Formats follow the Flan 2022 collection (Chung et al. 2022; Longpre et al. 2023):
 *  - A template is a pair of patterns `{ inputs, targets }`; `{name}` is replaced by the example's
 *    field `name`, and `{{` / `}}` stand for literal braces (Python `str.format` conventions).
 *    "Inverted" templates swap roles, e.g. given the answer, produce the question.
 *  - Options: `OPTIONS:\n- a\n- b` (Flan's plain `options_` feature), or lettered
 *    `OPTIONS:\n(A) a\n(B) b` whose target is the marker `(B)`. Here the marker style is drawn at
 *    random per example from `(A)`, `A.`, `A)`, `[A]`; with `(A)` the target is `(B)` as in Flan,
 *    with the others it is the bare letter `B`. Scoring strips the parentheses, so both agree.
 *    The block follows the question after a blank line, before a trailing answer cue such as
 *    `A:` when the template ends with one (Flan templates place `{options_}` the same way).
 *  - Few-shot (Flan's `register_few_shot_version_of_task` defaults): each exemplar is its inputs,
 *    the x→y delimiter `"\n\n"` (a blank line), its targets, then the example separator `"\n\n\n"`
 *    (two blank lines); the query's inputs follow, also followed by the x→y delimiter, and trailing
 *    spaces (not newlines) are removed. Exemplars use the same template as the query.
 *  - Chain of thought: `… Let's think step by step.` → `<rationale> So the answer is X.` (six
 *    CoT templates wrap the family template's rendered question); answers are extracted from
 *    generated text the way Flan's `take_cot_answer` postprocessor does.
 */

import { TaskError } from './errors.js';
import type { Rng } from './rng.js';

/** An instruction template: `{field}` patterns for the model input and the target text. */
export interface Template {
  /** Pattern for the model input. */
  inputs: string;
  /** Pattern for the target the model should produce. */
  targets: string;
  /** True when the template inverts the task (e.g. given the answer, produce the question). */
  inverted?: boolean;
}

/** A chain-of-thought template: `{question}` in `inputs`; `{rationale}` and `{answer}` in `targets`. */
export type CotTemplate = Template;

const FIELD_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Field names referenced by a pattern, in order of first use. Throws on unbalanced braces. */
export function templateFields(pattern: string): string[] {
  const out: string[] = [];
  scanPattern(pattern, 'pattern', (name) => {
    if (!out.includes(name)) out.push(name);
    return '';
  });
  return out;
}

function scanPattern(pattern: string, where: string, sub: (name: string) => string): string {
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i];
    if (ch === '{') {
      if (pattern[i + 1] === '{') { out += '{'; i += 2; continue; }
      const close = pattern.indexOf('}', i + 1);
      if (close < 0) throw new TaskError(`${where}: unclosed '{' at offset ${i} in ${JSON.stringify(pattern)}; write '{{' for a literal brace.`);
      const name = pattern.slice(i + 1, close);
      if (!FIELD_RE.test(name)) {
        throw new TaskError(`${where}: '{${name}}' at offset ${i} is not a field name in ${JSON.stringify(pattern)}; names are letters, digits and '_' (write '{{' for a literal brace).`);
      }
      out += sub(name);
      i = close + 1;
    } else if (ch === '}') {
      if (pattern[i + 1] === '}') { out += '}'; i += 2; continue; }
      throw new TaskError(`${where}: stray '}' at offset ${i} in ${JSON.stringify(pattern)}; write '}}' for a literal brace.`);
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

/**
 * Fills a `{field}` pattern from `fields`. Values are inserted verbatim (never re-scanned, so
 * values may contain braces). A missing field is an error naming the available ones.
 */
export function fillTemplate(pattern: string, fields: Readonly<Record<string, string>>, where = 'template'): string {
  return scanPattern(pattern, where, (name) => {
    const v = fields[name];
    if (v === undefined) {
      throw new TaskError(`${where}: the pattern uses {${name}} but the example has no field '${name}' (fields: ${Object.keys(fields).join(', ') || 'none'}).`);
    }
    return v;
  });
}

// ----------------------------------------------------------------------------------------------
// Options

/** The header Flan puts before an answer-options list. */
export const OPTIONS_HEADER = 'OPTIONS:';

/** Flan's plain options block: `OPTIONS:\n- a\n- b`. */
export function formatOptions(options: readonly string[]): string {
  if (options.length === 0) throw new TaskError('formatOptions: no options given.');
  return `${OPTIONS_HEADER}\n- ${options.join('\n- ')}`;
}

/** Marker styles for lettered options; `paren` is Flan's `(A)`. */
export type MarkerStyle = 'paren' | 'dot' | 'rparen' | 'bracket';

/** All marker styles, in the order the randomizer draws from. */
export const MARKER_STYLES: readonly MarkerStyle[] = ['paren', 'dot', 'rparen', 'bracket'];

function letter(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= 26) throw new TaskError(`Option index ${i} is out of range: at most 26 lettered options (A–Z).`);
  return String.fromCharCode(65 + i);
}

/** The marker shown before option `i`: `(A)`, `A.`, `A)` or `[A]`. */
export function optionMarker(i: number, style: MarkerStyle): string {
  const l = letter(i);
  switch (style) {
    case 'paren': return `(${l})`;
    case 'dot': return `${l}.`;
    case 'rparen': return `${l})`;
    case 'bracket': return `[${l}]`;
  }
}

/** The target for option `i`: the marker `(B)` with Flan's paren style, else the bare letter `B`. */
export function letterTarget(i: number, style: MarkerStyle): string {
  return style === 'paren' ? `(${letter(i)})` : letter(i);
}

/** A lettered options block: `OPTIONS:\n(A) a\n(B) b` (marker per `style`). */
export function formatLetteredOptions(options: readonly string[], style: MarkerStyle): string {
  if (options.length === 0) throw new TaskError('formatLetteredOptions: no options given.');
  return `${OPTIONS_HEADER}\n${options.map((o, i) => `${optionMarker(i, style)} ${o}`).join('\n')}`;
}

// ----------------------------------------------------------------------------------------------
// Chain of thought

/**
 * Chain-of-thought templates. `{question}` is the example rendered with one of its family's
 * (non-inverted) templates, options included when present.
 */
export const COT_TEMPLATES: readonly CotTemplate[] = [
  { inputs: "{question} Let's think step by step.", targets: '{rationale} So the answer is {answer}.' },
  { inputs: "Q: {question}\nA: Let's think step by step.", targets: '{rationale} So the answer is {answer}.' },
  { inputs: 'Answer the following question by reasoning step by step.\n{question}', targets: '{rationale} So the answer is {answer}.' },
  { inputs: '{question}\nThink carefully first, then make a decision:', targets: '{rationale} So the answer is {answer}.' },
  { inputs: '{question}\nGive the rationale and then the answer.', targets: '{rationale} So the answer is {answer}.' },
  { inputs: '{question}\nExplain your reasoning step by step before giving the final answer.', targets: 'Step-by-step reasoning: {rationale}\nThe final answer: {answer}.' },
];

const EDGE_CHARS = new Set(['.', ',', '?', ' ', '\n', ':']);

/**
 * Extracts the final answer from a chain-of-thought output, as Flan's `take_cot_answer` does:
 * trim; drop one trailing `. , ? :`; keep the text after the last "answer is", "final answer",
 * "Final answer", "answer:" and "Answer:" in turn; drop one leading and one trailing
 * `. , ? : ` character; unwrap `(B)` to `B`.
 */
export function extractCotAnswer(text: string): string {
  let a = text.trim();
  if (a.length > 0 && EDGE_CHARS.has(a[a.length - 1])) a = a.slice(0, -1).trim();
  for (const marker of ['answer is', 'final answer', 'Final answer', 'answer:', 'Answer:']) {
    const at = a.lastIndexOf(marker);
    if (at >= 0) a = a.slice(at + marker.length).trim();
  }
  if (a.length > 0 && EDGE_CHARS.has(a[0])) a = a.slice(1).trim();
  if (a.length > 0 && EDGE_CHARS.has(a[a.length - 1])) a = a.slice(0, -1).trim();
  if (a.length >= 2 && a[0] === '(' && a[a.length - 1] === ')') a = a.slice(1, -1).trim();
  return a;
}

/** Normalizes a reference answer the way Flan's `take_cot_answer(is_target=True)` does: trim, drop one trailing `. , ?`, unwrap `(B)`. */
export function normalizeCotTarget(target: string): string {
  let a = target.trim();
  if (a.length > 0 && EDGE_CHARS.has(a[a.length - 1]) && a[a.length - 1] !== ':') a = a.slice(0, -1).trim();
  if (a.length >= 2 && a[0] === '(' && a[a.length - 1] === ')') a = a.slice(1, -1).trim();
  return a;
}

// ----------------------------------------------------------------------------------------------
// Rendering

/** How answer options are shown: not at all, Flan's `- ` list, or randomized letter markers. */
export type OptionsMode = 'none' | 'plain' | 'letters';

/** What to render: a template, the example's fields and answer, and the variant options. */
export interface RenderRequest {
  template: Template;
  /** Template fields; must include every `{name}` the template uses. */
  fields: Readonly<Record<string, string>>;
  /** The canonical answer (must be one of `options` when options are shown). */
  answer: string;
  /** Answer options (answer included) for the options variants. */
  options?: readonly string[];
  /** Default 'none'. */
  optionsMode?: OptionsMode;
  /** Randomness for lettered options (order and marker style); required for 'letters'. */
  rng?: Rng;
  /** Chain-of-thought: a CoT template and the worked rationale. */
  cot?: { template: CotTemplate; rationale: string };
  /** Used in error messages (e.g. the family and template index). */
  where?: string;
}

/** A rendered example. */
export interface RenderedExample {
  inputs: string;
  targets: string;
  /**
   * What a correct prediction must equal after scoring normalization: the answer, or the letter
   * target with lettered options; for inverted templates, the targets text.
   */
  answer: string;
  /** Options in displayed order (option variants only). */
  options?: string[];
  /** The target a model would produce for each displayed option (rank classification). */
  optionTargets?: string[];
}

/**
 * Splits a trailing answer cue off rendered inputs: a last line of at most 40 characters that ends
 * with ':' (e.g. `A:`, `Language:`, `Sorted (ascending):`) after at least one other line.
 * Returns `[body, cue]`, or `[inputs, null]` when there is none.
 */
export function splitAnswerCue(inputs: string): [string, string | null] {
  const nl = inputs.lastIndexOf('\n');
  if (nl < 0) return [inputs, null];
  const last = inputs.slice(nl + 1);
  if (last.length === 0 || last.length > 40 || !last.endsWith(':')) return [inputs, null];
  return [inputs.slice(0, nl), last];
}

/**
 * Renders one example zero-shot with a template, optional answer options and optional chain of
 * thought. Options follow the question after a blank line; when the template ends with an answer
 * cue line (see {@link splitAnswerCue}) the options go before the cue. Chain-of-thought wraps the
 * question (without its cue) in the CoT template.
 */
export function renderExample(req: RenderRequest): RenderedExample {
  const where = req.where ?? 'template';
  const mode = req.optionsMode ?? 'none';
  let inputs = fillTemplate(req.template.inputs, req.fields, `${where} (inputs)`);
  let targets = fillTemplate(req.template.targets, req.fields, `${where} (targets)`);
  let answer = req.template.inverted ? targets : req.answer;
  let options: string[] | undefined;
  let optionTargets: string[] | undefined;

  if (mode !== 'none' || req.cot) {
    if (req.template.inverted) {
      throw new TaskError(`${where}: options and chain-of-thought variants need a non-inverted template; this template is inverted.`);
    }
    if (targets !== req.answer) {
      throw new TaskError(`${where}: options and chain-of-thought variants need a template whose targets are exactly the answer (targets ${JSON.stringify(targets)}, answer ${JSON.stringify(req.answer)}).`);
    }
  }
  if (mode !== 'none') {
    const opts = req.options;
    if (!opts || opts.length < 2) throw new TaskError(`${where}: options mode '${mode}' needs at least two options; this example has ${opts?.length ?? 0}.`);
    if (!opts.includes(req.answer)) throw new TaskError(`${where}: the answer ${JSON.stringify(req.answer)} is not among the options ${JSON.stringify(opts)}.`);
    if (new Set(opts).size !== opts.length) throw new TaskError(`${where}: the options contain duplicates: ${JSON.stringify(opts)}.`);
    const [body, cue] = splitAnswerCue(inputs);
    const place = (block: string): string => (cue === null ? `${body}\n\n${block}` : `${body}\n\n${block}\n${cue}`);
    if (mode === 'plain') {
      options = opts.slice();
      inputs = place(formatOptions(options));
      optionTargets = options.slice();
      targets = req.answer;
      answer = req.answer;
    } else {
      if (!req.rng) throw new TaskError(`${where}: lettered options need an Rng to draw the order and marker style.`);
      options = req.rng.shuffle(opts);
      const style = req.rng.pick(MARKER_STYLES);
      inputs = place(formatLetteredOptions(options, style));
      optionTargets = options.map((_, i) => letterTarget(i, style));
      targets = optionTargets[options.indexOf(req.answer)];
      answer = targets;
    }
  }
  if (req.cot) {
    // The CoT template supplies its own answer cue, so a trailing cue line ("A:") is dropped.
    inputs = fillTemplate(req.cot.template.inputs, { question: splitAnswerCue(inputs)[0] }, `${where} (cot inputs)`);
    targets = fillTemplate(req.cot.template.targets, { rationale: req.cot.rationale, answer: targets }, `${where} (cot targets)`);
    if (optionTargets) {
      const tmpl = req.cot.template;
      const rationale = req.cot.rationale;
      optionTargets = optionTargets.map((t) => fillTemplate(tmpl.targets, { rationale, answer: t }, `${where} (cot targets)`));
    }
  }
  return { inputs, targets, answer, ...(options ? { options } : {}), ...(optionTargets ? { optionTargets } : {}) };
}

/** Separators of a few-shot prompt. */
export interface FewShotFormat {
  /** Between an exemplar's inputs and its targets, and after the query's inputs. */
  xyDelimiter: string;
  /** After each exemplar's targets. */
  exampleSeparator: string;
}

/** Flan 2022's few-shot format: a blank line between inputs and targets, two blank lines between exemplars. */
export const FLAN_FEW_SHOT: Readonly<FewShotFormat> = { xyDelimiter: '\n\n', exampleSeparator: '\n\n\n' };

/**
 * A few-shot prompt: every exemplar as `inputs + xy + targets + sep`, then the query's inputs and
 * `xy`; trailing spaces (not newlines) are removed as Flan does. With no exemplars the query is
 * returned unchanged (the zero-shot form).
 */
export function renderFewShot(
  exemplars: ReadonlyArray<Pick<RenderedExample, 'inputs' | 'targets'>>,
  query: RenderedExample,
  format: Readonly<FewShotFormat> = FLAN_FEW_SHOT,
): RenderedExample {
  if (exemplars.length === 0) return query;
  let prefix = '';
  for (const e of exemplars) prefix += e.inputs + format.xyDelimiter + e.targets + format.exampleSeparator;
  const inputs = (prefix + query.inputs + format.xyDelimiter).replace(/ +$/, '');
  return { ...query, inputs };
}
