/**
 * Error classes of the seqio-shaped data pipeline. `DataError` is thrown on bad task or mixture
 * definitions, bad examples and bad stream positions; `CacheError` on an unreadable or corrupt on-disk
 * cache that cannot be rebuilt. Both extend Myriad's `MyriadError`, so callers can catch either level.
 */

import { MyriadError } from '../../core/errors.js';

/** Bad task/mixture definition, example, split, shard or stream position. */
export class DataError extends MyriadError {}

/** A cache directory that cannot be read, written or rebuilt. */
export class CacheError extends MyriadError {}
