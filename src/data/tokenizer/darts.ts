/**
 * The double-array trie format of darts-clone, which SentencePiece stores inside
 * `NormalizerSpec.precompiled_charsmap`: a reader (step-wise traversal, exact and common-prefix
 * search, enumeration of all keys) and a builder that writes arrays darts-clone can read, so that
 * models trained by Myriad load in the real `spm_encode` with the same normalization.
 *
 * Format (facts from darts-clone's public header): an array of 32-bit units. A unit's low byte is
 * its label; bit 8 says the node has a leaf child (at label 0); bits 10..30 hold the offset to the
 * node's children (bit 9 set: the stored offset is shifted left by 8). Leaf units have the MSB set
 * and hold a 31-bit value. From node `id`, the child for byte `c` is at `id ^ offset(id) ^ c` and
 * is valid iff its label equals `c`. Keys are byte strings without NUL; values are in [0, 2^31).
 */

import { TokenizerError } from './types.js';

const LEAF_BIT = 0x80000000;

/** Offset to the children of a node unit. */
function unitOffset(unit: number): number {
  return (unit >>> 10) << ((unit & 0x200) >>> 6);
}

/** A read-only darts-clone double array over `units`. */
export class DoubleArray {
  constructor(readonly units: Uint32Array) {
    if (units.length === 0) throw new TokenizerError('double-array trie is empty');
  }

  /**
   * Follows byte `c` from node `id`. Returns the child node id, or -1 when there is no such
   * transition.
   */
  step(id: number, c: number): number {
    const units = this.units;
    const next = (id ^ unitOffset(units[id]) ^ c) >>> 0;
    if (next >= units.length) return -1;
    const u = units[next];
    // A leaf unit has the MSB set, so its label never equals a byte.
    if ((u & 0x800000ff) >>> 0 !== c) return -1;
    return next;
  }

  /** The value stored for the key that ends at node `id`, or -1 when no key ends there. */
  valueAt(id: number): number {
    const u = this.units[id];
    if (((u >>> 8) & 1) === 0) return -1;
    const leaf = this.units[(id ^ unitOffset(u)) >>> 0];
    return leaf & 0x7fffffff;
  }

  /** The value of `key`, or -1 if `key` is not in the trie. */
  exactMatch(key: Uint8Array): number {
    let id = 0;
    for (let i = 0; i < key.length; i++) {
      id = this.step(id, key[i]);
      if (id < 0) return -1;
    }
    return key.length === 0 ? -1 : this.valueAt(id);
  }

  /** All keys that are prefixes of `bytes[start..end)`: `[value, length]` pairs, shortest first. */
  commonPrefixSearch(bytes: Uint8Array, start = 0, end = bytes.length): [number, number][] {
    const out: [number, number][] = [];
    let id = 0;
    for (let i = start; i < end; i++) {
      id = this.step(id, bytes[i]);
      if (id < 0) break;
      const v = this.valueAt(id);
      if (v >= 0) out.push([v, i - start + 1]);
    }
    return out;
  }

