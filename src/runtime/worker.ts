/**
 * The device worker: one worker thread per mesh device. It owns one ONNX Runtime session per
 * segment of every program loaded on the mesh (synchronous sessions, one intra-op thread), runs
 * a step by executing the segments in order and the collectives between them through shared
 * memory (see protocol.ts), and reports its outputs or its error to the main thread. A failure
 * here sets the shared ABORT flag so the other devices stop waiting at once.
 *
 * A segment with a host epilogue (the last one, where optimizer updates live; see
 * src/backends/fusion.ts) runs its ONNX head, then its WebAssembly kernels through `runLoops`.
 * Buffers: step arguments arrive in shared memory, which ONNX Runtime refuses, so an argument is
 * copied to private memory the first time an ONNX model reads it — kernels read shared memory
 * directly, so values only the kernels read (optimizer moments) are never copied. A kernel
 * output that is a program output (every output of the last segment is) is written straight
 * into a new SharedArrayBuffer, which is posted back as is. Measured (AdamW + clip over 3.1M
 * replicated params on data=2): 80 ms a step this way, 142 ms writing in place into the private
 * copies and then copying the results to shared memory, 242 ms unfused. Arguments, constants
 * and axis_index values are never written.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { Array } from '../core/array.js';
import { allocate, type TypedArray } from '../core/dtype.js';
import { fmtAval } from '../core/ir.js';
import { sizeOf } from '../core/shape.js';
import { OnnxExecutable } from '../backends/onnx/session.js';
import { compileLoop, constData, headlessData, runLoops, type LoopKernel } from '../backends/fusion.js';
import { groupOf, meshSize } from '../distributed/spmd/groups.js';
import {
  StepAborted, abortStep, allocateShared, runSharedCollective, sharedCopy, toShared,
  type FromWorker, type TestFault, type ToWorker, type WireError, type WireProgram, type WireSegment, type WorkerInit,
} from './protocol.js';

interface Loaded {
  wire: WireProgram;
  exes: (OnnxExecutable | null)[];
  /** Compiled host epilogue kernels of each segment (null: no epilogue). */
  kernels: (LoopKernel[] | null)[];
  /** Ids of the program outputs. */
  outputs: Set<number>;
  /** Ids of values that live across steps (constants, axis_index values): never overwritten. */
  persistent: Set<number>;
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
  const kernels: (LoopKernel[] | null)[] = [];
  try {
    for (const seg of wire.segments) {
      exes.push(seg.model ? OnnxExecutable.fromLoweredSync(seg.model, { intraOpNumThreads: 1 }) : null);
      kernels.push(seg.epilogue ? seg.epilogue.loops.map(compileLoop) : null);
    }
  } catch (e) {
    exes.forEach((x) => x?.close());
    post({ type: 'loadFailed', id: wire.id, error: wireError(e, `loading program ${wire.id}`) });
    return;
  }
  const groups = wire.segments.map((s) => (s.collective ? groupOf(init.mesh, s.collective.params.axes, init.device) : null));
  const axisIndex = wire.axisIndex.map((a) => ({ id: a.id, data: Int32Array.of(groupOf(init.mesh, a.params.axes, init.device).rank) }));
  const persistent = new Set([...wire.constants.map((c) => c.id), ...wire.axisIndex.map((a) => a.id)]);
  programs.set(wire.id, { wire, exes, kernels, outputs: new Set(wire.outputIds), persistent, groups, axisIndex });
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

function injectFault(f: TestFault, s: number, phase: 'start' | 'epilogue'): void {
  if (f.device !== init.device || (f.segment ?? 0) !== s || (f.phase ?? 'start') !== phase) return;
  if (f.kind === 'exit') process.exit(7);
  if (f.kind === 'uncaught') throw new InjectedUncaught(`injected uncaught error on device ${init.device} in segment ${s + 1} (test hook)`);
  if (f.kind === 'hang') {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, f.hangMs ?? 1000);
    return;
  }
  throw new Error(`injected failure on device ${init.device} in segment ${s + 1}${phase === 'epilogue' ? ' before its epilogue kernels' : ''} (test hook)`);
}

