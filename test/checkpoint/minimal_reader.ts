// An independent, minimal safetensors reader for the tests, written from the format description
// only (8-byte little-endian header size, JSON header, byte buffer) and sharing no code with
// src/checkpoint: it reads every element with DataView getters, so it also checks byte order.
import assert from 'node:assert/strict';

export interface MiniTensor {
  dtype: string;
  shape: number[];
  values: number[];
  begin: number;
  end: number;
}

const SIZES: Record<string, number> = { F32: 4, F64: 8, I32: 4, U32: 4, BOOL: 1 };

/** Parses a safetensors buffer, asserting the format's rules, and returns tensors and metadata. */
export function miniRead(buf: Uint8Array): { tensors: Record<string, MiniTensor>; metadata: Record<string, string> | undefined; headerBytes: number } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  const headerText = new TextDecoder().decode(buf.subarray(8, 8 + n));
  assert.equal(headerText[0], '{', 'the header starts with {');
  const header = JSON.parse(headerText) as Record<string, unknown>;
  const start = 8 + n;
  const tensors: Record<string, MiniTensor> = {};
  let metadata: Record<string, string> | undefined;
  const ranges: [number, number][] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      for (const v of Object.values(metadata)) assert.equal(typeof v, 'string');
      continue;
    }
    const { dtype, shape, data_offsets: offs } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const size = SIZES[dtype];
    assert.ok(size, `known dtype ${dtype}`);
    const count = shape.reduce((a, b) => a * b, 1);
    assert.equal(offs[1] - offs[0], count * size, `${name}: byte length matches shape and dtype`);
    ranges.push(offs);
    const values: number[] = [];
    for (let i = 0; i < count; i++) {
      const at = start + offs[0] + i * size;
      switch (dtype) {
        case 'F32': values.push(dv.getFloat32(at, true)); break;
        case 'F64': values.push(dv.getFloat64(at, true)); break;
        case 'I32': values.push(dv.getInt32(at, true)); break;
        case 'U32': values.push(dv.getUint32(at, true)); break;
        case 'BOOL': values.push(dv.getUint8(at)); break;
      }
    }
    tensors[name] = { dtype, shape, values, begin: offs[0], end: offs[1] };
  }
  // The tensors tile the buffer exactly.
  ranges.sort((a, b) => a[0] - b[0]);
  let pos = 0;
  for (const [b, e] of ranges) {
    assert.equal(b, pos, 'no holes or overlaps');
    pos = e;
  }
  assert.equal(pos, buf.length - start, 'the tensors cover the whole buffer');
  return { tensors, metadata, headerBytes: n };
}
