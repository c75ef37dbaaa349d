/**
 * A small builder for ONNX models on top of the generated protobuf classes of `onnx-proto`.
 * It hands out fresh value names, records nodes (with typed attributes), initializers (tensor
 * data stored little-endian in `raw_data`, deduplicated for small constants), graph inputs and
 * outputs with their value infos, and serializes the whole thing as a `ModelProto` for one
 * opset of the default ONNX domain. The lowering (`lower.ts`) is written against this API; it
 * never touches protobuf objects itself.
 */

import onnxProto from 'onnx-proto';
import type { DType, TypedArray } from '../../core/dtype.js';
import { MyriadError } from '../../core/errors.js';
import { sizeOf } from '../../core/shape.js';

const { onnx } = onnxProto;

/** Error in building or lowering an ONNX model (unsupported dtype, bad model, runtime failure). */
export class OnnxError extends MyriadError {}

/** The ONNX opset this backend targets (ai.onnx domain). */
export const ONNX_OPSET = 18;
/** IR version matching opset 18 (ONNX 1.13). */
export const ONNX_IR_VERSION = 8;

/** Element types used inside lowered models: Myriad's dtypes plus helpers ONNX ops need. */
export type OnnxDType = Exclude<DType, 'float16' | 'bfloat16'> | 'int64' | 'uint8';

/** ONNX TensorProto.DataType codes. */
export const ONNX_TYPE_CODE: Record<OnnxDType, number> = {
  float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float64: 11, uint32: 12,
};

/** Bytes per element of each lowered element type. */
const ELEMENT_BYTES: Record<OnnxDType, number> = {
  float32: 4, uint8: 1, int32: 4, int64: 8, bool: 1, float64: 8, uint32: 4,
};

/** Checks that a Myriad dtype can appear in an ONNX model built here. */
export function onnxDtype(d: DType, where: string): OnnxDType {
  if (d === 'float16' || d === 'bfloat16') {
    throw new OnnxError(`${where}: dtype ${d} is not computable yet (no backend supports half precision); convert with astype('float32')`);
  }
  return d;
}

/** A typed node attribute. */
export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string };

