/**
 * Running lowered Graphs in ONNX Runtime (`onnxruntime-node`, CPU provider). `OnnxExecutable`
 * owns one InferenceSession made from the lowered model's bytes, with the thread settings made
 * explicit (intra-op threads default to 1: the library default spawns one per core and
 * oversubscribes small machines, and Myriad's runtime runs one session per worker thread).
 * Myriad Arrays and ort Tensors share their typed arrays (no copies on the way in; bool is a
 * Uint8Array 'bool' tensor, uint32 a Uint32Array tensor), and outputs are wrapped as Arrays
 * without copying. By default the binding allocates the outputs: measured on this 2-core
 * machine, passing freshly allocated typed arrays as `fetches` is slower (add of 512² floats:
 * 0.39 vs 0.28 ms; 2048²: 11.5–13.5 vs 10.1–11.3 ms) and reusing the same caller-owned buffers
 * through `fetches` is no faster than the default (0.27 vs 0.28 ms), so `fetches` is used only
 * when the caller passes its own output buffers (`run(inputs, { outputs })`), e.g. to recycle
 * donated buffers.
 *
 * Two entry points: the public async API (`create`/`run`, on `InferenceSession`) and a
 * synchronous one (`createSync`/`runSync`) for `jit`, which calls the same native session the
 * public API wraps in `setImmediate` (onnxruntime-node's documented "synchronized inference
 * session object wrap", `dist/binding.js`); `createSync` checks that this binding looks as
 * expected and fails with a clear error otherwise.
 */

import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import { Array } from '../../core/array.js';
import { allocate, type DType, type TypedArray } from '../../core/dtype.js';
import { fmtAval, type AbstractValue, type Graph } from '../../core/ir.js';
import { sizeOf } from '../../core/shape.js';
import { OnnxError } from './builder.js';
import { lowerGraph, type LoweredModel, type LowerOptions } from './lower.js';

/** Session settings. */
export interface OnnxSessionOptions {
  /** Threads ONNX Runtime may use inside one op (default 1). */
  intraOpNumThreads?: number;
  /** ONNX Runtime graph optimization level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * How outputs are obtained when no output buffers are given: 'allocate' (default) lets the
   * binding allocate them; 'fetches' preallocates each output's typed array and lets ONNX
   * Runtime write into it (measured slower; kept for comparison).
   */
  outputMode?: 'fetches' | 'allocate';
  /** Options for lowering (names, doc string). */
  lower?: LowerOptions;
}

const ORT_TYPE: Record<string, ort.Tensor.Type> = {
  float32: 'float32', float64: 'float64', int32: 'int32', uint32: 'uint32', bool: 'bool',
};

function sessionOptions(opts: OnnxSessionOptions): ort.InferenceSession.SessionOptions {
  const threads = opts.intraOpNumThreads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new OnnxError(`intraOpNumThreads must be a positive integer, got ${threads}`);
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: opts.optimization ?? 'all',
    logSeverityLevel: 3,
  };
}

/**
 * An ort Tensor sharing `x`'s storage — or, when that storage is a SharedArrayBuffer (the
 * shards of a device mesh live in shared memory), a private copy of it: ONNX Runtime's native
 * binding refuses shared buffers ("Invalid argument").
 */
export function toOrtTensor(x: Array, where: string): ort.Tensor {
  const type = ORT_TYPE[x.dtype];
  if (!type) throw new OnnxError(`${where}: dtype ${x.dtype} cannot be passed to ONNX Runtime; convert with astype('float32')`);
  let data = x.concrete(`pass to ONNX Runtime`);
  if (data.buffer instanceof SharedArrayBuffer) data = data.slice();
  return new ort.Tensor(type, data as ort.Tensor.DataTypeMap[typeof type], x.shape);
}

/** A Myriad Array sharing an ort Tensor's storage (checked against the expected aval). */
export function fromOrtTensor(t: { data: unknown; dims: readonly number[] }, aval: AbstractValue, where: string): Array {
  const data = t.data as TypedArray;
  if (sizeOf(t.dims) !== sizeOf(aval.shape) || data.length !== sizeOf(aval.shape)) {
    throw new OnnxError(`${where}: ONNX Runtime returned dims [${t.dims.join(',')}] but ${fmtAval(aval)} was expected`);
  }
  return Array.fromData(data, aval.shape, aval.dtype);
}

interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: ort.InferenceSession.SessionOptions): void;
  run(feeds: Record<string, ort.Tensor>, fetches: Record<string, ort.Tensor | null>, options: object): Record<string, { data: unknown; dims: readonly number[] }>;
  dispose(): void;
}
interface NativeBinding {
  binding: { InferenceSession: new () => NativeSession };
  initOrt: () => void;
}