  /** Every key with its value, in byte order (tries all 256 labels at each node). */
  entries(): [Uint8Array, number][] {
    const out: [Uint8Array, number][] = [];
    const key: number[] = [];
    const visit = (id: number): void => {
      for (let c = 1; c < 256; c++) {
        const child = this.step(id, c);
        if (child < 0) continue;
        key.push(c);
        const v = this.valueAt(child);
        if (v >= 0) out.push([Uint8Array.from(key), v]);
        visit(child);
        key.pop();
      }
    };
    visit(0);
    return out;
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Growable typed buffers used while building. */
class Growable {
  units = new Uint32Array(1024);
  used = new Uint8Array(1024);
  baseUsed = new Uint8Array(1024);
  size = 0; // number of units in use, a multiple of 256

  ensure(n: number): void {
    if (n <= this.units.length) return;
    let cap = this.units.length;
    while (cap < n) cap *= 2;
    const u = new Uint32Array(cap); u.set(this.units); this.units = u;
    const s = new Uint8Array(cap); s.set(this.used); this.used = s;
    const b = new Uint8Array(cap); b.set(this.baseUsed); this.baseUsed = b;
  }
}

/** How many of the newest 256-unit blocks are searched for free slots (as darts-clone does). */
const OPEN_BLOCKS = 16;

/**
 * Builds a darts-clone double array from byte-string keys (non-empty, without NUL, distinct) and
 * values in [0, 2^31). Returns the units; `new DoubleArray(units)` reads them.
 */
export function buildDoubleArray(keys: readonly Uint8Array[], values: readonly number[]): Uint32Array {
  if (keys.length !== values.length) throw new TokenizerError(`buildDoubleArray: ${keys.length} keys but ${values.length} values`);
  if (keys.length === 0) throw new TokenizerError('buildDoubleArray: no keys');
  const order = keys.map((_, i) => i).sort((a, b) => compareBytes(keys[a], keys[b]));
  const sk = order.map((i) => keys[i]);
  const sv = order.map((i) => values[i]);
  for (let i = 0; i < sk.length; i++) {
    if (sk[i].length === 0) throw new TokenizerError('buildDoubleArray: empty key');
    if (sk[i].includes(0)) throw new TokenizerError('buildDoubleArray: key contains a NUL byte');
    if (!Number.isInteger(sv[i]) || sv[i] < 0 || sv[i] >= 2 ** 31) throw new TokenizerError(`buildDoubleArray: value ${sv[i]} is not in [0, 2^31)`);
    if (i > 0 && compareBytes(sk[i - 1], sk[i]) === 0) throw new TokenizerError('buildDoubleArray: duplicate key');
  }

  const g = new Growable();
  // Doubly linked list of free slots in the open blocks.
  let next = new Int32Array(1024).fill(-1);
  let prev = new Int32Array(1024).fill(-1);
  let head = -1;
  let openFrom = 0; // first open block index

  const growLinks = (): void => {
    if (next.length >= g.units.length) return;
    const n2 = new Int32Array(g.units.length).fill(-1); n2.set(next); next = n2;
    const p2 = new Int32Array(g.units.length).fill(-1); p2.set(prev); prev = p2;
  };
  const unlink = (s: number): void => {
    const a = prev[s], b = next[s];
    if (a >= 0) next[a] = b; else if (head === s) head = b;
    if (b >= 0) prev[b] = a;
    prev[s] = next[s] = -1;
  };
  const addBlock = (): void => {
    const start = g.size;
    g.ensure(start + 256);
    growLinks();
    g.size = start + 256;
    // Append the new block's slots to the tail of the free list.
    let tail = head;
    if (tail >= 0) while (next[tail] >= 0) tail = next[tail];
    for (let s = start; s < start + 256; s++) {
      prev[s] = tail; next[s] = -1;
      if (tail >= 0) next[tail] = s; else head = s;
      tail = s;
    }
    // Close the oldest blocks beyond the open window.
    while (g.size / 256 - openFrom > OPEN_BLOCKS) {
      const b0 = openFrom * 256;
      for (let s = b0; s < b0 + 256; s++) if (!g.used[s]) unlink(s);
      openFrom++;
    }
  };
  const occupy = (s: number): void => {
    g.used[s] = 1;
    if (s >= openFrom * 256) unlink(s);
  };
  const offsetOk = (off: number): boolean => off !== 0 && (off < 1 << 21 || ((off & 0xff) === 0 && off < 1 << 29));
  const fits = (base: number, labels: number[]): boolean => {
    if (base < 0 || base >= g.size || g.baseUsed[base]) return false;
    for (const l of labels) {
      const s = base ^ l;
      if (s >= g.size || g.used[s]) return false;
    }
    return true;
  };

  addBlock();
  occupy(0);

  // Explicit trie of the sorted keys: children as (label, node) lists, leaf value or -1.
  const childLabels: number[][] = [[]];
  const childNodes: number[][] = [[]];
  const leafValue: number[] = [-1];
  for (let i = 0; i < sk.length; i++) {
    const key = sk[i];
    let n = 0;
    for (let d = 0; d < key.length; d++) {
      const labels = childLabels[n];
      const last = labels.length - 1;
      // Keys are sorted, so an existing child for this byte is always the last one added.
      if (last >= 0 && labels[last] === key[d]) { n = childNodes[n][last]; continue; }
      const m = leafValue.length;
      childLabels.push([]); childNodes.push([]); leafValue.push(-1);
      labels.push(key[d]); childNodes[n].push(m);
      n = m;
    }
    leafValue[n] = sv[i];
  }
  // Identical subtrees (same labels, leaf values and child subtrees) share one block of children,
  // which makes the array a minimized automaton (what darts-clone's DAWG does).
  const canon = new Int32Array(leafValue.length);
  const sigToId = new Map<string, number>();
  for (let n = leafValue.length - 1; n >= 0; n--) {
    // Children always have larger indices than their parent, so reverse order is post-order.
    let sig = String(leafValue[n]);
    const ls = childLabels[n], cs = childNodes[n];
    for (let k = 0; k < ls.length; k++) sig += ',' + ls[k] + ':' + canon[cs[k]];
    let id = sigToId.get(sig);
    if (id === undefined) { id = sigToId.size; sigToId.set(sig, id); }
    canon[n] = id;
  }
  sigToId.clear();
  const baseOfCanon = new Map<number, number>();

  const stack: [node: number, pos: number][] = [[0, 0]];
  while (stack.length > 0) {
    const [node, pos] = stack.pop()!;
    const hasLeaf = leafValue[node] >= 0;
    const labels = hasLeaf ? [0, ...childLabels[node]] : childLabels[node];
    const shared = baseOfCanon.get(canon[node]);
    let base = -1;
    let fresh = true;
    if (shared !== undefined && offsetOk(pos ^ shared)) {
      base = shared;
      fresh = false;
    } else {
      for (let f = head; f >= 0; f = next[f]) {
        const b = f ^ labels[0];
        if (offsetOk(pos ^ b) && fits(b, labels)) { base = b; break; }
      }
      if (base < 0) {
        const start = g.size;
        addBlock();
        base = start | (pos & 0xff);
        if (!offsetOk(pos ^ base) || !fits(base, labels)) throw new TokenizerError('buildDoubleArray: offset overflow (too many keys)');
      }
    }
    const offset = pos ^ base;
    let unit = g.units[pos] & 0xff;
    if (hasLeaf) unit |= 0x100;
    unit |= offset < 1 << 21 ? offset << 10 : (offset << 2) | 0x200;
    g.units[pos] = unit >>> 0;
    if (!fresh) continue;
    g.baseUsed[base] = 1;
    baseOfCanon.set(canon[node], base);
    if (hasLeaf) {
      occupy(base);
      g.units[base] = (leafValue[node] | LEAF_BIT) >>> 0;
    }
    const ls = childLabels[node], cs = childNodes[node];
    for (let k = ls.length - 1; k >= 0; k--) {
      const s = base ^ ls[k];
      occupy(s);
      g.units[s] = ls[k];
      stack.push([cs[k], s]);
    }
  }
  return g.units.slice(0, g.size);
}
