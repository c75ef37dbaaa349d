/**
 * The safetensors format (https://github.com/huggingface/safetensors, README "Format"), read and
 * written by our own code:
 *
 *   8 bytes   N, the header size, an unsigned 64-bit little-endian integer
 *   N bytes   a UTF-8 JSON object: `{"<name>": {"dtype": "F32", "shape": [2, 3],
 *             "data_offsets": [begin, end]}, …, "__metadata__": {"k": "v"}}` — offsets are
 *             relative to the start of the byte buffer, `end` one past the last byte; the
 *             optional `__metadata__` maps strings to strings
 *   rest      the byte buffer: each tensor's elements, little-endian, row-major, no strides
 *
 * The reference reader also requires that the header starts with `{`, is at most 100 MB, that
 * every tensor's byte length equals its element count times the dtype size, and that the
 * tensors tile the whole buffer without holes or overlaps; empty tensors (a 0 in the shape) take
 * no bytes and 0-d tensors are scalars. Our writer obeys all of that, puts 8-byte dtypes first
 * and pads the header with spaces so that the buffer (and so each tensor) is 8-byte aligned, as
 * recent writers do; our reader checks all of it and names the file and tensor on error.
 *
 * Written dtypes: F32, F64, I32, U32, BOOL (Myriad's computable dtypes). Read additionally, with
 * exact conversions: F16 and BF16 → float32, I8/U8/I16/U16 → int32, I64 → int32 and U64 →
 * uint32 when every value fits (an error otherwise).
 */

import * as fs from 'node:fs';
import { endianness } from 'node:os';
import { Array } from '../core/array.js';
import type { DType, TypedArray } from '../core/dtype.js';
import { sizeOf } from '../core/shape.js';
import { SafetensorsError } from './errors.js';
import { writeFileAtomic } from './fs_durable.js';

/** Largest header accepted, as in the reference implementation. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** safetensors dtype names Myriad writes, per Myriad dtype. */
export const SAFETENSORS_DTYPE: Readonly<Record<string, string>> = {
  float32: 'F32', float64: 'F64', int32: 'I32', uint32: 'U32', bool: 'BOOL',
};

interface ReadInfo {
  bytes: number;
  dtype: DType;
}
const READ_DTYPES: Readonly<Record<string, ReadInfo>> = {
  F32: { bytes: 4, dtype: 'float32' }, F64: { bytes: 8, dtype: 'float64' }, I32: { bytes: 4, dtype: 'int32' },
  U32: { bytes: 4, dtype: 'uint32' }, BOOL: { bytes: 1, dtype: 'bool' }, F16: { bytes: 2, dtype: 'float32' },
  BF16: { bytes: 2, dtype: 'float32' }, I8: { bytes: 1, dtype: 'int32' }, U8: { bytes: 1, dtype: 'int32' },
  I16: { bytes: 2, dtype: 'int32' }, U16: { bytes: 2, dtype: 'int32' }, I64: { bytes: 8, dtype: 'int32' },
  U64: { bytes: 8, dtype: 'uint32' },
};

/** One tensor's header entry. */
export interface SafetensorsTensorInfo {
  /** Tensor name. */
  name: string;
  /** The dtype as written in the file (e.g. 'F32', 'BF16'). */
  dtype: string;
  /** Shape. */
  shape: number[];
  /** Byte range [begin, end) relative to the start of the byte buffer. */
  dataOffsets: [number, number];
}

/** A parsed header. */
export interface SafetensorsHeader {
  /** Tensors in increasing offset order. */
  tensors: SafetensorsTensorInfo[];
  /** The `__metadata__` map, or null if absent. */
  metadata: Record<string, string> | null;
  /** Absolute file offset of the byte buffer (8 + N). */
  dataStart: number;
}

/** A decoded file: tensors (as Myriad Arrays, in offset order), metadata and header entries. */
export interface DecodedSafetensors extends SafetensorsHeader {
  /** The tensors by name. */
  arrays: Map<string, Array>;
}

/** Tensors to encode: a Map, a record, or [name, Array] pairs. */
export type TensorsInput = Map<string, Array> | Record<string, Array> | Iterable<readonly [string, Array]>;

function checkLittleEndian(): void {
  if (endianness() !== 'LE') throw new SafetensorsError('safetensors I/O assumes a little-endian host (the format is little-endian and Myriad copies typed-array bytes as they are)');
}

function entriesOf(t: TensorsInput): [string, Array][] {
  if (t instanceof Map) return [...t.entries()];
  if (Symbol.iterator in (t as object) && !(t instanceof Array)) return [...(t as Iterable<readonly [string, Array]>)].map(([k, v]) => [k, v]);
  return Object.entries(t as Record<string, Array>);
}

/**
 * Encodes tensors (concrete Myriad Arrays of dtype float32/float64/int32/uint32/bool) and
 * optional string metadata into safetensors bytes.
 */