/**
 * Runs a segment's head (its ONNX model, or nothing when the head has no equations) and then its
 * epilogue kernels; defines the segment's outputs in `env`. Returns the kernels' time (ms).
 */
function runEpilogueSegment(prog: Loaded, seg: WireSegment, s: number, exe: OnnxExecutable | null, env: Map<number, TypedArray>, fault: TestFault | undefined, priv: (id: number) => Array, atKernels: () => void): number {
  const plan = seg.epilogue!;
  const head = exe ? exe.runSync(plan.headInputs.map((i) => priv(seg.inputIds[i]))).map((o) => o.concrete()) : headlessData(plan, (i) => env.get(seg.inputIds[i])!);
  atKernels();
  if (fault) injectFault(fault, s, 'epilogue');
  const t0 = performance.now();
  const temps = new Set(plan.headTemps);
  const outs = runLoops(plan.loops, prog.kernels[s]!, {
    read: (src) => (src.kind === 'input' ? env.get(seg.inputIds[src.index])! : src.kind === 'const' ? constData(plan, src.index) : head[src.index]),
    // program outputs go straight to shared memory (`destination`); any other output (there is
    // none while only the last segment is fused) may overwrite a head temporary, private to this step
    overwritable: (src) => src.kind === 'head' && temps.has(src.index),
    destination: (pos, aval) => (prog.outputs.has(seg.outputIds[pos]) ? allocateShared(aval.dtype, sizeOf(aval.shape)) : undefined),
    spare: (aval) => allocate(aval.dtype, sizeOf(aval.shape)),
  });
  seg.outputIds.forEach((id, pos) => {
    const r = plan.routes[pos];
    env.set(id, r.from === 'head' ? head[r.index] : outs[r.loop][r.write]);
  });
  return performance.now() - t0;
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
  let kernelMs = 0;
  let kernels = 0;
  let collectiveMs = 0;
  const env = new Map<number, TypedArray>();
  for (const c of w.constants) env.set(c.id, c.data);
  for (const a of prog.axisIndex) env.set(a.id, a.data);
  // arguments arrive in shared memory (see toShared); ONNX Runtime needs private buffers, so an
  // argument is copied once, when a model first reads it (kernels and collectives read shared memory)
  const sharedArgs = new Set<TypedArray>();
  w.inputIds.forEach((id, i) => {
    env.set(id, args[i]);
    if (args[i].buffer instanceof SharedArrayBuffer) sharedArgs.add(args[i]);
  });
  let copyMs = 0; // copying arguments happens inside the compute timers but is not compute
  const priv = (id: number): Array => {
    let v = env.get(id)!;
    if (v.buffer instanceof SharedArrayBuffer) {
      const t0 = performance.now();
      env.set(id, (v = v.slice()));
      copyMs += performance.now() - t0;
    }
    return Array.fromData(v, w.avals[id].shape, w.avals[id].dtype);
  };
  let where = 'start of step';
  try {
    w.segments.forEach((seg, s) => {
      where = describeSegment(w, s);
      if (fault) injectFault(fault, s, 'start');
      const exe = prog.exes[s];
      if (seg.epilogue) {
        const t0 = performance.now();
        kernelMs += runEpilogueSegment(prog, seg, s, exe, env, fault, priv, () => (where = `the host epilogue kernels of ${describeSegment(w, s)}`));
        kernels += seg.epilogue.loops.length;
        computeMs += performance.now() - t0;
      } else if (exe) {
        const t0 = performance.now();
        const outs = exe.runSync(seg.inputIds.map(priv));
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
  // every output gets its own buffer in shared memory: kernel outputs already are; a shared
  // argument returned as is, or a buffer already posted for another output, is copied
  const posted = new Set<TypedArray>();
  const outputs = w.outputIds.map((id) => {
    const b = env.get(id)!;
    const o = posted.has(b) || sharedArgs.has(b) ? sharedCopy(b) : toShared(b);
    posted.add(o);
    return o;
  });
  post({ type: 'done', step, outputs, timing: { start, end: now(), computeMs: computeMs - copyMs, kernelMs, kernels, collectiveMs } });
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
