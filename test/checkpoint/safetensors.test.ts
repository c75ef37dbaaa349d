// safetensors: round-trips of every dtype (with empty and 0-d tensors), checked by an
// independent reader; decoding files assembled byte by byte in the test (F16/BF16/I64/U8); and
// clear errors for malformed files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Array, makeGraph, np, ShapeDtypeStruct } from '../../src/index.js';
import { SafetensorsError, decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from '../../src/checkpoint/index.js';
import { miniRead } from './minimal_reader.js';

function sample(): Map<string, Array> {
  return new Map<string, Array>([
    ['encoder.block.0.mlp.wi_0.kernel', np.array([[1.5, -2.25, 3], [4, 5e-8, -6e20]], { dtype: 'float32' })],
    ['f64', np.array([Math.PI, -1e-300, 1e300], { dtype: 'float64' })],
    ['ints', np.array([-2147483648, 0, 2147483647], { dtype: 'int32' })],
    ['uints', np.array([0, 4294967295, 7], { dtype: 'uint32' })],
    ['mask', np.array([true, false, true], { dtype: 'bool' })],
    ['empty', np.zeros([0, 4], 'float32')],
    ['scalar', np.array(7, { dtype: 'int32' })],
    ['special', np.array([NaN, Infinity, -Infinity, -0], { dtype: 'float32' })],
  ]);
}

test('round trip of every dtype, empty and 0-d tensors, with metadata', () => {
  const t = sample();
  const bytes = encodeSafetensors(t, { format: 'myriad', note: 'ünïcode ✓' });
  const d = decodeSafetensors(bytes);
  assert.deepEqual(d.metadata, { format: 'myriad', note: 'ünïcode ✓' });
  for (const [name, a] of t) {
    const b = d.arrays.get(name)!;
    assert.equal(b.dtype, a.dtype, name);
    assert.deepEqual(b.shape, a.shape, name);
    assert.deepEqual([...b.dataSync()], [...a.dataSync()], name);
  }
  assert.ok(Object.is(d.arrays.get('special')!.dataSync()[3], -0));
});

test('an independent reader sees the same tensors, 8-byte alignment and no holes', () => {
  const t = sample();
  const bytes = encodeSafetensors(t, { k: 'v' });
  const r = miniRead(bytes);
  assert.deepEqual(r.metadata, { k: 'v' });
  assert.equal((8 + r.headerBytes) % 8, 0, 'the byte buffer starts 8-byte aligned');
  const dtypeNames: Record<string, string> = { float32: 'F32', float64: 'F64', int32: 'I32', uint32: 'U32', bool: 'BOOL' };
  for (const [name, a] of t) {
    const m = r.tensors[name];
    assert.ok(m, `tensor ${name} present`);
    assert.equal(m.dtype, dtypeNames[a.dtype]);
    assert.deepEqual(m.shape, a.shape);
    assert.deepEqual(m.values, [...a.dataSync()].map(Number), name);
    const size = { F32: 4, F64: 8, I32: 4, U32: 4, BOOL: 1 }[m.dtype]!;
    assert.equal(m.begin % size, 0, `${name} is aligned to its element size`);
  }
  assert.equal(r.tensors.scalar.shape.length, 0);
  assert.equal(r.tensors.empty.begin, r.tensors.empty.end);
});

/** Assembles a safetensors file by hand (independent of the encoder). */
function handMade(header: Record<string, unknown>, data: number[], headerOverride?: string): Uint8Array {
  const h = Buffer.from(headerOverride ?? JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(8 + h.length + data.length);
  out.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(out, 8);
  Buffer.from(data).copy(out, 8 + h.length);
  return out;
}

test('reads files from other writers: F16, BF16, I64, U8 converted exactly', () => {
  const bytes = handMade(
    {
      h: { dtype: 'F16', shape: [5], data_offsets: [0, 10] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [10, 14] },
      l: { dtype: 'I64', shape: [2], data_offsets: [14, 30] },
      u: { dtype: 'U8', shape: [2], data_offsets: [30, 32] },
    },
    [
      // F16: 1.0 = 0x3C00, −2.0 = 0xC000, 0.5 = 0x3800, 65504 = 0x7BFF, 2^−24 = 0x0001 (little-endian)
      0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0xff, 0x7b, 0x01, 0x00,
      // BF16: 1.0 = 0x3F80, −3.5 = 0xC060
      0x80, 0x3f, 0x60, 0xc0,
      // I64: −5, 2147483647
      0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0,
      // U8: 7, 255
      7, 255,
    ],
  );
  const d = decodeSafetensors(bytes, 'hand.safetensors');
  assert.deepEqual([...d.arrays.get('h')!.dataSync()], [1, -2, 0.5, 65504, 2 ** -24]);
  assert.equal(d.arrays.get('h')!.dtype, 'float32');
  assert.deepEqual([...d.arrays.get('b')!.dataSync()], [1, -3.5]);
  assert.deepEqual([...d.arrays.get('l')!.dataSync()], [-5, 2147483647]);
  assert.equal(d.arrays.get('l')!.dtype, 'int32');
  assert.deepEqual([...d.arrays.get('u')!.dataSync()], [7, 255]);
  const big = handMade({ l: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, [0, 0, 0, 0, 1, 0, 0, 0]);
  assert.throws(() => decodeSafetensors(big, 'big.safetensors'), /big\.safetensors: tensor "l" \(I64\) holds 4294967296 at flat index 0, which does not fit in int32/);
});

test('malformed files are refused with the file and the problem named', () => {
  const good = encodeSafetensors(sample());
  const cases: [Uint8Array, RegExp][] = [
    [good.subarray(0, good.length - 1), /x\.st: .*(truncated)/],
    [good.subarray(0, 5), /x\.st: only 5 bytes/],
    [handMade({}, [], '[1]'), /must be a JSON object starting with '\{'/],
    [handMade({}, [], '{"a": '), /header is not valid JSON/],
    [handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /tensor "a": 4 bytes in data_offsets but F32\[2\] needs 8/],
    [handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, [0, 0, 0, 0, 0, 0, 0, 0]), /bytes 0\.\.4 of the buffer belong to no tensor/],
    [handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } }, [0, 0, 0, 0, 0, 0]), /overlaps the previous tensor/],
    [handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0, 9]), /trailing bytes/],
    [handMade({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, [0, 0, 0, 0, 0, 0, 0, 0]), /dtype "C64" is not supported/],
    [handMade({ __metadata__: { n: 3 } }, []), /__metadata__\.n is number; metadata values must be strings/],
  ];
  const huge = Buffer.alloc(16);
  huge.writeBigUInt64LE(2n ** 40n, 0);
  cases.push([huge, /exceeds the 100 MB limit/]);
  for (const [bytes, re] of cases) {
    assert.throws(() => decodeSafetensors(bytes, 'x.st'), (e: unknown) => e instanceof SafetensorsError && re.test((e as Error).message), `expected ${re}`);
  }
});

test('encoding refuses what the format cannot hold', () => {
  assert.throws(() => encodeSafetensors({ __metadata__: np.zeros([1]) }), /reserved for metadata/);
  assert.throws(() => encodeSafetensors({ a: np.zeros([1]) }, { n: 3 as unknown as string }), /metadata values must be strings/);
  let err: unknown;
  makeGraph((x: Array) => {
    try {
      encodeSafetensors({ x });
    } catch (e) {
      err = e;
    }
    return x;
  })(new ShapeDtypeStruct([2]));
  assert.ok(err instanceof SafetensorsError && /is a traced value/.test(err.message));
});

test('writeSafetensors / readSafetensors on disk', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myriad-st-'));
  try {
    const file = path.join(dir, 'model.safetensors');
    writeSafetensors(file, sample(), { a: 'b' });
    assert.deepEqual(fs.readdirSync(dir), ['model.safetensors'], 'no temp file left behind');
    const d = readSafetensors(file);
    assert.equal(d.arrays.size, sample().size);
    assert.deepEqual(miniRead(fs.readFileSync(file)).metadata, { a: 'b' });
    assert.throws(() => readSafetensors(path.join(dir, 'nope.safetensors')), /cannot read safetensors file .*nope\.safetensors/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
