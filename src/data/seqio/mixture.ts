/**
 * `Mixture`: a weighted combination of tasks and other mixtures, sampled example by example. Member
 * weights are examples-proportional by default — a task's weight is `min(numExamples('train'), cap)`,
 * a sub-mixture's is `min(its capped size, cap)` — optionally tempered (`weight^(1/T)`), then
 * normalized; an explicit `[member, rate]` pair uses `rate` as given (as in seqio). Nested mixtures
 * are flattened into leaf-task probabilities. Sampling is counter-based: slot j draws its task from
 * `uniform(seed, j)`, so the stream is deterministic, resumable from a plain-JSON position (the slot
 * plus each task stream's position), and shardable: data-parallel rank r of n yields the slots with
 * `j % n == r`, so shards are disjoint and their union (interleaved) is exactly the unsharded stream.
 */

import type { Example, ShardSpec, Split } from './types.js';
import { DataError } from './errors.js';
import { Task, TaskStream } from './task.js';
import {
  Dataset,
  type MixturePosition,
  type TaskPosition,
  type ResumableIterator,
  type StreamPosition,
  checkSeed,
  checkShard,
  checkSplit,
  describeShard,
  sameShard,
} from './stream.js';
import { deriveSeed, uniform } from './rng.js';

/** A member: a task or mixture (examples-proportional weight), or `[member, rate]` with an explicit rate. */
export type MixtureMember = Task | Mixture | [Task | Mixture, number];

/** Options of the `Mixture` constructor. */
export interface MixtureOptions {
  /** Cap on each member's examples-proportional weight (`min(size, cap)`), as in T5's "maximum". */
  cap?: number;
  /** Temperature T: default weights become `weight^(1/T)` before normalizing. Default 1. */
  temperature?: number;
}

/** Options of `Mixture.getDataset`. */
export interface MixtureDatasetOptions {
  seed?: number;
  shard?: ShardSpec;
  /** Skip this many output examples (of this shard). */
  start?: number;
  /** Repeat each task over epochs (default true). When false, exhausted tasks drop out and the stream ends when all have. */
  repeat?: boolean;
  cacheDir?: string;
  /** Add `<feature>_ids` (default true). */
  tokenize?: boolean;
  /** Start here instead of the beginning. */
  position?: MixturePosition;
}

interface Member {
  item: Task | Mixture;
  rate?: number;
}

/** A seqio-style mixture. */
export class Mixture {
  readonly name: string;
  readonly members: readonly Member[];
  readonly cap: number | undefined;
  readonly temperature: number;
  private readonly rateCache = new Map<Split, Map<string, number>>();

