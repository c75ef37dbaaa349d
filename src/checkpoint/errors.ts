/**
 * Errors of the checkpoint module: `SafetensorsError` for a malformed or unsupported safetensors
 * file (it names the file or tensor and what is wrong), and `CheckpointError` for checkpoints
 * that cannot be written or loaded (corrupt, truncated, missing, or clashing with an existing
 * step); a `CheckpointError` about a damaged checkpoint also says which earlier checkpoint is
 * still intact.
 */

import { MyriadError } from '../core/errors.js';

/** A safetensors file (or buffer) that is malformed, or a tensor that cannot be stored in one. */
export class SafetensorsError extends MyriadError {}

/** What a {@link CheckpointError} is about, for callers that want to react to kinds. */
export type CheckpointProblem = 'corrupt' | 'missing' | 'exists' | 'invalid-input' | 'io';

/** A checkpoint that cannot be saved or loaded. */
export class CheckpointError extends MyriadError {
  constructor(
    message: string,
    /** The kind of problem. */
    readonly problem: CheckpointProblem,
    /** Extra facts: the checkpoint's step, the damaged file, the newest intact earlier step. */
    readonly details: { step?: number; file?: string; previousValidStep?: number | null } = {},
  ) {
    super(message);
  }
}
