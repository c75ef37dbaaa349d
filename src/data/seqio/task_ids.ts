/**
 * Task ids for task-routed (Task-MoE) models: a `TaskIdMap` says which integer id each example's
 * task has, so that the feature converters can emit a per-token task id feature
 * (`decoder_task_ids`, and `encoder_task_ids` for encoder-decoder rows) next to the token features.
 * A mixture's examples name their leaf task in `_task`; an example read straight from a lone task
 * belongs to that task. Two ways to number tasks are provided: `taskIdsByTask` (the leaf task's
 * index in `mixture.tasks()`, i.e. member order) and `taskIdsByMeta` (a metadata value of the task —
 * e.g. its Flan cluster or family — looked up in a fixed list of names, so ids are stable across
 * mixtures and name-addressable, as `myriad export --task <name>` needs). The map validates every
 * id; ids are always in `[0, numTasks)`.
 */

import type { Example } from './types.js';
import { DataError } from './errors.js';
import { Task } from './task.js';
import { Mixture } from './mixture.js';

/** How examples get task ids (see the file header). */
export interface TaskIdMap {
  /** A short stable description; part of the converter's `describe()`, hence of resume positions. */
  readonly describe: string;
  /** Number of ids: every id is in `[0, numTasks)`. */
  readonly numTasks: number;
  /** Name of each id, in id order (length `numTasks`). */
  readonly names: readonly string[];
  /** Id of each leaf task of the source the map was built for. */
  readonly taskToId: ReadonlyMap<string, number>;
  /** The id of one example (throws a `DataError` when the example's task is unknown to the map). */
  idOf(ex: Example): number;
}

function leafTasks(source: Task | Mixture, where: string): Task[] {
  if (source instanceof Mixture) return source.tasks();
  if (source instanceof Task) return [source];
  throw new DataError(`${where}: expected a Task or a Mixture`);
}

function makeMap(source: Task | Mixture, describe: string, names: readonly string[], taskToId: Map<string, number>): TaskIdMap {
  const lone = source instanceof Task ? source.name : null;
  const where = `TaskIdMap(${describe})`;
  return {
    describe,
    numTasks: names.length,
    names,
    taskToId,
    idOf(ex: Example): number {
      const t = ex._task;
      let name: string;
      if (typeof t === 'string') name = t;
      else if (t === undefined && lone !== null) name = lone;
      else throw new DataError(`${where}: the example does not name its task (no string '_task'; mixture streams add it) — keys: ${Object.keys(ex).join(', ')}`);
      const id = taskToId.get(name);
      if (id === undefined) throw new DataError(`${where}: the example's task '${name}' has no task id; known tasks: ${[...taskToId.keys()].join(', ')}`);
      return id;
    },
  };
}

/**
 * Ids by leaf task: the i-th task of `source.tasks()` (a mixture's members in order, nested
 * mixtures flattened) gets id i; a lone task gets id 0. Names are the task names.
 */
export function taskIdsByTask(source: Task | Mixture): TaskIdMap {
  const tasks = leafTasks(source, 'taskIdsByTask');
  const names = tasks.map((t) => t.name);
  return makeMap(source, 'task-index', names, new Map(names.map((n, i) => [n, i])));
}

/**
 * Ids by a metadata value: a task's id is the index of `task.meta[key]` in `names` (e.g. key
 * 'cluster' with the Flan collection's cluster names). Every leaf task must carry the key with one
 * of the names; several tasks may share an id.
 */
export function taskIdsByMeta(source: Task | Mixture, key: string, names: readonly string[]): TaskIdMap {
  const where = `taskIdsByMeta('${key}')`;
  if (!Array.isArray(names) || names.length === 0) throw new DataError(`${where}: names must be a non-empty list`);
  if (new Set(names).size !== names.length) throw new DataError(`${where}: names must be distinct`);
  const index = new Map(names.map((n, i) => [n, i]));
  const taskToId = new Map<string, number>();
  for (const t of leafTasks(source, where)) {
    const v = t.meta[key];
    if (typeof v !== 'string') throw new DataError(`${where}: task '${t.name}' has no string meta.${key}, so it has no ${key} id; number tasks by mixture member instead (taskIdsByTask)`);
    const id = index.get(v);
    if (id === undefined) throw new DataError(`${where}: task '${t.name}' has ${key} '${v}', which is not one of ${names.join(', ')}`);
    taskToId.set(t.name, id);
  }
  return makeMap(source, `meta.${key}[${names.length}]`, [...names], taskToId);
}

/** The distinct ids a map gives the tasks of its source, ascending. */
export function usedTaskIds(map: TaskIdMap): number[] {
  return [...new Set(map.taskToId.values())].sort((a, b) => a - b);
}