let native: NativeBinding | null = null;
function nativeBinding(): NativeBinding {
  if (native) return native;
  const req = createRequire(import.meta.url);
  let mod: NativeBinding;
  try {
    mod = req('onnxruntime-node/dist/binding.js') as NativeBinding;
  } catch (e) {
    throw new OnnxError(`the synchronous ONNX Runtime path needs onnxruntime-node's dist/binding.js (version 1.30), which failed to load: ${(e as Error).message}; use the async OnnxExecutable.create/run instead`);
  }
  const proto = mod?.binding?.InferenceSession?.prototype as Partial<NativeSession> | undefined;
  if (typeof mod.initOrt !== 'function' || !proto || typeof proto.loadModel !== 'function' || typeof proto.run !== 'function' || typeof proto.dispose !== 'function') {
    throw new OnnxError('onnxruntime-node\'s native binding does not have the expected loadModel/run/dispose methods (the synchronous path was written for onnxruntime-node 1.30); use the async OnnxExecutable.create/run instead');
  }
  mod.initOrt();
  native = mod;
  return mod;
}

/** Options of one run. */
export interface RunOptions {
  /**
   * Typed arrays to write the outputs into (one per output, of the output's dtype and size);
   * the returned Arrays then share them. Default: fresh arrays each run.
   */
  outputs?: TypedArray[];
}

/** A Graph compiled for ONNX Runtime: one session, run on concrete Myriad Arrays. */
export class OnnxExecutable {
  private closed = false;
  private readonly outputMode: 'fetches' | 'allocate';

  private constructor(
    /** The lowered model (bytes, names, avals, opset). */
    readonly lowered: LoweredModel,
    private readonly asyncSession: ort.InferenceSession | null,
    private readonly nativeSession: NativeSession | null,
    opts: OnnxSessionOptions,
  ) {
    this.outputMode = opts.outputMode ?? 'allocate';
  }

  /** Lowers `graph` and creates a session (async, public onnxruntime-node API). */
  static async create(graph: Graph, opts: OnnxSessionOptions = {}): Promise<OnnxExecutable> {
    return OnnxExecutable.fromLowered(lowerGraph(graph, { splitStacked: true, ...opts.lower }), opts);
  }

