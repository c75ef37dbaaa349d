/**
 * What the Mesh (main thread) and its device workers share: the messages they exchange, the
 * layout of the shared control block, the barrier every collective synchronizes on, and the
 * shared-memory execution of collectives.
 *
 * Control block (Int32Array over a SharedArrayBuffer, one per mesh): ABORT (set by a failing
 * device or by the main thread when a worker dies; every waiting device gives up at once),
 * COUNT and GEN (a generation-counting barrier over all N devices), FAILED (1 + the first
 * failing device). Waits use `Atomics.wait` in short slices, re-checking ABORT, and give up
 * after the collective timeout, so no device can wait forever.
 *
 * Collective data (one SharedArrayBuffer per compiled program): per device two slots of
 * `slotBytes` (the largest collective input of the program): IN and OUT. A collective is: write
 * my input to IN[me]; barrier; compute my output from the IN slots of my group (in group-rank
 * order, with the kernels of src/distributed/spmd/collectives.ts); barrier (so IN slots may be
 * reused). all_reduce instead reduces only its own chunk of the elements into OUT[me], passes the
 * barrier, and copies every member's chunk from their OUT slots; those slots are not written
 * again before the next collective's first barrier, which every device reaches only after it
 * has finished copying. Every element is reduced in the same fixed order as in
 * evalSpmdReference, so results are bit-identical to it and from run to run.
 */

import type { AbstractValue } from '../core/ir.js';
import { allocate, dtypeOfTypedArray, type DType, type TypedArray } from '../core/dtype.js';
import type { CollectiveGroup } from '../core/primitives.js';
import type { LoweredModel } from '../backends/onnx/lower.js';
import type { EpiloguePlan } from '../backends/fusion.js';
import { chunkRange, collectiveResult, reduceRange } from '../distributed/spmd/collectives.js';
import type { CollectiveStep } from '../distributed/spmd/split.js';
import { sizeOf } from '../core/shape.js';

/** Indices into the control block. */
export const CTRL_ABORT = 0;
export const CTRL_COUNT = 1;
export const CTRL_GEN = 2;
export const CTRL_FAILED = 3;
export const CTRL_INTS = 8;

/** Bytes per element of each computable dtype. */
export const DTYPE_BYTES: Partial<Record<DType, number>> = { float32: 4, float64: 8, int32: 4, uint32: 4, bool: 1 };

/** What each worker is started with. */
export interface WorkerInit {
  device: number;
  mesh: { axisNames: string[]; shape: number[] };
  control: SharedArrayBuffer;
  /** How long one Atomics.wait slice lasts before ABORT is checked again (ms). */
  sliceMs: number;
  /** How long a device waits at a collective for the others before failing the step (ms). */
  collectiveTimeoutMs: number;
}

/** One segment as sent to the workers. */
export interface WireSegment {
  /**
   * The ONNX model of the segment (of its head when `epilogue` is set), or null when it has no
   * equations.
   */
  model: LoweredModel | null;
  /** Ids of the values the segment reads, in the order of its Graph's inputs. */
  inputIds: number[];
  /** Ids of the values it defines, in the order of its Graph's outputs. */
  outputIds: number[];
  /**
   * Host epilogue fusion (src/backends/fusion.ts): the segment's elementwise tail, run as
   * WebAssembly kernels after `model`; input indices in the plan index `inputIds`, output
   * positions index `outputIds`. Null when the whole segment is `model`.
   */
  epilogue: EpiloguePlan | null;
  collective: CollectiveStep | null;
  release: number[];
}

/** A compiled per-device program as sent to the workers (plain, structured-cloneable data). */
export interface WireProgram {
  id: number;
  avals: AbstractValue[];
  inputIds: number[];
  outputIds: number[];
  constants: { id: number; data: TypedArray }[];
  axisIndex: { id: number; params: CollectiveGroup }[];
  segments: WireSegment[];
  /** Shared collective buffers: 2 slots (IN, OUT) of `slotBytes` per device. */
  data: SharedArrayBuffer;
  slotBytes: number;
}

