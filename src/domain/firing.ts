import type { Run, Task, Trigger } from './task.js';

/**
 * A firing is one (task, scheduled time): its identity is written to etcd before anything
 * runs, and it lives until its last attempt has an outcome.
 *   unassigned -> assigned -> running -> (deleted | retry-wait -> assigned ...)
 */
export type FiringState = 'unassigned' | 'assigned' | 'running' | 'retry-wait';

export interface Firing {
  taskId: string;
  tenant: string;
  scheduledMs: number;
  /** Replica index (absent = 0): one firing per replica, alias "name:replica". */
  replica?: number;
  /** Attempt number; for a daemon replica, one more at each restart. */
  attempt: number;
  trigger: Trigger;
  /** A retry's first trigger (schedule, catch-up or manual): what the retried firing came from. */
  origin?: Trigger;
  state: FiringState;
  /** Node id and lease (the incarnation) it is assigned to or running on. */
  node?: string;
  lease?: string;
  /**
   * 'candidate': created by a candidate's claim at its instant (domain/candidates.ts), so no
   * node's inbox holds an assignment of it; absent: assigned by the leader through an inbox.
   */
  via?: 'candidate';
  /** Not to be started before this instant (retries wait here). */
  dueMs: number;
  startedMs?: number;
  /** What it takes of its node's cpu and memory (the task's placement.requests when it was placed). */
  requests?: { cpu?: number; memMb?: number };
  /** Parameters of a manual trigger, passed to the run. */
  params?: Record<string, unknown>;
  /** Process replicas: the live process id, kept in etcd so any node can show it. */
  pid?: number;
  /** Daemon replicas: restarts so far, the last exit code and the current restart backoff. */
  restarts?: number;
  lastExitCode?: number;
  backoffMs?: number;
}

export function firingRunId(f: Pick<Firing, 'taskId' | 'scheduledMs' | 'attempt'> & { replica?: number }): string {
  return `${f.taskId}-${f.scheduledMs}-${f.attempt}${f.replica ? `-r${f.replica}` : ''}`;
}

export function newFiring(task: Task, scheduledMs: number, trigger: Trigger, nowMs: number, params?: Record<string, unknown>, replica = 0): Firing {
  return {
    taskId: task.id,
    tenant: task.tenant,
    scheduledMs,
    replica,
    attempt: 1,
    trigger,
    state: 'unassigned',
    dueMs: Math.max(scheduledMs, nowMs),
    ...(params ? { params } : {}),
  };
}

/** What every run record of a firing's current attempt says about its identity. */
export function attemptRun(f: Firing): Pick<Run, 'id' | 'taskId' | 'tenant' | 'scheduledMs' | 'attempt' | 'replica' | 'trigger'> {
  return {
    id: firingRunId(f),
    taskId: f.taskId,
    tenant: f.tenant,
    scheduledMs: f.scheduledMs,
    attempt: f.attempt,
    ...(f.replica ? { replica: f.replica } : {}),
    trigger: f.trigger,
  };
}

/** The run record a firing's attempt starts with when a node claims it. */
export function startedRun(f: Firing, node: string, nowMs: number): Run {
  return { ...attemptRun(f), node, state: 'running', startedMs: nowMs };
}

/** Running, and past the instant it was claimed for (a firing claimed ahead is not started yet). */
export function hasStarted(f: Firing, nowMs: number): boolean {
  return f.state === 'running' && (f.startedMs === undefined || f.startedMs <= nowMs);
}

/**
 * The run a firing's current attempt is while a node holds it, as the firing shows it (the claim
 * writes no run record: the outcome writes the only one), or null when no node has started it
 * (not claimed yet, or a daemon replica waiting to restart).
 */
export function runInFlight(f: Firing): Run | null {
  if (f.state !== 'running' || !f.node || f.startedMs === undefined) return null;
  return { ...attemptRun(f), node: f.node, state: 'running', startedMs: f.startedMs, ...(f.pid !== undefined ? { pid: f.pid } : {}) };
}

/** A run record for a firing that never ran (overlap, misfire). */
export function skippedRun(task: Task, scheduledMs: number, trigger: Trigger, message: string, nowMs: number): Run {
  return {
    id: firingRunId({ taskId: task.id, scheduledMs, attempt: 1 }),
    taskId: task.id,
    tenant: task.tenant,
    scheduledMs,
    attempt: 1,
    trigger,
    state: 'skipped',
    endedMs: nowMs,
    message,
  };
}

/** The run record of an attempt that was dropped before it started (its task paused or deleted). */
export function droppedRun(f: Firing, message: string, nowMs: number): Run {
  return { ...attemptRun(f), state: 'skipped', endedMs: nowMs, message };
}

/** The next attempt of a firing as a retry, remembering what the firing came from. */
export function asRetry(f: Firing): Pick<Firing, 'attempt' | 'trigger' | 'origin'> {
  return { attempt: f.attempt + 1, trigger: 'retry', origin: f.origin ?? f.trigger };
}

/** Whether the firing occupies its task (for overlap policies). */
export function isActive(f: Firing): boolean {
  return f.state !== 'retry-wait';
}

/** Every firing of a task at one scheduled time: one per replica. */
export function replicaFirings(task: Task, scheduledMs: number, trigger: Trigger, nowMs: number, params?: Record<string, unknown>): Firing[] {
  return Array.from({ length: Math.max(1, task.replicas) }, (_, r) => newFiring(task, scheduledMs, trigger, nowMs, params, r));
}

export function isDaemon(task: Task): boolean {
  return 'daemon' in task.schedule;
}
