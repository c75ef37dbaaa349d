/**
 * Error class of the evaluation package: `EvalError` for bad metric inputs (mismatched lengths,
 * empty references, unknown options) and for models that break the harness contract.
 */

import { MyriadError } from '../core/errors.js';

/** Bad metric input or evaluation setup. */
export class EvalError extends MyriadError {}
