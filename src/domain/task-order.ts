/**
 * The orders a task list can be read in: by id (creation), by name, or by next firing (the
 * soonest first; paused, manual, daemon and finished one-shot tasks after every task that will
 * fire, by name). Pure: the caller gives the time.
 */
import { nextFire } from './schedule.js';
import type { Task } from './task.js';

export const TASK_ORDERS = ['id', 'name', 'next'] as const;
export type TaskOrder = (typeof TASK_ORDERS)[number];

/** When an enabled task fires next after nowMs; null when it will not (paused included). */
export function nextFiringOf(t: Pick<Task, 'enabled' | 'schedule' | 'createdMs'>, nowMs: number): number | null {
  return t.enabled ? nextFire(t.schedule, nowMs, t.createdMs) : null;
}

export function orderTasks<T extends Pick<Task, 'id' | 'name' | 'enabled' | 'schedule' | 'createdMs'>>(tasks: T[], by: TaskOrder, nowMs: number): T[] {
  const byId = (a: T, b: T) => Number(a.id) - Number(b.id);
  if (by === 'id') return [...tasks].sort(byId);
  const byName = (a: T, b: T) => a.name.localeCompare(b.name) || byId(a, b);
  if (by === 'name') return [...tasks].sort(byName);
  const next = new Map(tasks.map((t) => [t.id, nextFiringOf(t, nowMs)]));
  return [...tasks].sort((a, b) => {
    const x = next.get(a.id) ?? null;
    const y = next.get(b.id) ?? null;
    if (x !== y) return x === null ? 1 : y === null ? -1 : x - y;
    return byName(a, b);
  });
}
