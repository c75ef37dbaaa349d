/**
 * Shared fixtures for the seqio tests: small generated tasks (seeded arithmetic problems, with some
 * examples dropped by a preprocessor) over the real byte-level vocabulary.
 */

import { Task, ByteVocabulary, CounterRng, type Example, type Split } from '../../src/data/seqio/index.js';

export const vocab = new ByteVocabulary();

const SPLIT_CODE: Record<Split, number> = { train: 0, validation: 1, test: 2 };

/** Arithmetic problems `a + b` whose operands depend on (split, seed, index). */
export function* arithmeticSource(size: number, split: Split, seed: number): Generator<Example> {
  const rng = new CounterRng(seed * 3 + SPLIT_CODE[split]);
  for (let i = 0; i < size; i++) {
    const a = rng.int(1000);
    const b = rng.int(1000);
    yield { id: `${split}-${seed}-${i}`, a, b };
  }
}

/** A task of `size` source examples; drops those with (a + b) % dropEvery == 0 when dropEvery > 0. */
export function arithmeticTask(name: string, size: number, opts: { dropEvery?: number; declareSize?: boolean; meta?: Record<string, unknown> } = {}): Task {
  const dropEvery = opts.dropEvery ?? 0;
  return new Task({
    name,
    source: (split, { seed }) => arithmeticSource(size, split, seed),
    preprocessors: [
      (ex) => (dropEvery > 0 && ((ex.a as number) + (ex.b as number)) % dropEvery === 0 ? null : ex),
      (ex, ctx) => ({ id: ex.id, index: ctx.index, inputs: `${name}: what is ${ex.a} + ${ex.b}?`, targets: String((ex.a as number) + (ex.b as number)) }),
    ],
    outputFeatures: { inputs: { vocabulary: vocab, addEos: true }, targets: { vocabulary: vocab, addEos: true } },
    numExamples: opts.declareSize === false ? undefined : () => size,
    meta: opts.meta,
  });
}

/** JSON round trip (what a checkpoint does to a position). */
export function roundTrip<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}