  constructor(name: string, members: MixtureMember[], opts: MixtureOptions = {}) {
    if (typeof name !== 'string' || name.length === 0 || /\s/.test(name)) {
      throw new DataError(`Mixture: name must be a non-empty string without whitespace, got ${JSON.stringify(name)}`);
    }
    const where = `Mixture '${name}'`;
    if (!Array.isArray(members) || members.length === 0) throw new DataError(`${where}: needs a non-empty array of members`);
    const list: Member[] = [];
    const seen = new Set<string>();
    for (const m of members) {
      let item: unknown;
      let rate: number | undefined;
      if (Array.isArray(m)) {
        if (m.length !== 2) throw new DataError(`${where}: a [member, rate] pair must have two elements`);
        [item, rate] = m;
        if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) {
          throw new DataError(`${where}: rate of member '${(item as { name?: string })?.name}' must be a finite number >= 0, got ${rate}`);
        }
      } else {
        item = m;
      }
      if (!(item instanceof Task) && !(item instanceof Mixture)) {
        throw new DataError(`${where}: members must be Task or Mixture objects (look names up with TaskRegistry.get / MixtureRegistry.get)`);
      }
      if (seen.has(item.name)) throw new DataError(`${where}: member '${item.name}' appears twice`);
      seen.add(item.name);
      list.push({ item, rate });
    }
    if (opts.cap !== undefined && (!Number.isFinite(opts.cap) || opts.cap <= 0)) throw new DataError(`${where}: cap must be a positive number, got ${opts.cap}`);
    const t = opts.temperature ?? 1;
    if (!Number.isFinite(t) || t <= 0) throw new DataError(`${where}: temperature must be a positive number, got ${opts.temperature}`);
    this.name = name;
    this.members = list;
    this.cap = opts.cap;
    this.temperature = t;
    // Leaf names must identify tasks uniquely.
    const leaves = new Map<string, Task>();
    for (const task of this.tasks()) {
      const prev = leaves.get(task.name);
      if (prev && prev !== task) throw new DataError(`${where}: two different tasks are named '${task.name}'`);
      leaves.set(task.name, task);
    }
  }

  /** Leaf tasks, each once, in first-appearance order. */
  tasks(): Task[] {
    const out: Task[] = [];
    const seen = new Set<Task>();
    const walk = (m: Mixture, stack: Set<Mixture>) => {
      if (stack.has(m)) throw new DataError(`Mixture '${m.name}' contains itself`);
      stack.add(m);
      for (const { item } of m.members) {
        if (item instanceof Task) {
          if (!seen.has(item)) {
            seen.add(item);
            out.push(item);
          }
        } else walk(item, stack);
      }
      stack.delete(m);
    };
    walk(this, new Set());
    return out;
  }

  /** Total examples after capping: Σ over members of min(size, cap) (a sub-mixture counts as one member). */
  size(split: Split = 'train'): number {
    let total = 0;
    for (const { item } of this.members) total += this.cappedSize(item, split);
    return total;
  }

  private cappedSize(item: Task | Mixture, split: Split): number {
    const n = item instanceof Task ? item.numExamples(split) : item.size(split);
    return this.cap === undefined ? n : Math.min(n, this.cap);
  }

  /** Unnormalized weight of each member: explicit rate, or capped size tempered by 1/T. */
  memberWeights(split: Split = 'train'): Map<string, number> {
    checkSplit(split, `Mixture '${this.name}'.memberWeights`);
    const w = new Map<string, number>();
    for (const m of this.members) {
      w.set(m.item.name, m.rate !== undefined ? m.rate : Math.pow(this.cappedSize(m.item, split), 1 / this.temperature));
    }
    return w;
  }

  /** Normalized sampling rate of each direct member. */
  memberRates(split: Split = 'train'): Map<string, number> {
    const w = this.memberWeights(split);
    let total = 0;
    for (const v of w.values()) total += v;
    if (!(total > 0)) {
      throw new DataError(`Mixture '${this.name}': all member weights are zero for split '${split}' (empty tasks or zero rates); nothing can be sampled`);
    }
    const out = new Map<string, number>();
    for (const [k, v] of w) out.set(k, v / total);
    return out;
  }

  /** Normalized sampling probability of each leaf task (nested mixtures flattened). Sums to 1. */
  rates(split: Split = 'train'): Map<string, number> {
    const cached = this.rateCache.get(split);
    if (cached) return new Map(cached);
    const out = new Map<string, number>();
    const mr = this.memberRates(split);
    for (const { item } of this.members) {
      const p = mr.get(item.name) ?? 0;
      if (item instanceof Task) out.set(item.name, (out.get(item.name) ?? 0) + p);
      else if (p > 0) for (const [t, q] of item.rates(split)) out.set(t, (out.get(t) ?? 0) + p * q);
      else for (const t of item.tasks()) if (!out.has(t.name)) out.set(t.name, 0);
    }
    this.rateCache.set(split, out);
    return new Map(out);
  }

  /**
   * The mixed stream: each slot draws a leaf task with probability `rates()` and takes that task's next
   * example; each task streams exactly as `task.getDataset(split, {seed, repeat})` would (same seed), so
   * with `repeat: false` the mixture holds every task example once. Examples carry `_task` (the leaf name).
   */
  getDataset(split: Split, opts: MixtureDatasetOptions = {}): Dataset<Example, MixturePosition> {
    const where = `Mixture '${this.name}'.getDataset`;
    checkSplit(split, where);
    const seed = checkSeed(opts.seed ?? 0, where);
    const shard = checkShard(opts.shard, where);
    const repeat = opts.repeat ?? true;
    const start = opts.start ?? 0;
    if (!Number.isInteger(start) || start < 0) throw new DataError(`${where}: start must be a non-negative integer, got ${start}`);
    const rates = this.rates(split);
    const tasks = new Map(this.tasks().map((t) => [t.name, t]));
    const initial: MixturePosition = opts.position ?? {
      kind: 'mixture', mixture: this.name, split, seed, slot: 0, shard, repeat, tasks: {}, exhausted: [],
    };
    return new Dataset<Example, MixturePosition>((from) => {
      const pos = this.checkPosition(from ?? initial, split, seed, shard, repeat, tasks);
      const it = new MixtureIterator(this.name, pos, rates, tasks, opts.cacheDir, opts.tokenize ?? true);
      if (from === undefined && opts.position === undefined) {
        for (let k = 0; k < start && it.advance() !== null; k++) { /* skip without tokenizing */ }
      }
      return it;
    });
  }

  private checkPosition(pos: StreamPosition, split: Split, seed: number, shard: ShardSpec | null, repeat: boolean, tasks: Map<string, Task>): MixturePosition {
    const where = `Mixture '${this.name}': cannot resume from position`;
    if (pos.kind !== 'mixture') throw new DataError(`${where} of kind '${pos.kind}'; it must come from this mixture's iterator`);
    if (pos.mixture !== this.name) throw new DataError(`${where} of mixture '${pos.mixture}'`);
    if (pos.split !== split || pos.seed !== seed) throw new DataError(`${where} for split '${pos.split}' seed ${pos.seed}; this stream is split '${split}' seed ${seed}`);
    if (!sameShard(pos.shard, shard)) throw new DataError(`${where} for ${describeShard(pos.shard)}; this stream is ${describeShard(shard)}`);
    if (pos.repeat !== repeat) throw new DataError(`${where} with repeat=${pos.repeat}; this stream has repeat=${repeat}`);
    if (!Number.isInteger(pos.slot) || pos.slot < 0) throw new DataError(`${where}: slot must be a non-negative integer`);
    for (const name of [...Object.keys(pos.tasks ?? {}), ...(pos.exhausted ?? [])]) {
      if (!tasks.has(name)) throw new DataError(`${where}: it names task '${name}', which is not in this mixture (was the mixture changed since the checkpoint?)`);
    }
    return pos;
  }
}

