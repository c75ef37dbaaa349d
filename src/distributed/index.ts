/**
 * Myriad's distributed package: GSPMD shardings, logical axis rules, sharding propagation (and,
 * from the runtime side, collectives, the SPMD interpreter and the device mesh runtime).
 */

export * from './sharding/index.js';
export * from './constraint.js';
export * from './spmd/index.js';
export * from '../runtime/index.js';
export * from './jit_sharded.js';
