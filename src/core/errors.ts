/**
 * Myriad's typed error hierarchy and the helper that finds the user's source line.
 *
 * Every error says what was wrong, where (the user's file:line:col, found by walking the stack
 * past Myriad's own frames), and how to fix it. Subclasses let callers and tests tell kinds apart:
 * ShapeError, DTypeError, AxisError, TracerError (concretization, leaked tracers), GradError,
 * EinsumError, KeyError (PRNG key misuse), PytreeError.
 */

import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

/** Base class of every error Myriad throws on bad input. */
export class MyriadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
export class ShapeError extends MyriadError {}
export class DTypeError extends MyriadError {}
export class AxisError extends MyriadError {}
export class TracerError extends MyriadError {}
/** Errors raised at a transformation's call boundary carry the user's source line. */
class LocatedError extends MyriadError {
  constructor(message: string) {
    super(/\n {2}at \S+:\d+:\d+$/.test(message) ? message : withLocation(message));
  }
}
export class GradError extends LocatedError {}
export class EinsumError extends MyriadError {}
export class KeyError extends LocatedError {}
export class PytreeError extends LocatedError {}
export class ValueError extends MyriadError {}

// The library root: src/ when run from sources, dist/ when built. Frames inside it are ours.
const LIB_ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

function isLibraryFrame(file: string): boolean {
  let f = file;
  if (f.startsWith('file://')) {
    try { f = fileURLToPath(f); } catch { /* keep as is */ }
  }
  return f.startsWith(LIB_ROOT + path.sep) || f.startsWith('node:') || f.includes(`${path.sep}node_modules${path.sep}`);
}

/**
 * The first stack frame outside Myriad (and node internals), as `file:line:col`, or undefined.
 * Used to stamp each traced equation with the user's source line.
 */
export function userSourceLocation(): string | undefined {
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = saved;
  for (const line of stack.split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?[^()\s]+):(\d+):(\d+)\)?\s*$/.exec(line.trim());
    if (!m) continue;
    const file = m[1];
    if (isLibraryFrame(file)) continue;
    let shown = file.startsWith('file://') ? fileURLToPath(file) : file;
    const rel = path.relative(process.cwd(), shown);
    if (!rel.startsWith('..')) shown = rel;
    return `${shown}:${m[2]}:${m[3]}`;
  }
  return undefined;
}

/** Appends the user's source line (if known) to a message. */
export function withLocation(message: string, loc: string | undefined = userSourceLocation()): string {
  return loc ? `${message}\n  at ${loc}` : message;
}
