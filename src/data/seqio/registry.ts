/**
 * Global registries of tasks and mixtures by name, as in seqio's `TaskRegistry` and `MixtureRegistry`.
 * Adding a second entry under a taken name is an error (unless `overwrite` is set), and looking up an
 * unknown name says which names are close, so typos are caught early.
 */

import { DataError } from './errors.js';
import { Task } from './task.js';
import { Mixture } from './mixture.js';

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** A name → object registry. */
export class Registry<T extends { readonly name: string }> {
  private readonly items = new Map<string, T>();
  constructor(private readonly kind: string, private readonly check: (x: unknown) => x is T) {}

  /** Registers `x` under `x.name`; returns it. */
  add(x: T, opts: { overwrite?: boolean } = {}): T {
    if (!this.check(x)) throw new DataError(`${this.kind}Registry.add: expected a ${this.kind} object`);
    if (this.items.has(x.name) && !opts.overwrite && this.items.get(x.name) !== x) {
      throw new DataError(`${this.kind}Registry.add: a ${this.kind.toLowerCase()} named '${x.name}' is already registered; pick another name or pass {overwrite: true}`);
    }
    this.items.set(x.name, x);
    return x;
  }

  /** The entry named `name`; throws (with suggestions) when unknown. */
  get(name: string): T {
    const x = this.items.get(name);
    if (x) return x;
    const close = [...this.items.keys()]
      .map((k) => [k, editDistance(k, name)] as const)
      .filter(([k, d]) => d <= Math.max(2, Math.floor(name.length / 4)) || k.includes(name))
      .sort((a, b) => a[1] - b[1])
      .slice(0, 5)
      .map(([k]) => k);
    throw new DataError(
      `${this.kind}Registry: no ${this.kind.toLowerCase()} named '${name}'` +
        (close.length ? `; did you mean ${close.map((c) => `'${c}'`).join(', ')}?` : ` (${this.items.size} registered; list them with names())`),
    );
  }

  has(name: string): boolean {
    return this.items.has(name);
  }

  /** Registered names, sorted. */
  names(): string[] {
    return [...this.items.keys()].sort();
  }

  /** Removes an entry (for tests and re-registration); returns whether it existed. */
  remove(name: string): boolean {
    return this.items.delete(name);
  }
}

/** All registered tasks. */
export const TaskRegistry = new Registry<Task>('Task', (x): x is Task => x instanceof Task);
/** All registered mixtures. */
export const MixtureRegistry = new Registry<Mixture>('Mixture', (x): x is Mixture => x instanceof Mixture);