/**
 * Test hook (not for production use): make device `device` fail at the start of segment
 * `segment` (default 0, counted from 0) — or, with `phase: 'epilogue'`, after that segment's
 * ONNX head ran and before its host epilogue kernels (no failure when the segment has no
 * epilogue) — by throwing inside the step ('throw'), exiting its worker thread with
 * `process.exit(7)` ('exit'), throwing an error that escapes the worker's handlers so the thread
 * dies with an uncaught exception ('uncaught'), or blocking for `hangMs` (default 1000) to
 * exercise the collective timeout ('hang').
 */
export interface TestFault {
  device: number;
  kind: 'throw' | 'exit' | 'uncaught' | 'hang';
  segment?: number;
  phase?: 'start' | 'epilogue';
  hangMs?: number;
}

/**
 * Where one device's step time went (ms; absolute times are `performance.timeOrigin +
 * performance.now()`, comparable across threads).
 */
export interface WorkerTiming {
  /** When the worker started the step (after receiving and deserializing its arguments). */
  start: number;
  /** When it finished (before posting its outputs). */
  end: number;
  /**
   * Time inside ONNX Runtime segments (including wrapping inputs/outputs, not copying shared
   * arguments to private memory) plus host epilogue kernels (`kernelMs`).
   */
  computeMs: number;
  /** The part of `computeMs` spent in host epilogue kernels. */
  kernelMs: number;
  /** Number of host epilogue kernels run in the step. */
  kernels: number;
  /** Time in collectives, including waiting at their barriers for the other devices. */
  collectiveMs: number;
}

/** An error as sent from a worker. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  /** Where in the program it happened (segment / collective). */
  where: string;
}

export type ToWorker =
  | { type: 'load'; program: WireProgram }
  | { type: 'unload'; id: number }
  | { type: 'run'; step: number; programId: number; args: TypedArray[]; fault?: TestFault }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'loaded'; id: number }
  | { type: 'loadFailed'; id: number; error: WireError }
  | { type: 'done'; step: number; outputs: TypedArray[]; timing: WorkerTiming }
  | { type: 'failed'; step: number; error: WireError; aborted: boolean }
  | { type: 'closed' };

/** Thrown inside a worker when another device (or the main thread) aborted the step. */
export class StepAborted extends Error {
  constructor() {
    super('the step was aborted because another device failed');
    this.name = 'StepAborted';
  }
}

/** Thrown inside a worker when the other devices did not reach a collective in time. */
export class CollectiveTimeout extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CollectiveTimeout';
  }
}

/** Marks the step as failed (first failure wins) and wakes every waiting device. */
export function abortStep(ctrl: Int32Array, device: number): void {
  Atomics.compareExchange(ctrl, CTRL_FAILED, 0, device + 1);
  Atomics.store(ctrl, CTRL_ABORT, 1);
  Atomics.notify(ctrl, CTRL_GEN);
}

/**
 * Waits until all `n` devices have arrived. Throws StepAborted when the step is aborted and
 * CollectiveTimeout after `timeoutMs`.
 */
export function barrier(ctrl: Int32Array, n: number, sliceMs: number, timeoutMs: number, what: string): void {
  if (Atomics.load(ctrl, CTRL_ABORT)) throw new StepAborted();
  const gen = Atomics.load(ctrl, CTRL_GEN);
  if (Atomics.add(ctrl, CTRL_COUNT, 1) === n - 1) {
    Atomics.store(ctrl, CTRL_COUNT, 0);
    Atomics.add(ctrl, CTRL_GEN, 1);
    Atomics.notify(ctrl, CTRL_GEN);
    return;
  }
  const t0 = Date.now();
  while (Atomics.load(ctrl, CTRL_GEN) === gen) {
    if (Atomics.load(ctrl, CTRL_ABORT)) throw new StepAborted();
    if (Date.now() - t0 > timeoutMs) {
      throw new CollectiveTimeout(`${what}: waited ${timeoutMs} ms for the other devices to reach it; a device is stuck or far slower (raise collectiveTimeoutMs in the Mesh options if steps are legitimately long)`);
    }
    Atomics.wait(ctrl, CTRL_GEN, gen, sliceMs);
  }
}