class MixtureIterator implements ResumableIterator<Example, MixturePosition> {
  private slot: number;
  private readonly streams = new Map<string, TaskStream>();
  private readonly exhausted: Set<string>;
  private readonly names: string[];
  private readonly probs: number[];
  private readonly mixSeed: number;

  constructor(
    private readonly mixture: string,
    private readonly pos: MixturePosition,
    rates: Map<string, number>,
    private readonly tasks: Map<string, Task>,
    private readonly cacheDir: string | undefined,
    private readonly doTokenize: boolean,
  ) {
    this.slot = pos.slot;
    this.exhausted = new Set(pos.exhausted);
    this.names = [...rates.keys()];
    this.probs = this.names.map((n) => rates.get(n) ?? 0);
    this.mixSeed = deriveSeed(pos.seed, 'mixture', mixture);
    for (const [name, tp] of Object.entries(pos.tasks)) this.streams.set(name, this.makeStream(name, tp));
  }

  private makeStream(name: string, tp?: TaskPosition): TaskStream {
    const task = this.tasks.get(name) as Task;
    const seed = this.pos.seed;
    const p = tp ?? { kind: 'task' as const, task: name, split: this.pos.split, seed, epoch: 0, index: 0, shard: null, repeat: this.pos.repeat };
    return new TaskStream(task, task.checkPosition(p, this.pos.split, seed, null, this.pos.repeat), this.cacheDir);
  }

  get position(): MixturePosition {
    const tasks: Record<string, TaskPosition> = {};
    for (const [n, s] of this.streams) tasks[n] = s.position;
    return {
      kind: 'mixture',
      mixture: this.mixture,
      split: this.pos.split,
      seed: this.pos.seed,
      slot: this.slot,
      shard: this.pos.shard === null ? null : { ...this.pos.shard },
      repeat: this.pos.repeat,
      tasks,
      exhausted: [...this.exhausted],
    };
  }

  /** Picks the leaf task of slot j among the tasks not yet exhausted. */
  private choose(j: number): string | null {
    let total = 0;
    for (let k = 0; k < this.names.length; k++) if (!this.exhausted.has(this.names[k])) total += this.probs[k];
    if (!(total > 0)) return null;
    const u = uniform(this.mixSeed, j) * total;
    let acc = 0;
    let last: string | null = null;
    for (let k = 0; k < this.names.length; k++) {
      if (this.exhausted.has(this.names[k]) || this.probs[k] <= 0) continue;
      acc += this.probs[k];
      last = this.names[k];
      if (u < acc) return last;
    }
    return last;
  }

  /** Advances to this shard's next example; returns it untokenized-or-cached with its task, or null at the end. */
  advance(): { ex: Example; tokenized: boolean; task: string } | null {
    const shard = this.pos.shard;
    for (;;) {
      const j = this.slot;
      const name = this.choose(j);
      if (name === null) return null;
      let stream = this.streams.get(name);
      if (!stream) {
        stream = this.makeStream(name);
        this.streams.set(name, stream);
      }
      const rec = stream.next();
      if (rec === null) {
        this.exhausted.add(name);
        continue; // redraw the same slot among the remaining tasks
      }
      this.slot = j + 1;
      if (shard !== null && j % shard.count !== shard.index) continue;
      return { ex: rec.ex, tokenized: rec.tokenized, task: name };
    }
  }

  next(): IteratorResult<Example> {
    const r = this.advance();
    if (r === null) return { done: true, value: undefined };
    const task = this.tasks.get(r.task) as Task;
    const ex = this.doTokenize && !r.tokenized ? task.tokenize(r.ex) : { ...r.ex };
    ex._task = r.task;
    return { done: false, value: ex };
  }

  [Symbol.iterator](): ResumableIterator<Example, MixturePosition> {
    return this;
  }
}

