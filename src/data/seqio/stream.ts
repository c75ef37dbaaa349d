/**
 * Resumable streams. A `Dataset<T>` is an `Iterable<T>` whose iterators expose `position`, a plain-JSON
 * snapshot of where the stream is; `dataset.resume(position)` opens a new iterator that continues
 * exactly from there (the same elements, in the same order, as if it had never stopped). Checkpoints
 * store `position` next to the model state. Positions of tasks, mixtures and batch streams are
 * defined here so they can be validated in one place.
 */

import type { ShardSpec, Split } from './types.js';
import { SPLITS } from './types.js';
import { DataError } from './errors.js';

/** Where a task stream is: the epoch and the next source index to consider. */
export interface TaskPosition {
  kind: 'task';
  task: string;
  split: Split;
  seed: number;
  epoch: number;
  /** Next source index (of the current epoch) to read. */
  index: number;
  shard: ShardSpec | null;
  repeat: boolean;
}

/** Where a mixture stream is: the next sampling slot and each leaf task's own position. */
export interface MixturePosition {
  kind: 'mixture';
  mixture: string;
  split: Split;
  seed: number;
  /** Next global slot (shared by all data-parallel ranks; rank r yields slots with slot % count == r). */
  slot: number;
  shard: ShardSpec | null;
  repeat: boolean;
  /** Positions of the (unsharded) task streams touched so far. */
  tasks: Record<string, TaskPosition>;
  /** Tasks that ran out (only when `repeat` is false). */
  exhausted: string[];
}

/**
 * Where a packed-batch stream is: resume the upstream at `upstream`, discard `skip` examples, and the
 * next example is the first one not yet emitted in a batch.
 */
export interface BatchPosition {
  kind: 'batches';
  /** Description of the converter and batch size, checked on resume. */
  config: string;
  upstream: StreamPosition;
  /** Examples to discard after resuming the upstream (already emitted). */
  skip: number;
  /** Batches emitted so far. */
  batches: number;
}

export type StreamPosition = TaskPosition | MixturePosition | BatchPosition;

/** An iterator that can say where it is. */
export interface ResumableIterator<T, P extends StreamPosition = StreamPosition> extends IterableIterator<T> {
  /** A fresh plain-JSON snapshot; pass it to `Dataset.resume` to continue from here. */
  readonly position: P;
}

/** A re-iterable, resumable stream. */
export class Dataset<T, P extends StreamPosition = StreamPosition> implements Iterable<T> {
  constructor(private readonly opener: (from: StreamPosition | undefined) => ResumableIterator<T, P>) {}

  /** A new iterator from the dataset's start (or from the position given when it was created). */
  [Symbol.iterator](): ResumableIterator<T, P> {
    return this.opener(undefined);
  }

  /** A new iterator continuing exactly at `position` (as read from an iterator's `position`). */
  resume(position: StreamPosition): ResumableIterator<T, P> {
    if (position === null || typeof position !== 'object' || typeof (position as { kind?: unknown }).kind !== 'string') {
      throw new DataError(`Dataset.resume: expected a stream position object (from iterator.position), got ${JSON.stringify(position)}`);
    }
    return this.opener(position);
  }

  /** The first `n` elements (or fewer if the stream ends). */
  take(n: number): T[] {
    const out: T[] = [];
    if (n <= 0) return out;
    for (const x of this) {
      out.push(x);
      if (out.length >= n) break;
    }
    return out;
  }
}

/** Validates a shard spec; returns null for "no sharding". */
export function checkShard(shard: ShardSpec | undefined | null, where: string): ShardSpec | null {
  if (shard === undefined || shard === null) return null;
  const { index, count } = shard;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new DataError(
      `${where}: shard must be {index, count} with integers 0 <= index < count, got ${JSON.stringify(shard)}. ` +
        'Use the data-parallel rank as index and the number of data-parallel ranks as count.',
    );
  }
  return { index, count };
}

/** Validates a split name. */
export function checkSplit(split: unknown, where: string): Split {
  if (!SPLITS.includes(split as Split)) {
    throw new DataError(`${where}: unknown split ${JSON.stringify(split)}; expected one of ${SPLITS.join(', ')}`);
  }
  return split as Split;
}

/** Validates a seed (a non-negative safe integer). */
export function checkSeed(seed: unknown, where: string): number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new DataError(`${where}: seed must be a non-negative integer, got ${JSON.stringify(seed)}`);
  }
  return seed;
}

export function sameShard(a: ShardSpec | null, b: ShardSpec | null): boolean {
  if (a === null || b === null) return a === b;
  return a.index === b.index && a.count === b.count;
}

export function describeShard(s: ShardSpec | null): string {
  return s === null ? 'unsharded' : `shard ${s.index}/${s.count}`;
}