  /** Creates a session for an already lowered model (async). */
  static async fromLowered(lowered: LoweredModel, opts: OnnxSessionOptions = {}): Promise<OnnxExecutable> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(lowered.model, sessionOptions(opts));
    } catch (e) {
      throw new OnnxError(`ONNX Runtime rejected the lowered model: ${(e as Error).message}`);
    }
    return new OnnxExecutable(lowered, session, null, opts);
  }

  /** Lowers `graph` and creates a session synchronously (native binding, see the file header). */
  static createSync(graph: Graph, opts: OnnxSessionOptions = {}): OnnxExecutable {
    return OnnxExecutable.fromLoweredSync(lowerGraph(graph, { splitStacked: true, ...opts.lower }), opts);
  }

  /** Creates a session for an already lowered model, synchronously. */
  static fromLoweredSync(lowered: LoweredModel, opts: OnnxSessionOptions = {}): OnnxExecutable {
    const nb = nativeBinding();
    const s = new nb.binding.InferenceSession();
    const m = lowered.model;
    try {
      s.loadModel(m.buffer as ArrayBuffer, m.byteOffset, m.byteLength, sessionOptions(opts));
    } catch (e) {
      throw new OnnxError(`ONNX Runtime rejected the lowered model: ${(e as Error).message}`);
    }
    return new OnnxExecutable(lowered, null, s, opts);
  }

  get inputAvals(): AbstractValue[] {
    return this.lowered.inputAvals;
  }
  get outputAvals(): AbstractValue[] {
    return this.lowered.outputAvals;
  }

  private feeds(inputs: Array[]): Record<string, ort.Tensor> {
    if (this.closed) throw new OnnxError('this OnnxExecutable was closed; compile the function again');
    const { inputNames, inputAvals } = this.lowered;
    if (inputs.length !== inputNames.length) throw new OnnxError(`the compiled graph takes ${inputNames.length} inputs (${inputAvals.map(fmtAval).join(', ')}), got ${inputs.length}`);
    const feeds: Record<string, ort.Tensor> = {};
    inputs.forEach((x, i) => {
      const want = inputAvals[i];
      if (x.dtype !== want.dtype || x.shape.length !== want.shape.length || x.shape.some((d, j) => d !== want.shape[j])) {
        throw new OnnxError(`input ${i} is ${fmtAval(x)} but the compiled graph expects ${fmtAval(want)}`);
      }
      const pieces = this.lowered.inputPieces?.[i];
      if (!pieces) {
        feeds[inputNames[i]] = toOrtTensor(x, `input ${i}`);
        return;
      }
      // a stacked input fed as its leading-axis matrices: views of one storage, no copy
      const t = toOrtTensor(x, `input ${i}`);
      const data = t.data as TypedArray;
      const step = sizeOf(want.shape.slice(1));
      pieces.forEach((name, g) => (feeds[name] = new ort.Tensor(t.type, data.subarray(g * step, (g + 1) * step) as ort.Tensor.DataTypeMap[ort.Tensor.Type], want.shape.slice(1))));
    });
    return feeds;
  }

  private fetches(opts: RunOptions): { fetches: Record<string, ort.Tensor | null>; buffers: (TypedArray | null)[] | null } {
    const { outputNames, outputAvals } = this.lowered;
    const fetches: Record<string, ort.Tensor | null> = {};
    const pieces = this.lowered.outputPieces;
    if (this.outputMode === 'allocate' && !opts.outputs && !pieces) {
      outputNames.forEach((n) => (fetches[n] = null));
      return { fetches, buffers: null };
    }
    if (opts.outputs && opts.outputs.length !== outputNames.length) throw new OnnxError(`run: got ${opts.outputs.length} output buffers for ${outputNames.length} outputs`);
    const buffers = outputAvals.map((a, i) => {
      const given = opts.outputs?.[i];
      const names = pieces?.[i];
      if (!given && !names && this.outputMode === 'allocate') {
        fetches[outputNames[i]] = null; // ONNX Runtime allocates it
        return null;
      }
      const buf = given ?? allocate(a.dtype as DType, sizeOf(a.shape));
      if (given && (given.length !== sizeOf(a.shape) || allocate(a.dtype, 0).constructor !== given.constructor)) {
        throw new OnnxError(`run: output buffer ${i} must be a ${allocate(a.dtype, 0).constructor.name} of ${sizeOf(a.shape)} elements for ${fmtAval(a)}`);
      }
      if (names) {
        // a stacked output written as its leading-axis matrices into views of one buffer
        const step = sizeOf(a.shape.slice(1));
        names.forEach((n, g) => (fetches[n] = new ort.Tensor(ORT_TYPE[a.dtype], buf.subarray(g * step, (g + 1) * step) as ort.Tensor.DataTypeMap[ort.Tensor.Type], a.shape.slice(1))));
      } else {
        fetches[outputNames[i]] = new ort.Tensor(ORT_TYPE[a.dtype], buf as ort.Tensor.DataTypeMap[ort.Tensor.Type], a.shape);
      }
      return buf;
    });
    return { fetches, buffers };
  }

  private collect(result: Record<string, { data: unknown; dims: readonly number[] }>, buffers: (TypedArray | null)[] | null): Array[] {
    const { outputNames, outputAvals } = this.lowered;
    return outputNames.map((n, i) => {
      const buf = buffers?.[i];
      if (buf) return Array.fromData(buf, outputAvals[i].shape, outputAvals[i].dtype);
      const t = result[n];
      if (!t) throw new OnnxError(`ONNX Runtime returned no value for output ${n}`);
      return fromOrtTensor(t, outputAvals[i], `output ${i}`);
    });
  }

  /** Runs on concrete inputs (the graph's flat inputs) and returns the flat outputs. */
  async run(inputs: Array[], opts: RunOptions = {}): Promise<Array[]> {
    if (!this.asyncSession) return this.runSync(inputs, opts);
    const feeds = this.feeds(inputs);
    const { fetches, buffers } = this.fetches(opts);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await this.asyncSession.run(feeds, fetches);
    } catch (e) {
      throw new OnnxError(`ONNX Runtime failed to run the compiled graph: ${(e as Error).message}`);
    }
    return this.collect(result as Record<string, ort.Tensor>, buffers);
  }

  /** Runs synchronously (sessions made with `createSync`/`fromLoweredSync` only). */
  runSync(inputs: Array[], opts: RunOptions = {}): Array[] {
    if (!this.nativeSession) throw new OnnxError('runSync needs a session made with OnnxExecutable.createSync; use `await run(...)` for sessions made with create');
    const feeds = this.feeds(inputs);
    const { fetches, buffers } = this.fetches(opts);
    let result: Record<string, { data: unknown; dims: readonly number[] }>;
    try {
      result = this.nativeSession.run(feeds, fetches, {});
    } catch (e) {
      throw new OnnxError(`ONNX Runtime failed to run the compiled graph: ${(e as Error).message}`);
    }
    return this.collect(result, buffers);
  }

  /** Releases the native session (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.asyncSession) void this.asyncSession.release();
    if (this.nativeSession) this.nativeSession.dispose();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