/**
 * `t`, or a copy of it when it is a view into a larger buffer (structured cloning copies a
 * view's whole underlying buffer, so views are compacted before they are posted).
 */
export function compact(t: TypedArray): TypedArray {
  return t.byteOffset === 0 && t.byteLength === t.buffer.byteLength ? t : t.slice();
}

/**
 * `t` in shared memory: itself when it already is a whole SharedArrayBuffer, else a copy into a
 * new one. Posting a shared array to another thread shares its memory instead of copying it,
 * which is how step arguments and results move between the main thread and the devices.
 */
export function toShared(t: TypedArray): TypedArray {
  if (t.buffer instanceof SharedArrayBuffer && t.byteOffset === 0 && t.byteLength === t.buffer.byteLength) return t;
  return sharedCopy(t);
}

/** A copy of `t` in a new SharedArrayBuffer (always a copy, also when `t` is shared already). */
export function sharedCopy(t: TypedArray): TypedArray {
  const out = sharedView(dtypeOfTypedArray(t), new SharedArrayBuffer(Math.max(t.byteLength, 1)), 0, t.length);
  out.set(t as never);
  return out;
}

/** A zero-filled typed array of `len` elements of `dtype` in a new SharedArrayBuffer. */
export function allocateShared(dtype: DType, len: number): TypedArray {
  const bytes = DTYPE_BYTES[dtype];
  if (bytes === undefined) return allocate(dtype, len);
  return sharedView(dtype, new SharedArrayBuffer(Math.max(len * bytes, 1)), 0, len);
}

/** A typed view of `len` elements of `dtype` at `byteOffset` of `sab`. */
export function sharedView(dtype: DType, sab: SharedArrayBuffer, byteOffset: number, len: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(sab, byteOffset, len);
    case 'float64': return new Float64Array(sab, byteOffset, len);
    case 'int32': return new Int32Array(sab, byteOffset, len);
    case 'uint32': return new Uint32Array(sab, byteOffset, len);
    case 'bool': return new Uint8Array(sab, byteOffset, len);
    default: throw new Error(`internal: dtype ${dtype} cannot be shared`);
  }
}

/** The shared-memory side of one device running one collective. */
export interface CollectiveContext {
  ctrl: Int32Array;
  n: number;
  device: number;
  members: number[];
  rank: number;
  data: SharedArrayBuffer;
  slotBytes: number;
  sliceMs: number;
  timeoutMs: number;
  what: string;
}

/** Runs one data-moving collective on this device through shared memory; returns its output. */
export function runSharedCollective(cx: CollectiveContext, step: CollectiveStep, inAval: AbstractValue, outAval: AbstractValue, x: TypedArray): TypedArray {
  const { members, rank, data, slotBytes, device } = cx;
  const len = sizeOf(inAval.shape);
  const dtype = inAval.dtype;
  const slot = (dev: number, which: 0 | 1) => sharedView(dtype, data, (dev * 2 + which) * slotBytes, len);
  slot(device, 0).set(x);
  barrier(cx.ctrl, cx.n, cx.sliceMs, cx.timeoutMs, cx.what);
  const inputs = members.map((m) => slot(m, 0));
  if (step.prim === 'all_reduce') {
    const k = members.length;
    const [lo, hi] = chunkRange(len, k, rank);
    reduceRange((step.params as { op: 'sum' | 'max' | 'min' }).op, inputs, lo, slot(device, 1), lo, hi - lo);
    barrier(cx.ctrl, cx.n, cx.sliceMs, cx.timeoutMs, cx.what);
    const out = allocate(dtype, len);
    for (let c = 0; c < k; c++) {
      const [l, h] = chunkRange(len, k, c);
      if (h > l) out.set(slot(members[c], 1).subarray(l, h), l);
    }
    return out;
  }
  const out = collectiveResult(step.prim, step.params as never, dtype, inAval.shape, outAval.shape, inputs, rank);
  barrier(cx.ctrl, cx.n, cx.sliceMs, cx.timeoutMs, cx.what);
  return out;
}