/** Constructors for typed attributes: `A.int(1)`, `A.ints([0, 1])`, `A.float(0.5)`, `A.str('add')`. */
export const A = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  ints: (value: readonly number[]): Attr => ({ kind: 'ints', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  str: (value: string): Attr => ({ kind: 'string', value }),
};

function toAttribute(name: string, a: Attr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int': return { name, type: T.INT, i: a.value };
    case 'ints': return { name, type: T.INTS, ints: [...a.value] };
    case 'float': return { name, type: T.FLOAT, f: a.value };
    case 'string': return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Typed-array class whose memory layout equals ONNX's little-endian storage of `dt`. */
const SAME_LAYOUT: Partial<Record<OnnxDType, abstract new (...args: any[]) => TypedArray>> = {
  float32: Float32Array, float64: Float64Array, int32: Int32Array, uint32: Uint32Array, uint8: Uint8Array,
};

/** Little-endian bytes of `values` stored as element type `dt`. */
export function tensorBytes(dt: OnnxDType, values: ArrayLike<number> | TypedArray): Uint8Array {
  const n = values.length;
  const layout = SAME_LAYOUT[dt];
  if (LITTLE_ENDIAN && layout && values instanceof layout) {
    const v = values as TypedArray;
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice(); // a copy: the model must not alias live data
  }
  const bytes = new Uint8Array(n * ELEMENT_BYTES[dt]);
  const view = new DataView(bytes.buffer);
  switch (dt) {
    case 'float32': for (let i = 0; i < n; i++) view.setFloat32(i * 4, values[i], true); break;
    case 'float64': for (let i = 0; i < n; i++) view.setFloat64(i * 8, values[i], true); break;
    case 'int32': for (let i = 0; i < n; i++) view.setInt32(i * 4, values[i], true); break;
    case 'uint32': for (let i = 0; i < n; i++) view.setUint32(i * 4, values[i] >>> 0, true); break;
    case 'int64': for (let i = 0; i < n; i++) view.setBigInt64(i * 8, BigInt(Math.trunc(values[i])), true); break;
    case 'uint8': for (let i = 0; i < n; i++) bytes[i] = values[i] & 0xff; break;
    case 'bool': for (let i = 0; i < n; i++) bytes[i] = values[i] ? 1 : 0; break;
  }
  return bytes;
}

function valueInfo(name: string, dt: OnnxDType, shape: readonly number[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: ONNX_TYPE_CODE[dt], shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
  };
}

/** Accumulates the pieces of one ONNX graph and serializes it as a model. */
export class OnnxModelBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly constCache = new Map<string, string>();
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(readonly graphName = 'myriad') {}

  /** A new value name, unique in this model, built from `hint`. */
  fresh(hint: string): string {
    const base = hint.replace(/[^A-Za-z0-9_]/g, '_') || 'v';
    let name: string;
    do name = `${base}_${this.counter++}`;
    while (this.used.has(name));
    this.used.add(name);
    return name;
  }

  /** Claims an exact name (graph inputs and outputs); fails if it is taken. */
  claim(name: string): string {
    if (this.used.has(name)) throw new OnnxError(`internal: ONNX value name ${name} is used twice`);
    this.used.add(name);
    return name;
  }

  /** Declares a graph input. */
  addInput(name: string, dt: OnnxDType, shape: readonly number[]): void {
    this.inputs.push(valueInfo(this.claim(name), dt, shape));
  }

  /** Declares a graph output (the value must be produced by a node). */
  addOutput(name: string, dt: OnnxDType, shape: readonly number[]): void {
    this.outputs.push(valueInfo(name, dt, shape));
  }

  /**
   * Appends a node `outputs = opType(inputs; attrs)`. Empty-string inputs stand for omitted
   * optional inputs. Returns the output names (fresh ones unless given).
   */
  node(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, outputs: number | readonly string[] = 1): string[] {
    const outs = typeof outputs === 'number' ? globalThis.Array.from({ length: outputs }, () => this.fresh(opType)) : [...outputs];
    this.nodes.push({
      opType,
      name: this.fresh(`n_${opType}`),
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)),
    });
    return outs;
  }

  /**
   * Renames the value `from` — which must be the output of a node already added — to `to`
   * everywhere (that node's output and every node's inputs). Returns false, changing nothing,
   * when no node produces `from` (a graph input, an initializer or a shared constant).
   */
  renameNodeOutput(from: string, to: string): boolean {
    const producer = this.nodes.find((n) => n.output?.includes(from));
    if (!producer) return false;
    for (const n of this.nodes) {
      if (n.output) n.output = n.output.map((o) => (o === from ? to : o));
      if (n.input) n.input = n.input.map((i) => (i === from ? to : i));
    }
    return true;
  }

  /** `node` for single-output ops. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}): string {
    return this.node(opType, inputs, attrs, 1)[0];
  }

  /** Adds an initializer holding `values` (row-major) as element type `dt` and returns its name. */
  initializer(dt: OnnxDType, shape: readonly number[], values: ArrayLike<number> | TypedArray, hint = 'const'): string {
    if (values.length !== sizeOf(shape)) throw new OnnxError(`internal: initializer ${hint} has ${values.length} values for shape [${shape.join(',')}]`);
    const name = this.fresh(hint);
    this.initializers.push({ name, dataType: ONNX_TYPE_CODE[dt], dims: [...shape], rawData: tensorBytes(dt, values) });
    return name;
  }

  /** A small constant, shared between all uses of the same dtype, shape and values. */
  constant(dt: OnnxDType, shape: readonly number[], values: readonly number[]): string {
    const key = `${dt}|${shape.join(',')}|${values.map((v) => (Object.is(v, -0) ? '-0' : String(v))).join(',')}`;
    let name = this.constCache.get(key);
    if (name === undefined) {
      name = this.initializer(dt, shape, values, shape.length === 0 ? `c_${dt}` : `c_${dt}_vec`);
      this.constCache.set(key, name);
    }
    return name;
  }

  /** A scalar constant of element type `dt`. */
  scalar(dt: OnnxDType, value: number): string {
    return this.constant(dt, [], [value]);
  }

  /** A 1-D int64 constant (shapes, axes, starts). */
  int64s(values: readonly number[]): string {
    return this.constant('int64', [values.length], values);
  }

  /** The model as a protobuf object. */
  toProto(docString = ''): onnxProto.onnx.ModelProto {
    return onnx.ModelProto.create({
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: 'myriad',
      producerVersion: '0.1.0',
      docString,
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
  }

  /** The serialized ModelProto. */
  toBytes(docString = ''): Uint8Array {
    return onnx.ModelProto.encode(this.toProto(docString)).finish();
  }

  /** Number of nodes so far (for tests and debugging). */
  get nodeCount(): number {
    return this.nodes.length;
  }
}
