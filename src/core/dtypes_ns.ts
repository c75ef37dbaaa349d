/**
 * The `dtypes` namespace exported from `myriad`: dtype name constants plus promotion and finfo
 * helpers (see dtype.ts for the promotion rules).
 */
import { DTYPES, finfo, isFloat, isInteger, promoteTypes, type DType } from './dtype.js';

export const dtypes = {
  float32: 'float32' as DType,
  float64: 'float64' as DType,
  int32: 'int32' as DType,
  uint32: 'uint32' as DType,
  bool: 'bool' as DType,
  float16: 'float16' as DType,
  bfloat16: 'bfloat16' as DType,
  all: DTYPES,
  promoteTypes,
  finfo,
  isFloat,
  isInteger,
};
