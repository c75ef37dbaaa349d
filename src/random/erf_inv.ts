/**
 * The inverse error function composed from primitives (log1p, sqrt, mul, add, select, …), as
 * XLA expands `erf_inv` (xla/client/lib/math.cc `ErfInv32` / `ErfInv64`), so it runs eagerly and
 * inside traced code. Both use M. Giles, "Approximating the erfinv function" (GPU Computing Gems,
 * 2011): with w = −log1p(−x²),
 * - float32: w < 5 → p(w − 2.5), else p(√w − 3), two degree-8 polynomials; result p·x;
 * - float64: w < 6.25 → p(w − 3.125) (degree 22), w < 16 → p(√w − 3.25) (degree 18),
 *   else p(√w − 5) (degree 16); result p·x;
 * - erfinv(±1) = ±∞ (XLA selects x·∞ where |x| = 1).
 * The coefficients are Giles' published constants (identical to XLA's tables). Every step is a
 * separate primitive rounded to the dtype, so results equal XLA's up to the rounding of log1p
 * and sqrt in the backend (a few ulp; see README "random").
 */

import type { Array } from '../core/array.js';
import { DTypeError } from '../core/errors.js';
import { fmtAval } from '../core/ir.js';
import * as lax from '../core/lax.js';

/** Giles' single-precision coefficients, highest degree first, for w < 5 (in w − 2.5). */
export const ERFINV_F32_LT5 = [
  2.81022636e-8, 3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941,
];
/** Giles' single-precision coefficients, highest degree first, for w ≥ 5 (in √w − 3). */
export const ERFINV_F32_GE5 = [
  -0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682,
];
/** Giles' double-precision coefficients for w < 6.25 (in w − 3.125). */
export const ERFINV_F64_LT6_25 = [
  -3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18, 1.115787767802518096e-17,
  -1.333171662854620906e-16, 2.0972767875968561637e-17, 6.6376381343583238325e-15, -4.0545662729752068639e-14,
  -8.1519341976054721522e-14, 2.6335093153082322977e-12, -1.2975133253453532498e-11, -5.4154120542946279317e-11,
  1.051212273321532285e-9, -4.1126339803469836976e-9, -2.9070369957882005086e-8, 4.2347877827932403518e-7,
  -1.3654692000834678645e-6, -1.3882523362786468719e-5, 0.0001867342080340571352, -0.00074070253416626697512,
  -0.0060336708714301490533, 0.24015818242558961693, 1.6536545626831027356,
];
/** Giles' double-precision coefficients for 6.25 ≤ w < 16 (in √w − 3.25). */
export const ERFINV_F64_LT16 = [
  2.2137376921775787049e-9, 9.0756561938885390979e-8, -2.7517406297064545428e-7, 1.8239629214389227755e-8,
  1.5027403968909827627e-6, -4.013867526981545969e-6, 2.9234449089955446044e-6, 1.2475304481671778723e-5,
  -4.7318229009055733981e-5, 6.8284851459573175448e-5, 2.4031110387097893999e-5, -0.0003550375203628474796,
  0.00095328937973738049703, -0.0016882755560235047313, 0.0024914420961078508066, -0.0037512085075692412107,
  0.005370914553590063617, 1.0052589676941592334, 3.0838856104922207635,
];
/** Giles' double-precision coefficients for w ≥ 16 (in √w − 5). */
export const ERFINV_F64_GE16 = [
  -2.7109920616438573243e-11, -2.5556418169965252055e-10, 1.5076572693500548083e-9, -3.7894654401267369937e-9,
  7.6157012080783393804e-9, -1.4960026627149240478e-8, 2.9147953450901080826e-8, -6.7711997758452339498e-8,
  2.2900482228026654717e-7, -9.9298272942317002539e-7, 4.5260625972231537039e-6, -1.9681778105531670567e-5,
  7.5995277030017761139e-5, -0.00021503011930044477347, -0.00013871931833623122026, 1.0103004648645343977,
  4.8499064014085844221,
];

/** Horner evaluation c[0]·wⁿ + … + c[n], one primitive per step: p ← c[i] + p·w. */
function horner(coeffs: readonly number[], w: Array): Array {
  const shape = [...w.shape];
  let p = lax.full(coeffs[0], w.dtype, shape);
  for (let i = 1; i < coeffs.length; i++) p = lax.add(lax.full(coeffs[i], w.dtype, shape), lax.mul(p, w));
  return p;
}

/** erfinv(x) for a float32 or float64 array, elementwise, composed from primitives. */
export function erfInv(x: Array): Array {
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new DTypeError(`erfInv needs a float32 or float64 operand, got ${fmtAval(x)}`);
  const shape = [...x.shape];
  const c = (v: number) => lax.full(v, x.dtype, shape);
  // w = −log1p(−x·x)
  const w = lax.neg(lax.log1p(lax.neg(lax.mul(x, x))));
  const sw = lax.sqrt(w);
  let p: Array;
  if (x.dtype === 'float32') {
    const pLt = horner(ERFINV_F32_LT5, lax.sub(w, c(2.5)));
    const pGe = horner(ERFINV_F32_GE5, lax.sub(sw, c(3)));
    p = lax.select(lax.lt(w, c(5)), pLt, pGe);
  } else {
    const pA = horner(ERFINV_F64_LT6_25, lax.sub(w, c(3.125)));
    const pB = horner(ERFINV_F64_LT16, lax.sub(sw, c(3.25)));
    const pC = horner(ERFINV_F64_GE16, lax.sub(sw, c(5)));
    p = lax.select(lax.lt(w, c(6.25)), pA, lax.select(lax.lt(w, c(16)), pB, pC));
  }
  const result = lax.mul(p, x);
  // erfinv(±1) = ±∞
  return lax.select(lax.eq(lax.abs(x), c(1)), lax.mul(x, c(Infinity)), result);
}
