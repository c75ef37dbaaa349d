/**
 * The local multi-device runtime: a `Mesh` of N devices, each a worker thread that owns its ONNX
 * Runtime sessions (one intra-op thread each; more devices than cores is allowed — virtual
 * devices run correctly, just slower). `mesh.compile(perDeviceGraph)` schedules and combines the
 * program's collectives (`scheduleCollectives`), splits it at them (`splitAtCollectives`), lowers
 * every segment to ONNX once on the main thread and sends the models to all workers, which
 * create their sessions; the returned `CompiledProgram` runs steps: `await
 * program.run(perDeviceArgs)` → per-device outputs. The workers execute the collectives
 * themselves through SharedArrayBuffer with a fixed reduction order (see protocol.ts), so
 * results are bit-identical run to run and equal to `evalSpmdReference`. Step arguments and
 * results travel as shared memory (no copies through the main thread), and
 * `mesh.lastStepProfile` tells where the last step's time went. Host epilogue fusion (on unless
 * `hostFusion: false` or MYRIAD_HOST_FUSION=0): the elementwise tail of the last segment — the
 * optimizer update — is split off on the main thread (`splitEpilogue`) and runs on every device
 * as WebAssembly SIMD kernels after the segment's ONNX head, writing the new values straight
 * into shared memory (bit-identical to ONNX Runtime).
 *
 * Failures: an exception on one device (or a collective timing out) sets a shared abort flag
 * that releases every device waiting at a collective, and the step's promise rejects at once
 * with a `DeviceError` carrying that device's error. A worker that dies (uncaught error,
 * `process.exit`) is noticed by its 'exit' event: the step rejects the same way and the worker
 * is replaced (its programs reloaded) before the next step, so the mesh stays usable. Workers
 * that do not report within `recoveryGraceMs` after a failed step are terminated and replaced.
 * `close()` ends the workers (also after failures). Idle workers do not keep the process alive.
 */

import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Array } from '../core/array.js';
import { allocate, castScalar, type TypedArray } from '../core/dtype.js';
import { MyriadError } from '../core/errors.js';
import { fmtAval, type AbstractValue, type Graph } from '../core/ir.js';
import { lowerGraph, type LoweredModel } from '../backends/onnx/lower.js';
import { epiloguePlan, hostFusionEnabled, splitEpilogue, type Epilogue, type EpiloguePlan } from '../backends/fusion.js';
import { checkArgs } from '../distributed/spmd/interpreter.js';
import { checkGroupOnMesh } from '../distributed/spmd/groups.js';
import { splitAtCollectives, type SplitProgram } from '../distributed/spmd/split.js';
import { scheduleCollectives } from '../distributed/spmd/combine.js';
import { checkMeshShape, makeMeshShape, meshSize, type MeshShape } from '../distributed/sharding/index.js';
import { DeviceError, MeshError } from './errors.js';
import {
  CTRL_ABORT, CTRL_COUNT, CTRL_FAILED, CTRL_GEN, CTRL_INTS, DTYPE_BYTES, abortStep, compact,
  type FromWorker, type TestFault, type ToWorker, type WireError, type WireProgram, type WireSegment, type WorkerInit, type WorkerTiming,
} from './protocol.js';

/** Absolute high-resolution time (ms), comparable across threads. */
const now = () => performance.timeOrigin + performance.now();

/**
 * Where the time of the last successful step went, per device (ms): `sendMs` from posting the
 * step to the worker starting it (argument transfer and queueing), `computeMs` computing (inside
 * ONNX Runtime, plus host epilogue kernels), `kernelMs` the part of `computeMs` spent in host
 * epilogue kernels and `kernels` how many ran, `collectiveMs` in collectives (including waiting
 * for the other devices), `returnMs` from the worker posting its outputs to the main thread
 * receiving them; `wallMs` is the whole step as the main thread saw it (argument preparation
 * included).
 */
export interface StepProfile {
  wallMs: number;
  devices: { sendMs: number; computeMs: number; kernelMs: number; kernels: number; collectiveMs: number; returnMs: number }[];
}

