/**
 * The reference backend's entry point. Importing it installs the reference interpreter as the
 * eager evaluator (every untraced `bind` runs through `referenceEval`), and re-exports the rule
 * table and `evalGraphReference`, the eager oracle that later stages (compiled backends, the
 * SPMD partitioner) compare their results against.
 */

import { setEagerEvaluator } from '../../core/trace.js';
import { referenceEval } from './interpreter.js';

setEagerEvaluator(referenceEval);

export { referenceRules, referenceEval, evalGraphReference, convertData, erf, type RefRule } from './interpreter.js';
