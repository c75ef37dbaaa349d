/**
 * Errors of the training stack: `ConfigError` for a train config that does not validate (its
 * message names the offending field by its path, e.g. `optimizer.learningRate`, and says what was
 * expected) and `TrainError` for problems while training (non-finite loss, data that ran out, an
 * output directory that already holds another run, a checkpoint that cannot be resumed).
 */

import { MyriadError } from '../core/errors.js';

/** A train config failed validation; `issues` lists each problem with its field path. */
export class ConfigError extends MyriadError {
  constructor(message: string, readonly issues: { path: string; message: string }[] = []) {
    super(message);
  }
}

/** Something went wrong while training (see the message for what and how to fix it). */
export class TrainError extends MyriadError {}