/** Options of a Mesh. */
export interface MeshOptions {
  /**
   * How long a device waits at a collective for the others before failing the step (ms,
   * default 120000). Guards against a device stuck in native code; crashes and exceptions are
   * detected at once regardless.
   */
  collectiveTimeoutMs?: number;
  /** After a failed step, how long to wait for the other workers to stop before replacing them (ms, default 5000). */
  recoveryGraceMs?: number;
  /** Granularity of waits at collectives (ms, default 20): how often a waiting device re-checks the abort flag. */
  waitSliceMs?: number;
  /**
   * Reorder each compiled program so that collectives run at as few points as possible and
   * combine the all_reduces that run together (`scheduleCollectives`; default true). Results
   * are bit-identical either way; only the number of synchronization points changes.
   */
  combineCollectives?: boolean;
  /**
   * Host epilogue fusion for programs compiled on this mesh (src/backends/fusion.ts): the large
   * elementwise tail of a program's last segment (after its last collective: the optimizer
   * update) runs as WebAssembly SIMD kernels on the devices, bit-identical to ONNX Runtime.
   * Default: the environment variable MYRIAD_HOST_FUSION ('0' off; on otherwise); a compile's
   * own `hostFusion` option wins over this one.
   */
  hostFusion?: boolean;
}

/** Options of `Mesh.compile`. */
export interface ProgramOptions {
  /** Host epilogue fusion for this program (default: the mesh's `hostFusion`, then MYRIAD_HOST_FUSION). */
  hostFusion?: boolean;
}

/** Options of one step. */
export interface StepOptions {
  /** @internal Test hook: inject a failure on one device (see protocol.ts `TestFault`). */
  _testFault?: TestFault;
}

interface Slot {
  worker: Worker;
  alive: boolean;
  ready: Promise<void>;
  onReady: () => void;
  onReadyFail: (e: Error) => void;
  lastError?: Error;
}

