/**
 * Juice's task status numbers as a view of Rota's firings and runs (pure). A Juice task is a
 * one-shot task: its status is that of its firing while one exists, else of its newest run.
 *
 *   NOT_START -1   no firing yet, or waiting for a node that can take it (resources, constraints)
 *   STAGING    0   placed on a node, not started (or waiting for a retry)
 *   RUNNING    1   running
 *   FINISHED   2   succeeded
 *   FAILED     3   failed after it started (exit code, HTTP status, timeout)
 *   LOST       4   its node vanished while it ran, and no retry follows
 *   ERROR      5   failed before it could start (no container runtime in the cluster, say)
 *   KILLED     6   killed, or dropped before it started because it was killed (the task paused),
 *                  or killed before the leader had planned it at all (paused, no firing, no run)
 *   DROPPED    8   skipped by policy (overlap, misfire)
 *   EXPIRED   12   no node could take it in time (policies.expireAfterMs)
 * UNREACHABLE 7, GONE 9, GONE_BY_OPERATOR 10 and UNKNOWN 11 are Mesos states Rota never reports.
 */
import type { Firing } from '../../../domain/firing.js';
import type { Run, Task } from '../../../domain/task.js';

export const JUICE_STATUS = {
  NOT_START: -1,
  STAGING: 0,
  RUNNING: 1,
  FINISHED: 2,
  FAILED: 3,
  LOST: 4,
  ERROR: 5,
  KILLED: 6,
  UNREACHABLE: 7,
  DROPPED: 8,
  GONE: 9,
  GONE_BY_OPERATOR: 10,
  UNKNOWN: 11,
  EXPIRED: 12,
} as const;

export type JuiceStatusName = keyof typeof JUICE_STATUS;

/** The status of one run record. `paused`: the task was disabled (a Juice kill before it started). */
export function juiceStatusOfRun(run: Run, nowMs: number, paused = false): JuiceStatusName {
  switch (run.state) {
    case 'pending':
      return 'NOT_START';
    case 'running':
      return run.startedMs !== undefined && run.startedMs > nowMs ? 'STAGING' : 'RUNNING';
    case 'succeeded':
      return 'FINISHED';
    case 'failed':
      return run.startedMs === undefined ? 'ERROR' : 'FAILED';
    case 'lost':
      return 'LOST';
    case 'killed':
      return 'KILLED';
    case 'expired':
      return 'EXPIRED';
    case 'skipped':
      return paused ? 'KILLED' : 'DROPPED';
  }
}

/** The status of a task from its live firing (if any) and its newest run (if any). */
export function juiceStatus(firing: Firing | null, newest: Run | null, nowMs: number, paused: boolean): JuiceStatusName {
  if (firing) {
    if (firing.state === 'unassigned') return 'NOT_START';
    if (firing.state === 'running') return firing.startedMs !== undefined && firing.startedMs > nowMs ? 'STAGING' : 'RUNNING';
    return 'STAGING';
  }
  // Paused with nothing planned or run: killed before the leader got to it (a Juice task is
  // paused only by its kill, and a paused task's firing is never planned).
  if (!newest) return paused ? 'KILLED' : 'NOT_START';
  return juiceStatusOfRun(newest, nowMs, paused);
}

/** The report a task created through Juice gets at its callbackUrl (task.callback.format 'juice'): `{"taskId", "result", "message"}`. */
export function juiceCallbackBody(task: Task, run: Run, event: 'start' | 'end', nowMs: number): Record<string, unknown> {
  return { taskId: Number(task.id), result: juiceStatusOfRun(run, nowMs, !task.enabled), message: run.message ?? (event === 'start' ? 'task is running' : '') };
}
