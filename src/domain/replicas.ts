import { newFiring, type Firing } from './firing.js';
import type { Task } from './task.js';

export interface Held<T> {
  value: T;
  modRevision: number;
}

export interface ReplicaActions {
  /** Replica firings to create (a replica slot with no firing at all). */
  create: Firing[];
  /** Running firings to stop (their node kills the process group). */
  kill: Held<Firing>[];
  /** Firings not running yet that should simply go. */
  drop: Held<Firing>[];
}

/**
 * What the leader does about a task's replica firings. A daemon keeps one firing per replica
 * of its current generation (its last update time: an update or a resume restarts it); a
 * replica is only started again once its previous firing is completely gone, so two copies of
 * one replica never run. A deleted task loses every firing; a paused daemon stops; a paused
 * task's scheduled firings that have not started yet go. Pure.
 */
export function planReplicas(task: Task | undefined, firings: Held<Firing>[], nowMs: number): ReplicaActions {
  const out: ReplicaActions = { create: [], kill: [], drop: [] };
  const retire = (e: Held<Firing>) => (e.value.state === 'running' ? out.kill.push(e) : out.drop.push(e));
  if (!task) {
    firings.forEach(retire);
    return out;
  }
  if (!('daemon' in task.schedule)) {
    // Paused: scheduled firings not started yet, and the waiting retries of scheduled firings, do
    // not start. Manual triggers (and their retries) run even when paused.
    if (!task.enabled) for (const e of firings) if (notStartedSchedule(e.value, nowMs) || (e.value.state === 'retry-wait' && e.value.origin !== 'manual')) retire(e);
    return out;
  }
  const gen = task.updatedMs;
  const wanted = task.enabled ? task.replicas : 0;
  const present = new Set<number>();
  for (const e of firings) {
    const r = e.value.replica ?? 0;
    present.add(r);
    if (r >= wanted || e.value.scheduledMs !== gen) retire(e);
  }
  for (let r = 0; r < wanted; r++) if (!present.has(r)) out.create.push(newFiring(task, gen, 'schedule', nowMs, undefined, r));
  return out;
}

/** A firing from the schedule (not a manual trigger or a retry) that has not started by nowMs. */
function notStartedSchedule(f: Firing, nowMs: number): boolean {
  if (f.trigger !== 'schedule' && f.trigger !== 'catch-up') return false;
  return f.state === 'assigned' || f.state === 'unassigned' || (f.state === 'running' && (f.startedMs ?? 0) > nowMs);
}

/**
 * Whether a task must wait: some task in the transitive closure of its deps (by name or id,
 * same tenant) has a live firing. Unknown deps do not block.
 */
export function depsBusy(task: Task, lookup: (tenant: string, ref: string) => Task | undefined, busy: (taskId: string) => boolean): boolean {
  const seen = new Set<string>([task.id]);
  const stack = [...(task.deps ?? [])];
  while (stack.length > 0) {
    const dep = lookup(task.tenant, stack.pop()!);
    if (!dep || seen.has(dep.id)) continue;
    seen.add(dep.id);
    if (busy(dep.id)) return true;
    stack.push(...(dep.deps ?? []));
  }
  return false;
}

/** A dependency cycle through `start` among the tenant's tasks (names), or null. */
export function findDepCycle(start: { name: string; deps?: string[] }, others: { name: string; id: string; deps?: string[] }[]): string[] | null {
  const byRef = new Map<string, { name: string; deps?: string[] }>();
  for (const t of others) {
    byRef.set(t.name, t);
    byRef.set(t.id, t);
  }
  byRef.set(start.name, start);
  const path: string[] = [];
  const onPath = new Set<string>();
  const done = new Set<string>();
  const visit = (t: { name: string; deps?: string[] }): string[] | null => {
    if (onPath.has(t.name)) return [...path.slice(path.indexOf(t.name)), t.name];
    if (done.has(t.name)) return null;
    onPath.add(t.name);
    path.push(t.name);
    for (const d of t.deps ?? []) {
      const next = byRef.get(d);
      if (next) {
        const c = visit(next);
        if (c) return c;
      }
    }
    path.pop();
    onPath.delete(t.name);
    done.add(t.name);
    return null;
  };
  return visit(start);
}