interface PendingLoad {
  id: number;
  waiting: Set<number>;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface ActiveStep {
  id: number;
  begun: number;
  posted: number;
  timings: ((WorkerTiming & { received: number }) | null)[];
  outputs: (TypedArray[] | null)[];
  reported: boolean[];
  count: number;
  settled: boolean;
  resolve: (outs: TypedArray[][]) => void;
  reject: (e: Error) => void;
  idle: () => void;
  graceTimer?: NodeJS.Timeout;
}

/** How to start a worker: the compiled worker.js next to this file, or worker.ts through tsx. */
function workerEntry(): { target: string | URL; eval: boolean } {
  const js = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return { target: js, eval: false };
  const ts = new URL('./worker.ts', import.meta.url);
  if (existsSync(fileURLToPath(ts))) {
    let api: string;
    try {
      api = import.meta.resolve('tsx/esm/api');
    } catch {
      throw new MeshError(`the runtime is running from TypeScript sources (${fileURLToPath(ts)}) but 'tsx' cannot be resolved to start the device workers; build with tsc and use dist/, or install tsx`);
    }
    // the main thread's loader hooks do not reach workers: register tsx in the worker, then import it
    const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(ts.href)}); });`;
    return { target: code, eval: true };
  }
  throw new MeshError(`cannot find the device worker next to ${fileURLToPath(import.meta.url)} (worker.js or worker.ts); the package is incomplete`);
}

function remoteError(device: number, e: WireError): DeviceError {
  const msg = `device ${device} failed in ${e.where}: ${e.name}: ${e.message}`;
  return new DeviceError(msg, device, e.name, e.stack);
}

/** Waits for `p` (errors ignored) or `ms`, whichever comes first; the timer keeps the process alive. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<void>((r) => (timer = setTimeout(r, ms)));
  try {
    await Promise.race([p.then(() => undefined, () => undefined), t]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A mesh of local devices, one worker thread each, with named axes:
 * `new Mesh({ data: 2, model: 2 })` (4 devices, numbered row-major). Close it with `close()`.
 */
export class Mesh {
  /** The mesh axes as plain data (what shardings and collectives refer to). */
  readonly shape: MeshShape;
  /** Number of devices. */
  readonly size: number;
  private readonly control = new SharedArrayBuffer(CTRL_INTS * 4);
  private readonly ctrl = new Int32Array(this.control);
  private readonly opts: Required<Omit<MeshOptions, 'hostFusion'>> & { hostFusion?: boolean };
  private readonly slots: Slot[] = [];
  private readonly programs = new Map<number, WireProgram>();
  private readonly loads = new Set<PendingLoad>();
  private readonly compiledCache = new WeakMap<Graph, Promise<CompiledProgram>>();
  private step: ActiveStep | null = null;
  private queue: Promise<void> = Promise.resolve();
  private recovering: Promise<void> = Promise.resolve();
  private broken: Error | null = null;
  private busy = 0;
  private nextProgram = 1;
  private nextStep = 1;
  private closing: Promise<void> | null = null;
  private _lastProfile: StepProfile | null = null;

  /** `axes`: `{ data: 2, model: 2 }` (major → minor) or a MeshShape. */
  constructor(axes: Record<string, number> | MeshShape, opts: MeshOptions = {}) {
    const isShape = axes !== null && typeof axes === 'object' && globalThis.Array.isArray((axes as MeshShape).axisNames);
    this.shape = isShape ? checkMeshShape(axes as MeshShape, 'Mesh') : makeMeshShape(axes as Record<string, number>);
    this.size = meshSize(this.shape);
    this.opts = {
      collectiveTimeoutMs: positive(opts.collectiveTimeoutMs ?? 120_000, 'collectiveTimeoutMs'),
      recoveryGraceMs: positive(opts.recoveryGraceMs ?? 5_000, 'recoveryGraceMs'),
      waitSliceMs: positive(opts.waitSliceMs ?? 20, 'waitSliceMs'),
      combineCollectives: opts.combineCollectives ?? true,
      hostFusion: opts.hostFusion,
    };
    const entry = workerEntry();
    for (let d = 0; d < this.size; d++) this.slots.push(this.spawn(d, entry));
  }

  /** Mesh axis names (major → minor). */
  get axisNames(): string[] {
    return [...this.shape.axisNames];
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.closing !== null;
  }

  toString(): string {
    return `Mesh{${this.shape.axisNames.map((a, i) => `${a}=${this.shape.shape[i]}`).join(', ')}}`;
  }

  /** Where the time of the last successful step went (see {@link StepProfile}); null before the first. */
  get lastStepProfile(): StepProfile | null {
    return this._lastProfile;
  }

  /** Resolves once every device worker has started. */
  async ready(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.ready));
    await this.recovering;
  }

  // ---------------------------------------------------------------------------------------
  // workers

  private spawn(d: number, entry = workerEntry()): Slot {
    const init: WorkerInit = {
      device: d,
      mesh: { axisNames: [...this.shape.axisNames], shape: [...this.shape.shape] },
      control: this.control,
      sliceMs: this.opts.waitSliceMs,
      collectiveTimeoutMs: this.opts.collectiveTimeoutMs,
    };
    const worker = new Worker(entry.target, { eval: entry.eval, workerData: init, name: `myriad-device-${d}` });
    let onReady!: () => void;
    let onReadyFail!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      onReady = res;
      onReadyFail = rej;
    });
    ready.catch(() => undefined);
    const slot: Slot = { worker, alive: true, ready, onReady, onReadyFail };
    worker.on('message', (m: FromWorker) => this.onMessage(d, slot, m));
    worker.on('error', (e: Error) => {
      slot.lastError = e;
    });
    worker.on('exit', (code: number) => this.onExit(d, slot, code));
    // a starting worker keeps the process alive until it is ready (then only while busy)
    this.setBusy(1);
    ready.then(() => this.setBusy(-1), () => this.setBusy(-1));
    return slot;
  }

  private setBusy(delta: number): void {
    const was = this.busy;
    this.busy += delta;
    if (was === 0 && this.busy > 0) this.slots.forEach((s) => s.worker.ref());
    if (was > 0 && this.busy === 0) this.slots.forEach((s) => s.worker.unref());
  }

  private post(d: number, msg: ToWorker): void {
    const s = this.slots[d];
    if (s.alive) s.worker.postMessage(msg);
  }

  private onMessage(d: number, slot: Slot, m: FromWorker): void {
    if (this.slots[d] !== slot) return; // a replaced worker
    switch (m.type) {
      case 'ready':
        slot.onReady();
        break;
      case 'loaded':
      case 'loadFailed':
        for (const l of [...this.loads]) {
          if (l.id !== m.id || !l.waiting.has(d)) continue;
          if (m.type === 'loadFailed') {
            this.loads.delete(l);
            l.reject(new MeshError(`device ${d} could not load the compiled program: ${m.error.name}: ${m.error.message}`));
          } else {
            l.waiting.delete(d);
            if (l.waiting.size === 0) {
              this.loads.delete(l);
              l.resolve();
            }
          }
        }
        break;
      case 'done':
      case 'failed':
        if (this.step && this.step.id === m.step) {
          if (m.type === 'done') this.step.timings[d] = { ...m.timing, received: now() };
          this.report(d, m.type === 'done' ? { outputs: m.outputs } : { error: m.error, aborted: m.aborted });
        }
        break;
      case 'closed':
        break;
    }
  }

  private onExit(d: number, slot: Slot, code: number): void {
    slot.alive = false;
    if (this.slots[d] !== slot) return;
    const why = slot.lastError ? `${slot.lastError.name}: ${slot.lastError.message}` : `exit code ${code}`;
    slot.onReadyFail(new MeshError(`device ${d}'s worker stopped before it was ready (${why})`));
    if (this.closing) return;
    // release every device waiting at a collective
    abortStep(this.ctrl, d);
    const err = new DeviceError(`device ${d}'s worker died (${why}); the step was aborted and the worker is being replaced`, d, slot.lastError?.name ?? 'WorkerExit', slot.lastError?.stack);
    for (const l of [...this.loads]) {
      if (l.waiting.has(d)) {
        this.loads.delete(l);
        l.reject(new MeshError(`device ${d}'s worker died while loading a program (${why})`));
      }
    }
    // replace the worker before the next step (steps and compiles wait on `recovering`)
    this.recovering = this.recovering.then(() => this.respawn(d)).catch((e: unknown) => {
      this.broken = new MeshError(`device ${d}'s worker could not be replaced after it died (${why}): ${(e as Error).message}; close this mesh and make a new one`);
    });
    if (this.step && !this.step.reported[d]) this.report(d, { died: err });
  }

  private async respawn(d: number): Promise<void> {
    const slot = this.spawn(d);
    this.slots[d] = slot;
    await slot.ready;
    for (const program of this.programs.values()) await this.load(program, [d]);
  }

  private load(program: WireProgram, devices: number[]): Promise<void> {
    this.setBusy(1);
    const p = new Promise<void>((resolve, reject) => {
      const l: PendingLoad = { id: program.id, waiting: new Set(devices), resolve, reject };
      this.loads.add(l);
      for (const d of devices) {
        if (!this.slots[d].alive) {
          this.loads.delete(l);
          reject(new MeshError(`device ${d}'s worker is not running`));
          return;
        }
        this.post(d, { type: 'load', program });
      }
    });
    const settle = () => this.setBusy(-1);
    p.then(settle, settle);
    return p;
  }

  // ---------------------------------------------------------------------------------------
  // steps

  private report(d: number, r: { outputs: TypedArray[] } | { error: WireError; aborted: boolean } | { died: DeviceError }): void {
    const st = this.step!;
    if (st.reported[d]) return;
    st.reported[d] = true;
    st.count++;
    if ('outputs' in r) st.outputs[d] = r.outputs;
    else if ('died' in r || !r.aborted) this.failStep(st, 'died' in r ? r.died : remoteError(d, r.error));
    if (st.count === this.size) {
      if (st.graceTimer) clearTimeout(st.graceTimer);
      if (!st.settled) {
        st.settled = true;
        if (st.outputs.every((o) => o !== null)) {
          const t = now();
          this._lastProfile = {
            wallMs: t - st.begun,
            devices: st.timings.map((x) => (x ? { sendMs: x.start - st.posted, computeMs: x.computeMs, kernelMs: x.kernelMs, kernels: x.kernels, collectiveMs: x.collectiveMs, returnMs: x.received - x.end } : { sendMs: NaN, computeMs: NaN, kernelMs: NaN, kernels: NaN, collectiveMs: NaN, returnMs: NaN })),
          };
          st.resolve(st.outputs as TypedArray[][]);
        }
        else {
          const f = Atomics.load(this.ctrl, CTRL_FAILED) - 1;
          st.reject(new DeviceError(`the step was aborted${f >= 0 ? ` (device ${f} failed first)` : ''}`, Math.max(f, 0), 'StepAborted'));
        }
      }
      this.step = null;
      st.idle();
    }
  }

  private failStep(st: ActiveStep, err: DeviceError): void {
    if (st.settled) return;
    st.settled = true;
    st.reject(err);
    // workers that never report (stuck in native code) are replaced after the grace period
    st.graceTimer = setTimeout(() => {
      this.slots.forEach((s, d) => {
        if (!st.reported[d] && s.alive) void s.worker.terminate();
      });
    }, this.opts.recoveryGraceMs);
    st.graceTimer.unref();
  }

  /** Runs `fn` after everything queued before it (steps and compiles run one at a time). */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(async () => {
      if (this.closing) throw new MeshError('this mesh was closed; make a new Mesh');
      await this.recovering;
      if (this.broken) throw this.broken;
      return fn();
    });
    this.queue = result.then(() => undefined, () => undefined);
    return result;
  }

  /** @internal Runs one step of a loaded program; see CompiledProgram.run. */
  _run(program: CompiledProgram, perDeviceArgs: Array[][], opts: StepOptions): Promise<Array[][]> {
    if (this.closing) return Promise.reject(new MeshError('this mesh was closed; make a new Mesh'));
    if (!globalThis.Array.isArray(perDeviceArgs) || perDeviceArgs.length !== this.size) {
      return Promise.reject(new MeshError(`run: the mesh has ${this.size} devices but perDeviceArgs has ${globalThis.Array.isArray(perDeviceArgs) ? perDeviceArgs.length : 'no'} entries; give one argument list per device`));
    }
    try {
      perDeviceArgs.forEach((args, d) => checkArgs(program.graph, args, `run: device ${d}`));
    } catch (e) {
      return Promise.reject(e);
    }
    const begun = now();
    const payloads = perDeviceArgs.map((args) => args.map((a) => compact(a.concrete())));
    const avals = program.outAvals;
    return new Promise<Array[][]>((resolveUser, rejectUser) => {
      // the queue moves on only once every device has stopped, even when the step failed early
      const task = this.enqueue(async () => {
        if (program.closed) throw new MeshError('this compiled program was closed; compile it again');
        this.setBusy(1);
        try {
          await new Promise<void>((idle) => {
            Atomics.store(this.ctrl, CTRL_ABORT, 0);
            Atomics.store(this.ctrl, CTRL_COUNT, 0);
            Atomics.store(this.ctrl, CTRL_FAILED, 0);
            const id = this.nextStep++;
            const resolve = (outs: TypedArray[][]) => resolveUser(outs.map((o) => o.map((data, i) => Array.fromData(data, avals[i].shape, avals[i].dtype))));
            this.step = { id, begun, posted: now(), timings: new globalThis.Array(this.size).fill(null), outputs: new globalThis.Array(this.size).fill(null), reported: new globalThis.Array(this.size).fill(false), count: 0, settled: false, resolve, reject: rejectUser, idle };
            for (let d = 0; d < this.size; d++) {
              if (!this.slots[d].alive) this.report(d, { died: new DeviceError(`device ${d}'s worker is not running`, d, 'WorkerExit') });
              else this.post(d, { type: 'run', step: id, programId: program.id, args: payloads[d], fault: opts._testFault });
            }
          });
        } finally {
          this.setBusy(-1);
        }
      });
      task.catch(rejectUser);
    });
  }

  // ---------------------------------------------------------------------------------------
  // compile

  /**
   * Compiles a per-device program (the same Graph for every device; it may contain
   * collectives over this mesh's axes): splits it at collectives, lowers the segments to ONNX
   * and creates every device's sessions. With host fusion (`opts.hostFusion`, see
   * {@link MeshOptions.hostFusion}), the elementwise tail of the last segment (the one no
   * collective follows) is cut off with `splitEpilogue`: its head is lowered to ONNX and the
   * kernels travel with it. Resolves when all devices are ready to run it.
   */
  compile(graph: Graph, opts: ProgramOptions = {}): Promise<CompiledProgram> {
    if (this.closing) return Promise.reject(new MeshError('this mesh was closed; make a new Mesh'));
    let split: SplitProgram;
    let wire: WireProgram;
    let epilogue: Epilogue | null;
    try {
      split = splitAtCollectives(this.opts.combineCollectives ? scheduleCollectives(graph).graph : graph);
      ({ wire, epilogue } = this.wire(split, hostFusionEnabled(opts.hostFusion ?? this.opts.hostFusion)));
    } catch (e) {
      return Promise.reject(e);
    }
    return this.enqueue(async () => {
      this.setBusy(1);
      try {
        this.programs.set(wire.id, wire);
        try {
          await this.load(wire, this.slots.map((_, d) => d));
        } catch (e) {
          this.programs.delete(wire.id);
          for (let d = 0; d < this.size; d++) this.post(d, { type: 'unload', id: wire.id });
          throw e;
        }
        return new CompiledProgram(this, wire.id, graph, split, epilogue);
      } finally {
        this.setBusy(-1);
      }
    });
  }

  private wire(split: SplitProgram, hostFusion: boolean): { wire: WireProgram; epilogue: Epilogue | null } {
    const id = this.nextProgram++;
    let slotBytes = 8;
    for (const [i, seg] of split.segments.entries()) {
      const c = seg.collective;
      if (!c) continue;
      try {
        checkGroupOnMesh(this.shape, c.params, `${c.prim}${c.source ? ` (made at ${c.source})` : ''}`);
      } catch (e) {
        throw new MeshError(`compile: collective after segment ${i + 1}: ${(e as Error).message}`);
      }
      const a = split.avals[c.inputId];
      const bytes = DTYPE_BYTES[a.dtype];
      if (bytes === undefined) throw new MeshError(`compile: ${c.prim} on ${fmtAval(a)}: dtype ${a.dtype} cannot be exchanged between devices; convert it with astype('float32')`);
      slotBytes = Math.max(slotBytes, Math.ceil((a.shape.reduce((x, y) => x * y, 1) * bytes) / 8) * 8);
    }
    for (const a of split.axisIndex) checkGroupOnMesh(this.shape, a.params, 'axis_index');
    let epilogue: Epilogue | null = null;
    const segments = split.segments.map((seg, i): WireSegment => {
      const where = (e: unknown) => {
        if (e instanceof MyriadError) e.message = `compile: segment ${i + 1} of ${split.segments.length}: ${e.message}`;
        return e;
      };
      let graph = seg.graph;
      let plan: EpiloguePlan | null = null;
      // the last segment (no collective after it) holds the optimizer update: fuse its tail
      if (hostFusion && seg.collective === null && graph.eqns.length > 0) {
        let cut: ReturnType<typeof splitEpilogue>;
        try {
          cut = splitEpilogue(graph);
          if (cut) plan = epiloguePlan(graph, cut);
        } catch (e) {
          throw where(e);
        }
        if (cut) {
          epilogue = cut.epilogue;
          graph = cut.head;
        }
      }
      let model: LoweredModel | null = null;
      if (graph.eqns.length > 0) {
        try {
          model = lowerGraph(graph, { graphName: `segment_${i}` });
        } catch (e) {
          throw where(e);
        }
      }
      return { model, inputIds: seg.inputIds, outputIds: seg.outputIds, epilogue: plan, collective: seg.collective, release: seg.release };
    });
    const constants = split.constants.map((c) => {
      const aval = split.avals[c.id];
      if (typeof c.value === 'number') {
        const data = allocate(aval.dtype, 1);
        data[0] = castScalar(c.value, aval.dtype);
        return { id: c.id, data };
      }
      return { id: c.id, data: compact(c.value.concrete('send to the devices')) };
    });
    const wire: WireProgram = {
      id,
      avals: split.avals.map((a) => ({ shape: [...a.shape], dtype: a.dtype })),
      inputIds: split.inputIds,
      outputIds: split.outputIds,
      constants,
      axisIndex: split.axisIndex,
      segments,
      data: new SharedArrayBuffer(2 * this.size * slotBytes),
      slotBytes,
    };
    return { wire, epilogue };
  }

  /** @internal Frees a program's sessions on every device. */
  _unload(id: number): void {
    this.programs.delete(id);
    for (let d = 0; d < this.size; d++) this.post(d, { type: 'unload', id });
  }

  /**
   * Runs a per-device program: `program` is a CompiledProgram, or a Graph (compiled on first
   * use and cached for this mesh). `perDeviceArgs[d]` are device d's inputs; resolves to each
   * device's outputs.
   */
  async run(program: CompiledProgram | Graph, perDeviceArgs: Array[][], opts: StepOptions = {}): Promise<Array[][]> {
    let p: CompiledProgram;
    if (program instanceof CompiledProgram) p = program;
    else {
      let c = this.compiledCache.get(program);
      if (!c) {
        c = this.compile(program);
        this.compiledCache.set(program, c);
        c.catch(() => this.compiledCache.delete(program));
      }
      p = await c;
    }
    return p.run(perDeviceArgs, opts);
  }

  /**
   * Ends the workers (idempotent). A running step is given `recoveryGraceMs` to finish; workers
   * stuck at that point are terminated.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      // keep the process alive until every worker is gone
      this.setBusy(1);
      await within(this.queue, this.opts.recoveryGraceMs);
      // release anything still waiting at a collective
      Atomics.store(this.ctrl, CTRL_ABORT, 1);
      Atomics.notify(this.ctrl, CTRL_GEN);
      await Promise.all(
        this.slots.map(async (s, d) => {
          if (!s.alive) return;
          const exited = new Promise<void>((r) => s.worker.once('exit', () => r()));
          this.post(d, { type: 'close' });
          await within(exited, 1000);
          await s.worker.terminate();
        }),
      );
      for (const l of this.loads) l.reject(new MeshError('the mesh was closed'));
      this.loads.clear();
      this.programs.clear();
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function positive(v: number, name: string): number {
  if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new MeshError(`Mesh option ${name} must be a positive number of milliseconds, got ${String(v)}`);
  return v;
}

/**
 * A per-device program compiled for a Mesh: every device holds its segment sessions. Run steps
 * with `run`; free the sessions with `close`.
 */
