/**
 * ONNX export: `exportOnnx(fn, ...exampleArgs)` traces `fn` on example arguments (arrays,
 * numbers, booleans or ShapeDtypeStructs, in pytrees) with `makeGraph`, lowers the Graph and
 * returns a standalone serialized ModelProto that any ONNX runtime can load without Myriad.
 * Inputs are named after their pytree paths (`params.w`, `x`, `args_1_0`, …) and outputs
 * likewise. `exportOnnxToFile` writes the bytes atomically (temporary file, fsync, rename).
 */

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import type { Graph } from '../../core/ir.js';
import type { TreeDef } from '../../core/pytree.js';
import { makeGraph } from '../../core/trace.js';
import { OnnxError } from './builder.js';
import { lowerGraph, type LoweredModel } from './lower.js';

/** Options of `exportOnnxWith`. */
export interface ExportOptions {
  /** Names of the positional arguments (default arg0, arg1, …), used as input name prefixes. */
  argNames?: string[];
  /** Model doc string (default: the traced Graph, printed). */
  docString?: string;
}

/** Leaf paths of a pytree structure, joined with '.', e.g. `params.layers.0.w`. */
function leafPaths(def: TreeDef, prefix: string, out: string[]): void {
  switch (def.kind) {
    case 'leaf': out.push(prefix); return;
    case 'none': return;
    case 'array': def.children.forEach((c, i) => leafPaths(c, `${prefix}.${i}`, out)); return;
    case 'object': def.children.forEach((c, i) => leafPaths(c, `${prefix}.${def.keys[i]}`, out)); return;
  }
}

function sanitize(names: string[]): string[] {
  const seen = new Set<string>();
  return names.map((n) => {
    let s = n.replace(/[^A-Za-z0-9_.]/g, '_');
    while (seen.has(s)) s += '_';
    seen.add(s);
    return s;
  });
}

function inputNamesOf(graph: Graph, argNames: string[] | undefined): string[] {
  const def = graph.inTree;
  if (!def || def.kind !== 'array') return graph.inputs.map((_, i) => `input_${i}`);
  const names: string[] = [];
  def.children.forEach((c, i) => leafPaths(c, argNames?.[i] ?? `arg${i}`, names));
  return sanitize(names);
}

function outputNamesOf(graph: Graph): string[] {
  const def = graph.outTree;
  if (!def) return graph.outputs.map((_, i) => `output_${i}`);
  const names: string[] = [];
  leafPaths(def, 'output', names);
  return sanitize(names);
}

/** Traces and lowers `fn` on example arguments; returns the lowered model with its names. */
export function exportOnnxWith(fn: (...args: any[]) => unknown, exampleArgs: unknown[], opts: ExportOptions = {}): LoweredModel {
  const graph = makeGraph(fn)(...exampleArgs);
  const inputNames = inputNamesOf(graph, opts.argNames);
  let outputNames = outputNamesOf(graph);
  if (outputNames.some((n) => inputNames.includes(n))) outputNames = outputNames.map((n) => `out_${n}`);
  return lowerGraph(graph, {
    graphName: fn.name || 'myriad',
    inputNames,
    outputNames,
    docString: opts.docString ?? `Exported by Myriad from:\n${graph.toString()}`,
  });
}

/**
 * `exportOnnx(fn, ...exampleArgs)`: a standalone ONNX model (serialized ModelProto, opset 18)
 * computing `fn` for arguments shaped like the examples.
 */
export function exportOnnx(fn: (...args: any[]) => unknown, ...exampleArgs: unknown[]): Uint8Array {
  return exportOnnxWith(fn, exampleArgs).model;
}

/** Writes `bytes` to `file` atomically: a temporary file in the same folder, fsync, rename. */
export function writeFileAtomic(file: string, bytes: Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w', 0o644);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw new OnnxError(`could not write ${file}: ${(e as Error).message}`);
  }
  try {
    const dfd = openSync(dir, 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch {
    // some file systems cannot fsync a directory; the rename itself is atomic
  }
}

/** `exportOnnx` written to `file` (atomically); returns the number of bytes written. */
export function exportOnnxToFile(file: string, fn: (...args: any[]) => unknown, ...exampleArgs: unknown[]): number {
  const bytes = exportOnnx(fn, ...exampleArgs);
  writeFileAtomic(file, bytes);
  return bytes.length;
}
