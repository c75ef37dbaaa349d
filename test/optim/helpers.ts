// Shared helpers for the optimizer tests: building float32 arrays and comparing against
// hand-computed values with a relative/absolute tolerance that allows float32 rounding.
import assert from 'node:assert/strict';
import { Array, np } from '../../src/index.js';

export const f32 = (x: number | number[] | number[][] | number[][][]): Array => np.array(x as never, { dtype: 'float32' });

/** Flattens nested JS arrays of numbers. */
export function flat(x: unknown): number[] {
  if (typeof x === 'number') return [x];
  if (typeof x === 'boolean') return [x ? 1 : 0];
  return (x as unknown[]).flatMap(flat);
}

/** Asserts `a` (an Array) equals `expected` elementwise within tolerance. */
export function close(a: Array, expected: number | number[] | number[][] | number[][][], { rtol = 2e-6, atol = 1e-9, what = 'value' } = {}): void {
  const got = flat(a.toArray());
  const want = flat(expected);
  assert.equal(got.length, want.length, `${what}: ${got.length} elements, expected ${want.length}`);
  got.forEach((g, i) => {
    const w = want[i];
    assert.ok(Math.abs(g - w) <= atol + rtol * Math.abs(w), `${what}[${i}]: got ${g}, expected ${w} (diff ${Math.abs(g - w)})`);
  });
}

/** Asserts two pytrees of Arrays have equal structure and values within tolerance. */
export function treeClose(a: unknown, b: unknown, opts: { rtol?: number; atol?: number } = {}, where = 'tree'): void {
  if (a instanceof Array) {
    assert.ok(b instanceof Array, `${where}: expected an Array`);
    assert.deepEqual(a.shape, b.shape, `${where}: shapes`);
    assert.equal(a.dtype, b.dtype, `${where}: dtypes`);
    close(a, flat(b.toArray()), { ...opts, what: where });
    return;
  }
  if (a === null || a === undefined) {
    assert.equal(a, b, where);
    return;
  }
  if (globalThis.Array.isArray(a)) {
    assert.ok(globalThis.Array.isArray(b) && b.length === a.length, `${where}: list lengths`);
    a.forEach((x, i) => treeClose(x, (b as unknown[])[i], opts, `${where}[${i}]`));
    return;
  }
  const ka = Object.keys(a as object).sort();
  assert.deepEqual(ka, Object.keys(b as object).sort(), `${where}: keys`);
  for (const k of ka) treeClose((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], opts, `${where}.${k}`);
}