export class CompiledProgram {
  private _closed = false;
  constructor(
    /** The mesh it runs on. */
    readonly mesh: Mesh,
    /** @internal Program id on the workers. */
    readonly id: number,
    /** The per-device Graph. */
    readonly graph: Graph,
    /** How it was split at collectives (plain data). */
    readonly split: SplitProgram,
    /**
     * The host epilogue of its last segment (the kernels every device runs after that segment's
     * ONNX model; `toString()` describes them), or null when host fusion is off or found no
     * elementwise tail worth fusing.
     */
    readonly epilogue: Epilogue | null = null,
  ) {}

  /** Inputs of each device. */
  get inAvals(): AbstractValue[] {
    return this.graph.inAvals;
  }
  /** Outputs of each device. */
  get outAvals(): AbstractValue[] {
    return this.graph.outAvals;
  }
  /** Number of ONNX segments and of collectives. */
  get stats(): { segments: number; collectives: number } {
    return { segments: this.split.segments.filter((s) => s.graph.eqns.length > 0).length, collectives: this.split.numCollectives };
  }
  get closed(): boolean {
    return this._closed;
  }

  /** One step: `perDeviceArgs[d]` are device d's inputs; resolves to every device's outputs. */
  run(perDeviceArgs: Array[][], opts: StepOptions = {}): Promise<Array[][]> {
    if (this._closed) return Promise.reject(new MeshError('this compiled program was closed; compile it again'));
    return this.mesh._run(this, perDeviceArgs, opts);
  }

  /** Frees the program's sessions on every device (idempotent). */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.mesh._unload(this.id);
  }
}

/** A Mesh over local devices: `makeMesh({ data: 2, model: 2 })` (same as `new Mesh(...)`). */
export function makeMesh(axes: Record<string, number> | MeshShape, opts: MeshOptions = {}): Mesh {
  return new Mesh(axes, opts);
}
