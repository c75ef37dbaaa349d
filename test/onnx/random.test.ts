/**
 * DESIGN.md: random numbers are the same on every backend. The Threefry-2x32 PRNG (uint32 adds,
 * xors, shifts, rotations) and the distributions built on it (uniform, normal via erfinv,
 * randint) are traced, lowered to ONNX and must be bit-identical to the reference interpreter.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeGraph, random, type Array } from '../../src/index.js';
import { evalGraphReference } from '../../src/backends/reference/index.js';
import { OnnxExecutable } from '../../src/backends/onnx/index.js';

test('PRNG bits and samples are bit-identical in ONNX Runtime and the reference interpreter', () => {
  const sample = (key: Array) => [
    random.bits(key, [257]),
    random.uniform(random.foldIn(key, 1), [3, 50]),
    random.normal(random.foldIn(key, 2), [300]),
    random.randint(random.foldIn(key, 3), [64], 0, 1000),
    random.split(key, 5),
  ];
  for (const seed of [0, 42, 2 ** 31 + 5]) {
    const key = random.key(seed);
    const graph = makeGraph(sample)(key);
    const want = evalGraphReference(graph, [key]);
    const exe = OnnxExecutable.createSync(graph);
    const got = exe.runSync([key]);
    exe.close();
    want.forEach((w, i) => {
      assert.equal(got[i].dtype, w.dtype);
      assert.deepEqual(globalThis.Array.from(got[i]._data!), globalThis.Array.from(w._data!), `seed ${seed}, output ${i} (${w.dtype}[${w.shape}])`);
    });
  }
});
