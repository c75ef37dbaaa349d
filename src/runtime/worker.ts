/**
 * The device worker: one worker thread per mesh device. It owns one ONNX Runtime session per
 * segment of every program loaded on the mesh (synchronous sessions, one intra-op thread), runs
 * a step by executing the segments in order and the collectives between them through shared
 * memory (see protocol.ts), and reports its outputs or its error to the main thread. A failure
 * here sets the shared ABORT flag so the other devices stop waiting at once.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { Array } from '../core/array.js';
import type { TypedArray } from '../core/dtype.js';
import { fmtAval } from '../core/ir.js';
import { OnnxExecutable } from '../backends/onnx/session.js';
import { groupOf, meshSize } from '../distributed/spmd/groups.js';
import {
  StepAborted, abortStep, runSharedCollective, toShared,
  type FromWorker, type TestFault, type ToWorker, type WireError, type WireProgram, type WorkerInit,
} from './protocol.js';

interface Loaded {
  wire: WireProgram;
  exes: (OnnxExecutable | null)[];
  /** Group of this device for each segment's collective. */
  groups: ({ members: number[]; rank: number } | null)[];
  /** This device's rank for each axis_index value. */
  axisIndex: { id: number; data: Int32Array }[];
}

const init = workerData as WorkerInit;
const port = parentPort!;
const ctrl = new Int32Array(init.control);
const n = meshSize(init.mesh);
const programs = new Map<number, Loaded>();

/** Absolute high-resolution time (ms), comparable across threads. */
const now = () => performance.timeOrigin + performance.now();

function post(msg: FromWorker): void {
  port.postMessage(msg);
}

function wireError(e: unknown, where: string): WireError {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack, where };
  return { name: 'Error', message: String(e), where };
}

function load(wire: WireProgram): void {
  const exes: (OnnxExecutable | null)[] = [];
  try {
    for (const seg of wire.segments) exes.push(seg.model ? OnnxExecutable.fromLoweredSync(seg.model, { intraOpNumThreads: 1 }) : null);
  } catch (e) {
    exes.forEach((x) => x?.close());
    post({ type: 'loadFailed', id: wire.id, error: wireError(e, `loading program ${wire.id}`) });
    return;
  }
  const groups = wire.segments.map((s) => (s.collective ? groupOf(init.mesh, s.collective.params.axes, init.device) : null));
  const axisIndex = wire.axisIndex.map((a) => ({ id: a.id, data: Int32Array.of(groupOf(init.mesh, a.params.axes, init.device).rank) }));
  programs.set(wire.id, { wire, exes, groups, axisIndex });
  post({ type: 'loaded', id: wire.id });
}

function unload(id: number): void {
  const p = programs.get(id);
  if (!p) return;
  p.exes.forEach((x) => x?.close());
  programs.delete(id);
}

function describeSegment(w: WireProgram, s: number): string {
  const c = w.segments[s].collective;
  return `segment ${s + 1} of ${w.segments.length}${c ? ` (before ${c.prim}${c.source ? ` made at ${c.source}` : ''})` : ''}`;
}

/** Escapes the step's error handling, to exercise the worker 'error' path (test hook). */
class InjectedUncaught extends Error {}

function injectFault(f: TestFault, s: number): void {
  if (f.device !== init.device || (f.segment ?? 0) !== s) return;
  if (f.kind === 'exit') process.exit(7);
  if (f.kind === 'uncaught') throw new InjectedUncaught(`injected uncaught error on device ${init.device} in segment ${s + 1} (test hook)`);
  if (f.kind === 'hang') {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, f.hangMs ?? 1000);
    return;
  }
  throw new Error(`injected failure on device ${init.device} in segment ${s + 1} (test hook)`);
}

function run(step: number, programId: number, args: TypedArray[], fault: TestFault | undefined): void {
  const prog = programs.get(programId);
  if (!prog) {
    post({ type: 'failed', step, error: { name: 'MeshError', message: `program ${programId} is not loaded on device ${init.device}`, where: 'start of step' }, aborted: false });
    abortStep(ctrl, init.device);
    return;
  }
  const w = prog.wire;
  const start = now();
  let computeMs = 0;
  let collectiveMs = 0;
  const env = new Map<number, TypedArray>();
  for (const c of w.constants) env.set(c.id, c.data);
  for (const a of prog.axisIndex) env.set(a.id, a.data);
  // arguments arrive in shared memory (see toShared); ONNX Runtime needs private buffers, so each
  // is copied once here rather than at every segment that reads it
  w.inputIds.forEach((id, i) => env.set(id, args[i].buffer instanceof SharedArrayBuffer ? args[i].slice() : args[i]));
  let where = 'start of step';
  try {
    w.segments.forEach((seg, s) => {
      where = describeSegment(w, s);
      if (fault) injectFault(fault, s);
      const exe = prog.exes[s];
      if (exe) {
        const t0 = performance.now();
        const ins = seg.inputIds.map((id) => Array.fromData(env.get(id)!, w.avals[id].shape, w.avals[id].dtype));
        const outs = exe.runSync(ins);
        seg.outputIds.forEach((id, i) => env.set(id, outs[i].concrete()));
        computeMs += performance.now() - t0;
      }
      const c = seg.collective;
      if (c) {
        const inAval = w.avals[c.inputId];
        where = `${c.prim} on ${fmtAval(inAval)} after segment ${s + 1}${c.source ? ` (made at ${c.source})` : ''}`;
        const g = prog.groups[s]!;
        const t0 = performance.now();
        const out = runSharedCollective(
          { ctrl, n, device: init.device, members: g.members, rank: g.rank, data: w.data, slotBytes: w.slotBytes, sliceMs: init.sliceMs, timeoutMs: init.collectiveTimeoutMs, what: `device ${init.device}: ${where}` },
          c, inAval, w.avals[c.outputId], env.get(c.inputId)!,
        );
        env.set(c.outputId, out);
        collectiveMs += performance.now() - t0;
      }
      for (const id of seg.release) env.delete(id);
    });
  } catch (e) {
    if (e instanceof InjectedUncaught) throw e;
    const aborted = e instanceof StepAborted;
    if (!aborted) abortStep(ctrl, init.device);
    post({ type: 'failed', step, error: wireError(e, where), aborted });
    return;
  }
  const outputs = w.outputIds.map((id) => toShared(env.get(id)!));
  post({ type: 'done', step, outputs, timing: { start, end: now(), computeMs, collectiveMs } });
}

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'load': load(msg.program); break;
    case 'unload': unload(msg.id); break;
    case 'run': run(msg.step, msg.programId, msg.args, msg.fault); break;
    case 'close':
      for (const id of [...programs.keys()]) unload(id);
      post({ type: 'closed' });
      port.close();
      break;
  }
});

post({ type: 'ready' });
