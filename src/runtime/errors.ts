/**
 * Errors of the multi-device runtime. `MeshError` covers misuse (a closed mesh, arguments that
 * do not match the compiled program, a worker that cannot start); `DeviceError` is a step that
 * failed on one device — an exception in one of its segments, a collective that timed out, or
 * its worker dying — and carries the device id and the original error's name and stack.
 */

import { MyriadError } from '../core/errors.js';

/** Misuse of a Mesh or a compiled program, or a runtime that cannot run. */
export class MeshError extends MyriadError {}

/** A step that failed on one device; the whole step fails with it. */
export class DeviceError extends MeshError {
  constructor(
    message: string,
    /** The device whose failure ended the step. */
    readonly device: number,
    /** The name of the original error on that device (e.g. 'OnnxError'), or 'WorkerExit'. */
    readonly originalName: string,
    /** The original error's stack inside the worker, when there was one. */
    readonly originalStack?: string,
  ) {
    super(message);
  }
}
