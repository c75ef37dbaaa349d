/**
 * An independent plain-JS model of JAX's threefry PRNG (partitionable mode, 32-bit), written
 * from the definitions with JS number arithmetic — no Myriad code — so the tests can check
 * src/random against it: the Threefry-2x32 block function, the per-element counters, split,
 * fold_in, 32-bit bits, float32/float64 uniform, and the float32 normal (every step rounded to
 * float32 with Math.fround, as each primitive rounds).
 */

/** Threefry-2x32, 20 rounds (Random123): encrypts counter (c0, c1) under key (k0, k1). */
export function threefry(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
  const ks = [k0 >>> 0, k1 >>> 0, (k0 ^ k1 ^ 0x1bd11bda) >>> 0];
  const rots = [
    [13, 15, 26, 6],
    [17, 29, 16, 24],
  ];
  let x0 = (c0 + ks[0]) >>> 0;
  let x1 = (c1 + ks[1]) >>> 0;
  for (let i = 0; i < 5; i++) {
    for (const r of rots[i % 2]) {
      x0 = (x0 + x1) >>> 0;
      x1 = (rotl(x1, r) ^ x0) >>> 0;
    }
    x0 = (x0 + ks[(i + 1) % 3]) >>> 0;
    x1 = (x1 + ks[(i + 2) % 3] + i + 1) >>> 0;
  }
  return [x0, x1];
}

export type PlainKey = [number, number];

/** split(key, n): key i = threefry(key, (0, i)). */
export function splitP(key: PlainKey, n: number): PlainKey[] {
  const out: PlainKey[] = [];
  for (let i = 0; i < n; i++) out.push(threefry(key[0], key[1], 0, i));
  return out;
}

/** fold_in(key, d) = threefry(key, (0, d)). */
export function foldInP(key: PlainKey, d: number): PlainKey {
  return threefry(key[0], key[1], 0, d >>> 0);
}

/** 32-bit bits of the first n elements (flat order) of any array: x0 ^ x1 of counter (0, i). */
export function bitsP(key: PlainKey, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const [a, b] = threefry(key[0], key[1], 0, i);
    out.push((a ^ b) >>> 0);
  }
  return out;
}

const f = Math.fround;

/** float32 uniform in [lo, hi): m = bits >>> 9, f = m·2⁻²³, max(lo, f·(hi − lo) + lo) in float32. */
export function uniformP(key: PlainKey, n: number, lo = 0, hi = 1): number[] {
  const l = f(lo), span = f(f(hi) - l);
  return bitsP(key, n).map((b) => Math.max(l, f(f(f((b >>> 9) * 2 ** -23) * span) + l)));
}

/** float64 uniform in [0, 1): (x0·2²⁰ + (x1 >>> 12))·2⁻⁵², JAX's x64 partitionable bits. */
export function uniform64P(key: PlainKey, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const [a, b] = threefry(key[0], key[1], 0, i);
    out.push((a * 2 ** 20 + (b >>> 12)) * 2 ** -52);
  }
  return out;
}

const LT5 = [2.81022636e-8, 3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941];
const GE5 = [-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682];

/** Giles' float32 erfinv with every operation rounded to float32 (XLA ErfInv32). */
export function erfinvP(x: number): number {
  if (Math.abs(x) === 1) return x * Infinity;
  const w = f(-f(Math.log1p(f(-f(x * x)))));
  const lt = w < 5;
  const c = lt ? LT5 : GE5;
  const v = lt ? f(w - 2.5) : f(f(Math.sqrt(w)) - 3);
  let p = f(c[0]);
  for (let i = 1; i < c.length; i++) p = f(f(c[i]) + f(p * v));
  return f(p * x);
}

/** float32 normal: √2·erfinv(uniform(nextafter(−1, 0), 1)). */
export function normalP(key: PlainKey, n: number): number[] {
  return uniformP(key, n, -(1 - 2 ** -24), 1).map((u) => f(f(Math.SQRT2) * erfinvP(u)));
}

/** JAX's randint for int32 bounds lo < hi (no out-of-range maxval), in uint32 arithmetic. */
export function randintP(key: PlainKey, n: number, lo: number, hi: number): number[] {
  const [k1, k2] = splitP(key, 2);
  const hb = bitsP(k1, n), lb = bitsP(k2, n);
  const span = hi <= lo ? 1 : (hi - lo) >>> 0;
  let mult = 65536 % span;
  mult = (Math.imul(mult, mult) >>> 0) % span;
  return hb.map((h, i) => {
    const off = (((Math.imul(h % span, mult) >>> 0) + (lb[i] % span)) >>> 0) % span;
    return (lo + off) | 0;
  });
}
