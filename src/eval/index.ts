/**
 * Public surface of Myriad's evaluation package: sacreBLEU-compatible BLEU and chrF/chrF++, SQuAD-style
 * exact match and F1, accuracy, WER, and the zero-/few-shot/chain-of-thought evaluation harness with
 * rank classification and per-task / per-cluster reports.
 */

export { EvalError } from './errors.js';
export { corpusBleu, sentenceBleu, computeBleu, bleuSignature, tokenize13a, tokenizeIntl, tokenizeChar, SACREBLEU_COMPAT_VERSION } from './bleu.js';
export type { BleuOptions, BleuScore, BleuTokenizer, BleuSmoothing } from './bleu.js';
export { corpusChrf, sentenceChrf, chrfFromStats, chrfSignature, chrfWords } from './chrf.js';
export type { ChrfOptions, ChrfScore } from './chrf.js';
export {
  exactMatch,
  squad,
  squadF1,
  normalizeSquad,
  accuracy,
  bleu,
  bleuMetric,
  chrf,
  chrfpp,
  chrfMetric,
  wer,
  werDetails,
  wordAlignment,
  toReferenceStreams,
  METRICS,
} from './metrics.js';
export type { WerCounts } from './metrics.js';
export {
  evaluate,
  evaluateTask,
  aggregate,
  buildPrompt,
  extractCotAnswer,
  formatReport,
  writeReport,
  DEFAULT_PROMPT_FORMAT,
} from './harness.js';
export type { LanguageModel, GenerateOptions, EvalMode, PromptFormat, EvaluateOptions, TaskReport, ClusterReport, EvalReport, SampleRecord } from './harness.js';
export { pySplit, pyRstrip, pyStrip, codePoints, removeWhitespace, PY_PUNCTUATION } from './text.js';
