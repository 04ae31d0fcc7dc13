/**
 * query_task_status's log entries, from a task and one of its runs. Pure. Times leave here as
 * "2006-01-02 15:04:05" in UTC (Go's usual layout; the original wrote the server's local time).
 */
import type { Run, RunState, Task, Trigger } from '../../../domain/task.js';
import { LABEL } from './translate.js';

/** Run states that are log entries, and the `status` each one shows. */
export const STATUS_OF: Partial<Record<RunState, 1 | 2 | 3>> = {
  running: 1,
  succeeded: 2,
  failed: 3,
  killed: 3,
  lost: 3,
  expired: 3,
};
export const LOGGED_STATES = Object.keys(STATUS_OF) as RunState[];

const RUN_TYPE: Record<Trigger, 1 | 2 | 3> = { schedule: 1, 'catch-up': 1, retry: 2, manual: 3 };

/** "2006-01-02 15:04:05" in UTC; "" when there is no time. */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined) return '';
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** The url a task calls, as the client gave it (or the stored action's, for tasks made elsewhere). */
function urlOf(task: Task): string {
  const given = task.labels?.[LABEL.url];
  if (given !== undefined) return given;
  const a = task.action as Record<string, { url?: string }>;
  return Object.values(a)[0]?.url ?? '';
}

export function logEntry(task: Task, run: Run): Record<string, unknown> {
  return {
    task_id: task.id,
    name: task.name,
    run_type: RUN_TYPE[run.trigger],
    status: STATUS_OF[run.state] ?? 3,
    begin_time: formatTime(run.startedMs ?? run.scheduledMs),
    end_time: formatTime(run.endedMs),
    url: urlOf(task),
    body: task.labels?.[LABEL.body] ?? '',
    resp: run.outputTail ?? '',
    // Rota's additions: why a run failed, and which attempt it was.
    msg: run.message ?? '',
    attempt: run.attempt,
  };
}