export function encodeSafetensors(tensors: TensorsInput, metadata?: Record<string, string>): Uint8Array {
  checkLittleEndian();
  const entries = entriesOf(tensors);
  const seen = new Set<string>();
  const items = entries.map(([name, a]) => {
    if (typeof name !== 'string' || name === '') throw new SafetensorsError(`safetensors tensor names must be non-empty strings, got ${JSON.stringify(name)}`);
    if (name === '__metadata__') throw new SafetensorsError('a tensor cannot be named "__metadata__" (the key is reserved for metadata in safetensors)');
    if (seen.has(name)) throw new SafetensorsError(`duplicate tensor name ${JSON.stringify(name)}`);
    seen.add(name);
    if (!(a instanceof Array)) throw new SafetensorsError(`tensor ${JSON.stringify(name)} is not a Myriad Array`);
    if (a.isTracer) throw new SafetensorsError(`tensor ${JSON.stringify(name)} is a traced value (inside jit/grad); save concrete arrays, outside the traced function`);
    const st = SAFETENSORS_DTYPE[a.dtype];
    if (!st) throw new SafetensorsError(`tensor ${JSON.stringify(name)} has dtype ${a.dtype}, which Myriad does not store; convert it (e.g. astype('float32'))`);
    const data = a.concrete();
    return { name, st, shape: [...a.shape], data, bytes: data.byteLength, align: READ_DTYPES[st].bytes };
  });
  // 8-byte dtypes first, then 4-byte, then 1-byte: with an 8-aligned buffer each tensor is aligned.
  items.sort((x, y) => y.align - x.align || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`safetensors metadata values must be strings; ${JSON.stringify(k)} is ${typeof v} (use JSON.stringify for structured values)`);
    }
    header.__metadata__ = { ...metadata };
  }
  let off = 0;
  for (const it of items) {
    header[it.name] = { dtype: it.st, shape: it.shape, data_offsets: [off, off + it.bytes] };
    off += it.bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const it of items) {
    out.set(new Uint8Array(it.data.buffer, it.data.byteOffset, it.bytes), pos);
    pos += it.bytes;
  }
  return out;
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Parses and validates the header of safetensors `bytes` (`source` names the file in errors). */
export function parseSafetensorsHeader(bytes: Uint8Array, source = 'safetensors data'): SafetensorsHeader {
  const bad = (msg: string): never => {
    throw new SafetensorsError(`${source}: ${msg}`);
  };
  if (bytes.length < 8) bad(`only ${bytes.length} bytes; a safetensors file starts with an 8-byte header size (truncated file?)`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) bad(`header size ${n64} exceeds the 100 MB limit (not a safetensors file, or corrupt)`);
  const n = Number(n64);
  if (8 + n > bytes.length) bad(`header size ${n} runs past the end of the ${bytes.length}-byte file (truncated file?)`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return bad('the header is not valid UTF-8');
  }
  if (!text.startsWith('{')) bad(`the header must be a JSON object starting with '{', found ${JSON.stringify(text.slice(0, 20))}`);
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    return bad(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (obj === null || typeof obj !== 'object' || globalThis.Array.isArray(obj)) return bad('the header is not a JSON object');
  const dataStart = 8 + n;
  const bufLen = bytes.length - dataStart;
  let metadata: Record<string, string> | null = null;
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, v] of Object.entries(obj as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || globalThis.Array.isArray(v)) bad('__metadata__ must be an object of string → string');
      metadata = {};
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== 'string') bad(`__metadata__.${k} is ${typeof s}; metadata values must be strings`);
        metadata[k] = s as string;
      }
      continue;
    }
    const e = v as Record<string, unknown>;
    if (e === null || typeof e !== 'object') bad(`entry for tensor ${JSON.stringify(name)} is not an object`);
    const { dtype, shape, data_offsets: offs } = e;
    if (typeof dtype !== 'string') bad(`tensor ${JSON.stringify(name)}: dtype is missing or not a string`);
    const info = READ_DTYPES[dtype as string];
    if (!info) bad(`tensor ${JSON.stringify(name)}: dtype ${JSON.stringify(dtype)} is not supported (Myriad reads ${Object.keys(READ_DTYPES).join(', ')})`);
    if (!globalThis.Array.isArray(shape) || !shape.every(isNonNegInt)) bad(`tensor ${JSON.stringify(name)}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!globalThis.Array.isArray(offs) || offs.length !== 2 || !offs.every(isNonNegInt) || offs[0] > offs[1]) {
      bad(`tensor ${JSON.stringify(name)}: data_offsets must be [begin, end] with 0 ≤ begin ≤ end, got ${JSON.stringify(offs)}`);
    }
    const [b, end] = offs as [number, number];
    const want = sizeOf(shape as number[]) * info.bytes;
    if (end - b !== want) bad(`tensor ${JSON.stringify(name)}: ${end - b} bytes in data_offsets but ${dtype}${JSON.stringify(shape)} needs ${want}`);
    if (end > bufLen) bad(`tensor ${JSON.stringify(name)}: data_offsets end ${end} is past the ${bufLen}-byte buffer (truncated file?)`);
    tensors.push({ name, dtype: dtype as string, shape: [...(shape as number[])], dataOffsets: [b, end] });
  }
  // The tensors must tile the buffer exactly: sorted by offset, each starts where the last ended.
  tensors.sort((x, y) => x.dataOffsets[0] - y.dataOffsets[0] || x.dataOffsets[1] - y.dataOffsets[1]);
  let pos = 0;
  for (const t of tensors) {
    if (t.dataOffsets[0] !== pos) {
      bad(t.dataOffsets[0] < pos
        ? `tensor ${JSON.stringify(t.name)} overlaps the previous tensor (starts at ${t.dataOffsets[0]}, previous ends at ${pos})`
        : `bytes ${pos}..${t.dataOffsets[0]} of the buffer belong to no tensor (a hole before ${JSON.stringify(t.name)})`);
    }
    pos = t.dataOffsets[1];
  }
  if (pos !== bufLen) bad(`the tensors cover ${pos} bytes but the buffer after the header has ${bufLen} (${pos < bufLen ? 'trailing bytes' : 'truncated'})`);
  return { tensors, metadata, dataStart };
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Converts one tensor's bytes (a private copy) to Myriad storage. */
function toStorage(bytes: Uint8Array, t: SafetensorsTensorInfo, source: string): TypedArray {
  const n = sizeOf(t.shape);
  const buf = bytes.buffer as ArrayBuffer;
  const o = bytes.byteOffset;
  switch (t.dtype) {
    case 'F32': return new Float32Array(buf, o, n);
    case 'F64': return new Float64Array(buf, o, n);
    case 'I32': return new Int32Array(buf, o, n);
    case 'U32': return new Uint32Array(buf, o, n);
    case 'BOOL': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = bytes[i] ? 1 : 0;
      return out;
    }
    case 'F16': case 'BF16': {
      const src = new Uint16Array(buf, o, n);
      const out = new Float32Array(n);
      if (t.dtype === 'F16') for (let i = 0; i < n; i++) out[i] = halfToFloat(src[i]);
      else {
        const u = new Uint32Array(out.buffer);
        for (let i = 0; i < n; i++) u[i] = src[i] << 16;
      }
      return out;
    }
    case 'I8': return Int32Array.from(new Int8Array(buf, o, n));
    case 'U8': return Int32Array.from(new Uint8Array(buf, o, n));
    case 'I16': return Int32Array.from(new Int16Array(buf, o, n));
    case 'U16': return Int32Array.from(new Uint16Array(buf, o, n));
    case 'I64': case 'U64': {
      const src = t.dtype === 'I64' ? new BigInt64Array(buf, o, n) : new BigUint64Array(buf, o, n);
      const out = t.dtype === 'I64' ? new Int32Array(n) : new Uint32Array(n);
      const lo = t.dtype === 'I64' ? -2147483648n : 0n;
      const hi = t.dtype === 'I64' ? 2147483647n : 4294967295n;
      for (let i = 0; i < n; i++) {
        const v = src[i];
        if (v < lo || v > hi) throw new SafetensorsError(`${source}: tensor ${JSON.stringify(t.name)} (${t.dtype}) holds ${v} at flat index ${i}, which does not fit in ${t.dtype === 'I64' ? 'int32' : 'uint32'} (Myriad has no 64-bit integers)`);
        out[i] = Number(v);
      }
      return out;
    }
    default:
      throw new SafetensorsError(`${source}: tensor ${JSON.stringify(t.name)} has unsupported dtype ${t.dtype}`);
  }
}

/** Decodes safetensors bytes into Myriad Arrays (copies: the result does not alias `bytes`). */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): DecodedSafetensors {
  checkLittleEndian();
  const header = parseSafetensorsHeader(bytes, source);
  const arrays = new Map<string, Array>();
  for (const t of header.tensors) {
    const [b, e] = t.dataOffsets;
    // A copy into a fresh ArrayBuffer (offset 0, so aligned for every element size).
    const copy = new Uint8Array(e - b);
    copy.set(bytes.subarray(header.dataStart + b, header.dataStart + e));
    arrays.set(t.name, Array.fromData(toStorage(copy, t, source), t.shape, READ_DTYPES[t.dtype].dtype));
  }
  return { ...header, arrays };
}

/** Writes tensors to a safetensors file atomically (temp file, fsync, rename). */
export function writeSafetensors(file: string, tensors: TensorsInput, metadata?: Record<string, string>): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

/** Reads a safetensors file into Myriad Arrays. */
export function readSafetensors(file: string): DecodedSafetensors {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new SafetensorsError(`cannot read safetensors file ${file}: ${(e as Error).message}`);
  }
  return decodeSafetensors(bytes, file);
}
